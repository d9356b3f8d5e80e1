#pragma once
// GlibcMallocProvider: glibc's malloc, identified by gnu_get_libc_version(), with its figures from
// mallinfo2() only when the guard is enabled (see mallinfo_backoff.h for why it is off by default).
//
// With the guard enabled, a worker thread of the provider's own (all signals blocked, named
// "leakwatch-minfo") calls mallinfo2() at once and then every `period` (backed off as MallinfoBackoff says);
// Read() never calls it and never waits for it: it returns the figures of the latest completed call, all
// absent before the first one completes. One log line marks the first call over budget and one the first call
// back within budget. Figures (bytes):
//   allocated_bytes  uordblks + hblkhd  (in-use chunks of the arenas + mmap()ed chunks)
//   mapped_bytes     arena + hblkhd     (memory the arenas got with sbrk/mmap + mmap()ed chunks)
//   free_bytes       fordblks           (free chunks in the arenas, top chunk included)
// Others are absent. With the guard disabled, or without mallinfo2 (glibc before 2.33), every figure is
// absent and Read() still succeeds.
//
// Thread-safety: Info() and Read() from one thread at a time (the agent's); guard_state() from any thread.
// Destruction stops the worker and joins it, waiting for a mallinfo2() call in progress to finish.
// Cost of Read(): a mutex and a copy (~30 ns). The worker's mallinfo2() calls cost the application what is
// said in mallinfo_backoff.h: ~0.2 µs on a tidy one-arena heap, ~3 µs with 64 threads' arenas, ~30 ms with a
// million free chunks.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/allocator/mallinfo_backoff.h"
#include "agent/allocator/symbol_lookup.h"
#include "leakwatch/allocator.h"

namespace leakwatch::internal {

// glibc's struct mallinfo2 (glibc >= 2.33), declared here so that leakwatch builds and runs against any
// glibc.
struct GlibcMallinfo2 {
  size_t arena;     // non-mmapped space allocated from the system
  size_t ordblks;   // number of free chunks
  size_t smblks;    // number of free fastbin blocks
  size_t hblks;     // number of mmapped regions
  size_t hblkhd;    // space in mmapped regions
  size_t usmblks;   // always 0, kept for compatibility
  size_t fsmblks;   // space in freed fastbin blocks
  size_t uordblks;  // total allocated space
  size_t fordblks;  // total free space
  size_t keepcost;  // top-most, releasable space
};

AllocatorStats StatsFromMallinfo2(const GlibcMallinfo2& m);

class GlibcMallocProvider final : public AllocatorStatsProvider {
 public:
  using VersionFn = const char* (*)();       // gnu_get_libc_version
  using Mallinfo2Fn = GlibcMallinfo2 (*)();  // mallinfo2
  using NowFn = std::function<std::chrono::steady_clock::time_point()>;

  // nullptr when `lookup` finds no gnu_get_libc_version. mallinfo2 is used only when it lives in the same
  // object as gnu_get_libc_version (another allocator's mallinfo2 would describe another heap). Invalid
  // options are logged and leave the guard disabled. `now` measures the calls' durations (default:
  // steady_clock).
  static std::unique_ptr<GlibcMallocProvider> Find(const SymbolLookup& lookup,
                                                   const GlibcMallinfoOptions& options, NowFn now = {});

  // Starts the worker when options.enabled, the options are valid and mallinfo2 is not null.
  GlibcMallocProvider(VersionFn version, Mallinfo2Fn mallinfo2, const GlibcMallinfoOptions& options,
                      NowFn now = {});
  ~GlibcMallocProvider() override;
  GlibcMallocProvider(const GlibcMallocProvider&) = delete;
  GlibcMallocProvider& operator=(const GlibcMallocProvider&) = delete;

  AllocatorInfo Info() override;
  Result<AllocatorStats> Read() override;

  GlibcGuardState guard_state() const;

 private:
  void Run();

  VersionFn version_;
  Mallinfo2Fn mallinfo2_;
  NowFn now_;
  const GlibcMallinfoOptions options_;  // validated: the defaults (disabled) when the given ones were invalid

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                                                    // guarded by mu_
  bool running_ = false;                                                 // guarded by mu_
  MallinfoBackoff backoff_;                                              // guarded by mu_
  std::optional<AllocatorStats> latest_;                                 // guarded by mu_
  std::optional<std::chrono::steady_clock::time_point> last_completed_;  // guarded by mu_
  std::thread worker_;
};

}  // namespace leakwatch::internal

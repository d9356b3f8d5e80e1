#pragma once
// DetectAllocator: finds the process's malloc implementation at run time and returns its statistics provider.
//
// Tried in this order, each by dlsym (no link-time dependency; linked in or LD_PRELOADed alike):
//   jemalloc  "mallctl"                              -> JemallocProvider
//   tcmalloc  "MallocExtension_GetNumericProperty"   -> TcmallocProvider (gperftools)
//   mimalloc  "mi_version"                           -> MimallocProvider
//   glibc     "gnu_get_libc_version"                 -> GlibcMallocProvider (figures only when enabled)
//   else      an "unknown" provider whose Read() returns every figure absent.
//
// An allocator counts only when the process's `malloc` resolves to the same loaded object as its API symbol.
// Finding the API alone is not enough: a library may carry jemalloc for its own use, a program may dlopen()
// tcmalloc with RTLD_GLOBAL after start-up, and under AddressSanitizer malloc is the sanitizer's while
// glibc's mallinfo2 still answers for glibc's (unused) heap. Reporting such an allocator would describe a
// heap the application barely uses; it is skipped with one log line and detection goes on. The check cannot
// see through a malloc interposer that forwards to the real allocator (a wrapper library defining malloc):
// set `require_malloc_owner = false` in that case, or register a provider of your own.
//
// Thread-safety: DetectAllocator is thread-safe (dlsym/dladdr lock). Cost: a few dlsym/dladdr calls (µs); the
// glibc provider may start its worker thread. Logs one info line naming the allocator found.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/allocator/glibc_malloc_provider.h"
#include "agent/allocator/mallinfo_backoff.h"
#include "agent/allocator/symbol_lookup.h"
#include "leakwatch/allocator.h"

namespace leakwatch::internal {

struct AllocatorDetectOptions {
  GlibcMallinfoOptions glibc;
  // See above. Off: the first allocator whose API symbol exists wins.
  bool require_malloc_owner = true;
  // Where symbols come from (tests inject fakes).
  SymbolLookup lookup;
  // Times the glibc guard's calls; empty: steady_clock.
  GlibcMallocProvider::NowFn now;
};

std::unique_ptr<AllocatorStatsProvider> DetectAllocator(const AllocatorDetectOptions& options = {});

// The provider used when no allocator is recognised: Info() says "unknown", Read() returns all figures
// absent.
class UnknownAllocatorProvider final : public AllocatorStatsProvider {
 public:
  AllocatorInfo Info() override { return AllocatorInfo{}; }
  Result<AllocatorStats> Read() override { return AllocatorStats{}; }
};

// The glibc guard's state when `provider` is the glibc provider; nullopt for every other provider.
std::optional<GlibcGuardState> GlibcGuardStateOf(const AllocatorStatsProvider& provider);

// "jemalloc 5.3.0 (heap profiling supported, active, sampling every 524288 bytes)" and the like, for log
// lines.
std::string DescribeAllocator(const AllocatorInfo& info);

}  // namespace leakwatch::internal

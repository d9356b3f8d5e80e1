#pragma once
// MimallocProvider: mimalloc through mi_process_info() and mi_version() (symbols found at run time).
//
// What mimalloc reports cheaply, and what it does not:
//   mapped_bytes  mi_process_info current_commit: memory mimalloc has committed from the OS for its segments
//                 (including free pages it keeps; mimalloc 2.0 holds on to freed segments for a while).
// Every other figure is absent. mimalloc counts bytes allocated by the application only in builds with
// statistics (MI_STAT > 0; Debian's libmimalloc2.0 is built without), and even then only as text from
// mi_stats_print_out(), too costly to parse on every tick. mi_process_info's current_rss is not a resident
// figure either: mimalloc 2.0 on Linux fills it with current_commit, and its peak_rss is the whole process's
// (getrusage), so neither is reported.
//
// Info(): name "mimalloc"; version from mi_version() (an integer major*100 + minor*10 + patch: 209 ->
// "2.0.9"). mimalloc has no heap profiler: profiling_supported is false.
//
// Thread-safety: one thread at a time (the agent's); mi_process_info reads atomics. Cost: it also calls
// getrusage, which sums over the process's threads: ~0.4 µs with 1 thread, ~1.6 µs with 64.

#include <cstddef>
#include <memory>
#include <string>

#include "agent/allocator/symbol_lookup.h"
#include "leakwatch/allocator.h"

namespace leakwatch::internal {

class MimallocProvider final : public AllocatorStatsProvider {
 public:
  // void mi_process_info(size_t* elapsed_msecs, size_t* user_msecs, size_t* system_msecs, size_t*
  // current_rss,
  //                      size_t* peak_rss, size_t* current_commit, size_t* peak_commit, size_t* page_faults)
  using ProcessInfoFn = void (*)(size_t*, size_t*, size_t*, size_t*, size_t*, size_t*, size_t*, size_t*);
  // int mi_version(void)
  using VersionFn = int (*)();

  // nullptr when `lookup` finds no mi_version. Without mi_process_info (mimalloc before 1.7) Read() reports
  // every figure absent.
  static std::unique_ptr<MimallocProvider> Find(const SymbolLookup& lookup);

  MimallocProvider(VersionFn version, ProcessInfoFn process_info)
      : version_(version), process_info_(process_info) {}

  AllocatorInfo Info() override;
  Result<AllocatorStats> Read() override;

 private:
  VersionFn version_;
  ProcessInfoFn process_info_;
};

// "2.0.9" from mi_version()'s 209; "" for a value that is no version (<= 0).
std::string FormatMimallocVersion(int version);

}  // namespace leakwatch::internal

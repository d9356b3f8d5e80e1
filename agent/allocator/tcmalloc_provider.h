#pragma once
// TcmallocProvider: gperftools' tcmalloc (libtcmalloc, libtcmalloc_minimal and their variants) through its C
// API MallocExtension_GetNumericProperty (symbol found at run time). Not Google's newer standalone tcmalloc,
// which has no C API.
//
// Read(), one property call per figure (size_t each):
//   allocated_bytes  generic.current_allocated_bytes
//   resident_bytes   generic.total_physical_bytes (= heap_size - unmapped + metadata)
//   retained_bytes   tcmalloc.pageheap_unmapped_bytes (released to the OS, still mapped)
//   metadata_bytes   total_physical_bytes - (generic.heap_size - pageheap_unmapped_bytes)
//   mapped_bytes     generic.heap_size + metadata_bytes: tcmalloc's "Virtual address space used", so that
//                    mapped - resident = retained as with jemalloc (generic.heap_size alone, the page heap,
//                    when metadata_bytes cannot be derived)
//   free_bytes       tcmalloc.pageheap_free_bytes + central_cache_free_bytes + transfer_cache_free_bytes +
//                    thread_cache_free_bytes
// active_bytes and arenas are absent. gperftools 2.10 has no metadata property; the derived figure matches
// the "Bytes in malloc metadata" line of its text statistics. The calls are not one atomic snapshot (each
// takes tcmalloc's locks on its own), so derived figures can be off by what was allocated in between; a
// derived value that would be negative is left absent. An unknown property (the call returns 0) leaves its
// figure absent, except the two generic ones every gperftools knows (current_allocated_bytes, heap_size):
// without them Read() fails (tcmalloc did not register its extension, e.g. under Valgrind).
//
// Info(): name "tcmalloc"; version from tc_version() without its "gperftools " prefix ("2.10";
// gperftools 2.10 returns 0 for the major/minor out-parameters, so the string is what counts).
// profiling_supported when the heap profiler is present (IsHeapProfilerRunning exists: the full libtcmalloc,
// not libtcmalloc_minimal). profiling_active when it is running (HEAPPROFILE, HeapProfilerStart) or heap
// sampling was enabled at start-up with TCMALLOC_SAMPLE_PARAMETER > 0 (read from the environment when the
// provider is made: tcmalloc reads it once at start-up too); profiling_sample_bytes is that parameter (absent
// when the profiler records every allocation instead).
//
// Thread-safety: one thread at a time (the agent's). Cost per Read(): 8 property calls, 6 of which gather
// tcmalloc's statistics by taking every size class's central-list lock in turn: ~25 µs with 1 thread, ~30 µs
// with 64 threads (bench/allocator_bench.sh).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "agent/allocator/symbol_lookup.h"
#include "leakwatch/allocator.h"

namespace leakwatch::internal {

class TcmallocProvider final : public AllocatorStatsProvider {
 public:
  // int MallocExtension_GetNumericProperty(const char* property, size_t* value): 1 when the property is
  // known.
  using GetNumericPropertyFn = int (*)(const char*, size_t*);
  // const char* tc_version(int* major, int* minor, const char** patch)
  using VersionFn = const char* (*)(int*, int*, const char**);
  // int IsHeapProfilerRunning(void)
  using IsHeapProfilerRunningFn = int (*)();

  struct Api {
    GetNumericPropertyFn get_numeric_property = nullptr;         // required
    VersionFn version = nullptr;                                 // optional
    IsHeapProfilerRunningFn is_heap_profiler_running = nullptr;  // only in the full libtcmalloc
  };

  // nullptr when `lookup` finds no MallocExtension_GetNumericProperty.
  static std::unique_ptr<TcmallocProvider> Find(const SymbolLookup& lookup);

  // `sample_parameter` is TCMALLOC_SAMPLE_PARAMETER as the process was started with (nullopt: unset/invalid).
  TcmallocProvider(Api api, std::optional<uint64_t> sample_parameter);

  AllocatorInfo Info() override;
  Result<AllocatorStats> Read() override;

 private:
  Api api_;
  std::optional<uint64_t> sample_parameter_;
};

// TCMALLOC_SAMPLE_PARAMETER's value as gperftools understands it (a whole decimal number); nullopt when unset
// or not a number.
std::optional<uint64_t> ParseTcmallocSampleParameter(const char* value);

}  // namespace leakwatch::internal

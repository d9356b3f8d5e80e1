#pragma once
// DumpHeap: asks the process's allocator for its heap profile, in the allocator's own text format (parsed by
// agent/profile/heap_profile_text.h). Functions are found at run time with dlsym, like the statistics
// providers: leakwatch links no allocator.
//
// jemalloc ("mallctl"): needs config.prof, opt.prof and prof.active, read at the time of the call. Then
// mallctl("prof.dump", NULL, NULL, &path, sizeof(const char*)) writes the heap_v2 text to `jemalloc_path`
// itself (the file `jeprof` reads). jemalloc walks its sampled stacks under its profiling locks: threads that
// allocate a sampled object meanwhile wait. Measured with the Debian build: 0.3 ms for 4 stacks, 25 ms for
// 8,193, 83 ms for 32,761.
//
// gperftools tcmalloc ("MallocExtension_GetNumericProperty"; the full libtcmalloc, whose heap profiler
// exports IsHeapProfilerRunning — libtcmalloc_minimal records no stacks):
//   - heap profiler running (HEAPPROFILE=<prefix>, or HeapProfilerStart()): GetHeapProfile() (C API), every
//     allocation, "@ heapprofile"; the returned string is free()d. gperftools formats it into a fixed 1 MiB
//     buffer, biggest stacks first, under the lock every allocation takes in that mode: what does not fit is
//     cut (and a line cut in the middle makes the profile unreadable for the conversion);
//   - else heap sampling on (TCMALLOC_SAMPLE_PARAMETER > 0 when the process started): the heap sample, the
//     format pprof calls "@ heap_v2/<rate>". It is only offered in C++, as MallocExtension::GetHeapSample(
//     std::string*). It is reached without linking tcmalloc or including its headers: "MallocExtension::
//     instance()" and "MallocExtension::GetHeapSample(std::string*)" are looked up by their mangled names
//     (the second name encodes the std::string ABI, so a library built for another C++ ABI is simply not
//     found), and the member function is called through a plain function pointer with the instance as its
//     first argument, which is how the Itanium C++ ABI (x86-64 and AArch64 Linux) passes `this` to a
//     non-virtual member. The base-class implementation is the one called; it gathers the stacks through
//     the virtual ReadStackTraces, which tcmalloc implements, and tcmalloc's own override of GetHeapSample
//     only adds a warning when sampling is off (never the case here). It takes tcmalloc's page-heap lock
//     while it copies the sampled stacks (other threads' allocations that need that lock wait), then formats
//     outside it.
//
// Either way the allocator must be the one serving malloc (MallocComesFromObjectOf), as DetectAllocator
// requires; nothing is called for any other allocator name.
//
// Thread-safety: thread-safe (the allocators' calls are). Cost: see above; DumpHeap itself adds a few dlsym
// and mallctl reads (µs).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/allocator/symbol_lookup.h"

namespace leakwatch::internal {

struct HeapDumpOptions {
  SymbolLookup lookup;        // where the allocators' functions are found (tests inject fakes)
  std::string jemalloc_path;  // where jemalloc writes its dump (must not exist yet); required for jemalloc
  // TCMALLOC_SAMPLE_PARAMETER as the process was started with (tcmalloc reads it once, at start-up).
  std::optional<uint64_t> tcmalloc_sample_parameter;
};

struct HeapDump {
  std::string allocator;  // "jemalloc", "tcmalloc"
  std::string method;     // the call that produced it, for the manifest: "mallctl(\"prof.dump\")", ...
  // The profile text: in `file` (jemalloc wrote it there: jemalloc_path), else in `text`.
  std::string file;
  std::string text;
  // An address inside the allocator's code (the API function used): its object's code ranges are the
  // allocator's own frames.
  uint64_t allocator_function = 0;
  std::chrono::nanoseconds duration{0};  // of the allocator's call
};

struct HeapDumpOutcome {
  std::optional<HeapDump> dump;
  // Without a dump: true when the allocator could give one but the call failed (a fault to report),
  // false when this allocator or its configuration cannot (a fact to explain).
  bool failed = false;
  std::string why;            // without a dump: why not
  std::string how_to_enable;  // without a dump, when a configuration change would give one
};

// `allocator` is AllocatorInfo::name ("jemalloc", "tcmalloc"; any other gets an explanation and no call).
HeapDumpOutcome DumpHeap(std::string_view allocator, const HeapDumpOptions& options);

// Why there can be no heap profile with this allocator and what to run instead (for names other than
// "jemalloc" and "tcmalloc", whose reasons DumpHeap gives).
HeapDumpOutcome NoHeapProfiler(std::string_view allocator);

}  // namespace leakwatch::internal

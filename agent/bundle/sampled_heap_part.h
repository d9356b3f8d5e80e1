#pragma once
// The heap profile of an incident bundle when leakwatch's own heap sampler runs (agent/heap_sampler):
//   heap.pb.gz       the sampled heap now: which stacks hold the live memory (inuse_space, inuse_objects) and
//                    what they allocated since sampling began (alloc_space, alloc_objects)
//   heap_peak.pb.gz  the same at the largest in-use estimate seen, captured when it happened: "the heap at
//                    its largest", and the base to diff against (go tool pprof -diff_base heap_peak.pb.gz
//                    heap.pb.gz)
// and the manifest's "heap_profile" entry describing them. Used instead of the allocator's own profile
// (agent/bundle/heap_profile_part.h): the sampler works on every allocator and from the first allocation.
//
// Every failure degrades to the manifest entry and a `skipped` entry: the bundle never fails because of it.
// Thread-safety: one call at a time per bundle directory. Cost: the sampler's tables copied under its lock
// (about 1 µs per 20 stacks), then encoding and symbolizing on the bundle worker (a few ms per object).

#include <chrono>

#include "agent/bundle/heap_profile_part.h"
#include "agent/heap_sampler/heap_profiler.h"

namespace leakwatch::internal {

struct SampledHeapPartOptions {
  std::string dir;  // the bundle's directory (being built)
  uint64_t max_file_bytes = 64ull << 20;
  bool symbolize = true;
  std::string map_files_dir = "/proc/self/map_files";
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// True when the sampler has something to write (running, or stopped with samples).
bool SampledHeapAvailable(const HeapProfiler& profiler);

HeapProfilePart WriteSampledHeapPart(const SampledHeapPartOptions& options, const HeapProfiler& profiler);

}  // namespace leakwatch::internal

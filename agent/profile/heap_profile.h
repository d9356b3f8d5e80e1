#pragma once
// HeapProfile: a sampled heap profile as an allocator wrote it, in one neutral form whatever the source
// (jemalloc's heap_v2 dump, gperftools' heap sample or heap-profiler output): the sampling scheme, one record
// per allocation stack with its counts as written, and the process's memory map at the time.
//
// Counts are kept as the allocator wrote them (sampled, not yet scaled to the whole heap): UnbiasHeapCounts
// turns them into estimates, the way pprof does for these formats.
//
// Units: bytes and objects. Addresses: virtual addresses in the profiled process.
// Thread-safety: plain values.

#include <cstdint>
#include <string>
#include <vector>

namespace leakwatch::internal {

struct HeapCounts {
  uint64_t objects = 0;
  uint64_t bytes = 0;

  bool operator==(const HeapCounts&) const = default;
};

// One allocation stack.
struct HeapStackRecord {
  // Return addresses as recorded, innermost (the allocating call) first. Each points just after a call
  // instruction; the pprof conversion moves it back by one byte so it lands on the call.
  std::vector<uint64_t> stack;
  HeapCounts inuse;  // live objects sampled from this stack
  HeapCounts alloc;  // every object sampled from this stack since profiling began (0 when not recorded)
};

// One line of the memory map (/proc/<pid>/maps syntax).
struct MappedRegion {
  uint64_t start = 0;       // first address
  uint64_t limit = 0;       // one past the last address
  uint64_t offset = 0;      // file offset mapped at `start`
  std::string permissions;  // "r-xp"
  std::string path;         // "" for anonymous memory; "[vdso]", "[heap]" and the like for the kernel's

  bool executable() const { return permissions.size() >= 3 && permissions[2] == 'x'; }
  bool operator==(const MappedRegion&) const = default;
};

enum class HeapSampling {
  // Allocations are sampled by a Poisson process over bytes with mean `sampling_rate`: an allocation of S
  // bytes is recorded with probability 1 - exp(-S / sampling_rate) (jemalloc lg_prof_sample, gperftools
  // TCMALLOC_SAMPLE_PARAMETER).
  kPoisson,
  // Every allocation is recorded (gperftools' heap profiler, "@ heapprofile").
  kEveryAllocation,
  // The counts are already estimates of the whole heap, rounded: leakwatch's own sampler weighs each sample
  // as it is taken (agent/heap_sampler/sample_interval.h). `sampling_rate` is its mean interval.
  kEstimates,
};

struct HeapProfile {
  std::string format;  // "jemalloc heap_v2", "gperftools heap_v2", "gperftools heapprofile"
  HeapSampling sampling = HeapSampling::kPoisson;
  uint64_t sampling_rate = 0;  // mean bytes between samples (kPoisson); 1 for kEveryAllocation
  // The source records cumulative allocations (alloc counts), not only live ones: jemalloc with
  // opt.prof_accum, gperftools' heap profiler. False: every `alloc` is 0.
  bool has_alloc = false;
  HeapCounts total_inuse;  // the totals the source states in its header (sampled, as written)
  HeapCounts total_alloc;
  std::vector<HeapStackRecord> records;
  std::vector<MappedRegion> mappings;  // the MAPPED_LIBRARIES section, in file order (may be empty)
};

// An estimate of what sampled counts stand for in the whole heap.
struct HeapEstimate {
  double objects = 0;
  double bytes = 0;
};

// pprof's unbiasing of legacy heap profiles: with Poisson sampling at rate R, the counts of a record whose
// mean object size is S = bytes / objects are scaled by 1 / (1 - exp(-S / R)), the inverse of the probability
// that such an object is sampled. No scaling for kEveryAllocation, kEstimates or a rate <= 1 (pprof's
// "unknown"); zero
// when objects or bytes are zero. jemalloc >= 5.3 writes counts that this scaling turns into its own internal
// unbiased figures (prof_unbias), so the same rule serves every source.
HeapEstimate UnbiasHeapCounts(const HeapCounts& counts, HeapSampling sampling, uint64_t sampling_rate);

}  // namespace leakwatch::internal

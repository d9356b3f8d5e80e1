#pragma once
// HeapSamplerCore: the state of leakwatch's sampling heap profiler — which allocations were sampled, from
// which stacks, and what they stand for — behind the allocation hooks (agent/heap_sampler/hooks/). The hooks
// decide *whether* to sample (a per-thread byte countdown, sample_interval.h) and capture the stack; this
// class records the sample, forgets it when freed, and hands out the profile.
//
//   allocation sampled  -> RecordAllocation(p, bytes, frames)   (locked; rare: once per interval of bytes)
//   free(p)             -> MightBeSampled(p) (lock-free, 3 loads)   -> RecordFree(p) only when it says yes
//                          (which looks again, lock-free, with a second hash before it takes the lock)
//   profile             -> Collect()                            (locked while copying)
//
// Figures are estimates of the whole heap: each sample counts as SampleWeight(bytes) objects and that many
// times its bytes, so sums over any set of samples are unbiased whatever the size mix of a stack.
//
// Memory is the sampler's own, from mmap, bounded by the settings: when a table is full the sample is still
// counted in the totals (the overflow bucket, or no in-use record) and the drop is counted.
//
// Thread-safety: every member may be called from any thread; the mutex is recursive, so a hook running on a
// thread that already holds it (inside fork's prepare handler) does not deadlock. Constant-initialised: a
// static instance is usable before any constructor runs (allocation hooks run that early), and it has no
// destructor to run at exit while other threads still allocate.

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "agent/heap_sampler/live_sample_table.h"
#include "agent/heap_sampler/sampled_address_filter.h"
#include "agent/heap_sampler/stack_bucket_table.h"

namespace leakwatch::internal {

struct HeapSamplerSettings {
  uint64_t mean_interval_bytes = 512 * 1024;  // 1 samples every allocation (tests)
  size_t max_live_samples = size_t{1} << 20;  // sampled allocations tracked at once
  size_t max_stacks = size_t{1} << 16;        // distinct stacks (buckets)
  size_t max_stack_bytes = size_t{64} << 20;  // arena for the buckets and their frames
};

// Plain counters, as of one moment.
struct HeapSamplerStats {
  bool running = false;
  uint64_t mean_interval_bytes = 0;
  uint64_t samples_total = 0;       // sampled allocations since the first start
  uint64_t live_samples = 0;        // of which still allocated (and tracked)
  uint64_t live_sampled_bytes = 0;  // their requested bytes (raw, not scaled)
  double inuse_bytes_estimate = 0;  // what the live samples stand for
  double inuse_objects_estimate = 0;
  double alloc_bytes_estimate = 0;  // everything sampled since the first start stands for
  double alloc_objects_estimate = 0;
  uint64_t stacks = 0;                    // buckets, the overflow bucket included
  uint64_t memory_bytes = 0;              // the tables' pages (filter included)
  uint64_t dropped_live_table_full = 0;   // samples not tracked as live: the live table was full
  uint64_t dropped_stack_table_full = 0;  // samples counted in the overflow bucket: the stack table was full
  uint64_t untracked_frees = 0;           // frees the filter let through (mark and fingerprint), no sample
  uint64_t filter_slots = 0;              // the address filter's size (it grows with the live samples)
  uint64_t replaced_samples = 0;          // a sampled address sampled again without its free being seen
  uint64_t hook_nanoseconds = 0;          // time spent recording samples (stack capture included)
};

struct SampledStack {
  std::vector<uint64_t> frames;  // return addresses, innermost first; empty for the overflow bucket
  uint64_t samples = 0;
  uint64_t live_samples = 0;
  double inuse_objects = 0;
  double inuse_bytes = 0;
  double alloc_objects = 0;
  double alloc_bytes = 0;
};

struct SampledHeap {
  HeapSamplerStats stats;
  std::vector<SampledStack> stacks;  // every stack with at least one sample
};

class HeapSamplerCore {
 public:
  constexpr HeapSamplerCore() = default;
  HeapSamplerCore(const HeapSamplerCore&) = delete;
  HeapSamplerCore& operator=(const HeapSamplerCore&) = delete;

  // Starts sampling with these settings (or changes them while running). The tables are created on the
  // first start and kept afterwards; the bounds may move, the arena does not. False when the kernel refuses
  // the memory (nothing changes then).
  bool Start(const HeapSamplerSettings& settings);
  // Stops taking samples. Frees of sampled allocations are still recorded (their records stay until then),
  // so a later Start carries on with a correct in-use picture.
  void Stop();
  bool running() const { return running_.load(std::memory_order_relaxed); }
  uint64_t mean_interval_bytes() const { return interval_.load(std::memory_order_relaxed); }

  // Records a sampled allocation of `bytes` at `p` (null: ignored) with its stack. Do not call it from
  // inside an allocation made by the sampler itself (the hooks' per-thread guard sees to it).
  void RecordAllocation(const void* p, uint64_t bytes, const uint64_t* frames, size_t depth);
  // Lock-free and O(1): false means `p` is certainly not a tracked sample.
  bool MightBeSampled(const void* p) const { return filter_.MightContain(p); }
  // Forgets `p` if it is a tracked sample. Call before the memory is released (once released, another
  // thread may be handed the same address and sample it).
  void RecordFree(const void* p);
  void AddHookNanoseconds(uint64_t ns) { hook_ns_.fetch_add(ns, std::memory_order_relaxed); }
  // Makes MightBeSampled(p) true for good (the hooks' bootstrap blocks, which free() must recognise).
  void PinInFilter(const void* p);

  HeapSamplerStats Stats() const;
  // A copy of every stack with samples. Allocates (outside the lock, then copies under it).
  SampledHeap Collect() const;

  // pthread_atfork: the prepare handler holds the lock across fork() so no child inherits tables caught
  // mid-update; the parent releases it, the child makes a fresh one (the child's thread has another id than
  // the owner recorded in the mutex, so unlocking would fail there).
  void LockForFork();
  void UnlockInParentAfterFork();
  void ResetInChildAfterFork();

 private:
  class Guard;
  HeapSamplerStats StatsLocked() const;

  mutable pthread_mutex_t mutex_ = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> interval_{0};
  std::atomic<uint64_t> hook_ns_{0};
  SampledAddressFilter filter_;
  LiveSampleTable live_;
  StackBucketTable stacks_;
  // Under the lock.
  uint64_t samples_total_ = 0;
  uint64_t live_sampled_bytes_ = 0;
  double inuse_bytes_ = 0;
  double inuse_objects_ = 0;
  double alloc_bytes_ = 0;
  double alloc_objects_ = 0;
  uint64_t dropped_live_ = 0;
  uint64_t dropped_stacks_ = 0;
  uint64_t untracked_frees_ = 0;
  uint64_t replaced_ = 0;
  size_t total_frames_ = 0;  // frames over all buckets (Collect's reservation)
};

}  // namespace leakwatch::internal

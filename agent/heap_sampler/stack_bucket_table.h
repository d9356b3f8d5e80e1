#pragma once
// StackBucketTable: one bucket per distinct allocation stack, holding what the samples taken there stand
// for: in-use and allocated objects and bytes (estimates, already unbiased sample by sample), and the raw
// sample counts. Buckets are never removed, so the cumulative (alloc_*) figures of stacks whose memory was
// all freed stay in the profile.
//
// Buckets live one after another in an arena reserved once (MAP_NORESERVE: only the pages written cost
// memory), each a header followed by its frames; an index of 32-bit bucket numbers, open addressing with
// linear probing, finds a stack. The index doubles while more than half full. At most `max_buckets` buckets
// and `max_bucket_bytes` of arena: beyond that, Find returns kNoBucket and the caller counts the sample
// against the overflow bucket (bucket 0, the empty stack).
//
// Thread-safety: none; the sampler calls it under its lock. Cost: one hash of the frames and O(1) expected
// probes per lookup. Memory: 56 bytes + 8 per frame per bucket, plus 4..8 bytes of index per bucket.

#include <cstddef>
#include <cstdint>

namespace leakwatch::internal {

struct StackBucket {
  uint64_t hash = 0;
  uint32_t depth = 0;  // frames after the header
  uint32_t reserved = 0;
  uint64_t samples = 0;       // samples ever taken here
  uint64_t live_samples = 0;  // of which still allocated
  double inuse_objects = 0;   // estimates (sum of the live samples' weights, and weights x bytes)
  double inuse_bytes = 0;
  double alloc_objects = 0;  // estimates since sampling began
  double alloc_bytes = 0;

  const uint64_t* frames() const { return reinterpret_cast<const uint64_t*>(this + 1); }
  uint64_t* frames() { return reinterpret_cast<uint64_t*>(this + 1); }
};

class StackBucketTable {
 public:
  static constexpr uint32_t kOverflowBucket = 0;
  static constexpr uint32_t kNoBucket = UINT32_MAX;
  static constexpr size_t kMaxFrames = 64;

  constexpr StackBucketTable() = default;
  StackBucketTable(const StackBucketTable&) = delete;
  StackBucketTable& operator=(const StackBucketTable&) = delete;

  // Reserves the arena and creates the overflow bucket. False when the kernel refuses the memory.
  bool Init(size_t max_buckets, size_t max_bucket_bytes);
  bool initialized() const { return arena_ != nullptr; }

  // The bucket of this stack (depth <= kMaxFrames), created if new; kNoBucket when the table is full.
  uint32_t FindOrAdd(const uint64_t* frames, size_t depth);

  StackBucket& bucket(uint32_t id) { return *reinterpret_cast<StackBucket*>(arena_ + offsets_[id]); }
  const StackBucket& bucket(uint32_t id) const {
    return *reinterpret_cast<const StackBucket*>(arena_ + offsets_[id]);
  }
  size_t size() const { return count_; }
  // Arena bytes written, the offset list and the index.
  size_t memory_bytes() const;

  // Returns the memory to the kernel; Init() again to reuse.
  void Release();

  static uint64_t HashFrames(const uint64_t* frames, size_t depth);

 private:
  bool GrowIndex();
  void IndexInsert(uint32_t id, uint64_t hash);

  char* arena_ = nullptr;
  size_t arena_bytes_ = 0;  // reserved
  size_t arena_used_ = 0;
  uint64_t* offsets_ = nullptr;  // bucket id -> arena offset; max_buckets_ entries (reserved)
  uint32_t* index_ = nullptr;    // slot -> bucket id + 1 (0: empty)
  size_t index_slots_ = 0;
  size_t count_ = 0;
  size_t max_buckets_ = 0;
};

}  // namespace leakwatch::internal

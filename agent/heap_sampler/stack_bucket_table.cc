#include "agent/heap_sampler/stack_bucket_table.h"

#include <cstring>
#include <new>

#include "agent/heap_sampler/sampler_memory.h"

namespace leakwatch::internal {
namespace {

constexpr size_t kInitialIndexSlots = 1024;

size_t BucketBytes(size_t depth) { return sizeof(StackBucket) + depth * sizeof(uint64_t); }

}  // namespace

uint64_t StackBucketTable::HashFrames(const uint64_t* frames, size_t depth) {
  uint64_t h = 0xCBF29CE484222325ULL ^ depth;
  for (size_t i = 0; i < depth; ++i) {
    h ^= frames[i];
    h *= 0x100000001B3ULL;
    h ^= h >> 29;
  }
  return h * 0x9E3779B97F4A7C15ULL;
}

bool StackBucketTable::Init(size_t max_buckets, size_t max_bucket_bytes) {
  if (arena_ != nullptr) return true;
  if (max_buckets < 1) max_buckets = 1;
  if (max_bucket_bytes < BucketBytes(kMaxFrames)) max_bucket_bytes = BucketBytes(kMaxFrames);
  arena_bytes_ = RoundUpToPages(max_bucket_bytes);
  max_buckets_ = max_buckets;
  index_slots_ = kInitialIndexSlots;
  arena_ = static_cast<char*>(MapSamplerMemory(arena_bytes_, /*reserve_only=*/true));
  offsets_ = static_cast<uint64_t*>(MapSamplerMemory(max_buckets * sizeof(uint64_t), /*reserve_only=*/true));
  index_ = static_cast<uint32_t*>(MapSamplerMemory(index_slots_ * sizeof(uint32_t)));
  if (arena_ == nullptr || offsets_ == nullptr || index_ == nullptr) {
    Release();
    return false;
  }
  // The overflow bucket: the empty stack, never in the index.
  offsets_[kOverflowBucket] = 0;
  arena_used_ = BucketBytes(0);
  count_ = 1;
  return true;
}

size_t StackBucketTable::memory_bytes() const {
  if (arena_ == nullptr) return 0;
  return RoundUpToPages(arena_used_) + RoundUpToPages(count_ * sizeof(uint64_t)) +
         RoundUpToPages(index_slots_ * sizeof(uint32_t));
}

void StackBucketTable::IndexInsert(uint32_t id, uint64_t hash) {
  size_t j = static_cast<size_t>(hash >> 16) & (index_slots_ - 1);
  while (index_[j] != 0) j = (j + 1) & (index_slots_ - 1);
  index_[j] = id + 1;
}

bool StackBucketTable::GrowIndex() {
  const size_t new_slots = index_slots_ * 2;
  auto* fresh = static_cast<uint32_t*>(MapSamplerMemory(new_slots * sizeof(uint32_t)));
  if (fresh == nullptr) return false;
  uint32_t* old = index_;
  const size_t old_slots = index_slots_;
  index_ = fresh;
  index_slots_ = new_slots;
  for (size_t i = 0; i < old_slots; ++i) {
    if (old[i] != 0) IndexInsert(old[i] - 1, bucket(old[i] - 1).hash);
  }
  UnmapSamplerMemory(old, old_slots * sizeof(uint32_t));
  return true;
}

uint32_t StackBucketTable::FindOrAdd(const uint64_t* frames, size_t depth) {
  if (arena_ == nullptr) return kNoBucket;
  if (depth > kMaxFrames) depth = kMaxFrames;
  const uint64_t hash = HashFrames(frames, depth);
  const size_t mask = index_slots_ - 1;
  for (size_t j = static_cast<size_t>(hash >> 16) & mask; index_[j] != 0; j = (j + 1) & mask) {
    const StackBucket& b = bucket(index_[j] - 1);
    if (b.hash == hash && b.depth == depth &&
        (depth == 0 || std::memcmp(b.frames(), frames, depth * sizeof(uint64_t)) == 0)) {
      return index_[j] - 1;
    }
  }
  const size_t bytes = BucketBytes(depth);
  if (count_ >= max_buckets_ || arena_bytes_ - arena_used_ < bytes) return kNoBucket;
  if ((count_ + 1) * 2 > index_slots_ && !GrowIndex() && (count_ + 1) * 4 > index_slots_ * 3) {
    return kNoBucket;
  }
  const auto id = static_cast<uint32_t>(count_);
  offsets_[id] = arena_used_;
  auto* b = new (arena_ + arena_used_) StackBucket();
  b->hash = hash;
  b->depth = static_cast<uint32_t>(depth);
  if (depth != 0) std::memcpy(b->frames(), frames, depth * sizeof(uint64_t));
  arena_used_ += bytes;
  ++count_;
  IndexInsert(id, hash);
  return id;
}

void StackBucketTable::Release() {
  UnmapSamplerMemory(arena_, arena_bytes_);
  UnmapSamplerMemory(offsets_, max_buckets_ * sizeof(uint64_t));
  UnmapSamplerMemory(index_, index_slots_ * sizeof(uint32_t));
  arena_ = nullptr;
  offsets_ = nullptr;
  index_ = nullptr;
  arena_bytes_ = arena_used_ = index_slots_ = count_ = max_buckets_ = 0;
}

}  // namespace leakwatch::internal

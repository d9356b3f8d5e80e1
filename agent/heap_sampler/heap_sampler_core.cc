#include "agent/heap_sampler/heap_sampler_core.h"

#include <algorithm>

#include "agent/heap_sampler/sample_interval.h"

namespace leakwatch::internal {

class HeapSamplerCore::Guard {
 public:
  explicit Guard(pthread_mutex_t* m) : m_(m) { pthread_mutex_lock(m_); }
  ~Guard() { pthread_mutex_unlock(m_); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  pthread_mutex_t* m_;
};

bool HeapSamplerCore::Start(const HeapSamplerSettings& settings) {
  Guard lock(&mutex_);
  if (!stacks_.initialized() && !stacks_.Init(settings.max_stacks, settings.max_stack_bytes)) return false;
  live_.SetMaxEntries(std::max<size_t>(settings.max_live_samples, 1));
  interval_.store(std::max<uint64_t>(settings.mean_interval_bytes, 1), std::memory_order_relaxed);
  running_.store(true, std::memory_order_release);
  return true;
}

void HeapSamplerCore::Stop() { running_.store(false, std::memory_order_release); }

void HeapSamplerCore::RecordAllocation(const void* p, uint64_t bytes, const uint64_t* frames, size_t depth) {
  if (p == nullptr) return;
  const double weight = SampleWeight(bytes, interval_.load(std::memory_order_relaxed));
  const double weighted_bytes = weight * static_cast<double>(bytes);
  Guard lock(&mutex_);
  if (!stacks_.initialized()) return;
  uint32_t id = stacks_.FindOrAdd(frames, depth);
  if (id == StackBucketTable::kNoBucket) {
    id = StackBucketTable::kOverflowBucket;
    ++dropped_stacks_;
  } else if (id + 1 == stacks_.size() && stacks_.bucket(id).samples == 0) {
    total_frames_ += stacks_.bucket(id).depth;
  }
  StackBucket& b = stacks_.bucket(id);
  ++b.samples;
  b.alloc_objects += weight;
  b.alloc_bytes += weighted_bytes;
  ++samples_total_;
  alloc_objects_ += weight;
  alloc_bytes_ += weighted_bytes;

  const LiveSample sample{reinterpret_cast<uint64_t>(p), bytes, id, static_cast<float>(weight)};
  LiveSample old;
  bool replaced = false;
  // Before the insert: the rebuild of a grown filter must not count this address twice.
  filter_.Reserve(live_.size() + 1,
                  [this](auto add) { live_.ForEach([&](const LiveSample& s) { add(s.address); }); });
  if (!live_.Insert(sample, &old, &replaced)) {
    ++dropped_live_;
    return;
  }
  if (replaced) {
    // The earlier allocation at this address was released without the hooks seeing it (a library that
    // bypasses them): take it out of its stack's in-use figures.
    ++replaced_;
    StackBucket& ob = stacks_.bucket(old.bucket);
    --ob.live_samples;
    ob.inuse_objects -= old.weight;
    ob.inuse_bytes -= static_cast<double>(old.weight) * static_cast<double>(old.bytes);
    inuse_objects_ -= old.weight;
    inuse_bytes_ -= static_cast<double>(old.weight) * static_cast<double>(old.bytes);
    live_sampled_bytes_ -= old.bytes;
  } else {
    filter_.Add(p);
  }
  ++b.live_samples;
  // The weight as stored (a float), so that the free takes back exactly what was added.
  const double stored = sample.weight;
  b.inuse_objects += stored;
  b.inuse_bytes += stored * static_cast<double>(bytes);
  inuse_objects_ += stored;
  inuse_bytes_ += stored * static_cast<double>(bytes);
  live_sampled_bytes_ += bytes;
}

void HeapSamplerCore::PinInFilter(const void* p) {
  Guard lock(&mutex_);
  filter_.Pin(p);
}

void HeapSamplerCore::RecordFree(const void* p) {
  // Most addresses the map flagged in vain stop here, at their slot's fingerprint, without the lock.
  if (!filter_.MightContainOnSecondLook(p)) return;
  Guard lock(&mutex_);
  LiveSample s;
  if (!live_.Remove(reinterpret_cast<uint64_t>(p), &s)) {
    ++untracked_frees_;
    return;
  }
  filter_.Remove(p);
  StackBucket& b = stacks_.bucket(s.bucket);
  const double w = s.weight;
  --b.live_samples;
  if (b.live_samples == 0) {
    b.inuse_objects = 0;  // no rounding residue left behind
    b.inuse_bytes = 0;
  } else {
    b.inuse_objects -= w;
    b.inuse_bytes -= w * static_cast<double>(s.bytes);
  }
  live_sampled_bytes_ -= s.bytes;
  if (live_.size() == 0) {
    inuse_objects_ = 0;
    inuse_bytes_ = 0;
  } else {
    inuse_objects_ -= w;
    inuse_bytes_ -= w * static_cast<double>(s.bytes);
  }
}

HeapSamplerStats HeapSamplerCore::StatsLocked() const {
  HeapSamplerStats s;
  s.running = running();
  s.mean_interval_bytes = mean_interval_bytes();
  s.samples_total = samples_total_;
  s.live_samples = live_.size();
  s.live_sampled_bytes = live_sampled_bytes_;
  s.inuse_bytes_estimate = std::max(inuse_bytes_, 0.0);
  s.inuse_objects_estimate = std::max(inuse_objects_, 0.0);
  s.alloc_bytes_estimate = alloc_bytes_;
  s.alloc_objects_estimate = alloc_objects_;
  s.stacks = stacks_.size();
  s.memory_bytes = stacks_.memory_bytes() + live_.memory_bytes() + filter_.memory_bytes();
  s.dropped_live_table_full = dropped_live_;
  s.dropped_stack_table_full = dropped_stacks_;
  s.untracked_frees = untracked_frees_;
  s.filter_slots = filter_.slots();
  s.replaced_samples = replaced_;
  s.hook_nanoseconds = hook_ns_.load(std::memory_order_relaxed);
  return s;
}

HeapSamplerStats HeapSamplerCore::Stats() const {
  Guard lock(&mutex_);
  return StatsLocked();
}

SampledHeap HeapSamplerCore::Collect() const {
  SampledHeap heap;
  std::vector<uint64_t> frames;                  // every bucket's frames, one after another
  std::vector<std::pair<size_t, size_t>> spans;  // per copied bucket: first frame, depth
  std::vector<SampledStack> counts;
  for (int attempt = 0;; ++attempt) {
    size_t buckets = 0, total_frames = 0;
    {
      Guard lock(&mutex_);
      buckets = stacks_.size();
      total_frames = total_frames_;
    }
    // Room for what may arrive meanwhile; the copy below never allocates under the lock.
    frames.clear();
    spans.clear();
    counts.clear();
    frames.reserve(total_frames + 64 * StackBucketTable::kMaxFrames);
    spans.reserve(buckets + 64);
    counts.reserve(buckets + 64);
    Guard lock(&mutex_);
    if ((stacks_.size() > spans.capacity() || total_frames_ > frames.capacity()) && attempt < 8) continue;
    heap.stats = StatsLocked();
    const size_t n = std::min(stacks_.size(), spans.capacity());
    for (uint32_t id = 0; id < n; ++id) {
      const StackBucket& b = stacks_.bucket(id);
      if (b.samples == 0 || frames.size() + b.depth > frames.capacity()) continue;
      spans.emplace_back(frames.size(), b.depth);
      frames.insert(frames.end(), b.frames(), b.frames() + b.depth);
      SampledStack s;
      s.samples = b.samples;
      s.live_samples = b.live_samples;
      s.inuse_objects = std::max(b.inuse_objects, 0.0);
      s.inuse_bytes = std::max(b.inuse_bytes, 0.0);
      s.alloc_objects = b.alloc_objects;
      s.alloc_bytes = b.alloc_bytes;
      counts.push_back(std::move(s));  // no frames yet: nothing to allocate
    }
    break;
  }
  heap.stacks = std::move(counts);
  for (size_t i = 0; i < heap.stacks.size(); ++i) {
    const auto [first, depth] = spans[i];
    heap.stacks[i].frames.assign(frames.begin() + static_cast<std::ptrdiff_t>(first),
                                 frames.begin() + static_cast<std::ptrdiff_t>(first + depth));
  }
  return heap;
}

void HeapSamplerCore::LockForFork() { pthread_mutex_lock(&mutex_); }

void HeapSamplerCore::UnlockInParentAfterFork() { pthread_mutex_unlock(&mutex_); }

void HeapSamplerCore::ResetInChildAfterFork() {
  // Only this thread exists in the child: nobody else can hold or wait for the lock.
  pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  mutex_ = fresh;
}

}  // namespace leakwatch::internal

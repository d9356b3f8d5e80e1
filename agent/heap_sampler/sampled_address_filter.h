#pragma once
// SampledAddressFilter: answers "might this pointer be a sampled allocation?" for free() and realloc()
// without a lock, in one load. A counting filter over 2^16 one-byte counters indexed by a hash of the
// address: a sampled allocation increments its counter, its release decrements it.
//
// Never a false negative: the increment happens before malloc returns the pointer, so any thread that later
// frees it (having received it through some synchronisation) sees a non-zero counter. False positives (an
// unsampled address sharing a counter with a live sampled one) send free() to the locked slow path, which
// finds nothing; with n live samples about n / 65,536 of frees do. A counter that reaches 255 stays there
// (conservative, never wrong).
//
// Thread-safety: MightContain from any thread, lock-free; Add and Remove only under the sampler's lock.
// Memory: 64 KiB, constant-initialised (usable before any constructor runs).

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace leakwatch::internal {

class SampledAddressFilter {
 public:
  static constexpr int kBits = 16;
  static constexpr size_t kCounters = size_t{1} << kBits;

  constexpr SampledAddressFilter() = default;

  bool MightContain(const void* p) const { return counters_[Index(p)].load(std::memory_order_relaxed) != 0; }
  void Add(const void* p) {
    auto& c = counters_[Index(p)];
    const uint8_t v = c.load(std::memory_order_relaxed);
    if (v != 255) c.store(static_cast<uint8_t>(v + 1), std::memory_order_relaxed);
  }
  // Sets p's counter to the saturated value, which nothing decrements.
  void Pin(const void* p) { counters_[Index(p)].store(255, std::memory_order_relaxed); }
  void Remove(const void* p) {
    auto& c = counters_[Index(p)];
    const uint8_t v = c.load(std::memory_order_relaxed);
    if (v != 0 && v != 255) c.store(static_cast<uint8_t>(v - 1), std::memory_order_relaxed);
  }
  static size_t Index(const void* p) {
    // Allocations are at least 16-byte aligned: the low 4 bits carry nothing.
    return static_cast<size_t>(((reinterpret_cast<uintptr_t>(p) >> 4) * 0x9E3779B97F4A7C15ULL) >>
                               (64 - kBits));
  }

 private:
  std::atomic<uint8_t> counters_[kCounters] = {};
};

}  // namespace leakwatch::internal

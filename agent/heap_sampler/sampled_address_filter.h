#pragma once
// SampledAddressFilter: answers "might this pointer be a sampled allocation?" for free() and realloc()
// without a lock, in three loads (the current table's address, its size, one word of its bitmap). A counting
// filter indexed by a hash of the address: a sampled allocation increments its slot's counter, its release
// decrements it. free() reads only a bitmap of the slots whose counter is non-zero; the counters (4 bits a
// slot) are touched with the sampler's lock held, by samples and their releases.
//
// Never a false negative: the bit is set before malloc returns the pointer, so any thread that later frees
// it (having received it through some synchronisation) sees it. False positives (an unsampled address
// sharing a slot with a live sampled one) would send free() to the locked slow path, which finds nothing:
// about live samples / slots of the frees. So the table grows with the live samples (Reserve): it starts at
// 65,536 slots (an 8 KiB bitmap, which stays in the L1 cache beside the program's data) and is replaced by
// one 4 times larger whenever the live samples pass 1/64 of its slots (at most 1.6% of frees flagged), up to
// kMaxSlots. And a flagged address is looked up again, still without the lock, in a second bitmap indexed
// by another hash: only about the square of that fraction (0.03%) reaches the lock.
//
// A growth rebuilds the new table from the live samples, under the sampler's lock: O(live samples), at most
// 5 times in a process's life. A replaced table stays mapped and is never written again: a free() that loaded
// it just before the replacement may still read it, and finds every address that was sampled before
// (addresses sampled after it are only in the new table, which their free() loads: it follows their malloc).
// A counter that reaches 15 stays there (conservative, never wrong: at 1/64 of the slots in use, 15 samples
// in one slot do not happen by chance).
//
// Thread-safety: MightContain and MightContainOnSecondLook from any thread, lock-free; everything else only
// under the sampler's lock. Memory: 80 KiB built in (constant-initialised, usable before any constructor
// runs); a grown table 10 bits a slot, 64..256 slots per live sample (80..320 bytes), from mmap; the
// replaced tables add at most a third.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace leakwatch::internal {

class SampledAddressFilter {
 public:
  static constexpr size_t kInitialSlots = size_t{1} << 16;
  static constexpr size_t kMaxSlots = size_t{1} << 26;
  static constexpr size_t kSlotsPerLiveSample = 64;  // the growth threshold: at most 1/64 of slots in use
  static constexpr size_t kMaxPins = 256;

  constexpr SampledAddressFilter() = default;
  SampledAddressFilter(const SampledAddressFilter&) = delete;
  SampledAddressFilter& operator=(const SampledAddressFilter&) = delete;

  // free()'s question: one bit of the first bitmap.
  bool MightContain(const void* p) const { return Test(current_.load(std::memory_order_acquire), p, 0); }
  // The question again, for an address MightContain flagged, with the second bitmap (another hash): an
  // unsampled address passes both about (live samples / slots)^2 of the time, so few flagged frees need
  // the lock.
  bool MightContainOnSecondLook(const void* p) const {
    return Test(current_.load(std::memory_order_acquire), p, 1);
  }
  void Add(const void* p) { AddTo(Current(), reinterpret_cast<uintptr_t>(p)); }
  // Makes both answers yes for good, in this table and every later one (the hooks' bootstrap blocks).
  // After kMaxPins pins the table stops growing, so that no pin is lost.
  void Pin(const void* p);
  void Remove(const void* p);

  // Grows the table, if `live` samples need it, to one that keeps them under 1/kSlotsPerLiveSample of its
  // slots; `for_each_live(add)` must call add(address) for every live sampled address (the current table's
  // contents are rebuilt from them, and from the pins). Keeps the current table when the kernel refuses
  // memory (then only tries again once the live samples have doubled) or at kMaxSlots.
  template <typename ForEachLive>
  void Reserve(size_t live, ForEachLive&& for_each_live) {
    if (live * kSlotsPerLiveSample <= Slots(Current()) || live < retry_at_live_) return;
    Table* t = MapLarger(live);
    if (t == nullptr) return;
    for_each_live([t](uint64_t address) { AddTo(t, address); });
    Publish(t);
  }

  size_t slots() const { return Slots(Current()); }
  // The built-in table, the current one and the replaced ones.
  size_t memory_bytes() const { return sizeof(*this) + mapped_bytes_; }

 private:
  // A table: this header, then two bitmaps of word_mask + 1 words each (slot s is bit s % 64 of word s / 64),
  // then the two bitmaps' counters (4 bits a slot).
  struct alignas(64) Table {
    uint64_t word_mask = 0;
    uint8_t* counters = nullptr;  // two 4-bit counters a byte; the second bitmap's follow the first's
  };
  struct BuiltIn {
    Table header;
    uint64_t words[2 * kInitialSlots / 64];
    uint8_t counters[2 * kInitialSlots / 2];
  };
  static constexpr unsigned kSaturated = 15;

  // Multiplicative hashes, one per bitmap; bits 34..63 of the product pick the slot, bits 34..39 the bit
  // within its word (free() then needs no mask for it: x86's bit test takes its bit number modulo 64).
  // Every bit of the address counts, so blocks of one size class (addresses in steps of 64, or of a page)
  // spread over all the slots.
  static uint64_t Hash(uintptr_t p, int bitmap) {
    return (p * (bitmap == 0 ? 0x9E3779B97F4A7C15ULL : 0xC2B2AE3D27D4EB4FULL)) >> 34;
  }
  // The first (0) or the second (1) bitmap.
  static uint64_t* Words(const Table* t, int bitmap) {
    uint64_t* first = reinterpret_cast<uint64_t*>(const_cast<Table*>(t) + 1);
    return bitmap == 0 ? first : first + t->word_mask + 1;
  }
  static bool Test(const Table* t, const void* p, int bitmap) {
    const uint64_t v = Hash(reinterpret_cast<uintptr_t>(p), bitmap);
    const uint64_t word = __atomic_load_n(&Words(t, bitmap)[(v >> 6) & t->word_mask], __ATOMIC_RELAXED);
    return ((word >> (v & 63)) & 1) != 0;
  }
  static size_t Slots(const Table* t) { return (t->word_mask + 1) * 64; }
  Table* Current() const { return current_.load(std::memory_order_relaxed); }
  struct Slot;  // one slot of one bitmap: its word and bit, its counter
  static Slot SlotIn(Table* t, uintptr_t p, int bitmap);
  static void AddTo(Table* t, uintptr_t p);
  static void SetSaturated(Table* t, uintptr_t p);
  Table* MapLarger(size_t live);
  void Publish(Table* t);

  BuiltIn built_in_ = {{kInitialSlots / 64 - 1, built_in_.counters}, {}, {}};
  std::atomic<Table*> current_{&built_in_.header};
  size_t mapped_bytes_ = 0;  // every table mapped so far (none is ever unmapped)
  size_t retry_at_live_ = 0;
  uint64_t pins_[kMaxPins] = {};
  size_t pin_count_ = 0;
};

}  // namespace leakwatch::internal

#pragma once
// SampledAddressFilter: answers "might this pointer be a sampled allocation?" for free() and realloc()
// without a lock, in three loads (the current table's address, its size, one byte of its first map). A
// counting filter indexed by a hash of the address: a sampled allocation increments its slot's counter, its
// release decrements it. Each slot is one byte, both the counter and what free() reads (non-zero: maybe
// sampled); counters change only with the sampler's lock held, by samples and their releases.
//
// Never a false negative: the counter is set before malloc returns the pointer, so any thread that later
// frees it (having received it through some synchronisation) sees it. False positives (an unsampled address
// sharing a slot with a live sampled one) would send free() to the locked slow path, which finds nothing:
// about live samples / slots of the frees. So the table grows with the live samples (Reserve): it starts at
// 65,536 slots and is replaced by one 4 times larger whenever the live samples pass 1/64 of its slots (at
// most 1.6% of frees flagged), up to kMaxSlots. And a flagged address is looked up again, still without the
// lock, in a second map indexed by another hash: only about the square of that fraction (0.03%) reaches the
// lock.
//
// The first map's hash multiplies by a 32-bit constant (an immediate operand: free() loads no 64-bit
// constant) and takes bits 36 and up: near each other it is linear, one slot per ~45 bytes of address space,
// so the frees of a working set read a part of the map in proportion to it (256 KiB of heap, 6 KiB of map;
// with the slots scattered, every free would read a random line of a map larger than the L1 cache, a miss
// that measured as 1.5% of a malloc/free loop). Blocks 64 bytes or more apart never share a slot; blocks of
// one size class, at any stride from 16 bytes to 2 MiB, spread evenly over the slots (the tests check both).
// The second map's hash multiplies by a 64-bit constant and takes the top bits: it scatters.

// A growth rebuilds the new table from the live samples, under the sampler's lock: O(live samples), at most
// 5 times in a process's life. A replaced table stays mapped and is never written again: a free() that loaded
// it just before the replacement may still read it, and finds every address that was sampled before
// (addresses sampled after it are only in the new table, which their free() loads: it follows their malloc).
// A counter that reaches 255 stays there (conservative, never wrong: at 1/64 of the slots in use, 255 samples
// in one slot do not happen by chance).
//
// Thread-safety: MightContain and MightContainOnSecondLook from any thread, lock-free; everything else only
// under the sampler's lock. Memory: 128 KiB built in (constant-initialised, usable before any constructor
// runs); a grown table 2 bytes a slot, 64..256 slots per live sample (128..512 bytes), from mmap; the
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

  // free()'s question: one byte of the first map.
  bool MightContain(const void* p) const { return Test(current_.load(std::memory_order_acquire), p, 0); }
  // The question again, for an address MightContain flagged, with the second map (another hash): an
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
  // The slot of address p in the first map, before the table's mask (the tests check its spread).
  static uint64_t FirstMapHash(uintptr_t p) { return (p * kFirstHash) >> 36; }
  // The built-in table, the current one and the replaced ones.
  size_t memory_bytes() const { return sizeof(*this) + mapped_bytes_; }

 private:
  // A table: this header, then two maps of slot_mask + 1 one-byte counters each (0: no live sample).
  struct alignas(64) Table {
    uint64_t slot_mask = 0;
  };
  struct BuiltIn {
    Table header;
    uint8_t counters[2 * kInitialSlots];
  };
  static constexpr uint8_t kSaturated = 255;
  static constexpr uint64_t kFirstHash = 0x5BD1E995;  // below 2^31: an immediate operand of imul
  static constexpr uint64_t kSecondHash = 0xC2B2AE3D27D4EB4FULL;

  static uint64_t Hash(uintptr_t p, int map) { return map == 0 ? FirstMapHash(p) : (p * kSecondHash) >> 38; }
  static uint8_t* Counters(const Table* t, int map) {
    uint8_t* first = reinterpret_cast<uint8_t*>(const_cast<Table*>(t) + 1);
    return map == 0 ? first : first + t->slot_mask + 1;
  }
  static uint8_t* Counter(const Table* t, uintptr_t p, int map) {
    return &Counters(t, map)[Hash(p, map) & t->slot_mask];
  }
  static bool Test(const Table* t, const void* p, int map) {
    return __atomic_load_n(Counter(t, reinterpret_cast<uintptr_t>(p), map), __ATOMIC_RELAXED) != 0;
  }
  static size_t Slots(const Table* t) { return t->slot_mask + 1; }
  Table* Current() const { return current_.load(std::memory_order_relaxed); }
  static void AddTo(Table* t, uintptr_t p);
  static void SetSaturated(Table* t, uintptr_t p);
  Table* MapLarger(size_t live);
  void Publish(Table* t);

  BuiltIn built_in_ = {{kInitialSlots - 1}, {}};
  std::atomic<Table*> current_{&built_in_.header};
  size_t mapped_bytes_ = 0;  // every table mapped so far (none is ever unmapped)
  size_t retry_at_live_ = 0;
  uint64_t pins_[kMaxPins] = {};
  size_t pin_count_ = 0;
};

}  // namespace leakwatch::internal

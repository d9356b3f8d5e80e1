#pragma once
// SampledAddressFilter: answers "might this pointer be a sampled allocation?" for free() and realloc()
// without a lock, in three loads (the current table's address, its size, one byte of its map). A counting
// filter indexed by a hash of the address: a sampled allocation increments its slot's counter, its release
// decrements it, both under the sampler's lock. free() reads only the slot's mark, one byte: 0 when no live
// sample is in the slot, else an 8-bit fingerprint of the one address there (1..254), or 255 when there are
// several (or a pin, or a saturated counter).
//
// Never a false negative: the mark is set before malloc returns the pointer, so any thread that later frees
// it (having received it through some synchronisation) sees it; a mark only goes from a fingerprint to 255
// while the slot is in use, and back to 0 when its last sample is released. A false positive (an unsampled
// address in a marked slot) would send free() to the locked slow path, which finds nothing: about live
// samples / slots of the frees. So, first, the table grows with the live samples (Reserve): it starts at
// 65,536 slots and is replaced by one 4 times larger whenever the live samples pass 1/64 of its slots (at
// most 1.6% of frees flagged), up to kMaxSlots. Second, a flagged address is looked at again, still without
// the lock, against the mark's fingerprint: the same byte, so the same cache line, which free() just read.
// About 1/254 of the flagged ones pass (0.006% of frees), plus those in the rare slots holding several.
//
// The slot is bits 36 and up of the address times a 32-bit constant (an immediate operand: free() loads no
// 64-bit constant). Near each other that is linear, one slot per ~45 bytes of address space, so the frees of
// a working set read a part of the map in proportion to it (256 KiB of heap, 6 KiB of map; with the slots
// scattered, every free read a random line of a map larger than the L1 cache, a miss that measured as 1.5% of
// a malloc/free loop). Blocks 64 bytes or more apart never share a slot; blocks of one size class, at any
// stride from 16 bytes to 2 MiB, spread evenly over the slots (the tests check both). The fingerprint comes
// from a 64-bit multiplicative hash, independent of the slot.
//
// A growth rebuilds the new table from the live samples, under the sampler's lock: O(live samples), at most
// 5 times in a process's life. A replaced table stays mapped and is never written again: a free() that loaded
// it just before the replacement may still read it, and finds every address that was sampled before
// (addresses sampled after it are only in the new table, which their free() loads: it follows their malloc).
// A counter that reaches 255 stays there (conservative, never wrong: at 1/64 of the slots in use, 255 samples
// in one slot do not happen by chance).
//
// Thread-safety: MightContain and MightContainOnSecondLook from any thread, lock-free; everything else only
// under the sampler's lock. Memory: 128 KiB built in (constant-initialised, usable before any constructor
// runs); a grown table 2 bytes a slot (the mark, and the counter beside the map), 64..256 slots per live
// sample (128..512 bytes), from mmap; the replaced tables add at most a third.

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

  // free()'s question: is the slot's mark non-zero?
  bool MightContain(const void* p) const {
    const Table* t = current_.load(std::memory_order_acquire);
    return LoadMark(t, Slot(t, reinterpret_cast<uintptr_t>(p))) != 0;
  }
  // The question again, for an address MightContain flagged: does the mark say "several", or is it this
  // address's fingerprint? An unsampled address in a marked slot passes about 1/254 of the time.
  bool MightContainOnSecondLook(const void* p) const {
    const Table* t = current_.load(std::memory_order_acquire);
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    const uint8_t mark = LoadMark(t, Slot(t, a));
    return mark == kSeveral || (mark != 0 && mark == Fingerprint(a));
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
  // The slot of address p, before the table's mask (the tests check its spread).
  static uint64_t SlotHash(uintptr_t p) { return (p * kSlotHash) >> 36; }
  // The built-in table, the current one and the replaced ones.
  size_t memory_bytes() const { return sizeof(*this) + mapped_bytes_; }

 private:
  // A table: this header, then the marks (slot_mask + 1 bytes, what free() reads), then the counters (as
  // many, read and written under the lock only).
  struct alignas(64) Table {
    uint64_t slot_mask = 0;
  };
  struct BuiltIn {
    Table header;
    uint8_t marks[kInitialSlots];
    uint8_t counters[kInitialSlots];
  };
  static constexpr uint8_t kSeveral = 255;    // the mark of a slot with more than one live sample, or a pin
  static constexpr uint8_t kSaturated = 255;  // a counter that stays
  static constexpr uint64_t kSlotHash = 0x5BD1E995;  // below 2^31: an immediate operand of imul
  static constexpr uint64_t kFingerprintHash = 0xC2B2AE3D27D4EB4FULL;

  static uint8_t* Marks(const Table* t) { return reinterpret_cast<uint8_t*>(const_cast<Table*>(t) + 1); }
  static uint8_t* Counters(const Table* t) { return Marks(t) + t->slot_mask + 1; }
  static size_t Slot(const Table* t, uintptr_t p) { return SlotHash(p) & t->slot_mask; }
  static uint8_t LoadMark(const Table* t, size_t slot) {
    return __atomic_load_n(&Marks(t)[slot], __ATOMIC_RELAXED);
  }
  // 1..254, from bits of the address the slot does not depend on the same way.
  static uint8_t Fingerprint(uintptr_t p) {
    return static_cast<uint8_t>(1 + ((p * kFingerprintHash) >> 32) % 254);
  }
  static size_t Slots(const Table* t) { return t->slot_mask + 1; }
  Table* Current() const { return current_.load(std::memory_order_relaxed); }
  static void AddTo(Table* t, uintptr_t p);
  static void SetSaturated(Table* t, uintptr_t p);
  Table* MapLarger(size_t live);
  void Publish(Table* t);

  BuiltIn built_in_ = {{kInitialSlots - 1}, {}, {}};
  std::atomic<Table*> current_{&built_in_.header};
  size_t mapped_bytes_ = 0;  // every table mapped so far (none is ever unmapped)
  size_t retry_at_live_ = 0;
  uint64_t pins_[kMaxPins] = {};
  size_t pin_count_ = 0;
};

}  // namespace leakwatch::internal

#pragma once
// LiveSampleTable: the sampled allocations still alive, by address: what each one counted for, so that
// freeing it takes exactly that back out of its stack's in-use figures.
//
// Open addressing with linear probing and backward-shift deletion (no tombstones), in memory from mmap.
// Starts at 1,024 slots and doubles while more than half full, up to the capacity that keeps `max_entries`
// at most half full; an insert beyond `max_entries`, or when the kernel refuses memory, fails (the caller
// counts a drop).
//
// Thread-safety: none; the sampler calls it under its lock. Cost: O(1) expected per operation; a growth
// rehashes every entry once. Memory: 24 bytes per slot, slots = 2..4 x entries.

#include <cstddef>
#include <cstdint>

namespace leakwatch::internal {

struct LiveSample {
  uint64_t address = 0;  // 0: an empty slot
  uint64_t bytes = 0;    // as requested
  uint32_t bucket = 0;   // the stack bucket it was counted in (StackBucketTable)
  float weight = 0;      // the objects it stands for (SampleWeight)
};

class LiveSampleTable {
 public:
  static constexpr size_t kInitialSlots = 1024;

  constexpr LiveSampleTable() = default;
  LiveSampleTable(const LiveSampleTable&) = delete;
  LiveSampleTable& operator=(const LiveSampleTable&) = delete;

  // Sets the bound (>= 1). Call before the first Insert; later calls only move the bound.
  void SetMaxEntries(size_t max_entries) { max_entries_ = max_entries; }

  // Inserts, or replaces the entry of the same address (an allocation whose free the sampler never saw, e.g.
  // released through a path that bypasses the hooks). False when full or out of memory.
  bool Insert(const LiveSample& sample, LiveSample* replaced = nullptr, bool* did_replace = nullptr);
  // Removes the entry of `address` into *out; false when there is none.
  bool Remove(uint64_t address, LiveSample* out);

  size_t size() const { return size_; }
  size_t slots() const { return slots_; }
  size_t memory_bytes() const;

  // Calls f(const LiveSample&) for every entry.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < slots_; ++i) {
      if (entries_[i].address != 0) f(entries_[i]);
    }
  }

  // Returns the memory to the kernel and empties the table.
  void Release();

 private:
  size_t Home(uint64_t address) const;
  bool Grow();

  LiveSample* entries_ = nullptr;
  size_t slots_ = 0;  // a power of two, or 0 before the first insert
  size_t size_ = 0;
  size_t max_entries_ = 1;
};

}  // namespace leakwatch::internal

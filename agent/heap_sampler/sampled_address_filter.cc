#include "agent/heap_sampler/sampled_address_filter.h"

#include <algorithm>
#include <cstdint>
#include <new>

#include "agent/heap_sampler/sampler_memory.h"

namespace leakwatch::internal {

struct SampledAddressFilter::Slot {
  uint64_t* word;
  uint64_t bit;
  uint8_t* counter_pair;
  unsigned shift;

  unsigned count() const { return (*counter_pair >> shift) & 15; }
  void set_count(unsigned c) {
    *counter_pair = static_cast<uint8_t>((*counter_pair & ~(15u << shift)) | (c << shift));
  }
  void set_bit(bool on) {
    const uint64_t w = __atomic_load_n(word, __ATOMIC_RELAXED);
    __atomic_store_n(word, on ? w | bit : w & ~bit, __ATOMIC_RELAXED);
  }
};

SampledAddressFilter::Slot SampledAddressFilter::SlotIn(Table* t, uintptr_t p, int bitmap) {
  const uint64_t v = Hash(p, bitmap);
  const size_t index = ((v >> 6) & t->word_mask) * 64 + (v & 63);
  return {&Words(t, bitmap)[index / 64], uint64_t{1} << (v & 63),
          t->counters + static_cast<size_t>(bitmap) * Slots(t) / 2 + index / 2,
          static_cast<unsigned>(index % 2 * 4)};
}

void SampledAddressFilter::AddTo(Table* t, uintptr_t p) {
  for (int bitmap = 0; bitmap < 2; ++bitmap) {
    Slot slot = SlotIn(t, p, bitmap);
    const unsigned c = slot.count();
    if (c == kSaturated) continue;
    slot.set_count(c + 1);
    if (c == 0) slot.set_bit(true);
  }
}

void SampledAddressFilter::SetSaturated(Table* t, uintptr_t p) {
  for (int bitmap = 0; bitmap < 2; ++bitmap) {
    Slot slot = SlotIn(t, p, bitmap);
    slot.set_count(kSaturated);
    slot.set_bit(true);
  }
}

void SampledAddressFilter::Pin(const void* p) {
  SetSaturated(Current(), reinterpret_cast<uintptr_t>(p));
  if (pin_count_ < kMaxPins) {
    pins_[pin_count_++] = reinterpret_cast<uintptr_t>(p);
  } else {
    retry_at_live_ = SIZE_MAX;  // a later table could not carry this pin
  }
}

void SampledAddressFilter::Remove(const void* p) {
  Table* t = Current();
  for (int bitmap = 0; bitmap < 2; ++bitmap) {
    Slot slot = SlotIn(t, reinterpret_cast<uintptr_t>(p), bitmap);
    const unsigned c = slot.count();
    if (c == 0 || c == kSaturated) continue;
    slot.set_count(c - 1);
    if (c == 1) slot.set_bit(false);
  }
}

SampledAddressFilter::Table* SampledAddressFilter::MapLarger(size_t live) {
  const size_t current = Slots(Current());
  size_t slots = current;
  while (slots < kMaxSlots && slots < live * kSlotsPerLiveSample) slots *= 4;
  slots = std::min(slots, kMaxSlots);
  if (slots <= current) {
    retry_at_live_ = SIZE_MAX;  // at the largest table: no point in trying again
    return nullptr;
  }
  const size_t bytes = sizeof(Table) + 2 * (slots / 8 + slots / 2);
  void* memory = MapSamplerMemory(bytes);
  if (memory == nullptr) {
    retry_at_live_ = live * 2;
    return nullptr;
  }
  Table* t = new (memory) Table;
  t->word_mask = slots / 64 - 1;
  t->counters = reinterpret_cast<uint8_t*>(Words(t, 0) + 2 * (slots / 64));  // after both bitmaps
  mapped_bytes_ += RoundUpToPages(bytes);
  return t;
}

void SampledAddressFilter::Publish(Table* t) {
  for (size_t i = 0; i < pin_count_; ++i) SetSaturated(t, pins_[i]);
  current_.store(t, std::memory_order_release);
}

}  // namespace leakwatch::internal

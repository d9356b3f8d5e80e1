#include "agent/heap_sampler/sampled_address_filter.h"

#include <algorithm>
#include <cstdint>
#include <new>

#include "agent/heap_sampler/sampler_memory.h"

namespace leakwatch::internal {

namespace {

uint8_t Load(const uint8_t* c) { return __atomic_load_n(c, __ATOMIC_RELAXED); }
void Store(uint8_t* c, uint8_t value) { __atomic_store_n(c, value, __ATOMIC_RELAXED); }

}  // namespace

void SampledAddressFilter::AddTo(Table* t, uintptr_t p) {
  const size_t slot = Slot(t, p);
  uint8_t* counter = &Counters(t)[slot];
  const uint8_t n = Load(counter);
  if (n == kSaturated) return;
  Store(counter, static_cast<uint8_t>(n + 1));
  Store(&Marks(t)[slot], n == 0 ? Fingerprint(p) : kSeveral);
}

void SampledAddressFilter::SetSaturated(Table* t, uintptr_t p) {
  const size_t slot = Slot(t, p);
  Store(&Counters(t)[slot], kSaturated);
  Store(&Marks(t)[slot], kSeveral);
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
  const size_t slot = Slot(t, reinterpret_cast<uintptr_t>(p));
  uint8_t* counter = &Counters(t)[slot];
  const uint8_t n = Load(counter);
  if (n == 0 || n == kSaturated) return;
  Store(counter, static_cast<uint8_t>(n - 1));
  // From "several" down to one, the mark stays "several": which address is left is not known here.
  if (n == 1) Store(&Marks(t)[slot], 0);
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
  const size_t bytes = sizeof(Table) + 2 * slots;
  void* memory = MapSamplerMemory(bytes);
  if (memory == nullptr) {
    retry_at_live_ = live * 2;
    return nullptr;
  }
  Table* t = new (memory) Table;
  t->slot_mask = slots - 1;
  mapped_bytes_ += RoundUpToPages(bytes);
  return t;
}

void SampledAddressFilter::Publish(Table* t) {
  for (size_t i = 0; i < pin_count_; ++i) SetSaturated(t, pins_[i]);
  current_.store(t, std::memory_order_release);
}

}  // namespace leakwatch::internal

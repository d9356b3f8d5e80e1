#include "agent/heap_sampler/live_sample_table.h"

#include "agent/heap_sampler/sampler_memory.h"

namespace leakwatch::internal {

size_t LiveSampleTable::Home(uint64_t address) const {
  return static_cast<size_t>(((address >> 4) * 0x9E3779B97F4A7C15ULL) >> 20) & (slots_ - 1);
}

size_t LiveSampleTable::memory_bytes() const { return RoundUpToPages(slots_ * sizeof(LiveSample)); }

bool LiveSampleTable::Grow() {
  const size_t new_slots = slots_ == 0 ? kInitialSlots : slots_ * 2;
  auto* fresh = static_cast<LiveSample*>(MapSamplerMemory(new_slots * sizeof(LiveSample)));
  if (fresh == nullptr) return false;
  LiveSample* old = entries_;
  const size_t old_slots = slots_;
  entries_ = fresh;
  slots_ = new_slots;
  for (size_t i = 0; i < old_slots; ++i) {
    if (old[i].address == 0) continue;
    size_t j = Home(old[i].address);
    while (entries_[j].address != 0) j = (j + 1) & (slots_ - 1);
    entries_[j] = old[i];
  }
  UnmapSamplerMemory(old, old_slots * sizeof(LiveSample));
  return true;
}

bool LiveSampleTable::Insert(const LiveSample& sample, LiveSample* replaced, bool* did_replace) {
  if (did_replace != nullptr) *did_replace = false;
  if (sample.address == 0) return false;
  if (slots_ != 0) {
    for (size_t j = Home(sample.address); entries_[j].address != 0; j = (j + 1) & (slots_ - 1)) {
      if (entries_[j].address == sample.address) {
        if (replaced != nullptr) *replaced = entries_[j];
        if (did_replace != nullptr) *did_replace = true;
        entries_[j] = sample;
        return true;
      }
    }
  }
  if (size_ >= max_entries_) return false;
  if ((size_ + 1) * 2 > slots_ && !Grow()) {
    // Could not grow: still insert while at most 3/4 full (probing stays short).
    if (slots_ == 0 || (size_ + 1) * 4 > slots_ * 3) return false;
  }
  size_t j = Home(sample.address);
  while (entries_[j].address != 0) j = (j + 1) & (slots_ - 1);
  entries_[j] = sample;
  ++size_;
  return true;
}

bool LiveSampleTable::Remove(uint64_t address, LiveSample* out) {
  if (slots_ == 0 || address == 0) return false;
  const size_t mask = slots_ - 1;
  size_t i = Home(address);
  while (entries_[i].address != address) {
    if (entries_[i].address == 0) return false;
    i = (i + 1) & mask;
  }
  if (out != nullptr) *out = entries_[i];
  // Backward shift: move later entries of the probe run into the hole when their home allows it.
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (entries_[j].address == 0) break;
    const size_t home = Home(entries_[j].address);
    // The entry at j may move to i unless its home lies cyclically in (i, j].
    const bool home_in_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!home_in_between) {
      entries_[i] = entries_[j];
      i = j;
    }
  }
  entries_[i] = LiveSample{};
  --size_;
  return true;
}

void LiveSampleTable::Release() {
  UnmapSamplerMemory(entries_, slots_ * sizeof(LiveSample));
  entries_ = nullptr;
  slots_ = 0;
  size_ = 0;
}

}  // namespace leakwatch::internal

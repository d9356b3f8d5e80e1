// The sampler's tables: the live-sample table against a reference map under random operations, its bound;
// the stack buckets' deduplication and bounds; the address filter's no-false-negative guarantee, its
// false-positive rate as it grows, and its readers while it grows.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/heap_sampler/live_sample_table.h"
#include "agent/heap_sampler/sample_interval.h"
#include "agent/heap_sampler/sampled_address_filter.h"
#include "agent/heap_sampler/sampler_memory.h"
#include "agent/heap_sampler/stack_bucket_table.h"

namespace leakwatch::internal {
namespace {

TEST(LiveSampleTable, MatchesAReferenceMapUnderRandomInsertsAndRemoves) {
  LiveSampleTable table;
  table.SetMaxEntries(1 << 20);
  std::unordered_map<uint64_t, uint64_t> reference;
  uint64_t rng = SeedSampleRandom(3);
  // Addresses from a small range, so inserts replace and removes hit and miss, and probe runs wrap.
  for (int i = 0; i < 300000; ++i) {
    const uint64_t address = 0x7f0000000000ULL + (NextSampleRandom(&rng) % 20000) * 16;
    if (NextSampleRandom(&rng) % 3 != 0) {
      const uint64_t bytes = NextSampleRandom(&rng) % 1000 + 1;
      LiveSample replaced;
      bool did_replace = false;
      ASSERT_TRUE(table.Insert(LiveSample{address, bytes, 1, 1.0f}, &replaced, &did_replace));
      auto it = reference.find(address);
      ASSERT_EQ(did_replace, it != reference.end());
      if (did_replace) {
        EXPECT_EQ(replaced.bytes, it->second);
      }
      reference[address] = bytes;
    } else {
      LiveSample out;
      const bool removed = table.Remove(address, &out);
      auto it = reference.find(address);
      ASSERT_EQ(removed, it != reference.end()) << "address " << address << " at step " << i;
      if (removed) {
        EXPECT_EQ(out.bytes, it->second);  // NOLINT
        reference.erase(it);
      }
    }
    ASSERT_EQ(table.size(), reference.size());
  }
  size_t seen = 0;
  table.ForEach([&](const LiveSample& s) {
    ++seen;
    auto it = reference.find(s.address);
    ASSERT_NE(it, reference.end());
    EXPECT_EQ(s.bytes, it->second);
  });
  EXPECT_EQ(seen, reference.size());
  EXPECT_GE(table.slots(), 2 * table.size());  // grew to keep at most half full
  table.Release();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.memory_bytes(), 0u);
}

TEST(LiveSampleTable, RefusesInsertsBeyondItsBoundButStillReplaces) {
  LiveSampleTable table;
  table.SetMaxEntries(3);
  for (uint64_t a = 1; a <= 3; ++a) EXPECT_TRUE(table.Insert(LiveSample{a * 16, a, 0, 1.0f}));
  EXPECT_FALSE(table.Insert(LiveSample{64, 4, 0, 1.0f}));
  EXPECT_TRUE(table.Insert(LiveSample{32, 40, 0, 1.0f}));  // same address: a replacement, not a new entry
  EXPECT_EQ(table.size(), 3u);
  EXPECT_TRUE(table.Remove(16, nullptr));
  EXPECT_TRUE(table.Insert(LiveSample{64, 4, 0, 1.0f}));
  EXPECT_FALSE(table.Insert(LiveSample{0, 1, 0, 1.0f})) << "address 0 marks empty slots";
  EXPECT_FALSE(table.Remove(12345, nullptr));
  table.Release();
}

TEST(StackBucketTable, DeduplicatesStacksAndKeepsTheirFrames) {
  StackBucketTable t;
  ASSERT_TRUE(t.Init(1000, 1 << 20));
  EXPECT_EQ(t.size(), 1u) << "the overflow bucket";
  const uint64_t a[] = {0x1000, 0x2000, 0x3000};
  const uint64_t b[] = {0x1000, 0x2000, 0x3001};
  const uint32_t ia = t.FindOrAdd(a, 3);
  const uint32_t ib = t.FindOrAdd(b, 3);
  const uint32_t ia2 = t.FindOrAdd(a, 2);  // a prefix is another stack
  EXPECT_NE(ia, StackBucketTable::kOverflowBucket);
  EXPECT_NE(ia, ib);
  EXPECT_NE(ia, ia2);
  EXPECT_EQ(t.FindOrAdd(a, 3), ia);
  EXPECT_EQ(t.bucket(ib).depth, 3u);
  EXPECT_EQ(t.bucket(ib).frames()[2], 0x3001u);
  EXPECT_EQ(t.bucket(StackBucketTable::kOverflowBucket).depth, 0u);
  const uint32_t empty = t.FindOrAdd(nullptr, 0);
  EXPECT_NE(empty, StackBucketTable::kOverflowBucket) << "an empty stack is a stack, not the overflow bucket";
  t.Release();
}

TEST(StackBucketTable, ManyStacksGrowTheIndexAndFullTablesSayNoBucket) {
  StackBucketTable t;
  ASSERT_TRUE(t.Init(5000, 64 << 20));
  std::vector<uint32_t> ids;
  for (uint64_t i = 0; i < 4999; ++i) {
    const uint64_t frames[] = {i, i * 7, 0x42};
    ids.push_back(t.FindOrAdd(frames, 3));
    ASSERT_NE(ids.back(), StackBucketTable::kNoBucket) << i;
  }
  for (uint64_t i = 0; i < 4999; ++i) {
    const uint64_t frames[] = {i, i * 7, 0x42};
    ASSERT_EQ(t.FindOrAdd(frames, 3), ids[i]) << i;
  }
  const uint64_t one_more[] = {1, 2, 3, 4};
  EXPECT_EQ(t.FindOrAdd(one_more, 4), StackBucketTable::kNoBucket);
  EXPECT_GT(t.memory_bytes(), 4999 * sizeof(StackBucket));
  t.Release();
}

TEST(StackBucketTable, DepthIsCappedAndTheArenaBoundHolds) {
  StackBucketTable t;
  ASSERT_TRUE(t.Init(1000, 4096));  // the arena is raised to hold one full-depth stack at least
  std::vector<uint64_t> deep(100);
  for (size_t i = 0; i < deep.size(); ++i) deep[i] = i + 1;
  const uint32_t id = t.FindOrAdd(deep.data(), deep.size());
  ASSERT_NE(id, StackBucketTable::kNoBucket);
  EXPECT_EQ(t.bucket(id).depth, StackBucketTable::kMaxFrames);
  uint32_t last = id;
  for (uint64_t i = 0; last != StackBucketTable::kNoBucket && i < 1000; ++i) {
    deep[0] = 1000 + i;
    last = t.FindOrAdd(deep.data(), deep.size());
  }
  EXPECT_EQ(last, StackBucketTable::kNoBucket) << "a 4 KiB arena holds a few 64-frame stacks, not 1000";
  t.Release();
}

TEST(SampledAddressFilter, NeverMissesALiveAddressAndSaturatesSafely) {
  static SampledAddressFilter filter;  // 128 KiB: not on the stack
  std::vector<uintptr_t> live;
  uint64_t rng = SeedSampleRandom(9);
  for (int i = 0; i < 20000; ++i) {
    const uintptr_t p = (NextSampleRandom(&rng) & 0x0000'7fff'ffff'fff0ULL) | 0x10;
    filter.Add(reinterpret_cast<void*>(p));
    live.push_back(p);
  }
  for (const uintptr_t p : live) ASSERT_TRUE(filter.MightContain(reinterpret_cast<void*>(p)));
  for (size_t i = 0; i < live.size(); i += 2) filter.Remove(reinterpret_cast<void*>(live[i]));
  for (size_t i = 1; i < live.size(); i += 2)
    ASSERT_TRUE(filter.MightContain(reinterpret_cast<void*>(live[i])));
  // One counter driven past its largest value (255) stays set for good, whatever is removed.
  const void* hot = reinterpret_cast<void*>(0x1230);
  for (int i = 0; i < 300; ++i) filter.Add(hot);
  for (int i = 0; i < 300; ++i) filter.Remove(hot);
  EXPECT_TRUE(filter.MightContain(hot));
}

TEST(SampledAddressFilter, ForgetsEveryReleasedAddressAndFlagsFewOthers) {
  static SampledAddressFilter filter;
  uint64_t rng = SeedSampleRandom(11);
  auto random_address = [&rng] { return (NextSampleRandom(&rng) & 0x0000'7fff'ffff'fff0ULL) | 0x10; };
  // 2,000 live samples, several at each of some addresses (a block freed and reallocated before the sample
  // of its earlier life was forgotten), and page-aligned ones (large blocks: their bits 4..11 agree).
  std::vector<uintptr_t> live;
  for (int i = 0; i < 1500; ++i) live.push_back(random_address());
  for (int i = 0; i < 400; ++i) live.push_back((random_address() & ~uintptr_t{0xfff}) | 0x10);
  for (int i = 0; i < 100; ++i) live.push_back(live[static_cast<size_t>(i) * 7]);
  for (const uintptr_t p : live) filter.Add(reinterpret_cast<void*>(p));

  int flagged = 0;
  const int kProbes = 200'000;
  for (int i = 0; i < kProbes; ++i) flagged += filter.MightContain(reinterpret_cast<void*>(random_address()));
  // About 1,900 of 65,536 slots are set: ~2.9% of other addresses flagged. A weak hash would cluster them.
  EXPECT_LT(flagged, kProbes * 4 / 100);
  EXPECT_GT(flagged, kProbes * 2 / 100);

  for (const uintptr_t p : live) filter.Remove(reinterpret_cast<void*>(p));
  for (const uintptr_t p : live) ASSERT_FALSE(filter.MightContain(reinterpret_cast<void*>(p))) << p;
  for (int i = 0; i < kProbes; ++i)
    ASSERT_FALSE(filter.MightContain(reinterpret_cast<void*>(random_address())));
}

// Blocks of one size class lie at a fixed stride from each other (16 bytes for the smallest, 2 MiB for huge
// pages): with 1,024 of them sampled out of a region of a million, the other blocks of the region are flagged
// as often as random addresses would be (1,024 / 65,536 = 1.6%), at every stride. A hash taking the slot
// from a narrow range of product bits fails this at the large strides (40-60% flagged at 1-2 MiB).
TEST(SampledAddressFilter, BlocksOfOneSizeClassSpreadOverTheSlots) {
  for (const uintptr_t stride : {uintptr_t{16}, uintptr_t{48}, uintptr_t{64}, uintptr_t{4096},
                                 uintptr_t{1} << 20, uintptr_t{2} << 20}) {
    auto filter = std::make_unique<SampledAddressFilter>();
    uint64_t rng = SeedSampleRandom(stride);
    const uintptr_t base = uintptr_t{0x7f12'3400'0000};
    constexpr uint64_t kBlocks = 1 << 20;
    auto block = [&] { return base + (NextSampleRandom(&rng) % kBlocks) * stride; };
    for (int i = 0; i < 1024; ++i) filter->Add(reinterpret_cast<void*>(block()));
    int flagged = 0;
    constexpr int kProbes = 100'000;
    for (int i = 0; i < kProbes; ++i) flagged += filter->MightContain(reinterpret_cast<void*>(block()));
    const double fraction = static_cast<double>(flagged) / kProbes;
    EXPECT_GT(fraction, 0.010) << "stride " << stride;
    EXPECT_LT(fraction, 0.022) << "stride " << stride;
  }
}

// Near each other the slots follow the addresses: the frees of a working set read a part of the
// map in proportion to it (256 KiB of 16-byte blocks, about 93 of its 1,024 cache lines; a hash that
// scattered them would read them all), and blocks 64 bytes or more apart never share a slot.
TEST(SampledAddressFilter, NearbyBlocksUseNearbySlots) {
  uint64_t rng = SeedSampleRandom(15);
  for (int region = 0; region < 20; ++region) {
    const uintptr_t base = NextSampleRandom(&rng) & 0x0000'7fff'ffff'fff0ULL;
    std::set<uint64_t> lines;
    for (uintptr_t i = 0; i < 16384; ++i) {
      lines.insert(
          (SampledAddressFilter::SlotHash(base + 16 * i) & (SampledAddressFilter::kInitialSlots - 1)) / 64);
    }
    EXPECT_LE(lines.size(), 100u) << std::hex << base;
  }
  for (int i = 0; i < 100'000; ++i) {
    const uintptr_t p = NextSampleRandom(&rng) & 0x0000'7fff'ffff'fff0ULL;
    for (uintptr_t d = 64; d <= 1024; d += 16) {
      ASSERT_NE(SampledAddressFilter::SlotHash(p) & (SampledAddressFilter::kInitialSlots - 1),
                SampledAddressFilter::SlotHash(p + d) & (SampledAddressFilter::kInitialSlots - 1))
          << std::hex << p << " +" << d;
    }
  }
}

// A slot's mark: the fingerprint of its one sample (a second look turns other addresses of the slot away),
// "several" once a second sample joins it (both found, until the last is released), then empty.
TEST(SampledAddressFilter, ASlotOfTwoSamplesFindsBothUntilBothAreReleased) {
  auto filter = std::make_unique<SampledAddressFilter>();
  const auto slot = [](uintptr_t a) {
    return SampledAddressFilter::SlotHash(a) & (SampledAddressFilter::kInitialSlots - 1);
  };
  const uintptr_t p = 0x7f00'1234'5670;
  filter->Add(reinterpret_cast<void*>(p));
  // Another address of the same slot that the fingerprint turns away.
  uint64_t rng = SeedSampleRandom(16);
  uintptr_t q = 0;
  for (int i = 0; i < 10'000'000 && q == 0; ++i) {
    const uintptr_t a = NextSampleRandom(&rng) & 0x0000'7fff'ffff'fff0ULL;
    if (a != p && slot(a) == slot(p) && !filter->MightContainOnSecondLook(reinterpret_cast<void*>(a))) q = a;
  }
  ASSERT_NE(q, 0u);
  const auto vp = reinterpret_cast<void*>(p);
  const auto vq = reinterpret_cast<void*>(q);
  EXPECT_TRUE(filter->MightContain(vq)) << "same slot";
  EXPECT_TRUE(filter->MightContainOnSecondLook(vp));
  filter->Add(vq);
  EXPECT_TRUE(filter->MightContainOnSecondLook(vp) && filter->MightContainOnSecondLook(vq));
  filter->Remove(vp);
  EXPECT_TRUE(filter->MightContain(vq) && filter->MightContainOnSecondLook(vq)) << "q is still live";
  filter->Remove(vq);
  EXPECT_FALSE(filter->MightContain(vp) || filter->MightContain(vq));
}

uintptr_t RandomAddress(uint64_t* rng) { return NextSampleRandom(rng) & 0x0000'7fff'ffff'fff0ULL; }

// What HeapSamplerCore does for each new sample: Reserve (with the samples already live), then Add.
void AddLive(SampledAddressFilter& filter, std::vector<uintptr_t>& live, uintptr_t p) {
  filter.Reserve(live.size() + 1, [&live](auto add) {
    for (const uintptr_t a : live) add(a);
  });
  filter.Add(reinterpret_cast<void*>(p));
  live.push_back(p);
}

double FlaggedFraction(const SampledAddressFilter& filter, uint64_t* rng, int probes,
                       bool second_look = false) {
  int flagged = 0;
  for (int i = 0; i < probes; ++i) {
    const auto p = reinterpret_cast<void*>(RandomAddress(rng));
    flagged += filter.MightContain(p) && (!second_look || filter.MightContainOnSecondLook(p));
  }
  return static_cast<double>(flagged) / probes;
}

TEST(SampledAddressFilter, GrowsWithTheLiveSamplesSoFewFreesAreFlagged) {
  auto filter = std::make_unique<SampledAddressFilter>();
  uint64_t rng = SeedSampleRandom(12);
  const auto pinned = reinterpret_cast<void*>(0x5550);
  filter->Pin(pinned);
  std::vector<uintptr_t> live;
  const size_t built_in_memory = filter->memory_bytes();
  for (int i = 0; i < 20'000; ++i) {
    AddLive(*filter, live, RandomAddress(&rng));
    // Right after each growth and at the end: nothing live is missed, the pin included.
    if (i == 1024 || i == 4096 || i == 16'384 || i == 19'999) {
      for (const uintptr_t p : live) {
        ASSERT_TRUE(filter->MightContain(reinterpret_cast<void*>(p))) << i;
        ASSERT_TRUE(filter->MightContainOnSecondLook(reinterpret_cast<void*>(p))) << i;
      }
      ASSERT_TRUE(filter->MightContain(pinned) && filter->MightContainOnSecondLook(pinned)) << i;
      EXPECT_GE(filter->slots(), live.size() * SampledAddressFilter::kSlotsPerLiveSample) << i;
    }
  }
  // 20,000 live samples: 4M slots, and under 1/64 of other addresses flagged (0.5% expected). The built-in
  // 65,536 slots would flag a quarter of them.
  EXPECT_EQ(filter->slots(), size_t{1} << 22);
  EXPECT_LT(FlaggedFraction(*filter, &rng, 200'000), 1.0 / 64);
  // The second look (the fingerprint): about 1/254 of that, so next to none take the lock.
  EXPECT_LT(FlaggedFraction(*filter, &rng, 200'000, true), 0.0005);
  // The tables of 2^18, 2^20 and 2^22 slots, each a 64-byte header, a mark and a counter a slot.
  size_t mapped = 0;
  for (const size_t slots : {size_t{1} << 18, size_t{1} << 20, size_t{1} << 22}) {
    mapped += RoundUpToPages(64 + 2 * slots);
  }
  EXPECT_EQ(filter->memory_bytes(), built_in_memory + mapped);
  for (const uintptr_t p : live) filter->Remove(reinterpret_cast<void*>(p));
  for (const uintptr_t p : live) {
    ASSERT_FALSE(filter->MightContain(reinterpret_cast<void*>(p))) << p;
    ASSERT_FALSE(filter->MightContainOnSecondLook(reinterpret_cast<void*>(p))) << p;
  }
  EXPECT_TRUE(filter->MightContain(pinned) && filter->MightContainOnSecondLook(pinned));
  EXPECT_EQ(FlaggedFraction(*filter, &rng, 200'000), 0.0);
}

TEST(SampledAddressFilter, StopsGrowingRatherThanLoseAPin) {
  auto filter = std::make_unique<SampledAddressFilter>();
  std::vector<const void*> pins;
  for (size_t i = 0; i <= SampledAddressFilter::kMaxPins; ++i) {
    pins.push_back(reinterpret_cast<void*>(0x10000 + 64 * i));
    filter->Pin(pins.back());
  }
  uint64_t rng = SeedSampleRandom(13);
  std::vector<uintptr_t> live;
  for (int i = 0; i < 3000; ++i) AddLive(*filter, live, RandomAddress(&rng));
  EXPECT_EQ(filter->slots(), SampledAddressFilter::kInitialSlots);
  for (const void* p : pins) ASSERT_TRUE(filter->MightContain(p));
  for (const uintptr_t p : live) ASSERT_TRUE(filter->MightContain(reinterpret_cast<void*>(p)));
}

// free() on other threads while the table is replaced: an address whose sampling "happened before" the
// reader got it (here: published with release after Add) is always found, in whichever table it loads.
TEST(SampledAddressFilter, ReadersNeverMissWhileTheTableGrows) {
  auto filter = std::make_unique<SampledAddressFilter>();
  constexpr int kAddresses = 40'000;
  std::vector<uintptr_t> addresses(kAddresses);
  uint64_t rng = SeedSampleRandom(14);
  for (auto& a : addresses) a = RandomAddress(&rng);
  std::atomic<int> published{0};
  std::atomic<long> misses{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      uint64_t local = SeedSampleRandom(100 + static_cast<uint64_t>(r));
      long n = 0;
      for (int count = published.load(std::memory_order_acquire); count < kAddresses;
           count = published.load(std::memory_order_acquire)) {
        if (count == 0) continue;
        const auto j = static_cast<size_t>(NextSampleRandom(&local) % static_cast<uint64_t>(count));
        const auto p = reinterpret_cast<void*>(addresses[j]);
        if (!filter->MightContain(p) || !filter->MightContainOnSecondLook(p)) misses.fetch_add(1);
        ++n;
      }
      reads.fetch_add(n);
    });
  }
  std::vector<uintptr_t> live;
  for (int i = 0; i < kAddresses; ++i) {
    AddLive(*filter, live, addresses[static_cast<size_t>(i)]);
    published.store(i + 1, std::memory_order_release);
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(misses.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(filter->slots(), size_t{1} << 22);  // three replacements happened under the readers
}

}  // namespace
}  // namespace leakwatch::internal

// The sampler's tables: the live-sample table against a reference map under random operations, its bound;
// the stack buckets' deduplication and bounds; the address filter's no-false-negative guarantee.
#include <gtest/gtest.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "agent/heap_sampler/live_sample_table.h"
#include "agent/heap_sampler/sample_interval.h"
#include "agent/heap_sampler/sampled_address_filter.h"
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
  static SampledAddressFilter filter;  // 64 KiB: not on the stack
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
  // One counter driven past 255 stays set for good, whatever is removed.
  const void* hot = reinterpret_cast<void*>(0x1230);
  for (int i = 0; i < 300; ++i) filter.Add(hot);
  for (int i = 0; i < 300; ++i) filter.Remove(hot);
  EXPECT_TRUE(filter.MightContain(hot));
}

}  // namespace
}  // namespace leakwatch::internal

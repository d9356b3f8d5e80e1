// HeapProfileToPprof (agent/profile/heap_to_pprof.h): sample types, unbiasing, return addresses, mappings,
// build ids, the allocator's frames; and the whole path from a captured jemalloc dump to decoded
// profile.proto.
#include "agent/profile/heap_to_pprof.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "agent/common/gzip.h"
#include "agent/profile/heap_profile_text.h"
#include "tests/support/temp_tree.h"
#include "tests/unit/profile/pprof_decoder.h"

namespace leakwatch::internal {
namespace {

using ::testing::ElementsAre;

HeapProfile TwoStacks() {
  HeapProfile h;
  h.format = "jemalloc heap_v2";
  h.sampling = HeapSampling::kPoisson;
  h.sampling_rate = 16384;
  // Allocator frames at 0x7f...01xxx, then the application.
  h.records = {{{0x7f0000001100, 0x7f0000001200, 0x401a11, 0x401b22}, {2, 8192}, {}},
               {{0x7f0000001100, 0x400c33}, {1, 1 << 20}, {}},  // 0x400c33: not in executable memory
               {{0x7f0000001100, 0x401d44}, {0, 0}, {}}};       // everything freed: left out
  h.mappings = {{0x400000, 0x401000, 0x0, "r--p", "/usr/bin/app"},
                {0x7f0000001000, 0x7f0000002000, 0x1000, "r-xp", "/usr/lib/libjemalloc.so.2"},
                {0x401000, 0x402000, 0x1000, "r-xp", "/usr/bin/app"},
                {0x7f0000100000, 0x7f0000200000, 0, "rw-p", ""}};
  return h;
}

TEST(HeapToPprofTest, SampleTypesPeriodAndUnbiasedValues) {
  const PprofProfile p = HeapProfileToPprof(TwoStacks(), {});
  ASSERT_EQ(p.sample_types.size(), 2u);
  EXPECT_EQ(p.sample_types[0].type, "inuse_objects");
  EXPECT_EQ(p.sample_types[0].unit, "count");
  EXPECT_EQ(p.sample_types[1].type, "inuse_space");
  EXPECT_EQ(p.sample_types[1].unit, "bytes");
  EXPECT_EQ(p.default_sample_type, "inuse_space");
  EXPECT_EQ(p.period_type.type, "space");
  EXPECT_EQ(p.period_type.unit, "bytes");
  EXPECT_EQ(p.period, 16384);
  EXPECT_EQ(p.drop_frames, kAllocatorFramesRegex);
  ASSERT_EQ(p.samples.size(), 2u);  // the all-freed stack is left out
  const double scale = 1.0 / (1.0 - std::exp(-4096.0 / 16384.0));
  // Samples are ordered by stack; find the 4 KiB one by its label.
  std::map<int64_t, const PprofSample*> by_size;
  for (const auto& s : p.samples) by_size[s.labels.at(0).value] = &s;
  ASSERT_TRUE(by_size.count(4096));
  EXPECT_THAT(by_size[4096]->values, ElementsAre(std::llround(2 * scale), std::llround(8192 * scale)));
  EXPECT_EQ(by_size[4096]->labels[0].key, "bytes");
  ASSERT_TRUE(by_size.count(1 << 20));
  EXPECT_EQ(by_size[1 << 20]->values[1], 1 << 20);  // 1 MiB at a 16 KiB rate: always sampled
}

TEST(HeapToPprofTest, AllocCountsComeFirstWhenTheSourceHasThem) {
  HeapProfile h;
  h.sampling = HeapSampling::kEveryAllocation;
  h.sampling_rate = 1;
  h.has_alloc = true;
  h.records = {{{0x10}, {1, 100}, {5, 500}}};
  const PprofProfile p = HeapProfileToPprof(h, {});
  ASSERT_EQ(p.sample_types.size(), 4u);
  EXPECT_EQ(p.sample_types[0].type, "alloc_objects");
  EXPECT_EQ(p.sample_types[1].type, "alloc_space");
  EXPECT_EQ(p.sample_types[2].type, "inuse_objects");
  EXPECT_EQ(p.sample_types[3].type, "inuse_space");
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_THAT(p.samples[0].values, ElementsAre(5, 500, 1, 100));
  EXPECT_EQ(p.period, 1);
}

TEST(HeapToPprofTest, AddressesLandOnTheCallAndFindTheirMapping) {
  HeapToPprofOptions o;
  o.main_executable = "/usr/bin/app";
  const PprofProfile p = HeapProfileToPprof(TwoStacks(), o);
  // Executable regions only, the main executable first.
  ASSERT_EQ(p.mappings.size(), 2u);
  EXPECT_EQ(p.mappings[0].filename, "/usr/bin/app");
  EXPECT_EQ(p.mappings[0].id, 1u);
  EXPECT_EQ(p.mappings[0].memory_start, 0x401000u);
  EXPECT_EQ(p.mappings[0].file_offset, 0x1000u);
  EXPECT_EQ(p.mappings[1].filename, "/usr/lib/libjemalloc.so.2");
  std::map<uint64_t, uint64_t> mapping_of;
  for (const auto& l : p.locations) mapping_of[l.address] = l.mapping_id;
  EXPECT_EQ(mapping_of.at(0x401a10), 1u);  // return address 0x401a11 - 1
  EXPECT_EQ(mapping_of.at(0x7f00000010ff), 2u);
  // 0x400c32 is in the non-executable first page of the program: no mapping.
  EXPECT_EQ(mapping_of.at(0x400c32), 0u);
  // Each address is one location, shared by the samples that pass through it.
  EXPECT_EQ(p.locations.size(), 5u);
}

TEST(HeapToPprofTest, WithoutTheExecutablePathTheMainMappingIsGuessedAsPprofDoes) {
  HeapProfile h = TwoStacks();
  h.mappings.insert(h.mappings.begin(), {0x1000, 0x2000, 0, "r-xp", "[vdso]"});
  const PprofProfile p = HeapProfileToPprof(h, {});
  ASSERT_EQ(p.mappings.size(), 3u);
  EXPECT_EQ(p.mappings[0].filename, "/usr/bin/app");  // not [vdso], not a .so
}

TEST(HeapToPprofTest, CutsTheAllocatorsFramesAndMergesSameStacks) {
  HeapProfile h = TwoStacks();
  // Two more objects of 4 KiB from the first stack, as gperftools writes them: one line each.
  h.records.push_back({{0x7f0000001100, 0x7f0000001200, 0x401a11, 0x401b22}, {1, 4096}, {}});
  h.records.push_back({{0x7f0000001100, 0x7f0000001200, 0x401a11, 0x401b22}, {1, 4096}, {}});
  // A stack made only of allocator frames is kept whole.
  h.records.push_back({{0x7f0000001100, 0x7f0000001300}, {1, 64}, {}});
  HeapToPprofOptions o;
  o.allocator_code = {{0x7f0000001000, 0x7f0000002000}};
  const PprofProfile p = HeapProfileToPprof(h, o);
  std::map<uint64_t, uint64_t> address_of;
  for (const auto& l : p.locations) address_of[l.id] = l.address;
  std::map<int64_t, std::vector<uint64_t>> stacks;  // mean size -> addresses
  std::map<int64_t, int64_t> bytes;
  for (const auto& s : p.samples) {
    for (const uint64_t id : s.location_ids) stacks[s.labels.at(0).value].push_back(address_of.at(id));
    bytes[s.labels.at(0).value] += s.values[1];
  }
  ASSERT_EQ(p.samples.size(), 3u);
  EXPECT_THAT(stacks[4096], ElementsAre(0x401a10u, 0x401b21u));
  EXPECT_THAT(stacks[1 << 20], ElementsAre(0x400c32u));
  EXPECT_THAT(stacks[64], ElementsAre(0x7f00000010ffu, 0x7f00000012ffu));
  // 4 objects of 4 KiB, unbiased together and rounded once.
  const double scale = 1.0 / (1.0 - std::exp(-4096.0 / 16384.0));
  EXPECT_EQ(bytes[4096], std::llround(4 * 4096 * scale));
}

TEST(HeapToPprofTest, BuildIdsComeFromTheLoadedObjectOverlappingTheMapping) {
  HeapToPprofOptions o;
  o.objects = {{"", 0, {{0x401000, 0x401800}}, "aaaa"},
               {"/lib/libjemalloc.so.2", 0x7f0000000000, {{0x7f0000001000, 0x7f0000001f00}}, "bbbb"},
               {"/lib/other.so", 0x7e0000000000, {{0x7e0000001000, 0x7e0000002000}}, "cccc"}};
  const PprofProfile p = HeapProfileToPprof(TwoStacks(), o);
  ASSERT_EQ(p.mappings.size(), 2u);
  EXPECT_EQ(p.mappings[0].build_id, "aaaa");
  EXPECT_EQ(p.mappings[1].build_id, "bbbb");
}

TEST(HeapToPprofTest, LoadedObjectsOfThisProcessHaveBuildIds) {
  const auto objects = ListLoadedObjects();
  ASSERT_FALSE(objects.empty());
  EXPECT_EQ(objects.front().name, "");  // the main program
  EXPECT_FALSE(objects.front().build_id.empty()) << "Debian's gcc links with --build-id";
  EXPECT_FALSE(objects.front().code.empty());
  const auto here = reinterpret_cast<uint64_t>(&ListLoadedObjects);
  EXPECT_NE(FindCodeOwner(objects, here), nullptr);
  EXPECT_EQ(FindCodeOwner(objects, 0), nullptr);
}

std::string Fixture(const std::string& name) {
  std::ifstream in(test_support::FixturePath("heap/" + name));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The captured jemalloc dump through the whole conversion, as a bundle writes heap.pb.gz, read back as pprof
// would read it.
TEST(HeapToPprofTest, CapturedJemallocDumpBecomesAReadableProfile) {
  auto heap = ParseHeapProfileText(Fixture("jemalloc-heap_v2.prof"));
  ASSERT_TRUE(heap.ok()) << heap.error().message;
  HeapToPprofOptions o;
  o.main_executable = "/tmp/leakwatch-fixture/heap_leaker";
  o.allocator_code = {{0x7f4e49c09000, 0x7f4e49caf000}};  // libjemalloc.so.2's r-xp line
  o.time_nanos = 1;
  auto gz = GzipCompress(EncodePprof(HeapProfileToPprof(*heap, o)));
  ASSERT_TRUE(gz.ok()) << gz.error().message;
  const PprofProfile p = testing_pprof::DecodeProfile(testing_pprof::Gunzip(*gz));
  ASSERT_FALSE(p.mappings.empty());
  EXPECT_EQ(p.mappings[0].filename, "/tmp/leakwatch-fixture/heap_leaker");
  EXPECT_EQ(p.mappings[0].memory_start, 0x5555ec0bb000u);
  EXPECT_EQ(p.mappings[0].file_offset, 0xd000u);
  std::map<uint64_t, PprofLocation> locations;
  for (const auto& l : p.locations) locations[l.id] = l;
  int64_t leak = -1;
  for (const auto& s : p.samples) {
    ASSERT_EQ(s.values.size(), 2u);
    ASSERT_FALSE(s.location_ids.empty());
    const PprofLocation& leaf = locations.at(s.location_ids.front());
    // No jemalloc frame is left at the leaf.
    EXPECT_FALSE(leaf.address >= 0x7f4e49c09000 && leaf.address < 0x7f4e49caf000) << std::hex << leaf.address;
    if (leaf.address == 0x5555ec0c2eb7) leak = s.values[1];  // LeakingFunction's call of malloc
  }
  EXPECT_NEAR(static_cast<double>(leak), 66828516,
              1);  // the fixture's 3607 objects, 14842237 bytes, unbiased
}

}  // namespace
}  // namespace leakwatch::internal

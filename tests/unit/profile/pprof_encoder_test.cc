// The profile.proto encoder (agent/profile/pprof_encoder.h), decoded back by an independent test decoder.
#include "agent/profile/pprof_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/profile/pprof_decoder.h"

namespace leakwatch::internal {
namespace {

using ::testing::ElementsAre;
using testing_pprof::DecodeProfile;

PprofProfile Sample() {
  PprofProfile p;
  p.sample_types = {{"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  p.samples = {{{1, 2}, {3, 12288}, {{"bytes", 4096, ""}}}, {{2}, {1, 300}, {}}};
  p.mappings = {{1, 0x400000, 0x500000, 0x1000, "/usr/bin/app", "abcdef0123", false},
                {2, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/libc.so.6", "", false}};
  p.locations = {{1, 1, 0x400a0f, {}}, {2, 2, 0x7f0000000123, {}}};
  p.drop_frames = "malloc|operator new";
  p.time_nanos = 1'764'600'000'123'456'789;
  p.period_type = {"space", "bytes"};
  p.period = 524288;
  p.comments = {"hello", "inuse_space"};
  p.default_sample_type = "inuse_space";
  return p;
}

TEST(PprofEncoderTest, RoundTripsEveryField) {
  std::vector<std::string> strings;
  const PprofProfile d = DecodeProfile(EncodePprof(Sample()), &strings);
  ASSERT_EQ(d.sample_types.size(), 2u);
  EXPECT_EQ(d.sample_types[1].type, "inuse_space");
  EXPECT_EQ(d.sample_types[1].unit, "bytes");
  ASSERT_EQ(d.samples.size(), 2u);
  EXPECT_THAT(d.samples[0].location_ids, ElementsAre(1u, 2u));
  EXPECT_THAT(d.samples[0].values, ElementsAre(3, 12288));
  ASSERT_EQ(d.samples[0].labels.size(), 1u);
  EXPECT_EQ(d.samples[0].labels[0].key, "bytes");
  EXPECT_EQ(d.samples[0].labels[0].value, 4096);
  EXPECT_EQ(d.samples[0].labels[0].unit, "");
  EXPECT_THAT(d.samples[1].values, ElementsAre(1, 300));
  ASSERT_EQ(d.mappings.size(), 2u);
  EXPECT_EQ(d.mappings[0].id, 1u);
  EXPECT_EQ(d.mappings[0].memory_start, 0x400000u);
  EXPECT_EQ(d.mappings[0].memory_limit, 0x500000u);
  EXPECT_EQ(d.mappings[0].file_offset, 0x1000u);
  EXPECT_EQ(d.mappings[0].filename, "/usr/bin/app");
  EXPECT_EQ(d.mappings[0].build_id, "abcdef0123");
  EXPECT_EQ(d.mappings[1].file_offset, 0u);
  EXPECT_EQ(d.mappings[1].build_id, "");
  ASSERT_EQ(d.locations.size(), 2u);
  EXPECT_EQ(d.locations[1].id, 2u);
  EXPECT_EQ(d.locations[1].mapping_id, 2u);
  EXPECT_EQ(d.locations[1].address, 0x7f0000000123u);
  EXPECT_EQ(d.drop_frames, "malloc|operator new");
  EXPECT_EQ(d.keep_frames, "");
  EXPECT_EQ(d.time_nanos, 1'764'600'000'123'456'789);
  EXPECT_EQ(d.period_type.type, "space");
  EXPECT_EQ(d.period, 524288);
  EXPECT_THAT(d.comments, ElementsAre("hello", "inuse_space"));
  EXPECT_EQ(d.default_sample_type, "inuse_space");
  // The string table starts with "" (the decoder checks it) and holds each string once.
  EXPECT_EQ(strings[0], "");
  EXPECT_EQ(std::count(strings.begin(), strings.end(), "inuse_space"), 1);
  EXPECT_EQ(std::count(strings.begin(), strings.end(), "bytes"), 1);
}

TEST(PprofEncoderTest, RoundTripsFunctionsLinesAndHasFunctions) {
  PprofProfile p = Sample();
  p.mappings[0].has_functions = true;
  p.functions = {{1, "ns::f", "_ZN2ns1fEv", "", 0}, {2, "malloc", "malloc", "malloc.c", 3}};
  p.locations[0].lines = {{1, 0}};
  p.locations[1].lines = {{2, 42}, {1, 7}};
  const PprofProfile d = DecodeProfile(EncodePprof(p));
  EXPECT_TRUE(d.mappings[0].has_functions);
  EXPECT_FALSE(d.mappings[1].has_functions);
  ASSERT_EQ(d.functions.size(), 2u);
  EXPECT_EQ(d.functions[0].id, 1u);
  EXPECT_EQ(d.functions[0].name, "ns::f");
  EXPECT_EQ(d.functions[0].system_name, "_ZN2ns1fEv");
  EXPECT_EQ(d.functions[0].filename, "");
  EXPECT_EQ(d.functions[1].filename, "malloc.c");
  EXPECT_EQ(d.functions[1].start_line, 3);
  ASSERT_EQ(d.locations[0].lines.size(), 1u);
  EXPECT_EQ(d.locations[0].lines[0].function_id, 1u);
  EXPECT_EQ(d.locations[0].lines[0].line, 0);
  ASSERT_EQ(d.locations[1].lines.size(), 2u);
  EXPECT_EQ(d.locations[1].lines[0].function_id, 2u);
  EXPECT_EQ(d.locations[1].lines[0].line, 42);
}

TEST(PprofEncoderTest, EncodesLargeAndNegativeNumbersAsVarints) {
  PprofProfile p;
  p.sample_types = {{"x", "count"}};
  p.samples = {{{UINT64_MAX}, {-5}, {{"n", INT64_MIN, "bytes"}}}};
  p.locations = {{UINT64_MAX, 0, UINT64_MAX - 1, {}}};
  const PprofProfile d = DecodeProfile(EncodePprof(p));
  EXPECT_THAT(d.samples[0].location_ids, ElementsAre(UINT64_MAX));
  EXPECT_THAT(d.samples[0].values, ElementsAre(-5));
  EXPECT_EQ(d.samples[0].labels[0].value, INT64_MIN);
  EXPECT_EQ(d.samples[0].labels[0].unit, "bytes");
  EXPECT_EQ(d.locations[0].address, UINT64_MAX - 1);
}

TEST(PprofEncoderTest, AnEmptyProfileIsAStringTableWithTheEmptyString) {
  // Field 6 (string_table), length 0.
  EXPECT_EQ(EncodePprof(PprofProfile{}), std::string("\x32\x00", 2));
}

}  // namespace
}  // namespace leakwatch::internal

// The text heap-profile parsers (agent/profile/heap_profile_text.h) on inline edge cases and on two profiles
// captured from real runs (tests/fixtures/heap-capture.md), and pprof's unbiasing.
#include "agent/profile/heap_profile_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "tests/support/temp_tree.h"

namespace leakwatch::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Fixture(const std::string& name) {
  std::ifstream in(test_support::FixturePath("heap/" + name));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ErrorOf(const Result<HeapProfile>& r) { return r.ok() ? "(parsed)" : r.error().message; }

constexpr char kJemalloc[] =
    "heap_v2/524288\n"
    "  t*: 3: 3072 [0: 0]\n"
    "  t0: 2: 2048 [0: 0]\n"
    "  t1: 1: 1024 [0: 0] worker thread\n"
    "@ 0x7f0000001234 0x400a10\n"
    "  t*: 2: 2048 [0: 0]\n"
    "  t0: 2: 2048 [0: 0]\n"
    "@ 0x7f0000001234 0x400b20 0x400c30\n"
    "  t*: 1: 1024 [0: 0]\n"
    "  t1: 1: 1024 [0: 0]\n"
    "\n"
    "MAPPED_LIBRARIES:\n"
    "00400000-00401000 r-xp 00000000 fe:00 123                  /usr/bin/app\n"
    "7f0000000000-7f0000002000 r-xp 00001000 fe:00 456                  /usr/lib/libjemalloc.so.2\n"
    "7f0000100000-7f0000200000 rw-p 00000000 00:00 0 \n";

TEST(JemallocHeapProfileTest, ParsesHeaderStacksAndMaps) {
  auto p = ParseJemallocHeapProfile(kJemalloc);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->format, "jemalloc heap_v2");
  EXPECT_EQ(p->sampling, HeapSampling::kPoisson);
  EXPECT_EQ(p->sampling_rate, 524288u);
  EXPECT_FALSE(p->has_alloc);
  EXPECT_EQ(p->total_inuse, (HeapCounts{3, 3072}));
  ASSERT_EQ(p->records.size(), 2u);
  EXPECT_THAT(p->records[0].stack, ElementsAre(0x7f0000001234u, 0x400a10u));
  EXPECT_EQ(p->records[0].inuse, (HeapCounts{2, 2048}));
  EXPECT_EQ(p->records[0].alloc, (HeapCounts{}));
  EXPECT_THAT(p->records[1].stack, ElementsAre(0x7f0000001234u, 0x400b20u, 0x400c30u));
  EXPECT_EQ(p->records[1].inuse, (HeapCounts{1, 1024}));
  ASSERT_EQ(p->mappings.size(), 3u);
  EXPECT_EQ(p->mappings[0], (MappedRegion{0x400000, 0x401000, 0, "r-xp", "/usr/bin/app"}));
  EXPECT_EQ(p->mappings[1].offset, 0x1000u);
  EXPECT_TRUE(p->mappings[1].executable());
  EXPECT_EQ(p->mappings[2].path, "");
  EXPECT_FALSE(p->mappings[2].executable());
  // The dispatcher picks the same parser.
  auto any = ParseHeapProfileText(kJemalloc);
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->records.size(), 2u);
}

TEST(JemallocHeapProfileTest, KeepsAccumulatedCountsWhenRecorded) {
  // opt.prof_accum: the bracketed counts are every sampled allocation since start.
  auto p = ParseJemallocHeapProfile(
      "heap_v2/1024\n  t*: 1: 100 [5: 500]\n@ 0x1\n  t*: 1: 100 [5: 500]\n  t7: 1: 100 [5: 500]\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->has_alloc);
  EXPECT_EQ(p->total_alloc, (HeapCounts{5, 500}));
  ASSERT_EQ(p->records.size(), 1u);
  EXPECT_EQ(p->records[0].alloc, (HeapCounts{5, 500}));
  EXPECT_TRUE(p->mappings.empty());  // no MAPPED_LIBRARIES section: not an error
}

TEST(JemallocHeapProfileTest, ToleratesCrLfBlankLinesAndAnEmptyProfile) {
  auto p = ParseJemallocHeapProfile(
      "\r\nheap_v2/16384\r\n  t*: 0: 0 [0: 0]\r\n\r\n@ 0xA\r\n\r\n t*:1:16[0:0]\r\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->records.size(), 1u);
  EXPECT_THAT(p->records[0].stack, ElementsAre(0xau));
  EXPECT_EQ(p->records[0].inuse, (HeapCounts{1, 16}));
  auto empty = ParseJemallocHeapProfile("heap_v2/16384\n  t*: 0: 0 [0: 0]\n\nMAPPED_LIBRARIES:\n");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->records.empty());
}

TEST(JemallocHeapProfileTest, ErrorsNameTheLineAndTheProblem) {
  EXPECT_THAT(ErrorOf(ParseJemallocHeapProfile("")), HasSubstr("empty profile"));
  EXPECT_EQ(ErrorOf(ParseJemallocHeapProfile("heap_v3/19\n")),
            "line 1: expected the jemalloc header \"heap_v2/<sampling rate>\", got \"heap_v3/19\"");
  EXPECT_EQ(ErrorOf(ParseJemallocHeapProfile("heap_v2/x\n")),
            "line 1: expected the jemalloc header \"heap_v2/<sampling rate>\", got \"heap_v2/x\"");
  EXPECT_THAT(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n@ 0x1\n")),
              HasSubstr("line 2: expected the totals \"t*: <objects>: <bytes> [<objects>: <bytes>]\""));
  EXPECT_EQ(
      ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0]\n@ 0x1\n@ 0x2\n  t*: 1: 8 [0: 0]\n")),
      "line 4: the stack above has no \"t*:\" counts");
  EXPECT_EQ(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0]\n@ 0x1\n")),
            "line 3: the last stack has no \"t*:\" counts");
  EXPECT_EQ(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0]\n@ 0x1 0xZZ\n")),
            "line 3: expected a hex address (0x...), got \"0xZZ\"");
  EXPECT_EQ(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0]\n@ 0x1\n  t*: x: 8 [0: 0]\n")),
            "line 4: expected the live object count (a whole decimal number)");
  EXPECT_EQ(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0]\n@ 0x1\n  t*: 1: 8 0: 0]\n")),
            "line 4: expected \"[\"");
  EXPECT_EQ(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0]\n@ 0x1\n  t*: 0: 8 [0: 0]\n")),
            "line 4: 0 live objects but 8 live bytes");
  EXPECT_EQ(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0]\n  t*: 1: 8 [0: 0]\n")),
            "line 3: \"t*:\" counts without a stack (\"@ 0x...\") before them");
  EXPECT_THAT(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0]\nhello\n")),
              HasSubstr("line 3: expected \"@ 0x...\" (a stack)"));
  EXPECT_THAT(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 1: 8 [0: 0] extra\n")),
              HasSubstr("line 2: unexpected text after the counts"));
  // A number too large for 64 bits is not a count.
  EXPECT_THAT(ErrorOf(ParseJemallocHeapProfile("heap_v2/1\n  t*: 99999999999999999999: 8 [0: 0]\n")),
              HasSubstr("line 2: expected the live object count"));
}

constexpr char kGperftoolsSample[] =
    "heap profile:      3:    12288 [     3:    12288] @ heap_v2/524288\n"
    "     1:     4096 [     1:     4096] @ 0x7f0000001000 0x400a10 0x400b20\n"
    "     2:     8192 [     2:     8192] @ 0x7f0000001000 0x400c30\n"
    "\n"
    "MAPPED_LIBRARIES:\n"
    "00400000-00401000 r-xp 00000000 00:00 123    /usr/bin/app\n";

TEST(GperftoolsHeapProfileTest, ParsesAHeapSample) {
  auto p = ParseGperftoolsHeapProfile(kGperftoolsSample);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->format, "gperftools heap_v2");
  EXPECT_EQ(p->sampling, HeapSampling::kPoisson);
  EXPECT_EQ(p->sampling_rate, 524288u);
  // The bracketed counts of a heap sample repeat the live ones: not a second measure (pprof's rule).
  EXPECT_FALSE(p->has_alloc);
  EXPECT_EQ(p->total_inuse, (HeapCounts{3, 12288}));
  ASSERT_EQ(p->records.size(), 2u);
  EXPECT_THAT(p->records[0].stack, ElementsAre(0x7f0000001000u, 0x400a10u, 0x400b20u));
  EXPECT_EQ(p->records[1].inuse, (HeapCounts{2, 8192}));
  EXPECT_EQ(p->records[1].alloc, (HeapCounts{}));
  ASSERT_EQ(p->mappings.size(), 1u);
  EXPECT_EQ(p->mappings[0].path, "/usr/bin/app");
  ASSERT_TRUE(ParseHeapProfileText(kGperftoolsSample).ok());
}

TEST(GperftoolsHeapProfileTest, ParsesTheHeapProfilerFormatWithAllocations) {
  auto p = ParseGperftoolsHeapProfile(
      "%warn a comment before the header\n"
      "heap profile:    2:   200 [    5:   500] @ heapprofile\n"
      "   2:   200 [   5:   500] @ 0x10 0x20\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->format, "gperftools heapprofile");
  EXPECT_EQ(p->sampling, HeapSampling::kEveryAllocation);
  EXPECT_EQ(p->sampling_rate, 1u);
  EXPECT_TRUE(p->has_alloc);
  EXPECT_EQ(p->total_alloc, (HeapCounts{5, 500}));
  ASSERT_EQ(p->records.size(), 1u);
  EXPECT_EQ(p->records[0].alloc, (HeapCounts{5, 500}));
}

TEST(GperftoolsHeapProfileTest, ReadsTheOtherKindsAsPprofDoes) {
  auto v1 = ParseGperftoolsHeapProfile("heap profile: 1: 8 [1: 8] @ heap/1048576\n");
  ASSERT_TRUE(v1.ok()) << v1.error().message;
  EXPECT_EQ(v1->sampling_rate, 524288u);  // half the stated rate
  auto z = ParseGperftoolsHeapProfile("heap profile: 1: 8 [1: 8] @ heapz_v2/4096\n");
  ASSERT_TRUE(z.ok()) << z.error().message;
  EXPECT_EQ(z->sampling_rate, 4096u);
  EXPECT_EQ(ErrorOf(ParseGperftoolsHeapProfile("heap profile: 1: 8 [1: 8] @ growthz\n")),
            "line 1: unsupported heap profile kind \"growthz\" (heap_v2, heapz_v2, heapprofile or heap)");
}

TEST(GperftoolsHeapProfileTest, ErrorsNameTheLineAndTheProblem) {
  EXPECT_THAT(ErrorOf(ParseGperftoolsHeapProfile("heap profile: 1: 8 @ heap_v2/1\n")),
              HasSubstr("line 1: in the header: expected \"[\""));
  EXPECT_EQ(ErrorOf(ParseGperftoolsHeapProfile("heap profile: 1: 8 [1: 8] @ heap_v2/abc\n")),
            "line 1: expected a whole sampling rate after \"/\", got \"heap_v2/abc\"");
  EXPECT_EQ(
      ErrorOf(ParseGperftoolsHeapProfile("heap profile: 1: 8 [1: 8] @ heap_v2/1\n   1: 8 [1: 8] 0x1\n")),
      "line 2: expected \"@\" and the stack after the counts");
  EXPECT_EQ(
      ErrorOf(ParseGperftoolsHeapProfile("heap profile: 1: 8 [1: 8] @ heap_v2/1\n\n   1: 8 [1: 8] @ 12\n")),
      "line 3: expected a hex address (0x...), got \"12\"");
  EXPECT_THAT(ErrorOf(ParseGperftoolsHeapProfile("heap profile: 1: 8 [1: 8] @ heap_v2/1\n  x\n")),
              HasSubstr("line 2: expected the live object count (a whole decimal number) in \"x\""));
}

TEST(HeapProfileTextTest, RejectsWhatIsNoHeapProfile) {
  EXPECT_EQ(ErrorOf(ParseHeapProfileText("")), "empty profile");
  EXPECT_EQ(ErrorOf(ParseHeapProfileText("\n\n--- contention:\n")),
            "line 3: not a heap profile: expected \"heap_v2/<rate>\" (jemalloc) or \"heap profile: ...\" "
            "(gperftools), got \"--- contention:\"");
  // What GetHeapSample prints on an allocator without sampling.
  EXPECT_THAT(ErrorOf(ParseHeapProfileText("This malloc implementation does not support sampling.\n")),
              HasSubstr("line 1: not a heap profile"));
}

TEST(MappedRegionsTest, ParsesMapsLinesAndSkipsTheRest) {
  const auto m = ParseMappedRegions(
      "55d0f1c00000-55d0f1c02000 r-xp 00001000 fe:00 10952828                   /opt/my app/bin (deleted)\n"
      "not a mapping\n"
      "7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]\n"
      "zz-10 r-xp 0 00:00 0 /x\n"
      "20-10 r-xp 0 00:00 0 /backwards\n"
      "7f00-7f10 rw-p 00000000 00:00 0\r\n");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0],
            (MappedRegion{0x55d0f1c00000, 0x55d0f1c02000, 0x1000, "r-xp", "/opt/my app/bin (deleted)"}));
  EXPECT_EQ(m[1].path, "[vdso]");
  EXPECT_EQ(m[2].path, "");
  EXPECT_FALSE(m[2].executable());
}

TEST(UnbiasHeapCountsTest, ScalesAsPprofDoes) {
  // One 4 KiB object sampled at a 16 KiB rate stands for 1 / (1 - exp(-1/4)) = 4.52 objects.
  const double scale = 1.0 / (1.0 - std::exp(-4096.0 / 16384.0));
  const HeapEstimate e = UnbiasHeapCounts({1, 4096}, HeapSampling::kPoisson, 16384);
  EXPECT_DOUBLE_EQ(e.objects, scale);
  EXPECT_DOUBLE_EQ(e.bytes, 4096 * scale);
  // The scale uses the mean object size of the record.
  const HeapEstimate two = UnbiasHeapCounts({2, 8192}, HeapSampling::kPoisson, 16384);
  EXPECT_DOUBLE_EQ(two.bytes, 8192 * scale);
  // Large objects are always sampled: no scaling to speak of.
  EXPECT_NEAR(UnbiasHeapCounts({1, 1 << 30}, HeapSampling::kPoisson, 16384).bytes, 1 << 30, 1e-6);
  // Every allocation recorded, or a rate pprof calls unknown: as written.
  EXPECT_DOUBLE_EQ(UnbiasHeapCounts({3, 300}, HeapSampling::kEveryAllocation, 1).bytes, 300);
  EXPECT_DOUBLE_EQ(UnbiasHeapCounts({3, 300}, HeapSampling::kPoisson, 1).bytes, 300);
  EXPECT_DOUBLE_EQ(UnbiasHeapCounts({3, 300}, HeapSampling::kPoisson, 0).objects, 3);
  EXPECT_DOUBLE_EQ(UnbiasHeapCounts({0, 0}, HeapSampling::kPoisson, 16384).bytes, 0);
}

// tests/fixtures/heap/jemalloc-heap_v2.prof: jemalloc 5.3.0, lg_prof_sample:14, heap_leaker keeping 64 MiB in
// 16,384 blocks of 4 KiB (LeakingFunction) and 4 MiB in 1,024 (SteadyWorkload).
TEST(CapturedHeapProfileTest, JemallocDumpFromARealRun) {
  auto p = ParseHeapProfileText(Fixture("jemalloc-heap_v2.prof"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->format, "jemalloc heap_v2");
  EXPECT_EQ(p->sampling_rate, 16384u);
  EXPECT_EQ(p->total_inuse, (HeapCounts{3849, 15884013}));
  ASSERT_EQ(p->records.size(), 4u);
  // Four jemalloc frames, then LeakingFunction's call of malloc, main, libc's start-up, _start.
  EXPECT_EQ(p->records[1].stack.size(), 9u);
  EXPECT_EQ(p->records[1].inuse, (HeapCounts{3607, 14842237}));
  const HeapEstimate leak = UnbiasHeapCounts(p->records[1].inuse, p->sampling, p->sampling_rate);
  EXPECT_NEAR(leak.bytes, 64 << 20, 0.05 * (64 << 20));
  EXPECT_NEAR(leak.objects, 16384, 0.05 * 16384);
  const HeapEstimate steady = UnbiasHeapCounts(p->records[0].inuse, p->sampling, p->sampling_rate);
  EXPECT_NEAR(steady.bytes, 4 << 20, 0.1 * (4 << 20));
  // jemalloc derives each line's counts from its unbiased figures separately (prof_do_unbias): the stacks'
  // counts need not add up to the total exactly.
  uint64_t objects = 0;
  for (const auto& r : p->records) objects += r.inuse.objects;
  EXPECT_NEAR(static_cast<double>(objects), static_cast<double>(p->total_inuse.objects), 0.01 * 3849);
  size_t executable = 0;
  for (const auto& m : p->mappings) executable += m.executable() ? 1 : 0;
  EXPECT_GE(executable, 5u);  // the program, libc, libstdc++, libm, libgcc_s, libjemalloc, ld.so
  EXPECT_EQ(p->mappings[1].path, "/tmp/leakwatch-fixture/heap_leaker");
  EXPECT_TRUE(p->mappings[1].executable());
}

// tests/fixtures/heap/gperftools-heap_sample.prof: gperftools 2.10, TCMALLOC_SAMPLE_PARAMETER=524288, the
// same program: one line per sampled object.
TEST(CapturedHeapProfileTest, GperftoolsHeapSampleFromARealRun) {
  auto p = ParseHeapProfileText(Fixture("gperftools-heap_sample.prof"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->format, "gperftools heap_v2");
  EXPECT_EQ(p->sampling_rate, 524288u);
  EXPECT_FALSE(p->has_alloc);
  EXPECT_EQ(p->total_inuse, (HeapCounts{126, 516096}));
  ASSERT_EQ(p->records.size(), 126u);
  double leak = 0;
  for (const auto& r : p->records) {
    EXPECT_EQ(r.inuse, (HeapCounts{1, 4096}));
    if (r.stack.size() > 1 && r.stack[1] == 0x5594739e5eb8) {
      leak += UnbiasHeapCounts(r.inuse, p->sampling, p->sampling_rate).bytes;
    }
  }
  // ~120 samples: a standard error of ~9%.
  EXPECT_NEAR(leak, 64 << 20, 0.25 * (64 << 20));
  EXPECT_FALSE(p->mappings.empty());
}

}  // namespace
}  // namespace leakwatch::internal

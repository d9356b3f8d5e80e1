// DumpHeap (agent/profile/heap_dump.h) against fake jemalloc and tcmalloc: which calls it makes, when it
// refuses, and how it reports a failing allocator.
#include "agent/profile/heap_dump.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_tree.h"
#include "tests/unit/profile/fake_allocators.h"

namespace leakwatch::internal {
namespace {

using ::testing::HasSubstr;
using testing_alloc::Fake;
using testing_alloc::FakeJemallocLookup;
using testing_alloc::FakeTcmallocLookup;

class HeapDumpTest : public ::testing::Test {
 protected:
  void SetUp() override { Fake() = {}; }

  HeapDumpOptions Jemalloc(bool malloc_elsewhere = false) {
    HeapDumpOptions o;
    o.lookup = FakeJemallocLookup(malloc_elsewhere);
    o.jemalloc_path = tree_.Path("heap.prof");
    return o;
  }
  HeapDumpOptions Tcmalloc(std::optional<uint64_t> sample_parameter, bool minimal = false) {
    HeapDumpOptions o;
    o.lookup = FakeTcmallocLookup(minimal);
    o.tcmalloc_sample_parameter = sample_parameter;
    return o;
  }

  test_support::TempTree tree_;
};

TEST_F(HeapDumpTest, JemallocWithProfilingWritesItsDumpToTheFile) {
  Fake().dump_text = "heap_v2/524288\n  t*: 0: 0 [0: 0]\n";
  const auto out = DumpHeap("jemalloc", Jemalloc());
  ASSERT_TRUE(out.dump) << out.why;
  EXPECT_EQ(out.dump->allocator, "jemalloc");
  EXPECT_EQ(out.dump->method, "mallctl(\"prof.dump\")");
  EXPECT_EQ(out.dump->file, tree_.Path("heap.prof"));
  EXPECT_EQ(out.dump->text, "");
  EXPECT_EQ(out.dump->allocator_function, reinterpret_cast<uintptr_t>(&testing_alloc::FakeMallctl));
  EXPECT_EQ(Fake().dumped_to, tree_.Path("heap.prof"));
  EXPECT_EQ(tree_.ReadText("heap.prof"), Fake().dump_text);
}

TEST_F(HeapDumpTest, JemallocWithoutProfilingSaysHowToEnableIt) {
  Fake().opt_prof = false;
  auto out = DumpHeap("jemalloc", Jemalloc());
  EXPECT_FALSE(out.dump);
  EXPECT_FALSE(out.failed);
  EXPECT_EQ(out.why, "jemalloc runs without heap profiling");
  EXPECT_THAT(out.how_to_enable, HasSubstr("MALLOC_CONF=prof:true,lg_prof_sample:19"));
  Fake() = {};
  Fake().prof_active = false;
  out = DumpHeap("jemalloc", Jemalloc());
  EXPECT_THAT(out.why, HasSubstr("prof.active is false"));
  EXPECT_THAT(out.how_to_enable, HasSubstr("prof.active"));
  Fake() = {};
  Fake().config_prof = false;
  out = DumpHeap("jemalloc", Jemalloc());
  EXPECT_THAT(out.why, HasSubstr("built without profiling"));
  EXPECT_EQ(Fake().dumps, 0);
}

TEST_F(HeapDumpTest, JemallocFailuresAreReportedAsFailures) {
  Fake().dump_rc = EFAULT;
  auto out = DumpHeap("jemalloc", Jemalloc());
  EXPECT_FALSE(out.dump);
  EXPECT_TRUE(out.failed);
  EXPECT_THAT(out.why,
              HasSubstr("jemalloc mallctl(\"prof.dump\") to " + tree_.Path("heap.prof") + " failed"));
  EXPECT_THAT(out.why, HasSubstr("EFAULT"));
  Fake() = {};
  Fake().read_rc = EINVAL;
  out = DumpHeap("jemalloc", Jemalloc());
  EXPECT_TRUE(out.failed);
  EXPECT_THAT(out.why, HasSubstr("mallctl(\"config.prof\")"));
  EXPECT_EQ(Fake().dumps, 0);
}

TEST_F(HeapDumpTest, JemallocIsNotAskedWhenItDoesNotServeMalloc) {
  const auto out = DumpHeap("jemalloc", Jemalloc(/*malloc_elsewhere=*/true));
  EXPECT_FALSE(out.dump);
  EXPECT_FALSE(out.failed);
  EXPECT_THAT(out.why, HasSubstr("malloc does not come from the jemalloc"));
  EXPECT_EQ(Fake().dumps, 0);
  HeapDumpOptions none;
  none.lookup = testing_alloc::FakeLookup({});
  EXPECT_THAT(DumpHeap("jemalloc", none).why, HasSubstr("mallctl is not visible"));
}

TEST_F(HeapDumpTest, TcmallocHeapSampleThroughTheMangledMemberFunction) {
  Fake().heap_sample_text = "heap profile: 1: 8 [1: 8] @ heap_v2/524288\n";
  const auto out = DumpHeap("tcmalloc", Tcmalloc(524288));
  ASSERT_TRUE(out.dump) << out.why;
  EXPECT_EQ(out.dump->allocator, "tcmalloc");
  EXPECT_EQ(out.dump->method, "MallocExtension::GetHeapSample()");
  EXPECT_EQ(out.dump->text, Fake().heap_sample_text);
  EXPECT_EQ(out.dump->file, "");
  // The instance is passed as `this`.
  EXPECT_EQ(Fake().sample_self, &testing_alloc::fake_extension_object);
  EXPECT_EQ(Fake().samples, 1);
}

TEST_F(HeapDumpTest, TcmallocHeapProfilerWhenItRuns) {
  Fake().heap_profiler_running = 1;
  Fake().heap_profile_text = "heap profile: 1: 8 [2: 16] @ heapprofile\n";
  const auto out = DumpHeap("tcmalloc", Tcmalloc(std::nullopt));
  ASSERT_TRUE(out.dump) << out.why;
  EXPECT_EQ(out.dump->method, "GetHeapProfile()");
  EXPECT_EQ(out.dump->text, Fake().heap_profile_text);
  EXPECT_EQ(Fake().samples, 0);
}

TEST_F(HeapDumpTest, TcmallocWithoutSamplingOrStacksSaysWhy) {
  auto out = DumpHeap("tcmalloc", Tcmalloc(std::nullopt));
  EXPECT_FALSE(out.dump);
  EXPECT_FALSE(out.failed);
  EXPECT_THAT(out.why, HasSubstr("heap sampling is off"));
  EXPECT_THAT(out.how_to_enable, HasSubstr("TCMALLOC_SAMPLE_PARAMETER=524288"));
  out = DumpHeap("tcmalloc", Tcmalloc(0));
  EXPECT_THAT(out.why, HasSubstr("heap sampling is off"));
  out = DumpHeap("tcmalloc", Tcmalloc(524288, /*minimal=*/true));
  EXPECT_THAT(out.why, HasSubstr("libtcmalloc_minimal"));
  EXPECT_THAT(out.how_to_enable, HasSubstr("libtcmalloc.so.4"));
  EXPECT_EQ(Fake().samples, 0);
}

TEST_F(HeapDumpTest, TcmallocWithoutTheCppEntryPointsIsAFailure) {
  HeapDumpOptions o = Tcmalloc(524288);
  o.lookup = testing_alloc::FakeLookup(
      {{"MallocExtension_GetNumericProperty", testing_alloc::Address(&testing_alloc::FakeGetNumericProperty)},
       {"IsHeapProfilerRunning", testing_alloc::Address(&testing_alloc::FakeIsHeapProfilerRunning)}});
  const auto out = DumpHeap("tcmalloc", o);
  EXPECT_FALSE(out.dump);
  EXPECT_TRUE(out.failed);
  EXPECT_THAT(out.why, HasSubstr("GetHeapSample(std::string*) is not visible"));
}

TEST_F(HeapDumpTest, OtherAllocatorsAreNeverCalled) {
  for (const char* name : {"glibc", "mimalloc", "unknown", "my_arena"}) {
    int lookups = 0;
    HeapDumpOptions o;
    o.lookup = testing_alloc::FakeLookup({{"mallctl", testing_alloc::Address(&testing_alloc::FakeMallctl)}},
                                         false, &lookups);
    const auto out = DumpHeap(name, o);
    EXPECT_FALSE(out.dump) << name;
    EXPECT_FALSE(out.failed) << name;
    EXPECT_EQ(out.why, std::string(name) + " malloc keeps no record of allocation sites");
    EXPECT_THAT(out.how_to_enable, HasSubstr("MALLOC_CONF=prof:true"));
    EXPECT_EQ(lookups, 0) << name;
  }
}

}  // namespace
}  // namespace leakwatch::internal

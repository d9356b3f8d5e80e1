// The heap profile of a bundle (agent/bundle/heap_profile_part.h) with fake allocators: the files, the
// manifest entry, and every way it degrades (no profiling, a failing dump, a broken or oversized profile, the
// deadline, another process, another allocator) without failing the bundle.
#include "agent/bundle/heap_profile_part.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/temp_tree.h"
#include "tests/unit/profile/fake_allocators.h"
#include "tests/unit/profile/pprof_decoder.h"

namespace leakwatch::internal {
namespace {

using ::testing::HasSubstr;
using testing_alloc::Fake;

std::string Fixture(const std::string& name) {
  std::ifstream in(test_support::FixturePath("heap/" + name));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

AllocatorInfo Info(const std::string& name) {
  AllocatorInfo info;
  info.name = name;
  info.profiling_supported = true;
  info.profiling_active = true;
  info.profiling_sample_bytes = 16384;
  return info;
}

std::set<std::string> Names(const std::vector<BundleFileEntry>& files) {
  std::set<std::string> out;
  for (const auto& f : files) out.insert(f.name);
  return out;
}

class HeapProfilePartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Fake() = {};
    options_.dir = tree_.dir();
    options_.lookup = testing_alloc::FakeJemallocLookup();
    options_.main_executable = "/tmp/leakwatch-fixture/heap_leaker";
    options_.map_files_dir = "";  // the fixture's addresses are not this process's
  }

  test_support::TempTree tree_;
  HeapProfilePartOptions options_;
};

TEST_F(HeapProfilePartTest, JemallocDumpAndItsPprofConversion) {
  Fake().dump_text = Fixture("jemalloc-heap_v2.prof");
  const AllocatorInfo info = Info("jemalloc");
  const HeapProfilePart part = WriteHeapProfilePart(options_, &info);
  EXPECT_FALSE(part.skipped) << part.skipped->why;
  EXPECT_EQ(Names(part.files), (std::set<std::string>{"heap.prof", "heap.pb.gz"}));
  const auto& m = part.manifest;
  EXPECT_EQ(m["written"], true);
  EXPECT_EQ(m["allocator"], "jemalloc");
  EXPECT_EQ(m["method"], "mallctl(\"prof.dump\")");
  EXPECT_EQ(m["files"], nlohmann::json::array({"heap.prof", "heap.pb.gz"}));
  EXPECT_EQ(m["format"], "jemalloc heap_v2");
  EXPECT_EQ(m["sampling"], "poisson");
  EXPECT_EQ(m["sampling_rate_bytes"], 16384);
  EXPECT_EQ(m["stacks"], 4);
  EXPECT_EQ(m["samples"], 4);
  EXPECT_NEAR(m["estimated_inuse_bytes"].get<double>(), 71340208, 2);  // the fixture's four stacks, unbiased
  EXPECT_GE(m["dump_seconds"].get<double>(), 0);
  EXPECT_GE(m["convert_seconds"].get<double>(), 0);
  EXPECT_FALSE(m.contains("why"));
  // Symbolized where the fixture's objects exist here; its program does not: counted, with the reason.
  EXPECT_EQ(m["symbolized_locations"].get<uint64_t>() + m["unsymbolized_locations"].get<uint64_t>(),
            m["locations"].get<uint64_t>());
  EXPECT_GE(m["symbolize_seconds"].get<double>(), 0);
  bool program_listed = false;
  for (const auto& u : m["unsymbolized"]) {
    if (u["object"] != "/tmp/leakwatch-fixture/heap_leaker") continue;
    program_listed = true;
    EXPECT_THAT(u["why"].get<std::string>(), HasSubstr("No such file or directory"));
    EXPECT_GT(u["locations"].get<int>(), 0);
  }
  EXPECT_TRUE(program_listed) << m;
  // heap.prof is jemalloc's own file, kept as written, with the bundle's mode.
  EXPECT_EQ(tree_.ReadText("heap.prof"), Fake().dump_text);
  struct stat st {};
  ASSERT_EQ(::stat(tree_.Path("heap.prof").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  for (const auto& f : part.files) EXPECT_EQ(f.bytes, tree_.ReadText(f.name).size()) << f.name;
  // heap.pb.gz reads back as a pprof heap profile.
  const PprofProfile p = testing_pprof::DecodeProfile(testing_pprof::Gunzip(tree_.ReadText("heap.pb.gz")));
  EXPECT_EQ(p.default_sample_type, "inuse_space");
  EXPECT_EQ(p.period, 16384);
  EXPECT_EQ(p.samples.size(), 4u);
  ASSERT_FALSE(p.mappings.empty());
  EXPECT_EQ(p.mappings[0].filename, "/tmp/leakwatch-fixture/heap_leaker");
  EXPECT_GT(p.time_nanos, 0);
  ASSERT_EQ(p.comments.size(), 2u);
  EXPECT_THAT(p.comments[0], HasSubstr("jemalloc heap_v2 from jemalloc mallctl(\"prof.dump\")"));
}

TEST_F(HeapProfilePartTest, SymbolizingCanBeTurnedOff) {
  Fake().dump_text = Fixture("jemalloc-heap_v2.prof");
  options_.symbolize = false;
  const AllocatorInfo info = Info("jemalloc");
  const HeapProfilePart part = WriteHeapProfilePart(options_, &info);
  EXPECT_FALSE(part.skipped) << part.skipped->why;
  EXPECT_FALSE(part.manifest.contains("symbolized_locations"));
  const PprofProfile p = testing_pprof::DecodeProfile(testing_pprof::Gunzip(tree_.ReadText("heap.pb.gz")));
  EXPECT_TRUE(p.functions.empty());
  for (const auto& l : p.locations) EXPECT_TRUE(l.lines.empty());
}

TEST_F(HeapProfilePartTest, TcmallocHeapSampleIsWrittenAndConverted) {
  Fake().heap_sample_text = Fixture("gperftools-heap_sample.prof");
  options_.lookup = testing_alloc::FakeTcmallocLookup();
  options_.tcmalloc_sample_parameter = 524288;
  const AllocatorInfo info = Info("tcmalloc");
  const HeapProfilePart part = WriteHeapProfilePart(options_, &info);
  EXPECT_FALSE(part.skipped) << part.skipped->why;
  EXPECT_EQ(part.manifest["method"], "MallocExtension::GetHeapSample()");
  EXPECT_EQ(part.manifest["format"], "gperftools heap_v2");
  EXPECT_EQ(part.manifest["stacks"], 126);
  EXPECT_EQ(part.manifest["samples"], 2);  // one line per object, merged by stack
  EXPECT_EQ(tree_.ReadText("heap.prof"), Fake().heap_sample_text);
  const PprofProfile p = testing_pprof::DecodeProfile(testing_pprof::Gunzip(tree_.ReadText("heap.pb.gz")));
  EXPECT_EQ(p.period, 524288);
}

TEST_F(HeapProfilePartTest, WithoutProfilingTheManifestSaysWhyAndHow) {
  Fake().opt_prof = false;
  const AllocatorInfo info = Info("jemalloc");
  const HeapProfilePart part = WriteHeapProfilePart(options_, &info);
  EXPECT_FALSE(part.skipped);  // a fact, not a fault
  EXPECT_TRUE(part.files.empty());
  EXPECT_EQ(part.manifest["written"], false);
  EXPECT_EQ(part.manifest["allocator"], "jemalloc");
  EXPECT_EQ(part.manifest["why"], "jemalloc runs without heap profiling");
  EXPECT_THAT(part.manifest["how_to_enable"].get<std::string>(), HasSubstr("MALLOC_CONF=prof:true"));
}

TEST_F(HeapProfilePartTest, AFailingDumpIsSkippedWithItsReason) {
  Fake().dump_rc = EFAULT;
  const AllocatorInfo info = Info("jemalloc");
  const HeapProfilePart part = WriteHeapProfilePart(options_, &info);
  ASSERT_TRUE(part.skipped);
  EXPECT_EQ(part.skipped->part, "heap_profile");
  EXPECT_THAT(part.skipped->why, HasSubstr("prof.dump"));
  EXPECT_EQ(part.manifest["written"], false);
  EXPECT_EQ(part.manifest["why"], part.skipped->why);
}

TEST_F(HeapProfilePartTest, AnUnreadableProfileKeepsTheRawFileAndSaysWhereItBroke) {
  Fake().dump_text = "heap_v2/16384\n  t*: 1: 8 [0: 0]\n@ 0xnothex\n";
  const AllocatorInfo info = Info("jemalloc");
  const HeapProfilePart part = WriteHeapProfilePart(options_, &info);
  EXPECT_EQ(Names(part.files), (std::set<std::string>{"heap.prof"}));
  EXPECT_EQ(part.manifest["written"], true);
  EXPECT_EQ(part.manifest["files"], nlohmann::json::array({"heap.prof"}));
  EXPECT_EQ(part.manifest["problem"], "heap.prof line 3: expected a hex address (0x...), got \"0xnothex\"");
  ASSERT_TRUE(part.skipped);
  EXPECT_EQ(part.skipped->why, part.manifest["problem"]);
}

TEST_F(HeapProfilePartTest, AProfileAboveTheFileCapIsCutAndNotConverted) {
  Fake().dump_text = Fixture("jemalloc-heap_v2.prof");
  options_.max_file_bytes = 100;
  const AllocatorInfo info = Info("jemalloc");
  const HeapProfilePart part = WriteHeapProfilePart(options_, &info);
  ASSERT_EQ(part.files.size(), 1u);
  EXPECT_TRUE(part.files[0].capped);
  EXPECT_EQ(part.files[0].bytes, 100u);
  EXPECT_EQ(tree_.ReadText("heap.prof").size(), 100u);
  EXPECT_EQ(part.manifest["written"], false);  // no complete profile file
  EXPECT_EQ(part.manifest["files"], nlohmann::json::array());
  EXPECT_EQ(part.manifest["why"], "heap.prof was cut at max_file_bytes (100 bytes): not converted");
  ASSERT_TRUE(part.skipped);
  // Same for a tcmalloc text.
  test_support::TempTree other;
  options_.dir = other.dir();
  Fake().heap_sample_text = Fixture("gperftools-heap_sample.prof");
  options_.lookup = testing_alloc::FakeTcmallocLookup();
  options_.tcmalloc_sample_parameter = 524288;
  const AllocatorInfo tc = Info("tcmalloc");
  const HeapProfilePart tc_part = WriteHeapProfilePart(options_, &tc);
  ASSERT_EQ(tc_part.files.size(), 1u);
  EXPECT_TRUE(tc_part.files[0].capped);
  EXPECT_THAT(tc_part.manifest["why"].get<std::string>(), HasSubstr("not converted"));
}

TEST_F(HeapProfilePartTest, NothingIsCalledPastTheDeadlineOrForAnotherProcess) {
  const AllocatorInfo info = Info("jemalloc");
  options_.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  HeapProfilePart part = WriteHeapProfilePart(options_, &info);
  ASSERT_TRUE(part.skipped);
  EXPECT_EQ(part.skipped->why, "the bundle's deadline passed");
  EXPECT_EQ(part.manifest["why"], "the bundle's deadline passed");
  options_.deadline = std::chrono::steady_clock::time_point::max();
  options_.this_process = false;
  part = WriteHeapProfilePart(options_, &info);
  EXPECT_FALSE(part.skipped);
  EXPECT_THAT(part.manifest["why"].get<std::string>(), HasSubstr("another process"));
  EXPECT_EQ(Fake().dumps, 0);
  EXPECT_TRUE(part.files.empty());
}

TEST_F(HeapProfilePartTest, OtherAllocatorsGetTheExplanationOnly) {
  const AllocatorInfo glibc = Info("glibc");
  HeapProfilePart part = WriteHeapProfilePart(options_, &glibc);
  EXPECT_EQ(part.manifest["written"], false);
  EXPECT_EQ(part.manifest["allocator"], "glibc");
  EXPECT_EQ(part.manifest["why"], "glibc malloc keeps no record of allocation sites");
  EXPECT_THAT(part.manifest["how_to_enable"].get<std::string>(), HasSubstr("LD_PRELOAD=libjemalloc.so.2"));
  part = WriteHeapProfilePart(options_, nullptr);
  EXPECT_EQ(part.manifest["allocator"], "unknown");
  EXPECT_EQ(Fake().dumps, 0);
  EXPECT_TRUE(part.files.empty());
}

}  // namespace
}  // namespace leakwatch::internal

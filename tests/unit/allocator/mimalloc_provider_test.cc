// MimallocProvider over a fake mi_process_info / mi_version.

#include "agent/allocator/mimalloc_provider.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "tests/unit/allocator/fake_process.h"

namespace leakwatch::internal {
namespace {

size_t fake_commit = 0;
int fake_version = 209;

void FakeProcessInfo(size_t* elapsed, size_t* user, size_t* system, size_t* rss, size_t* peak_rss,
                     size_t* commit, size_t* peak_commit, size_t* faults) {
  *elapsed = 1000;
  *user = 10;
  *system = 20;
  *rss = fake_commit;     // mimalloc 2.0 on Linux: current_rss is current_commit
  *peak_rss = 999999999;  // the whole process's (getrusage): not reported
  *commit = fake_commit;
  *peak_commit = fake_commit * 2;
  *faults = 3;
}

int FakeVersion() { return fake_version; }

TEST(MimallocProvider, ReportsCommittedBytesAsMappedAndNothingElse) {
  fake_commit = 134217728;
  MimallocProvider provider(FakeVersion, FakeProcessInfo);
  auto stats = provider.Read();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->mapped_bytes, 134217728u);
  EXPECT_EQ(stats->allocated_bytes, std::nullopt);
  EXPECT_EQ(stats->active_bytes, std::nullopt);
  EXPECT_EQ(stats->resident_bytes, std::nullopt);
  EXPECT_EQ(stats->retained_bytes, std::nullopt);
  EXPECT_EQ(stats->metadata_bytes, std::nullopt);
  EXPECT_EQ(stats->free_bytes, std::nullopt);
  EXPECT_EQ(stats->arenas, std::nullopt);
}

TEST(MimallocProvider, ACounterThatDriftedBelowZeroIsAbsent) {
  fake_commit = static_cast<size_t>(-4096);  // int64_t -4096 seen as size_t
  MimallocProvider provider(FakeVersion, FakeProcessInfo);
  auto stats = provider.Read();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->mapped_bytes, std::nullopt);
}

TEST(MimallocProvider, WithoutProcessInfoEveryFigureIsAbsent) {
  MimallocProvider provider(FakeVersion, nullptr);
  auto stats = provider.Read();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->mapped_bytes, std::nullopt);
  EXPECT_EQ(provider.Info().name, "mimalloc");
}

TEST(MimallocProvider, InfoFormatsTheVersionAndHasNoProfiler) {
  fake_version = 209;
  const AllocatorInfo info = MimallocProvider(FakeVersion, FakeProcessInfo).Info();
  EXPECT_EQ(info.name, "mimalloc");
  EXPECT_EQ(info.version, "2.0.9");
  EXPECT_FALSE(info.profiling_supported);
  EXPECT_FALSE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, std::nullopt);
}

TEST(MimallocVersion, FollowsMiVersionsEncoding) {
  EXPECT_EQ(FormatMimallocVersion(209), "2.0.9");
  EXPECT_EQ(FormatMimallocVersion(176), "1.7.6");
  EXPECT_EQ(FormatMimallocVersion(301), "3.0.1");
  EXPECT_EQ(FormatMimallocVersion(0), "");
  EXPECT_EQ(FormatMimallocVersion(-1), "");
}

TEST(MimallocProviderFind, NeedsMiVersion) {
  using allocator_test::FakeProcess;
  EXPECT_EQ(MimallocProvider::Find(FakeProcess().Add("mi_process_info", FakeProcessInfo, 1).Lookup()),
            nullptr);
  auto p = MimallocProvider::Find(FakeProcess().Add("mi_version", FakeVersion, 1).Lookup());
  ASSERT_NE(p, nullptr);
  auto stats = p->Read();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->mapped_bytes, std::nullopt);
}

}  // namespace
}  // namespace leakwatch::internal

// TcmallocProvider over a fake gperftools C API: property -> field mapping, derived figures, unknown
// properties, the version string and the heap-profiling state.

#include "agent/allocator/tcmalloc_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

#include "tests/unit/allocator/fake_process.h"

namespace leakwatch::internal {
namespace {

using ::testing::HasSubstr;

struct FakeTcmalloc {
  std::map<std::string, size_t> properties;
  const char* version = "gperftools 2.10";
  int major = 0;  // what gperftools 2.10 really returns
  int minor = 0;
  int heap_profiler_running = 0;
};
FakeTcmalloc* fake = nullptr;

int FakeGetNumericProperty(const char* property, size_t* value) {
  auto it = fake->properties.find(property);
  if (it == fake->properties.end()) return 0;
  *value = it->second;
  return 1;
}

const char* FakeVersion(int* major, int* minor, const char** patch) {
  *major = fake->major;
  *minor = fake->minor;
  *patch = nullptr;
  return fake->version;
}

int FakeIsHeapProfilerRunning() { return fake->heap_profiler_running; }

class TcmallocProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake = &state_;
    // The figures of a real libtcmalloc.so.4 (gperftools 2.10) after 100,000 x 1000-byte blocks, half freed.
    state_.properties = {
        {"generic.current_allocated_bytes", 51278392},   {"generic.heap_size", 102760448},
        {"generic.total_physical_bytes", 105775104},     {"tcmalloc.pageheap_free_bytes", 237568},
        {"tcmalloc.pageheap_unmapped_bytes", 0},         {"tcmalloc.central_cache_free_bytes", 46343624},
        {"tcmalloc.transfer_cache_free_bytes", 1048576}, {"tcmalloc.thread_cache_free_bytes", 3852288},
    };
  }
  void TearDown() override { fake = nullptr; }

  TcmallocProvider::Api FullApi() const {
    return {FakeGetNumericProperty, FakeVersion, FakeIsHeapProfilerRunning};
  }
  TcmallocProvider::Api MinimalApi() const { return {FakeGetNumericProperty, FakeVersion, nullptr}; }

  FakeTcmalloc state_;
};

TEST_F(TcmallocProviderTest, ReadMapsEveryProperty) {
  TcmallocProvider provider(FullApi(), std::nullopt);
  auto stats = provider.Read();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->allocated_bytes, 51278392u);
  EXPECT_EQ(stats->retained_bytes, 0u);
  EXPECT_EQ(stats->resident_bytes, 105775104u);
  // 105775104 - (102760448 - 0): gperftools' own text says "3014656 Bytes in malloc metadata".
  EXPECT_EQ(stats->metadata_bytes, 3014656u);
  // heap_size + metadata: its text's "105775104 Virtual address space used".
  EXPECT_EQ(stats->mapped_bytes, 105775104u);
  EXPECT_EQ(stats->free_bytes, 237568u + 46343624u + 1048576u + 3852288u);
  EXPECT_EQ(stats->active_bytes, std::nullopt);
  EXPECT_EQ(stats->arenas, std::nullopt);
}

TEST_F(TcmallocProviderTest, MetadataAccountsForUnmappedPages) {
  state_.properties["tcmalloc.pageheap_unmapped_bytes"] = 8 << 20;
  state_.properties["generic.total_physical_bytes"] = 102760448 - (8 << 20) + 4096;
  TcmallocProvider provider(FullApi(), std::nullopt);
  auto stats = provider.Read();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->retained_bytes, uint64_t{8} << 20);
  EXPECT_EQ(stats->metadata_bytes, 4096u);
  EXPECT_EQ(stats->mapped_bytes, 102760448u + 4096u);
  EXPECT_EQ(*stats->mapped_bytes - *stats->resident_bytes, *stats->retained_bytes);
}

TEST_F(TcmallocProviderTest, ADerivedFigureThatWouldBeNegativeIsAbsent) {
  // Not one atomic snapshot: the heap grew between the heap_size and total_physical_bytes calls.
  state_.properties["generic.total_physical_bytes"] = 100000000;
  TcmallocProvider provider(FullApi(), std::nullopt);
  auto stats = provider.Read();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->metadata_bytes, std::nullopt);
  EXPECT_EQ(stats->resident_bytes, 100000000u);
  EXPECT_EQ(stats->mapped_bytes, 102760448u);  // the page heap alone
}

TEST_F(TcmallocProviderTest, UnknownOptionalPropertiesLeaveTheirFiguresAbsent) {
  state_.properties.erase("generic.total_physical_bytes");  // older gperftools
  state_.properties.erase("tcmalloc.transfer_cache_free_bytes");
  TcmallocProvider provider(FullApi(), std::nullopt);
  auto stats = provider.Read();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->resident_bytes, std::nullopt);
  EXPECT_EQ(stats->metadata_bytes, std::nullopt);
  EXPECT_EQ(stats->free_bytes, std::nullopt);  // a partial sum would understate it
  EXPECT_EQ(stats->allocated_bytes, 51278392u);
  EXPECT_EQ(stats->mapped_bytes, 102760448u);
}

TEST_F(TcmallocProviderTest, WithoutTheGenericPropertiesTheReadFails) {
  state_.properties.clear();  // MallocExtension's default implementation (e.g. under Valgrind) knows nothing
  TcmallocProvider provider(FullApi(), std::nullopt);
  auto stats = provider.Read();
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(
      stats.error().message,
      HasSubstr("MallocExtension_GetNumericProperty(\"generic.current_allocated_bytes\") returned 0"));

  state_.properties["generic.current_allocated_bytes"] = 1;
  stats = provider.Read();
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.error().message, HasSubstr("\"generic.heap_size\""));
}

TEST_F(TcmallocProviderTest, VersionDropsTheGperftoolsPrefix) {
  EXPECT_EQ(TcmallocProvider(FullApi(), std::nullopt).Info().version, "2.10");
  state_.version = "2.11rc";
  EXPECT_EQ(TcmallocProvider(FullApi(), std::nullopt).Info().version, "2.11rc");
  state_.version = nullptr;
  state_.major = 2;
  state_.minor = 9;
  EXPECT_EQ(TcmallocProvider(FullApi(), std::nullopt).Info().version, "2.9");
  TcmallocProvider::Api no_version = FullApi();
  no_version.version = nullptr;
  EXPECT_EQ(TcmallocProvider(no_version, std::nullopt).Info().version, "");
}

TEST_F(TcmallocProviderTest, MinimalLibraryCannotProfile) {
  const AllocatorInfo info = TcmallocProvider(MinimalApi(), 524288).Info();
  EXPECT_EQ(info.name, "tcmalloc");
  EXPECT_FALSE(info.profiling_supported);
  EXPECT_FALSE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, std::nullopt);
}

TEST_F(TcmallocProviderTest, FullLibraryWithoutSamplingOrProfiler) {
  const AllocatorInfo info = TcmallocProvider(FullApi(), std::nullopt).Info();
  EXPECT_TRUE(info.profiling_supported);
  EXPECT_FALSE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, std::nullopt);
  EXPECT_FALSE(TcmallocProvider(FullApi(), 0).Info().profiling_active);  // 0 turns sampling off
}

TEST_F(TcmallocProviderTest, FullLibraryWithHeapSampling) {
  const AllocatorInfo info = TcmallocProvider(FullApi(), 524288).Info();
  EXPECT_TRUE(info.profiling_supported);
  EXPECT_TRUE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, 524288u);
}

TEST_F(TcmallocProviderTest, FullLibraryWithTheHeapProfilerRunning) {
  state_.heap_profiler_running = 1;
  const AllocatorInfo info = TcmallocProvider(FullApi(), std::nullopt).Info();
  EXPECT_TRUE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, std::nullopt);  // it records every allocation
}

TEST(TcmallocSampleParameter, ParsesWholeNumbersOnly) {
  EXPECT_EQ(ParseTcmallocSampleParameter(nullptr), std::nullopt);
  EXPECT_EQ(ParseTcmallocSampleParameter(""), std::nullopt);
  EXPECT_EQ(ParseTcmallocSampleParameter("524288"), 524288u);
  EXPECT_EQ(ParseTcmallocSampleParameter(" 1024 "), 1024u);
  EXPECT_EQ(ParseTcmallocSampleParameter("0"), 0u);
  EXPECT_EQ(ParseTcmallocSampleParameter("-1"), std::nullopt);
  EXPECT_EQ(ParseTcmallocSampleParameter("512k"), std::nullopt);
}

TEST(TcmallocProviderFind, NeedsTheNumericPropertyCall) {
  using allocator_test::FakeProcess;
  EXPECT_EQ(TcmallocProvider::Find(FakeProcess().Add("tc_version", FakeVersion, 1).Lookup()), nullptr);
  FakeTcmalloc state;
  fake = &state;
  auto minimal =
      TcmallocProvider::Find(FakeProcess()
                                 .Add("MallocExtension_GetNumericProperty", FakeGetNumericProperty, 1)
                                 .Add("tc_version", FakeVersion, 1)
                                 .Lookup());
  ASSERT_NE(minimal, nullptr);
  EXPECT_EQ(minimal->Info().version, "2.10");
  EXPECT_FALSE(minimal->Info().profiling_supported);
  auto full = TcmallocProvider::Find(FakeProcess()
                                         .Add("MallocExtension_GetNumericProperty", FakeGetNumericProperty, 1)
                                         .Add("IsHeapProfilerRunning", FakeIsHeapProfilerRunning, 1)
                                         .Lookup());
  ASSERT_NE(full, nullptr);
  EXPECT_TRUE(full->Info().profiling_supported);
  EXPECT_EQ(full->Info().version, "");
  fake = nullptr;
}

}  // namespace
}  // namespace leakwatch::internal

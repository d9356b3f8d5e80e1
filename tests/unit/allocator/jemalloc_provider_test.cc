// JemallocProvider over a fake mallctl: the key -> field mapping, the epoch refresh, value sizes and errors.

#include "agent/allocator/jemalloc_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/allocator/fake_process.h"

namespace leakwatch::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// What the fake mallctl answers for one key.
struct Key {
  int rc = 0;                           // returned as is when not 0
  std::vector<unsigned char> bytes;     // the value
  std::optional<size_t> reported_size;  // written to *oldlenp (default: bytes.size())
};

struct FakeJemalloc {
  std::map<std::string, Key> keys;
  std::vector<std::string> calls;
  bool epoch_written = false;
};
FakeJemalloc* fake = nullptr;

int FakeMallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen) {
  fake->calls.emplace_back(name);
  if (std::strcmp(name, "epoch") == 0 && newp != nullptr && newlen == sizeof(uint64_t))
    fake->epoch_written = true;
  auto it = fake->keys.find(name);
  if (it == fake->keys.end()) return ENOENT;
  const Key& key = it->second;
  if (key.rc != 0) return key.rc;
  if (oldp != nullptr && oldlenp != nullptr) {
    std::memcpy(oldp, key.bytes.data(), std::min(*oldlenp, key.bytes.size()));
    *oldlenp = key.reported_size.value_or(key.bytes.size());
  }
  return 0;
}

template <typename T>
Key Value(T v) {
  Key k;
  k.bytes.resize(sizeof(T));
  std::memcpy(k.bytes.data(), &v, sizeof(T));
  return k;
}

Key Failing(int rc) {
  Key k;
  k.rc = rc;
  return k;
}

class JemallocProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake = &state_;
    state_.keys = {
        {"epoch", Value<uint64_t>(7)},
        {"stats.allocated", Value<size_t>(1000)},
        {"stats.active", Value<size_t>(1200)},
        {"stats.resident", Value<size_t>(4096 * 10)},
        {"stats.mapped", Value<size_t>(4096 * 20)},
        {"stats.retained", Value<size_t>(4096 * 30)},
        {"stats.metadata", Value<size_t>(512)},
        {"arenas.narenas", Value<unsigned>(8)},
        {"version", Value<const char*>("5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c")},
        {"config.prof", Value<bool>(true)},
        {"opt.prof", Value<bool>(true)},
        {"prof.active", Value<bool>(true)},
        {"opt.lg_prof_sample", Value<size_t>(19)},
    };
  }
  void TearDown() override { fake = nullptr; }

  JemallocProvider provider_{FakeMallctl};
  FakeJemalloc state_;
};

TEST_F(JemallocProviderTest, ReadRefreshesTheEpochFirstThenMapsEveryKey) {
  auto stats = provider_.Read();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_TRUE(state_.epoch_written);
  ASSERT_FALSE(state_.calls.empty());
  EXPECT_EQ(state_.calls.front(), "epoch");
  EXPECT_EQ(stats->allocated_bytes, 1000u);
  EXPECT_EQ(stats->active_bytes, 1200u);
  EXPECT_EQ(stats->resident_bytes, 40960u);
  EXPECT_EQ(stats->mapped_bytes, 81920u);
  EXPECT_EQ(stats->retained_bytes, 122880u);
  EXPECT_EQ(stats->metadata_bytes, 512u);
  EXPECT_EQ(stats->arenas, 8u);
  EXPECT_EQ(stats->free_bytes, std::nullopt);  // jemalloc has no such total
}

TEST_F(JemallocProviderTest, UnknownKeysAreAbsentNotErrors) {
  state_.keys.erase("stats.retained");  // jemalloc before 5.0
  state_.keys.erase("arenas.narenas");
  auto stats = provider_.Read();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->retained_bytes, std::nullopt);
  EXPECT_EQ(stats->arenas, std::nullopt);
  EXPECT_EQ(stats->allocated_bytes, 1000u);
}

TEST_F(JemallocProviderTest, AnEpochFailureFailsTheReadNamingTheCallAndCode) {
  state_.keys["epoch"] = Failing(EAGAIN);
  auto stats = provider_.Read();
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.error().message, HasSubstr("jemalloc mallctl(\"epoch\") failed"));
  EXPECT_THAT(stats.error().message, HasSubstr("EAGAIN"));
  EXPECT_THAT(stats.error().message, HasSubstr("rc 11"));
  EXPECT_THAT(state_.calls, ElementsAre("epoch"));  // nothing read from stale counters
}

TEST_F(JemallocProviderTest, AFailingKeyFailsTheReadNamingTheKey) {
  state_.keys["stats.mapped"] = Failing(EFAULT);
  auto stats = provider_.Read();
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.error().message, HasSubstr("mallctl(\"stats.mapped\")"));
  EXPECT_THAT(stats.error().message, HasSubstr("EFAULT"));
}

TEST_F(JemallocProviderTest, AValueOfTheWrongSizeIsAnError) {
  state_.keys["stats.allocated"].reported_size = 4;
  auto stats = provider_.Read();
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().message, "jemalloc mallctl(\"stats.allocated\") returned 4 bytes, expected 8");

  state_.keys["stats.allocated"].reported_size.reset();
  state_.keys["arenas.narenas"] = Value<uint64_t>(8);  // a jemalloc whose narenas were size_t
  stats = provider_.Read();
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().message, "jemalloc mallctl(\"arenas.narenas\") returned 8 bytes, expected 4");
}

TEST_F(JemallocProviderTest, AnErrorCodeThatIsNoErrnoStillGetsAMessage) {
  state_.keys["stats.active"] = Failing(12345);
  auto stats = provider_.Read();
  ASSERT_FALSE(stats.ok());
  EXPECT_THAT(stats.error().message, HasSubstr("mallctl(\"stats.active\") failed"));
  EXPECT_THAT(stats.error().message, HasSubstr("rc 12345"));
}

TEST_F(JemallocProviderTest, InfoWithProfilingActive) {
  const AllocatorInfo info = provider_.Info();
  EXPECT_EQ(info.name, "jemalloc");
  EXPECT_EQ(info.version, "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c");
  EXPECT_TRUE(info.profiling_supported);
  EXPECT_TRUE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, 524288u);
}

TEST_F(JemallocProviderTest, InfoWithProfilingBuiltInButOff) {
  state_.keys["opt.prof"] = Value<bool>(false);
  const AllocatorInfo info = provider_.Info();
  EXPECT_TRUE(info.profiling_supported);
  EXPECT_FALSE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, std::nullopt);
}

TEST_F(JemallocProviderTest, InfoWithProfilingPaused) {
  state_.keys["prof.active"] = Value<bool>(false);  // opt.prof on, prof.active switched off at run time
  const AllocatorInfo info = provider_.Info();
  EXPECT_TRUE(info.profiling_supported);
  EXPECT_FALSE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, std::nullopt);
}

TEST_F(JemallocProviderTest, InfoWithoutProfilingBuiltIn) {
  state_.keys["config.prof"] = Value<bool>(false);
  state_.keys.erase("prof.active");  // jemalloc answers ENOENT for prof.* without config.prof
  const AllocatorInfo info = provider_.Info();
  EXPECT_FALSE(info.profiling_supported);
  EXPECT_FALSE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, std::nullopt);
}

TEST_F(JemallocProviderTest, InfoKeepsWhatItCouldReadWhenAKeyFails) {
  state_.keys["version"] = Failing(EPERM);
  state_.keys["opt.lg_prof_sample"] = Value<size_t>(64);  // no shift jemalloc would accept
  const AllocatorInfo info = provider_.Info();
  EXPECT_EQ(info.name, "jemalloc");
  EXPECT_EQ(info.version, "");
  EXPECT_TRUE(info.profiling_supported);
  EXPECT_TRUE(info.profiling_active);
  EXPECT_EQ(info.profiling_sample_bytes, std::nullopt);
  // A second call (the slow period) behaves the same; the problem is logged only once.
  EXPECT_EQ(provider_.Info().version, "");
}

TEST_F(JemallocProviderTest, ABoolByteOtherThanOneStillCountsAsTrue) {
  Key stray;
  stray.bytes = {2};
  state_.keys["config.prof"] = stray;
  EXPECT_TRUE(provider_.Info().profiling_supported);
}

TEST_F(JemallocProviderTest, ANullVersionStringIsEmpty) {
  state_.keys["version"] = Value<const char*>(nullptr);
  EXPECT_EQ(provider_.Info().version, "");
}

TEST(JemallocProviderFind, NeedsMallctl) {
  using allocator_test::FakeProcess;
  EXPECT_EQ(JemallocProvider::Find(FakeProcess().Lookup()), nullptr);
  EXPECT_NE(JemallocProvider::Find(FakeProcess().Add("mallctl", FakeMallctl, 1).Lookup()), nullptr);
  EXPECT_EQ(JemallocProvider::Find(SymbolLookup{nullptr, nullptr, nullptr}), nullptr);
}

}  // namespace
}  // namespace leakwatch::internal

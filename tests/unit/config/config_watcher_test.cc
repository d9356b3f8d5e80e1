// ConfigWatcher: a changed file is reported once, with its text; unchanged files cost one stat per period.
#include "agent/config/config_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace leakwatch::internal {
namespace {

using std::chrono::seconds;

class WatchedFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/leakwatch-watch-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yml";
    Write("period: 1s\n");
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void Write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  void Replace(const std::string& text) {
    std::ofstream(path_ + ".tmp") << text;
    std::filesystem::rename(path_ + ".tmp", path_);
  }
  std::string path_;
  ConfigWatcher::TimePoint t0_{std::chrono::hours(1)};
};

TEST_F(WatchedFile, UnchangedFileIsNeverReported) {
  ConfigWatcher w(path_, seconds(5));
  w.MarkLoaded();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(w.Poll(t0_ + seconds(i * 10)).has_value());
}

TEST_F(WatchedFile, ReplacedFileIsReportedOnceWithItsText) {
  ConfigWatcher w(path_, seconds(5));
  w.MarkLoaded();
  EXPECT_FALSE(w.Poll(t0_).has_value());
  Replace("period: 2s\n");
  EXPECT_FALSE(w.Poll(t0_ + seconds(1)).has_value()) << "checked before the period elapsed";
  const auto changed = w.Poll(t0_ + seconds(5));
  ASSERT_TRUE(changed.has_value());
  ASSERT_TRUE(changed->ok());
  EXPECT_EQ(changed->value(), "period: 2s\n");
  EXPECT_FALSE(w.Poll(t0_ + seconds(10)).has_value());
}

TEST_F(WatchedFile, RewriteInPlaceWithAnotherSizeIsReported) {
  ConfigWatcher w(path_, seconds(1));
  w.MarkLoaded();
  Write("period: 10s\n");
  const auto changed = w.Poll(t0_);
  ASSERT_TRUE(changed.has_value());
  EXPECT_EQ(changed->value(), "period: 10s\n");
}

TEST_F(WatchedFile, DisappearingFileIsAnErrorReportedOnceThenItsReturn) {
  ConfigWatcher w(path_, seconds(1));
  w.MarkLoaded();
  std::filesystem::remove(path_);
  const auto gone = w.Poll(t0_);
  ASSERT_TRUE(gone.has_value());
  ASSERT_FALSE(gone->ok());
  EXPECT_NE(gone->error().message.find(path_), std::string::npos);
  EXPECT_FALSE(w.Poll(t0_ + seconds(1)).has_value());
  Write("period: 3s\n");
  const auto back = w.Poll(t0_ + seconds(2));
  ASSERT_TRUE(back.has_value() && back->ok());
  EXPECT_EQ(back->value(), "period: 3s\n");
}

TEST_F(WatchedFile, PeriodZeroNeverChecks) {
  ConfigWatcher w(path_, seconds(0));
  w.MarkLoaded();
  Replace("period: 2s\n");
  EXPECT_FALSE(w.Poll(t0_ + seconds(100)).has_value());
}

}  // namespace
}  // namespace leakwatch::internal

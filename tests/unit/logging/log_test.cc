#include "agent/logging/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace leakwatch::internal {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    ASSERT_TRUE(ConfigureLogging(LogSettings{}).ok());
    std::remove(path_.c_str());
  }
  std::string path_ = ::testing::TempDir() + "leakwatch-log-test-" + std::to_string(::getpid()) + ".log";
};

TEST_F(LogTest, JsonLinesEscapeQuotesBackslashesAndNewlines) {
  ASSERT_TRUE(ConfigureLogging(LogSettings{.level = "info", .sink = "file:" + path_, .json = true}).ok());
  Log()->warn("path \"{}\" failed:\n{}", "/a\\b", "x\ty");
  Log()->debug("below the level");
  Log()->flush();
  const std::string text = ReadAll(path_);
  EXPECT_NE(text.find(R"("level":"warning","logger":"leakwatch")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("msg":"path \"/a\\b\" failed:\nx\ty"})"), std::string::npos) << text;
  EXPECT_EQ(text.find("below the level"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

TEST_F(LogTest, TextFormatNamesTheLogger) {
  ASSERT_TRUE(ConfigureLogging(LogSettings{.level = "debug", .sink = "file:" + path_}).ok());
  Log()->debug("hello {}", 42);
  Log()->flush();
  EXPECT_NE(ReadAll(path_).find("debug [leakwatch] hello 42"), std::string::npos);
}

TEST_F(LogTest, BadSettingsAreRejectedAndKeepTheOldLogger) {
  auto before = Log();
  auto st = ConfigureLogging(LogSettings{.level = "loud"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("\"loud\""), std::string::npos);
  st = ConfigureLogging(LogSettings{.sink = "syslog"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("\"syslog\""), std::string::npos);
  st = ConfigureLogging(LogSettings{.sink = "file:/dev/null/leakwatch.log"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(Log(), before);
}

}  // namespace
}  // namespace leakwatch::internal

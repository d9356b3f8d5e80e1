#include "agent/logging/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
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

TEST_F(LogTest, StructuredEventIsTopLevelJsonMembers) {
  ASSERT_TRUE(ConfigureLogging(LogSettings{.level = "info", .sink = "file:" + path_, .json = true}).ok());
  LogEvent(spdlog::level::err, "rule_transition",
           {{"rule", std::string_view("memory \"ttl\"")},
            {"value", 571.25},
            {"absent", std::monostate{}},
            {"fired_total", int64_t{3}},
            {"retrigger", true},
            {"inf", std::numeric_limits<double>::infinity()}});
  LogEvent(spdlog::level::debug, "below_the_level", {});
  Log()->flush();
  const std::string text = ReadAll(path_);
  const auto json = nlohmann::json::parse(text);  // one valid JSON object
  EXPECT_EQ(json["level"], "error");
  EXPECT_EQ(json["msg"], "rule_transition");
  EXPECT_EQ(json["rule"], "memory \"ttl\"");
  EXPECT_EQ(json["value"], 571.25);
  EXPECT_EQ(json["fired_total"], 3);
  EXPECT_EQ(json["retrigger"], true);
  EXPECT_EQ(json["inf"], "+Inf");
  EXPECT_FALSE(json.contains("absent"));
}

TEST_F(LogTest, StructuredEventInTextModeIsLogfmt) {
  ASSERT_TRUE(ConfigureLogging(LogSettings{.level = "info", .sink = "file:" + path_}).ok());
  LogEvent(spdlog::level::warn, "rule_action",
           {{"rule", std::string_view("fd_leak")},
            {"description", std::string_view("firing: value 3 > 2")},
            {"value", 3.0},
            {"absent", std::monostate{}}});
  Log()->flush();
  EXPECT_NE(
      ReadAll(path_).find("warning [leakwatch] rule_action rule=fd_leak description=\"firing: value 3 > 2\" "
                          "value=3\n"),
      std::string::npos)
      << ReadAll(path_);
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

#include "agent/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace leakwatch::internal {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, AcceptsUnitsAndRejectsJunk) {
  EXPECT_EQ(ParseDuration("250ms"), 250ms);
  EXPECT_EQ(ParseDuration("1s"), 1000ms);
  EXPECT_EQ(ParseDuration("1.5s"), 1500ms);
  EXPECT_EQ(ParseDuration("2m"), 120000ms);
  EXPECT_EQ(ParseDuration("1h"), 3600000ms);
  EXPECT_EQ(ParseDuration("0"), 0ms);
  EXPECT_FALSE(ParseDuration(""));
  EXPECT_FALSE(ParseDuration("10"));
  EXPECT_FALSE(ParseDuration("-1s"));
  EXPECT_FALSE(ParseDuration("1d"));
  EXPECT_FALSE(ParseDuration("s"));
}

TEST(ParseListen, Accepts) {
  struct Case {
    const char* in;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"127.0.0.1:9860", "127.0.0.1", 9860}, Case{":9860", "0.0.0.0", 9860},
                        Case{"0.0.0.0:0", "0.0.0.0", 0}, Case{"localhost:65535", "127.0.0.1", 65535},
                        Case{"10.1.2.3:1", "10.1.2.3", 1}}) {
    auto r = ParseListen(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message;
    EXPECT_FALSE(r->off);
    EXPECT_EQ(r->host, c.host) << c.in;
    EXPECT_EQ(r->port, c.port) << c.in;
  }
  EXPECT_TRUE(ParseListen("off")->off);
}

std::string ListenErrorOf(const std::string& listen) {
  auto r = ParseListen(listen);
  EXPECT_FALSE(r.ok()) << listen;
  return r.ok() ? "" : r.error().message;
}

TEST(ParseListen, RejectsWithPreciseErrors) {
  using ::testing::AllOf;
  using ::testing::HasSubstr;
  EXPECT_THAT(ListenErrorOf("[::1]:9860"),
              AllOf(HasSubstr("\"[::1]:9860\""), HasSubstr("IPv6 is not supported")));
  EXPECT_THAT(ListenErrorOf("::1:9860"), HasSubstr("IPv6 is not supported"));
  EXPECT_THAT(ListenErrorOf("9860"), AllOf(HasSubstr("\"9860\""), HasSubstr("host:port")));
  EXPECT_THAT(ListenErrorOf("example.com:9860"),
              AllOf(HasSubstr("\"example.com\""), HasSubstr("not an IPv4")));
  EXPECT_THAT(ListenErrorOf("1.2.3:80"), HasSubstr("not an IPv4"));
  EXPECT_THAT(ListenErrorOf("127.0.0.256:9860"), HasSubstr("not an IPv4"));
  EXPECT_THAT(ListenErrorOf("127.0.0.1:65536"), AllOf(HasSubstr("\"65536\""), HasSubstr("0..65535")));
  EXPECT_THAT(ListenErrorOf("127.0.0.1:"), HasSubstr("0..65535"));
  EXPECT_THAT(ListenErrorOf("127.0.0.1:-1"), HasSubstr("0..65535"));
  EXPECT_THAT(ListenErrorOf("127.0.0.1:9860s"), HasSubstr("\"9860s\""));
  EXPECT_THAT(ListenErrorOf("127.0.0.1:99999999999999999999"), HasSubstr("0..65535"));
}

TEST(ApplyConfigText, SetsEveryField) {
  AgentOptions o;
  const auto st = ApplyConfigText(R"(
period: 500ms
slow_period: 30s
smaps_rollup: false
fd_types: false
fd_scan_limit: 123
history_budget_bytes: 1048576
http:
  listen: 127.0.0.1:0
  metrics_path: /m
  request_timeout: 2s
  threads: 3
allocator:
  period: 5s
  glibc_mallinfo: true
  glibc_mallinfo_period: 2m
  glibc_mallinfo_budget: 20ms
  glibc_mallinfo_max_period: 30m
log:
  level: debug
  sink: "off"
  json: true
)",
                                  "agent.yml", &o);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(o.period, 500ms);
  EXPECT_EQ(o.slow_period, 30000ms);
  EXPECT_FALSE(o.smaps_rollup);
  EXPECT_FALSE(o.fd_types);
  EXPECT_EQ(o.fd_scan_limit, 123u);
  EXPECT_EQ(o.history_budget_bytes, 1048576u);
  EXPECT_EQ(o.http.listen, "127.0.0.1:0");
  EXPECT_EQ(o.http.metrics_path, "/m");
  EXPECT_EQ(o.http.request_timeout_ms, 2000);
  EXPECT_EQ(o.http.threads, 3);
  EXPECT_EQ(o.allocator.period, 5000ms);
  EXPECT_TRUE(o.allocator.glibc_mallinfo);
  EXPECT_EQ(o.allocator.glibc_mallinfo_period, 120000ms);
  EXPECT_EQ(o.allocator.glibc_mallinfo_budget, 20ms);
  EXPECT_EQ(o.allocator.glibc_mallinfo_max_period, 1800000ms);
  EXPECT_EQ(o.log.level, "debug");
  EXPECT_EQ(o.log.sink, "off");
  EXPECT_TRUE(o.log.json);
  EXPECT_TRUE(ValidateOptions(o).ok());
}

TEST(ApplyConfigText, ReportsEveryErrorWithFileLineFieldAndValue) {
  AgentOptions o;
  const auto st =
      ApplyConfigText("period: soon\nhttp:\n  threads: many\n  lissten: x\nbogus: 1\n", "a.yml", &o);
  ASSERT_FALSE(st.ok());
  const auto& m = st.error().message;
  EXPECT_NE(m.find("a.yml:1:9: period: value \"soon\" is not a duration"), std::string::npos) << m;
  EXPECT_NE(m.find("a.yml:3:12: http.threads: value \"many\""), std::string::npos) << m;
  EXPECT_NE(m.find("a.yml:4:3: http.lissten: unknown key"), std::string::npos) << m;
  EXPECT_NE(m.find("a.yml:5:1: bogus: unknown key"), std::string::npos) << m;
}

TEST(ApplyConfigText, InvalidYamlNamesThePosition) {
  AgentOptions o;
  const auto st = ApplyConfigText("period: [1s\n", "b.yml", &o);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message.rfind("b.yml:", 0), 0u) << st.error().message;
}

TEST(ApplyConfigText, EmptyFileChangesNothing) {
  AgentOptions o;
  EXPECT_TRUE(ApplyConfigText("", "e.yml", &o).ok());
  EXPECT_EQ(o.period, 1000ms);
}

TEST(ApplyEnvironment, ListenOverridesAndMissingConfigFileIsAnError) {
  std::map<std::string, std::string> env{{"LEAKWATCH_LISTEN", "127.0.0.1:1234"}};
  auto lookup = [&](const char* n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  AgentOptions o;
  ASSERT_TRUE(ApplyEnvironment(lookup, &o).ok());
  EXPECT_EQ(o.http.listen, "127.0.0.1:1234");

  env["LEAKWATCH_LISTEN"] = "nonsense";
  env["LEAKWATCH_CONFIG"] = "/nonexistent/leakwatch.yml";
  const auto st = ApplyEnvironment(lookup, &o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("LEAKWATCH_CONFIG: cannot read config file /nonexistent/leakwatch.yml"),
            std::string::npos)
      << st.error().message;
  EXPECT_NE(st.error().message.find("LEAKWATCH_LISTEN: listen address \"nonsense\""), std::string::npos)
      << st.error().message;
}

TEST(ValidateOptions, ReportsAllProblemsAtOnce) {
  AgentOptions o;
  o.period = 50ms;
  o.http.threads = 0;
  o.log.level = "loud";
  const auto st = ValidateOptions(o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("period: 50ms is outside 100ms .. 60s"), std::string::npos);
  EXPECT_NE(st.error().message.find("http.threads: 0"), std::string::npos);
  EXPECT_NE(st.error().message.find("log.level: \"loud\""), std::string::npos);
}

TEST(ValidateOptions, AllocatorOptionsAreCheckedWithTheirNames) {
  AgentOptions o;
  o.allocator.period = 200ms;  // below the 1 s period
  o.allocator.glibc_mallinfo_budget = 0ms;
  o.allocator.glibc_mallinfo_max_period = 1000ms;  // below glibc_mallinfo_period (60 s)
  const auto st = ValidateOptions(o);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(
      st.error().message,
      ::testing::AllOf(::testing::HasSubstr("allocator.period: 200ms must be 0 (every tick) or between"),
                       ::testing::HasSubstr("allocator.glibc_mallinfo_budget: 0ms is outside 1ms .. 10s"),
                       ::testing::HasSubstr("allocator.glibc_mallinfo_max_period: 1000ms must be between")));
}

TEST(ValidateOptions, SlowPeriodZeroIsRejectedWithTheWayToTurnTheScansOff) {
  AgentOptions o;
  o.slow_period = 0ms;
  const auto st = ValidateOptions(o);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(
      st.error().message,
      ::testing::AllOf(::testing::HasSubstr("slow_period: 0ms must be between the period (1000ms) and 1h"),
                       ::testing::HasSubstr("smaps_rollup: false")));
  o.slow_period = 500ms;  // below the period
  EXPECT_FALSE(ValidateOptions(o).ok());
  o.slow_period = 1000ms;
  EXPECT_TRUE(ValidateOptions(o).ok());
}

}  // namespace
}  // namespace leakwatch::internal

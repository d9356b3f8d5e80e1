#include "agent/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "agent/rules/rule_compiler.h"

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
  EXPECT_FALSE(ParseDuration("s"));
}

TEST(ParseDuration, AcceptsDays) {
  EXPECT_EQ(ParseDuration("1d"), 86400000ms);
  EXPECT_EQ(ParseDuration("1.5d"), 129600000ms);
  EXPECT_EQ(ParseDuration("0d"), 0ms);
  EXPECT_FALSE(ParseDuration("d"));
  EXPECT_FALSE(ParseDuration("1dd"));
  EXPECT_FALSE(ParseDuration("1 d"));
  EXPECT_FALSE(ParseDuration("-1d"));
  EXPECT_FALSE(ParseDuration("99999999999d"));  // beyond the 1e15 ms bound
}

TEST(ParseSize, NumbersAndSizes) {
  EXPECT_EQ(ParseSize("1000"), 1000);
  EXPECT_EQ(ParseSize("0.5"), 0.5);
  EXPECT_EQ(ParseSize("0"), 0);
  EXPECT_EQ(ParseSize("100B"), 100);
  EXPECT_EQ(ParseSize("2KiB"), 2048);
  EXPECT_EQ(ParseSize("512MiB"), 512.0 * 1024 * 1024);
  EXPECT_EQ(ParseSize("1.5GiB"), 1.5 * 1024 * 1024 * 1024);
  EXPECT_EQ(ParseSize("1TiB"), 1024.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(ParseSize("100kB"), 100000);
  EXPECT_EQ(ParseSize("3MB"), 3e6);
  EXPECT_EQ(ParseSize("2GB"), 2e9);
  EXPECT_EQ(ParseSize("1TB"), 1e12);
  for (const char* bad : {"", "-1", "+1", "1e3", "1 MiB", "1mib", "1KB", "1K", "1M", "1Gi", "MiB", ".5",
                          "1.5.5GiB", "nan", "inf", "1MiB ", "5%", "0x10"}) {
    EXPECT_FALSE(ParseSize(bad)) << bad;
  }
}

TEST(ParsePercent, PercentagesOnly) {
  EXPECT_DOUBLE_EQ(*ParsePercent("85%"), 0.85);
  EXPECT_DOUBLE_EQ(*ParsePercent("2.5%"), 0.025);
  EXPECT_EQ(ParsePercent("0%"), 0);
  EXPECT_DOUBLE_EQ(*ParsePercent("150%"), 1.5);
  for (const char* bad : {"", "%", "85", "-5%", "85 %", "85%%", "0.85", "1e2%"}) {
    EXPECT_FALSE(ParsePercent(bad)) << bad;
  }
}

TEST(ParseRate, UnitsPerSecond) {
  EXPECT_DOUBLE_EQ(*ParseRate("1MiB/min"), 1024.0 * 1024 / 60);
  EXPECT_DOUBLE_EQ(*ParseRate("1MiB/m"), 1024.0 * 1024 / 60);
  EXPECT_EQ(ParseRate("10/s"), 10);
  EXPECT_DOUBLE_EQ(*ParseRate("500kB/h"), 500000.0 / 3600);
  EXPECT_DOUBLE_EQ(*ParseRate("0.5/s"), 0.5);
  for (const char* bad : {"", "1MiB", "10", "/s", "1MiB/", "1MiB/d", "1MiB/sec", "1MiB/min/s", "-1/s",
                          "1 MiB/s", "1MiB / s", "5%/s"}) {
    EXPECT_FALSE(ParseRate(bad)) << bad;
  }
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

// The example of the rules format in config.h, every key once.
constexpr const char* kFullRulesExample = R"(period: 1s
default_rules: true
rules:
  - name: rss_near_limit
    kind: threshold
    signal: cgroup_memory_working_set_bytes
    severity: critical
    enabled: true
    limit: auto
    above: 85%
    for: 30s
    clear_after: 1m
    hysteresis: 5%
    warmup: 2m
    actions: [log]
    cooldown: 10m
    max_actions: 3
    actions_window: 1h
  - name: rss_growth
    kind: growth
    signal: rss_bytes
    window: 5m
    rate: 1MiB/min
    increase: 15%
    min_coverage: 50%
  - name: threads_burst
    kind: spike
    signal: threads
    window: 2m
    baseline: mean
    baseline_includes_current: true
    factor: 3
    min_increase: 20
    floor: 50
  - name: fds_ttl
    kind: time_to_limit
    signal: open_fds
    limit: max_fds
    horizon: 10m
    min_coverage: 0.75
  - name: heap_peak
    kind: high_water
    signal: heap_bytes
    step: 64MiB
    warmup: 1d
)";

RulesOptions ParseRules(const std::string& text, RulesOptions rules = {}) {
  const auto st = ApplyRulesConfigText(text, "r.yml", &rules);
  EXPECT_TRUE(st.ok()) << st.error().message;
  return rules;
}

std::string RulesErrorOf(const std::string& text) {
  RulesOptions rules;
  const auto st = ApplyRulesConfigText(text, "r.yml", &rules);
  EXPECT_FALSE(st.ok()) << text;
  return st.ok() ? "" : st.error().message;
}

TEST(ApplyRulesConfigText, ParsesEveryKeyOfTheExampleAndItCompiles) {
  const RulesOptions o = ParseRules(kFullRulesExample);
  EXPECT_TRUE(o.defaults);
  ASSERT_EQ(o.rules.size(), 5u);

  const RuleSpec& t = o.rules[0];
  EXPECT_EQ(t.name, "rss_near_limit");
  EXPECT_EQ(t.origin, "r.yml:4:5");
  EXPECT_EQ(t.kind, RuleKind::kThreshold);
  EXPECT_EQ(t.signal, Signal::kCgroupMemoryWorkingSetBytes);
  EXPECT_EQ(t.severity, Severity::kCritical);
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.limit.source, LimitSource::kAuto);
  EXPECT_DOUBLE_EQ(*t.above_limit_ratio, 0.85);
  EXPECT_FALSE(t.above);
  EXPECT_EQ(t.hold, 30s);
  EXPECT_EQ(t.clear_after, 1min);
  EXPECT_DOUBLE_EQ(t.hysteresis, 0.05);
  EXPECT_EQ(t.warmup, 2min);
  EXPECT_EQ(t.actions, std::vector<std::string>{"log"});
  EXPECT_EQ(t.cooldown, 10min);
  EXPECT_EQ(t.max_actions, 3u);
  EXPECT_EQ(t.actions_window, 1h);

  const RuleSpec& g = o.rules[1];
  EXPECT_EQ(g.origin, "r.yml:19:5");
  EXPECT_EQ(g.kind, RuleKind::kGrowth);
  EXPECT_EQ(g.signal, Signal::kResidentMemoryBytes);
  EXPECT_EQ(g.severity, Severity::kWarning);
  EXPECT_EQ(g.window, 5min);
  EXPECT_DOUBLE_EQ(*g.rate, 1024.0 * 1024 / 60);
  EXPECT_DOUBLE_EQ(*g.increase, 0.15);
  EXPECT_DOUBLE_EQ(g.min_coverage, 0.5);
  EXPECT_EQ(g.warmup, -1ms);  // left to the kind default

  const RuleSpec& s = o.rules[2];
  EXPECT_EQ(s.kind, RuleKind::kSpike);
  EXPECT_EQ(s.baseline, BaselineKind::kMean);
  EXPECT_TRUE(s.baseline_includes_current);
  EXPECT_EQ(s.factor, 3);
  EXPECT_EQ(s.min_increase, 20);
  EXPECT_EQ(s.floor, 50);

  const RuleSpec& f = o.rules[3];
  EXPECT_EQ(f.kind, RuleKind::kTimeToLimit);
  EXPECT_EQ(f.limit.source, LimitSource::kSignal);
  EXPECT_EQ(f.limit.signal, Signal::kMaxFds);
  EXPECT_EQ(f.horizon, 10min);
  EXPECT_DOUBLE_EQ(f.min_coverage, 0.75);

  const RuleSpec& h = o.rules[4];
  EXPECT_EQ(h.kind, RuleKind::kHighWater);
  EXPECT_EQ(h.step, 64.0 * 1024 * 1024);
  EXPECT_FALSE(h.step_ratio);
  EXPECT_EQ(h.warmup, 24h);

  const auto compiled = CompileRules(o, KnownActionNames());
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
  EXPECT_EQ(compiled->rules.size(), DefaultRules().size() + 5);
}

TEST(ApplyRulesConfigText, ValueForms) {
  const RulesOptions o = ParseRules(R"(
default_rules: false
rules:
  - {name: a, above: 2GiB, limit: none, step: 10%, increase: 0.2, hysteresis: 0}
  - {name: b, above: 1000, limit: 1000, step: 5}
  - {name: c, limit: 1.5GiB, above: 150%}
  - {name: d, actions: [], enabled: false, max_actions: 0, rate: 5/s}
)");
  EXPECT_FALSE(o.defaults);
  ASSERT_EQ(o.rules.size(), 4u);
  EXPECT_EQ(o.rules[0].above, 2.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(o.rules[0].limit.source, LimitSource::kNone);
  EXPECT_DOUBLE_EQ(*o.rules[0].step_ratio, 0.1);
  EXPECT_DOUBLE_EQ(*o.rules[0].increase, 0.2);
  EXPECT_EQ(o.rules[0].hysteresis, 0);
  EXPECT_EQ(o.rules[0].origin, "r.yml:4:5");
  EXPECT_EQ(o.rules[1].above, 1000);
  EXPECT_EQ(o.rules[1].limit.source, LimitSource::kValue);
  EXPECT_EQ(o.rules[1].limit.value, 1000);
  EXPECT_EQ(o.rules[1].step, 5);
  EXPECT_EQ(o.rules[2].limit.value, 1.5 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*o.rules[2].above_limit_ratio, 1.5);
  EXPECT_TRUE(o.rules[3].actions.empty());
  EXPECT_FALSE(o.rules[3].enabled);
  EXPECT_EQ(o.rules[3].max_actions, 0u);
  EXPECT_EQ(o.rules[3].rate, 5);
}

TEST(ApplyRulesConfigText, RulesReplaceTheListAndOtherKeysAreIgnored) {
  RulesOptions start;
  start.rules.push_back(RuleSpec{});
  start.rules.back().name = "from_program";
  // No rules key: the program's list stays; other keys (even invalid ones) are ApplyConfigText's business.
  RulesOptions o = ParseRules("period: soon\nhttp: {threads: many}\n", start);
  ASSERT_EQ(o.rules.size(), 1u);
  EXPECT_TRUE(o.defaults);
  o = ParseRules("rules:\n  - name: from_file\n", start);
  ASSERT_EQ(o.rules.size(), 1u);
  EXPECT_EQ(o.rules[0].name, "from_file");
  o = ParseRules("rules:\n", start);  // every entry commented out
  EXPECT_TRUE(o.rules.empty());
  o = ParseRules("", start);
  EXPECT_EQ(o.rules.size(), 1u);
}

TEST(ApplyRulesConfigText, DisablingADefaultByNameCompiles) {
  const RulesOptions o = ParseRules("rules:\n  - name: memory_growth\n    enabled: false\n");
  const auto compiled = CompileRules(o, KnownActionNames());
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
  ASSERT_EQ(compiled->rules.size(), DefaultRules().size());
  EXPECT_EQ(compiled->rules[3]->name, "memory_growth");
  EXPECT_FALSE(compiled->rules[3]->enabled);
  EXPECT_EQ(compiled->rules[3]->origin, "r.yml:2:5");
}

TEST(ApplyRulesConfigText, EachBadValueNamesPositionPathRuleValueAndExample) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"rules:\n  - name: x\n    above: lots\n",
       "r.yml:3:12: rules[0].above (rule \"x\"): value \"lots\" is not a percentage of the limit like 85%, "
       "or a "
       "number or size like 1000 or 2GiB"},
      {"rules:\n  - name: x\n    above: 1.5 GiB\n", "rules[0].above (rule \"x\"): value \"1.5 GiB\""},
      {"rules:\n  - name: x\n    above: -5\n", "value \"-5\" is not a percentage"},
      {"rules:\n  - name: x\n    above: 1e9\n", "value \"1e9\" is not a percentage"},
      {"rules:\n  - name: x\n    kind: slope\n",
       "r.yml:3:11: rules[0].kind (rule \"x\"): value \"slope\" is not one of threshold, growth, spike, "
       "time_to_limit, high_water"},
      {"rules:\n  - name: x\n    signal: rss\n",
       "rules[0].signal (rule \"x\"): value \"rss\" is not a signal key (one of: rss_bytes, "},
      {"rules:\n  - name: x\n    severity: page\n", "value \"page\" is not one of warning, critical"},
      {"rules:\n  - name: x\n    enabled: yes\n",
       "rules[0].enabled (rule \"x\"): value \"yes\" is not true or false"},
      {"rules:\n  - name: x\n    limit: 2Gi\n",
       "rules[0].limit (rule \"x\"): value \"2Gi\" is not auto, none, a signal key (e.g. "
       "cgroup_memory_limit_bytes) "
       "or a number or size (e.g. 2GiB)"},
      {"rules:\n  - name: x\n    limit: 85%\n", "value \"85%\" is not auto, none"},
      {"rules:\n  - name: x\n    window: 5 minutes\n",
       "rules[0].window (rule \"x\"): value \"5 minutes\" is not a duration like 500ms, 30s, 5m, 1h or 1d"},
      {"rules:\n  - name: x\n    rate: 1MiB\n",
       "rules[0].rate (rule \"x\"): value \"1MiB\" is not a rate like 1MiB/min, 10/s or 500kB/h"},
      {"rules:\n  - name: x\n    increase: 15 percent\n",
       "rules[0].increase (rule \"x\"): value \"15 percent\" is not a percentage like 15% or a fraction like "
       "0.15"},
      {"rules:\n  - name: x\n    increase: 1MiB\n", "value \"1MiB\" is not a percentage like 15%"},
      {"rules:\n  - name: x\n    min_coverage: half\n", "rules[0].min_coverage (rule \"x\"): value \"half\""},
      {"rules:\n  - name: x\n    baseline: mode\n", "value \"mode\" is not one of median, mean"},
      {"rules:\n  - name: x\n    baseline_includes_current: 1\n", "value \"1\" is not true or false"},
      {"rules:\n  - name: x\n    factor: 3x\n",
       "rules[0].factor (rule \"x\"): value \"3x\" is not a number like 3"},
      {"rules:\n  - name: x\n    factor: 10%\n", "value \"10%\" is not a number like 3"},
      {"rules:\n  - name: x\n    min_increase: 20 threads\n",
       "rules[0].min_increase (rule \"x\"): value \"20 threads\" is not a number or size like 1000, 0.5, "
       "512MiB"},
      {"rules:\n  - name: x\n    floor: 50%\n",
       "rules[0].floor (rule \"x\"): value \"50%\" is not a number or size"},
      {"rules:\n  - name: x\n    horizon: soon\n",
       "rules[0].horizon (rule \"x\"): value \"soon\" is not a duration"},
      {"rules:\n  - name: x\n    step: big\n",
       "rules[0].step (rule \"x\"): value \"big\" is not a number or size like 64MiB, or a percentage"},
      {"rules:\n  - name: x\n    for: 30\n", "rules[0].for (rule \"x\"): value \"30\" is not a duration"},
      {"rules:\n  - name: x\n    clear_after: 1w\n", "rules[0].clear_after (rule \"x\"): value \"1w\""},
      {"rules:\n  - name: x\n    hysteresis: a bit\n",
       "rules[0].hysteresis (rule \"x\"): value \"a bit\" is not a percentage like 5% or a fraction like "
       "0.05"},
      {"rules:\n  - name: x\n    warmup: -1s\n", "rules[0].warmup (rule \"x\"): value \"-1s\""},
      {"rules:\n  - name: x\n    actions: log\n",
       "r.yml:3:14: rules[0].actions (rule \"x\"): expected a list of action names like [log] ([] for none), "
       "got "
       "\"log\""},
      {"rules:\n  - name: x\n    actions: [log, {a: 1}]\n",
       "rules[0].actions[1] (rule \"x\"): expected an action name like log, got a map"},
      {"rules:\n  - name: x\n    cooldown: 10 min\n", "rules[0].cooldown (rule \"x\"): value \"10 min\""},
      {"rules:\n  - name: x\n    max_actions: -1\n",
       "rules[0].max_actions (rule \"x\"): value \"-1\" is not an integer in 0 .. 4294967295 like 3"},
      {"rules:\n  - name: x\n    max_actions: 4294967296\n", "value \"4294967296\" is not an integer"},
      {"rules:\n  - name: x\n    actions_window: []\n",
       "rules[0].actions_window (rule \"x\"): value a list is not a duration"},
      {"rules:\n  - name: x\n    horizon:\n",
       "rules[0].horizon (rule \"x\"): value nothing is not a duration"},
      {"rules:\n  - name: x\n    hold: 30s\n",
       "r.yml:3:5: rules[0].hold (rule \"x\"): unknown key (expected one of: above, actions, actions_window, "
       "baseline, baseline_includes_current, clear_after, cooldown, enabled, factor, floor, for, horizon, "
       "hysteresis, increase, kind, limit, max_actions, min_coverage, min_increase, name, rate, severity, "
       "signal, step, "
       "warmup, window)"},
      {"rules:\n  - kind: growth\n", "r.yml:2:5: rules[0].name: missing; every rule needs a name"},
      {"rules:\n  - name: [a]\n", "rules[0].name: expected a name like rss_near_limit, got a list"},
      {"rules:\n  name: x\n",
       "r.yml:2:3: rules: expected a list of rules (each a map like - name: rss_high), got a map"},
      {"rules: x\n", "rules: expected a list of rules"},
      {"rules:\n  - x\n",
       "r.yml:2:5: rules[0]: expected a map of rule settings (name, kind, signal, ...), got \"x\""},
      {"default_rules: no\n", "r.yml:1:16: default_rules: value \"no\" is not true or false"},
      {"- a\n", "r.yml:1:1: (top level): expected a map of settings, got a list"},
      {"rules: [\n", "r.yml:"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(RulesErrorOf(c.yaml), ::testing::HasSubstr(c.expected)) << c.yaml;
  }
}

TEST(ApplyRulesConfigText, ReportsEveryErrorAtOnceAndLeavesRulesUnchanged) {
  RulesOptions rules;
  rules.defaults = true;
  const auto st = ApplyRulesConfigText(R"(default_rules: false
rules:
  - name: one
    above: lots
    colour: red
  - 42
  - name: three
    window: forever
)",
                                       "r.yml", &rules);
  ASSERT_FALSE(st.ok());
  const std::string& m = st.error().message;
  EXPECT_THAT(m,
              ::testing::AllOf(::testing::HasSubstr("r.yml:4:12: rules[0].above (rule \"one\")"),
                               ::testing::HasSubstr("r.yml:5:5: rules[0].colour (rule \"one\"): unknown key"),
                               ::testing::HasSubstr("r.yml:6:5: rules[1]: expected a map"),
                               ::testing::HasSubstr("r.yml:8:13: rules[2].window (rule \"three\")")));
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 3) << m;
  EXPECT_TRUE(rules.defaults);
  EXPECT_TRUE(rules.rules.empty());
}

TEST(ApplyConfigText, ReadsTheRulesIntoTheAgentOptions) {
  AgentOptions o;
  const auto st = ApplyConfigText(kFullRulesExample, "agent.yml", &o);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_FALSE(o.rules.rules.empty());
  EXPECT_EQ(o.rules.rules[0].name, "rss_near_limit");
  const auto bad =
      ApplyConfigText("rules: 5\ndefault_rules: maybe\nconfig_check_period: soon\n", "agent.yml", &o);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message,
              ::testing::AllOf(::testing::HasSubstr("agent.yml:1:8: rules: expected a list"),
                               ::testing::HasSubstr("agent.yml:2:16: default_rules"),
                               ::testing::HasSubstr("agent.yml:3:22: config_check_period")));
}

TEST(ApplyEnvironment, PeriodAndLogLevel) {
  const std::string path = ::testing::TempDir() + "/leakwatch_env_test.yml";
  {
    std::ofstream f(path);
    f << "period: 2s\nlog:\n  level: warn\n";
  }
  std::map<std::string, std::string> env{{"LEAKWATCH_CONFIG", path}};
  auto lookup = [&](const char* n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  AgentOptions o;
  ASSERT_TRUE(ApplyEnvironment(lookup, &o).ok());
  EXPECT_EQ(o.period, 2s);
  EXPECT_EQ(o.log.level, "warn");

  // The variables win over the file; empty ones change nothing.
  env["LEAKWATCH_PERIOD"] = "500ms";
  env["LEAKWATCH_LOG_LEVEL"] = "debug";
  o = AgentOptions{};
  ASSERT_TRUE(ApplyEnvironment(lookup, &o).ok());
  EXPECT_EQ(o.period, 500ms);
  EXPECT_EQ(o.log.level, "debug");
  env["LEAKWATCH_PERIOD"] = "";
  env["LEAKWATCH_LOG_LEVEL"] = "";
  o = AgentOptions{};
  ASSERT_TRUE(ApplyEnvironment(lookup, &o).ok());
  EXPECT_EQ(o.period, 2s);
  EXPECT_EQ(o.log.level, "warn");
  std::remove(path.c_str());

  env = {{"LEAKWATCH_PERIOD", "fast"}, {"LEAKWATCH_LOG_LEVEL", "LOUD"}, {"LEAKWATCH_LISTEN", "127.0.0.1:1"}};
  o = AgentOptions{};
  const auto st = ApplyEnvironment(lookup, &o);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(
      st.error().message,
      ::testing::AllOf(::testing::HasSubstr("LEAKWATCH_PERIOD: value \"fast\" is not a duration like 500ms"),
                       ::testing::HasSubstr("LEAKWATCH_LOG_LEVEL: value \"LOUD\" is not one of trace, debug, "
                                            "info, warn, error, critical, off")));
  EXPECT_EQ(o.period, 1000ms);
  EXPECT_EQ(o.log.level, "info");
  EXPECT_EQ(o.http.listen, "127.0.0.1:1");  // the good variables still apply

  // A period in range for the parser but not for the agent is ValidateOptions's to reject.
  env = {{"LEAKWATCH_PERIOD", "2d"}};
  o = AgentOptions{};
  ASSERT_TRUE(ApplyEnvironment(lookup, &o).ok());
  EXPECT_THAT(ValidateOptions(o).error().message, ::testing::HasSubstr("period: 172800000ms is outside"));
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

namespace leakwatch::internal {
namespace {

const EnvLookup kNoEnv = [](const char*) -> std::optional<std::string> { return std::nullopt; };

TEST(ResolveConfig, CompileErrorsPointAtTheFieldsLineAndAllAreReported) {
  AgentOptions program;
  program.use_environment = false;
  program.config_file = "lw.yml";
  const std::string text =
      "rules:\n"
      "  - name: slow_window\n"
      "    kind: growth\n"
      "    signal: rss_bytes\n"
      "    increase: 10%\n"
      "    window: 5s\n"
      "  - name: no_horizon\n"
      "    kind: time_to_limit\n"
      "    signal: open_fds\n"
      "    limit: auto\n"
      "period: 10ms\n";
  const auto resolved = ResolveConfig(program, kNoEnv, text, KnownActionNames());
  ASSERT_FALSE(resolved.ok());
  const std::string& m = resolved.error().message;
  EXPECT_THAT(
      m, ::testing::HasSubstr("lw.yml:6:13: rule \"slow_window\": window: 5s must be between 10s and 24h"));
  EXPECT_THAT(m, ::testing::HasSubstr("lw.yml:7:5: rule \"no_horizon\": horizon: missing"));
  EXPECT_THAT(m, ::testing::HasSubstr("period: 10ms is outside 100ms .. 60s"));
}

TEST(ResolveConfig, EnvironmentOverridesTheFileAndTheFileOverridesTheProgram) {
  AgentOptions program;
  program.period = std::chrono::milliseconds(500);
  program.http.listen = "127.0.0.1:1";
  const std::map<std::string, std::string> env{{"LEAKWATCH_CONFIG", "from-env.yml"},
                                               {"LEAKWATCH_LISTEN", "127.0.0.1:2"}};
  const EnvLookup lookup = [&](const char* n) -> std::optional<std::string> {
    const auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  const auto resolved = ResolveConfig(
      program, lookup, std::string("period: 2s\nhttp:\n  listen: 127.0.0.1:3\n"), KnownActionNames());
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->options.config_file, "from-env.yml");
  EXPECT_EQ(resolved->options.period, std::chrono::seconds(2));
  EXPECT_EQ(resolved->options.http.listen, "127.0.0.1:2");
  EXPECT_EQ(resolved->rules.rules.size(), DefaultRules().size());
}

TEST(ApplyConfigText, BundleEgressCommandAndTimeout) {
  AgentOptions o;
  ASSERT_TRUE(ApplyConfigText("bundle:\n  egress:\n    command: [/usr/local/bin/ship, --bucket, x]\n"
                              "    timeout: 30s\n",
                              "e.yml", &o)
                  .ok());
  EXPECT_EQ(o.bundle.egress_command, (std::vector<std::string>{"/usr/local/bin/ship", "--bucket", "x"}));
  EXPECT_EQ(o.bundle.egress_timeout, 30s);
  EXPECT_TRUE(ValidateOptions(o).ok());

  const auto bad = ApplyConfigText("bundle:\n  egress:\n    command: ship\n    timeuot: 1s\n", "e.yml", &o);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message,
              ::testing::HasSubstr("e.yml:3:14: bundle.egress.command: expected a list"));
  EXPECT_THAT(bad.error().message, ::testing::HasSubstr("e.yml:4:5: bundle.egress.timeuot: unknown key"));
  o.bundle.egress_command = {"ship"};
  o.bundle.egress_timeout = 2h;
  const auto invalid = ValidateOptions(o);
  ASSERT_FALSE(invalid.ok());
  EXPECT_THAT(invalid.error().message,
              ::testing::HasSubstr("bundle.egress.command[0]: \"ship\" is not an absolute path"));
  EXPECT_THAT(invalid.error().message,
              ::testing::HasSubstr("bundle.egress.timeout: 7200000ms is outside 1s .. 1h"));
}

TEST(ResolveConfig, TheDebugTokenComesFromTheFileTheConfigOrTheEnvironmentNames) {
  char dir_template[] = "/tmp/leakwatch-token-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  const std::string good = write("good", "0123456789abcdef0123\n");
  const std::string from_env = write("env", "fedcba9876543210fedc");
  AgentOptions program;
  program.config_file = "lw.yml";  // its text is given below
  auto resolved =
      ResolveConfig(program, kNoEnv, "http:\n  debug_token_file: " + good + "\n", KnownActionNames());
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->options.http.debug_token, "0123456789abcdef0123");

  const EnvLookup env = [&](const char* n) -> std::optional<std::string> {
    if (std::string(n) == "LEAKWATCH_DEBUG_TOKEN_FILE") return from_env;
    return std::nullopt;
  };
  resolved = ResolveConfig(program, env, "http:\n  debug_token_file: " + good + "\n", KnownActionNames());
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->options.http.debug_token, "fedcba9876543210fedc");
  // A reload sees the variable as it was captured at start-up.
  EXPECT_EQ(CaptureEnvironment(env)("LEAKWATCH_DEBUG_TOKEN_FILE"), from_env);

  const std::string two_lines = write("two-lines", "0123456789abcdef\nsecond\n");
  resolved =
      ResolveConfig(program, kNoEnv, "http:\n  debug_token_file: " + two_lines + "\n", KnownActionNames());
  ASSERT_FALSE(resolved.ok());
  EXPECT_THAT(resolved.error().message,
              ::testing::HasSubstr("http.debug_token_file: \"" + two_lines +
                                   "\": the token's character 17 is not printable ASCII"));
  program.config_file.clear();
  program.http.debug_token = "short";
  resolved = ResolveConfig(program, kNoEnv, std::nullopt, KnownActionNames());
  ASSERT_FALSE(resolved.ok());
  EXPECT_THAT(resolved.error().message, ::testing::HasSubstr("http.debug_token: the token has 5 characters"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace leakwatch::internal

namespace leakwatch::internal {
namespace {

TEST(ApplyConfigText, HeapProfilerKeys) {
  AgentOptions o;
  const auto st = ApplyConfigText(R"(heap_profiler:
  enabled: false
  sampling_interval: 2MiB
  max_live_samples: 4096
  max_stacks: 1000
  require_token: true
  peak_growth: 25%
  peak_min_interval: 1m
)",
                                  "h.yml", &o);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_FALSE(o.heap_profiler.enabled);
  EXPECT_EQ(o.heap_profiler.sampling_interval_bytes, 2u << 20);
  EXPECT_EQ(o.heap_profiler.max_live_samples, 4096u);
  EXPECT_EQ(o.heap_profiler.max_stacks, 1000u);
  EXPECT_TRUE(o.heap_profiler.require_token);
  EXPECT_DOUBLE_EQ(o.heap_profiler.peak_growth, 0.25);
  EXPECT_EQ(o.heap_profiler.peak_min_interval, std::chrono::minutes(1));
  ASSERT_TRUE(
      ApplyConfigText("heap_profiler: {peak_growth: 0.5, sampling_interval: low-overhead}", "h.yml", &o)
          .ok());
  EXPECT_EQ(o.heap_profiler.sampling_interval_bytes, 2u << 20);
  EXPECT_DOUBLE_EQ(o.heap_profiler.peak_growth, 0.5);
  EXPECT_TRUE(ValidateOptions(o).ok());
}

TEST(ApplyConfigText, HeapProfilerErrorsNameTheFieldAndValue) {
  AgentOptions o;
  const auto st = ApplyConfigText(R"(heap_profiler:
  sampling_interval: lots
  peak_growth: much
  sample_every: 1
)",
                                  "h.yml", &o);
  ASSERT_FALSE(st.ok());
  const std::string m = st.error().message;
  EXPECT_NE(m.find("h.yml:2:22: heap_profiler.sampling_interval: value \"lots\""), std::string::npos) << m;
  EXPECT_NE(m.find("heap_profiler.peak_growth: value \"much\""), std::string::npos) << m;
  EXPECT_NE(m.find("heap_profiler.sample_every: unknown key"), std::string::npos) << m;

  o = AgentOptions{};
  o.heap_profiler.sampling_interval_bytes = 0;
  o.heap_profiler.max_live_samples = 10;
  o.heap_profiler.max_stacks = 1;
  o.heap_profiler.peak_growth = -1;
  const auto v = ValidateOptions(o);
  ASSERT_FALSE(v.ok());
  for (const char* field :
       {"heap_profiler.sampling_interval: 0 is outside", "heap_profiler.max_live_samples: 10",
        "heap_profiler.max_stacks: 1 is outside", "heap_profiler.peak_growth"}) {
    EXPECT_NE(v.error().message.find(field), std::string::npos) << field << "\n" << v.error().message;
  }
}

TEST(ApplyEnvironment, HeapSamplerVariable) {
  std::map<std::string, std::string> env;
  auto lookup = [&](const char* n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  AgentOptions o;
  env["LEAKWATCH_HEAP_SAMPLER"] = "off";
  ASSERT_TRUE(ApplyEnvironmentVariables(lookup, &o).ok());
  EXPECT_FALSE(o.heap_profiler.enabled);
  env["LEAKWATCH_HEAP_SAMPLER"] = "2MiB";
  ASSERT_TRUE(ApplyEnvironmentVariables(lookup, &o).ok());
  EXPECT_TRUE(o.heap_profiler.enabled);
  EXPECT_EQ(o.heap_profiler.sampling_interval_bytes, 2u << 20);
  env["LEAKWATCH_HEAP_SAMPLER"] = "on";
  ASSERT_TRUE(ApplyEnvironmentVariables(lookup, &o).ok());
  EXPECT_EQ(o.heap_profiler.sampling_interval_bytes, 2u << 20) << "on keeps the interval";
  env["LEAKWATCH_HEAP_SAMPLER"] = "default";
  ASSERT_TRUE(ApplyEnvironmentVariables(lookup, &o).ok());
  EXPECT_EQ(o.heap_profiler.sampling_interval_bytes, 512u << 10);
  env["LEAKWATCH_HEAP_SAMPLER"] = "low-overhead";
  ASSERT_TRUE(ApplyEnvironmentVariables(lookup, &o).ok());
  EXPECT_EQ(o.heap_profiler.sampling_interval_bytes, 2u << 20);
  env["LEAKWATCH_HEAP_SAMPLER"] = "sometimes";
  const auto st = ApplyEnvironmentVariables(lookup, &o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(
                "LEAKWATCH_HEAP_SAMPLER: value \"sometimes\" is not off, on, default, low-overhead or a "
                "sampling interval"),
            std::string::npos)
      << st.error().message;
  env["LEAKWATCH_HEAP_SAMPLER"] = "2GiB";
  EXPECT_FALSE(ApplyEnvironmentVariables(lookup, &o).ok()) << "beyond 1GiB";
}

}  // namespace
}  // namespace leakwatch::internal

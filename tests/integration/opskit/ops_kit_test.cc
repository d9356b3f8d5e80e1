// The ops kit proven together, on 127.0.0.1: a real Prometheus (Debian's `prometheus`) loads
// deploy/prometheus/leakwatch-rules.yml and scrapes two leakwatch demos, each in a real 1 GiB memory cgroup;
// a real Alertmanager (Debian's `prometheus-alertmanager`) runs deploy/alertmanager/alertmanager.yml with its
// receivers pointed at a webhook sink in this test. One demo leaks: its memory alert must reach the pager
// receiver with the right labels and annotations. The other does not: nothing may fire for it meanwhile.
// Then every query of grafana/dashboards/leakwatch.json, with the dashboard's variables set, must return data
// from that Prometheus.
//
// What the test changes, and why: the alerts' `for` durations are divided by kForScale (5m -> 15s) and the
// routes' group_wait/group_interval are 1 s, so that minutes of production timing fit in a CI minute; the
// receivers are webhooks into the sink (no PagerDuty here). Expressions, thresholds, labels, annotations, the
// route tree and the inhibit rules are used as shipped.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/demo_harness.h"
#include "tests/integration/opskit/webhook_sink.h"
#include "tests/integration/scoped_cgroup.h"
#include "tests/support/free_port.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::integration {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kForScale = 20;
constexpr long long kLimitBytes = 1LL << 30;
const std::string kSourceDir = LEAKWATCH_SOURCE_DIR;
const std::string kRulesPath = kSourceDir + "/deploy/prometheus/leakwatch-rules.yml";
const std::string kAlertmanagerPath = kSourceDir + "/deploy/alertmanager/alertmanager.yml";
const std::string kDashboardPath = kSourceDir + "/grafana/dashboards/leakwatch.json";

// Why the ops-kit peers cannot run here, or nullopt.
std::optional<std::string> MissingPeers() {
  for (const char* tool : {"/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager"}) {
    if (::access(tool, X_OK) != 0) {
      return std::string("needs ") + tool +
             " (Debian packages prometheus and prometheus-alertmanager; scripts/install-deps.sh installs "
             "them)";
    }
  }
  return std::nullopt;
}

Result<test_support::HttpResponse> Get(int port, const std::string& path, std::chrono::milliseconds timeout) {
  test_support::HttpGetOptions options;
  options.timeout = timeout;
  return test_support::HttpGet(port, path, options);
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// "5m", "1h30m", "15s", "0m" -> seconds.
std::optional<long long> ParseDuration(const std::string& text) {
  static const std::regex part("([0-9]+)(ms|s|m|h|d)");
  long long total_ms = 0;
  size_t consumed = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), part); it != std::sregex_iterator(); ++it) {
    if (static_cast<size_t>(it->position()) != consumed) return std::nullopt;
    const long long n = std::stoll((*it)[1]);
    const std::string unit = (*it)[2];
    total_ms += unit == "ms"  ? n
                : unit == "s" ? n * 1000
                : unit == "m" ? n * 60000
                : unit == "h" ? n * 3600000
                              : n * 86400000;
    consumed += static_cast<size_t>(it->length());
  }
  if (consumed != text.size() || text.empty()) return std::nullopt;
  return total_ms / 1000;
}

// The shipped rules with every alert's `for` divided by kForScale (at least 1 s when non-zero).
Result<std::string> RulesForTest() {
  YAML::Node root = YAML::LoadFile(kRulesPath);
  for (auto group : root["groups"]) {
    for (auto rule : group["rules"]) {
      if (!rule["alert"] || !rule["for"]) continue;
      const auto seconds = ParseDuration(rule["for"].as<std::string>());
      if (!seconds) return Error{kRulesPath + ": alert " + rule["alert"].as<std::string>() + ": bad for"};
      const long long scaled = *seconds == 0 ? 0 : std::max(1LL, *seconds / kForScale);
      rule["for"] = std::to_string(scaled) + "s";
    }
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str());
}

void SetRouteTimings(YAML::Node route) {
  route["group_wait"] = "1s";
  route["group_interval"] = "1s";
  route["repeat_interval"] = "1h";
  if (route["routes"]) {
    for (auto child : route["routes"]) SetRouteTimings(child);
  }
}

// The shipped Alertmanager config with every receiver replaced by a webhook to
// http://127.0.0.1:<sink>/<name>.
std::string AlertmanagerConfigForTest(int sink_port) {
  YAML::Node root = YAML::LoadFile(kAlertmanagerPath);
  SetRouteTimings(root["route"]);
  YAML::Node receivers(YAML::NodeType::Sequence);
  for (const auto& receiver : root["receivers"]) {
    const std::string name = receiver["name"].as<std::string>();
    YAML::Node webhook;
    webhook["url"] = "http://127.0.0.1:" + std::to_string(sink_port) + "/" + name;
    webhook["send_resolved"] = false;
    YAML::Node replaced;
    replaced["name"] = name;
    replaced["webhook_configs"].push_back(webhook);
    receivers.push_back(replaced);
  }
  root["receivers"] = receivers;
  YAML::Emitter out;
  out << root;
  return out.c_str();
}

// A Prometheus or Alertmanager child, ready to answer.
struct Peer {
  std::unique_ptr<ChildProcess> child;
  int port = 0;
};

Result<Peer> StartPeer(std::vector<std::string> argv, int port, const std::string& stderr_path) {
  ChildOptions options;
  options.argv = std::move(argv);
  options.stderr_path = stderr_path;
  auto child = ChildProcess::Spawn(options);
  if (!child.ok()) return child.error();
  Peer peer{std::move(*child), port};
  const bool ready = WaitUntil(
      [&] {
        if (!peer.child->Running()) return true;
        auto r = Get(port, "/-/ready", 1s);
        return r.ok() && r->status == 200;
      },
      60s, 200ms);
  if (!peer.child->Running()) {
    return Error{options.argv[0] + " exited: " + peer.child->Stderr()};
  }
  if (!ready) return Error{options.argv[0] + " not ready within 60 s: " + peer.child->Stderr()};
  return peer;
}

// The shipped Alertmanager config (receivers pointed at the sink) in a real Alertmanager, without clustering.
Result<Peer> StartAlertmanager(test_support::TempTree& tree, int sink_port) {
  const int port = test_support::FreeLoopbackPort();
  tree.Write("alertmanager.yml", AlertmanagerConfigForTest(sink_port));
  return StartPeer(
      {"/usr/bin/prometheus-alertmanager", "--config.file=" + tree.Path("alertmanager.yml"),
       "--storage.path=" + tree.Path("am-data"), "--web.listen-address=127.0.0.1:" + std::to_string(port),
       "--cluster.listen-address=", "--log.level=warn"},
      port, tree.Path("alertmanager.stderr"));
}

// GET /api/v1/<path> of Prometheus; the "data" member of a successful answer.
Result<json> PromApi(int port, const std::string& path_and_query) {
  auto r = Get(port, "/api/v1/" + path_and_query, 20s);
  if (!r.ok()) return r.error();
  json body = json::parse(r->body, nullptr, false);
  if (body.is_discarded() || body.value("status", "") != "success") {
    return Error{"Prometheus /api/v1/" + path_and_query + ": HTTP " + std::to_string(r->status) + ": " +
                 r->body};
  }
  return body["data"];
}

Result<json> PromQuery(int port, const std::string& expr) {
  auto data = PromApi(port, "query?query=" + UrlEncode(expr));
  if (!data.ok()) return data.error();
  return (*data)["result"];
}

// A range query, as a Grafana time-series panel makes it: the series with any point in [from, now]. The
// points are laid out backwards from now, so the latest one is now (as in an instant query).
Result<json> PromQueryRange(int port, const std::string& expr, std::chrono::system_clock::time_point from,
                            std::chrono::seconds step) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const int64_t end_ms =
      duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t from_ms = duration_cast<milliseconds>(from.time_since_epoch()).count();
  const int64_t step_ms = duration_cast<milliseconds>(step).count();
  const int64_t start_ms =
      end_ms - std::max<int64_t>(0, (end_ms - from_ms + step_ms - 1) / step_ms) * step_ms;
  const auto unix_seconds = [](int64_t ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%lld.%03lld", static_cast<long long>(ms / 1000),
                  static_cast<long long>(ms % 1000));
    return std::string(text);
  };
  auto data = PromApi(port, "query_range?query=" + UrlEncode(expr) + "&start=" + unix_seconds(start_ms) +
                                "&end=" + unix_seconds(end_ms) + "&step=" + std::to_string(step.count()));
  if (!data.ok()) return data.error();
  return (*data)["result"];
}

// Every alert (firing or not) that the webhook sink received, with the receiver path it came to.
struct Notified {
  std::string receiver_path;
  json alert;
};
std::vector<Notified> NotifiedAlerts(const WebhookSink& sink) {
  std::vector<Notified> out;
  for (const auto& request : sink.Requests()) {
    const json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.contains("alerts")) continue;
    for (const auto& alert : body["alerts"]) out.push_back({request.path, alert});
  }
  return out;
}

std::string Label(const json& alert, const std::string& name) {
  return alert.contains("labels") ? alert["labels"].value(name, "") : "";
}

// The shipped rule (alert name and severity) as YAML, to compare annotations with.
YAML::Node ShippedAlert(const std::string& name, const std::string& severity) {
  const YAML::Node root = YAML::LoadFile(kRulesPath);
  for (const auto& group : root["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (rule["alert"] && rule["alert"].as<std::string>() == name &&
          rule["labels"]["severity"].as<std::string>() == severity) {
        return rule;
      }
    }
  }
  return YAML::Node();
}

// Every metric and recording-rule name a dashboard query may use: the names in docs/METRICS.md and the
// records of the rules file.
std::set<std::string> KnownSeriesNames() {
  std::set<std::string> names{"up"};
  std::ifstream in(kSourceDir + "/docs/METRICS.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  static const std::regex name("`((?:process|leakwatch)_[a-z0-9_]+)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), name); it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  const YAML::Node root = YAML::LoadFile(kRulesPath);
  for (const auto& group : root["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (rule["record"]) names.insert(rule["record"].as<std::string>());
    }
  }
  return names;
}

// Series names in a PromQL expression: identifiers directly followed by '{'.
std::set<std::string> SeriesNamesIn(const std::string& expr) {
  std::set<std::string> out;
  static const std::regex selector("([A-Za-z_:][A-Za-z0-9_:]*)\\s*\\{");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), selector); it != std::sregex_iterator();
       ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

// Metric names present in a Prometheus text exposition.
std::set<std::string> ExposedNames(const std::string& exposition) {
  std::set<std::string> out;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return out;
}

struct DashboardQuery {
  std::string where;  // panel title, or "annotation <name>"
  std::string expr;
  bool instant =
      false;  // Grafana asks for the latest value only; otherwise for the range the dashboard shows
};

void CollectPanelQueries(const json& panels, std::vector<DashboardQuery>* out) {
  for (const auto& panel : panels) {
    if (panel.contains("panels")) CollectPanelQueries(panel["panels"], out);
    if (!panel.contains("targets")) continue;
    for (const auto& target : panel["targets"]) {
      if (target.contains("expr"))
        out->push_back({"panel \"" + panel.value("title", "?") + "\"", target["expr"],
                        target.value("instant", false) && !target.value("range", false)});
    }
  }
}

std::vector<DashboardQuery> DashboardQueries(const json& dashboard) {
  std::vector<DashboardQuery> out;
  CollectPanelQueries(dashboard["panels"], &out);
  if (dashboard.contains("annotations")) {
    for (const auto& a : dashboard["annotations"]["list"]) {
      if (a.contains("expr"))
        out.push_back({"annotation \"" + a.value("name", "?") + "\"", a["expr"], false});
    }
  }
  return out;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

struct DemoInCgroup {
  std::unique_ptr<ScopedV1MemoryCgroup> cgroup;
  RunningDemo demo;
  std::string instance;  // as Prometheus labels it: 127.0.0.1:<port>
};

Result<DemoInCgroup> StartDemoInCgroup(const std::string& name, const std::string& config_path,
                                       const std::vector<std::pair<std::string, std::string>>& extra_env) {
  auto cgroup = ScopedV1MemoryCgroup::Create("leakwatch-opskit-" + std::to_string(getpid()) + "-" + name);
  if (!cgroup.ok()) return cgroup.error();
  if (!(*cgroup)->Write("memory.limit_in_bytes", std::to_string(kLimitBytes))) {
    return Error{"cannot set memory.limit_in_bytes of " + (*cgroup)->dir()};
  }
  (*cgroup)->Write("memory.swappiness", "0");
  DemoOptions options;
  options.env = extra_env;
  options.env.emplace_back("LEAKWATCH_CONFIG", config_path);
  options.cgroup_procs = (*cgroup)->procs();
  auto demo = StartDemo(options);
  if (!demo.ok()) return demo.error();
  DemoInCgroup out{std::move(*cgroup), std::move(*demo), ""};
  out.instance = "127.0.0.1:" + std::to_string(out.demo.metrics_port);
  return out;
}

std::string JemallocPath() {
  const std::string path = std::string("/usr/lib/") + LEAKWATCH_LIBRARY_ARCH + "/libjemalloc.so.2";
  return std::filesystem::exists(path) ? path : "";
}

TEST(OpsKit, MemoryLeakPagesOnCallSteadyServiceStaysQuietAndEveryDashboardQueryHasData) {
  if (const auto why = MissingPeers()) GTEST_SKIP() << *why;
  if (const auto why = ScopedV1MemoryCgroup::Unavailable()) {
    GTEST_SKIP() << "the memory alerts need a memory limit: " << *why;
  }
  test_support::TempTree tree;

  // Two demos: "leaky" under jemalloc (allocator figures of jemalloc, incident bundles on SIGUSR2) and
  // "steady" under glibc with mallinfo2 on, so that between them every allocator figure exists.
  tree.Write("leaky.yaml",
             "bundle:\n  dir: " + tree.Path("bundles") + "\n  min_free_disk: 0\n  capture_signal: SIGUSR2\n");
  tree.Write("steady.yaml", "allocator:\n  glibc_mallinfo: true\n  glibc_mallinfo_period: 1s\n");
  std::vector<std::pair<std::string, std::string>> leaky_env;
  if (const std::string jemalloc = JemallocPath(); !jemalloc.empty())
    leaky_env.emplace_back("LD_PRELOAD", jemalloc);
  auto leaky = StartDemoInCgroup("leaky", tree.Path("leaky.yaml"), leaky_env);
  ASSERT_TRUE(leaky.ok()) << leaky.error().message;
  auto steady = StartDemoInCgroup("steady", tree.Path("steady.yaml"), {});
  ASSERT_TRUE(steady.ok()) << steady.error().message;

  auto sink = WebhookSink::Start();
  ASSERT_TRUE(sink.ok()) << sink.error().message;

  auto alertmanager = StartAlertmanager(tree, (*sink)->port());
  ASSERT_TRUE(alertmanager.ok()) << alertmanager.error().message;
  const int am_port = alertmanager->port;

  auto rules = RulesForTest();
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  tree.Write("rules.yml", *rules);
  tree.Write("prometheus.yml",
             "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
             "rule_files: [" +
                 tree.Path("rules.yml") +
                 "]\n"
                 "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:" +
                 std::to_string(am_port) +
                 "']\n"
                 "scrape_configs:\n  - job_name: leakwatch\n    static_configs:\n      - targets: ['" +
                 leaky->instance + "', '" + steady->instance + "']\n");
  const int prom_port = test_support::FreeLoopbackPort();
  auto prometheus = StartPeer({"/usr/bin/prometheus", "--config.file=" + tree.Path("prometheus.yml"),
                               "--storage.tsdb.path=" + tree.Path("prom-data"),
                               "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
                               "--rules.alert.resend-delay=1s", "--log.level=warn"},
                              prom_port, tree.Path("prometheus.stderr"));
  ASSERT_TRUE(prometheus.ok()) << prometheus.error().message;

  // The leak: 4 MiB/s (the 1 GiB limit is ~4 minutes away), plus fds and threads so that every panel has a
  // trend to show. The steady demo does nothing.
  const auto leak_start = SteadyClock::now();
  const auto dashboard_from = std::chrono::system_clock::now();
  ASSERT_TRUE(leaky->demo.Control("/leak/memory?mib_per_s=4").ok());
  ASSERT_TRUE(leaky->demo.Control("/leak/fds?per_s=5").ok());
  ASSERT_TRUE(leaky->demo.Control("/leak/threads?per_s=0.5").ok());

  const auto is_memory_page = [&](const Notified& n) {
    return n.receiver_path == "/pager" && Label(n.alert, "alertname") == "LeakwatchMemoryFillingUp" &&
           Label(n.alert, "severity") == "critical" && Label(n.alert, "instance") == leaky->instance;
  };
  const bool paged = (*sink)->WaitUntil(
      [&] {
        for (const auto& n : NotifiedAlerts(**sink)) {
          if (is_memory_page(n)) return true;
        }
        return false;
      },
      180s);
  const double seconds_to_page = std::chrono::duration<double>(SteadyClock::now() - leak_start).count();
  ASSERT_TRUE(leaky->demo.Control("/leak/memory?mib_per_s=0").ok());
  auto alerts_now = PromApi(prometheus->port, "alerts");
  ASSERT_TRUE(paged) << "LeakwatchMemoryFillingUp (critical) for " << leaky->instance
                     << " did not reach the pager receiver within 180 s; Prometheus alerts: "
                     << (alerts_now.ok() ? alerts_now->dump() : alerts_now.error().message)
                     << "\nPrometheus stderr: " << prometheus->child->Stderr()
                     << "\nAlertmanager stderr: " << alertmanager->child->Stderr();
  std::cout << "[ opskit ] leak to page: " << seconds_to_page << " s (alert `for` scaled 1/" << kForScale
            << ")\n";

  // Labels and annotations as shipped, the description naming the instance and the predicted time.
  const YAML::Node shipped = ShippedAlert("LeakwatchMemoryFillingUp", "critical");
  ASSERT_TRUE(shipped) << "no critical LeakwatchMemoryFillingUp in " << kRulesPath;
  for (const auto& n : NotifiedAlerts(**sink)) {
    if (!is_memory_page(n)) continue;
    EXPECT_EQ(Label(n.alert, "job"), "leakwatch");
    EXPECT_EQ(n.alert.value("status", ""), "firing");
    const json& annotations = n.alert["annotations"];
    EXPECT_EQ(annotations.value("summary", ""), shipped["annotations"]["summary"].as<std::string>());
    EXPECT_EQ(annotations.value("runbook_url", ""), shipped["annotations"]["runbook_url"].as<std::string>());
    const std::string description = annotations.value("description", "");
    EXPECT_NE(description.find(leaky->instance + " (job leakwatch) will reach its cgroup memory limit in "),
              std::string::npos)
        << description;
    EXPECT_TRUE(std::regex_search(description, std::regex("limit in ([0-9]+m )?[0-9]+s at its current")))
        << description;
    break;
  }

  // Nothing for the steady demo: neither notified nor pending or firing in Prometheus.
  for (const auto& n : NotifiedAlerts(**sink)) {
    EXPECT_NE(Label(n.alert, "instance"), steady->instance)
        << "notified for the steady demo: " << n.alert.dump() << " via " << n.receiver_path;
  }
  auto alerts = PromApi(prometheus->port, "alerts");
  ASSERT_TRUE(alerts.ok()) << alerts.error().message;
  for (const auto& alert : (*alerts)["alerts"]) {
    EXPECT_NE(Label(alert, "instance"), steady->instance) << "alert for the steady demo: " << alert.dump();
    std::cout << "[ opskit ] " << alert.value("state", "?") << ": " << Label(alert, "alertname") << " "
              << Label(alert, "severity") << " " << Label(alert, "instance") << "\n";
  }

  // An incident bundle, so that the bundle panels and the annotation have data.
  leaky->demo.child->Signal(SIGUSR2);
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto r = PromQuery(prometheus->port, "leakwatch_bundle_last_timestamp_seconds");
        return r.ok() && !r->empty();
      },
      30s, 500ms))
      << "no bundle reported after SIGUSR2";

  // The fd and thread trends: the agent exports a slope once min_coverage (50%) of a rule's window holds
  // data — 60 s for fds_time_to_limit's 2-minute window.
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto r = PromQuery(prometheus->port, "instance:leakwatch_open_fds_seconds_to_limit:agent");
        return r.ok() && !r->empty();
      },
      120s, 1s))
      << "the agent exported no fd projection for the fd leak";

  // Every dashboard query, with the variables set as "All" would set them, returns data.
  std::ifstream dashboard_file(kDashboardPath);
  ASSERT_TRUE(dashboard_file) << "cannot read " << kDashboardPath;
  const json dashboard = json::parse(dashboard_file, nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded()) << kDashboardPath << " is not JSON";
  const auto queries = DashboardQueries(dashboard);
  ASSERT_GE(queries.size(), 20u) << "too few queries found in " << kDashboardPath;

  std::set<std::string> exposed;
  for (const DemoInCgroup* d : {&*leaky, &*steady}) {
    auto text = d->demo.Scrape();
    ASSERT_TRUE(text.ok()) << text.error().message;
    for (const auto& name : ExposedNames(*text)) exposed.insert(name);
  }
  const std::set<std::string> known = KnownSeriesNames();
  const std::string instances =
      ReplaceAll(leaky->instance, ".", "\\\\.") + "|" + ReplaceAll(steady->instance, ".", "\\\\.");
  int with_data = 0;
  for (const auto& q : queries) {
    std::string expr = ReplaceAll(q.expr, "$__rate_interval", "10s");
    expr = ReplaceAll(expr, "$__interval", "2s");
    expr = ReplaceAll(expr, "${job}", "leakwatch");
    expr = ReplaceAll(expr, "$job", "leakwatch");
    expr = ReplaceAll(expr, "${instance}", instances);
    expr = ReplaceAll(expr, "$instance", instances);
    EXPECT_EQ(expr.find('$'), std::string::npos) << q.where << ": unsubstituted variable in " << q.expr;
    for (const auto& name : SeriesNamesIn(expr)) {
      EXPECT_TRUE(known.count(name)) << q.where << ": " << name
                                     << " is neither in docs/METRICS.md nor recorded by the rules file";
    }
    // "Gaps mean not growing": a time-series panel has data when any point of the window since the leak
    // started has one (the projections vanish once the leak is stopped); a stat or table shows now.
    auto result = q.instant ? PromQuery(prometheus->port, expr)
                            : PromQueryRange(prometheus->port, expr, dashboard_from, 2s);
    ASSERT_TRUE(result.ok()) << q.where << ": " << result.error().message;
    if (!result->empty()) {
      ++with_data;
      continue;
    }
    // Empty: acceptable only when every raw metric it reads is one this machine cannot produce (the agent
    // reports it absent, e.g. memory.high on cgroup v1) — said in the output, never silently.
    bool machine_lacks_all = true;
    std::string lacking;
    for (const auto& name : SeriesNamesIn(expr)) {
      const bool raw = name.rfind("instance:", 0) != 0;
      if (!raw || exposed.count(name)) {
        machine_lacks_all = false;
      } else {
        lacking += " " + name;
      }
    }
    if (machine_lacks_all && !lacking.empty()) {
      std::cout << "[ opskit ] not checkable on this machine (absent here):" << lacking << " — " << q.where
                << "\n";
    } else {
      ADD_FAILURE() << q.where << ": no data for " << expr;
    }
  }
  std::cout << "[ opskit ] dashboard queries with data: " << with_data << " of " << queries.size() << "\n";
}

// The routing and inhibition of deploy/alertmanager/alertmanager.yml, in a real Alertmanager: alerts posted
// to its API like Prometheus posts them. A warning is inhibited while its critical twin (same alertname, job,
// instance) fires; an in-process memory rule is inhibited while Prometheus' memory alert pages for the same
// instance, one on threads is not; a lone warning goes to the ticket receiver; a non-leakwatch alert to the
// default one.
TEST(OpsKit, AlertmanagerPagesCriticalTicketsWarningAndInhibitsTheWarningTwin) {
  if (const auto why = MissingPeers()) GTEST_SKIP() << *why;
  test_support::TempTree tree;
  auto sink = WebhookSink::Start();
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  auto alertmanager = StartAlertmanager(tree, (*sink)->port());
  ASSERT_TRUE(alertmanager.ok()) << alertmanager.error().message;
  const int am_port = alertmanager->port;

  const auto alert = [](const std::string& name, const std::string& severity, const std::string& instance) {
    return json{{"labels",
                 {{"alertname", name}, {"severity", severity}, {"job", "leakwatch"}, {"instance", instance}}},
                {"annotations", {{"summary", name + " " + severity}}}};
  };
  // In-process rules as LeakwatchRuleFiring carries them: with the rule's signal.
  json rule_on_memory = alert("LeakwatchRuleFiring", "critical", "a:9860");
  rule_on_memory["labels"]["signal"] = "cgroup_memory_working_set_bytes";
  rule_on_memory["labels"]["rule"] = "memory_time_to_limit";
  json rule_on_threads = alert("LeakwatchRuleFiring", "critical", "a:9860");
  rule_on_threads["labels"]["signal"] = "threads";
  rule_on_threads["labels"]["rule"] = "threads_spike";
  const json alerts = json::array(
      {rule_on_memory, rule_on_threads, alert("LeakwatchMemoryFillingUp", "critical", "a:9860"),
       alert("LeakwatchMemoryFillingUp", "warning", "a:9860"),
       alert("LeakwatchMemoryFillingUp", "warning", "b:9860"), alert("SomethingElse", "critical", "c:9100")});
  test_support::HttpGetOptions post;
  post.method = "POST";
  post.body = alerts.dump();
  post.extra_headers = {{"Content-Type", "application/json"}};
  auto posted = test_support::HttpGet(am_port, "/api/v2/alerts", post);
  ASSERT_TRUE(posted.ok()) << posted.error().message;
  ASSERT_EQ(posted->status, 200) << posted->body;

  const auto received = [&](const std::string& path, const std::string& severity,
                            const std::string& instance) {
    for (const auto& n : NotifiedAlerts(**sink)) {
      if (n.receiver_path == path && Label(n.alert, "severity") == severity &&
          Label(n.alert, "instance") == instance)
        return true;
    }
    return false;
  };
  ASSERT_TRUE((*sink)->WaitUntil([&] { return received("/pager", "critical", "a:9860"); }, 30s))
      << "the critical alert did not reach the pager receiver";
  ASSERT_TRUE((*sink)->WaitUntil([&] { return received("/ticket", "warning", "b:9860"); }, 30s))
      << "the lone warning did not reach the ticket receiver";
  ASSERT_TRUE((*sink)->WaitUntil([&] { return received("/default", "critical", "c:9100"); }, 30s))
      << "a non-leakwatch alert did not reach the default receiver";
  ASSERT_TRUE((*sink)->WaitUntil(
      [&] {
        for (const auto& n : NotifiedAlerts(**sink)) {
          if (n.receiver_path == "/pager" && Label(n.alert, "signal") == "threads") return true;
        }
        return false;
      },
      30s))
      << "an in-process rule on another resource (threads) did not page";
  // Three more group intervals (1 s each here) for an uninhibited alert to show up.
  std::this_thread::sleep_for(3s);
  for (const auto& n : NotifiedAlerts(**sink)) {
    EXPECT_FALSE(Label(n.alert, "alertname") == "LeakwatchRuleFiring" &&
                 Label(n.alert, "signal") == "cgroup_memory_working_set_bytes")
        << "the in-process memory rule paged while LeakwatchMemoryFillingUp (critical) fired for the "
           "instance";
    EXPECT_FALSE(Label(n.alert, "severity") == "warning" && Label(n.alert, "instance") == "a:9860")
        << "the warning twin was notified via " << n.receiver_path << " while its critical twin fired";
    EXPECT_FALSE(n.receiver_path == "/pager" && Label(n.alert, "severity") != "critical") << n.alert.dump();
  }
}

}  // namespace
}  // namespace leakwatch::integration

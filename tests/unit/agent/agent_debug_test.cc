// The operator endpoints through a real Agent on 127.0.0.1: capture over HTTP, list and download bundles,
// behind a bearer token; what a client without the token, a traversal attempt or a flood of captures gets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "exporters/debug/debug_endpoints.h"
#include "leakwatch/agent.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_tree.h"

namespace leakwatch {
namespace {

using namespace std::chrono_literals;
using test_support::HttpGet;
using test_support::HttpGetOptions;
using test_support::HttpResponse;
using ::testing::HasSubstr;

constexpr const char* kToken = "0123456789abcdef-test-token";

AgentOptions Options(const test_support::TempTree& tree) {
  AgentOptions o;
  o.http.listen = "127.0.0.1:0";
  o.log.sink = "off";
  o.use_environment = false;
  o.period = 100ms;
  o.bundle.dir = tree.Path("bundles");
  o.bundle.min_free_disk_bytes = 0;
  o.rules.defaults = false;
  return o;
}

struct Client {
  int port = 0;
  std::string token = kToken;

  HttpResponse Call(const std::string& method, const std::string& path) const {
    HttpGetOptions o;
    o.method = method;
    o.timeout = 40s;
    if (!token.empty()) o.extra_headers = {{"Authorization", "Bearer " + token}};
    auto r = HttpGet(port, path, o);
    if (!r.ok()) ADD_FAILURE() << r.error().message;
    return r.ok() ? *r : HttpResponse{};
  }
  HttpResponse Post(const std::string& path) const { return Call("POST", path); }
  HttpResponse Get(const std::string& path) const { return Call("GET", path); }
};

std::string Metrics(int port) {
  auto r = HttpGet(port, "/metrics");
  return r.ok() ? r->body : "";
}

std::string FileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AgentDebugEndpoints, CaptureListAndDownloadWithTheToken) {
  test_support::TempTree tree;
  AgentOptions o = Options(tree);
  o.http.debug_token = kToken;
  auto agent = Agent::Create(o).value();
  auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving) << (started.ok() ? "" : started.error().message);
  const Client client{started->http_port};

  const auto written = client.Post("/debug/leakwatch/capture?reason=on+call+asked&wait=30s");
  ASSERT_EQ(written.status, 201) << written.body;
  const auto reply = nlohmann::json::parse(written.body);
  const std::string bundle = reply["bundle"];
  EXPECT_EQ(reply["status"], "written");
  EXPECT_GT(reply["bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(reply["url"], "/debug/leakwatch/incidents/" + bundle);
  ASSERT_TRUE(std::filesystem::is_directory(o.bundle.dir + "/" + bundle));

  const auto queued = client.Post("/debug/leakwatch/capture");
  EXPECT_EQ(queued.status, 202) << queued.body;
  EXPECT_EQ(nlohmann::json::parse(queued.body)["status"], "queued");
  for (int i = 0; i < 500 && agent->bundle_stats().written_total < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(agent->bundle_stats().written_total, 2u);

  const auto list = client.Get("/debug/leakwatch/incidents");
  ASSERT_EQ(list.status, 200) << list.body;
  const auto bundles = nlohmann::json::parse(list.body)["bundles"];
  ASSERT_EQ(bundles.size(), 2u);
  EXPECT_EQ(bundles[1]["name"], bundle);  // newest first: the queued one came second
  EXPECT_EQ(bundles[1]["trigger"]["source"], "http");
  EXPECT_EQ(bundles[1]["trigger"]["reason"], "on call asked");
  EXPECT_EQ(bundles[0]["trigger"]["reason"], "requested over HTTP");

  const auto files = client.Get("/debug/leakwatch/incidents/" + bundle);
  ASSERT_EQ(files.status, 200) << files.body;
  std::vector<std::string> names;
  const auto listed = nlohmann::json::parse(files.body);
  for (const auto& f : listed["files"]) names.push_back(f["name"]);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"manifest.json", "proc_status.txt", "history.csv"}))
      << files.body;

  const auto manifest = client.Get("/debug/leakwatch/incidents/" + bundle + "/manifest.json");
  ASSERT_EQ(manifest.status, 200);
  EXPECT_EQ(manifest.header("Content-Type").value_or(""), "application/json; charset=utf-8");
  EXPECT_THAT(manifest.header("Content-Disposition").value_or(""), HasSubstr("manifest.json"));
  EXPECT_EQ(manifest.body, FileText(o.bundle.dir + "/" + bundle + "/manifest.json"));

  EXPECT_EQ(client.Get("/debug/leakwatch/capture").status, 405);
  EXPECT_EQ(client.Post("/debug/leakwatch/incidents").status, 405);
  EXPECT_EQ(client.Post("/debug/leakwatch/capture?wait=soon").status, 400);
  EXPECT_EQ(client.Post("/debug/leakwatch/capture?wait=10m").status, 400);
  EXPECT_EQ(client.Post("/debug/leakwatch/capture?force=1").status, 400);
  EXPECT_EQ(client.Post("/debug/leakwatch/capture?reason=%zz").status, 400);

  const std::string metrics = Metrics(started->http_port);
  EXPECT_THAT(metrics, HasSubstr("leakwatch_debug_requests_total{endpoint=\"capture\",code=\"201\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("leakwatch_debug_requests_total{endpoint=\"capture\",code=\"202\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("leakwatch_debug_requests_total{endpoint=\"files\",code=\"200\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("leakwatch_debug_requests_total{endpoint=\"capture\",code=\"400\"} 4"));
}

TEST(AgentDebugEndpoints, NoFileOutsideACompleteBundleCanBeRead) {
  test_support::TempTree tree;
  AgentOptions o = Options(tree);
  o.http.debug_token = kToken;
  auto agent = Agent::Create(o).value();
  auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving);
  const Client client{started->http_port};
  const auto path = agent->capture("for the traversal test");
  ASSERT_TRUE(path.ok()) << path.error().message;
  const std::string bundle = std::filesystem::path(*path).filename();

  // A secret next to the bundles, a symlink to it inside the bundle, and a bundle still being written.
  tree.Write("secret.txt", "do not serve\n");
  std::filesystem::create_symlink(tree.Path("secret.txt"), *path + "/link.txt");
  std::filesystem::create_directories(o.bundle.dir + "/.tmp-20990101T000000.000Z-1-x");
  tree.Write("bundles/.tmp-20990101T000000.000Z-1-x/manifest.json", "{}");
  std::filesystem::create_directories(*path + "/sub");
  tree.Write("bundles/" + bundle + "/sub/inner.txt", "nested\n");

  const std::string base = "/debug/leakwatch/incidents/";
  for (const std::string& attempt :
       {base + bundle + "/link.txt", base + bundle + "/../../secret.txt",
        base + bundle + "/..%2f..%2fsecret.txt", base + "..%2fsecret.txt",
        base + bundle + "/%2e%2e/%2e%2e/secret.txt", base + bundle + "/sub/inner.txt", base + bundle + "/sub",
        base + ".tmp-20990101T000000.000Z-1-x", base + ".tmp-20990101T000000.000Z-1-x/manifest.json",
        base + bundle + "/.", base + bundle + "/missing.txt", base + "nonexistent-bundle"}) {
    const auto r = client.Get(attempt);
    EXPECT_NE(r.status, 200) << attempt;
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("do not serve"))) << attempt;
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("nested"))) << attempt;
  }
  const auto listing = client.Get(base + bundle);
  ASSERT_EQ(listing.status, 200);
  EXPECT_THAT(listing.body, ::testing::Not(HasSubstr("link.txt")));
  EXPECT_THAT(listing.body, ::testing::Not(HasSubstr("\"sub\"")));
  const auto all = client.Get("/debug/leakwatch/incidents");
  EXPECT_THAT(all.body, ::testing::Not(HasSubstr(".tmp-")));
}

TEST(AgentDebugEndpoints, AMissingOrWrongTokenIsRefusedAndCounted) {
  test_support::TempTree tree;
  AgentOptions o = Options(tree);
  o.http.debug_token = kToken;
  auto agent = Agent::Create(o).value();
  auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving);
  Client none{started->http_port, ""};
  Client wrong{started->http_port, "0123456789abcdef-test-tokeN"};
  Client prefix{started->http_port, "0123456789abcdef-test-toke"};
  Client longer{started->http_port, std::string(kToken) + "x"};
  for (const Client* c : {&none, &wrong, &prefix, &longer}) {
    const auto r = c->Post("/debug/leakwatch/capture?wait=5s");
    EXPECT_EQ(r.status, 401) << c->token;
    EXPECT_EQ(r.header("WWW-Authenticate").value_or(""), "Bearer realm=\"leakwatch\"");
    EXPECT_EQ(c->Get("/debug/leakwatch/incidents").status, 401);
  }
  HttpGetOptions basic;
  basic.basic_auth = test_support::BasicAuth{"x", kToken};
  EXPECT_EQ(HttpGet(started->http_port, "/debug/leakwatch/incidents", basic)->status, 401);
  EXPECT_EQ(agent->bundle_stats().written_total, 0u);
  const std::string metrics = Metrics(started->http_port);
  EXPECT_THAT(metrics, HasSubstr("leakwatch_debug_requests_total{endpoint=\"capture\",code=\"401\"} 4"));
  EXPECT_THAT(metrics, HasSubstr("leakwatch_debug_requests_total{endpoint=\"incidents\",code=\"401\"} 5"));
  // The right token is case-sensitive but the scheme is not.
  HttpGetOptions lower;
  lower.extra_headers = {{"Authorization", std::string("bearer ") + kToken}};
  EXPECT_EQ(HttpGet(started->http_port, "/debug/leakwatch/incidents", lower)->status, 200);
}

TEST(AgentDebugEndpoints, WithoutATokenTheEndpointsAreDisabled) {
  test_support::TempTree tree;
  auto agent = Agent::Create(Options(tree)).value();
  auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving);
  const Client client{started->http_port};
  const auto r = client.Post("/debug/leakwatch/capture");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("debug_token_file"));
  EXPECT_EQ(client.Get("/debug/leakwatch/incidents").status, 403);
  EXPECT_EQ(agent->bundle_stats().written_total, 0u);
}

TEST(AgentDebugEndpoints, ACaptureFloodIsRateLimitedAndTheAgentKeepsServing) {
  test_support::TempTree tree;
  AgentOptions o = Options(tree);
  o.http.debug_token = kToken;
  o.bundle.max_per_window = 2;
  o.bundle.window = std::chrono::minutes(10);
  auto agent = Agent::Create(o).value();
  auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving);
  const Client client{started->http_port};
  std::map<int, int> statuses;
  for (int i = 0; i < 40; ++i) ++statuses[client.Post("/debug/leakwatch/capture").status];
  EXPECT_EQ(statuses[202], 2);
  EXPECT_EQ(statuses[429], 38);
  const auto limited = client.Post("/debug/leakwatch/capture");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("Retry-After").value_or(""), "300");  // window / max_per_window
  EXPECT_EQ(nlohmann::json::parse(limited.body)["reason"], "rate_limit");
  for (int i = 0; i < 500 && agent->bundle_stats().written_total < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(agent->bundle_stats().written_total, 2u);
  EXPECT_EQ(agent->bundle_stats().suppressed_total["rate_limit"], 39u);
  const std::string metrics = Metrics(started->http_port);
  EXPECT_THAT(metrics, HasSubstr("leakwatch_debug_requests_total{endpoint=\"capture\",code=\"429\"} 39"));
  EXPECT_THAT(metrics, HasSubstr("leakwatch_bundles_suppressed_total{reason=\"rate_limit\"} 39"));
}

TEST(AgentDebugEndpoints, ABadTokenFileStopsCreateWithTheReason) {
  test_support::TempTree tree;
  AgentOptions o = Options(tree);
  o.http.debug_token_file = tree.Path("missing-token");
  auto missing = Agent::Create(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("http.debug_token_file: " + tree.Path("missing-token")));
  tree.Write("short-token", "abc\n");
  o.http.debug_token_file = tree.Path("short-token");
  auto short_token = Agent::Create(o);
  ASSERT_FALSE(short_token.ok());
  EXPECT_THAT(short_token.error().message, HasSubstr("3 characters; use 16 to 4096"));
  tree.Write("spaced-token", "abcdefgh ijklmnopq\n");
  o.http.debug_token_file = tree.Path("spaced-token");
  auto spaced = Agent::Create(o);
  ASSERT_FALSE(spaced.ok());
  EXPECT_THAT(spaced.error().message, HasSubstr("character 9 is not printable ASCII"));
  tree.Write("good-token", std::string(kToken) + "\n");
  o.http.debug_token_file = tree.Path("good-token");
  auto good = Agent::Create(o);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ((*good)->options().http.debug_token, kToken);
}

// This test program has no allocation hooks: /debug/pprof/heap says so (the hooks are tested in
// tests/integration/heap_sampler, in preloaded processes).
TEST(AgentDebugEndpoints, HeapProfileSaysWhyThereIsNoneAndHonoursRequireToken) {
  test_support::TempTree tree;
  AgentOptions o = Options(tree);
  o.http.debug_token = kToken;
  {
    auto agent = Agent::Create(o).value();
    auto started = agent->start();
    ASSERT_TRUE(started.ok() && started->http_serving);
    Client anonymous{started->http_port, ""};
    const auto heap = anonymous.Get("/debug/pprof/heap");
    EXPECT_EQ(heap.status, 503) << heap.body;
    EXPECT_THAT(heap.body, HasSubstr("no allocation hooks in this process"));
    EXPECT_THAT(heap.body, HasSubstr("leakwatch run"));
    EXPECT_EQ(anonymous.Get("/debug/pprof/heap?peak=1").status, 404);
    EXPECT_EQ(anonymous.Get("/debug/pprof/heap?debug=1").status, 400);
    EXPECT_THAT(Metrics(started->http_port), HasSubstr("leakwatch_heap_sampler_running 0"));
    const auto status = nlohmann::json::parse(anonymous.Get("/status").body);
    EXPECT_EQ(status["heap_profiler"]["state"], "unavailable") << status.dump(2);
    EXPECT_THAT(status["heap_profiler"]["reason"].get<std::string>(), HasSubstr("no allocation hooks"));
  }
  o.heap_profiler.require_token = true;
  auto agent = Agent::Create(o).value();
  auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving);
  EXPECT_EQ((Client{started->http_port, ""}.Get("/debug/pprof/heap").status), 401);
  EXPECT_EQ((Client{started->http_port, kToken}.Get("/debug/pprof/heap").status), 503);
}

TEST(TokenCompare, MatchesOnlyTheSameBytes) {
  using exporters::TokenMatches;
  EXPECT_TRUE(TokenMatches("abcdefghijklmnop", "abcdefghijklmnop"));
  EXPECT_FALSE(TokenMatches("abcdefghijklmnop", "abcdefghijklmnoP"));
  EXPECT_FALSE(TokenMatches("abcdefghijklmnop", "abcdefghijklmno"));
  EXPECT_FALSE(TokenMatches("abcdefghijklmnop", "abcdefghijklmnopabcdefghijklmnop"));  // the cycled expected
  EXPECT_FALSE(TokenMatches("abcdefghijklmnop", ""));
  EXPECT_FALSE(TokenMatches("", ""));
}

}  // namespace
}  // namespace leakwatch

// Integration tests: a real exporter on 127.0.0.1 port 0, scraped over TCP with the test HTTP client.
#include "exporters/prometheus/prometheus_exporter.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/unit/exporter/bcrypt_test_util.h"
#include "tests/unit/exporter/raw_http.h"
#include "tests/unit/exporter/test_snapshots.h"

namespace leakwatch::exporters {
namespace {

using test_support::BasicAuth;
using test_support::HttpGet;
using test_support::HttpGetOptions;
using testdata::RawHttpExchange;
using testdata::RequestText;
using ::testing::HasSubstr;
using ::testing::Not;

// A TCP socket listening on 127.0.0.1 on a kernel-chosen port, never accepting unless asked to.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1:0");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd_); }
  int fd() const { return fd_; }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

PrometheusExporterOptions LoopbackOptions() {
  PrometheusExporterOptions o;
  o.listen = "127.0.0.1:0";
  o.num_threads = 2;
  o.request_timeout_ms = 2000;
  return o;
}

std::unique_ptr<PrometheusExporter> StartOrDie(const PrometheusExporterOptions& o, SnapshotProvider p) {
  auto r = PrometheusExporter::Start(o, std::move(p));
  if (!r.ok()) throw std::runtime_error(r.error().message);
  return std::move(r).value();
}

SnapshotProvider Fixed(std::shared_ptr<const Snapshot> s) {
  return [s] { return s; };
}

// Unique per process and call: several builds' test binaries may run at once on one machine.
std::string WriteTempFile(const std::string& name, const std::string& content) {
  static std::atomic<int> counter{0};
  const std::string path = ::testing::TempDir() + "leakwatch-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter++) + "-" + name;
  std::ofstream f(path);
  f << content;
  return path;
}

TEST(PrometheusExporterTest, ServesTheSnapshotOnAnEphemeralPort) {
  auto exporter = StartOrDie(LoopbackOptions(), Fixed(testdata::FullSnapshot()));
  ASSERT_GT(exporter->port(), 0);
  auto r = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->header("Content-Type").value_or(""), HasSubstr("text/plain"));
  EXPECT_THAT(r->body, HasSubstr("\nprocess_resident_memory_bytes 1000\n"));
  EXPECT_THAT(r->body, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(r->body,
              HasSubstr("leakwatch_cgroup_info{path=\"/kubepods/burstable/pod1234/abcd\",version=\"2\"} 1"));
  EXPECT_EQ(exporter->collect_errors(), 0u);
}

TEST(PrometheusExporterTest, CustomPathAndNoSnapshotYet) {
  auto o = LoopbackOptions();
  o.metrics_path = "/leakwatch/metrics";
  auto exporter = StartOrDie(o, [] { return std::shared_ptr<const Snapshot>(); });
  auto r = HttpGet(exporter->port(), "/leakwatch/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("leakwatch_build_info{"));
  EXPECT_THAT(r->body, HasSubstr("leakwatch_exporter_collect_errors_total 0"));
  EXPECT_THAT(r->body, Not(HasSubstr("process_")));
  auto other = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->status, 404);
}

TEST(PrometheusExporterTest, AProviderThatThrowsDoesNotKillTheProcess) {
  std::atomic<int> calls{0};
  auto exporter = StartOrDie(LoopbackOptions(), [&calls]() -> std::shared_ptr<const Snapshot> {
    if (calls.fetch_add(1) == 0) throw std::runtime_error("boom");
    return testdata::FullSnapshot();
  });
  auto r = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("leakwatch_exporter_collect_errors_total 1\n"));
  EXPECT_THAT(r->body, Not(HasSubstr("process_resident_memory_bytes")));
  r = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(r->body, HasSubstr("process_resident_memory_bytes 1000\n"));
  EXPECT_EQ(exporter->collect_errors(), 1u);
}

TEST(PrometheusExporterTest, PortAlreadyTakenReturnsTheRealCause) {
  Listener taken;
  auto o = LoopbackOptions();
  o.listen = "127.0.0.1:" + std::to_string(taken.port());
  Result<std::unique_ptr<PrometheusExporter>> r = Error{""};
  ASSERT_NO_THROW(r = PrometheusExporter::Start(o, Fixed(testdata::FullSnapshot())));
  ASSERT_FALSE(r.ok());
  std::printf("bind failure reported as: %s\n", r.error().message.c_str());
  EXPECT_THAT(r.error().message, HasSubstr("Address already in use"));
  EXPECT_THAT(r.error().message, HasSubstr(o.listen));
  // The failed start left nothing broken: another exporter starts fine.
  auto exporter = StartOrDie(LoopbackOptions(), Fixed(testdata::FullSnapshot()));
  EXPECT_GT(exporter->port(), 0);
}

TEST(PrometheusExporterTest, StopIsIdempotent) {
  auto exporter = StartOrDie(LoopbackOptions(), Fixed(testdata::FullSnapshot()));
  const int port = exporter->port();
  exporter->Stop();
  exporter->Stop();
  EXPECT_EQ(exporter->port(), port);
  HttpGetOptions quick;
  quick.timeout = std::chrono::milliseconds(1000);
  EXPECT_FALSE(HttpGet(port, "/metrics", quick).ok());  // nothing listens any more
}

TEST(PrometheusExporterTest, BasicAuth) {
  const std::string path =
      WriteTempFile("leakwatch-exporter-web.yml",
                    "basic_auth_users:\n  prometheus: " + testdata::Bcrypt("s3cret", 4) + "\n");
  auto o = LoopbackOptions();
  o.web_config_file = path;
  auto exporter = StartOrDie(o, Fixed(testdata::FullSnapshot()));
  std::remove(path.c_str());

  auto none = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->status, 401);
  EXPECT_THAT(none->header("WWW-Authenticate").value_or(""), HasSubstr("Basic realm=\"leakwatch\""));
  EXPECT_THAT(none->body, Not(HasSubstr("process_")));

  HttpGetOptions wrong;
  wrong.basic_auth = BasicAuth{"prometheus", "wrong"};
  auto bad = HttpGet(exporter->port(), "/metrics", wrong);
  ASSERT_TRUE(bad.ok()) << bad.error().message;
  EXPECT_EQ(bad->status, 401);

  HttpGetOptions unknown;
  unknown.basic_auth = BasicAuth{"mallory", "s3cret"};
  auto who = HttpGet(exporter->port(), "/metrics", unknown);
  ASSERT_TRUE(who.ok()) << who.error().message;
  EXPECT_EQ(who->status, 401);

  HttpGetOptions right;
  right.basic_auth = BasicAuth{"prometheus", "s3cret"};
  for (int i = 0; i < 2; ++i) {  // the second one is served from the verification cache
    auto ok = HttpGet(exporter->port(), "/metrics", right);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->status, 200);
    EXPECT_THAT(ok->body, HasSubstr("process_resident_memory_bytes 1000"));
  }
}

TEST(PrometheusExporterTest, BadWebConfigFailsStart) {
  const std::string path = WriteTempFile("leakwatch-exporter-bad-web.yml",
                                         "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n");
  auto o = LoopbackOptions();
  o.web_config_file = path;
  auto r = PrometheusExporter::Start(o, Fixed(testdata::FullSnapshot()));
  std::remove(path.c_str());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr(path + ":1:"));
  EXPECT_THAT(r.error().message, HasSubstr("in-process TLS is not supported"));
}

PrometheusExporterOptions::ExtraRoute StatusRoute(std::function<std::string()> body) {
  return {.path = "/status", .content_type = "application/json", .body = std::move(body)};
}

TEST(PrometheusExporterTest, MetricsCarryTheFullTextFormatContentType) {
  auto exporter = StartOrDie(LoopbackOptions(), Fixed(testdata::FullSnapshot()));
  auto r = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->header("Content-Type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r->header("Content-Length").value_or(""), std::to_string(r->body.size()));
  EXPECT_THAT(r->body, Not(HasSubstr("exposer_")));  // prometheus-cpp's Exposer metrics are gone
}

TEST(PrometheusExporterTest, ServesExtraRoutesWithTheirContentType) {
  auto o = LoopbackOptions();
  o.extra_routes.push_back(StatusRoute([] { return std::string("{\"state\":\"ok\"}"); }));
  o.extra_routes.push_back({.path = "/debug/info", .content_type = "text/plain", .body = [] { return "x"; }});
  auto exporter = StartOrDie(o, Fixed(testdata::FullSnapshot()));
  auto r = HttpGet(exporter->port(), "/status");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(r->body, "{\"state\":\"ok\"}");
  r = HttpGet(exporter->port(), "/debug/info");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->header("Content-Type").value_or(""), "text/plain");
  EXPECT_EQ(r->body, "x");
  r = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(r->body, HasSubstr("process_resident_memory_bytes 1000"));
}

TEST(PrometheusExporterTest, UnknownPathsAndPrefixesOfRoutesAre404) {
  auto o = LoopbackOptions();
  o.extra_routes.push_back(StatusRoute([] { return std::string("{}"); }));
  auto exporter = StartOrDie(o, Fixed(testdata::FullSnapshot()));
  for (const char* path :
       {"/metricsfoo", "/metrics/", "/metrics/x", "/status/x", "/statusx", "/favicon.ico"}) {
    auto r = HttpGet(exporter->port(), path);
    ASSERT_TRUE(r.ok()) << path << ": " << r.error().message;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_THAT(r->body, Not(HasSubstr("process_"))) << path;
  }
}

TEST(PrometheusExporterTest, OnlyGetAndHeadAreAllowed) {
  auto o = LoopbackOptions();
  o.extra_routes.push_back(StatusRoute([] { return std::string("{}"); }));
  auto exporter = StartOrDie(o, Fixed(testdata::FullSnapshot()));
  for (const char* path : {"/metrics", "/status", "/"}) {
    auto r = RawHttpExchange(exporter->port(), RequestText("POST", path, "Content-Length: 2\r\n") + "{}");
    EXPECT_EQ(r.status, 405) << path;
    EXPECT_EQ(r.header("Allow").value_or(""), "GET, HEAD") << path;
  }
  auto head = RawHttpExchange(exporter->port(), RequestText("HEAD", "/metrics"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_GT(std::stoul(head.header("Content-Length").value_or("0")), 1000u);
  EXPECT_EQ(head.body, "");
  head = RawHttpExchange(exporter->port(), RequestText("HEAD", "/status"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length").value_or(""), "2");
  EXPECT_EQ(head.body, "");
}

TEST(PrometheusExporterTest, AnExtraRouteThatThrowsGives500AndServingGoesOn) {
  std::atomic<int> calls{0};
  auto o = LoopbackOptions();
  o.extra_routes.push_back(StatusRoute([&calls]() -> std::string {
    if (calls.fetch_add(1) == 0) throw std::runtime_error("status unavailable");
    return "{}";
  }));
  auto exporter = StartOrDie(o, Fixed(testdata::FullSnapshot()));
  auto r = HttpGet(exporter->port(), "/status");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(exporter->handler_errors(), 1u);
  r = HttpGet(exporter->port(), "/status");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{}");
  r = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("leakwatch_exporter_collect_errors_total 0\n"));
  EXPECT_EQ(exporter->handler_errors(), 1u);
  EXPECT_EQ(exporter->collect_errors(), 0u);
}

TEST(PrometheusExporterTest, IndexPageListsTheRoutes) {
  auto o = LoopbackOptions();
  o.metrics_path = "/leakwatch/metrics";
  o.extra_routes.push_back(StatusRoute([] { return std::string("{}"); }));
  auto exporter = StartOrDie(o, Fixed(testdata::FullSnapshot()));
  auto r = HttpGet(exporter->port(), "/");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Type").value_or(""), "text/html; charset=utf-8");
  EXPECT_THAT(r->body, HasSubstr("<a href=\"/leakwatch/metrics\">/leakwatch/metrics</a>"));
  EXPECT_THAT(r->body, HasSubstr("<a href=\"/status\">/status</a>"));
}

TEST(PrometheusExporterTest, MetricsAtTheRootReplaceTheIndexPage) {
  auto o = LoopbackOptions();
  o.metrics_path = "/";
  auto exporter = StartOrDie(o, Fixed(testdata::FullSnapshot()));
  auto r = HttpGet(exporter->port(), "/");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("process_resident_memory_bytes 1000"));
}

TEST(PrometheusExporterTest, GzipScrape) {
  auto exporter = StartOrDie(LoopbackOptions(), Fixed(testdata::FullSnapshot()));
  HttpGetOptions gzip;
  gzip.extra_headers = {{"Accept-Encoding", "gzip"}};  // what Prometheus sends
  auto r = HttpGet(exporter->port(), "/metrics", gzip);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Encoding").value_or(""), "gzip");
  const std::string text = testdata::Gunzip(r->body);
  EXPECT_THAT(text, HasSubstr("\nprocess_resident_memory_bytes 1000\n"));
  EXPECT_LT(r->body.size(), text.size() / 2);
}

TEST(PrometheusExporterTest, BasicAuthGuardsExtraRoutesAndTheIndex) {
  const std::string path =
      WriteTempFile("leakwatch-exporter-web-extra.yml",
                    "basic_auth_users:\n  prometheus: " + testdata::Bcrypt("s3cret", 4) + "\n");
  auto o = LoopbackOptions();
  o.web_config_file = path;
  o.extra_routes.push_back(StatusRoute([] { return std::string("{\"secret\":1}"); }));
  auto exporter = StartOrDie(o, Fixed(testdata::FullSnapshot()));
  std::remove(path.c_str());
  for (const char* route : {"/status", "/", "/nothing"}) {
    auto none = HttpGet(exporter->port(), route);
    ASSERT_TRUE(none.ok()) << none.error().message;
    EXPECT_EQ(none->status, 401) << route;
    EXPECT_THAT(none->header("WWW-Authenticate").value_or(""), HasSubstr("Basic realm=\"leakwatch\""));
    EXPECT_THAT(none->body, Not(HasSubstr("secret")));
  }
  HttpGetOptions right;
  right.basic_auth = BasicAuth{"prometheus", "s3cret"};
  auto ok = HttpGet(exporter->port(), "/status", right);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "{\"secret\":1}");
  ok = HttpGet(exporter->port(), "/", right);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_THAT(ok->body, HasSubstr("/status"));
}

// --- promtool check metrics over a real scrape
// -----------------------------------------------------------------

bool HavePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

// Runs `promtool check metrics` on `exposition`; returns its combined output.
std::string PromtoolCheckMetrics(const std::string& exposition) {
  const std::string path = WriteTempFile("leakwatch-exporter-scrape.txt", exposition);
  FILE* p = ::popen(("promtool check metrics < '" + path + "' 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed");
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  ::pclose(p);
  std::remove(path.c_str());
  return output;
}

// promtool's lines about leakwatch_* and process_* metrics, and any parse error (which hides every other
// problem).
std::vector<std::string> ComplaintsAboutOurs(const std::string& output) {
  std::istringstream lines(output);
  std::string line;
  std::vector<std::string> ours;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line.find("leakwatch_") != std::string::npos || line.find("process_") != std::string::npos ||
        line.find("error") != std::string::npos) {
      ours.push_back(line);
    } else {
      std::printf("promtool (not about leakwatch_/process_ metrics, ignored): %s\n", line.c_str());
    }
  }
  return ours;
}

TEST(PrometheusExporterTest, PromtoolFindsNoProblemInLeakwatchOrProcessMetrics) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool is not installed (Debian package `prometheus`)";
  auto exporter = StartOrDie(LoopbackOptions(), Fixed(testdata::FullSnapshot()));
  auto r = HttpGet(exporter->port(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->status, 200);
  // Every catalogue family is in the scrape, so promtool sees all of them.
  for (size_t i = 0; i < kSignalCount; ++i) {
    const std::string name(GetSignalInfo(static_cast<Signal>(i)).metric);
    ASSERT_THAT(r->body, HasSubstr("# TYPE " + name + " ")) << name;
  }

  // The check itself works: promtool does complain about a counter without _total.
  ASSERT_FALSE(
      ComplaintsAboutOurs(
          PromtoolCheckMetrics("# HELP leakwatch_selftest_bytes x.\n# TYPE leakwatch_selftest_bytes counter\n"
                               "leakwatch_selftest_bytes 1\n"))
          .empty());

  const std::string output = PromtoolCheckMetrics(r->body);
  const std::vector<std::string> ours = ComplaintsAboutOurs(output);
  EXPECT_TRUE(ours.empty()) << "promtool check metrics complained:\n" << output;
}

// --- the test HTTP client against hand-written servers
// ---------------------------------------------------------

TEST(HttpClientIntegrationTest, DecodesChunkedBodies) {
  Listener server;
  std::thread t([&server] {
    const int c = ::accept(server.fd(), nullptr, nullptr);
    if (c < 0) return;
    std::string req;
    char buf[1024];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    const std::string resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Seen-Auth: " +
                             std::to_string(req.find("Authorization: Basic dTpw\r\n") != std::string::npos) +
                             "\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
    ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
    ::close(c);
  });
  HttpGetOptions o;
  o.basic_auth = BasicAuth{"u", "p"};
  auto r = HttpGet(server.port(), "/x", o);
  t.join();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->reason, "OK");
  EXPECT_EQ(r->body, "hello, world");
  EXPECT_EQ(r->header("x-seen-auth").value_or(""), "1");
}

TEST(HttpClientIntegrationTest, TimesOutOnASilentServer) {
  Listener silent;  // the kernel completes the handshake; nobody ever answers
  HttpGetOptions o;
  o.timeout = std::chrono::milliseconds(200);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = HttpGet(silent.port(), "/metrics", o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("timed out"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

}  // namespace
}  // namespace leakwatch::exporters

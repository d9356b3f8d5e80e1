// Integration tests of the HTTP layer: a real HttpServer on 127.0.0.1 port 0, spoken to over TCP.
#include "exporters/http/http_server.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>

#include "tests/support/http_client.h"
#include "tests/unit/exporter/raw_http.h"

namespace leakwatch::exporters {
namespace {

using test_support::BasicAuth;
using test_support::HttpGet;
using test_support::HttpGetOptions;
using testdata::RawHttpExchange;
using testdata::RequestText;
using ::testing::HasSubstr;

HttpServerOptions LoopbackOptions() {
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.num_threads = 2;
  o.request_timeout_ms = 2000;
  return o;
}

HttpRoute TextRoute(std::string path, std::string body) {
  return HttpRoute{std::move(path), [body = std::move(body)](const HttpRequest&) {
                     HttpResponse r;
                     r.body = body;
                     return r;
                   }};
}

std::unique_ptr<HttpServer> StartOrDie(const HttpServerOptions& o, std::vector<HttpRoute> routes) {
  auto r = HttpServer::Start(o, std::move(routes));
  if (!r.ok()) throw std::runtime_error(r.error().message);
  return std::move(r).value();
}

TEST(HttpServerTest, PassesTheRequestToTheHandlerAndSendsItsResponse) {
  std::mutex mu;  // the handler runs on a worker thread
  HttpRequest seen;
  auto server = StartOrDie(LoopbackOptions(), {HttpRoute{"/echo", [&mu, &seen](const HttpRequest& request) {
                                                           std::lock_guard lock(mu);
                                                           seen = request;
                                                           HttpResponse r;
                                                           r.status = 202;
                                                           r.content_type = "application/json";
                                                           r.body = "{\"ok\":true}";
                                                           r.headers.emplace_back("X-Leakwatch", "1");
                                                           return r;
                                                         }}});
  HttpGetOptions o;
  o.extra_headers = {{"X-Custom", "value 1"}};
  auto r = HttpGet(server->port(), "/echo?a=1&b=%20", o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->header("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(r->header("Content-Length").value_or(""), "11");
  EXPECT_EQ(r->header("X-Leakwatch").value_or(""), "1");
  EXPECT_FALSE(r->header("Content-Encoding").has_value());
  EXPECT_EQ(r->body, "{\"ok\":true}");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/echo");
  EXPECT_EQ(seen.query_string, "a=1&b=%20");
  EXPECT_EQ(seen.header("x-custom").value_or(""), "value 1");
  EXPECT_EQ(server->handler_errors(), 0u);
}

TEST(HttpServerTest, MatchesExactPathsOnly) {
  auto server = StartOrDie(LoopbackOptions(), {TextRoute("/metrics", "m"), TextRoute("/status", "s")});
  for (const char* path :
       {"/metricsfoo", "/metrics/", "/metrics/x", "/status/x", "/statu", "/", "/nothing"}) {
    auto r = HttpGet(server->port(), path);
    ASSERT_TRUE(r.ok()) << path << ": " << r.error().message;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(r->body, "404 Not Found\n") << path;
  }
  for (const char* path : {"/metrics", "/metrics?x=1", "/status"}) {
    auto r = HttpGet(server->port(), path);
    ASSERT_TRUE(r.ok()) << path << ": " << r.error().message;
    EXPECT_EQ(r->status, 200) << path;
  }
}

TEST(HttpServerTest, AnswersOnlyGetAndHead) {
  std::atomic<int> calls{0};
  auto server = StartOrDie(LoopbackOptions(), {HttpRoute{"/status", [&calls](const HttpRequest&) {
                                                           ++calls;
                                                           HttpResponse r;
                                                           r.body = "state";
                                                           return r;
                                                         }}});
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"}) {
    const std::string body_headers =
        std::string(method) == "POST" || std::string(method) == "PUT" ? "Content-Length: 3\r\n" : "";
    auto r = RawHttpExchange(
        server->port(), RequestText(method, "/status", body_headers) + (body_headers.empty() ? "" : "abc"));
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.header("Allow").value_or(""), "GET, HEAD") << method;
  }
  // civetweb itself rejects methods it does not know (TRACE among them) before any callback runs.
  EXPECT_EQ(RawHttpExchange(server->port(), RequestText("TRACE", "/status")).status, 400);
  EXPECT_EQ(calls.load(), 0);
  // An unknown path is a 404 whatever the method.
  EXPECT_EQ(RawHttpExchange(server->port(), RequestText("POST", "/nothing")).status, 404);
}

TEST(HttpServerTest, HeadSendsTheHeadersOfGetWithoutTheBody) {
  std::mutex mu;
  std::string method;
  auto server =
      StartOrDie(LoopbackOptions(), {HttpRoute{"/status", [&mu, &method](const HttpRequest& request) {
                                                 std::lock_guard lock(mu);
                                                 method = request.method;
                                                 HttpResponse r;
                                                 r.content_type = "application/json";
                                                 r.body = "{\"a\":1}";
                                                 return r;
                                               }}});
  auto r = RawHttpExchange(server->port(), RequestText("HEAD", "/status"));
  EXPECT_EQ(r.status, 200);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(method, "HEAD");
  }
  EXPECT_EQ(r.header("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(r.header("Content-Length").value_or(""), "7");
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(RawHttpExchange(server->port(), RequestText("HEAD", "/nothing")).status, 404);
}

TEST(HttpServerTest, AFailingHandlerGives500AndTheServerKeepsServing) {
  std::atomic<int> calls{0};
  auto server = StartOrDie(LoopbackOptions(),
                           {HttpRoute{"/flaky",
                                      [&calls](const HttpRequest&) -> HttpResponse {
                                        if (calls.fetch_add(1) % 2 == 0) {
                                          throw std::runtime_error("boom");
                                        }
                                        HttpResponse r;
                                        r.body = "fine";
                                        return r;
                                      }},
                            HttpRoute{"/throws-int", [](const HttpRequest&) -> HttpResponse { throw 42; }},
                            HttpRoute{"/bad-header",
                                      [](const HttpRequest&) {
                                        HttpResponse r;
                                        r.headers.emplace_back("X-Injected", "a\r\nSet-Cookie: x");
                                        return r;
                                      }},
                            HttpRoute{"/bad-status", [](const HttpRequest&) {
                                        HttpResponse r;
                                        r.status = 99;
                                        return r;
                                      }}});
  for (int round = 0; round < 2; ++round) {
    auto failed = HttpGet(server->port(), "/flaky");
    ASSERT_TRUE(failed.ok()) << failed.error().message;
    EXPECT_EQ(failed->status, 500);
    EXPECT_EQ(failed->body, "500 Internal Server Error\n");
    auto served = HttpGet(server->port(), "/flaky");
    ASSERT_TRUE(served.ok()) << served.error().message;
    EXPECT_EQ(served->status, 200);
    EXPECT_EQ(served->body, "fine");
  }
  for (const char* path : {"/throws-int", "/bad-header", "/bad-status"}) {
    auto r = HttpGet(server->port(), path);
    ASSERT_TRUE(r.ok()) << path << ": " << r.error().message;
    EXPECT_EQ(r->status, 500) << path;
    EXPECT_FALSE(r->header("Set-Cookie").has_value());
  }
  EXPECT_EQ(server->handler_errors(), 5u);
}

TEST(HttpServerTest, BasicAuthGuardsEveryPath) {
  auto options = LoopbackOptions();
  std::atomic<int> checks{0};
  options.basic_auth = [&checks](std::string_view user, std::string_view password) {
    ++checks;
    if (user == "thrower") throw std::runtime_error("verifier failure");
    return user == "prometheus" && password == "s3cret";
  };
  auto server = StartOrDie(options, {TextRoute("/metrics", "m"), TextRoute("/status", "s")});
  for (const char* path : {"/metrics", "/status", "/nothing"}) {
    auto none = HttpGet(server->port(), path);
    ASSERT_TRUE(none.ok()) << none.error().message;
    EXPECT_EQ(none->status, 401) << path;
    EXPECT_EQ(none->header("WWW-Authenticate").value_or(""), "Basic realm=\"leakwatch\"") << path;

    for (const BasicAuth& wrong : {BasicAuth{"prometheus", "wrong"}, BasicAuth{"thrower", "x"}}) {
      HttpGetOptions o;
      o.basic_auth = wrong;
      auto bad = HttpGet(server->port(), path, o);
      ASSERT_TRUE(bad.ok()) << bad.error().message;
      EXPECT_EQ(bad->status, 401) << path << " as " << wrong.user;
    }
  }
  HttpGetOptions right;
  right.basic_auth = BasicAuth{"prometheus", "s3cret"};
  for (const auto& [path, status] : {std::pair{"/metrics", 200}, {"/status", 200}, {"/nothing", 404}}) {
    auto ok = HttpGet(server->port(), path, right);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->status, status) << path;
  }
  HttpGetOptions bearer;
  bearer.extra_headers = {{"Authorization", "Bearer abc"}};
  auto r = HttpGet(server->port(), "/status", bearer);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 401);
  // POST without credentials learns nothing either.
  EXPECT_EQ(RawHttpExchange(server->port(), RequestText("POST", "/status")).status, 401);
  EXPECT_EQ(checks.load(), 9);  // only requests that carried Basic credentials reach the check
}

TEST(HttpServerTest, CompressesLargeResponsesForClientsThatAcceptGzip) {
  const std::string large(20'000, 'a');
  auto server =
      StartOrDie(LoopbackOptions(), {TextRoute("/large", large), TextRoute("/small", "tiny"),
                                     HttpRoute{"/precompressed", [](const HttpRequest&) {
                                                 HttpResponse r;
                                                 r.content_type = "application/octet-stream";
                                                 r.body = std::string(5000, 'z');
                                                 r.headers.emplace_back("Content-Encoding", "identity");
                                                 return r;
                                               }}});
  HttpGetOptions gzip;
  gzip.extra_headers = {{"Accept-Encoding", "gzip"}};
  auto r = HttpGet(server->port(), "/large", gzip);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Encoding").value_or(""), "gzip");
  EXPECT_EQ(r->header("Vary").value_or(""), "Accept-Encoding");
  EXPECT_LT(r->body.size(), 1000u);
  EXPECT_EQ(r->header("Content-Length").value_or(""), std::to_string(r->body.size()));
  EXPECT_EQ(testdata::Gunzip(r->body), large);

  auto head = RawHttpExchange(server->port(), RequestText("HEAD", "/large", "Accept-Encoding: gzip\r\n"));
  EXPECT_EQ(head.header("Content-Encoding").value_or(""), "gzip");
  EXPECT_EQ(head.header("Content-Length").value_or(""), std::to_string(r->body.size()));
  EXPECT_EQ(head.body, "");

  auto plain = HttpGet(server->port(), "/large");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(plain->header("Content-Encoding").has_value());
  EXPECT_EQ(plain->body, large);

  auto small = HttpGet(server->port(), "/small", gzip);
  ASSERT_TRUE(small.ok()) << small.error().message;
  EXPECT_FALSE(small->header("Content-Encoding").has_value());
  EXPECT_EQ(small->body, "tiny");

  auto own = HttpGet(server->port(), "/precompressed", gzip);
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_EQ(own->header("Content-Encoding").value_or(""), "identity");
  EXPECT_EQ(own->body.size(), 5000u);

  auto options = LoopbackOptions();
  options.gzip = false;
  auto off = StartOrDie(options, {TextRoute("/large", large)});
  auto uncompressed = HttpGet(off->port(), "/large", gzip);
  ASSERT_TRUE(uncompressed.ok()) << uncompressed.error().message;
  EXPECT_FALSE(uncompressed->header("Content-Encoding").has_value());
  EXPECT_EQ(uncompressed->body, large);
}

TEST(HttpServerTest, StartRejectsBadRoutesAndOptionsWithoutThrowing) {
  const auto error = [](HttpServerOptions o, std::vector<HttpRoute> routes) {
    Result<std::unique_ptr<HttpServer>> r = Error{""};
    EXPECT_NO_THROW(r = HttpServer::Start(o, std::move(routes)));
    return r.ok() ? std::string("(started)") : r.error().message;
  };
  const auto o = LoopbackOptions();
  EXPECT_EQ(error(o, {TextRoute("status", "")}), "route path \"status\" must start with '/'");
  EXPECT_EQ(error(o, {TextRoute("/status", ""), TextRoute("/status", "")}),
            "route path \"/status\" is registered twice");
  EXPECT_EQ(error(o, {HttpRoute{"/status", nullptr}}), "route \"/status\" has no handler");
  HttpRoute no_method = TextRoute("/status", "");
  no_method.methods.clear();
  EXPECT_EQ(error(o, {no_method}), "route \"/status\" allows no method");
  HttpRoute odd_method = TextRoute("/status", "");
  odd_method.methods = {"PATCH"};
  EXPECT_EQ(error(o, {odd_method}),
            "route \"/status\" method \"PATCH\" is not one of GET, POST, PUT, DELETE");
  auto bad = o;
  bad.num_threads = 65;
  EXPECT_THAT(error(bad, {}), HasSubstr("num_threads 65"));
  bad = o;
  bad.request_timeout_ms = 0;
  EXPECT_THAT(error(bad, {}), HasSubstr("request_timeout_ms 0"));
  bad = o;
  bad.realm = "a\"b";
  EXPECT_THAT(error(bad, {}), HasSubstr("realm"));
  bad = o;
  bad.listen = "off";
  EXPECT_THAT(error(bad, {}), HasSubstr("\"off\""));
  bad = o;
  bad.listen = "nohost";
  EXPECT_THAT(error(bad, {}), HasSubstr("host:port"));
}

TEST(HttpServerTest, RoutesAllowTheirOwnMethods) {
  std::atomic<int> posts{0};
  HttpRoute post{"/capture", [&posts](const HttpRequest& request) {
                   HttpResponse r;
                   r.status = 202;
                   r.body = request.method;
                   ++posts;
                   return r;
                 }};
  post.methods = {"POST"};
  auto server = StartOrDie(LoopbackOptions(), {post, TextRoute("/status", "s")});
  HttpGetOptions as_post;
  as_post.method = "POST";
  auto r = HttpGet(server->port(), "/capture", as_post);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "POST");
  // A body sent with the POST is not read by the handler and does not break the connection handling.
  auto with_body =
      RawHttpExchange(server->port(), RequestText("POST", "/capture", "Content-Length: 5\r\n") + "hello");
  EXPECT_EQ(with_body.status, 202);
  for (const char* method : {"GET", "HEAD", "PUT"}) {
    auto wrong = RawHttpExchange(server->port(), RequestText(method, "/capture"));
    EXPECT_EQ(wrong.status, 405) << method;
    EXPECT_EQ(wrong.header("Allow").value_or(""), "POST") << method;
  }
  EXPECT_EQ(posts.load(), 2);
  auto get_post = RawHttpExchange(server->port(), RequestText("POST", "/status"));
  EXPECT_EQ(get_post.header("Allow").value_or(""), "GET, HEAD");
}

TEST(HttpServerTest, PrefixRoutesServeTheirSubtreeOnly) {
  std::mutex mu;
  std::vector<std::string> paths;
  HttpRoute files{"/files", [&](const HttpRequest& request) {
                    std::lock_guard lock(mu);
                    paths.push_back(request.path);
                    HttpResponse r;
                    r.body = request.path;
                    return r;
                  }};
  files.prefix = true;
  auto server = StartOrDie(LoopbackOptions(), {files, TextRoute("/files/exact", "exact")});
  for (const auto& [path, body] : {std::pair{"/files", "/files"},
                                   {"/files/a", "/files/a"},
                                   {"/files/a/b.txt", "/files/a/b.txt"},
                                   {"/files/exact", "exact"}}) {
    auto r = HttpGet(server->port(), path);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->body, body) << path;
  }
  for (const char* path : {"/filesx", "/file", "/other/files/a"}) {
    auto r = HttpGet(server->port(), path);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 404) << path;
  }
  // Dot segments are resolved before matching: this leaves the subtree and matches nothing.
  auto escaped = RawHttpExchange(server->port(), RequestText("GET", "/files/../secret"));
  EXPECT_EQ(escaped.status, 404);
  auto encoded = RawHttpExchange(server->port(), RequestText("GET", "/files/%2e%2e/secret"));
  EXPECT_NE(encoded.status, 200);
  std::lock_guard lock(mu);
  for (const auto& p : paths) EXPECT_EQ(p.rfind("/files", 0), 0u) << p;
}

TEST(HttpServerTest, RoutesWithTheirOwnAuthSkipBasicAuth) {
  auto options = LoopbackOptions();
  options.basic_auth = [](std::string_view user, std::string_view password) {
    return user == "prometheus" && password == "s3cret";
  };
  HttpRoute own = TextRoute("/debug", "own");
  own.own_auth = true;
  auto server = StartOrDie(options, {own, TextRoute("/metrics", "m")});
  HttpGetOptions bearer;
  bearer.extra_headers = {{"Authorization", "Bearer abc"}};
  auto r = HttpGet(server->port(), "/debug", bearer);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);  // the handler decides
  auto metrics = HttpGet(server->port(), "/metrics", bearer);
  ASSERT_TRUE(metrics.ok()) << metrics.error().message;
  EXPECT_EQ(metrics->status, 401);
}

TEST(HttpServerTest, StreamsAFileBody) {
  char path[] = "/tmp/leakwatch-http-file-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content;
  for (int i = 0; i < 50'000; ++i) content += std::to_string(i) + "\n";  // ~290 KB: several 64 KiB pieces
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  auto server = StartOrDie(LoopbackOptions(), {HttpRoute{"/file", [&path](const HttpRequest&) {
                                                           HttpResponse r;
                                                           const int in = ::open(path, O_RDONLY | O_CLOEXEC);
                                                           struct stat st {};
                                                           ::fstat(in, &st);
                                                           r.file = std::make_shared<HttpResponse::File>(
                                                               in, static_cast<uint64_t>(st.st_size));
                                                           r.content_type = "text/plain";
                                                           return r;
                                                         }}});
  HttpGetOptions gz;
  gz.extra_headers = {{"Accept-Encoding", "gzip"}};
  auto r = HttpGet(server->port(), "/file", gz);
  ::unlink(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->header("Content-Encoding").has_value());
  EXPECT_EQ(r->header("Content-Length").value_or(""), std::to_string(content.size()));
  EXPECT_TRUE(r->body == content) << r->body.size() << " bytes instead of " << content.size();
  // The server closed the file: no fd of this process still points at it.
  for (int i = 0; i < 1024; ++i) {
    char link[64];
    char target[256];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", i);
    const ssize_t n = ::readlink(link, target, sizeof target - 1);
    if (n > 0) {
      EXPECT_NE(std::string(target, static_cast<size_t>(n)).rfind(path, 0), 0u) << "fd " << i;
    }
  }
}

TEST(HttpServerTest, StopIsIdempotentAndThePortStaysReadable) {
  auto server = StartOrDie(LoopbackOptions(), {TextRoute("/status", "s")});
  const int port = server->port();
  ASSERT_GT(port, 0);
  server->Stop();
  server->Stop();
  EXPECT_EQ(server->port(), port);
  HttpGetOptions quick;
  quick.timeout = std::chrono::milliseconds(1000);
  EXPECT_FALSE(HttpGet(port, "/status", quick).ok());
}

}  // namespace
}  // namespace leakwatch::exporters

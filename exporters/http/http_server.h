#pragma once
// HttpServer: leakwatch's small HTTP layer over civetweb. It serves a fixed table of routes, matched by exact
// path (civetweb itself matches handler URIs as prefixes; this layer does not, unless a route asks for its
// subtree), with optional HTTP basic auth in front of every route. It exposes no civetweb type.
//
// Per request, in this order:
//   1. path: the route with exactly this path, else the prefix route with the longest path P such that the
//      request's path starts with P + "/"; none -> 404 (`/metricsfoo` and `/metrics/x` do not match an
//      exact `/metrics`);
//   2. auth (when a check is configured and the route does not authenticate by itself): missing or wrong
//      credentials -> 401 with `WWW-Authenticate: Basic realm="<realm>"`, for every path, unknown ones
//      included (so an unauthenticated client cannot tell which paths exist);
//   3. method: one the route does not allow -> 405 with `Allow:` listing the route's methods (methods
//      civetweb does not know, TRACE among them, get civetweb's own 400 before this layer sees them);
//   4. the route's handler. HEAD is allowed wherever GET is, runs the handler like GET and sends the headers
//      without the body. A request body (POST) is not read; civetweb discards it. A handler that throws, or
//      returns an invalid status or header, gives 500; the failure is counted (handler_errors()) and logged
//      through leakwatch's logger at most once a minute.
// No exception ever reaches civetweb. Responses of at least 1 KiB with status 2xx are gzip-compressed when
// the client sends `Accept-Encoding: gzip` (unless disabled or the handler set its own Content-Encoding).
//
// TLS is never enabled (civetweb's TLS crashes with OpenSSL 3): put a TLS proxy in front instead.
//
// Thread-safety: Start() and Stop() (and the destructor) must not run concurrently on one server; port() and
// handler_errors() are safe from any thread. Handlers run on the server's worker threads, several at once
// (up to num_threads), so they must be thread-safe.
// Cost: Start() binds a socket and starts num_threads + 1 threads; Stop() shuts the listening socket down
// first and then joins the threads: tens of ms, plus any request in flight (it used to wait for civetweb's 2
// s poll). Per request: one copy of the request headers, the handler, and the compression of the body when it
// applies (zlib level 1: ~3-4 ms and a tenth of the size per MiB of exposition text).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::exporters {

struct HttpRequest {
  std::string method;        // one of the route's methods, or "HEAD" for a GET route
  std::string path;          // URL-decoded, without the query string, e.g. "/metrics"
  std::string query_string;  // as sent, without the '?'; empty when there is none
  std::vector<std::pair<std::string, std::string>> headers;  // as received, names as sent

  // Value of the first header with this name (case-insensitive), or nullopt. Valid while *this is.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;                                        // 200..599
  std::string content_type = "text/plain; charset=utf-8";  // no CR or LF
  std::string body;
  // Further headers: names are tokens, values contain no CR, LF or NUL, at most 32 of them. Content-Type,
  // Content-Length, Date, Connection and Transfer-Encoding belong to the server. A Content-Encoding set here
  // turns the server's compression off for this response. A response breaking these rules is sent as a 500.
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is the first `bytes` bytes of this open file instead of `body` (which must then be
  // empty): sent in 64 KiB pieces, never compressed, so a large file costs the host no large buffer. The
  // server closes the fd (through the last copy of the pointer).
  struct File {
    int fd = -1;
    uint64_t bytes = 0;
    File(int fd_in, uint64_t bytes_in) : fd(fd_in), bytes(bytes_in) {}
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;
  };
  std::shared_ptr<File> file;
};

// Produces the response to one request. May throw: the server answers 500 and counts the failure.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpRoute {
  std::string path;  // see ValidateRoutePath()
  HttpHandler handler;
  // The methods the handler answers ("GET", "POST", ...); HEAD is allowed wherever GET is.
  std::vector<std::string> methods = {"GET"};
  // Also serves every path below `path` ("/a/b" serves "/a/b/c" and "/a/b/c/d"); the handler reads the rest
  // from HttpRequest::path. Paths are decoded and cleaned of dot segments by civetweb before matching, but a
  // handler serving files must still check what it opens.
  bool prefix = false;
  // The handler authenticates requests itself (e.g. with a bearer token): the server's basic auth is not
  // applied to this route.
  bool own_auth = false;
};

// Checks HTTP basic-auth credentials; true lets the request through. Called on worker threads, concurrently;
// must be thread-safe. An exception it throws denies the request (401).
using BasicAuthCheck = std::function<bool(std::string_view user, std::string_view password)>;

struct HttpServerOptions {
  // "host:port" as leakwatch::internal::ParseListen accepts it ("127.0.0.1:9860", ":9860", "localhost:0").
  // Port 0 picks a free port; read it back with port(). "off" is an error here.
  std::string listen = "127.0.0.1:0";
  int request_timeout_ms = 3000;    // civetweb request_timeout_ms, 1..600000: bounds idle or slow connections
  int num_threads = 4;              // civetweb worker threads, 1..64
  BasicAuthCheck basic_auth;        // empty: no authentication
  std::string realm = "leakwatch";  // basic-auth realm sent with 401
  bool gzip = true;                 // compress large 2xx responses for clients that accept gzip
  std::string log_name = "http server";  // prefix of the server's log lines, e.g. "prometheus exporter"
};

// OK when `path` can be served as a route: it starts with '/', and contains only printable ASCII other than
// space, '?', '#' and '%', no empty segment ("//") and no "." or ".." segment — civetweb decodes and
// normalises request paths before matching, so a path outside this form could never match. The error reads
// like `"metrics" must start with '/'` (the caller prefixes the option's name).
Status ValidateRoutePath(std::string_view path);

class HttpServer {
 public:
  // Validates options and routes (paths valid and unique, handlers non-empty), binds and starts serving.
  // Never throws. Errors are not prefixed with log_name; a bind failure carries civetweb's cause, e.g.
  // `cannot listen on "127.0.0.1:9860": cannot bind to 127.0.0.1:9860: 98 (Address already in use)`.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   std::vector<HttpRoute> routes);

  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Shuts the listening socket down and joins the worker threads (tens of ms); a request in flight finishes
  // first. No handler runs after Stop() returns. Idempotent.
  void Stop();

  // The port actually bound (the chosen one when options.listen asked for port 0); still valid after Stop().
  int port() const;

  // Number of requests whose handler failed (threw or returned an invalid response) since Start().
  uint64_t handler_errors() const;

  // The listening sockets' fds (found once by Start(); for fork handlers that close them in children).
  const std::vector<int>& listening_fds() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakwatch::exporters

#include "exporters/http/http_server.h"

#include <CivetServer.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <exception>
#include <map>
#include <stdexcept>

#include "agent/common/listening_socket.h"
#include "agent/config/config.h"
#include "agent/logging/log.h"
#include "exporters/http/basic_auth_header.h"
#include "exporters/http/gzip.h"

namespace leakwatch::exporters {
namespace {

constexpr int kMaxThreads = 64;
constexpr int kMaxRequestTimeoutMs = 600'000;
constexpr size_t kMinGzipBytes = 1024;   // below this the gzip framing costs more than it saves
constexpr size_t kMaxExtraHeaders = 32;  // civetweb buffers at most 64 response headers
constexpr std::chrono::seconds kLogInterval{60};
constexpr size_t kFileChunkBytes = 64 * 1024;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Admits one event per kLogInterval across threads; the others are dropped (and counted elsewhere).
class LogRateLimiter {
 public:
  bool Allow() {
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t next = next_ns_.load(std::memory_order_relaxed);
    if (now < next) return false;
    return next_ns_.compare_exchange_strong(next, now + std::chrono::nanoseconds(kLogInterval).count(),
                                            std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> next_ns_{0};
};

// civetweb reports why mg_start() failed (e.g. "cannot bind to 127.0.0.1:9860: 98 (Address already in use)")
// only through the log_message callback, on the thread that constructs the server, while the exception it
// then throws says only "null context when constructing CivetServer". Start() points this at a local vector
// for the duration of the construction; messages logged later (from worker threads) go to the agent's logger.
thread_local std::vector<std::string>* t_start_messages = nullptr;

// Process-wide: some civetweb messages carry no connection, so they cannot be attributed to one server.
LogRateLimiter g_civetweb_log_limiter;
// Servers inside Stop(): their acceptors may report the failed accept() on the socket just shut down.
std::atomic<int> g_servers_stopping{0};

bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsValidHeaderValue(std::string_view value) {
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Empty when `response` can be sent as is; otherwise why not.
std::string InvalidResponseReason(const HttpResponse& response) {
  if (response.status < 200 || response.status > 599) {
    return "status " + std::to_string(response.status) + " is outside 200..599";
  }
  if (!IsValidHeaderValue(response.content_type)) return "content type contains CR, LF or NUL";
  if (response.file && (response.file->fd < 0 || !response.body.empty())) {
    return "a file body needs an open fd and an empty body";
  }
  if (response.headers.size() > kMaxExtraHeaders) {
    return std::to_string(response.headers.size()) + " extra headers (at most " +
           std::to_string(kMaxExtraHeaders) + ")";
  }
  for (const auto& [name, value] : response.headers) {
    bool token = !name.empty();
    for (char c : name) token = token && IsTokenChar(c);
    if (!token) return "header name " + Quote(name) + " is not a token";
    if (!IsValidHeaderValue(value)) return "header " + name + " contains CR, LF or NUL";
    for (std::string_view reserved :
         {"Content-Type", "Content-Length", "Date", "Connection", "Transfer-Encoding"}) {
      if (EqualsIgnoreCase(name, reserved)) return "header " + name + " is set by the server";
    }
  }
  return {};
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    default:
      return "Internal Server Error";
  }
}

HttpResponse ErrorResponse(int status) {
  HttpResponse r;
  r.status = status;
  r.body = std::to_string(status) + " " + ReasonPhrase(status) + "\n";
  return r;
}

}  // namespace

HttpResponse::File::~File() {
  if (fd >= 0) ::close(fd);
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

Status ValidateRoutePath(std::string_view path) {
  if (path.empty() || path[0] != '/') return Error{Quote(path) + " must start with '/'"};
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == '?' ||
        c == '#' || c == '%') {
      return Error{Quote(path) + " must contain only printable ASCII other than space, '?', '#' and '%'"};
    }
  }
  std::string_view rest = path.substr(1);
  while (true) {
    const size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "." || segment == "..")
      return Error{Quote(path) + " must not contain \".\" or \"..\" segments"};
    if (slash == std::string_view::npos) break;
    if (segment.empty()) return Error{Quote(path) + " must not contain \"//\""};
    rest = rest.substr(slash + 1);
  }
  return OkStatus();
}

namespace {

// The request-handling state shared by civetweb's worker threads; read-only after Start() except for the
// counters. It outlives the CivetServer (Impl destroys the server first).
class Router {
 public:
  Router(const HttpServerOptions& options, std::vector<HttpRoute> routes)
      : basic_auth_(options.basic_auth),
        www_authenticate_("Basic realm=\"" + options.realm + "\""),
        gzip_(options.gzip),
        log_name_(options.log_name) {
    for (auto& r : routes) {
      Route route{.handler = std::move(r.handler),
                  .methods = std::move(r.methods),
                  .allow = {},
                  .prefix = r.prefix,
                  .own_auth = r.own_auth};
      for (const auto& m : route.methods) {
        route.allow += (route.allow.empty() ? "" : ", ") + m;
        if (m == "GET") route.allow += ", HEAD";
      }
      routes_.emplace(std::move(r.path), std::move(route));
    }
  }

  const std::string& log_name() const { return log_name_; }
  uint64_t handler_errors() const { return handler_errors_.load(std::memory_order_relaxed); }

  // Answers one request completely; returns the status for civetweb's access log. Never throws.
  int Serve(mg_connection* conn) {
    bool sending = false;
    try {
      const HttpRequest request = ReadRequest(conn);
      const HttpResponse response = Respond(request);
      const bool accepts_gzip = AcceptsGzip(request.header("Accept-Encoding").value_or(""));
      sending = true;
      Send(conn, response, request.method == "HEAD", accepts_gzip);
      return response.status;
    } catch (...) {
      // Out of memory while building a response: answer with civetweb's own minimal error page if nothing has
      // been written yet.
      if (!sending) mg_send_http_error(conn, 500, "%s", "Internal Server Error");
      return 500;
    }
  }

  void LogCivetwebMessage(std::string_view message) const {
    if (!g_civetweb_log_limiter.Allow()) return;
    leakwatch::internal::Log()->warn("{}: civetweb: {} (civetweb messages are logged at most once a minute)",
                                     log_name_, message);
  }

 private:
  static HttpRequest ReadRequest(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    HttpRequest request;
    if (info == nullptr) return request;
    if (info->request_method != nullptr) request.method = info->request_method;
    // local_uri is decoded and cleaned of dot segments; it is NULL for an absolute URI naming another host.
    if (info->local_uri != nullptr) request.path = info->local_uri;
    if (info->query_string != nullptr) request.query_string = info->query_string;
    request.headers.reserve(static_cast<size_t>(info->num_headers));
    for (int i = 0; i < info->num_headers; ++i) {
      const mg_header& h = info->http_headers[i];
      request.headers.emplace_back(h.name != nullptr ? h.name : "", h.value != nullptr ? h.value : "");
    }
    return request;
  }

  HttpResponse Respond(const HttpRequest& request) {
    const Route* route = FindRoute(request.path);
    if (basic_auth_ && !(route && route->own_auth) && !Authorized(request)) {
      HttpResponse r = ErrorResponse(401);
      r.headers.emplace_back("WWW-Authenticate", www_authenticate_);
      return r;
    }
    if (route == nullptr) return ErrorResponse(404);
    if (!Allows(*route, request.method)) {
      HttpResponse r = ErrorResponse(405);
      r.headers.emplace_back("Allow", route->allow);
      return r;
    }
    std::string failure;
    try {
      HttpResponse response = route->handler(request);
      failure = InvalidResponseReason(response);
      if (failure.empty()) return response;
      failure = "invalid response: " + failure;
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    ReportHandlerError(request.path, failure);
    return ErrorResponse(500);
  }

  struct Route {
    HttpHandler handler;
    std::vector<std::string> methods;
    std::string allow;  // the Allow header of a 405
    bool prefix = false;
    bool own_auth = false;
  };

  // The exact route, else the prefix route with the longest path that is a proper ancestor of `path`.
  const Route* FindRoute(const std::string& path) const {
    if (const auto it = routes_.find(path); it != routes_.end()) return &it->second;
    std::string_view rest = path;
    while (true) {
      const size_t slash = rest.rfind('/');
      if (slash == std::string_view::npos || slash == 0) return nullptr;
      rest = rest.substr(0, slash);
      const auto it = routes_.find(rest);
      if (it != routes_.end() && it->second.prefix) return &it->second;
    }
  }

  static bool Allows(const Route& route, const std::string& method) {
    for (const auto& m : route.methods) {
      if (m == method || (m == "GET" && method == "HEAD")) return true;
    }
    return false;
  }

  bool Authorized(const HttpRequest& request) const {
    const auto header = request.header("Authorization");
    if (!header) return false;
    const auto credentials = ParseBasicAuthorization(*header);
    if (!credentials) return false;
    try {
      return basic_auth_(credentials->user, credentials->password);
    } catch (...) {
      return false;
    }
  }

  void Send(mg_connection* conn, const HttpResponse& response, bool head, bool accepts_gzip) const {
    if (response.file) return SendFile(conn, response, head);
    // A body that is a gzip file already (a .pb.gz profile) is not compressed a second time.
    const bool already_gzip = response.body.size() >= 2 &&
                              static_cast<unsigned char>(response.body[0]) == 0x1f &&
                              static_cast<unsigned char>(response.body[1]) == 0x8b;
    const bool may_compress =
        gzip_ && response.status / 100 == 2 && !HasHeader(response, "Content-Encoding") && !already_gzip;
    std::string_view body = response.body;
    std::string compressed;
    if (may_compress && accepts_gzip && body.size() >= kMinGzipBytes) {
      if (auto z = GzipCompress(body); z.ok()) {
        compressed = std::move(z).value();
        body = compressed;
      }  // else: send it uncompressed
    }
    const std::string content_length = std::to_string(body.size());
    mg_response_header_start(conn, response.status);
    mg_response_header_add(conn, "Content-Type", response.content_type.c_str(), -1);
    mg_response_header_add(conn, "Content-Length", content_length.c_str(), -1);
    if (!compressed.empty()) mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    if (may_compress) mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
    for (const auto& [name, value] : response.headers) {
      mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
    }
    mg_response_header_send(conn);
    if (!head && !body.empty()) mg_write(conn, body.data(), body.size());
  }

  static void SendFile(mg_connection* conn, const HttpResponse& response, bool head) {
    const uint64_t total = response.file->bytes;
    const std::string content_length = std::to_string(total);
    mg_response_header_start(conn, response.status);
    mg_response_header_add(conn, "Content-Type", response.content_type.c_str(), -1);
    mg_response_header_add(conn, "Content-Length", content_length.c_str(), -1);
    for (const auto& [name, value] : response.headers) {
      mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
    }
    mg_response_header_send(conn);
    if (head) return;
    std::vector<char> buffer(kFileChunkBytes);
    uint64_t sent = 0;
    while (sent < total) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), total - sent));
      const ssize_t n = ::pread(response.file->fd, buffer.data(), want, static_cast<off_t>(sent));
      if (n < 0 && errno == EINTR) continue;
      // A file that shrank or failed to read: the client sees a short body against Content-Length.
      if (n <= 0) break;
      if (mg_write(conn, buffer.data(), static_cast<size_t>(n)) <= 0) break;
      sent += static_cast<uint64_t>(n);
    }
  }

  static bool HasHeader(const HttpResponse& response, std::string_view name) {
    for (const auto& header : response.headers) {
      if (EqualsIgnoreCase(header.first, name)) return true;
    }
    return false;
  }

  void ReportHandlerError(const std::string& path, const std::string& what) {
    const uint64_t n = handler_errors_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!error_log_limiter_.Allow()) return;
    try {
      leakwatch::internal::Log()->error(
          "{}: the handler of {} failed ({} failure(s) so far; logged at most once a minute): {}", log_name_,
          path, n, what);
    } catch (...) {
      // Best effort: the counter already records the failure.
    }
  }

  std::map<std::string, Route, std::less<>> routes_;
  BasicAuthCheck basic_auth_;
  std::string www_authenticate_;
  bool gzip_;
  std::string log_name_;
  std::atomic<uint64_t> handler_errors_{0};
  LogRateLimiter error_log_limiter_;
};

// civetweb passes the CivetServer as its user data; the server's user context is our Router.
Router* RouterOf(const mg_connection* conn) {
  if (conn == nullptr) return nullptr;
  const mg_context* context = mg_get_context(conn);
  if (context == nullptr) return nullptr;
  const auto* server = static_cast<const CivetServer*>(mg_get_user_data(context));
  if (server == nullptr) return nullptr;
  return static_cast<Router*>(const_cast<void*>(server->getUserContext()));
}

int OnCivetLogMessage(const mg_connection* conn, const char* message) {
  try {
    if (message == nullptr) return 1;
    if (t_start_messages != nullptr) {
      t_start_messages->emplace_back(message);
      return 1;
    }
    // The acceptor's failed accept() on the socket Stop() just shut down is expected, not news.
    if (g_servers_stopping.load() > 0 && std::string_view(message).find("accept") != std::string_view::npos) {
      return 1;
    }
    // Rate-limited: a port scanner must not be able to flood the host's log through us.
    if (const Router* router = RouterOf(conn)) {
      router->LogCivetwebMessage(message);
    } else if (g_civetweb_log_limiter.Allow()) {
      leakwatch::internal::Log()->warn(
          "http server: civetweb: {} (civetweb messages are logged at most once a minute)",
          std::string_view(message));
    }
  } catch (...) {
    // Never let an exception into civetweb's C code.
  }
  return 1;  // civetweb must not log by itself
}

// Every request goes through begin_request rather than a CivetHandler: handlers are matched by URI prefix and
// unhandled methods (PROPFIND, MKCOL...) would fall through to civetweb's own processing; here the Router
// decides every response, with exact paths.
int OnBeginRequest(mg_connection* conn) {
  Router* router = RouterOf(conn);
  if (router == nullptr) {
    mg_send_http_error(conn, 503, "%s", "Service Unavailable");
    return 503;
  }
  return router->Serve(conn);  // never throws
}

Status ValidateOptions(const HttpServerOptions& o) {
  if (o.request_timeout_ms < 1 || o.request_timeout_ms > kMaxRequestTimeoutMs) {
    return Error{"request_timeout_ms " + std::to_string(o.request_timeout_ms) + " is outside 1.." +
                 std::to_string(kMaxRequestTimeoutMs)};
  }
  if (o.num_threads < 1 || o.num_threads > kMaxThreads) {
    return Error{"num_threads " + std::to_string(o.num_threads) + " is outside 1.." +
                 std::to_string(kMaxThreads)};
  }
  if (!IsValidHeaderValue(o.realm) || o.realm.find('"') != std::string::npos) {
    return Error{"realm " + Quote(o.realm) + " must not contain '\"', CR, LF or NUL"};
  }
  return OkStatus();
}

Status ValidateRoutes(const std::vector<HttpRoute>& routes) {
  std::map<std::string_view, size_t> seen;
  for (size_t i = 0; i < routes.size(); ++i) {
    if (auto st = ValidateRoutePath(routes[i].path); !st) return Error{"route path " + st.error().message};
    if (!routes[i].handler) return Error{"route " + Quote(routes[i].path) + " has no handler"};
    if (routes[i].methods.empty()) return Error{"route " + Quote(routes[i].path) + " allows no method"};
    for (const auto& m : routes[i].methods) {
      if (m != "GET" && m != "POST" && m != "PUT" && m != "DELETE") {
        return Error{"route " + Quote(routes[i].path) + " method " + Quote(m) +
                     " is not one of GET, POST, PUT, DELETE"};
      }
    }
    if (!seen.emplace(routes[i].path, i).second) {
      return Error{"route path " + Quote(routes[i].path) + " is registered twice"};
    }
  }
  return OkStatus();
}

}  // namespace

struct HttpServer::Impl {
  std::unique_ptr<Router> router;       // outlives the server: its threads use it until joined
  std::unique_ptr<CivetServer> server;  // reset by Stop()
  int port = 0;
  std::vector<int> listening_fds;  // civetweb's listening sockets, shut down first by Stop()
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!impl_ || !impl_->server) return;
  try {
    // Shutting the listening socket down wakes civetweb's acceptor at once; without it, the acceptor notices
    // the stop flag only when its poll() times out (up to 2 s), and a host's exit would wait for that.
    g_servers_stopping.fetch_add(1);
    for (const int fd : impl_->listening_fds) leakwatch::internal::ShutDownListening(fd, impl_->port);
    impl_->server.reset();  // joins civetweb's threads; a request in flight finishes first
    g_servers_stopping.fetch_sub(1);
  } catch (...) {
    g_servers_stopping.fetch_sub(1);
    try {
      leakwatch::internal::Log()->error("{}: stopping the HTTP server threw; ignored",
                                        impl_->router->log_name());
    } catch (...) {
    }
  }
}

int HttpServer::port() const { return impl_->port; }

const std::vector<int>& HttpServer::listening_fds() const { return impl_->listening_fds; }

uint64_t HttpServer::handler_errors() const { return impl_->router->handler_errors(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      std::vector<HttpRoute> routes) {
  try {
    if (auto st = ValidateOptions(options); !st) return st.error();
    if (auto st = ValidateRoutes(routes); !st) return st.error();
    auto address = leakwatch::internal::ParseListen(options.listen);
    if (!address) return address.error();
    if (address->off) return Error{"listen \"off\" means no HTTP server; do not start one"};

    auto impl = std::make_unique<Impl>();
    impl->router = std::make_unique<Router>(options, std::move(routes));

    // TLS is deliberately never configured (no ssl_certificate): civetweb's TLS crashes with OpenSSL 3.
    const std::string listening = address->host + ":" + std::to_string(address->port);
    const std::vector<std::string> civet_options{
        "listening_ports",    listening,
        "num_threads",        std::to_string(options.num_threads),
        "request_timeout_ms", std::to_string(options.request_timeout_ms),
    };
    CivetCallbacks callbacks;
    callbacks.log_message = &OnCivetLogMessage;
    callbacks.begin_request = &OnBeginRequest;

    std::vector<std::string> messages;
    t_start_messages = &messages;
    try {
      impl->server = std::make_unique<CivetServer>(civet_options, &callbacks, impl->router.get());
    } catch (const std::exception& e) {
      t_start_messages = nullptr;
      std::string cause;
      for (const auto& m : messages) cause += (cause.empty() ? "" : "; ") + m;
      if (cause.empty()) cause = e.what();
      return Error{"cannot listen on " + Quote(options.listen) + ": " + cause};
    } catch (...) {
      t_start_messages = nullptr;
      return Error{"cannot listen on " + Quote(options.listen) + ": unknown exception"};
    }
    t_start_messages = nullptr;

    const std::vector<int> ports = impl->server->getListeningPorts();
    if (ports.empty() || ports.front() <= 0) {
      return Error{"listening on " + Quote(options.listen) + " but civetweb reports no bound port"};
    }
    impl->port = ports.front();
    impl->listening_fds = leakwatch::internal::FindListeningSockets("/proc/self", impl->port);
    leakwatch::internal::Log()->debug("{}: serving HTTP on {}:{}{}", options.log_name, address->host,
                                      impl->port, options.basic_auth ? " with basic auth" : "");
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
  } catch (const std::exception& e) {
    t_start_messages = nullptr;
    return Error{std::string("start failed: ") + e.what()};
  } catch (...) {
    t_start_messages = nullptr;
    return Error{"start failed: unknown exception"};
  }
}

}  // namespace leakwatch::exporters

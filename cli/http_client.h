#pragma once
// A small blocking HTTP/1.1 client: one request per call over a fresh TCP connection ("Connection: close"),
// with an overall deadline. Handles Content-Length, chunked and read-until-close bodies; bodies are binary
// safe. Used by the `leakwatch` command-line tool and, through tests/support/http_client.h, by the tests.
// Not a general HTTP client: no redirects, no TLS, no compression, no keep-alive.
//
// The host is an IPv4 or IPv6 literal or a name resolved with getaddrinfo() (each address tried in turn;
// name resolution itself is not bounded by the deadline).
//
// Thread-safety: HttpRequest() is reentrant. Cost: one connect, one request, reads until the body is
// complete.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::cli {

struct HttpResponse {
  int status = 0;                                            // e.g. 200
  std::string reason;                                        // e.g. "OK"
  std::vector<std::pair<std::string, std::string>> headers;  // in order received, names as sent
  std::string body;                                          // de-chunked

  // First header with this name (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

struct BasicAuth {
  std::string user;
  std::string password;
};

struct HttpRequestOptions {
  std::string method = "GET";               // any method
  std::string body;                         // sent with a Content-Length (a POST or PUT always has one)
  std::string host = "127.0.0.1";           // IP literal or host name
  std::chrono::milliseconds timeout{5000};  // whole exchange: connect, send, receive
  std::optional<BasicAuth> basic_auth;      // adds "Authorization: Basic base64(user:password)"
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// Why a request failed, for callers that explain failures (the CLI's "is the agent running?").
enum class HttpFailure {
  kNone,
  kBadAddress,  // bad port, or a host that does not resolve
  kRefused,     // ECONNREFUSED on every address
  kConnect,     // another connect error (unreachable network, ...)
  kTimeout,     // the deadline passed (connect, send or receive)
  kProtocol,    // a malformed or incomplete response
  kIo,          // send/recv failed (reset by peer, ...)
};

// <method> http://<host>:<port><path>. Errors (connect refused, timeout, malformed response) name the URL and
// cause, and set *failure when given; any HTTP status, 4xx/5xx included, is a successful result.
Result<HttpResponse> HttpRequest(int port, std::string_view path, const HttpRequestOptions& options = {},
                                 HttpFailure* failure = nullptr);

// Standard base64 with padding.
std::string Base64Encode(std::string_view in);

// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
std::string UrlEncode(std::string_view in);

}  // namespace leakwatch::cli

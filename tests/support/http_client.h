#pragma once
// A tiny blocking HTTP/1.1 client for tests: one GET to 127.0.0.1:<port> per call, over a fresh TCP
// connection
// ("Connection: close"), with an overall deadline. Handles Content-Length, chunked and read-until-close
// bodies. Not a general HTTP client: no redirects, no TLS, no compression, no keep-alive.
//
// Thread-safety: HttpGet() is reentrant. Cost: one connect, one request, reads until the body is complete.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::test_support {

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

struct HttpGetOptions {
  std::string method = "GET";               // any method
  std::string body;                         // sent with a Content-Length (a POST or PUT always has one)
  std::string host = "127.0.0.1";           // IPv4 literal
  std::chrono::milliseconds timeout{5000};  // whole exchange: connect, send, receive
  std::optional<BasicAuth> basic_auth;      // adds "Authorization: Basic base64(user:password)"
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// <method> http://<host>:<port><path>. Errors (connect refused, timeout, malformed response) name the URL and
// cause; any HTTP status, 4xx/5xx included, is a successful result.
Result<HttpResponse> HttpGet(int port, std::string_view path, const HttpGetOptions& options = {});

// Standard base64 with padding (exposed for tests of the client itself).
std::string Base64Encode(std::string_view in);

}  // namespace leakwatch::test_support

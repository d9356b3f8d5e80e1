#pragma once
// The tests' HTTP client: a thin wrapper over the production client of the `leakwatch` command
// (cli/http_client.h), so there is one implementation. One GET (or any method) to <host>:<port> per call,
// over a fresh TCP connection ("Connection: close"), with an overall deadline. Handles Content-Length,
// chunked and read-until-close bodies. No redirects, no TLS, no compression, no keep-alive.
//
// Thread-safety: HttpGet() is reentrant. Cost: one connect, one request, reads until the body is complete.

#include <string_view>

#include "cli/http_client.h"
#include "leakwatch/result.h"

namespace leakwatch::test_support {

using HttpResponse = cli::HttpResponse;  // status, reason, headers, body; header(name) is case-insensitive
using BasicAuth = cli::BasicAuth;
// method (GET), body, host (an IPv4 literal for the tests: 127.0.0.1), timeout (5 s, the whole exchange),
// basic_auth, extra_headers.
using HttpGetOptions = cli::HttpRequestOptions;
using cli::Base64Encode;

// <method> http://<host>:<port><path>. The host must be an IPv4 literal (tests never resolve names). Errors
// (bad host, connect refused, timeout, malformed response) name the URL and cause; any HTTP status, 4xx/5xx
// included, is a successful result.
Result<HttpResponse> HttpGet(int port, std::string_view path, const HttpGetOptions& options = {});

}  // namespace leakwatch::test_support

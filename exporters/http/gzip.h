#pragma once
// gzip content coding for HTTP responses (RFC 9110 section 8.4.1.3): the Accept-Encoding negotiation. The
// compression itself, GzipCompress, lives in the core (agent/common/gzip.h: bundles use it too) and is
// visible here under its old name.
//
// Thread-safety: pure functions. Cost: AcceptsGzip is a scan of the header.

#include <string_view>

#include "agent/common/gzip.h"

namespace leakwatch::exporters {

// True when an Accept-Encoding header value lists "gzip" (or "x-gzip") with a non-zero q value, e.g.
// "gzip", "deflate, gzip;q=0.8". A bare "*" is not taken as consent: only explicit gzip is.
bool AcceptsGzip(std::string_view accept_encoding);

// Result<std::string> GzipCompress(std::string_view data): agent/common/gzip.h.
using internal::GzipCompress;

}  // namespace leakwatch::exporters

#pragma once
// gzip content coding for HTTP responses (RFC 9110 section 8.4.1.3), over zlib.
//
// Thread-safety: pure functions. Cost: AcceptsGzip is a scan of the header; GzipCompress allocates an output
// about as large as the input's compressed size and runs zlib at its fastest level.

#include <string>
#include <string_view>

#include "leakwatch/result.h"

namespace leakwatch::exporters {

// True when an Accept-Encoding header value lists "gzip" (or "x-gzip") with a non-zero q value, e.g.
// "gzip", "deflate, gzip;q=0.8". A bare "*" is not taken as consent: only explicit gzip is.
bool AcceptsGzip(std::string_view accept_encoding);

// Compresses `data` into a gzip member (header, deflate stream, CRC-32 and size trailer).
// Errors only when zlib fails (out of memory).
Result<std::string> GzipCompress(std::string_view data);

}  // namespace leakwatch::exporters

#pragma once
// GzipCompress: one gzip member (RFC 1952: header, deflate stream, CRC-32 and size trailer) over zlib. Used
// for HTTP responses (the exporters' content coding) and for files written into incident bundles
// (heap.pb.gz).
//
// Thread-safety: a pure function. Cost: allocates an output of deflateBound(input) bytes (a little more than
// the input, shrunk to the compressed size before it is returned) and runs zlib at its fastest level, ~3-4 ms
// per MiB of text.

#include <string>
#include <string_view>

#include "leakwatch/result.h"

namespace leakwatch::internal {

// Errors only when zlib fails (out of memory) or the input is larger than zlib's 4 GiB single-call limit.
Result<std::string> GzipCompress(std::string_view data);

}  // namespace leakwatch::internal

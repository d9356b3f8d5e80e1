#include "agent/common/gzip.h"

#include <zlib.h>

#include <climits>

namespace leakwatch::internal {

Result<std::string> GzipCompress(std::string_view data) {
  if (data.size() > UINT_MAX) {
    return Error{"gzip: input of " + std::to_string(data.size()) + " bytes is too large"};
  }
  z_stream stream{};
  // windowBits 15 + 16 selects the gzip wrapper. Level 1: callers are latency-bound (a scrape, a bundle
  // written next to an OOM kill), and text and protobuf already shrink several times at the fastest level.
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Error{"gzip: deflateInit2 failed"};
  }
  std::string out;
  out.resize(deflateBound(&stream, static_cast<uLong>(data.size())));
  if (out.size() > UINT_MAX) {
    deflateEnd(&stream);
    return Error{"gzip: input of " + std::to_string(data.size()) + " bytes is too large"};
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  // deflateBound() guarantees a single Z_FINISH call completes.
  const int rc = deflate(&stream, Z_FINISH);
  const size_t written = out.size() - stream.avail_out;
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) return Error{"gzip: deflate failed (" + std::to_string(rc) + ")"};
  out.resize(written);
  return out;
}

}  // namespace leakwatch::internal

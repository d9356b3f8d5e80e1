#pragma once
// Gunzip: inflates one gzip member, for tests that read what leakwatch compressed (heap.pb.gz, gzip
// responses). Throws std::runtime_error on corrupt or truncated input. Header-only; link ZLIB::ZLIB.

#include <zlib.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace leakwatch::test_support {

inline std::string Gunzip(std::string_view in) {
  z_stream s{};
  if (inflateInit2(&s, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof buf;
    rc = inflate(&s, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&s);
      throw std::runtime_error("inflate failed: " + std::to_string(rc));
    }
    out.append(buf, sizeof buf - s.avail_out);
    if (rc == Z_OK && s.avail_in == 0 && s.avail_out != 0) {
      inflateEnd(&s);
      throw std::runtime_error("truncated gzip data");
    }
  }
  inflateEnd(&s);
  return out;
}

}  // namespace leakwatch::test_support

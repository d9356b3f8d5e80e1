#pragma once
// A test-side decoder of pprof's profile.proto, written from the format's field numbers independently of
// agent/profile/pprof_encoder.cc: it checks what a reader sees (string indices resolved, packed or unpacked
// repeated fields, the string table starting with ""), and throws std::runtime_error on anything malformed.
// Gunzip (tests/support/gunzip.h) opens heap.pb.gz. Header-only; link ZLIB::ZLIB.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "agent/profile/pprof_encoder.h"
#include "tests/support/gunzip.h"

namespace leakwatch::testing_pprof {

using internal::PprofNumLabel;
using internal::PprofProfile;
using internal::PprofSample;

using test_support::Gunzip;

// One message's fields: number -> values (varints) and number -> payloads (length-delimited).
struct Fields {
  std::map<uint32_t, std::vector<uint64_t>> varints;
  std::map<uint32_t, std::vector<std::string>> bytes;

  uint64_t U(uint32_t f) const {
    auto it = varints.find(f);
    return it == varints.end() || it->second.empty() ? 0 : it->second.back();
  }
  // A repeated varint field, packed or not.
  std::vector<uint64_t> Repeated(uint32_t f) const;
};

inline uint64_t ReadVarint(std::string_view& in) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) throw std::runtime_error("truncated varint");
    const auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return v;
  }
  throw std::runtime_error("varint longer than 10 bytes");
}

inline Fields Decode(std::string_view in) {
  Fields f;
  while (!in.empty()) {
    const uint64_t key = ReadVarint(in);
    const auto field = static_cast<uint32_t>(key >> 3);
    switch (key & 7) {
      case 0:
        f.varints[field].push_back(ReadVarint(in));
        break;
      case 2: {
        const uint64_t n = ReadVarint(in);
        if (n > in.size()) throw std::runtime_error("length-delimited field past the end");
        f.bytes[field].emplace_back(in.substr(0, n));
        in.remove_prefix(n);
        break;
      }
      default:
        throw std::runtime_error("unexpected wire type " + std::to_string(key & 7));
    }
  }
  return f;
}

inline std::vector<uint64_t> Fields::Repeated(uint32_t f) const {
  std::vector<uint64_t> out;
  if (auto it = varints.find(f); it != varints.end()) out = it->second;
  if (auto it = bytes.find(f); it != bytes.end()) {
    for (std::string_view packed : it->second) {
      while (!packed.empty()) out.push_back(ReadVarint(packed));
    }
  }
  return out;
}

// The profile as a reader sees it: strings resolved.
inline PprofProfile DecodeProfile(std::string_view bytes, std::vector<std::string>* string_table = nullptr) {
  const Fields top = Decode(bytes);
  std::vector<std::string> strings;
  if (auto it = top.bytes.find(6); it != top.bytes.end()) strings = it->second;
  if (strings.empty() || !strings[0].empty()) throw std::runtime_error("string_table[0] must be \"\"");
  const auto str = [&](uint64_t i) -> std::string {
    if (i >= strings.size()) throw std::runtime_error("string index " + std::to_string(i) + " out of range");
    return strings[i];
  };
  const auto all = [&](uint32_t f) {
    auto it = top.bytes.find(f);
    return it == top.bytes.end() ? std::vector<std::string>() : it->second;
  };
  PprofProfile p;
  for (const auto& m : all(1)) {
    const Fields vt = Decode(m);
    p.sample_types.push_back({str(vt.U(1)), str(vt.U(2))});
  }
  for (const auto& m : all(2)) {
    const Fields s = Decode(m);
    PprofSample sample;
    sample.location_ids = s.Repeated(1);
    for (const uint64_t v : s.Repeated(2)) sample.values.push_back(static_cast<int64_t>(v));
    if (auto it = s.bytes.find(3); it != s.bytes.end()) {
      for (const auto& l : it->second) {
        const Fields label = Decode(l);
        sample.labels.push_back({str(label.U(1)), static_cast<int64_t>(label.U(3)), str(label.U(4))});
      }
    }
    p.samples.push_back(std::move(sample));
  }
  for (const auto& m : all(3)) {
    const Fields f = Decode(m);
    p.mappings.push_back({f.U(1), f.U(2), f.U(3), f.U(4), str(f.U(5)), str(f.U(6)), f.U(7) != 0});
  }
  for (const auto& m : all(4)) {
    const Fields f = Decode(m);
    std::vector<internal::PprofLine> lines;
    if (auto it = f.bytes.find(4); it != f.bytes.end()) {
      for (const auto& l : it->second) {
        const Fields line = Decode(l);
        lines.push_back({line.U(1), static_cast<int64_t>(line.U(2))});
      }
    }
    p.locations.push_back({f.U(1), f.U(2), f.U(3), std::move(lines)});
  }
  for (const auto& m : all(5)) {
    const Fields f = Decode(m);
    p.functions.push_back({f.U(1), str(f.U(2)), str(f.U(3)), str(f.U(4)), static_cast<int64_t>(f.U(5))});
  }
  p.drop_frames = str(top.U(7));
  p.keep_frames = str(top.U(8));
  p.time_nanos = static_cast<int64_t>(top.U(9));
  p.duration_nanos = static_cast<int64_t>(top.U(10));
  if (auto pt = all(11); !pt.empty()) {
    const Fields vt = Decode(pt.back());
    p.period_type = {str(vt.U(1)), str(vt.U(2))};
  }
  p.period = static_cast<int64_t>(top.U(12));
  for (const uint64_t c : top.Repeated(13)) p.comments.push_back(str(c));
  p.default_sample_type = str(top.U(14));
  if (string_table != nullptr) *string_table = strings;
  return p;
}

}  // namespace leakwatch::testing_pprof

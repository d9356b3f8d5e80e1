#include "agent/profile/pprof_encoder.h"

#include <string_view>
#include <unordered_map>

namespace leakwatch::internal {
namespace {

// Field numbers of profile.proto.
namespace profile_field {
constexpr uint32_t kSampleType = 1, kSample = 2, kMapping = 3, kLocation = 4, kFunction = 5, kStringTable = 6,
                   kDropFrames = 7, kKeepFrames = 8, kTimeNanos = 9, kDurationNanos = 10, kPeriodType = 11,
                   kPeriod = 12, kComment = 13, kDefaultSampleType = 14;
}
namespace value_type_field {
constexpr uint32_t kType = 1, kUnit = 2;
}
namespace sample_field {
constexpr uint32_t kLocationId = 1, kValue = 2, kLabel = 3;
}
namespace label_field {
constexpr uint32_t kKey = 1, kNum = 3, kNumUnit = 4;
}
namespace mapping_field {
constexpr uint32_t kId = 1, kMemoryStart = 2, kMemoryLimit = 3, kFileOffset = 4, kFilename = 5, kBuildId = 6,
                   kHasFunctions = 7;
}
namespace location_field {
constexpr uint32_t kId = 1, kMappingId = 2, kAddress = 3, kLine = 4;
}
namespace line_field {
constexpr uint32_t kFunctionId = 1, kLine = 2;
}
namespace function_field {
constexpr uint32_t kId = 1, kName = 2, kSystemName = 3, kFilename = 4, kStartLine = 5;
}

enum WireType : uint32_t { kVarint = 0, kLengthDelimited = 2 };

// Protobuf wire format, the parts profile.proto uses: varints (uint64, int64 as two's complement, bool) and
// length-delimited fields (strings, nested messages, packed repeated varints). Zero scalars are omitted, as
// proto3 does.
class ProtoWriter {
 public:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Tag(uint32_t field, WireType type) { Varint((uint64_t{field} << 3) | type); }
  void Uint(uint32_t field, uint64_t v) {
    if (v == 0) return;
    Tag(field, kVarint);
    Varint(v);
  }
  void Int(uint32_t field, int64_t v) { Uint(field, static_cast<uint64_t>(v)); }
  void Bytes(uint32_t field, std::string_view bytes) {
    Tag(field, kLengthDelimited);
    Varint(bytes.size());
    out_.append(bytes);
  }
  template <typename T>
  void Packed(uint32_t field, const std::vector<T>& values) {
    if (values.empty()) return;
    ProtoWriter inner;
    for (const T v : values) inner.Varint(static_cast<uint64_t>(v));
    Bytes(field, inner.out_);
  }
  const std::string& bytes() const { return out_; }
  std::string& mutable_bytes() { return out_; }

 private:
  std::string out_;
};

class StringTable {
 public:
  StringTable() { Index(""); }
  int64_t Index(const std::string& s) {
    auto [it, added] = index_.try_emplace(s, static_cast<int64_t>(strings_.size()));
    if (added) strings_.push_back(&it->first);
    return it->second;
  }
  const std::vector<const std::string*>& strings() const { return strings_; }

 private:
  std::unordered_map<std::string, int64_t> index_;
  std::vector<const std::string*> strings_;  // point into index_'s keys (stable in an unordered_map)
};

std::string ValueType(const PprofValueType& v, StringTable& strings) {
  ProtoWriter w;
  w.Int(value_type_field::kType, strings.Index(v.type));
  w.Int(value_type_field::kUnit, strings.Index(v.unit));
  return w.bytes();
}

}  // namespace

std::string EncodePprof(const PprofProfile& p) {
  StringTable strings;
  ProtoWriter out;
  ProtoWriter scratch;  // reused for each nested message
  const auto nested = [&](uint32_t field, const std::string& message) { out.Bytes(field, message); };

  for (const auto& t : p.sample_types) nested(profile_field::kSampleType, ValueType(t, strings));
  for (const auto& s : p.samples) {
    scratch.mutable_bytes().clear();
    scratch.Packed(sample_field::kLocationId, s.location_ids);
    scratch.Packed(sample_field::kValue, s.values);
    for (const auto& l : s.labels) {
      ProtoWriter label;
      label.Int(label_field::kKey, strings.Index(l.key));
      label.Int(label_field::kNum, l.value);
      if (!l.unit.empty()) label.Int(label_field::kNumUnit, strings.Index(l.unit));
      scratch.Bytes(sample_field::kLabel, label.bytes());
    }
    nested(profile_field::kSample, scratch.bytes());
  }
  for (const auto& m : p.mappings) {
    scratch.mutable_bytes().clear();
    scratch.Uint(mapping_field::kId, m.id);
    scratch.Uint(mapping_field::kMemoryStart, m.memory_start);
    scratch.Uint(mapping_field::kMemoryLimit, m.memory_limit);
    scratch.Uint(mapping_field::kFileOffset, m.file_offset);
    scratch.Int(mapping_field::kFilename, strings.Index(m.filename));
    scratch.Int(mapping_field::kBuildId, strings.Index(m.build_id));
    scratch.Uint(mapping_field::kHasFunctions, m.has_functions ? 1 : 0);
    nested(profile_field::kMapping, scratch.bytes());
  }
  for (const auto& l : p.locations) {
    scratch.mutable_bytes().clear();
    scratch.Uint(location_field::kId, l.id);
    scratch.Uint(location_field::kMappingId, l.mapping_id);
    scratch.Uint(location_field::kAddress, l.address);
    for (const auto& line : l.lines) {
      ProtoWriter w;
      w.Uint(line_field::kFunctionId, line.function_id);
      w.Int(line_field::kLine, line.line);
      scratch.Bytes(location_field::kLine, w.bytes());
    }
    nested(profile_field::kLocation, scratch.bytes());
  }
  for (const auto& f : p.functions) {
    scratch.mutable_bytes().clear();
    scratch.Uint(function_field::kId, f.id);
    scratch.Int(function_field::kName, strings.Index(f.name));
    scratch.Int(function_field::kSystemName, strings.Index(f.system_name));
    scratch.Int(function_field::kFilename, strings.Index(f.filename));
    scratch.Int(function_field::kStartLine, f.start_line);
    nested(profile_field::kFunction, scratch.bytes());
  }
  out.Int(profile_field::kDropFrames, strings.Index(p.drop_frames));
  out.Int(profile_field::kKeepFrames, strings.Index(p.keep_frames));
  out.Int(profile_field::kTimeNanos, p.time_nanos);
  out.Int(profile_field::kDurationNanos, p.duration_nanos);
  if (!p.period_type.type.empty() || !p.period_type.unit.empty()) {
    nested(profile_field::kPeriodType, ValueType(p.period_type, strings));
  }
  out.Int(profile_field::kPeriod, p.period);
  std::vector<int64_t> comments;
  for (const auto& c : p.comments) comments.push_back(strings.Index(c));
  out.Packed(profile_field::kComment, comments);
  if (!p.default_sample_type.empty()) {
    out.Int(profile_field::kDefaultSampleType, strings.Index(p.default_sample_type));
  }
  // The string table last: every index is known by now. Decoders read fields in any order.
  for (const std::string* s : strings.strings()) out.Bytes(profile_field::kStringTable, *s);
  return out.bytes();
}

}  // namespace leakwatch::internal

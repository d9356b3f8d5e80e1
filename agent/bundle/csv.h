#pragma once
// CSV cells for the bundle's .csv files (RFC 4180).
//
// Thread-safety: pure functions. Cost: one pass over the field.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace leakwatch::internal {

// Appends `field`, quoted (its quotes doubled) when it holds a comma, a double quote, CR or LF.
inline void AppendCsvField(std::string_view field, std::string* out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

// Appends `value` in decimal.
inline void AppendU64(uint64_t value, std::string* out) {
  char digits[24];
  const auto converted = std::to_chars(digits, digits + sizeof(digits), value);
  out->append(digits, converted.ptr);
}

}  // namespace leakwatch::internal

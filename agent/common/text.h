#pragma once
// Small, allocation-free helpers for parsing kernel text formats. All are pure functions.

#include <cstdint>
#include <optional>
#include <string_view>

namespace leakwatch::internal {

// Parses a whole unsigned decimal number ("123"); nullopt on empty, sign, junk or overflow.
std::optional<uint64_t> ParseU64(std::string_view s);
// Parses a whole signed decimal number ("-12").
std::optional<int64_t> ParseI64(std::string_view s);
// Parses a non-negative decimal number with an optional fraction ("0.25", "12"); nullopt on junk, a sign,
// "nan", "inf" or a leading '.'.
std::optional<double> ParseDecimal(std::string_view s);

std::string_view TrimSpace(std::string_view s);

// Splits off the next line (without '\n') from *text; returns false at the end. A last line without '\n' counts.
bool NextLine(std::string_view* text, std::string_view* line);

// Splits off the next whitespace-separated field from *text; returns false when none is left.
bool NextField(std::string_view* text, std::string_view* field);

}  // namespace leakwatch::internal

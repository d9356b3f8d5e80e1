#pragma once
// Small helpers for parsing kernel text formats and writing times. All are pure functions; only the time
// formatter allocates (its result).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
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

// Splits off the next line (without '\n') from *text; returns false at the end. A last line without '\n'
// counts.
bool NextLine(std::string_view* text, std::string_view* line);

// Splits off the next whitespace-separated field from *text; returns false when none is left.
bool NextField(std::string_view* text, std::string_view* field);

enum class TimeFormat { kRfc3339, kCompact };
// UTC with milliseconds: kRfc3339 "2026-12-01T19:27:12.345Z", kCompact "20261201T192712.345Z" (for names).
// Times before the epoch are floored to the millisecond below.
std::string FormatUtcMillis(std::chrono::system_clock::time_point t,
                            TimeFormat format = TimeFormat::kRfc3339);

}  // namespace leakwatch::internal

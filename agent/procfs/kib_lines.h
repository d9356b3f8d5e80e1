#pragma once
// Helpers shared by the parsers of "Key:   value kB" files (/proc/<pid>/status, smaps_rollup). Pure
// functions.

#include <cstdint>
#include <optional>
#include <string_view>

namespace leakwatch::internal {

// Splits "Key:\t  value" into "Key" and "value" (trimmed); false when the line has no ':'.
bool SplitKeyValue(std::string_view line, std::string_view* key, std::string_view* value);

// Parses "1234 kB" into bytes (1234 * 1024). nullopt on another unit, junk, or overflow.
std::optional<uint64_t> ParseKibibytesAsBytes(std::string_view value);

}  // namespace leakwatch::internal

#pragma once
// Parser for the system-wide /proc/stat: only the boot time is needed (to turn a process's start time,
// counted in clock ticks since boot, into a Unix timestamp). Pure function over the file's text.
//
// Thread-safety: pure, thread-safe. Cost: scans the text line by line until "btime" (/proc/stat is a few KiB;
// read it once, not per tick).

#include <cstdint>
#include <optional>
#include <string_view>

namespace leakwatch::internal {

// The "btime <seconds since the Unix epoch>" line; nullopt when missing or not a number.
std::optional<uint64_t> ParseBootTime(std::string_view proc_stat_text);

}  // namespace leakwatch::internal

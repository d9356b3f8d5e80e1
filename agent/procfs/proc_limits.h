#pragma once
// Parser for /proc/<pid>/limits. Pure function over the file's text.
//
// Thread-safety: pure, thread-safe. Cost: one pass over ~1.5 KiB, no allocation.

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace leakwatch::internal {

// "unlimited" in the file (RLIM_INFINITY).
inline constexpr uint64_t kRLimitUnlimited = std::numeric_limits<uint64_t>::max();

struct RLimit {
  uint64_t soft = 0;  // kRLimitUnlimited when "unlimited"
  uint64_t hard = 0;
};

// A limit whose line is missing or whose soft or hard value does not parse is nullopt.
struct ProcLimits {
  std::optional<RLimit> open_files;     // "Max open files" (RLIMIT_NOFILE), a count
  std::optional<RLimit> address_space;  // "Max address space" (RLIMIT_AS), bytes
};

// The file is a header line plus one line per limit in fixed-width columns whose name has several words:
// "Max open files            1024                 1048576              files     ".
ProcLimits ParseProcLimits(std::string_view text);

}  // namespace leakwatch::internal

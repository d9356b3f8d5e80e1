#pragma once
// Parser for /proc/<pid>/stat (proc(5)). Pure function over the file's text; reading is the caller's job.
//
// Thread-safety: pure, thread-safe. Cost: one pass over ~300 bytes, no allocation beyond `comm`.

#include <cstdint>
#include <string>
#include <string_view>

#include "leakwatch/result.h"

namespace leakwatch::internal {

// The fields of /proc/<pid>/stat that leakwatch uses; field numbers are proc(5)'s, 1-based.
struct ProcStat {
  uint64_t pid = 0;              // field 1
  std::string comm;              // field 2, without the parentheses; may contain spaces and ')'
  char state = '?';              // field 3 ('R', 'S', 'D', 'Z', ...)
  uint64_t utime_ticks = 0;      // field 14, user CPU time in clock ticks (sysconf(_SC_CLK_TCK))
  uint64_t stime_ticks = 0;      // field 15, system CPU time in clock ticks
  uint64_t num_threads = 0;      // field 20
  uint64_t starttime_ticks = 0;  // field 22, start time in clock ticks after system boot
  uint64_t vsize_bytes = 0;      // field 23, virtual memory size in bytes
  uint64_t rss_pages = 0;        // field 24, resident set size in pages
};

// Parses the whole text of /proc/<pid>/stat. comm is taken up to the LAST ')' since a process may name itself
// "a) b". Every field above must be present and a non-negative decimal number; otherwise the error names the
// field number, its name and the offending value (or says the text is truncated).
Result<ProcStat> ParseProcStat(std::string_view text);

}  // namespace leakwatch::internal

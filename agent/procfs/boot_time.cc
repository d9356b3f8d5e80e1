#include "agent/procfs/boot_time.h"

#include "agent/common/text.h"

namespace leakwatch::internal {

std::optional<uint64_t> ParseBootTime(std::string_view proc_stat_text) {
  std::string_view line;
  std::string_view key;
  std::string_view value;
  std::string_view extra;
  while (NextLine(&proc_stat_text, &line)) {
    if (!NextField(&line, &key) || key != "btime") continue;
    if (!NextField(&line, &value) || NextField(&line, &extra)) return std::nullopt;
    return ParseU64(value);
  }
  return std::nullopt;
}

}  // namespace leakwatch::internal

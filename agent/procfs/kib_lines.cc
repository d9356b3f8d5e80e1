#include "agent/procfs/kib_lines.h"

#include <limits>

#include "agent/common/text.h"

namespace leakwatch::internal {

bool SplitKeyValue(std::string_view line, std::string_view* key, std::string_view* value) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  *key = line.substr(0, colon);
  *value = TrimSpace(line.substr(colon + 1));
  return true;
}

std::optional<uint64_t> ParseKibibytesAsBytes(std::string_view value) {
  std::string_view number;
  std::string_view unit;
  std::string_view extra;
  if (!NextField(&value, &number) || !NextField(&value, &unit) || NextField(&value, &extra))
    return std::nullopt;
  // The kernel writes "kB" but means KiB (it shifts pages by PAGE_SHIFT - 10).
  if (unit != "kB") return std::nullopt;
  const std::optional<uint64_t> kib = ParseU64(number);
  if (!kib || *kib > std::numeric_limits<uint64_t>::max() / 1024) return std::nullopt;
  return *kib * 1024;
}

}  // namespace leakwatch::internal

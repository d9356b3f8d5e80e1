#include "agent/procfs/proc_limits.h"

#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

std::optional<uint64_t> ParseLimitValue(std::string_view value) {
  if (value == "unlimited") return kRLimitUnlimited;
  return ParseU64(value);
}

// `line` without its name; the name is matched by prefix because it is several words long.
std::optional<RLimit> ParseLimitColumns(std::string_view columns) {
  std::string_view soft_text;
  std::string_view hard_text;
  if (!NextField(&columns, &soft_text) || !NextField(&columns, &hard_text)) return std::nullopt;
  const std::optional<uint64_t> soft = ParseLimitValue(soft_text);
  const std::optional<uint64_t> hard = ParseLimitValue(hard_text);
  if (!soft || !hard) return std::nullopt;
  return RLimit{*soft, *hard};
}

bool ConsumeName(std::string_view line, std::string_view name, std::string_view* columns) {
  // The name must be followed by whitespace so "Max open files" cannot match a longer, future name.
  if (line.size() <= name.size() || line.substr(0, name.size()) != name) return false;
  const char after = line[name.size()];
  if (after != ' ' && after != '\t') return false;
  *columns = line.substr(name.size());
  return true;
}

}  // namespace

ProcLimits ParseProcLimits(std::string_view text) {
  ProcLimits limits;
  std::string_view line;
  std::string_view columns;
  while (NextLine(&text, &line)) {
    if (ConsumeName(line, "Max open files", &columns)) {
      limits.open_files = ParseLimitColumns(columns);
    } else if (ConsumeName(line, "Max address space", &columns)) {
      limits.address_space = ParseLimitColumns(columns);
    }
  }
  return limits;
}

}  // namespace leakwatch::internal

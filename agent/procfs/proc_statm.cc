#include "agent/procfs/proc_statm.h"

#include <array>
#include <limits>
#include <string>
#include <utility>

#include "agent/common/text.h"

namespace leakwatch::internal {

namespace {

constexpr std::array<std::string_view, 3> kFieldNames{"size", "resident", "shared"};

Error FieldError(size_t index, std::string_view what) {
  std::string message = "statm field ";
  message.append(std::to_string(index + 1)).append(" (").append(kFieldNames[index]).append(") ").append(what);
  return Error{std::move(message)};
}

}  // namespace

Result<ProcStatm> ParseProcStatm(std::string_view text, uint64_t page_size) {
  std::array<uint64_t, 3> pages{};
  std::string_view rest = text;
  std::string_view field;
  for (size_t i = 0; i < kFieldNames.size(); ++i) {
    if (!NextField(&rest, &field)) return FieldError(i, "missing: the text is truncated");
    const std::optional<uint64_t> value = ParseU64(field);
    if (!value) return FieldError(i, "is not a number: \"" + std::string(field) + "\"");
    if (page_size != 0 && *value > std::numeric_limits<uint64_t>::max() / page_size) {
      return FieldError(i, "is out of range: " + std::string(field) + " pages");
    }
    pages[i] = *value * page_size;
  }
  return ProcStatm{.size_bytes = pages[0], .resident_bytes = pages[1], .shared_bytes = pages[2]};
}

}  // namespace leakwatch::internal

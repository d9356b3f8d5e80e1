#include "agent/procfs/proc_stat.h"

#include <array>

#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

struct NumericField {
  int number;  // 1-based, as in proc(5)
  std::string_view name;
  uint64_t ProcStat::*member;
};

// In increasing field order: the parser walks the fields once.
constexpr std::array<NumericField, 6> kNumericFields{{
    {14, "utime", &ProcStat::utime_ticks},
    {15, "stime", &ProcStat::stime_ticks},
    {20, "num_threads", &ProcStat::num_threads},
    {22, "starttime", &ProcStat::starttime_ticks},
    {23, "vsize", &ProcStat::vsize_bytes},
    {24, "rss", &ProcStat::rss_pages},
}};

Error FieldError(int number, std::string_view name, std::string_view what) {
  return Error{"stat field " + std::to_string(number) + " (" + std::string(name) + ") " + std::string(what)};
}

}  // namespace

Result<ProcStat> ParseProcStat(std::string_view text) {
  ProcStat stat;
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Error{"stat field 2 (comm): no \"(...)\" in \"" + std::string(text.substr(0, 64)) + "\""};
  }
  const std::string_view pid_text = TrimSpace(text.substr(0, open));
  const std::optional<uint64_t> pid = ParseU64(pid_text);
  if (!pid) return FieldError(1, "pid", "is not a number: \"" + std::string(pid_text) + "\"");
  stat.pid = *pid;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));

  std::string_view rest = text.substr(close + 1);
  std::string_view field;
  int number = 2;
  size_t next = 0;
  while (next < kNumericFields.size()) {
    if (!NextField(&rest, &field)) {
      const bool wanted_state = number < 3;
      return FieldError(wanted_state ? 3 : kNumericFields[next].number,
                        wanted_state ? "state" : kNumericFields[next].name, "missing: the text is truncated");
    }
    ++number;
    if (number == 3) {
      if (field.size() != 1)
        return FieldError(3, "state", "is not one letter: \"" + std::string(field) + "\"");
      stat.state = field[0];
      continue;
    }
    const NumericField& wanted = kNumericFields[next];
    if (number != wanted.number) continue;
    const std::optional<uint64_t> value = ParseU64(field);
    if (!value)
      return FieldError(wanted.number, wanted.name, "is not a number: \"" + std::string(field) + "\"");
    stat.*wanted.member = *value;
    ++next;
  }
  return stat;
}

}  // namespace leakwatch::internal

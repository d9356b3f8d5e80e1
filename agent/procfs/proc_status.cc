#include "agent/procfs/proc_status.h"

#include <array>

#include "agent/common/text.h"
#include "agent/procfs/kib_lines.h"

namespace leakwatch::internal {
namespace {

struct KibField {
  std::string_view key;
  std::optional<uint64_t> ProcStatus::*member;
};

constexpr std::array<KibField, 8> kKibFields{{
    {"VmPeak", &ProcStatus::vm_peak_bytes},
    {"VmSize", &ProcStatus::vm_size_bytes},
    {"VmHWM", &ProcStatus::vm_hwm_bytes},
    {"VmRSS", &ProcStatus::vm_rss_bytes},
    {"RssAnon", &ProcStatus::rss_anon_bytes},
    {"RssFile", &ProcStatus::rss_file_bytes},
    {"RssShmem", &ProcStatus::rss_shmem_bytes},
    {"VmSwap", &ProcStatus::vm_swap_bytes},
}};

}  // namespace

ProcStatus ParseProcStatus(std::string_view text) {
  ProcStatus status;
  std::string_view line;
  std::string_view key;
  std::string_view value;
  while (NextLine(&text, &line)) {
    if (!SplitKeyValue(line, &key, &value)) continue;
    if (key == "Threads") {
      status.threads = ParseU64(value);
      continue;
    }
    for (const KibField& field : kKibFields) {
      if (key == field.key) {
        status.*field.member = ParseKibibytesAsBytes(value);
        break;
      }
    }
  }
  return status;
}

}  // namespace leakwatch::internal

#include "agent/procfs/smaps_rollup.h"

#include <array>

#include "agent/common/text.h"
#include "agent/procfs/kib_lines.h"

namespace leakwatch::internal {
namespace {

struct KibField {
  std::string_view key;
  std::optional<uint64_t> SmapsRollup::*member;
};

constexpr std::array<KibField, 12> kKibFields{{
    {"Rss", &SmapsRollup::rss_bytes},
    {"Pss", &SmapsRollup::pss_bytes},
    {"Pss_Anon", &SmapsRollup::pss_anon_bytes},
    {"Pss_File", &SmapsRollup::pss_file_bytes},
    {"Pss_Shmem", &SmapsRollup::pss_shmem_bytes},
    {"Shared_Clean", &SmapsRollup::shared_clean_bytes},
    {"Shared_Dirty", &SmapsRollup::shared_dirty_bytes},
    {"Private_Clean", &SmapsRollup::private_clean_bytes},
    {"Private_Dirty", &SmapsRollup::private_dirty_bytes},
    {"Anonymous", &SmapsRollup::anonymous_bytes},
    {"Swap", &SmapsRollup::swap_bytes},
    {"SwapPss", &SmapsRollup::swap_pss_bytes},
}};

}  // namespace

SmapsRollup ParseSmapsRollup(std::string_view text) {
  SmapsRollup rollup;
  std::string_view line;
  std::string_view key;
  std::string_view value;
  // The header line contains ':' too ("00:00"); its "key" matches no field name, so no special case is
  // needed.
  while (NextLine(&text, &line)) {
    if (!SplitKeyValue(line, &key, &value)) continue;
    for (const KibField& field : kKibFields) {
      if (key == field.key) {
        rollup.*field.member = ParseKibibytesAsBytes(value);
        break;
      }
    }
  }
  return rollup;
}

}  // namespace leakwatch::internal

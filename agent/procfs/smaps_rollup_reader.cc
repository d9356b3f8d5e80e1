#include "agent/procfs/smaps_rollup_reader.h"

#include "agent/common/file_reader.h"
#include "agent/procfs/read_source.h"
#include "agent/procfs/smaps_rollup.h"

namespace leakwatch::internal {
namespace {

std::optional<double> AsDouble(std::optional<uint64_t> value) {
  if (!value) return std::nullopt;
  return static_cast<double>(*value);
}

}  // namespace

SmapsRollupReader::SmapsRollupReader(std::string proc_root, std::string pid)
    : path_(proc_root + "/" + pid + "/smaps_rollup") {}

void SmapsRollupReader::Read(TickKind tick, Snapshot* snapshot, ErrorSink& errors) {
  if (tick != TickKind::kSlow) return;
  ReadSource(
      Source::kSmapsRollup,
      {Signal::kSmapsRssBytes, Signal::kSmapsPssBytes, Signal::kSmapsPssAnonBytes, Signal::kSmapsPssFileBytes,
       Signal::kSmapsPssShmemBytes, Signal::kSmapsSharedCleanBytes, Signal::kSmapsSharedDirtyBytes,
       Signal::kSmapsPrivateCleanBytes, Signal::kSmapsPrivateDirtyBytes, Signal::kSmapsAnonymousBytes,
       Signal::kSmapsSwapBytes, Signal::kSmapsSwapPssBytes},
      snapshot, errors, [&]() -> Status {
        Result<std::string> text = ReadFile(path_, 64 * 1024);
        if (!text.ok()) return text.error();
        const SmapsRollup rollup = ParseSmapsRollup(*text);
        snapshot->set(Signal::kSmapsRssBytes, AsDouble(rollup.rss_bytes));
        snapshot->set(Signal::kSmapsPssBytes, AsDouble(rollup.pss_bytes));
        snapshot->set(Signal::kSmapsPssAnonBytes, AsDouble(rollup.pss_anon_bytes));
        snapshot->set(Signal::kSmapsPssFileBytes, AsDouble(rollup.pss_file_bytes));
        snapshot->set(Signal::kSmapsPssShmemBytes, AsDouble(rollup.pss_shmem_bytes));
        snapshot->set(Signal::kSmapsSharedCleanBytes, AsDouble(rollup.shared_clean_bytes));
        snapshot->set(Signal::kSmapsSharedDirtyBytes, AsDouble(rollup.shared_dirty_bytes));
        snapshot->set(Signal::kSmapsPrivateCleanBytes, AsDouble(rollup.private_clean_bytes));
        snapshot->set(Signal::kSmapsPrivateDirtyBytes, AsDouble(rollup.private_dirty_bytes));
        snapshot->set(Signal::kSmapsAnonymousBytes, AsDouble(rollup.anonymous_bytes));
        snapshot->set(Signal::kSmapsSwapBytes, AsDouble(rollup.swap_bytes));
        snapshot->set(Signal::kSmapsSwapPssBytes, AsDouble(rollup.swap_pss_bytes));
        return OkStatus();
      });
}

}  // namespace leakwatch::internal

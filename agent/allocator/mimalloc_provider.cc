#include "agent/allocator/mimalloc_provider.h"

#include <cstdint>

namespace leakwatch::internal {

std::string FormatMimallocVersion(int version) {
  if (version <= 0) return "";
  return std::to_string(version / 100) + "." + std::to_string(version % 100 / 10) + "." +
         std::to_string(version % 10);
}

std::unique_ptr<MimallocProvider> MimallocProvider::Find(const SymbolLookup& lookup) {
  auto version = lookup.Function<VersionFn>("mi_version");
  if (version == nullptr) return nullptr;
  return std::make_unique<MimallocProvider>(version, lookup.Function<ProcessInfoFn>("mi_process_info"));
}

Result<AllocatorStats> MimallocProvider::Read() {
  AllocatorStats stats;
  if (process_info_ == nullptr) return stats;
  size_t elapsed = 0, user = 0, system = 0, rss = 0, peak_rss = 0, commit = 0, peak_commit = 0, faults = 0;
  process_info_(&elapsed, &user, &system, &rss, &peak_rss, &commit, &peak_commit, &faults);
  // mimalloc keeps the counter as an int64_t; a drift below zero would arrive here as a huge size_t.
  if (commit <= static_cast<size_t>(INT64_MAX)) stats.mapped_bytes = static_cast<uint64_t>(commit);
  return stats;
}

AllocatorInfo MimallocProvider::Info() {
  AllocatorInfo info;
  info.name = "mimalloc";
  info.version = FormatMimallocVersion(version_());
  return info;
}

}  // namespace leakwatch::internal

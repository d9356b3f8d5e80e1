#pragma once
// The bundle directory: listing, disk budget and retention.
//
// A bundle is a directory whose name BundleName() made ("<time>Z-<pid>-<label>"); `.tmp-*` directories are
// bundles being written (or left by a process that died while writing: Prune removes those older than an
// hour). Retention runs only after a new bundle completed: the oldest bundles are deleted until at most
// `max_bundles` remain and they take at most `max_bytes`; the newest bundle is never deleted (the freshest
// evidence is the most valuable, even when it alone exceeds the budget).
//
// Thread-safety: call from one thread (the bundle worker). Cost: a directory walk of the bundle directory.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::internal {

struct StoredBundle {
  std::string name;
  std::string path;
  uint64_t bytes = 0;
  std::chrono::system_clock::time_point modified{};
};

// Complete bundles in `dir`, oldest first (by name, which starts with the UTC time). A missing directory is
// an empty list.
Result<std::vector<StoredBundle>> ListBundles(const std::string& dir);

struct RetentionResult {
  std::vector<std::string> deleted;
  uint64_t bytes_kept = 0;
  size_t bundles_kept = 0;
};

// Deletes the oldest bundles beyond the budget, never `keep` (a bundle name). Also removes `.tmp-*`
// directories older than an hour.
Result<RetentionResult> ApplyRetention(const std::string& dir, size_t max_bundles, uint64_t max_bytes,
                                       const std::string& keep);

// Free bytes for an unprivileged writer on the filesystem of `dir` (statvfs f_bavail x f_frsize).
Result<uint64_t> FreeDiskBytes(const std::string& dir);

}  // namespace leakwatch::internal

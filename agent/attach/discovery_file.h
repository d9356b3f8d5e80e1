#pragma once
// A Prometheus file_sd target file for one agent: `<dir>/leakwatch-<pid>.json`, so that agents on ephemeral
// ports (port 0: forked workers, several programs on one host) are found without configuring ports:
//
//   [{"targets": ["10.0.0.5:40123"], "labels": {"leakwatch_program": "nginx", "leakwatch_role": "child"}}]
//
// Prometheus: `file_sd_configs: [{files: ["<dir>/leakwatch-*.json"]}]` (docs/ATTACH.md). The labels are
// bounded (program name and role, never the pid): `instance` already tells processes apart.
//
// Thread-safety: Write and Remove are reentrant. Cost: one small file written to a temporary name and
// renamed.

#include <optional>
#include <string>

#include "leakwatch/result.h"

namespace leakwatch::internal {

struct DiscoveryTarget {
  std::string host{};  // as Prometheus should dial it
  int port = 0;
  std::string program{};  // the process's comm
  std::string role{};     // "main" (the process the agent started in) or "child" (a forked child's agent)
  // Identify the process for SweepStaleDiscoveryFiles (as __meta_ labels, which Prometheus drops after
  // relabelling): its pid and its start time in clock ticks since boot (/proc/<pid>/stat field 22).
  long pid = 0;
  unsigned long long start_ticks = 0;
};

// The file's JSON text (pure).
std::string DiscoveryJson(const DiscoveryTarget& target);

// The path of the file for `pid` in `dir`.
std::string DiscoveryFilePath(const std::string& dir, long pid);

// Writes the file atomically (a temporary file renamed over it). Errors name the path and the cause.
Status WriteDiscoveryFile(const std::string& path, const DiscoveryTarget& target);

// Removes the file; a missing file is not an error.
Status RemoveDiscoveryFile(const std::string& path);

// Removes the files in `dir` (leakwatch-<pid>.json) of processes that are gone: a process that ends with
// _exit() or a signal (or the OOM killer) cannot remove its own. A file is stale when its pid does not exist
// under `proc_root`, or exists with another start time (the pid was reused). Returns how many were removed.
int SweepStaleDiscoveryFiles(const std::string& dir, const std::string& proc_root);

// The start time (clock ticks since boot) of `pid` from <proc_root>/<pid>/stat; nullopt when unreadable.
std::optional<unsigned long long> ProcessStartTicks(const std::string& proc_root, long pid);

// The host to advertise for a listen host: itself when specific, else this machine's host name ("0.0.0.0"
// listens everywhere, but cannot be dialled).
std::string AdvertisedHost(const std::string& listen_host);

}  // namespace leakwatch::internal

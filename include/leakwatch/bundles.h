#pragma once
// Incident bundles: the evidence leakwatch writes when a rule with the `bundle` action fires, or on demand
// (Agent::capture). What a bundle holds: docs/BUNDLES.md.
//
// Thread-safety: plain values.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#pragma GCC visibility push(default)  // the public API: exported by libleakwatch.so
namespace leakwatch {

struct BundleOptions {
  // Where bundles are written (created when missing). Each bundle is a directory "<time>Z-<pid>-<rule>".
  std::string dir = "/tmp/leakwatch";
  // Retention, applied after each new bundle: the oldest are deleted beyond these (never the newest).
  size_t max_bundles = 10;
  uint64_t max_bytes = 512ull << 20;
  // No bundle is written when the filesystem of `dir` has less free space than this (0: no check).
  uint64_t min_free_disk_bytes = 256ull << 20;
  // At most `max_per_window` bundles per sliding `window`, whatever triggers them (rules, capture()).
  uint32_t max_per_window = 5;
  std::chrono::milliseconds window{std::chrono::hours(1)};
  // A bundle still being written after this skips its remaining parts (the manifest says which).
  std::chrono::milliseconds deadline{std::chrono::seconds(30)};
  // Each file of a bundle is cut at this size.
  uint64_t max_file_bytes = 64ull << 20;
  // With less memory headroom than this (cgroup limit - working set), only the small parts are written.
  uint64_t low_headroom_bytes = 64ull << 20;
  // At most this many fds are inspected for the fd inventory.
  size_t max_fds = 10000;
  // Opt-in: a signal (e.g. SIGUSR2) that asks for a bundle (taken on the next tick; the handler only sets a
  // flag and chains to the handler installed before it). 0: none.
  int capture_signal = 0;

  // Optional egress: a program run after each bundle completes, with the bundle's path as its last argument
  // (and in LEAKWATCH_BUNDLE), to ship it off the machine with the operator's own tool, e.g.
  // {"/usr/local/bin/ship-bundle", "--bucket", "incidents"}. argv[0] is an absolute path (no PATH search). It
  // runs on a thread of its own (a slow upload never delays the next bundle), without fork() (posix_spawn),
  // in a process group of its own with an empty signal mask, stdin from /dev/null and no fd of the host.
  // After `egress_timeout` its group gets SIGTERM, then SIGKILL 2 s later. Its output is logged (bounded) and
  // every outcome counted; a failure is never fatal. Empty: none.
  std::vector<std::string> egress_command;
  std::chrono::milliseconds egress_timeout{std::chrono::minutes(5)};
};

// What the bundle worker has done since the agent started.
struct BundleStats {
  uint64_t written_total = 0;
  uint64_t failed_total = 0;
  // By reason: "rate_limit" (max_per_window), "queue_full", "min_free_disk", "stopping".
  std::map<std::string, uint64_t> suppressed_total;
  uint64_t bytes_on_disk = 0;  // all bundles in dir, after the last retention
  size_t bundles_on_disk = 0;
  std::chrono::system_clock::time_point last_written{};  // epoch when none yet
  std::chrono::nanoseconds last_duration{0};
  std::string last_path;
  std::string last_error;  // of the last failure
  // Egress runs by result: "success" (exit 0), "failure" (non-zero exit, a signal, or not startable),
  // "timeout", "cancelled" (the agent stopped), "dropped" (4 were already waiting).
  bool egress_configured = false;
  std::map<std::string, uint64_t> egress_total;
};

}  // namespace leakwatch

#pragma GCC visibility pop

#pragma once
// ConfigWatcher: notices that the config file changed, without inotify and without signal handlers.
//
// The agent calls Poll() on its sampler thread every tick; at most once per `check_period` it stat()s the
// file and compares its identity (device, inode, size, modification and change times, in ns) with the one
// last loaded. A changed identity yields the file's new text. An editor that replaces the file (write to a
// temporary, rename over) changes the inode; one that rewrites it in place changes mtime/ctime; a Kubernetes
// ConfigMap update swaps a symlink (stat follows it). A file that disappears or cannot be read is reported
// once per change of condition and the running configuration stays.
//
// Thread-safety: none; one thread (the sampler's). Cost: one stat() per check_period; a read of the file
// (capped at 4 MiB) only when it changed.

#include <sys/stat.h>

#include <chrono>
#include <optional>
#include <string>

#include "leakwatch/result.h"

namespace leakwatch::internal {

class ConfigWatcher {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `path` as given by the operator; check_period 0 disables watching (Poll() then never reports a change).
  ConfigWatcher(std::string path, std::chrono::milliseconds check_period);

  // Records the identity of the file as it is now (call right after loading it at start-up).
  void MarkLoaded();

  // nullopt: nothing to do. A Result: the file changed since the last load; its text, or why it could not
  // be read. Either way the new identity counts as seen, so the same change is reported once.
  std::optional<Result<std::string>> Poll(TimePoint now);

  const std::string& path() const { return path_; }

 private:
  struct Identity {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const Identity&) const = default;
  };
  Identity Stat() const;

  std::string path_;
  std::chrono::milliseconds check_period_;
  Identity loaded_;
  bool checked_once_ = false;
  TimePoint next_check_{};
};

}  // namespace leakwatch::internal

#pragma once
// A cgroup v1 memory cgroup made for one test, below the test's own memory cgroup (so the limits of whatever
// runs the tests still apply), and removed — after its processes died — when the guard dies.
//
// Thread-safety: none; one test thread owns a guard.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "leakwatch/result.h"
#include "tests/integration/demo_harness.h"
#include "tests/integration/proc_probe.h"

namespace leakwatch::integration {

class ScopedV1MemoryCgroup {
 public:
  // Why no v1 memory cgroup can be made here ("needs root ...", "needs a cgroup v1 memory hierarchy ..."),
  // or nullopt when one can.
  static std::optional<std::string> Unavailable() {
    if (geteuid() != 0) return "needs root to create a memory cgroup";
    const auto own = FindMemoryCgroup(getpid());
    if (!own || own->version != 1 || own->dir.rfind("/sys/fs/cgroup/memory", 0) != 0) {
      return "needs a cgroup v1 memory hierarchy mounted at /sys/fs/cgroup/memory (found: " +
             (own ? "v" + std::to_string(own->version) + " at " + own->dir : std::string("none")) + ")";
    }
    return std::nullopt;
  }

  // A new cgroup named `name` below the test's own memory cgroup. REQUIRES: !Unavailable().
  static Result<std::unique_ptr<ScopedV1MemoryCgroup>> Create(const std::string& name) {
    const auto own = FindMemoryCgroup(getpid());
    if (!own) return Error{"the test's own memory cgroup is not found"};
    const std::string dir = own->dir + "/" + name;
    if (mkdir(dir.c_str(), 0755) != 0) return Error{"mkdir " + dir + ": " + std::strerror(errno)};
    return std::unique_ptr<ScopedV1MemoryCgroup>(new ScopedV1MemoryCgroup(dir));
  }

  ~ScopedV1MemoryCgroup() {
    // rmdir fails with EBUSY while a task is still being torn down: retry for a bounded time.
    WaitUntil([&] { return rmdir(dir_.c_str()) == 0 || errno == ENOENT; }, std::chrono::seconds(5));
  }
  ScopedV1MemoryCgroup(const ScopedV1MemoryCgroup&) = delete;
  ScopedV1MemoryCgroup& operator=(const ScopedV1MemoryCgroup&) = delete;

  const std::string& dir() const { return dir_; }
  std::string procs() const { return dir_ + "/cgroup.procs"; }

  // Writes `value` to the cgroup file `name` (e.g. "memory.limit_in_bytes"); false when it cannot.
  bool Write(const std::string& name, const std::string& value) const {
    std::ofstream out(dir_ + "/" + name);
    out << value << std::flush;
    return out.good();
  }

  // The oom_kill count of memory.oom_control (kernels >= 4.13), or nullopt.
  std::optional<long long> OomKills() const {
    std::ifstream in(dir_ + "/memory.oom_control");
    std::string key;
    long long value = 0;
    while (in >> key >> value) {
      if (key == "oom_kill") return value;
    }
    return std::nullopt;
  }

 private:
  explicit ScopedV1MemoryCgroup(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace leakwatch::integration

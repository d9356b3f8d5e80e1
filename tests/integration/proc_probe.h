#pragma once
// The test's own, deliberately simple readers of /proc and the cgroup filesystem: the independent side of the
// integration tests' comparisons. They share no code with leakwatch's readers on purpose.
//
// Thread-safety: pure functions over files.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace leakwatch::integration {

// The whole content of a file (read to EOF: /proc sizes lie), or nullopt when it cannot be read.
std::optional<std::string> ReadWholeFile(const std::string& path);

// VmRSS of /proc/<pid>/status, in bytes.
std::optional<uint64_t> ReadVmRssBytes(pid_t pid);

// Entries of a directory other than "." and ".." (e.g. /proc/<pid>/task, /proc/<pid>/fd).
std::optional<uint64_t> CountDirEntries(const std::string& dir);

// The soft "Max open files" of /proc/<pid>/limits ("unlimited" is returned as UINT64_MAX).
std::optional<uint64_t> ReadSoftNofile(pid_t pid);

// Start time in seconds since the Unix epoch: /proc/<pid>/stat starttime / CLK_TCK + btime of /proc/stat.
std::optional<double> ReadStartTimeSeconds(pid_t pid);

struct MemoryCgroup {
  int version = 0;  // 1 or 2
  std::string dir;  // e.g. /sys/fs/cgroup/memory/process_api/abc
};

// The memory cgroup of `pid`, from /proc/<pid>/cgroup and the test's /proc/self/mountinfo. cgroup v1's memory
// hierarchy wins over a v2 hierarchy; a v2 hierarchy counts only if its root enables the memory controller.
std::optional<MemoryCgroup> FindMemoryCgroup(pid_t pid);

// A cgroup file holding one unsigned integer; "max" (v2) and v1's "unlimited" (>= 2^62) read as nullopt in
// *value while the call itself succeeds. Returns false when the file cannot be read or parsed.
bool ReadCgroupLimit(const std::string& path, std::optional<uint64_t>* value);

// A "key value" line of a flat-keyed file (memory.events, memory.oom_control, memory.stat).
std::optional<uint64_t> ReadKeyedValue(const std::string& path, const std::string& key);

// A file holding one unsigned integer (memory.usage_in_bytes, memory.current).
std::optional<uint64_t> ReadU64File(const std::string& path);

}  // namespace leakwatch::integration

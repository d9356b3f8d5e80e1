#pragma once
// Finding a process's memory cgroup (v1 or v2), its pids cgroup and the PSI file that goes with it.
//
// Thread-safety: LocateCgroup() is thread-safe (it only reads files).
// Cost: reads /proc/<pid>/cgroup, /proc/<pid>/mountinfo (can be large: thousands of lines on a busy node) and
// one or two cgroup.controllers files, plus a few stat() calls: tens to hundreds of microseconds. Call it at
// start-up and when a read fails, never on every tick.

#include <string>
#include <string_view>

#include "leakwatch/result.h"

namespace leakwatch::internal {

// Where the cgroup readers look. Every reader takes these so a fixture tree can stand in for the real system:
// with proc_root = "<tree>/proc" and mount_prefix = "<tree>", a mount point "/sys/fs/cgroup/memory" found in
// <tree>/proc/self/mountinfo is read at "<tree>/sys/fs/cgroup/memory".
struct CgroupRoots {
  std::string proc_root = "/proc";
  std::string pid = "self";        // "self" or a decimal pid; the process whose cgroup is read
  std::string mount_prefix;        // prepended to every mount point taken from mountinfo
};

struct CgroupLocation {
  int version = 0;               // 0: no memory cgroup found (cgroup signals are absent), 1 or 2
  std::string path;              // the memory cgroup's path as in /proc/<pid>/cgroup, e.g. "/kubepods/pod1/abc"
  std::string memory_dir;        // directory of that cgroup (mount_prefix applied); empty when version == 0
  std::string memory_mount_dir;  // directory of the memory hierarchy's mount root; v2 looks for memory.max in
                                 // the ancestors strictly between it and memory_dir
  std::string pids_dir;          // directory of the pids cgroup; empty when there is no pids controller or the
                                 // process sits in the root cgroup of the pids hierarchy (which has no pids files)
  std::string pressure_file;     // v2: the cgroup's memory.pressure when present, else <proc_root>/pressure/memory;
                                 // v1 and version 0: <proc_root>/pressure/memory; empty when neither exists (no PSI)

  bool operator==(const CgroupLocation&) const = default;
};

// Finds the cgroups of roots.pid:
//  * memory, v1: a line of /proc/<pid>/cgroup lists "memory" in a v1 hierarchy and mountinfo has a "cgroup" mount
//    with the "memory" super option whose root is at or above that path (the longest such root wins);
//  * memory, v2 (when v1 is not found): the "0::" line and a "cgroup2" mount whose root's cgroup.controllers
//    lists "memory";
//  * pids: the v1 pids hierarchy, else the v2 hierarchy when its root's cgroup.controllers lists "pids"; a cgroup
//    that maps to the mount point itself is kept only when it has pids.current (a hierarchy's root cgroup has no
//    pids files);
//  * pressure: see CgroupLocation::pressure_file.
// The cgroup path is mapped through the mount's root (see MapCgroupPath), so container cgroup namespaces and
// bind-mounted cgroup subtrees work.
//
// No memory cgroup at all is not an error: the result has version 0. Errors (naming the file and the cause):
// /proc/<pid>/cgroup or mountinfo unreadable (e.g. the process is gone), /proc/<pid>/cgroup malformed, or a memory
// hierarchy mounted only at roots that do not contain the process's cgroup.
Result<CgroupLocation> LocateCgroup(const CgroupRoots& roots);

// "a" + "/" + "b" without doubled or missing slashes.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace leakwatch::internal

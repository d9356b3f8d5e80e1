#pragma once
// Helpers for the cgroup tests: the roots that point the readers at a temporary tree, and paths inside the
// fixture trees. The generic pieces (TempTree, RecordingErrorSink) are in tests/support/.

#include <string>

#include "agent/cgroup/cgroup_location.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::internal::cgroup_test {

// The roots that make the readers look at this tree (its proc/ and its sys/fs/cgroup) instead of the real
// system.
inline CgroupRoots RootsOf(const test_support::TempTree& tree) {
  return CgroupRoots{tree.Path("proc"), "self", tree.dir()};
}

// Relative paths inside the fixture trees.
inline constexpr char kV1Memory[] = "sys/fs/cgroup/memory/leakwatch-fixture/limited";
inline constexpr char kV1MemoryUnlimited[] = "sys/fs/cgroup/memory/leakwatch-fixture/unlimited";
inline constexpr char kV1Pids[] = "sys/fs/cgroup/pids/leakwatch-fixture";
inline constexpr char kV2CgroupPath[] =
    "/kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-pod7d3c5a4e_9b1f_4c2a_8e6d_2f0a1b3c4d5e.slice/"
    "cri-containerd-4c1f0e2d7b9a83564e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6978877665544a.scope";
inline std::string V2Dir() { return std::string("sys/fs/cgroup") + kV2CgroupPath; }
inline constexpr char kV2PodDir[] =
    "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-pod7d3c5a4e_9b1f_4c2a_8e6d_2f0a1b3c4d5e.slice";

}  // namespace leakwatch::internal::cgroup_test

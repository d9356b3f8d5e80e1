// LocateCgroup() on the fixture trees and on small inline trees.

#include "agent/cgroup/cgroup_location.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/cgroup/cgroup_test_support.h"

namespace leakwatch::internal {
namespace {

using ::testing::HasSubstr;
using cgroup_test::kV1Memory;
using cgroup_test::kV1Pids;
using cgroup_test::kV2CgroupPath;
using cgroup_test::RootsOf;
using cgroup_test::V2Dir;
using test_support::TempTree;

TEST(LocateCgroup, V1FixtureFromThisMachine) {
  TempTree tree("cgroup-v1");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 1);
  EXPECT_EQ(loc->path, "/leakwatch-fixture/limited");
  EXPECT_EQ(loc->memory_dir, tree.Path(kV1Memory));
  EXPECT_EQ(loc->memory_mount_dir, tree.Path("sys/fs/cgroup/memory"));
  EXPECT_EQ(loc->pids_dir, tree.Path(kV1Pids));
  EXPECT_EQ(loc->pressure_file, tree.Path("proc/pressure/memory"));
}

TEST(LocateCgroup, V2FixtureUsesTheCgroupsOwnPressureFile) {
  TempTree tree("cgroup-v2");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 2);
  EXPECT_EQ(loc->path, kV2CgroupPath);
  EXPECT_EQ(loc->memory_dir, tree.Path(V2Dir()));
  EXPECT_EQ(loc->memory_mount_dir, tree.Path("sys/fs/cgroup"));
  EXPECT_EQ(loc->pids_dir, tree.Path(V2Dir()));
  EXPECT_EQ(loc->pressure_file, tree.Path(V2Dir() + "/memory.pressure"));
}

TEST(LocateCgroup, V2WithoutCgroupPressureFallsBackToSystemPsi) {
  TempTree tree("cgroup-v2");
  tree.Remove(V2Dir() + "/memory.pressure");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->pressure_file, tree.Path("proc/pressure/memory"));
  tree.Remove("proc/pressure/memory");
  loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->pressure_file, "");  // no PSI at all
}

TEST(LocateCgroup, V2WithoutMemoryControllerIsVersionZero) {
  TempTree tree("cgroup-v2");
  tree.Write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->version, 0);
  EXPECT_EQ(loc->memory_dir, "");
  EXPECT_EQ(loc->path, "");
  EXPECT_EQ(loc->pids_dir, tree.Path(V2Dir()));  // pids still readable from the unified hierarchy
  EXPECT_EQ(loc->pressure_file, tree.Path("proc/pressure/memory"));
}

TEST(LocateCgroup, HybridWithoutV1MemoryAndUnifiedWithoutMemoryIsVersionZero) {
  // This machine's layout, minus the v1 memory line: the unified hierarchy has only "hugetlb".
  TempTree tree("cgroup-v1");
  std::string text = tree.ReadText("proc/self/cgroup");
  const std::string line = "4:memory:/leakwatch-fixture/limited\n";
  ASSERT_NE(text.find(line), std::string::npos);
  text.erase(text.find(line), line.size());
  tree.Write("proc/self/cgroup", text);
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 0);
  EXPECT_EQ(loc->pids_dir, tree.Path(kV1Pids));
}

TEST(LocateCgroup, V1MemoryNotMountedFallsThroughToV2) {
  TempTree tree;
  tree.Write("proc/self/cgroup", "4:memory:/a\n0::/svc\n");
  tree.Write("proc/self/mountinfo", "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  tree.Write("sys/fs/cgroup/cgroup.controllers", "memory pids\n");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 2);
  EXPECT_EQ(loc->memory_dir, tree.Path("sys/fs/cgroup/svc"));
  // A non-root cgroup of a hierarchy with the pids controller: its pids files are expected (missing ones will be
  // read errors), so the directory is kept without probing.
  EXPECT_EQ(loc->pids_dir, tree.Path("sys/fs/cgroup/svc"));
  EXPECT_EQ(loc->pressure_file, "");
}

TEST(LocateCgroup, ProcessInTheRootPidsCgroupHasNoPidsDir) {
  // As on our build machines: "8:pids:/" and the root cgroup of a v1 hierarchy has no pids.* files.
  TempTree tree;
  tree.Write("proc/self/cgroup", "8:pids:/\n4:memory:/a\n0::/\n");
  tree.Write("proc/self/mountinfo",
             "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
             "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n");
  tree.Write("sys/fs/cgroup/pids/cgroup.procs", "1\n");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 1);
  EXPECT_EQ(loc->pids_dir, "");
}

TEST(LocateCgroup, ProcessInTheTrueV2RootCgroupIsVersionZero) {
  // The root of the unified hierarchy has no memory.current: no memory cgroup to read, system-wide PSI only.
  TempTree tree;
  tree.Write("proc/self/cgroup", "0::/\n");
  tree.Write("proc/self/mountinfo", "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n");
  tree.Write("sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
  tree.Write("sys/fs/cgroup/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  tree.Write("proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 0);
  EXPECT_EQ(loc->memory_dir, "");
  EXPECT_EQ(loc->pressure_file, tree.Path("proc/pressure/memory"));
}

TEST(LocateCgroup, ContainerWithCgroupNamespace) {
  TempTree tree;
  tree.Write("proc/self/cgroup", "0::/\n");
  tree.Write("proc/self/mountinfo",
             "612 598 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n");
  tree.Write("sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
  tree.Write("sys/fs/cgroup/pids.current", "3\n");
  tree.Write("sys/fs/cgroup/memory.current", "1048576\n");
  tree.Write("sys/fs/cgroup/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 2);
  EXPECT_EQ(loc->path, "/");
  EXPECT_EQ(loc->memory_dir, tree.Path("sys/fs/cgroup"));
  EXPECT_EQ(loc->pids_dir, tree.Path("sys/fs/cgroup"));
  EXPECT_EQ(loc->pressure_file, tree.Path("sys/fs/cgroup/memory.pressure"));
}

TEST(LocateCgroup, V1BindMountedContainerSubtreeStripsTheMountRoot) {
  // Docker on cgroup v1 without a cgroup namespace: /proc/self/cgroup shows the host path, the mount's root
  // field is the container's cgroup.
  TempTree tree;
  tree.Write("proc/self/cgroup", "10:pids:/docker/abc\n5:memory:/docker/abc\n0::/\n");
  tree.Write("proc/self/mountinfo",
             "700 690 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"
             "701 690 0:36 /docker/abc /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids\n");
  tree.Write("sys/fs/cgroup/pids/pids.current", "1\n");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->version, 1);
  EXPECT_EQ(loc->path, "/docker/abc");
  EXPECT_EQ(loc->memory_dir, tree.Path("sys/fs/cgroup/memory"));
  EXPECT_EQ(loc->pids_dir, tree.Path("sys/fs/cgroup/pids"));
}

TEST(LocateCgroup, LongestMatchingMountRootWins) {
  TempTree tree;
  tree.Write("proc/self/cgroup", "5:memory:/a/b/c\n");
  tree.Write("proc/self/mountinfo",
             "1 0 0:32 / /m1 rw - cgroup cgroup rw,memory\n"
             "2 0 0:32 /a/b /m2 rw - cgroup cgroup rw,memory\n"
             "3 0 0:32 /x /m3 rw - cgroup cgroup rw,memory\n");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->memory_dir, tree.Path("m2/c"));
  EXPECT_EQ(loc->memory_mount_dir, tree.Path("m2"));
}

TEST(LocateCgroup, MemoryCgroupOutsideEveryMountRootIsAnError) {
  TempTree tree;
  tree.Write("proc/self/cgroup", "5:memory:/elsewhere\n");
  tree.Write("proc/self/mountinfo", "1 0 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_FALSE(loc.ok());
  EXPECT_THAT(loc.error().message, HasSubstr("/elsewhere"));
  EXPECT_THAT(loc.error().message, HasSubstr("mountinfo"));
}

TEST(LocateCgroup, MissingProcFilesAreErrorsNamingTheFile) {
  TempTree tree;
  auto loc = LocateCgroup(RootsOf(tree));
  ASSERT_FALSE(loc.ok());
  EXPECT_THAT(loc.error().message, HasSubstr(tree.Path("proc/self/cgroup")));
  tree.Write("proc/self/cgroup", "0::/\n");
  loc = LocateCgroup(RootsOf(tree));
  ASSERT_FALSE(loc.ok());
  EXPECT_THAT(loc.error().message, HasSubstr(tree.Path("proc/self/mountinfo")));
  tree.Write("proc/self/cgroup", "0::/\nbroken\n");
  tree.Write("proc/self/mountinfo", "");
  loc = LocateCgroup(RootsOf(tree));
  ASSERT_FALSE(loc.ok());
  EXPECT_THAT(loc.error().message, HasSubstr("line 2"));
}

TEST(LocateCgroup, OtherPid) {
  TempTree tree;
  tree.Write("proc/4242/cgroup", "0::/svc\n");
  tree.Write("proc/4242/mountinfo", "1 0 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  tree.Write("sys/fs/cgroup/cgroup.controllers", "memory\n");
  CgroupRoots roots = RootsOf(tree);
  roots.pid = "4242";
  auto loc = LocateCgroup(roots);
  ASSERT_TRUE(loc.ok()) << loc.error().message;
  EXPECT_EQ(loc->memory_dir, tree.Path("sys/fs/cgroup/svc"));
}

TEST(JoinPath, Slashes) {
  EXPECT_EQ(JoinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(JoinPath("", "/sys/fs/cgroup"), "/sys/fs/cgroup");
  EXPECT_EQ(JoinPath("/t", "/"), "/t");
  EXPECT_EQ(JoinPath("", "/"), "/");
}

}  // namespace
}  // namespace leakwatch::internal

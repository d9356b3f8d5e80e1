// The pure cgroup parsers on inline edge cases.

#include "agent/cgroup/cgroup_parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---------------------------------------------------------------------------------------------------------------
// /proc/<pid>/cgroup

TEST(ParseProcCgroup, HybridHostAsOnOurMachines) {
  auto r = ParseProcCgroup(
      "9:name=systemd:/\n"
      "8:pids:/\n"
      "4:memory:/process_api/7fa706651bd6be5c51d438db4659001a\n"
      "2:cpu,cpuacct:/\n"
      "0::/\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].hierarchy_id, 9u);
  EXPECT_THAT((*r)[0].controllers, ElementsAre("name=systemd"));
  EXPECT_TRUE((*r)[2].HasController("memory"));
  EXPECT_EQ((*r)[2].path, "/process_api/7fa706651bd6be5c51d438db4659001a");
  EXPECT_FALSE((*r)[2].IsUnified());
  EXPECT_THAT((*r)[3].controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_TRUE((*r)[4].IsUnified());
  EXPECT_THAT((*r)[4].controllers, IsEmpty());
  EXPECT_EQ((*r)[4].path, "/");
}

TEST(ParseProcCgroup, V2OnlyWithoutTrailingNewline) {
  auto r = ParseProcCgroup("0::/kubepods.slice/a.scope");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE((*r)[0].IsUnified());
  EXPECT_EQ((*r)[0].path, "/kubepods.slice/a.scope");
}

TEST(ParseProcCgroup, PathMayContainColons) {
  auto r = ParseProcCgroup("0::/system.slice/a:b:c.service\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].path, "/system.slice/a:b:c.service");
}

TEST(ParseProcCgroup, EmptyTextAndBlankLines) {
  auto r = ParseProcCgroup("");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, IsEmpty());
  r = ParseProcCgroup("\n0::/\n\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 1u);
}

TEST(ParseProcCgroup, TruncatedLineIsAnErrorNamingTheLine) {
  auto r = ParseProcCgroup("0::/\n4:memory");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("line 2"));
  EXPECT_THAT(r.error().message, HasSubstr("'4:memory'"));
}

TEST(ParseProcCgroup, BadIdAndRelativePathAreErrors) {
  auto r = ParseProcCgroup("x:memory:/a\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("hierarchy id 'x'"));
  r = ParseProcCgroup("4:memory:\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("does not start with '/'"));
}

// ---------------------------------------------------------------------------------------------------------------
// mountinfo

TEST(ParseMountInfo, KeepsOnlyCgroupMounts) {
  auto mounts = ParseMountInfo(
      "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_TRUE(mounts[0].HasOption("cpuacct"));
  EXPECT_EQ(mounts[1].fstype, "cgroup");
  EXPECT_EQ(mounts[1].root, "/");
  EXPECT_EQ(mounts[1].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_THAT(mounts[1].super_options, ElementsAre("rw", "memory"));
  EXPECT_EQ(mounts[2].fstype, "cgroup2");
  EXPECT_EQ(mounts[2].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_FALSE(mounts[2].HasOption("memory"));
}

TEST(ParseMountInfo, OptionalFieldsBeforeTheSeparator) {
  auto mounts = ParseMountInfo(
      "34 24 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 master:2 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup");
  EXPECT_THAT(mounts[0].super_options, ElementsAre("rw", "nsdelegate", "memory_recursiveprot"));
}

TEST(ParseMountInfo, DecodesOctalEscapesInRootAndMountPoint) {
  auto mounts = ParseMountInfo(
      "50 31 0:32 /my\\040group /srv/cgroup\\040mem\\011x rw - cgroup cgroup rw,memory\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].root, "/my group");
  EXPECT_EQ(mounts[0].mount_point, "/srv/cgroup mem\tx");
}

TEST(ParseMountInfo, SkipsMalformedLines) {
  auto mounts = ParseMountInfo(
      "garbage\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup\n"   // no super options
      "35 31 0:32 / - cgroup cgroup rw,memory\n"                           // no mount point
      "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids");  // fine, no newline
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/pids");
}

TEST(UnescapeMountField, OnlyThreeOctalDigitsAreDecoded) {
  EXPECT_EQ(UnescapeMountField("a\\134b"), "a\\b");
  EXPECT_EQ(UnescapeMountField("a\\012b"), "a\nb");
  EXPECT_EQ(UnescapeMountField("a\\04"), "a\\04");
  EXPECT_EQ(UnescapeMountField("a\\xyz"), "a\\xyz");
  EXPECT_EQ(UnescapeMountField("a\\089"), "a\\089");
  EXPECT_EQ(UnescapeMountField(""), "");
}

// ---------------------------------------------------------------------------------------------------------------
// Mapping a cgroup path through a mount's root.

TEST(MapCgroupPath, HostMountRootIsSlash) {
  EXPECT_EQ(MapCgroupPath("/kubepods/pod1/abc", "/", "/sys/fs/cgroup/memory"),
            "/sys/fs/cgroup/memory/kubepods/pod1/abc");
  EXPECT_EQ(MapCgroupPath("/", "/", "/sys/fs/cgroup/memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(MapCgroupPath("/a/", "/", "/sys/fs/cgroup/"), "/sys/fs/cgroup/a");
}

TEST(MapCgroupPath, CgroupNamespaceShowsTheContainerAtSlash) {
  // Inside a cgroup namespace both the path and the mount root read "/": the mount point is the cgroup.
  EXPECT_EQ(MapCgroupPath("/", "/", "/sys/fs/cgroup"), "/sys/fs/cgroup");
  EXPECT_EQ(MapCgroupPath("/worker", "/", "/sys/fs/cgroup"), "/sys/fs/cgroup/worker");
}

TEST(MapCgroupPath, BindMountedSubtreeStripsTheRoot) {
  // Docker on v1 without cgroupns: mount root /docker/<id>, process path /docker/<id>[/child].
  EXPECT_EQ(MapCgroupPath("/docker/abc", "/docker/abc", "/sys/fs/cgroup/memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(MapCgroupPath("/docker/abc/child", "/docker/abc", "/sys/fs/cgroup/memory"),
            "/sys/fs/cgroup/memory/child");
  EXPECT_EQ(MapCgroupPath("/docker/abc/child", "/docker/abc/", "/sys/fs/cgroup/memory"),
            "/sys/fs/cgroup/memory/child");
}

TEST(MapCgroupPath, PathOutsideTheRootIsNotMapped) {
  EXPECT_EQ(MapCgroupPath("/docker/abcdef", "/docker/abc", "/m"), std::nullopt);  // prefix, not a parent
  EXPECT_EQ(MapCgroupPath("/other", "/docker/abc", "/m"), std::nullopt);
  EXPECT_EQ(MapCgroupPath("/../sibling", "/", "/m"), std::nullopt);  // outside our cgroup namespace
  EXPECT_EQ(MapCgroupPath("/a/../b", "/", "/m"), std::nullopt);
  EXPECT_EQ(MapCgroupPath("relative", "/", "/m"), std::nullopt);
}

TEST(MapCgroupPath, MountAtFilesystemRoot) {
  EXPECT_EQ(MapCgroupPath("/a/b", "/", "/"), "/a/b");
  EXPECT_EQ(MapCgroupPath("/", "/", "/"), "/");
}

// ---------------------------------------------------------------------------------------------------------------
// Flat-keyed files

TEST(ParseFlatKeyedFile, LooksUpKeysAndReportsMissingOnesAsAbsent) {
  auto f = ParseFlatKeyedFile("anon 157286400\nfile 62914560\ninactive_file 33554432\n");
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(f.Get("anon"), 157286400u);
  EXPECT_EQ(f.Get("inactive_file"), 33554432u);
  EXPECT_EQ(f.Get("kernel"), std::nullopt);  // kernels before 5.18 have no "kernel" key
  EXPECT_EQ(f.Get("ano"), std::nullopt);     // no prefix matching
  EXPECT_EQ(f.GetFirst({"total_rss", "anon"}), 157286400u);
  EXPECT_EQ(f.GetFirst({"total_rss", "rss"}), std::nullopt);
  EXPECT_EQ(f.malformed_lines(), 0u);
}

TEST(ParseFlatKeyedFile, TruncatedAndMalformedLinesAreSkipped) {
  auto f = ParseFlatKeyedFile(
      "low 0\n"
      "high -3\n"         // negative
      "max 12x\n"         // junk
      "oom 1 2\n"         // extra field
      "\n"
      "oom_kill");        // truncated last line: key without value
  EXPECT_EQ(f.Get("low"), 0u);
  EXPECT_EQ(f.Get("high"), std::nullopt);
  EXPECT_EQ(f.Get("max"), std::nullopt);
  EXPECT_EQ(f.Get("oom"), std::nullopt);
  EXPECT_EQ(f.Get("oom_kill"), std::nullopt);
  EXPECT_EQ(f.malformed_lines(), 4u);
}

TEST(ParseFlatKeyedFile, LastLineWithoutNewlineAndDuplicateKeys) {
  auto f = ParseFlatKeyedFile("a 1\na 2\nb 18446744073709551615");
  EXPECT_EQ(f.Get("a"), 1u);
  EXPECT_EQ(f.Get("b"), 18446744073709551615u);
}

TEST(ParseFlatKeyedFile, ReuseOverloadResetsState) {
  FlatKeyedFile f;
  ParseFlatKeyedFile("a 1\nbad\n", &f);
  EXPECT_EQ(f.malformed_lines(), 1u);
  ParseFlatKeyedFile("b 2\n", &f);
  EXPECT_EQ(f.Get("a"), std::nullopt);
  EXPECT_EQ(f.Get("b"), 2u);
  EXPECT_EQ(f.malformed_lines(), 0u);
  ParseFlatKeyedFile("", &f);
  EXPECT_EQ(f.size(), 0u);
}

// ---------------------------------------------------------------------------------------------------------------
// Limits and single values

TEST(ParseLimitValue, MaxAndHugeV1ValuesAreUnlimited) {
  auto v = ParseLimitValue("max\n");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::nullopt);
  v = ParseLimitValue("9223372036854771712\n");  // v1 unset limit, 4 KiB pages
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::nullopt);
  v = ParseLimitValue("9223372036854710272\n");  // v1 unset limit, 64 KiB pages
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::nullopt);
  v = ParseLimitValue("4611686018427387904");  // exactly 2^62
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, std::nullopt);
}

TEST(ParseLimitValue, RealLimits) {
  auto v = ParseLimitValue("268435456\n");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 268435456u);
  v = ParseLimitValue("  128 \n");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 128u);
  v = ParseLimitValue("0\n");  // a zero limit is a limit, not "unknown"
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 0u);
  v = ParseLimitValue("4611686018427383808");  // 2^62 - 4096: below the threshold
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 4611686018427383808u);
}

TEST(ParseLimitValue, JunkIsAnErrorNamingTheValue) {
  for (const char* text : {"", "\n", "-1", "12M", "maxx", "ma"}) {
    auto v = ParseLimitValue(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_THAT(v.error().message, HasSubstr("'" + std::string(TrimSpace(text)) + "'")) << text;
  }
}

TEST(ParseSingleValue, Values) {
  auto v = ParseSingleValue("36220928\n");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 36220928u);
  v = ParseSingleValue("max\n");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.error().message, HasSubstr("'max'"));
  EXPECT_FALSE(ParseSingleValue("").ok());
  EXPECT_FALSE(ParseSingleValue("12a").ok());
}

// ---------------------------------------------------------------------------------------------------------------
// PSI

TEST(ParsePressure, SomeAndFullAsRatiosAndMicroseconds) {
  auto p = ParsePressure(
      "some avg10=2.04 avg60=1.17 avg300=0.31 total=7481263\n"
      "full avg10=1.12 avg60=0.64 avg300=0.17 total=4319877\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_DOUBLE_EQ(p->some.avg10, 0.0204);
  EXPECT_DOUBLE_EQ(p->some.avg60, 0.0117);
  EXPECT_DOUBLE_EQ(p->some.avg300, 0.0031);
  EXPECT_EQ(p->some.total_us, 7481263u);
  ASSERT_TRUE(p->full.has_value());
  EXPECT_DOUBLE_EQ(p->full->avg10, 0.0112);
  EXPECT_EQ(p->full->total_us, 4319877u);
}

TEST(ParsePressure, OnlySomeLineIsValid) {
  auto p = ParsePressure("some avg10=0.12 avg60=0.00 avg300=0.00 total=12345\n");
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->some.avg10, 0.0012);
  EXPECT_EQ(p->some.total_us, 12345u);
  EXPECT_FALSE(p->full.has_value());
}

TEST(ParsePressure, FullStallOfHundredPercentIsOne) {
  auto p = ParsePressure("some avg10=100.00 avg60=100.00 avg300=100.00 total=0");
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->some.avg10, 1.0);
}

TEST(ParsePressure, UnknownKeysAndLinesAreIgnored) {
  auto p = ParsePressure("some avg10=0.50 avg60=0.25 avg5m=9 avg300=0.10 total=7 extra\nother 1\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_DOUBLE_EQ(p->some.avg10, 0.005);
  EXPECT_EQ(p->some.total_us, 7u);
}

TEST(ParsePressure, TruncatedLineIsAnError) {
  auto p = ParsePressure("some avg10=0.12 avg60=");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("avg60=''"));
  p = ParsePressure("some avg10=0.12 avg60=0.00 avg300=0.00\n");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("no total="));
  p = ParsePressure("some avg10=0.12 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.1");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("'full' line"));
}

TEST(ParsePressure, BadValuesAndMissingSomeAreErrors) {
  auto p = ParsePressure("some avg10=-1.00 avg60=0.00 avg300=0.00 total=1\n");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("avg10='-1.00'"));
  p = ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("total='-1'"));
  p = ParsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("no 'some' line"));
  EXPECT_FALSE(ParsePressure("").ok());
}

}  // namespace
}  // namespace leakwatch::internal

// Integration (label "integration"): a real cgroup v1 memory cgroup and a real child process.
//
// Creates /sys/fs/cgroup/memory/leakwatch-test-<pid> (and /sys/fs/cgroup/pids/leakwatch-test-<pid> when a v1
// pids hierarchy exists), sets a 64 MiB limit, moves a forked child into it, lets the child touch 8 MiB, and
// checks that CgroupReader (pid = the child) reads exactly what the kernel files say; then moves the child to
// a second cgroup, removes the first and checks that the reader follows. Skips when not root or when there is
// no v1 memory hierarchy. Always kills the child (by pid) and removes the cgroups.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/cgroup/cgroup_reader.h"
#include "tests/support/recording_error_sink.h"

namespace leakwatch::internal {
namespace {

const char kMemoryRoot[] = "/sys/fs/cgroup/memory";
const char kPidsRoot[] = "/sys/fs/cgroup/pids";

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool WriteTo(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

// Parsed independently of the code under test.
uint64_t FileU64(const std::string& path) { return std::strtoull(Slurp(path).c_str(), nullptr, 10); }

std::map<std::string, uint64_t> FileKeyed(const std::string& path) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(Slurp(path));
  std::string key;
  uint64_t value;
  while (in >> key >> value) out[key] = value;
  return out;
}

// Kills the child and removes the cgroups, whatever happened in the test.
struct Cleanup {
  pid_t child = -1;
  std::vector<std::string> dirs;  // removed in reverse order
  ~Cleanup() {
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
      for (int attempt = 0; attempt < 100 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (Exists(*it)) ADD_FAILURE() << "could not remove " << *it << ": " << std::strerror(errno);
    }
  }
};

struct FileValues {
  uint64_t usage, failcnt, oom_kill, kmem, kmem_tcp, memsw, pids_current;
  std::map<std::string, uint64_t> stat;
  bool operator==(const FileValues&) const = default;
};

TEST(CgroupV1Integration, ReaderReadsWhatTheKernelFilesSay) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root: creates a cgroup under " << kMemoryRoot << " (euid is " << ::geteuid()
                 << ")";
  }
  if (!Exists(std::string(kMemoryRoot) + "/memory.usage_in_bytes")) {
    GTEST_SKIP() << "no cgroup v1 memory hierarchy at " << kMemoryRoot;
  }
  const std::string name = "leakwatch-test-" + std::to_string(::getpid());
  const std::string mem_dir = std::string(kMemoryRoot) + "/" + name;
  const std::string pids_dir = std::string(kPidsRoot) + "/" + name;
  Cleanup cleanup;
  if (::mkdir(mem_dir.c_str(), 0755) != 0) {
    GTEST_SKIP() << "cannot create " << mem_dir << ": " << std::strerror(errno);
  }
  cleanup.dirs.push_back(mem_dir);
  const bool with_pids =
      Exists(std::string(kPidsRoot) + "/cgroup.procs") && ::mkdir(pids_dir.c_str(), 0755) == 0;
  if (with_pids) {
    cleanup.dirs.push_back(pids_dir);
    ASSERT_TRUE(WriteTo(pids_dir + "/pids.max", "16"));
  }
  constexpr uint64_t kLimit = 64 << 20;
  ASSERT_TRUE(WriteTo(mem_dir + "/memory.limit_in_bytes", std::to_string(kLimit)));

  int go[2], done[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(done, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    // Child: wait until moved, touch 8 MiB (charged to the new cgroup), report, then sleep until killed.
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(1);
    constexpr size_t kBytes = 8 << 20;
    char* p = static_cast<char*>(std::malloc(kBytes));
    if (p == nullptr) ::_exit(2);
    std::memset(p, 0x5a, kBytes);
    if (::write(done[1], "d", 1) != 1) ::_exit(3);
    for (;;) ::pause();
  }
  cleanup.child = child;
  ::close(go[0]);
  ::close(done[1]);
  ASSERT_TRUE(WriteTo(mem_dir + "/cgroup.procs", std::to_string(child)));
  if (with_pids) {
    ASSERT_TRUE(WriteTo(pids_dir + "/cgroup.procs", std::to_string(child)));
  }
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  char c;
  ASSERT_EQ(::read(done[0], &c, 1), 1);
  ::close(go[1]);
  ::close(done[0]);

  CgroupReaderOptions options;
  options.roots.pid = std::to_string(child);
  CgroupReader reader(options);
  ASSERT_EQ(reader.location().version, 1);
  EXPECT_EQ(reader.location().path, "/" + name);
  EXPECT_EQ(reader.location().memory_dir, mem_dir);
  if (with_pids) {
    EXPECT_EQ(reader.location().pids_dir, pids_dir);
  }

  auto read_files = [&] {
    FileValues v;
    v.usage = FileU64(mem_dir + "/memory.usage_in_bytes");
    v.failcnt = FileU64(mem_dir + "/memory.failcnt");
    v.oom_kill = FileKeyed(mem_dir + "/memory.oom_control")["oom_kill"];
    v.kmem = FileU64(mem_dir + "/memory.kmem.usage_in_bytes");
    v.kmem_tcp = FileU64(mem_dir + "/memory.kmem.tcp.usage_in_bytes");
    v.memsw = Exists(mem_dir + "/memory.memsw.usage_in_bytes")
                  ? FileU64(mem_dir + "/memory.memsw.usage_in_bytes")
                  : 0;
    v.pids_current = with_pids ? FileU64(pids_dir + "/pids.current") : 0;
    v.stat = FileKeyed(mem_dir + "/memory.stat");
    return v;
  };

  // The child is idle, so the files are stable; retry in the rare case the kernel changed them mid-read.
  for (int attempt = 0;; ++attempt) {
    const FileValues before = read_files();
    Snapshot snap;
    test_support::RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    const FileValues after = read_files();
    if (!(before == after)) {
      ASSERT_LT(attempt, 20) << "cgroup files kept changing between reads";
      continue;
    }
    const FileValues& f = before;
    EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
    EXPECT_EQ(snap.cgroup_version, 1);
    EXPECT_EQ(snap.cgroup_path, "/" + name);
    EXPECT_GE(f.usage, uint64_t{8} << 20) << "the child's 8 MiB should be charged to the new cgroup";
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryUsageBytes), static_cast<double>(f.usage));
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryLimitBytes), static_cast<double>(kLimit));
    EXPECT_FALSE(snap.has(Signal::kCgroupMemoryHighBytes));
    const uint64_t inactive = f.stat.at("total_inactive_file");
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryWorkingSetBytes),
              static_cast<double>(f.usage > inactive ? f.usage - inactive : 0));
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryAnonBytes), static_cast<double>(f.stat.at("total_rss")));
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryFileBytes), static_cast<double>(f.stat.at("total_cache")));
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryShmemBytes), static_cast<double>(f.stat.at("total_shmem")));
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryInactiveFileBytes), static_cast<double>(inactive));
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryKernelBytes), static_cast<double>(f.kmem));
    EXPECT_EQ(snap.get(Signal::kCgroupMemorySockBytes), static_cast<double>(f.kmem_tcp));
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryEventsMaxTotal), static_cast<double>(f.failcnt));
    EXPECT_EQ(snap.get(Signal::kCgroupMemoryEventsOomKillTotal), static_cast<double>(f.oom_kill));
    EXPECT_FALSE(snap.has(Signal::kCgroupMemoryEventsLowTotal));
    EXPECT_FALSE(snap.has(Signal::kCgroupMemoryEventsOomTotal));
    if (Exists(mem_dir + "/memory.memsw.usage_in_bytes")) {
      EXPECT_EQ(snap.get(Signal::kCgroupMemorySwapBytes),
                static_cast<double>(f.memsw > f.usage ? f.memsw - f.usage : 0));
    }
    if (with_pids) {
      EXPECT_GE(f.pids_current, 1u);  // the child, plus any runtime thread (TSan starts one)
      EXPECT_EQ(snap.get(Signal::kCgroupPidsCurrent), static_cast<double>(f.pids_current));
      EXPECT_EQ(snap.get(Signal::kCgroupPidsMax), 16.0);
    }
    if (Exists("/proc/pressure/memory")) {
      EXPECT_TRUE(snap.has(Signal::kMemoryPressureSomeSecondsTotal));
    }
    break;
  }

  // The child is moved to another cgroup and the old one removed: its open files now fail with ENODEV, the
  // reader locates the cgroup again and reads the new one in the same Read().
  const std::string moved_dir = mem_dir + "-moved";
  ASSERT_EQ(::mkdir(moved_dir.c_str(), 0755), 0) << moved_dir << ": " << std::strerror(errno);
  cleanup.dirs.push_back(moved_dir);
  ASSERT_TRUE(WriteTo(moved_dir + "/cgroup.procs", std::to_string(child)));
  int rc = -1;
  for (int attempt = 0; attempt < 100 && (rc = ::rmdir(mem_dir.c_str())) != 0 && errno == EBUSY; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(rc, 0) << "rmdir " << mem_dir << ": " << std::strerror(errno);
  Snapshot snap;
  test_support::RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_EQ(snap.cgroup_path, "/" + name + "-moved");
  EXPECT_EQ(reader.location().memory_dir, moved_dir);
  EXPECT_TRUE(snap.has(Signal::kCgroupMemoryUsageBytes));
  EXPECT_FALSE(snap.has(Signal::kCgroupMemoryLimitBytes)) << "the new cgroup and its parents have no limit";
}

}  // namespace
}  // namespace leakwatch::internal

// FdCounter and FdTypeScanner on this test process's own /proc/self/fd: the test opens a known number of fds
// of known types and checks the counts move by exactly that much on both counting paths.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "agent/procfs/fd_counter.h"
#include "agent/procfs/fd_type_scanner.h"
#include "procfs_test_support.h"

namespace leakwatch::internal {
namespace {

// Owns fds opened by a test and closes them when it goes out of scope.
class OpenFds {
 public:
  OpenFds() = default;
  OpenFds(const OpenFds&) = delete;
  OpenFds& operator=(const OpenFds&) = delete;
  ~OpenFds() { CloseAll(); }

  void AddPipes(int n) {
    for (int i = 0; i < n; ++i) {
      int ends[2];
      ASSERT_EQ(::pipe2(ends, O_CLOEXEC), 0);
      fds_.push_back(ends[0]);
      fds_.push_back(ends[1]);
    }
  }
  void AddSocketPairs(int n) {
    for (int i = 0; i < n; ++i) {
      int ends[2];
      ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
      fds_.push_back(ends[0]);
      fds_.push_back(ends[1]);
    }
  }
  void AddFiles(const std::string& dir, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string path = dir + "/file" + std::to_string(fds_.size());
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      ASSERT_GE(fd, 0) << path;
      fds_.push_back(fd);
    }
  }
  void AddEventFds(int n) {
    for (int i = 0; i < n; ++i) {
      const int fd = ::eventfd(0, EFD_CLOEXEC);
      ASSERT_GE(fd, 0);
      fds_.push_back(fd);
    }
  }
  void AddDevNull(int n) {
    for (int i = 0; i < n; ++i) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0);
      fds_.push_back(fd);
    }
  }
  void CloseAll() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }
  size_t size() const { return fds_.size(); }

 private:
  std::vector<int> fds_;
};

bool RunningKernelAtLeast(uint64_t major, uint64_t minor) {
  struct utsname names {};
  return ::uname(&names) == 0 && KernelReleaseAtLeast(names.release, major, minor);
}

class FdCounterLive : public ::testing::TestWithParam<bool> {};

TEST_P(FdCounterLive, CountMovesByExactlyTheFdsOpenedAndClosed) {
  const bool force_getdents = GetParam();
  const FdCounter counter(FdCounterOptions{.force_getdents = force_getdents});
  if (force_getdents) {
    EXPECT_FALSE(counter.uses_stat_size());
  } else if (RunningKernelAtLeast(6, 2)) {
    EXPECT_TRUE(counter.uses_stat_size()) << "Linux >= 6.2 reports the fd count in st_size";
  }
  EXPECT_EQ(counter.directory(), "/proc/self/fd");

  test_support::TempTree tmp;
  ASSERT_FALSE(tmp.dir().empty());
  const Result<uint64_t> before = counter.Count();
  ASSERT_TRUE(before.ok()) << before.error().message;
  ASSERT_GE(*before, 1u);

  {
    OpenFds fds;
    fds.AddPipes(3);
    fds.AddSocketPairs(2);
    fds.AddFiles(tmp.dir(), 4);
    fds.AddEventFds(1);
    ASSERT_EQ(fds.size(), 15u);
    const Result<uint64_t> during = counter.Count();
    ASSERT_TRUE(during.ok()) << during.error().message;
    EXPECT_EQ(*during, *before + 15);
  }

  const Result<uint64_t> after = counter.Count();
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(*after, *before);
}

TEST_P(FdCounterLive, AgreesWithAnIndependentListing) {
  const FdCounter counter(FdCounterOptions{.force_getdents = GetParam()});
  OpenFds fds;
  fds.AddPipes(5);
  // std::filesystem opens its own directory fd for the listing, which is one more than the process holds.
  size_t listed = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++listed;
  const Result<uint64_t> count = counter.Count();
  ASSERT_TRUE(count.ok()) << count.error().message;
  EXPECT_EQ(*count + 1, listed);
}

INSTANTIATE_TEST_SUITE_P(BothPaths, FdCounterLive, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Getdents" : "Default";
                         });

TEST(FdCounterLiveErrors, MissingProcessIsAnErrorNamingTheDirectory) {
  test_support::TempTree tmp;
  const FdCounter counter(FdCounterOptions{.proc_root = tmp.dir(), .pid = "424242"});
  EXPECT_FALSE(counter.uses_stat_size());
  const Result<uint64_t> count = counter.Count();
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.error().message, tmp.dir() + "/424242/fd: No such file or directory");
}

TEST(FdTypeScannerLive, CountsEachTypeExactly) {
  test_support::TempTree tmp;
  ASSERT_FALSE(tmp.dir().empty());
  const FdTypeScanner scanner;
  EXPECT_EQ(scanner.directory(), "/proc/self/fd");
  const Result<FdTypeCounts> before = scanner.Scan();
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_FALSE(before->truncated);

  OpenFds fds;
  fds.AddPipes(3);        // 6 pipe fds
  fds.AddSocketPairs(2);  // 4 socket fds
  fds.AddFiles(tmp.dir(), 5);
  fds.AddEventFds(2);
  fds.AddDevNull(1);
  const Result<FdTypeCounts> during = scanner.Scan();
  ASSERT_TRUE(during.ok()) << during.error().message;
  EXPECT_FALSE(during->truncated);
  EXPECT_EQ(during->count(FdType::kPipe), before->count(FdType::kPipe) + 6);
  EXPECT_EQ(during->count(FdType::kSocket), before->count(FdType::kSocket) + 4);
  EXPECT_EQ(during->count(FdType::kFile), before->count(FdType::kFile) + 5);
  EXPECT_EQ(during->count(FdType::kAnonInode), before->count(FdType::kAnonInode) + 2);
  EXPECT_EQ(during->count(FdType::kOther), before->count(FdType::kOther) + 1);
  EXPECT_EQ(during->scanned, before->scanned + 18);

  // The scanner's own directory fd is not counted: it agrees with the counter.
  const Result<uint64_t> counted = FdCounter(FdCounterOptions{.force_getdents = true}).Count();
  ASSERT_TRUE(counted.ok()) << counted.error().message;
  EXPECT_EQ(during->scanned, *counted);
  uint64_t sum = 0;
  for (uint64_t n : during->by_type) sum += n;
  EXPECT_EQ(sum, during->scanned);
}

TEST(FdTypeScannerLive, CapStopsTheScanAndSetsTruncated) {
  OpenFds fds;
  fds.AddPipes(4);
  const Result<FdTypeCounts> full = FdTypeScanner().Scan();
  ASSERT_TRUE(full.ok()) << full.error().message;
  ASSERT_FALSE(full->truncated);
  ASSERT_GE(full->scanned, 8u);

  const Result<FdTypeCounts> capped = FdTypeScanner("/proc", "self", 3).Scan();
  ASSERT_TRUE(capped.ok()) << capped.error().message;
  EXPECT_TRUE(capped->truncated);
  EXPECT_EQ(capped->scanned, 3u);
  uint64_t sum = 0;
  for (uint64_t n : capped->by_type) sum += n;
  EXPECT_EQ(sum, 3u);

  // A cap equal to the number of fds reads them all: nothing is left, so nothing is truncated.
  const Result<FdTypeCounts> exact = FdTypeScanner("/proc", "self", full->scanned).Scan();
  ASSERT_TRUE(exact.ok()) << exact.error().message;
  EXPECT_FALSE(exact->truncated);
  EXPECT_EQ(exact->scanned, full->scanned);

  const Result<FdTypeCounts> one_less = FdTypeScanner("/proc", "self", full->scanned - 1).Scan();
  ASSERT_TRUE(one_less.ok()) << one_less.error().message;
  EXPECT_TRUE(one_less->truncated);
  EXPECT_EQ(one_less->scanned, full->scanned - 1);
}

TEST(FdTypeScannerLive, MissingDirectoryIsAnError) {
  test_support::TempTree tmp;
  const Result<FdTypeCounts> counts = FdTypeScanner(tmp.dir(), "self").Scan();
  ASSERT_FALSE(counts.ok());
  EXPECT_EQ(counts.error().message, tmp.dir() + "/self/fd: No such file or directory");
}

}  // namespace
}  // namespace leakwatch::internal

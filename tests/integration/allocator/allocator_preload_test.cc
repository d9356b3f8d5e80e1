// The allocator providers against the real Debian allocators: alloc_probe runs as a child process with each
// allocator LD_PRELOADed (and once on plain glibc with the mallinfo2 guard on), allocates 64 MiB in 4 KiB
// blocks, touches them, frees them, and prints what DetectAllocator's provider said at each step
// (alloc_probe.cc).
//
// Tolerances: the probe's 64 MiB must show up as 95%..110% growth of allocated_bytes (size-class rounding and
// glibc's 16-byte chunk headers stay well below 10%), and after the free allocated_bytes must come back to
// within 10% of the request above the start (thread caches keep a little). mapped_bytes must grow by at least
// 95%.
//
// A missing allocator library skips its case naming the Debian package. Sanitizer builds skip every case: an
// allocator cannot be preloaded under AddressSanitizer/ThreadSanitizer, whose runtime must own malloc.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/child_process.h"

namespace leakwatch::integration {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kRequested = 64 * kMiB;
const std::string kLibDir = std::string("/usr/lib/") + LEAKWATCH_LIBRARY_ARCH + "/";

// The raw JSON token after "key": in one of the probe's flat lines; nullopt when the key is missing.
std::optional<std::string> Raw(const std::string& line, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const auto at = line.find(needle);
  if (at == std::string::npos) return std::nullopt;
  size_t i = at + needle.size();
  if (line[i] == '"') {
    std::string out;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      out += line[i];
    }
    return out;
  }
  const auto end = line.find_first_of(",}", i);
  return line.substr(i, end - i);
}

std::optional<uint64_t> Bytes(const std::string& line, const std::string& key) {
  auto raw = Raw(line, key);
  if (!raw || *raw == "null") return std::nullopt;
  return std::stoull(*raw);
}

bool Flag(const std::string& line, const std::string& key) {
  return Raw(line, key) == std::optional<std::string>("true");
}

struct Case {
  std::string test_name;
  std::string library;  // file name under the multiarch library directory; "" for plain glibc
  std::string package;  // the Debian package that ships it
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> args;
  std::string expected_name;
  bool reports_allocated = true;
  bool profiling_supported = false;
  bool profiling_active = false;
  std::optional<uint64_t> sample_bytes;
};

std::vector<Case> Cases() {
  return {
      {"jemalloc", "libjemalloc.so.2", "libjemalloc2", {}, {}, "jemalloc", true, true, false, std::nullopt},
      {"jemalloc_profiling",
       "libjemalloc.so.2",
       "libjemalloc2",
       {{"MALLOC_CONF", "prof:true,lg_prof_sample:19"}},
       {},
       "jemalloc",
       true,
       true,
       true,
       524288},
      {"tcmalloc",
       "libtcmalloc.so.4",
       "libgoogle-perftools4",
       {},
       {},
       "tcmalloc",
       true,
       true,
       false,
       std::nullopt},
      {"tcmalloc_sampling",
       "libtcmalloc.so.4",
       "libgoogle-perftools4",
       {{"TCMALLOC_SAMPLE_PARAMETER", "524288"}},
       {},
       "tcmalloc",
       true,
       true,
       true,
       524288},
      {"tcmalloc_minimal",
       "libtcmalloc_minimal.so.4",
       "libtcmalloc-minimal4",
       {},
       {},
       "tcmalloc",
       true,
       false,
       false,
       std::nullopt},
      {"mimalloc",
       "libmimalloc.so.2",
       "libmimalloc2.0",
       {},
       {},
       "mimalloc",
       false,
       false,
       false,
       std::nullopt},
      {"glibc_mallinfo2",
       "",
       "libc6",
       {},
       {"--glibc-mallinfo-period-ms", "10"},
       "glibc",
       true,
       false,
       false,
       std::nullopt},
  };
}

// Names the case in gtest's output instead of dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.test_name; }

class AllocatorPreloadTest : public ::testing::TestWithParam<Case> {};

TEST_P(AllocatorPreloadTest, DetectsTheAllocatorAndFollowsTheHeap) {
  const Case& c = GetParam();
  if (kSanitizer) {
    GTEST_SKIP()
        << "sanitizer build: an allocator cannot be LD_PRELOADed under AddressSanitizer/ThreadSanitizer "
           "(their runtime must own malloc); run this test in a build without LEAKWATCH_ASAN/TSAN";
  }
  ChildOptions options;
  options.argv = {LEAKWATCH_ALLOC_PROBE_PATH, "--mib", std::to_string(kRequested / kMiB), "--block", "4096"};
  options.argv.insert(options.argv.end(), c.args.begin(), c.args.end());
  if (!c.library.empty()) {
    const std::string path = kLibDir + c.library;
    if (::access(path.c_str(), R_OK) != 0) {
      GTEST_SKIP() << path << " is missing: install the Debian package " << c.package;
    }
    options.env.emplace_back("LD_PRELOAD", path);
  }
  // Neither the test's environment nor the other cases' settings leak in.
  for (const char* name : {"MALLOC_CONF", "TCMALLOC_SAMPLE_PARAMETER", "HEAPPROFILE"}) {
    if (std::getenv(name) != nullptr) options.env.emplace_back(name, "");
  }
  for (const auto& kv : c.env) options.env.push_back(kv);
  options.stderr_path = ::testing::TempDir() + "alloc_probe_" + c.test_name + ".stderr";

  auto child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.error().message;
  std::vector<std::string> lines;
  for (int i = 0; i < 3; ++i) {
    auto line = (*child)->ReadLine(std::chrono::seconds(60));
    ASSERT_TRUE(line.ok()) << line.error().message;
    lines.push_back(*line);
  }
  const auto status = (*child)->WaitExit(std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "alloc_probe did not exit within 10 s";
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeWaitStatus(*status) << "; stderr:\n"
                                                               << (*child)->Stderr();
  const std::string& start = lines[0];
  const std::string& allocated = lines[1];
  const std::string& freed = lines[2];
  SCOPED_TRACE("start:     " + start + "\nallocated: " + allocated + "\nfreed:     " + freed);

  for (const auto& line : lines) EXPECT_EQ(Raw(line, "error"), "null");
  EXPECT_EQ(Raw(start, "name"), c.expected_name);
  EXPECT_NE(Raw(start, "version").value_or(""), "");
  EXPECT_EQ(Flag(start, "profiling_supported"), c.profiling_supported);
  EXPECT_EQ(Flag(start, "profiling_active"), c.profiling_active);
  EXPECT_EQ(Bytes(start, "profiling_sample_bytes"), c.sample_bytes);

  const auto mapped0 = Bytes(start, "mapped_bytes");
  const auto mapped1 = Bytes(allocated, "mapped_bytes");
  const auto mapped2 = Bytes(freed, "mapped_bytes");
  ASSERT_TRUE(mapped0 && mapped1 && mapped2);
  EXPECT_GE(*mapped1, *mapped0 + kRequested * 95 / 100);

  const auto alloc0 = Bytes(start, "allocated_bytes");
  const auto alloc1 = Bytes(allocated, "allocated_bytes");
  const auto alloc2 = Bytes(freed, "allocated_bytes");
  if (!c.reports_allocated) {
    EXPECT_FALSE(alloc0 || alloc1 || alloc2) << c.expected_name << " does not report allocated bytes";
    // mimalloc keeps its freed segments committed for a while: its figure must at least not grow.
    EXPECT_LE(*mapped2, *mapped1);
    return;
  }
  ASSERT_TRUE(alloc0 && alloc1 && alloc2);
  const double growth = static_cast<double>(*alloc1) - static_cast<double>(*alloc0);
  EXPECT_GE(growth, kRequested * 0.95);
  EXPECT_LE(growth, kRequested * 1.10);
  const double left = static_cast<double>(*alloc2) - static_cast<double>(*alloc0);
  EXPECT_LT(left, kRequested * 0.10) << "allocated_bytes did not fall after the free";
}

INSTANTIATE_TEST_SUITE_P(DebianAllocators, AllocatorPreloadTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.test_name; });

}  // namespace
}  // namespace leakwatch::integration

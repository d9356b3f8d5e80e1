// Heap profiles in incident bundles, end to end: heap_leaker (heap_leaker.cc) runs as a child process with
// jemalloc or gperftools tcmalloc preloaded and profiling on, keeps 64 MiB from LeakingFunction and 4 MiB
// from SteadyWorkload, and writes a bundle; the test reads the bundle's heap.pb.gz with `go tool pprof -top`,
// without the binary (the function names are in heap.pb.gz) and with it, and requires LeakingFunction at the
// top with an estimate within 15% of the bytes it really holds.
//
// `go tool pprof` runs with an empty environment but for a PATH holding only `go` (so neither jeprof nor
// anything else from the system can be what makes it work) and HOME / PPROF_TMPDIR / GOCACHE in a temporary
// directory, bounded by a timeout. A plain-glibc run checks the manifest's explanation instead.
//
// Skips: a missing allocator library (naming its Debian package), a missing `go` (Debian golang-go), and
// sanitizer builds, where no allocator can be preloaded (their runtime must own malloc).

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/child_process.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::integration {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kLibDir = std::string("/usr/lib/") + LEAKWATCH_LIBRARY_ARCH + "/";
constexpr std::chrono::seconds kPprofTimeout{120};

struct Case {
  std::string test_name;
  std::string library;  // file name under the multiarch library directory; "" for plain glibc
  std::string package;  // the Debian package that ships it
  std::vector<std::pair<std::string, std::string>> env;
  std::string raw_header;  // how heap.prof starts
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.test_name; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The first `go` on PATH (or /usr/bin/go), resolved; "" when there is none.
std::string FindGo() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream s(path);
    for (std::string dir; std::getline(s, dir, ':');) dirs.push_back(dir);
  }
  dirs.push_back("/usr/bin");
  for (const auto& dir : dirs) {
    const std::string candidate = dir + "/go";
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Runs heap_leaker under the case's allocator; returns its JSON line.
// Pages of `path` in the page cache (mincore over a mapping that is never touched), or SIZE_MAX on error.
size_t CachedPages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SIZE_MAX;
  struct stat st {};
  size_t cached = SIZE_MAX;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t length = static_cast<size_t>(st.st_size);
    void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      std::vector<unsigned char> resident((length + page - 1) / page);
      if (::mincore(map, length, resident.data()) == 0) {
        cached = 0;
        for (const unsigned char r : resident) cached += r & 1;
      }
      ::munmap(map, length);
    }
  }
  ::close(fd);
  return cached;
}

nlohmann::json RunLeaker(const Case& c, const std::string& bundle_dir, const std::string& stderr_path) {
  ChildOptions options;
  options.argv = {
      LEAKWATCH_HEAP_LEAKER_PATH, "--bundle-dir", bundle_dir, "--leak-mib", "64", "--steady-mib", "4"};
  if (!c.library.empty()) options.env.emplace_back("LD_PRELOAD", kLibDir + c.library);
  for (const auto& kv : c.env) options.env.push_back(kv);
  options.stderr_path = stderr_path;
  auto child = ChildProcess::Spawn(options);
  if (!child.ok()) {
    ADD_FAILURE() << child.error().message;
    return {};
  }
  auto line = (*child)->ReadLine(std::chrono::seconds(120));
  if (!line.ok()) {
    ADD_FAILURE() << line.error().message;
    return {};
  }
  const auto status = (*child)->WaitExit(std::chrono::seconds(30));
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << (status ? DescribeWaitStatus(*status) : "still running") << "; stderr:\n"
      << (*child)->Stderr();
  return nlohmann::json::parse(*line);
}

struct PprofRow {
  double flat_bytes = 0;
  std::string name;
};

// The rows of `go tool pprof -top -unit=B` output, in order.
std::vector<PprofRow> TopRows(const std::string& text) {
  std::vector<PprofRow> rows;
  std::stringstream s(text);
  bool table = false;
  for (std::string line; std::getline(s, line);) {
    if (line.find("flat%") != std::string::npos) {
      table = true;
      continue;
    }
    if (!table) continue;
    std::stringstream fields(line);
    std::string flat, flat_pct, sum_pct, cum, cum_pct, name;
    if (!(fields >> flat >> flat_pct >> sum_pct >> cum >> cum_pct)) continue;
    std::getline(fields, name);
    const size_t start = name.find_first_not_of(' ');
    name = start == std::string::npos ? "" : name.substr(start);
    if (!flat.empty() && flat.back() == 'B') flat.pop_back();
    rows.push_back({std::strtod(flat.c_str(), nullptr), name});
  }
  return rows;
}

class HeapProfileIntegrationTest : public ::testing::TestWithParam<Case> {};

TEST_P(HeapProfileIntegrationTest, GoToolPprofFindsTheLeakInTheBundle) {
  const Case& c = GetParam();
  if (kSanitizer) {
    GTEST_SKIP()
        << "sanitizer build: an allocator cannot be LD_PRELOADed under AddressSanitizer/ThreadSanitizer "
           "(their runtime must own malloc); run this test in a build without LEAKWATCH_ASAN/TSAN";
  }
  if (::access((kLibDir + c.library).c_str(), R_OK) != 0) {
    GTEST_SKIP() << kLibDir << c.library << " is missing: install the Debian package " << c.package;
  }
  const std::string go = FindGo();
  if (go.empty()) {
    GTEST_SKIP() << "go is missing (Debian package golang-go): heap.pb.gz is read with `go tool pprof`";
  }
  test_support::TempTree tree;
  const nlohmann::json run = RunLeaker(c, tree.Path("bundles"), tree.Path("leaker.stderr"));
  ASSERT_TRUE(run.is_object()) << ReadText(tree.Path("leaker.stderr"));
  ASSERT_TRUE(run["error"].is_null()) << run;
  EXPECT_EQ(run["allocator"], c.test_name);
  const std::string bundle = run["bundle"];
  const double leaked = run["leaked_bytes"];
  ASSERT_EQ(leaked, 64 << 20);

  const auto manifest = nlohmann::json::parse(ReadText(bundle + "/manifest.json"));
  const auto& heap = manifest["heap_profile"];
  SCOPED_TRACE("heap_profile: " + heap.dump());
  ASSERT_EQ(heap["written"], true);
  EXPECT_EQ(heap["allocator"], c.test_name);
  EXPECT_EQ(heap["files"], nlohmann::json::array({"heap.prof", "heap.pb.gz"}));
  EXPECT_EQ(heap["sampling_rate_bytes"], 16384);
  EXPECT_GT(heap["samples"].get<int>(), 0);
  EXPECT_FALSE(heap.contains("problem"));
  EXPECT_TRUE(manifest["skipped"].empty()) << manifest["skipped"];
  // Page cache is charged to the cgroup: no page of the heap profile is left cached (checked before this
  // test reads any of them).
  for (const char* file : {"heap.prof", "heap.pb.gz"}) {
    EXPECT_EQ(CachedPages(bundle + "/" + file), 0u) << file;
  }
  EXPECT_EQ(ReadText(bundle + "/heap.prof").rfind(c.raw_header, 0), 0u);

  // Named from the objects' symbol tables when the bundle was written.
  EXPECT_GT(heap["symbolized_locations"].get<int>(), 0);
  EXPECT_GE(heap["unsymbolized_locations"].get<int>(), 0);

  // go alone on PATH: no jeprof, no binutils.
  const std::string bin = tree.Path("bin");
  fs::create_directories(bin);
  fs::create_symlink(fs::canonical(go), bin + "/go");
  const std::string home = tree.Path("home");
  fs::create_directories(home);
  // Without the binary (the names come from heap.pb.gz itself), then with it as users usually run it.
  for (const bool with_binary : {false, true}) {
    SCOPED_TRACE(with_binary ? "with the binary" : "without the binary");
    const std::string top_path = tree.Path(with_binary ? "top-binary.txt" : "top.txt");
    ChildOptions pprof;
    pprof.argv = {"/usr/bin/env",
                  "-i",
                  "PATH=" + bin,
                  "HOME=" + home,
                  "PPROF_TMPDIR=" + home,
                  "GOCACHE=" + home + "/gocache",
                  bin + "/go",
                  "tool",
                  "pprof",
                  "-top",
                  "-sample_index=inuse_space",
                  "-unit=B",
                  "-output=" + top_path};
    if (with_binary) pprof.argv.push_back(LEAKWATCH_HEAP_LEAKER_PATH);
    pprof.argv.push_back(bundle + "/heap.pb.gz");
    pprof.stderr_path = tree.Path("pprof.stderr");
    const auto started = std::chrono::steady_clock::now();
    auto child = ChildProcess::Spawn(pprof);
    ASSERT_TRUE(child.ok()) << child.error().message;
    const auto status = (*child)->WaitExit(kPprofTimeout);
    ASSERT_TRUE(status.has_value()) << "go tool pprof did not finish within " << kPprofTimeout.count()
                                    << " s";
    ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << DescribeWaitStatus(*status) << "; stderr:\n"
        << (*child)->Stderr();
    const std::string top = ReadText(top_path);
    SCOPED_TRACE("go tool pprof -top (" +
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started)
                                    .count()) +
                 " ms):\n" + top);
    const auto rows = TopRows(top);
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(rows[0].name, "leakwatch::integration::LeakingFunction");
    EXPECT_NEAR(rows[0].flat_bytes, leaked, 0.15 * leaked);
    ASSERT_GE(rows.size(), 2u);
    EXPECT_EQ(rows[1].name, "leakwatch::integration::SteadyWorkload");
    EXPECT_LT(rows[1].flat_bytes, rows[0].flat_bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Allocators, HeapProfileIntegrationTest,
                         ::testing::Values(Case{"jemalloc",
                                                "libjemalloc.so.2",
                                                "libjemalloc2",
                                                {{"MALLOC_CONF", "prof:true,lg_prof_sample:14"}},
                                                "heap_v2/16384\n"},
                                           Case{"tcmalloc",
                                                "libtcmalloc.so.4",
                                                "libgoogle-perftools4",
                                                {{"TCMALLOC_SAMPLE_PARAMETER", "16384"}},
                                                "heap profile: "}),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.test_name; });

TEST(HeapProfileOnGlibcTest, TheManifestSaysWhyAndHow) {
  if (kSanitizer) GTEST_SKIP() << "sanitizer build: malloc belongs to the sanitizer's runtime, not glibc";
  test_support::TempTree tree;
  const nlohmann::json run =
      RunLeaker(Case{"glibc", "", "libc6", {}, ""}, tree.Path("bundles"), tree.Path("leaker.stderr"));
  ASSERT_TRUE(run.is_object());
  ASSERT_TRUE(run["error"].is_null()) << run;
  const std::string bundle = run["bundle"];
  const auto manifest = nlohmann::json::parse(ReadText(bundle + "/manifest.json"));
  const auto& heap = manifest["heap_profile"];
  EXPECT_EQ(heap["written"], false);
  EXPECT_EQ(heap["allocator"], "glibc");
  EXPECT_EQ(heap["why"], "glibc malloc keeps no record of allocation sites");
  EXPECT_THAT(heap["how_to_enable"].get<std::string>(), HasSubstr("MALLOC_CONF=prof:true"));
  EXPECT_FALSE(fs::exists(bundle + "/heap.prof"));
  EXPECT_FALSE(fs::exists(bundle + "/heap.pb.gz"));
}

}  // namespace
}  // namespace leakwatch::integration

// The heap profiler in real processes, with the preload library: accuracy read back with `go tool pprof`,
// every allocation function and operator new/delete form reaching the hooks, a stress of threads, realloc
// chains, aligned allocations, fork and thread exit — each on glibc, jemalloc, tcmalloc and mimalloc
// (preloaded after leakwatch) — and the profiles in incident bundles, the bypassed and the disabled sampler.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::integration {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kPreload = LEAKWATCH_PRELOAD_PATH;
const std::string kPrograms = LEAKWATCH_HEAP_PROGRAMS_DIR;
constexpr const char* kLibDir = "/usr/lib/x86_64-linux-gnu/";

struct Allocator {
  const char* name;
  const char* library;  // "" for glibc
  const char* package;
};
const std::array<Allocator, 4> kAllocators{{{"glibc", "", "libc6"},
                                            {"jemalloc", "libjemalloc.so.2", "libjemalloc2"},
                                            {"tcmalloc", "libtcmalloc.so.4", "libgoogle-perftools4"},
                                            {"mimalloc", "libmimalloc.so.2", "libmimalloc2.0"}}};

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs a shell command, returns its stdout (and stderr) and exit status.
std::pair<int, std::string> Run(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool HaveGoPprof() { return Run("go tool pprof -h").second.find("pprof") != std::string::npos; }

// One row of `go tool pprof -top`: flat bytes and the function.
struct TopRow {
  double flat_bytes = 0;
  std::string function;
};

double ParseBytes(const std::string& text) {
  double v = std::stod(text);
  const size_t at = text.find_first_not_of("0123456789.-");
  const std::string unit = at == std::string::npos ? "" : text.substr(at);
  if (unit == "kB") v *= 1024;
  if (unit == "MB") v *= 1024.0 * 1024;
  if (unit == "GB") v *= 1024.0 * 1024 * 1024;
  return v;
}

std::vector<TopRow> PprofTop(const std::string& file, const std::string& sample_index, std::string* raw) {
  auto [status, out] = Run("go tool pprof -top -unit=B -sample_index=" + sample_index + " " + file);
  *raw = out;
  std::vector<TopRow> rows;
  if (status != 0) return rows;
  std::istringstream lines(out);
  std::string line;
  bool table = false;
  while (std::getline(lines, line)) {
    if (line.find("flat%") != std::string::npos) {
      table = true;
      continue;
    }
    if (!table) continue;
    std::istringstream f(line);
    std::string flat, flat_pct, sum_pct, cum, cum_pct, function;
    f >> flat >> flat_pct >> sum_pct >> cum >> cum_pct;
    std::getline(f, function);
    function.erase(0, function.find_first_not_of(' '));
    if (flat.empty() || function.empty()) continue;
    rows.push_back({ParseBytes(flat), function});
  }
  return rows;
}

class HeapSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kPreload.empty() || access(kPreload.c_str(), R_OK) != 0) {
      GTEST_SKIP() << "libleakwatch_preload.so is not built (LEAKWATCH_BUILD_SHARED=OFF)";
    }
  }

  // LD_PRELOAD with leakwatch first, then the allocator (empty for glibc).
  static std::string Preload(const Allocator& a) {
    return std::string(a.library).empty() ? kPreload : kPreload + ":" + kLibDir + a.library;
  }
  static bool Installed(const Allocator& a) {
    return std::string(a.library).empty() || access((std::string(kLibDir) + a.library).c_str(), R_OK) == 0;
  }

  std::unique_ptr<ChildProcess> Spawn(std::vector<std::string> argv,
                                      std::vector<std::pair<std::string, std::string>> env) {
    env.emplace_back("LEAKWATCH_DISCOVERY_DIR", discovery_.dir());
    if (std::none_of(env.begin(), env.end(), [](const auto& e) { return e.first == "LEAKWATCH_PERIOD"; })) {
      env.emplace_back("LEAKWATCH_PERIOD", "200ms");
    }
    auto child = ChildProcess::Spawn({.argv = std::move(argv),
                                      .env = std::move(env),
                                      .cgroup_procs = "",
                                      .stderr_path = files_.Path("err-" + std::to_string(++spawned_)),
                                      .stdin_pipe = true});
    EXPECT_TRUE(child) << child.error().message;
    return child ? std::move(*child) : nullptr;
  }

  // The HTTP port of the agent in `pid` (its discovery file), waiting up to 10 s.
  int PortOf(pid_t pid) {
    const std::string path = discovery_.Path("leakwatch-" + std::to_string(pid) + ".json");
    for (int i = 0; i < 200; ++i) {
      const auto doc = nlohmann::json::parse(ReadWholeFile(path), nullptr, false);
      if (doc.is_array() && !doc.empty()) {
        const std::string target = doc[0]["targets"][0].get<std::string>();
        return std::stoi(target.substr(target.rfind(':') + 1));
      }
      std::this_thread::sleep_for(50ms);
    }
    return 0;
  }

  // Starts heap_known_sites with the agent preloaded, waits until it has leaked, and gives its agent's port.
  std::pair<std::unique_ptr<ChildProcess>, int> StartKnownSites(
      std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env) {
    args.insert(args.begin(), kPrograms + "/heap_known_sites");
    auto child = Spawn(std::move(args), std::move(env));
    if (!child) return {nullptr, 0};
    auto line = child->ReadLine(60s);
    EXPECT_TRUE(line) << child->Stderr();
    const int port = line ? PortOf(child->pid()) : 0;
    EXPECT_NE(port, 0) << child->Stderr();
    return {std::move(child), port};
  }

  // Runs a program to completion (bounded) and returns its exit status and stdout.
  std::pair<std::optional<int>, std::string> RunToEnd(std::vector<std::string> argv,
                                                      std::vector<std::pair<std::string, std::string>> env,
                                                      std::chrono::seconds timeout) {
    auto child = Spawn(std::move(argv), std::move(env));
    if (!child) return {std::nullopt, ""};
    (void)child->WriteStdin("");
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = child->ReadLine(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!line) break;
      out += *line + "\n";
    }
    auto status = child->WaitExit(5s);
    if (!status) out += "(did not exit in time: killed)\n" + child->Stderr();
    return {status, out};
  }

  test_support::TempTree discovery_;
  test_support::TempTree files_;
  int spawned_ = 0;
};

class HeapSamplerOnAllocator : public HeapSamplerTest, public ::testing::WithParamInterface<Allocator> {
 protected:
  void SetUp() override {
    HeapSamplerTest::SetUp();
    if (IsSkipped()) return;
    if (!Installed(GetParam())) {
      GTEST_SKIP() << GetParam().library << " is not installed (Debian package " << GetParam().package << ")";
    }
  }
};

// The leaking function tops inuse_space, within 10% of what it leaked; the profile names functions, the
// leak through operator new[] is second, the steady sites hold nothing; a peak profile is there too.
TEST_P(HeapSamplerOnAllocator, GoToolPprofNamesTheLeakingFunctionWithin10Percent) {
  if (!HaveGoPprof()) GTEST_SKIP() << "`go tool pprof` is not available (Debian package golang-go)";
  auto child = Spawn({kPrograms + "/heap_known_sites", "64", "4"}, {{"LD_PRELOAD", Preload(GetParam())},
                                                                    {"LEAKWATCH_LISTEN", "127.0.0.1:0"},
                                                                    {"LEAKWATCH_HEAP_SAMPLER", "32KiB"}});
  ASSERT_TRUE(child);
  auto line = child->ReadLine(60s);
  ASSERT_TRUE(line) << child->Stderr();
  size_t leaked_malloc = 0, leaked_new = 0;
  ASSERT_EQ(std::sscanf(line->c_str(), "leaked %zu %zu", &leaked_malloc, &leaked_new), 2) << *line;
  const int port = PortOf(child->pid());
  ASSERT_NE(port, 0) << child->Stderr();
  auto heap = test_support::HttpGet(port, "/debug/pprof/heap");
  ASSERT_TRUE(heap) << heap.error().message;
  ASSERT_EQ(heap->status, 200) << heap->body;
  const std::string file = files_.Path("heap.pb.gz");
  std::ofstream(file, std::ios::binary) << heap->body;

  std::string raw;
  const auto rows = PprofTop(file, "inuse_space", &raw);
  ASSERT_GE(rows.size(), 2u) << raw;
  EXPECT_EQ(rows[0].function, "(anonymous namespace)::LeakingFunction") << raw;
  EXPECT_NEAR(rows[0].flat_bytes / static_cast<double>(leaked_malloc), 1.0, 0.10) << raw;
  EXPECT_EQ(rows[1].function, "(anonymous namespace)::LeakingNew") << raw;
  EXPECT_NEAR(rows[1].flat_bytes / static_cast<double>(leaked_new), 1.0, 0.25) << raw;
  for (const auto& r : rows) {
    if (r.function.find("Steady") != std::string::npos) {
      EXPECT_LT(r.flat_bytes, 0.01 * static_cast<double>(leaked_malloc)) << "freed at once: " << raw;
    }
  }
  // Allocated space shows the steady sites, which allocated far more than was leaked.
  const auto alloc_rows = PprofTop(file, "alloc_space", &raw);
  ASSERT_FALSE(alloc_rows.empty()) << raw;
  EXPECT_THAT(alloc_rows[0].function, HasSubstr("Steady")) << raw;

  auto peak = test_support::HttpGet(port, "/debug/pprof/heap?peak=1");
  ASSERT_TRUE(peak) << peak.error().message;
  EXPECT_EQ(peak->status, 200) << peak->body;
  auto metrics = test_support::HttpGet(port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("leakwatch_heap_sampler_running 1"));
  auto status = test_support::HttpGet(port, "/status");
  ASSERT_TRUE(status);
  const auto heap_status = nlohmann::json::parse(status->body)["heap_profiler"];
  EXPECT_EQ(heap_status["state"], "running") << heap_status.dump(2);
  EXPECT_THAT(heap_status["unwinder"].get<std::string>(), HasSubstr("libunwind")) << heap_status.dump(2);
  EXPECT_EQ(heap_status["dropped_live_table_full"], 0) << heap_status.dump(2);
  (void)child->WriteStdin("done\n");
  child->Kill();
}

TEST_P(HeapSamplerOnAllocator, EveryAllocationFunctionAndOperatorNewFormReachesTheHooks) {
  // The counts are the whole process's: a long period keeps the agent's own thread from allocating meanwhile.
  // On glibc, also a library loaded with RTLD_DEEPBIND (elsewhere its malloc would be another allocator's).
  std::vector<std::string> argv = {kPrograms + "/heap_hook_forms"};
  if (std::string(GetParam().library).empty()) argv.push_back(kPrograms + "/heap_deepbind_lib.so");
  auto [status, out] = RunToEnd(argv,
                                {{"LD_PRELOAD", Preload(GetParam())},
                                 {"LEAKWATCH_LISTEN", "off"},
                                 {"LEAKWATCH_PERIOD", "10s"},
                                 {"LEAKWATCH_HEAP_SAMPLER", "1"}},
                                60s);
  ASSERT_TRUE(status) << out;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << out;
  EXPECT_THAT(out, HasSubstr("all forms reach the hooks"));
  if (argv.size() > 1) {
    EXPECT_THAT(out, HasSubstr("ok deepbind"));
  }
}

TEST_P(HeapSamplerOnAllocator, StressOfThreadsReallocChainsAlignedForkAndThreadExit) {
  auto [status, out] = RunToEnd(
      {kPrograms + "/heap_stress", "8", "6"},
      {{"LD_PRELOAD", Preload(GetParam())}, {"LEAKWATCH_LISTEN", "off"}, {"LEAKWATCH_HEAP_SAMPLER", "4KiB"}},
      120s);
  ASSERT_TRUE(status) << "no exit within 120 s (a deadlock?)\n" << out;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << out;
  EXPECT_THAT(out, HasSubstr("stress ok"));
}

INSTANTIATE_TEST_SUITE_P(Allocators, HeapSamplerOnAllocator, ::testing::ValuesIn(kAllocators),
                         [](const ::testing::TestParamInfo<Allocator>& info) { return info.param.name; });

TEST_F(HeapSamplerTest, BundlesCarryTheCurrentAndThePeakProfiles) {
  const std::string token = "heap-sampler-test-token-0123456789";
  std::ofstream(files_.Path("token")) << token << "\n";
  const std::string config = files_.Path("config.yml");
  std::ofstream(config) << "bundle:\n  dir: " << files_.Path("bundles") << "\n";
  auto child = Spawn({kPrograms + "/heap_known_sites", "16", "2"},
                     {{"LD_PRELOAD", kPreload},
                      {"LEAKWATCH_LISTEN", "127.0.0.1:0"},
                      {"LEAKWATCH_CONFIG", config},
                      {"LEAKWATCH_DEBUG_TOKEN_FILE", files_.Path("token")}});
  ASSERT_TRUE(child);
  ASSERT_TRUE(child->ReadLine(60s)) << child->Stderr();
  const int port = PortOf(child->pid());
  ASSERT_NE(port, 0);
  // The peak profile is taken on a tick: wait (bounded) until the agent has one.
  for (int i = 0; i < 100; ++i) {
    auto peak = test_support::HttpGet(port, "/debug/pprof/heap?peak=1");
    if (peak && peak->status == 200) break;
    std::this_thread::sleep_for(100ms);
  }
  test_support::HttpGetOptions post;
  post.method = "POST";
  post.timeout = 40s;
  post.extra_headers = {{"Authorization", "Bearer " + token}};
  auto capture = test_support::HttpGet(port, "/debug/leakwatch/capture?reason=heap-test&wait=30s", post);
  ASSERT_TRUE(capture) << capture.error().message;
  ASSERT_EQ(capture->status, 201) << capture->body;
  const auto reply = nlohmann::json::parse(capture->body);
  const std::string dir = files_.Path("bundles") + "/" + reply["bundle"].get<std::string>();
  const auto manifest = nlohmann::json::parse(ReadWholeFile(dir + "/manifest.json"));
  const auto& heap = manifest["heap_profile"];
  EXPECT_EQ(heap["method"], "leakwatch heap sampler") << heap.dump(2);
  EXPECT_EQ(heap["written"], true) << heap.dump(2);
  EXPECT_EQ(heap["files"], nlohmann::json::array({"heap.pb.gz", "heap_peak.pb.gz"})) << heap.dump(2);
  EXPECT_GT(heap["current"]["estimated_inuse_bytes"].get<double>(), 16.0 * (1 << 20) * 0.8) << heap.dump(2);
  struct stat st {};
  EXPECT_EQ(stat((dir + "/heap.pb.gz").c_str(), &st), 0);
  EXPECT_GT(st.st_size, 100);
  EXPECT_EQ(stat((dir + "/heap_peak.pb.gz").c_str(), &st), 0);
  child->Kill();
}

TEST_F(HeapSamplerTest, AnAllocatorAheadOfTheHooksLeavesTheSamplerUnavailableAndSaysWhy) {
  if (access((std::string(kLibDir) + "libjemalloc.so.2").c_str(), R_OK) != 0) {
    GTEST_SKIP() << "libjemalloc.so.2 is not installed (Debian package libjemalloc2)";
  }
  auto [child, port] =
      StartKnownSites({"4", "1"}, {{"LD_PRELOAD", std::string(kLibDir) + "libjemalloc.so.2:" + kPreload},
                                   {"LEAKWATCH_LISTEN", "127.0.0.1:0"}});
  ASSERT_TRUE(child && port != 0);
  auto heap = test_support::HttpGet(port, "/debug/pprof/heap");
  ASSERT_TRUE(heap);
  EXPECT_EQ(heap->status, 503);
  EXPECT_THAT(heap->body, HasSubstr("libjemalloc.so.2"));
  EXPECT_THAT(child->Stderr(), HasSubstr("heap profiler: unavailable: the process's malloc comes from"));
  auto metrics = test_support::HttpGet(port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("leakwatch_heap_sampler_running 0"));
  child->Kill();
}

TEST_F(HeapSamplerTest, SwitchedOffTheHooksOnlyForward) {
  auto [child, port] = StartKnownSites(
      {"4", "2"},
      {{"LD_PRELOAD", kPreload}, {"LEAKWATCH_LISTEN", "127.0.0.1:0"}, {"LEAKWATCH_HEAP_SAMPLER", "off"}});
  ASSERT_TRUE(child && port != 0);
  auto heap = test_support::HttpGet(port, "/debug/pprof/heap");
  ASSERT_TRUE(heap);
  EXPECT_EQ(heap->status, 503);
  EXPECT_THAT(heap->body, HasSubstr("off"));
  auto metrics = test_support::HttpGet(port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("leakwatch_heap_sampler_running 0"));
  EXPECT_THAT(metrics->body, ::testing::Not(HasSubstr("leakwatch_heap_sampler_samples_total")));
  child->Kill();
}

}  // namespace
}  // namespace leakwatch::integration

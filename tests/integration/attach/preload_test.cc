// The preload library in unmodified programs: start-up from the environment, exit status and output left
// alone, failures that leave the host unchanged, exec'd children without the agent, preforking parents with
// one agent (or one per child when configured), a fork+exec-heavy shell, and dependencies shared with a host
// that uses spdlog and civetweb itself. Every program here is started with LD_PRELOAD set by the test (the
// `leakwatch run` command is tested in tests/integration/cli and with real servers in servers_test.cc).
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/child_process.h"
#include "tests/integration/prom_text.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::string kPreload = LEAKWATCH_PRELOAD_PATH;
const std::string kPrograms = LEAKWATCH_ATTACH_PROGRAMS_DIR;

// Reads a whole file ("" when unreadable).
std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The discovery files in `dir`: pid -> port.
std::map<long, int> DiscoveredAgents(const std::string& dir) {
  std::map<long, int> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("leakwatch-", 0) != 0 || entry.path().extension() != ".json") continue;
    const auto doc = nlohmann::json::parse(ReadFile(entry.path()), nullptr, false);
    if (!doc.is_array() || doc.empty()) continue;
    const std::string target = doc[0]["targets"][0].get<std::string>();
    out[std::stol(name.substr(10))] = std::stoi(target.substr(target.rfind(':') + 1));
  }
  return out;
}

// Waits (bounded) until `dir` holds `count` discovery files.
std::map<long, int> WaitForAgents(const std::string& dir, size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto agents = DiscoveredAgents(dir);
  while (agents.size() < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    agents = DiscoveredAgents(dir);
  }
  return agents;
}

// The names of the threads of `pid` that belong to leakwatch (its own and its HTTP server's).
std::vector<std::string> AgentThreads(pid_t pid) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string comm = ReadFile(task.path() / "comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm.rfind("leakwatch", 0) == 0 || comm.rfind("civetweb", 0) == 0) names.push_back(comm);
  }
  return names;
}

// The socket inode listening on `port` (from /proc/net/tcp), or 0.
unsigned long ListeningInode(int port) {
  std::istringstream lines(ReadFile("/proc/net/tcp"));
  std::string line;
  std::getline(lines, line);
  char hex_port[8];
  std::snprintf(hex_port, sizeof(hex_port), "%04X", port);
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
    unsigned long inode = 0;
    f >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    if (state == "0A" && local.size() > 5 && local.substr(local.size() - 4) == hex_port) return inode;
  }
  return 0;
}

// Whether `pid` holds an fd on the socket `inode`.
bool HoldsSocket(pid_t pid, unsigned long inode) {
  const std::string want = "socket:[" + std::to_string(inode) + "]";
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    char target[64] = {};
    if (readlink(fd.path().c_str(), target, sizeof(target) - 1) > 0 && want == target) return true;
  }
  return false;
}

// Connects to 127.0.0.1:port and reads until the peer closes (at most 2 s).
std::string ReadFromPort(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    char buffer[256];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) out.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

class PreloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kPreload.empty() || access(kPreload.c_str(), R_OK) != 0) {
      GTEST_SKIP() << "libleakwatch_preload.so is not built (LEAKWATCH_BUILD_SHARED=OFF)";
    }
  }

  // The environment of a preloaded program: port 0, discovery in a temp dir, bundles in another.
  std::vector<std::pair<std::string, std::string>> Env(
      std::vector<std::pair<std::string, std::string>> extra = {}) const {
    std::vector<std::pair<std::string, std::string>> env{{"LD_PRELOAD", kPreload},
                                                         {"LEAKWATCH_LISTEN", "127.0.0.1:0"},
                                                         {"LEAKWATCH_DISCOVERY_DIR", discovery_.dir()},
                                                         {"LEAKWATCH_PERIOD", "200ms"}};
    for (auto& [name, value] : extra) {
      auto same =
          std::find_if(env.begin(), env.end(), [&name = name](const auto& e) { return e.first == name; });
      if (same != env.end()) {
        same->second = std::move(value);
      } else {
        env.emplace_back(name, std::move(value));
      }
    }
    return env;
  }

  std::unique_ptr<ChildProcess> Spawn(std::vector<std::string> argv,
                                      std::vector<std::pair<std::string, std::string>> env) {
    auto child = ChildProcess::Spawn({.argv = std::move(argv),
                                      .env = std::move(env),
                                      .cgroup_procs = "",
                                      .stderr_path = stderr_.Path("err-" + std::to_string(++spawned_)),
                                      .stdin_pipe = true});
    EXPECT_TRUE(child) << child.error().message;
    return child ? std::move(*child) : nullptr;
  }

  // Reads stdout lines until EOF or the timeout.
  static std::vector<std::string> ReadAll(ChildProcess& child, std::chrono::milliseconds timeout) {
    std::vector<std::string> lines;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = child.ReadLine(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!line) break;
      lines.push_back(*line);
    }
    return lines;
  }

  test_support::TempTree discovery_;
  test_support::TempTree stderr_;
  int spawned_ = 0;
};

TEST_F(PreloadTest, StartsInAnUnmodifiedProgramAndServesItsMetrics) {
  auto child = Spawn({"/bin/sleep", "30"}, Env());
  ASSERT_TRUE(child);
  const auto agents = WaitForAgents(discovery_.dir(), 1, 10s);
  ASSERT_EQ(agents.size(), 1u) << child->Stderr();
  EXPECT_EQ(agents.begin()->first, child->pid()) << "the agent runs in the program itself";
  auto metrics = test_support::HttpGet(agents.begin()->second, "/metrics");
  ASSERT_TRUE(metrics) << metrics.error().message;
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(AgentThreads(child->pid()), ::testing::Contains("leakwatch"));
  const auto discovery =
      nlohmann::json::parse(ReadFile(discovery_.Path("leakwatch-" + std::to_string(child->pid()) + ".json")));
  EXPECT_EQ(discovery[0]["labels"]["leakwatch_program"], "sleep");
  EXPECT_EQ(discovery[0]["labels"]["leakwatch_role"], "main");
}

TEST_F(PreloadTest, ExitStatusAndStdoutAreTheProgramsAndExitStopsTheAgent) {
  // The agent's start-up and shutdown print nothing on stdout; exit() stops it and removes its discovery
  // file (bash, unlike dash, leaves through exit()).
  const std::string script = "echo out-1; sleep 0.5; echo out-2; exit 7";
  for (const bool preloaded : {false, true}) {
    auto child = Spawn({"/bin/bash", "-c", script}, preloaded ? Env() : Env({{"LD_PRELOAD", ""}}));
    ASSERT_TRUE(child);
    const auto lines = ReadAll(*child, 10s);
    const auto status = child->WaitExit(10s);
    ASSERT_TRUE(status);
    EXPECT_EQ(DescribeWaitStatus(*status), "exited with 7") << "preloaded=" << preloaded;
    EXPECT_EQ(lines, (std::vector<std::string>{"out-1", "out-2"})) << "preloaded=" << preloaded;
    if (preloaded) {
      EXPECT_THAT(child->Stderr(), HasSubstr("serving metrics on http://127.0.0.1:"));
      EXPECT_TRUE(DiscoveredAgents(discovery_.dir()).empty()) << "the discovery file is removed at exit";
    }
  }
}

TEST_F(PreloadTest, ASignalDeathIsTheProgramsToo) {
  auto child = Spawn({"/bin/bash", "-c", "sleep 0.3; kill -SEGV $$"}, Env());
  ASSERT_TRUE(child);
  const auto status = child->WaitExit(10s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGSEGV) << DescribeWaitStatus(*status);
}

TEST_F(PreloadTest, FailuresAreOneLogLineAndTheProgramRunsUnchanged) {
  test_support::TempTree files;
  const std::string bad_config = files.Write("bad.yml", "period: soon\nhttp:\n  threads: many\n");
  // A port already taken by another agent: the second program still runs and its agent still samples.
  auto holder = Spawn({"/bin/sleep", "30"}, Env({{"LEAKWATCH_DISCOVERY_DIR", files.dir()}}));
  ASSERT_TRUE(holder);
  const auto held = WaitForAgents(files.dir(), 1, 10s);
  ASSERT_EQ(held.size(), 1u);
  const std::string taken = "127.0.0.1:" + std::to_string(held.begin()->second);

  struct Case {
    std::string name;
    std::vector<std::pair<std::string, std::string>> env;
    std::string expected_log;
  };
  const std::vector<Case> cases{
      {"invalid config", {{"LEAKWATCH_CONFIG", bad_config}}, "bad.yml:1:9: period"},
      {"missing config", {{"LEAKWATCH_CONFIG", files.Path("missing.yml")}}, "missing.yml"},
      {"bad variable", {{"LEAKWATCH_FORK", "sometimes"}}, "LEAKWATCH_FORK=\"sometimes\""},
      {"port taken", {{"LEAKWATCH_LISTEN", taken}}, "Address already in use"},
  };
  for (const auto& c : cases) {
    auto child = Spawn({"/bin/bash", "-c", "echo ok; exit 4"}, Env(c.env));
    ASSERT_TRUE(child);
    const auto lines = ReadAll(*child, 10s);
    const auto status = child->WaitExit(10s);
    ASSERT_TRUE(status) << c.name;
    EXPECT_EQ(DescribeWaitStatus(*status), "exited with 4") << c.name;
    EXPECT_EQ(lines, std::vector<std::string>{"ok"}) << c.name;
    const std::string err = child->Stderr();
    EXPECT_THAT(err, HasSubstr(c.expected_log)) << c.name;
    // One error line for the failure (a config error may span several lines: one per problem).
    size_t errors = 0;
    for (size_t at = err.find(" error [leakwatch]"); at != std::string::npos;
         at = err.find(" error [leakwatch]", at + 1)) {
      ++errors;
    }
    EXPECT_LE(errors, 1u) << c.name << ":\n" << err;
    if (c.name != "port taken") {
      EXPECT_THAT(err, HasSubstr("the program runs without it")) << c.name;
    }
  }
}

TEST_F(PreloadTest, ExecdProgramsRunWithoutTheAgentUnlessInherited) {
  // bash has the agent; the programs it runs (fork + exec) do not see the preload, other entries stay.
  // bash matters here: it has its own getenv/setenv (for its variables), which the clean-up must not use.
  const std::string script =
      "echo \"preload=[$LD_PRELOAD]\"; grep -q libleakwatch_preload /proc/self/maps && echo mapped || "
      "echo clean; env | grep -c '^LD_PRELOAD=' ; exit 0";
  {
    auto child =
        Spawn({"/bin/bash", "-c", script}, Env({{"LD_PRELOAD", kPreload + " /nonexistent/libother.so"}}));
    ASSERT_TRUE(child);
    const auto lines = ReadAll(*child, 10s);
    ASSERT_TRUE(child->WaitExit(10s));
    EXPECT_EQ(lines, (std::vector<std::string>{"preload=[/nonexistent/libother.so]", "clean", "1"}));
  }
  {
    auto child =
        Spawn({"/bin/bash", "-c", script}, Env({{"LEAKWATCH_EXEC", "inherit"}, {"LEAKWATCH_LISTEN", "off"}}));
    ASSERT_TRUE(child);
    const auto lines = ReadAll(*child, 10s);
    ASSERT_TRUE(child->WaitExit(10s));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "preload=[" + kPreload + "]");
    EXPECT_EQ(lines[1], "mapped") << "grep, exec'd by bash, has the preload mapped";
  }
}

TEST_F(PreloadTest, APreforkingServerHasExactlyOneAgentByDefault) {
  auto server = Spawn({kPrograms + "/attach_prefork_host", "4"}, Env());
  ASSERT_TRUE(server);
  auto ready = server->ReadLine(10s);
  ASSERT_TRUE(ready) << ready.error().message << "\n" << server->Stderr();
  ASSERT_THAT(*ready, HasSubstr("ready "));
  const int service_port = std::stoi(ready->substr(6));
  const auto agents = WaitForAgents(discovery_.dir(), 1, 10s);
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents.begin()->first, server->pid());
  const int agent_port = agents.begin()->second;

  // None of the workers runs agent threads or holds the agent's socket.
  std::set<long> workers;
  std::istringstream ids(ReadFile("/proc/" + std::to_string(server->pid()) + "/task/" +
                                  std::to_string(server->pid()) + "/children"));
  for (long pid = 0; ids >> pid;) workers.insert(pid);
  ASSERT_EQ(workers.size(), 4u);
  for (int i = 0; i < 8; ++i) {
    const std::string reply = ReadFromPort(service_port);
    ASSERT_FALSE(reply.empty()) << "a worker answers";
    EXPECT_TRUE(workers.count(std::stol(reply))) << reply;
  }
  std::this_thread::sleep_for(1500ms);  // longer than the default LEAKWATCH_FORK_DELAY: nothing starts anyway
  const unsigned long inode = ListeningInode(agent_port);
  ASSERT_NE(inode, 0u);
  EXPECT_TRUE(HoldsSocket(server->pid(), inode));
  for (const long worker : workers) {
    EXPECT_THAT(AgentThreads(static_cast<pid_t>(worker)), ::testing::IsEmpty()) << "worker " << worker;
    EXPECT_FALSE(HoldsSocket(static_cast<pid_t>(worker), inode)) << "worker " << worker << " kept the port";
  }
  EXPECT_EQ(DiscoveredAgents(discovery_.dir()).size(), 1u);
  auto metrics = test_support::HttpGet(agent_port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);

  ASSERT_TRUE(server->WriteStdin("quit\n"));
  const auto lines = ReadAll(*server, 15s);
  const auto status = server->WaitExit(15s);
  ASSERT_TRUE(status);
  EXPECT_EQ(DescribeWaitStatus(*status), "exited with 0") << server->Stderr();
  ASSERT_EQ(lines.size(), 4u);
  for (const auto& line : lines) EXPECT_THAT(line, ::testing::EndsWith(" exited 0"));
}

TEST_F(PreloadTest, WithForkChildrenEachWorkerGetsItsOwnAgentOnItsOwnPort) {
  auto server = Spawn({kPrograms + "/attach_prefork_host", "3"},
                      Env({{"LEAKWATCH_FORK", "children"}, {"LEAKWATCH_FORK_DELAY", "200ms"}}));
  ASSERT_TRUE(server);
  auto ready = server->ReadLine(10s);
  ASSERT_TRUE(ready) << server->Stderr();
  const auto agents = WaitForAgents(discovery_.dir(), 4, 15s);
  ASSERT_EQ(agents.size(), 4u) << server->Stderr();
  std::set<int> ports;
  for (const auto& [pid, port] : agents) {
    ports.insert(port);
    const unsigned long inode = ListeningInode(port);
    EXPECT_TRUE(HoldsSocket(static_cast<pid_t>(pid), inode)) << "pid " << pid << " serves port " << port;
    auto metrics = test_support::HttpGet(port, "/metrics");
    ASSERT_TRUE(metrics) << metrics.error().message;
    EXPECT_EQ(metrics->status, 200);
    const auto doc =
        nlohmann::json::parse(ReadFile(discovery_.Path("leakwatch-" + std::to_string(pid) + ".json")));
    EXPECT_EQ(doc[0]["labels"]["leakwatch_role"], pid == server->pid() ? "main" : "child");
  }
  EXPECT_EQ(ports.size(), 4u) << "no two agents share a port";
  for (const auto& [pid, port] : agents) {
    if (pid == server->pid()) continue;
    EXPECT_THAT(AgentThreads(static_cast<pid_t>(pid)), ::testing::Contains("leakwatch")) << pid;
  }

  ASSERT_TRUE(server->WriteStdin("quit\n"));
  const auto lines = ReadAll(*server, 15s);
  const auto status = server->WaitExit(15s);
  ASSERT_TRUE(status);
  EXPECT_EQ(DescribeWaitStatus(*status), "exited with 0") << server->Stderr();
  EXPECT_EQ(lines.size(), 3u);
}

TEST_F(PreloadTest, AForkAndExecHeavyShellStaysCorrect) {
  // 2000 short children (fork + exec of /bin/true) from a preloaded shell: all run, none has the preload,
  // the agent keeps sampling. How much it costs is measured in bench/attach_fork_exec.sh.
  const std::string script =
      "i=0; while [ $i -lt 2000 ]; do /bin/true || exit 9; i=$((i+1)); done; echo ran $i; "
      "env | grep -c '^LD_PRELOAD=' ; exit 0";
  auto child = Spawn({"/bin/bash", "-c", script}, Env());
  ASSERT_TRUE(child);
  const auto agents = WaitForAgents(discovery_.dir(), 1, 10s);
  ASSERT_EQ(agents.size(), 1u);
  const auto lines = ReadAll(*child, 120s);
  const auto status = child->WaitExit(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(DescribeWaitStatus(*status), "exited with 0") << child->Stderr();
  EXPECT_EQ(lines, (std::vector<std::string>{"ran 2000", "0"}));
  EXPECT_THAT(child->Stderr(), Not(HasSubstr("error")));
}

TEST_F(PreloadTest, AHostThatUsesSpdlogAndCivetwebItselfKeepsThemToItself) {
  auto host = Spawn({kPrograms + "/attach_library_host"}, Env());
  ASSERT_TRUE(host);
  auto started = host->ReadLine(10s);
  ASSERT_TRUE(started) << host->Stderr();
  EXPECT_EQ(*started, "host warning host started");
  auto ready = host->ReadLine(10s);
  ASSERT_TRUE(ready) << host->Stderr();
  ASSERT_THAT(*ready, HasSubstr("ready "));
  const int host_port = std::stoi(ready->substr(6));
  const auto agents = WaitForAgents(discovery_.dir(), 1, 10s);
  ASSERT_EQ(agents.size(), 1u) << host->Stderr();
  auto hello = test_support::HttpGet(host_port, "/hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->body, "hello from host");
  auto metrics = test_support::HttpGet(agents.begin()->second, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("process_open_fds "));
  ASSERT_TRUE(host->WriteStdin("line-1\nquit\n"));
  const auto lines = ReadAll(*host, 10s);
  const auto status = host->WaitExit(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(DescribeWaitStatus(*status), "exited with 0");
  // The host's stdout has its own lines only, in its own pattern; the agent's went to stderr.
  EXPECT_EQ(lines, (std::vector<std::string>{"host warning host got line-1", "host warning host stopped"}));
  EXPECT_THAT(host->Stderr(), HasSubstr("[leakwatch] leakwatch"));
}

TEST_F(PreloadTest, AHostWithItsOwnExportedCivetwebIsLeftAloneWithOneLogLine) {
  auto host = Spawn({kPrograms + "/attach_clashing_host"}, Env());
  ASSERT_TRUE(host);
  const auto lines = ReadAll(*host, 10s);
  const auto status = host->WaitExit(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(DescribeWaitStatus(*status), "exited with 0");
  EXPECT_EQ(lines, std::vector<std::string>{"mg_start calls: 0"})
      << "the agent never called the host's mg_start";
  EXPECT_THAT(host->Stderr(), HasSubstr("civetweb: mg_start resolves to"));
  EXPECT_THAT(host->Stderr(), HasSubstr("the program runs without it"));
  EXPECT_TRUE(DiscoveredAgents(discovery_.dir()).empty());
}

TEST_F(PreloadTest, DisabledDoesNothingAtAll) {
  auto child =
      Spawn({"/bin/bash", "-c", "grep -q libleakwatch_preload /proc/$$/maps && echo loaded; sleep 0.5"},
            Env({{"LEAKWATCH_DISABLE", "1"}}));
  ASSERT_TRUE(child);
  const auto lines = ReadAll(*child, 10s);
  ASSERT_TRUE(child->WaitExit(10s));
  EXPECT_EQ(lines, std::vector<std::string>{"loaded"});
  EXPECT_TRUE(DiscoveredAgents(discovery_.dir()).empty());
  EXPECT_THAT(child->Stderr(), Not(HasSubstr("[leakwatch]")));
}

// The dynamic symbols a library defines, demangled ("nm -D --defined-only -C", names only).
std::vector<std::string> ExportedSymbols(const std::string& library) {
  std::vector<std::string> out;
  FILE* nm = popen(("nm -D --defined-only -C " + library + " 2>&1").c_str(), "r");
  if (nm == nullptr) return out;
  char line[4096];
  while (std::fgets(line, sizeof(line), nm) != nullptr) {
    std::string s(line);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    const auto first = s.find(' '), second = s.find(' ', first + 1);
    if (second != std::string::npos) out.push_back(s.substr(second + 1));
  }
  pclose(nm);
  return out;
}

TEST_F(PreloadTest, TheSharedLibrariesExportOnlyThePublicApi) {
  if (system("nm --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "nm (binutils) is not installed";
  // The entry hook, and the heap profiler's allocation functions (agent/heap_sampler/hooks) with its lookup.
  std::vector<std::string> preload = ExportedSymbols(kPreload);
  std::sort(preload.begin(), preload.end());
  std::vector<std::string> expected = {"__libc_start_main", "aligned_alloc", "calloc", "free",
                                       "leakwatch_heap_sampler_hooks_v1", "malloc", "malloc_usable_size",
                                       "memalign", "posix_memalign", "pvalloc", "realloc", "reallocarray", "valloc"};
  for (const char* op : {"operator new", "operator new[]"}) {
    for (const char* args : {"(unsigned long)", "(unsigned long, std::nothrow_t const&)",
                             "(unsigned long, std::align_val_t)",
                             "(unsigned long, std::align_val_t, std::nothrow_t const&)"}) {
      expected.push_back(std::string(op) + args);
    }
  }
  for (const char* op : {"operator delete", "operator delete[]"}) {
    for (const char* args : {"(void*)", "(void*, std::nothrow_t const&)", "(void*, unsigned long)",
                             "(void*, std::align_val_t)", "(void*, std::align_val_t, std::nothrow_t const&)",
                             "(void*, unsigned long, std::align_val_t)"}) {
      expected.push_back(std::string(op) + args);
    }
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(preload, expected);
  const auto symbols = ExportedSymbols(LEAKWATCH_SHARED_PATH);
  EXPECT_THAT(symbols, ::testing::Contains("leakwatch_start"));
  EXPECT_THAT(symbols, ::testing::Contains("leakwatch::Agent::Create(leakwatch::AgentOptions)"));
  for (const auto& s : symbols) {
    const bool c_api = s.rfind("leakwatch_", 0) == 0;
    const bool cxx_api = s.find("leakwatch::") != std::string::npos &&
                         s.find("leakwatch::internal") == std::string::npos &&
                         s.find("leakwatch::exporters") == std::string::npos;
    EXPECT_TRUE(c_api || cxx_api) << "exported but not public API: " << s;
  }
}

}  // namespace
}  // namespace leakwatch::integration

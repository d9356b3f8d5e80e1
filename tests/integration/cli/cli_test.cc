// The `leakwatch` command as a child process against real agents running in this test process: status,
// capture, incidents, check-config, the error messages and exit codes, and `run`'s exec semantics (with a
// stand-in preload library: the agent's own is tested with the attach tests).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "leakwatch/agent.h"
#include "leakwatch/version.h"
#include "tests/support/free_port.h"
#include "tests/support/temp_tree.h"

extern char** environ;

namespace leakwatch {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr const char* kToken = "cli-test-token-0123456789";

struct CliResult {
  int wait_status = -1;
  std::string out;
  std::string err;

  bool exited() const { return WIFEXITED(wait_status); }
  int code() const { return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1; }
  int signal() const { return WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0; }
  std::string describe() const {
    return "exit " + std::to_string(code()) + " signal " + std::to_string(signal()) + "\nstdout:\n" + out +
           "\nstderr:\n" + err;
  }
};

// Runs `program args...` with the test's environment minus LEAKWATCH_* (plus `env`), stdout and stderr
// captured, stdin /dev/null; killed after `timeout`.
CliResult RunProgram(const std::string& program, const std::vector<std::string>& args,
                     const std::vector<std::string>& env = {}, std::chrono::milliseconds timeout = 60s) {
  std::vector<std::string> argv_s = {program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("LEAKWATCH_", 0) != 0) env_s.emplace_back(*e);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  const auto cstrings = [](std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
  };
  auto argv = cstrings(argv_s);
  auto envp = cstrings(env_s);

  int out_pipe[2];
  int err_pipe[2];
  EXPECT_EQ(::pipe2(out_pipe, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CliResult result;
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << program << ": " << std::strerror(rc);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  bool killed = false;
  while (open_pipes > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  ::waitpid(pid, &result.wait_status, 0);
  if (killed) ADD_FAILURE() << program << " killed after " << timeout.count() << " ms\n" << result.describe();
  return result;
}

CliResult Cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  return RunProgram(LEAKWATCH_CLI_PATH, args, env);
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A started agent on 127.0.0.1:<ephemeral port> with its bundles in a temporary directory.
class TestAgent {
 public:
  // `token` empty: the operator endpoints answer 403. `config` (YAML) is applied when non-empty.
  explicit TestAgent(const std::string& token, const std::string& config = "",
                     uint32_t max_per_window = 100) {
    AgentOptions o;
    o.http.listen = "127.0.0.1:0";
    o.http.debug_token = token;
    o.log.sink = "off";
    o.use_environment = false;
    o.period = 200ms;
    o.bundle.dir = tree_.Path("bundles");
    o.bundle.min_free_disk_bytes = 0;
    o.bundle.max_per_window = max_per_window;
    o.rules.defaults = false;
    if (!config.empty()) o.config_file = tree_.Write("agent.yml", config);
    auto agent = Agent::Create(o);
    if (!agent.ok()) throw std::runtime_error(agent.error().message);
    agent_ = std::move(*agent);
    auto started = agent_->start();
    if (!started.ok() || !started->http_serving) throw std::runtime_error("agent did not start serving");
    port_ = started->http_port;
  }
  Agent& agent() { return *agent_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string bundle_dir() const { return tree_.Path("bundles"); }
  const test_support::TempTree& tree() const { return tree_; }

 private:
  test_support::TempTree tree_;
  std::unique_ptr<Agent> agent_;
  int port_ = 0;
};

// One rule that fires at once (there is always more than one thread here), one that never does.
constexpr const char* kRulesConfig = R"(default_rules: false
rules:
  - name: threads_present
    kind: threshold
    signal: threads
    above: 1
    severity: critical
  - name: fds_huge
    kind: threshold
    signal: open_fds
    above: 1000000
)";

// A file holding the token, for --token-file.
std::string TokenFile(const test_support::TempTree& tree, const std::string& token) {
  return tree.Write("token-" + std::to_string(token.size()), token + "\n");
}

// ---- help, version, usage errors ----

TEST(CliTest, HelpAndVersion) {
  auto r = Cli({"--help"});
  EXPECT_EQ(r.code(), 0) << r.describe();
  for (const char* command : {"run", "check-config", "status", "capture", "incidents", "125", "127"}) {
    EXPECT_THAT(r.out, HasSubstr(command));
  }
  r = Cli({"--version"});
  EXPECT_EQ(r.code(), 0);
  EXPECT_EQ(r.out, std::string("leakwatch ") + LEAKWATCH_VERSION + "\n");
  for (const char* command : {"run", "check-config", "status", "capture", "incidents"}) {
    r = Cli({command, "--help"});
    EXPECT_EQ(r.code(), 0) << command << r.describe();
    EXPECT_THAT(r.out, StartsWith(std::string("usage: leakwatch ") + command)) << command;
    EXPECT_THAT(r.out, HasSubstr("exit status")) << command;
    EXPECT_EQ(r.err, "") << command;
  }
}

TEST(CliTest, UsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"status", "--bogus"}, "unknown option --bogus"},
      {{"status", "1:2", "3:4"}, "unexpected argument \"3:4\""},
      {{"status", "host:notaport"}, "is not a number in 1..65535"},
      {{"status", "--timeout", "soon"}, "--timeout: \"soon\""},
      {{"capture", "--wait"}, "--wait needs a value"},
      {{"capture", "--user", "x"}, "--user and --password-file go together"},
      {{"incidents", "a:1", "b", "c"}, "unexpected argument \"c\""},
      {{"incidents", "--get", "nobundle"}, "is not BUNDLE/FILE"},
      {{"check-config"}, "missing FILE"},
      {{"check-config", "a", "b"}, "unexpected argument \"b\""},
  };
  for (const Case& c : cases) {
    const auto r = Cli(c.args);
    EXPECT_EQ(r.code(), 2) << c.args[0] << r.describe();
    EXPECT_THAT(r.err, HasSubstr(c.message)) << r.describe();
    EXPECT_THAT(r.err, HasSubstr("usage: leakwatch " + c.args[0]));
    EXPECT_THAT(r.err, HasSubstr("try leakwatch " + c.args[0] + " --help"));
    EXPECT_EQ(r.out, "");
  }
  auto r = Cli({"frobnicate"});
  EXPECT_EQ(r.code(), 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command \"frobnicate\""));
  r = Cli({});
  EXPECT_EQ(r.code(), 2);
  r = Cli({"run", "--bogus", "--", "/bin/true"});  // run's own errors are 125
  EXPECT_EQ(r.code(), 125) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("try leakwatch run --help"));
}

// ---- status ----

TEST(CliTest, StatusHumanAndJsonWithAFiringRule) {
  TestAgent agent(kToken, kRulesConfig);
  auto r = Cli({"status", agent.addr()});
  EXPECT_EQ(r.code(), 3) << r.describe();  // threads_present fires
  EXPECT_THAT(r.out, HasSubstr(std::string("leakwatch ") + LEAKWATCH_VERSION + " at " + agent.addr()));
  EXPECT_THAT(r.out, HasSubstr("rss "));
  EXPECT_THAT(r.out, HasSubstr(" threads"));
  EXPECT_THAT(r.out, HasSubstr(" fds"));
  EXPECT_THAT(r.out, HasSubstr("2 rules: 1 firing, 0 pending, 1 ok"));
  EXPECT_THAT(r.out, HasSubstr("agent.yml"));
  const size_t firing = r.out.find("FIRING  threads_present  critical");
  const size_t ok = r.out.find("ok      fds_huge");
  ASSERT_NE(firing, std::string::npos) << r.out;
  ASSERT_NE(ok, std::string::npos) << r.out;
  EXPECT_LT(firing, ok);
  EXPECT_EQ(r.err, "");

  r = Cli({"status", "--json"}, {"LEAKWATCH_ADDR=http://" + agent.addr() + "/"});
  EXPECT_EQ(r.code(), 3) << r.describe();
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["leakwatch_version"], LEAKWATCH_VERSION);
  ASSERT_EQ(doc["rules"].size(), 2u);
  EXPECT_EQ(doc["rules"][0]["name"], "threads_present");
  EXPECT_EQ(doc["rules"][0]["state"], "firing");
}

TEST(CliTest, StatusExitsZeroWhenNothingFires) {
  TestAgent agent("");  // no rules at all
  const auto port = agent.addr().substr(agent.addr().rfind(':') + 1);
  auto r = Cli({"status", port});
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("0 rules: 0 firing"));
  r = Cli({"status", "--json", ":" + port});
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_TRUE(nlohmann::json::parse(r.out)["rules"].empty());
}

// ---- connection problems ----

TEST(CliTest, ConnectionRefusedSaysWhatToDo) {
  const std::string addr = "127.0.0.1:" + std::to_string(test_support::FreeLoopbackPort());
  for (const char* command : {"status", "capture", "incidents"}) {
    const auto r = Cli({command, addr});
    EXPECT_EQ(r.code(), 1) << command << r.describe();
    EXPECT_THAT(r.err, HasSubstr(std::string("leakwatch ") + command + ": cannot connect to " + addr +
                                 ": Connection refused"));
    EXPECT_THAT(r.err, HasSubstr("is the agent running and listening there?"));
    EXPECT_THAT(r.err, HasSubstr("LEAKWATCH_LISTEN / http.listen"));
    EXPECT_EQ(r.out, "");
  }
}

TEST(CliTest, TimeoutIsNamed) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // never accepts, never answers
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const auto r = Cli({"status", "--timeout", "300ms", "127.0.0.1:" + std::to_string(ntohs(addr.sin_port))});
  ::close(fd);
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("within 300ms (--timeout)"));
}

// ---- capture ----

TEST(CliTest, CaptureWritesABundle) {
  TestAgent agent(kToken);
  const std::string token_file = TokenFile(agent.tree(), kToken);
  auto r = Cli({"capture", agent.addr(), "--token-file", token_file, "--reason", "cli test & more"});
  ASSERT_EQ(r.code(), 0) << r.describe();
  const std::string bundle = r.out.substr(0, r.out.find('\n'));
  ASSERT_FALSE(bundle.empty());
  EXPECT_TRUE(std::filesystem::is_directory(agent.bundle_dir() + "/" + bundle)) << bundle;
  EXPECT_THAT(r.out, HasSubstr("written: "));
  EXPECT_THAT(r.out, HasSubstr(" bytes) in "));
  const auto manifest =
      nlohmann::json::parse(FileBytes(agent.bundle_dir() + "/" + bundle + "/manifest.json"));
  EXPECT_EQ(manifest["trigger"]["reason"], "cli test & more");

  // The token from the environment, --wait 0: accepted, exit 0 with a note.
  r = Cli({"capture", agent.addr(), "--wait", "0"}, {"LEAKWATCH_DEBUG_TOKEN_FILE=" + token_file});
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("queued: the bundle is still being written"));
  for (int i = 0; i < 500 && agent.agent().bundle_stats().written_total < 2; ++i)
    std::this_thread::sleep_for(10ms);
}

TEST(CliTest, CaptureWithAWrongOrMissingToken) {
  TestAgent agent(kToken);
  auto r =
      Cli({"capture", agent.addr(), "--token-file", TokenFile(agent.tree(), "not-the-right-token-at-all")});
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("HTTP 401"));
  EXPECT_THAT(r.err, HasSubstr("rejected the token from"));
  r = Cli({"capture", agent.addr()});
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("HTTP 401"));
  EXPECT_THAT(r.err, HasSubstr("pass --token-file FILE"));
  r = Cli({"capture", agent.addr(), "--token-file", agent.tree().Path("missing")});
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("No such file or directory"));
  EXPECT_EQ(agent.agent().bundle_stats().written_total, 0u);
}

TEST(CliTest, CaptureAgainstAnAgentWithoutToken) {
  TestAgent agent("");
  const auto r = Cli({"capture", agent.addr(), "--token-file", TokenFile(agent.tree(), kToken)});
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("HTTP 403"));
  EXPECT_THAT(r.err, HasSubstr("no token configured; set http.debug_token_file"));
}

TEST(CliTest, CaptureRateLimited) {
  TestAgent agent(kToken, "", /*max_per_window=*/1);
  ASSERT_TRUE(agent.agent().capture("first", 30s).ok());
  const auto r = Cli({"capture", agent.addr(), "--token-file", TokenFile(agent.tree(), kToken)});
  EXPECT_EQ(r.code(), 4) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("capture suppressed by the agent: rate_limit (retry after "));
}

// ---- incidents ----

TEST(CliTest, IncidentsListOneBundleAndDownload) {
  TestAgent agent(kToken);
  const std::string token_file = TokenFile(agent.tree(), kToken);
  const std::vector<std::string> env = {"LEAKWATCH_DEBUG_TOKEN_FILE=" + token_file};
  auto r = Cli({"incidents", agent.addr()}, env);
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("no bundles in " + agent.bundle_dir()));

  auto written = agent.agent().capture("for the incidents test", 30s);
  ASSERT_TRUE(written.ok()) << written.error().message;
  const std::string bundle = std::filesystem::path(*written).filename();
  const std::string dir = agent.bundle_dir() + "/" + bundle;

  r = Cli({"incidents", agent.addr()}, env);
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("1 bundle in " + agent.bundle_dir()));
  EXPECT_THAT(r.out, HasSubstr("NAME"));
  EXPECT_THAT(r.out, HasSubstr(bundle));
  EXPECT_THAT(r.out, HasSubstr("api: for the incidents test"));

  r = Cli({"incidents", agent.addr(), "--json"}, env);
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_EQ(nlohmann::json::parse(r.out)["bundles"][0]["name"], bundle);

  r = Cli({"incidents", agent.addr(), bundle}, env);
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("manifest.json"));
  EXPECT_THAT(r.out, HasSubstr("history.csv"));
  EXPECT_THAT(r.out, HasSubstr(std::to_string(std::filesystem::file_size(dir + "/manifest.json"))));

  // To a file, into a directory, and to stdout: byte for byte.
  const std::string out_file = agent.tree().Path("manifest-copy.json");
  r = Cli({"incidents", agent.addr(), "--get", bundle + "/manifest.json", "-o", out_file}, env);
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_EQ(FileBytes(out_file), FileBytes(dir + "/manifest.json"));
  std::filesystem::create_directories(agent.tree().Path("into"));
  r = Cli(
      {"incidents", agent.addr(), "--get", bundle + "/history.csv", "--output", agent.tree().Path("into")},
      env);
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_EQ(FileBytes(agent.tree().Path("into/history.csv")), FileBytes(dir + "/history.csv"));
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    r = Cli({"incidents", agent.addr(), "--get", bundle + "/" + name}, env);
    EXPECT_EQ(r.code(), 0) << name << r.describe();
    EXPECT_TRUE(r.out == FileBytes(entry.path())) << name << ": " << r.out.size() << " bytes";
  }

  r = Cli({"incidents", agent.addr(), "no-such-bundle"}, env);
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("HTTP 404"));
  EXPECT_THAT(r.err, HasSubstr("no bundle named \"no-such-bundle\""));
  r = Cli({"incidents", agent.addr()});  // no token
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("HTTP 401"));
}

// ---- check-config ----

TEST(CliTest, CheckConfigGoodFile) {
  test_support::TempTree tree;
  const std::string file =
      tree.Write("good.yml", std::string("period: 500ms\nhttp:\n  listen: 127.0.0.1:9999\n") +
                                 "bundle:\n  dir: " + tree.Path("b") + "\n" + std::string(kRulesConfig));
  const auto r = Cli({"check-config", file});
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr(file + ": valid"));
  EXPECT_THAT(r.out, HasSubstr("500ms"));
  EXPECT_THAT(r.out, HasSubstr("127.0.0.1:9999"));
  EXPECT_THAT(r.out, HasSubstr("2 (2 enabled, no defaults): threads_present, fds_huge"));
  EXPECT_THAT(r.out, HasSubstr(tree.Path("b")));
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, CheckConfigReportsEveryError) {
  test_support::TempTree tree;
  const std::string file = tree.Write("bad.yml",
                                      "period: soon\n"
                                      "http:\n"
                                      "  lissten: 127.0.0.1:1\n"
                                      "rules:\n"
                                      "  - name: rss_high\n"
                                      "    kind: threshold\n"
                                      "    signal: rss_bytes\n"
                                      "    above: lots\n");
  const auto r = Cli({"check-config", file}, {"LEAKWATCH_PERIOD=1s"});  // the environment is not applied
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr(file + ":1:9: period: value \"soon\""));
  EXPECT_THAT(r.err, HasSubstr(file + ":3:3: http.lissten: unknown key"));
  EXPECT_THAT(r.err, HasSubstr(file + ":8:12: rules[0].above (rule \"rss_high\"): value \"lots\""));
  EXPECT_THAT(r.err, HasSubstr("is invalid (3 problems)"));
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, CheckConfigUnreadableAndBadTokenFile) {
  test_support::TempTree tree;
  auto r = Cli({"check-config", tree.Path("missing.yml")});
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("missing.yml: No such file or directory"));
  const std::string file =
      tree.Write("token.yml", "http:\n  debug_token_file: " + tree.Write("short", "abc\n") + "\n");
  r = Cli({"check-config", file});
  EXPECT_EQ(r.code(), 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("http.debug_token_file"));
}

// ---- run ----

std::vector<std::string> RunArgs(std::vector<std::string> rest) {
  std::vector<std::string> args = {"run", "--preload", LEAKWATCH_CLI_TEST_PRELOAD};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

TEST(CliTest, RunPassesTheExitStatusThrough) {
  auto r = Cli(RunArgs({"--", "/bin/sh", "-c", "exit 7"}));
  EXPECT_EQ(r.code(), 7) << r.describe();
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  r = Cli(RunArgs({"sh", "-c", "exit 0"}));  // through PATH, without --
  EXPECT_EQ(r.code(), 0) << r.describe();
}

TEST(CliTest, RunPassesASignalDeathThrough) {
  const auto r = Cli(RunArgs({"--", "/bin/sh", "-c", "kill -TERM $$"}));
  EXPECT_FALSE(r.exited()) << r.describe();
  EXPECT_EQ(r.signal(), SIGTERM) << r.describe();
}

TEST(CliTest, RunIsAnExecWithTheAgentsEnvironment) {
  test_support::TempTree tree;
  const std::string config = tree.Write("lw.yml", "period: 1s\n");
  const auto r =
      RunProgram(LEAKWATCH_CLI_PATH,
                 RunArgs({"--listen", "127.0.0.1:0", "--config", config, "--inherit", "--", "/bin/sh", "-c",
                          "echo \"pid=$$\"; echo \"preload=$LD_PRELOAD\"; echo \"listen=$LEAKWATCH_LISTEN\";"
                          " echo \"config=$LEAKWATCH_CONFIG\"; echo \"exec=$LEAKWATCH_EXEC\"; "
                          "echo \"ppid=$PPID\""}),
                 {"LD_PRELOAD=/nonexistent-but-kept.so"});
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_THAT(
      r.out, HasSubstr(std::string("preload=") + LEAKWATCH_CLI_TEST_PRELOAD + " /nonexistent-but-kept.so\n"));
  EXPECT_THAT(r.out, HasSubstr("listen=127.0.0.1:0\n"));
  EXPECT_THAT(r.out, HasSubstr("config=" + config + "\n"));
  EXPECT_THAT(r.out, HasSubstr("exec=inherit\n"));
  // Same process: the shell's parent is this test, not a leakwatch supervisor.
  EXPECT_THAT(r.out, HasSubstr("ppid=" + std::to_string(::getpid()) + "\n"));
}

TEST(CliTest, RunProgramNotFoundOrNotExecutable) {
  auto r = Cli(RunArgs({"--", "no-such-program-leakwatch-test"}));
  EXPECT_EQ(r.code(), 127) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("cannot execute no-such-program-leakwatch-test: No such file or directory"));
  test_support::TempTree tree;
  const std::string not_executable = tree.Write("data.txt", "hello\n");
  r = Cli(RunArgs({"--", not_executable}));
  EXPECT_EQ(r.code(), 126) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Permission denied"));
}

TEST(CliTest, RunRefusesBadOptionsWithoutStartingTheProgram) {
  test_support::TempTree tree;
  const std::string marker = tree.Path("ran");
  const auto r = Cli(RunArgs(
      {"--listen", "nowhere:99999", "--log-level", "chatty", "--", "/bin/sh", "-c", "touch " + marker}));
  EXPECT_EQ(r.code(), 125) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("--listen: listen address \"nowhere:99999\""));
  EXPECT_THAT(r.err, HasSubstr("--log-level: value \"chatty\""));
  EXPECT_THAT(r.err, HasSubstr("not started (2 problems)"));
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, RunRefusesAStaticBinary) {
  const auto r = Cli(RunArgs({"--", LEAKWATCH_CLI_STATIC_PROGRAM}));
  EXPECT_EQ(r.code(), 125) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("statically linked"));
  EXPECT_THAT(r.err, HasSubstr("docs/ATTACH.md"));
}

TEST(CliTest, RunRefusesASetUserIdProgram) {
  // A copy of /bin/true, set-user-ID to nobody: the loader would ignore LD_PRELOAD (secure execution).
  test_support::TempTree tree;
  const std::string program = tree.Path("suid-true");
  std::filesystem::copy_file("/bin/true", program);
  if (::chown(program.c_str(), 65534, static_cast<gid_t>(-1)) != 0 || ::getuid() == 65534) {
    GTEST_SKIP() << "cannot give a file to another user here (not root)";
  }
  ASSERT_EQ(::chmod(program.c_str(), 04755), 0);
  const auto r = Cli(RunArgs({"--", program}));
  EXPECT_EQ(r.code(), 125) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("set-user-ID (to uid 65534)"));
  EXPECT_THAT(r.err, HasSubstr("ignores LD_PRELOAD"));
}

TEST(CliTest, RunFindsThePreloadLibraryNextToItsBinary) {
  // A copy of the command in <tmp>/bin: the library is looked for in <tmp>/lib, <tmp>/lib/leakwatch, ...
  test_support::TempTree tree;
  std::filesystem::create_directories(tree.Path("bin"));
  const std::string cli = tree.Path("bin/leakwatch");
  std::filesystem::copy_file(LEAKWATCH_CLI_PATH, cli);
  auto r = RunProgram(cli, {"run", "--", "/bin/true"});
  EXPECT_EQ(r.code(), 125) << r.describe();
  EXPECT_THAT(r.err, HasSubstr(tree.Path("lib/libleakwatch_preload.so")));
  EXPECT_THAT(r.err, HasSubstr(tree.Path("lib/leakwatch/libleakwatch_preload.so")));

  std::filesystem::create_directories(tree.Path("lib/leakwatch"));
  std::filesystem::copy_file(LEAKWATCH_CLI_TEST_PRELOAD, tree.Path("lib/leakwatch/libleakwatch_preload.so"));
  r = RunProgram(cli, {"run", "--", "/bin/sh", "-c", "echo \"$LD_PRELOAD\""});
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_EQ(r.out, tree.Path("lib/leakwatch/libleakwatch_preload.so") + "\n");

  r = RunProgram(cli, {"run", "--", "/bin/sh", "-c", "echo \"$LD_PRELOAD\""},
                 {std::string("LEAKWATCH_PRELOAD=") + LEAKWATCH_CLI_TEST_PRELOAD});
  EXPECT_EQ(r.code(), 0) << r.describe();
  EXPECT_EQ(r.out, std::string(LEAKWATCH_CLI_TEST_PRELOAD) + "\n");
}

}  // namespace
}  // namespace leakwatch

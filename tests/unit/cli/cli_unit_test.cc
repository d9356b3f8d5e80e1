// The `leakwatch` command's pure parts: argument and address parsing, the preload library search and
// LD_PRELOAD, the environment of `run`, the ELF and secure-execution checks, the status report, and the
// HTTP client's failure classes.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "cli/address.h"
#include "cli/agent_client.h"
#include "cli/args.h"
#include "cli/format.h"
#include "cli/http_client.h"
#include "cli/preload.h"
#include "cli/program_check.h"
#include "cli/prom_text.h"
#include "cli/run_plan.h"
#include "cli/status_report.h"
#include "tests/support/free_port.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// ---- arguments ----

const std::vector<OptionSpec> kSpecs = {
    {"--timeout", true, ""}, {"--json", false, ""}, {"--output", true, "-o"}, {"--help", false, "-h"}};

TEST(CliArgs, OptionsFlagsAndPositionals) {
  auto p = ParseArgs({"a", "--timeout", "5s", "--json", "-o", "out", "b", "--timeout=7s"}, kSpecs);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->get("--timeout"), "7s");  // the last one wins
  EXPECT_TRUE(p->has("--json"));
  EXPECT_EQ(p->get("--output"), "out");
  EXPECT_THAT(p->positional, ElementsAre("a", "b"));
  EXPECT_FALSE(p->has("--help"));
  EXPECT_TRUE(ParseArgs({"-h"}, kSpecs)->has("--help"));
  EXPECT_THAT(ParseArgs({"--", "--json", "-"}, kSpecs)->positional, ElementsAre("--json", "-"));
}

TEST(CliArgs, Errors) {
  EXPECT_THAT(ParseArgs({"--nope"}, kSpecs).error().message, HasSubstr("unknown option --nope"));
  EXPECT_THAT(ParseArgs({"--timeout"}, kSpecs).error().message, HasSubstr("--timeout needs a value"));
  EXPECT_THAT(ParseArgs({"--json=1"}, kSpecs).error().message, HasSubstr("--json takes no value"));
  EXPECT_THAT(ParseArgs({"-x"}, kSpecs).error().message, HasSubstr("unknown option -x"));
}

TEST(CliArgs, StopAtPositionalKeepsTheProgramsArguments) {
  auto p = ParseArgs({"--json", "prog", "--timeout", "x", "--", "y"}, kSpecs, true);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->has("--json"));
  EXPECT_FALSE(p->has("--timeout"));
  EXPECT_THAT(p->rest, ElementsAre("prog", "--timeout", "x", "--", "y"));
  p = ParseArgs({"--json", "--", "--prog", "-a"}, kSpecs, true);
  EXPECT_THAT(p->rest, ElementsAre("--prog", "-a"));
  EXPECT_TRUE(p->saw_double_dash);
}

// ---- addresses ----

TEST(CliAddress, Forms) {
  const auto check = [](const std::string& text, const std::string& host, int port) {
    auto a = ParseAgentAddress(text);
    ASSERT_TRUE(a.ok()) << text << ": " << a.error().message;
    EXPECT_EQ(a->host, host) << text;
    EXPECT_EQ(a->port, port) << text;
  };
  check("127.0.0.1:9860", "127.0.0.1", 9860);
  check(":9861", "127.0.0.1", 9861);
  check("9862", "127.0.0.1", 9862);
  check("http://10.1.2.3:80", "10.1.2.3", 80);
  check("http://10.1.2.3:80/", "10.1.2.3", 80);
  check("localhost:1", "localhost", 1);
  check("my-service.internal:9860", "my-service.internal", 9860);
  check("[::1]:9860", "::1", 9860);
  EXPECT_EQ(ParseAgentAddress("[::1]:9860")->str(), "[::1]:9860");
  EXPECT_EQ(ParseAgentAddress(":9860")->str(), "127.0.0.1:9860");
}

TEST(CliAddress, Rejects) {
  for (const char* bad : {"", "host", "host:", "host:0", "host:65536", "host:12x", ":-1", "::1:9860",
                          "http://h:1/metrics", "a/b:1"}) {
    EXPECT_FALSE(ParseAgentAddress(bad).ok()) << bad;
  }
  EXPECT_THAT(ParseAgentAddress("https://h:1").error().message, HasSubstr("plain HTTP"));
}

TEST(CliAddress, DefaultAndShape) {
  EXPECT_EQ(DefaultAgentAddressText(std::nullopt), "127.0.0.1:9860");
  EXPECT_EQ(DefaultAgentAddressText(std::string("")), "127.0.0.1:9860");
  EXPECT_EQ(DefaultAgentAddressText(std::string("10.0.0.1:1")), "10.0.0.1:1");
  EXPECT_TRUE(LooksLikeAddress("9860"));
  EXPECT_TRUE(LooksLikeAddress(":9860"));
  EXPECT_TRUE(LooksLikeAddress("host:9860"));
  EXPECT_TRUE(LooksLikeAddress("http://host"));
  EXPECT_FALSE(LooksLikeAddress("20240501T120005.250Z-4242-memory_time_to_limit"));
  EXPECT_FALSE(LooksLikeAddress("localhost"));
}

// ---- preload library and LD_PRELOAD ----

TEST(CliPreload, Candidates) {
  EXPECT_THAT(
      PreloadCandidates("/opt/lw/bin", "x86_64-linux-gnu"),
      ElementsAre("/opt/lw/lib/libleakwatch_preload.so", "/opt/lw/lib/leakwatch/libleakwatch_preload.so",
                  "/opt/lw/lib/x86_64-linux-gnu/libleakwatch_preload.so"));
  EXPECT_THAT(PreloadCandidates("/usr/bin", ""),
              ElementsAre("/usr/lib/libleakwatch_preload.so", "/usr/lib/leakwatch/libleakwatch_preload.so"));
}

TEST(CliPreload, SearchOrder) {
  std::set<std::string> files;
  const auto exists = [&files](const std::string& p) { return files.count(p) != 0; };
  PreloadSearch s{.option = std::nullopt,
                  .env = std::nullopt,
                  .exe_dir = "/opt/lw/bin",
                  .multiarch = "x86_64-linux-gnu",
                  .cwd = "/home/me"};
  auto none = FindPreloadLibrary(s, exists);
  ASSERT_FALSE(none.ok());
  for (const auto& c : PreloadCandidates(s.exe_dir, s.multiarch))
    EXPECT_THAT(none.error().message, HasSubstr(c));

  files.insert("/opt/lw/lib/x86_64-linux-gnu/libleakwatch_preload.so");
  EXPECT_EQ(FindPreloadLibrary(s, exists).value(), "/opt/lw/lib/x86_64-linux-gnu/libleakwatch_preload.so");
  files.insert("/opt/lw/lib/leakwatch/libleakwatch_preload.so");
  EXPECT_EQ(FindPreloadLibrary(s, exists).value(), "/opt/lw/lib/leakwatch/libleakwatch_preload.so");
  files.insert("/opt/lw/lib/libleakwatch_preload.so");
  EXPECT_EQ(FindPreloadLibrary(s, exists).value(), "/opt/lw/lib/libleakwatch_preload.so");

  // LEAKWATCH_PRELOAD, then --preload, win, made absolute; when named they must exist.
  s.env = "env/lib.so";
  EXPECT_THAT(FindPreloadLibrary(s, exists).error().message, HasSubstr("LEAKWATCH_PRELOAD"));
  files.insert("/home/me/env/lib.so");
  EXPECT_EQ(FindPreloadLibrary(s, exists).value(), "/home/me/env/lib.so");
  s.option = "../x/./opt.so";
  EXPECT_THAT(FindPreloadLibrary(s, exists).error().message, HasSubstr("--preload"));
  files.insert("/home/x/opt.so");
  EXPECT_EQ(FindPreloadLibrary(s, exists).value(), "/home/x/opt.so");
}

TEST(CliPreload, ComposeLdPreload) {
  EXPECT_EQ(ComposeLdPreload("/a/lw.so", std::nullopt), "/a/lw.so");
  EXPECT_EQ(ComposeLdPreload("/a/lw.so", std::string("")), "/a/lw.so");
  EXPECT_EQ(ComposeLdPreload("/a/lw.so", std::string("libjemalloc.so.2")), "/a/lw.so libjemalloc.so.2");
  EXPECT_EQ(ComposeLdPreload("/a/lw.so", std::string("/x.so:/y.so  /z.so")), "/a/lw.so /x.so /y.so /z.so");
  EXPECT_EQ(ComposeLdPreload("/a/lw.so", std::string("/a/lw.so /x.so")), "/a/lw.so /x.so");  // not twice
  EXPECT_EQ(ComposeLdPreload("/a/lw.so", std::string("/old/lw.so:lw.so /x.so")), "/a/lw.so /x.so");
}

TEST(CliPreload, MakeAbsolute) {
  EXPECT_EQ(MakeAbsolute("x.yml", "/etc/lw"), "/etc/lw/x.yml");
  EXPECT_EQ(MakeAbsolute("../x.yml", "/etc/lw"), "/etc/x.yml");
  EXPECT_EQ(MakeAbsolute("/abs/./x", "/etc"), "/abs/x");
  EXPECT_EQ(MakeAbsolute("dir/", "/w"), "/w/dir");
}

// ---- run: environment and checks ----

TEST(CliRun, ApplyEnvChanges) {
  const std::vector<std::string> env = {"A=1", "B=2", "C=3"};
  EXPECT_THAT(ApplyEnvChanges(env, {{"B", "x"}, {"C", std::nullopt}, {"D", "4"}, {"E", std::nullopt}}),
              ElementsAre("A=1", "B=x", "D=4"));
  EXPECT_EQ(FindEnv(env, "B"), "2");
  EXPECT_EQ(FindEnv(env, "BB"), std::nullopt);
  EXPECT_EQ(FindEnv({"X=a=b"}, "X"), "a=b");
}

class CliRunPlan : public ::testing::Test {
 protected:
  RunContext Context(std::vector<std::string> environ) {
    RunContext c;
    c.environ = std::move(environ);
    c.cwd = tree_.dir();
    c.exe_dir = "/nonexistent/bin";
    c.multiarch = "x86_64-linux-gnu";
    c.file_exists = [this](const std::string& p) { return p == Library(); };
    c.check_program = [](const std::string& path) -> std::optional<std::string> {
      if (path.find("static") != std::string::npos) return path + ": statically linked";
      return std::nullopt;
    };
    return c;
  }
  std::string Library() const { return tree_.Path("lib/libleakwatch_preload.so"); }

  test_support::TempTree tree_;
};

TEST_F(CliRunPlan, SetsTheEnvironment) {
  const std::string token = tree_.Write("token", "0123456789abcdef0123\n");
  const std::string config = tree_.Write("lw.yml", "period: 2s\n");
  ::chdir(tree_.dir().c_str());
  const auto plan = PlanRun({"--preload",
                             "lib/libleakwatch_preload.so",
                             "--config",
                             "lw.yml",
                             "--listen",
                             "127.0.0.1:0",
                             "--period",
                             "500ms",
                             "--log-level",
                             "debug",
                             "--token-file",
                             "token",
                             "--fork",
                             "children",
                             "--child-listen",
                             ":0",
                             "--discovery-dir",
                             "disc",
                             "--inherit",
                             "--",
                             "/bin/echo",
                             "--listen",
                             "x"},
                            Context({"PATH=/usr/bin:/bin", "LD_PRELOAD=/other.so", "LEAKWATCH_EXEC=clean"}));
  EXPECT_THAT(plan.problems, IsEmpty());
  EXPECT_THAT(plan.argv, ElementsAre("/bin/echo", "--listen", "x"));
  EXPECT_EQ(FindEnv(plan.env, "PATH"), "/usr/bin:/bin");
  EXPECT_EQ(FindEnv(plan.env, "LD_PRELOAD"), Library() + " /other.so");
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_CONFIG"), config);
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_LISTEN"), "127.0.0.1:0");
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_PERIOD"), "500ms");
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_LOG_LEVEL"), "debug");
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_DEBUG_TOKEN_FILE"), token);
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_FORK"), "children");
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_CHILD_LISTEN"), ":0");
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_DISCOVERY_DIR"), tree_.Path("disc"));
  EXPECT_EQ(FindEnv(plan.env, "LEAKWATCH_EXEC"), "inherit");
}

TEST_F(CliRunPlan, DefaultsLeaveTheAgentsVariablesAloneButCleanExec) {
  const auto plan =
      PlanRun({"--preload", Library(), "prog", "arg"},
              Context({"LEAKWATCH_LISTEN=127.0.0.1:7", "LEAKWATCH_EXEC=inherit", "HOME=/root"}));
  EXPECT_THAT(plan.problems, IsEmpty());
  EXPECT_THAT(plan.argv, ElementsAre("prog", "arg"));
  EXPECT_THAT(plan.env, ElementsAre("LEAKWATCH_LISTEN=127.0.0.1:7", "HOME=/root", "LD_PRELOAD=" + Library()));
}

TEST_F(CliRunPlan, ReportsEveryProblem) {
  const std::string bad_config = tree_.Write("bad.yml", "period: soon\n");
  const auto plan = PlanRun(
      {"--preload", Library(), "--listen", "nowhere", "--period", "fast", "--log-level", "loud", "--fork",
       "both", "--config", bad_config, "--token-file", "/nonexistent/token", "--", "/bin/static-thing"},
      Context({"LEAKWATCH_CHILD_LISTEN=bad", "LEAKWATCH_FORK_DELAY=forever"}));
  EXPECT_FALSE(plan.usage_error);
  const std::string all = ::testing::PrintToString(plan.problems);
  EXPECT_THAT(all, HasSubstr("--listen: listen address \\\"nowhere\\\""));
  EXPECT_THAT(all, HasSubstr("--period: value \\\"fast\\\""));
  EXPECT_THAT(all, HasSubstr("--log-level: value \\\"loud\\\""));
  EXPECT_THAT(all, HasSubstr("--fork: value \\\"both\\\""));
  EXPECT_THAT(all, HasSubstr("LEAKWATCH_CHILD_LISTEN="));  // inherited: checked by the agent's parser
  EXPECT_THAT(all, HasSubstr("listen address \\\"bad\\\""));
  EXPECT_THAT(all, HasSubstr("LEAKWATCH_FORK_DELAY="));
  EXPECT_THAT(all, HasSubstr("bad.yml:1:9: period"));
  EXPECT_THAT(all, HasSubstr("statically linked"));
  EXPECT_THAT(all, HasSubstr("docs/ATTACH.md"));
  // A rejected option is reported once, under its own name.
  EXPECT_THAT(all, Not(HasSubstr("LEAKWATCH_LISTEN:")));
  EXPECT_THAT(all, Not(HasSubstr("LEAKWATCH_PERIOD:")));
}

TEST_F(CliRunPlan, TokenFileAndPeriodRangeAreCheckedAsTheAgentDoes) {
  const auto plan = PlanRun({"--preload", Library(), "--token-file", tree_.Write("short", "abc\n"),
                             "--period", "10ms", "--", "/bin/true"},
                            Context({}));
  const std::string all = ::testing::PrintToString(plan.problems);
  EXPECT_THAT(all, HasSubstr("http.debug_token_file"));
  EXPECT_EQ(plan.problems.size(), 1u) << all;  // the token stops resolution before the range checks
  const auto plan2 = PlanRun({"--preload", Library(), "--period", "10ms", "--", "/bin/true"}, Context({}));
  EXPECT_THAT(::testing::PrintToString(plan2.problems), HasSubstr("period: 10ms is outside 100ms .. 60s"));
}

TEST_F(CliRunPlan, UsageAndLibraryErrors) {
  auto plan = PlanRun({"--preload", Library()}, Context({}));
  EXPECT_TRUE(plan.usage_error);
  EXPECT_THAT(plan.problems, ElementsAre("missing PROGRAM"));
  plan = PlanRun({"--frobnicate", "x"}, Context({}));
  EXPECT_TRUE(plan.usage_error);
  EXPECT_TRUE(PlanRun({"--help"}, Context({})).help);
  plan = PlanRun({"/bin/true"}, Context({}));  // no library anywhere
  EXPECT_FALSE(plan.usage_error);
  EXPECT_THAT(::testing::PrintToString(plan.problems), HasSubstr("/nonexistent/lib/libleakwatch_preload.so"));
  plan = PlanRun({"/bin/true"}, Context({"LEAKWATCH_PRELOAD=" + Library()}));
  EXPECT_THAT(plan.problems, IsEmpty());
  EXPECT_EQ(FindEnv(plan.env, "LD_PRELOAD"), Library());
}

// ---- programs ----

std::string ElfHeader(bool is64, bool big_endian, bool with_interp) {
  const size_t eh = is64 ? 64 : 52;
  const size_t ph = is64 ? 56 : 32;
  std::string b(eh + 2 * ph, '\0');
  b[0] = 0x7f;
  b[1] = 'E';
  b[2] = 'L';
  b[3] = 'F';
  b[4] = is64 ? 2 : 1;
  b[5] = big_endian ? 2 : 1;
  const auto put = [&](size_t off, uint64_t v, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      b[off + (big_endian ? size - 1 - i : i)] = static_cast<char>((v >> (8 * i)) & 0xff);
    }
  };
  put(is64 ? 32 : 28, eh, is64 ? 8 : 4);  // e_phoff
  put(is64 ? 54 : 42, ph, 2);             // e_phentsize
  put(is64 ? 56 : 44, 2, 2);              // e_phnum
  put(eh, 6, 4);                          // PT_PHDR
  put(eh + ph, with_interp ? 3 : 1, 4);   // PT_INTERP or PT_LOAD
  return b;
}

TEST(CliProgram, ClassifyElfBytes) {
  for (bool is64 : {true, false}) {
    for (bool be : {false, true}) {
      EXPECT_EQ(ClassifyElf(ElfHeader(is64, be, true)), ElfLinkage::kDynamic) << is64 << be;
      EXPECT_EQ(ClassifyElf(ElfHeader(is64, be, false)), ElfLinkage::kStatic) << is64 << be;
    }
  }
  EXPECT_EQ(ClassifyElf("#!/bin/sh\necho hi\n"), ElfLinkage::kNotElf);
  EXPECT_EQ(ClassifyElf(""), ElfLinkage::kNotElf);
  EXPECT_EQ(ClassifyElf(ElfHeader(true, false, true).substr(0, 80)), ElfLinkage::kMalformed);  // cut
}

std::string Head(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.substr(0, 256 * 1024);
}

TEST(CliProgram, RealBinaries) {
  EXPECT_EQ(ClassifyElf(Head("/proc/self/exe")), ElfLinkage::kDynamic);
  EXPECT_EQ(ClassifyElf(Head("/bin/sh")), ElfLinkage::kDynamic);
  EXPECT_EQ(ClassifyElf(Head(LEAKWATCH_CLI_STATIC_PROGRAM)), ElfLinkage::kStatic);
  EXPECT_EQ(CheckProgram("/bin/sh"), std::nullopt);
  EXPECT_THAT(CheckProgram(LEAKWATCH_CLI_STATIC_PROGRAM).value_or(""), HasSubstr("statically linked"));
}

TEST(CliProgram, SecureExecution) {
  const CallerIds user{.uid = 1000, .gid = 1000};
  const CallerIds root{.uid = 0, .gid = 0};
  EXPECT_EQ(SecureExecReason({.mode = 0755, .uid = 0, .gid = 0}, user), std::nullopt);
  EXPECT_THAT(SecureExecReason({.mode = S_ISUID | 0755, .uid = 0, .gid = 0}, user).value_or(""),
              HasSubstr("set-user-ID"));
  EXPECT_EQ(SecureExecReason({.mode = S_ISUID | 0755, .uid = 0, .gid = 0}, root), std::nullopt);  // no change
  EXPECT_THAT(SecureExecReason({.mode = S_ISUID | 0755, .uid = 5, .gid = 0}, root).value_or(""),
              HasSubstr("set-user-ID"));
  EXPECT_THAT(SecureExecReason({.mode = S_ISGID | 0755, .uid = 1000, .gid = 42}, user).value_or(""),
              HasSubstr("set-group-ID"));
  EXPECT_EQ(SecureExecReason({.mode = S_ISGID | 0745, .uid = 1000, .gid = 42}, user),
            std::nullopt);  // no g+x
  EXPECT_THAT(SecureExecReason({.mode = 0755, .has_file_capabilities = true}, user).value_or(""),
              HasSubstr("capabilities"));
}

TEST(CliProgram, ResolveLikeExecvp) {
  test_support::TempTree tree;
  tree.Write("a/tool", "#!/bin/sh\n");
  tree.Write("b/tool", "#!/bin/sh\n");
  ::chmod(tree.Path("b/tool").c_str(), 0755);
  const std::string path = tree.Path("none") + ":" + tree.Path("a") + ":" + tree.Path("b");
  EXPECT_EQ(ResolveProgram("tool", path), tree.Path("b/tool"));  // the executable one
  EXPECT_EQ(ResolveProgram("tool", tree.Path("a")), tree.Path("a/tool"));
  EXPECT_EQ(ResolveProgram("nope", path), std::nullopt);
  EXPECT_EQ(ResolveProgram("./rel/x", path), "./rel/x");
  EXPECT_EQ(ResolveProgram("sh", std::nullopt).value_or("").substr(0, 1), "/");  // /bin:/usr/bin
}

// ---- output ----

TEST(CliFormat, Values) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(512.0 * 1024 * 1024), "512.0 MiB");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(10000)), "10s");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(300000)), "5m");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(3600000)), "1h");
  EXPECT_EQ(FormatElapsed(45), "45s");
  EXPECT_EQ(FormatElapsed(725), "12m05s");
  EXPECT_EQ(FormatElapsed(3 * 3600 + 7 * 60), "3h07m");
  EXPECT_EQ(FormatNumber(3.2), "3.2");
  EXPECT_EQ(FormatNumber(17.0), "17");
  EXPECT_EQ(RenderTable({{"a", "bb", "c"}, {"ddd", "e", ""}}), "a    bb  c\nddd  e\n");
}

TEST(CliPromText, Parses) {
  const PromSamples m(
      ParsePromText("# HELP x y\n# TYPE x gauge\nprocess_threads 12\n"
                    "leakwatch_build_info{compiler=\"gcc 12\",version=\"0.1.0\"} 1\n"
                    "leakwatch_rule_state{rule=\"a\",kind=\"k\"} 2 1700000000000\n"
                    "weird{a=\"x\\\"y\\\\z\"} +Inf\nbroken{ 1\n"));
  EXPECT_EQ(m.Value("process_threads"), 12);
  EXPECT_EQ(m.Label("leakwatch_build_info", "version"), "0.1.0");
  EXPECT_EQ(m.Value("leakwatch_rule_state", {{"rule", "a"}}), 2);
  EXPECT_EQ(m.Value("leakwatch_rule_state", {{"rule", "b"}}), std::nullopt);
  EXPECT_EQ(m.Label("weird", "a"), "x\"y\\z");
  EXPECT_EQ(m.Value("broken"), std::nullopt);
  EXPECT_EQ(m.Value("missing"), std::nullopt);
}

TEST(CliStatusReport, RulesFiringFirst) {
  const auto status = nlohmann::json::parse(R"({
    "leakwatch_version": "0.1.0", "sequence": 5,
    "rules": [
      {"name": "calm", "state": "ok", "enabled": true, "severity": "warning", "description": "fine"},
      {"name": "off_rule", "state": "ok", "enabled": false, "severity": "warning", "description": "disabled"},
      {"name": "soon", "state": "pending", "enabled": true, "severity": "warning", "description": "pending 3s"},
      {"name": "hot", "state": "firing", "enabled": true, "severity": "critical", "description": "fds at 95%"}],
    "config": {"file": "/etc/lw.yml", "last_load_ok": true, "reloads_total": 2}})");
  EXPECT_EQ(CountFiring(status), 1);
  const PromSamples metrics(ParsePromText(
      "leakwatch_build_info{version=\"9.9.9\"} 1\nprocess_resident_memory_bytes 1048576\nprocess_threads 7\n"
      "process_open_fds 10\nprocess_max_fds 1000\nprocess_cpu_seconds_total 1.25\n"
      "process_start_time_seconds 100\nleakwatch_last_sample_timestamp_seconds 3700\n"
      "leakwatch_cgroup_memory_working_set_bytes 536870912\nleakwatch_cgroup_memory_limit_bytes 1073741824\n"
      "leakwatch_allocator_info{allocator=\"jemalloc\",version=\"5.3.0\",profiling=\"active\"} 1\n"
      "process_heap_bytes 2097152\n"));
  const std::string report = RenderStatusReport("127.0.0.1:9860", status, metrics);
  EXPECT_THAT(report, HasSubstr("leakwatch 9.9.9 at 127.0.0.1:9860"));
  EXPECT_THAT(report, HasSubstr("rss 1.0 MiB, 7 threads, 10 of 1000 fds (1%), cpu 1.25 s, up 1h00m"));
  EXPECT_THAT(report, HasSubstr("working set 512.0 MiB of 1.0 GiB limit (50%)"));
  EXPECT_THAT(report, HasSubstr("jemalloc 5.3.0 (heap profiling active), heap 2.0 MiB"));
  EXPECT_THAT(report, HasSubstr("/etc/lw.yml (2 reloads)"));
  EXPECT_THAT(report, HasSubstr("4 rules: 1 firing, 1 pending, 1 ok, 1 off"));
  const size_t hot = report.find("FIRING   hot       critical  fds at 95%");
  const size_t soon = report.find("pending  soon");
  const size_t calm = report.find("ok       calm");
  const size_t off = report.find("off      off_rule");
  ASSERT_NE(hot, std::string::npos) << report;
  ASSERT_NE(soon, std::string::npos) << report;
  ASSERT_NE(calm, std::string::npos) << report;
  ASSERT_NE(off, std::string::npos) << report;
  EXPECT_LT(hot, soon);
  EXPECT_LT(soon, calm);
  EXPECT_LT(calm, off);
}

TEST(CliStatusReport, WithoutMetrics) {
  const auto status =
      nlohmann::json::parse(R"({"leakwatch_version": "0.1.0", "rules": [], "config": {"file": ""}})");
  const std::string report = RenderStatusReport("h:1", status, PromSamples({}));
  EXPECT_THAT(report, HasSubstr("leakwatch 0.1.0 at h:1"));
  EXPECT_THAT(report, HasSubstr("no config file"));
  EXPECT_THAT(report, HasSubstr("0 rules: 0 firing, 0 pending, 0 ok (not evaluated yet)"));
  EXPECT_EQ(CountFiring(status), 0);
}

// ---- the HTTP client's failures, explained ----

TEST(CliHttp, RefusedByNameAndAddress) {
  const int port = test_support::FreeLoopbackPort();
  for (const char* host : {"127.0.0.1", "localhost"}) {
    HttpFailure failure = HttpFailure::kNone;
    HttpRequestOptions o;
    o.host = host;
    o.timeout = std::chrono::seconds(5);
    const auto r = HttpRequest(port, "/status", o, &failure);
    ASSERT_FALSE(r.ok()) << host;
    EXPECT_EQ(failure, HttpFailure::kRefused) << host << ": " << r.error().message;
    const std::string why = ExplainTransportFailure("status", AgentAddress{host, port}, failure,
                                                    r.error().message, "5s (--timeout)");
    EXPECT_THAT(why, HasSubstr("Connection refused"));
    EXPECT_THAT(why, HasSubstr("is the agent running and listening there?"));
  }
  // (No name that fails to resolve: that could wait on an unreachable DNS server.)
  HttpFailure failure = HttpFailure::kNone;
  EXPECT_FALSE(HttpRequest(70000, "/", {}, &failure).ok());
  EXPECT_EQ(failure, HttpFailure::kBadAddress);
}

TEST(CliHttp, TimeoutIsNamed) {
  // A listening socket that never accepts: the connection completes in the backlog, no answer comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  HttpFailure failure = HttpFailure::kNone;
  HttpRequestOptions o;
  o.timeout = std::chrono::milliseconds(300);
  const auto r = HttpRequest(ntohs(addr.sin_port), "/status", o, &failure);
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(failure, HttpFailure::kTimeout);
  EXPECT_THAT(ExplainTransportFailure("status", AgentAddress{"127.0.0.1", 1}, failure, r.error().message,
                                      "300ms (--timeout)"),
              HasSubstr("within 300ms (--timeout)"));
}

TEST(CliHttp, EncodingAndErrorText) {
  EXPECT_EQ(UrlEncode("leakwatch capture"), "leakwatch%20capture");
  EXPECT_EQ(UrlEncode("a/b&c=d~e"), "a%2Fb%26c%3Dd~e");
  EXPECT_EQ(Base64Encode("Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(ErrorText(R"({"error": "wrong token"})"), "wrong token");
  EXPECT_EQ(ErrorText(R"({"status": "suppressed", "reason": "rate_limit"})"), "rate_limit");
  EXPECT_EQ(ErrorText("plain text\nmore"), "plain text");
}

}  // namespace
}  // namespace leakwatch::cli

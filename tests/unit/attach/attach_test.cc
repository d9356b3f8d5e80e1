// The attach layer's pure parts: the environment variables, LD_PRELOAD clean-up, the discovery file, the
// dependency check, and finding a listening socket by port.
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "agent/attach/attach_settings.h"
#include "agent/attach/dependency_guard.h"
#include "agent/attach/discovery_file.h"
#include "agent/common/listening_socket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::internal {
namespace {

using ::testing::HasSubstr;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(AttachSettingsTest, DefaultsKeepTheAgentInTheParentAndCleanExec) {
  auto s = ReadAttachSettings(Env({}));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->disabled);
  EXPECT_EQ(s->fork, ForkMode::kParent);
  EXPECT_EQ(s->exec, ExecMode::kClean);
  EXPECT_EQ(s->fork_delay, std::chrono::seconds(1));
  EXPECT_TRUE(s->discovery_dir.empty());
}

TEST(AttachSettingsTest, ReadsEveryVariable) {
  auto s = ReadAttachSettings(Env({{"LEAKWATCH_DISABLE", "1"},
                                   {"LEAKWATCH_FORK", "children"},
                                   {"LEAKWATCH_FORK_DELAY", "250ms"},
                                   {"LEAKWATCH_CHILD_LISTEN", "127.0.0.1:0"},
                                   {"LEAKWATCH_EXEC", "inherit"},
                                   {"LEAKWATCH_DISCOVERY_DIR", "/run/leakwatch"}}));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->disabled);
  EXPECT_EQ(s->fork, ForkMode::kChildren);
  EXPECT_EQ(s->fork_delay, std::chrono::milliseconds(250));
  EXPECT_EQ(s->child_listen, "127.0.0.1:0");
  EXPECT_EQ(s->exec, ExecMode::kInherit);
  EXPECT_EQ(s->discovery_dir, "/run/leakwatch");
}

TEST(AttachSettingsTest, ReportsEveryBadVariableWithItsValue) {
  auto s = ReadAttachSettings(Env({{"LEAKWATCH_DISABLE", "maybe"},
                                   {"LEAKWATCH_FORK", "workers"},
                                   {"LEAKWATCH_FORK_DELAY", "2h"},
                                   {"LEAKWATCH_CHILD_LISTEN", "nowhere"},
                                   {"LEAKWATCH_EXEC", "keep"},
                                   {"LEAKWATCH_DISCOVERY_DIR", "relative/dir"}}));
  ASSERT_FALSE(s);
  const std::string& m = s.error().message;
  EXPECT_THAT(m, HasSubstr("LEAKWATCH_DISABLE=\"maybe\""));
  EXPECT_THAT(m, HasSubstr("LEAKWATCH_FORK=\"workers\": expected parent or children"));
  EXPECT_THAT(m, HasSubstr("LEAKWATCH_FORK_DELAY=\"2h\""));
  EXPECT_THAT(m, HasSubstr("LEAKWATCH_CHILD_LISTEN=\"nowhere\""));
  EXPECT_THAT(m, HasSubstr("LEAKWATCH_EXEC=\"keep\": expected clean or inherit"));
  EXPECT_THAT(m, HasSubstr("LEAKWATCH_DISCOVERY_DIR=\"relative/dir\": expected an absolute"));
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 5);
}

TEST(AttachSettingsTest, EmptyVariablesChangeNothing) {
  auto s = ReadAttachSettings(Env({{"LEAKWATCH_FORK", ""}, {"LEAKWATCH_EXEC", ""}}));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->fork, ForkMode::kParent);
}

TEST(RemovePreloadEntryTest, RemovesOnlyLeakwatchKeepingOrder) {
  const std::string lib = "/opt/leakwatch/lib/libleakwatch_preload.so";
  EXPECT_EQ(RemovePreloadEntry(lib, lib), "");
  EXPECT_EQ(RemovePreloadEntry(lib + " /usr/lib/libjemalloc.so.2", lib), "/usr/lib/libjemalloc.so.2");
  EXPECT_EQ(RemovePreloadEntry("/a/liba.so:" + lib + ":/b/libb.so", lib), "/a/liba.so /b/libb.so");
  // By file name: another path to the same library, or a bare name resolved through the search path.
  EXPECT_EQ(RemovePreloadEntry("libleakwatch_preload.so  /x/liby.so", lib), "/x/liby.so");
  EXPECT_EQ(RemovePreloadEntry("/usr/lib/libleakwatch_preload.so", lib), "");
  EXPECT_EQ(RemovePreloadEntry("/x/libleakwatch_preload.so.old", lib), "/x/libleakwatch_preload.so.old");
  EXPECT_EQ(RemovePreloadEntry("", lib), "");
}

TEST(EnvironmentArrayTest, FindsAndCleansWithoutTouchingOtherEntries) {
  std::string a = "PATH=/bin", b = "LD_PRELOAD=/x/libleakwatch_preload.so /y/libjemalloc.so.2",
              c = "LD_PRELOADX=1";
  std::vector<char*> env{a.data(), b.data(), c.data(), nullptr};
  EXPECT_EQ(FindInEnvironment(env.data(), "PATH"), "/bin");
  EXPECT_EQ(FindInEnvironment(env.data(), "PAT"), std::nullopt);
  EXPECT_EQ(FindInEnvironment(env.data(), "LD_PRELOADX"), "1");
  EXPECT_TRUE(RemovePreloadFromEnvironment(env.data(), "/x/libleakwatch_preload.so"));
  EXPECT_EQ(FindInEnvironment(env.data(), "LD_PRELOAD"), "/y/libjemalloc.so.2");
  EXPECT_EQ(env[0], a.data());
  EXPECT_EQ(env[2], c.data());
  EXPECT_FALSE(RemovePreloadFromEnvironment(env.data(), "/x/libleakwatch_preload.so"))
      << "nothing left to do";
  ASSERT_NE(env[1], b.data());
  delete[] env[1];  // the new entry: owned by the environment in a process, by this test here

  std::string only = "LD_PRELOAD=libleakwatch_preload.so";
  std::vector<char*> env2{a.data(), only.data(), c.data(), nullptr};
  EXPECT_TRUE(RemovePreloadFromEnvironment(env2.data(), "/opt/lib/libleakwatch_preload.so"));
  EXPECT_EQ(env2[0], a.data());
  EXPECT_EQ(env2[1], c.data()) << "the emptied entry is removed and the rest shifted";
  EXPECT_EQ(env2[2], nullptr);
  EXPECT_EQ(FindInEnvironment(nullptr, "PATH"), std::nullopt);
}

TEST(ChildListenTest, DerivesPortZeroOnTheParentsHost) {
  AttachSettings s;
  EXPECT_EQ(ChildListenAddress(s, "127.0.0.1:9860"), "127.0.0.1:0");
  EXPECT_EQ(ChildListenAddress(s, ":9860"), "0.0.0.0:0");
  EXPECT_EQ(ChildListenAddress(s, "off"), "off");
  s.child_listen = "10.0.0.1:9900";
  EXPECT_EQ(ChildListenAddress(s, "127.0.0.1:9860"), "10.0.0.1:9900");
}

TEST(DiscoveryFileTest, IsPrometheusFileSdJson) {
  const auto doc = nlohmann::json::parse(
      DiscoveryJson({.host = "127.0.0.1", .port = 40123, .program = "nginx", .role = "child"}));
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["targets"], nlohmann::json::array({"127.0.0.1:40123"}));
  EXPECT_EQ(doc[0]["labels"]["leakwatch_program"], "nginx");
  EXPECT_EQ(doc[0]["labels"]["leakwatch_role"], "child");
  EXPECT_EQ(doc[0]["labels"].size(), 2u);  // bounded labels: no pid
}

TEST(DiscoveryFileTest, EscapesAProgramNameThatIsNotUtf8) {
  const auto text = DiscoveryJson({.host = "h", .port = 1, .program = "bad\xff\"name", .role = "main"});
  const auto doc = nlohmann::json::parse(text);
  EXPECT_THAT(doc[0]["labels"]["leakwatch_program"].get<std::string>(), HasSubstr("\"name"));
}

TEST(DiscoveryFileTest, WritesAtomicallyAndRemoves) {
  test_support::TempTree tree;
  const std::string path = DiscoveryFilePath(tree.dir(), 4242);
  EXPECT_EQ(path, tree.dir() + "/leakwatch-4242.json");
  ASSERT_TRUE(WriteDiscoveryFile(path, {.host = "127.0.0.1", .port = 9, .program = "p", .role = "main"}));
  std::ifstream in(path);
  const auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc[0]["targets"][0], "127.0.0.1:9");
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0) << "the temporary file must be renamed away";
  ASSERT_TRUE(RemoveDiscoveryFile(path));
  EXPECT_NE(access(path.c_str(), F_OK), 0);
  EXPECT_TRUE(RemoveDiscoveryFile(path)) << "removing a missing file is not an error";
}

TEST(DiscoveryFileTest, SweepRemovesFilesOfGoneOrReusedPidsOnly) {
  test_support::TempTree proc;
  // Field 22 of stat is the start time in ticks; comm may hold spaces and parentheses.
  const std::string stat_tail = " S 1 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 ";
  proc.Write("100/stat", "100 (my (server))" + stat_tail + "555 1000 200\n");
  proc.Write("102/stat", "102 (other)" + stat_tail + "777 1000 200\n");
  test_support::TempTree dir;
  const auto write = [&](long pid, unsigned long long ticks) {
    ASSERT_TRUE(WriteDiscoveryFile(DiscoveryFilePath(dir.dir(), pid),
                                   {.host = "h", .port = 1, .pid = pid, .start_ticks = ticks}));
  };
  write(100, 555);                        // alive, same process
  write(101, 600);                        // gone
  write(102, 600);                        // pid reused by another process (start time 777)
  dir.Write("leakwatch-abc.json", "[]");  // not ours to judge
  dir.Write("other.json", "[]");
  EXPECT_EQ(ProcessStartTicks(proc.dir(), 100), 555u);
  EXPECT_EQ(ProcessStartTicks(proc.dir(), 101), std::nullopt);
  EXPECT_EQ(SweepStaleDiscoveryFiles(dir.dir(), proc.dir()), 2);
  EXPECT_EQ(access(dir.Path("leakwatch-100.json").c_str(), F_OK), 0);
  EXPECT_NE(access(dir.Path("leakwatch-101.json").c_str(), F_OK), 0);
  EXPECT_NE(access(dir.Path("leakwatch-102.json").c_str(), F_OK), 0);
  EXPECT_EQ(access(dir.Path("leakwatch-abc.json").c_str(), F_OK), 0);
  EXPECT_EQ(access(dir.Path("other.json").c_str(), F_OK), 0);
  EXPECT_EQ(SweepStaleDiscoveryFiles(dir.dir() + "/missing", proc.dir()), 0);
}

TEST(DiscoveryFileTest, ErrorsNameThePath) {
  auto st = WriteDiscoveryFile("/nonexistent-dir/leakwatch-1.json", {.host = "h", .port = 1});
  ASSERT_FALSE(st);
  EXPECT_THAT(st.error().message, HasSubstr("/nonexistent-dir/leakwatch-1.json.tmp"));
  EXPECT_THAT(st.error().message, HasSubstr("No such file or directory"));
}

TEST(DiscoveryFileTest, AdvertisesASpecificHostOrTheHostName) {
  EXPECT_EQ(AdvertisedHost("127.0.0.1"), "127.0.0.1");
  EXPECT_NE(AdvertisedHost("0.0.0.0"), "0.0.0.0");
  EXPECT_FALSE(AdvertisedHost("").empty());
}

TEST(DependencyGuardTest, PassesWhenEachSymbolComesFromItsLibrary) {
  const std::vector<DependencySymbol> symbols{{"fmt", "libfmt.so", "f"}, {"civetweb", "libcivetweb.so", "m"}};
  auto st = CheckDependencies(symbols, [](const std::string& s) -> std::optional<std::string> {
    return s == "f" ? "/lib/x86_64-linux-gnu/libfmt.so.9" : "/lib/x86_64-linux-gnu/libcivetweb.so.1";
  });
  EXPECT_TRUE(st) << st.error().message;
}

TEST(DependencyGuardTest, NamesTheProgramThatCarriesItsOwnCopy) {
  const std::vector<DependencySymbol> symbols{
      {"fmt", "libfmt.so", "f"}, {"civetweb", "libcivetweb.so", "m"}, {"spdlog", "libspdlog.so", "s"}};
  auto st = CheckDependencies(symbols, [](const std::string& s) -> std::optional<std::string> {
    if (s == "f") return "/usr/bin/myserver";
    if (s == "m") return "/lib/x86_64-linux-gnu/libcivetweb.so.1";
    return std::nullopt;
  });
  ASSERT_FALSE(st);
  EXPECT_THAT(st.error().message, HasSubstr("fmt: f resolves to /usr/bin/myserver, not libfmt.so*"));
  EXPECT_THAT(st.error().message, HasSubstr("spdlog: s is defined by no loaded object"));
  EXPECT_THAT(st.error().message, ::testing::Not(HasSubstr("civetweb")));
}

TEST(DependencyGuardTest, TheRealProcessResolvesEveryDependencyToDebiansLibrary) {
  // The linker keeps only the libraries this test calls (--as-needed); load the others as the agent would
  // have them loaded (through the -dev packages' symlinks).
  for (const auto& d : AgentDependencySymbols()) {
    ASSERT_NE(dlopen(d.library.c_str(), RTLD_NOW | RTLD_GLOBAL), nullptr) << dlerror();
  }
  auto st = CheckDependencies(AgentDependencySymbols(), &LocateGlobalSymbol);
  EXPECT_TRUE(st) << st.error().message;
}

TEST(ListeningSocketTest, ParsesListeningInodesFromProcNetTcp) {
  // Captured from /proc/net/tcp and /proc/net/tcp6 (Linux 6.1); port 9860 = 0x2684, state 0A = LISTEN.
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:2684 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1975339 1 "
      "0000000000000000 100 0 0 10 0\n"
      "   1: 0100007F:2684 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 1975400 1 "
      "0000000000000000 20 4 30 10 -1\n"
      "   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1811 1 "
      "0000000000000000 100 0 0 10 0\n";
  EXPECT_EQ(ListeningSocketInodes(tcp, 9860), std::vector<unsigned long>{1975339}) << "not the connection";
  EXPECT_EQ(ListeningSocketInodes(tcp, 8080), std::vector<unsigned long>{1811});
  EXPECT_TRUE(ListeningSocketInodes(tcp, 9861).empty());
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st tx_queue "
      "rx_queue "
      "tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000000000000:2684 00000000000000000000000000000000:0000 0A "
      "00000000:00000000 "
      "00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0\n";
  EXPECT_EQ(ListeningSocketInodes(tcp6, 9860), std::vector<unsigned long>{2222});
  EXPECT_TRUE(ListeningSocketInodes("", 9860).empty());
  EXPECT_TRUE(ListeningSocketInodes("header\n   0: garbage\n", 9860).empty());
}

TEST(ListeningSocketTest, FindsTheSocketByPortAndClosesOnlyIt) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);
  EXPECT_FALSE(IsListeningOn(listener, port)) << "bound but not listening yet";
  ASSERT_EQ(listen(listener, 4), 0);
  EXPECT_TRUE(IsListeningOn(listener, port));
  EXPECT_FALSE(IsListeningOn(listener, port + 1));
  EXPECT_FALSE(IsListeningOn(STDIN_FILENO, port));
  EXPECT_EQ(FindListeningSockets("/proc/self", port), std::vector<int>{listener});
  EXPECT_FALSE(CloseListening(listener, port + 1));
  EXPECT_TRUE(CloseListening(listener, port));
  EXPECT_FALSE(IsListeningOn(listener, port));
  EXPECT_TRUE(FindListeningSockets("/proc/self", port).empty());
}

}  // namespace
}  // namespace leakwatch::internal

// leakwatch attached to real Debian servers it was never built with: `leakwatch run -- SERVER ARGS` (the
// LD_PRELOAD agent) around redis-server (linked against the system libjemalloc), memcached (glibc malloc,
// worker threads) and nginx (a master that forks its workers). Each server also runs once without the agent,
// the same way, so the test can require that the agent changes nothing the server does:
//
//   - the agent: its port comes from its discovery file; /metrics agrees with /proc/<pid> (RSS, open fds,
//     threads, start time, fd limit); the allocator is the server's own (jemalloc for redis, glibc
//     otherwise); `leakwatch capture` writes a bundle (with a heap profile under MALLOC_CONF=prof:true);
//   - the server: the same answers to the same protocol exchange, the same thread names (its own), the same
//     stdout (after removing digits: pids, times, ports) and no leakwatch output on it, the same exit status
//     on the same shutdown; the discovery file is gone once it exited;
//   - nginx: exactly one agent, in the master (no worker has a leakwatch thread), exactly one discovery file,
//     also after SIGHUP forked new workers; then SIGQUIT.
//
// Servers listen on 127.0.0.1 on a port the test picks (a free one, with retries when it is taken by then),
// keep their files in the test's temporary directory and run in the foreground as the test's child; every
// process the test starts is stopped by pid. A server that is not installed skips its test, naming the Debian
// package (scripts/install-deps.sh installs them).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/attach/servers_support.h"
#include "tests/integration/child_process.h"
#include "tests/integration/proc_probe.h"
#include "tests/integration/prom_text.h"
#include "tests/support/free_port.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::integration::attach {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Empty when the build has no such target (see CMakeLists.txt): the tests then skip.
const std::string kCli = LEAKWATCH_CLI_PATH;
const std::string kPreload = LEAKWATCH_PRELOAD_PATH;

constexpr char kToken[] = "attach-servers-test-token-5f2b9c0e7a41d3";
constexpr seconds kStartTimeout{15};
constexpr seconds kDiscoveryTimeout{10};
constexpr seconds kExitTimeout{20};
constexpr seconds kCaptureTimeout{60};
constexpr int kStartAttempts = 3;

bool IsAgentThread(const std::string& name) {
  return name.rfind("leakwatch", 0) == 0 || name.rfind("civetweb", 0) == 0;
}

std::string Join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Thread names without the agent's, as a set: jemalloc may start one more background thread when the agent's
// threads use another arena, which is the allocator's business, not a change of the server.
std::set<std::string> ServerThreadNames(pid_t pid) {
  std::set<std::string> out;
  for (const auto& n : ThreadNames(pid)) {
    if (!IsAgentThread(n)) out.insert(n);
  }
  return out;
}

std::string Describe(const std::set<std::string>& names) {
  return Join(std::vector<std::string>(names.begin(), names.end()));
}

// A log line with its digits (pids, times, ports) replaced, so two runs of the same server compare equal.
std::string WithoutDigits(const std::string& line) {
  static const std::regex kDigits("[0-9]+");
  return std::regex_replace(line, kDigits, "#");
}

// Retries `check` (nullopt = holds; else why not) for a while: a scrape shows the agent's last tick, up to a
// period old, while /proc is read now.
void ExpectConverges(const std::string& what, const std::function<std::optional<std::string>()>& check) {
  std::optional<std::string> why;
  for (int attempt = 0; attempt < 10; ++attempt) {
    why = check();
    if (!why) return;
    std::this_thread::sleep_for(milliseconds(400));
  }
  ADD_FAILURE() << what << ": " << *why;
}

Result<std::string> Scrape(int agent_port) {
  auto r = test_support::HttpGet(agent_port, "/metrics");
  if (!r.ok()) return r.error();
  if (r->status != 200) {
    return Error{"GET /metrics answered " + std::to_string(r->status) + " " + r->reason + ": " + r->body};
  }
  return r->body;
}

// ---------------------------------------------------------------------------------------------------------
// The servers.

struct Server {
  std::string name;
  std::string binary;
  std::string package;
  // argv after the binary: listening on 127.0.0.1:<port>, every file in <dir>.
  std::function<std::vector<std::string>(int port, const std::string& dir)> args;
  // Writes what the server needs in <dir> before it starts (nginx's configuration).
  std::function<void(int port, const std::string& dir)> prepare;
  // The protocol exchange; returns the transcript of the answers (the same with and without the agent).
  std::function<Result<std::string>(int port, pid_t pid)> exchange;
  // Asks the server to exit.
  std::function<void(ChildProcess& child, int port)> stop;
};

Result<std::string> RedisCall(TcpSession& s, const std::vector<std::string>& words) {
  if (auto sent = s.Send(RespCommand(words)); !sent.ok()) return sent.error();
  return s.Receive(RespReplyLength, seconds(5));
}

Result<std::string> RedisExchange(int port, pid_t pid) {
  auto session = TcpSession::Connect(port, seconds(5));
  if (!session.ok()) return session.error();
  TcpSession& s = *session;
  std::string transcript;
  const std::vector<std::vector<std::string>> commands = {
      {"PING"},
      {"SET", "attach:k", "hello"},
      {"GET", "attach:k"},
      {"INCR", "attach:n"},
      {"INCR", "attach:n"},
      {"INCRBY", "attach:n", "40"},
      {"APPEND", "attach:k", " world"},
      {"GET", "attach:k"},
      {"DEL", "attach:n"},
      {"GET", "attach:n"},
      {"RPUSH", "attach:l", "a", "b", "c"},
      {"LRANGE", "attach:l", "0", "-1"},
      {"HSET", "attach:h", "field", "value"},
      {"HGETALL", "attach:h"},
      {"EXISTS", "attach:k", "attach:n", "attach:l"},
      {"ECHO", "unchanged"},
      {"GET"},  // wrong number of arguments: an error reply
  };
  for (const auto& c : commands) {
    auto reply = RedisCall(s, c);
    if (!reply.ok()) return Error{c[0] + ": " + reply.error().message};
    transcript += Join(c, " ") + " -> " + *reply;
  }
  // 2000 values of 1 KiB, pipelined 200 at a time: the heap grows by a few MiB.
  const std::string value(1024, 'v');
  int ok = 0;
  for (int batch = 0; batch < 10; ++batch) {
    std::string pipeline;
    for (int i = 0; i < 200; ++i) {
      pipeline += RespCommand({"SET", "attach:bulk:" + std::to_string(batch * 200 + i), value});
    }
    if (auto sent = s.Send(pipeline); !sent.ok()) return sent.error();
    for (int i = 0; i < 200; ++i) {
      auto reply = s.Receive(RespReplyLength, seconds(10));
      if (!reply.ok()) return Error{"bulk SET: " + reply.error().message};
      ok += *reply == "+OK\r\n";
    }
  }
  transcript += "bulk SET x2000 -> " + std::to_string(ok) + " OK\r\n";
  auto dbsize = RedisCall(s, {"DBSIZE"});
  if (!dbsize.ok()) return dbsize.error();
  transcript += "DBSIZE -> " + *dbsize;
  auto server = RedisCall(s, {"INFO", "server"});
  auto memory = RedisCall(s, {"INFO", "memory"});
  if (!server.ok() || !memory.ok()) return Error{"INFO failed"};
  const auto server_info = ParseRedisInfo(RespBulkPayload(*server));
  const auto memory_info = ParseRedisInfo(RespBulkPayload(*memory));
  // The protocol's own view of the process: the pid it was started with (leakwatch run execs the server).
  if (server_info.count("process_id") == 0 || server_info.at("process_id") != std::to_string(pid)) {
    return Error{"INFO server process_id is not the pid the test started: " + RespBulkPayload(*server)};
  }
  for (const char* key : {"redis_version", "redis_mode", "multiplexing_api", "arch_bits"}) {
    transcript +=
        std::string("INFO ") + key + " -> " + (server_info.count(key) ? server_info.at(key) : "?") + "\n";
  }
  transcript += "INFO mem_allocator -> " +
                (memory_info.count("mem_allocator") ? memory_info.at("mem_allocator") : std::string("?")) +
                "\n";
  return transcript;
}

// jemalloc's stats.allocated as redis reports it (INFO memory allocator_allocated).
std::optional<double> RedisAllocatorAllocated(int port) {
  auto session = TcpSession::Connect(port, seconds(5));
  if (!session.ok()) return std::nullopt;
  auto memory = RedisCall(*session, {"INFO", "memory"});
  if (!memory.ok()) return std::nullopt;
  const auto info = ParseRedisInfo(RespBulkPayload(*memory));
  if (info.count("allocator_allocated") == 0) return std::nullopt;
  return std::strtod(info.at("allocator_allocated").c_str(), nullptr);
}

Server Redis() {
  Server s;
  s.name = "redis";
  s.binary = "/usr/bin/redis-server";
  s.package = "redis-server";
  s.args = [](int port, const std::string& dir) {
    return std::vector<std::string>{
        "--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
        dir,      "--daemonize",        "no"};
  };
  s.exchange = RedisExchange;
  s.stop = [](ChildProcess& child, int port) {
    // SHUTDOWN NOSAVE: redis closes the connection without a reply and exits.
    auto session = TcpSession::Connect(port, seconds(5));
    if (!session.ok() || !session->Send(RespCommand({"SHUTDOWN", "NOSAVE"})).ok()) {
      child.Signal(SIGTERM);
      return;
    }
    session->ReceiveUntilClosed(seconds(10));
  };
  return s;
}

Result<std::string> MemcachedCall(TcpSession& s, const std::string& command, bool multi_line) {
  if (auto sent = s.Send(command); !sent.ok()) return sent.error();
  return s.Receive([multi_line](std::string_view b) { return MemcachedReplyLength(b, multi_line); },
                   seconds(5));
}

Result<std::string> MemcachedExchange(int port, pid_t pid) {
  auto session = TcpSession::Connect(port, seconds(5));
  if (!session.ok()) return session.error();
  TcpSession& s = *session;
  std::string transcript;
  const std::vector<std::pair<std::string, bool>> commands = {
      {"version\r\n", false},
      {"set attach:k 0 0 5\r\nhello\r\n", false},
      {"get attach:k\r\n", true},
      {"add attach:k 0 0 1\r\nx\r\n", false},
      {"incr attach:n 1\r\n", false},
      {"set attach:n 7 0 1\r\n5\r\n", false},
      {"incr attach:n 37\r\n", false},
      {"append attach:k 0 0 6\r\n world\r\n", false},
      {"gets attach:missing\r\n", true},
      {"get attach:k attach:n\r\n", true},
      {"delete attach:n\r\n", false},
      {"delete attach:n\r\n", false},
      {"get attach:n\r\n", true},
      {"bogus\r\n", false},
  };
  for (const auto& [command, multi] : commands) {
    auto reply = MemcachedCall(s, command, multi);
    if (!reply.ok()) return Error{command + ": " + reply.error().message};
    transcript += command + " -> " + *reply;
  }
  // 2000 values of 1 KiB, pipelined 200 at a time.
  const std::string value(1024, 'v');
  int stored = 0;
  for (int batch = 0; batch < 10; ++batch) {
    std::string pipeline;
    for (int i = 0; i < 200; ++i) {
      pipeline += "set attach:bulk:" + std::to_string(batch * 200 + i) + " 0 0 1024\r\n" + value + "\r\n";
    }
    if (auto sent = s.Send(pipeline); !sent.ok()) return sent.error();
    for (int i = 0; i < 200; ++i) {
      auto reply = s.Receive([](std::string_view b) { return MemcachedReplyLength(b, false); }, seconds(10));
      if (!reply.ok()) return Error{"bulk set: " + reply.error().message};
      stored += *reply == "STORED\r\n";
    }
  }
  transcript += "bulk set x2000 -> " + std::to_string(stored) + " STORED\r\n";
  auto stats = MemcachedCall(s, "stats\r\n", true);
  if (!stats.ok()) return stats.error();
  const auto st = ParseMemcachedStats(*stats);
  if (st.count("pid") == 0 || st.at("pid") != std::to_string(pid)) {
    return Error{"stats pid is not the pid the test started: " + *stats};
  }
  for (const char* key : {"version", "libevent", "threads", "curr_items", "total_items", "max_connections",
                          "limit_maxbytes", "pointer_size"}) {
    transcript += std::string("stats ") + key + " -> " + (st.count(key) ? st.at(key) : "?") + "\n";
  }
  return transcript;
}

Server Memcached() {
  Server s;
  s.name = "memcached";
  s.binary = "/usr/bin/memcached";
  s.package = "memcached";
  s.args = [](int port, const std::string&) {
    std::vector<std::string> a = {"-l", "127.0.0.1", "-p", std::to_string(port), "-U", "0", "-t", "4", "-m",
                                  "64", "-c",        "256"};
    // memcached refuses to run as root without -u (and ignores it otherwise).
    if (::geteuid() == 0) a.insert(a.end(), {"-u", "root"});
    return a;
  };
  s.exchange = MemcachedExchange;
  s.stop = [](ChildProcess& child, int) { child.Signal(SIGTERM); };
  return s;
}

Result<std::string> NginxExchange(int port, pid_t) {
  std::string transcript;
  for (int i = 0; i < 12; ++i) {
    const std::string path = i % 3 == 0 ? "/" : i % 3 == 1 ? "/index.html" : "/missing.html";
    auto r = test_support::HttpGet(port, path);
    if (!r.ok()) return r.error();
    transcript += "GET " + path + " -> " + std::to_string(r->status) + " " + r->reason +
                  " server=" + r->header("Server").value_or("?") +
                  " type=" + r->header("Content-Type").value_or("?") + "\n" + r->body;
  }
  return transcript;
}

Server Nginx() {
  Server s;
  s.name = "nginx";
  s.binary = "/usr/sbin/nginx";
  s.package = "nginx-core (or nginx-light)";
  s.prepare = [](int port, const std::string& dir) {
    fs::create_directories(dir + "/html");
    std::ofstream(dir + "/html/index.html") << "<p>served by an nginx worker</p>\n";
    std::ofstream conf(dir + "/nginx.conf");
    // Workers keep the test's user when it is root, so they can read its private temporary directory (as any
    // other user they would drop to nobody). Every path is inside <dir>: the prefix (-p), the temp paths, the
    // pid file; logs go to stderr.
    if (::geteuid() == 0) conf << "user root;\n";
    conf << "events { worker_connections 64; }\n"
         << "http {\n"
         << "  access_log off;\n"
         << "  default_type text/plain;\n"
         << "  client_body_temp_path " << dir << "/tmp_body;\n"
         << "  proxy_temp_path " << dir << "/tmp_proxy;\n"
         << "  fastcgi_temp_path " << dir << "/tmp_fastcgi;\n"
         << "  uwsgi_temp_path " << dir << "/tmp_uwsgi;\n"
         << "  scgi_temp_path " << dir << "/tmp_scgi;\n"
         << "  server {\n"
         << "    listen 127.0.0.1:" << port << ";\n"
         << "    root " << dir << "/html;\n"
         << "  }\n"
         << "}\n";
  };
  s.args = [](int, const std::string& dir) {
    return std::vector<std::string>{
        "-p",
        dir + "/",
        "-c",
        dir + "/nginx.conf",
        "-e",
        "stderr",
        "-g",
        "daemon off; master_process on; worker_processes 2; pid " + dir + "/nginx.pid; error_log stderr;"};
  };
  s.exchange = NginxExchange;
  s.stop = [](ChildProcess& child, int) { child.Signal(SIGQUIT); };  // graceful shutdown (nginx -s quit)
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// One run of a server: directly, or under `leakwatch run`.

struct Finished {
  std::optional<int> status;  // waitpid status; nullopt when it did not exit in time (then killed)
  std::vector<std::string> stdout_lines;
  std::string stderr_text;
};

class ServerRun {
 public:
  // Starts the server on a free port and waits until it accepts connections (and, with the agent, until the
  // agent's discovery file names its port). A port taken meanwhile (by anyone, the agent included) is
  // retried.
  static Result<std::unique_ptr<ServerRun>> Start(
      const Server& server, bool with_agent, const test_support::TempTree& tree, const std::string& label,
      const std::vector<std::pair<std::string, std::string>>& env) {
    std::string failures;
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
      auto run = std::unique_ptr<ServerRun>(new ServerRun());
      run->dir_ = tree.Path(label + "-" + std::to_string(attempt));
      fs::create_directories(run->dir_);
      run->port_ = test_support::FreeLoopbackPort();
      if (run->port_ == 0) return Error{"no free loopback port"};
      if (server.prepare) server.prepare(run->port_, run->dir_);
      ChildOptions options;
      options.env = env;
      options.stderr_path = run->dir_ + "/stderr.txt";
      std::vector<std::string> server_argv = {server.binary};
      const auto args = server.args(run->port_, run->dir_);
      server_argv.insert(server_argv.end(), args.begin(), args.end());
      if (with_agent) {
        fs::create_directories(run->discovery_dir());
        std::ofstream(run->token_file()) << kToken << "\n";
        ::chmod(run->token_file().c_str(), 0600);
        std::ofstream(run->config_file()) << "# attach_servers_test\n"
                                          << "bundle:\n"
                                          << "  dir: " << run->bundle_dir() << "\n"
                                          << "  min_free_disk: 0\n";
        options.argv = {kCli,
                        "run",
                        "--preload",
                        kPreload,
                        "--config",
                        run->config_file(),
                        "--listen",
                        "127.0.0.1:0",
                        "--token-file",
                        run->token_file(),
                        "--discovery-dir",
                        run->discovery_dir(),
                        "--"};
        options.argv.insert(options.argv.end(), server_argv.begin(), server_argv.end());
      } else {
        options.argv = server_argv;
      }
      run->command_ = Join(options.argv, " ");
      auto child = ChildProcess::Spawn(options);
      if (!child.ok()) return Error{run->command_ + ": " + child.error().message};
      run->child_ = std::move(*child);
      const int port = run->port_;
      ChildProcess& c = *run->child_;
      WaitUntil([&] { return !c.Running() || PortAccepts(port); }, kStartTimeout);
      if (!c.Running()) {
        const std::string err = c.Stderr();
        failures += "attempt " + std::to_string(attempt + 1) + ": `" + run->command_ + "` " +
                    DescribeWaitStatus(*c.WaitExit(milliseconds(0))) + "; stderr:\n" + err + "\n";
        if (err.find("in use") != std::string::npos) continue;  // the port was taken meanwhile: another one
        return Error{failures};
      }
      if (!PortAccepts(port)) {
        return Error{"`" + run->command_ +
                     "` does not accept connections on 127.0.0.1:" + std::to_string(port) + " after " +
                     std::to_string(kStartTimeout.count()) + " s; stderr:\n" + c.Stderr()};
      }
      if (with_agent) {
        auto discovery = run->WaitForDiscovery();
        if (!discovery.ok()) return Error{discovery.error().message + "\nstderr:\n" + c.Stderr()};
        if (discovery->port == port) {
          // The agent (which starts before main) got the port the test had picked for the server.
          failures +=
              "attempt " + std::to_string(attempt + 1) + ": the agent took port " + std::to_string(port);
          continue;
        }
        run->agent_port_ = discovery->port;
        run->discovery_ = *discovery;
      }
      return run;
    }
    return Error{"could not start " + server.name + " in " + std::to_string(kStartAttempts) + " attempts:\n" +
                 failures};
  }

  // A server still running is stopped by pid: the master first (SIGSTOP, so it cannot fork again), then its
  // children (nginx's workers), then the master itself (ChildProcess: SIGKILL and reap).
  ~ServerRun() {
    if (child_) KillTree();
  }
  ServerRun(const ServerRun&) = delete;
  ServerRun& operator=(const ServerRun&) = delete;

  pid_t pid() const { return child_->pid(); }
  int port() const { return port_; }
  int agent_port() const { return agent_port_; }
  const Discovery& discovery() const { return discovery_; }
  ChildProcess& child() { return *child_; }
  const std::string& command() const { return command_; }
  std::string discovery_dir() const { return dir_ + "/discovery"; }
  std::string bundle_dir() const { return dir_ + "/bundles"; }
  std::string token_file() const { return dir_ + "/token"; }
  std::string config_file() const { return dir_ + "/leakwatch.yaml"; }
  std::string stderr_text() const { return child_->Stderr(); }

  // Asks the server to stop the server's way, waits for its exit (killing it after kExitTimeout) and collects
  // its stdout.
  Finished Stop(const Server& server) {
    server.stop(*child_, port_);
    return Collect();
  }

  Finished Collect() {
    Finished f;
    f.status = child_->WaitExit(kExitTimeout);
    if (!f.status) KillTree();
    // stdout is a pipe: read to EOF (every writer gone) or give up after a while.
    for (int i = 0; i < 10000; ++i) {
      auto line = child_->ReadLine(seconds(3));
      if (!line.ok()) break;
      f.stdout_lines.push_back(*line);
    }
    f.stderr_text = child_->Stderr();
    return f;
  }

 private:
  ServerRun() = default;

  void KillTree() {
    if (!child_->Running()) return;
    ::kill(child_->pid(), SIGSTOP);
    for (const pid_t p : ChildPids(child_->pid())) ::kill(p, SIGKILL);
    child_->Kill();
  }

  // The agent's discovery file for the server's pid (leakwatch run execs the server, so the pid is the same).
  Result<Discovery> WaitForDiscovery() {
    const std::string expected = "leakwatch-" + std::to_string(pid()) + ".json";
    std::vector<std::string> files;
    WaitUntil(
        [&] {
          files = DiscoveryFiles(discovery_dir());
          return !files.empty() || !child_->Running();
        },
        kDiscoveryTimeout);
    if (files.empty()) {
      return Error{"no discovery file in " + discovery_dir() + " within " +
                   std::to_string(kDiscoveryTimeout.count()) + " s of the start of `" + command_ + "`"};
    }
    if (files.size() != 1 || files[0] != expected) {
      return Error{"expected exactly " + expected + " in " + discovery_dir() + ", found: " + Join(files)};
    }
    // Written after the endpoint is bound, but read it until it parses: it may be mid-rename.
    Result<Discovery> d = Error{"unread"};
    WaitUntil(
        [&] {
          d = ReadDiscoveryFile(discovery_dir() + "/" + expected);
          return d.ok();
        },
        seconds(2));
    return d;
  }

  std::string dir_;
  std::string command_;
  int port_ = 0;
  int agent_port_ = 0;
  Discovery discovery_;
  std::unique_ptr<ChildProcess> child_;
};

// ---------------------------------------------------------------------------------------------------------
// Checks of the agent.

// /metrics against /proc/<pid>, read right after each scrape.
void ExpectMetricsMatchProc(pid_t pid, int agent_port) {
  SCOPED_TRACE("process metrics of pid " + std::to_string(pid) +
               " from 127.0.0.1:" + std::to_string(agent_port));
  auto first = Scrape(agent_port);
  ASSERT_TRUE(first.ok()) << first.error().message;

  ExpectConverges("process_resident_memory_bytes vs /proc/<pid>/statm", [&]() -> std::optional<std::string> {
    auto body = Scrape(agent_port);
    if (!body.ok()) return body.error().message;
    const auto metric = FindSample(*body, "process_resident_memory_bytes");
    const auto proc = StatmRssBytes(pid);
    if (!metric || !proc) return "missing: metric " + std::to_string(metric.has_value());
    const double tolerance = std::max(0.10 * static_cast<double>(*proc), 4.0 * 1024 * 1024);
    if (std::fabs(*metric - static_cast<double>(*proc)) <= tolerance) return std::nullopt;
    return "metric " + std::to_string(*metric) + ", statm " + std::to_string(*proc);
  });
  ExpectConverges("process_open_fds vs /proc/<pid>/fd", [&]() -> std::optional<std::string> {
    auto body = Scrape(agent_port);
    if (!body.ok()) return body.error().message;
    const auto metric = FindSample(*body, "process_open_fds");
    const auto proc = CountDirEntries("/proc/" + std::to_string(pid) + "/fd");
    if (!metric || !proc) return "missing: metric " + std::to_string(metric.has_value());
    // The scrape's own connection may be counted on one side only.
    if (std::fabs(*metric - static_cast<double>(*proc)) <= 2) return std::nullopt;
    return "metric " + std::to_string(*metric) + ", /proc/<pid>/fd entries " + std::to_string(*proc);
  });
  ExpectConverges("process_threads vs /proc/<pid>/status Threads", [&]() -> std::optional<std::string> {
    auto body = Scrape(agent_port);
    if (!body.ok()) return body.error().message;
    const auto metric = FindSample(*body, "process_threads");
    const auto proc = StatusThreads(pid);
    if (!metric || !proc) return "missing: metric " + std::to_string(metric.has_value());
    if (*metric == static_cast<double>(*proc)) return std::nullopt;
    return "metric " + std::to_string(*metric) + ", Threads " + std::to_string(*proc) + " (" +
           Join(ThreadNames(pid)) + ")";
  });
  ExpectConverges("process_start_time_seconds vs /proc/<pid>/stat", [&]() -> std::optional<std::string> {
    auto body = Scrape(agent_port);
    if (!body.ok()) return body.error().message;
    const auto metric = FindSample(*body, "process_start_time_seconds");
    const auto proc = ReadStartTimeSeconds(pid);
    if (!metric || !proc) return "missing: metric " + std::to_string(metric.has_value());
    if (std::fabs(*metric - *proc) <= 1.0) return std::nullopt;
    return "metric " + std::to_string(*metric) + ", stat " + std::to_string(*proc);
  });
  ExpectConverges("process_max_fds vs /proc/<pid>/limits", [&]() -> std::optional<std::string> {
    auto body = Scrape(agent_port);
    if (!body.ok()) return body.error().message;
    const auto metric = FindSample(*body, "process_max_fds");
    const auto proc = ReadSoftNofile(pid);
    if (!metric || !proc) return "missing: metric " + std::to_string(metric.has_value());
    if (*metric == static_cast<double>(*proc)) return std::nullopt;
    return "metric " + std::to_string(*metric) + ", soft limit " + std::to_string(*proc);
  });
}

// leakwatch_allocator_info's labels (one sample expected).
std::map<std::string, std::string> AllocatorInfo(int agent_port) {
  auto body = Scrape(agent_port);
  if (!body.ok()) {
    ADD_FAILURE() << body.error().message;
    return {};
  }
  const auto samples = FindLabeledSamples(*body, "leakwatch_allocator_info");
  if (samples.size() != 1) {
    ADD_FAILURE() << "expected one leakwatch_allocator_info sample, found " << samples.size();
    return {};
  }
  return samples[0].labels;
}

std::string DescribeLabels(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=\"" + v + "\"";
  return "{" + out + "}";
}

// `leakwatch capture`, then the bundle it made. Returns the bundle's manifest (null on failure).
nlohmann::json CaptureBundle(ServerRun& run, bool expect_heap_profile) {
  ChildOptions options;
  options.argv = {kCli, "capture", "127.0.0.1:" + std::to_string(run.agent_port()), "--token-file",
                  run.token_file()};
  options.stderr_path = run.bundle_dir() + ".capture.stderr";
  auto child = ChildProcess::Spawn(options);
  if (!child.ok()) {
    ADD_FAILURE() << child.error().message;
    return {};
  }
  const auto status = (*child)->WaitExit(kCaptureTimeout);
  std::string output;
  if (status) {
    for (auto line = (*child)->ReadLine(seconds(2)); line.ok(); line = (*child)->ReadLine(seconds(2))) {
      output += *line + "\n";
    }
  }
  const std::string described =
      Join(options.argv, " ") + ": " + (status ? DescribeWaitStatus(*status) : std::string("still running")) +
      "\nstdout:\n" + output + "stderr:\n" + (*child)->Stderr() + "\nserver's stderr:\n" + run.stderr_text();
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    ADD_FAILURE() << described;
    return {};
  }
  std::vector<std::string> bundles;
  WaitUntil(
      [&] {
        bundles.clear();
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(run.bundle_dir(), ec)) {
          const std::string name = e.path().filename().string();
          if (e.is_directory() && name[0] != '.' && fs::exists(e.path() / "manifest.json"))
            bundles.push_back(name);
        }
        return !bundles.empty();
      },
      seconds(30));
  if (bundles.size() != 1) {
    ADD_FAILURE() << "expected one bundle in " << run.bundle_dir() << ", found: " << Join(bundles) << "\n"
                  << described;
    return {};
  }
  const std::string bundle = run.bundle_dir() + "/" + bundles[0];
  const auto manifest = nlohmann::json::parse(ReadText(bundle + "/manifest.json"), nullptr, false);
  if (!manifest.is_object()) {
    ADD_FAILURE() << bundle << "/manifest.json is not a JSON object";
    return {};
  }
  SCOPED_TRACE("bundle " + bundle + ", manifest: " + manifest.dump().substr(0, 4000));
  EXPECT_EQ(manifest["process"]["pid"], run.pid());
  EXPECT_EQ(manifest["trigger"]["source"], "http");
  EXPECT_TRUE(manifest["files"].is_array() && !manifest["files"].empty());
  std::set<std::string> names;
  for (const auto& f : manifest["files"]) {
    const std::string name = f.value("name", "");
    names.insert(name);
    std::error_code ec;
    const auto size = fs::file_size(bundle + "/" + name, ec);
    EXPECT_FALSE(ec) << name << " is listed in the manifest but missing";
    if (!ec) {
      EXPECT_EQ(size, f.value("bytes", uint64_t{0})) << name;
    }
  }
  for (const char* expected : {"proc_status.txt", "threads.csv", "fds.csv", "snapshot.json"}) {
    EXPECT_EQ(names.count(expected), 1u) << expected << " is not in the bundle";
  }
  // leakwatch's heap sampler runs in every preloaded server: its profile is always there.
  EXPECT_EQ(manifest["heap_profile"]["written"], true);
  EXPECT_EQ(manifest["heap_profile"]["method"], "leakwatch heap sampler");
  EXPECT_EQ(names.count("heap.pb.gz"), 1u);
  if (expect_heap_profile) {  // the allocator's own profiler is on too: its profile comes beside
    EXPECT_EQ(manifest["allocator_heap_profile"]["written"], true);
    EXPECT_EQ(names.count("heap.prof"), 1u);
    EXPECT_EQ(names.count("heap_allocator.pb.gz"), 1u);
    EXPECT_GT(ReadText(bundle + "/heap.prof").size(), 0u);
  } else {
    EXPECT_FALSE(manifest.contains("allocator_heap_profile"));
  }
  return manifest;
}

// What a test expects of the agent in one server.
struct AgentExpectations {
  std::string allocator;  // leakwatch_allocator_info{allocator}
  std::string profiling;  // leakwatch_allocator_info{profiling}
  bool heap_profile = false;
};

void PrintFacts(const std::string& server, const std::string& text) {
  std::cout << "[ facts    ] " << server << ": " << text << std::endl;
}

void ExpectSameOutcome(const std::string& server, const Finished& plain, const Finished& agent) {
  ASSERT_TRUE(plain.status.has_value()) << "without the agent the server did not exit in time";
  ASSERT_TRUE(agent.status.has_value()) << "with the agent the server did not exit in time; stderr:\n"
                                        << agent.stderr_text;
  EXPECT_EQ(DescribeWaitStatus(*agent.status), DescribeWaitStatus(*plain.status))
      << "the same shutdown ends differently with the agent; stderr:\n"
      << agent.stderr_text;
  PrintFacts(server, "exit on the test's shutdown: " + DescribeWaitStatus(*plain.status) +
                         " without the agent, " + DescribeWaitStatus(*agent.status) + " with it");
  for (const auto& line : agent.stdout_lines) {
    std::string lower = line;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    EXPECT_EQ(lower.find("leakwatch"), std::string::npos)
        << "leakwatch output on the server's stdout: " << line;
  }
  std::vector<std::string> a;
  std::vector<std::string> b;
  for (const auto& l : plain.stdout_lines) a.push_back(WithoutDigits(l));
  for (const auto& l : agent.stdout_lines) b.push_back(WithoutDigits(l));
  EXPECT_EQ(b, a) << "the server's stdout differs (digits ignored)\nwithout the agent:\n"
                  << Join(plain.stdout_lines, "\n") << "\nwith the agent:\n"
                  << Join(agent.stdout_lines, "\n");
}

class AttachServersTest : public ::testing::Test {
 protected:
  // Skips (returns false) when the server or the agent is missing.
  bool Available(const Server& server) {
    if (kCli.empty() || kPreload.empty()) {
      skip_reason_ = "this build has no leakwatch-cli / leakwatch_preload target";
      return false;
    }
    if (::access(server.binary.c_str(), X_OK) != 0) {
      skip_reason_ = server.binary + " is missing: install the Debian package " + server.package +
                     " (scripts/install-deps.sh does)";
      return false;
    }
    return true;
  }

  // The whole comparison for a server that does not fork: a run without the agent, then one with it.
  void RunAndCompare(const Server& server, const AgentExpectations& expect,
                     const std::vector<std::pair<std::string, std::string>>& env = {}) {
    test_support::TempTree tree;

    // Without the agent.
    auto plain = ServerRun::Start(server, false, tree, "plain", env);
    ASSERT_TRUE(plain.ok()) << plain.error().message;
    auto plain_transcript = server.exchange((*plain)->port(), (*plain)->pid());
    ASSERT_TRUE(plain_transcript.ok()) << plain_transcript.error().message << "\nstderr:\n"
                                       << (*plain)->stderr_text();
    const auto plain_threads = ServerThreadNames((*plain)->pid());
    const auto plain_all_threads = ThreadNames((*plain)->pid());
    const Finished plain_end = (*plain)->Stop(server);
    PrintFacts(server.name, "`" + (*plain)->command() + "`: " + std::to_string(plain_all_threads.size()) +
                                " threads: " + Join(plain_all_threads) +
                                " (distinct: " + Describe(plain_threads) + ")");

    // With the agent.
    auto run = ServerRun::Start(server, true, tree, "agent", env);
    ASSERT_TRUE(run.ok()) << run.error().message;
    ServerRun& r = **run;
    SCOPED_TRACE("`" + r.command() + "` (pid " + std::to_string(r.pid()) +
                 ", agent on 127.0.0.1:" + std::to_string(r.agent_port()) + ")");
    EXPECT_EQ(r.discovery().host, "127.0.0.1") << r.discovery().text;
    std::error_code ec;
    const std::string preload = fs::canonical(kPreload, ec).string();
    EXPECT_NE(ReadText("/proc/" + std::to_string(r.pid()) + "/maps").find(ec ? kPreload : preload),
              std::string::npos)
        << "the server has not mapped " << kPreload;
    auto transcript = server.exchange(r.port(), r.pid());
    ASSERT_TRUE(transcript.ok()) << transcript.error().message << "\nstderr:\n" << r.stderr_text();
    EXPECT_EQ(*transcript, *plain_transcript) << "the server answers differently with the agent";

    const auto all_threads = ThreadNames(r.pid());
    std::vector<std::string> agent_threads;
    for (const auto& n : all_threads) {
      if (IsAgentThread(n)) agent_threads.push_back(n);
    }
    std::sort(agent_threads.begin(), agent_threads.end());
    EXPECT_FALSE(agent_threads.empty()) << "no leakwatch thread in " << Join(all_threads);
    EXPECT_EQ(ServerThreadNames(r.pid()), plain_threads)
        << "the server's own threads differ with the agent (agent threads are named leakwatch* or "
           "civetweb*); "
           "all threads: "
        << Join(all_threads);
    PrintFacts(server.name, "with the agent " + std::to_string(all_threads.size()) +
                                " threads; the agent's " + std::to_string(agent_threads.size()) + ": " +
                                Join(agent_threads));

    ExpectMetricsMatchProc(r.pid(), r.agent_port());
    const auto info = AllocatorInfo(r.agent_port());
    PrintFacts(server.name, "leakwatch_allocator_info" + DescribeLabels(info));
    EXPECT_EQ(info.count("allocator") ? info.at("allocator") : "", expect.allocator) << DescribeLabels(info);
    EXPECT_EQ(info.count("profiling") ? info.at("profiling") : "", expect.profiling) << DescribeLabels(info);
    if (expect.allocator == "jemalloc") {
      // The agent reads the same jemalloc counters redis itself reports.
      ExpectConverges("leakwatch_allocator_allocated_bytes vs redis INFO allocator_allocated",
                      [&]() -> std::optional<std::string> {
                        auto body = Scrape(r.agent_port());
                        if (!body.ok()) return body.error().message;
                        const auto metric = FindSample(*body, "leakwatch_allocator_allocated_bytes");
                        const auto redis = RedisAllocatorAllocated(r.port());
                        if (!metric || !redis) return "missing: metric " + std::to_string(metric.has_value());
                        if (std::fabs(*metric - *redis) <= std::max(0.1 * *redis, 1024.0 * 1024)) {
                          return std::nullopt;
                        }
                        return "metric " + std::to_string(*metric) + ", redis " + std::to_string(*redis);
                      });
    }
    CaptureBundle(r, expect.heap_profile);

    const Finished end = r.Stop(server);
    ExpectSameOutcome(server.name, plain_end, end);
    EXPECT_TRUE(DiscoveryFiles(r.discovery_dir()).empty())
        << "discovery file left after the server exited: " << Join(DiscoveryFiles(r.discovery_dir()));
  }

  std::string skip_reason_;
};

TEST_F(AttachServersTest, RedisWithSystemJemalloc) {
  const Server server = Redis();
  if (!Available(server)) GTEST_SKIP() << skip_reason_;
  RunAndCompare(server, {"jemalloc", "inactive", false});
}

TEST_F(AttachServersTest, RedisWithJemallocProfilingWritesHeapProfile) {
  const Server server = Redis();
  if (!Available(server)) GTEST_SKIP() << skip_reason_;
  RunAndCompare(server, {"jemalloc", "active", true}, {{"MALLOC_CONF", "prof:true"}});
}

TEST_F(AttachServersTest, MemcachedWithGlibcMalloc) {
  const Server server = Memcached();
  if (!Available(server)) GTEST_SKIP() << skip_reason_;
  RunAndCompare(server, {"glibc", "unsupported", false});
}

// ---------------------------------------------------------------------------------------------------------
// nginx: a master that forks its workers, and forks new ones on SIGHUP.

// Kills, by pid, the nginx workers the test saw and that outlived their master (the ChildProcess kills only
// the master).
class WorkerReaper {
 public:
  void Saw(const std::vector<pid_t>& pids) { seen_.insert(pids.begin(), pids.end()); }
  ~WorkerReaper() {
    for (const pid_t pid : seen_) {
      if (ProcessAlive(pid) && ProcessName(pid) == "nginx") ::kill(pid, SIGKILL);
    }
  }

 private:
  std::set<pid_t> seen_;
};

// The master's two workers, once there are exactly two that are not in `old`.
std::vector<pid_t> WaitForWorkers(pid_t master, const std::vector<pid_t>& old, WorkerReaper& reaper) {
  std::vector<pid_t> workers;
  WaitUntil(
      [&] {
        workers.clear();
        for (const pid_t p : ChildPids(master)) {
          if (std::find(old.begin(), old.end(), p) == old.end()) workers.push_back(p);
        }
        reaper.Saw(workers);
        return workers.size() == 2;
      },
      seconds(10));
  return workers;
}

// Exactly one agent: threads named leakwatch* in the master, none in any worker (each worker is
// single-threaded, as without the agent), and one discovery file.
void ExpectOneAgentInMaster(ServerRun& r, const std::vector<pid_t>& workers) {
  const auto master_threads = ThreadNames(r.pid());
  const bool master_has_agent =
      std::any_of(master_threads.begin(), master_threads.end(),
                  [](const std::string& n) { return n.rfind("leakwatch", 0) == 0; });
  EXPECT_TRUE(master_has_agent) << "no leakwatch thread in the master: " << Join(master_threads);
  for (const pid_t w : workers) {
    const auto names = ThreadNames(w);
    EXPECT_EQ(names.size(), 1u) << "worker " << w << " threads: " << Join(names);
    for (const auto& n : names) EXPECT_FALSE(IsAgentThread(n)) << "agent thread " << n << " in worker " << w;
  }
  const auto files = DiscoveryFiles(r.discovery_dir());
  EXPECT_EQ(files, std::vector<std::string>{"leakwatch-" + std::to_string(r.pid()) + ".json"})
      << "discovery files: " << Join(files);
  if (files.size() == 1) {
    auto d = ReadDiscoveryFile(r.discovery_dir() + "/" + files[0]);
    EXPECT_TRUE(d.ok() && d->port == r.agent_port()) << (d.ok() ? d->text : d.error().message);
  }
  auto body = Scrape(r.agent_port());
  ASSERT_TRUE(body.ok()) << "the agent's port does not answer: " << body.error().message;
  // The agent describes the master (a scrape shows the last tick: the first one ran before the agent's HTTP
  // threads existed).
  ExpectConverges("process_threads vs the master's threads", [&]() -> std::optional<std::string> {
    auto again = Scrape(r.agent_port());
    if (!again.ok()) return again.error().message;
    const auto metric = FindSample(*again, "process_threads");
    const auto threads = StatusThreads(r.pid());
    if (metric && threads && *metric == static_cast<double>(*threads)) return std::nullopt;
    return "process_threads " + (metric ? std::to_string(*metric) : std::string("absent")) + ", master " +
           std::to_string(threads.value_or(0));
  });
}

// Whether a worker holds the agent's listening socket (inherited over fork). Reported, not required.
std::string WorkersHoldingAgentSocket(const ServerRun& r, const std::vector<pid_t>& workers) {
  // The listening socket's inode, from the master's /proc/<pid>/net/tcp (local address in hex).
  char hex_port[8];
  std::snprintf(hex_port, sizeof hex_port, "%04X", r.agent_port());
  std::string inode;
  for (const auto& line : SplitLines(ReadText("/proc/" + std::to_string(r.pid()) + "/net/tcp"))) {
    std::istringstream words(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout, ino;
    if (!(words >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> ino))
      continue;
    if (state == "0A" && local.size() > 5 && local.substr(local.size() - 4) == hex_port) inode = ino;
  }
  if (inode.empty()) return "(agent socket not found)";
  std::vector<std::string> holders;
  for (const pid_t w : workers) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(w) + "/fd", ec)) {
      std::error_code ec2;
      if (fs::read_symlink(e.path(), ec2).string() == "socket:[" + inode + "]") {
        holders.push_back(std::to_string(w));
      }
    }
  }
  return holders.empty() ? "none" : Join(holders);
}

TEST_F(AttachServersTest, NginxMasterAndForkedWorkersHaveExactlyOneAgent) {
  const Server server = Nginx();
  if (!Available(server)) GTEST_SKIP() << skip_reason_;
  test_support::TempTree tree;
  WorkerReaper reaper;

  // Without the agent: start, serve, reload (SIGHUP: new workers), serve, quit (SIGQUIT).
  auto plain = ServerRun::Start(server, false, tree, "plain", {});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  const auto plain_workers = WaitForWorkers((*plain)->pid(), {}, reaper);
  ASSERT_EQ(plain_workers.size(), 2u) << (*plain)->stderr_text();
  auto plain_transcript = server.exchange((*plain)->port(), (*plain)->pid());
  ASSERT_TRUE(plain_transcript.ok()) << plain_transcript.error().message << "\n" << (*plain)->stderr_text();
  const auto plain_master_threads = ThreadNames((*plain)->pid());
  (*plain)->child().Signal(SIGHUP);
  const auto plain_reloaded = WaitForWorkers((*plain)->pid(), plain_workers, reaper);
  ASSERT_EQ(plain_reloaded.size(), 2u) << (*plain)->stderr_text();
  auto plain_transcript2 = server.exchange((*plain)->port(), (*plain)->pid());
  ASSERT_TRUE(plain_transcript2.ok()) << plain_transcript2.error().message;
  const Finished plain_end = (*plain)->Stop(server);
  PrintFacts(server.name, "`" + (*plain)->command() + "`: master threads: " + Join(plain_master_threads) +
                              "; workers " + std::to_string(plain_workers[0]) + ", " +
                              std::to_string(plain_workers[1]) + " single-threaded");

  // With the agent.
  auto run = ServerRun::Start(server, true, tree, "agent", {});
  ASSERT_TRUE(run.ok()) << run.error().message;
  ServerRun& r = **run;
  SCOPED_TRACE("`" + r.command() + "` (master " + std::to_string(r.pid()) +
               ", agent on 127.0.0.1:" + std::to_string(r.agent_port()) + ")");
  const auto workers = WaitForWorkers(r.pid(), {}, reaper);
  ASSERT_EQ(workers.size(), 2u) << "the master did not fork two workers; stderr:\n" << r.stderr_text();
  ExpectOneAgentInMaster(r, workers);
  PrintFacts(server.name,
             "with the agent: master threads: " + Join(ThreadNames(r.pid())) + "; workers' threads: " +
                 Join(ThreadNames(workers[0])) + " / " + Join(ThreadNames(workers[1])) +
                 "; workers holding the agent's listening socket: " + WorkersHoldingAgentSocket(r, workers));
  auto transcript = server.exchange(r.port(), r.pid());
  ASSERT_TRUE(transcript.ok()) << transcript.error().message << "\nstderr:\n" << r.stderr_text();
  EXPECT_EQ(*transcript, *plain_transcript) << "the workers answer differently with the agent";
  ExpectMetricsMatchProc(r.pid(), r.agent_port());
  const auto info = AllocatorInfo(r.agent_port());
  PrintFacts(server.name, "leakwatch_allocator_info" + DescribeLabels(info));
  EXPECT_EQ(info.count("allocator") ? info.at("allocator") : "", "glibc") << DescribeLabels(info);

  // Reload: the master forks two new workers, the old ones exit.
  r.child().Signal(SIGHUP);
  const auto reloaded = WaitForWorkers(r.pid(), workers, reaper);
  ASSERT_EQ(reloaded.size(), 2u) << "no new workers after SIGHUP; stderr:\n" << r.stderr_text();
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(workers[0]) && !ProcessAlive(workers[1]); }, seconds(10)))
      << "the old workers did not exit after the reload";
  ASSERT_TRUE(r.child().Running()) << "the master died on SIGHUP; stderr:\n" << r.stderr_text();
  ExpectOneAgentInMaster(r, reloaded);
  auto transcript2 = server.exchange(r.port(), r.pid());
  ASSERT_TRUE(transcript2.ok()) << transcript2.error().message << "\nstderr:\n" << r.stderr_text();
  EXPECT_EQ(*transcript2, *plain_transcript2) << "the new workers answer differently with the agent";
  ExpectMetricsMatchProc(r.pid(), r.agent_port());
  CaptureBundle(r, false);

  const Finished end = r.Stop(server);
  ExpectSameOutcome(server.name, plain_end, end);
  EXPECT_TRUE(DiscoveryFiles(r.discovery_dir()).empty())
      << "discovery file left after nginx exited: " << Join(DiscoveryFiles(r.discovery_dir()));
  for (const pid_t w : reloaded) EXPECT_FALSE(ProcessAlive(w)) << "worker " << w << " outlived the master";
  // nginx reports a worker that crashed ("worker process N exited on signal 11") and its own failures at the
  // alert and emerg levels: none may appear only with the agent.
  std::set<std::string> plain_alerts;
  for (const auto& line : SplitLines(plain_end.stderr_text)) plain_alerts.insert(WithoutDigits(line));
  for (const auto& line : SplitLines(end.stderr_text)) {
    const bool alert =
        line.find("[alert]") != std::string::npos || line.find("[emerg]") != std::string::npos ||
        line.find("[crit]") != std::string::npos || line.find("exited on signal") != std::string::npos;
    if (alert) {
      EXPECT_EQ(plain_alerts.count(WithoutDigits(line)), 1u) << "nginx, only with the agent: " << line;
    }
  }
}

}  // namespace
}  // namespace leakwatch::integration::attach

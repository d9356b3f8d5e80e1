// The bundle egress command: argument and environment passing, exit statuses, timeouts over whole process
// groups (also against commands that ignore SIGTERM or leave processes behind), bounded output, and what the
// child must not inherit from the host (fds, signal mask and dispositions, an agent in LD_PRELOAD). Commands
// are /bin/sh scripts; every run has a timeout, and every wait in the tests is bounded.

#include "agent/bundle/egress_command.h"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/common/block_signals.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::internal {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using test_support::TempTree;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr milliseconds kShortTimeout{400};
constexpr milliseconds kShortGrace{300};
// The bound RunEgressCommand promises is timeout + kill_grace + 0.5s; the tests allow 1s for a loaded
// machine.
constexpr milliseconds kSlack{1000};

EgressCommand Shell(const std::string& script, milliseconds timeout = std::chrono::seconds(20),
                    milliseconds grace = kShortGrace) {
  EgressCommand c;
  c.argv = {"/bin/sh", "-c", script, "sh"};  // the bundle path becomes $1
  c.timeout = timeout;
  c.kill_grace = grace;
  return c;
}

// pids of the processes of group `pgid` that are not zombies (a zombie orphan waits for init, which on some
// machines reaps slowly; it runs nothing).
std::vector<pid_t> LiveMembers(pid_t pgid) {
  std::vector<pid_t> live;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) {
    ADD_FAILURE() << "cannot open /proc";
    return live;
  }
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    // read(), not ifstream: reading the stat of a process that just exited fails with ESRCH, on which
    // libstdc++'s filebuf throws.
    const int fd = open((std::string("/proc/") + e->d_name + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[1024];
    const ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0) continue;
    const std::string text(buf, static_cast<size_t>(n));
    const size_t paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(text.substr(paren + 1));
    char state = 0;
    long ppid = 0;
    long pgrp = 0;
    if (fields >> state >> ppid >> pgrp && pgrp == pgid && state != 'Z' && state != 'X') {
      live.push_back(static_cast<pid_t>(std::atol(e->d_name)));
    }
  }
  closedir(dir);
  return live;
}

// Nothing of the run is left: the leader is gone and reaped, no process of its group runs.
void ExpectNothingLeft(const EgressResult& r) {
  ASSERT_TRUE(r.started);
  ASSERT_GT(r.pid, 0);
  errno = 0;
  EXPECT_EQ(kill(r.pid, 0), -1) << "the command's process " << r.pid << " still exists";
  EXPECT_EQ(errno, ESRCH);
  int status = 0;
  errno = 0;
  EXPECT_EQ(waitpid(r.pid, &status, WNOHANG), -1) << "the command's process was not reaped";
  EXPECT_EQ(errno, ECHILD);
  EXPECT_THAT(LiveMembers(r.pid), ::testing::IsEmpty()) << "processes of the command's group still run";
}

// Sets (or unsets) an environment variable for the scope of one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

class ScopedSignalDisposition {
 public:
  ScopedSignalDisposition(int sig, void (*handler)(int)) : sig_(sig) {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, &old_);
  }
  ~ScopedSignalDisposition() { sigaction(sig_, &old_, nullptr); }

 private:
  int sig_;
  struct sigaction old_ {};
};

// A background subshell that ignores SIGTERM, and a wait (at most 5s) until its trap is set: a SIGTERM sent
// earlier would end it. It creates "<$1>.ready" once ready, $1 being the bundle path.
const std::string kStubbornChild =
    "(trap '' TERM; : >\"$1.ready\"; exec sleep 60) & "
    "i=0; while [ ! -e \"$1.ready\" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; ";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ------------------------------------------------------------------------------------------------------------
// Runs

TEST(EgressCommandTest, PassesArgumentsThenTheBundlePath) {
  ScopedEnv stale("LEAKWATCH_BUNDLE", "/stale/value");
  EgressCommand c;
  c.argv = {"/bin/sh",   "-c",  "printf '[%s]' \"$@\"; printf ' env=%s' \"$LEAKWATCH_BUNDLE\"",
            "sh",        "a b", "",
            "--bucket=x"};
  const EgressResult r = RunEgressCommand(c, "/var/tmp/bundles/20260101T000000.000Z-7-rule x");
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.term_signal);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.stray_processes_killed);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.output,
            "[a b][][--bucket=x][/var/tmp/bundles/20260101T000000.000Z-7-rule x]"
            " env=/var/tmp/bundles/20260101T000000.000Z-7-rule x");
  EXPECT_EQ(r.output_bytes, r.output.size());
  EXPECT_EQ(r.output_dropped_bytes, 0u);
  EXPECT_GT(r.duration.count(), 0);
  EXPECT_LT(r.duration, std::chrono::seconds(10));
  ExpectNothingLeft(r);
  EXPECT_THAT(DescribeEgressResult(c, r),
              MatchesRegex("egress \"/bin/sh\" exited 0 after [0-9]+\\.[0-9]s: \\[a b\\].* env=.*-rule x"));
}

TEST(EgressCommandTest, ReportsANonZeroExitWithTheLastOutputLine) {
  const EgressCommand c = Shell("echo uploading; echo 'upload failed: AccessDenied' >&2; echo; exit 3");
  const EgressResult r = RunEgressCommand(c, "/b");
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.term_signal);
  EXPECT_EQ(r.output, "uploading\nupload failed: AccessDenied\n\n");  // stderr merged in order
  EXPECT_THAT(DescribeEgressResult(c, r),
              MatchesRegex("egress \"/bin/sh\" exited 3 after [0-9]+\\.[0-9]s: upload failed: AccessDenied"));
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, ReportsTheSignalThatKilledIt) {
  const EgressCommand c = Shell("echo bye; kill -USR1 $$; sleep 5");
  const EgressResult r = RunEgressCommand(c, "/b");
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.exit_code);
  EXPECT_EQ(r.term_signal, SIGUSR1);
  EXPECT_FALSE(r.timed_out);
  EXPECT_THAT(DescribeEgressResult(c, r), MatchesRegex("egress \"/bin/sh\" killed by SIGUSR1 after .*: bye"));
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, TimeoutTerminatesTheCommand) {
  const EgressCommand c = Shell("echo waiting; sleep 60", kShortTimeout, kShortGrace);
  const auto start = Clock::now();
  const EgressResult r = RunEgressCommand(c, "/b");
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_GE(took, kShortTimeout);
  EXPECT_LT(took, kShortTimeout + kShortGrace + kSlack) << Seconds(took) << "s";
  EXPECT_EQ(r.output, "waiting\n");
  EXPECT_THAT(DescribeEgressResult(c, r),
              MatchesRegex("egress \"/bin/sh\" timed out \\(0\\.4s\\), ended by SIGTERM after .*: waiting"));
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, TimeoutKillsACommandThatIgnoresSigterm) {
  const EgressCommand c = Shell("trap '' TERM; sleep 60; echo not reached", kShortTimeout, kShortGrace);
  const auto start = Clock::now();
  const EgressResult r = RunEgressCommand(c, "/b");
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_GE(took, kShortTimeout + kShortGrace);
  EXPECT_LT(took, kShortTimeout + kShortGrace + kSlack) << Seconds(took) << "s";
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, CancelEndsTheCommandSoonWithAShortGrace) {
  std::atomic<bool> cancel{false};
  EgressCommand c =
      Shell("trap '' TERM; echo started; sleep 60", std::chrono::seconds(30), std::chrono::seconds(30));
  c.cancel = &cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  const auto start = Clock::now();
  const EgressResult r = RunEgressCommand(c, "/b");
  const auto took = Clock::now() - start;
  stopper.join();
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.term_signal, SIGKILL);  // it ignores SIGTERM: killed after the 500 ms cancel grace, not 30 s
  EXPECT_GE(took, std::chrono::milliseconds(800));
  EXPECT_LT(took, std::chrono::milliseconds(300 + 100 + 500) + kSlack) << Seconds(took) << "s";
  EXPECT_THAT(DescribeEgressResult(c, r), HasSubstr("cancelled (the agent is stopping)"));
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, TimeoutKillsAGrandchildThatHoldsThePipe) {
  // The grandchild ignores SIGTERM and keeps the output pipe open after the shell is gone.
  TempTree tree;
  const EgressCommand c = Shell(kStubbornChild + "sleep 60", kShortTimeout, kShortGrace);
  const auto start = Clock::now();
  const EgressResult r = RunEgressCommand(c, tree.Path("b"));
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGTERM);  // the shell itself did not ignore it
  EXPECT_GE(took, kShortTimeout + kShortGrace);
  EXPECT_LT(took, kShortTimeout + kShortGrace + kSlack) << Seconds(took) << "s";
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, ProcessesLeftRunningAfterTheExitAreStopped) {
  // A long timeout: the run must end on the shell's exit (plus the grace for what it left), not on the
  // timeout.
  TempTree tree;
  const EgressCommand c =
      Shell("sleep 60 & " + kStubbornChild + "echo started; exit 0", std::chrono::seconds(30), kShortGrace);
  const auto start = Clock::now();
  const EgressResult r = RunEgressCommand(c, tree.Path("b"));
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.stray_processes_killed);
  EXPECT_EQ(r.output, "started\n");
  EXPECT_GE(took, kShortGrace);  // one of them ignores SIGTERM
  EXPECT_LT(took, kShortGrace + kSlack) << Seconds(took) << "s";
  EXPECT_THAT(DescribeEgressResult(c, r), HasSubstr("exited 0 after"));
  EXPECT_THAT(DescribeEgressResult(c, r), HasSubstr("(processes it left running were killed): started"));
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, ADaemonWithItsOwnOutputIsStoppedToo) {
  // Nothing holds the pipe: only the group tells that the daemon still runs.
  const EgressCommand c = Shell("sleep 60 >/dev/null 2>&1 & exit 4", std::chrono::seconds(30), kShortGrace);
  const auto start = Clock::now();
  const EgressResult r = RunEgressCommand(c, "/b");
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(r.stray_processes_killed);
  EXPECT_LT(took, kShortGrace + kSlack) << Seconds(took) << "s";
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, AHostThatIsASubreaperIsLeftWithoutZombies) {
  // Like a host that is PID 1 of its container: the command's orphans become its children.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const EgressResult r =
      RunEgressCommand(Shell("sleep 60 & sleep 60 & exit 0", std::chrono::seconds(30), kShortGrace), "/b");
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.stray_processes_killed);
  ExpectNothingLeft(r);
  int status = 0;
  errno = 0;
  EXPECT_EQ(waitpid(-r.pid, &status, WNOHANG), -1) << "a zombie of the command's group was left to the host";
  EXPECT_EQ(errno, ECHILD);
}

TEST(EgressCommandTest, AProcessThatLeftTheGroupDoesNotHoldTheRunPastItsBound) {
  // setsid takes the grandchild out of reach (documented); it prints its pid so that the test can end it.
  const EgressCommand c = Shell("/usr/bin/setsid /bin/sh -c 'echo $$; exec sleep 60' & sleep 0.2; exit 0",
                                std::chrono::seconds(30), kShortGrace);
  const auto start = Clock::now();
  const EgressResult r = RunEgressCommand(c, "/b");
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(took, std::chrono::milliseconds(200) + kShortGrace + milliseconds(500) + kSlack)
      << Seconds(took) << "s";
  const pid_t escaped = static_cast<pid_t>(std::atol(r.output.c_str()));
  ASSERT_GT(escaped, 1) << r.output;
  EXPECT_EQ(kill(escaped, SIGKILL), 0) << "the escaped process should still be running";
}

TEST(EgressCommandTest, ACommandWritingWithoutPauseStillTimesOut) {
  EgressCommand c;
  c.argv = {"/usr/bin/yes"};
  c.timeout = kShortTimeout;
  c.kill_grace = kShortGrace;
  c.max_output_bytes = 1000;
  const auto start = Clock::now();
  const EgressResult r = RunEgressCommand(c, "y");
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(took, kShortTimeout + kShortGrace + kSlack) << Seconds(took) << "s";
  EXPECT_GT(r.output_dropped_bytes, 0u);
  EXPECT_EQ(r.output_bytes, 500 + 500 + r.output_dropped_bytes);
  EXPECT_THAT(r.output, StartsWith("y\ny\n"));
  ExpectNothingLeft(r);
}

TEST(EgressCommandTest, HugeOutputKeepsItsHeadAndTail) {
  EgressCommand c = Shell("/usr/bin/seq 1 200000");
  c.max_output_bytes = 1001;  // odd: 500 bytes of head, 501 of tail
  const EgressResult r = RunEgressCommand(c, "/b");
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.ok());
  std::string full;
  for (int i = 1; i <= 200000; ++i) full += std::to_string(i) + "\n";
  ASSERT_EQ(r.output_bytes, full.size());
  EXPECT_EQ(r.output_dropped_bytes, full.size() - 1001);
  const std::string head = full.substr(0, 500);
  const std::string tail = full.substr(full.size() - 501);
  const std::string marker = "[... " + std::to_string(full.size() - 1001) + " bytes dropped ...]\n";
  EXPECT_EQ(r.output, head + (head.back() == '\n' ? "" : "\n") + marker + tail);
  EXPECT_THAT(DescribeEgressResult(c, r), HasSubstr(": 200000"));
}

TEST(EgressCommandTest, OutputExactlyAtTheLimitIsKeptWhole) {
  EgressCommand c = Shell("printf 0123456789");
  c.max_output_bytes = 10;
  const EgressResult r = RunEgressCommand(c, "/b");
  EXPECT_EQ(r.output, "0123456789");
  EXPECT_EQ(r.output_dropped_bytes, 0u);
  c.max_output_bytes = 0;
  const EgressResult none = RunEgressCommand(c, "/b");
  EXPECT_EQ(none.output, "[... 10 bytes dropped ...]\n");
  EXPECT_EQ(none.output_dropped_bytes, 10u);
  EXPECT_TRUE(none.ok());
}

TEST(EgressCommandTest, MissingExecutableIsAClearError) {
  EgressCommand c;
  c.argv = {"/nonexistent/bin/ship-bundle", "--bucket", "x"};
  const EgressResult r = RunEgressCommand(c, "/b");
  EXPECT_FALSE(r.started);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "cannot run \"/nonexistent/bin/ship-bundle\": No such file or directory");
  EXPECT_FALSE(r.exit_code);
  EXPECT_EQ(DescribeEgressResult(c, r),
            "egress: cannot run \"/nonexistent/bin/ship-bundle\": No such file or directory");
}

TEST(EgressCommandTest, NonExecutableFileIsAClearError) {
  TempTree tree;
  const std::string path = tree.Write("ship", "#!/bin/sh\nexit 0\n");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  EgressCommand c;
  c.argv = {path};
  const EgressResult r = RunEgressCommand(c, "/b");
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.error, "cannot run \"" + path + "\": Permission denied");  // root too needs an x bit
}

TEST(EgressCommandTest, EmptyArgvIsAnErrorNotACrash) {
  const EgressResult r = RunEgressCommand(EgressCommand{}, "/b");
  EXPECT_FALSE(r.started);
  EXPECT_THAT(r.error, HasSubstr("argv is empty"));
}

TEST(EgressCommandTest, NoExceptionEscapes) {
  EgressCommand c = Shell("exit 0");
  c.max_output_bytes = SIZE_MAX;  // the capture buffer cannot be made (std::length_error, nothing allocated)
  const EgressResult r = RunEgressCommand(c, "/b");
  EXPECT_FALSE(r.started);
  EXPECT_THAT(r.error, StartsWith("egress command failed: "));
}

TEST(EgressCommandTest, NoFdOfTheHostReachesTheCommand) {
  TempTree tree;
  const std::string secret = tree.Write("host-secret-file", "x");
  const int plain = open(secret.c_str(), O_RDONLY);  // no O_CLOEXEC, as a careless host would
  ASSERT_GE(plain, 0);
  const int high = fcntl(plain, F_DUPFD, 100);  // also no FD_CLOEXEC
  ASSERT_GE(high, 100);
  EgressCommand c = Shell("exec /bin/ls -l /proc/self/fd");
  const EgressResult r = RunEgressCommand(c, "/b");
  close(plain);
  close(high);
  ASSERT_TRUE(r.ok()) << DescribeEgressResult(c, r) << "\n" << r.output;
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("host-secret-file"))) << r.output;
  std::set<std::string> fds;
  std::string stdin_target;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    const size_t arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    const size_t name = line.rfind(' ', arrow - 1);
    const std::string fd = line.substr(name + 1, arrow - name - 1);
    fds.insert(fd);
    if (fd == "0") stdin_target = line.substr(arrow + 4);
  }
  // 3 is the directory ls reads.
  EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", "3"})) << r.output;
  EXPECT_EQ(stdin_target, "/dev/null");
}

TEST(EgressCommandTest, HostStdioClosedDoesNotBreakTheRedirections) {
  // A daemon that closed its stdin and stdout gets the pipe as fds 0 and 1; the child must still write to it
  // on 1 and 2 and read /dev/null on 0.
  const int saved_in = dup(0);
  const int saved_out = dup(1);
  ASSERT_GE(saved_in, 0);
  ASSERT_GE(saved_out, 0);
  close(0);
  close(1);
  const EgressResult r = RunEgressCommand(Shell("echo out; echo err >&2; cat"), "/b");
  dup2(saved_in, 0);
  dup2(saved_out, 1);
  close(saved_in);
  close(saved_out);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.output, "out\nerr\n");
}

TEST(EgressCommandTest, TheCommandGetsAnEmptySignalMaskAndDefaultDispositions) {
  // As on the bundle worker: every signal blocked; and a host that ignores SIGPIPE and SIGHUP.
  ScopedSignalDisposition pipe(SIGPIPE, SIG_IGN);
  ScopedSignalDisposition hup(SIGHUP, SIG_IGN);
  EgressResult r;
  std::string caller_mask;
  {
    ScopedBlockAllSignals block;
    std::ifstream in("/proc/thread-self/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("SigBlk:", 0) == 0) caller_mask = line;
    }
    r = RunEgressCommand(Shell("exec /bin/grep -E '^Sig(Blk|Ign):' /proc/self/status"), "/b");
  }
  ASSERT_NE(caller_mask, "SigBlk:\t0000000000000000") << "the test did not block signals";
  ASSERT_TRUE(r.ok()) << r.error << r.output;
  EXPECT_EQ(r.output, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(EgressCommandTest, TheAgentIsRemovedFromLdPreload) {
  {
    ScopedEnv preload("LD_PRELOAD", "/opt/leakwatch/lib/libleakwatch.so libc.so.6");
    const EgressResult r = RunEgressCommand(Shell("printf '%s' \"$LD_PRELOAD\""), "/b");
    ASSERT_TRUE(r.ok()) << r.error << r.output;
    EXPECT_EQ(r.output, "libc.so.6");  // an unremoved, missing library would also make ld.so complain here
  }
  {
    ScopedEnv preload("LD_PRELOAD", "/opt/leakwatch/lib/libleakwatch_preload.so");
    const EgressResult r = RunEgressCommand(Shell("printf '%s' \"${LD_PRELOAD-unset}\""), "/b");
    ASSERT_TRUE(r.ok()) << r.error << r.output;
    EXPECT_EQ(r.output, "unset");
  }
}

TEST(EgressCommandTest, AHostThatIgnoresSigchldGetsAnUnknownStatusNotAHang) {
  // SIGCHLD ignored: the kernel reaps children itself and waitpid() has nothing to collect.
  ScopedSignalDisposition chld(SIGCHLD, SIG_IGN);
  const auto start = Clock::now();
  const EgressCommand c = Shell("echo done; exit 0");
  const EgressResult r = RunEgressCommand(c, "/b");
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.exit_code);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error, HasSubstr("collected elsewhere"));
  EXPECT_EQ(r.output, "done\n");
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_THAT(DescribeEgressResult(c, r), HasSubstr("ended with an unknown status after"));
}

TEST(EgressCommandTest, ConcurrentRunsKeepTheirOwnChildren) {
  EgressResult a;
  EgressResult b;
  std::thread ta([&] { a = RunEgressCommand(Shell("sleep 0.1; echo \"$1\""), "first"); });
  std::thread tb([&] { b = RunEgressCommand(Shell("echo \"$1\"; exit 1"), "second"); });
  ta.join();
  tb.join();
  EXPECT_EQ(a.output, "first\n");
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(b.output, "second\n");
  EXPECT_EQ(b.exit_code, 1);
}

// ------------------------------------------------------------------------------------------------------------
// Environment

TEST(EgressEnvironmentTest, AddsTheBundleAndFiltersThePreload) {
  const char* env[] = {"PATH=/usr/bin:/bin",
                       "LEAKWATCH_BUNDLE=/old",
                       "LD_PRELOAD=/usr/lib/libjemalloc.so.2:/opt/lw/libleakwatch.so",
                       "LEAKWATCH_CONFIG=/etc/leakwatch.yaml",
                       "NOEQUALS",
                       nullptr};
  EXPECT_EQ(EgressEnvironment(env, "/bundles/b1"),
            (std::vector<std::string>{"PATH=/usr/bin:/bin", "LD_PRELOAD=/usr/lib/libjemalloc.so.2",
                                      "LEAKWATCH_CONFIG=/etc/leakwatch.yaml", "NOEQUALS",
                                      "LEAKWATCH_BUNDLE=/bundles/b1"}));
  const char* only_agent[] = {"LD_PRELOAD=libleakwatch.so", nullptr};
  EXPECT_EQ(EgressEnvironment(only_agent, "/b"), (std::vector<std::string>{"LEAKWATCH_BUNDLE=/b"}));
  EXPECT_EQ(EgressEnvironment(nullptr, "/b"), (std::vector<std::string>{"LEAKWATCH_BUNDLE=/b"}));
}

TEST(EgressEnvironmentTest, StripAgentFromPreload) {
  EXPECT_EQ(StripAgentFromPreload(""), "");
  EXPECT_EQ(StripAgentFromPreload("/usr/lib/libleakwatch.so"), "");
  EXPECT_EQ(StripAgentFromPreload("libleakwatch_preload.so.0"), "");
  EXPECT_EQ(StripAgentFromPreload("/a/libjemalloc.so.2 /opt/libleakwatch.so:/b/libx.so"),
            "/a/libjemalloc.so.2:/b/libx.so");
  EXPECT_EQ(StripAgentFromPreload("  /opt/libleakwatch.so::\t"), "");
  // Unchanged (separators included) when nothing names the agent; a directory name does not count.
  EXPECT_EQ(StripAgentFromPreload("/a/liba.so /b/libb.so"), "/a/liba.so /b/libb.so");
  EXPECT_EQ(StripAgentFromPreload("/libleakwatch/libother.so"), "/libleakwatch/libother.so");
}

// ------------------------------------------------------------------------------------------------------------
// Validation

TEST(ValidateEgressCommandTest, AcceptsASaneCommand) {
  EgressCommand c;
  c.argv = {"/usr/local/bin/ship-bundle", "--bucket", "x"};
  EXPECT_TRUE(ValidateEgressCommand(c).ok());
  c.kill_grace = milliseconds(0);
  c.timeout = std::chrono::seconds(1);
  c.max_output_bytes = 0;
  EXPECT_TRUE(ValidateEgressCommand(c).ok());
  c.timeout = std::chrono::hours(1);
  c.kill_grace = std::chrono::seconds(60);
  c.max_output_bytes = 16 << 20;
  EXPECT_TRUE(ValidateEgressCommand(c).ok());
}

TEST(ValidateEgressCommandTest, NamesTheFieldAndTheValue) {
  const auto error = [](const EgressCommand& c) {
    const Status st = ValidateEgressCommand(c);
    return st.ok() ? std::string("<ok>") : st.error().message;
  };
  EgressCommand c;
  EXPECT_THAT(error(c), StartsWith("bundle.egress.command: empty; give the program's absolute path"));
  c.argv = {"ship-bundle"};
  EXPECT_EQ(error(c),
            "bundle.egress.command[0]: \"ship-bundle\" is not an absolute path (there is no PATH search)");
  c.argv = {""};
  EXPECT_EQ(error(c), "bundle.egress.command[0]: \"\" is not an absolute path (there is no PATH search)");
  c.argv = {"/bin/ship", std::string("a\0b", 3)};
  EXPECT_EQ(error(c), "bundle.egress.command[1]: holds a NUL byte");
  c.argv = {"/bin/ship"};
  c.timeout = milliseconds(999);
  EXPECT_EQ(error(c), "bundle.egress.timeout: 999ms is outside 1s .. 1h");
  c.timeout = std::chrono::hours(2);
  EXPECT_EQ(error(c), "bundle.egress.timeout: 7200000ms is outside 1s .. 1h");
  c.timeout = std::chrono::seconds(60);
  c.kill_grace = milliseconds(-1);
  EXPECT_EQ(error(c), "bundle.egress.kill_grace: -1ms is outside 0s .. 60s");
  c.kill_grace = milliseconds(60'001);
  EXPECT_EQ(error(c), "bundle.egress.kill_grace: 60001ms is outside 0s .. 60s");
  c.kill_grace = std::chrono::seconds(2);
  c.max_output_bytes = (16 << 20) + 1;
  EXPECT_EQ(error(c), "bundle.egress.max_output_bytes: 16777217 is above 16777216 (16MiB)");
}

TEST(ValidateEgressCommandTest, ReportsEveryProblemUnderTheGivenField) {
  EgressCommand c;
  c.argv = {"ship"};
  c.timeout = milliseconds(0);
  c.kill_grace = std::chrono::hours(1);
  const Status st = ValidateEgressCommand(c, "bundles.on_written");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "bundles.on_written.command[0]: \"ship\" is not an absolute path (there is no PATH search)\n"
            "bundles.on_written.timeout: 0ms is outside 1s .. 1h\n"
            "bundles.on_written.kill_grace: 3600000ms is outside 0s .. 60s");
}

// ------------------------------------------------------------------------------------------------------------
// Description

TEST(DescribeEgressResultTest, OneLineForEveryOutcome) {
  EgressCommand c;
  c.argv = {"/bin/ship"};
  c.timeout = std::chrono::seconds(60);
  EgressResult r;
  r.started = true;
  r.pid = 42;
  r.duration = std::chrono::milliseconds(62'040);
  r.timed_out = true;
  r.term_signal = SIGKILL;
  r.output = "part 1/3\npart 2/3\n";
  EXPECT_EQ(DescribeEgressResult(c, r),
            "egress \"/bin/ship\" timed out (60.0s), ended by SIGKILL after 62.0s: part 2/3");

  r.timed_out = false;
  r.term_signal.reset();
  r.output.clear();
  r.duration = std::chrono::milliseconds(1234);
  r.error = "the exit status was collected elsewhere in the process (waitpid: No child processes)";
  EXPECT_EQ(DescribeEgressResult(c, r),
            "egress \"/bin/ship\" ended with an unknown status after 1.2s (the exit status was collected "
            "elsewhere in the process (waitpid: No child processes))");
}

TEST(DescribeEgressResultTest, TheOutputLineStaysOneShortLine) {
  EgressCommand c;
  c.argv = {"/bin/ship"};
  EgressResult r;
  r.started = true;
  r.exit_code = 1;
  r.output = "first\n  " + std::string(300, 'x') + "\n\n \n";
  std::string d = DescribeEgressResult(c, r);
  EXPECT_EQ(d, "egress \"/bin/ship\" exited 1 after 0.0s: " + std::string(200, 'x'));
  r.output = "a\tb\rc\x1b[31md\n";
  d = DescribeEgressResult(c, r);
  EXPECT_EQ(d, "egress \"/bin/ship\" exited 1 after 0.0s: a b c [31md");
  // A cut never splits a UTF-8 character.
  r.output = std::string(199, 'x') + "\xc3\xa9" + "tail";
  d = DescribeEgressResult(c, r);
  EXPECT_EQ(d, "egress \"/bin/ship\" exited 1 after 0.0s: " + std::string(199, 'x'));
}

}  // namespace
}  // namespace leakwatch::internal

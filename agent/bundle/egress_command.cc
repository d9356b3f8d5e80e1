#include "agent/bundle/egress_command.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>

extern char** environ;

namespace leakwatch::internal {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// After SIGKILL: how long the group gets to die and the leader to be reaped.
constexpr milliseconds kKillMargin{500};
// Poll intervals when no fd can say that something happened: the leader's exit without a pidfd, and
// processes of the group that closed the pipe but are still running (each check may scan /proc).
constexpr milliseconds kLeaderTick{20};
constexpr milliseconds kGroupTick{100};
constexpr milliseconds kCancelTick{100};   // how often a cancel request is looked at
constexpr milliseconds kCancelGrace{500};  // SIGTERM to SIGKILL once cancelled
constexpr size_t kReadChunk = 16 * 1024;
// A command that writes without pause must not keep the loop from its deadlines.
constexpr int kMaxReadsPerWakeup = 64;
constexpr size_t kMaxDescribedLine = 200;

std::string Why(int err) {
  const char* text = strerrordesc_np(err);  // unlike strerror, thread-safe
  return text != nullptr ? text : "error " + std::to_string(err);
}

void SleepFor(milliseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>(d.count() % 1000) * 1'000'000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

class SpawnAttr {
 public:
  SpawnAttr() : rc_(posix_spawnattr_init(&attr_)) {}
  ~SpawnAttr() {
    if (rc_ == 0) posix_spawnattr_destroy(&attr_);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  int init_error() const { return rc_; }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
  int rc_;
};

class FileActions {
 public:
  FileActions() : rc_(posix_spawn_file_actions_init(&actions_)) {}
  ~FileActions() {
    if (rc_ == 0) posix_spawn_file_actions_destroy(&actions_);
  }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  int init_error() const { return rc_; }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
  int rc_;
};

// Children that did not die within kKillMargin of SIGKILL (stuck in uninterruptible sleep): reaped by a
// later run, so that a stuck child never makes a run wait past its bound, nor stays a zombie for good.
struct Deferred {
  std::mutex mu;
  std::vector<pid_t> pids;
};
Deferred& DeferredChildren() {
  static auto* deferred = new Deferred;  // never destroyed: may be used while the host exits
  return *deferred;
}

void Defer(pid_t pid) noexcept {
  try {
    Deferred& d = DeferredChildren();
    std::lock_guard lock(d.mu);
    d.pids.push_back(pid);
  } catch (...) {  // out of memory: the zombie stays until the host exits
  }
}

void ReapDeferred() {
  Deferred& d = DeferredChildren();
  std::lock_guard lock(d.mu);
  std::erase_if(d.pids, [](pid_t pid) {
    int status;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    return r == pid || (r < 0 && errno == ECHILD);
  });
}

// Whether a process of group `pgid` is still running. kill(-pgid, 0) also finds zombies, which an init that
// reaps slowly can keep for seconds: when it finds something, /proc tells whether any of it is alive.
bool GroupRunning(pid_t pgid) {
  if (::kill(-pgid, 0) != 0) return errno == EPERM;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return true;
  bool running = false;
  while (!running) {
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    char path[288];  // "/proc/" + d_name (up to 255) + "/stat"
    std::snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    const char* rest = std::strrchr(buf, ')');  // comm may hold ')'; the fields after it are numbers
    char state = 0;
    long ppid = 0;
    long pgrp = 0;
    if (rest != nullptr && std::sscanf(rest + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
        state != 'Z' && state != 'X') {
      running = true;
    }
  }
  ::closedir(dir);
  return running;
}

// The first half of the stream and a ring of its last half. The memory is reserved up front (Append never
// allocates) but not written to, so its pages cost nothing until output arrives.
class OutputCapture {
 public:
  explicit OutputCapture(size_t max) : head_cap_(max / 2), tail_cap_(max - max / 2) {
    head_.reserve(head_cap_);
    tail_ = std::make_unique_for_overwrite<char[]>(tail_cap_);
  }

  void Append(const char* data, size_t n) {
    total_ += n;
    const size_t to_head = std::min(n, head_cap_ - head_.size());
    head_.append(data, to_head);
    data += to_head;
    n -= to_head;
    if (n == 0 || tail_cap_ == 0) return;
    if (n > tail_cap_) {
      data += n - tail_cap_;
      n = tail_cap_;
    }
    while (n > 0) {
      const size_t k = std::min(n, tail_cap_ - tail_pos_);
      std::memcpy(tail_.get() + tail_pos_, data, k);
      tail_pos_ = (tail_pos_ + k) % tail_cap_;
      tail_len_ = std::min(tail_cap_, tail_len_ + k);
      data += k;
      n -= k;
    }
  }

  uint64_t total() const { return total_; }
  uint64_t dropped() const { return total_ - head_.size() - tail_len_; }

  std::string Text() const {
    std::string out = head_;
    if (dropped() > 0) {
      if (!out.empty() && out.back() != '\n') out += '\n';
      out += "[... " + std::to_string(dropped()) + " bytes dropped ...]\n";
    }
    if (tail_len_ == tail_cap_) {  // full: the oldest byte is where the next one goes
      out.append(tail_.get() + tail_pos_, tail_cap_ - tail_pos_);
      out.append(tail_.get(), tail_pos_);
    } else {
      out.append(tail_.get(), tail_len_);
    }
    return out;
  }

 private:
  const size_t head_cap_;
  const size_t tail_cap_;
  std::string head_;
  std::unique_ptr<char[]> tail_;
  size_t tail_pos_ = 0;
  size_t tail_len_ = 0;
  uint64_t total_ = 0;
};

// The spawned process until it is reaped. On an early exit (an exception) the destructor kills its group and
// reaps it, or defers the reaping.
struct Child {
  pid_t pid = -1;
  bool reaped = false;  // by us, or found gone (ECHILD)

  ~Child() {
    if (pid <= 0 || reaped) return;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);  // in case it left its group
    const auto give_up = Clock::now() + kKillMargin;
    for (;;) {
      int status;
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid || (r < 0 && errno == ECHILD)) return;
      if (Clock::now() >= give_up) break;
      SleepFor(milliseconds(10));
    }
    Defer(pid);
  }
};

void RecordStatus(int status, EgressResult* result) {
  if (WIFEXITED(status)) result->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result->term_signal = WTERMSIG(status);
}

void Signal(const Child& child, int sig) {
  ::kill(-child.pid, sig);
  if (!child.reaped) ::kill(child.pid, sig);  // in case it left its group
}

// Collects the leader's status, and the group's members re-parented to this process: a host that is PID 1
// of its container, or a subreaper, inherits the command's orphans and may never wait for them.
void Reap(Child* child, EgressResult* result) {
  int status = 0;
  for (int i = 0; i < 1024; ++i) {
    const pid_t r = ::waitpid(-child->pid, &status, WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (r == child->pid && !child->reaped) {
      child->reaped = true;
      RecordStatus(status, result);
    }
  }
  if (child->reaped) return;
  pid_t r;
  do {
    r = ::waitpid(child->pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == child->pid) {
    child->reaped = true;
    RecordStatus(status, result);
  } else if (r < 0) {
    const int err = errno;
    child->reaped = true;  // someone else collected it (a SIGCHLD handler of the host, or SIGCHLD ignored)
    result->error = "the exit status was collected elsewhere in the process (waitpid: " + Why(err) + ")";
  }
}

// Reads what the pipe holds; returns false at end of file (or on a read error, which ends the output too).
bool Drain(int fd, OutputCapture* capture) {
  char buf[kReadChunk];
  for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      capture->Append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  return true;
}

void Run(const EgressCommand& command, const std::string& bundle_path, EgressResult* result) {
  const std::string exe = command.argv.empty() ? std::string() : command.argv[0];
  const auto fail = [&](const std::string& why) { result->error = "cannot run \"" + exe + "\": " + why; };
  if (command.argv.empty()) {
    result->error = "cannot run the egress command: its argv is empty";
    return;
  }
  if (bundle_path.find('\0') != std::string::npos) return fail("the bundle path holds a NUL byte");
  ReapDeferred();

  // Everything is allocated before the spawn: once there is a child, only its reaping is left to fail.
  std::vector<std::string> args = command.argv;
  args.push_back(bundle_path);
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = EgressEnvironment(environ, bundle_path);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  OutputCapture capture(command.max_output_bytes);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail("cannot create a pipe: " + Why(errno));
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);
  // On the read end only (its own open file description): the child's writes must block on a full pipe.
  if (::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) return fail("cannot set up the pipe: " + Why(errno));

  SpawnAttr attr;
  FileActions actions;
  if (attr.init_error() != 0) return fail(Why(attr.init_error()));
  if (actions.init_error() != 0) return fail(Why(actions.init_error()));
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  // Every bit, not sigfillset(): that leaves out glibc's internal signals (32, 33), which glibc's spawn then
  // sets to SIG_IGN in the child, and an ignored signal stays ignored across exec.
  std::memset(&all, 0xff, sizeof all);
  int rc = posix_spawnattr_setflags(attr.get(),
                                    POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0) rc = posix_spawnattr_setpgroup(attr.get(), 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(attr.get(), &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(attr.get(), &all);
  // The dup2s come before the open of fd 0: a host that closed its stdio may have been given the pipe as
  // one of the fds 0..2 (a dup2 onto the fd itself clears its O_CLOEXEC in glibc).
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(actions.get(), write_end.get(), STDOUT_FILENO);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(actions.get(), write_end.get(), STDERR_FILENO);
  if (rc == 0) rc = posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // Not every fd of the host is O_CLOEXEC (its sockets, its files): none may reach the command.
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1);
  if (rc != 0) return fail(Why(rc));

  const auto start = Clock::now();
  Child child;
  rc = ::posix_spawn(&child.pid, argv[0], actions.get(), attr.get(), argv.data(), envp.data());
  if (rc != 0) {  // glibc has reaped a child whose exec failed
    child.pid = -1;
    return fail(Why(rc));
  }
  write_end.reset();  // the pipe now ends when the child and its descendants close it
  result->started = true;
  result->pid = child.pid;
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so the syscall is made directly. No pidfd before Linux 5.3
  // (or under a seccomp filter): the leader is then polled on a tick.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0)));

  // Clamped so that the deadlines cannot overflow; ValidateEgressCommand keeps configs far below.
  const auto timeout = std::clamp<milliseconds>(command.timeout, milliseconds(0), std::chrono::hours(24));
  const auto kill_grace =
      std::clamp<milliseconds>(command.kill_grace, milliseconds(0), std::chrono::hours(24));
  enum class Phase { kRunning, kStopping, kKilled };
  Phase phase = Phase::kRunning;
  auto phase_end = start + timeout;
  bool pipe_open = true;
  for (;;) {
    Reap(&child, result);
    if (child.reaped && !pipe_open && !GroupRunning(child.pid)) break;
    const auto now = Clock::now();
    const bool cancel =
        command.cancel != nullptr && command.cancel->load(std::memory_order_relaxed) && !child.reaped;
    if (phase == Phase::kRunning && (child.reaped || now >= phase_end || cancel)) {
      if (cancel && now < phase_end) {
        result->cancelled = true;
      } else if (!child.reaped) {
        result->timed_out = true;
      } else if (GroupRunning(child.pid)) {
        result->stray_processes_killed = true;
      }
      if (result->timed_out || result->cancelled || result->stray_processes_killed) {
        Signal(child, SIGTERM);
        Signal(child, SIGCONT);
      }
      // Also after a clean exit: the rest of the output, or a process outside the group holding the pipe.
      phase = Phase::kStopping;
      phase_end = now + (result->cancelled ? std::min<milliseconds>(kill_grace, kCancelGrace) : kill_grace);
      continue;
    }
    if (phase == Phase::kStopping && now >= phase_end) {
      // Only to a group known to be alive: once empty, its number may be reused by an unrelated group.
      if (!child.reaped || GroupRunning(child.pid)) Signal(child, SIGKILL);
      phase = Phase::kKilled;
      phase_end = now + kKillMargin;
      continue;
    }
    if (phase == Phase::kKilled && now >= phase_end) break;

    pollfd pfds[2];
    nfds_t n = 0;
    int pipe_index = -1;
    int pidfd_index = -1;
    if (pipe_open) {
      pipe_index = static_cast<int>(n);
      pfds[n++] = {read_end.get(), POLLIN, 0};
    }
    if (!child.reaped && pidfd.get() >= 0) {
      pidfd_index = static_cast<int>(n);
      pfds[n++] = {pidfd.get(), POLLIN, 0};
    }
    auto wait = phase_end - now;
    if (!child.reaped && pidfd_index < 0) wait = std::min<Clock::duration>(wait, kLeaderTick);
    if (child.reaped && !pipe_open) wait = std::min<Clock::duration>(wait, kGroupTick);
    if (command.cancel != nullptr) wait = std::min<Clock::duration>(wait, kCancelTick);
    const int wait_ms =
        static_cast<int>(std::min<int64_t>(std::chrono::ceil<milliseconds>(wait).count(), 60'000));
    const int ready = ::poll(pfds, n, wait_ms);
    if (ready < 0) {
      if (errno != EINTR) SleepFor(kLeaderTick);  // ENOMEM: do not spin
      continue;
    }
    if (pipe_index >= 0 && pfds[pipe_index].revents != 0) pipe_open = Drain(read_end.get(), &capture);
    if (pidfd_index >= 0 && (pfds[pidfd_index].revents & POLLIN) != 0) {
      Reap(&child, result);
      if (!child.reaped) pidfd.reset();  // exited but not yet waitable: fall back to ticks, do not spin
    }
  }
  Reap(&child, result);
  if (!child.reaped) {
    result->error = "the process did not exit within " + std::to_string(kKillMargin.count()) +
                    "ms of SIGKILL; it is reaped later";
    Defer(child.pid);
    child.reaped = true;
  }
  read_end.reset();
  result->duration = Clock::now() - start;
  result->output_bytes = capture.total();
  result->output_dropped_bytes = capture.dropped();
  result->output = capture.Text();
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string Seconds(std::chrono::nanoseconds d) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

// The last non-blank line of `output`, on one line and at most kMaxDescribedLine bytes.
std::string LastLine(std::string_view output) {
  size_t end = output.size();
  while (end > 0 && std::isspace(static_cast<unsigned char>(output[end - 1]))) --end;
  if (end == 0) return {};
  const size_t newline = output.rfind('\n', end - 1);
  size_t begin = newline == std::string_view::npos ? 0 : newline + 1;
  while (begin < end && std::isspace(static_cast<unsigned char>(output[begin]))) ++begin;
  if (end - begin > kMaxDescribedLine) {
    end = begin + kMaxDescribedLine;
    while (end > begin && (static_cast<unsigned char>(output[end]) & 0xC0) == 0x80) --end;  // whole UTF-8
  }
  std::string line(output.substr(begin, end - begin));
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return line;
}

}  // namespace

Status ValidateEgressCommand(const EgressCommand& command, std::string_view field) {
  const std::string f(field);
  const auto ms = [](milliseconds d) { return std::to_string(d.count()) + "ms"; };
  std::vector<std::string> errors;
  if (command.argv.empty()) {
    errors.push_back(f +
                     ".command: empty; give the program's absolute path and its first arguments, e.g. "
                     "[\"/usr/local/bin/ship-bundle\", \"--bucket\", \"x\"] (the bundle path is appended)");
  } else if (command.argv[0].empty() || command.argv[0][0] != '/') {
    errors.push_back(f + ".command[0]: \"" + command.argv[0] +
                     "\" is not an absolute path (there is no PATH search)");
  }
  for (size_t i = 0; i < command.argv.size(); ++i) {
    if (command.argv[i].find('\0') != std::string::npos) {
      errors.push_back(f + ".command[" + std::to_string(i) + "]: holds a NUL byte");
    }
  }
  if (command.timeout < std::chrono::seconds(1) || command.timeout > std::chrono::hours(1)) {
    errors.push_back(f + ".timeout: " + ms(command.timeout) + " is outside 1s .. 1h");
  }
  if (command.kill_grace < milliseconds(0) || command.kill_grace > std::chrono::seconds(60)) {
    errors.push_back(f + ".kill_grace: " + ms(command.kill_grace) + " is outside 0s .. 60s");
  }
  if (command.max_output_bytes > (size_t{16} << 20)) {
    errors.push_back(f + ".max_output_bytes: " + std::to_string(command.max_output_bytes) +
                     " is above 16777216 (16MiB)");
  }
  if (errors.empty()) return OkStatus();
  std::string joined;
  for (const auto& e : errors) {
    if (!joined.empty()) joined += '\n';
    joined += e;
  }
  return Error{joined};
}

EgressResult RunEgressCommand(const EgressCommand& command, const std::string& bundle_path) noexcept {
  EgressResult result;
  try {
    Run(command, bundle_path, &result);
  } catch (const std::exception& e) {
    try {
      result.error = std::string("egress command failed: ") + e.what();
    } catch (...) {  // out of memory: an empty error, but no exception reaches the host
    }
  } catch (...) {
    try {
      result.error = "egress command failed: unknown exception";
    } catch (...) {
    }
  }
  return result;
}

std::string DescribeEgressResult(const EgressCommand& command, const EgressResult& result) {
  if (!result.started) return "egress: " + result.error;
  const std::string exe = command.argv.empty() ? std::string() : command.argv[0];
  std::string out = "egress \"" + exe + "\" ";
  const std::string after = " after " + Seconds(result.duration);
  if (result.timed_out || result.cancelled) {
    out += result.cancelled ? "cancelled (the agent is stopping)"
                            : "timed out (" + Seconds(command.timeout) + ")";
    if (result.term_signal) {
      out += ", ended by " + SignalName(*result.term_signal) + after;
    } else if (result.exit_code) {
      out += ", exited " + std::to_string(*result.exit_code) + after;
    } else {
      out += after;
    }
  } else if (result.exit_code) {
    out += "exited " + std::to_string(*result.exit_code) + after;
  } else if (result.term_signal) {
    out += "killed by " + SignalName(*result.term_signal) + after;
  } else {
    out += "ended with an unknown status" + after;
  }
  if (result.stray_processes_killed) out += " (processes it left running were killed)";
  if (!result.error.empty()) out += " (" + result.error + ")";
  const std::string line = LastLine(result.output);
  if (!line.empty()) out += ": " + line;
  return out;
}

std::vector<std::string> EgressEnvironment(const char* const* env, std::string_view bundle_path) {
  std::vector<std::string> out;
  for (; env != nullptr && *env != nullptr; ++env) {
    const std::string_view var(*env);
    if (var.starts_with("LEAKWATCH_BUNDLE=")) continue;
    if (var.starts_with("LD_PRELOAD=")) {
      const std::string kept = StripAgentFromPreload(var.substr(11));
      if (!kept.empty()) out.push_back("LD_PRELOAD=" + kept);
      continue;
    }
    out.emplace_back(var);
  }
  out.push_back("LEAKWATCH_BUNDLE=" + std::string(bundle_path));
  return out;
}

std::string StripAgentFromPreload(std::string_view value) {
  std::string out;
  bool removed = false;
  size_t i = 0;
  while (i < value.size()) {
    const size_t end = value.find_first_of(": \t", i);
    const std::string_view entry = value.substr(i, end == std::string_view::npos ? end : end - i);
    i = end == std::string_view::npos ? value.size() : end + 1;
    if (entry.empty()) continue;
    const size_t slash = entry.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? entry : entry.substr(slash + 1);
    if (name.starts_with("libleakwatch")) {
      removed = true;
      continue;
    }
    if (!out.empty()) out += ':';
    out += entry;
  }
  return removed ? out : std::string(value);
}

}  // namespace leakwatch::internal

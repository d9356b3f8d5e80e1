#include "tests/integration/child_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace leakwatch::integration {
namespace {

using Clock = std::chrono::steady_clock;

// Written by the child to the error pipe when something fails between fork and exec.
struct ChildFailure {
  int stage;  // 1: cgroup.procs, 2: exec, 3: redirections
  int err;
};

// Async-signal-safe decimal formatting (the child may only call such functions between fork and exec).
size_t FormatPid(pid_t pid, char* out) {
  char tmp[16];
  size_t n = 0;
  auto v = static_cast<unsigned long>(pid);
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  return n;
}

[[noreturn]] void ChildFail(int error_fd, int stage) {
  const ChildFailure f{stage, errno};
  (void)!write(error_fd, &f, sizeof f);
  _exit(127);
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const ChildOptions& options) {
  if (options.argv.empty()) return Error{"ChildProcess::Spawn: empty argv"};
  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls are allowed.
  std::vector<std::string> env_strings;
  // A variable the caller sets replaces the parent's (getenv returns the first match, so both cannot stay).
  const auto overridden = [&options](const char* entry) {
    for (const auto& [k, v] : options.env) {
      if (std::strncmp(entry, k.c_str(), k.size()) == 0 && entry[k.size()] == '=') return true;
    }
    return false;
  };
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LEAKWATCH_", 10) != 0 && !overridden(*e)) env_strings.emplace_back(*e);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const std::string stderr_path = options.stderr_path.empty() ? "/dev/null" : options.stderr_path;

  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2] = {-1, -1};
  if (options.stdin_pipe && pipe2(in_pipe, O_CLOEXEC) != 0) {
    return Error{std::string("pipe2: ") + std::strerror(errno)};
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Error{std::string("pipe2: ") + std::strerror(errno)};
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return Error{std::string("pipe2: ") + std::strerror(errno)};
  }
  const int stderr_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (stderr_fd < 0) {
    return Error{"cannot open " + stderr_path + ": " + std::strerror(errno)};
  }

  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[0]);
    close(err_pipe[1]);
    close(stderr_fd);
    return Error{std::string("fork: ") + std::strerror(err)};
  }
  if (pid == 0) {
    if (!options.cgroup_procs.empty()) {
      char buf[16];
      const size_t n = FormatPid(getpid(), buf);
      const int fd = open(options.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, buf, n) != static_cast<ssize_t>(n)) ChildFail(err_pipe[1], 1);
      close(fd);
    }
    const int null_fd = options.stdin_pipe ? in_pipe[0] : open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(stderr_fd, 2) < 0) {
      ChildFail(err_pipe[1], 3);
    }
    // Nothing of the test process (sockets it holds, gtest's files) leaks into the child.
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv[0], argv.data(), envp.data());
    ChildFail(err_pipe[1], 2);
  }

  close(out_pipe[1]);
  close(err_pipe[1]);
  close(stderr_fd);
  if (in_pipe[0] >= 0) close(in_pipe[0]);
  std::unique_ptr<ChildProcess> child(new ChildProcess(pid, out_pipe[0], in_pipe[1], options.stderr_path));
  // The error pipe is close-on-exec: EOF means exec succeeded; a record means the child failed before it.
  ChildFailure failure{};
  ssize_t n;
  do {
    n = read(err_pipe[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    child->WaitExit(std::chrono::seconds(5));
    const char* stage = failure.stage == 1   ? "writing the child's pid to "
                        : failure.stage == 2 ? "exec of "
                                             : "redirecting stdio for ";
    const std::string what = failure.stage == 1 ? options.cgroup_procs : options.argv[0];
    return Error{std::string(stage) + what + " failed: " + std::strerror(failure.err)};
  }
  return child;
}

ChildProcess::~ChildProcess() {
  Kill();
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (stdin_fd_ >= 0) close(stdin_fd_);
}

Status ChildProcess::WriteStdin(std::string_view text) {
  if (stdin_fd_ < 0) return Error{"the child was started without a stdin pipe (ChildOptions::stdin_pipe)"};
  while (!text.empty()) {
    const ssize_t n = write(stdin_fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{std::string("write to the child's stdin: ") + std::strerror(errno)};
    text.remove_prefix(static_cast<size_t>(n));
  }
  return OkStatus();
}

Result<std::string> ChildProcess::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (const auto nl = stdout_buffer_.find('\n'); nl != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, nl);
      stdout_buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Error{"no line on the child's stdout within " + std::to_string(timeout.count()) +
                   " ms; stderr so far:\n" + Stderr()};
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) return Error{std::string("poll: ") + std::strerror(errno)};
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno != EINTR) return Error{std::string("read: ") + std::strerror(errno)};
    if (n == 0) {
      std::string how = "still running";
      if (auto st = WaitExit(std::chrono::seconds(2))) how = DescribeWaitStatus(*st);
      return Error{"the child closed its stdout before printing a line (" + how + "); stderr:\n" + Stderr()};
    }
    if (n > 0) stdout_buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<int> ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = status;
      return exit_status_;
    }
    if (r < 0 && errno != EINTR) {
      // Not our child any more (should not happen): treat as gone.
      exit_status_ = -1;
      return exit_status_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool ChildProcess::Running() { return !WaitExit(std::chrono::milliseconds(0)).has_value(); }

void ChildProcess::Signal(int sig) {
  if (!exit_status_) kill(pid_, sig);
}

void ChildProcess::Kill() {
  if (exit_status_) return;
  kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  exit_status_ = status;
}

std::string ChildProcess::Stderr() const {
  if (stderr_path_.empty()) return "";
  std::ifstream in(stderr_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DescribeWaitStatus(int status) {
  if (status == -1) return "not a child of this process";
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  }
  return "wait status " + std::to_string(status);
}

}  // namespace leakwatch::integration

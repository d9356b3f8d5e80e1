#pragma once
// ChildProcess: a real child (fork + exec) for integration tests, killed and reaped when the object dies, so
// a failing test never leaves a process behind.
//
// Thread-safety: none; one test thread owns a ChildProcess.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::integration {

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is the path of the executable
  // Set in the child's environment, over the parent's (from which every LEAKWATCH_* variable is removed, so
  // the caller's shell cannot change what a test sees).
  std::vector<std::pair<std::string, std::string>> env;
  // When set, the child writes its own pid to this file (a cgroup.procs) after fork and before exec, so the
  // program starts inside that cgroup.
  std::string cgroup_procs;
  // The child's stderr goes to this file (truncated); its stdout is a pipe read with ReadLine().
  std::string stderr_path;
  // The child's stdin: a pipe written with WriteStdin() when set, else /dev/null.
  bool stdin_pipe = false;
};

class ChildProcess {
 public:
  // Fails when fork/exec fail or the cgroup.procs write fails (the message names which and why).
  static Result<std::unique_ptr<ChildProcess>> Spawn(const ChildOptions& options);

  // Kill(): SIGKILL and waitpid, unless the child was already reaped.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Reads one line (without '\n') from the child's stdout, waiting at most `timeout`.
  Result<std::string> ReadLine(std::chrono::milliseconds timeout);

  // Waits at most `timeout` for the child to exit; returns its waitpid status (use WIFEXITED etc.) or nullopt
  // on timeout. After an exit was returned, further calls return the same status.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);

  // True while the child has not exited (reaps it if it just did).
  bool Running();

  // Writes to the child's stdin (ChildOptions::stdin_pipe); fails when there is no pipe or the child closed
  // it.
  Status WriteStdin(std::string_view text);

  // Sends `sig` to the child (no-op once reaped).
  void Signal(int sig);

  // SIGKILL and reap. Idempotent.
  void Kill();

  // What the child wrote to stderr so far.
  std::string Stderr() const;

 private:
  ChildProcess(pid_t pid, int stdout_fd, int stdin_fd, std::string stderr_path)
      : pid_(pid), stdout_fd_(stdout_fd), stdin_fd_(stdin_fd), stderr_path_(std::move(stderr_path)) {}

  pid_t pid_;
  int stdout_fd_;
  int stdin_fd_;  // -1 without ChildOptions::stdin_pipe
  std::string stderr_path_;
  std::string stdout_buffer_;
  std::optional<int> exit_status_;
};

// Describes a waitpid status: "exited with 0", "killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int status);

}  // namespace leakwatch::integration

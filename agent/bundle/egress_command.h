#pragma once
// The bundle egress command: an operator's program run after an incident bundle is complete, with the
// bundle's path as its last argument, so that bundles can be shipped off the machine (object storage, a
// ticket) by the operator's own tool, e.g. ["/usr/local/bin/ship-bundle", "--bucket", "x"].
//
// The command runs inside the host process's neighbourhood, so it is started and bounded with care:
// - posix_spawn, never fork(): glibc spawns with CLONE_VM|CLONE_VFORK, so no page table is copied and a
//   huge or nearly out-of-memory host is not doubled by copy-on-write.
// - The child gets an empty signal mask and default signal dispositions whatever the calling thread has
//   (the bundle worker blocks every signal; hosts often ignore SIGPIPE), stdin from /dev/null, stdout and
//   stderr merged into one pipe, and no other file descriptor of the host.
// - Its environment is the host's plus LEAKWATCH_BUNDLE=<bundle path>, with the LD_PRELOAD entries that name
//   a libleakwatch* library removed, so the command never runs an agent of its own.
// - It runs in a process group of its own (pgid = its pid). After `timeout` the whole group gets SIGTERM
//   (then SIGCONT, so that stopped members can act on it), and SIGKILL `kill_grace` later. When the command
//   exits, members of its group still running are stopped the same way (like systemd's oneshot units):
//   a command that leaves a daemon behind does not leave it in the host's cgroup.
// - The child is always reaped, also on every error path, and so are the group's orphans when the host
//   inherits them (as PID 1 of a container, or a subreaper). A child stuck in uninterruptible sleep past
//   SIGKILL is not waited for: a later run reaps it.
//
// Not covered: a process that leaves the group (setsid) cannot be signalled; if it keeps the output pipe
// open, reading stops kill_grace + 0.5 s after the command exits. The command shares the host's cgroup: its
// memory counts against the host's limit.
//
// Thread-safety: RunEgressCommand may be called from several threads at once (each call runs its own
// child). It reads `environ`: a host thread calling setenv() at the same moment is a data race in the host
// (as with any exec). The other functions are pure.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::internal {

struct EgressCommand {
  // The executable (an absolute path: no PATH search) and its first arguments; the bundle path is appended.
  std::vector<std::string> argv;
  // From the start until the process group is sent SIGTERM.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  // From SIGTERM until SIGKILL.
  std::chrono::milliseconds kill_grace{std::chrono::seconds(2)};
  // Output (stdout and stderr merged) kept: the first half and the last half of this many bytes.
  size_t max_output_bytes = 64 * 1024;
  // Optional: when it becomes true (checked at least every 100 ms) the command is ended as at its timeout,
  // with a grace of at most 500 ms (the agent stopping must not wait for a slow upload).
  const std::atomic<bool>* cancel = nullptr;
};

// Checks `command` for use by RunEgressCommand: argv non-empty, argv[0] an absolute path, no NUL byte in an
// argument, timeout in 1s .. 1h, kill_grace in 0 .. 60s, max_output_bytes at most 16 MiB. Every problem is
// reported, one per line, each naming `field` and the value: `bundle.egress.command[0]: "ship" is not an
// absolute path (there is no PATH search)`. Does not look at the filesystem: a missing executable is
// reported when the command is run.
Status ValidateEgressCommand(const EgressCommand& command, std::string_view field = "bundle.egress");

struct EgressResult {
  // False when the command could not be started; `error` then says why, e.g.
  // `cannot run "/x/y": No such file or directory`, and nothing below is set.
  bool started = false;
  std::string error;
  // The child's pid, which is also its process group id. Meaningful when started; for diagnosis only (the
  // number may belong to another process once the result is returned).
  pid_t pid = 0;
  // How the command ended: exactly one is set, or neither when the exit status could not be collected
  // (`error` then says why: e.g. the host reaps every child itself, or the process did not die after
  // SIGKILL).
  std::optional<int> exit_code;
  std::optional<int> term_signal;
  // The command was still running at `timeout` (and was then terminated).
  bool timed_out = false;
  // `cancel` ended the command before it finished.
  bool cancelled = false;
  // The command exited while other processes of its group were still running; they were terminated.
  bool stray_processes_killed = false;
  // From just before the spawn until the child was reaped and the output read.
  std::chrono::nanoseconds duration{0};
  // stdout and stderr as one stream, bounded by max_output_bytes: when longer, its head and tail around a
  // line "[... <n> bytes dropped ...]".
  std::string output;
  uint64_t output_bytes = 0;          // the whole stream's length
  uint64_t output_dropped_bytes = 0;  // left out of `output`

  // The command exited with status 0 before its timeout.
  bool ok() const { return started && !timed_out && !cancelled && exit_code == 0; }
};

// Runs `command` with `bundle_path` appended to its argv and LEAKWATCH_BUNDLE=<bundle_path> in its
// environment, and waits for it. Blocks the calling thread for at most timeout + kill_grace + 0.5 s (the last
// part waits for SIGKILL to take effect). Cost: memory for max_output_bytes (reserved up front, touched only
// as output arrives) and copies of argv and the environment; one pipe and one pidfd while the command runs;
// a scan of /proc (one small read per process) about every 100 ms while processes the command left behind
// are being stopped. Never throws: every failure is described in the result. Logging the result is the
// caller's job (see DescribeEgressResult).
EgressResult RunEgressCommand(const EgressCommand& command, const std::string& bundle_path) noexcept;

// One line for a log: `egress "/bin/ship" exited 3 after 1.2s: <last line of output>`, or
// `... killed by SIGKILL after ...`, `... timed out after ...`, `egress: cannot run "/x/y": ...`. The output
// line is cut at 200 bytes and control characters are replaced, so the line stays one line.
std::string DescribeEgressResult(const EgressCommand& command, const EgressResult& result);

// The environment the command gets: `env` (a NULL-terminated array, like the global `environ`) without
// any LEAKWATCH_BUNDLE variable, with the LD_PRELOAD value filtered by StripAgentFromPreload (and left out
// when nothing remains), plus LEAKWATCH_BUNDLE=<bundle_path>.
std::vector<std::string> EgressEnvironment(const char* const* env, std::string_view bundle_path);

// An LD_PRELOAD value (entries separated by ':' or blanks, as the dynamic loader reads it) without the
// entries whose file name starts with "libleakwatch", the rest joined with ':'; `value` itself when no entry
// names leakwatch.
std::string StripAgentFromPreload(std::string_view value);

}  // namespace leakwatch::internal

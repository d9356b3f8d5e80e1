// leakwatch: the command-line tool (docs/CLI.md). Dispatches to the subcommands in cli/commands.h.
#include <cstdio>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "leakwatch/version.h"

namespace leakwatch::cli {
namespace {

constexpr const char* kHelp =
    R"(usage: leakwatch <command> [OPTIONS] [ARGS...]
       leakwatch --version | --help

commands:
  run [OPTIONS] [--] PROGRAM [ARGS...]   run PROGRAM with the agent preloaded (LD_PRELOAD, exec in place)
  check-config FILE                      validate a config file exactly as the agent would
  status [ADDR]                          a running agent: process, cgroup, allocator, every rule's state
  capture [ADDR]                         ask a running agent for an incident bundle now
  incidents [ADDR] [BUNDLE]              list its bundles, one bundle's files, or --get BUNDLE/FILE

`leakwatch <command> --help` describes each command's options. ADDR is host:port, :port, port or
http://host:port (default: LEAKWATCH_ADDR, else 127.0.0.1:9860).

exit status:
  0     success
  1     failure: agent unreachable, HTTP error, invalid config
  2     usage error (unknown option, missing argument; all commands but run)
  3     status: the agent answered and a rule is firing
  4     capture: the agent held the bundle back (rate limit, queue full, low disk)
  run:  PROGRAM's own exit status; 125 leakwatch's own error (PROGRAM not started); 126 PROGRAM cannot be
        executed; 127 PROGRAM not found

docs/CLI.md has the details and examples.
)";

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kHelp, stderr);
    return kExitUsage;
  }
  const std::string_view command = argv[1];
  const Args args(argv + 2, argv + argc);
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (command == "--version" || command == "version") {
    std::printf("leakwatch %s\n", LEAKWATCH_VERSION);
    return kExitOk;
  }
  if (command == "run") return RunCommand(args);
  if (command == "check-config") return CheckConfigCommand(args);
  if (command == "status") return StatusCommand(args);
  if (command == "capture") return CaptureCommand(args);
  if (command == "incidents") return IncidentsCommand(args);
  std::fprintf(stderr,
               "leakwatch: unknown command \"%s\"\nusage: leakwatch <command> [OPTIONS] [ARGS...]\n"
               "try leakwatch --help\n",
               std::string(command).c_str());
  return kExitUsage;
}

}  // namespace leakwatch::cli

int main(int argc, char** argv) { return leakwatch::cli::Main(argc, argv); }

#pragma once
// The subcommands of the `leakwatch` command; each takes its arguments after the subcommand's name and
// returns the exit code (cli/exit_codes.h). `run` returns only when it could not exec the program.

#include <string>
#include <vector>

namespace leakwatch::cli {

using Args = std::vector<std::string>;

int RunCommand(const Args& args);
int CheckConfigCommand(const Args& args);
int StatusCommand(const Args& args);
int CaptureCommand(const Args& args);
int IncidentsCommand(const Args& args);

// Prints "<usage line>\ntry leakwatch <command> --help" after the problem, to stderr; returns `code`.
int UsageError(const std::string& command, const std::string& usage_line, const std::string& problem,
               int code);

}  // namespace leakwatch::cli

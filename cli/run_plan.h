#pragma once
// `leakwatch run`: from the command line to what gets exec'd (the program's argv and environment), with
// every check made before the program starts. Pure apart from reading the files the options name (config,
// token, web config) and, through RunContext, the file system.
//
// Thread-safety: PlanRun is reentrant.

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace leakwatch::cli {

struct RunContext {
  std::vector<std::string> environ;                     // leakwatch's own environment, "NAME=value"
  std::string cwd;                                      // for making paths absolute
  std::string exe_dir;                                  // directory of /proc/self/exe
  std::string multiarch;                                // CMAKE_LIBRARY_ARCHITECTURE
  std::function<bool(const std::string&)> file_exists;  // a regular file (the preload library)
  // Why LD_PRELOAD would not work for the resolved program, or nullopt (CheckProgram).
  std::function<std::optional<std::string>(const std::string&)> check_program;
};

struct RunPlan {
  bool help = false;                  // --help: print the help, exit 0
  bool usage_error = false;           // problems[0] is a usage problem (print the usage line too)
  std::vector<std::string> problems;  // non-empty: print them all, exit 125, do not start the program
  std::vector<std::string> argv;      // PROGRAM [ARGS...]
  std::vector<std::string> env;       // the program's environment
};

RunPlan PlanRun(const std::vector<std::string>& args, const RunContext& context);

// `environ` with each (name, value) of `changes` applied: a value replaces or adds NAME, nullopt removes it.
// Order is kept; new variables are appended in the order of `changes`.
std::vector<std::string> ApplyEnvChanges(
    const std::vector<std::string>& environ,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& changes);

// The value of NAME in `environ`, or nullopt.
std::optional<std::string> FindEnv(const std::vector<std::string>& environ, const std::string& name);

extern const char* const kRunUsage;
extern const char* const kRunHelp;

}  // namespace leakwatch::cli

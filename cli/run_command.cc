// `leakwatch run`: plans (cli/run_plan.h), then execs the program in place of leakwatch.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/preload.h"
#include "cli/program_check.h"
#include "cli/run_plan.h"

#ifndef LEAKWATCH_LIBRARY_ARCH
#define LEAKWATCH_LIBRARY_ARCH ""
#endif

namespace leakwatch::cli {
namespace {

std::string ExeDir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

std::string Cwd() {
  std::error_code ec;
  const auto cwd = std::filesystem::current_path(ec);
  return ec ? std::string("/") : cwd.string();
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

int RunCommand(const Args& args) {
  RunContext context;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) context.environ.emplace_back(*e);
  context.cwd = Cwd();
  context.exe_dir = ExeDir();
  context.multiarch = LEAKWATCH_LIBRARY_ARCH;
  context.file_exists = IsRegularFile;
  context.check_program = CheckProgram;

  RunPlan plan = PlanRun(args, context);
  if (plan.help) {
    std::fputs(kRunHelp, stdout);
    return kExitOk;
  }
  if (plan.usage_error) return UsageError("run", kRunUsage, plan.problems.front(), kExitRunError);
  if (!plan.problems.empty()) {
    for (const std::string& problem : plan.problems)
      std::fprintf(stderr, "leakwatch run: %s\n", problem.c_str());
    std::fprintf(stderr, "leakwatch run: %s not started (%zu problem%s)\n", plan.argv.front().c_str(),
                 plan.problems.size(), plan.problems.size() == 1 ? "" : "s");
    return kExitRunError;
  }
  std::vector<char*> argv = CStrings(plan.argv);
  std::vector<char*> envp = CStrings(plan.env);
  std::fflush(stdout);
  std::fflush(stderr);
  ::execvpe(argv[0], argv.data(), envp.data());
  const int err = errno;
  const bool not_found = err == ENOENT || err == ENOTDIR;
  std::fprintf(stderr, "leakwatch run: cannot execute %s: %s%s\n", plan.argv.front().c_str(),
               std::strerror(err),
               not_found && plan.argv.front().find('/') == std::string::npos ? " (searched PATH)" : "");
  return not_found ? kExitNotFound : kExitCannotRun;
}

}  // namespace leakwatch::cli

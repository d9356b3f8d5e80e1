#include "cli/run_plan.h"

#include <set>

#include "agent/attach/attach_settings.h"
#include "agent/config/config.h"
#include "cli/args.h"
#include "cli/format.h"
#include "cli/preload.h"
#include "cli/program_check.h"
#include "exporters/prometheus/web_config.h"

namespace leakwatch::cli {

const char* const kRunUsage = "usage: leakwatch run [OPTIONS] [--] PROGRAM [ARGS...]";

const char* const kRunHelp =
    R"(usage: leakwatch run [OPTIONS] [--] PROGRAM [ARGS...]

Runs PROGRAM with the leakwatch agent preloaded (LD_PRELOAD): leakwatch checks the options, sets the
environment and execs PROGRAM in its own place, so PROGRAM keeps leakwatch's PID, gets its signals directly
and its exit status is the command's. The options below become the agent's environment variables; the
first argument that is not an option (or the one after --) is PROGRAM.

options:
  --config FILE         LEAKWATCH_CONFIG: the agent's YAML config (validated first, as check-config does)
  --listen ADDR         LEAKWATCH_LISTEN: host:port of the metrics endpoint (127.0.0.1:9860, :9860, off)
  --period DUR          LEAKWATCH_PERIOD: sampling period (500ms, 1s, 5s)
  --log-level LEVEL     LEAKWATCH_LOG_LEVEL: trace, debug, info, warn, error, critical, off
  --token-file FILE     LEAKWATCH_DEBUG_TOKEN_FILE: bearer token of /debug/leakwatch/* (capture, incidents)
  --fork MODE           LEAKWATCH_FORK: which side of a fork() keeps the agent: parent or children
  --child-listen ADDR   LEAKWATCH_CHILD_LISTEN: the endpoint of forked children (with --fork children)
  --discovery-dir DIR   LEAKWATCH_DISCOVERY_DIR: where each agent announces its address
  --inherit             LEAKWATCH_EXEC=inherit: programs PROGRAM execs keep the agent (default: they
                        start clean; LEAKWATCH_EXEC is removed from the environment)
  --preload PATH        the preload library (default: LEAKWATCH_PRELOAD, else libleakwatch_preload.so in
                        <bin>/../lib, <bin>/../lib/leakwatch or <bin>/../lib/<multiarch>)
  -h, --help            this help

The library's absolute path goes first in LD_PRELOAD; entries already there are kept after it (but not
another copy of the library). Paths given to --config, --token-file and --discovery-dir are made absolute.

Refused before anything runs (exit 125, see docs/ATTACH.md): a statically linked PROGRAM (no dynamic
loader) and a set-user-ID/set-group-ID PROGRAM or one with file capabilities (the loader ignores
LD_PRELOAD in secure-execution mode). Scripts (#!) are fine.

exit status:
  PROGRAM's own       once PROGRAM runs, leakwatch is gone: its exit status or signal is PROGRAM's
  125                 leakwatch's own error (bad option, invalid config, no preload library, refused
                      PROGRAM); every problem is printed, PROGRAM is not started
  126                 PROGRAM was found but could not be executed
  127                 PROGRAM was not found

examples:
  leakwatch run -- ./my-service --port 8080
  leakwatch run --listen 127.0.0.1:9860 --config /etc/leakwatch.yml -- /usr/bin/python3 app.py
)";

namespace {

const std::vector<OptionSpec>& RunOptions() {
  static const std::vector<OptionSpec> kSpecs = {
      {"--config", true, ""},       {"--listen", true, ""},        {"--period", true, ""},
      {"--log-level", true, ""},    {"--token-file", true, ""},    {"--fork", true, ""},
      {"--child-listen", true, ""}, {"--discovery-dir", true, ""}, {"--inherit", false, ""},
      {"--preload", true, ""},      {"--help", false, "-h"},
  };
  return kSpecs;
}

bool IsLogLevel(const std::string& level) {
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  return kLevels.count(level) != 0;
}

}  // namespace

std::optional<std::string> FindEnv(const std::vector<std::string>& environ, const std::string& name) {
  for (const std::string& entry : environ) {
    if (entry.size() > name.size() && entry[name.size()] == '=' && entry.compare(0, name.size(), name) == 0) {
      return entry.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

std::vector<std::string> ApplyEnvChanges(
    const std::vector<std::string>& environ,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& changes) {
  std::vector<std::string> out;
  std::set<std::string> done;
  const auto change_of = [&changes](std::string_view name) -> const std::optional<std::string>* {
    const std::optional<std::string>* found = nullptr;
    for (const auto& [n, v] : changes) {
      if (n == name) found = &v;  // the last change of a name wins
    }
    return found;
  };
  for (const std::string& entry : environ) {
    const size_t eq = entry.find('=');
    const std::string name = entry.substr(0, eq);
    const auto* change = change_of(name);
    if (change == nullptr) {
      out.push_back(entry);
    } else if (!done.count(name)) {
      done.insert(name);
      if (*change) out.push_back(name + "=" + **change);
    }
  }
  for (const auto& [name, value] : changes) {
    if (done.count(name)) continue;
    done.insert(name);
    const auto* change = change_of(name);
    if (*change) out.push_back(name + "=" + **change);
  }
  return out;
}

RunPlan PlanRun(const std::vector<std::string>& args, const RunContext& context) {
  RunPlan plan;
  auto parsed = ParseArgs(args, RunOptions(), /*stop_at_positional=*/true);
  if (!parsed) {
    plan.usage_error = true;
    plan.problems.push_back(parsed.error().message);
    return plan;
  }
  if (parsed->has("--help")) {
    plan.help = true;
    return plan;
  }
  if (parsed->rest.empty() || parsed->rest[0].empty()) {
    plan.usage_error = true;
    plan.problems.push_back("missing PROGRAM");
    return plan;
  }
  plan.argv = parsed->rest;
  auto& problems = plan.problems;

  std::vector<std::pair<std::string, std::optional<std::string>>> changes;
  std::set<std::string> rejected;  // variables whose option was rejected here (not checked again below)
  const auto set_var = [&](const std::string& option, const std::string& var, bool is_path,
                           const std::function<std::optional<std::string>(const std::string&)>& check) {
    const auto value = parsed->get(option);
    if (!value) return;
    std::optional<std::string> problem =
        value->empty() ? std::optional<std::string>("must not be empty") : check(*value);
    if (problem) {
      problems.push_back(option + ": " + *problem);
      rejected.insert(var);
      return;
    }
    changes.emplace_back(var, is_path ? MakeAbsolute(*value, context.cwd) : *value);
  };
  const auto no_check = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  const auto listen_check = [](const std::string& v) -> std::optional<std::string> {
    auto parsed_listen = internal::ParseListen(v);
    if (!parsed_listen) return parsed_listen.error().message;
    return std::nullopt;
  };
  const auto fork_check = [](const std::string& v) -> std::optional<std::string> {
    if (v == "parent" || v == "children") return std::nullopt;
    return "value \"" + v + "\" is not parent or children";
  };
  set_var("--config", "LEAKWATCH_CONFIG", true, no_check);
  set_var("--listen", "LEAKWATCH_LISTEN", false, listen_check);
  set_var("--period", "LEAKWATCH_PERIOD", false, [](const std::string& v) -> std::optional<std::string> {
    if (internal::ParseDuration(v)) return std::nullopt;
    return "value \"" + v + "\" is not a duration like 500ms, 1s or 5s (the period is 100ms .. 60s)";
  });
  set_var("--log-level", "LEAKWATCH_LOG_LEVEL", false,
          [](const std::string& v) -> std::optional<std::string> {
            if (IsLogLevel(v)) return std::nullopt;
            return "value \"" + v + "\" is not one of trace, debug, info, warn, error, critical, off";
          });
  set_var("--token-file", "LEAKWATCH_DEBUG_TOKEN_FILE", true, no_check);
  set_var("--fork", "LEAKWATCH_FORK", false, fork_check);
  set_var("--child-listen", "LEAKWATCH_CHILD_LISTEN", false, listen_check);
  set_var("--discovery-dir", "LEAKWATCH_DISCOVERY_DIR", true, no_check);
  changes.emplace_back("LEAKWATCH_EXEC",
                       parsed->has("--inherit") ? std::optional<std::string>("inherit") : std::nullopt);

  const PreloadSearch search{.option = parsed->get("--preload"),
                             .env = FindEnv(context.environ, "LEAKWATCH_PRELOAD"),
                             .exe_dir = context.exe_dir,
                             .multiarch = context.multiarch,
                             .cwd = context.cwd};
  const auto library = FindPreloadLibrary(search, context.file_exists);
  if (!library) {
    problems.push_back(library.error().message);
  } else if (library->find_first_of(" :\t\n") != std::string::npos) {
    problems.push_back("the preload library's path \"" + *library +
                       "\" holds a space or a colon, which separate LD_PRELOAD entries; move or link it");
  } else {
    changes.emplace_back("LD_PRELOAD", ComposeLdPreload(*library, FindEnv(context.environ, "LD_PRELOAD")));
  }
  plan.env = ApplyEnvChanges(context.environ, changes);

  // What the agent will read from this environment (inherited variables included), checked by the agent's
  // own parsers: the attach settings (fork, exec, discovery), then the whole configuration.
  const internal::EnvLookup lookup = [&plan, &rejected](const char* name) -> std::optional<std::string> {
    if (rejected.count(name)) return std::nullopt;
    return FindEnv(plan.env, name);
  };
  if (auto attach = internal::ReadAttachSettings(lookup); !attach) {
    for (std::string& line : NonEmptyLines(attach.error().message)) problems.push_back(std::move(line));
  }
  AgentOptions program;
  program.use_environment = true;
  const auto resolved = internal::ResolveConfig(program, lookup, std::nullopt, internal::KnownActionNames());
  if (!resolved) {
    for (std::string& line : NonEmptyLines(resolved.error().message)) problems.push_back(std::move(line));
  } else if (!resolved->options.http.web_config_file.empty()) {
    if (auto web = exporters::LoadWebConfig(resolved->options.http.web_config_file); !web) {
      problems.push_back("http.web_config_file: " + web.error().message);
    }
  }

  if (const auto path = ResolveProgram(plan.argv[0], FindEnv(context.environ, "PATH"))) {
    if (auto why = context.check_program(*path)) {
      problems.push_back("refusing to run " + *why + " (see docs/ATTACH.md for the other ways to attach)");
    }
  }
  return plan;
}

}  // namespace leakwatch::cli

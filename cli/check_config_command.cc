// `leakwatch check-config FILE`: the file validated exactly as the agent would at start-up.
#include <cstdio>
#include <string>

#include "agent/common/file_reader.h"
#include "agent/config/config.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/format.h"
#include "exporters/prometheus/web_config.h"

namespace leakwatch::cli {
namespace {

constexpr const char* kUsage = "usage: leakwatch check-config [OPTIONS] FILE";

void PrintHelp() {
  std::printf(
      "%s\n\n"
      "Validates a leakwatch YAML config file (docs/CONFIG.md) exactly as the agent does at start-up: every\n"
      "key and value, the rules (compiled against the agent's actions), the web config file and the debug\n"
      "token file it names (read from here: relative paths are taken from the current directory, and the\n"
      "files must be readable by this user). The environment (LEAKWATCH_*) is not applied.\n\n"
      "Every problem is printed to stderr, one per line (file:line:column: field: value and why); a valid\n"
      "file gets a summary on stdout: period, listener, rules, bundle directory.\n\n"
      "options:\n"
      "  -h, --help   this help\n\n"
      "exit status:\n"
      "  0   valid\n"
      "  1   invalid, or the file cannot be read\n"
      "  2   usage error\n\n"
      "example:\n"
      "  leakwatch check-config /etc/leakwatch/leakwatch.yml && systemctl restart my-service\n",
      kUsage);
}

std::string Summary(const std::string& file, const internal::ResolvedConfig& config) {
  const AgentOptions& o = config.options;
  std::vector<std::vector<std::string>> rows;
  rows.push_back(
      {"period", FormatDuration(o.period) + " (slow period " + FormatDuration(o.slow_period) + ")"});
  const auto listen = internal::ParseListen(o.http.listen);
  rows.push_back({"listen", listen && listen->off
                                ? std::string("off (no HTTP endpoint)")
                                : o.http.listen + " (metrics at " + o.http.metrics_path + ")"});
  if (!o.http.web_config_file.empty()) {
    rows.push_back({"web config", o.http.web_config_file + " (basic auth on /metrics and /status)"});
  }
  rows.push_back({"debug token", o.http.debug_token_file.empty()
                                     ? std::string("none (/debug/leakwatch/* answer 403)")
                                     : o.http.debug_token_file + " (capture and incidents enabled)"});
  std::string names;
  size_t enabled = 0;
  for (const auto& rule : config.rules.rules) {
    if (!names.empty()) names += ", ";
    names += rule->name;
    if (rule->enabled) {
      ++enabled;
    } else {
      names += " (disabled)";
    }
  }
  rows.push_back({"rules", std::to_string(config.rules.rules.size()) + " (" + std::to_string(enabled) +
                               " enabled" + (o.rules.defaults ? ", defaults included" : ", no defaults") +
                               "): " + (names.empty() ? std::string("none") : names)});
  rows.push_back({"bundle dir", o.bundle.dir + " (at most " + std::to_string(o.bundle.max_bundles) +
                                    " bundles, " + FormatBytes(static_cast<double>(o.bundle.max_bytes)) +
                                    ")"});
  rows.push_back({"log", o.log.level + " to " + o.log.sink + (o.log.json ? " (JSON)" : "")});
  return file + ": valid\n" + RenderTable(rows);
}

}  // namespace

int CheckConfigCommand(const Args& args) {
  const auto parsed = ParseArgs(args, {{"--help", false, "-h"}});
  if (!parsed) return UsageError("check-config", kUsage, parsed.error().message, kExitUsage);
  if (parsed->has("--help")) {
    PrintHelp();
    return kExitOk;
  }
  if (parsed->positional.empty()) return UsageError("check-config", kUsage, "missing FILE", kExitUsage);
  if (parsed->positional.size() > 1) {
    return UsageError("check-config", kUsage, "unexpected argument \"" + parsed->positional[1] + "\"",
                      kExitUsage);
  }
  const std::string& file = parsed->positional[0];
  const auto text = internal::ReadFile(file, 4 << 20);
  if (!text) {
    std::fprintf(stderr, "leakwatch check-config: cannot read %s\n", text.error().message.c_str());
    return kExitFailure;
  }

  AgentOptions program;
  program.config_file = file;
  program.use_environment = false;
  const internal::EnvLookup no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
  std::vector<std::string> problems;
  auto resolved = internal::ResolveConfig(program, no_env, *text, internal::KnownActionNames());
  if (!resolved) {
    problems = NonEmptyLines(resolved.error().message);
  } else if (!resolved->options.http.web_config_file.empty()) {
    if (auto web = exporters::LoadWebConfig(resolved->options.http.web_config_file); !web) {
      problems.push_back("http.web_config_file: " + web.error().message);
    }
  }
  if (!problems.empty()) {
    for (const std::string& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
    std::fprintf(stderr,
                 "leakwatch check-config: %s is invalid (%zu problem%s); the agent would not start with it\n",
                 file.c_str(), problems.size(), problems.size() == 1 ? "" : "s");
    return kExitFailure;
  }
  const std::string summary = Summary(file, *resolved);
  std::fwrite(summary.data(), 1, summary.size(), stdout);
  return kExitOk;
}

}  // namespace leakwatch::cli

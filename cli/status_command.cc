// `leakwatch status [ADDR]`: the agent's /status and /metrics, summed up (or the raw /status with --json).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/status_report.h"

namespace leakwatch::cli {
namespace {

constexpr const char* kUsage = "usage: leakwatch status [OPTIONS] [ADDR]";

void PrintHelp() {
  std::printf(
      "%s\n\n"
      "Shows a running agent: its version, the process (RSS, threads, open fds against their limit, CPU),\n"
      "the memory cgroup (working set against the limit), the allocator, the config file, and every rule\n"
      "with its state, firing and pending first. Reads GET /status and GET /metrics.\n\n"
      "options:\n"
      "  --json                print the agent's /status document as it is (JSON)\n"
      "  --metrics-path PATH   the agent's http.metrics_path (default /metrics)\n"
      "%s\n"
      "exit status:\n"
      "  0   the agent answered and no rule is firing\n"
      "  1   the agent could not be reached or answered with an error\n"
      "  2   usage error\n"
      "  3   the agent answered and at least one rule is firing (also with --json)\n\n"
      "examples:\n"
      "  leakwatch status\n"
      "  leakwatch status 10.0.0.7:9860 --user prometheus --password-file /run/secrets/scrape\n"
      "  leakwatch status --json | jq '.rules[] | select(.state != \"ok\")'\n",
      kUsage, kClientOptionsHelp);
}

}  // namespace

int StatusCommand(const Args& args) {
  const auto parsed =
      ParseArgs(args, ClientOptionSpecs({{"--json", false, ""}, {"--metrics-path", true, ""}}));
  if (!parsed) return UsageError("status", kUsage, parsed.error().message, kExitUsage);
  if (parsed->has("--help")) {
    PrintHelp();
    return kExitOk;
  }
  if (parsed->positional.size() > 1) {
    return UsageError("status", kUsage, "unexpected argument \"" + parsed->positional[1] + "\"", kExitUsage);
  }
  const std::string metrics_path = parsed->get("--metrics-path").value_or("/metrics");
  if (metrics_path.empty() || metrics_path.front() != '/') {
    return UsageError("status", kUsage, "--metrics-path: \"" + metrics_path + "\" must start with /",
                      kExitUsage);
  }
  int code = kExitOk;
  auto settings = MakeClientSettings(
      *parsed, parsed->positional.empty() ? std::nullopt : std::optional(parsed->positional[0]), &code);
  if (!settings) {
    if (code == kExitUsage) return UsageError("status", kUsage, settings.error().message, code);
    PrintError("status", settings.error().message);
    return code;
  }
  AgentClient client("status", *settings);

  const auto status = client.Call("GET", "/status", false);
  if (!status) return kExitFailure;
  if (status->status != 200) {
    client.ReportHttpError("GET", "/status", *status, false);
    return kExitFailure;
  }
  const auto doc = nlohmann::json::parse(status->body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    PrintError("status", "GET /status: the answer is not a JSON object; is " + settings->address.str() +
                             " a leakwatch agent?");
    return kExitFailure;
  }
  const int firing = CountFiring(doc);
  if (parsed->has("--json")) {
    std::fwrite(status->body.data(), 1, status->body.size(), stdout);
    return firing > 0 ? kExitFiring : kExitOk;
  }

  const auto metrics = client.Call("GET", metrics_path, false);
  if (!metrics) return kExitFailure;
  if (metrics->status != 200) {
    client.ReportHttpError("GET", metrics_path, *metrics, false);
    return kExitFailure;
  }
  const std::string report =
      RenderStatusReport(settings->address.str(), doc, PromSamples(ParsePromText(metrics->body)));
  std::fwrite(report.data(), 1, report.size(), stdout);
  return firing > 0 ? kExitFiring : kExitOk;
}

}  // namespace leakwatch::cli

// `leakwatch capture [ADDR]`: POST /debug/leakwatch/capture, and what became of the bundle.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "agent/config/config.h"
#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/format.h"
#include "cli/http_client.h"

namespace leakwatch::cli {
namespace {

constexpr const char* kUsage = "usage: leakwatch capture [OPTIONS] [ADDR]";
constexpr const char* kDefaultReason = "leakwatch capture";
constexpr const char* kDefaultWait = "30s";

void PrintHelp() {
  std::printf(
      "%s\n\n"
      "Asks a running agent for an incident bundle now (POST /debug/leakwatch/capture with the operator\n"
      "token) and waits for it to be written. The bundle goes through the agent's limits "
      "(bundle.max_per_window,\n"
      "the queue, bundle.min_free_disk) like a rule-triggered one. docs/BUNDLES.md says what it holds.\n\n"
      "options:\n"
      "  --reason TEXT         recorded in the bundle's manifest (default \"%s\")\n"
      "  --wait DUR            wait this long for the bundle to be written (default %s, at most 60s; 0: do "
      "not\n"
      "                        wait); the HTTP exchange may take --wait + --timeout\n"
      "  --json                print the agent's answer as it is (JSON)\n"
      "%s\n"
      "exit status:\n"
      "  0   the bundle was written (its name, size and time are printed), or it was accepted and is still\n"
      "      being written (queued: it shows up in leakwatch incidents once complete)\n"
      "  1   the agent could not be reached, refused the token (401/403) or failed to write the bundle\n"
      "  2   usage error\n"
      "  4   the agent held the bundle back (429 rate limit, with the time to retry; 503 queue full, low "
      "disk)\n\n"
      "examples:\n"
      "  leakwatch capture --token-file /run/secrets/leakwatch-token --reason \"INC-1234 memory climbing\"\n"
      "  LEAKWATCH_DEBUG_TOKEN_FILE=/run/secrets/leakwatch-token leakwatch capture 127.0.0.1:9860\n",
      kUsage, kDefaultReason, kDefaultWait, kClientOptionsHelp);
}

std::string Text(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

int CaptureCommand(const Args& args) {
  const auto parsed = ParseArgs(
      args, ClientOptionSpecs({{"--reason", true, ""}, {"--wait", true, ""}, {"--json", false, ""}}));
  if (!parsed) return UsageError("capture", kUsage, parsed.error().message, kExitUsage);
  if (parsed->has("--help")) {
    PrintHelp();
    return kExitOk;
  }
  if (parsed->positional.size() > 1) {
    return UsageError("capture", kUsage, "unexpected argument \"" + parsed->positional[1] + "\"", kExitUsage);
  }
  const std::string wait_text = parsed->get("--wait").value_or(kDefaultWait);
  const auto wait = internal::ParseDuration(wait_text);
  if (!wait) {
    return UsageError("capture", kUsage, "--wait: \"" + wait_text + "\" is not a duration like 30s",
                      kExitUsage);
  }
  const std::string reason = parsed->get("--reason").value_or(kDefaultReason);
  int code = kExitOk;
  auto settings = MakeClientSettings(
      *parsed, parsed->positional.empty() ? std::nullopt : std::optional(parsed->positional[0]), &code);
  if (!settings) {
    if (code == kExitUsage) return UsageError("capture", kUsage, settings.error().message, code);
    PrintError("capture", settings.error().message);
    return code;
  }
  AgentClient client("capture", *settings);
  const std::string path =
      "/debug/leakwatch/capture?reason=" + UrlEncode(reason) + "&wait=" + UrlEncode(wait_text);
  const auto r = client.Call("POST", path, true, *wait);
  if (!r) return kExitFailure;
  const auto doc = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  const bool json_out = parsed->has("--json");
  if (json_out) std::fwrite(r->body.data(), 1, r->body.size(), stdout);

  switch (r->status) {
    case 201: {
      if (json_out) return kExitOk;
      const std::string bundle = Text(doc, "bundle");
      const double bytes = doc.value("bytes", 0.0);
      const double seconds = doc.value("seconds", 0.0);
      std::printf("%s\n", bundle.c_str());
      std::printf("written: %s (%.0f bytes) in %s s\n", FormatBytes(bytes).c_str(), bytes,
                  FormatNumber(seconds, 2).c_str());
      std::printf("files: leakwatch incidents %s %s\n", settings->address.str().c_str(), bundle.c_str());
      return kExitOk;
    }
    case 202:
      if (!json_out) {
        std::printf(
            "%s: the bundle is still being written; it is listed by `leakwatch incidents %s` once "
            "complete\n",
            Text(doc, "status") == "queued" ? "queued" : "writing", settings->address.str().c_str());
      }
      return kExitOk;
    case 429:
    case 503: {
      std::string message = "capture suppressed by the agent: " + ErrorText(r->body);
      if (const auto retry = r->header("Retry-After")) message += " (retry after " + *retry + " s)";
      if (Text(doc, "reason") == "rate_limit")
        message += "; the limit is the agent's bundle.max_per_window per bundle.window";
      PrintError("capture", message);
      return kExitSuppressed;
    }
    default:
      client.ReportHttpError("POST", "/debug/leakwatch/capture", *r, true);
      return kExitFailure;
  }
}

}  // namespace leakwatch::cli

// `leakwatch incidents [ADDR] [BUNDLE]`: the bundles a running agent keeps, one bundle's files, or one file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cli/address.h"
#include "cli/agent_client.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/format.h"
#include "cli/http_client.h"

namespace leakwatch::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: leakwatch incidents [OPTIONS] [ADDR] [BUNDLE]\n"
    "       leakwatch incidents [OPTIONS] [ADDR] --get BUNDLE/FILE [-o OUT]";
constexpr const char* kIncidents = "/debug/leakwatch/incidents";

void PrintHelp() {
  std::printf(
      "%s\n\n"
      "Lists the incident bundles a running agent keeps (newest first: name, time, size, what triggered\n"
      "it), the files of one BUNDLE, or downloads one file. Uses GET /debug/leakwatch/incidents with the\n"
      "operator token.\n\n"
      "options:\n"
      "  --get BUNDLE/FILE     download one file of a bundle, byte for byte\n"
      "  -o, --output OUT      where --get writes: a file, a directory (OUT/FILE), or - for stdout\n"
      "                        (the default)\n"
      "  --json                print the agent's JSON listing as it is\n"
      "%s\n"
      "With one argument, something shaped like an address (host:port, :port, port, http://...) is ADDR,\n"
      "anything else is BUNDLE.\n\n"
      "exit status:\n"
      "  0   done\n"
      "  1   the agent could not be reached, refused the token (401/403), or has no such bundle or file "
      "(404)\n"
      "  2   usage error\n\n"
      "examples:\n"
      "  leakwatch incidents --token-file /run/secrets/leakwatch-token\n"
      "  leakwatch incidents 20240501T120005.250Z-4242-memory_time_to_limit\n"
      "  leakwatch incidents --get 20240501T120005.250Z-4242-memory_time_to_limit/heap.pb.gz -o /tmp/\n",
      kUsage, kClientOptionsHelp);
}

std::string Text(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "rule fds_time_to_limit", "http: on call asked", "api: why".
std::string Trigger(const json& bundle) {
  const auto it = bundle.find("trigger");
  if (it == bundle.end() || !it->is_object()) return "?";
  const json& t = *it;
  if (const auto rule = t.find("rule");
      rule != t.end() && rule->is_object() && !Text(*rule, "name").empty()) {
    return "rule " + Text(*rule, "name");
  }
  std::string reason = Text(t, "reason");
  if (reason.size() > 80) reason = reason.substr(0, 77) + "...";
  const std::string source = Text(t, "source");
  return source + (reason.empty() ? "" : ": " + reason);
}

bool WriteAll(int fd, const std::string& data) {
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

int Download(AgentClient& client, const std::string& spec, const std::string& out) {
  const size_t slash = spec.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == spec.size() ||
      spec.find('/', slash + 1) != std::string::npos) {
    return UsageError("incidents", kUsage, "--get: \"" + spec + "\" is not BUNDLE/FILE", kExitUsage);
  }
  const std::string bundle = spec.substr(0, slash);
  const std::string file = spec.substr(slash + 1);
  const std::string path = std::string(kIncidents) + "/" + UrlEncode(bundle) + "/" + UrlEncode(file);
  const auto r = client.Call("GET", path, true);
  if (!r) return kExitFailure;
  if (r->status != 200) {
    client.ReportHttpError("GET", path, *r, true);
    return kExitFailure;
  }
  if (out == "-") {
    std::fflush(stdout);
    if (!WriteAll(STDOUT_FILENO, r->body)) {
      PrintError("incidents", std::string("writing to stdout: ") + std::strerror(errno));
      return kExitFailure;
    }
    return kExitOk;
  }
  std::string target = out;
  struct stat st {};
  if (::stat(out.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    target = out + (out.back() == '/' ? "" : "/") + file;
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    PrintError("incidents", "cannot write " + target + ": " + std::strerror(errno));
    return kExitFailure;
  }
  const bool ok = WriteAll(fd, r->body);
  const int write_errno = errno;
  if (::close(fd) != 0 || !ok) {
    PrintError("incidents", "cannot write " + target + ": " + std::strerror(ok ? errno : write_errno));
    return kExitFailure;
  }
  std::printf("%s (%zu bytes)\n", target.c_str(), r->body.size());
  return kExitOk;
}

int List(AgentClient& client, const std::string& path, bool json_out, const std::string& bundle) {
  const auto r = client.Call("GET", path, true);
  if (!r) return kExitFailure;
  if (r->status != 200) {
    client.ReportHttpError("GET", path, *r, true);
    return kExitFailure;
  }
  if (json_out) {
    std::fwrite(r->body.data(), 1, r->body.size(), stdout);
    return kExitOk;
  }
  const auto doc = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    PrintError("incidents", "GET " + path + ": the answer is not a JSON object");
    return kExitFailure;
  }
  std::vector<std::vector<std::string>> rows;
  if (bundle.empty()) {
    const auto bundles = doc.find("bundles");
    const size_t count = bundles != doc.end() && bundles->is_array() ? bundles->size() : 0;
    if (count == 0) {
      std::printf("no bundles in %s\n", Text(doc, "dir").c_str());
      return kExitOk;
    }
    rows.push_back({"NAME", "TIME", "SIZE", "TRIGGER"});
    for (const json& b : *bundles) {
      rows.push_back({Text(b, "name"), Text(b, "time"), FormatBytes(b.value("bytes", 0.0)), Trigger(b)});
    }
    std::printf("%zu bundle%s in %s (newest first)\n", count, count == 1 ? "" : "s",
                Text(doc, "dir").c_str());
  } else {
    rows.push_back({"FILE", "SIZE", "BYTES"});
    if (const auto files = doc.find("files"); files != doc.end() && files->is_array()) {
      for (const json& f : *files) {
        const double bytes = f.value("bytes", 0.0);
        rows.push_back({Text(f, "name"), FormatBytes(bytes), FormatNumber(bytes, 0)});
      }
    }
  }
  const std::string table = RenderTable(rows);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return kExitOk;
}

}  // namespace

int IncidentsCommand(const Args& args) {
  const auto parsed = ParseArgs(
      args, ClientOptionSpecs({{"--json", false, ""}, {"--get", true, ""}, {"--output", true, "-o"}}));
  if (!parsed) return UsageError("incidents", kUsage, parsed.error().message, kExitUsage);
  if (parsed->has("--help")) {
    PrintHelp();
    return kExitOk;
  }
  std::optional<std::string> addr;
  std::string bundle;
  const auto& pos = parsed->positional;
  if (pos.size() > 2) {
    return UsageError("incidents", kUsage, "unexpected argument \"" + pos[2] + "\"", kExitUsage);
  }
  if (pos.size() == 2) {
    addr = pos[0];
    bundle = pos[1];
  } else if (pos.size() == 1) {
    if (LooksLikeAddress(pos[0])) {
      addr = pos[0];
    } else {
      bundle = pos[0];
    }
  }
  const auto get = parsed->get("--get");
  if (get && !bundle.empty()) {
    return UsageError("incidents", kUsage, "give either BUNDLE or --get BUNDLE/FILE, not both", kExitUsage);
  }
  if (parsed->has("--output") && !get) {
    return UsageError("incidents", kUsage, "-o/--output goes with --get", kExitUsage);
  }
  if (!bundle.empty() && bundle.find('/') != std::string::npos) {
    return UsageError("incidents", kUsage,
                      "BUNDLE \"" + bundle + "\" holds a '/'; to download a file use --get BUNDLE/FILE",
                      kExitUsage);
  }
  int code = kExitOk;
  auto settings = MakeClientSettings(*parsed, addr, &code);
  if (!settings) {
    if (code == kExitUsage) return UsageError("incidents", kUsage, settings.error().message, code);
    PrintError("incidents", settings.error().message);
    return code;
  }
  AgentClient client("incidents", *settings);
  if (get) return Download(client, *get, parsed->get("--output").value_or("-"));
  const std::string path = bundle.empty() ? kIncidents : std::string(kIncidents) + "/" + UrlEncode(bundle);
  return List(client, path, parsed->has("--json"), bundle);
}

}  // namespace leakwatch::cli

#include "cli/agent_client.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "agent/common/file_reader.h"
#include "agent/config/config.h"
#include "cli/exit_codes.h"
#include "cli/format.h"

namespace leakwatch::cli {

const char* const kClientOptionsHelp =
    R"(  --timeout DUR         give up on the agent after this long (default 10s)
  --token-file FILE     the operator token for /debug/leakwatch/* (default: LEAKWATCH_DEBUG_TOKEN_FILE):
                        the file the agent reads through http.debug_token_file
  --user NAME           HTTP basic auth for /metrics and /status, when the agent has a web config
  --password-file FILE  ... and the file holding that user's password (first line)
  -h, --help            this help

ADDR is host:port, :port, port or http://host:port (default: LEAKWATCH_ADDR, else 127.0.0.1:9860).
)";

std::vector<OptionSpec> ClientOptionSpecs(std::vector<OptionSpec> extra) {
  std::vector<OptionSpec> specs = {{"--timeout", true, ""},
                                   {"--token-file", true, ""},
                                   {"--user", true, ""},
                                   {"--password-file", true, ""},
                                   {"--help", false, "-h"}};
  for (OptionSpec& s : extra) specs.push_back(std::move(s));
  return specs;
}

Result<ClientSettings> MakeClientSettings(const ParsedArgs& parsed, const std::optional<std::string>& addr,
                                          int* exit_code) {
  *exit_code = kExitUsage;
  ClientSettings out;
  const std::string addr_text = addr ? *addr : DefaultAgentAddressText(internal::GetEnv("LEAKWATCH_ADDR"));
  auto address = ParseAgentAddress(addr_text);
  if (!address) {
    return Error{address.error().message + (addr ? "" : " (from LEAKWATCH_ADDR)")};
  }
  out.address = *address;
  if (const auto timeout = parsed.get("--timeout")) {
    const auto d = internal::ParseDuration(*timeout);
    if (!d || d->count() <= 0)
      return Error{"--timeout: \"" + *timeout + "\" is not a duration like 5s or 500ms"};
    out.timeout = *d;
  }
  if (const auto file = parsed.get("--token-file")) {
    if (file->empty()) return Error{"--token-file: must not be empty"};
    out.token_file = *file;
  } else if (const auto env = internal::GetEnv("LEAKWATCH_DEBUG_TOKEN_FILE")) {
    out.token_file = *env;
  }
  const auto user = parsed.get("--user");
  const auto password_file = parsed.get("--password-file");
  if (user.has_value() != password_file.has_value()) {
    return Error{"--user and --password-file go together"};
  }
  if (user) {
    if (user->empty() || user->find(':') != std::string::npos) {
      return Error{"--user: \"" + *user + "\" is not a user name (non-empty, no ':')"};
    }
    auto text = internal::ReadFile(*password_file, 4096);
    if (!text) {
      *exit_code = kExitFailure;
      return Error{"cannot read the password file " + text.error().message};
    }
    std::string password = text->substr(0, text->find('\n'));
    if (!password.empty() && password.back() == '\r') password.pop_back();
    out.basic_auth = BasicAuth{*user, std::move(password)};
  }
  *exit_code = kExitOk;
  return out;
}

std::string ExplainTransportFailure(const std::string& command, const AgentAddress& address,
                                    HttpFailure failure, const std::string& message,
                                    const std::string& timeout_text) {
  const size_t colon = message.rfind(": ");
  const std::string cause = colon == std::string::npos ? message : message.substr(colon + 2);
  switch (failure) {
    case HttpFailure::kRefused:
    case HttpFailure::kConnect:
      return "cannot connect to " + address.str() + ": " + cause +
             " \xe2\x80\x94 is the agent running and listening there? (leakwatch " + command +
             " ADDR; the port is LEAKWATCH_LISTEN / http.listen)";
    case HttpFailure::kTimeout:
      return "no complete answer from " + address.str() + " within " + timeout_text +
             " \xe2\x80\x94 is the agent overloaded or is something else listening there? (" + message + ")";
    case HttpFailure::kBadAddress:
      return "cannot reach " + address.str() + ": " + cause;
    case HttpFailure::kProtocol:
      return "the answer from " + address.str() +
             " is not valid HTTP \xe2\x80\x94 is that the agent's port? (" + message + ")";
    case HttpFailure::kIo:
    case HttpFailure::kNone:
      break;
  }
  return message;
}

std::string ErrorText(const std::string& body) {
  const auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    for (const char* key : {"error", "reason"}) {
      if (const auto it = doc.find(key); it != doc.end() && it->is_string()) return it->get<std::string>();
    }
  }
  std::string line = body.substr(0, body.find('\n'));
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

void PrintError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "leakwatch %s: %s\n", command.c_str(), message.c_str());
}

std::optional<HttpResponse> AgentClient::Call(const std::string& method, const std::string& path, bool bearer,
                                              std::chrono::milliseconds extra_time) {
  HttpRequestOptions o;
  o.method = method;
  o.host = settings_.address.host;
  o.timeout = settings_.timeout + extra_time;
  if (bearer) {
    if (!token_loaded_ && !settings_.token_file.empty()) {
      auto token = internal::ReadDebugTokenFile(settings_.token_file);
      if (!token) {
        PrintError(command_, "cannot use the token file: " + token.error().message);
        return std::nullopt;
      }
      token_ = std::move(*token);
    }
    token_loaded_ = true;
    if (token_) o.extra_headers.emplace_back("Authorization", "Bearer " + *token_);
  } else {
    o.basic_auth = settings_.basic_auth;
  }
  HttpFailure failure = HttpFailure::kNone;
  auto r = HttpRequest(settings_.address.port, path, o, &failure);
  if (!r) {
    std::string timeout_text = FormatDuration(settings_.timeout) + " (--timeout)";
    if (extra_time.count() > 0) {
      timeout_text = FormatDuration(o.timeout) + " (--wait " + FormatDuration(extra_time) + " + --timeout " +
                     FormatDuration(settings_.timeout) + ")";
    }
    PrintError(command_, ExplainTransportFailure(command_, settings_.address, failure, r.error().message,
                                                 timeout_text));
    return std::nullopt;
  }
  return std::move(*r);
}

void AgentClient::ReportHttpError(const std::string& method, const std::string& path, const HttpResponse& r,
                                  bool bearer) const {
  const std::string what = method + " " + path + ": HTTP " + std::to_string(r.status) + " " + r.reason;
  const std::string detail = ErrorText(r.body);
  if (bearer && r.status == 403) {
    PrintError(command_,
               what +
                   ": the agent's operator endpoints are disabled because it has no token "
                   "configured; set http.debug_token_file in its config (or LEAKWATCH_DEBUG_TOKEN_FILE "
                   "in its environment, e.g. leakwatch run --token-file FILE) and restart it");
  } else if (bearer && r.status == 401) {
    PrintError(command_,
               what + ": " +
                   (token_ ? "the agent rejected the token from " + settings_.token_file +
                                 "; pass the file the agent reads (its http.debug_token_file / "
                                 "LEAKWATCH_DEBUG_TOKEN_FILE) with --token-file"
                           : "the agent wants its operator token: pass --token-file FILE (the file named by "
                             "the agent's http.debug_token_file / LEAKWATCH_DEBUG_TOKEN_FILE) or set "
                             "LEAKWATCH_DEBUG_TOKEN_FILE"));
  } else if (!bearer && r.status == 401) {
    PrintError(command_,
               what + ": " +
                   (settings_.basic_auth
                        ? "the agent rejected user \"" + settings_.basic_auth->user +
                              "\" or its password (the agent's http.web_config_file)"
                        : "the agent requires HTTP basic auth (its http.web_config_file): pass --user "
                          "NAME --password-file FILE"));
  } else {
    PrintError(command_, what + (detail.empty() ? "" : ": " + detail));
  }
}

}  // namespace leakwatch::cli

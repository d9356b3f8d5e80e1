#pragma once
// What `leakwatch status`, `capture` and `incidents` share: the address and the common options (--timeout,
// --token-file, --user, --password-file), the requests to the agent, and the explanations of what went
// wrong (connection refused, timeouts, 401/403) that tell the operator what to do.
//
// Thread-safety: one AgentClient per command run; the free functions are pure.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cli/address.h"
#include "cli/args.h"
#include "cli/http_client.h"

namespace leakwatch::cli {

inline constexpr std::chrono::milliseconds kDefaultTimeout{10000};

struct ClientSettings {
  AgentAddress address;
  std::chrono::milliseconds timeout = kDefaultTimeout;
  std::string token_file;  // --token-file, else LEAKWATCH_DEBUG_TOKEN_FILE; empty: none
  std::optional<BasicAuth> basic_auth;
};

// --timeout, --token-file, --user, --password-file and --help (-h), plus `extra`.
std::vector<OptionSpec> ClientOptionSpecs(std::vector<OptionSpec> extra);

// The help text of the common options.
extern const char* const kClientOptionsHelp;

// Settings from the parsed options, the ADDR argument (nullopt: LEAKWATCH_ADDR, else 127.0.0.1:9860) and the
// environment. On error *exit_code says whether it is a usage error (2: bad ADDR, bad --timeout, --user
// without --password-file) or a failure (1: unreadable password file).
Result<ClientSettings> MakeClientSettings(const ParsedArgs& parsed, const std::optional<std::string>& addr,
                                          int* exit_code);

// The explanation of a transport failure, without the "leakwatch <command>: " prefix: for a refused
// connection "cannot connect to ADDR: Connection refused — is the agent running and listening there? ...";
// for a timeout the timeout (described by `timeout_text`, e.g. "10s (--timeout)").
std::string ExplainTransportFailure(const std::string& command, const AgentAddress& address,
                                    HttpFailure failure, const std::string& message,
                                    const std::string& timeout_text);

// The "error" (or "reason") field of a JSON error body, else the body's first line (cut at 300 characters).
std::string ErrorText(const std::string& body);

class AgentClient {
 public:
  AgentClient(std::string command, ClientSettings settings)
      : command_(std::move(command)), settings_(std::move(settings)) {}

  // One request. `bearer`: send the operator token (read from the token file once; an unreadable file is a
  // failure). `extra_time` is added to --timeout (capture's --wait). On a transport failure it prints the
  // explanation to stderr and returns nullopt (the command exits 1).
  std::optional<HttpResponse> Call(const std::string& method, const std::string& path, bool bearer,
                                   std::chrono::milliseconds extra_time = std::chrono::milliseconds(0));

  // Prints the explanation of an unexpected answer (401/403 with what to do, or the status and the
  // agent's error) to stderr.
  void ReportHttpError(const std::string& method, const std::string& path, const HttpResponse& r,
                       bool bearer) const;

  const ClientSettings& settings() const { return settings_; }
  const std::string& command() const { return command_; }

 private:
  std::string command_;
  ClientSettings settings_;
  std::optional<std::string> token_;
  bool token_loaded_ = false;
};

// Prints "leakwatch <command>: <message>" to stderr.
void PrintError(const std::string& command, const std::string& message);

}  // namespace leakwatch::cli

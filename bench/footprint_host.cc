// leakwatch_footprint_host: a minimal host for bench/footprint.sh, with or without the agent inside.
//
//   leakwatch_footprint_host --mode none|sampler|http
//
//   none     the agent is not created (baseline: same binary, same libraries mapped)
//   sampler  Agent with the default options except http.listen = "off" (sampler thread only)
//   http     Agent with the default options except http.listen = "127.0.0.1:0" (sampler + civetweb)
// The defaults are what a host gets: period 1 s, slow period 10 s, 4 HTTP worker threads, history 2 MiB.
// Prints "ready mode=... port=..." once started, then sleeps until SIGTERM/SIGINT and stops the agent.

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "leakwatch/agent.h"

int main(int argc, char** argv) {
  std::string mode = "none";
  if (argc == 3 && std::strcmp(argv[1], "--mode") == 0) mode = argv[2];
  if (mode != "none" && mode != "sampler" && mode != "http") {
    std::fprintf(stderr, "usage: leakwatch_footprint_host --mode none|sampler|http\n");
    return 1;
  }
  // Block the stop signals before any thread exists so every thread inherits the mask; sigwait() takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<leakwatch::Agent> agent;
  int port = 0;
  if (mode != "none") {
    leakwatch::AgentOptions options;
    options.use_environment = false;
    options.http.listen = mode == "http" ? "127.0.0.1:0" : "off";
    options.log.level = "warn";
    auto created = leakwatch::Agent::Create(options);
    if (!created) {
      std::fprintf(stderr, "agent: %s\n", created.error().message.c_str());
      return 1;
    }
    agent = std::move(*created);
    auto started = agent->start();
    if (!started) {
      std::fprintf(stderr, "agent start: %s\n", started.error().message.c_str());
      return 1;
    }
    port = started->http_port;
  }
  std::printf("ready mode=%s port=%d\n", mode.c_str(), port);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  if (agent) agent->stop();
  return 0;
}

// leakwatch-demo: a small service with the leakwatch agent inside that can be told to leak on purpose.
// Flags: --help (flags.cc). Control API: control_server.h. Documentation: README.md next to this file.
#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "examples/demo/control_server.h"
#include "examples/demo/flags.h"
#include "examples/demo/leaker.h"
#include "leakwatch/agent.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitCannotStart = 1;
constexpr int kExitBadFlags = 2;

void Fail(const std::string& message) { std::fprintf(stderr, "leakwatch-demo: %s\n", message.c_str()); }

}  // namespace

int main(int argc, char** argv) {
  // This program is the host: it owns the signals. Block them before any thread exists (the agent's,
  // civetweb's and the leaker's threads inherit the mask) and take them with sigwait() below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto flags = leakwatch_demo::ParseFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags) {
    Fail(flags.error().message);
    return kExitBadFlags;
  }
  if (flags->help) {
    std::fputs(leakwatch_demo::Usage().c_str(), stdout);
    return kExitOk;
  }

  leakwatch::AgentOptions options;
  options.period = flags->period;
  if (flags->metrics_listen) options.http.listen = *flags->metrics_listen;
  // The agent reads LEAKWATCH_CONFIG and LEAKWATCH_LISTEN here. A configuration it rejects is an operator
  // error that must not go unnoticed: the demo reports it and exits 1 rather than running unobserved.
  auto created = leakwatch::Agent::Create(options);
  if (!created) {
    Fail("the leakwatch agent cannot be created, exiting:\n" + created.error().message);
    return kExitCannotStart;
  }
  std::unique_ptr<leakwatch::Agent> agent = std::move(*created);

  auto leaker_started = leakwatch_demo::Leaker::Start(
      leakwatch_demo::LeakRates{.memory_mib_per_s = flags->leak_memory_mib_per_s,
                                .threads_per_s = flags->leak_threads_per_s,
                                .fds_per_s = flags->leak_fds_per_s});
  if (!leaker_started) {
    Fail(leaker_started.error().message);
    return kExitCannotStart;
  }
  std::unique_ptr<leakwatch_demo::Leaker> leaker = std::move(*leaker_started);

  mg_init_library(0);
  const pthread_t main_thread = pthread_self();
  std::atomic<bool> quit_requested{false};
  auto control_started = leakwatch_demo::ControlServer::Start(
      *leakwatch_demo::ParseListen(flags->control_listen), leaker.get(), [&] {
        // Wakes sigwait() below: SIGTERM is blocked in every thread, so it stays pending for the main thread.
        if (!quit_requested.exchange(true)) pthread_kill(main_thread, SIGTERM);
      });
  int exit_code = kExitOk;
  std::unique_ptr<leakwatch_demo::ControlServer> control;
  if (!control_started) {
    Fail(control_started.error().message);
    exit_code = kExitCannotStart;
  } else {
    control = std::move(*control_started);
    auto started = agent->start();
    if (!started) {
      Fail("the leakwatch agent cannot start, exiting: " + started.error().message);
      exit_code = kExitCannotStart;
    } else {
      if (started->http_error) {
        // The agent's contract: a metrics endpoint that cannot bind does not stop the host. Say so and go on.
        Fail("metrics endpoint not available, running without it: " + started->http_error->message);
      }
      std::printf("{\"pid\":%ld,\"metrics_port\":%d,\"control_port\":%d}\n", static_cast<long>(getpid()),
                  started->http_serving ? started->http_port : 0, control->port());
      std::fflush(stdout);

      int sig = 0;
      while (sigwait(&stop_signals, &sig) != 0) {
      }
      std::fprintf(stderr, "leakwatch-demo: %s, exiting\n",
                   quit_requested.load() ? "quit requested" : strsignal(sig));
    }
  }
  // Teardown in reverse order: no more control requests, then the agent, then the leaks.
  control.reset();
  agent->stop();
  agent.reset();
  leaker.reset();
  mg_exit_library();
  return exit_code;
}

#include "agent/attach/attached_agent.h"

#include <unistd.h>

#include <fstream>

#include "agent/agent_factory.h"
#include "agent/attach/discovery_file.h"
#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

std::string ProgramName() {
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

}  // namespace

Result<std::unique_ptr<AttachedAgent>> AttachedAgent::Start(AgentOptions options, const EnvLookup& env,
                                                            const AttachSettings& settings,
                                                            std::string role) {
  auto created = CreateAgent(std::move(options), env);
  if (!created) return created.error();
  std::unique_ptr<AttachedAgent> attached(new AttachedAgent(std::move(*created), getpid()));
  auto started = attached->agent_->start();
  if (!started) return started.error();
  attached->http_port_ = started->http_port;
  if (started->http_serving) {
    if (!settings.discovery_dir.empty()) {
      const auto listen = ParseListen(attached->agent_->options().http.listen);
      const std::string& proc_root = attached->agent_->options().proc_root;
      const DiscoveryTarget target{.host = AdvertisedHost(listen ? listen->host : ""),
                                   .port = started->http_port,
                                   .program = ProgramName(),
                                   .role = std::move(role),
                                   .pid = getpid(),
                                   .start_ticks = ProcessStartTicks(proc_root, getpid()).value_or(0)};
      if (const int swept = SweepStaleDiscoveryFiles(settings.discovery_dir, proc_root); swept > 0) {
        Log()->info("leakwatch: removed {} discovery files of processes that are gone", swept);
      }
      const std::string path = DiscoveryFilePath(settings.discovery_dir, getpid());
      if (auto written = WriteDiscoveryFile(path, target); written) {
        attached->discovery_file_ = path;
      } else {
        Log()->error("leakwatch: {}; Prometheus file_sd will not find this agent", written.error().message);
      }
    }
  }
  return attached;
}

AttachedAgent::~AttachedAgent() {
  if (inherited()) {
    // The agent's threads do not exist in this process and its locks may be held: never touch it.
    (void)agent_.release();
    return;
  }
  stop();
}

void AttachedAgent::stop() {
  if (inherited() || stopped_) return;
  stopped_ = true;
  agent_->stop();
  if (!discovery_file_.empty()) {
    if (auto removed = RemoveDiscoveryFile(discovery_file_); !removed) {
      Log()->warn("leakwatch: {}", removed.error().message);
    }
  }
}

}  // namespace leakwatch::internal

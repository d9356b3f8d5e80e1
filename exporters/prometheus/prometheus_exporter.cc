#include "exporters/prometheus/prometheus_exporter.h"

#include "agent/config/config.h"

#include <CivetServer.h>
#include <prometheus/exposer.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/common/text.h"
#include "agent/logging/log.h"
#include "exporters/prometheus/snapshot_collectable.h"
#include "exporters/prometheus/web_config.h"

namespace leakwatch::exporters {
namespace {

constexpr int kMaxThreads = 64;
constexpr int kMaxRequestTimeoutMs = 600'000;
constexpr const char* kRealm = "leakwatch";

// civetweb reports why mg_start() failed (e.g. "cannot bind to 127.0.0.1:9860: 98 (Address already in use)")
// only through the log_message callback, on the thread that constructs the server, while the exception it
// then throws says only "null context when constructing CivetServer". Start() points this at a local vector
// for the duration of the construction; messages logged later (from worker threads) go to the agent's logger.
thread_local std::vector<std::string>* t_start_messages = nullptr;
std::atomic<int64_t> g_next_civetweb_log_ns{0};

int OnCivetLogMessage(const mg_connection* /*conn*/, const char* message) {
  try {
    if (message == nullptr) return 1;
    if (t_start_messages != nullptr) {
      t_start_messages->emplace_back(message);
      return 1;
    }
    // Rate-limited: a port scanner must not be able to flood the host's log through us.
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t next = g_next_civetweb_log_ns.load(std::memory_order_relaxed);
    if (now >= next && g_next_civetweb_log_ns.compare_exchange_strong(
                           next, now + std::chrono::nanoseconds(std::chrono::seconds(60)).count())) {
      leakwatch::internal::Log()->warn(
          "prometheus exporter: civetweb: {} (civetweb messages are logged at most once a minute)",
          std::string_view(message));
    }
  } catch (...) {
    // Never let an exception into civetweb's C code.
  }
  return 1;  // civetweb must not log by itself
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status ValidateOptions(const PrometheusExporterOptions& o) {
  if (o.metrics_path.empty() || o.metrics_path[0] != '/') {
    return Error{"prometheus exporter: metrics_path " + Quote(o.metrics_path) + " must start with '/'"};
  }
  for (char c : o.metrics_path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '?' || c == '#') {
      return Error{"prometheus exporter: metrics_path " + Quote(o.metrics_path) +
                   " must not contain spaces, control characters, '?' or '#'"};
    }
  }
  if (o.request_timeout_ms < 1 || o.request_timeout_ms > kMaxRequestTimeoutMs) {
    return Error{"prometheus exporter: request_timeout_ms " + std::to_string(o.request_timeout_ms) +
                 " is outside 1.." + std::to_string(kMaxRequestTimeoutMs)};
  }
  if (o.num_threads < 1 || o.num_threads > kMaxThreads) {
    return Error{"prometheus exporter: num_threads " + std::to_string(o.num_threads) + " is outside 1.." +
                 std::to_string(kMaxThreads)};
  }
  return OkStatus();
}

}  // namespace

struct PrometheusExporter::Impl {
  std::shared_ptr<SnapshotCollectable> collectable;  // the Exposer holds only a weak_ptr
  std::shared_ptr<BasicAuthVerifier> verifier;       // shared with the auth callback
  std::unique_ptr<prometheus::Exposer> exposer;      // destroyed first (Stop)
  int port = 0;
};

PrometheusExporter::PrometheusExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PrometheusExporter::~PrometheusExporter() { Stop(); }

void PrometheusExporter::Stop() {
  if (!impl_ || !impl_->exposer) return;
  try {
    impl_->exposer.reset();  // joins civetweb's threads; a scrape in flight finishes first
  } catch (...) {
    try {
      leakwatch::internal::Log()->error("prometheus exporter: stopping the HTTP server threw; ignored");
    } catch (...) {
    }
  }
}

int PrometheusExporter::port() const { return impl_->port; }

uint64_t PrometheusExporter::collect_errors() const { return impl_->collectable->collect_errors(); }

Result<std::unique_ptr<PrometheusExporter>> PrometheusExporter::Start(const Options& options,
                                                                      SnapshotProvider provider) {
  try {
    if (!provider) return Error{"prometheus exporter: no snapshot provider"};
    if (auto st = ValidateOptions(options); !st) return st.error();
    auto address = leakwatch::internal::ParseListen(options.listen);
    if (!address) return Error{"prometheus exporter: " + address.error().message};
    if (address->off) return Error{"prometheus exporter: listen \"off\" means no exporter; do not start one"};

    auto impl = std::make_unique<Impl>();
    if (!options.web_config_file.empty()) {
      auto config = LoadWebConfig(options.web_config_file);
      if (!config) return Error{"prometheus exporter: " + config.error().message};
      impl->verifier = std::make_shared<BasicAuthVerifier>(std::move(config).value());
    }
    impl->collectable = std::make_shared<SnapshotCollectable>(std::move(provider));

    const std::string listening = address->host + ":" + std::to_string(address->port);
    std::vector<std::string> civet_options{
        "listening_ports",    listening,
        "num_threads",        std::to_string(options.num_threads),
        "request_timeout_ms", std::to_string(options.request_timeout_ms),
    };
    CivetCallbacks callbacks;
    callbacks.log_message = &OnCivetLogMessage;

    std::vector<std::string> messages;
    t_start_messages = &messages;
    try {
      impl->exposer = std::make_unique<prometheus::Exposer>(std::move(civet_options), &callbacks);
    } catch (const std::exception& e) {
      t_start_messages = nullptr;
      std::string cause;
      for (const auto& m : messages) cause += (cause.empty() ? "" : "; ") + m;
      if (cause.empty()) cause = e.what();
      return Error{"prometheus exporter: cannot listen on " + Quote(options.listen) + ": " + cause};
    } catch (...) {
      t_start_messages = nullptr;
      return Error{"prometheus exporter: cannot listen on " + Quote(options.listen) + ": unknown exception"};
    }
    t_start_messages = nullptr;

    // Authentication first: registering the collectable before the auth handler would leave a window in which
    // metrics are served without credentials.
    if (impl->verifier) {
      std::shared_ptr<BasicAuthVerifier> verifier = impl->verifier;
      impl->exposer->RegisterAuth(
          [verifier](const std::string& user, const std::string& password) {
            return verifier->Verify(user, password);  // never throws
          },
          kRealm, options.metrics_path);
    }
    impl->exposer->RegisterCollectable(impl->collectable, options.metrics_path);

    const std::vector<int> ports = impl->exposer->GetListeningPorts();
    if (ports.empty() || ports.front() <= 0) {
      return Error{"prometheus exporter: listening on " + Quote(options.listen) +
                   " but civetweb reports no bound port"};
    }
    impl->port = ports.front();
    leakwatch::internal::Log()->debug("prometheus exporter: serving {} on {}:{}{}", options.metrics_path,
                                     address->host, impl->port, impl->verifier ? " with basic auth" : "");
    return std::unique_ptr<PrometheusExporter>(new PrometheusExporter(std::move(impl)));
  } catch (const std::exception& e) {
    t_start_messages = nullptr;
    return Error{std::string("prometheus exporter: start failed: ") + e.what()};
  } catch (...) {
    t_start_messages = nullptr;
    return Error{"prometheus exporter: start failed: unknown exception"};
  }
}

}  // namespace leakwatch::exporters

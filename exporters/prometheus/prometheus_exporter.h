#pragma once
// leakwatch's Prometheus exporter: an HTTP endpoint that renders the latest Snapshot in the Prometheus text
// format on every scrape. An adapter over the core: it reads snapshots through a SnapshotProvider and nothing
// else (no files, no metric objects). This header exposes no prometheus-cpp or civetweb type.
//
// Thread-safety: Start() and the destructor may be called from any thread but not concurrently on the same
// exporter; port() is safe from any thread. Scrapes run on the exporter's own worker threads (num_threads of
// them) and call the SnapshotProvider from there, concurrently with the caller's threads.
// Cost: Start() binds a socket and starts num_threads + 1 threads; destruction blocks up to ~2 s (civetweb
// polls its listening socket in 2 s steps). A scrape costs ~1 µs per series plus the provider call.

#include <functional>
#include <memory>
#include <string>

#include "leakwatch/result.h"
#include "leakwatch/snapshot.h"

namespace leakwatch::exporters {

// Returns the latest published snapshot, or nullptr before the first tick. Called on every scrape from the
// exporter's worker threads; must be cheap and thread-safe. An exception it throws is caught, counted in
// leakwatch_exporter_collect_errors_total and logged (at most once a minute).
using SnapshotProvider = std::function<std::shared_ptr<const Snapshot>()>;

struct PrometheusExporterOptions {
  // "host:port". host: an IPv4 literal, "localhost" (127.0.0.1) or "" (all interfaces, like "0.0.0.0").
  // port: 0..65535; 0 picks a free port (read it back with port()). IPv6 is not supported: civetweb in
  // Debian's prometheus-cpp is compiled without it.
  std::string listen = "127.0.0.1:9860";
  std::string metrics_path = "/metrics";  // must start with '/'; civetweb matches it as a prefix
  int request_timeout_ms = 3000;          // civetweb request_timeout_ms: bounds idle or slow connections
  int num_threads = 4;                    // civetweb worker threads, 1..64
  std::string web_config_file;            // exporter-toolkit web.yml (see web_config.h); empty: no auth
};

class PrometheusExporter {
 public:
  using Options = PrometheusExporterOptions;

  // Validates `options`, loads the web config, binds and starts serving. Never throws. Errors name the option
  // and value, and for a bind failure carry civetweb's cause, e.g. "cannot bind to 127.0.0.1:9860: 98
  // (Address already in use)". REQUIRES: provider is non-empty.
  static Result<std::unique_ptr<PrometheusExporter>> Start(const Options& options, SnapshotProvider provider);

  ~PrometheusExporter();  // Stop()
  PrometheusExporter(const PrometheusExporter&) = delete;
  PrometheusExporter& operator=(const PrometheusExporter&) = delete;

  // Stops serving: closes the listening socket and joins the worker threads (up to ~2 s). Idempotent.
  void Stop();

  // The port actually bound (the chosen one when options.listen asked for port 0).
  int port() const;

  // Number of scrapes whose rendering failed (also exported as leakwatch_exporter_collect_errors_total).
  uint64_t collect_errors() const;

 private:
  struct Impl;
  explicit PrometheusExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakwatch::exporters

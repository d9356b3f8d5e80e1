#pragma once
// leakwatch's Prometheus exporter: an HTTP endpoint that renders the latest Snapshot in the Prometheus text
// format on every scrape, plus a few read-only routes next to it (extra_routes, e.g. a JSON status) and a
// landing page at "/" that links to them. An adapter over the core: it reads snapshots through a
// SnapshotProvider and nothing else (no files, no metric objects). This header exposes no prometheus-cpp or
// civetweb type. Served by leakwatch's HttpServer (exporters/http/http_server.h): exact paths (`/metricsfoo`
// is a 404), GET and HEAD only on its own routes (405 otherwise), basic auth on every route when a web
// config is given (except routes that authenticate by themselves), gzip for clients that accept it.
//
// Thread-safety: Start() and the destructor may be called from any thread but not concurrently on the same
// exporter; port() and the counters are safe from any thread. Requests run on the exporter's own worker
// threads (num_threads of them), several at once, and call the SnapshotProvider and the extra routes' body
// functions from there, concurrently with the caller's threads.
// Cost: Start() binds a socket and starts num_threads + 1 threads; destruction shuts the listening socket
// down and joins them (tens of ms). A scrape costs ~1 µs per series plus the provider call, plus the
// gzip compression when the scraper asks for it.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "exporters/http/http_server.h"
#include "leakwatch/bundles.h"
#include "leakwatch/result.h"
#include "leakwatch/rules.h"
#include "leakwatch/snapshot.h"

namespace leakwatch::exporters {

// Returns the latest published snapshot, or nullptr before the first tick. Called on every scrape from the
// exporter's worker threads; must be cheap and thread-safe. An exception it throws is caught, counted in
// leakwatch_exporter_collect_errors_total and logged (at most once a minute).
using SnapshotProvider = std::function<std::shared_ptr<const Snapshot>()>;

// The rule engine's published state, for the rule metrics (rules_collectable.h lists them).
struct RulesView {
  std::shared_ptr<const RulesStatus> rules;  // null before the first evaluation
  ConfigStatus config;
  std::optional<BundleStats> bundles;  // the bundle worker's counters
  // Answers of the operator endpoints by (endpoint, HTTP status), for leakwatch_debug_requests_total.
  std::map<std::pair<std::string, int>, uint64_t> debug_requests{};
};
// Called on every scrape from the exporter's worker threads; must be cheap and thread-safe.
using RulesProvider = std::function<RulesView()>;

struct PrometheusExporterOptions {
  // "host:port". host: an IPv4 literal, "localhost" (127.0.0.1) or "" (all interfaces, like "0.0.0.0").
  // port: 0..65535; 0 picks a free port (read it back with port()). IPv6 is not supported: civetweb in
  // Debian's prometheus-cpp is compiled without it.
  std::string listen = "127.0.0.1:9860";
  // Exact path of the metrics, e.g. "/metrics": starts with '/', printable ASCII without space, '?', '#' and
  // '%', no "//", "." or ".." segment.
  std::string metrics_path = "/metrics";
  int request_timeout_ms = 3000;  // civetweb request_timeout_ms, 1..600000: bounds idle or slow connections
  int num_threads = 4;            // civetweb worker threads, 1..64
  std::string web_config_file;    // exporter-toolkit web.yml (see web_config.h); empty: no auth

  // Extra read-only routes served next to the metrics path (same listener, same auth), e.g. the JSON status.
  struct ExtraRoute {
    std::string path;          // exact path, same rules as metrics_path; unique and not metrics_path
    std::string content_type;  // Content-Type of the response, e.g. "application/json"; no CR, LF or NUL
    // Returns the body; called on every GET or HEAD of `path`, on a worker thread, possibly on several at
    // once: must be thread-safe. An exception it throws answers 500 and is counted in handler_errors().
    std::function<std::string()> body;
  };
  std::vector<ExtraRoute> extra_routes;
  // Routes with their own handlers, methods and authentication (e.g. the operator endpoints of
  // exporters/debug), served as given; GET routes are linked from "/".
  std::vector<HttpRoute> routes;
  // Optional: the rules' state, rendered with the snapshot on the metrics path.
  RulesProvider rules_provider;
  // "/" serves an HTML page linking to metrics_path and every extra route, unless one of them is "/".
};

class PrometheusExporter {
 public:
  using Options = PrometheusExporterOptions;

  // Validates `options`, loads the web config, binds and starts serving. Never throws. Errors name the option
  // and value (e.g. `extra_routes[1].path "/status" repeats extra_routes[0].path`), and for a bind failure
  // carry civetweb's cause, e.g. "cannot bind to 127.0.0.1:9860: 98 (Address already in use)". REQUIRES:
  // provider is non-empty.
  static Result<std::unique_ptr<PrometheusExporter>> Start(const Options& options, SnapshotProvider provider);

  ~PrometheusExporter();  // Stop()
  PrometheusExporter(const PrometheusExporter&) = delete;
  PrometheusExporter& operator=(const PrometheusExporter&) = delete;

  // Stops serving: closes the listening socket and joins the worker threads (tens of ms); no provider or body
  // function is called after it returns. Idempotent.
  void Stop();

  // The port actually bound (the chosen one when options.listen asked for port 0).
  int port() const;
  // The listening sockets' fds (HttpServer::listening_fds()).
  const std::vector<int>& listening_fds() const;

  // Number of scrapes whose rendering failed (also exported as leakwatch_exporter_collect_errors_total).
  uint64_t collect_errors() const;

  // Number of requests whose handler failed: an extra route's body function threw, or serializing the
  // metrics failed. Not exported as a metric.
  uint64_t handler_errors() const;

 private:
  struct Impl;
  explicit PrometheusExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakwatch::exporters

#include "exporters/prometheus/prometheus_exporter.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <exception>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "exporters/http/http_server.h"
#include "exporters/http/index_page.h"
#include "exporters/prometheus/rules_collectable.h"
#include "exporters/prometheus/snapshot_collectable.h"
#include "exporters/prometheus/web_config.h"

namespace leakwatch::exporters {
namespace {

// The text exposition format's full media type, as client_golang sends it.
constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kIndexPath = "/";

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status ValidateRoutes(const PrometheusExporterOptions& o) {
  if (auto st = ValidateRoutePath(o.metrics_path); !st) return Error{"metrics_path " + st.error().message};
  std::map<std::string_view, size_t> seen;
  for (size_t i = 0; i < o.extra_routes.size(); ++i) {
    const auto& route = o.extra_routes[i];
    const std::string name = "extra_routes[" + std::to_string(i) + "]";
    if (auto st = ValidateRoutePath(route.path); !st) return Error{name + ".path " + st.error().message};
    if (route.path == o.metrics_path) {
      return Error{name + ".path " + Quote(route.path) + " is the metrics_path"};
    }
    if (auto [it, inserted] = seen.emplace(route.path, i); !inserted) {
      return Error{name + ".path " + Quote(route.path) + " repeats extra_routes[" +
                   std::to_string(it->second) + "].path"};
    }
    if (route.content_type.empty() ||
        route.content_type.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return Error{name + ".content_type " + Quote(route.content_type) +
                   " must be non-empty, without CR, LF or NUL"};
    }
    if (!route.body) return Error{name + " (" + Quote(route.path) + ") has no body function"};
  }
  return OkStatus();
}

HttpRoute MetricsRoute(const std::string& path, std::shared_ptr<SnapshotCollectable> collectable,
                       std::shared_ptr<RulesCollectable> rules) {
  return HttpRoute{path,
                   [collectable = std::move(collectable), rules = std::move(rules)](const HttpRequest&) {
                     HttpResponse response;
                     response.content_type = kMetricsContentType;
                     // Collect() never throws; the serializer may (out of memory), which the server counts.
                     std::vector<prometheus::MetricFamily> families = collectable->Collect();
                     if (rules) {
                       for (auto& f : rules->Collect()) families.push_back(std::move(f));
                     }
                     response.body = prometheus::TextSerializer().Serialize(families);
                     return response;
                   }};
}

HttpRoute ExtraHttpRoute(const PrometheusExporterOptions::ExtraRoute& route) {
  return HttpRoute{route.path, [content_type = route.content_type, body = route.body](const HttpRequest&) {
                     HttpResponse response;
                     response.content_type = content_type;
                     response.body = body();
                     return response;
                   }};
}

HttpRoute IndexRoute(const std::vector<std::string>& paths) {
  return HttpRoute{kIndexPath, [page = RenderIndexPage("leakwatch", paths)](const HttpRequest&) {
                     HttpResponse response;
                     response.content_type = "text/html; charset=utf-8";
                     response.body = page;
                     return response;
                   }};
}

}  // namespace

struct PrometheusExporter::Impl {
  std::shared_ptr<SnapshotCollectable> collectable;  // shared with the metrics route
  std::shared_ptr<RulesCollectable> rules;           // null without a rules provider
  std::unique_ptr<HttpServer> server;
};

PrometheusExporter::PrometheusExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PrometheusExporter::~PrometheusExporter() { Stop(); }

void PrometheusExporter::Stop() {
  if (impl_ && impl_->server) impl_->server->Stop();  // never throws
}

int PrometheusExporter::port() const { return impl_->server->port(); }

const std::vector<int>& PrometheusExporter::listening_fds() const { return impl_->server->listening_fds(); }

uint64_t PrometheusExporter::collect_errors() const {
  return impl_->collectable->collect_errors() + (impl_->rules ? impl_->rules->collect_errors() : 0);
}

uint64_t PrometheusExporter::handler_errors() const { return impl_->server->handler_errors(); }

Result<std::unique_ptr<PrometheusExporter>> PrometheusExporter::Start(const Options& options,
                                                                      SnapshotProvider provider) {
  try {
    if (!provider) return Error{"prometheus exporter: no snapshot provider"};
    if (auto st = ValidateRoutes(options); !st) return Error{"prometheus exporter: " + st.error().message};

    HttpServerOptions server_options;
    server_options.listen = options.listen;
    server_options.request_timeout_ms = options.request_timeout_ms;
    server_options.num_threads = options.num_threads;
    server_options.log_name = "prometheus exporter";
    if (!options.web_config_file.empty()) {
      auto config = LoadWebConfig(options.web_config_file);
      if (!config) return Error{"prometheus exporter: " + config.error().message};
      auto verifier = std::make_shared<const BasicAuthVerifier>(std::move(config).value());
      server_options.basic_auth = [verifier](std::string_view user, std::string_view password) {
        return verifier->Verify(user, password);  // never throws
      };
    }

    auto impl = std::make_unique<Impl>();
    impl->collectable = std::make_shared<SnapshotCollectable>(std::move(provider));
    std::vector<HttpRoute> routes;
    std::vector<std::string> paths;
    if (options.rules_provider) impl->rules = std::make_shared<RulesCollectable>(options.rules_provider);
    routes.push_back(MetricsRoute(options.metrics_path, impl->collectable, impl->rules));
    paths.push_back(options.metrics_path);
    for (const auto& route : options.extra_routes) {
      routes.push_back(ExtraHttpRoute(route));
      paths.push_back(route.path);
    }
    for (const auto& route : options.routes) {
      routes.push_back(route);
      const bool get = std::find(route.methods.begin(), route.methods.end(), "GET") != route.methods.end();
      if (get) paths.push_back(route.path);
    }
    if (std::find(paths.begin(), paths.end(), kIndexPath) == paths.end()) routes.push_back(IndexRoute(paths));

    auto server = HttpServer::Start(server_options, std::move(routes));
    if (!server) return Error{"prometheus exporter: " + server.error().message};
    impl->server = std::move(server).value();
    return std::unique_ptr<PrometheusExporter>(new PrometheusExporter(std::move(impl)));
  } catch (const std::exception& e) {
    return Error{std::string("prometheus exporter: start failed: ") + e.what()};
  } catch (...) {
    return Error{"prometheus exporter: start failed: unknown exception"};
  }
}

}  // namespace leakwatch::exporters

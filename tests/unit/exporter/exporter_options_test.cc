#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "exporters/prometheus/prometheus_exporter.h"

namespace leakwatch::exporters {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Every invalid option is reported before anything binds or starts a thread.
TEST(PrometheusExporterOptionsTest, StartRejectsBadOptionsWithoutThrowing) {
  const SnapshotProvider provider = [] { return std::shared_ptr<const Snapshot>(); };
  auto start = [&](PrometheusExporterOptions o, SnapshotProvider p) {
    Result<std::unique_ptr<PrometheusExporter>> r = Error{""};
    EXPECT_NO_THROW(r = PrometheusExporter::Start(o, std::move(p)));
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.error().message;
  };
  PrometheusExporterOptions o;
  o.listen = "[::1]:0";
  EXPECT_THAT(start(o, provider), HasSubstr("IPv6 is not supported"));
  o = {};
  o.listen = "127.0.0.1:0";
  o.metrics_path = "metrics";
  EXPECT_THAT(start(o, provider), AllOf(HasSubstr("metrics_path \"metrics\""), HasSubstr("'/'")));
  o = {};
  o.listen = "127.0.0.1:0";
  o.num_threads = 0;
  EXPECT_THAT(start(o, provider), HasSubstr("num_threads 0"));
  o = {};
  o.listen = "127.0.0.1:0";
  o.request_timeout_ms = -5;
  EXPECT_THAT(start(o, provider), HasSubstr("request_timeout_ms -5"));
  o = {};
  o.listen = "127.0.0.1:0";
  o.web_config_file = "/nonexistent/web.yml";
  EXPECT_THAT(start(o, provider), HasSubstr("/nonexistent/web.yml"));
  o = {};
  o.listen = "127.0.0.1:0";
  EXPECT_THAT(start(o, SnapshotProvider{}), HasSubstr("no snapshot provider"));
}

TEST(PrometheusExporterOptionsTest, StartRejectsBadExtraRoutes) {
  const SnapshotProvider provider = [] { return std::shared_ptr<const Snapshot>(); };
  auto error = [&](PrometheusExporterOptions o) {
    o.listen = "127.0.0.1:0";
    Result<std::unique_ptr<PrometheusExporter>> r = Error{""};
    EXPECT_NO_THROW(r = PrometheusExporter::Start(o, provider));
    return r.ok() ? std::string("(started)") : r.error().message;
  };
  const auto body = [] { return std::string("{}"); };
  using Route = PrometheusExporterOptions::ExtraRoute;
  PrometheusExporterOptions o;
  o.extra_routes = {Route{"status", "application/json", body}};
  EXPECT_EQ(error(o), "prometheus exporter: extra_routes[0].path \"status\" must start with '/'");
  o.extra_routes = {Route{"/status", "application/json", body}, Route{"/status", "text/plain", body}};
  EXPECT_EQ(error(o), "prometheus exporter: extra_routes[1].path \"/status\" repeats extra_routes[0].path");
  o.extra_routes = {Route{"/metrics", "text/plain", body}};
  EXPECT_EQ(error(o), "prometheus exporter: extra_routes[0].path \"/metrics\" is the metrics_path");
  o.extra_routes = {Route{"/status", "", body}};
  EXPECT_THAT(error(o), HasSubstr("extra_routes[0].content_type \"\" must be non-empty"));
  o.extra_routes = {Route{"/status", "text/plain\r\nX-Evil: 1", body}};
  EXPECT_THAT(error(o), HasSubstr("extra_routes[0].content_type"));
  o.extra_routes = {Route{"/status", "application/json", nullptr}};
  EXPECT_EQ(error(o), "prometheus exporter: extra_routes[0] (\"/status\") has no body function");
  o.extra_routes = {Route{"/a b", "text/plain", body}};
  EXPECT_THAT(error(o), HasSubstr("extra_routes[0].path \"/a b\" must contain only printable ASCII"));
  o.extra_routes = {};
  o.metrics_path = "//metrics";
  EXPECT_THAT(error(o), HasSubstr("metrics_path \"//metrics\" must not contain \"//\""));
}

}  // namespace
}  // namespace leakwatch::exporters

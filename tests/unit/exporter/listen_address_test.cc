#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "exporters/prometheus/prometheus_exporter.h"

namespace leakwatch::exporters {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ListenAddressTest, Accepts) {
  struct Case {
    const char* in;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"127.0.0.1:9860", "127.0.0.1", 9860}, Case{":9860", "0.0.0.0", 9860},
                        Case{"0.0.0.0:0", "0.0.0.0", 0}, Case{"localhost:65535", "127.0.0.1", 65535},
                        Case{"10.1.2.3:1", "10.1.2.3", 1}}) {
    auto r = ParseListenAddress(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message;
    EXPECT_EQ(r->host, c.host) << c.in;
    EXPECT_EQ(r->port, c.port) << c.in;
  }
}

std::string ErrorOf(const std::string& listen) {
  auto r = ParseListenAddress(listen);
  EXPECT_FALSE(r.ok()) << listen;
  return r.ok() ? "" : r.error().message;
}

TEST(ListenAddressTest, RejectsWithPreciseErrors) {
  EXPECT_THAT(ErrorOf("[::1]:9860"), AllOf(HasSubstr("\"[::1]:9860\""), HasSubstr("IPv6 is not supported")));
  EXPECT_THAT(ErrorOf("::1:9860"), HasSubstr("IPv6 is not supported"));
  EXPECT_THAT(ErrorOf("9860"), AllOf(HasSubstr("\"9860\""), HasSubstr("host:port")));
  EXPECT_THAT(ErrorOf("example.com:9860"), AllOf(HasSubstr("\"example.com\""), HasSubstr("not an IPv4")));
  EXPECT_THAT(ErrorOf("127.0.0.256:9860"), HasSubstr("not an IPv4"));
  EXPECT_THAT(ErrorOf("127.0.0.1:65536"), AllOf(HasSubstr("\"65536\""), HasSubstr("0..65535")));
  EXPECT_THAT(ErrorOf("127.0.0.1:"), HasSubstr("0..65535"));
  EXPECT_THAT(ErrorOf("127.0.0.1:-1"), HasSubstr("0..65535"));
  EXPECT_THAT(ErrorOf("127.0.0.1:9860s"), HasSubstr("\"9860s\""));
  EXPECT_THAT(ErrorOf("127.0.0.1:99999999999999999999"), HasSubstr("0..65535"));
}

}  // namespace
}  // namespace leakwatch::exporters

namespace leakwatch::exporters {
namespace {

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

}  // namespace
}  // namespace leakwatch::exporters

// Unit tests of the HTTP layer's pure parts: route path rules, header lookup, Authorization parsing,
// Accept-Encoding negotiation and the index page (GzipCompress itself: tests/unit/common/gzip_test.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "exporters/http/basic_auth_header.h"
#include "exporters/http/gzip.h"
#include "exporters/http/http_server.h"
#include "exporters/http/index_page.h"

namespace leakwatch::exporters {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ValidateRoutePathTest, AcceptsNormalisedAbsolutePaths) {
  for (const char* path :
       {"/", "/metrics", "/status", "/debug/pprof/heap", "/a-b_c.d~e", "/status/", "/.well-known"}) {
    EXPECT_TRUE(ValidateRoutePath(path).ok()) << path;
  }
}

TEST(ValidateRoutePathTest, RejectsPathsThatCouldNeverMatch) {
  const auto error = [](std::string_view path) {
    const Status st = ValidateRoutePath(path);
    return st.ok() ? std::string("(accepted)") : st.error().message;
  };
  EXPECT_EQ(error(""), "\"\" must start with '/'");
  EXPECT_EQ(error("metrics"), "\"metrics\" must start with '/'");
  for (const char* path : {"/a b", "/a?b", "/a#b", "/a%20b", "/a\tb", "/caf\xc3\xa9"}) {
    EXPECT_THAT(error(path), HasSubstr("printable ASCII")) << path;
  }
  EXPECT_THAT(error("//metrics"), HasSubstr("\"//\""));
  EXPECT_THAT(error("/a//b"), HasSubstr("\"//\""));
  EXPECT_THAT(error("/a/../b"), HasSubstr("\"..\""));
  EXPECT_THAT(error("/a/."), HasSubstr("\".\""));
}

TEST(HttpRequestTest, HeaderLookupIsCaseInsensitiveAndReturnsTheFirst) {
  HttpRequest r;
  r.headers = {{"Accept-Encoding", "gzip"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(r.header("accept-encoding").value_or(""), "gzip");
  EXPECT_EQ(r.header("X-A").value_or(""), "1");
  EXPECT_FALSE(r.header("Authorization").has_value());
}

TEST(ParseBasicAuthorizationTest, DecodesUserAndPassword) {
  auto c = ParseBasicAuthorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user, "Aladdin");
  EXPECT_EQ(c->password, "open sesame");
  c = ParseBasicAuthorization("bAsIc   dTpwOnE=  ");  // "u:p:q": the password keeps its ':'
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user, "u");
  EXPECT_EQ(c->password, "p:q");
  c = ParseBasicAuthorization("Basic dTo");  // "u:", unpadded
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user, "u");
  EXPECT_EQ(c->password, "");
}

TEST(ParseBasicAuthorizationTest, RejectsOtherSchemesAndBadEncodings) {
  EXPECT_FALSE(ParseBasicAuthorization("").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Basic").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Bearer dTpw").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Basicx dTpw").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Basic dXNlcg==").has_value());  // "user": no ':'
  EXPECT_FALSE(ParseBasicAuthorization("Basic dT!w").has_value());
  EXPECT_FALSE(ParseBasicAuthorization("Basic dTp=w").has_value());  // padding in the middle
  EXPECT_FALSE(ParseBasicAuthorization("Basic d").has_value());      // 6 bits cannot be a byte
}

TEST(AcceptsGzipTest, NegotiatesOnlyExplicitGzip) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("GZIP"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, gzip;q=0.8"));
  EXPECT_TRUE(AcceptsGzip("gzip; q=1.0, identity"));
  EXPECT_TRUE(AcceptsGzip("gzip;q=0.001"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip("deflate, br"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip; q=0.000, deflate"));
  EXPECT_FALSE(AcceptsGzip("gzipped"));
}

TEST(RenderIndexPageTest, LinksEveryPathAndEscapesThem) {
  const std::string html = RenderIndexPage("leakwatch", {"/metrics", "/status", "/a<b>&\"c\""});
  EXPECT_THAT(html, HasSubstr("<title>leakwatch</title>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/metrics\">/metrics</a>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/status\">/status</a>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/a&lt;b&gt;&amp;&quot;c&quot;\">"));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_LT(html.find("/metrics"), html.find("/status"));
}

}  // namespace
}  // namespace leakwatch::exporters

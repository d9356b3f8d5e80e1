#include "tests/support/http_client.h"

#include <gtest/gtest.h>

namespace leakwatch::test_support {
namespace {

TEST(HttpClientTest, Base64Encode) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(Base64Encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(HttpClientTest, HeaderLookupIsCaseInsensitive) {
  HttpResponse r;
  r.headers = {{"Content-Type", "text/plain"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(r.header("content-type").value_or(""), "text/plain");
  EXPECT_EQ(r.header("X-A").value_or(""), "1");
  EXPECT_FALSE(r.header("Missing").has_value());
}

TEST(HttpClientTest, RejectsBadHost) {
  HttpGetOptions o;
  o.host = "not-an-ip";
  EXPECT_FALSE(HttpGet(80, "/", o).ok());
}

}  // namespace
}  // namespace leakwatch::test_support

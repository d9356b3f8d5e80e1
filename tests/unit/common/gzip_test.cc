// GzipCompress (agent/common/gzip.h): gzip members that inflate back to the input.
#include "agent/common/gzip.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/gunzip.h"

namespace leakwatch::internal {
namespace {

TEST(GzipCompressTest, RoundTrips) {
  for (const std::string& input : {std::string(), std::string("hello"), std::string(100'000, 'x'),
                                   std::string("\0\xff\x01 binary", 10)}) {
    auto z = GzipCompress(input);
    ASSERT_TRUE(z.ok()) << z.error().message;
    ASSERT_GE(z->size(), 18u);  // header and trailer
    EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
    EXPECT_EQ(test_support::Gunzip(*z), input);
  }
  EXPECT_LT(GzipCompress(std::string(100'000, 'x'))->size(), 1000u);
}

}  // namespace
}  // namespace leakwatch::internal

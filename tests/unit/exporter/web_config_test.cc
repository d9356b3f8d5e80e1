#include "exporters/prometheus/web_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/unit/exporter/bcrypt_test_util.h"

namespace leakwatch::exporters {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A syntactically valid bcrypt hash (of "secret", cost 4).
const std::string& Hash() {
  static const std::string hash = testdata::Bcrypt("secret", 4);
  return hash;
}

std::string ParseError(const std::string& text) {
  auto r = ParseWebConfig(text, "web.yml");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? std::string() : r.error().message;
}

TEST(WebConfigTest, ParsesUsers) {
  auto r = ParseWebConfig("basic_auth_users:\n  alice: " + Hash() + "\n  bob: '" + Hash() + "'\n", "web.yml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->basic_auth_users.size(), 2u);
  EXPECT_EQ(r->basic_auth_users.at("alice"), Hash());
}

TEST(WebConfigTest, AcceptsAndIgnoresHttp2) {
  auto r = ParseWebConfig("http_server_config:\n  http2: false\nbasic_auth_users:\n  alice: " + Hash() + "\n",
                          "web.yml");
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST(WebConfigTest, RejectsTlsServerConfig) {
  const std::string e = ParseError("basic_auth_users:\n  alice: " + Hash() +
                                   "\ntls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:3:"), HasSubstr("tls_server_config"), HasSubstr("server.crt"),
                       HasSubstr("in-process TLS is not supported"), HasSubstr("proxy"),
                       HasSubstr("docs/SECURITY.md")));
}

TEST(WebConfigTest, RejectsUnknownTopLevelKey) {
  const std::string e = ParseError("basic_auth_user:\n  alice: x\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:1:"), HasSubstr("basic_auth_user,"), HasSubstr("alice"),
                       HasSubstr("unknown key")));
}

TEST(WebConfigTest, RejectsPlaintextPasswordWithoutEchoingIt) {
  const std::string e = ParseError("basic_auth_users:\n  alice: " + Hash() + "\n  bob: hunter2hunter2\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:3:"), HasSubstr("basic_auth_users.bob"),
                       HasSubstr("\"...\" (14 characters, masked)"), HasSubstr("not a bcrypt hash"),
                       HasSubstr("htpasswd")));
  EXPECT_THAT(e, Not(HasSubstr("hunter2")));
}

TEST(WebConfigTest, RejectsOtherCryptSchemes) {
  const std::string e = ParseError("basic_auth_users:\n  alice: $6$saltsalt$abcdefghijklmnop\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:2:"), HasSubstr("basic_auth_users.alice"), HasSubstr("\"$6$...\""),
                       HasSubstr("SHA-512-crypt"), HasSubstr("only bcrypt")));
}

TEST(WebConfigTest, RejectsTruncatedBcrypt) {
  const std::string e = ParseError("basic_auth_users:\n  alice: " + Hash().substr(0, 59) + "\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:2:"), HasSubstr("basic_auth_users.alice"), HasSubstr("\"$2y$...\""),
                       HasSubstr("60 characters, this one has 59")));
}

TEST(WebConfigTest, RejectsBadCost) {
  std::string h = Hash();
  h[4] = '3';
  h[5] = '2';
  EXPECT_THAT(ParseError("basic_auth_users:\n  alice: " + h + "\n"),
              AllOf(HasSubstr("web.yml:2:"), HasSubstr("cost 32")));
}

TEST(WebConfigTest, RejectsEmptyUser) {
  const std::string e = ParseError("basic_auth_users:\n  alice: " + Hash() + "\n  \"\": " + Hash() + "\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:3:"), HasSubstr("field basic_auth_users"), HasSubstr("value \"\""),
                       HasSubstr("must not be empty")));
}

TEST(WebConfigTest, RejectsUserWithColon) {
  const std::string e = ParseError("basic_auth_users:\n  \"a:b\": " + Hash() + "\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:2:"), HasSubstr("\"a:b\""), HasSubstr("':'")));
}

TEST(WebConfigTest, RejectsUserWithoutHash) {
  const std::string e = ParseError("basic_auth_users:\n  alice:\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:2:"), HasSubstr("basic_auth_users.alice"), HasSubstr("value null"),
                       HasSubstr("no password hash")));
}

TEST(WebConfigTest, RejectsNonStringHash) {
  const std::string e = ParseError("basic_auth_users:\n  alice: [a, b]\n");
  EXPECT_THAT(
      e, AllOf(HasSubstr("web.yml:2:"), HasSubstr("basic_auth_users.alice"), HasSubstr("must be a string")));
}

TEST(WebConfigTest, RejectsDuplicateUser) {
  const std::string e = ParseError("basic_auth_users:\n  alice: " + Hash() + "\n  alice: " + Hash() + "\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:3:"), HasSubstr("\"alice\""), HasSubstr("duplicate user")));
}

TEST(WebConfigTest, RejectsDuplicateTopLevelKey) {
  const std::string e =
      ParseError("basic_auth_users:\n  alice: " + Hash() + "\nbasic_auth_users:\n  bob: " + Hash() + "\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:3:"), HasSubstr("basic_auth_users"), HasSubstr("duplicate key")));
}

TEST(WebConfigTest, RejectsFileWithoutUsers) {
  EXPECT_THAT(ParseError(""), AllOf(HasSubstr("web.yml"), HasSubstr("no basic_auth_users")));
  EXPECT_THAT(ParseError("basic_auth_users: {}\n"),
              AllOf(HasSubstr("web.yml:1:"), HasSubstr("basic_auth_users"), HasSubstr("defines no user")));
  EXPECT_THAT(ParseError("http_server_config:\n  http2: true\n"),
              AllOf(HasSubstr("web.yml:1:"), HasSubstr("basic_auth_users"), HasSubstr("defines no user")));
}

TEST(WebConfigTest, RejectsHeadersAndUnknownHttpServerKeys) {
  EXPECT_THAT(ParseError("basic_auth_users:\n  alice: " + Hash() +
                         "\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"),
              AllOf(HasSubstr("web.yml:4:"), HasSubstr("http_server_config.headers"),
                    HasSubstr("X-Frame-Options"), HasSubstr("not supported")));
  EXPECT_THAT(ParseError("basic_auth_users:\n  alice: " + Hash() + "\nhttp_server_config:\n  http3: true\n"),
              AllOf(HasSubstr("web.yml:4:"), HasSubstr("http_server_config.http3"),
                    HasSubstr("value \"true\""), HasSubstr("unknown key")));
  EXPECT_THAT(ParseError("basic_auth_users:\n  alice: " + Hash() + "\nhttp_server_config:\n  http2: maybe\n"),
              AllOf(HasSubstr("web.yml:4:"), HasSubstr("http_server_config.http2"), HasSubstr("\"maybe\""),
                    HasSubstr("true or false")));
}

TEST(WebConfigTest, RejectsBadShapes) {
  EXPECT_THAT(ParseError("- a\n- b\n"), AllOf(HasSubstr("web.yml:1:"), HasSubstr("top level")));
  EXPECT_THAT(ParseError("basic_auth_users: alice\n"),
              AllOf(HasSubstr("web.yml:1:"), HasSubstr("basic_auth_users"), HasSubstr("\"alice\""),
                    HasSubstr("mapping")));
}

TEST(WebConfigTest, ReportsYamlSyntaxErrorsWithLineAndColumn) {
  const std::string e = ParseError("basic_auth_users:\n  alice: [unclosed\n");
  EXPECT_THAT(e, AllOf(HasSubstr("web.yml:"), HasSubstr("invalid YAML")));
  EXPECT_THAT(e, ::testing::ContainsRegex("web\\.yml:[0-9]+:[0-9]+: "));
}

TEST(WebConfigTest, LoadWebConfigNamesTheMissingFile) {
  auto r = LoadWebConfig("/nonexistent/leakwatch-web.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("/nonexistent/leakwatch-web.yml"));
}

TEST(WebConfigTest, LoadWebConfigReadsAFile) {
  const std::string path =
      ::testing::TempDir() + "leakwatch-web-config-test-" + std::to_string(::getpid()) + ".yml";
  {
    std::ofstream f(path);
    f << "basic_auth_users:\n  alice: " << Hash() << "\n";
  }
  auto r = LoadWebConfig(path);
  std::remove(path.c_str());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->basic_auth_users.count("alice"), 1u);
}

// --- verification ------------------------------------------------------------------------------------------

WebConfig Users(std::initializer_list<std::pair<std::string, std::string>> users) {
  WebConfig c;
  for (const auto& [u, h] : users) c.basic_auth_users.emplace(u, h);
  return c;
}

struct ManualClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
};

TEST(BasicAuthVerifierTest, AcceptsRightAndRejectsWrongPassword) {
  BasicAuthVerifier v(Users({{"alice", testdata::Bcrypt("right", 4)}}));
  EXPECT_TRUE(v.Verify("alice", "right"));
  EXPECT_FALSE(v.Verify("alice", "wrong"));
  EXPECT_FALSE(v.Verify("alice", ""));
  EXPECT_FALSE(v.Verify("alice", std::string("right\0tail", 10)));  // no C-string truncation
  EXPECT_FALSE(v.Verify("bob", "right"));
  EXPECT_FALSE(v.Verify("", ""));
}

TEST(BasicAuthVerifierTest, SecondCheckWithTheRightPasswordIsCachedAndFast) {
  BasicAuthVerifier v(Users({{"alice", testdata::Bcrypt("right", 10)}}));
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(v.Verify("alice", "right"));
  const auto first = std::chrono::steady_clock::now() - t0;
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(v.Verify("alice", "right"));
  const auto second = std::chrono::steady_clock::now() - t1;
  EXPECT_EQ(v.stats().bcrypt_checks, 1u);
  EXPECT_EQ(v.stats().cache_hits, 1u);
  EXPECT_EQ(v.stats().cache_entries, 1u);
  // bcrypt at cost 10 takes tens of milliseconds; a cache hit is one SHA-256.
  EXPECT_LT(second * 4, first) << "first " << std::chrono::duration<double, std::milli>(first).count()
                               << " ms, second " << std::chrono::duration<double, std::milli>(second).count()
                               << " ms";
  // The cache does not accept a wrong password for a cached user.
  EXPECT_FALSE(v.Verify("alice", "wrong"));
  EXPECT_EQ(v.stats().bcrypt_checks, 2u);
}

TEST(BasicAuthVerifierTest, FailuresAreNeverCached) {
  BasicAuthVerifier v(Users({{"alice", testdata::Bcrypt("right", 4)}}));
  EXPECT_FALSE(v.Verify("alice", "wrong"));
  EXPECT_FALSE(v.Verify("alice", "wrong"));
  EXPECT_FALSE(v.Verify("mallory", "x"));  // unknown user: still one bcrypt, against the dummy hash
  EXPECT_EQ(v.stats().bcrypt_checks, 3u);
  EXPECT_EQ(v.stats().cache_hits, 0u);
  EXPECT_EQ(v.stats().cache_entries, 0u);
}

TEST(BasicAuthVerifierTest, CacheEntriesExpire) {
  auto clock = std::make_shared<ManualClock>();
  BasicAuthCacheOptions options;
  options.ttl = std::chrono::seconds(60);
  options.now = [clock] { return clock->now; };
  BasicAuthVerifier v(Users({{"alice", testdata::Bcrypt("right", 4)}}), options);
  EXPECT_TRUE(v.Verify("alice", "right"));
  clock->now += std::chrono::seconds(59);
  EXPECT_TRUE(v.Verify("alice", "right"));
  EXPECT_EQ(v.stats().bcrypt_checks, 1u);
  clock->now += std::chrono::seconds(2);
  EXPECT_TRUE(v.Verify("alice", "right"));
  EXPECT_EQ(v.stats().bcrypt_checks, 2u);
}

TEST(BasicAuthVerifierTest, CacheIsBounded) {
  auto clock = std::make_shared<ManualClock>();
  BasicAuthCacheOptions options;
  options.max_entries = 2;
  options.now = [clock] { return clock->now; };
  const std::string hash = testdata::Bcrypt("pw", 4);
  BasicAuthVerifier v(Users({{"a", hash}, {"b", hash}, {"c", hash}}), options);
  EXPECT_TRUE(v.Verify("a", "pw"));
  clock->now += std::chrono::seconds(1);
  EXPECT_TRUE(v.Verify("b", "pw"));
  clock->now += std::chrono::seconds(1);
  EXPECT_TRUE(v.Verify("c", "pw"));  // evicts "a", the oldest
  EXPECT_EQ(v.stats().cache_entries, 2u);
  EXPECT_EQ(v.stats().bcrypt_checks, 3u);
  EXPECT_TRUE(v.Verify("c", "pw"));
  EXPECT_TRUE(v.Verify("b", "pw"));
  EXPECT_EQ(v.stats().bcrypt_checks, 3u);
  EXPECT_TRUE(v.Verify("a", "pw"));
  EXPECT_EQ(v.stats().bcrypt_checks, 4u);
}

TEST(BasicAuthVerifierTest, CacheCanBeDisabled) {
  BasicAuthCacheOptions options;
  options.max_entries = 0;
  BasicAuthVerifier v(Users({{"alice", testdata::Bcrypt("right", 4)}}), options);
  EXPECT_TRUE(v.Verify("alice", "right"));
  EXPECT_TRUE(v.Verify("alice", "right"));
  EXPECT_EQ(v.stats().bcrypt_checks, 2u);
}

}  // namespace
}  // namespace leakwatch::exporters

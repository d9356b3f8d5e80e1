#pragma once
// Web configuration of the Prometheus exporter: the `web.yml` file format of the Prometheus exporter-toolkit
// (https://prometheus.io/docs/prometheus/latest/configuration/https/), restricted to what an in-process agent
// can honour safely:
//
//   basic_auth_users:            # required, at least one user
//     prometheus: $2y$10$...     # bcrypt hash ($2a$, $2b$ or $2y$), e.g. `htpasswd -nbBC 10 USER PASS`
//   http_server_config:          # optional; only `http2` is accepted, and it is ignored (HTTP/1.1 only)
//     http2: true
//
// Rejected with an error naming file, line, field and value: `tls_server_config` (in-process TLS is not
// supported: terminate TLS in a proxy, see docs/SECURITY.md), `http_server_config.headers` and
// any other key, hashes that are not bcrypt, empty user names or names containing ':', duplicate users, and a
// file that defines no user at all (a web config file that silently disabled authentication would be a trap;
// leave the web config file option empty to run without authentication).
//
// Thread-safety: the free functions are pure (LoadWebConfig reads one file). BasicAuthVerifier::Verify() may
// be called from any number of threads at once.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "leakwatch/result.h"

namespace leakwatch::exporters {

struct WebConfig {
  // user name -> bcrypt hash. Never empty in a config returned by ParseWebConfig().
  std::map<std::string, std::string, std::less<>> basic_auth_users;
};

// Parses web.yml text; `file_name` is used in error messages only ("<file>:<line>: <field>: ...").
// A password hash that is not bcrypt is shown masked in errors (it may be a plaintext password).
Result<WebConfig> ParseWebConfig(std::string_view text, std::string_view file_name);

// Reads `path` (at most 1 MiB) and parses it.
Result<WebConfig> LoadWebConfig(const std::string& path);

// Bounded cache of successful checks, as exporter-toolkit keeps one: bcrypt costs 50-100 ms per check at cost
// 10, which must not be paid on every scrape.
struct BasicAuthCacheOptions {
  size_t max_entries = 64;        // 0 disables the cache
  std::chrono::seconds ttl{300};  // a cached success is trusted this long
  // Clock for the TTL; empty means std::chrono::steady_clock::now. Tests inject a manual clock.
  std::function<std::chrono::steady_clock::time_point()> now;
};

// Checks HTTP basic-auth credentials against the bcrypt hashes of a WebConfig.
//
// A cache miss costs one bcrypt computation (crypt_rn from libcrypt), also for unknown users (checked against
// a dummy hash, so that response time does not reveal which users exist); a hit costs one SHA-256 (~1 µs).
// Only successes are cached, keyed by SHA-256 of a per-process random salt, the user and the password: no
// password is kept in memory. Failed attempts are never cached.
class BasicAuthVerifier {
 public:
  explicit BasicAuthVerifier(WebConfig config, BasicAuthCacheOptions options = {});
  ~BasicAuthVerifier();
  BasicAuthVerifier(const BasicAuthVerifier&) = delete;
  BasicAuthVerifier& operator=(const BasicAuthVerifier&) = delete;

  // True when `user` exists and `password` matches its hash. Never throws (an internal error answers false).
  bool Verify(std::string_view user, std::string_view password) const;

  struct Stats {
    uint64_t bcrypt_checks = 0;  // crypt_rn computations (cache misses)
    uint64_t cache_hits = 0;
    size_t cache_entries = 0;
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakwatch::exporters

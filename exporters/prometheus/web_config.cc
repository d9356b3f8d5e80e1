#include "exporters/prometheus/web_config.h"

#include <crypt.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "agent/common/file_reader.h"
#include "exporters/prometheus/sha256.h"

namespace leakwatch::exporters {
namespace {

constexpr std::string_view kTlsNotSupported =
    "in-process TLS is not supported (civetweb's TLS crashes with OpenSSL 3); terminate TLS in a proxy "
    "(kube-rbac-proxy, nginx, stunnel) and bind the exporter to 127.0.0.1, see docs/SECURITY.md";
constexpr std::string_view kHashHint =
    "expected a bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost 04..31, '$' and 53 characters of "
    "[./A-Za-z0-9] (generate one with `htpasswd -nbBC 10 USER PASSWORD`)";

// A bcrypt hash of a random string nobody knows: unknown users are checked against it so that answering for
// them takes as long as for a known user with a wrong password.
constexpr const char* kDummyHash = "$2y$10$xXxBRJkXtYTTb99x0ERcJ.BNOB7I6emQPtfMgthybViuiVNg9Qrqu";

// ---------------------------------------------------------------------------------------------------------
// Parsing

std::string Location(std::string_view file, const YAML::Mark& mark) {
  std::string out(file);
  if (!mark.is_null() && mark.line >= 0) out += ":" + std::to_string(mark.line + 1);
  return out;
}

// A short, single-line rendering of a node for error messages.
std::string Describe(const YAML::Node& node) {
  constexpr size_t kMax = 80;
  std::string out;
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "null";
    case YAML::NodeType::Scalar:
      out = "\"" + node.Scalar() + "\"";
      break;
    default: {
      YAML::Emitter emitter;
      emitter << YAML::Flow << node;
      out = emitter.c_str();
      break;
    }
  }
  std::replace(out.begin(), out.end(), '\n', ' ');
  if (out.size() > kMax) out = out.substr(0, kMax) + "...";
  return out;
}

// A password hash is shown masked: a user may have pasted a plaintext password where the hash belongs. Only a
// "$scheme$" prefix (which names the wrong algorithm) is shown.
std::string DescribeSecret(const YAML::Node& node) {
  if (!node.IsScalar()) return Describe(node);
  const std::string& s = node.Scalar();
  std::string shown;
  if (!s.empty() && s[0] == '$') {
    const size_t end = s.find('$', 1);
    shown =
        s.substr(0, end == std::string::npos ? std::min<size_t>(s.size(), 4) : std::min(end + 1, s.size()));
  }
  return "\"" + shown + "...\" (" + std::to_string(s.size()) + " characters, masked)";
}

std::string FieldError(std::string_view file, const YAML::Mark& mark, std::string_view field,
                       const std::string& value, std::string_view problem) {
  std::string out = Location(file, mark);
  out += ": field ";
  out += field;
  out += ", value ";
  out += value;
  out += ": ";
  out += problem;
  return out;
}

// nullopt when `h` is a well-formed bcrypt hash, else what is wrong with it.
std::optional<std::string> BcryptProblem(std::string_view h) {
  const bool bcrypt_prefix = h.size() >= 4 && h[0] == '$' && h[1] == '2' && h[3] == '$' &&
                             (h[2] == 'a' || h[2] == 'b' || h[2] == 'y');
  if (!bcrypt_prefix) {
    std::string_view scheme;
    if (h.rfind("$1$", 0) == 0)
      scheme = "an MD5-crypt";
    else if (h.rfind("$5$", 0) == 0)
      scheme = "a SHA-256-crypt";
    else if (h.rfind("$6$", 0) == 0)
      scheme = "a SHA-512-crypt";
    else if (h.rfind("$y$", 0) == 0)
      scheme = "a yescrypt";
    else if (h.rfind("$argon2", 0) == 0)
      scheme = "an Argon2";
    else if (h.rfind("$apr1$", 0) == 0)
      scheme = "an Apache MD5";
    else if (h.rfind("{SHA}", 0) == 0)
      scheme = "an unsalted SHA-1";
    if (!scheme.empty())
      return "this is " + std::string(scheme) + " hash, only bcrypt is supported; " + std::string(kHashHint);
    return "not a bcrypt hash; " + std::string(kHashHint);
  }
  if (h.size() != 60) {
    return "a bcrypt hash has 60 characters, this one has " + std::to_string(h.size()) + "; " +
           std::string(kHashHint);
  }
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!digit(h[4]) || !digit(h[5]) || h[6] != '$') return "bad bcrypt cost field; " + std::string(kHashHint);
  const int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) {
    return "bcrypt cost " + std::to_string(cost) + " is outside 04..31; " + std::string(kHashHint);
  }
  for (char c : h.substr(7)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) || c == '.' || c == '/';
    if (!ok) return "bad character in the bcrypt salt/hash part; " + std::string(kHashHint);
  }
  return std::nullopt;
}

Status ParseUsers(const YAML::Node& key, const YAML::Node& users, std::string_view file, WebConfig* out) {
  if (!users.IsMap()) {
    return Error{FieldError(file, users.Mark().is_null() ? key.Mark() : users.Mark(), "basic_auth_users",
                            Describe(users), "must be a mapping of user name to bcrypt hash")};
  }
  for (const auto& kv : users) {
    const YAML::Node& user_node = kv.first;
    const YAML::Node& hash_node = kv.second;
    if (!user_node.IsScalar()) {
      return Error{FieldError(file, user_node.Mark(), "basic_auth_users", Describe(user_node),
                              "a user name must be a string")};
    }
    const std::string& user = user_node.Scalar();
    const std::string field = "basic_auth_users." + user;
    if (user.empty()) {
      return Error{
          FieldError(file, user_node.Mark(), "basic_auth_users", "\"\"", "a user name must not be empty")};
    }
    if (user.find(':') != std::string::npos) {
      return Error{FieldError(file, user_node.Mark(), "basic_auth_users", Describe(user_node),
                              "a user name must not contain ':' (HTTP basic auth splits user and password at "
                              "the first ':')")};
    }
    if (out->basic_auth_users.count(user) != 0) {
      return Error{
          FieldError(file, user_node.Mark(), "basic_auth_users", Describe(user_node), "duplicate user")};
    }
    // A null value has no position of its own (yaml-cpp reports the next token): point at the user's line.
    const YAML::Mark hash_mark =
        hash_node.IsNull() || hash_node.Mark().is_null() ? user_node.Mark() : hash_node.Mark();
    if (hash_node.IsNull() || !hash_node.IsDefined()) {
      return Error{FieldError(file, hash_mark, field, "null",
                              "the user has no password hash; " + std::string(kHashHint))};
    }
    if (!hash_node.IsScalar()) {
      return Error{FieldError(file, hash_mark, field, Describe(hash_node),
                              "must be a string; " + std::string(kHashHint))};
    }
    if (auto problem = BcryptProblem(hash_node.Scalar())) {
      return Error{FieldError(file, hash_mark, field, DescribeSecret(hash_node), *problem)};
    }
    out->basic_auth_users.emplace(user, hash_node.Scalar());
  }
  return OkStatus();
}

Status ParseHttpServerConfig(const YAML::Node& key, const YAML::Node& node, std::string_view file) {
  if (node.IsNull()) return OkStatus();
  if (!node.IsMap()) {
    return Error{FieldError(file, node.Mark().is_null() ? key.Mark() : node.Mark(), "http_server_config",
                            Describe(node), "must be a mapping")};
  }
  for (const auto& kv : node) {
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : Describe(kv.first);
    if (name == "http2") {
      // Accepted for compatibility with exporter-toolkit files and ignored: civetweb speaks HTTP/1.1 only,
      // and exporter-toolkit itself only uses HTTP/2 over TLS.
      bool ignored = false;
      if (!kv.second.IsScalar() || !YAML::convert<bool>::decode(kv.second, ignored)) {
        return Error{FieldError(file, kv.second.Mark().is_null() ? kv.first.Mark() : kv.second.Mark(),
                                "http_server_config.http2", Describe(kv.second), "must be true or false")};
      }
      continue;
    }
    if (name == "headers") {
      return Error{
          FieldError(file, kv.first.Mark(), "http_server_config.headers", Describe(kv.second),
                     "custom response headers are not supported by the leakwatch exporter; set them in "
                     "the proxy in front of it")};
    }
    return Error{FieldError(file, kv.first.Mark(), "http_server_config." + name, Describe(kv.second),
                            "unknown key; the only key accepted (and ignored) is http2")};
  }
  return OkStatus();
}

}  // namespace

Result<WebConfig> ParseWebConfig(std::string_view text, std::string_view file_name) {
  try {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      std::string where = Location(file_name, e.mark);
      if (!e.mark.is_null()) where += ":" + std::to_string(e.mark.column + 1);
      return Error{where + ": invalid YAML: " + e.msg};
    }
    WebConfig config;
    if (root.IsNull() || !root.IsDefined()) {
      return Error{
          std::string(file_name) +
          ": defines no basic_auth_users; a web config file must define at least one user (leave the "
          "web config file option empty to serve metrics without authentication)"};
    }
    if (!root.IsMap()) {
      return Error{FieldError(file_name, root.Mark(), "(top level)", Describe(root),
                              "the top level must be a mapping with basic_auth_users and optionally "
                              "http_server_config")};
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& kv : root) {
      const YAML::Node& key = kv.first;
      const std::string name = key.IsScalar() ? key.Scalar() : Describe(key);
      if (!seen.insert(name).second) {
        return Error{FieldError(file_name, key.Mark(), name, Describe(kv.second), "duplicate key")};
      }
      if (name == "basic_auth_users") {
        if (auto st = ParseUsers(key, kv.second, file_name, &config); !st) return st.error();
      } else if (name == "http_server_config") {
        if (auto st = ParseHttpServerConfig(key, kv.second, file_name); !st) return st.error();
      } else if (name == "tls_server_config") {
        return Error{FieldError(file_name, key.Mark(), name, Describe(kv.second), kTlsNotSupported)};
      } else {
        return Error{FieldError(file_name, key.Mark(), name, Describe(kv.second),
                                "unknown key; expected basic_auth_users or http_server_config")};
      }
    }
    if (config.basic_auth_users.empty()) {
      const YAML::Node& const_root = root;
      const YAML::Node users = const_root["basic_auth_users"];
      const YAML::Mark mark = users.IsDefined() && !users.Mark().is_null() ? users.Mark() : root.Mark();
      return Error{
          FieldError(file_name, mark, "basic_auth_users", "{}",
                     "defines no user; a web config file must define at least one user (leave the web "
                     "config file option empty to serve metrics without authentication)")};
    }
    return config;
  } catch (const YAML::Exception& e) {
    std::string where = Location(file_name, e.mark);
    return Error{where + ": " + e.msg};
  } catch (const std::exception& e) {
    return Error{std::string(file_name) + ": " + e.what()};
  }
}

Result<WebConfig> LoadWebConfig(const std::string& path) {
  auto text = ::leakwatch::internal::ReadFile(path);
  if (!text.ok()) return Error{"web config: " + text.error().message};
  return ParseWebConfig(*text, path);
}

// -------------------------------------------------------------------------------------------------------------
// Verification

namespace {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

bool ConstantTimeEquals(const internal::Sha256Digest& a, const internal::Sha256Digest& b) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace

struct BasicAuthVerifier::Impl {
  struct Entry {
    internal::Sha256Digest key;
    std::chrono::steady_clock::time_point expires;
  };

  WebConfig config;
  BasicAuthCacheOptions options;
  std::array<char, 32> salt{};

  mutable std::mutex mu;
  mutable std::vector<Entry> cache;  // guarded by mu; at most options.max_entries
  mutable std::atomic<uint64_t> bcrypt_checks{0};
  mutable std::atomic<uint64_t> cache_hits{0};

  std::chrono::steady_clock::time_point Now() const {
    return options.now ? options.now() : std::chrono::steady_clock::now();
  }

  internal::Sha256Digest CacheKey(std::string_view user, std::string_view password) const {
    std::string buf;
    buf.reserve(salt.size() + 8 + user.size() + password.size());
    buf.append(salt.data(), salt.size());
    const uint64_t n = user.size();  // length prefix: ("a\0b", "c") and ("a", "b\0c") must differ
    buf.append(reinterpret_cast<const char*>(&n), sizeof n);
    buf.append(user);
    buf.append(password);
    auto digest = internal::Sha256(buf);
    explicit_bzero(buf.data(), buf.size());
    return digest;
  }

  bool CacheLookup(const internal::Sha256Digest& key) const {
    if (options.max_entries == 0) return false;
    const auto now = Now();
    std::lock_guard lock(mu);
    bool found = false;
    for (const auto& e : cache) found |= ConstantTimeEquals(e.key, key) && e.expires > now;
    return found;
  }

  void CacheInsert(const internal::Sha256Digest& key) const {
    if (options.max_entries == 0) return;
    const auto now = Now();
    std::lock_guard lock(mu);
    cache.erase(std::remove_if(cache.begin(), cache.end(),
                               [&](const Entry& e) { return e.expires <= now || e.key == key; }),
                cache.end());
    if (cache.size() >= options.max_entries) {
      auto oldest = std::min_element(cache.begin(), cache.end(),
                                     [](const Entry& a, const Entry& b) { return a.expires < b.expires; });
      cache.erase(oldest);
    }
    cache.push_back(Entry{key, now + options.ttl});
  }

  bool BcryptMatches(const std::string& password, const std::string& hash) const {
    bcrypt_checks.fetch_add(1, std::memory_order_relaxed);
    auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on a civetweb worker's stack
    std::memset(data.get(), 0, sizeof(crypt_data));
    const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
    bool ok = out != nullptr && out[0] != '*' && ConstantTimeEquals(out, hash);
    explicit_bzero(data.get(), sizeof(crypt_data));
    return ok;
  }
};

BasicAuthVerifier::BasicAuthVerifier(WebConfig config, BasicAuthCacheOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->options = std::move(options);
  std::random_device rd;
  for (auto& c : impl_->salt) c = static_cast<char>(rd());
}

BasicAuthVerifier::~BasicAuthVerifier() = default;

bool BasicAuthVerifier::Verify(std::string_view user, std::string_view password) const {
  try {
    // crypt_rn takes C strings: a NUL inside would silently truncate the password.
    if (password.find('\0') != std::string_view::npos) return false;
    const auto key = impl_->CacheKey(user, password);
    if (impl_->CacheLookup(key)) {
      impl_->cache_hits.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    const auto it = impl_->config.basic_auth_users.find(user);
    const bool known = it != impl_->config.basic_auth_users.end();
    std::string pw(password);
    const bool match = impl_->BcryptMatches(pw, known ? it->second : std::string(kDummyHash));
    explicit_bzero(pw.data(), pw.size());
    if (!known || !match) return false;
    impl_->CacheInsert(key);
    return true;
  } catch (...) {
    return false;
  }
}

BasicAuthVerifier::Stats BasicAuthVerifier::stats() const {
  Stats s;
  s.bcrypt_checks = impl_->bcrypt_checks.load(std::memory_order_relaxed);
  s.cache_hits = impl_->cache_hits.load(std::memory_order_relaxed);
  std::lock_guard lock(impl_->mu);
  s.cache_entries = impl_->cache.size();
  return s;
}

}  // namespace leakwatch::exporters

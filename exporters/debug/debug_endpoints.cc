#include "exporters/debug/debug_endpoints.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/bundle/bundle_store.h"
#include "agent/common/file_reader.h"
#include "agent/common/text.h"
#include "agent/config/config.h"
#include "agent/logging/log.h"

namespace leakwatch::exporters {

struct DebugEndpoints::State {
  DebugEndpointsOptions options;
  mutable std::mutex mu;
  DebugRequestCounts counts;
  uint64_t unauthorized_total = 0;
  std::chrono::steady_clock::time_point last_unauthorized_log{};

  HttpResponse Count(const std::string& endpoint, HttpResponse response) {
    std::lock_guard lock(mu);
    ++counts[{endpoint, response.status}];
    return response;
  }
};

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kCapturePath = "/debug/leakwatch/capture";
constexpr const char* kIncidentsPath = "/debug/leakwatch/incidents";
constexpr const char* kHeapPath = "/debug/pprof/heap";
constexpr size_t kMaxReasonChars = 200;
constexpr size_t kMaxManifestBytes = 1 << 20;

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = body.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse ErrorJson(int status, const std::string& message) {
  return JsonResponse(status, json{{"error", message}});
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; nullopt on a malformed escape.
std::optional<std::string> FormDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The query's parameters; an error names the malformed one.
Result<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto key = FormDecode(pair.substr(0, eq));
    auto value = FormDecode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key || !value)
      return Error{"malformed percent-escape in query parameter \"" + std::string(pair) + "\""};
    params[*key] = *value;
  }
  return params;
}

std::string CleanReason(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kMaxReasonChars)) {
    out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
  }
  return out;
}

// A bundle or file name as the bundle writer makes them: [A-Za-z0-9._-], not starting with '.'.
bool IsPlainName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::string ContentTypeOf(std::string_view file) {
  const auto ends = [&](std::string_view suffix) {
    return file.size() >= suffix.size() && file.substr(file.size() - suffix.size()) == suffix;
  };
  if (ends(".json")) return "application/json; charset=utf-8";
  if (ends(".csv")) return "text/csv; charset=utf-8";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  if (ends(".gz")) return "application/gzip";
  return "application/octet-stream";
}

// The trigger recorded in a bundle's manifest, or null when it cannot be read.
json ManifestTrigger(const std::string& bundle_path) {
  auto text = internal::ReadFile(bundle_path + "/manifest.json", kMaxManifestBytes);
  if (!text) return nullptr;
  const json manifest = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!manifest.is_object()) return nullptr;
  const auto it = manifest.find("trigger");
  return it == manifest.end() ? json(nullptr) : *it;
}

std::optional<internal::StoredBundle> FindBundle(const std::string& dir, std::string_view name) {
  auto bundles = internal::ListBundles(dir);
  if (!bundles) return std::nullopt;
  for (auto& b : *bundles) {
    if (b.name == name) return std::move(b);
  }
  return std::nullopt;
}

class Handlers {
 public:
  explicit Handlers(std::shared_ptr<DebugEndpoints::State> state) : state_(std::move(state)) {}

  HttpResponse Capture(const HttpRequest& request) {
    if (auto denied = Authenticate(request)) return state_->Count("capture", std::move(*denied));
    return state_->Count("capture", DoCapture(request));
  }

  HttpResponse Incidents(const HttpRequest& request) {
    const std::string_view rest =
        std::string_view(request.path).substr(std::string_view(kIncidentsPath).size());
    const std::string endpoint = rest.empty() ? "incidents" : "files";
    if (auto denied = Authenticate(request)) return state_->Count(endpoint, std::move(*denied));
    return state_->Count(endpoint, DoIncidents(rest));
  }

  HttpResponse Heap(const HttpRequest& request) {
    if (state_->options.heap_requires_token) {
      if (auto denied = Authenticate(request)) return state_->Count("heap", std::move(*denied));
    }
    return state_->Count("heap", DoHeap(request));
  }

 private:
  HttpResponse DoHeap(const HttpRequest& request) {
    auto params = ParseQuery(request.query_string);
    if (!params) return ErrorJson(400, params.error().message);
    bool peak = false;
    bool symbolize = true;
    for (const auto& [key, value] : *params) {
      const bool is_flag = value == "0" || value == "1";
      if (key == "peak" && is_flag) {
        peak = value == "1";
      } else if (key == "symbolize" && is_flag) {
        symbolize = value == "1";
      } else if (key == "gc" || key == "seconds") {
        // Go's and Parca's parameters: nothing to do for a sampled profile that is always current.
      } else {
        return ErrorJson(400, "unknown query parameter or value \"" + key + "=" + value +
                                  "\" (expected peak=0|1, symbolize=0|1)");
      }
    }
    const HeapProfileReply reply = state_->options.heap_profile(peak, symbolize);
    if (reply.status != 200) return ErrorJson(reply.status, reply.error);
    HttpResponse r;
    r.content_type = "application/octet-stream";
    r.body = reply.pprof_gz;
    r.headers.emplace_back("Content-Disposition", peak ? "attachment; filename=\"heap_peak.pb.gz\""
                                                       : "attachment; filename=\"heap.pb.gz\"");
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }

  // nullopt when the request carries the token.
  std::optional<HttpResponse> Authenticate(const HttpRequest& request) {
    const std::string& token = state_->options.token;
    if (token.empty()) {
      return ErrorJson(403,
                       "the leakwatch debug endpoints are disabled: set http.debug_token_file in the config "
                       "(or LEAKWATCH_DEBUG_TOKEN_FILE) to a file holding a token, then send it as "
                       "\"Authorization: Bearer <token>\"");
    }
    const std::string_view header = request.header("Authorization").value_or("");
    constexpr std::string_view kScheme = "Bearer ";
    const bool has_scheme =
        header.size() > kScheme.size() &&
        std::equal(kScheme.begin(), kScheme.end(), header.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        });
    if (has_scheme && TokenMatches(token, header.substr(kScheme.size()))) return std::nullopt;
    LogUnauthorized(request.path, header.empty() ? "no Authorization header" : "a wrong token");
    HttpResponse r = ErrorJson(
        401, header.empty() ? "this endpoint needs \"Authorization: Bearer <token>\"" : "wrong token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"leakwatch\"");
    return r;
  }

  void LogUnauthorized(const std::string& path, const char* what) {
    uint64_t total = 0;
    {
      std::lock_guard lock(state_->mu);
      total = ++state_->unauthorized_total;
      const auto now = Clock::now();
      if (state_->last_unauthorized_log.time_since_epoch().count() != 0 &&
          now - state_->last_unauthorized_log < std::chrono::minutes(1)) {
        return;
      }
      state_->last_unauthorized_log = now;
    }
    internal::Log()->warn(
        "debug endpoints: refused {} with {} ({} refused so far; logged at most once a minute)", path, what,
        total);
  }

  HttpResponse DoCapture(const HttpRequest& request) {
    auto params = ParseQuery(request.query_string);
    if (!params) return ErrorJson(400, params.error().message);
    for (const auto& [key, value] : *params) {
      if (key != "reason" && key != "wait") {
        return ErrorJson(400, "unknown query parameter \"" + key + "\" (known: reason, wait)");
      }
    }
    std::chrono::milliseconds wait{0};
    if (const auto it = params->find("wait"); it != params->end()) {
      const auto d = internal::ParseDuration(it->second);
      if (!d) return ErrorJson(400, "wait: \"" + it->second + "\" is not a duration like 10s");
      if (*d > state_->options.max_wait) {
        return ErrorJson(400, "wait: " + it->second + " is above the maximum of " +
                                  std::to_string(state_->options.max_wait.count() / 1000) + "s");
      }
      wait = *d;
    }
    const auto reason_it = params->find("reason");
    const std::string reason =
        CleanReason(reason_it == params->end() ? "requested over HTTP" : reason_it->second);
    if (!state_->options.capture) return ErrorJson(503, "bundles are not available in this agent");
    const CaptureReply reply = state_->options.capture(reason, wait);
    switch (reply.kind) {
      case CaptureReply::Kind::kQueued:
        return JsonResponse(202, json{{"status", "queued"}, {"reason", reason}});
      case CaptureReply::Kind::kPending:
        return JsonResponse(202, json{{"status", "writing"}, {"reason", reason}});
      case CaptureReply::Kind::kWritten:
        return JsonResponse(201, json{{"status", "written"},
                                      {"bundle", reply.bundle},
                                      {"bytes", reply.bytes},
                                      {"seconds", reply.seconds},
                                      {"url", std::string(kIncidentsPath) + "/" + reply.bundle}});
      case CaptureReply::Kind::kSuppressed: {
        HttpResponse r = JsonResponse(reply.detail == "rate_limit" ? 429 : 503,
                                      json{{"status", "suppressed"}, {"reason", reply.detail}});
        if (reply.detail == "rate_limit") {
          r.headers.emplace_back(
              "Retry-After",
              std::to_string(
                  std::chrono::duration_cast<std::chrono::seconds>(state_->options.retry_after).count()));
        }
        return r;
      }
      case CaptureReply::Kind::kFailed:
        return JsonResponse(500, json{{"status", "failed"}, {"error", reply.detail}});
    }
    return ErrorJson(500, "unknown capture outcome");
  }

  HttpResponse DoIncidents(std::string_view rest) {
    const std::string& dir = state_->options.bundle_dir;
    if (rest.empty()) return ListAll(dir);
    rest.remove_prefix(1);  // the '/' the router matched on
    const size_t slash = rest.find('/');
    const std::string_view bundle = rest.substr(0, slash);
    const std::string_view file =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (!IsPlainName(bundle) || (slash != std::string_view::npos && !IsPlainName(file))) {
      return ErrorJson(404, "no such bundle or file (names are [A-Za-z0-9._-], one level deep)");
    }
    const auto found = FindBundle(dir, bundle);
    if (!found) return ErrorJson(404, "no bundle named \"" + std::string(bundle) + "\"");
    if (slash == std::string_view::npos) return ListFiles(*found);
    return SendFile(*found, std::string(file));
  }

  static HttpResponse ListAll(const std::string& dir) {
    auto bundles = internal::ListBundles(dir);
    if (!bundles) return ErrorJson(500, "cannot list the bundle directory: " + bundles.error().message);
    json list = json::array();
    for (auto it = bundles->rbegin(); it != bundles->rend(); ++it) {
      list.push_back(json{{"name", it->name},
                          {"time", internal::FormatUtcMillis(it->modified)},
                          {"bytes", it->bytes},
                          {"trigger", ManifestTrigger(it->path)},
                          {"url", std::string(kIncidentsPath) + "/" + it->name}});
    }
    return JsonResponse(200, json{{"dir", dir}, {"bundles", std::move(list)}});
  }

  static HttpResponse ListFiles(const internal::StoredBundle& bundle) {
    json files = json::array();
    DIR* d = ::opendir(bundle.path.c_str());
    if (d == nullptr) return ErrorJson(500, "cannot read bundle \"" + bundle.name + "\"");
    std::vector<std::pair<std::string, uint64_t>> entries;
    while (const dirent* e = ::readdir(d)) {
      struct stat st {};
      if (!IsPlainName(e->d_name) || ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode)) {
        continue;
      }
      entries.emplace_back(e->d_name, static_cast<uint64_t>(st.st_size));
    }
    ::closedir(d);
    std::sort(entries.begin(), entries.end());
    for (const auto& [name, bytes] : entries) {
      files.push_back(json{{"name", name},
                           {"bytes", bytes},
                           {"url", std::string(kIncidentsPath) + "/" + bundle.name + "/" + name}});
    }
    return JsonResponse(200, json{{"name", bundle.name}, {"files", std::move(files)}});
  }

  static HttpResponse SendFile(const internal::StoredBundle& bundle, const std::string& file) {
    const int dir_fd = ::open(bundle.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0) return ErrorJson(500, "cannot open bundle \"" + bundle.name + "\"");
    const int fd = ::openat(dir_fd, file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    ::close(dir_fd);
    if (fd < 0) return ErrorJson(404, "no file \"" + file + "\" in bundle \"" + bundle.name + "\"");
    auto body = std::make_shared<HttpResponse::File>(fd, 0);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      return ErrorJson(404, "no file \"" + file + "\" in bundle \"" + bundle.name + "\"");
    }
    body->bytes = static_cast<uint64_t>(st.st_size);
    HttpResponse r;
    r.content_type = ContentTypeOf(file);
    r.file = std::move(body);
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + "\"");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }

  std::shared_ptr<DebugEndpoints::State> state_;
};

}  // namespace

bool TokenMatches(std::string_view expected, std::string_view given) {
  // Every byte of `given` is compared against the cycled `expected`, so the time depends only on given's
  // length, which the client knows anyway.
  unsigned diff = expected.size() == given.size() ? 0u : 1u;
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i % expected.size()]) ^ static_cast<unsigned char>(given[i]);
  }
  return !expected.empty() && diff == 0;
}

DebugEndpoints::DebugEndpoints(DebugEndpointsOptions options) : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
}

std::vector<HttpRoute> DebugEndpoints::Routes() const {
  auto handlers = std::make_shared<Handlers>(state_);
  std::vector<HttpRoute> routes;
  routes.push_back(HttpRoute{.path = kCapturePath,
                             .handler = [handlers](const HttpRequest& r) { return handlers->Capture(r); },
                             .methods = {"POST"},
                             .prefix = false,
                             .own_auth = true});
  routes.push_back(HttpRoute{.path = kIncidentsPath,
                             .handler = [handlers](const HttpRequest& r) { return handlers->Incidents(r); },
                             .methods = {"GET"},
                             .prefix = true,
                             .own_auth = true});
  if (state_->options.heap_profile) {
    routes.push_back(HttpRoute{.path = kHeapPath,
                               .handler = [handlers](const HttpRequest& r) { return handlers->Heap(r); },
                               .methods = {"GET"},
                               .prefix = false,
                               .own_auth = state_->options.heap_requires_token});
  }
  return routes;
}

DebugRequestCounts DebugEndpoints::counts() const {
  std::lock_guard lock(state_->mu);
  return state_->counts;
}

}  // namespace leakwatch::exporters

#pragma once
// The operator endpoints for incident bundles, served on the agent's HTTP port (docs/BUNDLES.md):
//
//   POST /debug/leakwatch/capture[?reason=<text>&wait=<duration>]   ask for a bundle now
//   GET  /debug/leakwatch/incidents                                  the bundles on disk (JSON, newest first)
//   GET  /debug/leakwatch/incidents/<bundle>                         one bundle's files (JSON)
//   GET  /debug/leakwatch/incidents/<bundle>/<file>                  one file, as stored
//   GET  /debug/pprof/heap[?peak=1&symbolize=0]    the sampled heap profile, gzipped profile.proto
//
// /debug/pprof/heap is the path Go's net/http/pprof, Parca and Pyroscope use. It needs the token only when
// `heap_requires_token`; otherwise it is guarded like /metrics (the web config's basic auth, when set). It
// answers 200 with the profile (application/octet-stream, as Go serves it), 404 for ?peak=1 before any
// peak was captured, 503 when the heap profiler is not running (the JSON says why), 400 for a bad query.
//
// Every request needs `Authorization: Bearer <token>`; the token is compared in constant time. Without a
// configured token the endpoints answer 403 and say how to enable them. A wrong or missing token gets 401
// with `WWW-Authenticate: Bearer realm="leakwatch"`, is counted, and is logged at most once a minute.
//
// capture: the request goes through the same limits as rule-triggered bundles (max_per_window, the queue,
// the free-disk guard). Without `wait` it answers 202 as soon as the bundle is queued; with `wait` (at most
// max_wait) it answers 201 with the bundle, or 202 when still being written. Suppressed: 429 (rate_limit,
// with Retry-After) or 503 (queue_full, min_free_disk, stopping). Failed: 500 with the error. The reason is
// cut at 200 characters and control characters are replaced.
//
// Files: only complete bundles listed by the bundle store, only regular files directly inside them (opened
// with O_NOFOLLOW, checked with fstat), names of [A-Za-z0-9._-] not starting with '.': no path traversal, no
// symlink, no `.tmp-*` bundle. A file is streamed from its fd (64 KiB at a time), not read into memory.
//
// Every answer is counted by endpoint ("capture", "incidents", "files") and status code.
//
// Thread-safety: the routes' handlers run on the HTTP server's workers, concurrently; the capture function
// must be thread-safe. counts() from any thread. The DebugEndpoints object may be destroyed while the routes
// are still registered (they share its state).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "exporters/http/http_server.h"

namespace leakwatch::exporters {

// What became of a capture request.
struct CaptureReply {
  enum class Kind { kQueued, kWritten, kPending, kSuppressed, kFailed };
  Kind kind = Kind::kQueued;
  std::string detail{};  // kSuppressed: the reason ("rate_limit", ...); kFailed: the error
  std::string bundle{};  // kWritten: the bundle's directory name
  uint64_t bytes = 0;    // kWritten
  double seconds = 0;    // kWritten: how long writing took
};
// Queues a bundle with this reason and waits up to `wait` (0: not at all) for it.
using CaptureFn = std::function<CaptureReply(const std::string& reason, std::chrono::milliseconds wait)>;

// A heap profile for GET /debug/pprof/heap.
struct HeapProfileReply {
  int status = 200;        // 200, 404 (no peak yet) or 503 (profiler not running)
  std::string pprof_gz{};  // when 200
  std::string error{};     // otherwise: why
};
using HeapProfileFn = std::function<HeapProfileReply(bool peak, bool symbolize)>;

struct DebugEndpointsOptions {
  std::string token;       // empty: every endpoint answers 403
  std::string bundle_dir;  // BundleOptions::dir
  CaptureFn capture;
  std::chrono::milliseconds max_wait{std::chrono::seconds(60)};
  std::chrono::milliseconds retry_after{std::chrono::minutes(1)};  // sent with a rate-limited 429
  HeapProfileFn heap_profile{};                                    // empty: no /debug/pprof/heap route
  bool heap_requires_token = false;
};

// (endpoint, status code) -> answers since start.
using DebugRequestCounts = std::map<std::pair<std::string, int>, uint64_t>;

class DebugEndpoints {
 public:
  explicit DebugEndpoints(DebugEndpointsOptions options);

  // The routes to register: /debug/leakwatch/capture (POST), /debug/leakwatch/incidents (GET, prefix) and,
  // with a heap_profile function, /debug/pprof/heap (GET).
  std::vector<HttpRoute> Routes() const;

  DebugRequestCounts counts() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// True when `given` equals `expected`, in a time that depends only on given.size(). expected is non-empty.
bool TokenMatches(std::string_view expected, std::string_view given);

}  // namespace leakwatch::exporters

#pragma once
// leakwatch::Agent: the in-process observability agent.
//
//   auto agent = leakwatch::Agent::Create(leakwatch::AgentOptions{});   // validates, reads the environment
//   if (!agent) { /* agent.error().message names what is wrong */ }
//   auto started = (*agent)->start();   // first sample taken here; metrics served on :9860 by default
//   ...
//   (*agent)->stop();                    // idempotent; also run by the destructor
//
// The agent runs one thread of its own (the sampler: a Boost.Asio steady_timer with absolute deadlines) plus
// the HTTP server's threads (1 listener + `http_threads` workers). Nothing it does may crash, block or slow
// the host: every failure ends as "metric absent + error counter + one log line".
//
// Thread-safety: all member functions may be called from any thread. start() and stop() serialise with each
// other; latest_snapshot() never waits for a tick in progress.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "leakwatch/allocator.h"
#include "leakwatch/bundles.h"
#include "leakwatch/result.h"
#include "leakwatch/rules.h"
#include "leakwatch/snapshot.h"

#pragma GCC visibility push(default)  // the public API: exported by libleakwatch.so
namespace leakwatch {

struct HttpOptions {
  // "host:port" with an IPv4 host ("0.0.0.0" or "" for all interfaces, "127.0.0.1" for loopback only); port 0
  // picks a free port (see Agent::http_port()). "off" disables the HTTP endpoint (sampling still runs).
  std::string listen = "0.0.0.0:9860";
  std::string metrics_path = "/metrics";
  // Closes a request that has not completed in this time. Keep it well under Prometheus' scrape_timeout (10 s
  // by default): an idle connection holds a worker for this long.
  int request_timeout_ms = 3000;
  // Worker threads answering requests (each idle connection holds one for up to request_timeout_ms).
  int threads = 4;
  // Optional Prometheus exporter-toolkit web config (web.yml) with `basic_auth_users` (bcrypt hashes). TLS is
  // not supported in-process: terminate TLS in a proxy (docs/SECURITY.md).
  std::string web_config_file;
  // The bearer token of the operator endpoints (POST /debug/leakwatch/capture, GET /debug/leakwatch/incidents
  // and the bundle files below it; docs/BUNDLES.md). They answer 403 while no token is set. A token is 16 to
  // 4096 printable ASCII characters without spaces. `debug_token_file` names a file holding it (one line; the
  // config key http.debug_token_file and LEAKWATCH_DEBUG_TOKEN_FILE set this), read once by Agent::Create;
  // `debug_token` is for programs that hold the secret themselves (the file wins when both are set). These
  // routes are not behind the web config's basic auth: the token is their authentication.
  std::string debug_token_file;
  std::string debug_token;
};

struct LogOptions {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string sink = "stderr";  // stderr, stdout, off, file:<path>
  bool json = false;            // JSON lines instead of text
};

struct AllocatorOptions {
  // How often the allocator's statistics are read: 0 (default) every tick, in the same tick as RSS; else a
  // multiple of AgentOptions::period (rounded up), up to 1 hour, the ticks in between carrying the last
  // figures. Reading costs ~10 µs per jemalloc arena in use (0.7 ms with 64 arenas) and ~25 µs for tcmalloc:
  // a slower period suits many-core hosts (docs/PERFORMANCE.md).
  std::chrono::milliseconds period{0};
  // glibc malloc only: call mallinfo2() for the heap figures. It walks every free chunk under the arena lock
  // (up to ~1 s on a fragmented heap, the application's malloc waiting meanwhile), so it is off by default;
  // when on, it runs on a thread of its own every `glibc_mallinfo_period`, and a call longer than
  // `glibc_mallinfo_budget` doubles the period (up to `glibc_mallinfo_max_period`; logged once, and counted
  // in leakwatch_allocator_mallinfo_backoffs_total).
  bool glibc_mallinfo = false;
  std::chrono::milliseconds glibc_mallinfo_period{60000};
  std::chrono::milliseconds glibc_mallinfo_budget{50};
  std::chrono::milliseconds glibc_mallinfo_max_period{3600000};
  // The application's own statistics provider (e.g. for a statically linked, prefixed jemalloc that dlsym
  // cannot find). When set, detection is skipped and this provider is read every tick from the agent's
  // thread.
  std::shared_ptr<AllocatorStatsProvider> provider;
};

// leakwatch's sampling heap profiler (docs/HEAP_PROFILER.md): which call stacks hold the heap, served at
// GET /debug/pprof/heap and written into every incident bundle. It needs leakwatch's allocation hooks in the
// process, which come with libleakwatch_preload.so (`leakwatch run`, LD_PRELOAD) and with
// libleakwatch_heap.so (link it, or preload it, ahead of the allocator). Without them it stays off and says
// why (/status, the log, leakwatch_heap_sampler_running 0).
struct HeapProfilerOptions {
  bool enabled = true;
  // Mean bytes allocated between two samples, per thread (Poisson). 512 KiB is Go's default; 2 MiB
  // (tcmalloc's) costs about a quarter as much with a coarser profile (docs/PERFORMANCE.md). 1 samples every
  // allocation (for tests: it is slow). 1 .. 1 GiB.
  uint64_t sampling_interval_bytes = 512 * 1024;
  // Bounds of the sampler's tables; samples beyond them are counted in
  // leakwatch_heap_sampler_dropped_samples_total. Sampled allocations tracked at once: 1,024 .. 2^26;
  // distinct stacks: 64 .. 2^22.
  size_t max_live_samples = size_t{1} << 20;
  size_t max_stacks = size_t{1} << 16;
  // GET /debug/pprof/heap answers only with the bearer token (HttpOptions::debug_token). Off: like /metrics.
  bool require_token = false;
  // The peak profile ("the heap at its largest") is captured again when the sampled in-use bytes exceed the
  // last peak by this fraction (0 .. 10), at most once per `peak_min_interval`.
  double peak_growth = 0.10;
  std::chrono::milliseconds peak_min_interval{10000};
};

struct AgentOptions {
  // Sampling period of the every-tick signals; 100 ms .. 60 s.
  std::chrono::milliseconds period{1000};
  // Period of the slow-cadence signals (the ones that cost more to read or change slowly: peak RSS, RssFile,
  // RssShmem, swap, start time, cgroup events/swap/kernel memory, PSI, smaps_rollup, fds by type; see the
  // catalogue's Cadence). A multiple of `period` is used (rounded up); between `period` and 1 hour.
  std::chrono::milliseconds slow_period{10000};
  // Read /proc/<pid>/smaps_rollup on the slow period (the kernel walks every mapping under the mmap lock).
  bool smaps_rollup = true;
  // Count open fds by type on the slow period (one readlink per fd, up to fd_scan_limit).
  bool fd_types = true;
  // At most this many fds are inspected per fds-by-type scan (1 .. 10,000,000).
  size_t fd_scan_limit = 10000;

  // Where to read from: the procfs mount, the pid ("self" or a number) and a prefix prepended to the cgroup
  // mount points found in mountinfo. Tests point these at fixture trees.
  std::string proc_root = "/proc";
  std::string pid = "self";
  std::string cgroup_mount_prefix;

  // Memory budget of the in-memory history (full resolution for >= 15 min, downsampled for >= 6 h).
  size_t history_budget_bytes = 2 * 1024 * 1024;

  HttpOptions http;
  LogOptions log;
  AllocatorOptions allocator;

  // Incident bundles: where, how many, how large (leakwatch/bundles.h; docs/BUNDLES.md).
  BundleOptions bundle;

  HeapProfilerOptions heap_profiler;

  // The rules evaluated on every tick (leakwatch/rules.h; docs/RULES.md): the default set plus these.
  RulesOptions rules;

  // A YAML config file (docs/CONFIG.md) applied over these options; LEAKWATCH_CONFIG, when set, names the
  // file instead. Empty: none.
  std::string config_file;
  // How often the agent checks whether the config file changed (on a sampler tick; one stat() per check).
  // A valid new file replaces the rules (and the log level and sink); other settings take effect at the next
  // start (the agent says which). An invalid one is logged and the running configuration stays. 0: never.
  std::chrono::milliseconds config_check_period{5000};

  // Honour LEAKWATCH_CONFIG, LEAKWATCH_PERIOD, LEAKWATCH_LOG_LEVEL, LEAKWATCH_LISTEN and
  // LEAKWATCH_HEAP_SAMPLER (they override the fields above, in this order). On by default so an operator can
  // reconfigure any build without recompiling.
  bool use_environment = true;
};

// What start() achieved. Sampling runs whenever start() returned ok(); the HTTP endpoint may still have
// failed.
struct StartInfo {
  bool http_serving = false;        // false when disabled or when binding failed
  std::optional<Error> http_error;  // the real cause of a bind failure, e.g. "...: Address already in use"
  int http_port = 0;                // the bound port (useful with port 0)
};

class History;

class Agent {
 public:
  // Validates the options (and the environment when options.use_environment): every problem is reported in
  // one Error, one line per problem. Cheap: no thread is started, nothing is read yet.
  static Result<std::unique_ptr<Agent>> Create(AgentOptions options);

  virtual ~Agent() = default;

  // Takes the first sample synchronously (so latest_snapshot() is never null afterwards), starts the sampler
  // thread and the HTTP endpoint. Fails only when the agent is already running or cannot start its thread;
  // an HTTP bind failure is reported in StartInfo and sampling goes on. Cost: one tick plus thread start-up.
  virtual Result<StartInfo> start() = 0;

  // Stops the sampler and the HTTP endpoint and joins their threads. Idempotent; called by the destructor.
  // Cost: tens of milliseconds, plus an HTTP request or a bundle in progress.
  // Fork: in a child forked from the process that started the agent, the agent's threads do not exist; stop()
  // returns at once there, leaving the inherited state alone (the child's copy of the listening socket is
  // closed by the agent's pthread_atfork handler). Do not destroy the Agent in such a child (its members'
  // destructors would join threads that are not there): leave it, or use the C API or the preload library,
  // which do this for you (docs/ATTACH.md).
  virtual void stop() = 0;

  // The most recent snapshot, or nullptr before the first start(). O(1), never blocks on a tick.
  virtual std::shared_ptr<const Snapshot> latest_snapshot() const = 0;

  // The in-memory history of every signal (for rules and incident bundles).
  virtual const History& history() const = 0;

  // The rules' state after the latest tick (null before the first start()). O(1), never blocks on a tick.
  virtual std::shared_ptr<const RulesStatus> rules_status() const = 0;

  // The config file and its reloads.
  virtual ConfigStatus config_status() const = 0;

  // Writes an incident bundle now (docs/BUNDLES.md) and returns its directory. The bundle is written by the
  // agent's bundle worker, never on the calling thread; this waits up to `wait` for it. Subject to the same
  // limits as rule-triggered bundles (an Error says "suppressed: rate_limit" and the like). Requires start().
  virtual Result<std::string> capture(const std::string& reason,
                                      std::chrono::milliseconds wait = std::chrono::seconds(30)) = 0;

  // What the bundle worker has done.
  virtual BundleStats bundle_stats() const = 0;

  // The options in force at start-up, after the config file and the environment were applied (a reload
  // changes the rules in force, not this).
  virtual const AgentOptions& options() const = 0;
};

}  // namespace leakwatch

#pragma GCC visibility pop

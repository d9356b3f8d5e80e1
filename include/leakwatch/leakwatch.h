/* leakwatch C API: start the in-process agent from C, or from any language with a C FFI (Python ctypes, Rust,
 * Go cgo, ...). The C++ API (leakwatch/agent.h) has every option; this one takes a config file.
 *
 *   char error[512];
 *   leakwatch_agent* agent = leakwatch_start("/etc/leakwatch/leakwatch.yml", error, sizeof error);
 *   if (agent == NULL) fprintf(stderr, "leakwatch: %s\n", error);   // the program goes on without it
 *   double rss;
 *   if (leakwatch_read(agent, "rss_bytes", &rss) == LEAKWATCH_OK) printf("%.0f bytes resident\n", rss);
 *   leakwatch_stop(agent);
 *
 * Link: libleakwatch.so (-lleakwatch) or the static libleakwatch.a with the C++ runtime (docs/ATTACH.md).
 * Thread-safety: every function may be called from any thread, on distinct or on the same handle, except that
 * leakwatch_stop() must be the last call on a handle. Nothing here throws, aborts or installs signal
 * handlers; errors are returned.
 * Fork: in a forked child a handle started by the parent is inert: reads and captures fail with a message
 * saying so, and leakwatch_stop() frees only the handle (the agent's threads exist only in the parent). */
#ifndef LEAKWATCH_LEAKWATCH_H_
#define LEAKWATCH_LEAKWATCH_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LEAKWATCH_C_API __attribute__((visibility("default")))
#else
#define LEAKWATCH_C_API
#endif

/* Return codes. */
#define LEAKWATCH_OK 0
#define LEAKWATCH_ABSENT 1   /* leakwatch_read: the signal has no value in the latest sample */
#define LEAKWATCH_ERROR (-1) /* the error buffer, when given, says why */

typedef struct leakwatch_agent leakwatch_agent;

/* Starts an agent: defaults, then the YAML file `config_path` (NULL or "" for none; docs/CONFIG.md), then the
 * LEAKWATCH_* environment variables. Samples once before returning, then every period on its own thread, and
 * serves /metrics (0.0.0.0:9860 unless configured). Returns NULL on failure (invalid config,
 * unreadable file, ...) with a NUL-terminated message in `error` (truncated to error_size; `error` may be
 * NULL). A metrics port that cannot be bound is not a failure: sampling goes on, leakwatch_http_port()
 * returns 0 and the agent's log says why. Cost: one sample and thread start-up, typically a few milliseconds.
 */
LEAKWATCH_C_API leakwatch_agent* leakwatch_start(const char* config_path, char* error, size_t error_size);

/* Stops the agent (joins its threads; tens of milliseconds) and frees the handle. NULL is a no-op. */
LEAKWATCH_C_API void leakwatch_stop(leakwatch_agent* agent);

/* The latest sampled value of a signal, by key: "rss_bytes", "virtual_memory_bytes", "threads", "open_fds",
 * "max_fds", "cpu_seconds_total", "start_time_seconds", "cgroup_memory_usage_bytes",
 * "cgroup_memory_limit_bytes", "cgroup_memory_working_set_bytes", "heap_bytes" and every other key of
 * docs/METRICS.md. LEAKWATCH_OK with *value set; LEAKWATCH_ABSENT when the latest sample has no value (e.g.
 * no cgroup limit); LEAKWATCH_ERROR for an unknown key, a NULL argument or an inherited handle.
 * Cost: O(1), never waits for a sample in progress. */
LEAKWATCH_C_API int leakwatch_read(const leakwatch_agent* agent, const char* signal, double* value);

/* Writes an incident bundle now (docs/BUNDLES.md), waiting up to timeout_ms for it. LEAKWATCH_OK with the
 * bundle's directory in `out`; LEAKWATCH_ERROR with the reason in `out` (e.g. "suppressed: rate_limit"). The
 * bundle is written on the agent's thread, never on the caller's. */
LEAKWATCH_C_API int leakwatch_capture(leakwatch_agent* agent, const char* reason, int timeout_ms, char* out,
                                      size_t out_size);

/* The port the metrics endpoint is bound to, or 0 when it is off or could not be bound. */
LEAKWATCH_C_API int leakwatch_http_port(const leakwatch_agent* agent);

/* leakwatch's version, e.g. "0.1.0". A static string. */
LEAKWATCH_C_API const char* leakwatch_version(void);

#ifdef __cplusplus
}
#endif

#endif /* LEAKWATCH_LEAKWATCH_H_ */

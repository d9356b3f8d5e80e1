#pragma once
// Helpers shared by the benchmark executables: shaping the calling process (open fds, idle threads), CPU
// clocks and a minimal loopback HTTP GET. Benchmark code only: nothing here is part of the agent.
//
// Thread-safety: ProcessShape is meant for the benchmark's main thread; the idle threads it starts only wait
// on a condition variable and never run benchmark code.

#include <pthread.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace leakwatch::bench {

// Raises RLIMIT_NOFILE's soft limit to the hard limit. Returns the new soft limit (or the old one on
// failure).
uint64_t RaiseFdLimitToHard();

// Number of entries in /proc/self/fd (the directory fd used to count is not counted).
uint64_t CountOpenFds();

// Number of threads of the calling process (/proc/self/stat field 20).
uint64_t CountThreads();

// Shapes the calling process to a given number of open fds and threads, for benchmarks whose cost depends on
// them. Fds are opened in rounds of pipe, pipe, socketpair, open("/dev/null") (4/7 pipe ends, 2/7 sockets,
// 1/7 files) so a by-type scan sees several types. Threads are pthreads with 64 KiB stacks blocked on a
// condition variable (no CPU while idle).
class ProcessShape {
 public:
  ProcessShape() = default;
  ~ProcessShape();
  ProcessShape(const ProcessShape&) = delete;
  ProcessShape& operator=(const ProcessShape&) = delete;

  // Opens or closes fds until the process has exactly `total` open fds (as CountOpenFds() sees them).
  // Returns false when that is impossible (fewer fds held than needed to close, or the fd limit is too low).
  bool SetOpenFds(uint64_t total);

  // Starts or stops idle threads until the process has exactly `total` threads. Returns false on failure.
  bool SetThreads(uint64_t total);

 private:
  static void* IdleMain(void* self);
  bool OpenOne();
  void StopAllThreads();

  std::vector<int> fds_;
  unsigned open_round_ = 0;
  std::vector<pthread_t> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

// Sum of the CPU time (ns, first field of /proc/self/task/*/schedstat) of this process's live threads whose
// name starts with `name_prefix` (e.g. "civetweb").
int64_t ThreadsCpuNs(const std::string& name_prefix);

// CPU time of the calling thread / of the whole process, in nanoseconds.
int64_t ThreadCpuNs();
int64_t ProcessCpuNs();

// One HTTP/1.1 GET with "Connection: close" to 127.0.0.1:port, reading until the server closes.
// Returns the status code (0 on a socket error) and fills *response_bytes with the size of the whole response
// (headers included).
int HttpGet(int port, const std::string& path, size_t* response_bytes);

}  // namespace leakwatch::bench

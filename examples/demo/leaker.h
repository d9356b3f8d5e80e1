#pragma once
// Leaker: leaks memory, threads and file descriptors on purpose, at configurable rates, in 10 steps per
// second.
//
//   - memory: malloc'd in leak_memory() (a global, noinline function, so a heap profile names it) and written
//     page by page so it is resident; released by free_all().
//   - threads: each blocks on a condition variable and is named "leaky-thread"; they cannot be released while
//     the process runs (the destructor wakes and joins them, so the process still exits cleanly).
//   - fds: pipe ends (O_CLOEXEC) created in leak_fds(); closed by free_all().
//
// Thread-safety: every member function may be called from any thread. A rate change or free_all() waits for a
// step in progress, so once set_*_rate(0) returns nothing more leaks of that kind.
// Cost: one thread of its own (named "leaker").

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "leakwatch/result.h"

// Allocates `bytes` with malloc and writes every page. Global and noinline so heap profiles show it by name.
// Returns nullptr when malloc fails.
void* leak_memory(size_t bytes);

namespace leakwatch_demo {

// Opens `count` fds (pipe ends), appending them to *fds. Returns the errno of the first failure, or 0.
int leak_fds(size_t count, std::vector<int>* fds);

struct LeakRates {
  double memory_mib_per_s = 0;
  double threads_per_s = 0;
  double fds_per_s = 0;
};

struct LeakStatus {
  uint64_t leaked_bytes = 0;
  uint64_t leaked_threads = 0;
  uint64_t leaked_fds = 0;
  LeakRates rates;
  std::string
      last_error;  // why a rate was reset to 0 (allocation, thread or fd creation failed); empty if none
};

struct FreeResult {
  uint64_t freed_bytes = 0;
  uint64_t closed_fds = 0;
};

class Leaker {
 public:
  // Starts the leaking thread with the given rates.
  static leakwatch::Result<std::unique_ptr<Leaker>> Start(const LeakRates& rates);

  // Stops leaking, frees the memory, closes the fds, wakes and joins the leaked threads.
  ~Leaker();
  Leaker(const Leaker&) = delete;
  Leaker& operator=(const Leaker&) = delete;

  void set_memory_rate(double mib_per_s);
  void set_threads_rate(double per_s);
  void set_fds_rate(double per_s);

  // Releases leaked memory (and trims the heap) and closes leaked fds. Threads stay.
  FreeResult free_all();

  LeakStatus status() const;

  static constexpr std::chrono::milliseconds kStep{100};

 private:
  explicit Leaker(const LeakRates& rates);
  void Run();
  void StepLocked();  // REQUIRES: mu_ held

  mutable std::mutex mu_;  // guards everything below; held for a whole step
  std::condition_variable wake_;
  bool stopping_ = false;
  LeakRates rates_;
  double memory_credit_bytes_ = 0;
  double threads_credit_ = 0;
  double fds_credit_ = 0;
  std::vector<std::pair<void*, size_t>> blocks_;
  uint64_t leaked_bytes_ = 0;
  std::vector<int> fds_;
  std::string last_error_;

  // The leaked threads wait on this until the destructor releases them.
  struct Parking {
    std::mutex mu;
    std::condition_variable cv;
    bool released = false;
  };
  std::shared_ptr<Parking> parking_ = std::make_shared<Parking>();
  std::vector<std::thread> leaked_threads_;

  std::thread thread_;
};

}  // namespace leakwatch_demo

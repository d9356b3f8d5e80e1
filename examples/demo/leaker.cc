#include "examples/demo/leaker.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <system_error>

__attribute__((noinline)) void* leak_memory(size_t bytes) {
  void* p = std::malloc(bytes);
  if (p == nullptr) return nullptr;
  // A non-zero pattern written over every byte: each page is touched, so the leak is resident (RSS), not just
  // reserved address space.
  std::memset(p, 0xA5, bytes);
  return p;
}

namespace leakwatch_demo {

__attribute__((noinline)) int leak_fds(size_t count, std::vector<int>* fds) {
  while (count > 0) {
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) return errno;
    fds->push_back(ends[0]);
    if (count >= 2) {
      fds->push_back(ends[1]);
      count -= 2;
    } else {
      close(ends[1]);
      count = 0;
    }
  }
  return 0;
}

namespace {
constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kStepsPerSecond = 1000.0 / static_cast<double>(Leaker::kStep.count());
// Memory is allocated once at least a page is owed, so 0.01 MiB/s still grows smoothly.
constexpr double kMinBlockBytes = 4096;
}  // namespace

leakwatch::Result<std::unique_ptr<Leaker>> Leaker::Start(const LeakRates& rates) {
  std::unique_ptr<Leaker> leaker(new Leaker(rates));
  try {
    leaker->thread_ = std::thread([l = leaker.get()] { l->Run(); });
  } catch (const std::system_error& e) {
    return leakwatch::Error{std::string("cannot start the leaker thread: ") + e.what()};
  }
  pthread_setname_np(leaker->thread_.native_handle(), "leaker");
  return leaker;
}

Leaker::Leaker(const LeakRates& rates) : rates_(rates) {}

Leaker::~Leaker() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  free_all();
  {
    std::lock_guard lock(parking_->mu);
    parking_->released = true;
  }
  parking_->cv.notify_all();
  for (auto& t : leaked_threads_) t.join();
}

void Leaker::set_memory_rate(double mib_per_s) {
  std::lock_guard lock(mu_);
  rates_.memory_mib_per_s = mib_per_s;
  if (mib_per_s == 0) memory_credit_bytes_ = 0;
}

void Leaker::set_threads_rate(double per_s) {
  std::lock_guard lock(mu_);
  rates_.threads_per_s = per_s;
  if (per_s == 0) threads_credit_ = 0;
}

void Leaker::set_fds_rate(double per_s) {
  std::lock_guard lock(mu_);
  rates_.fds_per_s = per_s;
  if (per_s == 0) fds_credit_ = 0;
}

FreeResult Leaker::free_all() {
  std::lock_guard lock(mu_);
  FreeResult r;
  for (const auto& [p, size] : blocks_) {
    std::free(p);
    r.freed_bytes += size;
  }
  blocks_.clear();
  blocks_.shrink_to_fit();
  leaked_bytes_ = 0;
  for (int fd : fds_) close(fd);
  r.closed_fds = fds_.size();
  fds_.clear();
  fds_.shrink_to_fit();
  // Small blocks live in the heap, not in their own mappings: give the freed pages back so RSS drops.
  malloc_trim(0);
  return r;
}

LeakStatus Leaker::status() const {
  std::lock_guard lock(mu_);
  LeakStatus s;
  s.leaked_bytes = leaked_bytes_;
  s.leaked_threads = leaked_threads_.size();
  s.leaked_fds = fds_.size();
  s.rates = rates_;
  s.last_error = last_error_;
  return s;
}

void Leaker::Run() {
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    next += kStep;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // do not try to catch up after a stall: keep the growth smooth
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) break;
    StepLocked();
  }
}

void Leaker::StepLocked() {
  if (rates_.memory_mib_per_s > 0) {
    memory_credit_bytes_ += rates_.memory_mib_per_s * kMiB / kStepsPerSecond;
    if (memory_credit_bytes_ >= kMinBlockBytes) {
      const auto bytes = static_cast<size_t>(memory_credit_bytes_);
      if (void* p = leak_memory(bytes)) {
        blocks_.emplace_back(p, bytes);
        leaked_bytes_ += bytes;
        memory_credit_bytes_ -= static_cast<double>(bytes);
      } else {
        last_error_ = "malloc(" + std::to_string(bytes) + ") failed: memory leak stopped";
        rates_.memory_mib_per_s = 0;
        memory_credit_bytes_ = 0;
      }
    }
  }
  if (rates_.threads_per_s > 0) {
    threads_credit_ += rates_.threads_per_s / kStepsPerSecond;
    while (threads_credit_ >= 1) {
      try {
        leaked_threads_.emplace_back([parking = parking_] {
          std::unique_lock l(parking->mu);
          parking->cv.wait(l, [&] { return parking->released; });
        });
      } catch (const std::system_error& e) {
        last_error_ = std::string("thread creation failed: ") + e.what() + ": thread leak stopped";
        rates_.threads_per_s = 0;
        threads_credit_ = 0;
        break;
      }
      pthread_setname_np(leaked_threads_.back().native_handle(), "leaky-thread");
      threads_credit_ -= 1;
    }
  }
  if (rates_.fds_per_s > 0) {
    fds_credit_ += rates_.fds_per_s / kStepsPerSecond;
    if (fds_credit_ >= 1) {
      const auto count = static_cast<size_t>(std::floor(fds_credit_));
      const size_t before = fds_.size();
      const int err = leak_fds(count, &fds_);
      fds_credit_ -= static_cast<double>(fds_.size() - before);
      if (err != 0) {
        last_error_ = std::string("pipe2 failed: ") + std::strerror(err) + ": fd leak stopped";
        rates_.fds_per_s = 0;
        fds_credit_ = 0;
      }
    }
  }
}

}  // namespace leakwatch_demo

// Boost 1.74 Asio with C++20 needs <utility> before its headers (std::exchange in awaitable.hpp).
#include <utility>

#include "agent/sampler/scheduler.h"

#include <pthread.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <exception>
#include <optional>

#include "agent/common/block_signals.h"
#include "agent/logging/log.h"

namespace leakwatch::internal {

NextDeadline ComputeNextDeadline(std::chrono::steady_clock::time_point fired,
                                 std::chrono::steady_clock::time_point now, std::chrono::nanoseconds period) {
  NextDeadline next{fired + period, 0};
  if (next.deadline <= now) {
    const auto behind = now - next.deadline;
    next.missed = static_cast<uint64_t>(behind / period) + 1;
    next.deadline += period * static_cast<int64_t>(next.missed);
  }
  return next;
}

struct Scheduler::Impl {
  boost::asio::io_context io{1};
  boost::asio::steady_timer timer{io};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::chrono::steady_clock::time_point deadline;
};

Scheduler::Scheduler(std::chrono::nanoseconds period, TickFn tick) : period_(period), tick_(std::move(tick)) {}

Scheduler::~Scheduler() { Stop(); }

Status Scheduler::Start(std::chrono::steady_clock::time_point first_deadline) {
  if (impl_) return Error{"sampler already running"};
  auto impl = std::make_unique<Impl>();
  impl->guard.emplace(impl->io.get_executor());
  impl->deadline = first_deadline;

  // The wait-and-tick loop as a self-rescheduling handler.
  auto arm = std::make_shared<std::function<void()>>();
  Impl* s = impl.get();
  *arm = [this, s, weak_arm = std::weak_ptr<std::function<void()>>(arm)] {
    s->timer.expires_at(s->deadline);
    s->timer.async_wait([this, s, weak_arm](const boost::system::error_code& ec) {
      if (ec || s->stopping.load()) return;
      try {
        tick_(missed_.load(std::memory_order_relaxed));
      } catch (...) {
        // TickCollector never throws; this guards against a future caller's callback.
      }
      const auto next = ComputeNextDeadline(s->deadline, std::chrono::steady_clock::now(), period_);
      s->deadline = next.deadline;
      missed_.fetch_add(next.missed, std::memory_order_relaxed);
      if (auto a = weak_arm.lock()) (*a)();
    });
  };

  try {
    ScopedBlockAllSignals block_signals;  // the new thread inherits the blocked mask
    impl->thread = std::thread([s, arm] {
      pthread_setname_np(pthread_self(), "leakwatch");
      (*arm)();
      for (;;) {
        try {
          s->io.run();
          break;
        } catch (const std::exception& e) {
          Log()->error("sampler loop: {}", e.what());
        } catch (...) {
          Log()->error("sampler loop: unknown exception");
        }
        if (s->stopping.load()) break;
        (*arm)();  // re-arm after an unexpected exception so sampling goes on
      }
    });
  } catch (const std::exception& e) {
    return Error{std::string("cannot start the sampler thread: ") + e.what()};
  }
  impl_ = std::move(impl);
  return OkStatus();
}

void Scheduler::Stop() {
  if (!impl_) return;
  if (impl_->thread.get_id() == std::this_thread::get_id()) {
    Log()->error("Scheduler::Stop() called from the sampler thread; ignored");
    return;
  }
  impl_->stopping.store(true);
  boost::asio::post(impl_->io, [s = impl_.get()] { s->timer.cancel(); });
  impl_->guard.reset();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_.reset();
}

}  // namespace leakwatch::internal

#include "agent/allocator/glibc_malloc_provider.h"

#include <fmt/format.h>
#include <pthread.h>

#include <exception>
#include <string>
#include <utility>

#include "agent/common/block_signals.h"
#include "agent/logging/log.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
static_assert(sizeof(leakwatch::internal::GlibcMallinfo2) == sizeof(struct mallinfo2));
#endif

namespace leakwatch::internal {
namespace {

GlibcMallinfoOptions Usable(const GlibcMallinfoOptions& options) {
  if (auto valid = ValidateGlibcMallinfoOptions(options); !valid.ok()) {
    if (options.enabled) {
      Log()->error("allocator: {}; glibc mallinfo2 stays disabled", valid.error().message);
    }
    return GlibcMallinfoOptions{};  // the defaults, disabled
  }
  return options;
}

std::string Millis(std::chrono::nanoseconds d) {
  return fmt::format("{:.1f} ms", std::chrono::duration<double, std::milli>(d).count());
}

}  // namespace

AllocatorStats StatsFromMallinfo2(const GlibcMallinfo2& m) {
  AllocatorStats stats;
  stats.allocated_bytes = static_cast<uint64_t>(m.uordblks) + m.hblkhd;
  stats.mapped_bytes = static_cast<uint64_t>(m.arena) + m.hblkhd;
  stats.free_bytes = static_cast<uint64_t>(m.fordblks);
  return stats;
}

std::unique_ptr<GlibcMallocProvider> GlibcMallocProvider::Find(const SymbolLookup& lookup,
                                                               const GlibcMallinfoOptions& options,
                                                               NowFn now) {
  auto version = lookup.Function<VersionFn>("gnu_get_libc_version");
  if (version == nullptr) return nullptr;
  auto mallinfo2 = lookup.Function<Mallinfo2Fn>("mallinfo2");
  if (mallinfo2 != nullptr && lookup.object_of &&
      lookup.object_of(reinterpret_cast<const void*>(mallinfo2)) !=
          lookup.object_of(reinterpret_cast<const void*>(version))) {
    if (options.enabled) {
      Log()->warn("allocator: mallinfo2 comes from {}, not from glibc; glibc heap figures stay absent",
                  DescribeObjectOf(lookup, "mallinfo2"));
    }
    mallinfo2 = nullptr;
  } else if (mallinfo2 == nullptr && options.enabled) {
    Log()->warn("allocator: glibc {} has no mallinfo2 (glibc 2.33 added it); glibc heap figures stay absent",
                version());
  }
  return std::make_unique<GlibcMallocProvider>(version, mallinfo2, options, std::move(now));
}

GlibcMallocProvider::GlibcMallocProvider(VersionFn version, Mallinfo2Fn mallinfo2,
                                         const GlibcMallinfoOptions& options, NowFn now)
    : version_(version),
      mallinfo2_(mallinfo2),
      now_(now ? std::move(now) : NowFn([] { return std::chrono::steady_clock::now(); })),
      options_(Usable(options)),
      backoff_(options_) {
  if (!options_.enabled || mallinfo2_ == nullptr) return;
  running_ = true;  // before the thread exists: guard_state() must never see a started worker as disabled
  try {
    ScopedBlockAllSignals block_signals;  // the worker inherits a fully blocked mask
    worker_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "leakwatch-minfo");
      try {
        Run();
      } catch (const std::exception& e) {
        Log()->error("allocator: the glibc mallinfo2 thread stopped: {}", e.what());
      } catch (...) {
        Log()->error("allocator: the glibc mallinfo2 thread stopped: unknown exception");
      }
      std::lock_guard lock(mu_);
      running_ = false;
    });
  } catch (const std::exception& e) {
    running_ = false;
    Log()->error("allocator: cannot start the glibc mallinfo2 thread: {}; glibc heap figures stay absent",
                 e.what());
  }
}

GlibcMallocProvider::~GlibcMallocProvider() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void GlibcMallocProvider::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    const auto start = now_();
    const GlibcMallinfo2 info = mallinfo2_();
    const auto end = now_();
    lock.lock();
    latest_ = StatsFromMallinfo2(info);
    last_completed_ = end;
    const auto change = backoff_.Record(end - start);
    const auto period = backoff_.period();
    if (change != MallinfoBackoff::Change::kNone) {
      // Logged outside the lock: guard_state() and Read() must not wait for a log sink.
      const auto budget = backoff_.budget();
      const auto configured = backoff_.configured_period();
      lock.unlock();
      if (change == MallinfoBackoff::Change::kOverBudget) {
        Log()->warn(
            "allocator: glibc mallinfo2 took {}, over its {} budget: period now {} ms (doubles on each call "
            "over budget; logged again only when a call is back within budget)",
            Millis(end - start), Millis(budget), period.count());
      } else {
        Log()->info(
            "allocator: glibc mallinfo2 took {}, back within its {} budget: period now {} ms (halves on "
            "each call within budget, down to {} ms)",
            Millis(end - start), Millis(budget), period.count(), configured.count());
      }
      lock.lock();
    }
    wake_.wait_for(lock, period, [this] { return stop_; });
  }
}

Result<AllocatorStats> GlibcMallocProvider::Read() {
  std::lock_guard lock(mu_);
  return latest_.value_or(AllocatorStats{});
}

AllocatorInfo GlibcMallocProvider::Info() {
  AllocatorInfo info;
  info.name = "glibc";
  if (const char* v = version_(); v != nullptr) info.version = v;
  return info;
}

GlibcGuardState GlibcMallocProvider::guard_state() const {
  std::lock_guard lock(mu_);
  GlibcGuardState s;
  s.enabled = running_;
  s.period = backoff_.period();
  s.last_duration = backoff_.last_duration();
  s.last_completed = last_completed_;
  s.calls_total = backoff_.calls_total();
  s.backoffs_total = backoff_.backoffs_total();
  return s;
}

}  // namespace leakwatch::internal

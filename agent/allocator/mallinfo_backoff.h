#pragma once
// The glibc mallinfo2() guard: its options, its state as exported, and the pure back-off rule.
//
// mallinfo2() walks every free chunk of every arena while holding that arena's lock: microseconds on a tidy
// heap, up to ~1 s on a fragmented multi-GiB one, and the application's malloc/free calls on that arena wait
// meanwhile. leakwatch therefore calls it only when enabled, on a thread of its own, at a long period that
// doubles whenever one call takes longer than the budget.
//
// Thread-safety: MallinfoBackoff is a plain value used under its owner's lock. Cost: trivial.

#include <chrono>
#include <cstdint>
#include <optional>

#include "leakwatch/result.h"

namespace leakwatch::internal {

struct GlibcMallinfoOptions {
  // Off by default: the call can stall the application (see above).
  bool enabled = false;
  // Time from the end of one call to the start of the next; at least 1 ms.
  std::chrono::milliseconds period{60'000};
  // A call that takes longer than this doubles the period; at least 1 ms.
  std::chrono::milliseconds budget{50};
  // The period never grows past this; at least `period`.
  std::chrono::milliseconds max_period{3'600'000};
};

// Names the first invalid field and its value.
Status ValidateGlibcMallinfoOptions(const GlibcMallinfoOptions& options);

// What the guard did so far, for the agent's own metrics.
struct GlibcGuardState {
  // The worker thread runs (enabled in the options, mallinfo2 present, thread started).
  bool enabled = false;
  // The current period (the configured one, or backed off).
  std::chrono::milliseconds period{0};
  // How long the last completed call took, and when it completed (on the provider's clock: for its age).
  std::optional<std::chrono::nanoseconds> last_duration;
  std::optional<std::chrono::steady_clock::time_point> last_completed;
  // Completed calls.
  uint64_t calls_total = 0;
  // Calls over budget (each doubled the period, or found it at the maximum).
  uint64_t backoffs_total = 0;
};

// The back-off rule. A call over budget doubles the period (capped at max_period); a call within budget
// halves it (never below the configured period): a heap that became tidy again is read at the configured
// period again after a few calls, not at once.
class MallinfoBackoff {
 public:
  enum class Change {
    kNone,
    kOverBudget,  // the first call over budget after calls within budget (or the very first call)
    kRecovered,   // the first call within budget after calls over budget
  };

  // REQUIRES: ValidateGlibcMallinfoOptions(options).ok().
  explicit MallinfoBackoff(const GlibcMallinfoOptions& options);

  Change Record(std::chrono::nanoseconds duration);

  std::chrono::milliseconds period() const { return period_; }
  std::chrono::milliseconds configured_period() const { return configured_period_; }
  std::chrono::milliseconds budget() const { return budget_; }
  bool over_budget() const { return over_budget_; }
  uint64_t calls_total() const { return calls_total_; }
  uint64_t backoffs_total() const { return backoffs_total_; }
  std::optional<std::chrono::nanoseconds> last_duration() const { return last_duration_; }

 private:
  std::chrono::milliseconds configured_period_;
  std::chrono::milliseconds budget_;
  std::chrono::milliseconds max_period_;
  std::chrono::milliseconds period_;
  bool over_budget_ = false;
  uint64_t calls_total_ = 0;
  uint64_t backoffs_total_ = 0;
  std::optional<std::chrono::nanoseconds> last_duration_;
};

}  // namespace leakwatch::internal

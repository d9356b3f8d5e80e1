#include "agent/allocator/mallinfo_backoff.h"

#include <algorithm>
#include <string>

namespace leakwatch::internal {
namespace {

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

Status ValidateGlibcMallinfoOptions(const GlibcMallinfoOptions& o) {
  using std::chrono::milliseconds;
  if (o.period < milliseconds(1)) return Error{"glibc mallinfo period " + Ms(o.period) + " is below 1 ms"};
  if (o.budget < milliseconds(1)) return Error{"glibc mallinfo budget " + Ms(o.budget) + " is below 1 ms"};
  if (o.max_period < o.period) {
    return Error{"glibc mallinfo max_period " + Ms(o.max_period) + " is below the period " + Ms(o.period)};
  }
  return OkStatus();
}

MallinfoBackoff::MallinfoBackoff(const GlibcMallinfoOptions& options)
    : configured_period_(options.period),
      budget_(options.budget),
      max_period_(options.max_period),
      period_(options.period) {}

MallinfoBackoff::Change MallinfoBackoff::Record(std::chrono::nanoseconds duration) {
  ++calls_total_;
  last_duration_ = duration;
  if (duration > budget_) {
    ++backoffs_total_;
    // Compared with max_period / 2 first: period_ * 2 could overflow.
    period_ = period_ > max_period_ / 2 ? max_period_ : period_ * 2;
    const bool first = !over_budget_;
    over_budget_ = true;
    return first ? Change::kOverBudget : Change::kNone;
  }
  period_ = std::max(configured_period_, period_ / 2);
  const bool recovered = over_budget_;
  over_budget_ = false;
  return recovered ? Change::kRecovered : Change::kNone;
}

}  // namespace leakwatch::internal

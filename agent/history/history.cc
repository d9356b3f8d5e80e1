#include "leakwatch/history.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <limits>
#include <mutex>
#include <string>

namespace leakwatch {
namespace {

using SteadyNs = std::chrono::steady_clock::duration;

struct StoredRow {
  std::chrono::system_clock::time_point wall_time;
  std::chrono::steady_clock::time_point steady_time;
  std::bitset<kSignalCount> present;
  bool gap_before = false;
  std::array<double, kSignalCount> values;
};

struct SignalAggregate {
  double min, max, sum, last;
  uint32_t count;
};

struct StoredBucket {
  std::chrono::system_clock::time_point start;
  std::chrono::steady_clock::time_point steady_start;
  bool gap = false;
  uint32_t rows = 0;  // rows aggregated
  std::array<SignalAggregate, kSignalCount> signals;
};

// A fixed-capacity ring: push() overwrites the oldest element once full.
template <typename T>
class Ring {
 public:
  explicit Ring(size_t capacity) : items_(capacity) {}
  size_t capacity() const { return items_.size(); }
  size_t size() const { return size_; }
  // i = 0 is the oldest element.
  const T& at(size_t i) const { return items_[(head_ + items_.size() - size_ + i) % items_.size()]; }
  T& newest() { return items_[(head_ + items_.size() - 1) % items_.size()]; }
  T& push() {
    T& slot = items_[head_];
    head_ = (head_ + 1) % items_.size();
    size_ = std::min(size_ + 1, items_.size());
    return slot;
  }

 private:
  std::vector<T> items_;
  size_t head_ = 0;  // next slot to write
  size_t size_ = 0;
};

}  // namespace

struct History::Impl {
  Impl(const HistoryOptions& o, size_t rows, size_t buckets) : options(o), rows(rows), buckets(buckets) {}
  HistoryOptions options;
  mutable std::mutex mu;
  Ring<StoredRow> rows;
  Ring<StoredBucket> buckets;
  bool have_previous = false;
  std::chrono::steady_clock::time_point previous_steady;
  uint64_t appended = 0;         // rows ever appended = the number the next row gets
  uint64_t buckets_started = 0;  // buckets ever started = the number the next bucket gets
};

Result<std::unique_ptr<History>> History::Create(const HistoryOptions& o) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  if (o.period <= milliseconds::zero()) return Error{"history: period must be positive"};
  if (o.bucket_width < o.period || o.bucket_width.count() <= 0) {
    return Error{"history: bucket_width must be at least one period"};
  }
  const size_t buckets = static_cast<size_t>((o.downsampled_window.count() + o.bucket_width.count() - 1) /
                                             o.bucket_width.count()) +
                         1;
  const size_t bucket_bytes = buckets * sizeof(StoredBucket) + sizeof(Impl);
  const auto rows_for = [&](std::chrono::seconds window) {
    return static_cast<size_t>((duration_cast<milliseconds>(window).count() + o.period.count() - 1) /
                               o.period.count());
  };
  const size_t wanted_rows = rows_for(o.full_resolution_window);
  const size_t min_rows = std::min(wanted_rows, rows_for(std::chrono::seconds(60)));
  if (o.budget_bytes < bucket_bytes + min_rows * sizeof(StoredRow)) {
    return Error{"history: budget of " + std::to_string(o.budget_bytes) + " bytes cannot hold " +
                 std::to_string(buckets) + " downsampled buckets (" + std::to_string(bucket_bytes) +
                 " bytes) plus one minute of full resolution (" +
                 std::to_string(min_rows * sizeof(StoredRow)) +
                 " bytes); raise history_budget_bytes or the period"};
  }
  const size_t affordable_rows = (o.budget_bytes - bucket_bytes) / sizeof(StoredRow);
  const size_t rows = std::max<size_t>(1, std::min(wanted_rows, affordable_rows));
  return std::unique_ptr<History>(new History(std::make_unique<Impl>(o, rows, buckets)));
}

History::History(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
History::~History() = default;

void History::Append(const Snapshot& snap) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  // A tick more than 1.5 periods after the previous one means ticks were missed.
  const bool gap = s.have_previous && (snap.steady_time - s.previous_steady) * 2 > s.options.period * 3;
  s.have_previous = true;
  s.previous_steady = snap.steady_time;
  ++s.appended;

  StoredRow& row = s.rows.push();
  row.wall_time = snap.wall_time;
  row.steady_time = snap.steady_time;
  row.gap_before = gap;
  for (size_t i = 0; i < kSignalCount; ++i) {
    const auto v = snap.get(static_cast<Signal>(i));
    row.present[i] = v.has_value();
    row.values[i] = v.value_or(0);
  }

  const bool new_bucket =
      s.buckets.size() == 0 || snap.steady_time - s.buckets.newest().steady_start >= s.options.bucket_width;
  if (new_bucket) {
    StoredBucket& b = s.buckets.push();
    ++s.buckets_started;
    b.start = snap.wall_time;
    b.steady_start = snap.steady_time;
    b.gap = gap;
    b.rows = 0;
    for (auto& a : b.signals) a = SignalAggregate{0, 0, 0, 0, 0};
  }
  StoredBucket& b = s.buckets.newest();
  b.gap = b.gap || gap;
  ++b.rows;
  for (size_t i = 0; i < kSignalCount; ++i) {
    if (!row.present[i]) continue;
    const double v = row.values[i];
    SignalAggregate& a = b.signals[i];
    if (a.count == 0) {
      a.min = a.max = v;
    } else {
      a.min = std::min(a.min, v);
      a.max = std::max(a.max, v);
    }
    a.sum += v;
    a.last = v;
    ++a.count;
  }
}

std::vector<History::Point> History::Recent(Signal signal, std::chrono::steady_clock::duration window) const {
  const Impl& s = *impl_;
  const auto i = static_cast<size_t>(signal);
  std::vector<Point> out;
  std::lock_guard lock(s.mu);
  if (s.rows.size() == 0 || i >= kSignalCount) return out;
  const auto newest = s.rows.at(s.rows.size() - 1).steady_time;
  size_t first = s.rows.size();
  while (first > 0 && newest - s.rows.at(first - 1).steady_time <= window) --first;
  out.reserve(s.rows.size() - first);
  bool pending_gap = false;
  for (size_t k = first; k < s.rows.size(); ++k) {
    const StoredRow& r = s.rows.at(k);
    if (!r.present[i]) {
      pending_gap = !out.empty();
      continue;
    }
    out.push_back(Point{r.wall_time, r.steady_time, r.values[i], r.gap_before || pending_gap});
    pending_gap = false;
  }
  return out;
}

std::vector<History::Bucket> History::Downsampled(Signal signal) const {
  const Impl& s = *impl_;
  const auto i = static_cast<size_t>(signal);
  std::vector<Bucket> out;
  std::lock_guard lock(s.mu);
  if (i >= kSignalCount) return out;
  out.reserve(s.buckets.size());
  for (size_t k = 0; k < s.buckets.size(); ++k) {
    const StoredBucket& b = s.buckets.at(k);
    const SignalAggregate& a = b.signals[i];
    if (a.count == 0) continue;
    out.push_back(Bucket{b.start, b.steady_start, a.min, a.max, a.sum / a.count, a.last, a.count, b.gap});
  }
  return out;
}

size_t History::full_resolution_capacity() const { return impl_->rows.capacity(); }
size_t History::downsampled_capacity() const { return impl_->buckets.capacity(); }
std::chrono::seconds History::full_resolution_coverage() const {
  return std::chrono::duration_cast<std::chrono::seconds>(impl_->options.period *
                                                          static_cast<int64_t>(impl_->rows.capacity()));
}
size_t History::memory_bytes() const {
  return sizeof(Impl) + impl_->rows.capacity() * sizeof(StoredRow) +
         impl_->buckets.capacity() * sizeof(StoredBucket);
}
uint64_t History::rows_appended() const {
  std::lock_guard lock(impl_->mu);
  return impl_->appended;
}

namespace {

// The part of `wanted` to copy from a ring whose elements are numbered [end_now - size, end_now), at most
// `max` of them: [*lo, *hi).
History::CopyInfo Plan(History::Span wanted, size_t max, uint64_t end_now, size_t size, uint64_t* lo,
                       uint64_t* hi) {
  History::CopyInfo info;
  if (wanted.end <= wanted.begin) {
    *lo = *hi = wanted.begin;
    info.next = wanted.begin;
    return info;
  }
  const uint64_t oldest = end_now - size;
  *lo = std::min(std::max(wanted.begin, oldest), wanted.end);
  *hi = std::max(*lo, std::min(wanted.end, end_now));
  if (*hi - *lo > max) *hi = *lo + max;
  info.skipped = *lo - wanted.begin;
  info.copied = static_cast<size_t>(*hi - *lo);
  info.next = *hi;
  return info;
}

}  // namespace

History::Span History::full_resolution_rows() const {
  const Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  return Span{s.appended - s.rows.size(), s.appended};
}

History::Span History::downsampled_buckets() const {
  const Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  return Span{s.buckets_started - s.buckets.size(), s.buckets_started};
}

History::CopyInfo History::CopyFullResolutionRows(Span wanted, size_t max_rows, std::vector<Row>* out) const {
  const Impl& s = *impl_;
  // Size *out before taking the mutex (allocating and zeroing under it would delay the sampler), shrink
  // after.
  out->resize(std::min({max_rows, s.rows.capacity(), static_cast<size_t>(wanted.size())}));
  std::unique_lock lock(s.mu);
  uint64_t lo = 0, hi = 0;
  const CopyInfo info = Plan(wanted, max_rows, s.appended, s.rows.size(), &lo, &hi);
  const uint64_t oldest = s.appended - s.rows.size();
  for (uint64_t n = lo; n < hi; ++n) {
    const StoredRow& r = s.rows.at(static_cast<size_t>(n - oldest));
    Row& o = (*out)[static_cast<size_t>(n - lo)];
    o.number = n;
    o.wall_time = r.wall_time;
    o.steady_time = r.steady_time;
    o.gap_before = r.gap_before;
    o.present = r.present;
    o.values = r.values;
  }
  lock.unlock();
  out->resize(info.copied);
  return info;
}

History::CopyInfo History::CopyDownsampledBuckets(Span wanted, size_t max_buckets,
                                                  std::vector<BucketRow>* out) const {
  const Impl& s = *impl_;
  out->resize(std::min({max_buckets, s.buckets.capacity(), static_cast<size_t>(wanted.size())}));
  std::unique_lock lock(s.mu);
  uint64_t lo = 0, hi = 0;
  const CopyInfo info = Plan(wanted, max_buckets, s.buckets_started, s.buckets.size(), &lo, &hi);
  const uint64_t oldest = s.buckets_started - s.buckets.size();
  for (uint64_t n = lo; n < hi; ++n) {
    const StoredBucket& b = s.buckets.at(static_cast<size_t>(n - oldest));
    BucketRow& o = (*out)[static_cast<size_t>(n - lo)];
    o.number = n;
    o.start = b.start;
    o.steady_start = b.steady_start;
    o.gap = b.gap;
    o.in_progress = n + 1 == s.buckets_started;
    o.rows = b.rows;
    for (size_t i = 0; i < kSignalCount; ++i) {
      const SignalAggregate& a = b.signals[i];
      o.signals[i] = a.count == 0 ? Aggregate{} : Aggregate{a.min, a.max, a.sum / a.count, a.last, a.count};
    }
  }
  lock.unlock();
  out->resize(info.copied);
  return info;
}

}  // namespace leakwatch

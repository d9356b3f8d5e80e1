#include "agent/rules/robust_slope.h"

#include <algorithm>

namespace leakwatch::internal {

double MedianInPlace(std::span<double> values) {
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return lower + (upper - lower) / 2;
}

std::optional<LineFit> TheilSen(std::span<const TimedValue> points, std::vector<double>& scratch) {
  scratch.clear();
  for (size_t i = 0; i < points.size(); ++i) {
    for (size_t j = i + 1; j < points.size(); ++j) {
      const double dt = points[j].t - points[i].t;
      if (dt != 0) scratch.push_back((points[j].v - points[i].v) / dt);
    }
  }
  if (scratch.empty()) return std::nullopt;
  LineFit fit;
  fit.slope = MedianInPlace(scratch);
  scratch.clear();
  for (const auto& p : points) scratch.push_back(p.v - fit.slope * p.t);
  fit.intercept = MedianInPlace(scratch);
  return fit;
}

}  // namespace leakwatch::internal

#pragma once
// Reading one sample out of a Prometheus text exposition (format 0.0.4), for tests.
//
// Thread-safety: pure functions.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::integration {

using Labels = std::map<std::string, std::string>;

// The value of the sample `name` whose label set is exactly `labels` (label order does not matter), or
// nullopt when there is none. Understands escaped label values (\\, \", \n), "NaN"/"Nan", "+Inf", "-Inf" and
// an optional trailing timestamp. Comment and blank lines are skipped.
std::optional<double> FindSample(std::string_view exposition, std::string_view name,
                                 const Labels& labels = {});

}  // namespace leakwatch::integration

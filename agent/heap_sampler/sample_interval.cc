#include "agent/heap_sampler/sample_interval.h"

#include <cmath>

namespace leakwatch::internal {

uint64_t NextSampleRandom(uint64_t* state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

uint64_t SeedSampleRandom(uint64_t seed) {
  // splitmix64: spreads nearby seeds (thread addresses, times) over the whole state space.
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return z != 0 ? z : 0x9E3779B97F4A7C15ULL;
}

int64_t NextSampleGap(uint64_t* state, uint64_t mean_bytes) {
  if (mean_bytes <= 1) return 1;
  // A uniform draw in (0, 1]: 53 random bits, plus one so that log() never sees 0.
  const double u = static_cast<double>((NextSampleRandom(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
  const double gap = -std::log(u) * static_cast<double>(mean_bytes);
  if (gap < 1.0) return 1;
  if (gap >= 9.0e18) return INT64_MAX;
  return static_cast<int64_t>(gap);
}

double SampleWeight(uint64_t bytes, uint64_t mean_bytes) {
  if (mean_bytes <= 1) return 1.0;
  const double s = static_cast<double>(bytes == 0 ? 1 : bytes);
  const double p = -std::expm1(-s / static_cast<double>(mean_bytes));
  return p > 0 ? 1.0 / p : 1.0;
}

}  // namespace leakwatch::internal

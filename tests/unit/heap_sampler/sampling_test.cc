// The sampling arithmetic: exponential gaps, weights, and that the countdown's samples, weighed, estimate
// what was allocated without bias whatever the size mix.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "agent/heap_sampler/sample_interval.h"

namespace leakwatch::internal {
namespace {

TEST(SampleInterval, GapsAreExponentialWithTheRequestedMean) {
  uint64_t state = SeedSampleRandom(42);
  constexpr int kDraws = 200000;
  constexpr uint64_t kMean = 512 * 1024;
  double sum = 0;
  int below_mean = 0;
  int64_t smallest = INT64_MAX;
  for (int i = 0; i < kDraws; ++i) {
    const int64_t g = NextSampleGap(&state, kMean);
    sum += static_cast<double>(g);
    below_mean += g < static_cast<int64_t>(kMean) ? 1 : 0;
    smallest = std::min(smallest, g);
  }
  EXPECT_NEAR(sum / kDraws / kMean, 1.0, 0.01);
  // P(gap < mean) = 1 - 1/e for an exponential.
  EXPECT_NEAR(static_cast<double>(below_mean) / kDraws, 1 - std::exp(-1.0), 0.005);
  EXPECT_GE(smallest, 1);
}

TEST(SampleInterval, EveryAllocationWhenTheMeanIsOne) {
  uint64_t state = SeedSampleRandom(1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(NextSampleGap(&state, 1), 1);
  EXPECT_EQ(SampleWeight(100, 1), 1.0);
}

TEST(SampleInterval, SeedsNeverGiveTheStuckZeroState) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}, ~uint64_t{0}, uint64_t{0x9E3779B97F4A7C15ULL}}) {
    uint64_t s = SeedSampleRandom(seed);
    EXPECT_NE(s, 0u);
    NextSampleRandom(&s);
    EXPECT_NE(s, 0u);
  }
  // Nearby seeds (thread addresses) give unrelated streams.
  uint64_t a = SeedSampleRandom(0x7f0000001000), b = SeedSampleRandom(0x7f0000001008);
  EXPECT_NE(NextSampleRandom(&a), NextSampleRandom(&b));
}

TEST(SampleInterval, WeightIsTheInverseOfTheSamplingProbability) {
  constexpr uint64_t R = 512 * 1024;
  EXPECT_NEAR(SampleWeight(R, R), 1 / (1 - std::exp(-1.0)), 1e-9);
  EXPECT_NEAR(SampleWeight(16, R), 1 / (1 - std::exp(-16.0 / R)), 1e-6);
  EXPECT_NEAR(SampleWeight(100 * R, R), 1.0, 1e-12);
  EXPECT_NEAR(SampleWeight(0, R), SampleWeight(1, R), 1e-9);  // a zero-byte allocation counts as one byte
}

// Runs the countdown over a stream of allocations as the hooks do; returns the weighed estimate of bytes and
// objects per size.
struct Estimate {
  double bytes = 0;
  double objects = 0;
};

TEST(SampleCountdown, WeighedSamplesEstimateEachSizeWithoutBias) {
  constexpr uint64_t kMean = 64 * 1024;
  const std::vector<uint64_t> sizes = {16, 100, 4096, 65536, 1 << 20};
  std::vector<Estimate> estimates(sizes.size());
  std::vector<double> truth(sizes.size(), 0);
  SampleCountdown c;
  uint64_t mix = SeedSampleRandom(7);
  bool first = true;
  for (int i = 0; i < 4'000'000; ++i) {
    const size_t k = NextSampleRandom(&mix) % sizes.size();
    // Small sizes far more often, as real programs allocate.
    const size_t which = k < 3 && (NextSampleRandom(&mix) & 1) ? 0 : k;
    const uint64_t s = sizes[which];
    truth[which] += static_cast<double>(s);
    c.remaining -= static_cast<int64_t>(s);
    if (c.remaining <= 0) {
      const bool sampled = c.Expired(kMean, 99);
      if (first) {
        EXPECT_FALSE(sampled) << "the first expiry only arms the countdown";
        first = false;
        truth[which] -= static_cast<double>(s);  // that allocation is outside the sampled stream
        continue;
      }
      if (sampled) {
        const double w = SampleWeight(s, kMean);
        estimates[which].bytes += w * static_cast<double>(s);
        estimates[which].objects += w;
      }
    }
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_NEAR(estimates[i].bytes / truth[i], 1.0, 0.03) << "size " << sizes[i];
    EXPECT_NEAR(estimates[i].objects / (truth[i] / static_cast<double>(sizes[i])), 1.0, 0.03)
        << "size " << sizes[i];
  }
}

TEST(SampleCountdown, AChangedMeanRearmsWithoutSampling) {
  SampleCountdown c;
  c.remaining = 0;
  EXPECT_FALSE(c.Expired(1024, 5));  // not armed yet
  c.remaining = 0;
  EXPECT_TRUE(c.Expired(1024, 5));
  c.remaining = 0;
  EXPECT_FALSE(c.Expired(2048, 5));  // the mean changed: re-armed, not a sample point
  c.Disarm(1 << 20);
  EXPECT_EQ(c.remaining, 1 << 20);
  c.remaining = 0;
  EXPECT_FALSE(c.Expired(2048, 5));
}

}  // namespace
}  // namespace leakwatch::internal

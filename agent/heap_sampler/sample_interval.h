#pragma once
// The arithmetic of Poisson sampling by bytes: the random draws that space samples, and the weight that
// turns one sampled allocation into an unbiased estimate of what it stands for.
//
// A thread's allocations form one stream of bytes. Sample points are a Poisson process over that stream
// with mean spacing R (the interval): the gaps between points are independent exponential variates of mean
// R. An allocation is sampled when a point falls inside its bytes, which happens with probability
// p(S) = 1 - exp(-S / R) for S bytes, whatever came before (the exponential is memoryless, so a fresh gap is
// drawn after each sampled allocation). Counting a sampled allocation as 1 / p(S) objects and S / p(S)
// bytes makes the sums unbiased (Go's runtime, tcmalloc and pprof use this estimator).
//
// Thread-safety: pure functions over caller-owned state. Cost: a few ns; NextSampleGap calls log().

#include <cstdint>

namespace leakwatch::internal {

// xorshift64*: a fast generator for spacing samples (not for anything secret). *state must not be 0;
// SeedSampleRandom makes a usable state from any value.
uint64_t NextSampleRandom(uint64_t* state);
uint64_t SeedSampleRandom(uint64_t seed);

// An exponential variate with mean `mean_bytes` (>= 1), drawn from *state: the bytes until the next sample
// point. At least 1; at most about 45 x mean (the 53-bit uniform draw bounds -log(u)).
int64_t NextSampleGap(uint64_t* state, uint64_t mean_bytes);

// One thread's position in its stream of allocated bytes: how far the next sample point is. Plain data
// (constant-initialisable, trivially destructible), so that it can live in initial-exec TLS inside malloc.
//
//   countdown.remaining -= bytes;                 // every allocation: the inlined fast path
//   if (countdown.remaining <= 0 && countdown.Expired(interval, seed)) { ...sample this allocation... }
struct SampleCountdown {
  int64_t remaining = 0;  // bytes until the next sample point; <= 0: the point fell in the last allocation
  uint64_t random = 0;    // the generator's state; 0 until seeded
  uint64_t armed_interval = 0;  // the mean `remaining` was drawn with; 0: not armed (new thread, or idle)

  // Called when `remaining` dropped to <= 0. True when the allocation that did it is sampled. An unarmed
  // countdown (first allocation of a thread, or the mean changed) only draws the first gap: that allocation
  // starts the stream and is not sampled. Draws the next gap either way. `seed` seeds an unseeded generator.
  bool Expired(uint64_t mean_bytes, uint64_t seed) {
    if (random == 0) random = SeedSampleRandom(seed);
    const bool armed = armed_interval == mean_bytes;
    armed_interval = mean_bytes;
    remaining = NextSampleGap(&random, mean_bytes);
    return armed;
  }
  // While sampling is off: look again after this many bytes.
  void Disarm(int64_t recheck_bytes) {
    remaining = recheck_bytes;
    armed_interval = 0;
  }
};

// 1 / p(S) for an allocation of `bytes` with mean interval `mean_bytes`: the number of objects one sample of
// this size stands for. 1 when mean_bytes <= 1 (every allocation sampled) and for sizes far above the
// interval; 1 / p(1) for bytes == 0 (a zero-byte allocation still takes one byte of the stream).
double SampleWeight(uint64_t bytes, uint64_t mean_bytes);

}  // namespace leakwatch::internal

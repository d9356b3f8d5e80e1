// alloc_probe: the allocator integration test's child program. Detects the process's allocator with
// DetectAllocator, then prints one JSON line per phase on stdout:
//   start      before the test allocation
//   allocated  after allocating --mib MiB in blocks of --block bytes and writing to every byte
//   freed      after freeing every block
// Each line: {"phase":..., "name":..., "version":..., "profiling_supported":..., "profiling_active":...,
// "profiling_sample_bytes":..., "<field>_bytes":... for every AllocatorStats field (null when absent),
// "arenas":..., "error":... (null or the Read() error), "glibc_calls":... (null unless the glibc guard
// runs)}.
//
//   alloc_probe [--mib N] [--block BYTES] [--glibc-mallinfo-period-ms P]
//
// With --glibc-mallinfo-period-ms the glibc guard is enabled at that period; before each line the probe waits
// until two more mallinfo2 calls have completed, so the figures were taken after the phase.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/allocator/detect.h"

namespace {

using leakwatch::AllocatorStats;
using leakwatch::AllocatorStatsProvider;
using leakwatch::internal::GlibcGuardStateOf;

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

std::string Number(const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "null"; }

// Waits (at most 10 s) until the glibc guard has completed two more calls: one started after this moment.
void WaitForFreshGlibcFigures(const AllocatorStatsProvider& provider) {
  auto state = GlibcGuardStateOf(provider);
  if (!state || !state->enabled) return;
  const uint64_t target = state->calls_total + 2;
  for (int i = 0; i < 10000; ++i) {
    if (GlibcGuardStateOf(provider)->calls_total >= target) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Print(const char* phase, AllocatorStatsProvider& provider) {
  WaitForFreshGlibcFigures(provider);
  const auto info = provider.Info();
  const auto read = provider.Read();
  const AllocatorStats stats = read.ok() ? read.value() : AllocatorStats{};
  const auto guard = GlibcGuardStateOf(provider);
  std::string line =
      "{\"phase\":" + Quote(phase) + ",\"name\":" + Quote(info.name) + ",\"version\":" + Quote(info.version) +
      ",\"profiling_supported\":" + (info.profiling_supported ? "true" : "false") +
      ",\"profiling_active\":" + (info.profiling_active ? "true" : "false") +
      ",\"profiling_sample_bytes\":" + Number(info.profiling_sample_bytes) +
      ",\"allocated_bytes\":" + Number(stats.allocated_bytes) +
      ",\"active_bytes\":" + Number(stats.active_bytes) +
      ",\"resident_bytes\":" + Number(stats.resident_bytes) +
      ",\"mapped_bytes\":" + Number(stats.mapped_bytes) +
      ",\"retained_bytes\":" + Number(stats.retained_bytes) +
      ",\"metadata_bytes\":" + Number(stats.metadata_bytes) + ",\"free_bytes\":" + Number(stats.free_bytes) +
      ",\"arenas\":" + Number(stats.arenas) +
      ",\"error\":" + (read.ok() ? std::string("null") : Quote(read.error().message)) + ",\"glibc_calls\":" +
      (guard && guard->enabled ? std::to_string(guard->calls_total) : std::string("null")) + "}\n";
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = 64;
  size_t block = 4096;
  long mallinfo_period_ms = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--mib") == 0) {
      mib = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--block") == 0) {
      block = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--glibc-mallinfo-period-ms") == 0) {
      mallinfo_period_ms = std::strtol(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "alloc_probe: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (block == 0 || mib == 0) {
    std::fprintf(stderr, "alloc_probe: --mib and --block must be positive\n");
    return 2;
  }

  leakwatch::internal::AllocatorDetectOptions options;
  if (mallinfo_period_ms > 0) {
    options.glibc.enabled = true;
    options.glibc.period = std::chrono::milliseconds(mallinfo_period_ms);
    options.glibc.max_period = std::chrono::milliseconds(mallinfo_period_ms * 8);
    options.glibc.budget = std::chrono::milliseconds(1000);
  }
  auto provider = leakwatch::internal::DetectAllocator(options);

  const size_t count = mib * 1024 * 1024 / block;
  std::vector<char*> blocks;
  blocks.reserve(count);  // before "start": the pointer array is not part of the measured growth
  Print("start", *provider);

  for (size_t i = 0; i < count; ++i) {
    char* p = static_cast<char*>(std::malloc(block));
    if (p == nullptr) {
      std::fprintf(stderr, "alloc_probe: malloc(%zu) failed after %zu blocks\n", block, i);
      return 1;
    }
    std::memset(p, static_cast<int>(i & 0xff) | 1, block);
    asm volatile("" : : "r"(p) : "memory");  // the writes must happen: the pages have to be touched
    blocks.push_back(p);
  }
  Print("allocated", *provider);

  for (char* p : blocks) std::free(p);
  Print("freed", *provider);
  return 0;
}

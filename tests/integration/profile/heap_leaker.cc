// heap_leaker: the heap-profile integration test's child program. Run it with an allocator preloaded and its
// profiling on; it
//   1. runs SteadyWorkload(): allocates and frees --steady-mib x 16 MiB in --block blocks through a ring that
//      keeps --steady-mib MiB live (the steady part of a service);
//   2. runs LeakingFunction(): allocates --leak-mib MiB in --block blocks, writes every byte and keeps them
//      (the leak);
//   3. detects the allocator (DetectAllocator) and writes an incident bundle into --bundle-dir with
//      WriteBundle, as the agent's bundle worker does;
//   4. prints one JSON line on stdout: {"bundle":"<path>","allocator":"<name>","leaked_bytes":N,
//      "steady_live_bytes":M,"error":null or "<message>"}, and exits 0 (1 when the bundle failed).
//
//   heap_leaker --bundle-dir DIR [--leak-mib 64] [--steady-mib 4] [--block 4096]
//
// The steady workload runs first on purpose: gperftools 2.10 does not sample the first 16 MiB the main
// thread allocates (its sampler is set up before TCMALLOC_SAMPLE_PARAMETER is read, with its "sampling off"
// interval of 16 MiB), so a leak made before that would be under-counted by the allocator itself.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent/allocator/detect.h"
#include "agent/bundle/bundle_writer.h"
#include "tests/integration/profile/heap_leaker_workload.h"

namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  size_t leak_mib = 64;
  size_t steady_mib = 4;
  size_t block = 4096;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--bundle-dir") {
      dir = argv[i + 1];
    } else if (flag == "--leak-mib") {
      leak_mib = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (flag == "--steady-mib") {
      steady_mib = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (flag == "--block") {
      block = std::strtoul(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "heap_leaker: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (dir.empty() || block == 0 || leak_mib == 0 || steady_mib == 0) {
    std::fprintf(stderr, "heap_leaker: --bundle-dir is required; sizes must be positive\n");
    return 2;
  }
  std::vector<char*> ring((steady_mib << 20) / block);
  std::vector<char*> kept((leak_mib << 20) / block);
  leakwatch::integration::SteadyWorkload(ring.data(), ring.size(), block, ring.size() * 16);
  leakwatch::integration::LeakingFunction(kept.data(), kept.size(), block);

  auto provider = leakwatch::internal::DetectAllocator();
  auto snapshot = std::make_shared<leakwatch::Snapshot>();
  snapshot->wall_time = std::chrono::system_clock::now();
  snapshot->steady_time = std::chrono::steady_clock::now();
  snapshot->allocator = std::make_shared<leakwatch::AllocatorInfo>(provider->Info());
  leakwatch::internal::BundleWriterOptions options;
  options.dir = dir;
  const auto written = leakwatch::internal::WriteBundle(
      options, leakwatch::internal::BundleTrigger{"api", "heap profile integration test", std::nullopt},
      leakwatch::internal::BundleInputs{snapshot, nullptr, {}},
      std::chrono::steady_clock::now() + std::chrono::seconds(60));
  std::printf(
      "{\"bundle\":%s,\"allocator\":%s,\"leaked_bytes\":%zu,\"steady_live_bytes\":%zu,\"error\":%s}\n",
      Quote(written.ok() ? written->path : "").c_str(), Quote(snapshot->allocator->name).c_str(),
      kept.size() * block, ring.size() * block,
      written.ok() ? "null" : Quote(written.error().message).c_str());
  std::fflush(stdout);
  return written.ok() ? 0 : 1;
}

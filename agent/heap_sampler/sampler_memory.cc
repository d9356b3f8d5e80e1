#include "agent/heap_sampler/sampler_memory.h"

#include <sys/mman.h>
#include <unistd.h>

namespace leakwatch::internal {

size_t SamplerPageSize() {
  static const size_t page = [] {
    const long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<size_t>(p) : size_t{4096};
  }();
  return page;
}

size_t RoundUpToPages(size_t bytes) {
  const size_t page = SamplerPageSize();
  return (bytes + page - 1) / page * page;
}

void* MapSamplerMemory(size_t bytes, bool reserve_only) {
  if (bytes == 0) return nullptr;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserve_only ? MAP_NORESERVE : 0);
  void* p = ::mmap(nullptr, RoundUpToPages(bytes), PROT_READ | PROT_WRITE, flags, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void UnmapSamplerMemory(void* address, size_t bytes) {
  if (address != nullptr && bytes != 0) ::munmap(address, RoundUpToPages(bytes));
}

}  // namespace leakwatch::internal

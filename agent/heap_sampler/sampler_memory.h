#pragma once
// Memory for the heap sampler's own tables, straight from mmap: never from malloc, which the sampler sits
// inside of (a table growing from malloc would recurse into the sampler and perturb the host's heap).
// Pages are zero-filled and cost resident memory only once written.
//
// Thread-safety: stateless wrappers around mmap/munmap. Cost: one system call each.

#include <cstddef>

namespace leakwatch::internal {

// `bytes` rounded up to whole pages, read-write, zero-filled, or nullptr when the kernel refuses.
// `reserve_only`: MAP_NORESERVE, for ranges that are mostly never touched (no commit charge).
void* MapSamplerMemory(size_t bytes, bool reserve_only = false);
void UnmapSamplerMemory(void* address, size_t bytes);
size_t SamplerPageSize();
size_t RoundUpToPages(size_t bytes);

}  // namespace leakwatch::internal

#pragma once
// Parser for /proc/<pid>/smaps_rollup (Linux >= 4.14). Pure function over the file's text.
//
// Thread-safety: pure, thread-safe. Cost: one pass over ~1 KiB, no allocation. (Generating the file is the
// expensive part: the kernel walks every mapping of the process under its mmap lock.)

#include <cstdint>
#include <optional>
#include <string_view>

namespace leakwatch::internal {

// All values in BYTES (the file says "kB", meaning KiB); a missing or unparsable key is nullopt
// (Pss_Anon/Pss_File/Pss_Shmem appeared in Linux 5.9).
struct SmapsRollup {
  std::optional<uint64_t> rss_bytes;            // Rss
  std::optional<uint64_t> pss_bytes;            // Pss
  std::optional<uint64_t> pss_anon_bytes;       // Pss_Anon
  std::optional<uint64_t> pss_file_bytes;       // Pss_File
  std::optional<uint64_t> pss_shmem_bytes;      // Pss_Shmem
  std::optional<uint64_t> shared_clean_bytes;   // Shared_Clean
  std::optional<uint64_t> shared_dirty_bytes;   // Shared_Dirty
  std::optional<uint64_t> private_clean_bytes;  // Private_Clean
  std::optional<uint64_t> private_dirty_bytes;  // Private_Dirty
  std::optional<uint64_t> anonymous_bytes;      // Anonymous
  std::optional<uint64_t> swap_bytes;           // Swap
  std::optional<uint64_t> swap_pss_bytes;       // SwapPss
};

// The first line ("00400000-7fff... ---p 00000000 00:00 0   [rollup]") is a header and is ignored.
SmapsRollup ParseSmapsRollup(std::string_view text);

}  // namespace leakwatch::internal

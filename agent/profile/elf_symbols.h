#pragma once
// Function names from an ELF object's own symbol tables, for symbolizing heap profiles in-process
// (agent/profile/pprof_symbolizer.h): no DWARF, no addr2line, no other process.
//
// ElfImage::Parse is pure: it reads an ELF64 little-endian image already in memory (headers, PT_LOAD
// segments, the NT_GNU_BUILD_ID note, the section headers) and checks every offset against the image, so a
// truncated or garbage file is an error, never a crash. FindFunctions then answers a batch of addresses in
// one pass over .symtab (or .dynsym when the object has no .symtab: stripped libraries): only STT_FUNC and
// STT_GNU_IFUNC symbols count; a symbol of size 0 covers its address up to the next function symbol. Where
// several names share an address (aliases such as malloc / __libc_malloc) the global one with the fewest
// leading underscores, then the shortest, then the first in byte order, is given.
//
// MappedElfFile maps a file read-only (PROT_READ, MAP_PRIVATE) for the time of one lookup and unmaps it when
// destroyed; it refuses files larger than a cap and anything that is not a regular file.
//
// Cost and memory: no symbol table is built. FindFunctions sorts the queried addresses and, for each function
// symbol, binary-searches them: O(symbols x log addresses) time and O(addresses) heap memory whatever the
// object's size. Touching .symtab and .strtab brings those pages of the file into the page cache (charged to
// the cgroup but reclaimable, not anonymous memory); they are unmapped right after the lookup and, being
// sections the loader never maps, dropped from the page cache by MappedElfFile's destructor (.dynsym and
// .dynstr are loaded with the object and stay). Names are read only for the symbols that tie at one address
// and for the answers. Measured: see pprof_symbolizer.h.
//
// Thread-safety: ElfImage is an immutable view (its bytes must outlive it); MappedElfFile owns its mapping.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::internal {

struct ElfLoadSegment {
  uint64_t vaddr = 0;   // p_vaddr: link-time address of the segment's first byte
  uint64_t offset = 0;  // p_offset: where that byte is in the file
  uint64_t filesz = 0;  // p_filesz
  bool executable = false;
};

struct ElfLookupLimits {
  // More function symbols than this in the table used: an error (a bound on the time of one object).
  uint64_t max_symbols = 10'000'000;
  // Checked every 65,536 symbols: an error once passed.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct ElfFunction {
  std::string name;    // as in the symbol table (mangled); "" when no function symbol covers the address
  uint64_t start = 0;  // the symbol's value
};

class ElfImage {
 public:
  // `bytes` must stay valid and unchanged for the life of the ElfImage.
  static Result<ElfImage> Parse(std::string_view bytes);

  // Lower-case hex NT_GNU_BUILD_ID from the PT_NOTE segments; "" when there is none.
  const std::string& build_id() const { return build_id_; }
  const std::vector<ElfLoadSegment>& load_segments() const { return segments_; }
  // ".symtab", ".dynsym" (the table FindFunctions reads) or "" when the object has neither.
  std::string_view symbol_table() const;

  // The link-time address at file offset `offset`, through the PT_LOAD segment holding it; nullopt when no
  // segment maps that offset from the file.
  std::optional<uint64_t> AddressOfFileOffset(uint64_t offset) const;

  // For each link-time address, the function symbol covering it (same order as `addresses`).
  Result<std::vector<ElfFunction>> FindFunctions(std::span<const uint64_t> addresses,
                                                 const ElfLookupLimits& limits) const;

 private:
  struct Table {
    uint64_t offset = 0;  // of the symbols in the image
    uint64_t count = 0;
    uint64_t strings = 0;  // of the string table in the image
    uint64_t strings_size = 0;
  };

  std::string_view bytes_;
  std::string build_id_;
  std::vector<ElfLoadSegment> segments_;
  std::optional<Table> symtab_;
  std::optional<Table> dynsym_;
  // Byte ranges (offset, size) of the sections FindFunctions reads that the loader does not map.
  std::vector<std::pair<uint64_t, uint64_t>> unmapped_ranges_;

  friend class MappedElfFile;
};

// A file mapped read-only.
class MappedElfFile {
 public:
  // Errors name the path: missing, not a regular file, larger than max_bytes, empty, mmap failure.
  static Result<MappedElfFile> Open(const std::string& path, uint64_t max_bytes);

  MappedElfFile(MappedElfFile&& o) noexcept;
  MappedElfFile& operator=(MappedElfFile&& o) noexcept;
  MappedElfFile(const MappedElfFile&) = delete;
  MappedElfFile& operator=(const MappedElfFile&) = delete;
  // Unmaps the file; the pages of `image`'s non-loaded symbol sections are dropped from the page cache.
  ~MappedElfFile();

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
  // Call with the image parsed from bytes() before destruction to drop its symbol sections' pages.
  void ForgetPagesOf(const ElfImage& image);

 private:
  MappedElfFile(int fd, void* data, size_t size) : fd_(fd), data_(data), size_(size) {}
  void Release();

  int fd_ = -1;
  void* data_ = nullptr;
  size_t size_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> drop_ranges_;
};

// abi::__cxa_demangle's name without the parameter list (and the cv/ref qualifiers and "[clone .cold]" after
// it), templates kept: the form pprof's drop_frames and name matching expect ("ns::f", "std::vector<int,
// std::allocator<int> >::_M_realloc_insert<int const&>"). A name that is not a mangled C++ name is returned
// as it is.
std::string DemangleFunctionName(const std::string& mangled);

}  // namespace leakwatch::internal

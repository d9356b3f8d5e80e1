#pragma once
// SymbolizePprof: names the functions of a pprof profile (agent/profile/pprof_encoder.h) from the ELF symbol
// tables of the mapped objects on disk (agent/profile/elf_symbols.h), so that heap.pb.gz reads with function
// names without the binaries, in any tool (`go tool pprof heap.pb.gz`, Pyroscope, Parca). Needed because Go
// 1.19's pprof gives up on the DWARF of gcc-built code spread over several sections (.text.startup,
// .text.unlikely) and shows such frames as "[binary]".
//
// For each location: the file offset of its address in its mapping (address - memory_start + file_offset),
// then the link-time address through the PT_LOAD segment holding that offset (right for PIE executables,
// shared libraries and non-PIE executables alike), then the function symbol covering it (.symtab, else
// .dynsym). Each symbolized location gets one Line (function, line 0); functions are shared by name within an
// object, their `name` demangled without parameters (DemangleFunctionName), `system_name` as the linker
// knows it, no file name; mappings with a named location get has_functions. Addresses, mappings and build
// ids stay, so `pprof -symbolize=force` can still re-symbolize with lines from the binaries.
//
// Which file: the mapping's path (the memory map of the profile). When it cannot be opened or its
// NT_GNU_BUILD_ID differs from the mapping's (the file was replaced after the process loaded it, or the path
// ends in " (deleted)"), `map_files_dir`/<start>-<limit> is tried instead (/proc/<pid>/map_files, the mapped
// file itself; opening it needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, so it mostly fails unprivileged). A
// mapping without a build id is read without that check. Only objects some location is in are read, each file
// once.
//
// Limits: files above max_file_bytes, tables above max_symbols function symbols, and anything once the
// deadline has passed are not read. Every failure leaves its locations as they were (address only) and is
// reported: never an exception, never a partial object.
//
// Thread-safety: a function over the profile it is given. Cost: see elf_symbols.h (no table is built; memory
// O(locations)). Measured on a busy 2-core machine: a real jemalloc heap profile (the program, libc,
// libstdc++, libjemalloc; 23 locations) in 2.6 ms; 2,100 locations over libc, libstdc++ and a 57 MB test
// binary in 23-29 ms with 0.7 MB of extra anonymous memory and under 1 MB of file pages touched; the same
// plus libLLVM-15 (117 MB, 37,000 exported functions; 2,800 locations) in 30-40 ms, 0.9 MB anonymous, 4-6 MB
// of file pages. Most of the time is demangling and the first touch of the symbol tables' pages.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/profile/pprof_encoder.h"

namespace leakwatch::internal {

struct PprofSymbolizeOptions {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  uint64_t max_file_bytes = 1ull << 30;
  uint64_t max_symbols = 10'000'000;
  // Where the process's mapped files are, named "<start>-<limit>" in lower-case hex as in /proc/<pid>/maps
  // ("/proc/self/map_files"); "" not to try.
  std::string map_files_dir;
};

// Locations left without a name, by object and reason.
struct PprofUnsymbolized {
  std::string object;  // the mapping's path; "" for locations outside every mapping
  std::string why;
  uint64_t locations = 0;
};

struct PprofSymbolizeReport {
  uint64_t symbolized_locations = 0;
  uint64_t unsymbolized_locations = 0;
  uint64_t objects_read = 0;
  std::vector<PprofUnsymbolized> unsymbolized;  // one entry per object (and reason)
};

PprofSymbolizeReport SymbolizePprof(PprofProfile& profile, const PprofSymbolizeOptions& options);

}  // namespace leakwatch::internal

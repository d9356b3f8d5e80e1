#pragma once
// Finding the preload library (libleakwatch_preload.so) for `leakwatch run`, and composing LD_PRELOAD.
//
// Thread-safety: pure functions (the `exists` callback decides what is on disk).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::cli {

inline constexpr const char* kPreloadLibraryName = "libleakwatch_preload.so";

struct PreloadSearch {
  std::optional<std::string> option;  // --preload PATH
  std::optional<std::string> env;     // LEAKWATCH_PRELOAD
  std::string exe_dir;                // directory of /proc/self/exe
  std::string multiarch;              // CMAKE_LIBRARY_ARCHITECTURE, e.g. x86_64-linux-gnu (may be empty)
  std::string cwd;                    // to make a relative --preload or LEAKWATCH_PRELOAD absolute
};

// The places looked at, in order, when neither --preload nor LEAKWATCH_PRELOAD is given:
// <exe_dir>/../lib/, <exe_dir>/../lib/leakwatch/, <exe_dir>/../lib/<multiarch>/ (normalized, absolute).
std::vector<std::string> PreloadCandidates(const std::string& exe_dir, const std::string& multiarch);

// The absolute path of the library: --preload when given (it must exist), else LEAKWATCH_PRELOAD when set
// (it must exist), else the first candidate that exists. The error names every place looked.
Result<std::string> FindPreloadLibrary(const PreloadSearch& search,
                                       const std::function<bool(const std::string&)>& exists);

// `library` first, then the entries of the existing LD_PRELOAD (split on spaces and colons, as ld.so does),
// separated by one space. Entries with the library's file name are dropped, wherever they are: the agent must
// not be loaded twice (e.g. by `leakwatch run` inside a program started by `leakwatch run --inherit`).
std::string ComposeLdPreload(const std::string& library, const std::optional<std::string>& existing);

// `path` made absolute against `cwd` and lexically normalized ("a/../b" -> "b"); unchanged when absolute
// (but normalized).
std::string MakeAbsolute(const std::string& path, const std::string& cwd);

// True when `path` is a regular file (following symlinks).
bool IsRegularFile(const std::string& path);

}  // namespace leakwatch::cli

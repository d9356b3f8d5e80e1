#pragma once
// The agent's C++ dependencies (fmt, spdlog, yaml-cpp, prometheus-cpp, civetweb) are Debian's shared
// libraries, loaded once per process: a host linked against the same libraries shares them, which is safe
// (leakwatch keeps no state in their global registries). A host that carries its *own* copy of one of them
// in its dynamic symbol table (a static copy exported with -rdynamic, or another build) would interpose its
// symbols: the Debian library's calls into itself would land in the host's copy, built from other sources.
// Before an attached agent starts, this check finds where each dependency's key symbol resolves; when it is
// not the expected library, the agent does not start (one log line) and the host runs as if it were absent.
//
// Thread-safety: reentrant. Cost: one dlsym and one dladdr per symbol (six); microseconds.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::internal {

struct DependencySymbol {
  std::string dependency;  // "fmt"
  std::string library;     // the file name prefix expected to define it: "libfmt.so"
  std::string symbol;      // a mangled symbol the agent's code path calls
};

// The symbols checked for the libraries leakwatch links.
const std::vector<DependencySymbol>& AgentDependencySymbols();

// The file that defines `symbol` in the process's global scope, or nullopt when no loaded object does.
using SymbolLocator = std::function<std::optional<std::string>(const std::string& symbol)>;
// dlsym(RTLD_DEFAULT) + dladdr.
std::optional<std::string> LocateGlobalSymbol(const std::string& symbol);

// Ok when each symbol resolves to a file whose name starts with its `library`; else one line per dependency
// that resolves elsewhere (or nowhere), naming the symbol and the file that defines it.
Status CheckDependencies(const std::vector<DependencySymbol>& symbols, const SymbolLocator& locate);

}  // namespace leakwatch::internal

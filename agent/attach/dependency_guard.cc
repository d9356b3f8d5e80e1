#include "agent/attach/dependency_guard.h"

#include <dlfcn.h>

namespace leakwatch::internal {

const std::vector<DependencySymbol>& AgentDependencySymbols() {
  static const auto* symbols = new std::vector<DependencySymbol>{
      {"fmt", "libfmt.so",
       "_ZN3fmt2v97vformatB5cxx11ENS0_17basic_string_viewIcEENS0_17basic_format_argsINS0_20basic_format_"
       "contextINS0_8appenderEcEEEE"},
      {"spdlog", "libspdlog.so", "_ZN6spdlog6logger8sink_it_ERKNS_7details7log_msgE"},
      {"yaml-cpp", "libyaml-cpp.so", "_ZN4YAML4LoadERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE"},
      {"prometheus-cpp", "libprometheus-cpp-core.so", "_ZN10prometheus8RegistryC1ENS0_14InsertBehaviorE"},
      {"civetweb", "libcivetweb.so", "mg_start"},
      {"civetweb-cpp", "libcivetweb-cpp.so", "_ZN11CivetServerC1EPPKcPK14CivetCallbacksPKv"},
  };
  return *symbols;
}

std::optional<std::string> LocateGlobalSymbol(const std::string& symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol.c_str());
  if (address == nullptr) return std::nullopt;
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return std::nullopt;
  return std::string(info.dli_fname);
}

Status CheckDependencies(const std::vector<DependencySymbol>& symbols, const SymbolLocator& locate) {
  std::string problems;
  for (const auto& s : symbols) {
    const auto file = locate(s.symbol);
    std::string problem;
    if (!file) {
      problem =
          s.dependency + ": " + s.symbol + " is defined by no loaded object (expected " + s.library + "*)";
    } else {
      const auto slash = file->rfind('/');
      const std::string name = slash == std::string::npos ? *file : file->substr(slash + 1);
      if (name.rfind(s.library, 0) != 0) {
        problem = s.dependency + ": " + s.symbol + " resolves to " + (file->empty() ? "the program" : *file) +
                  ", not " + s.library + "*: the program carries its own copy of " + s.dependency;
      }
    }
    if (!problem.empty()) problems += (problems.empty() ? "" : "\n") + problem;
  }
  if (!problems.empty()) return Error{problems};
  return OkStatus();
}

}  // namespace leakwatch::internal

#pragma once
// The command line of one subcommand: options ("--name VALUE", "--name=VALUE", "-o VALUE", flags), then
// positional arguments; "--" ends the options. Hand-written, no dependency.
//
// Thread-safety: pure functions.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::cli {

struct OptionSpec {
  std::string name;   // "--timeout", "-o"
  bool takes_value;   // false: a flag
  std::string alias;  // another spelling ("-h" for "--help"), or empty
};

struct ParsedArgs {
  std::map<std::string, std::string> options;  // by the spec's name; a flag maps to ""; the last one wins
  std::vector<std::string> positional;         // in order
  std::vector<std::string> rest;               // after the first positional or "--" (stop_at_positional)
  bool saw_double_dash = false;

  bool has(const std::string& name) const { return options.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;
};

// Parses `args` (without the program and subcommand names). With stop_at_positional, the first positional
// argument and everything after it (or everything after "--") go to `rest` unparsed (for `run`: the program
// and its arguments). Errors: an unknown option, a missing value, a value given to a flag.
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs,
                             bool stop_at_positional = false);

}  // namespace leakwatch::cli

#include "cli/args.h"

#include <cstdio>

#include "cli/commands.h"

namespace leakwatch::cli {

std::optional<std::string> ParsedArgs::get(const std::string& name) const {
  const auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs,
                             bool stop_at_positional) {
  ParsedArgs out;
  const auto find = [&specs](std::string_view name) -> const OptionSpec* {
    for (const OptionSpec& s : specs) {
      if (s.name == name || (!s.alias.empty() && s.alias == name)) return &s;
    }
    return nullptr;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.saw_double_dash = true;
      for (size_t j = i + 1; j < args.size(); ++j) {
        (stop_at_positional ? out.rest : out.positional).push_back(args[j]);
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {  // "-" alone is a positional argument (stdout)
      if (stop_at_positional) {
        out.rest.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
        break;
      }
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      if (const size_t eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
      }
    }
    const OptionSpec* spec = find(name);
    if (spec == nullptr) return Error{"unknown option " + name};
    if (!spec->takes_value) {
      if (inline_value) return Error{"option " + name + " takes no value"};
      out.options[spec->name] = "";
      continue;
    }
    if (inline_value) {
      out.options[spec->name] = *inline_value;
    } else if (i + 1 < args.size()) {
      out.options[spec->name] = args[++i];
    } else {
      return Error{"option " + name + " needs a value"};
    }
  }
  return out;
}

int UsageError(const std::string& command, const std::string& usage_line, const std::string& problem,
               int code) {
  std::fprintf(stderr, "leakwatch %s: %s\n%s\ntry leakwatch %s --help\n", command.c_str(), problem.c_str(),
               usage_line.c_str(), command.c_str());
  return code;
}

}  // namespace leakwatch::cli

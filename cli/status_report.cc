#include "cli/status_report.h"

#include <algorithm>
#include <cmath>

#include "cli/format.h"

namespace leakwatch::cli {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "firing", "pending", "ok", or "off" for a disabled rule.
std::string StateLabel(const json& rule) {
  const auto enabled = rule.find("enabled");
  if (enabled != rule.end() && enabled->is_boolean() && !enabled->get<bool>()) return "off";
  const std::string state = Str(rule, "state");
  return state.empty() ? "?" : state;
}

int StateRank(const std::string& state) {
  if (state == "firing") return 0;
  if (state == "pending") return 1;
  if (state == "ok") return 2;
  return 3;
}

std::string Percent(double part, double whole) {
  if (!(whole > 0)) return "";
  return " (" + FormatNumber(100 * part / whole, 0) + "%)";
}

void Join(std::string* out, const std::string& item) {
  if (item.empty()) return;
  if (!out->empty()) *out += ", ";
  *out += item;
}

std::string ProcessLine(const PromSamples& m) {
  std::string line;
  if (auto rss = m.Value("process_resident_memory_bytes")) Join(&line, "rss " + FormatBytes(*rss));
  if (auto threads = m.Value("process_threads")) Join(&line, FormatNumber(*threads, 0) + " threads");
  if (auto fds = m.Value("process_open_fds")) {
    const auto max = m.Value("process_max_fds");
    Join(&line, FormatNumber(*fds, 0) +
                    (max ? " of " + FormatNumber(*max, 0) + " fds" + Percent(*fds, *max) : " fds"));
  }
  if (auto cpu = m.Value("process_cpu_seconds_total")) Join(&line, "cpu " + FormatNumber(*cpu, 2) + " s");
  const auto start = m.Value("process_start_time_seconds");
  const auto now = m.Value("leakwatch_last_sample_timestamp_seconds");
  if (start && now && *now >= *start) Join(&line, "up " + FormatElapsed(*now - *start));
  return line;
}

std::string CgroupLine(const PromSamples& m) {
  const auto usage = m.Value("leakwatch_cgroup_memory_usage_bytes");
  const auto working_set = m.Value("leakwatch_cgroup_memory_working_set_bytes");
  const auto limit = m.Value("leakwatch_cgroup_memory_limit_bytes");
  std::string line;
  if (working_set) {
    Join(&line, "working set " + FormatBytes(*working_set) +
                    (limit ? " of " + FormatBytes(*limit) + " limit" + Percent(*working_set, *limit) : ""));
  }
  if (usage) Join(&line, "usage " + FormatBytes(*usage));
  if ((usage || working_set) && !limit) Join(&line, "no memory limit");
  if (auto pids = m.Value("leakwatch_cgroup_pids")) {
    const auto max = m.Value("leakwatch_cgroup_pids_max");
    Join(&line, FormatNumber(*pids, 0) + (max ? " of " + FormatNumber(*max, 0) : "") + " tasks");
  }
  return line;
}

std::string AllocatorLine(const PromSamples& m) {
  const PromSample* info = m.Find("leakwatch_allocator_info");
  std::string line;
  if (info != nullptr) {
    const auto get = [&](const char* key) {
      const auto it = info->labels.find(key);
      return it == info->labels.end() ? std::string() : it->second;
    };
    std::string name = get("allocator");
    if (!get("version").empty()) name += " " + get("version");
    if (!get("profiling").empty()) name += " (heap profiling " + get("profiling") + ")";
    Join(&line, name);
  }
  if (auto heap = m.Value("process_heap_bytes")) Join(&line, "heap " + FormatBytes(*heap));
  if (auto overhead = m.Value("leakwatch_allocator_overhead_bytes"))
    Join(&line, "overhead " + FormatBytes(*overhead));
  return line;
}

std::string ConfigLine(const json& status) {
  const auto it = status.find("config");
  if (it == status.end() || !it->is_object()) return "";
  const json& c = *it;
  const std::string file = Str(c, "file");
  if (file.empty()) return "no config file";
  std::string line = file;
  const auto ok = c.find("last_load_ok");
  if (ok != c.end() && ok->is_boolean() && !ok->get<bool>()) {
    line += ": last reload FAILED, the previous configuration stays: " + Str(c, "last_error");
    std::replace(line.begin(), line.end(), '\n', ' ');
  } else if (const auto reloads = c.find("reloads_total"); reloads != c.end() && reloads->is_number()) {
    line += " (" + std::to_string(reloads->get<uint64_t>()) + " reloads)";
  }
  return line;
}

}  // namespace

int CountFiring(const json& status) {
  int firing = 0;
  const auto rules = status.find("rules");
  if (rules == status.end() || !rules->is_array()) return 0;
  for (const json& r : *rules) {
    if (r.is_object() && StateLabel(r) == "firing") ++firing;
  }
  return firing;
}

std::string RenderStatusReport(const std::string& address, const json& status, const PromSamples& metrics) {
  std::string version =
      metrics.Label("leakwatch_build_info", "version").value_or(Str(status, "leakwatch_version"));
  std::vector<std::vector<std::string>> head;
  head.push_back({"agent", "leakwatch " + (version.empty() ? std::string("?") : version) + " at " + address});
  for (const auto& [label, line] : {std::pair<const char*, std::string>{"process", ProcessLine(metrics)},
                                    {"cgroup", CgroupLine(metrics)},
                                    {"allocator", AllocatorLine(metrics)},
                                    {"config", ConfigLine(status)}}) {
    if (!line.empty()) head.push_back({label, line});
  }

  std::vector<const json*> rules;
  if (const auto it = status.find("rules"); it != status.end() && it->is_array()) {
    for (const json& r : *it) {
      if (r.is_object()) rules.push_back(&r);
    }
  }
  std::stable_sort(rules.begin(), rules.end(), [](const json* a, const json* b) {
    return StateRank(StateLabel(*a)) < StateRank(StateLabel(*b));
  });
  int counts[4] = {0, 0, 0, 0};
  for (const json* r : rules) ++counts[StateRank(StateLabel(*r))];
  std::string summary = std::to_string(rules.size()) + (rules.size() == 1 ? " rule: " : " rules: ") +
                        std::to_string(counts[0]) + " firing, " + std::to_string(counts[1]) + " pending, " +
                        std::to_string(counts[2]) + " ok";
  if (counts[3] > 0) summary += ", " + std::to_string(counts[3]) + " off";
  if (!status.contains("sequence")) summary += " (not evaluated yet)";
  head.push_back({"rules", summary});

  std::string out = RenderTable(head);
  std::vector<std::vector<std::string>> table;
  for (const json* r : rules) {
    std::string state = StateLabel(*r);
    if (state == "firing") state = "FIRING";
    std::string description = Str(*r, "description");
    std::replace(description.begin(), description.end(), '\n', ' ');
    table.push_back({"  " + state, Str(*r, "name"), Str(*r, "severity"), description});
  }
  out += RenderTable(table);
  return out;
}

}  // namespace leakwatch::cli

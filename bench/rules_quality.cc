// leakwatch_rules_quality: detection quality of the default rules, measured on the simulated corpus
// (tests/support/rule_sim.h). The figures in docs/RULES.md come from this program.
//
//   leakwatch_rules_quality [--period SECONDS] [--markdown | --csv] [--jobs N]
//
// Table 1, time to detect a leak: for each cgroup limit (256 MiB, 1 GiB, 8 GiB) and leak rate (0.1 MiB/min to
// 100 MiB/s), a process steady at 30% of the limit for 15 min, then leaking linearly until the limit (sample
// noise 0.5% of the level, so the OOM kill comes when a noise peak touches the limit). Columns: the rule that
// fired first, the seconds from the leak's start to that firing, and the seconds left before the limit when
// the first critical rule (memory_time_to_limit) fired; "-" where nothing fired before the limit.
//
// Table 2, false firings: one simulated day of each scenario of the noise corpus (steady with outliers,
// GC-like sawtooths, start-up growth, bursts that recover, gaps): transitions to firing per day, the share of
// the day spent firing, and which rules fired.
//
// Deterministic: the same binary prints the same tables. Runtime ~10 s at the default 1 s period (the slowest
// leak, 0.1 MiB/min on 8 GiB, is 40 simulated days); a shorter period costs proportionally more.
// Exit status 1 on bad arguments.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/rule_sim.h"

namespace {

namespace sim = leakwatch::sim;
using leakwatch::RuleState;
using leakwatch::Severity;

enum class Format { kMarkdown, kCsv };

int Usage() {
  std::fprintf(stderr, "usage: leakwatch_rules_quality [--period SECONDS] [--markdown | --csv] [--jobs N]\n");
  return 1;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// "45 s", "18 min", "2.9 h", "40 d".
std::string Human(double seconds) {
  if (seconds < 120) return Fmt("%.0f s", seconds);
  if (seconds < 2 * 3600) return Fmt("%.0f min", seconds / 60);
  if (seconds < 2 * 86400) return Fmt("%.1f h", seconds / 3600);
  return Fmt("%.1f d", seconds / 86400);
}

// Runs the jobs on `threads` threads; results in the jobs' order.
template <typename T>
std::vector<T> RunParallel(const std::vector<std::function<T()>>& jobs, unsigned threads) {
  std::vector<T> out(jobs.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < std::max(threads, 1u); ++i) {
    pool.emplace_back([&] {
      for (size_t j = next++; j < jobs.size(); j = next++) out[j] = jobs[j]();
    });
  }
  for (auto& th : pool) th.join();
  return out;
}

std::string LimitLabel(double bytes) {
  if (bytes >= sim::kGiB) return Fmt("%g GiB", bytes / sim::kGiB);
  return Fmt("%g MiB", bytes / sim::kMiB);
}

struct Table {
  std::string title;
  std::vector<std::string> notes;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void Print(const Table& t, Format format) {
  if (format == Format::kCsv) {
    std::printf("# %s\n", t.title.c_str());
    for (size_t i = 0; i < t.header.size(); ++i)
      std::printf("%s%s", i ? "," : "", CsvField(t.header[i]).c_str());
    std::printf("\n");
    for (const auto& row : t.rows) {
      for (size_t i = 0; i < row.size(); ++i) std::printf("%s%s", i ? "," : "", CsvField(row[i]).c_str());
      std::printf("\n");
    }
    std::printf("\n");
    return;
  }
  std::printf("### %s\n\n", t.title.c_str());
  for (const auto& note : t.notes) std::printf("%s\n", note.c_str());
  if (!t.notes.empty()) std::printf("\n");
  std::string line = "|";
  std::string rule = "|";
  for (const auto& h : t.header) {
    line += " " + h + " |";
    rule += "---|";
  }
  std::printf("%s\n%s\n", line.c_str(), rule.c_str());
  for (const auto& row : t.rows) {
    line = "|";
    for (const auto& cell : row) line += " " + cell + " |";
    std::printf("%s\n", line.c_str());
  }
  std::printf("\n");
}

// One leak of the table, simulated with and without sample noise.
struct LeakRow {
  std::string limit, rate, leak_to_limit, first_rule = "-", detected = "-", critical_rule = "-", lead = "-",
                                          lead_noise_free = "-";
};

LeakRow RunLeak(const leakwatch::internal::CompiledRules& rules, std::chrono::nanoseconds period,
                const std::string& limit_label, const std::string& rate_label,
                const sim::corpus::MemoryLeakParams& params) {
  LeakRow row;
  row.limit = limit_label;
  row.rate = rate_label;
  const auto duration =
      std::chrono::seconds(static_cast<int64_t>(sim::corpus::MemoryLeakLimitTime(params)) + 3600);
  const sim::SimulationOptions options{.period = period, .duration = duration};
  const sim::SimulationResult r = sim::Simulate(sim::corpus::MemoryLeak(params), rules, options);
  const double end = r.memory_limit_reached_s.value_or(r.end_s);
  row.leak_to_limit = Human(end - params.steady_s);
  if (const sim::TransitionRecord* first = r.FirstFiringRecord()) {
    row.first_rule = first->rule;
    if (first->t < params.steady_s) row.first_rule += " (before the leak)";
    row.detected = Fmt("%.0f", first->t - params.steady_s);
  }
  const sim::TransitionRecord* critical = r.FirstFiringRecord(Severity::kCritical);
  if (critical != nullptr && r.memory_limit_reached_s) {
    row.critical_rule = critical->rule;
    row.lead = Fmt("%.0f", end - critical->t);
  }

  sim::corpus::MemoryLeakParams exact = params;
  exact.noise = 0;
  const sim::SimulationResult q = sim::Simulate(sim::corpus::MemoryLeak(exact), rules, options);
  const sim::TransitionRecord* exact_critical = q.FirstFiringRecord(Severity::kCritical);
  if (exact_critical != nullptr && q.memory_limit_reached_s) {
    row.lead_noise_free = Fmt("%.0f", *q.memory_limit_reached_s - exact_critical->t);
  }
  return row;
}

Table LeakTable(const leakwatch::internal::CompiledRules& rules, std::chrono::nanoseconds period,
                unsigned threads) {
  Table t;
  t.title = "Time to detect a leak (default rules, period " +
            Fmt("%g", std::chrono::duration<double>(period).count()) + " s)";
  t.notes = {
      "Steady at 30% of the cgroup limit for 15 min, then a linear leak until the limit; sample noise 0.5% "
      "of the level, so the OOM kill comes when a noise peak touches the limit. `detected after`: seconds "
      "from the leak's start to the first firing of any rule. `critical lead`: seconds left before the limit "
      "when the first critical rule (`critical rule`: memory_time_to_limit or memory_oom_imminent) fired; "
      "`(no noise)`: the same leak without noise. `-`: nothing fired before the limit."};
  t.header = {"limit",
              "leak rate",
              "leak to limit",
              "first firing",
              "detected after (s)",
              "critical rule",
              "critical lead (s)",
              "critical lead, no noise (s)"};
  const double limits[] = {256 * sim::kMiB, sim::kGiB, 8 * sim::kGiB};
  struct Rate {
    const char* label;
    double bytes_per_s;
  };
  const Rate rates[] = {{"0.1 MiB/min", 0.1 * sim::kMiB / 60},
                        {"1 MiB/min", sim::kMiB / 60},
                        {"10 MiB/min", 10 * sim::kMiB / 60},
                        {"100 MiB/min", 100 * sim::kMiB / 60},
                        {"1 MiB/s", sim::kMiB},
                        {"10 MiB/s", 10 * sim::kMiB},
                        {"100 MiB/s", 100 * sim::kMiB}};
  std::vector<std::function<LeakRow()>> jobs;
  for (const double limit : limits) {
    for (const Rate& rate : rates) {
      sim::corpus::MemoryLeakParams p;
      p.limit_bytes = limit;
      p.rate_bytes_per_s = rate.bytes_per_s;
      jobs.push_back([&rules, period, limit, rate, p] {
        return RunLeak(rules, period, LimitLabel(limit), rate.label, p);
      });
    }
  }
  for (const LeakRow& row : RunParallel(jobs, threads)) {
    t.rows.push_back({row.limit, row.rate, row.leak_to_limit, row.first_rule, row.detected, row.critical_rule,
                      row.lead, row.lead_noise_free});
  }
  return t;
}

Table FalseFiringTable(const leakwatch::internal::CompiledRules& rules, std::chrono::nanoseconds period,
                       unsigned threads) {
  Table t;
  t.title = "False firings per simulated day (default rules, period " +
            Fmt("%g", std::chrono::duration<double>(period).count()) + " s)";
  t.notes = {
      "Each scenario of the noise corpus on a 1 GiB limit for 24 h (the start-up scenario includes its "
      "start-up once). `firing time`: share of the day some rule was firing."};
  t.header = {"scenario", "firings/day", "firing time", "rules fired"};
  const std::vector<sim::Scenario> corpus = sim::corpus::NoiseCorpus(sim::kGiB);
  std::vector<std::function<std::vector<std::string>()>> jobs;
  for (const sim::Scenario& s : corpus) {
    jobs.push_back([&rules, period, &s] {
      const sim::SimulationResult r = sim::Simulate(
          s, rules, sim::SimulationOptions{.period = period, .duration = std::chrono::hours(24)});
      std::map<std::string, int> by_rule;
      double firing_s = 0;
      size_t firing_now = 0;
      double any_since = 0;
      for (const auto& tr : r.transitions) {
        if (tr.to == RuleState::kFiring) {
          ++by_rule[tr.rule];
          if (tr.from != RuleState::kFiring && firing_now++ == 0) any_since = tr.t;
        } else if (tr.from == RuleState::kFiring) {
          if (--firing_now == 0) firing_s += tr.t - any_since;
        }
      }
      if (firing_now > 0) firing_s += r.end_s - any_since;
      std::string fired;
      int total = 0;
      for (const auto& [rule, n] : by_rule) {
        fired += (fired.empty() ? "" : ", ") + rule + " x" + std::to_string(n);
        total += n;
      }
      const double span = std::max(r.end_s, 1.0);
      return std::vector<std::string>{s.name, Fmt("%.0f", total * 86400 / span),
                                      Fmt("%.1f%%", 100 * firing_s / span), fired.empty() ? "-" : fired};
    });
  }
  t.rows = RunParallel(jobs, threads);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  Format format = Format::kMarkdown;
  double period_s = 1;
  unsigned threads = std::min(std::max(std::thread::hardware_concurrency(), 1u), 4u);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--markdown") == 0) {
      format = Format::kMarkdown;
    } else if (std::strcmp(argv[i], "--csv") == 0) {
      format = Format::kCsv;
    } else if (std::strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
      threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (std::strcmp(argv[i], "--period") == 0 && i + 1 < argc) {
      char* end = nullptr;
      period_s = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(period_s >= 0.01 && period_s <= 600)) {
        std::fprintf(stderr, "--period: %s is not a number of seconds in [0.01, 600]\n", argv[i]);
        return 1;
      }
    } else {
      return Usage();
    }
  }
  const auto period = std::chrono::nanoseconds(static_cast<int64_t>(std::llround(period_s * 1e9)));
  const leakwatch::internal::CompiledRules rules = sim::DefaultCompiledRules();
  Print(LeakTable(rules, period, threads), format);
  Print(FalseFiringTable(rules, period, threads), format);
  return 0;
}

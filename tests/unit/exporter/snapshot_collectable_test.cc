#include "exporters/prometheus/snapshot_collectable.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "leakwatch/version.h"
#include "tests/unit/exporter/test_snapshots.h"

namespace leakwatch::exporters {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Render(const SnapshotCollectable& c) {
  return prometheus::TextSerializer().Serialize(c.Collect());
}

std::string Compiler() {
  return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
}

// Every source is listed, 0 included; only "pressure" has errors in SmallSnapshot().
std::string SourceErrorLines() {
  std::string out;
  for (size_t i = 0; i < kSourceCount; ++i) {
    const auto source = static_cast<Source>(i);
    out += "leakwatch_source_errors_total{source=\"" + std::string(SourceName(source)) + "\"} " +
           (source == Source::kPressure ? "3" : "0") + "\n";
  }
  return out;
}

// A hand-built snapshot: a few process signals, two of the three resident-memory-by-type rows, one CPU mode.
std::shared_ptr<const Snapshot> SmallSnapshot() {
  auto s = std::make_shared<Snapshot>();
  s->sequence = 7;
  s->wall_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000500));
  s->sample_duration = std::chrono::microseconds(250);
  s->period = std::chrono::seconds(5);
  s->samples_total = 7;
  s->missed_ticks_total = 2;
  s->source_errors_total[static_cast<size_t>(Source::kPressure)] = 3;
  s->cgroup_version = 1;
  s->cgroup_path = "/system.slice/demo.service";
  s->set(Signal::kResidentMemoryBytes, 104857600);
  s->set(Signal::kVirtualMemoryBytes, 524288000);
  s->set(Signal::kRssAnonBytes, 83886080);
  s->set(Signal::kRssFileBytes, 20971520);
  s->set(Signal::kOpenFds, 12);
  s->set(Signal::kMaxFds, 1024);
  s->set(Signal::kCpuSecondsTotal, 1.5);
  s->set(Signal::kCpuUserSecondsTotal, 1.25);
  s->set(Signal::kStartTimeSeconds, 1699999000);
  return s;
}

TEST(SnapshotCollectableTest, GoldenExposition) {
  const auto snapshot = SmallSnapshot();
  SnapshotCollectable collectable([snapshot] { return snapshot; });
  const std::string expected =
      std::string(R"(# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 104857600
# HELP process_virtual_memory_bytes Virtual memory size in bytes.
# TYPE process_virtual_memory_bytes gauge
process_virtual_memory_bytes 524288000
# HELP leakwatch_process_resident_memory_type_bytes Resident memory by type (RssAnon, RssFile, RssShmem) in bytes.
# TYPE leakwatch_process_resident_memory_type_bytes gauge
leakwatch_process_resident_memory_type_bytes{type="anon"} 83886080
leakwatch_process_resident_memory_type_bytes{type="file"} 20971520
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 12
# HELP process_max_fds Maximum number of open file descriptors.
# TYPE process_max_fds gauge
process_max_fds 1024
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
# HELP leakwatch_process_cpu_mode_seconds_total CPU time spent by the process in seconds, by mode.
# TYPE leakwatch_process_cpu_mode_seconds_total counter
leakwatch_process_cpu_mode_seconds_total{mode="user"} 1.25
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1699999000
# HELP leakwatch_build_info A metric with a constant '1' value labeled by the leakwatch version and the compiler that built it.
# TYPE leakwatch_build_info gauge
leakwatch_build_info{compiler=")") +
      Compiler() + R"(",version=")" + LEAKWATCH_VERSION + R"("} 1
# HELP leakwatch_samples_total Sampler ticks completed since the agent started.
# TYPE leakwatch_samples_total counter
leakwatch_samples_total 7
# HELP leakwatch_missed_ticks_total Sampler deadlines skipped because a tick ran late.
# TYPE leakwatch_missed_ticks_total counter
leakwatch_missed_ticks_total 2
# HELP leakwatch_source_errors_total Failed reads per data source since the agent started; a failing source makes its signals absent.
# TYPE leakwatch_source_errors_total counter
)" + SourceErrorLines() +
      R"(# HELP leakwatch_sample_duration_seconds Time the last sampler tick took to read every source in seconds.
# TYPE leakwatch_sample_duration_seconds gauge
leakwatch_sample_duration_seconds 0.00025
# HELP leakwatch_last_sample_timestamp_seconds Unix time of the last sampler tick in seconds.
# TYPE leakwatch_last_sample_timestamp_seconds gauge
leakwatch_last_sample_timestamp_seconds 1700000000.5
# HELP leakwatch_sample_period_seconds Configured sampling period in seconds.
# TYPE leakwatch_sample_period_seconds gauge
leakwatch_sample_period_seconds 5
# HELP leakwatch_cgroup_info A metric with a constant '1' value labeled by the cgroup version and the path of the process's memory cgroup.
# TYPE leakwatch_cgroup_info gauge
leakwatch_cgroup_info{path="/system.slice/demo.service",version="1"} 1
# HELP leakwatch_exporter_collect_errors_total Scrapes whose rendering failed; such a scrape carries only leakwatch_build_info and this counter.
# TYPE leakwatch_exporter_collect_errors_total counter
leakwatch_exporter_collect_errors_total 0
)";
  EXPECT_EQ(Render(collectable), expected);
}

TEST(SnapshotCollectableTest, AbsentSignalsAndEmptyFamiliesAreNotEmitted) {
  const auto snapshot = SmallSnapshot();
  SnapshotCollectable collectable([snapshot] { return snapshot; });
  const std::string text = Render(collectable);
  EXPECT_THAT(text, Not(HasSubstr("type=\"shmem\"")));  // absent row of a present family
  EXPECT_THAT(text, Not(HasSubstr("mode=\"system\"")));
  EXPECT_THAT(text, Not(HasSubstr("process_threads")));                     // absent unlabelled family
  EXPECT_THAT(text, Not(HasSubstr("leakwatch_cgroup_memory_stat_bytes")));  // family with no present row
  EXPECT_THAT(text, Not(HasSubstr("leakwatch_memory_pressure")));
}

TEST(SnapshotCollectableTest, NoCgroupInfoWithoutCgroup) {
  auto s = std::make_shared<Snapshot>(*SmallSnapshot());
  s->cgroup_version = 0;
  s->cgroup_path.clear();
  std::shared_ptr<const Snapshot> snapshot = s;
  SnapshotCollectable collectable([snapshot] { return snapshot; });
  EXPECT_THAT(Render(collectable), Not(HasSubstr("leakwatch_cgroup_info")));
}

TEST(SnapshotCollectableTest, AllocatorInfoCarriesNameVersionAndProfiling) {
  auto s = std::make_shared<Snapshot>(*SmallSnapshot());
  s->allocator = std::make_shared<const AllocatorInfo>(AllocatorInfo{.name = "jemalloc",
                                                                     .version = "5.3.0-0-g54eaed1d",
                                                                     .profiling_supported = true,
                                                                     .profiling_active = true,
                                                                     .profiling_sample_bytes = 524288});
  std::shared_ptr<const Snapshot> snapshot = s;
  SnapshotCollectable collectable([snapshot] { return snapshot; });
  EXPECT_THAT(Render(collectable),
              HasSubstr("leakwatch_allocator_info{allocator=\"jemalloc\",profiling=\"active\","
                        "profiling_sample_bytes=\"524288\",version=\"5.3.0-0-g54eaed1d\"} 1\n"));

  s->allocator = std::make_shared<const AllocatorInfo>();  // nothing found
  EXPECT_THAT(Render(collectable),
              HasSubstr("leakwatch_allocator_info{allocator=\"unknown\",profiling=\"unsupported\","
                        "profiling_sample_bytes=\"\",version=\"\"} 1\n"));
  s->allocator = std::make_shared<const AllocatorInfo>(
      AllocatorInfo{.name = "tcmalloc", .version = "gperftools 2.10", .profiling_supported = true});
  EXPECT_THAT(Render(collectable), HasSubstr("profiling=\"inactive\""));
  s->allocator.reset();  // no allocator reader ran
  EXPECT_THAT(Render(collectable), Not(HasSubstr("leakwatch_allocator_info")));
}

TEST(SnapshotCollectableTest, BeforeFirstTickOnlyBuildInfoAndExporterCounter) {
  SnapshotCollectable collectable([] { return std::shared_ptr<const Snapshot>(); });
  const auto families = collectable.Collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "leakwatch_build_info");
  EXPECT_EQ(families[1].name, "leakwatch_exporter_collect_errors_total");
  EXPECT_EQ(families[1].metric.at(0).counter.value, 0);
  EXPECT_EQ(collectable.collect_errors(), 0u);
}

TEST(SnapshotCollectableTest, ProviderExceptionsAreCaughtAndCounted) {
  int calls = 0;
  SnapshotCollectable collectable([&calls]() -> std::shared_ptr<const Snapshot> {
    ++calls;
    if (calls == 1) throw std::runtime_error("provider broke");
    if (calls == 2) throw 42;  // not a std::exception
    return testdata::FullSnapshot();
  });
  std::vector<prometheus::MetricFamily> families;
  ASSERT_NO_THROW(families = collectable.Collect());
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[1].name, "leakwatch_exporter_collect_errors_total");
  EXPECT_EQ(families[1].metric.at(0).counter.value, 1);
  ASSERT_NO_THROW(families = collectable.Collect());
  EXPECT_EQ(families[1].metric.at(0).counter.value, 2);
  EXPECT_EQ(collectable.collect_errors(), 2u);
  // Recovery: the next scrape is complete again and still reports the past failures.
  const std::string text = prometheus::TextSerializer().Serialize(collectable.Collect());
  EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes 1000\n"));
  EXPECT_THAT(text, HasSubstr("leakwatch_exporter_collect_errors_total 2\n"));
}

TEST(SnapshotCollectableTest, EmptyProviderCountsAnError) {
  SnapshotCollectable collectable{SnapshotProvider{}};
  EXPECT_NO_THROW(collectable.Collect());
  EXPECT_EQ(collectable.collect_errors(), 1u);
}

TEST(SnapshotCollectableTest, FullSnapshotEmitsEveryCatalogueRowOnce) {
  const auto snapshot = testdata::FullSnapshot();
  SnapshotCollectable collectable([snapshot] { return snapshot; });
  const auto families = collectable.Collect();
  std::set<std::string> catalogue_names;
  for (size_t i = 0; i < kSignalCount; ++i) {
    catalogue_names.insert(std::string(GetSignalInfo(static_cast<Signal>(i)).metric));
  }
  std::set<std::string> names;
  size_t catalogue_metrics = 0;
  for (const auto& f : families) {
    EXPECT_TRUE(names.insert(f.name).second) << "family emitted twice: " << f.name;
    if (catalogue_names.count(f.name)) catalogue_metrics += f.metric.size();
  }
  EXPECT_EQ(catalogue_metrics, kSignalCount);
  for (const auto& name : catalogue_names) EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_TRUE(names.count("leakwatch_cgroup_info"));
}

// The exporter groups catalogue rows by family name and takes help and type from the first row; this checks
// the catalogue (agent/signals.cc) keeps that grouping well-formed.
TEST(SnapshotCollectableTest, CatalogueFamiliesAreConsistent) {
  struct Seen {
    std::string_view help;
    MetricKind kind;
    std::string_view label_name;
    std::set<std::string_view> label_values;
  };
  std::map<std::string_view, Seen> families;
  for (size_t i = 0; i < kSignalCount; ++i) {
    const SignalInfo& info = GetSignalInfo(static_cast<Signal>(i));
    SCOPED_TRACE(std::string(info.key));
    EXPECT_EQ(info.help.find('\n'), std::string_view::npos);
    EXPECT_FALSE(info.help.empty());
    EXPECT_NE(info.label_name, "le");
    EXPECT_NE(info.label_name, "quantile");
    const bool total = info.metric.size() > 6 && info.metric.substr(info.metric.size() - 6) == "_total";
    EXPECT_EQ(total, info.kind == MetricKind::kCounter) << info.metric;
    auto [it, inserted] = families.try_emplace(info.metric, Seen{info.help, info.kind, info.label_name, {}});
    if (!inserted) {
      EXPECT_EQ(it->second.help, info.help) << info.metric;
      EXPECT_EQ(it->second.kind, info.kind) << info.metric;
      EXPECT_EQ(it->second.label_name, info.label_name) << info.metric;
      EXPECT_FALSE(info.label_name.empty()) << info.metric << ": two unlabelled rows";
    }
    EXPECT_TRUE(it->second.label_values.insert(info.label_value).second) << info.metric << " duplicate label";
  }
}

}  // namespace
}  // namespace leakwatch::exporters

// Incident bundles: the file writer, the bundle writer on this process's own /proc, retention, the worker's
// limits and faults (unusable directory, full disk).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "agent/bundle/bundle_file.h"
#include "agent/bundle/bundle_service.h"
#include "agent/bundle/bundle_store.h"
#include "agent/bundle/bundle_writer.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::internal {
namespace {

namespace fs = std::filesystem;
using test_support::TempTree;
using ::testing::HasSubstr;

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::shared_ptr<Snapshot> SampleSnapshot(double limit, double working_set) {
  auto s = std::make_shared<Snapshot>();
  s->sequence = 7;
  s->wall_time = std::chrono::system_clock::now();
  s->steady_time = std::chrono::steady_clock::now();
  s->period = std::chrono::seconds(1);
  s->set(Signal::kResidentMemoryBytes, 300.0 * (1 << 20));
  s->set(Signal::kCgroupMemoryLimitBytes, limit);
  s->set(Signal::kCgroupMemoryWorkingSetBytes, working_set);
  s->set(Signal::kStartTimeSeconds, 1'764'600'000.0);
  s->set(Signal::kHeapBytes, 200.0 * (1 << 20));
  auto info = std::make_shared<AllocatorInfo>();
  info->name = "glibc";
  info->version = "2.36";
  s->allocator = info;
  s->cgroup_version = 2;
  s->cgroup_path = "/leakwatch-test";
  return s;
}

RuleStatus FiringRule() {
  auto spec = std::make_shared<RuleSpec>();
  spec->name = "memory_time_to_limit";
  spec->kind = RuleKind::kTimeToLimit;
  spec->signal = Signal::kCgroupMemoryWorkingSetBytes;
  spec->severity = Severity::kCritical;
  RuleStatus st;
  st.spec = spec;
  st.state = RuleState::kFiring;
  st.reason = RuleReason::kBreach;
  st.value = 300;
  st.threshold = 600;
  st.seconds_to_limit = 300;
  st.slope = 1 << 20;
  st.limit = 1 << 30;
  return st;
}

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = History::Create(HistoryOptions{});
    ASSERT_TRUE(h.ok());
    history_ = std::move(*h);
    for (int i = 0; i < 5; ++i) {
      Snapshot s = *SampleSnapshot(1 << 30, 500.0 * (1 << 20) + i);
      s.steady_time += std::chrono::seconds(i);
      s.wall_time += std::chrono::seconds(i);
      history_->Append(s);
    }
    cgroup_.version = 2;
    cgroup_.memory_dir = tree_.dir() + "/cgroup";
    tree_.Write("cgroup/memory.stat", "anon 1048576\nfile 0\n");
    tree_.Write("cgroup/memory.events", "low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n");
    tree_.Write("cgroup/memory.current", "524288000\n");
    tree_.Write("cgroup/memory.max", "1073741824\n");
    tree_.Write("cgroup/memory.high", "max\n");
    cgroup_.pressure_file =
        tree_.Write("cgroup/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    options_.dir = tree_.dir() + "/bundles";
  }

  BundleInputs Inputs(double limit = 1 << 30, double working_set = 500.0 * (1 << 20)) {
    return BundleInputs{SampleSnapshot(limit, working_set), history_.get(), cgroup_};
  }
  static std::chrono::steady_clock::time_point Later() {
    return std::chrono::steady_clock::now() + std::chrono::seconds(30);
  }

  TempTree tree_;
  std::unique_ptr<History> history_;
  CgroupLocation cgroup_;
  BundleWriterOptions options_;
};

TEST_F(BundleTest, BundleFileCapsAndReportsErrors) {
  BundleFile f(tree_.Path("capped.txt"), 10);
  EXPECT_TRUE(f.Write("12345"));
  EXPECT_FALSE(f.Write("6789012345"));
  EXPECT_TRUE(f.capped());
  EXPECT_TRUE(f.Close());
  EXPECT_EQ(tree_.ReadText("capped.txt"), "1234567890");
  BundleFile missing(tree_.Path("no/such/dir/x.txt"), 10);
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.error(), HasSubstr("no/such/dir/x.txt"));
  EXPECT_FALSE(missing.Write("x"));
}

TEST_F(BundleTest, CompleteBundleWithManifestIndexingEveryFile) {
  const auto written =
      WriteBundle(options_, BundleTrigger{"rule", "firing: limit in 5m", FiringRule()}, Inputs(), Later());
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_THAT(written->name,
              ::testing::MatchesRegex("[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z-[0-9]+-memory_time_to_limit"));
  ASSERT_TRUE(fs::is_directory(written->path));
  for (const auto& e : fs::directory_iterator(options_.dir)) {
    EXPECT_EQ(e.path().filename().string().rfind(".tmp-", 0), std::string::npos) << "temporary left behind";
  }
  const auto m = ReadJson(written->path + "/manifest.json");
  EXPECT_EQ(m["trigger"]["source"], "rule");
  EXPECT_EQ(m["trigger"]["rule"]["name"], "memory_time_to_limit");
  EXPECT_EQ(m["trigger"]["rule"]["seconds_to_limit"], 300);
  EXPECT_EQ(m["process"]["pid"], ::getpid());
  EXPECT_FALSE(m["process"]["executable"].get<std::string>().empty());
  EXPECT_FALSE(m["process"]["build_id"].get<std::string>().empty()) << "Debian's gcc links with --build-id";
  EXPECT_EQ(m["process"]["cgroup_path"], "/leakwatch-test");
  EXPECT_EQ(m["process"]["start_time"], "2025-12-01T14:40:00.000Z");
  EXPECT_EQ(m["heap_profile"]["written"], false);
  EXPECT_THAT(m["heap_profile"]["how_to_enable"].get<std::string>(), HasSubstr("MALLOC_CONF=prof:true"));
  EXPECT_TRUE(m["skipped"].empty()) << m["skipped"];
  // Every file on disk is in the index with its size, and the other way round.
  std::map<std::string, uint64_t> on_disk;
  for (const auto& e : fs::directory_iterator(written->path)) on_disk[e.path().filename()] = e.file_size();
  std::map<std::string, uint64_t> indexed;
  for (const auto& f : m["files"]) indexed[f["name"]] = f["bytes"];
  indexed["manifest.json"] = on_disk["manifest.json"];
  EXPECT_EQ(indexed, on_disk);
  for (const char* name :
       {"proc_status.txt", "proc_smaps_rollup.txt", "proc_limits.txt", "cgroup_memory.stat.txt",
        "cgroup_memory.events.txt", "memory_pressure.txt", "snapshot.json", "allocator.json", "threads.csv",
        "threads_by_name.csv", "fds.csv", "fds_by_type.csv", "history.csv", "history_downsampled.csv"}) {
    EXPECT_TRUE(on_disk.count(name)) << name;
  }
  EXPECT_THAT(tree_.ReadText(written->path.substr(tree_.dir().size() + 1) + "/cgroup_memory.events.txt"),
              HasSubstr("max 3"));
  const auto allocator = ReadJson(written->path + "/allocator.json");
  EXPECT_EQ(allocator["allocator"], "glibc");
  EXPECT_EQ(allocator["statistics"]["heap_bytes"], 200.0 * (1 << 20));
}

TEST_F(BundleTest, LowHeadroomWritesOnlyTheSmallPartsAndSaysWhy) {
  const auto written = WriteBundle(options_, BundleTrigger{"api", "test", std::nullopt},
                                   Inputs(1 << 30, (1 << 30) - (8 << 20)), Later());
  ASSERT_TRUE(written.ok()) << written.error().message;
  const auto m = ReadJson(written->path + "/manifest.json");
  std::set<std::string> skipped;
  for (const auto& s : m["skipped"]) {
    skipped.insert(s["part"]);
    EXPECT_THAT(s["why"].get<std::string>(),
                HasSubstr("memory headroom 8 MiB is below low_headroom_bytes (64 MiB)"));
  }
  EXPECT_EQ(skipped, (std::set<std::string>{"threads", "fds", "history"}));
  EXPECT_TRUE(fs::exists(written->path + "/proc_status.txt"));
  EXPECT_FALSE(fs::exists(written->path + "/fds.csv"));
  EXPECT_EQ(m["memory_headroom_bytes"], 8 << 20);
}

TEST_F(BundleTest, SmapsRollupIsNotReadAboveTheRssBoundOrWhenOff) {
  // The sample snapshot has 300 MiB of RSS.
  options_.smaps_rollup_max_rss_bytes = 256ull << 20;
  auto written = WriteBundle(options_, BundleTrigger{"api", "big", std::nullopt}, Inputs(), Later());
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_FALSE(fs::exists(written->path + "/proc_smaps_rollup.txt"));
  EXPECT_TRUE(fs::exists(written->path + "/proc_status.txt"));
  auto m = ReadJson(written->path + "/manifest.json");
  ASSERT_EQ(m["skipped"].size(), 1u) << m["skipped"].dump();
  EXPECT_EQ(m["skipped"][0]["part"], "proc_smaps_rollup.txt");
  EXPECT_THAT(m["skipped"][0]["why"].get<std::string>(), HasSubstr("RSS 300 MiB is above 256 MiB"));

  options_.smaps_rollup_max_rss_bytes = 1ull << 30;
  written = WriteBundle(options_, BundleTrigger{"api", "small", std::nullopt}, Inputs(), Later());
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_TRUE(fs::exists(written->path + "/proc_smaps_rollup.txt"));

  options_.smaps_rollup = false;
  written = WriteBundle(options_, BundleTrigger{"api", "off", std::nullopt}, Inputs(), Later());
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_FALSE(fs::exists(written->path + "/proc_smaps_rollup.txt"));
  m = ReadJson(written->path + "/manifest.json");
  EXPECT_EQ(m["skipped"][0]["why"], "smaps_rollup is off in the agent's options");
}

TEST_F(BundleTest, GlibcMallocInfoOnlyWhenEnabled) {
  auto written = WriteBundle(options_, BundleTrigger{"api", "default", std::nullopt}, Inputs(), Later());
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_FALSE(fs::exists(written->path + "/malloc_info.xml"));

  options_.glibc_malloc_info = true;
  written = WriteBundle(options_, BundleTrigger{"api", "enabled", std::nullopt}, Inputs(), Later());
  ASSERT_TRUE(written.ok()) << written.error().message;
  ASSERT_TRUE(fs::exists(written->path + "/malloc_info.xml"));
  std::ifstream in(written->path + "/malloc_info.xml");
  std::string first;
  std::getline(in, first);
  EXPECT_THAT(first, ::testing::StartsWith("<malloc version="));
  const auto m = ReadJson(written->path + "/manifest.json");
  bool indexed = false;
  for (const auto& f : m["files"]) indexed = indexed || f["name"] == "malloc_info.xml";
  EXPECT_TRUE(indexed) << m["files"].dump();
}

TEST_F(BundleTest, PastTheDeadlineEveryPartIsSkippedButTheManifestIsWritten) {
  const auto written = WriteBundle(options_, BundleTrigger{"api", "late", std::nullopt}, Inputs(),
                                   std::chrono::steady_clock::now() - std::chrono::seconds(1));
  ASSERT_TRUE(written.ok()) << written.error().message;
  const auto m = ReadJson(written->path + "/manifest.json");
  EXPECT_GE(m["skipped"].size(), 10u);
  for (const auto& s : m["skipped"]) EXPECT_EQ(s["why"], "the bundle's deadline passed");
  EXPECT_EQ(written->files.size(), 1u);  // the manifest
}

TEST_F(BundleTest, UnusableDirectoryIsAnErrorNamingIt) {
  tree_.Write("in_the_way", "a file, not a directory");
  options_.dir = tree_.Path("in_the_way/bundles");
  const auto written = WriteBundle(options_, BundleTrigger{"api", "x", std::nullopt}, Inputs(), Later());
  ASSERT_FALSE(written.ok());
  EXPECT_THAT(written.error().message, HasSubstr(options_.dir));
}

TEST_F(BundleTest, FullDiskCapsFilesAndStillCompletesOrFailsCleanly) {
  // A 256 KiB tmpfs: the bundle (a few hundred KiB) does not fit.
  const std::string mnt = tree_.Path("small");
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (" << std::strerror(errno)
                 << "); needs root and CAP_SYS_ADMIN";
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  {
    std::ofstream fill(mnt + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    for (int i = 0; i < 60; ++i) fill << block;  // ~240 KiB used
  }
  options_.dir = mnt + "/bundles";
  const auto written = WriteBundle(options_, BundleTrigger{"api", "x", std::nullopt}, Inputs(), Later());
  if (written.ok()) {
    const auto m = ReadJson(written->path + "/manifest.json");
    EXPECT_FALSE(m["skipped"].empty()) << "nothing was reported missing on a full disk";
  } else {
    EXPECT_THAT(written.error().message, ::testing::AnyOf(HasSubstr("No space left"), HasSubstr("manifest")));
    for (const auto& e : fs::directory_iterator(options_.dir)) ADD_FAILURE() << "left behind: " << e.path();
  }
}

void MakeFakeBundle(const std::string& dir, const std::string& name, size_t bytes) {
  fs::create_directories(dir + "/" + name);
  std::ofstream(dir + "/" + name + "/manifest.json") << std::string(bytes, 'x');
}

TEST(BundleStore, RetentionDeletesTheOldestAndNeverTheNewest) {
  TempTree tree;
  const std::string dir = tree.dir();
  for (int i = 1; i <= 5; ++i) MakeFakeBundle(dir, "2026120" + std::to_string(i) + "T000000.000Z-1-r", 1000);
  tree.Write("not-a-bundle/x", "ignored");
  const auto r = ApplyRetention(dir, 3, 1 << 20, "20261205T000000.000Z-1-r");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->deleted, (std::vector<std::string>{"20261201T000000.000Z-1-r", "20261202T000000.000Z-1-r"}));
  EXPECT_EQ(r->bundles_kept, 3u);
  EXPECT_EQ(r->bytes_kept, 3000u);
  EXPECT_TRUE(fs::exists(dir + "/not-a-bundle"));
  // A byte budget smaller than the newest bundle alone keeps the newest.
  const auto tight = ApplyRetention(dir, 10, 10, "20261205T000000.000Z-1-r");
  ASSERT_TRUE(tight.ok());
  EXPECT_EQ(tight->bundles_kept, 1u);
  EXPECT_TRUE(fs::exists(dir + "/20261205T000000.000Z-1-r"));
}

TEST(BundleStore, StaleTemporaryDirectoriesAreRemoved) {
  TempTree tree;
  tree.Write(".tmp-20261201T000000.000Z-1-r/manifest.json", "{}");
  tree.Write(".tmp-fresh/manifest.json", "{}");
  fs::last_write_time(tree.Path(".tmp-20261201T000000.000Z-1-r"),
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  ASSERT_TRUE(ApplyRetention(tree.dir(), 10, 1 << 30, "").ok());
  EXPECT_FALSE(fs::exists(tree.Path(".tmp-20261201T000000.000Z-1-r")));
  EXPECT_TRUE(fs::exists(tree.Path(".tmp-fresh")));
}

class BundleServiceTest : public BundleTest {
 protected:
  BundleOptions ServiceOptions() {
    BundleOptions o;
    o.dir = options_.dir;
    o.min_free_disk_bytes = 0;
    return o;
  }
};

TEST_F(BundleServiceTest, WritesOnItsWorkerAndCountsIt) {
  BundleService service(ServiceOptions(), options_, [this] { return Inputs(); });
  ASSERT_TRUE(service.Start().ok());
  const auto written =
      service.RequestAndWait(BundleTrigger{"api", "on demand", std::nullopt}, std::chrono::seconds(30));
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_TRUE(fs::exists(written->path + "/manifest.json"));
  const BundleStats stats = service.stats();
  EXPECT_EQ(stats.written_total, 1u);
  EXPECT_EQ(stats.bundles_on_disk, 1u);
  EXPECT_GT(stats.bytes_on_disk, 0u);
  EXPECT_EQ(stats.last_path, written->path);
}

TEST_F(BundleServiceTest, RateLimitSuppressesAndCountsWithTheReason) {
  BundleOptions o = ServiceOptions();
  o.max_per_window = 2;
  BundleService service(o, options_, [this] { return Inputs(); });
  ASSERT_TRUE(service.Start().ok());
  ASSERT_TRUE(service.RequestAndWait(BundleTrigger{"api", "1", std::nullopt}, std::chrono::seconds(30)).ok());
  ASSERT_TRUE(service.RequestAndWait(BundleTrigger{"api", "2", std::nullopt}, std::chrono::seconds(30)).ok());
  for (int i = 0; i < 50; ++i) {  // a flood
    const auto r = service.Request(BundleTrigger{"http", "flood", std::nullopt});
    EXPECT_EQ(r.outcome, BundleService::Outcome::kSuppressed);
    EXPECT_EQ(r.reason, "rate_limit");
  }
  const auto refused =
      service.RequestAndWait(BundleTrigger{"api", "3", std::nullopt}, std::chrono::seconds(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("rate_limit"));
  EXPECT_EQ(service.stats().suppressed_total.at("rate_limit"), 51u);
  EXPECT_EQ(service.stats().written_total, 2u);
}

TEST_F(BundleServiceTest, MinFreeDiskGuard) {
  BundleOptions o = ServiceOptions();
  o.min_free_disk_bytes = uint64_t{1} << 60;
  BundleService service(o, options_, [this] { return Inputs(); });
  ASSERT_TRUE(service.Start().ok());
  const auto r = service.RequestAndWait(BundleTrigger{"api", "x", std::nullopt}, std::chrono::seconds(30));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("min_free_disk_bytes"));
  EXPECT_EQ(service.stats().suppressed_total.at("min_free_disk"), 1u);
  EXPECT_EQ(service.stats().written_total, 0u);
}

TEST_F(BundleServiceTest, AProcessAtItsFdLimitStillGetsABundle) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizer runtimes open pipes for their own checks (UBSan's vptr check probes memory through one): in
  // a process at EMFILE they report false errors. The normal build runs this test.
  GTEST_SKIP() << "a sanitizer runtime needs free fds of its own; this test runs in the normal build";
#endif
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  struct Restore {
    rlimit limit;
    std::vector<int>* fds;
    ~Restore() {
      for (const int fd : *fds) ::close(fd);
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
  } restore{saved, &filler};
  BundleService service(ServiceOptions(), options_, [this] { return Inputs(); });
  ASSERT_TRUE(service.Start().ok());
  // The reserve is taken in Start(); now leak fds up to the limit, as an fd leak does.
  for (;;) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    filler.push_back(fd);
  }
  ASSERT_EQ(errno, EMFILE);
  const auto written = service.RequestAndWait(BundleTrigger{"rule", "fds at the limit", std::nullopt},
                                              std::chrono::seconds(30));
  for (const int fd : filler) ::close(fd);  // so that this test can read the manifest
  filler.clear();
  ASSERT_TRUE(written.ok()) << written.error().message;
  const auto m = ReadJson(written->path + "/manifest.json");
  std::map<std::string, uint64_t> files;
  for (const auto& f : m["files"]) files[f["name"]] = f["bytes"];
  EXPECT_GT(files["proc_status.txt"], 0u) << m.dump(2);
  EXPECT_GT(files["fds.csv"], 0u) << m.dump(2);
}

TEST_F(BundleServiceTest, RequestsAfterStopAreSuppressed) {
  BundleService service(ServiceOptions(), options_, [this] { return Inputs(); });
  ASSERT_TRUE(service.Start().ok());
  service.Stop();
  service.Stop();
  EXPECT_EQ(service.Request(BundleTrigger{"api", "x", std::nullopt}).reason, "stopping");
}

}  // namespace
}  // namespace leakwatch::internal

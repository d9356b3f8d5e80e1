// DetectAllocator over fake symbol tables: the order, the "malloc must come from the allocator" rule, the
// unknown fallback; and once over the test process itself.

#include "agent/allocator/detect.h"

#include <gnu/libc-version.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "tests/unit/allocator/fake_process.h"

namespace leakwatch::internal {
namespace {

using allocator_test::FakeProcess;
using allocator_test::kAllocatorObject;
using allocator_test::kLibcObject;
using allocator_test::kOtherObject;
using allocator_test::Marker;

int FakeMallctl(const char* name, void* oldp, size_t* oldlenp, void*, size_t) {
  if (std::strcmp(name, "version") == 0 && oldp != nullptr && *oldlenp == sizeof(const char*)) {
    *static_cast<const char**>(oldp) = "5.3.0-fake";
    return 0;
  }
  return ENOENT;
}
int FakeGetNumericProperty(const char*, size_t*) { return 0; }
int FakeMiVersion() { return 209; }
const char* FakeLibcVersion() { return "2.36"; }

// The symbols libc always has, with malloc where the test says.
FakeProcess WithMallocIn(int malloc_object) {
  FakeProcess p;
  p.Add("gnu_get_libc_version", FakeLibcVersion, kLibcObject).Add("malloc", Marker(0), malloc_object);
  return p;
}

AllocatorDetectOptions OptionsFor(const FakeProcess& process) {
  AllocatorDetectOptions o;
  o.lookup = process.Lookup();
  return o;
}

TEST(DetectAllocator, FindsJemallocServingMalloc) {
  auto p = DetectAllocator(
      OptionsFor(WithMallocIn(kAllocatorObject).Add("mallctl", FakeMallctl, kAllocatorObject)));
  const AllocatorInfo info = p->Info();
  EXPECT_EQ(info.name, "jemalloc");
  EXPECT_EQ(info.version, "5.3.0-fake");
  EXPECT_EQ(GlibcGuardStateOf(*p), std::nullopt);
}

TEST(DetectAllocator, FindsTcmallocAndMimalloc) {
  EXPECT_EQ(DetectAllocator(OptionsFor(WithMallocIn(kAllocatorObject)
                                           .Add("MallocExtension_GetNumericProperty", FakeGetNumericProperty,
                                                kAllocatorObject)))
                ->Info()
                .name,
            "tcmalloc");
  EXPECT_EQ(DetectAllocator(
                OptionsFor(WithMallocIn(kAllocatorObject).Add("mi_version", FakeMiVersion, kAllocatorObject)))
                ->Info()
                .name,
            "mimalloc");
}

TEST(DetectAllocator, TriesJemallocFirst) {
  auto p = DetectAllocator(OptionsFor(WithMallocIn(kAllocatorObject)
                                          .Add("mi_version", FakeMiVersion, kAllocatorObject)
                                          .Add("mallctl", FakeMallctl, kAllocatorObject)));
  EXPECT_EQ(p->Info().name, "jemalloc");
}

TEST(DetectAllocator, SkipsAnAllocatorThatDoesNotServeMalloc) {
  // A library carries jemalloc for itself (or it was dlopen()ed late); malloc is still glibc's.
  auto p = DetectAllocator(OptionsFor(WithMallocIn(kLibcObject).Add("mallctl", FakeMallctl, kOtherObject)));
  EXPECT_EQ(p->Info().name, "glibc");
  EXPECT_EQ(p->Info().version, "2.36");
  auto guard = GlibcGuardStateOf(*p);
  ASSERT_TRUE(guard.has_value());
  EXPECT_FALSE(guard->enabled);  // off by default
  auto stats = p->Read();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->allocated_bytes, std::nullopt);
}

TEST(DetectAllocator, TheOwnerCheckCanBeTurnedOff) {
  // A malloc interposer in another object forwards to jemalloc: the host knows better than the check.
  auto options = OptionsFor(WithMallocIn(kOtherObject).Add("mallctl", FakeMallctl, kAllocatorObject));
  options.require_malloc_owner = false;
  EXPECT_EQ(DetectAllocator(options)->Info().name, "jemalloc");
}

TEST(DetectAllocator, UnknownWhenMallocIsNobodysWeKnow) {
  // e.g. AddressSanitizer: malloc is the sanitizer's, glibc is there but does not serve it.
  auto p =
      DetectAllocator(OptionsFor(WithMallocIn(kOtherObject).Add("mallctl", FakeMallctl, kAllocatorObject)));
  EXPECT_EQ(p->Info().name, "unknown");
  EXPECT_EQ(p->Info().version, "");
  EXPECT_EQ(GlibcGuardStateOf(*p), std::nullopt);
  auto stats = p->Read();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->allocated_bytes, std::nullopt);
  EXPECT_EQ(stats->mapped_bytes, std::nullopt);
}

TEST(DetectAllocator, UnknownWithoutAnySymbol) {
  EXPECT_EQ(DetectAllocator(OptionsFor(FakeProcess()))->Info().name, "unknown");
  AllocatorDetectOptions nothing;
  nothing.lookup = SymbolLookup{nullptr, nullptr, nullptr};
  EXPECT_EQ(DetectAllocator(nothing)->Info().name, "unknown");
}

TEST(DetectAllocator, TheTestProcessItself) {
  auto p = DetectAllocator();
  const AllocatorInfo info = p->Info();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizer's malloc serves the process: no allocator leakwatch knows.
  EXPECT_EQ(info.name, "unknown");
#else
  EXPECT_EQ(info.name, "glibc");
  EXPECT_EQ(info.version, gnu_get_libc_version());
  ASSERT_TRUE(GlibcGuardStateOf(*p).has_value());
#endif
}

TEST(DescribeAllocator, SaysWhatIsKnown) {
  AllocatorInfo info;
  EXPECT_EQ(DescribeAllocator(info), "unknown");
  info.name = "jemalloc";
  info.version = "5.3.0";
  EXPECT_EQ(DescribeAllocator(info), "jemalloc 5.3.0");
  info.profiling_supported = true;
  EXPECT_EQ(DescribeAllocator(info), "jemalloc 5.3.0 (heap profiling supported, not active)");
  info.profiling_active = true;
  info.profiling_sample_bytes = 524288;
  EXPECT_EQ(DescribeAllocator(info),
            "jemalloc 5.3.0 (heap profiling supported, active, sampling every 524288 bytes)");
}

}  // namespace
}  // namespace leakwatch::internal

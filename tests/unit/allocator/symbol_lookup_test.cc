// The process's own SymbolLookup (dlsym/dladdr) and the error text helper.

#include "agent/allocator/symbol_lookup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "agent/allocator/call_error.h"
#include "tests/unit/allocator/fake_process.h"

namespace leakwatch::internal {
namespace {

using ::testing::HasSubstr;

TEST(ProcessSymbolLookup, FindsLibcFunctionsAndTheirObject) {
  const SymbolLookup lookup;  // the process's own
  void* version = lookup.find("gnu_get_libc_version");
  void* mallinfo2 = lookup.find("mallinfo2");
  ASSERT_NE(version, nullptr);
  ASSERT_NE(mallinfo2, nullptr);
  EXPECT_NE(lookup.object_of(version), nullptr);
  EXPECT_EQ(lookup.object_of(version), lookup.object_of(mallinfo2));
  EXPECT_THAT(lookup.object_name(version), HasSubstr("libc.so"));
  EXPECT_EQ(lookup.find("leakwatch_no_such_symbol"), nullptr);
  EXPECT_EQ(lookup.object_of(nullptr), nullptr);
  EXPECT_EQ(lookup.object_name(nullptr), "");
}

TEST(ProcessSymbolLookup, MallocComesFromGlibcUnlessASanitizerOwnsIt) {
  const SymbolLookup lookup;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  EXPECT_FALSE(MallocComesFromObjectOf(lookup, "gnu_get_libc_version"));
#else
  EXPECT_TRUE(MallocComesFromObjectOf(lookup, "gnu_get_libc_version"));
#endif
  EXPECT_FALSE(MallocComesFromObjectOf(lookup, "leakwatch_no_such_symbol"));
}

TEST(MallocComesFromObjectOf, ComparesTheObjects) {
  using allocator_test::FakeProcess;
  using allocator_test::Marker;
  const auto same = FakeProcess().Add("malloc", Marker(0), 1).Add("mallctl", Marker(1), 1).Lookup();
  const auto other = FakeProcess().Add("malloc", Marker(0), 2).Add("mallctl", Marker(1), 1).Lookup();
  const auto no_malloc = FakeProcess().Add("mallctl", Marker(1), 1).Lookup();
  EXPECT_TRUE(MallocComesFromObjectOf(same, "mallctl"));
  EXPECT_FALSE(MallocComesFromObjectOf(other, "mallctl"));
  EXPECT_FALSE(MallocComesFromObjectOf(no_malloc, "mallctl"));
  EXPECT_EQ(DescribeObjectOf(other, "malloc"), "libfake2.so");
  EXPECT_EQ(DescribeObjectOf(other, "nothing"), "");
}

TEST(ErrnoCallError, NamesTheCallTheTextAndTheCode) {
  EXPECT_EQ(ErrnoCallError("jemalloc mallctl(\"epoch\")", EINVAL).message,
            "jemalloc mallctl(\"epoch\") failed: Invalid argument (EINVAL, rc 22)");
  EXPECT_EQ(ErrnoCallError("x", 99999).message, "x failed: Unknown error 99999 (rc 99999)");
}

}  // namespace
}  // namespace leakwatch::internal

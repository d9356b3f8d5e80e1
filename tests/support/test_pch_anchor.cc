// The translation unit that builds the tests' precompiled header (tests/CMakeLists.txt): GoogleTest and
// GoogleMock are parsed once per build tree instead of once per test source.
#include <gtest/gtest.h>

TEST(PrecompiledHeader, Builds) { SUCCEED(); }

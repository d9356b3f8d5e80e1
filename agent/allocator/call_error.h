#pragma once
// Errors of the allocator providers: each names the allocator call, its key and the return code.
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "leakwatch/result.h"

namespace leakwatch::internal {

// "<call> failed: <strerror(rc)> (<ENAME>, rc <rc>)", e.g.
// `jemalloc mallctl("epoch") failed: Invalid argument (EINVAL, rc 22)`. For calls that return an errno value.
Error ErrnoCallError(std::string_view call, int rc);

}  // namespace leakwatch::internal

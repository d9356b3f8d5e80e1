#include "agent/allocator/call_error.h"

#include <string.h>

namespace leakwatch::internal {

Error ErrnoCallError(std::string_view call, int rc) {
  std::string message(call);
  message += " failed: ";
  // strerrorname_np (glibc 2.32) returns nullptr for a value that is no errno (a buggy or fake allocator).
  const char* name = ::strerrorname_np(rc);
  char buf[128];
  message += ::strerror_r(rc, buf, sizeof buf);  // the GNU variant: returns the text
  message += " (";
  if (name != nullptr) {
    message += name;
    message += ", ";
  }
  message += "rc " + std::to_string(rc) + ")";
  return Error{std::move(message)};
}

}  // namespace leakwatch::internal

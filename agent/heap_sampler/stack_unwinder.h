#pragma once
// The stack unwinders of sampled allocations:
//   cached    libunwind's unw_backtrace, which caches each return address's unwind recipe in a per-thread
//             table (measured: 10 ns a frame, 0.6 µs for 64 frames; the table costs about 270 KiB of
//             resident memory in every thread that uses it, until the thread exits);
//   uncached  libgcc's _Unwind_Backtrace, which interprets the DWARF call-frame information of every frame
//             anew (about 150 ns a frame) and keeps nothing per thread.
// The hooks give the cached one to a bounded number of threads at a time and the uncached one to the others
// (hooks/allocation_hooks.cc), so a process with thousands of threads does not pay 270 KiB for each.
//
// libunwind is loaded privately (dlopen RTLD_LOCAL): linked normally it would put its own _Unwind_* and
// backtrace() into the process's global scope, replacing libgcc's for the host's C++ exceptions. libgcc_s
// is opened by name and its functions taken from that handle, for the same reason in reverse.
//
// Thread-safety: LoadStackUnwinders once, from a normal thread (it calls dlopen); the functions it returns
// may be called from any thread, inside malloc. It warms libgcc's up on the calling thread.

#include <string>

namespace leakwatch::internal {

// Writes up to `max_frames` return addresses of the calling thread's stack into `frames`, innermost first
// (frames[0] is inside the caller of this function); returns how many.
using UnwindFunction = int (*)(void** frames, int max_frames);

struct StackUnwinders {
  UnwindFunction cached = nullptr;    // libunwind; nullptr when not installed
  UnwindFunction uncached = nullptr;  // libgcc; nullptr when it cannot be opened
  std::string description;            // "libunwind (8 threads at a time), else libgcc", for the log
  std::string error;                  // why neither loaded (both nullptr)
};

StackUnwinders LoadStackUnwinders();

}  // namespace leakwatch::internal

#pragma once
// The stack unwinder of sampled allocations: libunwind's unw_backtrace, which caches each return address's
// unwind recipe per thread (measured: 10 ns per frame, 0.6 µs for 64 frames), or, when libunwind is not
// installed, libgcc's _Unwind_Backtrace (about 150 ns per frame: it interprets the DWARF call-frame
// information of every frame anew).
//
// libunwind is loaded privately (dlopen RTLD_LOCAL): linked normally it would put its own _Unwind_* and
// backtrace() into the process's global scope, replacing libgcc's for the host's C++ exceptions.
//
// Thread-safety: LoadStackUnwinder once, from a normal thread (it calls dlopen); the function it returns may
// be called from any thread, inside malloc. Cost: the first call in a thread sets up libunwind's cache
// (mmap), so LoadStackUnwinder warms it up on the calling thread.

#include <string>

namespace leakwatch::internal {

// Writes up to `max_frames` return addresses of the calling thread's stack into `frames`, innermost first
// (frames[0] is inside the caller of this function); returns how many.
using UnwindFunction = int (*)(void** frames, int max_frames);

struct StackUnwinder {
  UnwindFunction unwind = nullptr;  // nullptr: none could be loaded
  std::string name;                 // "libunwind", "libgcc"
  std::string error;                // why neither loaded (when unwind is nullptr)
};

StackUnwinder LoadStackUnwinder();

}  // namespace leakwatch::internal

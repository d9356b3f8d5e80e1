#include "agent/heap_sampler/stack_unwinder.h"

#include <dlfcn.h>
#include <unwind.h>

namespace leakwatch::internal {
namespace {

using UnwindBacktraceFn = _Unwind_Reason_Code (*)(_Unwind_Trace_Fn, void*);
using UnwindGetIpFn = _Unwind_Ptr (*)(_Unwind_Context*);

UnwindBacktraceFn g_gcc_backtrace = nullptr;
UnwindGetIpFn g_gcc_get_ip = nullptr;

struct GccTrace {
  void** frames;
  int count;
  int max;
  bool skipped_self;
};

_Unwind_Reason_Code GccStep(_Unwind_Context* context, void* arg) {
  auto* t = static_cast<GccTrace*>(arg);
  if (!t->skipped_self) {  // the first frame is GccBacktrace itself; unw_backtrace starts at its caller
    t->skipped_self = true;
    return _URC_NO_REASON;
  }
  if (t->count >= t->max) return _URC_END_OF_STACK;
  const _Unwind_Ptr ip = g_gcc_get_ip(context);
  if (ip == 0) return _URC_END_OF_STACK;
  t->frames[t->count++] = reinterpret_cast<void*>(ip);
  return _URC_NO_REASON;
}

__attribute__((noinline)) int GccBacktrace(void** frames, int max_frames) {
  GccTrace t{frames, 0, max_frames, false};
  g_gcc_backtrace(&GccStep, &t);
  return t.count;
}

}  // namespace

StackUnwinders LoadStackUnwinders() {
  StackUnwinders u;
  std::string why_not_libunwind;
  if (void* libunwind = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL)) {
    u.cached = reinterpret_cast<UnwindFunction>(::dlsym(libunwind, "unw_backtrace"));
    if (u.cached == nullptr) why_not_libunwind = "libunwind.so.8 has no unw_backtrace";
  } else {
    why_not_libunwind = std::string("libunwind.so.8: ") + ::dlerror();
  }
  std::string why_not_libgcc;
  if (void* libgcc = ::dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL)) {
    g_gcc_backtrace = reinterpret_cast<UnwindBacktraceFn>(::dlsym(libgcc, "_Unwind_Backtrace"));
    g_gcc_get_ip = reinterpret_cast<UnwindGetIpFn>(::dlsym(libgcc, "_Unwind_GetIP"));
    if (g_gcc_backtrace != nullptr && g_gcc_get_ip != nullptr) {
      u.uncached = &GccBacktrace;
    } else {
      why_not_libgcc = "libgcc_s.so.1 has no _Unwind_Backtrace";
    }
  } else {
    why_not_libgcc = std::string("libgcc_s.so.1: ") + ::dlerror();
  }
  if (u.cached == nullptr && u.uncached == nullptr) {
    u.error = why_not_libunwind + "; " + why_not_libgcc;
    return u;
  }
  // libgcc sets itself up on its first unwind (it may allocate): here, not inside a hook. libunwind is bound
  // at dlopen (RTLD_NOW) and sets up a thread's cache on that thread's first unwind.
  void* warm[64];
  if (u.uncached != nullptr) u.uncached(warm, 64);
  return u;
}

}  // namespace leakwatch::internal

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

StackUnwinder LoadStackUnwinder() {
  StackUnwinder u;
  void* libunwind = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (libunwind != nullptr) {
    u.unwind = reinterpret_cast<UnwindFunction>(::dlsym(libunwind, "unw_backtrace"));
    if (u.unwind != nullptr) u.name = "libunwind";
  }
  std::string why = libunwind == nullptr ? std::string("libunwind.so.8: ") + ::dlerror()
                                         : "libunwind.so.8 has no unw_backtrace";
  if (u.unwind == nullptr) {
    void* libgcc = ::dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
    if (libgcc != nullptr) {
      g_gcc_backtrace = reinterpret_cast<UnwindBacktraceFn>(::dlsym(libgcc, "_Unwind_Backtrace"));
      g_gcc_get_ip = reinterpret_cast<UnwindGetIpFn>(::dlsym(libgcc, "_Unwind_GetIP"));
    }
    if (g_gcc_backtrace != nullptr && g_gcc_get_ip != nullptr) {
      u.unwind = &GccBacktrace;
      u.name = "libgcc";
    } else {
      u.error = why + "; libgcc_s.so.1: " + (libgcc == nullptr ? ::dlerror() : "no _Unwind_Backtrace");
      return u;
    }
  }
  void* warm[64];
  u.unwind(warm, 64);  // sets up this thread's cache and resolves the unwinder's own lazy symbols
  return u;
}

}  // namespace leakwatch::internal

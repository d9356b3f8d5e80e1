// The entry points of libleakwatch_preload.so (LD_PRELOAD): an ELF constructor that only prepares, and
// __libc_start_main, interposed so that the agent starts after every constructor of the program and its
// libraries has run, on the main thread, just before main(). Threads started from a constructor would race
// the host's own initialisation (and see a half-built process); starting here avoids that without delaying
// the host by more than the agent's start-up (one sample and thread creation).
//
// The library's version script exports __libc_start_main and nothing else, without a version node, so that
// the dynamic loader binds the program's versioned reference (__libc_start_main@GLIBC_2.34) to it.
#include <dlfcn.h>
#include <unistd.h>

#include "agent/attach/preload_runtime.h"

namespace {

using MainFunction = int (*)(int, char**, char**);
using LibcStartMain = int (*)(MainFunction, int, char**, void (*)(), void (*)(), void (*)(), void*);

MainFunction g_host_main = nullptr;

int MainWithAgent(int argc, char** argv, char** envp) {
  leakwatch::internal::preload::StartBeforeMain();
  return g_host_main(argc, argv, envp);
}

__attribute__((constructor)) void LeakwatchPreloadLoaded() {
  Dl_info info{};
  const bool found = dladdr(reinterpret_cast<void*>(&LeakwatchPreloadLoaded), &info) != 0;
  leakwatch::internal::preload::OnLoad(found ? info.dli_fname : nullptr);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int __libc_start_main(MainFunction main, int argc,
                                                                        char** argv, void (*init)(),
                                                                        void (*fini)(), void (*rtld_fini)(),
                                                                        void* stack_end) {
  const auto real = reinterpret_cast<LibcStartMain>(dlsym(RTLD_NEXT, "__libc_start_main"));
  if (real == nullptr) {
    // Cannot happen with glibc loaded; without the real entry the program cannot start at all.
    static const char message[] = "leakwatch: __libc_start_main not found after the preload library\n";
    (void)!write(2, message, sizeof(message) - 1);
    _exit(127);
  }
  g_host_main = main;
  return real(&MainWithAgent, argc, argv, init, fini, rtld_fini, stack_end);
}

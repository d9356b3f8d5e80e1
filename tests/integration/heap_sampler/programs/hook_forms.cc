// Checks, inside a real process, that every allocation function and every form of operator new and delete
// reaches leakwatch's hooks, whatever allocator sits under them. Run with the preload library and
// LEAKWATCH_HEAP_SAMPLER=1 (every allocation sampled): each allocation must add exactly one live sample, and
// its release must take it away. Also: a thread that exits with its allocations alive, and a forked child.
// Prints one line per form ("ok <form>" or "FAIL <form>: ...") and exits 1 on any failure, 2 when the hooks
// are not there. With the path of heap_deepbind_lib.so as argument (glibc only: a library loaded with
// RTLD_DEEPBIND allocates from the C library whatever allocator the program uses), it also checks what
// docs/HEAP_PROFILER.md says of such libraries.
//
//   hook_forms [DEEPBIND_LIBRARY]
#include <dlfcn.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "agent/heap_sampler/heap_sampler_hooks.h"

namespace {

using leakwatch::internal::HeapSamplerHooks;

const HeapSamplerHooks* g_hooks = nullptr;
int g_failures = 0;

uint64_t Live() { return g_hooks->core->Stats().live_samples; }

void Check(const char* form, bool ok, const std::string& detail = "") {
  std::printf("%s %s%s%s\n", ok ? "ok" : "FAIL", form, ok ? "" : ": ", ok ? "" : detail.c_str());
  if (!ok) ++g_failures;
}

// Allocates with `alloc`, expects one more live sample, releases with `release`, expects it gone. The counts
// are the whole process's, and the agent's own threads allocate now and then: a form gets three tries.
template <typename Alloc, typename Release>
void Form(const char* form, Alloc alloc, Release release) {
  std::string detail;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint64_t before = Live();
    void* p = alloc();
    const uint64_t during = Live();
    if (p == nullptr) return Check(form, false, "allocation failed");
    *static_cast<volatile char*>(p) = 0x5a;
    release(p);
    const uint64_t after = Live();
    if (during == before + 1 && after == before) return Check(form, true);
    detail += "live samples " + std::to_string(before) + " -> " + std::to_string(during) + " -> " +
              std::to_string(after) + " (expected +1 then back); ";
  }
  Check(form, false, detail);
}

struct alignas(64) Aligned {
  char data[64];
};

}  // namespace

int main(int argc, char** argv) {
  using Lookup = const HeapSamplerHooks* (*)();
  auto lookup = reinterpret_cast<Lookup>(dlsym(RTLD_DEFAULT, leakwatch::internal::kHeapSamplerHooksSymbol));
  g_hooks = lookup != nullptr ? lookup() : nullptr;
  if (g_hooks == nullptr || !g_hooks->core->running() || g_hooks->core->mean_interval_bytes() != 1) {
    std::printf("FAIL hooks: not present or not sampling every allocation\n");
    return 2;
  }
  // Each thread's first allocation only arms its countdown: allocate once before measuring. Let the agent's
  // threads finish starting (they allocate) before counting.
  std::free(std::malloc(1));
  usleep(300 * 1000);

  Form(
      "malloc/free", [] { return std::malloc(100); }, [](void* p) { std::free(p); });
  Form(
      "calloc/free", [] { return std::calloc(10, 10); }, [](void* p) { std::free(p); });
  Form(
      "realloc(NULL)/realloc(p,0)", [] { return std::realloc(nullptr, 50); },
      [](void* p) {
        void* q = std::realloc(p, 0);  // frees p (glibc, jemalloc, tcmalloc, mimalloc); q is null or minimal
        std::free(q);
      });
  Form(
      "posix_memalign/free",
      [] {
        void* p = nullptr;
        return posix_memalign(&p, 64, 100) == 0 ? p : nullptr;
      },
      [](void* p) { std::free(p); });
  Form(
      "aligned_alloc/free", [] { return aligned_alloc(64, 128); }, [](void* p) { std::free(p); });
  Form(
      "memalign/free", [] { return memalign(128, 100); }, [](void* p) { std::free(p); });
  Form(
      "valloc/free", [] { return valloc(100); }, [](void* p) { std::free(p); });
  Form(
      "pvalloc/free", [] { return pvalloc(100); }, [](void* p) { std::free(p); });
  Form(
      "strdup/free", [] { return static_cast<void*>(strdup("a string of some length")); },
      [](void* p) { std::free(p); });
  Form(
      "new/delete", [] { return static_cast<void*>(new int(1)); },
      [](void* p) { delete static_cast<int*>(p); });
  Form(
      "new[]/delete[]", [] { return static_cast<void*>(new int[10]); },
      [](void* p) { delete[] static_cast<int*>(p); });
  Form(
      "new(nothrow)/delete", [] { return static_cast<void*>(new (std::nothrow) int(1)); },
      [](void* p) { operator delete(p, std::nothrow); });
  Form(
      "new[](nothrow)/delete[]", [] { return static_cast<void*>(new (std::nothrow) int[10]); },
      [](void* p) { operator delete[](p, std::nothrow); });
  Form(
      "sized delete", [] { return operator new(48); }, [](void* p) { operator delete (p, size_t{48}); });
  Form(
      "sized delete[]", [] { return operator new[](48); }, [](void* p) { operator delete[](p, size_t{48}); });
  Form(
      "aligned new/delete", [] { return static_cast<void*>(new Aligned()); },
      [](void* p) { delete static_cast<Aligned*>(p); });
  Form(
      "aligned new[]/delete[]", [] { return static_cast<void*>(new Aligned[3]); },
      [](void* p) { delete[] static_cast<Aligned*>(p); });
  Form(
      "aligned new(nothrow)", [] { return operator new (64, std::align_val_t{256}, std::nothrow); },
      [](void* p) { operator delete (p, std::align_val_t{256}, std::nothrow); });
  Form(
      "aligned new[](nothrow)", [] { return operator new[](64, std::align_val_t{256}, std::nothrow); },
      [](void* p) { operator delete[](p, std::align_val_t{256}, std::nothrow); });
  Form(
      "sized aligned delete", [] { return operator new (64, std::align_val_t{128}); },
      [](void* p) { operator delete (p, size_t{64}, std::align_val_t{128}); });
  Form(
      "sized aligned delete[]", [] { return operator new[](64, std::align_val_t{128}); },
      [](void* p) { operator delete[](p, size_t{64}, std::align_val_t{128}); });
  Form(
      "aligned delete", [] { return operator new (64, std::align_val_t{128}); },
      [](void* p) { operator delete (p, std::align_val_t{128}); });

  {  // realloc: the old block's sample goes, the new block's comes.
    std::string detail;
    bool ok = false;
    for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
      void* p = std::malloc(16);
      const uint64_t before = Live();
      void* q = std::realloc(p, 1 << 20);
      const uint64_t after_grow = Live();
      void* r = reallocarray(q, 4, 1 << 19);
      const uint64_t after_array = Live();
      std::free(r);
      const uint64_t after_free = Live();
      ok = after_grow == before && after_array == before && after_free == before - 1;
      detail += "live " + std::to_string(before) + " -> " + std::to_string(after_grow) + " -> " +
                std::to_string(after_array) + " -> " + std::to_string(after_free) + "; ";
    }
    Check("realloc chain", ok, detail);
  }
  {
    void* p = std::malloc(100);
    Check("malloc_usable_size", malloc_usable_size(p) >= 100);
    std::free(p);
  }
  {  // A thread exits with two blocks alive: they stay live samples until freed here.
    const uint64_t before = Live();
    void* kept[2] = {};
    std::thread([&] {
      kept[0] = std::malloc(1);  // arms the new thread's countdown (not sampled)
      kept[0] = std::malloc(300);
      kept[1] = new char[300];
      std::free(std::malloc(1));
    }).join();
    const uint64_t after_exit = Live();
    std::free(kept[0]);
    delete[] static_cast<char*>(kept[1]);
    const uint64_t after_free = Live();
    // The arming allocation was not sampled and is leaked here on purpose (one byte).
    const bool ok = after_exit >= before + 2 && after_free == after_exit - 2;
    Check("thread exit", ok,
          std::to_string(before) + " -> " + std::to_string(after_exit) + " -> " + std::to_string(after_free));
  }
  {  // A forked child inherits the samples and keeps sampling.
    void* inherited = std::malloc(1000);
    const uint64_t before = Live();
    const pid_t pid = fork();
    if (pid == 0) {
      const uint64_t in_child = Live();
      void* p = std::malloc(200);
      const uint64_t sampled = Live();
      std::free(p);
      std::free(inherited);
      const uint64_t freed = Live();
      // Exit status: which check failed (bit 0: inherited, 1: sampled, 2: freed).
      _exit((in_child == before ? 0 : 1) | (sampled == in_child + 1 ? 0 : 2) |
            (freed == in_child - 1 ? 0 : 4));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    std::free(inherited);
    const uint64_t after_free = Live();
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && after_free == before - 1;
    Check("fork", ok,
          "child status " + std::to_string(status) + ", parent live " + std::to_string(before) + " -> " +
              std::to_string(after_free));
  }
  if (argc > 1) {  // RTLD_DEEPBIND: the library's malloc and free are the C library's, past the hooks
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    auto lib_alloc =
        lib != nullptr ? reinterpret_cast<void* (*)(size_t)>(dlsym(lib, "deepbind_alloc")) : nullptr;
    auto lib_free = lib != nullptr ? reinterpret_cast<void (*)(void*)>(dlsym(lib, "deepbind_free")) : nullptr;
    if (lib_alloc == nullptr || lib_free == nullptr) {
      Check("deepbind", false, std::string("cannot load ") + argv[1] + ": " + dlerror());
    } else {
      const uint64_t before = Live();
      void* unsampled = lib_alloc(300);  // not seen by the hooks
      const uint64_t after_lib_alloc = Live();
      std::free(unsampled);  // through the hooks: not a sample, forwarded
      const uint64_t after_free = Live();
      void* sampled = std::malloc(300);
      lib_free(sampled);  // released past the hooks: its sample stays live (documented)
      const uint64_t after_lib_free = Live();
      const bool ok = after_lib_alloc == before && after_free == before && after_lib_free == before + 1;
      Check("deepbind", ok,
            std::to_string(before) + " -> " + std::to_string(after_lib_alloc) + " -> " +
                std::to_string(after_free) + " -> " + std::to_string(after_lib_free));
    }
  }
  std::printf("%s\n", g_failures == 0 ? "all forms reach the hooks" : "some forms missed the hooks");
  return g_failures == 0 ? 0 : 1;
}

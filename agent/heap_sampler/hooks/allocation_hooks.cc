// The allocation hooks: leakwatch's malloc, free, calloc, realloc, reallocarray, posix_memalign,
// aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size and every form of operator new and delete.
// Linked into libleakwatch_preload.so and libleakwatch_heap.so; loaded ahead of the allocator, they replace
// its entry points for the whole process and forward every call to it (the next definition in the lookup
// order: glibc, jemalloc, tcmalloc or mimalloc alike), sampling on the way (docs/HEAP_PROFILER.md).
//
// Fast paths: an allocation subtracts its size from a per-thread countdown (initial-exec TLS, no lock, no
// call); free() asks the sampled-address filter (three loads, no lock). Each then ends in a jump to the
// allocator's own function (operator new and new[] to the allocator's own operators where it has them, as
// jemalloc, tcmalloc and mimalloc do). Only a countdown that reaches zero takes the slow path: draw the next
// gap, capture the stack, record the sample under the core's lock.
//
// Correctness inside the allocator:
//   - bootstrap: the real functions are found with dlsym(RTLD_NEXT) on first use; allocations made while
//     dlsym runs (it may call calloc) come from a static buffer, whose blocks free() recognises and ignores;
//   - recursion: a per-thread flag makes the sampler's own allocations (the unwinder's, the collector's)
//     plain forwards, and keeps them out of the sampled byte stream;
//   - fork: the core's lock is held across fork() (pthread_atfork) and the child reseeds its generator;
//   - thread exit: the per-thread state is plain TLS with nothing to release;
//   - nothing here allocates, throws or logs on the fast paths.

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <new>

#include "agent/heap_sampler/heap_sampler_core.h"
#include "agent/heap_sampler/heap_sampler_hooks.h"
#include "agent/heap_sampler/sample_interval.h"
#include "agent/heap_sampler/stack_unwinder.h"
#include "leakwatch/version.h"

#define LW_HOOK __attribute__((section("leakwatch_hooks"), visibility("default")))
#define LW_HOOK_INTERNAL __attribute__((section("leakwatch_hooks"), noinline))

extern "C" {
// The bounds of the hooks' code (the linker defines them for a section named like a C identifier): the
// frames a sampled stack starts with that lie here are leakwatch's own.
extern const char __start_leakwatch_hooks[] __attribute__((visibility("hidden")));
extern const char __stop_leakwatch_hooks[] __attribute__((visibility("hidden")));
// glibc's own entry points: the fallback when dlsym(RTLD_NEXT) finds nothing (hooks in a static program).
void* __libc_malloc(size_t);
void __libc_free(void*) noexcept;
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace leakwatch::internal {
namespace {

// --- the real allocator ---

struct RealAllocator {
  void* (*malloc)(size_t) = nullptr;
  void (*free)(void*) noexcept = nullptr;
  void* (*calloc)(size_t, size_t) = nullptr;
  void* (*realloc)(void*, size_t) = nullptr;
  void* (*memalign)(size_t, size_t) = nullptr;
  int (*posix_memalign)(void**, size_t, size_t) = nullptr;
  void* (*aligned_alloc)(size_t, size_t) = nullptr;
  void* (*valloc)(size_t) = nullptr;
  void* (*pvalloc)(size_t) = nullptr;
  size_t (*malloc_usable_size)(void*) = nullptr;
  // The allocator's sized operator delete (jemalloc, tcmalloc and mimalloc have one: it skips the size
  // lookup a plain free makes); nullptr: plain free.
  void (*sized_delete)(void*, size_t) noexcept = nullptr;
  // The allocator's own operator new and new[] (jemalloc, tcmalloc and mimalloc have them: their fast path
  // is inline, where new through malloc is a call and a frame more); nullptr: new through malloc.
  void* (*new_single)(size_t) = nullptr;
  void* (*new_array)(size_t) = nullptr;
};

constinit RealAllocator g_real;
constinit std::atomic<bool> g_resolved{false};
constinit HeapSamplerCore g_core;

// The two hottest entry points call through these, which start as stubs that resolve the real allocator on
// first use: no "resolved yet?" test on the fast paths. The release functions are typed noexcept, as the
// operator delete forms that call them are: a call that might throw out of a noexcept function cannot be a
// tail call (it needs a frame to terminate from), and that frame was a third of delete's fast path.
void* ResolvingMalloc(size_t bytes);
void ResolvingFree(void* p) noexcept;
void* ResolvingNew(size_t bytes);
void* ResolvingNewArray(size_t bytes);
void* ResolvingCalloc(size_t count, size_t size);
void* ResolvingRealloc(void* p, size_t bytes);
LW_HOOK_INTERNAL void* NewViaMalloc(size_t bytes);
constinit std::atomic<void* (*)(size_t)> g_malloc{&ResolvingMalloc};
constinit std::atomic<void (*)(void*) noexcept> g_free{&ResolvingFree};
constinit std::atomic<void (*)(void*, size_t) noexcept> g_sized_delete{nullptr};
constinit std::atomic<void* (*)(size_t, size_t)> g_calloc{&ResolvingCalloc};
constinit std::atomic<void* (*)(void*, size_t)> g_realloc{&ResolvingRealloc};
// operator new and new[] after counting: the allocator's own, or NewViaMalloc.
constinit std::atomic<void* (*)(size_t)> g_new{&ResolvingNew};
constinit std::atomic<void* (*)(size_t)> g_new_array{&ResolvingNewArray};

// Allocations made while dlsym runs. Each block is preceded by its size.
constexpr size_t kBootstrapBytes = 256 * 1024;
alignas(64) constinit char g_bootstrap[kBootstrapBytes] = {};
constinit std::atomic<size_t> g_bootstrap_used{0};

bool InBootstrap(const void* p) {
  return p >= static_cast<const void*>(g_bootstrap) &&
         p < static_cast<const void*>(g_bootstrap + kBootstrapBytes);
}

void* BootstrapAllocate(size_t bytes, size_t alignment = 16) {
  if (alignment < 16) alignment = 16;
  size_t used = g_bootstrap_used.load(std::memory_order_relaxed);
  for (;;) {
    const size_t start = (used + 16 + alignment - 1) / alignment * alignment;  // room for the size before it
    if (start > kBootstrapBytes || kBootstrapBytes - start < bytes) return nullptr;
    if (g_bootstrap_used.compare_exchange_weak(used, start + bytes, std::memory_order_relaxed)) {
      std::memcpy(g_bootstrap + start - sizeof(size_t), &bytes, sizeof(size_t));
      // free() looks further only at addresses the filter flags: flag this one for good.
      g_core.PinInFilter(g_bootstrap + start);
      return g_bootstrap + start;
    }
  }
}

size_t BootstrapSize(const void* p) {
  size_t bytes = 0;
  std::memcpy(&bytes, static_cast<const char*>(p) - sizeof(size_t), sizeof(size_t));
  return bytes;
}

struct ThreadState {
  SampleCountdown countdown;  // remaining <= 0 sends the allocation to SampleSlow
  uint32_t busy;              // inside the sampler on this thread
  uint32_t resolving;         // resolving the real allocator on this thread
  uint32_t unwinder;          // 0: not chosen yet, 1: cached (it holds a slot), 2: uncached
};
// Initial-exec TLS: one instruction away, no __tls_get_addr (which may allocate) and no constructor.
// Named for the assembly in CountdownStaysPositive.
constinit thread_local ThreadState t_state asm("leakwatch_hooks_thread_state")
    __attribute__((tls_model("initial-exec"))) = {};

// While sampling is off, a thread re-checks every this many bytes: a thread that existed before the sampler
// started begins sampling after at most this much allocation (the starting thread at once).
constexpr int64_t kIdleRecheckBytes = 256 << 10;

template <typename T>
T Next(const char* name) {
  return reinterpret_cast<T>(::dlsym(RTLD_NEXT, name));
}

// False while this very thread is resolving (a recursive call from dlsym): serve it from the bootstrap
// buffer.
bool ResolveRealAllocator() {
  if (g_resolved.load(std::memory_order_acquire)) return true;
  ThreadState& t = t_state;
  if (t.resolving != 0) return false;
  t.resolving = 1;
  RealAllocator r;
  r.malloc = Next<decltype(r.malloc)>("malloc");
  r.free = Next<decltype(r.free)>("free");
  r.calloc = Next<decltype(r.calloc)>("calloc");
  r.realloc = Next<decltype(r.realloc)>("realloc");
  r.memalign = Next<decltype(r.memalign)>("memalign");
  r.posix_memalign = Next<decltype(r.posix_memalign)>("posix_memalign");
  r.aligned_alloc = Next<decltype(r.aligned_alloc)>("aligned_alloc");
  r.valloc = Next<decltype(r.valloc)>("valloc");
  r.pvalloc = Next<decltype(r.pvalloc)>("pvalloc");
  r.malloc_usable_size = Next<decltype(r.malloc_usable_size)>("malloc_usable_size");
  r.sized_delete = Next<decltype(r.sized_delete)>("_ZdlPvm");
  r.new_single = Next<decltype(r.new_single)>("_Znwm");
  r.new_array = Next<decltype(r.new_array)>("_Znam");
  // An allocator without one of the optional functions (jemalloc has no pvalloc) would have RTLD_NEXT find
  // glibc's, whose blocks the allocator's free cannot take: only functions of malloc's own object are used,
  // the others fall back on its aligned allocation.
  Dl_info malloc_object{};
  if (r.malloc != nullptr && ::dladdr(reinterpret_cast<void*>(r.malloc), &malloc_object) != 0) {
    const auto same_object = [&](auto fn) {
      Dl_info info{};
      return fn != nullptr && ::dladdr(reinterpret_cast<void*>(fn), &info) != 0 &&
             info.dli_fbase == malloc_object.dli_fbase;
    };
    if (!same_object(r.memalign)) r.memalign = nullptr;
    if (!same_object(r.posix_memalign)) r.posix_memalign = nullptr;
    if (!same_object(r.aligned_alloc)) r.aligned_alloc = nullptr;
    if (!same_object(r.valloc)) r.valloc = nullptr;
    if (!same_object(r.pvalloc)) r.pvalloc = nullptr;
    if (!same_object(r.malloc_usable_size)) r.malloc_usable_size = nullptr;
    // libstdc++'s operators call malloc and free, ours: the allocator's own only.
    if (!same_object(r.sized_delete)) r.sized_delete = nullptr;
    if (!same_object(r.new_single)) r.new_single = nullptr;
    if (!same_object(r.new_array)) r.new_array = nullptr;
  } else {
    r.sized_delete = nullptr;
    r.new_single = nullptr;
    r.new_array = nullptr;
  }
  if (r.malloc == nullptr || r.free == nullptr || r.calloc == nullptr || r.realloc == nullptr) {
    // Nothing after us (the hooks are in a static program): glibc's own.
    r = RealAllocator{};
    r.malloc = &__libc_malloc;
    r.free = &__libc_free;
    r.calloc = &__libc_calloc;
    r.realloc = &__libc_realloc;
    r.memalign = &__libc_memalign;
  }
  g_real = r;
  g_malloc.store(r.malloc, std::memory_order_relaxed);
  g_free.store(r.free, std::memory_order_relaxed);
  g_sized_delete.store(r.sized_delete, std::memory_order_relaxed);
  g_calloc.store(r.calloc, std::memory_order_relaxed);
  g_realloc.store(r.realloc, std::memory_order_relaxed);
  g_new.store(r.new_single != nullptr ? r.new_single : &NewViaMalloc, std::memory_order_relaxed);
  g_new_array.store(r.new_array != nullptr ? r.new_array : &NewViaMalloc, std::memory_order_relaxed);
  g_resolved.store(true, std::memory_order_release);
  t.resolving = 0;
  return true;
}

// --- sampling ---

constinit std::atomic<UnwindFunction> g_cached_unwind{nullptr};
constinit std::atomic<UnwindFunction> g_uncached_unwind{nullptr};

// libunwind's per-thread cache costs ~270 KiB in each thread that uses it: at most this many threads hold
// one at a time; the others unwind with libgcc. A slot is given back when its thread exits (a thread-specific
// key's destructor; libunwind frees its cache the same way).
constexpr int kMaxCachedUnwindThreads = 8;
constinit std::atomic<int> g_cached_unwind_threads{0};
pthread_key_t g_cached_unwind_key;
constinit std::atomic<bool> g_cached_unwind_key_ready{false};

void ReleaseCachedUnwindSlot(void*) { g_cached_unwind_threads.fetch_sub(1, std::memory_order_relaxed); }

// The unwinder of this thread: the cached one while a slot is free (or it holds one), else the uncached one.
UnwindFunction UnwinderOfThisThread(ThreadState& t) {
  const UnwindFunction cached = g_cached_unwind.load(std::memory_order_acquire);
  const UnwindFunction uncached = g_uncached_unwind.load(std::memory_order_acquire);
  if (t.unwinder == 1 || uncached == nullptr) return cached;
  if (cached != nullptr && g_cached_unwind_key_ready.load(std::memory_order_acquire)) {
    int n = g_cached_unwind_threads.load(std::memory_order_relaxed);
    while (n < kMaxCachedUnwindThreads) {
      if (g_cached_unwind_threads.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
        if (::pthread_setspecific(g_cached_unwind_key, reinterpret_cast<void*>(1)) != 0) {
          g_cached_unwind_threads.fetch_sub(1, std::memory_order_relaxed);
          break;
        }
        t.unwinder = 1;
        return cached;
      }
    }
  }
  t.unwinder = 2;
  return uncached;
}

uint64_t NowNanoseconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t SeedForThisThread() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return reinterpret_cast<uintptr_t>(&t_state) ^ static_cast<uint64_t>(ts.tv_nsec) ^
         (static_cast<uint64_t>(::getpid()) << 32);
}

// The countdown of this thread reached zero with an allocation of `bytes` at `p` (null when it failed).
LW_HOOK_INTERNAL void SampleSlow(void* p, size_t bytes) {
  ThreadState& t = t_state;
  if (t.busy != 0) {  // the sampler's own allocation: not part of the sampled stream
    t.countdown.remaining += static_cast<int64_t>(bytes);
    return;
  }
  if (!g_core.running()) {
    t.countdown.Disarm(kIdleRecheckBytes);
    return;
  }
  const uint64_t seed = t.countdown.random == 0 ? SeedForThisThread() : 0;
  if (!t.countdown.Expired(g_core.mean_interval_bytes(), seed) || p == nullptr) return;
  t.busy = 1;
  const UnwindFunction unwind = UnwinderOfThisThread(t);
  if (unwind == nullptr) {
    t.busy = 0;
    return;
  }
  const uint64_t started = NowNanoseconds();
  constexpr int kSlack = 8;  // the hooks' own frames, skipped below
  void* raw[StackBucketTable::kMaxFrames + kSlack];
  int depth = unwind(raw, StackBucketTable::kMaxFrames + kSlack);
  int first = 0;
  while (first < depth && raw[first] >= static_cast<const void*>(__start_leakwatch_hooks) &&
         raw[first] < static_cast<const void*>(__stop_leakwatch_hooks)) {
    ++first;
  }
  if (depth - first > static_cast<int>(StackBucketTable::kMaxFrames)) {
    depth = first + static_cast<int>(StackBucketTable::kMaxFrames);
  }
  uint64_t frames[StackBucketTable::kMaxFrames];
  const size_t n = depth > first ? static_cast<size_t>(depth - first) : 0;
  for (size_t i = 0; i < n; ++i) frames[i] = reinterpret_cast<uintptr_t>(raw[first + static_cast<int>(i)]);
  g_core.RecordAllocation(p, bytes, frames, n);
  g_core.AddHookNanoseconds(NowNanoseconds() - started);
  t.busy = 0;
}

// Subtracts `bytes` from this thread's countdown; true while it stays above zero (no sample point fell in
// this allocation). On x86-64 a subtraction from memory that sets the flags: the TLS offset's load, the
// subtraction and the branch, 3 instructions where the compiler made 6 (the offset's load, load, subtract,
// store, test, branch).
__attribute__((always_inline)) inline bool CountdownStaysPositive(size_t bytes) {
#if defined(__x86_64__)
  constexpr size_t kOffset = offsetof(ThreadState, countdown) + offsetof(SampleCountdown, remaining);
  asm goto(
      "movq leakwatch_hooks_thread_state@gottpoff(%%rip), %%rax\n\t"
      "subq %0, %%fs:%c1(%%rax)\n\t"
      "jle %l[expired]"
      :
      : "r"(bytes), "i"(kOffset)
      : "rax", "cc", "memory"
      : expired);
  return true;
expired:
  return false;
#else
  SampleCountdown& c = t_state.countdown;
  c.remaining -= static_cast<int64_t>(bytes);
  return c.remaining > 0;
#endif
}

// Counts `bytes` of allocation at `p` against this thread's countdown (when the block is allocated first:
// the aligned forms, a flagged realloc).
__attribute__((always_inline)) inline void Count(void* p, size_t bytes) {
  if (__builtin_expect(!CountdownStaysPositive(bytes), 0)) SampleSlow(p, bytes);
}

// An allocation whose countdown ran out: allocate, then sample.
LW_HOOK_INTERNAL void* AllocateAndSample(size_t bytes) {
  void* p = g_malloc.load(std::memory_order_relaxed)(bytes);
  SampleSlow(p, bytes);
  return p;
}

// malloc's fast path: count first, so that the common case ends in a jump to the real malloc.
__attribute__((always_inline)) inline void* AllocateImpl(size_t bytes) {
  if (__builtin_expect(CountdownStaysPositive(bytes), 1))
    return g_malloc.load(std::memory_order_relaxed)(bytes);
  return AllocateAndSample(bytes);
}

void* ResolvingMalloc(size_t bytes) {
  if (!ResolveRealAllocator()) return BootstrapAllocate(bytes);
  return g_real.malloc(bytes);
}

void ResolvingFree(void* p) noexcept {
  ResolveRealAllocator();
  if (g_real.free != nullptr) g_real.free(p);
}

// While dlsym runs on this thread (it may call calloc), from the bootstrap buffer: zeroed, as it is never
// reused.
void* ResolvingCalloc(size_t count, size_t size) {
  if (!ResolveRealAllocator()) return BootstrapAllocate(count * size);  // the caller checked the product
  return g_real.calloc(count, size);
}

// A bootstrap block or a sampled one goes to ReallocFlagged: here p is null or an unsampled block.
void* ResolvingRealloc(void* p, size_t bytes) {
  if (!ResolveRealAllocator()) return p == nullptr ? BootstrapAllocate(bytes) : nullptr;
  return g_real.realloc(p, bytes);
}

void* AlignedFallback(size_t alignment, size_t bytes) {
  if (g_real.memalign != nullptr) return g_real.memalign(alignment, bytes);
  if (g_real.posix_memalign != nullptr) {
    void* p = nullptr;
    return g_real.posix_memalign(&p, alignment, bytes) == 0 ? p : nullptr;
  }
  return g_real.aligned_alloc != nullptr ? g_real.aligned_alloc(alignment, bytes) : nullptr;
}

// aligned_alloc semantics without its size restriction (operator new with alignment uses this).
__attribute__((always_inline)) inline void* AllocateAlignedImpl(size_t alignment, size_t bytes) {
  if (__builtin_expect(!g_resolved.load(std::memory_order_acquire), 0) && !ResolveRealAllocator()) {
    return BootstrapAllocate(bytes, alignment);
  }
  void* p = g_real.aligned_alloc != nullptr && bytes % alignment == 0 ? g_real.aligned_alloc(alignment, bytes)
                                                                      : AlignedFallback(alignment, bytes);
  Count(p, bytes);
  return p;
}

// The allocator's sized operator delete when it has one, else its free.
__attribute__((always_inline)) inline void ForwardSizedDelete(void* p, size_t bytes) noexcept {
  if (const auto sized = g_sized_delete.load(std::memory_order_relaxed)) return sized(p, bytes);
  g_free.load(std::memory_order_relaxed)(p);
}

// A release the filter flagged: forget the sample if it is one, then release the block unless it is a
// bootstrap block (never given to the real allocator). Out of line, so that the fast paths need no frame.
LW_HOOK_INTERNAL bool ForgetFlagged(void* p) noexcept {
  if (p == nullptr || InBootstrap(p)) return false;
  g_core.RecordFree(p);
  return true;
}
LW_HOOK_INTERNAL void ReleaseFlagged(void* p) noexcept {
  if (ForgetFlagged(p)) g_free.load(std::memory_order_relaxed)(p);
}
LW_HOOK_INTERNAL void SizedDeleteFlagged(void* p, size_t bytes) noexcept {
  if (ForgetFlagged(p)) ForwardSizedDelete(p, bytes);
}

// free's fast path: one filter load, then a jump to the real free.
__attribute__((always_inline)) inline void ReleaseImpl(void* p) noexcept {
  if (__builtin_expect(g_core.MightBeSampled(p), 0)) return ReleaseFlagged(p);
  g_free.load(std::memory_order_relaxed)(p);
}

// Sized operator delete: the filter, then a jump to the allocator's own sized delete (or free).
__attribute__((always_inline)) inline void SizedDeleteImpl(void* p, size_t bytes) noexcept {
  if (__builtin_expect(g_core.MightBeSampled(p), 0)) return SizedDeleteFlagged(p, bytes);
  ForwardSizedDelete(p, bytes);
}

// operator new for an allocator without its own (glibc's is libstdc++'s, which calls malloc): the real
// malloc (the caller counted the bytes), the new-handler loop, bad_alloc.
LW_HOOK_INTERNAL void* NewViaMalloc(size_t bytes) {
  for (;;) {
    void* p = g_malloc.load(std::memory_order_relaxed)(bytes == 0 ? 1 : bytes);
    if (__builtin_expect(p != nullptr, 1)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void* ResolvingNewWith(const std::atomic<void* (*)(size_t)>& resolved, size_t bytes) {
  if (!ResolveRealAllocator()) {
    if (void* p = BootstrapAllocate(bytes == 0 ? 1 : bytes)) return p;
    throw std::bad_alloc();
  }
  return resolved.load(std::memory_order_relaxed)(bytes);
}
void* ResolvingNew(size_t bytes) { return ResolvingNewWith(g_new, bytes); }
void* ResolvingNewArray(size_t bytes) { return ResolvingNewWith(g_new_array, bytes); }

// A new whose countdown ran out: allocate (when the allocator's new throws, nothing is sampled), then sample.
LW_HOOK_INTERNAL void* NewAndSample(void* (*allocate)(size_t), size_t bytes) {
  void* p = allocate(bytes);
  SampleSlow(p, bytes);
  return p;
}

// operator new's fast path: count, then a jump to the allocator's own operator new (or NewViaMalloc).
__attribute__((always_inline)) inline void* NewImpl(size_t bytes, const std::atomic<void* (*)(size_t)>& fn) {
  if (__builtin_expect(CountdownStaysPositive(bytes), 1)) return fn.load(std::memory_order_relaxed)(bytes);
  return NewAndSample(fn.load(std::memory_order_relaxed), bytes);
}

__attribute__((always_inline)) inline void* NewAlignedImpl(size_t bytes, std::align_val_t alignment) {
  const auto align = static_cast<size_t>(alignment);
  for (;;) {
    void* p = AllocateAlignedImpl(align, bytes == 0 ? align : bytes);
    if (__builtin_expect(p != nullptr, 1)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

// A realloc of a block the filter flagged (a sampled block, a bootstrap block, or neither by chance).
LW_HOOK_INTERNAL void* ReallocFlagged(void* p, size_t bytes) {
  if (p != nullptr && InBootstrap(p)) {
    void* q = AllocateImpl(bytes);
    if (q != nullptr) {
      const size_t old = BootstrapSize(p);
      std::memcpy(q, p, old < bytes ? old : bytes);
    }
    return q;
  }
  // Forgotten first: once realloc returns, the old address may be handed to another thread. A realloc that
  // fails keeps the old block, which then goes on untracked (an underestimate, never a phantom).
  if (p != nullptr) g_core.RecordFree(p);
  void* q = g_realloc.load(std::memory_order_relaxed)(p, bytes);
  if (q != nullptr) Count(q, bytes);  // the new block is a new allocation of `bytes`, sampled as such
  return q;
}

// A realloc whose countdown ran out: reallocate, then sample the new block.
LW_HOOK_INTERNAL void* ReallocAndSample(void* p, size_t bytes) {
  void* q = g_realloc.load(std::memory_order_relaxed)(p, bytes);
  SampleSlow(q, bytes);
  return q;
}

// realloc's fast path: the filter (for the old block), the countdown (for the new one), then a jump to the
// real realloc.
__attribute__((always_inline)) inline void* ReallocImpl(void* p, size_t bytes) {
  if (__builtin_expect(g_core.MightBeSampled(p), 0)) return ReallocFlagged(p, bytes);
  if (__builtin_expect(CountdownStaysPositive(bytes), 1))
    return g_realloc.load(std::memory_order_relaxed)(p, bytes);
  return ReallocAndSample(p, bytes);
}

// A calloc whose countdown ran out: allocate, then sample.
LW_HOOK_INTERNAL void* CallocAndSample(size_t count, size_t size, size_t bytes) {
  void* p = g_calloc.load(std::memory_order_relaxed)(count, size);
  SampleSlow(p, bytes);
  return p;
}

// calloc's fast path: the countdown, then a jump to the real calloc.
__attribute__((always_inline)) inline void* CallocImpl(size_t count, size_t size) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (__builtin_expect(CountdownStaysPositive(bytes), 1))
    return g_calloc.load(std::memory_order_relaxed)(count, size);
  return CallocAndSample(count, size, bytes);
}

// --- control ---

void PrepareFork() { g_core.LockForFork(); }
void ParentAfterFork() { g_core.UnlockInParentAfterFork(); }
void ChildAfterFork() {
  g_core.ResetInChildAfterFork();
  // The parent's other threads, and their unwinder slots, do not exist here.
  g_cached_unwind_threads.store(t_state.unwinder == 1 ? 1 : 0, std::memory_order_relaxed);
  t_state.countdown.random = 0;  // parent and child would otherwise draw the same gaps
}

HeapSamplerStartResult StartSampler(const HeapSamplerSettings& settings) {
  static pthread_mutex_t start_mutex = PTHREAD_MUTEX_INITIALIZER;
  static bool prepared = false;
  static std::string unwinder_name;
  static std::string unwinder_error;
  HeapSamplerStartResult r;
  ThreadState& t = t_state;
  ++t.busy;  // this thread's allocations below are the sampler's own
  pthread_mutex_lock(&start_mutex);
  if (!prepared) {
    ResolveRealAllocator();
    StackUnwinders u = LoadStackUnwinders();
    unwinder_error = u.error;
    if (u.cached != nullptr && ::pthread_key_create(&g_cached_unwind_key, &ReleaseCachedUnwindSlot) == 0) {
      g_cached_unwind_key_ready.store(true, std::memory_order_release);
      unwinder_name = "libunwind (" + std::to_string(kMaxCachedUnwindThreads) + " threads at a time)";
      if (u.uncached != nullptr) unwinder_name += ", else libgcc";
    } else if (u.uncached != nullptr) {
      unwinder_name = "libgcc";
    }
    g_cached_unwind.store(u.cached, std::memory_order_release);
    g_uncached_unwind.store(u.uncached, std::memory_order_release);
    if (u.cached != nullptr || u.uncached != nullptr) {
      ::pthread_atfork(&PrepareFork, &ParentAfterFork, &ChildAfterFork);
    }
    prepared = true;
  }
  r.unwinder = unwinder_name;
  if (g_cached_unwind.load(std::memory_order_acquire) == nullptr &&
      g_uncached_unwind.load(std::memory_order_acquire) == nullptr) {
    r.error = "no stack unwinder: " + unwinder_error;
  } else if (!g_core.Start(settings)) {
    r.error = "the kernel refused memory for the sampler's tables";
  } else {
    r.ok = true;
  }
  pthread_mutex_unlock(&start_mutex);
  --t.busy;
  t.countdown.Disarm(0);  // this thread's next allocation arms its countdown
  return r;
}

const void* RealMalloc() {
  ResolveRealAllocator();
  return reinterpret_cast<const void*>(g_real.malloc);
}

}  // namespace
}  // namespace leakwatch::internal

using leakwatch::internal::AllocateAlignedImpl;
using leakwatch::internal::AllocateImpl;
using leakwatch::internal::BootstrapAllocate;
using leakwatch::internal::BootstrapSize;
using leakwatch::internal::Count;
using leakwatch::internal::g_real;
using leakwatch::internal::g_resolved;
using leakwatch::internal::InBootstrap;
using leakwatch::internal::NewAlignedImpl;
using leakwatch::internal::NewImpl;
using leakwatch::internal::ReleaseImpl;
using leakwatch::internal::ResolveRealAllocator;
using leakwatch::internal::SizedDeleteImpl;

extern "C" {

// malloc under a hidden name too, so that the agent can tell whether the process's malloc is this one.
__attribute__((section("leakwatch_hooks"), visibility("hidden"))) void* leakwatch_hook_own_malloc(
    size_t bytes) {
  return AllocateImpl(bytes);
}
void* malloc(size_t bytes) __attribute__((alias("leakwatch_hook_own_malloc"), visibility("default")));

LW_HOOK void free(void* p) { ReleaseImpl(p); }

LW_HOOK void* calloc(size_t count, size_t size) { return leakwatch::internal::CallocImpl(count, size); }

LW_HOOK void* realloc(void* p, size_t bytes) { return leakwatch::internal::ReallocImpl(p, bytes); }

// glibc's reallocarray calls its internal realloc directly, past the hooks: it is replaced too.
LW_HOOK void* reallocarray(void* p, size_t count, size_t size) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return leakwatch::internal::ReallocImpl(p, bytes);
}

LW_HOOK int posix_memalign(void** out, size_t alignment, size_t bytes) {
  if (__builtin_expect(!g_resolved.load(std::memory_order_acquire), 0) && !ResolveRealAllocator()) {
    void* p = BootstrapAllocate(bytes, alignment);
    if (p == nullptr) return ENOMEM;
    *out = p;
    return 0;
  }
  int rc = 0;
  if (g_real.posix_memalign != nullptr) {
    rc = g_real.posix_memalign(out, alignment, bytes);
  } else {
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void* p = leakwatch::internal::AlignedFallback(alignment, bytes);
    if (p == nullptr) return ENOMEM;
    *out = p;
  }
  if (rc == 0) Count(*out, bytes);
  return rc;
}

LW_HOOK void* aligned_alloc(size_t alignment, size_t bytes) {
  if (__builtin_expect(!g_resolved.load(std::memory_order_acquire), 0) && !ResolveRealAllocator()) {
    return BootstrapAllocate(bytes, alignment);
  }
  void* p = g_real.aligned_alloc != nullptr ? g_real.aligned_alloc(alignment, bytes)
                                            : leakwatch::internal::AlignedFallback(alignment, bytes);
  Count(p, bytes);
  return p;
}

LW_HOOK void* memalign(size_t alignment, size_t bytes) {
  if (__builtin_expect(!g_resolved.load(std::memory_order_acquire), 0) && !ResolveRealAllocator()) {
    return BootstrapAllocate(bytes, alignment);
  }
  void* p = leakwatch::internal::AlignedFallback(alignment, bytes);
  Count(p, bytes);
  return p;
}

LW_HOOK void* valloc(size_t bytes) {
  if (__builtin_expect(!g_resolved.load(std::memory_order_acquire), 0) && !ResolveRealAllocator()) {
    return BootstrapAllocate(bytes, 4096);
  }
  void* p = g_real.valloc != nullptr ? g_real.valloc(bytes)
                                     : leakwatch::internal::AlignedFallback(::getpagesize(), bytes);
  Count(p, bytes);
  return p;
}

LW_HOOK void* pvalloc(size_t bytes) {
  const size_t page = static_cast<size_t>(::getpagesize());
  const size_t rounded = bytes == 0 ? page : (bytes + page - 1) / page * page;
  if (__builtin_expect(!g_resolved.load(std::memory_order_acquire), 0) && !ResolveRealAllocator()) {
    return BootstrapAllocate(rounded, page);
  }
  void* p =
      g_real.pvalloc != nullptr ? g_real.pvalloc(bytes) : leakwatch::internal::AlignedFallback(page, rounded);
  Count(p, rounded);
  return p;
}

LW_HOOK size_t malloc_usable_size(void* p) {
  if (p == nullptr) return 0;
  if (InBootstrap(p)) return BootstrapSize(p);
  if (!ResolveRealAllocator() || g_real.malloc_usable_size == nullptr) return 0;
  return g_real.malloc_usable_size(p);
}

// The lookup the agent uses (heap_sampler_hooks.h).
__attribute__((visibility("default"))) const leakwatch::internal::HeapSamplerHooks*
leakwatch_heap_sampler_hooks_v1() {
  static const leakwatch::internal::HeapSamplerHooks hooks = [] {
    leakwatch::internal::HeapSamplerHooks h;
    h.version = LEAKWATCH_VERSION;
    h.core = &leakwatch::internal::g_core;
    h.start = &leakwatch::internal::StartSampler;
    h.own_malloc = reinterpret_cast<const void*>(&leakwatch_hook_own_malloc);
    h.real_malloc = &leakwatch::internal::RealMalloc;
    return h;
  }();
  return &hooks;
}

}  // extern "C"

// --- C++ ---

LW_HOOK void* operator new(size_t bytes) { return NewImpl(bytes, leakwatch::internal::g_new); }
LW_HOOK void* operator new[](size_t bytes) { return NewImpl(bytes, leakwatch::internal::g_new_array); }
LW_HOOK void* operator new(size_t bytes, const std::nothrow_t&) noexcept {
  try {
    return NewImpl(bytes, leakwatch::internal::g_new);
  } catch (...) {
    return nullptr;
  }
}
LW_HOOK void* operator new[](size_t bytes, const std::nothrow_t&) noexcept {
  try {
    return NewImpl(bytes, leakwatch::internal::g_new_array);
  } catch (...) {
    return nullptr;
  }
}
LW_HOOK void* operator new(size_t bytes, std::align_val_t alignment) {
  return NewAlignedImpl(bytes, alignment);
}
LW_HOOK void* operator new[](size_t bytes, std::align_val_t alignment) {
  return NewAlignedImpl(bytes, alignment);
}
LW_HOOK void* operator new(size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  try {
    return NewAlignedImpl(bytes, alignment);
  } catch (...) {
    return nullptr;
  }
}
LW_HOOK void* operator new[](size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  try {
    return NewAlignedImpl(bytes, alignment);
  } catch (...) {
    return nullptr;
  }
}

LW_HOOK void operator delete(void* p) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete[](void* p) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete(void* p, const std::nothrow_t&) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete[](void* p, const std::nothrow_t&) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete(void* p, size_t bytes) noexcept { SizedDeleteImpl(p, bytes); }
LW_HOOK void operator delete[](void* p, size_t bytes) noexcept { SizedDeleteImpl(p, bytes); }
LW_HOOK void operator delete(void* p, std::align_val_t) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete[](void* p, std::align_val_t) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete(void* p, size_t, std::align_val_t) noexcept { ReleaseImpl(p); }
LW_HOOK void operator delete[](void* p, size_t, std::align_val_t) noexcept { ReleaseImpl(p); }

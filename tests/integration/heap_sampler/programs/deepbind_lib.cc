// A library that hook_forms loads with RTLD_DEEPBIND: its own references to malloc and free bind to the C
// library's (its dependency), past leakwatch's hooks, as such libraries do in real programs.
#include <cstdlib>

extern "C" __attribute__((visibility("default"))) void* deepbind_alloc(size_t bytes) {
  return std::malloc(bytes);
}
extern "C" __attribute__((visibility("default"))) void deepbind_free(void* p) { std::free(p); }

// A host that carries its own `mg_start` (as a program with a static civetweb would) and exports it
// (linked with -rdynamic): the agent's civetweb would call into it. The preload library must notice and not
// start, and the host must run exactly as without it: it prints "mg_start calls: 0" and exits 0.
#include <cstdio>

static int g_calls = 0;

extern "C" __attribute__((visibility("default"))) void* mg_start(const void*, void*, const char**) {
  ++g_calls;
  return nullptr;
}

int main() {
  std::printf("mg_start calls: %d\n", g_calls);
  return 0;
}

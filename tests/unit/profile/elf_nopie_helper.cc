// A non-PIE executable for elf_symbols_test: prints the run-time address of NonPieTarget in hex and exits.
#include <cstdint>
#include <cstdio>

extern "C" __attribute__((noinline)) void NonPieTarget() { asm volatile("" ::: "memory"); }

int main() {
  NonPieTarget();
  std::printf("%llx\n", static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(&NonPieTarget)));
  return 0;
}

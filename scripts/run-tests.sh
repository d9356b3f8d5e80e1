#!/usr/bin/env bash
# Builds leakwatch and runs the whole test suite: unit and integration tests in a normal build, then again in
# an AddressSanitizer+UndefinedBehaviorSanitizer build and a ThreadSanitizer build.
#
#   scripts/run-tests.sh            # everything (what CI runs)
#   scripts/run-tests.sh --quick    # the normal build only
#
# Build trees: build/ (normal), build-asan/, build-tsan/. Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run-tests: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
# -g1: line tables only (enough for symbolized sanitizer reports and backtraces), which roughly halves compile
# and link time against full debug info; sanitizer trees use -O1, as the sanitizers' documentation advises.
# Ninja schedules the ~300 compile and link steps of a tree with less overhead than make; a tree that was
# configured for make before stays with make (CMake cannot switch a tree's generator).
generator_for() {
  local dir=$1
  if ! command -v ninja >/dev/null 2>&1; then return; fi
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    return
  fi
  echo "-GNinja"
}
run_suite() {
  local dir=$1; shift
  echo "=== leakwatch: build and test in $dir ($*)"
  # shellcheck disable=SC2046 # an empty generator_for means CMake's default
  cmake -S . -B "$dir" $(generator_for "$dir") -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  # Twice as many tests as cores: most integration tests wait (on child processes, timeouts, HTTP shutdown).
  (cd "$dir" && ctest --output-on-failure --timeout 300 -j"$((jobs * 2))")
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# The benchmarks are not tests: bench/*.sh build them in build-bench (docs/PERFORMANCE.md).
run_suite build -DLEAKWATCH_BUILD_BENCH=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
if [ "$quick" -eq 0 ]; then
  sanitizer_flags="-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
  run_suite build-asan -DLEAKWATCH_ASAN=ON -DLEAKWATCH_BUILD_BENCH=OFF "$sanitizer_flags"
  run_suite build-tsan -DLEAKWATCH_TSAN=ON -DLEAKWATCH_BUILD_BENCH=OFF "$sanitizer_flags"
fi
echo "=== leakwatch: all test suites passed"

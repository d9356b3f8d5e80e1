#!/usr/bin/env bash
# bench/allocator_bench.sh: runs leakwatch_allocator_bench once per allocator -- plain glibc, then each Debian
# allocator under LD_PRELOAD (jemalloc also with heap profiling on) -- with REPETITIONS repetitions, and
# prints the medians as one Markdown table. An allocator whose library is missing is listed as skipped, with
# its package.
# Extra arguments go to the benchmark (e.g. --benchmark_filter=BM_Read).
#
#   BUILD_DIR=build-alloc bench/allocator_bench.sh      # default BUILD_DIR=build-bench, REPETITIONS=5
#   OUT_DIR=/tmp/allocbench bench/allocator_bench.sh    # keep the JSON files there
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
REPETITIONS=${REPETITIONS:-5}
BENCH="$BUILD_DIR/bench/leakwatch_allocator_bench"
[[ -x "$BENCH" ]] || { echo "missing $BENCH: build $BUILD_DIR first (docs/PERFORMANCE.md)" >&2; exit 1; }
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/leakwatch-allocator-bench.XXXXXX)}
mkdir -p "$OUT_DIR"
LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

# label | library under $LIBDIR ("" = none) | Debian package | extra environment
cases=(
  "glibc||libc6|"
  "jemalloc|libjemalloc.so.2|libjemalloc2|"
  "jemalloc+prof|libjemalloc.so.2|libjemalloc2|MALLOC_CONF=prof:true,lg_prof_sample:19"
  "tcmalloc|libtcmalloc.so.4|libgoogle-perftools4|"
  "tcmalloc_minimal|libtcmalloc_minimal.so.4|libtcmalloc-minimal4|"
  "mimalloc|libmimalloc.so.2|libmimalloc2.0|"
)

echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
skipped=()
for c in "${cases[@]}"; do
  IFS='|' read -r label lib package extra <<<"$c"
  env_args=()
  if [[ -n "$lib" ]]; then
    if [[ ! -r "$LIBDIR/$lib" ]]; then
      skipped+=("$label: $LIBDIR/$lib missing (Debian package $package)")
      continue
    fi
    env_args+=("LD_PRELOAD=$LIBDIR/$lib")
  fi
  [[ -n "$extra" ]] && env_args+=("$extra")
  echo "# running $label" >&2
  # No random interleaving: the benchmark's thread count only grows (see allocator_bench.cc).
  env "${env_args[@]}" "$BENCH" --benchmark_repetitions="$REPETITIONS" \
    --benchmark_display_aggregates_only=true \
    --benchmark_out="$OUT_DIR/$label.json" --benchmark_out_format=json "$@" >&2
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# JSON: $OUT_DIR"

python3 - "$OUT_DIR" "${cases[@]}" <<'EOF_PY'
import json, os, statistics, sys

out_dir, cases = sys.argv[1], [c.split("|")[0] for c in sys.argv[2:]]
scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
rows, described = [], []
for label in cases:
    path = os.path.join(out_dir, label + ".json")
    if not os.path.exists(path):
        continue
    data = json.load(open(path))
    described.append(f"# {label}: {data['context'].get('allocator', '?')}")
    runs, order = {}, []
    for b in data["benchmarks"]:
        if b.get("error_occurred") or b.get("run_type") != "iteration":
            continue
        name = b["run_name"]
        if name not in runs:
            runs[name] = []
            order.append(name)
        runs[name].append(b)
    for name in order:
        reps = runs[name]
        f = scale[reps[0]["time_unit"]]
        cpu = [r["cpu_time"] * f for r in reps]
        wall = [r["real_time"] * f for r in reps]
        rows.append(f"| {label} | {name} | {statistics.median(cpu):.3f} | {statistics.median(wall):.3f} | "
                    f"{min(cpu):.3f}..{max(cpu):.3f} |")
print("\n".join(described))
print()
print("| allocator | benchmark | CPU µs, median of reps | wall µs, median | CPU µs, min..max of reps |")
print("|---|---|---:|---:|---:|")
print("\n".join(rows))
EOF_PY
for s in "${skipped[@]+"${skipped[@]}"}"; do echo "skipped: $s"; done

#!/usr/bin/env bash
# bench/run_bench.sh: runs leakwatch_bench with 5 repetitions (in random interleaved order, so a change in the
# machine's load hits every benchmark alike) and prints the medians as a Markdown table
# (the table in docs/PERFORMANCE.md). Extra arguments go to the benchmark (e.g. --benchmark_filter=BM_Tick).
#
#   bench/run_bench.sh                       # BUILD_DIR=build-bench, REPETITIONS=5
#   OUT=/tmp/bench.json bench/run_bench.sh   # keep the JSON
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
REPETITIONS=${REPETITIONS:-5}
BENCH="$BUILD_DIR/bench/leakwatch_bench"
[[ -x "$BENCH" ]] || { echo "missing $BENCH: build $BUILD_DIR first (docs/PERFORMANCE.md)" >&2; exit 1; }
OUT=${OUT:-$(mktemp /tmp/leakwatch-bench.XXXXXX.json)}

echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# Pass 1: the fd-count benchmarks alone, in a fresh process and in registration order (10 fds before 10,000),
# because listing /proc/self/fd costs more once the fd table has grown (it never shrinks).
"$BENCH" --benchmark_filter='^BM_FdCount' --benchmark_repetitions="$REPETITIONS" \
  --benchmark_display_aggregates_only=true --benchmark_out="$OUT.fresh" --benchmark_out_format=json >&2
# Pass 2: everything, repetitions interleaved at random.
"$BENCH" --benchmark_repetitions="$REPETITIONS" --benchmark_display_aggregates_only=true \
  --benchmark_enable_random_interleaving=true \
  --benchmark_out="$OUT" --benchmark_out_format=json "$@" >&2
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# JSON: $OUT.fresh (pass 1), $OUT (pass 2)"

python3 - "$OUT.fresh" "$OUT" <<'EOF'
import json, statistics, sys

scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
skip = {"name", "run_name", "run_type", "family_index", "per_family_instance_index", "repetitions",
        "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit"}


def table(path, title):
    data = json.load(open(path))
    ctx = data["context"]
    print(f"## {title}")
    print(f"# {ctx['date']} host={ctx['host_name']} cpus={ctx['num_cpus']} mhz={ctx['mhz_per_cpu']} "
          f"library_build_type={ctx.get('library_build_type', '?')}")
    print()
    print("| benchmark | CPU µs, median of reps | wall µs, median | CPU µs, min..max of reps | counters (last rep) |")
    print("|---|---:|---:|---:|---|")
    runs, errors, order = {}, {}, {}
    for b in data["benchmarks"]:
        name = b["run_name"]
        order.setdefault(name, (b.get("family_index", 0), b.get("per_family_instance_index", 0)))
        runs.setdefault(name, [])
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
        elif b.get("run_type") == "iteration":
            runs[name].append(b)
    for name in sorted(runs, key=lambda n: order[n]):
        row(name, runs[name], errors)
    print()


def row(name, reps, errors):
    if not reps:
        print(f"| {name} | skipped: {errors.get(name)} | | | |")
        return
    f = scale[reps[0]["time_unit"]]
    cpu = [r["cpu_time"] * f for r in reps]
    wall = [r["real_time"] * f for r in reps]
    counters = ", ".join(f"{k}={reps[-1][k]:g}" for k in sorted(reps[-1]) if k not in skip)
    print(f"| {name} | {statistics.median(cpu):.1f} | {statistics.median(wall):.1f} | "
          f"{min(cpu):.1f}..{max(cpu):.1f} | {counters} |")


table(sys.argv[1], "Pass 1: fd count in a fresh process")
table(sys.argv[2], "Pass 2: full suite, repetitions interleaved")
EOF

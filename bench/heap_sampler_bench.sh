#!/usr/bin/env bash
# bench/heap_sampler_bench.sh: what a sampling heap profiler costs a program that allocates, leakwatch's heap
# sampler side by side with jemalloc's and gperftools' sampling profilers and heaptrack (which records every
# allocation). Runs leakwatch_malloc_bench (bench/malloc_bench.cc: workloads small, mixed, request, and
# small-resident: small beside a resident heap of RESIDENT_MIB that the profilers hold many live samples of)
# at 1 and 2 threads (small-resident at 1) under each variant below, alternating the variants within each
# round (the order rotates by one each round) for ROUNDS rounds, and prints a Markdown table of the median
# ns/op with the ratio to the variant's baseline (the median of the ratios within each round, which a slow
# stretch of a shared machine disturbs far less than a ratio of medians). Then peak RSS (VmHWM) per variant
# for one run with a large live heap (LIVE_MIB), so that a profiler's memory overhead can be set against the
# live heap it profiles.
#
#   variant          LD_PRELOAD / command                  environment                               baseline
#   glibc            -                                     -                                         -
#   hooks            libleakwatch_heap.so (no agent)       -                                         glibc
#   lw-off           libleakwatch_preload.so               LEAKWATCH_HEAP_SAMPLER=off                glibc
#   lw-512KiB        libleakwatch_preload.so               LEAKWATCH_HEAP_SAMPLER=512KiB             glibc
#   lw-2MiB          libleakwatch_preload.so               LEAKWATCH_HEAP_SAMPLER=2MiB               glibc
#   jemalloc         libjemalloc.so.2                      -                                         -
#   je-prof-512KiB   libjemalloc.so.2                      MALLOC_CONF=prof:true,lg_prof_sample:19   jemalloc
#   je-prof-2MiB     libjemalloc.so.2                      MALLOC_CONF=prof:true,lg_prof_sample:21   jemalloc
#   hooks+je         libleakwatch_heap.so:libjemalloc      -                                         jemalloc
#   lw+je-512KiB     libleakwatch_preload.so:libjemalloc   LEAKWATCH_HEAP_SAMPLER=512KiB             jemalloc
#   lw+je-2MiB       libleakwatch_preload.so:libjemalloc   LEAKWATCH_HEAP_SAMPLER=2MiB               jemalloc
#   tcmalloc         libtcmalloc.so.4 (gperftools)         TCMALLOC_SAMPLE_PARAMETER=0               -
#   tc-sample-512KiB libtcmalloc.so.4                      TCMALLOC_SAMPLE_PARAMETER=524288          tcmalloc
#   tc-sample-2MiB   libtcmalloc.so.4                      TCMALLOC_SAMPLE_PARAMETER=2097152         tcmalloc
#   heaptrack        heaptrack -o <scratch file> <bench>   -                                         glibc
# `hooks` (and `hooks+je` on jemalloc) is the allocation hooks alone, with nothing that starts the sampler: the
# price of interposing malloc and free, which every leakwatch variant pays. Every leakwatch variant also sets
# LEAKWATCH_LISTEN=off LEAKWATCH_LOG_LEVEL=warn (the agent runs, serves no HTTP). gperftools' sampling is set
# explicitly, 0 included (its default is 0 in 2.10, i.e. off). heaptrack runs 1/HEAPTRACK_OPS_DIV of the
# operations (it is an order of magnitude slower; ns/op stays comparable), in the first HEAPTRACK_ROUNDS rounds
# only (it also takes seconds to start), and writes its recording to a scratch file, removed after each run
# (its size is reported). A variant whose library or tool is missing is listed as "skipped: <what is
# missing>"; a variant whose runs fail as "failed: <last line of stderr>".
# A second table gives the process's CPU time per operation (every thread of the process: the agent's too,
# not heaptrack's interpreter, a separate process): it depends less on other load than wall time does.
#
# The script builds leakwatch_malloc_bench and leakwatch_preload in BUILD_DIR first (configuring it if
# needed; BUILD=0 uses what is there). A failed preload build skips the leakwatch variants.
#
#   bench/heap_sampler_bench.sh                          # ~5-10 min on 2 cores; BUILD_DIR=build-bench
#   QUICK=1 bench/heap_sampler_bench.sh                  # ~1 min: 3 rounds, fewer operations
#   WORKLOADS="small request" THREADS=1 ROUNDS=7 VARIANTS="glibc lw-off lw-512KiB" bench/heap_sampler_bench.sh
#   PIN_CPUS=0 bench/heap_sampler_bench.sh               # 1-thread runs pinned to CPU 0 (see below)
#
# Environment (defaults in brackets, QUICK=1 ones after the slash):
#   ROUNDS [5/3]  OPS_SMALL [10000000/1000000]  OPS_MIXED [1000000/100000]  OPS_REQUEST [10000/1000]
#   (operations per thread, a tenth more as untimed warm-up; small-resident runs OPS_SMALL)
#   WORKLOADS [small mixed request small-resident]  THREADS [1 2]  RESIDENT_MIB [2048/256]
#   VARIANTS [all of the above]  HEAPTRACK_OPS_DIV [10]  HEAPTRACK_ROUNDS [2/1]  LIVE_MIB [256/64] (0: no
#   memory table)  LIVE_WORKLOAD [small]  LIVE_OPS [2000000/300000]  LIVE_ROUNDS [2/1]
#   PIN_CPUS [none]: a taskset CPU list for the runs whose thread count it can hold (the whole process tree:
#   agent threads and heaptrack's interpreter included). When the CPUs run at different speeds (a VM sharing
#   cores, other load; the script measures each CPU first and warns) unpinned 1-thread runs land on either
#   and their medians mean little: pin them to one.  RUN_TIMEOUT [600] seconds per run.  OUT_DIR [a new
#   directory under /tmp]: results.tsv (one line per run) and the logs.  BUILD [1]  JOBS [2]
#   JEMALLOC, TCMALLOC [the Debian libraries under /usr/lib/<multiarch>/]: other builds to preload.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
BUILD=${BUILD:-1}
JOBS=${JOBS:-2}
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then q=1; else q=0; fi
pick() { if [[ $q == 1 ]]; then echo "$2"; else echo "$1"; fi; }
ROUNDS=${ROUNDS:-$(pick 5 3)}
OPS_SMALL=${OPS_SMALL:-$(pick 10000000 1000000)}
OPS_MIXED=${OPS_MIXED:-$(pick 1000000 100000)}
OPS_REQUEST=${OPS_REQUEST:-$(pick 10000 1000)}
WORKLOADS=${WORKLOADS:-small mixed request small-resident}
RESIDENT_MIB=${RESIDENT_MIB:-$(pick 2048 256)}
THREADS=${THREADS:-1 2}
HEAPTRACK_OPS_DIV=${HEAPTRACK_OPS_DIV:-10}
HEAPTRACK_ROUNDS=${HEAPTRACK_ROUNDS:-$(pick 2 1)}
LIVE_MIB=${LIVE_MIB:-$(pick 256 64)}
LIVE_WORKLOAD=${LIVE_WORKLOAD:-small}
LIVE_OPS=${LIVE_OPS:-$(pick 2000000 300000)}
LIVE_ROUNDS=${LIVE_ROUNDS:-$(pick 2 1)}
PIN_CPUS=${PIN_CPUS:-}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
ALL_VARIANTS="glibc hooks lw-off lw-512KiB lw-2MiB jemalloc je-prof-512KiB je-prof-2MiB hooks+je lw+je-512KiB"
ALL_VARIANTS+=" lw+je-2MiB"
ALL_VARIANTS+=" tcmalloc tc-sample-512KiB tc-sample-2MiB heaptrack"
VARIANTS=${VARIANTS:-$ALL_VARIANTS}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/leakwatch-heap-sampler-bench.XXXXXX)}
mkdir -p "$OUT_DIR"
SCRATCH=$(mktemp -d /tmp/leakwatch-heap-sampler-scratch.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
JEMALLOC=${JEMALLOC:-$LIBDIR/libjemalloc.so.2}
TCMALLOC=${TCMALLOC:-$LIBDIR/libtcmalloc.so.4}

# --- build -------------------------------------------------------------------------------------------------
preload_build_error=""
if [[ $BUILD == 1 ]]; then
  if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
    # RelWithDebInfo as the other benchmark trees (docs/PERFORMANCE.md).
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEAKWATCH_BUILD_TESTS=OFF \
      -DLEAKWATCH_BUILD_EXAMPLES=OFF >&2
  fi
  echo "# building leakwatch_malloc_bench and leakwatch_preload in $BUILD_DIR" >&2
  cmake --build "$BUILD_DIR" -j"$JOBS" --target leakwatch_malloc_bench >"$OUT_DIR/build-bench.log" 2>&1 || {
    tail -20 "$OUT_DIR/build-bench.log" >&2
    echo "building leakwatch_malloc_bench failed (log: $OUT_DIR/build-bench.log)" >&2
    exit 1
  }
  if ! cmake --build "$BUILD_DIR" -j"$JOBS" --target leakwatch_preload leakwatch_heap \
    >"$OUT_DIR/build-preload.log" 2>&1; then
    preload_build_error="build of leakwatch_preload or leakwatch_heap failed ($OUT_DIR/build-preload.log)"
    echo "# $preload_build_error" >&2
  fi
fi
BENCH=$(realpath "$BUILD_DIR/bench/leakwatch_malloc_bench" 2>/dev/null || true)
[[ -x $BENCH ]] || { echo "missing $BUILD_DIR/bench/leakwatch_malloc_bench: build it (BUILD=1)" >&2; exit 1; }
PRELOAD=$(realpath "$BUILD_DIR/lib/libleakwatch_preload.so" 2>/dev/null || true)
HOOKS=$(realpath "$BUILD_DIR/lib/libleakwatch_heap.so" 2>/dev/null || true)

# --- variants ----------------------------------------------------------------------------------------------
declare -A SKIP BASELINE
jemalloc_missing=""
[[ -r $JEMALLOC ]] || jemalloc_missing="$JEMALLOC missing (Debian package libjemalloc2)"
jemalloc_prof_missing=$jemalloc_missing
if [[ -z $jemalloc_missing ]] &&
  env LD_PRELOAD="$JEMALLOC" MALLOC_CONF=prof:true /bin/true 2>&1 | grep -q 'Invalid conf'; then
  jemalloc_prof_missing="this jemalloc is built without --enable-prof"
fi
tcmalloc_missing=""
[[ -r $TCMALLOC ]] || tcmalloc_missing="$TCMALLOC missing (Debian package libgoogle-perftools4)"
preload_missing=$preload_build_error
if [[ -z $preload_missing && ! -r $PRELOAD ]]; then
  preload_missing="$BUILD_DIR/lib/libleakwatch_preload.so missing (target leakwatch_preload)"
fi
preload_note=""
if [[ -z $preload_missing ]] && command -v nm >/dev/null &&
  ! nm -D --defined-only "$PRELOAD" | awk '$3 == "malloc" {found = 1} END {exit !found}'; then
  preload_note="this libleakwatch_preload.so interposes no malloc: its rows measure the agent alone"
fi
hooks_missing=$preload_build_error
if [[ -z $hooks_missing && ! -r $HOOKS ]]; then
  hooks_missing="$BUILD_DIR/lib/libleakwatch_heap.so missing (target leakwatch_heap)"
fi
heaptrack_missing=""
command -v heaptrack >/dev/null || heaptrack_missing="heaptrack not installed (Debian package heaptrack)"

for v in $VARIANTS; do
  case $v in
    glibc) BASELINE[$v]=- ;;
    hooks) BASELINE[$v]=glibc SKIP[$v]=$hooks_missing ;;
    lw-off | lw-512KiB | lw-2MiB) BASELINE[$v]=glibc SKIP[$v]=$preload_missing ;;
    jemalloc) BASELINE[$v]=- SKIP[$v]=$jemalloc_missing ;;
    je-prof-512KiB | je-prof-2MiB) BASELINE[$v]=jemalloc SKIP[$v]=$jemalloc_prof_missing ;;
    hooks+je) BASELINE[$v]=jemalloc SKIP[$v]=${hooks_missing:-$jemalloc_missing} ;;
    lw+je-512KiB | lw+je-2MiB) BASELINE[$v]=jemalloc SKIP[$v]=${preload_missing:-$jemalloc_missing} ;;
    tcmalloc) BASELINE[$v]=- SKIP[$v]=$tcmalloc_missing ;;
    tc-sample-512KiB | tc-sample-2MiB) BASELINE[$v]=tcmalloc SKIP[$v]=$tcmalloc_missing ;;
    heaptrack) BASELINE[$v]=glibc SKIP[$v]=$heaptrack_missing ;;
    *) echo "unknown variant '$v' (known: $ALL_VARIANTS)" >&2; exit 2 ;;
  esac
done
RUNNABLE=()
for v in $VARIANTS; do [[ -n ${SKIP[$v]:-} ]] || RUNNABLE+=("$v"); done

# variant_command <variant>: sets CMD to the command prefix (env and wrapper) the benchmark runs under.
variant_command() {
  local lw=(LEAKWATCH_LISTEN=off LEAKWATCH_LOG_LEVEL=warn)
  case $1 in
    glibc) CMD=(env) ;;
    hooks) CMD=(env LD_PRELOAD="$HOOKS") ;;
    lw-off) CMD=(env LD_PRELOAD="$PRELOAD" "${lw[@]}" LEAKWATCH_HEAP_SAMPLER=off) ;;
    lw-512KiB) CMD=(env LD_PRELOAD="$PRELOAD" "${lw[@]}" LEAKWATCH_HEAP_SAMPLER=512KiB) ;;
    lw-2MiB) CMD=(env LD_PRELOAD="$PRELOAD" "${lw[@]}" LEAKWATCH_HEAP_SAMPLER=2MiB) ;;
    jemalloc) CMD=(env LD_PRELOAD="$JEMALLOC") ;;
    je-prof-512KiB) CMD=(env LD_PRELOAD="$JEMALLOC" "MALLOC_CONF=prof:true,lg_prof_sample:19") ;;
    je-prof-2MiB) CMD=(env LD_PRELOAD="$JEMALLOC" "MALLOC_CONF=prof:true,lg_prof_sample:21") ;;
    hooks+je) CMD=(env LD_PRELOAD="$HOOKS:$JEMALLOC") ;;
    lw+je-512KiB) CMD=(env LD_PRELOAD="$PRELOAD:$JEMALLOC" "${lw[@]}" LEAKWATCH_HEAP_SAMPLER=512KiB) ;;
    lw+je-2MiB) CMD=(env LD_PRELOAD="$PRELOAD:$JEMALLOC" "${lw[@]}" LEAKWATCH_HEAP_SAMPLER=2MiB) ;;
    tcmalloc) CMD=(env LD_PRELOAD="$TCMALLOC" TCMALLOC_SAMPLE_PARAMETER=0) ;;
    tc-sample-512KiB) CMD=(env LD_PRELOAD="$TCMALLOC" TCMALLOC_SAMPLE_PARAMETER=524288) ;;
    tc-sample-2MiB) CMD=(env LD_PRELOAD="$TCMALLOC" TCMALLOC_SAMPLE_PARAMETER=2097152) ;;
    heaptrack) CMD=(heaptrack -o "$SCRATCH/heaptrack") ;;
  esac
}

# --- running -----------------------------------------------------------------------------------------------
RESULTS=$OUT_DIR/results.tsv
COLUMNS_TSV=(section config variant round status ops ns_per_op cpu_ns peak_rss_kib live_bytes max_rss_kib
  file_bytes reason)
(IFS=$'\t' && echo "${COLUMNS_TSV[*]}") >"$RESULTS"
have_time=0
[[ -x /usr/bin/time ]] && have_time=1
pin_count=0
[[ -n $PIN_CPUS ]] && pin_count=$(taskset -c "$PIN_CPUS" nproc)

# parse_result <file>: sets R (key -> value) from the file's first malloc_bench line; fails without one.
# Bash only, like the rest of run_one: starting processes costs milliseconds on some VMs.
declare -A R
parse_result() {
  local line kv parts=()
  R=()
  while IFS= read -r line; do
    if [[ $line == "malloc_bench "* ]]; then
      read -r -a parts <<<"${line#malloc_bench }"
      for kv in "${parts[@]}"; do R[${kv%%=*}]=${kv#*=}; done
      return 0
    fi
  done <"$1"
  return 1
}

# run_one <section> <config label> <variant> <round> <threads> <benchmark args...>: one run, one TSV line.
run_one() {
  local section=$1 config=$2 variant=$3 round=$4 threads=$5
  shift 5
  local args=("$@") prefix=() status=ok reason="" max_rss="" file_bytes="" rc=0 f
  variant_command "$variant"
  if [[ $variant == heaptrack ]]; then
    local i
    for i in "${!args[@]}"; do
      if [[ ${args[$i]} == --ops ]]; then args[i + 1]=$((args[i + 1] / HEAPTRACK_OPS_DIV)); fi
    done
    rm -f "$SCRATCH"/heaptrack*
  fi
  ((pin_count >= threads)) && prefix+=(taskset -c "$PIN_CPUS")
  ((have_time)) && prefix+=(/usr/bin/time -f %M -o "$SCRATCH/time")
  timeout "$RUN_TIMEOUT" "${prefix[@]}" "${CMD[@]}" "$BENCH" "${args[@]}" \
    >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
  if ! parse_result "$SCRATCH/out" || [[ $rc != 0 ]]; then
    status=fail
    reason=$({ grep -v -e '^[[:space:]]*$' -e '^Command exited with' "$SCRATCH/err" || true; } | tail -1 |
      tr '\t' ' ' | cut -c1-100)
    [[ $rc == 124 ]] && reason="timeout after ${RUN_TIMEOUT}s"
    [[ -n $reason ]] || reason="exit code $rc, no result line"
    cat "$SCRATCH/out" "$SCRATCH/err" >>"$OUT_DIR/failures.log"
  fi
  if ((have_time)) && [[ -r $SCRATCH/time ]]; then
    while IFS= read -r f; do max_rss=$f; done <"$SCRATCH/time"  # the last line: %M
  fi
  if [[ $variant == heaptrack ]]; then
    file_bytes=0
    for f in "$SCRATCH"/heaptrack*; do
      if [[ -e $f ]]; then file_bytes=$((file_bytes + $(stat -c %s "$f"))); fi
    done
    rm -f "$SCRATCH"/heaptrack*
  fi
  local values=("$section" "$config" "$variant" "$round" "$status" "${R[ops]:-}" "${R[ns_per_op]:-}"
    "${R[cpu_ns]:-}" "${R[peak_rss_kib]:-}" "${R[live_bytes]:-}" "$max_rss" "$file_bytes" "$reason")
  local IFS=$'\t'
  echo "${values[*]}" >>"$RESULTS"
}

declare -A OPS=([small]=$OPS_SMALL [mixed]=$OPS_MIXED [request]=$OPS_REQUEST [small-resident]=$OPS_SMALL)
median() {
  sort -n | awk '{a[NR]=$1} END {
    if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2} }'
}

echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; QUICK=$QUICK ROUNDS=$ROUNDS"
versions=$(dpkg-query -W -f='${Package} ${Version}, ' libc6 libjemalloc2 libgoogle-perftools4 heaptrack \
  2>/dev/null || true)
[[ -n $versions ]] && echo "# packages: ${versions%, }"
# Per-CPU speed: the glibc small workload pinned to each CPU in turn (median of 3).
if command -v taskset >/dev/null; then
  speeds=""
  for cpu in $(seq 0 $(($(nproc) - 1))); do
    s=$(for _ in 1 2 3; do
      taskset -c "$cpu" "$BENCH" small --ops 2000000 >"$SCRATCH/out" || true
      if parse_result "$SCRATCH/out"; then echo "${R[ns_per_op]}"; fi
    done | median)
    speeds+="cpu$cpu $s ns/op, "
  done
  echo "# per-CPU check (glibc, small, 1 thread): ${speeds%, }"
  echo "$speeds" | awk -v pinned="$PIN_CPUS" '{
      for (i = 2; i <= NF; i += 3) { v = $i + 0; if (min == "" || v < min) min = v; if (v > max) max = v }
      if (max > 1.15 * min && pinned == "")
        print "# WARNING: the CPUs differ by more than 15% in speed right now (other load, or a VM\n" \
              "# sharing cores): unpinned 1-thread runs land on either; consider PIN_CPUS" }'
fi
[[ -n $PIN_CPUS ]] && echo "# runs with at most $pin_count threads pinned to CPUs $PIN_CPUS"

configs=()
for w in $WORKLOADS; do
  if [[ -z ${OPS[$w]:-} ]]; then
    echo "unknown workload '$w' (small, mixed, request, small-resident)" >&2
    exit 2
  fi
  for t in $THREADS; do
    if [[ $w == small-resident ]] && ((t > 1)); then continue; fi
    configs+=("$w/$t")
  done
done
n=${#RUNNABLE[@]}
for ((round = 1; round <= ROUNDS; round++)); do
  echo "# round $round of $ROUNDS" >&2
  for c in "${configs[@]}"; do
    w=${c%/*} t=${c#*/}
    for ((k = 0; k < n; k++)); do
      v=${RUNNABLE[(k + round - 1) % n]}
      if [[ $v == heaptrack ]] && ((round > HEAPTRACK_ROUNDS)); then continue; fi
      if [[ $w == small-resident ]]; then
        run_one time "$c" "$v" "$round" "$t" small --threads "$t" --ops "${OPS[$w]}" \
          --resident-mib "$RESIDENT_MIB"
      else
        run_one time "$c" "$v" "$round" "$t" "$w" --threads "$t" --ops "${OPS[$w]}"
      fi
    done
  done
done
if ((LIVE_MIB > 0)); then
  for ((round = 1; round <= LIVE_ROUNDS; round++)); do
    echo "# memory round $round of $LIVE_ROUNDS ($LIVE_WORKLOAD, --live-mib $LIVE_MIB)" >&2
    for ((k = 0; k < n; k++)); do
      v=${RUNNABLE[(k + round - 1) % n]}
      run_one mem "$LIVE_WORKLOAD/1" "$v" "$round" 1 "$LIVE_WORKLOAD" --threads 1 --ops "$LIVE_OPS" \
        --live-mib "$LIVE_MIB"
    done
  done
fi
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# results: $RESULTS"

# --- tables ------------------------------------------------------------------------------------------------
meta=()
for v in $VARIANTS; do meta+=("$v|${BASELINE[$v]}|${SKIP[$v]:-}"); done
python3 - "$RESULTS" "$HEAPTRACK_OPS_DIV" "$LIVE_MIB" "$preload_note" "${configs[@]}" -- "${meta[@]}" \
  <<'EOF_PY'
import csv, statistics, sys

results, ht_div, live_mib, preload_note = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rest = sys.argv[5:]
configs = rest[:rest.index("--")]
variants = [tuple(m.split("|", 2)) for m in rest[rest.index("--") + 1:]]  # (name, baseline, skip reason)
rows = list(csv.DictReader(open(results), delimiter="\t"))
for r in rows:
    ok = r["status"] == "ok" and r["ops"] and r["cpu_ns"]
    r["cpu_per_op"] = str(float(r["cpu_ns"]) / float(r["ops"])) if ok else ""


def runs(section, config, variant):
    return [r for r in rows if r["section"] == section and r["config"] == config and r["variant"] == variant]


def values(section, config, variant, key):
    return [float(r[key]) for r in runs(section, config, variant) if r["status"] == "ok" and r[key]]


def med(section, config, variant, key):
    vals = values(section, config, variant, key)
    return statistics.median(vals) if vals else None


def paired_ratio(section, config, variant, base, key):
    # The median over rounds of variant / baseline within the round: the two ran moments apart, so a slow
    # stretch of the machine (a neighbour's load, a CPU's clock) weighs on both.
    mine = {r["round"]: float(r[key]) for r in runs(section, config, variant) if r["status"] == "ok" and r[key]}
    theirs = {r["round"]: float(r[key]) for r in runs(section, config, base) if r["status"] == "ok" and r[key]}
    ratios = [mine[k] / theirs[k] for k in mine if k in theirs and theirs[k] > 0]
    return statistics.median(ratios) if ratios else None


def failure(section, config, variant):
    rs = runs(section, config, variant)
    if rs and all(r["status"] != "ok" for r in rs):
        return f"failed: {rs[-1]['reason']}"
    return None


def fmt_ns(ns):
    return f"{ns:.1f} ns" if ns < 1000 else f"{ns / 1000:.1f} µs"


notes = {"heaptrack": f"1/{ht_div} of the ops; records every allocation to a file"}
if preload_note:
    for v in ("lw-off", "lw-512KiB", "lw-2MiB", "lw+je-512KiB", "lw+je-2MiB"):
        notes[v] = preload_note
sizes = [int(r["file_bytes"]) for r in rows if r["variant"] == "heaptrack" and r["section"] == "time"
         and r["status"] == "ok" and r["file_bytes"]]
if sizes:
    notes["heaptrack"] += f" (median {statistics.median(sizes) / 2**20:.1f} MiB per run)"


def time_table(key, title, with_notes):
    print()
    print(title)
    print()
    print("| variant | baseline | " + " | ".join(configs) + (" | notes |" if with_notes else " |"))
    print("|---|---|" + "---:|" * len(configs) + ("---|" if with_notes else ""))
    spreads = []
    for name, base, skip in variants:
        if skip:
            cells = ["—"] * len(configs) + [f"skipped: {skip}"] if with_notes else \
                ["skipped"] + ["—"] * (len(configs) - 1)
            print(f"| {name} | {base} | " + " | ".join(cells) + " |")
            continue
        cells, failures = [], []
        for c in configs:
            vals = values("time", c, name, key)
            if not vals:
                failures.append(failure("time", c, name) or "no runs")
                cells.append("failed")
                continue
            m = statistics.median(vals)
            if len(vals) > 1:
                spreads.append(((max(vals) - min(vals)) / m, name, c))
            ratio = paired_ratio("time", c, name, base, key) if base != "-" else None
            cells.append(f"{fmt_ns(m)} ({ratio:.2f})" if ratio else fmt_ns(m))
        bad = [r for c in configs for r in runs("time", c, name) if r["status"] != "ok"]
        if bad and not failures:
            failures.append(f"{len(bad)} runs failed: {bad[-1]['reason']}")
        note = "; ".join(sorted(set(failures)) + ([notes[name]] if name in notes else []))
        print(f"| {name} | {base} | " + " | ".join(cells) + (f" | {note} |" if with_notes else " |"))
    if spreads:
        worst = max(spreads)
        typical = statistics.median(s[0] for s in spreads)
        print()
        print(f"Spread over rounds, (max - min) / median per cell: median {typical:.0%}, "
              f"worst {worst[0]:.0%} ({worst[1]}, {worst[2]}).")


time_table("ns_per_op", "Median wall ns per operation and thread (the median over rounds of the ratio to the "
           "baseline's run in the same round); workload/threads:", True)
time_table("cpu_per_op", "Median process CPU ns per operation (user+system of every thread of the "
           "process, over the operations of all threads; heaptrack's interpreter is another process):", False)

mem = [r for r in rows if r["section"] == "mem"]
if live_mib > 0 and mem:
    config = mem[0]["config"]
    workload = config.split("/")[0]
    print()
    print(f"Memory, {workload} workload, 1 thread, --live-mib {live_mib} (medians): peak RSS is the "
          "program's VmHWM; max RSS is /usr/bin/time's %M (the largest process of the run: heaptrack's "
          "interpreter is a separate process).")
    print()
    print("| variant | baseline | live heap MiB | peak RSS MiB | peak RSS − baseline's, MiB "
          "| as % of the live heap | max RSS, MiB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, base, skip in variants:
        if skip:
            print(f"| {name} | {base} | — | — | — | — | skipped: {skip} |")
            continue
        peak = med("mem", config, name, "peak_rss_kib")
        if peak is None:
            why = failure("mem", config, name) or "no runs"
            print(f"| {name} | {base} | — | — | — | — | {why} |")
            continue
        live = med("mem", config, name, "live_bytes") / 2**20
        max_rss = med("mem", config, name, "max_rss_kib")
        bpeak = med("mem", config, base, "peak_rss_kib") if base != "-" else None
        delta = f"{(peak - bpeak) / 1024:+.1f}" if bpeak else ""
        pct = f"{(peak - bpeak) / 1024 / live:+.2%}" if bpeak else ""
        mr = f"{max_rss / 1024:.1f}" if max_rss else "n/a"
        print(f"| {name} | {base} | {live:.1f} | {peak / 1024:.1f} | {delta} | {pct} | {mr} |")
    off = med("mem", config, "lw-off", "peak_rss_kib")
    live_kib = (med("mem", config, "lw-off", "live_bytes") or 0) / 1024
    parts = []
    for name in ("lw-512KiB", "lw-2MiB"):
        peak = med("mem", config, name, "peak_rss_kib")
        if off and peak and live_kib:
            delta = peak - off
            parts.append(f"{name} {delta / 1024:+.1f} MiB ({delta / live_kib:+.2%} of the live heap)")
    if parts:
        print()
        print("The leakwatch rows include the agent itself (lw-off − glibc); the sampler alone, peak RSS "
              "− lw-off's: " + ", ".join(parts) + ".")
EOF_PY

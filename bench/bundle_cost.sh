#!/usr/bin/env bash
# bench/bundle_cost.sh: what an incident bundle costs the host (docs/PERFORMANCE.md, "Incident bundles: time,
# size and host latency"). Runs leakwatch_bundle_cost once per variant, one variant at a time, and prints the
# medians as Markdown tables.
#
#   bench/bundle_cost.sh                               # BUILD_DIR=build-bench, CAPTURES=30, SIZES_MIB=100,1024,4096
#   VARIANTS="glibc jemalloc-prof" CAPTURES=5 bench/bundle_cost.sh
#   OUT_DIR=/tmp/bundle-cost bench/bundle_cost.sh      # keep the JSON lines there
#   LONG_IDLE_S=0 bench/bundle_cost.sh                 # skip the long agent-idle / no-agent windows (20 s each)
#
# Variants (label: heap, K request threads + M mapper threads, allocator; see bench/bundle_cost.cc):
#   glibc          objects of 64 B .. 64 KiB in containers, K=2 (both cores busy), glibc malloc
#   glibc-k1       the same with K=1 (a core left for the agent)
#   glibc-k0       the same with no requests: the bundle alone on an otherwise idle process
#   glibc-map      objects, K=1 + M=1 (a thread mapping and unmapping 64 KiB every 200 µs)
#   mmap           16 KiB .. 1 MiB anonymous mappings with guard pages (two VMAs each), K=1 + M=1
#   jemalloc-prof  as glibc, under LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,lg_prof_sample:19
#                  (skipped with a message when libjemalloc2 is not installed)
# The program checks MemAvailable before each size and skips a size (and the larger ones) without 2x headroom.
# Bundles go to a scratch directory under TMPDIR (default /tmp: it must be a disk filesystem for the page-cache
# figures to mean anything; its type is printed) that is removed at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
CAPTURES=${CAPTURES:-30}
SIZES_MIB=${SIZES_MIB:-100,1024,4096}
VARIANTS=${VARIANTS:-glibc glibc-k1 glibc-k0 glibc-map mmap jemalloc-prof}
LONG_IDLE_S=${LONG_IDLE_S:-20}
BIN="$BUILD_DIR/bench/leakwatch_bundle_cost"
[[ -x "$BIN" ]] || { echo "missing $BIN: build $BUILD_DIR first (docs/PERFORMANCE.md)" >&2; exit 1; }
OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/leakwatch-bundle-cost.XXXXXX")}
mkdir -p "$OUT_DIR"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/leakwatch-bundle-scratch.XXXXXX")
LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

CHILD=''
cleanup() {
  if [[ -n $CHILD ]]; then
    kill "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# label | heap | request threads | mapper threads | preloaded library | Debian package | extra environment
declare -A CASES=(
  [glibc]="objects|2|0|||"
  [glibc-k1]="objects|1|0|||"
  [glibc-k0]="objects|0|0|||"
  [glibc-map]="objects|1|1|||"
  [mmap]="mmap|1|1|||"
  [jemalloc-prof]="objects|2|0|libjemalloc.so.2|libjemalloc2|MALLOC_CONF=prof:true,lg_prof_sample:19"
)

meminfo_mib() { awk -v k="$1:" '$1 == k {printf "%d", $2 / 1024}' /proc/meminfo; }

echo "# leakwatch bundle cost: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# machine: nproc=$(nproc) MemTotal=$(meminfo_mib MemTotal) MiB kernel=$(uname -r) cpu='$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)'"
echo "# THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown); bundle filesystem: $(findmnt -n -o FSTYPE -T "$SCRATCH" 2>/dev/null || stat -f -c %T "$SCRATCH")"
echo "# CAPTURES=$CAPTURES SIZES_MIB=$SIZES_MIB LONG_IDLE_S=$LONG_IDLE_S VARIANTS='$VARIANTS'"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

skipped=()
for label in $VARIANTS; do
  [[ -n ${CASES[$label]:-} ]] || { echo "unknown variant $label (known: ${!CASES[*]})" >&2; exit 1; }
  IFS='|' read -r heap k m lib package extra <<<"${CASES[$label]}"
  long=$LONG_IDLE_S
  ((k + m > 0)) || long=0  # nothing to time
  env_args=()
  if [[ -n $lib ]]; then
    if [[ ! -r "$LIBDIR/$lib" ]]; then
      skipped+=("$label: $LIBDIR/$lib missing (Debian package $package)")
      continue
    fi
    env_args+=("LD_PRELOAD=$LIBDIR/$lib")
  fi
  [[ -n $extra ]] && env_args+=("$extra")
  mkdir -p "$SCRATCH/$label"
  echo "# $label: start $(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg), MemAvailable $(meminfo_mib MemAvailable) MiB" >&2
  env "${env_args[@]}" "$BIN" --label "$label" --heap "$heap" --request-threads "$k" --map-threads "$m" --long-idle-s "$long" \
    --sizes-mib "$SIZES_MIB" --captures "$CAPTURES" --dir "$SCRATCH/$label" \
    >"$OUT_DIR/$label.jsonl" 2> >(tee "$OUT_DIR/$label.log" >&2) &
  CHILD=$!
  wait "$CHILD"
  CHILD=''
  rm -rf "${SCRATCH:?}/$label"
  echo "# $label: end $(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# JSON lines: $OUT_DIR"

python3 - "$OUT_DIR" $VARIANTS <<'EOF_PY'
import json, os, statistics, sys
from collections import defaultdict

out_dir, labels = sys.argv[1], sys.argv[2:]
rows = []
for label in labels:
    path = os.path.join(out_dir, label + ".jsonl")
    if os.path.exists(path):
        rows += [json.loads(l) for l in open(path) if l.startswith("{")]

med = statistics.median


def rng(v, fmt="{:.1f}"):
    return f"{fmt.format(med(v))} ({fmt.format(min(v))}..{fmt.format(max(v))})"


def size_name(mib):
    return f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"


for r in rows:
    if r["type"] == "env":
        print(f"# {r['label']}: heap={r['heap']} request_threads={r['request_threads']} map_threads={r['map_threads']} "
              f"threads={r['threads']} fds={r['fds']}")
    elif r["type"] == "size":
        print(f"# {r['label']} {size_name(r['size_mib'])}: RSS {r['rss_bytes'] >> 20} MiB, {r['heap_pieces']} heap "
              f"pieces, {r['mappings']} mappings (smaps_rollup read {r['smaps_rollup_ms']:.2f} ms), {r['threads']} threads, "
              f"{r['fds']} fds, grown in {r['grow_s']:.1f} s")
    elif r["type"] == "skip":
        print(f"# {r['label']} {size_name(r['size_mib'])} skipped: {r['why']}")

bundles = defaultdict(list)
for r in rows:
    if r["type"] == "bundle":
        bundles[(r["label"], r["size_mib"], r["kind"])].append(r)

print()
print("Bundles: median (min..max) over the runs. duration = the writer's own (BundleResult::duration); wall = "
      "what the caller waited; CPU and run-queue wait of the writing thread (schedstat); peak RSS rise = VmHWM - VmRSS "
      "over the bundle window, and over the idle window of the same length before it.")
print()
print("| variant | RSS | bundle | runs | duration ms | wall ms | writer CPU ms | writer run-queue wait ms | bytes (allocated) | "
      "left in page cache | peak RSS rise KiB: bundle / idle | heap profile | skipped parts |")
print("|---|---|---|---:|---|---|---|---|---:|---:|---|---|---|")
for (label, size, kind), rs in bundles.items():
    heap = sorted({("written" if r.get("heap_profile_written") else "no") for r in rs})
    skipped = sorted({s["part"] for r in rs for s in r.get("skipped", [])})
    print(f"| {label} | {size_name(size)} | {kind} | {len(rs)} | {rng([r['duration_ms'] for r in rs])} | "
          f"{rng([r['wall_ms'] for r in rs])} | {rng([r['cpu_ms'] for r in rs])} | "
          f"{rng([r['runq_wait_ms'] for r in rs])} | {med([r['bytes'] for r in rs]):,.0f} "
          f"({med([r['allocated_bytes'] for r in rs]):,.0f}) | "
          f"{med([r['cached_bytes'] for r in rs]):,.0f} | "
          f"{med([r['peak_rss_rise_kib'] for r in rs]):.0f} (max {max(r['peak_rss_rise_kib'] for r in rs)}) / "
          f"{med([r['idle_peak_rss_rise_kib'] for r in rs]):.0f} (max {max(r['idle_peak_rss_rise_kib'] for r in rs)}) | "
          f"{', '.join(heap)} | {', '.join(skipped) or '-'} |")

print()
print("Files: median bytes per file.")
print()
for (label, size, kind), rs in bundles.items():
    names = sorted({n for r in rs for n in r["files"]})
    parts = ", ".join(f"{n} {med([r['files'].get(n, 0) for r in rs]):,.0f}" for n in names)
    print(f"- {label} {size_name(size)} {kind}: {parts}")
    whys = sorted({r.get("heap_profile_why", "") for r in rs} - {""})
    if whys:
        print(f"  - heap profile: {'; '.join(whys)}")

lat = {(r["label"], r["size_mib"], r["op"], r["class"]): r for r in rows if r["type"] == "latency"}
print()
print("Host latency, µs, all operations of a class pooled (one overlapping a bundle counts as 'during'); "
      "ratios = during / agent idle (paired windows of the same total length) and during / no agent; "
      "idle_long / none_long: one long window each, agent running without bundles / no agent.")
print()
print("| variant | RSS | op | class | window s | ops | p50 | p99 | p99.9 | max | ops > 1 / 10 / 100 ms | "
      "p50, p99, p99.9, max vs idle | vs no agent |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---|")
for (label, size, op, cls), r in sorted(lat.items(), key=lambda kv: (labels.index(kv[0][0]), kv[0][1], kv[0][2])):
    def ratio(base):
        if base is None or cls == base["class"]:
            return "-"
        q = [("p50_us"), ("p99_us"), ("p999_us"), ("max_us")]
        return ", ".join(f"{r[k] / base[k]:.2f}x" if base[k] else "-" for k in q)
    idle = None
    if cls in ("capture", "full"):
        idle = lat.get((label, size, op, "idle_" + cls))
    if cls == "idle_long":
        none = lat.get((label, size, op, "none_long"))
    elif cls in ("none", "none_long"):
        none = None
    else:
        none = lat.get((label, size, op, "none"))
    print(f"| {label} | {size_name(size)} | {op} | {cls} | {r['window_s']:.2f} | {r['requests']:,} | {r['p50_us']:.1f} | "
          f"{r['p99_us']:.1f} | {r['p999_us']:.1f} | {r['max_us']:.0f} | "
          f"{r['over_1ms']} / {r['over_10ms']} / {r['over_100ms']} | {ratio(idle)} | {ratio(none)} |")
EOF_PY
for s in "${skipped[@]+"${skipped[@]}"}"; do echo "skipped: $s"; done

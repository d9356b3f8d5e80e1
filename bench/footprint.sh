#!/usr/bin/env bash
# bench/footprint.sh: what the agent adds to a host process (threads, RSS, CPU), default options, idle.
#
#   bench/footprint.sh                   # DURATION=120 s by default (RSS is also sampled at 60 s)
#   BUILD_DIR=build-x DURATION=300 bench/footprint.sh
#
# Starts three instances of leakwatch_footprint_host side by side (same binary, same libraries):
#   none     no agent (baseline)
#   sampler  Agent with default options, HTTP off (the sampler thread only)
#   http     Agent with default options, HTTP on 127.0.0.1:0 (sampler + civetweb master + 4 workers)
# and, after a 2 s settling time, samples each for DURATION seconds: thread count and names
# (/proc/PID/task/*/comm), VmRSS / RssAnon / RssFile at the start, at 60 s and at the end, and CPU time:
# the sum of the first field of /proc/PID/task/*/schedstat (ns, live threads; the agent's threads live for the whole
# run) and utime+stime from /proc/PID/stat (10 ms resolution, as a cross-check). CPU per hour is extrapolated
# linearly from the DURATION window. No scrapes are made (an idle agent: see docs/PERFORMANCE.md for scrape cost).
# Also runs leakwatch_tick_probe --pid self twice: ticks back to back (warm caches, like the Google Benchmark loop)
# and one tick per second for 30 s (what the agent does), to show what a tick costs with cold caches.
# Every host started here is killed by PID on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
DURATION=${DURATION:-120}
HOST="$BUILD_DIR/bench/leakwatch_footprint_host"
PROBE="$BUILD_DIR/bench/leakwatch_tick_probe"
[[ -x "$PROBE" ]] || { echo "missing $PROBE: build $BUILD_DIR first (docs/PERFORMANCE.md)" >&2; exit 1; }
[[ -x "$HOST" ]] || { echo "missing $HOST: build $BUILD_DIR first (docs/PERFORMANCE.md)" >&2; exit 1; }
(( DURATION >= 60 )) || { echo "DURATION must be >= 60 (RSS is sampled at 60 s)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/leakwatch-footprint.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "${PIDS[@]}"; do
    if [[ -n $pid ]]; then wait "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CLK_TCK=$(getconf CLK_TCK)
MODES=(none sampler http)
declare -A PID

status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
sched_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# "tid comm ns" per live thread.
thread_cpu() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(tr ' ' '_' <"$t/comm") $(cut -d' ' -f1 "$t/schedstat")"
  done 2>/dev/null
}
task_count() {
  local tasks=(/proc/"$1"/task/*)
  echo "${#tasks[@]}"
}
thread_names() { cat /proc/"$1"/task/*/comm | sort | uniq -c | awk '{printf "%s%s x%d", sep, $2, $1; sep=", "}'; }

for mode in "${MODES[@]}"; do
  "$HOST" --mode "$mode" >"$WORK/$mode.out" 2>"$WORK/$mode.err" &
  PID[$mode]=$!
  PIDS+=("${PID[$mode]}")
done
for mode in "${MODES[@]}"; do
  for _ in $(seq 1 100); do
    grep -q '^ready' "$WORK/$mode.out" && break
    kill -0 "${PID[$mode]}" 2>/dev/null || break
    sleep 0.05
  done
  grep -q '^ready' "$WORK/$mode.out" || { echo "host $mode did not start: $(cat "$WORK/$mode.err")" >&2; exit 1; }
done
sleep 2

echo "# leakwatch footprint: $(date -u +%Y-%m-%dT%H:%M:%SZ), DURATION=${DURATION}s"
echo "# machine: nproc=$(nproc) kernel=$(uname -r) cpu='$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)'"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A S
t_start=$(date +%s.%N)
for mode in "${MODES[@]}"; do
  p=${PID[$mode]}
  S[$mode,threads]=$(task_count "$p")
  S[$mode,names]=$(thread_names "$p")
  S[$mode,rss0]=$(status_kib "$p" VmRSS)
  S[$mode,ns0]=$(sched_ns "$p")
  S[$mode,tk0]=$(cpu_ticks "$p")
  thread_cpu "$p" >"$WORK/$mode.threads0"
  echo "# $mode: pid $p, $(cat "$WORK/$mode.out"), threads ${S[$mode,threads]} (${S[$mode,names]}), VmRSS ${S[$mode,rss0]} KiB"
done
# The cold-tick probe sleeps between ticks: it runs inside the window without competing with the hosts.
"$PROBE" --pid self --iterations 30 --interval-us 1000000 >"$WORK/probe-cold.out" &
PROBE_PID=$!
PIDS+=("$PROBE_PID")
sleep 60
for mode in "${MODES[@]}"; do S[$mode,rss60]=$(status_kib "${PID[$mode]}" VmRSS); done
sleep $((DURATION - 60))
t_end=$(date +%s.%N)
for mode in "${MODES[@]}"; do
  p=${PID[$mode]}
  S[$mode,rss1]=$(status_kib "$p" VmRSS)
  S[$mode,anon1]=$(status_kib "$p" RssAnon)
  S[$mode,file1]=$(status_kib "$p" RssFile)
  S[$mode,ns1]=$(sched_ns "$p")
  S[$mode,tk1]=$(cpu_ticks "$p")
  S[$mode,threads1]=$(task_count "$p")
  thread_cpu "$p" >"$WORK/$mode.threads1"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
wall=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN {printf "%.1f", b - a}')
echo "# measured window: ${wall} s"
echo
echo "| host | threads | VmRSS start / 60 s / end KiB | RssAnon / RssFile end KiB | CPU in window ms (schedstat; utime+stime) | CPU per hour s (extrapolated) | added vs none: threads, VmRSS end KiB, CPU s/hour |"
echo "|---|---|---|---|---|---|---|"
for mode in "${MODES[@]}"; do
  awk -v m="$mode" -v th="${S[$mode,threads1]}" -v r0="${S[$mode,rss0]}" -v r60="${S[$mode,rss60]}" \
      -v r1="${S[$mode,rss1]}" -v a1="${S[$mode,anon1]}" -v f1="${S[$mode,file1]}" \
      -v n0="${S[$mode,ns0]}" -v n1="${S[$mode,ns1]}" -v k0="${S[$mode,tk0]}" -v k1="${S[$mode,tk1]}" \
      -v bth="${S[none,threads1]}" -v br1="${S[none,rss1]}" -v bn0="${S[none,ns0]}" -v bn1="${S[none,ns1]}" \
      -v w="$wall" -v hz="$CLK_TCK" 'BEGIN {
    cpu = (n1 - n0) / 1e6; tk = (k1 - k0) / hz * 1000; hour = cpu / 1000 * 3600 / w
    bhour = (bn1 - bn0) / 1e9 * 3600 / w
    printf "| %s | %d | %d / %d / %d | %d / %d | %.1f; %.0f | %.2f | %+d, %+d, %+.2f |\n",
      m, th, r0, r60, r1, a1, f1, cpu, tk, hour, th - bth, r1 - br1, hour - bhour
  }'
done
wait "$PROBE_PID" || true
PIDS=("${PIDS[@]/$PROBE_PID}")  # reaped: never signal that pid again
"$PROBE" --pid self --iterations 2000 >"$WORK/probe-warm.out" || true
echo
echo "Tick probe (--pid self, every-tick readers): CPU per tick"
echo "  back to back (warm): $(cat "$WORK/probe-warm.out")"
echo "  one per second (cold): $(cat "$WORK/probe-cold.out")"
echo
echo "CPU in the window by thread name (ms, and µs per second of wall time; schedstat of the threads alive at both ends):"
for mode in "${MODES[@]}"; do
  awk -v m="$mode" -v w="$wall" 'NR == FNR {start[$1] = $3; next}
    ($1 in start) {cpu[$2] += ($3 - start[$1]) / 1e6; n[$2]++}
    END {printf "  %s:", m; for (c in cpu) printf " %s(x%d)=%.1f (%.0f us/s)", c, n[c], cpu[c], cpu[c] * 1000 / w; printf "\n"}' \
    "$WORK/$mode.threads0" "$WORK/$mode.threads1"
done

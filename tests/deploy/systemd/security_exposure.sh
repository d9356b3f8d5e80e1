#!/usr/bin/env bash
# security_exposure.sh UNIT MAX: `systemd-analyze security --offline=yes` scores the unit's sandboxing from the
# file alone (0 = fully locked down, 10 = fully exposed) and the test fails when the exposure rises above MAX.
# Skipped (77) when systemd-analyze is missing or too old for --offline (systemd < 250).
set -euo pipefail
unit=$1
max=$2
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed (Debian package systemd)"; exit 77; }
if ! systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
  echo "SKIP: this systemd-analyze has no 'security --offline' (systemd 250 or later)"
  exit 77
fi
# --threshold counts in tenths: 20 is an exposure of 2.0.
threshold=$(awk -v m="$max" 'BEGIN { printf "%d", m * 10 + 0.5 }')
rc=0
out=$(systemd-analyze security --offline=yes --no-pager --threshold="$threshold" "$unit" 2>&1) || rc=$?
grep -v '✓' <<<"$out" || true
if [ "$rc" -ne 0 ]; then
  echo "FAIL: the exposure of $unit is above $max (or the analysis failed, exit $rc)"
  exit 1
fi

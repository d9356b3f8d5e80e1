#!/usr/bin/env bash
# verify_unit.sh UNIT: `systemd-analyze verify` on a systemd unit, offline (no running systemd needed).
#
# verify insists that ExecStart's binary exists and is executable, and the unit's binary
# (/usr/local/bin/leakwatch-demo) is only there on a host where it was installed. So the unit checked here is
# a copy, under the same name, in a temporary folder, whose ExecStart= path alone is rewritten to /bin/true;
# every other line is verified as written. Any diagnostic naming the unit (an unknown or misspelt directive,
# a bad value, which verify only warns about) fails the test, not just a non-zero exit.
#
# Skipped (77) when systemd-analyze is missing, or when it cannot verify even a trivial unit here (a container
# without the pieces it needs).
set -euo pipefail
unit=$1
name=$(basename "$unit")
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed (Debian package systemd)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/control"
printf '[Service]\nExecStart=/bin/true\n' >"$tmp/control/leakwatch-control-check.service"
if ! out=$(systemd-analyze verify --man=no "$tmp/control/leakwatch-control-check.service" 2>&1); then
  echo "SKIP: systemd-analyze verify does not work here (a trivial unit fails too):"
  echo "$out"
  exit 77
fi

sed -E 's|^(ExecStart=[-@:+!]*)/[^ ]+|\1/bin/true|' "$unit" >"$tmp/$name"
grep -q '^ExecStart=[-@:+!]*/bin/true' "$tmp/$name" || { echo "$unit: no ExecStart= with an absolute path"; exit 1; }
rc=0
out=$(systemd-analyze verify --man=no "$tmp/$name" 2>&1) || rc=$?
[ -n "$out" ] && echo "$out"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: systemd-analyze verify exited $rc for $unit"
  exit 1
fi
if grep -qF "$name" <<<"$out"; then
  echo "FAIL: systemd-analyze verify reported problems in $unit (above)"
  exit 1
fi
echo "ok: $unit verified by $(systemd-analyze --version | head -n 1)"

#!/usr/bin/env bash
# check_bad_fixtures.sh WORK_DIR BAD_DIR: proves the validator fails where it should. Each case is a file
# BAD_DIR/NAME.yaml, or a folder BAD_DIR/NAME/ whose *.yaml are validated together. Its `# expect: TEXT`
# lines each name a problem the validator must report: TEXT must appear on an output line that starts with
# the file's path (for a folder case, TEXT starts with the file's name within the folder). The validator
# must exit 1 for every case.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"
work=$1
bad=$2
ensure_validator "$work"

failed=0
cases=0
check_case() {
  local name=$1; shift
  local out rc=0
  out=$(node "$work/validate.mjs" "$@") || rc=$?
  cases=$((cases + 1))
  if [ "$rc" -ne 1 ]; then
    echo "FAIL $name: the validator exited $rc, expected 1. Output:"
    echo "$out"
    failed=$((failed + 1))
    return
  fi
  local f text found expectations=0 ok=1
  for f in "$@"; do
    while IFS= read -r text; do
      expectations=$((expectations + 1))
      if [ "$#" -gt 1 ]; then  # a folder case: TEXT starts with the name of the file within the folder
        grep -qF -- "$(dirname "$f")/$text" <<<"$out" && found=1 || found=0
      else
        grep -F -- "$f: " <<<"$out" | grep -qF -- "$text" && found=1 || found=0
      fi
      if [ "$found" -eq 0 ]; then
        echo "FAIL $name: no output line for: $text"
        ok=0
      fi
    done < <(sed -n 's/^# expect: //p' "$f")
  done
  if [ "$expectations" -eq 0 ]; then
    echo "FAIL $name: no '# expect:' line"
    ok=0
  fi
  if [ "$ok" -eq 1 ]; then
    echo "ok   $name ($expectations expected problem(s) reported)"
  else
    echo "     validator output:"
    while IFS= read -r line; do echo "       $line"; done <<<"$out"
    failed=$((failed + 1))
  fi
}

shopt -s nullglob
for f in "$bad"/*.yaml; do
  check_case "$(basename "$f")" "$f"
done
for d in "$bad"/*/; do
  files=("$d"*.yaml)
  check_case "$(basename "$d")/" "${files[@]}"
done
if [ "$cases" -eq 0 ]; then
  echo "no cases in $bad"
  exit 1
fi
echo "$((cases - failed)) of $cases bad fixture(s) rejected as expected"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# validate_dir.sh WORK_DIR DIR: validates every DIR/*.yaml together (schemas and cross-checks, validate.mjs).
# The files are listed when the test runs, so a manifest added to DIR is checked without re-running CMake.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"
work=$1
dir=$2
ensure_validator "$work"
shopt -s nullglob
files=("$dir"/*.yaml)
if [ ${#files[@]} -eq 0 ]; then
  echo "no *.yaml in $dir"
  exit 1
fi
exec node "$work/validate.mjs" "${files[@]}"

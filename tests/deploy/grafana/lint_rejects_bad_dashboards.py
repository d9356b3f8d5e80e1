#!/usr/bin/env python3
"""Proves grafana/lint_dashboard.py can fail: runs it on the broken fixtures in bad/ and checks that each one is
rejected (exit 1) with exactly the expected violations, and that good.json, the dashboard every fixture breaks
in one place, passes.

    python3 tests/deploy/grafana/lint_rejects_bad_dashboards.py grafana/lint_dashboard.py tests/deploy/grafana

Cases that need promtool are skipped (and said so) when it is not installed; the others still run.
"""

import os
import shutil
import subprocess
import sys

# fixture -> (linter options, substrings: each must appear in one output line, and each line must contain one)
EXPECTED = {
    "missing-description": ([], ['panel "Memory" (id 2): no description']),
    "missing-unit": ([], ['panel "Memory" (id 2): no fieldConfig.defaults.unit']),
    "selector-without-instance": ([], [
        'panel "Memory" (id 2): query A: selector leakwatch_cgroup_memory_working_set_bytes lacks '
        'instance=~"$instance"']),
    "row-panel-without-instance": ([], [
        'panel "Threads" (id 5): query A: selector process_threads lacks instance=~"$instance"']),
    "binary-operand-unfiltered": ([], [
        'selector leakwatch_cgroup_memory_limit_bytes lacks job=~"$job"',
        'selector leakwatch_cgroup_memory_limit_bytes lacks instance=~"$instance"']),
    "annotation-without-job": ([], [
        'annotation "Incident bundles": selector leakwatch_bundle_last_timestamp_seconds lacks job=~"$job"']),
    "rate-fixed-range": ([], ['panel "CPU usage" (id 3): query A: rate() over [5m] instead of [$__rate_interval]']),
    "range-variable": ([], ['panel "Memory" (id 2): query A: uses $__range']),
    "missing-uid": ([], ["dashboard: no fixed uid"]),
    "no-job-variable": ([], ["dashboard: no job variable"]),
    "no-datasource-variable": ([], ["dashboard: no datasource variable"]),
    "instance-not-multi": ([], ['variable "instance": not multi-value']),
    "job-without-all": ([], ['variable "job": has no All option']),
    "overlapping-gridpos": ([], ['panel "CPU usage" (id 3): gridPos overlaps panel "Memory" (id 2)']),
    "duplicate-panel-id": ([], ['panel "CPU usage" (id 2): id also used by panel "Memory"']),
    "hardcoded-datasource": ([], ['panel "Memory" (id 2): datasource is not ${datasource}']),
    "target-hardcoded-datasource": ([], ['panel "Memory" (id 2): query A: datasource is not ${datasource}']),
    # Two selectors side by side: the conventions hold, only PromQL's parser can tell.
    "unparsable-query": (["--promtool"], [
        'panel "Memory" (id 2): query A: promtool: ', 'unexpected identifier "process_resident_memory_bytes"']),
}


def run(lint, path, options):
    result = subprocess.run([sys.executable, lint] + options + [path], capture_output=True, text=True)
    return result.returncode, [line for line in result.stdout.splitlines() if line.strip()], result.stderr


def main():
    if len(sys.argv) != 3:
        print("usage: %s LINT_DASHBOARD.py FIXTURE_DIR" % sys.argv[0], file=sys.stderr)
        return 2
    lint, fixtures = sys.argv[1], sys.argv[2]
    have_promtool = shutil.which("promtool") is not None
    failures = []

    code, lines, err = run(lint, os.path.join(fixtures, "good.json"), ["--promtool"] if have_promtool else [])
    if code != 0 or lines:
        failures.append("good.json: expected to pass, got exit %d:\n  %s" % (code, "\n  ".join(lines) or err))

    bad_dir = os.path.join(fixtures, "bad")
    present = sorted(name[:-len(".json")] for name in os.listdir(bad_dir) if name.endswith(".json"))
    for name in sorted(set(present) ^ set(EXPECTED)):
        failures.append("%s: %s" % (name, "fixture without an expectation here" if name in present
                                    else "expectation without a fixture in bad/"))

    for name in sorted(set(present) & set(EXPECTED)):
        options, expected = EXPECTED[name]
        path = os.path.join(bad_dir, name + ".json")
        if "--promtool" in options and not have_promtool:
            print("skipped %s: promtool not installed (Debian package prometheus)" % name)
            continue
        code, lines, err = run(lint, path, options)
        problems = []
        if code != 1:
            problems.append("exit %d, expected 1%s" % (code, ": " + err.strip() if err.strip() else ""))
        for substring in expected:
            if not any(substring in line for line in lines):
                problems.append("no violation containing %r" % substring)
        for line in lines:
            if not line.startswith(path + ": "):
                problems.append("line does not start with the file name: %r" % line)
            if not any(substring in line for substring in expected):
                problems.append("unexpected violation: %r" % line)
        if problems:
            failures.append("%s:\n  %s\n  output:\n    %s" % (name, "\n  ".join(problems), "\n    ".join(lines)))
        else:
            print("ok %s" % name)
        if "--promtool" in options:  # and the conventions alone do not see it
            code, lines, _ = run(lint, path, [])
            if code != 0:
                failures.append("%s: expected to pass without --promtool, got exit %d:\n  %s"
                                % (name, code, "\n  ".join(lines)))

    for failure in failures:
        print("FAIL " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

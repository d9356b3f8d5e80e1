#!/usr/bin/env python3
"""Routes every leakwatch alert through deploy/alertmanager/alertmanager.yml with `amtool config routes test`.

    check_alertmanager_routes.py ALERTMANAGER.yml RULES.yml

Every alert of the rules file, with its severity label, must reach "pager" when critical and "ticket" when
warning; an alert that is not leakwatch's must reach "default". Prints one line per alert; exits 1 on any
mismatch (amtool's own output is shown).
"""

import subprocess
import sys

import yaml

EXPECTED = {"critical": "pager", "warning": "ticket"}


def route(config, labels, receiver):
    cmd = ["amtool", "config", "routes", "test", "--config.file=" + config, "--verify.receivers=" + receiver]
    cmd += ["%s=%s" % kv for kv in sorted(labels.items())]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    got = proc.stdout.strip()
    ok = proc.returncode == 0
    print("%s %s -> %s (expected %s)" % ("ok  " if ok else "FAIL", labels, got or "?", receiver))
    if not ok:
        sys.stdout.write(proc.stderr)
    return ok


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    config, rules_path = sys.argv[1:]
    with open(rules_path, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    ok = True
    seen = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            severity = rule["labels"]["severity"]
            key = (rule["alert"], severity)
            if key in seen:
                continue
            seen.add(key)
            labels = {"alertname": rule["alert"], "severity": severity, "job": "leakwatch", "instance": "i:9860"}
            ok &= route(config, labels, EXPECTED[severity])
    ok &= route(config, {"alertname": "NodeFilesystemAlmostOutOfSpace", "severity": "critical"}, "default")
    if not seen:
        print("%s: no alerts found" % rules_path)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

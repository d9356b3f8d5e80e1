#!/usr/bin/env python3
"""Checks leakwatch's alert rules against the monitoring-mixin conventions leakwatch promises.

    check_rule_conventions.py RULES.yml RULES.test.yml RUNBOOK_DIR

- alert names are CamelCase with the Leakwatch prefix; every alert has a `for`, a severity of critical or
  warning, a static summary, a description templated with the instance (absent() alerts excepted) and the
  value (or a value looked up with `query`), and a runbook_url
  ending in /<alert>.md for which RUNBOOK_DIR/<alert>.md exists;
- every alert name and severity fires in at least one promtool test, and every alert name has a test time at
  which it must stay silent (exp_alerts: []);
- every metric selector of an expression carries the configured target selector (recording rules' outputs
  excepted), so no expression picks up another job's process_* series.
Prints one line per violation and exits 1 if there is any.
"""

import os
import re
import sys

import yaml

ALERT_NAME = re.compile(r"Leakwatch[A-Z][A-Za-z0-9]*")
SELECTOR_COMMENT = re.compile(r"^# Selector: \{(.*)\}\.", re.M)
FUNCTIONS_AND_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "max", "min", "sum", "avg", "count", "topk", "bottomk", "quantile", "stddev", "stdvar", "count_values",
    "group", "absent", "time", "clamp_min", "clamp_max", "predict_linear", "deriv", "rate", "irate",
    "increase", "delta", "changes", "resets", "max_over_time", "min_over_time", "avg_over_time", "vector",
    "scalar", "label_replace", "abs", "histogram_quantile",
}


def metric_selectors(expr):
    """(metric name, label matcher text or None) for every vector selector of a PromQL expression."""
    matchers = []

    def keep(m):
        matchers.append(m.group(1))
        return "{#%d}" % (len(matchers) - 1)

    text = re.sub(r"\{((?:\"(?:\\.|[^\"\\])*\"|[^}\"])*)\}", keep, expr)
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    found = []
    for m in re.finditer(r"(?<![A-Za-z0-9_:.#])([A-Za-z_:][A-Za-z0-9_:]*)\s*(\(|\{#(\d+)\})?", text):
        name, call, index = m.group(1), m.group(2) == "(", m.group(3)
        if call or name in FUNCTIONS_AND_KEYWORDS:
            continue
        found.append((name, matchers[int(index)] if index is not None else None))
    return found


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    rules_path, tests_path, runbook_dir = sys.argv[1:]
    with open(rules_path, encoding="utf-8") as f:
        rules_text = f.read()
    rules = yaml.safe_load(rules_text)
    with open(tests_path, encoding="utf-8") as f:
        tests = yaml.safe_load(f)
    m = SELECTOR_COMMENT.search(rules_text)
    selector = m.group(1) if m else None
    errors = []

    def error(rule, message):
        errors.append("%s: %s: %s" % (rules_path, rule.get("alert") or rule.get("record"), message))

    if selector is None:
        errors.append("%s: no '# Selector: {...}.' header line" % rules_path)

    recorded = set()
    alerts = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                recorded.add(rule["record"])
            else:
                alerts.append(rule)

    for group in rules["groups"]:
        for rule in group["rules"]:
            for name, matchers in metric_selectors(rule["expr"]):
                if name in recorded:
                    continue
                if selector and (matchers is None or selector not in matchers):
                    error(rule, "selector %s has no {%s}" % (name, selector))

    for rule in alerts:
        name = rule["alert"]
        if not ALERT_NAME.fullmatch(name):
            error(rule, "alert name is not CamelCase with the Leakwatch prefix")
        if "for" not in rule:
            error(rule, "no `for` duration")
        severity = rule.get("labels", {}).get("severity")
        if severity not in ("critical", "warning"):
            error(rule, "severity %r is not critical or warning" % severity)
        annotations = rule.get("annotations", {})
        summary = annotations.get("summary", "")
        description = annotations.get("description", "")
        if not summary or "{{" in summary:
            error(rule, "summary must be present and static")
        # absent() has no instance to name; an in-process rule's meaningful value is looked up by query.
        if "$labels.instance" not in description and not rule["expr"].startswith("absent("):
            error(rule, "description must name {{ $labels.instance }}")
        if "$value" not in description and "| query" not in description:
            error(rule, "description must give {{ $value }} (or a value looked up with query)")
        url = annotations.get("runbook_url", "")
        if not url.endswith("/%s.md" % name):
            error(rule, "runbook_url %r does not end in /%s.md" % (url, name))
        if not os.path.isfile(os.path.join(runbook_dir, name + ".md")):
            error(rule, "no runbook %s" % os.path.join(runbook_dir, name + ".md"))

    fired = set()
    silent = set()
    for test in tests["tests"]:
        for case in test.get("alert_rule_test", []):
            expected = case.get("exp_alerts") or []
            if not expected:
                silent.add(case["alertname"])
            for alert in expected:
                fired.add((case["alertname"], alert.get("exp_labels", {}).get("severity")))
    for rule in alerts:
        key = (rule["alert"], rule.get("labels", {}).get("severity"))
        if key not in fired:
            error(rule, "no promtool test in which the %s alert fires" % key[1])
        if rule["alert"] not in silent:
            error(rule, "no promtool test time at which it must stay silent (exp_alerts: [])")

    for line in dict.fromkeys(errors):  # twins (warning and critical) report a shared problem once
        print(line)
    if not errors:
        print("%s: %d alerts and %d recording rules follow the conventions" % (rules_path, len(alerts), len(recorded)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

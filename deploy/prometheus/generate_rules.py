#!/usr/bin/env python3
"""Generates leakwatch's Prometheus rules: recording rules and alerts.

    python3 deploy/prometheus/generate_rules.py            # rewrite the files below
    python3 deploy/prometheus/generate_rules.py --check    # exit 1 when a committed file is out of date
    python3 deploy/prometheus/generate_rules.py --selector 'namespace="payments",job="leakwatch"' \
        --runbook-url-base https://wiki.example.com/runbooks --out my-rules.yml   # your own copy

Writes deploy/prometheus/leakwatch-rules.yml (what Prometheus loads and `promtool test rules` tests) and
deploy/kubernetes/prometheus-rule.yaml (the same groups in a Prometheus Operator PrometheusRule). Never edit
those two by hand: change this file (or pass flags) and regenerate.

CONFIG is the one place to adapt the rules to a deployment, like a monitoring mixin's _config: the selector
that picks leakwatch's targets, the runbook URL base and the thresholds. Python 3 standard library only.
"""

import argparse
import json
import os
import re
import sys

CONFIG = {
    # Label matchers that select the targets running the leakwatch agent, without braces. Every expression
    # below uses it; `job="leakwatch"` is the job of deploy/prometheus/prometheus.yml and of the Kubernetes
    # monitors in deploy/kubernetes/.
    "selector": 'job="leakwatch"',
    # runbook_url = <base>/<AlertName>.md; the runbooks are docs/runbooks/<AlertName>.md in this repository.
    # Publish them where on-call can read them (a wiki, your Git server) and point this at that place.
    "runbook_url_base": "https://runbooks.example.com/leakwatch",
    # Memory: predicted time to the limit (seconds) and the working set as a fraction of the limit.
    "memory_critical_horizon_seconds": 30 * 60,
    "memory_warning_horizon_seconds": 4 * 3600,
    "memory_warning_min_ratio": 0.5,  # a 4 h projection tickets only once half the limit is used
    "memory_near_limit_warning_ratio": 0.85,
    "memory_near_limit_critical_ratio": 0.95,
    "restarted_near_limit_ratio": 0.90,
    # File descriptors against the soft RLIMIT_NOFILE (process_max_fds).
    "fds_critical_horizon_seconds": 30 * 60,
    "fds_warning_horizon_seconds": 4 * 3600,
    "fds_warning_min_ratio": 0.5,
    "fds_near_limit_warning_ratio": 0.80,
    "fds_near_limit_critical_ratio": 0.95,
    # Threads: a steady climb of at least this many threads per hour.
    "threads_growth_per_hour": 30,
}

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RULES_FILE = os.path.join(ROOT, "deploy", "prometheus", "leakwatch-rules.yml")
PROMETHEUS_RULE_FILE = os.path.join(ROOT, "deploy", "kubernetes", "prometheus-rule.yaml")


def expr(text, cfg):
    """Substitutes SEL, the target selector, into a PromQL expression written with {SEL} or {SEL,...}."""
    sel = cfg["selector"].strip()
    if sel:
        return text.replace("{SEL}", "{" + sel + "}").replace("{SEL,", "{" + sel + ",")
    return text.replace("{SEL}", "").replace("{SEL,", "{")


def humanize_seconds(seconds):
    if seconds % 3600 == 0:
        return "%d hours" % (seconds // 3600) if seconds != 3600 else "1 hour"
    return "%d minutes" % (seconds // 60)


def percent(ratio):
    return "%g%%" % (ratio * 100)


def recording_rules(cfg):
    """(record, expr) pairs. Each keeps the target labels (job, instance, ...) of its source series."""
    memory_limit = "leakwatch_cgroup_memory_limit_bytes{SEL}"
    rss = "process_resident_memory_bytes{SEL}"

    def seconds_to(limit, series, window):
        # Headroom from the fitted level now (predict_linear at 0 s), divided by the fitted slope; only
        # where the series grows. The same line predict_linear(series[window], t) > limit extrapolates.
        return (
            "clamp_min(%s - predict_linear(%s[%s], 0), 0)\n"
            "  /\n"
            "(deriv(%s[%s]) > 0)" % (limit, series, window, series, window)
        )

    rules = [
        (
            "instance:leakwatch_memory_working_set:ratio_limit",
            "leakwatch_cgroup_memory_working_set_bytes{SEL}\n  /\nleakwatch_cgroup_memory_limit_bytes{SEL}",
        ),
        (
            "instance:leakwatch_memory_seconds_to_limit:agent",
            'max without (window, signal) (\n'
            '  leakwatch_signal_seconds_to_limit{SEL,signal="cgroup_memory_working_set_bytes"}\n)',
        ),
        ("instance:leakwatch_memory_seconds_to_limit:predict_linear15m", seconds_to(memory_limit, rss, "15m")),
        ("instance:leakwatch_memory_seconds_to_limit:predict_linear1h", seconds_to(memory_limit, rss, "1h")),
        ("instance:leakwatch_open_fds:ratio_limit", "process_open_fds{SEL}\n  /\nprocess_max_fds{SEL}"),
        (
            "instance:leakwatch_open_fds_seconds_to_limit:agent",
            'max without (window, signal) (\n  leakwatch_signal_seconds_to_limit{SEL,signal="open_fds"}\n)',
        ),
        (
            "instance:leakwatch_open_fds_seconds_to_limit:predict_linear15m",
            seconds_to("process_max_fds{SEL}", "process_open_fds{SEL}", "15m"),
        ),
        (
            "instance:leakwatch_open_fds_seconds_to_limit:predict_linear1h",
            seconds_to("process_max_fds{SEL}", "process_open_fds{SEL}", "1h"),
        ),
    ]
    return [(name, expr(text, cfg)) for name, text in rules]


def alert(name, severity, for_, expression, summary, description, cfg):
    return {
        "alert": name,
        "expr": expr(expression, cfg),
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": "%s/%s.md" % (cfg["runbook_url_base"].rstrip("/"), name),
        },
    }


WHO = "{{ $labels.instance }} (job {{ $labels.job }})"


def alerts(cfg):
    mem_crit = cfg["memory_critical_horizon_seconds"]
    mem_warn = cfg["memory_warning_horizon_seconds"]
    fds_crit = cfg["fds_critical_horizon_seconds"]
    fds_warn = cfg["fds_warning_horizon_seconds"]
    out = []

    # Memory predicted to reach its limit. Critical: the agent's own projection (its slope windows are
    # 10 s to minutes, from every tick) or, where it has none, Prometheus' over 15 minutes. Warning: a
    # 4-hour horizon needs an hour of history, which Prometheus has and the agent's windows do not.
    out.append(alert(
        "LeakwatchMemoryFillingUp", "critical", "5m",
        "(\n  instance:leakwatch_memory_seconds_to_limit:agent\nor\n"
        "  instance:leakwatch_memory_seconds_to_limit:predict_linear15m\n) < %d" % mem_crit,
        "Process memory is predicted to reach its memory limit within %s." % humanize_seconds(mem_crit),
        WHO + " will reach its cgroup memory limit in {{ $value | humanizeDuration }} at its current growth "
        "rate; the kernel OOM-kills it then. leakwatch writes an incident bundle before that.",
        cfg))
    out.append(alert(
        "LeakwatchMemoryFillingUp", "warning", "30m",
        "instance:leakwatch_memory_seconds_to_limit:predict_linear1h < %d\n"
        "and\ninstance:leakwatch_memory_working_set:ratio_limit > %g" % (mem_warn, cfg["memory_warning_min_ratio"]),
        "Process memory is predicted to reach its memory limit within %s." % humanize_seconds(mem_warn),
        WHO + " uses more than %s of its memory limit and, at its growth over the last hour, reaches the limit "
        "in {{ $value | humanizeDuration }}." % percent(cfg["memory_warning_min_ratio"]),
        cfg))

    for severity, ratio, for_ in (("critical", cfg["memory_near_limit_critical_ratio"], "5m"),
                                  ("warning", cfg["memory_near_limit_warning_ratio"], "15m")):
        out.append(alert(
            "LeakwatchMemoryNearLimit", severity, for_,
            "instance:leakwatch_memory_working_set:ratio_limit > %g" % ratio,
            "Process memory is above %s of its memory limit." % percent(ratio),
            WHO + " uses {{ $value | humanizePercentage }} of its cgroup memory limit (working set: usage minus "
            "inactive page cache).",
            cfg))

    out.append(alert(
        "LeakwatchOOMKilled", "warning", "0m",
        'increase(leakwatch_cgroup_memory_events_total{SEL,event="oom_kill"}[15m]) > 0',
        "The kernel OOM killer killed a process in this service's memory cgroup.",
        "The memory cgroup of " + WHO + " had {{ $value | humanize }} OOM kill(s) in the last 15 minutes "
        "(memory.events oom_kill).",
        cfg))
    out.append(alert(
        "LeakwatchRestartedNearMemoryLimit", "warning", "0m",
        "changes(process_start_time_seconds{SEL}[15m]) > 0\nand\n"
        "max_over_time(instance:leakwatch_memory_working_set:ratio_limit[15m]) > %g"
        % cfg["restarted_near_limit_ratio"],
        "The process restarted after using most of its memory limit: probably OOM-killed.",
        WHO + " restarted {{ $value | humanize }} time(s) in the last 15 minutes after its working set reached "
        "more than %s of its memory limit." % percent(cfg["restarted_near_limit_ratio"]),
        cfg))

    out.append(alert(
        "LeakwatchFdsFillingUp", "critical", "5m",
        "(\n  instance:leakwatch_open_fds_seconds_to_limit:agent\nor\n"
        "  instance:leakwatch_open_fds_seconds_to_limit:predict_linear15m\n) < %d" % fds_crit,
        "Open file descriptors are predicted to reach their limit within %s." % humanize_seconds(fds_crit),
        WHO + " will run out of file descriptors (EMFILE) in {{ $value | humanizeDuration }} at its current "
        "growth rate.",
        cfg))
    out.append(alert(
        "LeakwatchFdsFillingUp", "warning", "30m",
        "instance:leakwatch_open_fds_seconds_to_limit:predict_linear1h < %d\n"
        "and\ninstance:leakwatch_open_fds:ratio_limit > %g" % (fds_warn, cfg["fds_warning_min_ratio"]),
        "Open file descriptors are predicted to reach their limit within %s." % humanize_seconds(fds_warn),
        WHO + " uses more than %s of its file descriptor limit and, at its growth over the last hour, runs "
        "out in {{ $value | humanizeDuration }}." % percent(cfg["fds_warning_min_ratio"]),
        cfg))
    for severity, ratio, for_ in (("critical", cfg["fds_near_limit_critical_ratio"], "5m"),
                                  ("warning", cfg["fds_near_limit_warning_ratio"], "15m")):
        out.append(alert(
            "LeakwatchFdsNearLimit", severity, for_,
            "instance:leakwatch_open_fds:ratio_limit > %g" % ratio,
            "Open file descriptors are above %s of their limit." % percent(ratio),
            WHO + " has {{ $value | humanizePercentage }} of its file descriptor limit (soft RLIMIT_NOFILE) "
            "open.",
            cfg))

    # A steady climb, not a pool warming up: the lowest count of the last 15 minutes is above the highest
    # between 60 and 30 minutes ago (the 15-minute gap lets a slow leak clear its own noise), and the hour's
    # trend is at least threads_growth_per_hour.
    out.append(alert(
        "LeakwatchThreadsGrowing", "warning", "15m",
        "deriv(process_threads{SEL}[1h]) * 3600 > %g\nand\n"
        "min_over_time(process_threads{SEL}[15m]) > max_over_time(process_threads{SEL}[30m] offset 30m)"
        % cfg["threads_growth_per_hour"],
        "The process's thread count keeps growing.",
        WHO + " gains {{ $value | humanize }} threads per hour: its fewest threads of the last 15 minutes are "
        "more than its most between 60 and 30 minutes ago.",
        cfg))

    # The rule's value and threshold, looked up at notification time: humanize for large values (bytes,
    # counts), three significant digits below 1 (ratios, where humanize would print "250m").
    def looked_up(metric, prefix):
        return (
            "{{ with printf \"%s{instance=%%q,job=%%q,rule=%%q}\" $labels.instance $labels.job $labels.rule "
            "| query }}{{ $v := . | first | value }}%s {{ if lt $v 1.0 }}{{ printf \"%%.3g\" $v }}{{ else }}"
            "{{ humanize $v }}{{ end }}{{ end }}" % (metric, prefix))

    rule_description = (
        "In-process rule {{ $labels.rule }} ({{ $labels.kind }} on {{ $labels.signal }}) is firing on " + WHO
        + looked_up("leakwatch_rule_value", ": value") + looked_up("leakwatch_rule_threshold", ", threshold")
        + ". GET /status on the agent explains it.")
    out.append(alert(
        "LeakwatchRuleFiring", "critical", "1m",
        'leakwatch_rule_state{SEL,severity="critical"} == 2',
        "A critical leakwatch rule is firing inside the process.", rule_description, cfg))
    out.append(alert(
        "LeakwatchRuleFiring", "warning", "5m",
        'leakwatch_rule_state{SEL,severity="warning"} == 2',
        "A warning leakwatch rule is firing inside the process.", rule_description, cfg))

    out.append(alert(
        "LeakwatchBundlesFailing", "warning", "0m",
        "increase(leakwatch_bundles_failed_total{SEL}[30m]) > 0\nor\n"
        'sum without (reason) (increase(leakwatch_bundles_suppressed_total{SEL,reason="min_free_disk"}[30m])) > 0',
        "leakwatch cannot write incident bundles.",
        WHO + " failed to write (or skipped for lack of disk space) {{ $value | humanize }} incident bundle(s) "
        "in the last 30 minutes: the next breach may leave no evidence.",
        cfg))

    out.append(alert(
        "LeakwatchTargetDown", "warning", "5m",
        "up{SEL} == 0",
        "Prometheus cannot scrape a leakwatch agent.",
        "Prometheus has failed to scrape " + WHO + " for 5 minutes: the process is down, restarting, or its "
        "metrics endpoint is unreachable (up = {{ $value }}).",
        cfg))
    out.append(alert(
        "LeakwatchAbsent", "warning", "15m",
        "absent(up{SEL})",
        "No leakwatch target is being scraped.",
        "No target matching {%s} has been scraped for 15 minutes (absent = {{ $value }}): service discovery or "
        "the scrape configuration lost them, so no leakwatch alert can fire." % cfg["selector"],
        cfg))
    # The age alone would fire on a host whose clock is off by a minute: the timestamp must also have stopped.
    out.append(alert(
        "LeakwatchSamplingStalled", "warning", "5m",
        "time() - leakwatch_last_sample_timestamp_seconds{SEL}\n"
        "> clamp_min(10 * leakwatch_sample_period_seconds{SEL}, 60)\n"
        "and\nchanges(leakwatch_last_sample_timestamp_seconds{SEL}[5m]) == 0",
        "The leakwatch agent answers scrapes but has stopped sampling.",
        "The last sample of " + WHO + " is {{ $value | humanizeDuration }} old: its metrics are stale and its "
        "in-process rules are not evaluated.",
        cfg))
    out.append(alert(
        "LeakwatchSourceFailing", "warning", "1h",
        "rate(leakwatch_source_errors_total{SEL}[15m]) > 0",
        "leakwatch keeps failing to read one of its sources: some metrics are missing.",
        "leakwatch on " + WHO + " fails to read source {{ $labels.source }} ({{ $value | humanize }} errors/s "
        "for an hour): the metrics from that source are absent; the agent's log says why.",
        cfg))
    return out


# ---- YAML output (a small emitter: the rules need only mappings, lists and strings) ---------------------


PLAIN_SCALAR = re.compile(r"[A-Za-z_][A-Za-z0-9_:./-]*|[0-9]+[smhdwy]")
YAML_KEYWORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}


def yaml_scalar(value):
    if isinstance(value, (int, float)):
        return str(value)
    if PLAIN_SCALAR.fullmatch(value) and value.lower() not in YAML_KEYWORDS:
        return value
    if '"' in value:
        # Single-quoted: PromQL matchers and Go template strings stay readable ('' is a quote).
        return "'" + value.replace("'", "''") + "'"
    # A double-quoted YAML scalar is a JSON string: PromQL and Go templates stay intact.
    return json.dumps(value, ensure_ascii=False)


def emit(value, indent, lines):
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and "\n" in item:
                lines.append("%s%s: |-" % (pad, key))
                for line in item.split("\n"):
                    lines.append("%s  %s" % (pad, line) if line else "")
            elif isinstance(item, (dict, list)):
                lines.append("%s%s:" % (pad, key))
                emit(item, indent + 1, lines)
            else:
                lines.append("%s%s: %s" % (pad, key, yaml_scalar(item)))
    elif isinstance(value, list):
        for item in value:
            sub = []
            emit(item, indent + 1, sub)
            first = sub[0]
            sub[0] = pad + "- " + first[len(pad) + 2:]
            lines.extend(sub)
    else:
        lines.append(pad + yaml_scalar(value))


def groups(cfg):
    # One group: rules of a group run in order at the same evaluation time, so the alerts read the recording
    # rules' values of this evaluation. In two groups (evaluated independently) an alert would sometimes see
    # the previous evaluation's value.
    recorded = [{"record": name, "expr": text} for name, text in recording_rules(cfg)]
    return [{"name": "leakwatch", "rules": recorded + alerts(cfg)}]


HEADER = """\
# GENERATED by deploy/prometheus/generate_rules.py -- do not edit; change the generator and run it.
# leakwatch's recording rules and alerts for Prometheus (rule_files:), tested by
# deploy/prometheus/tests/leakwatch-rules.test.yml with `promtool test rules`.
# Selector: {%s}. Runbooks: docs/runbooks/<alert>.md.
"""


def rules_file(cfg):
    lines = []
    emit({"groups": groups(cfg)}, 0, lines)
    return HEADER % cfg["selector"] + "\n".join(lines) + "\n"


def prometheus_rule_file(cfg):
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "leakwatch",
            "labels": {
                "app.kubernetes.io/name": "leakwatch",
                "app.kubernetes.io/component": "alerting-rules",
                # Your Prometheus' ruleSelector must match these labels (kube-prometheus-stack selects
                # `release: <its release name>` unless ruleSelectorNilUsesHelmValues is false).
                "prometheus": "k8s",
                "role": "alert-rules",
            },
        },
        "spec": {"groups": groups(cfg)},
    }
    lines = []
    emit(doc, 0, lines)
    header = (
        "# GENERATED by deploy/prometheus/generate_rules.py from the same rules as "
        "deploy/prometheus/leakwatch-rules.yml\n# -- do not edit; change the generator and run it.\n"
    )
    return header + "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a committed file is out of date")
    parser.add_argument("--selector", help="target label matchers without braces (default %s)" % CONFIG["selector"])
    parser.add_argument("--runbook-url-base", help="base URL of the runbooks (default %s)" % CONFIG["runbook_url_base"])
    parser.add_argument("--out", help="write only the Prometheus rules file, to this path")
    parser.add_argument("--out-prometheus-rule", help="write only the PrometheusRule manifest, to this path")
    args = parser.parse_args()

    cfg = dict(CONFIG)
    if args.selector is not None:
        cfg["selector"] = args.selector
    if args.runbook_url_base is not None:
        cfg["runbook_url_base"] = args.runbook_url_base

    outputs = []
    if args.out or args.out_prometheus_rule:
        if args.out:
            outputs.append((args.out, rules_file(cfg)))
        if args.out_prometheus_rule:
            outputs.append((args.out_prometheus_rule, prometheus_rule_file(cfg)))
    else:
        outputs = [(RULES_FILE, rules_file(cfg)), (PROMETHEUS_RULE_FILE, prometheus_rule_file(cfg))]

    stale = []
    for path, text in outputs:
        if args.check:
            try:
                with open(path, encoding="utf-8") as f:
                    current = f.read()
            except OSError as e:
                current = None
                print("%s: cannot read: %s" % (path, e.strerror), file=sys.stderr)
            if current != text:
                stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        for path in stale:
            print("%s: out of date; run python3 deploy/prometheus/generate_rules.py" % os.path.relpath(path, ROOT),
                  file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

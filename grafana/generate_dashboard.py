#!/usr/bin/env python3
"""Generates leakwatch's Grafana dashboard, grafana/dashboards/leakwatch.json.

    python3 grafana/generate_dashboard.py            # rewrite the dashboard
    python3 grafana/generate_dashboard.py --check    # exit 1 when the committed dashboard is out of date
    python3 grafana/generate_dashboard.py --runbook-url-base https://wiki.example.com/runbooks \
        --out my-leakwatch.json                      # your own copy

Never edit the JSON by hand (Grafana's "Save" included): change this file and regenerate. The panels are data
(ROWS below); the helpers turn them into Grafana 10/11 JSON (schemaVersion 39) and lay them out on the grid.
grafana/lint_dashboard.py checks the result. Python 3 standard library only.
"""

import argparse
import json
import os
import sys

CONFIG = {
    # The dashboard's link to the runbooks (docs/runbooks/ in this repository, published where on-call can
    # read them). The same default as deploy/prometheus/generate_rules.py.
    "runbook_url_base": "https://runbooks.example.com/leakwatch",
    # Thresholds drawn on the panels, the same as the alerts of deploy/prometheus/generate_rules.py.
    "memory_ratio_warning": 0.85,
    "memory_ratio_critical": 0.95,
    "fds_ratio_warning": 0.80,
    "fds_ratio_critical": 0.95,
    "time_to_limit_critical_seconds": 30 * 60,
    "time_to_limit_warning_seconds": 4 * 3600,
}

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DASHBOARD_FILE = os.path.join(HERE, "dashboards", "leakwatch.json")

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
FILTER = 'job=~"$job",instance=~"$instance"'
GRID_WIDTH = 24


# --- PromQL ------------------------------------------------------------------------------------------------

def m(metric, matchers=""):
    """A selector of `metric` restricted to the dashboard's job and instance, plus optional extra matchers."""
    return "%s{%s%s}" % (metric, FILTER, "," + matchers if matchers else "")


def rate(metric, matchers="", fn="rate"):
    return "%s(%s[$__rate_interval])" % (fn, m(metric, matchers))


def increase(metric, matchers=""):
    return rate(metric, matchers, fn="increase")


def either(*selectors):
    """The first series that exists per instance: `a or b or ...` (the agent's projection, else Prometheus')."""
    return " or ".join(selectors)


def target(expr, legend, instant=False, fmt="time_series"):
    return {"expr": expr, "legend": legend, "instant": instant, "format": fmt}


# --- field config --------------------------------------------------------------------------------------------

def steps(*pairs, base="green"):
    """Threshold steps: a base colour, then (value, colour) pairs in increasing value."""
    out = [{"color": base, "value": None}]
    out += [{"color": color, "value": value} for value, color in pairs]
    return {"mode": "absolute", "steps": out}


def upper_thresholds(warning, critical):
    """Higher is worse."""
    return steps((warning, "orange"), (critical, "red"))


def lower_thresholds(critical, warning):
    """Lower is worse (time left)."""
    return steps((critical, "orange"), (warning, "green"), base="red")


def override_ref(ref_id, **props):
    """Overrides for the series of one query (refId A, B, ...)."""
    return {"matcher": {"id": "byFrameRefID", "options": ref_id}, "properties": _props(props)}


def override_name(regex, **props):
    return {"matcher": {"id": "byRegexp", "options": regex}, "properties": _props(props)}


def _props(props):
    """Keyword arguments to Grafana override properties; `__` stands for the dots of their ids
    (custom__lineStyle is custom.lineStyle)."""
    out = []
    for key, value in sorted(props.items()):
        out.append({"id": key.replace("__", "."), "value": value})
    return out


def dashed_line(ref_id, color="red"):
    """A limit or reference series drawn as a dashed line, never stacked or filled."""
    return override_ref(
        ref_id,
        color={"fixedColor": color, "mode": "fixed"},
        custom__lineStyle={"dash": [10, 10], "fill": "dash"},
        custom__fillOpacity=0,
        custom__stacking={"group": "A", "mode": "none"},
    )


def unstacked(ref_id):
    return override_ref(ref_id, custom__stacking={"group": "A", "mode": "none"}, custom__fillOpacity=0)


# --- panel types ---------------------------------------------------------------------------------------------
# Each helper returns a panel without id and gridPos; layout() assigns them. w and h are the panel's size on
# Grafana's 24-column grid.

def _panel(kind, title, description, unit, targets, w, h, defaults=None, options=None, overrides=()):
    field_defaults = {"unit": unit, "color": {"mode": "palette-classic"}, "mappings": []}
    field_defaults.update(defaults or {})
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": field_defaults, "overrides": list(overrides)},
        "options": options or {},
        "targets": targets,
        "w": w,
        "h": h,
    }


def timeseries(title, description, unit, targets, w=12, h=8, min=0, max=None, soft_max=None, stack=False,
               bars=False, log=False, thresholds=None, threshold_style="off", overrides=(), axis_label="",
               legend_calcs=("lastNotNull", "max")):
    custom = {
        "axisBorderShow": False,
        "axisCenteredZero": False,
        "axisColorMode": "text",
        "axisLabel": axis_label,
        "axisPlacement": "auto",
        "barAlignment": 0,
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else (30 if stack else 10),
        "gradientMode": "none",
        "hideFrom": {"legend": False, "tooltip": False, "viz": False},
        "insertNulls": False,
        "lineInterpolation": "linear",
        "lineWidth": 1,
        "pointSize": 4,
        "scaleDistribution": {"log": 10, "type": "log"} if log else {"type": "linear"},
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if stack else "none"},
        "thresholdsStyle": {"mode": threshold_style},
    }
    if soft_max is not None:
        custom["axisSoftMax"] = soft_max
    defaults = {"custom": custom, "thresholds": thresholds or steps()}
    if min is not None:
        defaults["min"] = min
    if max is not None:
        defaults["max"] = max
    options = {
        "legend": {"calcs": list(legend_calcs), "displayMode": "table", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return _panel("timeseries", title, description, unit, targets, w, h, defaults, options, overrides)


def stat(title, description, unit, targets, w=6, h=8, thresholds=None, no_value=None, min=None, graph=False):
    defaults = {"thresholds": thresholds or steps(), "color": {"mode": "thresholds"}}
    if no_value is not None:
        defaults["noValue"] = no_value
    if min is not None:
        defaults["min"] = min
    options = {
        "colorMode": "background",
        "graphMode": "area" if graph else "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "showPercentChange": False,
        "textMode": "value_and_name",
        "wideLayout": True,
    }
    return _panel("stat", title, description, unit, targets, w, h, defaults, options)


def bargauge(title, description, unit, targets, w=8, h=8, min=0, max=None, thresholds=None):
    defaults = {"thresholds": thresholds or steps(), "color": {"mode": "thresholds"}, "min": min}
    if max is not None:
        defaults["max"] = max
    options = {
        "displayMode": "gradient",
        "maxVizHeight": 300,
        "minVizHeight": 16,
        "minVizWidth": 8,
        "namePlacement": "auto",
        "orientation": "horizontal",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "showUnfilled": True,
        "sizing": "auto",
        "valueMode": "color",
    }
    return _panel("bargauge", title, description, unit, targets, w, h, defaults, options)


def state_timeline(title, description, targets, states, w=24, h=10):
    """states: (value, text, colour) triples."""
    mapping = {"type": "value", "options": {}}
    for index, (value, text, color) in enumerate(states):
        mapping["options"][str(value)] = {"color": color, "index": index, "text": text}
    defaults = {
        "color": {"mode": "thresholds"},
        "custom": {"fillOpacity": 80, "hideFrom": {"legend": False, "tooltip": False, "viz": False},
                   "lineWidth": 0},
        "mappings": [mapping],
        "min": 0,
        "thresholds": steps(*[(value, color) for value, _, color in states[1:]], base=states[0][2]),
    }
    options = {
        "alignValue": "left",
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "mergeValues": True,
        "rowHeight": 0.9,
        "showValue": "auto",
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return _panel("state-timeline", title, description, "none", targets, w, h, defaults, options)


def table(title, description, targets, hide_columns, w=12, h=8):
    panel = _panel("table", title, description, "short", targets, w, h,
                   {"custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
                    "color": {"mode": "thresholds"}, "thresholds": steps()},
                   {"cellHeight": "sm", "showHeader": True, "footer": {"show": False, "reducer": ["sum"]}})
    panel["transformations"] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {name: True for name in hide_columns},
                                       "indexByName": {}, "renameByName": {}}},
    ]
    return panel


def row(title, panels, collapsed=False):
    return {"type": "row", "title": title, "collapsed": collapsed, "panels": panels}


# --- the dashboard -----------------------------------------------------------------------------------------

def rows(cfg):
    mem_warn, mem_crit = cfg["memory_ratio_warning"], cfg["memory_ratio_critical"]
    fds_warn, fds_crit = cfg["fds_ratio_warning"], cfg["fds_ratio_critical"]
    ttl_crit, ttl_warn = cfg["time_to_limit_critical_seconds"], cfg["time_to_limit_warning_seconds"]
    ttl_thresholds = lower_thresholds(ttl_crit, ttl_warn)
    memory_seconds_to_limit = either(
        m("instance:leakwatch_memory_seconds_to_limit:agent"),
        m("instance:leakwatch_memory_seconds_to_limit:predict_linear1h"),
    )

    return [
        row("Fleet (needs the recording rules)", [
            bargauge(
                "Highest memory use of the limit (top 10)",
                "The 10 instances whose cgroup working set is the largest share of their memory limit, now "
                "(recording rule instance:leakwatch_memory_working_set:ratio_limit). Above %d%% is tight; at "
                "100%% the kernel reclaims hard and then OOM-kills." % round(mem_warn * 100),
                "percentunit",
                [target('topk(10, %s)' % m("instance:leakwatch_memory_working_set:ratio_limit"),
                        "{{instance}} ({{job}})", instant=True)],
                max=1, thresholds=upper_thresholds(mem_warn, mem_crit)),
            bargauge(
                "Shortest time to the memory limit (bottom 10)",
                "The 10 instances predicted to reach their memory limit soonest: the agent's own projection, "
                "else Prometheus' predict_linear over 1 h. Only growing instances with a limit appear; under "
                "30 minutes means an OOM kill is coming.",
                "s",
                [target("bottomk(10, %s)" % memory_seconds_to_limit, "{{instance}} ({{job}})", instant=True)],
                thresholds=ttl_thresholds),
            stat(
                "Firing in-process rules",
                "In-process rules (leakwatch_rule_state == 2) firing now, per job and severity. 0 is normal; "
                "the rule-state timeline below tells which rule on which instance.",
                "short",
                [target('sum by (job, severity) (%s == bool 2)' % m("leakwatch_rule_state"),
                        "{{job}} {{severity}}")],
                w=8, thresholds=steps((1, "red")), min=0, graph=True),
        ]),
        row("Memory", [
            timeseries(
                "Memory against its limit",
                "The cgroup's working set (usage minus inactive file cache: what the OOM killer and kubelet "
                "count), its total usage, the process's RSS, and the limit (red dashed) and memory.high (orange "
                "dashed). A working set climbing towards the red line is the leak to act on; no line means no "
                "limit.",
                "bytes",
                [
                    target(m("leakwatch_cgroup_memory_working_set_bytes"), "{{instance}} working set"),
                    target(m("leakwatch_cgroup_memory_usage_bytes"), "{{instance}} cgroup usage"),
                    target(m("process_resident_memory_bytes"), "{{instance}} RSS"),
                    target(m("leakwatch_cgroup_memory_limit_bytes"), "{{instance}} limit"),
                    target(m("leakwatch_cgroup_memory_high_bytes"), "{{instance}} memory.high"),
                ],
                h=9, overrides=[dashed_line("D"), dashed_line("E", "orange")]),
            timeseries(
                "Working set used of the limit",
                "Working set / memory limit (recording rule instance:leakwatch_memory_working_set:ratio_limit). "
                "Steady below %d%% is normal; a ramp towards 100%% is a leak, a sawtooth is garbage collection "
                "or caches." % round(mem_warn * 100),
                "percentunit",
                [target(m("instance:leakwatch_memory_working_set:ratio_limit"), "{{instance}}")],
                w=6, h=9, soft_max=1, thresholds=upper_thresholds(mem_warn, mem_crit), threshold_style="dashed",
                legend_calcs=("lastNotNull",)),
            stat(
                "Time to the memory limit",
                "When the working set reaches the memory limit at its current growth: the agent's projection "
                "(robust slope, every tick), else Prometheus' predict_linear over 1 h. Red under 30 minutes; "
                "'not growing' (no value) is the normal state.",
                "s",
                [target(memory_seconds_to_limit, "{{instance}}", instant=True)],
                w=6, h=9, thresholds=ttl_thresholds, no_value="not growing", min=0),
            timeseries(
                "Projected time to the memory limit",
                "Seconds until the limit at the current growth, three ways: the agent's in-process projection, "
                "and Prometheus' predict_linear over 15 minutes and 1 hour (log scale). A line that keeps "
                "falling is a leak; gaps mean not growing, which is normal.",
                "s",
                [
                    target(m("instance:leakwatch_memory_seconds_to_limit:agent"), "{{instance}} agent"),
                    target(m("instance:leakwatch_memory_seconds_to_limit:predict_linear15m"),
                           "{{instance}} predict_linear 15m"),
                    target(m("instance:leakwatch_memory_seconds_to_limit:predict_linear1h"),
                           "{{instance}} predict_linear 1h"),
                ],
                min=None, log=True, thresholds=ttl_thresholds, threshold_style="dashed",
                legend_calcs=("lastNotNull", "min")),
            timeseries(
                "Memory pressure (PSI)",
                "Share of time tasks of the cgroup stalled waiting for memory: some (at least one task) and "
                "full (all tasks), averaged over 10 s, 60 s and 300 s, and the measured stall rate. Near 0 is "
                "normal; sustained some above a few percent means reclaim is slowing the service down.",
                "percentunit",
                [
                    target(m("leakwatch_memory_pressure_some_ratio"), "{{instance}} some {{window}}"),
                    target(m("leakwatch_memory_pressure_full_ratio"), "{{instance}} full {{window}}"),
                    target(rate("leakwatch_memory_pressure_stalled_seconds_total"),
                           "{{instance}} stalled {{kind}} (rate)"),
                ],
                soft_max=0.1, thresholds=steps((0.1, "orange"), (0.25, "red")), threshold_style="dashed"),
            timeseries(
                "OOM kills and memory events",
                "Cgroup memory events per interval, by event: high (throttled at memory.high), max (hit the "
                "limit), oom and oom_kill (the kernel killed a task). Any oom_kill is an incident; frequent max "
                "or high means the cgroup lives at its limit.",
                "short",
                [target(increase("leakwatch_cgroup_memory_events_total"), "{{instance}} {{event}}")],
                bars=True, overrides=[
                    override_name(".* oom_kill$", color={"fixedColor": "red", "mode": "fixed"}),
                ]),
            timeseries(
                "Time since the process started",
                "Age of the process. It drops to 0 when the process restarts: after an OOM kill (see the events "
                "panel) or a deployment. A sawtooth of restarts without deployments is a crash or OOM loop.",
                "s",
                [target("time() - %s" % m("process_start_time_seconds"), "{{instance}}")],
                legend_calcs=("lastNotNull", "min")),
        ]),
        row("Where the memory goes", [
            timeseries(
                "Resident memory by type",
                "RSS split into anonymous (heap, stacks: what leaks), file-backed (code, mapped files) and shmem "
                "pages, stacked, with swap as a line. Growth in anon is the process's own memory; file and shmem "
                "are usually shared and reclaimable.",
                "bytes",
                [
                    target(m("leakwatch_process_resident_memory_type_bytes"), "{{instance}} {{type}}"),
                    target(m("leakwatch_process_swap_bytes"), "{{instance}} swap"),
                ],
                stack=True, overrides=[unstacked("B")]),
            timeseries(
                "Proportional and private memory (smaps_rollup)",
                "PSS (RSS with shared pages divided among their users), private dirty pages (memory only this "
                "process holds and must be written or freed) and anonymous memory from smaps_rollup. Private "
                "dirty growing in step with RSS is the process's own leak.",
                "bytes",
                [target(m("leakwatch_process_smaps_rollup_bytes", 'field=~"pss|private_dirty|anonymous|swap_pss"'),
                        "{{instance}} {{field}}")]),
            timeseries(
                "What the allocator explains",
                "Anonymous RSS against what the allocator accounts for: live heap (process_heap_bytes), the "
                "allocator's resident bytes, its overhead (resident minus live) and the anonymous memory it "
                "cannot explain (stacks, direct mmaps, another allocator). Whichever grows with RSS is the leak.",
                "bytes",
                [
                    target(m("process_heap_bytes"), "{{instance}} heap (live)"),
                    target(m("leakwatch_allocator_resident_bytes"), "{{instance}} allocator resident"),
                    target(m("leakwatch_allocator_overhead_bytes"), "{{instance}} allocator overhead"),
                    target(m("leakwatch_allocator_unexplained_anon_bytes"), "{{instance}} unexplained anon"),
                    target(m("leakwatch_process_resident_memory_type_bytes", 'type="anon"'), "{{instance}} RSS anon"),
                ],
                min=None, overrides=[dashed_line("E", "text")]),
            timeseries(
                "Allocator heap and fragmentation",
                "The allocator's own figures: active pages (live data with size-class rounding), mapped address "
                "space, retained (mapped but returned to the OS), metadata and free resident bytes. Free or "
                "active far above the live heap is fragmentation; absent figures are not reported by this "
                "allocator.",
                "bytes",
                [
                    target(m("leakwatch_allocator_active_bytes"), "{{instance}} active"),
                    target(m("leakwatch_allocator_mapped_bytes"), "{{instance}} mapped"),
                    target(m("leakwatch_allocator_retained_bytes"), "{{instance}} retained"),
                    target(m("leakwatch_allocator_metadata_bytes"), "{{instance}} metadata"),
                    target(m("leakwatch_allocator_free_bytes"), "{{instance}} free"),
                ]),
            timeseries(
                "Allocator overhead ratio",
                "Allocator overhead (fragmentation, caches, metadata) as a share of its resident bytes. Under "
                "about 20% is typical; a ratio that climbs while the live heap is flat calls for allocator "
                "tuning (decay times, fewer arenas, MALLOC_ARENA_MAX), not a leak fix.",
                "percentunit",
                [target("%s / %s" % (m("leakwatch_allocator_overhead_bytes"), m("leakwatch_allocator_resident_bytes")),
                        "{{instance}}")],
                soft_max=1, thresholds=steps((0.3, "orange"), (0.5, "red")), threshold_style="dashed"),
            table(
                "Allocator found",
                "The allocator leakwatch found in each process and whether it can write heap profiles "
                "(profiling=active). With allocator=unknown every allocator figure is absent; that is expected "
                "for glibc unless allocator.glibc_mallinfo is on.",
                [target(m("leakwatch_allocator_info"), "", instant=True, fmt="table")],
                hide_columns=("Time", "Value", "__name__")),
        ]),
        row("Threads and file descriptors", [
            timeseries(
                "Threads against the pids limit",
                "OS threads of the process, tasks in its cgroup (pids.current) and the cgroup's limit (pids.max, "
                "red dashed; absent when unlimited). A steady climb is a thread leak; at pids.max thread and "
                "process creation fails.",
                "short",
                [
                    target(m("process_threads"), "{{instance}} threads"),
                    target(m("leakwatch_cgroup_pids"), "{{instance}} cgroup tasks"),
                    target(m("leakwatch_cgroup_pids_max"), "{{instance}} pids.max"),
                ],
                overrides=[dashed_line("C")]),
            timeseries(
                "Open fds by type",
                "Open file descriptors by type (socket, pipe, file, anon_inode, other; stacked, sampled on the "
                "slow period), the total, and the soft limit (red dashed). The type that grows is the leak; at "
                "the limit open() and accept() fail with EMFILE.",
                "short",
                [
                    target(m("leakwatch_process_open_fds_by_type"), "{{instance}} {{type}}"),
                    target(m("process_open_fds"), "{{instance}} open fds"),
                    target(m("process_max_fds"), "{{instance}} soft limit"),
                ],
                stack=True, overrides=[unstacked("B"), dashed_line("C")]),
            timeseries(
                "Open fds used of the soft limit",
                "Open fds / soft RLIMIT_NOFILE (recording rule instance:leakwatch_open_fds:ratio_limit). Flat is "
                "normal whatever the level; a ramp is an fd leak, and at 100% the process gets EMFILE.",
                "percentunit",
                [target(m("instance:leakwatch_open_fds:ratio_limit"), "{{instance}}")],
                soft_max=1, thresholds=upper_thresholds(fds_warn, fds_crit), threshold_style="dashed"),
            timeseries(
                "Projected time to the fd limit",
                "Seconds until open fds reach the soft limit at their current growth: the agent's projection and "
                "Prometheus' predict_linear over 1 hour (log scale). Gaps mean not growing (normal); a line "
                "falling under 30 minutes is an fd leak about to hit EMFILE.",
                "s",
                [
                    target(m("instance:leakwatch_open_fds_seconds_to_limit:agent"), "{{instance}} agent"),
                    target(m("instance:leakwatch_open_fds_seconds_to_limit:predict_linear1h"),
                           "{{instance}} predict_linear 1h"),
                ],
                min=None, log=True, thresholds=ttl_thresholds, threshold_style="dashed",
                legend_calcs=("lastNotNull", "min")),
        ]),
        row("CPU", [
            timeseries(
                "CPU usage",
                "CPU time used by the process per second (100% = one core busy). Compare with the memory panels: "
                "a leak often comes with rising CPU from garbage collection, reclaim or growing data structures.",
                "percentunit",
                [target(rate("process_cpu_seconds_total"), "{{instance}}")]),
            timeseries(
                "CPU by mode",
                "The same CPU time split into user and system mode, stacked. System time rising with memory "
                "pressure or fd counts points at reclaim, page faults or syscall-heavy leaks.",
                "percentunit",
                [target(rate("leakwatch_process_cpu_mode_seconds_total"), "{{instance}} {{mode}}")],
                stack=True),
        ]),
        row("In-process rules", [
            state_timeline(
                "Rule states",
                "State of each in-process rule over time (leakwatch_rule_state): ok (green), pending (yellow: "
                "the breach is being held) and firing (red). Firing memory_time_to_limit or memory_oom_imminent "
                "also writes an incident bundle (annotations).",
                [target(m("leakwatch_rule_state"), "{{instance}} {{rule}}")],
                states=[(0, "ok", "green"), (1, "pending", "yellow"), (2, "firing", "red")]),
            timeseries(
                "Memory growth slopes",
                "Robust (Theil-Sen) slope of each memory signal a growth or time-to-limit rule watches, per "
                "window, in bytes per second. Around 0 is normal; a slope that stays positive is growth the "
                "rules project towards the limit.",
                "Bps",
                [target(m("leakwatch_signal_slope", 'signal=~".*_bytes"'), "{{instance}} {{signal}} {{window}}")],
                min=None),
            timeseries(
                "Thread and fd growth slopes",
                "Robust (Theil-Sen) slope of the thread and fd counts the rules watch, per window, in threads or "
                "fds per second. Around 0 (pools growing and shrinking) is normal; steadily positive is a leak.",
                "short",
                [target(m("leakwatch_signal_slope", 'signal!~".*_bytes"'), "{{instance}} {{signal}} {{window}}")],
                min=None, axis_label="per second"),
        ]),
        row("Incident bundles", [
            timeseries(
                "Bundles written, failed and suppressed",
                "Incident bundles completed, failed and held back (by reason: rate_limit, queue_full, "
                "min_free_disk, stopping) per interval. Written bundles are also annotations on every panel; "
                "any failed or min_free_disk needs a look.",
                "short",
                [
                    target(increase("leakwatch_bundles_written_total"), "{{instance}} written"),
                    target(increase("leakwatch_bundles_failed_total"), "{{instance}} failed"),
                    target(increase("leakwatch_bundles_suppressed_total"), "{{instance}} suppressed: {{reason}}"),
                ],
                bars=True, overrides=[override_ref("B", color={"fixedColor": "red", "mode": "fixed"})]),
            timeseries(
                "Bundles kept",
                "Number of incident bundles kept in the bundle directory. It grows by one per incident up to "
                "bundle.max_bundles (10 by default), then the oldest are deleted: collect them before that.",
                "short",
                [target(m("leakwatch_bundles_on_disk"), "{{instance}}")],
                w=6, legend_calcs=("lastNotNull",)),
            timeseries(
                "Bundle disk usage",
                "Bytes the kept bundles take in the bundle directory, held under bundle.max_bytes (512 MiB by "
                "default) by deleting the oldest. Heap profiles of large processes make bundles big.",
                "bytes",
                [target(m("leakwatch_bundles_disk_bytes"), "{{instance}}")],
                w=6, legend_calcs=("lastNotNull",)),
        ]),
        row("The agent's own health", [
            timeseries(
                "Sample duration",
                "Wall time the agent's last tick took, against the sampling period (dashed). Normal is well "
                "under 1% of the period; near the period the agent misses ticks.",
                "s",
                [
                    target(m("leakwatch_sample_duration_seconds"), "{{instance}} tick"),
                    target(m("leakwatch_sample_period_seconds"), "{{instance}} period"),
                ],
                w=8, overrides=[dashed_line("B", "text")]),
            timeseries(
                "Sample age",
                "Seconds since the agent's last tick, as Prometheus last scraped it. Normal is below the scrape "
                "interval plus the period; a growing age while the target is up means the sampler has stopped.",
                "s",
                [target("time() - %s" % m("leakwatch_last_sample_timestamp_seconds"), "{{instance}}")],
                w=8, thresholds=steps((60, "orange"), (300, "red")), threshold_style="dashed"),
            timeseries(
                "Missed ticks and collection errors",
                "Ticks skipped because one ran late, and scrapes whose metric collection failed inside the "
                "agent, per second. Both are 0 normally; missed ticks on an overloaded host leave gaps in the "
                "rules' windows.",
                "cps",
                [
                    target(rate("leakwatch_missed_ticks_total"), "{{instance}} missed ticks"),
                    target(rate("leakwatch_exporter_collect_errors_total"), "{{instance}} collect errors"),
                ],
                w=8),
            timeseries(
                "Source read errors",
                "Failed reads per source (/proc files, cgroup files, pressure, fd scan) per second. 0 is normal; "
                "a failing source makes its metrics absent, and the agent logs why.",
                "cps",
                [target(rate("leakwatch_source_errors_total"), "{{instance}} {{source}}")]),
            table(
                "leakwatch version",
                "The leakwatch version and compiler each instance runs (leakwatch_build_info). Mixed versions "
                "are normal during a rollout.",
                [target(m("leakwatch_build_info"), "", instant=True, fmt="table")],
                hide_columns=("Time", "Value", "__name__")),
        ]),
    ]


def layout(row_list):
    """Assigns ids and gridPos: each row spans the grid, its panels flow left to right and wrap."""
    panels, next_id, y = [], 1, 0
    for r in row_list:
        children = r.pop("panels")
        r.update({"id": next_id, "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y}, "panels": []})
        next_id += 1
        panels.append(r)
        y += 1
        x, line_height, placed = 0, 0, []
        for p in children:
            w, h = p.pop("w"), p.pop("h")
            if x + w > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            p["id"] = next_id
            next_id += 1
            p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
            for index, t in enumerate(p["targets"]):
                p["targets"][index] = grafana_target(t, chr(ord("A") + index))
            x += w
            line_height = max(line_height, h)
            placed.append(p)
        y += line_height
        if r["collapsed"]:
            r["panels"] = placed
        else:
            panels.extend(placed)
    return panels


def grafana_target(t, ref_id):
    out = {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": t["expr"],
        "format": t["format"],
        "instant": t["instant"],
        "legendFormat": t["legend"] or "__auto",
        "range": not t["instant"],
        "refId": ref_id,
    }
    return out


def query_variable(name, label, query):
    return {
        "allValue": ".+",
        "current": {},
        "datasource": DATASOURCE,
        "definition": query,
        "hide": 0,
        "includeAll": True,
        "label": label,
        "multi": True,
        "name": name,
        "options": [],
        "query": query,
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }


def dashboard(cfg):
    return {
        "annotations": {"list": [
            {
                "builtIn": 1,
                "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True,
                "hide": True,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "type": "dashboard",
            },
            {
                "datasource": DATASOURCE,
                "enable": True,
                "expr": "%s * 1000" % m("leakwatch_bundle_last_timestamp_seconds"),
                "hide": False,
                "iconColor": "red",
                "name": "Incident bundles",
                "step": "60s",
                "tagKeys": "job,instance",
                "textFormat": "leakwatch wrote an incident bundle on {{instance}} (job {{job}})",
                "titleFormat": "Incident bundle: {{instance}}",
                "useValueForTime": True,
            },
        ]},
        "description": (
            "A process running the leakwatch agent: memory against its cgroup limit and the predicted time to "
            "it, where the memory goes (RSS types, allocator), threads, fds, CPU, memory pressure, the "
            "in-process rules, incident bundles and the agent's own health. The fleet row, the ratio and the "
            "time-to-limit panels need leakwatch's recording rules (deploy/prometheus/leakwatch-rules.yml). "
            "Generated by grafana/generate_dashboard.py; runbooks: docs/runbooks/."
        ),
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": False,
                "icon": "doc",
                "includeVars": False,
                "keepTime": False,
                "tags": [],
                "targetBlank": True,
                "title": "Runbooks",
                "tooltip": "What to do when a leakwatch alert fires",
                "type": "link",
                "url": cfg["runbook_url_base"].rstrip("/") + "/",
            },
        ],
        "liveNow": False,
        "panels": layout(rows(cfg)),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["leakwatch"],
        "templating": {"list": [
            {
                "current": {},
                "hide": 0,
                "includeAll": False,
                "label": "Data source",
                "multi": False,
                "name": "datasource",
                "options": [],
                "query": "prometheus",
                "refresh": 1,
                "regex": "",
                "skipUrlSync": False,
                "type": "datasource",
            },
            query_variable("job", "Job", "label_values(leakwatch_build_info, job)"),
            query_variable("instance", "Instance", 'label_values(leakwatch_build_info{job=~"$job"}, instance)'),
        ]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {"refresh_intervals": ["30s", "1m", "5m", "15m", "1h"]},
        "timezone": "",
        "title": "leakwatch / Process",
        "uid": "leakwatch-process",
        "version": 1,
        "weekStart": "",
    }


def render(cfg):
    return json.dumps(dashboard(cfg), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed dashboard is out of date")
    parser.add_argument("--runbook-url-base",
                        help="URL of the runbooks for the dashboard link (default %s)" % CONFIG["runbook_url_base"])
    parser.add_argument("--out", default=DASHBOARD_FILE, help="the file to write or check (default %(default)s)")
    args = parser.parse_args()

    cfg = dict(CONFIG)
    if args.runbook_url_base is not None:
        cfg["runbook_url_base"] = args.runbook_url_base
    text = render(cfg)

    if not args.check:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        return 0
    try:
        with open(args.out, encoding="utf-8") as f:
            current = f.read()
    except OSError as e:
        print("%s: cannot read: %s" % (args.out, e.strerror), file=sys.stderr)
        current = None
    if current != text:
        command = "python3 grafana/generate_dashboard.py"
        if args.runbook_url_base is not None:
            command += " --runbook-url-base " + args.runbook_url_base
        name = os.path.relpath(args.out, ROOT)
        if args.out != DASHBOARD_FILE:
            name = args.out
            command += " --out " + args.out
        print("%s: out of date; run %s (never edit the JSON by hand)" % (name, command), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

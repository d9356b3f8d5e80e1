#!/usr/bin/env python3
"""Checks Grafana dashboards against leakwatch's dashboard conventions.

    python3 grafana/lint_dashboard.py grafana/dashboards/leakwatch.json [...]
    python3 grafana/lint_dashboard.py --promtool grafana/dashboards/leakwatch.json   # also parse every query
    python3 grafana/lint_dashboard.py --print-queries grafana/dashboards/leakwatch.json

Prints every violation as `FILE: panel "<title>" (id N): <what is wrong>` (dashboard-wide ones as
`FILE: dashboard: ...`, `FILE: variable "<name>": ...`, `FILE: annotation "<name>": ...`) and exits 1 when
there is any, 0 otherwise; 2 for a usage error or when promtool is missing.

The conventions: a fixed uid; a `datasource` variable (type datasource, Prometheus) that every panel, query and
annotation uses; multi-value `job` and `instance` variables with an All option; every panel describes itself
and declares a unit; every metric selector of every query carries job=~"$job" and instance=~"$instance";
rate(), irate() and increase() take [$__rate_interval]; no $__range or $__interval; unique panel ids and no
overlapping panels.

--promtool substitutes the variables ($job -> leakwatch, $instance -> .+, $__rate_interval and $__interval ->
1m), writes every query into a temporary rules file as recording rules and runs `promtool check rules` on it.
--print-queries prints every panel and annotation query, unsubstituted, one JSON object per line:
{"panel": "<title>", "expr": "<PromQL>"} (annotations as "annotation: <name>"). Python 3 standard library only.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

GRID_WIDTH = 24
DATASOURCE_REFS = ("${datasource}", "$datasource")
NO_QUERY_PANELS = ("row", "text", "news", "dashlist")
REQUIRED_MATCHERS = (("job", ("$job", "${job}")), ("instance", ("$instance", "${instance}")))
RATE_FUNCTIONS = ("rate", "irate", "increase")
RATE_INTERVALS = ("$__rate_interval", "${__rate_interval}")
FORBIDDEN_VARIABLES = re.compile(r"\$\{?__(range|interval)")  # $__range[_s|_ms], $__interval[_ms]
# Keywords that are neither metrics nor functions; the grouping ones are followed by a label list.
GROUPING = ("by", "without", "on", "ignoring", "group_left", "group_right")
OPERATOR_WORDS = ("and", "or", "unless", "bool", "offset", "atan2")
NUMBER_WORDS = ("inf", "nan")
AGGREGATIONS = ("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
                "topk", "quantile", "limitk", "limit_ratio")

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z0-9]*)
  | (?P<variable>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]@:])
""", re.VERBOSE)


class PromQLError(Exception):
    pass


def tokenize(expr):
    tokens, pos = [], 0
    while pos < len(expr):
        match = TOKEN.match(expr, pos)
        if not match:
            raise PromQLError("cannot read the query at %r" % expr[pos:pos + 20])
        pos = match.end()
        kind = match.lastgroup
        if kind not in ("space", "comment"):
            tokens.append((kind, match.group()))
    return tokens


def unquote(token):
    kind, text = token
    if kind != "string":
        return text
    body = text[1:-1]
    return body if text[0] == "`" else re.sub(r"\\(.)", r"\1", body)


def skip_parens(tokens, i):
    """tokens[i] is '('; returns the index after its matching ')'."""
    depth = 0
    while i < len(tokens):
        if tokens[i] == ("op", "("):
            depth += 1
        elif tokens[i] == ("op", ")"):
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLError("unbalanced parentheses")


def read_matchers(tokens, i):
    """tokens[i] is '{'; returns ([(name, op, value)], index after '}')."""
    matchers, group = [], []
    i += 1
    while i < len(tokens) and tokens[i] != ("op", "}"):
        if tokens[i] == ("op", ","):
            matchers.append(group)
            group = []
        else:
            group.append(tokens[i])
        i += 1
    if i == len(tokens):
        raise PromQLError("unterminated label matchers")
    matchers.append(group)
    out = []
    for g in matchers:
        if len(g) == 3:
            out.append((unquote(g[0]), g[1][1], unquote(g[2])))
        elif len(g) == 1:  # a quoted metric name: {"metric"}
            out.append(("__name__", "=", unquote(g[0])))
        elif g:
            raise PromQLError("cannot read label matcher %r" % " ".join(t[1] for t in g))
    return out, i + 1


def check_expr(expr):
    """Returns the list of convention violations of one PromQL expression."""
    problems = []
    forbidden = sorted(set(m.group() for m in FORBIDDEN_VARIABLES.finditer(expr)))
    for variable in forbidden:
        problems.append("uses %s (only $__rate_interval is allowed): %s" % (variable, expr))
    try:
        tokens = tokenize(expr)
    except PromQLError as e:
        return problems + ["%s: %s" % (e, expr)]

    calls = []            # for each open '(': the function it calls, or None for a plain or grouping paren
    pending_call = None   # the function whose '(' comes next (an aggregation may put `by (...)` in between)
    i = 0
    try:
        while i < len(tokens):
            kind, text = tokens[i]
            following = tokens[i + 1] if i + 1 < len(tokens) else (None, None)
            if kind == "ident":
                word = text.lower()
                if word in GROUPING:
                    i = skip_parens(tokens, i + 1) if following == ("op", "(") else i + 1
                    continue
                if word in OPERATOR_WORDS or word in NUMBER_WORDS:
                    i += 1
                    continue
                if following == ("op", "(") or (text in AGGREGATIONS and following[0] == "ident"
                                                and following[1].lower() in ("by", "without")):
                    pending_call = text
                    i += 1
                    continue
                selector = text
                matchers = []
                i += 1
                if following == ("op", "{"):
                    matchers, i = read_matchers(tokens, i)
                    selector += "{...}"
                problems += check_selector(text, matchers)
                continue
            if (kind, text) == ("op", "{"):
                matchers, i = read_matchers(tokens, i)
                names = [value for name, _, value in matchers if name == "__name__"]
                problems += check_selector(names[0] if names else "{...}", matchers)
                continue
            if (kind, text) == ("op", "("):
                calls.append(pending_call)
                pending_call = None
            elif (kind, text) == ("op", ")"):
                if not calls:
                    raise PromQLError("unbalanced parentheses")
                calls.pop()
            elif (kind, text) == ("op", "["):
                end = i
                while end < len(tokens) and tokens[end] != ("op", "]"):
                    end += 1
                if end == len(tokens):
                    raise PromQLError("unterminated range")
                inside = [t[1] for t in tokens[i + 1:end]]
                range_part = "".join(inside).split(":")[0]
                function = next((c for c in reversed(calls) if c is not None), None)
                if function in RATE_FUNCTIONS and range_part not in RATE_INTERVALS:
                    problems.append("%s() over [%s] instead of [$__rate_interval]" % (function, "".join(inside)))
                i = end + 1
                continue
            i += 1
        if calls:
            raise PromQLError("unbalanced parentheses")
    except PromQLError as e:
        problems.append("%s: %s" % (e, expr))
    return problems


def check_selector(metric, matchers):
    problems = []
    for label, values in REQUIRED_MATCHERS:
        if not any(name == label and op == "=~" and value in values for name, op, value in matchers):
            problems.append('selector %s lacks %s=~"%s"' % (metric, label, values[0]))
    return problems


# --- dashboard walk ------------------------------------------------------------------------------------------

def all_panels(dashboard):
    """Every panel, rows' nested panels included, with the layout group it belongs to (for overlaps)."""
    out = []
    for panel in dashboard.get("panels") or []:
        out.append((panel, "top"))
        for child in panel.get("panels") or []:
            out.append((child, "row %s" % panel.get("id")))
    return out


def datasource_ok(ds):
    if isinstance(ds, dict):
        return ds.get("uid") in DATASOURCE_REFS
    return ds in DATASOURCE_REFS


def annotation_queries(dashboard):
    """(name, annotation, expr) of every annotation that queries a data source."""
    out = []
    for a in (dashboard.get("annotations") or {}).get("list") or []:
        if a.get("builtIn"):
            continue
        expr = a.get("expr") or (a.get("target") or {}).get("expr") or ""
        out.append((a.get("name") or "?", a, expr))
    return out


def queries(dashboard):
    """Every target and annotation query as a dict: title (for --print-queries), subject and what (for
    messages), record (a unique recording-rule name) and expr."""
    out = []
    for panel, _ in all_panels(dashboard):
        for t in panel.get("targets") or []:
            if t.get("expr"):
                ref = t.get("refId", "")
                out.append({
                    "title": panel.get("title") or "?",
                    "subject": 'panel "%s" (id %s)' % (panel.get("title", ""), panel.get("id")),
                    "what": "query %s: " % ref,
                    "record": "panel_%s_%s" % (panel.get("id"), ref),
                    "expr": t["expr"],
                })
    for index, (name, _, expr) in enumerate(annotation_queries(dashboard)):
        if expr:
            out.append({"title": "annotation: %s" % name, "subject": 'annotation "%s"' % name, "what": "",
                        "record": "annotation_%d" % index, "expr": expr})
    return out


def lint(dashboard):
    """Returns the violations as (subject, message) pairs."""
    problems = []

    def dash(message):
        problems.append(("dashboard", message))

    if not isinstance(dashboard.get("uid"), str) or not dashboard["uid"].strip():
        dash("no fixed uid (links and provisioning need one)")

    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    ds = variables.get("datasource")
    if not ds:
        dash("no datasource variable")
    elif ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append(('variable "datasource"', "must be of type datasource with query prometheus"))
    for name in ("job", "instance"):
        v = variables.get(name)
        if not v:
            dash("no %s variable" % name)
            continue
        if not v.get("multi"):
            problems.append(('variable "%s"' % name, "not multi-value"))
        if not v.get("includeAll"):
            problems.append(('variable "%s"' % name, "has no All option (includeAll)"))
        elif not v.get("allValue"):
            problems.append(('variable "%s"' % name, 'All option without allValue (use ".+")'))
        if v.get("datasource") is not None and not datasource_ok(v["datasource"]):
            problems.append(('variable "%s"' % name, "does not use the datasource variable"))

    for name, a, expr in annotation_queries(dashboard):
        subject = 'annotation "%s"' % name
        if not datasource_ok(a.get("datasource")):
            problems.append((subject, "datasource is not ${datasource}"))
        if not expr:
            problems.append((subject, "no query"))
        for message in check_expr(expr) if expr else []:
            problems.append((subject, message))

    seen_ids = {}
    groups = {}
    for panel, group in all_panels(dashboard):
        kind = panel.get("type")
        subject = 'panel "%s" (id %s)' % (panel.get("title", ""), panel.get("id"))

        def bad(message, subject=subject):
            problems.append((subject, message))

        pid = panel.get("id")
        if not isinstance(pid, int):
            bad("no numeric id")
        elif pid in seen_ids:
            bad('id also used by panel "%s"' % seen_ids[pid])
        else:
            seen_ids[pid] = panel.get("title", "")
        if not (panel.get("title") or "").strip():
            bad("no title")
        if kind != "row" and not (panel.get("description") or "").strip():
            bad("no description")
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")):
            bad("no gridPos")
        else:
            if grid["x"] < 0 or grid["w"] <= 0 or grid["h"] <= 0 or grid["x"] + grid["w"] > GRID_WIDTH:
                bad("gridPos %s outside the %d-column grid" % (json.dumps(grid, sort_keys=True), GRID_WIDTH))
            groups.setdefault(group, []).append((subject, grid))
        if kind in NO_QUERY_PANELS:
            continue
        unit = ((panel.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
        if not unit:
            bad("no fieldConfig.defaults.unit")
        if not datasource_ok(panel.get("datasource")):
            bad("datasource is not ${datasource}")
        targets = panel.get("targets") or []
        if not targets:
            bad("no queries")
        for t in targets:
            ref = t.get("refId", "?")
            if not datasource_ok(t.get("datasource")):
                bad("query %s: datasource is not ${datasource}" % ref)
            expr = t.get("expr") or ""
            if not expr.strip():
                bad("query %s: empty expr" % ref)
                continue
            for message in check_expr(expr):
                bad("query %s: %s" % (ref, message))

    for placed in groups.values():
        for index, (subject, a) in enumerate(placed):
            for other, b in placed[:index]:
                if (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                        and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]):
                    problems.append((subject, "gridPos overlaps %s" % other))
    return problems


# --- promtool ------------------------------------------------------------------------------------------------

def substitute(expr):
    for pattern, value in ((r"\$\{?__rate_interval\}?", "1m"), (r"\$\{?__interval\}?", "1m"),
                           (r"\$\{?job\}?", "leakwatch"), (r"\$\{?instance\}?", ".+")):
        expr = re.sub(pattern, value, expr)
    return expr


def promtool_check(items, promtool):
    """items: queries(). Returns promtool's complaints as (subject, message) pairs."""
    def run(batch):
        lines = ["groups:", "  - name: leakwatch-dashboard-queries", "    rules:"]
        for item in batch:
            name = "leakwatch_dashboard:" + re.sub(r"[^A-Za-z0-9_]", "_", item["record"])
            lines.append("      - record: %s" % name)
            # A JSON string is a valid YAML double-quoted scalar.
            lines.append("        expr: %s" % json.dumps(substitute(item["expr"])))
        fd, path = tempfile.mkstemp(prefix="leakwatch-dashboard-", suffix=".yml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            result = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
            output = (result.stdout + result.stderr).replace(path, "<queries>").strip()
            return result.returncode, output
        finally:
            os.unlink(path)

    code, _ = run(items)
    if code == 0:
        return []
    failures = []
    for item in items:  # find out which ones promtool rejects
        code, output = run([item])
        if code != 0:
            lines = [line.strip() for line in output.splitlines()
                     if line.strip() and not line.strip().startswith(("Checking", "FAILED"))]
            failures.append((item["subject"], "%spromtool: %s (substituted: %s)"
                             % (item["what"], "; ".join(lines) or output, substitute(item["expr"]))))
    if not failures:
        failures.append(("dashboard", "promtool rejected the queries together: %s" % run(items)[1]))
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dashboards", nargs="+", metavar="DASHBOARD.json")
    parser.add_argument("--promtool", action="store_true", help="also parse every query with promtool check rules")
    parser.add_argument("--print-queries", action="store_true",
                        help="print every query as a JSON object per line and exit (no checks)")
    args = parser.parse_args()

    promtool = None
    if args.promtool and not args.print_queries:
        promtool = shutil.which("promtool")
        if not promtool:
            print("promtool not found (Debian package prometheus)", file=sys.stderr)
            return 2

    failed = False
    for path in args.dashboards:
        try:
            with open(path, encoding="utf-8") as f:
                dashboard = json.load(f)
        except (OSError, ValueError) as e:
            print("%s: cannot read the dashboard: %s" % (path, e))
            failed = True
            continue
        if not isinstance(dashboard, dict):
            print("%s: not a dashboard (a JSON object)" % path)
            failed = True
            continue
        if args.print_queries:
            for item in queries(dashboard):
                print(json.dumps({"panel": item["title"], "expr": item["expr"]}))
            continue
        problems = lint(dashboard)
        if promtool:
            problems += promtool_check(queries(dashboard), promtool)
        for subject, message in problems:
            print("%s: %s: %s" % (path, subject, message))
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... --print-queries | head`
        sys.stderr.close()
        sys.exit(0)

#!/usr/bin/env python3
"""Checks the Grafana dashboards in docker/grafana/dashboards/ (and the alert rules in
docker/prometheus/rules.yml): valid JSON, unique panel ids, every panel has a PromQL target on
the provisioned Prometheus datasource, and every metric a query names is one the sdp extension
exports. The exported names come from an sdp_metrics() output file when given (make check
passes the live one), else from src/extension/metrics.cc; the per-dataset gauges rendered in SQL
(src/extension/sql/80_privacy.sql) are added in both cases.

  test/observability/check_dashboard.py [SDP_METRICS_OUTPUT]
"""
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
            "and", "or", "unless", "inf", "nan"}


def per_dataset_names():
    # The per-dataset privacy gauges are rendered by SQL (sdp._metrics_dp_datasets() in
    # 80_privacy.sql) and appear only once a dataset is registered, which a fresh database lacks.
    sql = open(os.path.join(ROOT, "src/extension/sql/80_privacy.sql")).read()
    return set(re.findall(r"# TYPE (sdp_[a-z_]+) gauge", sql))


def exported_names(path):
    names = per_dataset_names()
    if path:
        for line in open(path):
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{| )", line)
            if m:
                names.add(m.group(1))
        return names
    src = open(os.path.join(ROOT, "src/extension/metrics.cc")).read()
    for n in re.findall(r'"((?:sdp|record)_[a-z_]+?)[{" %]', src):
        names.add(n)
    for h in [n for n in names if n.endswith("_seconds")]:
        names.update({h + "_bucket", h + "_sum", h + "_count"})
    return names


def metrics_in(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # strings
    e = re.sub(r"\{[^}]*\}", "", e)                       # label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", "", e)                      # ranges
    e = re.sub(r"\$\{?\w+\}?", "", e)                     # Grafana variables
    found = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        tail = e[m.end():].lstrip()
        word = m.group(0)
        if tail.startswith("(") or word.lower() in KEYWORDS:
            continue                                      # a function or a keyword
        if re.match(r"^\d", word):
            continue
        found.add(word)
    return found


def main():
    names = exported_names(sys.argv[1] if len(sys.argv) > 1 else None)
    if not names:
        sys.exit("no exported metric names found")
    errors = []
    checked = 0
    ds_file = open(os.path.join(ROOT, "docker/grafana/provisioning/datasources/prometheus.yml")).read()
    ds_uid = re.search(r"uid:\s*(\S+)", ds_file).group(1)
    dashboards = sorted(glob.glob(os.path.join(ROOT, "docker/grafana/dashboards/*.json")))
    if not dashboards:
        errors.append("no dashboard in docker/grafana/dashboards/")
    for path in dashboards:
        name = os.path.relpath(path, ROOT)
        try:
            dash = json.load(open(path))
        except ValueError as e:
            errors.append(f"{name}: invalid JSON: {e}")
            continue
        for key in ("uid", "title", "panels"):
            if key not in dash:
                errors.append(f"{name}: missing {key}")
        ids = [p.get("id") for p in dash.get("panels", [])]
        if len(ids) != len(set(ids)):
            errors.append(f"{name}: duplicate panel ids {ids}")
        for p in dash.get("panels", []):
            where = f"{name}: panel {p.get('id')} '{p.get('title')}'"
            if p.get("type") == "row":
                continue
            if (p.get("datasource") or {}).get("uid") != ds_uid:
                errors.append(f"{where}: datasource is not the provisioned {ds_uid}")
            targets = p.get("targets") or []
            if not targets:
                errors.append(f"{where}: no query")
            for t in targets:
                expr = t.get("expr", "")
                if not expr:
                    errors.append(f"{where}: empty expr")
                unknown = metrics_in(expr) - names
                if unknown:
                    errors.append(f"{where}: not exported by sdp: {sorted(unknown)} in {expr}")
                checked += 1
    rules = open(os.path.join(ROOT, "docker/prometheus/rules.yml")).read()
    for expr in re.findall(r"^\s*expr:\s*(.+)$", rules, re.M):
        unknown = metrics_in(expr) - names
        if unknown:
            errors.append(f"rules.yml: not exported by sdp: {sorted(unknown)} in {expr}")
        checked += 1
    for e in errors:
        print("error:", e)
    if errors:
        sys.exit(1)
    print(f"{checked} queries in {len(dashboards)} dashboard(s) and rules.yml name only exported metrics")


if __name__ == "__main__":
    main()

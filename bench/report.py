#!/usr/bin/env python3
"""The reporting half of `make bench`: medians, rows/s, ratios against targets, the table on
stdout, latest.json, latest.md and the bar chart latest.png (gnuplot, pngcairo).

    bench/report.py --out DIR [--quick] [--readme bench/README.md]

Reads DIR/measurements.tsv and DIR/checks.tsv (bench/stages.sh) and DIR/meta.txt (bench/run.sh).
Exit status: 1 if a check failed or a stage has no figure; in a full run also 1 if a ratio is
BELOW TARGET. A QUICK run prints the ratios but never fails on them (20k rows on a shared,
noisy machine say nothing about throughput).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

# stage id -> title; contenders in display order: (id, label, kind) where kind is
# "ours", "peer" or "part" (a component of ours, shown for explanation only).
STAGES = [
    ("tokenize_hash", "tokenize HASH, 6 PII columns, no vault", [
        ("sdp-agent", "sdp-agent tokenize-config", "ours"),
        ("python_hmac", "Python csv + hmac", "peer"),
        ("python_hmac_nowrite", "Python csv + hmac, no writing", "peer"),
    ]),
    ("tokenize_vault", "tokenize full config, with vault", [
        ("sdp-agent", "sdp-agent tokenize-config", "ours"),
        ("@tokenize_hash/python_hmac", "Python csv + hmac (HASH work only)", "peer"),
    ]),
    ("tokenize_fpe", "tokenize FPE FF1 on card_number", [
        ("sdp-agent", "sdp-agent tokenize-config", "ours"),
    ]),
    ("ingest", "ingest tokenized rows", [
        ("sdp_ingest_csv", "sdp_ingest_csv(pg_read_file)", "ours"),
        ("sdp_ingest_csv_nofw", "the same, sdp.pii_firewall = off", "peer"),
        ("copy_file", "COPY FROM file, table with PK", "peer"),
        ("upload_batch", "sdp-agent upload-batch (libpq, chunks)", "ours"),
        ("psql_copy_stdin", "psql \\copy FROM STDIN, table with PK", "peer"),
    ]),
    ("score", "score (demo_v1 logistic)", [
        ("sdp_process_batch", "sdp_process_batch", "ours"),
        ("sql_plain_cast", "SQL, plain ::float8 casts, INSERT ... SELECT", "peer"),
        ("sql_regex", "SQL, regex-checked features, INSERT ... SELECT", "peer"),
    ]),
    ("privacy", "privacy analytics, 5 rows per customer (5x bench rows)", [
        ("sdp_dp_sum", "sdp_dp_sum(income), bounded, noisy, charged", "ours"),
        ("sql_sum", "SQL sum(income), PostgreSQL defaults (parallel)", "peer"),
        ("sql_sum_serial", "SQL sum(income), serial", "peer"),
        ("sdp_dp_count", "sdp_dp_count(group_by segment)", "ours"),
        ("sql_count_group", "SQL count(*) GROUP BY segment, defaults (parallel)", "peer"),
        ("sql_count_group_serial", "SQL count(*) GROUP BY segment, serial", "peer"),
    ]),
    ("integrate", "integrate results onto raw rows", [
        ("sdp-agent", "sdp-agent integrate-results (whole command)", "ours"),
        ("local_join", "integrate-results local part (IntegrateResults)", "ours"),
        ("pandas_merge", "pandas merge (order kept)", "peer"),
        ("miller_join", "Miller join", "peer"),
    ]),
    ("json", "JSON pseudonymize, ~2 KB documents, 10 HASH paths (rows = documents)", [
        ("sdp-agent", "sdp-agent pseudonymize (NDJSON, records in the vault)", "ours"),
        ("service_bulk", "sdp-agent serve, POST /pseudonymize/bulk (500 a request)", "ours"),
        ("python_json", "Python json + hmac (no records)", "peer"),
    ]),
    ("round_trip", "full round trip (process-batch)", [
        ("sdp-agent", "sdp-agent process-batch", "ours"),
        ("std_tools", "standard tools (Python vault, psql, SQL, pandas)", "peer"),
        ("no_privacy", "SDP without tokenization and vault", "peer"),
    ]),
    ("rekey", "key rotation: token pairs mapped and applied (rows = pairs)", [
        ("sdp-agent", "sdp-agent rotate-tokens (vault, pairs, apply, finish, vault re-key)", "ours"),
        ("sdp_apply", "of which the server's rewrite (sdp_rekey_apply calls, MACs, history)", "part"),
        ("sql_update", "SQL UPDATE ... FROM pairs (record_key only, no MAC, no audit)", "peer"),
    ]),
    ("scan", "PII scan of every column (no server)", [
        ("sdp-agent", "sdp-agent scan --sample all", "ours"),
        ("sdp-agent_sample", "sdp-agent scan (default 459-row sample)", "ours"),
        ("python_re", "Python csv + re, same patterns, every row", "peer"),
    ]),
]

# (name, stage, ours, peer, target, op). op ">=": ratio = peer time / ours time (how many times
# faster we are) must be >= target; op "<=": ratio = ours time / peer time (how many times
# slower we are, the price of privacy) must be <= target. A target must hold by median wall
# time and, where both sides have a CPU figure (client + server), by median CPU time too.
RATIOS = [
    ("tokenize HASH no vault vs Python csv+hmac", "tokenize_hash", "sdp-agent", "python_hmac", 8.0, ">="),
    ("tokenize full config with vault vs Python csv+hmac", "tokenize_vault", "sdp-agent",
     "@tokenize_hash/python_hmac", 2.0, ">="),
    ("ingest: sdp_ingest_csv vs COPY FROM file", "ingest", "sdp_ingest_csv", "copy_file", 0.7, ">="),
    ("ingest: upload-batch vs psql \\copy", "ingest", "upload_batch", "psql_copy_stdin", 0.7, ">="),
    ("ingest: with the PII firewall vs without", "ingest", "sdp_ingest_csv", "sdp_ingest_csv_nofw", 0.9,
     ">="),
    ("score: sdp_process_batch vs SQL plain cast", "score", "sdp_process_batch", "sql_plain_cast", 2.0, ">="),
    ("score: sdp_process_batch vs SQL regex", "score", "sdp_process_batch", "sql_regex", None, ">="),
    ("privacy: sdp_dp_sum over plain SQL sum", "privacy", "sdp_dp_sum", "sql_sum", 1.3, "<="),
    ("privacy: sdp_dp_sum over serial SQL sum", "privacy", "sdp_dp_sum", "sql_sum_serial", None, "<="),
    ("privacy: sdp_dp_count group_by over plain SQL count GROUP BY", "privacy", "sdp_dp_count",
     "sql_count_group", 1.3, "<="),
    ("privacy: sdp_dp_count group_by over serial SQL", "privacy", "sdp_dp_count",
     "sql_count_group_serial", None, "<="),
    ("integrate (local part) vs pandas merge", "integrate", "local_join", "pandas_merge", 10.0, ">="),
    ("integrate (local part) vs Miller join", "integrate", "local_join", "miller_join", None, ">="),
    ("integrate (whole command) vs pandas merge", "integrate", "sdp-agent", "pandas_merge", None, ">="),
    ("integrate (whole command) vs Miller join", "integrate", "sdp-agent", "miller_join", None, ">="),
    ("round trip vs standard-tools pipeline", "round_trip", "sdp-agent", "std_tools", 2.5, ">="),
    ("round trip: price of privacy (ours over no tokenization, no vault)", "round_trip", "sdp-agent",
     "no_privacy", 2.5, "<="),
    ("scan (every row) vs Python re, same patterns", "scan", "sdp-agent", "python_re", 50.0, ">="),
    ("scan (default sample) vs Python re, every row", "scan", "sdp-agent_sample", "python_re", None,
     ">="),
    ("JSON pseudonymize (CLI) vs Python json+hmac", "json", "sdp-agent", "python_json", 20.0, ">="),
    ("JSON pseudonymize: service bulk vs CLI", "json", "service_bulk", "sdp-agent", 0.5, ">="),
]
SHORT = {"ingest: sdp_ingest_csv vs COPY FROM file": "sdp_ingest_csv/COPY ",
         "ingest: upload-batch vs psql \\copy": "upload-batch/psql copy ",
         "ingest: with the PII firewall vs without": "firewall on/off "}
SHORT["round trip vs standard-tools pipeline"] = "vs standard tools "
SHORT["privacy: sdp_dp_sum over plain SQL sum"] = "dp_sum/sum "
SHORT["privacy: sdp_dp_count group_by over plain SQL count GROUP BY"] = "dp_count/count "
SHORT["round trip: price of privacy (ours over no tokenization, no vault)"] = "price of privacy "
RATIO_STAGE = {name: stage for name, stage, *_ in RATIOS}
RSS_TARGET = 1.2
JSON_DOCS_PER_S_TARGET = 50000  # the CLI on ~2 KB documents with 10 HASH paths
REKEY_PAIRS_PER_MIN_TARGET = 1000000  # issue 21: at least 1M token pairs per minute


def read_tsv(path, ncols):
    rows = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= ncols:
                    rows.append(parts)
    return rows


def read_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def fnum(v):
    return None if v in ("-", "") else float(v)


def collect(meas):
    """{(stage, contender): {"wall": [...], "cpu": [...], "server_cpu": [...], "rss": [...], "rows": n}}"""
    data = {}
    for stage, contender, rep, wall, cpu, rss, rows, *rest in meas:
        d = data.setdefault((stage, contender), {"wall": [], "cpu": [], "server_cpu": [], "rss": [],
                                                 "rows": int(rows)})
        d["wall"].append(float(wall))
        if fnum(cpu) is not None:
            d["cpu"].append(float(cpu))
        if rest and fnum(rest[0]) is not None:
            d["server_cpu"].append(float(rest[0]))
        if fnum(rss) is not None:
            d["rss"].append(int(float(rss)))
    return data


def figure(data, stage, contender):
    """Median figures of one contender; '@stage/contender' refers to another stage's run."""
    if contender.startswith("@"):
        stage, contender = contender[1:].split("/", 1)
    d = data.get((stage, contender))
    if not d:
        return None
    med = statistics.median(d["wall"])
    return {"median_s": med, "min_s": min(d["wall"]), "max_s": max(d["wall"]), "rows": d["rows"],
            "runs": d["wall"],
            "cpu_median_s": statistics.median(d["cpu"]) if d["cpu"] else None,
            "cpu_runs": d["cpu"],
            "server_cpu_median_s": statistics.median(d["server_cpu"]) if d["server_cpu"] else None,
            "max_rss_kb": max(d["rss"]) if d["rss"] else None}


def human(n):
    return f"{n:,.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--readme")
    args = ap.parse_args()
    out = args.out
    meta = read_meta(os.path.join(out, "meta.txt"))
    data = collect(read_tsv(os.path.join(out, "measurements.tsv"), 7))
    checks = read_tsv(os.path.join(out, "checks.tsv"), 2)
    load = {}  # stage -> load averages before it
    for stage_load in read_tsv(os.path.join(out, "load.tsv"), 2):
        load.setdefault(stage_load[0], stage_load[1])
    stage_group = {"tokenize_hash": "tokenize", "tokenize_vault": "tokenize", "tokenize_fpe": "tokenize"}
    rows = int(meta.get("rows", "0"))
    problems = []

    figures = []
    lines = []
    md = ["| stage (load before) | contender | min s | median s | max s | rows/s | CPU s (server) | runs |",
          "|---|---|---:|---:|---:|---:|---:|---|"]
    hdr = (f"{'stage':<38} {'contender':<58} {'min s':>7} {'median':>7} {'max s':>7} {'rows/s':>10} "
           f"{'CPU s':>7} {'server':>7}")
    lines += [hdr, "-" * len(hdr)]
    for stage, title, contenders in STAGES:
        first = True
        for cid, label, kind in contenders:
            f = figure(data, stage, cid)
            if f is None:
                problems.append(f"no figure for {stage}/{cid}")
                continue
            rps = f["rows"] / f["median_s"]
            stage_load = load.get(stage, load.get(stage_group.get(stage, ""), ""))
            figures.append({"stage": stage, "stage_title": title, "contender": cid, "label": label,
                            "kind": kind, "rows": f["rows"], "median_s": round(f["median_s"], 4),
                            "min_s": round(f["min_s"], 4), "max_s": round(f["max_s"], 4),
                            "rows_per_s": round(rps), "runs_s": [round(x, 4) for x in f["runs"]],
                            "cpu_median_s": f["cpu_median_s"], "cpu_runs_s": f["cpu_runs"],
                            "server_cpu_median_s": f["server_cpu_median_s"],
                            "cpu_rows_per_s": round(f["rows"] / f["cpu_median_s"]) if f["cpu_median_s"] else None,
                            "max_rss_kb": f["max_rss_kb"], "load_before_stage": stage_load})
            cpu = f"{f['cpu_median_s']:.2f}" if f["cpu_median_s"] is not None else "-"
            srv = f"{f['server_cpu_median_s']:.2f}" if f["server_cpu_median_s"] is not None else "-"
            mark = "*" if kind == "ours" else " "
            head = (f"{title} (load {stage_load})" if stage_load else title) if first else ""
            lines.append(f"{(title if first else ''):<38} {mark}{label:<57} {f['min_s']:>7.2f} {f['median_s']:>7.2f} "
                         f"{f['max_s']:>7.2f} {human(rps):>10} {cpu:>7} {srv:>7}")
            if first and stage_load:
                lines.append(f"{'  load before: ' + stage_load:<38}")
            runs = ", ".join(f"{x:.2f}" for x in f["runs"])
            md.append(f"| {head} | {'**' + label + '**' if kind == 'ours' else label} | "
                      f"{f['min_s']:.2f} | {f['median_s']:.2f} | {f['max_s']:.2f} | {human(rps)} | {cpu} ({srv}) | {runs} |")
            first = False
    lines.append("(* = ours; rows/s = rows / median wall-clock seconds; CPU s = median user+sys of the client "
                 "process tree plus the server's; server = the server's share; load = 1/5/15-min load averages "
                 "before the stage)")

    # ---- ratios and targets ----
    ratios = []
    for name, stage, ours, peer, target, op in RATIOS:
        fo, fp = figure(data, stage, ours), figure(data, stage, peer)
        if fo is None or fp is None:
            problems.append(f"no ratio for {name}")
            continue
        a, b = (fp, fo) if op == ">=" else (fo, fp)
        value = a["median_s"] / b["median_s"]
        # the spread: worst and best pairing of the runs (slowest of one side over fastest of the other)
        low, high = a["min_s"] / b["max_s"], a["max_s"] / b["min_s"]
        cpu_value = (a["cpu_median_s"] / b["cpu_median_s"]
                     if a.get("cpu_median_s") and b.get("cpu_median_s") else None)
        holds = (lambda v: v >= target) if op == ">=" else (lambda v: v <= target)
        ratios.append({"name": name, "value": round(value, 3), "range": [round(low, 3), round(high, 3)],
                       "cpu_value": round(cpu_value, 3) if cpu_value else None,
                       "target": target, "op": op,
                       "met_wall": None if target is None else holds(value),
                       "met_cpu": None if target is None or cpu_value is None else holds(cpu_value)})
        r = ratios[-1]
        r["met"] = None if target is None else (r["met_wall"] and r["met_cpu"] is not False)
    rt = figure(data, "round_trip", "sdp-agent")
    if rt:
        per_million = rt["median_s"] * 1e6 / rt["rows"]
        ratios.append({"name": "round trip, seconds per 1M rows (reported)", "value": round(per_million, 2),
                       "cpu_value": None, "target": None, "op": "<", "met": None})
    js = figure(data, "json", "sdp-agent")
    if js:
        value = js["rows"] / js["median_s"]
        ratios.append({"name": "JSON pseudonymize (CLI), documents/s", "value": round(value),
                       "cpu_value": None, "target": JSON_DOCS_PER_S_TARGET, "op": ">=",
                       "met": value >= JSON_DOCS_PER_S_TARGET,
                       "met_wall": value >= JSON_DOCS_PER_S_TARGET})
    rk = figure(data, "rekey", "sdp-agent")
    if rk:
        value = rk["rows"] / rk["median_s"] * 60
        ratios.append({"name": "key rotation (rotate-tokens), pairs/minute", "value": round(value),
                       "cpu_value": None, "target": REKEY_PAIRS_PER_MIN_TARGET, "op": ">=",
                       "met": value >= REKEY_PAIRS_PER_MIN_TARGET,
                       "met_wall": value >= REKEY_PAIRS_PER_MIN_TARGET})
    ra = figure(data, "rekey", "sdp_apply")
    if ra:
        value = ra["rows"] / ra["median_s"] * 60
        ratios.append({"name": "key rotation, server rewrite alone, pairs/minute (reported)",
                       "value": round(value), "cpu_value": None, "target": None, "op": ">=",
                       "met": None})
    m1, m5 = figure(data, "memory", "rows_1x"), figure(data, "memory", "rows_5x")
    memory = None
    if m1 and m5 and m1["max_rss_kb"] and m5["max_rss_kb"]:
        value = m5["max_rss_kb"] / m1["max_rss_kb"]
        memory = {"rows_1x": m1["rows"], "rss_1x_kb": m1["max_rss_kb"], "seconds_1x": round(m1["median_s"], 3),
                  "rows_5x": m5["rows"], "rss_5x_kb": m5["max_rss_kb"], "seconds_5x": round(m5["median_s"], 3)}
        ratios.append({"name": f"agent peak RSS, {m5['rows']:,} vs {m1['rows']:,} rows (no vault)",
                       "value": round(value, 3), "cpu_value": None, "target": RSS_TARGET, "op": "<=",
                       "met": value <= RSS_TARGET, "met_wall": value <= RSS_TARGET})
    else:
        problems.append("no peak RSS figures")

    lines.append("")
    rhdr = (f"{'ratio (median wall time; spread = worst..best pairing of runs)':<70} {'value':>8} "
            f"{'spread':>13} {'CPU':>7} {'target':>9}  verdict")
    lines += [rhdr, "-" * len(rhdr)]
    rmd = ["| ratio | value (wall) | spread of runs | by CPU time | target | verdict |",
           "|---|---:|---:|---:|---:|---|"]
    below = []
    for r in ratios:
        unit = "" if (r["name"].startswith("round trip, seconds") or "documents/s" in r["name"]
                      or "pairs/minute" in r["name"]) else "x"
        tgt = f"{r['op']} {r['target']}{unit}" if r["target"] is not None else "-"
        if r["met"] is None:
            verdict = "(reported)"
        elif r["met"]:
            verdict = "met"
        else:
            why = [w for w, ok in (("wall", r.get("met_wall")), ("CPU", r.get("met_cpu"))) if ok is False]
            verdict = ("BELOW TARGET" + (f" by {' and '.join(why)} time" if why else "") +
                       (" (QUICK: not enforced)" if args.quick else ""))
            below.append(r["name"])
        cpu = f"{r['cpu_value']:.2f}x" if r["cpu_value"] else "-"
        spread = f"{r['range'][0]:.2f}..{r['range'][1]:.2f}" if r.get("range") else "-"
        lines.append(f"{r['name']:<70} {r['value']:>7.2f}{unit or ' '} {spread:>13} {cpu:>7} {tgt:>9}  {verdict}")
        rmd.append(f"| {r['name']} | {r['value']:.2f}{unit} | {spread} | {cpu} | {tgt} | {verdict} |")
    if memory:
        rmd.append(f"\nPeak RSS of tokenize-config (HASH, no vault): {memory['rss_1x_kb'] / 1024:.1f} MiB for "
                   f"{memory['rows_1x']:,} rows, {memory['rss_5x_kb'] / 1024:.1f} MiB for {memory['rows_5x']:,} rows.")
        lines.append(f"peak RSS: {memory['rss_1x_kb'] / 1024:.1f} MiB for {memory['rows_1x']:,} rows, "
                     f"{memory['rss_5x_kb'] / 1024:.1f} MiB for {memory['rows_5x']:,} rows")

    lines.append("")
    failed_checks = [c for c in checks if c[1] != "ok"]
    for c in checks:
        lines.append(f"check {c[1]:<4} {c[0]}: {c[2] if len(c) > 2 else ''}")
    if not checks:
        problems.append("no correctness checks recorded")
    problems += [f"check failed: {c[0]}" for c in failed_checks]
    lines.append("")
    lines.append(f"machine: {meta.get('nproc')} CPUs, {meta.get('cpu_model')}, load average "
                 f"{meta.get('load_at_start')} at start, {meta.get('load_at_end')} at end; "
                 f"{rows:,} rows, {meta.get('reps')} repetitions (median); {meta.get('total_seconds')} s in all")

    result = {
        "machine": {k: meta.get(k) for k in ("nproc", "cpu_model", "mem_total", "load_at_start",
                                             "load_at_end", "kernel")},
        "versions": {k: meta.get(k) for k in ("sdp_agent", "sdp_extension", "git_commit", "postgresql", "python",
                                              "pandas", "miller", "openssl", "compiler", "gnuplot")},
        "run": {"rows": rows, "repetitions": int(meta.get("reps", "0")), "quick": args.quick,
                "seed": meta.get("seed"), "started": meta.get("started"),
                "total_seconds": int(meta.get("total_seconds", "0") or 0)},
        "figures": figures,
        "ratios": ratios,
        "memory": memory,
        "checks": [{"name": c[0], "ok": c[1] == "ok", "detail": c[2] if len(c) > 2 else ""} for c in checks],
        "below_target": below,
        "problems": problems,
    }
    with open(os.path.join(out, "latest.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    table_md = "\n".join(md) + "\n\n" + "\n".join(rmd) + "\n"
    machine_md = (f"Measured {meta.get('started')} on {meta.get('nproc')} CPUs ({meta.get('cpu_model')}), "
                  f"load average {meta.get('load_at_start')} at start; {rows:,} rows, "
                  f"{meta.get('reps')} repetitions, median; {meta.get('postgresql')}; "
                  f"{meta.get('python')}, pandas {meta.get('pandas')}, {meta.get('miller')}; "
                  f"commit {meta.get('git_commit')}.\n")
    with open(os.path.join(out, "latest.md"), "w", encoding="utf-8") as f:
        f.write(machine_md + "\n" + table_md)
    chart(out, figures, ratios, meta, rows)
    if args.readme:
        update_readme(args.readme, machine_md + "\n" + table_md)

    print("\n".join(lines))
    for p in problems:
        print(f"bench: error: {p}", file=sys.stderr)
    if below and not args.quick:
        print(f"bench: {len(below)} ratio(s) BELOW TARGET: {'; '.join(below)}", file=sys.stderr)
    print(f"bench: wrote {out}/latest.json, latest.md, latest.png")
    if problems or (below and not args.quick):
        return 1
    return 0


def chart(out, figures, ratios, meta, rows):
    """Horizontal bars of rows/s (log scale): one group per stage, headed by its verdict, ours in
    blue (the local join in light blue) above the peers in grey."""
    verdicts = {}
    for r in ratios:
        stage = RATIO_STAGE.get(r["name"])
        if stage and r["target"] is not None:
            unit = ("" if "documents/s" in r["name"] else "x") if r["op"] != "<" else " s/1M rows"
            why = [w for w, ok in (("wall", r.get("met_wall")), ("CPU", r.get("met_cpu"))) if ok is False]
            v = "met" if r["met"] else "BELOW (" + "+".join(why) + ")"
            verdicts.setdefault(stage, []).append(SHORT.get(r["name"], "") + f"{r['value']:.2f}{unit} ({r['op']} {r['target']:g}{unit.strip() and unit}: {v})")
    dat = os.path.join(out, "chart.dat")
    y = 0.0
    heads = []
    last = None
    with open(dat, "w", encoding="utf-8") as f:
        for b in (b for b in figures if b["kind"] != "part"):
            if b["stage"] != last:
                y -= 1.0 if last is None else 1.6
                last = b["stage"]
                text = b["stage_title"]
                if last in verdicts:
                    text += "   " + "; ".join(verdicts[last])
                heads.append((y, text, any("BELOW" in v for v in verdicts.get(last, []))))
                y -= 1.0
            colour = {"ours": "0x1f6fb4", "peer": "0x9a9a9a"}[b["kind"]]
            if b["contender"] == "local_join":
                colour = "0x6fa8dc"
            label = b["label"].replace('"', "'").replace("\\", "\\\\")
            f.write(f'{y} {b["rows_per_s"]} {colour} "{label}" "{human(b["rows_per_s"])} rows/s"\n')
            y -= 1.0
    lo = 1000
    labels = "\n".join(
        f'set label "{t}" at {lo * 1.1}, {yy} left font "DejaVu Sans:Bold,10" tc rgb "{"#b00000" if bad else "#000000"}"'
        for yy, t, bad in heads)
    height = int(120 + 26 * (-y))
    title = f"SDP make bench: rows/s per stage, ours (blue) beside peers (grey), same run, same {rows:,} rows"
    sub = (f"{meta.get('nproc')} CPUs {meta.get('cpu_model')}, load average {meta.get('load_at_start')} at start; "
           f"median of {meta.get('reps')}; {meta.get('started')}; ratios = ours rows/s over the peer's")
    script = f"""
set terminal pngcairo size 1400,{height} font "DejaVu Sans,10" noenhanced
set output "{os.path.join(out, 'latest.png')}"
set title "{title}\\n{sub}"
set logscale x
set xrange [{lo}:*]
set yrange [{y + 0.5}:0]
set format x "%.0s%c"
set xlabel "rows per second (log scale; longer is faster)"
set grid xtics mxtics
set style fill solid 0.9 border -1
set key off
set ytics nomirror scale 0 font ",9"
set lmargin 42
set rmargin 14
{labels}
plot "{dat}" using ({lo}):1:({lo}):2:($1-0.38):($1+0.38):3:ytic(4) with boxxyerror lc rgb variable, \\
     "{dat}" using ($2*1.05):1:5 with labels left font ",9"
"""
    gp = os.path.join(out, "chart.gp")
    with open(gp, "w", encoding="utf-8") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"bench: warning: gnuplot failed: {r.stderr.strip()}", file=sys.stderr)


def update_readme(path, table):
    begin, end = "<!-- latest:begin -->", "<!-- latest:end -->"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if begin not in text or end not in text:
        return
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + begin + "\n" + table + end + tail)


if __name__ == "__main__":
    sys.exit(main())

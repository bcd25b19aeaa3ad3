#!/usr/bin/env python3
"""Runs `sdp-agent scan` on the labelled benchmark of gen_bench.py and scores it per column.

    test/pii_bench/evaluate.py AGENT BENCHDIR [--assert] [--markdown]

Prints the confusion table (rows: true class, columns: predicted class), precision, recall and
F1 per class, the macro F1 over the classes, and the recall over the classes with check digits
(and the US SSN, validated by its issuing rules). With --assert, exits 1 unless macro F1 >= 0.97
and that recall >= 0.995, and lists every misclassified column (file, column, kind, variant,
predicted class) so a failure says what went wrong.
"""
import argparse
import collections
import json
import os
import subprocess
import sys

CHECKED = ["iban", "payment_card", "it_codice_fiscale", "fr_nir", "es_dni", "de_tax_id",
           "pl_pesel", "us_ssn", "nl_bsn"]
MACRO_F1_TARGET = 0.97
CHECKED_RECALL_TARGET = 0.995


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agent")
    ap.add_argument("benchdir")
    ap.add_argument("--assert", dest="check", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    with open(os.path.join(args.benchdir, "labels.json")) as f:
        labels = json.load(f)
    by_file = collections.defaultdict(list)
    for lab in labels:
        by_file[lab["file"]].append(lab)
    pairs = []  # (true, predicted, label)
    for name, labs in sorted(by_file.items()):
        out = subprocess.run([args.agent, "scan", "--input", os.path.join(args.benchdir, name),
                              "--json"], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"evaluate: scan of {name} failed ({out.returncode}): {out.stderr.strip()}")
        predicted = {c["column"]: c["class"] for c in json.loads(out.stdout)["columns"]}
        for lab in labs:
            pairs.append((lab["class"], predicted.get(lab["column"], "missing"), lab))
    classes = sorted({t for t, _, _ in pairs} | {p for _, p, _ in pairs})
    confusion = collections.Counter((t, p) for t, p, _ in pairs)
    f1s, rows = [], []
    for c in sorted({t for t, _, _ in pairs}):
        tp = confusion[(c, c)]
        fp = sum(confusion[(t, c)] for t in classes if t != c)
        fn = sum(confusion[(c, p)] for p in classes if p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        f1s.append(f1)
        rows.append((c, tp + fn, prec, rec, f1))
    macro = sum(f1s) / len(f1s)
    checked_total = sum(1 for t, _, _ in pairs if t in CHECKED)
    checked_hit = sum(1 for t, p, _ in pairs if t in CHECKED and t == p)
    checked_recall = checked_hit / checked_total if checked_total else 1.0

    short = {c: c[:6] for c in classes}
    width = max(len(c) for c in classes)
    print(f"PII scan benchmark: {len(pairs)} labelled columns in {len(by_file)} files, "
          f"{len({lab['kind'] for _, _, lab in pairs})} column kinds")
    print("confusion (rows: true class, columns: predicted)")
    print(" " * width + " " + " ".join(f"{short[c]:>6}" for c in classes))
    for t in sorted({t for t, _, _ in pairs}):
        print(f"{t:<{width}} " + " ".join(f"{confusion[(t, p)] or '.':>6}" for p in classes))
    print()
    print(f"{'class':<{width}}  columns  precision  recall  F1")
    for c, n, prec, rec, f1 in rows:
        print(f"{c:<{width}}  {n:>7}  {prec:>9.3f}  {rec:>6.3f}  {f1:.3f}")
    print()
    print(f"macro F1 {macro:.4f} (target >= {MACRO_F1_TARGET}); recall on check-digit/SSN "
          f"classes {checked_recall:.4f} ({checked_hit}/{checked_total}, target >= "
          f"{CHECKED_RECALL_TARGET})")
    wrong = [(lab, p) for t, p, lab in pairs if t != p]
    for lab, p in wrong:
        print(f"  miss: {lab['file']} {lab['column']!r} kind={lab['kind']} "
              f"variant={lab['variant']} true={lab['class']} predicted={p}")
    if args.check and (macro < MACRO_F1_TARGET or checked_recall < CHECKED_RECALL_TARGET):
        print("evaluate: BELOW TARGET")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

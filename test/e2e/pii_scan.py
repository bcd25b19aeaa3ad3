#!/usr/bin/env python3
"""Exact multi-string search for raw PII values and secrets (used by test/e2e/pii_leak.sh).

    pii_scan.py extract RAW_CSV CONFIG_YML DIR
        Collects every distinct value of length >= 5 of the PII columns (the columns the config
        tokenizes) of RAW_CSV into DIR; prints N.
    pii_scan.py scan DIR [--secret-env VAR]... [--expect-all] [--tokens RAW_CSV SENT_CSV]...
                     LABEL=FILE...
        Searches every FILE for every value (and the secrets named by environment variable: the
        secret values never appear on a command line). Prints per file and in total
        "leaked X of N values", names the columns (never the values) of a few leaked ones, and
        exits 1 if anything leaked. With --expect-all it is the scanner's own sanity check:
        exits 1 unless all N values and every secret were found.
        --tokens pairs the raw file with the tokenized file sent for it, row by row: a PII cell
        whose token equals its own raw value is a leak; a raw value that is, by chance, another
        row's token (format-preserving encryption of a 9-digit SSN maps 100,000 SSNs into 10^9
        values, so about rows^2/10^9 of them are some other customer's real SSN) cannot be told
        apart from that token wherever it appears, so it is reported and left out of N.
        --tokens may be given once per file sent (e.g. one per transport: RANDOM tokens differ
        from one tokenize run to the next).

The search is exact and all patterns at once: GNU grep -F (Aho-Corasick) over the bytes for
values of 8 characters or more, anywhere. Values of 5 to 7 characters (first and last names)
could occur by chance inside a random base64url token (about one in 64^5 per position; hundreds
of thousands of tokens), so they count only as a whole cell: not preceded or followed by a
base64url character ([A-Za-z0-9_-]). Every value is also searched in its JSON-escaped
(non-ASCII as \\uXXXX) and SQL-quoted ('') spellings, in case a log escapes it.
"""
import csv
import json
import os
import re
import subprocess
import sys

SHORT = 8  # values shorter than this are matched as whole cells only
MIN_LEN = 5


def pii_columns(config_path):
    import yaml
    with open(config_path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    return list(cfg["columns"].keys())


def spellings(value):
    out = {value}
    out.add(json.dumps(value, ensure_ascii=True)[1:-1])
    out.add(json.dumps(value, ensure_ascii=False)[1:-1])
    out.add(value.replace("'", "''"))
    return out


def extract(raw, config, outdir):
    cols = pii_columns(config)
    values = {}  # value -> set of columns
    with open(raw, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in cols if c not in reader.fieldnames]
        if missing:
            sys.exit(f"pii_scan: PII columns {missing} not in {raw}")
        for row in reader:
            for c in cols:
                v = row[c]
                if len(v) >= MIN_LEN:
                    if "\n" in v or "\r" in v:
                        sys.exit("pii_scan: a value with a line break cannot be a grep pattern")
                    values.setdefault(v, set()).add(c)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "values.tsv"), "w", encoding="utf-8") as out:
        for v in sorted(values):
            out.write(",".join(sorted(values[v])) + "\t" + v + "\n")
    print(len(values))


def load(outdir):
    values = {}
    with open(os.path.join(outdir, "values.tsv"), encoding="utf-8") as f:
        for line in f:
            cols, v = line.rstrip("\n").split("\t", 1)
            values[v] = cols
    return values


def grep(args, data_file, pattern_input=None):
    # -a: logs may hold bytes that make grep call a file binary; LC_ALL=C: byte-exact and fast.
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run(["grep", "-a", "-o"] + args + [data_file], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode not in (0, 1):
        sys.exit(f"pii_scan: grep failed on {data_file}: {proc.stderr.decode(errors='replace')}")
    return set(proc.stdout.split(b"\n")) - {b""}


def coincident(values, cols, raw_path, sent_path):
    """(raw values equal to another row's token, columns whose token equals its own raw value)."""
    own, token_cells = {}, set()
    with open(raw_path, newline="", encoding="utf-8") as rf, \
            open(sent_path, newline="", encoding="utf-8") as sf:
        raw_rows, sent_rows = csv.DictReader(rf), csv.DictReader(sf)
        n_raw = n_sent = 0
        for raw_row, sent_row in zip(raw_rows, sent_rows):
            n_raw += 1
            n_sent += 1
            for c in cols:
                token = sent_row[c]
                if len(token) >= MIN_LEN and token == raw_row[c]:
                    own[c] = own.get(c, 0) + 1
                token_cells.add(token)
        n_raw += sum(1 for _ in raw_rows)
        n_sent += sum(1 for _ in sent_rows)
    if n_raw != n_sent:
        sys.exit(f"pii_scan: {raw_path} has {n_raw} rows, {sent_path} {n_sent}: not row for row")
    return {v for v in values if v in token_cells}, own


def scan(outdir, secret_envs, expect_all, targets, tokens=()):
    values = load(outdir)
    own_leaks = {}
    if tokens:
        cols = sorted({c for cs in values.values() for c in cs.split(",")})
        same = set()
        for raw_path, sent_path in tokens:
            same_here, own_here = coincident(values, cols, raw_path, sent_path)
            same |= same_here
            for c, k in own_here.items():
                own_leaks[c] = own_leaks.get(c, 0) + k
        if same:
            by_col = {}
            for v in same:
                by_col[values[v]] = by_col.get(values[v], 0) + 1
            print(f"{len(same)} raw values are, by chance, another row's token and are not searched: " +
                  ", ".join(f"{c} ({k})" for c, k in sorted(by_col.items())))
        for v in same:
            del values[v]
    by_spelling = {}  # bytes -> value
    for v in values:
        for s in spellings(v):
            by_spelling[s.encode("utf-8")] = v
    secrets = {}
    for var in secret_envs:
        s = os.environ.get(var, "")
        if len(s) < 16:
            sys.exit(f"pii_scan: secret ${var} is missing or too short to be a real secret")
        secrets[s.encode("utf-8")] = var
    long_file = os.path.join(outdir, "long.pat")
    short = []
    with open(long_file, "wb") as out:
        for s, v in by_spelling.items():
            if len(v) >= SHORT:
                out.write(s + b"\n")
            else:
                short.append(s)
        for s in secrets:
            out.write(s + b"\n")
    short_re = None
    if short:
        alt = b"|".join(re.escape(s) for s in sorted(short, key=len, reverse=True))
        short_re = b"(?<![A-Za-z0-9_-])(?:" + alt + b")(?![A-Za-z0-9_-])"
        with open(os.path.join(outdir, "short.pat"), "wb") as out:
            out.write(short_re + b"\n")

    leaked, leaked_secrets = set(), set()
    for target in targets:
        label, _, path = target.partition("=")
        if not os.path.isfile(path):
            sys.exit(f"pii_scan: {label}: {path} does not exist")
        found = grep(["-F", "-f", long_file], path)
        if short_re is not None:
            found |= grep(["-P", "-f", os.path.join(outdir, "short.pat")], path)
        here = {by_spelling[s] for s in found if s in by_spelling}
        here_secrets = {secrets[s] for s in found if s in secrets}
        leaked |= here
        leaked_secrets |= here_secrets
        print(f"  {label}: {os.path.getsize(path)} bytes, {len(here)} values, "
              f"{len(here_secrets)} secrets")
    n = len(values)
    if expect_all:
        print(f"scanner sanity: found {len(leaked)} of {n} values, "
              f"{len(leaked_secrets)} of {len(secrets)} secrets")
        return 0 if len(leaked) == n and len(leaked_secrets) == len(secrets) else 1
    if own_leaks:
        print("tokens equal to their own raw value: " +
              ", ".join(f"{c} ({k})" for c, k in sorted(own_leaks.items())))
    print(f"leaked {len(leaked)} of {n} values")
    if leaked:
        cols = {}
        for v in leaked:
            cols[values[v]] = cols.get(values[v], 0) + 1
        print("leaked values by column: " +
              ", ".join(f"{c} ({k})" for c, k in sorted(cols.items())))
    if leaked_secrets:
        print("leaked secrets: " + ", ".join(sorted(leaked_secrets)))
    return 1 if leaked or leaked_secrets or own_leaks else 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "extract":
        extract(argv[1], argv[2], argv[3])
        return 0
    if len(argv) >= 2 and argv[0] == "scan":
        outdir, rest = argv[1], argv[2:]
        secret_envs, targets, expect_all, tokens = [], [], False, []
        i = 0
        while i < len(rest):
            if rest[i] == "--tokens":
                tokens.append((rest[i + 1], rest[i + 2]))
                i += 3
            elif rest[i] == "--secret-env":
                secret_envs.append(rest[i + 1])
                i += 2
            elif rest[i] == "--expect-all":
                expect_all = True
                i += 1
            else:
                targets.append(rest[i])
                i += 1
        return scan(outdir, secret_envs, expect_all, targets, tokens)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

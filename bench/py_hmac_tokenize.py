#!/usr/bin/env python3
"""Peer of `sdp-agent tokenize-config` for make bench: the same HASH tokenization in plain Python.

    bench/py_hmac_tokenize.py INPUT (OUTPUT | --no-write) [--columns a,b,...] [--table customers]

Reads INPUT with the csv module and replaces each listed column (default: the 6 PII columns of
bench/configs/hash_novault.yml) by the agent's HASH token, computed the same way:

    master     = urlsafe_b64decode(SDP_CRYPTO_KEY)                    (32 bytes)
    hash_key   = HKDF-SHA256(master, salt "sdp-key-derivation-v1", info "sdp/hash/v1", 32)
    domain_key = HMAC-SHA256(hash_key, "sdp/hash-domain/v1\\0" + "<table>.<column>")
    token      = "h" + base64url_nopad(HMAC-SHA256(domain_key, value)[:18])

Empty cells stay empty. The output is written with csv.writer (minimal quoting, LF), so it is
byte-identical to the agent's output on the bench data. --no-write does all the reading and
hashing but writes nothing: it isolates the cost of Python's CSV writer.
This is a fair, idiomatic baseline: one-shot hmac.digest (OpenSSL, C), precomputed domain keys,
batched writes.
"""
import argparse
import base64
import csv
import hashlib
import hmac
import os
import sys

DEFAULT_COLUMNS = "first_name,last_name,email,phone,ssn,address"


def hkdf_sha256(ikm, salt, info, length):
    prk = hmac.digest(salt, ikm, "sha256")
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([i]), "sha256")
        out += block
        i += 1
    return out[:length]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output", nargs="?")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--columns", default=DEFAULT_COLUMNS)
    ap.add_argument("--table", default="customers")
    args = ap.parse_args()
    if not args.no_write and not args.output:
        ap.error("OUTPUT or --no-write")
    key_text = os.environ.get("SDP_CRYPTO_KEY", "").strip()
    master = base64.urlsafe_b64decode(key_text)
    if len(master) != 32:
        sys.exit("py_hmac_tokenize: SDP_CRYPTO_KEY must be URL-safe base64 of 32 bytes")
    hash_key = hkdf_sha256(master, b"sdp-key-derivation-v1", b"sdp/hash/v1", 32)

    digest = hmac.digest
    b64 = base64.urlsafe_b64encode
    with open(args.input, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        cols = args.columns.split(",")
        idx = [header.index(c) for c in cols]
        keys = [digest(hash_key, b"sdp/hash-domain/v1\0" + f"{args.table}.{c}".encode(), "sha256")
                for c in cols]
        plan = list(zip(idx, keys))
        out = None
        if not args.no_write:
            out = open(args.output, "w", newline="", encoding="utf-8")
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
        batch = []
        n = 0
        for row in reader:
            for i, k in plan:
                v = row[i]
                if v:
                    # 18 bytes -> exactly 24 base64 characters, no padding to strip
                    row[i] = "h" + b64(digest(k, v.encode(), "sha256")[:18]).decode()
            n += 1
            if out is not None:
                batch.append(row)
                if len(batch) >= 2048:
                    writer.writerows(batch)
                    batch.clear()
        if out is not None:
            writer.writerows(batch)
            out.close()
    print(n)


if __name__ == "__main__":
    main()

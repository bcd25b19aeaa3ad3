#!/usr/bin/env python3
"""Peer of `sdp-agent integrate-results` for make bench: the same join in pandas.

    bench/pandas_merge.py RAW RESULTS OUTPUT [--key-column customer_id]

RAW is the raw customers CSV, RESULTS the batch's results (record_key,score,risk_band,
model_version, as sdp.sdp_results_csv returns them). Output = every raw column, in raw row order,
plus score, risk_band, model_version; raw rows without a result keep empty result cells. All
cells are read as text (dtype=str, no NA guessing) so raw values travel unchanged, as the agent
keeps them. A left merge keeps the left (raw) order.

--hash-key DOMAIN: the results are keyed by the HASH token of the key column (the standard-tools
round-trip peer, bench/std_round_trip.sh): the token of each raw key is derived again (HMAC, the
agent's keys and domain DOMAIN) and the merge is on it, as integrate-results does.
"""
import argparse
import base64
import hmac
import os
import sys

import pandas as pd

sys.dont_write_bytecode = True  # importing the sibling script must not leave bench/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from py_hmac_tokenize import hkdf_sha256  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("results")
    ap.add_argument("output")
    ap.add_argument("--key-column", default="customer_id")
    ap.add_argument("--hash-key", metavar="DOMAIN")
    args = ap.parse_args()
    raw = pd.read_csv(args.raw, dtype=str, keep_default_na=False)
    res = pd.read_csv(args.results, dtype=str, keep_default_na=False)
    if args.hash_key:
        master = base64.urlsafe_b64decode(os.environ["SDP_CRYPTO_KEY"].strip())
        hash_key = hkdf_sha256(master, b"sdp-key-derivation-v1", b"sdp/hash/v1", 32)
        k = hmac.digest(hash_key, b"sdp/hash-domain/v1\0" + args.hash_key.encode(), "sha256")
        digest, b64 = hmac.digest, base64.urlsafe_b64encode
        raw["_token"] = ["h" + b64(digest(k, v.encode(), "sha256")[:18]).decode() if v else ""
                         for v in raw[args.key_column]]
        res = res.rename(columns={"record_key": "_token"})
        merged = raw.merge(res, on="_token", how="left", sort=False).drop(columns="_token")
    else:
        res = res.rename(columns={"record_key": args.key_column})
        merged = raw.merge(res, on=args.key_column, how="left", sort=False)
    merged.to_csv(args.output, index=False)
    print(len(merged))


if __name__ == "__main__":
    main()

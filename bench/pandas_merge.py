#!/usr/bin/env python3
"""Peer of `sdp-agent integrate-results` for make bench: the same join in pandas.

    bench/pandas_merge.py RAW RESULTS OUTPUT [--key-column customer_id]

RAW is the raw customers CSV, RESULTS the batch's results (record_key,score,risk_band,
model_version, as sdp.sdp_results_csv returns them). Output = every raw column, in raw row order,
plus score, risk_band, model_version; raw rows without a result keep empty result cells. All
cells are read as text (dtype=str, no NA guessing) so raw values travel unchanged, as the agent
keeps them. A left merge keeps the left (raw) order.
"""
import argparse

import pandas as pd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("results")
    ap.add_argument("output")
    ap.add_argument("--key-column", default="customer_id")
    args = ap.parse_args()
    raw = pd.read_csv(args.raw, dtype=str, keep_default_na=False)
    res = pd.read_csv(args.results, dtype=str, keep_default_na=False)
    res = res.rename(columns={"record_key": args.key_column})
    merged = raw.merge(res, on=args.key_column, how="left", sort=False)
    merged.to_csv(args.output, index=False)
    print(len(merged))


if __name__ == "__main__":
    main()

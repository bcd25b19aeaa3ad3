#!/usr/bin/env python3
"""Peer of `sdp-agent pseudonymize` for make bench: the same 10 HASH paths in plain Python
(json + hmac), one NDJSON line at a time.

    bench/py_json_pseudonymize.py INPUT OUTPUT

For each line: json.loads, replace the values at the paths of bench/configs/json_hash10.yml by the
agent's HASH token (same key derivation and domains as bench/py_hmac_tokenize.py), json.dumps with
the generator's settings. The agent's default domain of a path is "json." and its member names,
as here. It writes no records (the agent also seals one per document into its vault), so the peer
does less than the agent.
"""
import base64
import hashlib
import hmac
import json
import os
import sys

# (path as member names, domain)
PATHS = [
    (("customer", "id"), "customer_id"),
    (("customer", "email"), "email"),
    (("customer", "name"), None),
    (("customer", "phone"), None),
    (("customer", "birth_date"), None),
    (("customer", "address", "street"), None),
    (("customer", "address", "zip"), None),
    (("device", "ip"), None),
    (("payment", "iban"), None),
    (("payment", "card_holder"), None),
]


def hkdf_sha256(ikm, salt, info, length):
    prk = hmac.digest(salt, ikm, "sha256")
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([i]), "sha256")
        out += block
        i += 1
    return out[:length]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    master = base64.urlsafe_b64decode(os.environ["SDP_CRYPTO_KEY"].strip())
    hash_key = hkdf_sha256(master, b"sdp-key-derivation-v1", b"sdp/hash/v1", 32)
    keys = []
    for path, domain in PATHS:
        domain = domain or "json." + ".".join(path)
        keys.append((path[:-1], path[-1],
                     hmac.digest(hash_key, b"sdp/hash-domain/v1\0" + domain.encode(), "sha256")))
    digest, b64, loads, dumps = hmac.digest, base64.urlsafe_b64encode, json.loads, json.dumps
    out = []
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as w:
        for line in f:
            d = loads(line)
            for parents, leaf, key in keys:
                node = d
                for p in parents:
                    node = node[p]
                value = node[leaf]
                node[leaf] = "h" + b64(digest(key, value.encode(), "sha256")[:18]).rstrip(b"=").decode()
            out.append(dumps(d, ensure_ascii=False))
            if len(out) >= 4096:
                w.write("\n".join(out) + "\n")
                out.clear()
        if out:
            w.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

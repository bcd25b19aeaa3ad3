#!/usr/bin/env python3
"""First step of the standard-tools round-trip peer of make bench: tokenize the customers file
the way configs/customers_tokenization.yml does, with what Debian ships (csv, hmac, sqlite3 and
python3-cryptography's AES-GCM), keeping the originals in an encrypted SQLite vault.

    bench/py_vault_tokenize.py INPUT OUTPUT VAULT

Per row (the ten columns the config transforms):
  customer_id, email        keyed HMAC token (the agent's HASH token: same keys, domains, text;
                            email lower-cased and trimmed first), original kept in the vault
  last_name, birth_date,    random token (16 random bytes, base64url), original kept in the vault
  address
  first_name, phone         mask: the initial / the last four digits
  ssn, card_number, iban    keyed HMAC token: the standard library has no format-preserving
                            encryption, and an HMAC is cheaper than FF1/FF3-1 (this flatters the peer)

So 5 vault entries per row, as the agent's vault gets: AES-256-GCM with a fresh 96-bit nonce,
the domain and token as associated data, inserted with executemany in one transaction
(INSERT OR IGNORE on PRIMARY KEY (domain, token): a repeated deterministic token is stored
once), synchronous=FULL, WAL. The tokenized customer_id is what the server keys results by;
bench/pandas_merge.py --hash-key re-derives it from the raw file to join them back.
"""
import base64
import csv
import hmac
import os
import sqlite3
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.dont_write_bytecode = True  # importing the sibling script must not leave bench/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from py_hmac_tokenize import hkdf_sha256  # noqa: E402  (same key derivation as the agent)

HASH_VAULT = {"customer_id": "customer_id", "email": "email"}  # column -> named domain
RANDOM_VAULT = ["last_name", "birth_date", "address"]
HMAC_ONLY = ["ssn", "card_number", "iban"]


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: py_vault_tokenize.py INPUT OUTPUT VAULT")
    src, dst, vault_path = sys.argv[1:]
    master = base64.urlsafe_b64decode(os.environ.get("SDP_CRYPTO_KEY", "").strip())
    if len(master) != 32:
        sys.exit("py_vault_tokenize: SDP_CRYPTO_KEY must be URL-safe base64 of 32 bytes")
    hash_key = hkdf_sha256(master, b"sdp-key-derivation-v1", b"sdp/hash/v1", 32)
    vault_key = hkdf_sha256(master, b"sdp-key-derivation-v1", b"sdp/vault/v1", 32)
    aead = AESGCM(vault_key)
    digest = hmac.digest
    b64 = base64.urlsafe_b64encode
    urandom = os.urandom

    def domain_key(domain):
        return digest(hash_key, b"sdp/hash-domain/v1\0" + domain.encode(), "sha256")

    db = sqlite3.connect(vault_path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE IF NOT EXISTS vault (domain TEXT NOT NULL, token TEXT NOT NULL, "
               "nonce BLOB NOT NULL, sealed BLOB NOT NULL, PRIMARY KEY (domain, token)) WITHOUT ROWID")
    insert = "INSERT OR IGNORE INTO vault (domain, token, nonce, sealed) VALUES (?, ?, ?, ?)"

    with open(src, newline="", encoding="utf-8") as f, \
            open(dst, "w", newline="", encoding="utf-8") as out:
        reader = csv.reader(f)
        writer = csv.writer(out, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        col = {name: header.index(name) for name in header}
        hashed = [(col[c], domain_key(d), d) for c, d in HASH_VAULT.items()]
        email_i = col["email"]
        randoms = [(col[c], f"customers.{c}") for c in RANDOM_VAULT]
        hmac_only = [(col[c], domain_key(f"customers.{c}")) for c in HMAC_ONLY]
        first_i, phone_i = col["first_name"], col["phone"]
        entries, rows = [], []
        n = 0
        for row in reader:
            row[email_i] = row[email_i].strip().lower()
            for i, k, d in hashed:
                v = row[i]
                if v:
                    t = "h" + b64(digest(k, v.encode(), "sha256")[:18]).decode()
                    nonce = urandom(12)
                    entries.append((d, t, nonce, aead.encrypt(nonce, v.encode(), (d + "\0" + t).encode())))
                    row[i] = t
            for i, d in randoms:
                v = row[i]
                if v:
                    t = "r" + b64(urandom(18)).decode()
                    nonce = urandom(12)
                    entries.append((d, t, nonce, aead.encrypt(nonce, v.encode(), (d + "\0" + t).encode())))
                    row[i] = t
            for i, k in hmac_only:
                v = row[i]
                if v:
                    row[i] = "h" + b64(digest(k, v.encode(), "sha256")[:18]).decode()
            v = row[first_i]
            row[first_i] = v[:1] + "*" * (len(v) - 1) if v else v
            v = row[phone_i]
            row[phone_i] = "*" * max(len(v) - 4, 0) + v[-4:] if v else v
            rows.append(row)
            n += 1
            if len(rows) >= 4096:
                writer.writerows(rows)
                rows.clear()
                db.executemany(insert, entries)
                entries.clear()
        writer.writerows(rows)
        db.executemany(insert, entries)
    db.commit()
    db.close()
    print(n)


if __name__ == "__main__":
    main()

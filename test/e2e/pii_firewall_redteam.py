#!/usr/bin/env python3
"""Uploads with raw PII for test/e2e/pii_firewall.sh, as one SQL script for one psql session.

    pii_firewall_redteam.py N CLIENT SEED > redteam.sql

N uploads, each a small CSV whose `note` column (declared CLEAR, MASKED, HASH or RANDOM, or not
declared) carries one valid raw e-mail, card number, IBAN, US SSN or phone number, plain or
obfuscated (full-width forms, Unicode spaces, zero-width characters, Unicode dashes), alone, in
free text, or with a digit group added before or after it. The script calls sdp.sdp_ingest_csv for each inside its own exception block and
prints `accepted=<a> refused=<r> other=<o>` (other: any error that is not PT422).
"""
import random
import sys

n, client, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rnd = random.Random(seed)


def digits(k):
    return "".join(rnd.choice("0123456789") for _ in range(k))


def luhn_complete(payload):
    total = 0
    for i, d in enumerate(reversed(payload)):
        v = int(d)
        if i % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return payload + str((10 - total % 10) % 10)


def card():
    prefix, length = rnd.choice([("4", 16), ("51", 16), ("2720", 16), ("34", 15), ("6011", 16),
                                 ("3530", 16), ("36", 14), ("62", 16), ("6759", 12)])
    d = luhn_complete(prefix + digits(length - 1 - len(prefix)))
    if rnd.random() < 0.3:
        return d
    sep = rnd.choice([" ", "-", ".", None])
    groups = [d[i:i + 4] for i in range(0, len(d), 4)]
    if sep is None:
        return "".join(g + (rnd.choice(" -.") if i < len(groups) - 1 else "")
                       for i, g in enumerate(groups))
    return sep.join(groups)


def ssn():
    while True:
        area, group, serial = rnd.randint(1, 899), rnd.randint(1, 99), rnd.randint(1, 9999)
        if area == 666:
            continue
        d = f"{area:03d}{group:02d}{serial:04d}"
        if d in ("078051120", "219099999", "457555462"):
            continue
        return rnd.choice([d, f"{d[:3]}-{d[3:5]}-{d[5:]}", f"{d[:3]} {d[3:5]} {d[5:]}",
                           f"{d[:3]}.{d[3:5]}-{d[5:]}"])


def iban():
    country, pattern = rnd.choice([("DE", "n" * 18), ("GB", "aaaa" + "n" * 14),
                                   ("FR", "n" * 10 + "c" * 11 + "nn"), ("NL", "aaaa" + "n" * 10),
                                   ("ES", "n" * 20), ("BE", "n" * 12)])
    bban = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") if p == "a" or (p == "c" and rnd.random() < 0.3)
                   else rnd.choice("0123456789") for p in pattern)
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    value = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    if rnd.random() < 0.5:
        value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value.lower() if rnd.random() < 0.2 else value


def email():
    local = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rnd.randint(1, 10)))
    if rnd.random() < 0.3:
        local += rnd.choice(".+_-") + "x"
    domain = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 8)))
    return f"{local}@{domain}.{rnd.choice(['com', 'org', 'de', 'co.uk', 'io'])}"


def phone():
    area, exch, line = f"{rnd.randint(2, 9)}{digits(2)}", f"{rnd.randint(2, 9)}{digits(2)}", digits(4)
    return rnd.choice([f"+1{area}{exch}{line}", f"+1 {area} {exch} {line}", f"({area}) {exch}-{line}",
                       f"{area}-{exch}-{line}", f"{area}.{exch}.{line}", f"1-{area}-{exch}-{line}",
                       f"+44 20 {digits(4)} {digits(4)}", f"06 {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
                       f"0049 30 {digits(7)}"])


INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
SPACES = ["\u00a0", "\u202f", "\u3000", "\u2009"]
DASHES = ["\u2010", "\u2011", "\u2013", "\u2212"]


def obfuscate(value, how):
    out = []
    for c in value:
        if how & 1 and "!" <= c <= "~" and rnd.random() < 0.6:
            out.append(chr(ord(c) - 0x21 + 0xFF01))
        elif how & 2 and c == " ":
            out.append(rnd.choice(SPACES))
        elif how & 8 and c == "-":
            out.append(rnd.choice(DASHES))
        else:
            out.append(c)
        if how & 4 and rnd.random() < 0.3:
            out.append(rnd.choice(INVISIBLE))
    return "".join(out)


def sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


uploads = []
for u in range(n):
    value = [email, card, iban, ssn, phone][u % 5]()
    value = obfuscate(value, 0 if u % 4 == 0 else rnd.randint(1, 15))
    value = rnd.choice(["{}", "contact: {}", "{} (primary)", "ref {}; see file",
                        "{} " + digits(rnd.randint(1, 3)), digits(rnd.randint(1, 2)) + " {}"]).format(value)
    declared = rnd.choice([None, "CLEAR", "MASKED", "HASH", "RANDOM"])
    manifest = '{"customer_id": {"transform": "HASH"}' + (
        f', "note": {{"transform": "{declared}"}}' if declared else "") + "}"
    rows = ["customer_id,age,note"]
    for r in range(rnd.randint(1, 3)):
        rows.append(f"hAAAAAAAAAAAAAAAAAAAAAAA{'ABC'[r]},{rnd.randint(18, 80)},\"{value}\"")
    uploads.append((("\n".join(rows) + "\n"), manifest))

print("SET client_min_messages = warning;")
print("CREATE TEMP TABLE redteam (n int, body text, manifest jsonb);")
print("INSERT INTO redteam VALUES")
print(",\n".join(f"({i}, {sql_literal(b)}, {sql_literal(m)})" for i, (b, m) in enumerate(uploads)) + ";")
print(f"""DO $$
DECLARE
  r record;
  accepted int := 0;
  refused int := 0;
  other int := 0;
BEGIN
  FOR r IN SELECT * FROM redteam ORDER BY n LOOP
    BEGIN
      PERFORM sdp.sdp_ingest_csv({sql_literal(client)}, 'risk_scoring', r.body, manifest => r.manifest);
      accepted := accepted + 1;
      RAISE WARNING 'accepted upload %', r.n;
    EXCEPTION WHEN SQLSTATE 'PT422' THEN
      refused := refused + 1;
    WHEN OTHERS THEN
      other := other + 1;
      RAISE WARNING 'upload %: % %', r.n, SQLSTATE, SQLERRM;
    END;
  END LOOP;
  RAISE WARNING 'accepted=% refused=% other=%', accepted, refused, other;
END
$$;""")

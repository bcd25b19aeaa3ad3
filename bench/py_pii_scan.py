#!/usr/bin/env python3
"""Python peer of `sdp-agent scan` for make bench: the same job, judging every CSV column by its
cells' content, written the way a Python tool does it: the csv module, unicodedata NFKC and the
same folding, and `re` with the same patterns as the agent's validators and RE2 searches, then
the same check-digit validations (Luhn and IIN, IBAN mod 97, SSN rules, DE/FR/NL/ES/IT/PL ids,
IPv4/IPv6, dates, names, addresses, prose). Phones are judged by the pattern alone (no
libphonenumber in Python: cheaper than the agent's work, in the peer's favour).

    bench/py_pii_scan.py FILE [--sample N|all] [--seed N]

Prints one line per column: name, class, share.
"""
import argparse
import csv
import ipaddress
import random
import re
import sys
import unicodedata

FOLD = {c: "-" for c in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0x2043,
                         0xFE58, 0xFE63)}
FOLD.update({c: " " for c in [0xA0, 0x1680, 0x202F, 0x205F, 0x3000] + list(range(0x2000, 0x200B))})
FOLD.update({c: None for c in [0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064,
                               0xFEFF, 0x180E, 0xAD]})
FOLD.update({0x3002: ".", 0xFF61: ".", 0xFE6B: "@"})


def normalize(s):
    s = s.strip()
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s).translate(FOLD).strip()
    return s


EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010FFFF-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010FFFF-]+)*"
                   r"@(?:[A-Za-z0-9\u0080-\U0010FFFF](?:[A-Za-z0-9\u0080-\U0010FFFF-]*[A-Za-z0-9\u0080-\U0010FFFF])?\.)+"
                   r"(?:[A-Za-z\u0080-\U0010FFFF]{2,}|xn--[A-Za-z0-9-]+)")
CARD = re.compile(r"\d+(?:[ -]\d+)*")
IBAN = re.compile(r"[A-Za-z]{2}\d{2}[A-Za-z0-9 ]{11,38}")
SSN = re.compile(r"(\d{3})([-. ]?)(\d{2})\2(\d{4})")
SSN_MIXED = re.compile(r"(\d{3})[-. ](\d{2})[-. ](\d{4})")
DE_IDNR = re.compile(r"[1-9]\d(?:[ ./,-]?\d){9}")
FR_NIR = re.compile(r"[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{8}", re.I)
NL_BSN = re.compile(r"\d{9}|\d{4}\.\d{2}\.\d{3}")
ES_DNI = re.compile(r"([0-9XYZ]\d{7})[- ]?([A-Z])", re.I)
IT_CF = re.compile(r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]", re.I)
PESEL = re.compile(r"\d{11}")
IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
IPV6 = re.compile(r"[0-9A-Fa-f:.]{2,45}")
DATE_YMD = re.compile(r"(\d{4})([-/.])(\d{2})\2(\d{2})")
DATE_DMY = re.compile(r"(\d{2})([-/.])(\d{2})\2(\d{4})")
PHONE = re.compile(r"(?:\+[1-9]|00[1-9]|0[1-9]|\(\d)[\d ()./-]{5,30}\d|1?[-. ]?\(?\d{3}\)?[-. ]?\d{3}[-. ]\d{4}")
NAME = re.compile(r"(?:[A-Z\u00C0-\u024F][A-Za-z\u00C0-\u024F'-]*,? ?){1,4}")
ADDRESS = re.compile(
    r"(?i)(?:^|[\s,])(?:[0-9]{1,5}[a-z]?(?:[-/][0-9]{1,5})?,?\s+(?:[^\s,]+\s+){0,4}(?:street|st|avenue|ave|road|rd|"
    r"boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|square|sq|parkway|pkwy|"
    r"highway|hwy|circle|cir|close|crescent|row|gardens|grove|hill|view|walk|"
    r"\S*(?:stra(?:ß|ss)e|str|weg|gasse|platz|allee|straat|laan|plein|gracht))\.?(?:$|[\s,])"
    r"|(?:rue|avenue|boulevard|bd|chemin|all[ée]e|impasse|place|quai|via|viale|piazza|corso|"
    r"vicolo|calle|avenida|plaza|paseo|carrer|rua|travessa|ulica|ul\.|aleja)\s+\S"
    r"|\S+(?:stra(?:ß|ss)e|str\.|weg|gasse|platz|allee|ring|damm|straat|laan|plein|gracht|"
    r"singel|kade|dijk)\s+[0-9]{1,5}|p\.?\s?o\.?\s+box\s+[0-9]+)")
EMBEDDED = re.compile(r"([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)"
                      r"|\b([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{1,4}){3,8})\b"
                      r"|(\+?\(?[0-9][0-9()./ \-]{5,24}[0-9])")
IBAN_LEN = {"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
            "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21,
            "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
            "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24,
            "SI": 19, "SK": 24, "SM": 27}


def luhn(d):
    total = 0
    for i, c in enumerate(reversed(d)):
        n = ord(c) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def card_ok(s):
    if not CARD.fullmatch(s):
        return False
    d = s.replace(" ", "").replace("-", "")
    n = len(d)
    if n < 12 or n > 19 or not luhn(d):
        return False
    p2, p3, p4, p6 = int(d[:2]), int(d[:3]), int(d[:4]), int(d[:6])
    if p2 in (34, 37):
        return n == 15
    if 300 <= p3 <= 305 or p4 == 3095 or p2 in (36, 38, 39):
        return 14 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if d[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763):
        return 12 <= n <= 19
    if p4 == 6011 or 622126 <= p6 <= 622925 or 644 <= p3 <= 649 or p2 == 65 or p2 == 62:
        return 16 <= n <= 19
    return False


def iban_ok(s):
    if not IBAN.fullmatch(s):
        return False
    s = s.replace(" ", "").upper()
    if IBAN_LEN.get(s[:2]) != len(s):
        return False
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def ssn_ok(s):
    m = SSN.fullmatch(s) or SSN_MIXED.fullmatch(s)
    if not m:
        return False
    g = m.groups()
    area, group, serial = g[0], g[-2], g[-1]
    a = int(area)
    return not (a == 0 or a == 666 or a >= 900 or group == "00" or serial == "0000" or
                area + group + serial in ("078051120", "219099999", "457555462"))


def de_idnr_ok(s):
    if not DE_IDNR.fullmatch(s):
        return False
    d = re.sub(r"[ ./,-]", "", s)
    counts = [d[:10].count(c) for c in set(d[:10])]
    if sorted(c for c in counts if c > 1) not in ([2], [3]):
        return False
    check = 5
    for c in d:
        check = (((check or 10) * 2) % 11 + int(c)) % 10
    return check == 1


def fr_nir_ok(s):
    s = s.replace(" ", "").replace(".", "").upper()
    if not FR_NIR.fullmatch(s):
        return False
    n = s[:5] + {"2A": "19", "2B": "18"}.get(s[5:7], s[5:7]) + s[7:]
    return 97 - int(n[:13]) % 97 == int(n[13:])


def nl_bsn_ok(s):
    if not NL_BSN.fullmatch(s):
        return False
    d = s.replace(".", "")
    return int(d) > 0 and (sum((9 - i) * int(c) for i, c in enumerate(d[:8])) - int(d[8])) % 11 == 0


def es_dni_ok(s):
    m = ES_DNI.fullmatch(s)
    if not m:
        return False
    body = m.group(1).upper()
    body = str("XYZ".index(body[0])) + body[1:] if body[0] in "XYZ" else body
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(body) % 23] == m.group(2).upper()


ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]


def it_cf_ok(s):
    if not IT_CF.fullmatch(s):
        return False
    s = s.upper()
    total = 0
    for i, c in enumerate(s[:15]):
        v = int(c) if c.isdigit() else ord(c) - 65
        total += ODD[v] if i % 2 == 0 else v
    return chr(65 + total % 26) == s[15]


def pesel_ok(s):
    if not PESEL.fullmatch(s):
        return False
    w = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    if (10 - sum(a * int(b) for a, b in zip(w, s)) % 10) % 10 != int(s[10]):
        return False
    month = int(s[2:4])
    return month % 20 in range(1, 13) and month // 20 <= 4 and 1 <= int(s[4:6]) <= 31


def date_year(s):
    m = DATE_YMD.fullmatch(s)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(3)), int(m.group(4))
    else:
        m = DATE_DMY.fullmatch(s)
        if not m:
            return 0
        d, mo, y = int(m.group(1)), int(m.group(3)), int(m.group(4))
    return y if 1880 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31 else 0


CLASSES = ["iban", "payment_card", "it_codice_fiscale", "fr_nir", "es_dni", "de_tax_id",
           "pl_pesel", "us_ssn", "nl_bsn", "email", "ipv6", "ipv4", "phone", "date_of_birth",
           "postal_address"]
CHECKS = [("iban", iban_ok), ("payment_card", card_ok), ("it_codice_fiscale", it_cf_ok),
          ("fr_nir", fr_nir_ok), ("es_dni", es_dni_ok), ("de_tax_id", de_idnr_ok),
          ("pl_pesel", pesel_ok), ("us_ssn", ssn_ok), ("nl_bsn", nl_bsn_ok)]


def classify(s, counts, year):
    """Adds the classes of one cell to counts; returns (name_shape, text_with_pii)."""
    if EMAIL.fullmatch(s):
        counts["email"] += 1
    for name, ok in CHECKS:
        if ok(s):
            counts[name] += 1
    if IPV4.fullmatch(s):
        try:
            ipaddress.IPv4Address(s)
            counts["ipv4"] += 1
        except ValueError:
            pass
    if ":" in s and IPV6.fullmatch(s):
        try:
            ipaddress.IPv6Address(s)
            counts["ipv6"] += 1
        except ValueError:
            pass
    if PHONE.fullmatch(s) and 7 <= sum(c.isdigit() for c in s) <= 15:
        counts["phone"] += 1
    y = date_year(s)
    if y and 14 <= year - y <= 110:
        counts["date_of_birth"] += 1
    if ADDRESS.search(s) and any(c.isdigit() for c in s):
        counts["postal_address"] += 1
    name = bool(NAME.fullmatch(s))
    text_pii = False
    if s.count(" ") >= 3 and len(s) >= 20:
        for m in EMBEDDED.finditer(s):
            e, i, d = m.groups()
            if (e and EMAIL.fullmatch(e)) or (i and iban_ok(i)) or (d and (card_ok(d) or ssn_ok(d))):
                text_pii = True
                break
    return name, text_pii


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--sample", default="all")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    year = 2026
    with open(args.file, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader)
        if args.sample == "all":
            rows = reader
        else:
            n, rng, rows = int(args.sample), random.Random(args.seed), []
            for i, row in enumerate(reader):
                if i < n:
                    rows.append(row)
                else:
                    j = rng.randrange(i + 1)
                    if j < n:
                        rows[j] = row
        cols = [{"cells": 0, "names": 0, "text": 0, "counts": dict.fromkeys(CLASSES, 0)}
                for _ in header]
        for row in rows:
            for i, raw in enumerate(row[:len(header)]):
                s = normalize(raw)
                if not s:
                    continue
                c = cols[i]
                c["cells"] += 1
                name, text_pii = classify(s, c["counts"], year)
                c["names"] += name
                c["text"] += text_pii
    for h, c in zip(header, cols):
        n = c["cells"] or 1
        best = max(CLASSES, key=lambda k: c["counts"][k])
        share = c["counts"][best] / n
        cls = best if share >= 0.6 else ("person_name" if c["names"] / n >= 0.8 else
                                          "free_text_pii" if c["text"] else "not_pii")
        print(f"{h}\t{cls}\t{share:.3f}")


if __name__ == "__main__":
    sys.exit(main())

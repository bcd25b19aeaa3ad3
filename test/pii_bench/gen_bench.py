#!/usr/bin/env python3
"""Labelled benchmark of `sdp-agent scan`: tables of known column kinds, written as CSV (with a
header, with `col_N` headers, without a header, obfuscated), JSON and NDJSON.

    test/pii_bench/gen_bench.py OUTDIR [--seed N] [--rows N] [--rounds N]

Writes OUTDIR/*.{csv,json,ndjson} and OUTDIR/labels.json: one entry per column instance,
{file, column (as the scanner names it), class, kind, variant}. Deterministic for a seed.

Identifiers with check digits are made by their algorithms and each one is checked with
python3-stdnum (valid ones must pass, invalid ones must fail: the generator stops otherwise).
Names and addresses come from names.py.
"""
import argparse
import datetime
import json
import os
import random
import sys

from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.iso7064 import mod_11_10
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.us import ssn as us_ssn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import names  # noqa: E402

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def digits(rng, n):
    return "".join(rng.choice(DIGITS) for _ in range(n))


def must(ok, what, value):
    if not ok:
        sys.exit(f"gen_bench: stdnum disagrees on {what} {value!r}")
    return value


# --- identifiers with check digits (valid / invalid by python3-stdnum) --------------------------
CARD_PREFIXES = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16),
                 ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3528", 16), ("3589", 16),
                 ("36", 14), ("300", 14), ("62", 16), ("6304", 16), ("6759", 18)]


def card(rng, valid=True, spaced=False):
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + digits(rng, length - len(prefix) - 1)
    check = luhn.calc_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    n = body + check
    must(luhn.is_valid(n) == valid, "card", n)
    if spaced:
        n = " ".join(n[i:i + 4] for i in range(0, len(n), 4))
    return n


IBAN_BBAN = {  # country: [(kind, count)] with n = digits, a = upper letters, c = alnum upper
    "DE": [("n", 18)], "GB": [("a", 4), ("n", 14)], "NL": [("a", 4), ("n", 10)],
    "FR": [("n", 10), ("c", 11), ("n", 2)], "IE": [("a", 4), ("n", 14)],
    "BE": [("n", 12)], "AT": [("n", 16)], "CH": [("n", 5), ("c", 12)], "PL": [("n", 24)],
    "SE": [("n", 20)], "DK": [("n", 14)], "LU": [("n", 3), ("c", 13)],
}


def iban(rng, valid=True, printed=False):
    while True:
        country = rng.choice(sorted(IBAN_BBAN))
        bban = ""
        for kind, count in IBAN_BBAN[country]:
            alphabet = DIGITS if kind == "n" else UPPER if kind == "a" else DIGITS + UPPER
            bban += "".join(rng.choice(alphabet) for _ in range(count))
        check = std_iban.calc_check_digits(country + "00" + bban)
        if not valid:
            check = "%02d" % ((int(check) + rng.randint(1, 96)) % 97 or 2)
        n = country + check + bban
        if std_iban.is_valid(n) == valid:
            break
    if printed:
        n = " ".join(n[i:i + 4] for i in range(0, len(n), 4))
    return n


def ssn(rng, valid=True, dashed=True):
    if valid:
        area = rng.choice([a for a in range(1, 900) if a != 666])
        n = "%03d%02d%04d" % (area, rng.randint(1, 99), rng.randint(1, 9999))
    else:
        area = rng.choice([0, 666] + list(range(900, 1000)))
        n = "%03d%02d%04d" % (area, rng.randint(0, 99), rng.randint(0, 9999))
    must(us_ssn.is_valid(n) == valid, "ssn", n)
    return f"{n[:3]}-{n[3:5]}-{n[5:]}" if dashed else n


def de_idnr(rng, valid=True):
    while True:
        pool = list(DIGITS)
        rng.shuffle(pool)
        ten = pool[:9]
        ten.append(rng.choice(ten))
        rng.shuffle(ten)
        body = "".join(ten)
        if body[0] == "0":
            continue
        check = mod_11_10.calc_check_digit(body)
        if not valid:
            check = str((int(check) + rng.randint(1, 9)) % 10)
        n = body + check
        if idnr.is_valid(n) == valid:
            break
    return n if rng.random() < 0.7 else idnr.format(n)


def fr_nir(rng, valid=True):
    dept = rng.choice(["%02d" % rng.randint(1, 95), "2A", "2B"])
    if dept == "20":
        dept = "21"
    body = "%d%02d%02d%s%03d%03d" % (rng.randint(1, 2), rng.randint(30, 99), rng.randint(1, 12),
                                     dept, rng.randint(1, 990), rng.randint(1, 999))
    check = nir.calc_check_digits(body + "00")
    if not valid:
        check = "%02d" % ((int(check) + rng.randint(1, 96)) % 97)
    n = body + check
    must(nir.is_valid(n) == valid, "fr nir", n)
    return n if rng.random() < 0.7 else nir.format(n)


def nl_bsn(rng, valid=True, dotted=None):
    while True:
        body = str(rng.randint(1, 9)) + digits(rng, 7)
        s = sum((9 - i) * int(d) for i, d in enumerate(body)) % 11
        if s == 10:
            continue
        check = s if valid else (s + rng.randint(1, 9)) % 10
        n = body + str(check)
        if bsn.is_valid(n) == valid:
            break
    if dotted is None:
        dotted = rng.random() < 0.5
    return bsn.format(n) if dotted else n


def es_dni(rng, valid=True):
    if rng.random() < 0.7:
        body = digits(rng, 8)
        check = dni.calc_check_digit(body)
        module = dni
    else:
        body = rng.choice("XYZ") + digits(rng, 7)
        check = nie.calc_check_digit(body)
        module = nie
    if not valid:
        check = rng.choice([c for c in "TRWAGMYFPDXBNJZSQVHLCKE" if c != check])
    n = body + check
    must(module.is_valid(n) == valid, "es dni/nie", n)
    return n


def it_cf(rng, valid=True):
    months = "ABCDEHLMPRST"
    day = rng.randint(1, 28) + (40 if rng.random() < 0.5 else 0)
    body = ("".join(rng.choice(UPPER) for _ in range(6)) + "%02d" % rng.randint(30, 99) +
            rng.choice(months) + "%02d" % day + rng.choice(UPPER) + digits(rng, 3))
    check = codicefiscale.calc_check_digit(body)
    if not valid:
        check = rng.choice([c for c in UPPER if c != check])
    n = body + check
    must(codicefiscale.is_valid(n) == valid, "it codice fiscale", n)
    return n


def pl_pesel(rng, valid=True):
    year = rng.randint(1935, 2012)
    month = rng.randint(1, 12) + (20 if year >= 2000 else 0)
    body = "%02d%02d%02d%s" % (year % 100, month, rng.randint(1, 28), digits(rng, 4))
    check = pesel.calc_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    n = body + check
    must(pesel.is_valid(n) == valid, "pl pesel", n)
    return n


# --- contact data -------------------------------------------------------------------------------
US_AREAS = ["201", "202", "212", "213", "305", "312", "415", "512", "617", "646", "702", "713",
            "718", "805", "917", "303", "503", "206"]


def phone(rng, style):
    if style == "us":
        area, ex, line = rng.choice(US_AREAS), rng.randint(201, 989), rng.randint(0, 9999)
        if ex % 100 == 11:
            ex += 1
        fmt = rng.choice(["({a}) {e}-{l:04d}", "{a}-{e}-{l:04d}", "{a}.{e}.{l:04d}",
                          "+1 {a} {e} {l:04d}", "1-{a}-{e}-{l:04d}"])
        return fmt.format(a=area, e=ex, l=line)
    if style == "e164":
        kind = rng.choice(["gb", "fr", "de", "nl", "us"])
        if kind == "gb":
            return "+447" + rng.choice("45789") + digits(rng, 8)
        if kind == "fr":
            return "+33" + rng.choice("67") + digits(rng, 8)
        if kind == "de":
            return "+49" + rng.choice(["151", "171"]) + digits(rng, 8)
        if kind == "nl":
            return "+316" + digits(rng, 8)
        return "+1" + rng.choice(US_AREAS) + str(rng.randint(2, 9)) + digits(rng, 6)
    if style == "intl":
        kind = rng.choice(["gb", "fr", "de", "nl"])
        if kind == "gb":
            return "+44 7%s%s %s" % (rng.choice("45789"), digits(rng, 2), digits(rng, 6))
        if kind == "fr":
            d = rng.choice("67") + digits(rng, 8)
            return "+33 " + d[0] + " " + " ".join(d[i:i + 2] for i in range(1, 9, 2))
        if kind == "de":
            return "+49 %s %s" % (rng.choice(["151", "171"]), digits(rng, 8))
        return "+31 6 " + digits(rng, 8)
    # national with a trunk prefix
    kind = rng.choice(["gb", "fr", "de", "nl"])
    if kind == "gb":
        return "07%s%s %s" % (rng.choice("45789"), digits(rng, 2), digits(rng, 6))
    if kind == "fr":
        d = "0" + rng.choice("67") + digits(rng, 8)
        return rng.choice([" ", "."]).join(d[i:i + 2] for i in range(0, 10, 2))
    if kind == "de":
        return "0%s %s" % (rng.choice(["151", "171"]), digits(rng, 8))
    return "06-" + digits(rng, 8)


def email(rng, intl=False):
    first, last = names.given_name(rng, 0.2), names.surname(rng, 0.2)
    if not intl:
        first = first.encode("ascii", "ignore").decode() or "x"
        last = last.encode("ascii", "ignore").decode() or "y"
    last = last.replace(" ", "").replace("'", "")
    local = rng.choice(["{f}.{l}", "{f}{l}", "{f0}{l}", "{f}_{l}{n}", "{l}.{f}{n}"]).format(
        f=first.lower(), l=last.lower(), f0=first[0].lower(), n=rng.randint(1, 99))
    domain = rng.choice(["example.com", "mail.example.org", "example.co.uk", "post.example.de",
                         "example.fr", "uni-example.edu", "example.io"])
    return f"{local}@{domain}"


def ipv4(rng):
    return "%d.%d.%d.%d" % (rng.choice([23, 45, 81, 93, 104, 151, 185, 203, 212]),
                            rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))


def ipv6(rng):
    groups = ["2001", "db8"] + ["%x" % rng.randint(0, 0xFFFF) for _ in range(6)]
    if rng.random() < 0.4:
        return ":".join(groups[:3]) + "::" + ":".join(groups[6:])
    return ":".join(groups)


def date(rng, y0, y1, fmt):
    d = datetime.date(rng.randint(y0, y1), rng.randint(1, 12), rng.randint(1, 28))
    return d.strftime(fmt)


# --- free text ---------------------------------------------------------------------------------
CLEAN_TEXT = ["Customer asked about the new savings product and will call back next week",
              "Order {n} shipped in {k} boxes, delivery expected on Monday",
              "No answer on the first attempt, left a voicemail message",
              "Requested a paper statement for the last quarter",
              "Complaint about branch opening hours, forwarded to the regional manager",
              "Account review done, nothing unusual in the last {k} months",
              "Prefers contact by post, not interested in the newsletter",
              "Ticket {n} closed after the password reset"]
PII_TEXT = ["Customer called from {phone} about invoice {n}",
            "Please send the statement to {email} before Friday",
            "Card {card} was declined twice at the terminal",
            "Refund to IBAN {iban} requested by the client",
            "New contact address is {email}, old one bounced",
            "Verified identity with SSN {ssn} over the phone",
            "Call back on {phone} after 5pm"]


def text(rng, with_pii, share=0.3):
    if with_pii and rng.random() < share:
        t = rng.choice(PII_TEXT)
    else:
        t = rng.choice(CLEAN_TEXT)
    return t.format(n=rng.randint(10000, 99999), k=rng.randint(2, 9),
                    phone=phone(rng, rng.choice(["intl", "us"])), email=email(rng),
                    card=card(rng, spaced=rng.random() < 0.5), iban=iban(rng), ssn=ssn(rng))


# --- the column kinds --------------------------------------------------------------------------
# kind: (class, header names, generator)
PRODUCTS = ["Steel Bolt M8", "Oak Table 120cm", "USB-C Cable 2m", "LED Bulb 9W",
            "Notebook A5 ruled", "Coffee Beans 1kg", "Garden Hose 25m", "Desk Lamp Pro"]
CATEGORIES = ["retail", "premium", "private", "sme", "corporate", "Gold", "Silver", "Bronze"]
COUNTRIES = ["France", "Germany", "Spain", "Italy", "Netherlands", "Poland", "Ireland",
             "Portugal", "Belgium", "Austria"]

KINDS = {
    "email": ("email", ["email", "contact_email", "mail"], lambda r: email(r)),
    "email_intl": ("email", ["e_mail", "email_address"], lambda r: email(r, intl=True)),
    "phone_e164": ("phone", ["phone", "msisdn"], lambda r: phone(r, "e164")),
    "phone_us": ("phone", ["phone_number", "tel"], lambda r: phone(r, "us")),
    "phone_intl": ("phone", ["mobile", "contact_phone"], lambda r: phone(r, "intl")),
    "phone_national": ("phone", ["telephone", "cell"], lambda r: phone(r, "national")),
    "card": ("payment_card", ["card_number", "pan"], lambda r: card(r)),
    "card_spaced": ("payment_card", ["credit_card", "card"], lambda r: card(r, spaced=True)),
    "iban": ("iban", ["iban", "account_iban"], lambda r: iban(r)),
    "iban_printed": ("iban", ["iban_printed", "bank_account"], lambda r: iban(r, printed=True)),
    "ssn": ("us_ssn", ["ssn", "social_security"], lambda r: ssn(r)),
    "ssn_bare": ("us_ssn", ["ssn_digits", "tin"], lambda r: ssn(r, dashed=False)),
    "de_idnr": ("de_tax_id", ["steuer_id", "idnr"], lambda r: de_idnr(r)),
    "fr_nir": ("fr_nir", ["nir", "insee"], lambda r: fr_nir(r)),
    "nl_bsn": ("nl_bsn", ["bsn", "burgerservicenummer"], lambda r: nl_bsn(r)),
    "es_dni": ("es_dni", ["dni", "nif"], lambda r: es_dni(r)),
    "it_cf": ("it_codice_fiscale", ["codice_fiscale", "cf"], lambda r: it_cf(r)),
    "pl_pesel": ("pl_pesel", ["pesel", "national_id"], lambda r: pl_pesel(r)),
    "ipv4": ("ipv4", ["ip", "client_ip"], lambda r: ipv4(r)),
    "ipv6": ("ipv6", ["ipv6", "remote_addr"], lambda r: ipv6(r)),
    "dob_iso": ("date_of_birth", ["birth_date", "dob"], lambda r: date(r, 1935, 2006, "%Y-%m-%d")),
    "dob_eu": ("date_of_birth", ["date_of_birth", "born"],
               lambda r: date(r, 1935, 2006, r.choice(["%d/%m/%Y", "%d.%m.%Y"]))),
    "full_name": ("person_name", ["name", "customer_name"], lambda r: names.full_name(r)),
    "first_name": ("person_name", ["first_name", "given_name"], lambda r: names.given_name(r)),
    "last_name": ("person_name", ["last_name", "surname"], lambda r: names.surname(r)),
    "address": ("postal_address", ["address", "street_address"], lambda r: names.address(r)),
    "notes_pii": ("free_text_pii", ["notes", "comment"], lambda r: text(r, True)),
    # 2% of the cells embed PII: what the default sample is sized to catch (>= 1%, 99%).
    "notes_sparse": ("free_text_pii", ["memo", "agent_notes"], lambda r: text(r, True, 0.02)),
    "notes_clean": ("not_pii", ["remarks", "description"], lambda r: text(r, False)),
    "sku": ("not_pii", ["sku", "product_code"], lambda r: "SKU-%05d-%s" % (r.randint(0, 99999), r.choice(UPPER))),
    "amount": ("not_pii", ["amount", "balance"], lambda r: "%.2f" % r.uniform(-500, 50000)),
    "count": ("not_pii", ["quantity", "num_items"], lambda r: str(r.randint(0, 400))),
    "event_date": ("not_pii", ["order_date", "created"], lambda r: date(r, 2019, 2026, "%Y-%m-%d")),
    "timestamp": ("not_pii", ["updated_at", "ts"],
                  lambda r: date(r, 2019, 2026, "%Y-%m-%d") + "T%02d:%02d:%02dZ" % (r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))),
    "uuid": ("not_pii", ["id", "request_id"], lambda r: "%08x-%04x-4%03x-a%03x-%012x" % (
        r.getrandbits(32), r.getrandbits(16), r.getrandbits(12), r.getrandbits(12), r.getrandbits(48))),
    "url": ("not_pii", ["url", "landing_page"], lambda r: "https://www.example.com/%s/%d?ref=%s" % (
        r.choice(["products", "help", "offers"]), r.randint(1, 9999), r.choice(["mail", "ad", "home"]))),
    "category": ("not_pii", ["segment", "tier"], lambda r: r.choice(CATEGORIES)),
    "city": ("not_pii", ["city", "branch"], lambda r: r.choice(names.CITIES_ONLY)),
    "country": ("not_pii", ["country", "market"], lambda r: r.choice(COUNTRIES)),
    "product": ("not_pii", ["product", "item"], lambda r: r.choice(PRODUCTS)),
    "hash": ("not_pii", ["token", "checksum"], lambda r: "%064x" % r.getrandbits(256)),
    "txn_id": ("not_pii", ["transaction_id", "ref"], lambda r: str(r.randint(10**15, 10**16 - 1))),
    "score": ("not_pii", ["score", "ratio"], lambda r: "%.4f" % r.random()),
    "flag": ("not_pii", ["active", "verified"], lambda r: r.choice(["true", "false"])),
    "zip": ("not_pii", ["postcode_area", "zip3"], lambda r: "%03d" % r.randint(0, 999)),
    "card_invalid": ("not_pii", ["card_ref", "pan_test"], lambda r: card(r, valid=False)),
    "iban_invalid": ("not_pii", ["iban_ref", "acct_ref"], lambda r: iban(r, valid=False)),
    "ssn_invalid": ("not_pii", ["ssn_test", "case_no"], lambda r: ssn(r, valid=False)),
    "de_idnr_invalid": ("not_pii", ["idnr_test", "ref_no"], lambda r: de_idnr(r, valid=False)),
    "fr_nir_invalid": ("not_pii", ["nir_test", "dossier"], lambda r: fr_nir(r, valid=False)),
    "nl_bsn_invalid": ("not_pii", ["bsn_test", "kenmerk"], lambda r: nl_bsn(r, valid=False, dotted=True)),
    "es_dni_invalid": ("not_pii", ["dni_test", "expediente"], lambda r: es_dni(r, valid=False)),
    "it_cf_invalid": ("not_pii", ["cf_test", "pratica"], lambda r: it_cf(r, valid=False)),
    "pl_pesel_invalid": ("not_pii", ["pesel_test", "sprawa"], lambda r: pl_pesel(r, valid=False)),
}

# "wrongheaders": each column carries the header of the next one (an e-mail column named
# "phone", ...): the header is a hint only and must not win over the content.
VARIANTS = ["header", "colnames", "headerless", "obfuscated", "json", "ndjson", "wrongheaders"]

# What attackers and copy-paste do to values: full-width forms, NBSP and other spaces, zero
# width characters, soft hyphens, Unicode dashes, ideographic full stops.
def obfuscate(rng, s):
    out = []
    for ch in s:
        r = rng.random()
        if ch.isdigit() and r < 0.3:
            out.append(chr(0xFF10 + int(ch)))
        elif ch == "@" and r < 0.5:
            out.append("\uFF20")
        elif ch == "." and r < 0.2:
            out.append("\u3002")
        elif ch == " " and r < 0.5:
            out.append(rng.choice(["\u00A0", "\u202F", "\u2007"]))
        elif ch == "-" and r < 0.5:
            out.append(rng.choice(["\u2011", "\u2013", "\u2212"]))
        elif ch.isascii() and ch.isalpha() and r < 0.1:
            out.append(chr(ord(ch) - 0x21 + 0xFF01))
        else:
            out.append(ch)
        if rng.random() < 0.04:
            out.append(rng.choice(["\u200B", "\u200C", "\u2060", "\uFEFF", "\u00AD"]))
    return "".join(out)


def csv_cell(s):
    if any(c in s for c in ',"\n\r') or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


def write_table(outdir, name, variant, kinds, rows, rng, labels):
    headers = []
    used = set()
    for k in kinds:
        h = rng.choice(KINDS[k][1])
        while h in used:
            h += "_2"
        used.add(h)
        headers.append(h)
    columns = [[KINDS[k][2](rng) for _ in range(rows)] for k in kinds]
    # A few empty cells, as exports have.
    for col in columns:
        for i in range(rows):
            if rng.random() < 0.02:
                col[i] = ""
    if variant == "obfuscated":
        columns = [[obfuscate(rng, v) for v in col] for col in columns]
    if variant in ("json", "ndjson"):
        # Paths: some columns nested, one as an array of values.
        paths = []
        array_col = rng.randrange(len(kinds))
        for i, h in enumerate(headers):
            prefix = rng.choice(["", "", "customer.", "meta."])
            paths.append(prefix + h)
        records = []
        for r in range(rows):
            rec = {}
            for i, p in enumerate(paths):
                v = columns[i][r]
                if v == "":
                    continue
                parts = p.split(".")
                node = rec
                for part in parts[:-1]:
                    node = node.setdefault(part, {})
                if i == array_col:
                    node[parts[-1]] = [v, KINDS[kinds[i]][2](rng)] if rng.random() < 0.3 else [v]
                else:
                    node[parts[-1]] = v
            records.append(rec)
        ext = ".json" if variant == "json" else ".ndjson"
        path = os.path.join(outdir, name + ext)
        with open(path, "w", encoding="utf-8") as f:
            if variant == "json":
                json.dump(records, f, ensure_ascii=False, indent=1)
            else:
                for rec in records:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        for i, k in enumerate(kinds):
            column = paths[i] + ("[]" if i == array_col else "")
            labels.append({"file": name + ext, "column": column, "class": KINDS[k][0],
                           "kind": k, "variant": variant})
        return
    if variant == "colnames":
        headers = ["col_%d" % (i + 1) for i in range(len(kinds))]
    if variant == "wrongheaders":
        headers = headers[1:] + headers[:1]
    path = os.path.join(outdir, name + ".csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        if variant != "headerless":
            f.write(",".join(headers) + "\n")
        for r in range(rows):
            f.write(",".join(csv_cell(columns[i][r]) for i in range(len(kinds))) + "\n")
    for i, k in enumerate(kinds):
        column = "col_%d" % (i + 1) if variant in ("headerless", "colnames") else headers[i]
        labels.append({"file": name + ".csv", "column": column, "class": KINDS[k][0], "kind": k,
                       "variant": variant})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--per-table", type=int, default=9)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.outdir, exist_ok=True)
    labels = []
    t = 0
    for rnd in range(args.rounds):
        kinds = sorted(KINDS)
        rng.shuffle(kinds)
        for start in range(0, len(kinds), args.per_table):
            group = kinds[start:start + args.per_table]
            variant = VARIANTS[t % len(VARIANTS)]
            write_table(args.outdir, "t%03d_%s" % (t, variant), variant, group, args.rows, rng,
                        labels)
            t += 1
    with open(os.path.join(args.outdir, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    print(f"gen_bench: {t} files, {len(labels)} labelled columns, {len(KINDS)} kinds, "
          f"{len(set(v[0] for v in KINDS.values()))} classes -> {args.outdir}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Deterministic synthetic customers file (17 columns) for `make demo` and `make bench`.

    bench/gen_customers.py ROWS OUTPUT [--seed N]

The same ROWS and seed always give the same bytes. Values look real (names, e-mails, phones,
SSN-shaped numbers, Luhn-valid card numbers, mod-97-valid IBANs, dates, addresses) but are
random: no real person's data.
"""
import argparse
import random
import sys

FIRST = ["Alice", "Bob", "Carla", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
         "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoë", "José", "Chloé", "Björn", "Aoife"]
LAST = ["Smith", "Jones", "García", "Müller", "Rossi", "Dubois", "Kowalski", "Nakamura", "Okafor",
        "Silva", "Andersson", "O'Brien", "Novak", "Haddad", "Ivanova", "Chen", "Patel", "Kim",
        "Nguyen", "Schmidt", "Taylor", "Brown", "Wilson", "Moreau", "Bianchi", "Costa"]
STREETS = ["High St", "Station Rd", "Church Lane", "Park Ave", "Mill Road", "Queen St",
           "Elm Street", "Harbour View", "Rue de la Paix", "Hauptstraße"]
CITIES = [("London", "GB"), ("Manchester", "GB"), ("Paris", "FR"), ("Berlin", "DE"),
          ("Madrid", "ES"), ("Milan", "IT"), ("Dublin", "IE"), ("Amsterdam", "NL")]
DOMAINS = ["example.com", "example.org", "mail.example.net", "bank.example"]


def luhn_complete(digits):
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return digits + str((10 - total % 10) % 10)


def iban(rng, country):
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    check = 98 - int(numeric) % 97
    return f"{country}{check:02d}{bban}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", type=int)
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    header = ["customer_id", "first_name", "last_name", "email", "phone", "ssn", "card_number",
              "iban", "birth_date", "address", "city", "country", "age", "income", "balance",
              "num_transactions", "segment"]
    out = open(args.output, "w", encoding="utf-8", newline="")
    w = out.write
    w(",".join(header) + "\n")
    for i in range(args.rows):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country = rng.choice(CITIES)
        age = rng.randint(18, 90)
        email = f"{first.lower()}.{last.lower().replace(chr(39), '')}{i}@{rng.choice(DOMAINS)}"
        phone = f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}"
        ssn = f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
        card = luhn_complete("4" + "".join(rng.choice("0123456789") for _ in range(14)))
        birth = f"{2026 - age}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        address = f"\"{rng.randint(1, 250)} {rng.choice(STREETS)}, {city}\""
        income = rng.randint(12000, 250000)
        balance = round(rng.uniform(-5000, 150000), 2)
        tx = rng.randint(0, 400)
        segment = rng.choice(["retail", "premium", "private", "sme"])
        w(f"C{i + 1:08d},{first},{last},{email},{phone},{ssn},{card},{iban(rng, country)},"
          f"{birth},{address},{city},{country},{age},{income},{balance},{tx},{segment}\n")
    out.close()


if __name__ == "__main__":
    sys.exit(main())

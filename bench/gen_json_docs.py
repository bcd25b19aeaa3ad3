#!/usr/bin/env python3
"""Deterministic NDJSON for the JSON stage of make bench: N documents of ~2 KB (an order event
with a customer, an address, a device, a payment and line items), each with the 10 values that
bench/configs/json_hash10.yml pseudonymizes (HASH).

    bench/gen_json_docs.py N OUTPUT [--seed 7]

Written with json.dumps(ensure_ascii=False) and its default separators, so a Python peer that
re-serializes with the same settings writes byte-identical lines (the stage compares them).
"""
import argparse
import json
import random

FIRST = ["Ann", "Bartholomew", "Chloé", "Dmitri", "Eun-ji", "François", "Grace", "Hamid", "Inés", "Jürgen"]
LAST = ["Lee", "Quill", "Müller", "O'Brien", "Nakamura", "Søndergaard", "García", "Kowalski"]
CITIES = ["Zürich", "Lyon", "Kraków", "Porto", "Malmö", "Gent", "Brno", "Cork"]
WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
         "sigma tau upsilon phi chi psi omega").split()


def doc(i, rnd):
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    items = []
    for k in range(rnd.randint(5, 7)):
        items.append({"sku": f"SKU-{rnd.randint(10000, 99999)}", "quantity": rnd.randint(1, 9),
                      "unit_price": round(rnd.uniform(1, 500), 2), "currency": "EUR",
                      "description": " ".join(rnd.choice(WORDS) for _ in range(12)),
                      "tags": [rnd.choice(WORDS) for _ in range(3)], "discount": None})
    return {
        "event_id": f"evt-{i:09d}", "type": "order.created", "schema_version": 3,
        "created_at": f"2026-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:00:00Z",
        "customer": {
            "id": f"C-{rnd.randint(0, 10**8):08d}", "email": f"{first.lower()}.{last.lower()}{i}@example.org",
            "name": f"{first} {last}", "phone": f"+41 79 {rnd.randint(100, 999)} {rnd.randint(10, 99)} {rnd.randint(10, 99)}",
            "birth_date": f"19{rnd.randint(40, 99)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
            "address": {"street": f"{rnd.randint(1, 200)} {rnd.choice(WORDS).title()}strasse",
                        "zip": f"{rnd.randint(1000, 9999)}", "city": rnd.choice(CITIES), "country": "CH"},
            "segment": rnd.choice(["retail", "sme", "private"]), "loyalty_points": rnd.randint(0, 50000)},
        "device": {"ip": f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
                   "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
                   "locale": "de-CH", "session_ms": rnd.randint(1000, 10**6)},
        "payment": {"method": "sepa", "iban": f"CH{rnd.randint(10, 99)} {rnd.randint(1000, 9999)} {rnd.randint(1000, 9999)} {rnd.randint(1000, 9999)} {rnd.randint(1000, 9999)} {rnd.randint(0, 9)}",
                    "card_holder": f"{first} {last}".upper(), "amount": round(rnd.uniform(10, 5000), 2), "captured": rnd.random() < 0.9},
        "items": items,
        "shipping": {"carrier": "post", "tracking": f"TRK{rnd.randint(10**9, 10**10)}", "eta_days": rnd.randint(1, 7)},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    with open(args.output, "w", encoding="utf-8") as f:
        for i in range(args.n):
            f.write(json.dumps(doc(i, rnd), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generate a synthetic province for benchmarks: agencies.csv and responses.csv.

Usage: scripts/gen_province.py OUT_DIR [--agencies 3000] [--responses 1000000] [--dossiers 0]
       [--procedures 0] [--year 2026] [--seed 1]

Agencies: 1 province (BP) with ~3% departments, ~5% districts and communes for the rest.
Responses follow `sipas import responses` (columns agency_code, submitted_at, channel, late,
TC0, TT0, CC0, KQ0, PA0, HL0, E1, E2, E6, E7, C1), spread over January to November of the
year (the import refuses future days), a few agencies with planted harassment and repeat-visit
problems. With --dossiers N, also procedures.csv (one procedure per level) and dossiers.csv for
`sipas import dossiers` (N dossiers returned January to November, agencies weighted as above).
With --procedures K, procedures.csv holds K procedures per level and every response names one
(a few common ones, a long tail: weight 1/rank) and a channel (counter 55%, online 40%, postal
5%), as responses that come through dossiers do; without it, every response is a counter one
with no procedure.
Deterministic for a given seed.
"""
import argparse
import itertools
import os
import random


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--agencies", type=int, default=3000)
    p.add_argument("--responses", type=int, default=1_000_000)
    p.add_argument("--dossiers", type=int, default=0)
    p.add_argument("--procedures", type=int, default=0)
    p.add_argument("--year", type=int, default=2026)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    n_tinh = max(1, a.agencies * 3 // 100)
    n_huyen = max(1, a.agencies * 5 // 100)
    codes = []
    with open(os.path.join(a.out, "agencies.csv"), "w", encoding="utf-8") as f:
        f.write("code,name,level,province_code,parent_code\n")
        for i in range(a.agencies):
            if i < n_tinh:
                code, level, parent = f"B-T{i:04d}", "tinh", ""
                name = f"Sở số {i}"
            elif i < n_tinh + n_huyen:
                code, level, parent = f"B-H{i:04d}", "huyen", ""
                name = f"UBND huyện số {i}"
            else:
                code, level = f"B-X{i:05d}", "xa"
                parent = f"B-H{n_tinh + (i % n_huyen):04d}"
                name = f"UBND xã số {i}"
            f.write(f"{code},{name},{level},BP,{parent}\n")
            codes.append(code)
    # Agency sizes: departments and districts get more responses than communes.
    weights = [8.0 if c[2] == "T" else 5.0 if c[2] == "H" else 1.0 for c in codes]
    planted_h = set(codes[n_tinh : n_tinh + 3])
    planted_v = set(codes[n_tinh + 3 : n_tinh + 6])
    rows = rng.choices(range(len(codes)), weights=weights, k=a.responses)
    level = {"T": "tinh", "H": "huyen", "X": "xa"}
    if a.procedures:
        write_procedures(a.out, [f"BP-{lv}-{i:03d}" for lv in level.values() for i in range(a.procedures)])
    rank = list(itertools.accumulate(1.0 / (i + 1) for i in range(a.procedures)))
    with open(os.path.join(a.out, "responses.csv"), "w", encoding="utf-8") as f:
        f.write("agency_code,submitted_at,channel,late,TC0,TT0,CC0,KQ0,PA0,HL0,E1,E2,E6,E7,C1")
        f.write(",procedure_code\n" if a.procedures else "\n")
        r = rng.random
        for idx in rows:
            code = codes[idx]
            channel, procedure = "counter", ""
            if a.procedures:
                x = r()
                channel = "counter" if x < 0.55 else "online" if x < 0.95 else "postal"
                i = rng.choices(range(a.procedures), cum_weights=rank)[0]
                procedure = f",BP-{level[code[2]]}-{i:03d}"
            h = 0.25 if code in planted_h else 0.04
            v = 0.35 if code in planted_v else 0.07
            # January to November: `sipas import responses` refuses days after today.
            month = 1 + int(r() * 11)
            day = 1 + int(r() * 28)
            sat = [str(5 if x < 0.4 else 4 if x < 0.8 else 3 if x < 0.92 else 2 if x < 0.97 else 1) for x in (r(), r(), r(), r(), r(), r())]
            pa0 = "NA" if r() < 0.3 else sat[4]
            harassed = r() < h
            e6 = "2" if harassed else "1"
            e7 = ("3" if r() < 0.1 else "2") if harassed and r() < 0.4 else "1"
            e1 = str(3 + int(r() * 2)) if r() < v else str(1 + int(r() * 2))
            late = "1" if r() < 0.08 else "0"
            comment = "phải bồi dưỡng mới xong" if harassed and r() < 0.1 else ""
            f.write(f"{code},{a.year}-{month:02d}-{day:02d},{channel},{late},{sat[0]},{sat[1]},{sat[2]},{sat[3]},{pa0},{sat[5]},{e1},1,{e6},{e7},{comment}{procedure}\n")

    if a.dossiers:
        write_dossiers(a, rng, codes, weights)


FIELDS = ["Hộ tịch", "Đất đai", "Xây dựng", "Đăng ký kinh doanh", "Tư pháp", "Lao động"]


def write_procedures(out, codes):
    """procedures.csv for `sipas import procedures`: code BP-{level}[-{i}], fields in turn."""
    with open(os.path.join(out, "procedures.csv"), "w", encoding="utf-8") as f:
        f.write("code,name,field,level\n")
        for i, code in enumerate(codes):
            level = code.split("-")[1]
            f.write(f"{code},Thủ tục {code},{FIELDS[i % len(FIELDS)]},{level}\n")


def write_dossiers(a, rng, codes, weights):
    level = {"T": "tinh", "H": "huyen", "X": "xa"}
    if not a.procedures:
        write_procedures(a.out, [f"BP-{lv}" for lv in level.values()])
    rows = rng.choices(range(len(codes)), weights=weights, k=a.dossiers)
    with open(os.path.join(a.out, "dossiers.csv"), "w", encoding="utf-8") as f:
        f.write("dossier_code,agency_code,procedure_code,channel,received_at,due_at,returned_at\n")
        r = rng.random
        for n, idx in enumerate(rows):
            code = codes[idx]
            month = 1 + int(r() * 11)
            day = 1 + int(r() * 25)
            channel = "online" if r() < 0.4 else "counter"
            f.write(
                f"{a.year}-{n:08d},{code},BP-{level[code[2]]},{channel},"
                f"{a.year}-{month:02d}-{day:02d},{a.year}-{month:02d}-{day + 2:02d},"
                f"{a.year}-{month:02d}-{day + 3:02d}T10:30:00\n"
            )


if __name__ == "__main__":
    main()

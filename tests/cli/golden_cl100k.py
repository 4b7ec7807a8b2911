#!/usr/bin/env python3
"""golden_cl100k.py - compare a command's token counts (or ids) with the
tiktoken cl100k_base goldens in testdata/golden/tiktoken/cl100k_base.jsonl.

Usage: golden_cl100k.py OUT GOLDEN FIELD [--ids] [--stress]

OUT holds the command's records for testdata/text/hostile.jsonl (360
records, in order) and, with --stress, then those of
testdata/golden/tiktoken/stress.jsonl.  FIELD is the record's count
("n_tokens", "origin_tokens"); with --ids the records' "ids" must also be
tiktoken's.  Prints the first mismatches; exits 1 if there is any.
"""
import json
import sys


def main():
    out, golden, field = sys.argv[1:4]
    ids, stress = "--ids" in sys.argv[4:], "--stress" in sys.argv[4:]
    want = {}
    for line in open(golden, encoding="utf-8"):
        r = json.loads(line)
        if r.get("special"):
            continue
        want[(r["set"], r["id"])] = r["ids"] if "ids" in r else r["n"]
    got = [json.loads(line) for line in open(out, encoding="utf-8")]
    n_stress = sum(1 for k in want if k[0] == "stress") if stress else 0
    if len(got) != 360 + n_stress:
        print(f"{len(got)} records, expected {360 + n_stress}")
        return 1
    bad = []
    for i, g in enumerate(got):
        key = ("hostile" if i < 360 else "stress", g["id"])
        w = want[key]
        n = len(w) if isinstance(w, list) else w
        if g[field] != n or (ids and g.get("ids") != w):
            bad.append((key, g[field], n))
    print("compared", len(got), "mismatches (record, got, want):", bad[:10])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""align_golden.py - golden for lib/lingua/align.c (tests/unit/test_align.c).

Re-implements LLMLingua-2's word annotation (experiments/llmlingua2/
data_collection/label_word.py: the window search and the chunk statistics)
and its chunk filter (filter.py: two numpy.percentile(..., 90) passes) over
word lists instead of spaCy lemmas (microsoft/LLMLingua label_word.py at
4411201, filter.py at 88bcf03), and writes testdata/golden/align/align.jsonl.xz.

Words come from the committed texts split with re.findall(r"\\w+|[^\\w\\s]")
and are stored in the golden, so the C test does not depend on any split.
The pairs: the LLMLingua-2 goldens' prompts and their compressed outputs
(testdata/golden/lingua/*.jsonl), testdata/text/hostile.jsonl texts with
seeded synthetic compressions (words dropped, re-cased, replaced by words
absent from the original, repeated), long concatenations that make the
window matter, and hand-written hostile cases (empty texts, commas only,
repeated words, Unicode case: final sigma, dotted I, Kelvin sign, sharp s).

Run by hand (needs numpy), from the repository root:
    /root/venv-torch/bin/python tests/golden/align_golden.py
"""
import json
import lzma
import os
import random
import re

import numpy as np

WINDOWS = (150, 400)
SMALL_WINDOWS = (1, 2, 3, 7)


def split_words(text):
    return re.findall(r"\w+|[^\w\s]", text)


def label_words(origin, comp, window):
    """label_word.py over words; "," is skipped as the script skips the lemma ","."""
    pos = [i for i, w in enumerate(origin) if w != ","]
    orig = [origin[i] for i in pos]
    comp = [w for w in comp if w != ","]
    n = len(orig)
    origin_set = set(orig)
    for w in orig:
        origin_set.add(w.lower())
    labels = [False] * n
    num_find = 0
    prev = 0
    for c in comp:
        if c in origin_set or c.lower() in origin_set:
            num_find += 1
        if n == 0:
            continue  # the script raises IndexError here
        for i in range(window):
            j = min(prev + i, n - 1)
            if orig[j].lower() == c.lower() and not labels[j]:
                labels[j] = True
                if j - prev > window // 2:
                    prev += window // 2
                else:
                    prev = j
                break
            j = max(prev - i, 0)
            if orig[j].lower() == c.lower() and not labels[j]:
                labels[j] = True
                prev = j
                break
    kept = sum(labels)
    # the script divides by zero for an empty original: 0 here
    comp_rate = len(comp) / n if n else 0.0
    find_rate = num_find / len(comp) if comp else 0.0
    variation_rate = 1 - find_rate
    hitting_rate = num_find / n if n else 0.0
    matching_rate = kept / n if n else 0.0
    alignment_gap = hitting_rate - matching_rate
    out = [0] * len(origin)
    for k, i in enumerate(pos):
        out[i] = int(labels[k])
    stats = dict(n_orig=n, n_comp=len(comp), n_find=num_find, n_kept=kept, comp_rate=comp_rate,
                 find_rate=find_rate, variation_rate=variation_rate, hitting_rate=hitting_rate,
                 matching_rate=matching_rate, alignment_gap=alignment_gap)
    return out, stats


def filter_chunks(variation, gap):
    """filter.py: drop variation_rate >= p90, then among the rest alignment_gap >= p90."""
    n = len(variation)
    if n == 0:
        return []
    t = np.percentile(variation, 90)
    first = [i for i in range(n) if variation[i] < t]
    keep = [0] * n
    if not first:
        return keep
    t = np.percentile([gap[i] for i in first], 90)
    for i in first:
        keep[i] = int(gap[i] < t)
    return keep


def synth_comp(rng, words, keep_p, absent):
    out = []
    for w in words:
        r = rng.random()
        if r < keep_p:
            x = rng.random()
            if x < 0.08:
                w = w.upper()
            elif x < 0.14:
                w = w.lower()
            elif x < 0.18:
                w = w.title()
            out.append(w)
            if rng.random() < 0.03:
                out.append(w)  # repeated word
        elif r < keep_p + 0.04:
            out.append(rng.choice(absent))
    if out and rng.random() < 0.2:  # a local swap
        i = rng.randrange(len(out))
        j = min(len(out) - 1, i + rng.randrange(1, 4))
        out[i], out[j] = out[j], out[i]
    return out


def hand_pairs():
    w = split_words
    return [
        ([], []),
        ([], ["a"]),
        (["a"], []),
        ([","], [","]),
        ([",", ",", "a", ","], ["a", ","]),
        (["a", "a", "a", "a"], ["a", "a", "a", "a", "a"]),
        (["the"] * 30, ["The"] * 10),
        (["x"] * 5 + ["y"] * 400 + ["x"] * 5, ["x"] * 8 + ["y"]),
        (["b", "a"] * 300, ["a"] * 200 + ["b"] * 50),
        (w("ΟΔΟΣ Οδός ΣΑΣ σας"), w("οδος οδοσ οδός σας σασ ΣΑΣ")),
        (w("İstanbul ISTANBUL istanbul"), w("i̇stanbul istanbul İSTANBUL")),
        (["\u212a", "k", "K"], ["k", "k", "\u212a"]),
        (w("STRASSE straße Straße"), w("strasse STRASSE straße")),
        (["ǅemal", "ǆ", "Ǆ"], ["ǆemal", "ǅ", "ǅ"]),
        (w("a b c d e f g h i j"), w("zz yy xx")),
        (w("one two three"), w("three two one")),
        ([""], [""]),
        (["", "a", ""], ["", ""]),
    ]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rng = random.Random(20261203)
    pairs = []  # (source, orig words, comp words)
    for name in ("tiny-bert", "tiny-xlmr", "tiny-xlmr-marian", "real-model"):
        with open(os.path.join(root, "testdata/golden/lingua", name + ".jsonl"), encoding="utf-8") as f:
            for k, line in enumerate(f):
                d = json.loads(line)
                src = d.get("input", d)
                ctx = src["context"] if "context" in src else src["prompt"]
                if isinstance(ctx, str):
                    ctx = [ctx]
                pairs.append(("lingua/%s:%d" % (name, k + 1), split_words("\n\n".join(ctx)),
                              split_words(d["expect"]["compressed_prompt"])))
    texts = []
    with open(os.path.join(root, "testdata/text/hostile.jsonl"), encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
    absent = ["zyzzyva", "Quux", "ÆTHER", "ΣΟΦΙΑ", "naïve", "東京", "",  "—"]
    for k, t in enumerate(texts):
        if k % 4:
            continue
        words = split_words(t)
        pairs.append(("hostile:%d" % (k + 1), words, synth_comp(rng, words, rng.choice((0.3, 0.5, 0.8)), absent)))
    # long originals: the window and its jump matter
    allwords = [w for _, o, _ in pairs[:60] for w in o]
    for k in range(6):
        st = rng.randrange(max(1, len(allwords) - 2000))
        words = allwords[st:st + rng.choice((600, 1200, 2000))]
        pairs.append(("long:%d" % (k + 1), words, synth_comp(rng, words, rng.choice((0.2, 0.4, 0.6)), absent)))
    for k, (o, c) in enumerate(hand_pairs()):
        pairs.append(("hand:%d" % (k + 1), o, c))

    out = []
    stats_by_window = {w: [] for w in WINDOWS}
    for src, o, c in pairs:
        runs = []
        windows = WINDOWS + (SMALL_WINDOWS if src.startswith("hand") or src.startswith("long") else ())
        for win in windows:
            labels, st = label_words(o, c, win)
            runs.append({"window": win, "labels": "".join(map(str, labels)), "stats": st})
            if win in stats_by_window:
                stats_by_window[win].append(st)
        out.append({"src": src, "orig": o, "comp": c, "runs": runs})
    filters = []
    for win in WINDOWS:
        v = [s["variation_rate"] for s in stats_by_window[win]]
        g = [s["alignment_gap"] for s in stats_by_window[win]]
        filters.append({"name": "all pairs, window %d" % win, "variation": v, "gap": g})
    vals = [0.0, 0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0]
    for k in range(40):
        n = rng.randrange(1, 31)
        v = [rng.choice(vals) if rng.random() < 0.6 else rng.random() for _ in range(n)]
        g = [rng.choice(vals) if rng.random() < 0.6 else rng.random() - 0.5 for _ in range(n)]
        filters.append({"name": "random %d" % (k + 1), "variation": v, "gap": g})
    filters.append({"name": "all equal", "variation": [0.2] * 5, "gap": [0.0] * 5})
    filters.append({"name": "one chunk", "variation": [0.5], "gap": [0.1]})
    filters.append({"name": "none", "variation": [], "gap": []})
    for fl in filters:
        fl["keep"] = "".join(map(str, filter_chunks(fl["variation"], fl["gap"])))
    path = os.path.join(root, "testdata/golden/align/align.jsonl.xz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with lzma.open(path, "wt", encoding="utf-8", preset=9) as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        for fl in filters:
            f.write(json.dumps({"filter": fl}, ensure_ascii=False) + "\n")
    print("%d pairs, %d filter cases -> %s (%d bytes)" % (len(out), len(filters), path, os.path.getsize(path)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""metrics_golden.py - parity goldens for lib/text/metrics.c (BLEU, ROUGE,
SQuAD F1/EM), checked by tests/unit/test_metrics.c.

Run by hand from the repository root, with the reference packages in a
virtual environment outside the repository:
    python3 -m venv /tmp/venv-metrics
    /tmp/venv-metrics/bin/pip install sacrebleu rouge-score nltk evaluate
    /tmp/venv-metrics/bin/python tests/golden/metrics_golden.py
Checked with sacrebleu 2.6.0, rouge-score 0.1.2, nltk 3.10.4, evaluate
0.4.6, Python 3.11 (Unicode 14.0.0).  Writes
    testdata/golden/metrics/pairs.jsonl.xz  one record per (prediction,
                                          references) pair, then one "corpus"
                                          record (make fixtures unpacks it
                                          into $BUILD/testdata/golden/metrics)
    testdata/golden/metrics/porter.jsonl  {"word", "stem"}: nltk's PorterStemmer()
and prints a summary on stderr.  Floats are written as Python's repr (the
shortest string that reads back to the same double).

Where the values come from:
  - sacreBLEU: sacrebleu.corpus_bleu / sentence_bleu with their defaults
    (13a, exp smoothing; sentence_bleu with effective order), and
    corpus_bleu(smooth_method="none"); tokens of sacrebleu's Tokenizer13a.
  - evaluate's "bleu": evaluate.load("bleu") needs the Hugging Face hub,
    which may be unreachable.  When it is, the metric is recomputed here as
    evaluate's metrics/bleu/bleu.py does it (tokens: Tokenizer13a(text)
    .split(), no rstrip) with nmt_bleu.py compute_bleu as published in the
    huggingface/evaluate repository (commit 4c312afb: ratio and brevity
    penalty 0 when either length is 0, where tensorflow/nmt raised
    ZeroDivisionError).  The "evaluate_source" field of the corpus record
    says which was used.
  - ROUGE: rouge_score.rouge_scorer.RougeScorer(["rouge1", "rouge2",
    "rougeL"], use_stemmer=False / True): score(ref, pred) for one
    reference, score_multi(refs, pred) for several.
  - SQuAD: the official evaluate-v1.1.py functions (normalize_answer,
    f1_score, exact_match_score, metric_max_over_ground_truths), restated
    below (the script is not a package).

The pairs come from text committed in this repository:
  - testdata/golden/lingua/real-model.jsonl and every other record of
    tiny-bert.jsonl: each compressed prompt against its original prompt
    (LLMLingua-2 outputs, the task the metrics serve);
  - README.md and man/man1/*.1: the first 120 prose sentences of 6 to 40
    words (mdoc macro names stripped),
    against themselves with words dropped, shuffled, repeated, truncated,
    and with a neighbouring sentence as a second reference;
  - testdata/text/hostile.jsonl: unicode, whitespace, emoji, numbers,
    punctuation, long runs; neighbouring texts of the first 240 paired, and the first 93
    each against itself;
  - a short list of hand-made hostile cases below (empty strings,
    punctuation only, 13a's -\\n, &amp; and <skipped> rules, Final_Sigma,
    U+0130, the Kelvin sign, articles, numbers, repeated n-grams), a few
    with several references, and 60 seeded random strings made of such
    pieces.
Pairs: 400 (354 with one reference, which the corpus record takes).
"""
import collections
import glob
import json
import lzma
import math
import os
import random
import re
import string
import sys

import sacrebleu
from rouge_score import rouge_scorer, tokenize as rouge_tokenize
from nltk.stem import porter
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "testdata", "golden", "metrics")

HAND = [
    ("", ""),
    ("", "a reference"),
    ("a prediction", ""),
    ("...", "..."),
    ("?!", "!!! ???"),
    ("a", "a"),
    ("the", "The"),
    ("the cat the cat the cat", "the cat sat on the mat"),
    ("the the the the the the the", "the cat is on the mat"),
    ("abc-\n", "abc-"),
    ("well -\n", "well -"),
    ("co-\noperate", "cooperate"),
    ("&amp;lt; &quot;x&quot; &gt;", "<x> \"x\""),
    ("a <skipped> b", "a b"),
    ("3.14, 2-3 1,000.5 x.y a,b 10-20", "3.14 , 2 - 3 1,000.5 x . y a , b 10 - 20"),
    ("ΣΑΣ σας", "σας ΣΑΣ"),
    ("ΟΔΟΣ. ΟΔΟΣ' Σ", "οδος. οδοσ' σ"),
    ("İstanbul KELVIN", "i̇stanbul kelvin"),
    ("An apple, a pear and the banana.", "apple pear banana"),
    ("the\u0301 an\u00e9 a_b a-b", "the an a b"),
    ("Running runners ran; generalization of oscillators", "run runner ran generalize oscillator"),
    ("caresses ponies ties skies dying", "caress poni tie sky die"),
    ("\u3000full\u3000width\u2003space\u00a0nbsp\x1cfs", "full width space nbsp fs"),
    ("tab\tand\nnewline\r\nend", "tab and newline end"),
    ("1 2 3 4 5 6 7 8 9 10", "1 2 3 4 5 6 7 8 9 10"),
    ("one two three four", "one two three four five six seven eight"),
    ("x", "x x x x x x x x x x x x"),
    ("ab ab ab ab ab ab", "ab ab"),
    ("日本語 テキスト", "日本語テキスト"),
    ("emoji 😀 and 👍🏽", "emoji 😀 👍🏽"),
]

# several references: closest-length ties (sacreBLEU takes the shorter),
# shortest vs closest (evaluate vs sacreBLEU), the first of equal ROUGE
# fmeasures, SQuAD's maximum
HAND_MULTI = [
    ("a b c d", ["a b c d e", "a b c"]),
    ("a b c d", ["a b c", "a b c d e"]),
    ("a b c d e f", ["x y z", "a b c d e f g h i j", "a b"]),
    ("the cat", ["cat", "the cat", "a cat"]),
    ("", ["", "something"]),
    ("one two", ["two one", "one two", "one"]),
]


def squad_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def squad_f1(prediction, ground_truth):
    p = squad_normalize(prediction).split()
    g = squad_normalize(ground_truth).split()
    common = collections.Counter(p) & collections.Counter(g)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(p)
    recall = 1.0 * num_same / len(g)
    return (2 * precision * recall) / (precision + recall)


def squad_em(prediction, ground_truth):
    return squad_normalize(prediction) == squad_normalize(ground_truth)


def ngrams(seg, max_order):
    c = collections.Counter()
    for order in range(1, max_order + 1):
        for i in range(0, len(seg) - order + 1):
            c[tuple(seg[i:i + order])] += 1
    return c


def evaluate_bleu_recomputed(preds, refs, smooth, max_order=4):
    """evaluate's bleu: Tokenizer13a tokens, nmt_bleu.compute_bleu."""
    tok = Tokenizer13a()
    refs = [[tok(r).split() for r in rr] for rr in refs]
    preds = [tok(p).split() for p in preds]
    matches = [0] * max_order
    possible = [0] * max_order
    ref_len = hyp_len = 0
    for rr, hyp in zip(refs, preds):
        ref_len += min(len(r) for r in rr)
        hyp_len += len(hyp)
        merged = collections.Counter()
        for r in rr:
            merged |= ngrams(r, max_order)
        overlap = ngrams(hyp, max_order) & merged
        for g in overlap:
            matches[len(g) - 1] += overlap[g]
        for order in range(1, max_order + 1):
            if len(hyp) - order + 1 > 0:
                possible[order - 1] += len(hyp) - order + 1
    prec = [0] * max_order
    for i in range(max_order):
        if smooth:
            prec[i] = (matches[i] + 1.) / (possible[i] + 1.)
        elif possible[i] > 0:
            prec[i] = float(matches[i]) / possible[i]
        else:
            prec[i] = 0.0
    if min(prec) > 0:
        geo = math.exp(sum((1. / max_order) * math.log(p) for p in prec))
    else:
        geo = 0
    if ref_len == 0 or hyp_len == 0:
        ratio = bp = 0.0
    else:
        ratio = float(hyp_len) / ref_len
        bp = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)
    return {"bleu": float(geo * bp), "precisions": [float(p) for p in prec], "brevity_penalty": float(bp),
            "length_ratio": float(ratio), "translation_length": hyp_len, "reference_length": ref_len}


EVALUATE = None


def evaluate_bleu(preds, refs, smooth):
    if EVALUATE is not None:
        r = EVALUATE.compute(predictions=preds, references=refs, smooth=smooth)
        r["precisions"] = [float(p) for p in r["precisions"]]
        for k in ("bleu", "brevity_penalty", "length_ratio"):
            r[k] = float(r[k])
        return r
    return evaluate_bleu_recomputed(preds, refs, smooth)


def sacre(score):
    return {"score": score.score, "precisions": list(score.precisions), "bp": score.bp,
            "sys_len": score.sys_len, "ref_len": score.ref_len}


def prose_sentences():
    """Sentences of README.md and the man pages."""
    out = []
    texts = [open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()]
    for p in sorted(glob.glob(os.path.join(ROOT, "man", "man1", "*.1"))):
        lines = []
        for line in open(p, encoding="utf-8"):
            line = line.rstrip("\n")
            if line.startswith(".\\\"") or line.startswith("'"):
                continue
            if line.startswith("."):
                # mdoc macro line: keep its words, drop the macro names
                words = [w for w in line[1:].split() if not re.fullmatch(r"[A-Z][a-z]|[A-Z][a-z][a-z]?", w)]
                line = " ".join(words)
            lines.append(line)
        texts.append("\n".join(lines))
    seen = set()
    for t in texts:
        for para in re.split(r"\n\s*\n", t):
            if para.lstrip().startswith(("```", "|", "    ")):
                continue
            para = " ".join(para.split())
            for s in re.split(r"(?<=[.!?])\s+", para):
                if 6 <= len(s.split()) <= 40 and s not in seen:
                    seen.add(s)
                    out.append(s)
    return out


def build_pairs():
    pairs = []

    def add(source, pred, refs):
        pairs.append({"source": source, "pred": pred, "refs": list(refs)})

    # LLMLingua-2 compressions against their prompts
    seen = set()
    for name in ("real-model.jsonl", "tiny-bert.jsonl"):
        p = os.path.join(ROOT, "testdata", "golden", "lingua", name)
        for k, line in enumerate(open(p, encoding="utf-8")):
            d = json.loads(line)
            if name == "tiny-bert.jsonl" and k % 2:
                continue
            src = d.get("input", d)
            orig = src["context"] if "context" in src else src["prompt"]
            if isinstance(orig, list):
                orig = "\n\n".join(orig)
            comp = d["expect"]["compressed_prompt"]
            if (orig, comp) in seen:
                continue
            seen.add((orig, comp))
            add("lingua/%s:%s" % (name, d["case"]), comp, [orig])
    # prose, edited
    rng = random.Random(16)
    sents = prose_sentences()
    for i, s in enumerate(sents[:120]):
        w = s.split()
        kind = i % 6
        if kind == 0:
            add("prose drop", " ".join(x for j, x in enumerate(w) if j % 3 != 1), [s])
        elif kind == 1:
            v = w[:]
            rng.shuffle(v)
            add("prose shuffle", " ".join(v), [s])
        elif kind == 2:
            add("prose multi-ref", s, [" ".join(w[: len(w) // 2]), sents[(i + 1) % len(sents)]])
        elif kind == 3:
            add("prose repeat", " ".join(w[:3] * 4), [s])
        elif kind == 4:
            add("prose truncate", " ".join(w[:2]), [s, s.upper()])
        else:
            add("prose neighbour", s, [sents[(i + 7) % len(sents)]])
    # hostile texts
    texts = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "testdata", "text", "hostile.jsonl"),
                                                   encoding="utf-8")]
    for i in range(0, 240, 2):  # 240-359 are more of the same random mix
        add("hostile %d-%d" % (i, i + 1), texts[i], [texts[i + 1]])
    for i in range(0, 93, 3):  # 93-103 are long runs, in the pairs above
        add("hostile %d self" % i, texts[i], [texts[i]])
    for pred, ref in HAND:
        add("hand", pred, [ref])
    for pred, refs in HAND_MULTI:
        add("hand multi-ref", pred, refs)
    # random strings over the pieces the rules look at
    pieces = ["a", "b", "The", "the", " ", ".", ",", "-", "\n", "1", "2", "&amp;", "&lt;", "<skipped>", "\u03a3",
              "\u03c3", "\u0130", "\u212a", "\u2003", "\x1c", "y", "ing", "ies", "an", "'", "\t", "\U0001f600",
              "\u0301", "_", "sing", "ed", "ll"]
    for i in range(60):
        pred = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 24)))
        ref = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 24)))
        add("random %d" % i, pred, [ref])
    return pairs


def main():
    global EVALUATE
    try:
        import evaluate
        EVALUATE = evaluate.load("bleu")
        source = "evaluate.load('bleu')"
    except Exception as e:  # the hub is not reachable
        print("evaluate.load('bleu') failed (%s); recomputing" % type(e).__name__, file=sys.stderr)
        source = "recomputed (evaluate metrics/bleu/nmt_bleu.py at 4c312afb)"

    pairs = build_pairs()
    tok = Tokenizer13a()
    stem = porter.PorterStemmer()
    scorers = {s: rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=s) for s in (False, True)}
    os.makedirs(OUT, exist_ok=True)
    agree = diff = 0
    with lzma.open(os.path.join(OUT, "pairs.jsonl.xz"), "wt", encoding="utf-8", preset=9) as f:
        for i, p in enumerate(pairs):
            pred, refs = p["pred"], p["refs"]
            rec = {"id": i, "source": p["source"], "pred": pred, "refs": refs,
                   "tok13a": tok(pred),
                   "rouge_tokens": " ".join(rouge_tokenize.tokenize(pred, None)),
                   "rouge_tokens_stem": " ".join(rouge_tokenize.tokenize(pred, stem)),
                   "squad_norm": squad_normalize(pred),
                   "bleu_evaluate": evaluate_bleu([pred], [refs], False),
                   "bleu_evaluate_smooth": evaluate_bleu([pred], [refs], True),
                   "sacrebleu_corpus": sacre(sacrebleu.corpus_bleu([pred], [[r] for r in refs])),
                   "sacrebleu_sentence": sacre(sacrebleu.sentence_bleu(pred, refs)),
                   "sacrebleu_none": sacre(sacrebleu.corpus_bleu([pred], [[r] for r in refs],
                                                                 smooth_method="none", tokenize="13a"))}
            for key, s in (("rouge", False), ("rouge_stem", True)):
                sc = scorers[s].score(refs[0], pred) if len(refs) == 1 else scorers[s].score_multi(refs, pred)
                rec[key] = {k: [v.precision, v.recall, v.fmeasure] for k, v in sc.items()}
            rec["squad_f1"] = float(max(squad_f1(pred, r) for r in refs))
            rec["squad_em"] = int(max(squad_em(pred, r) for r in refs))
            # the spec's cross-check: sacrebleu without smoothing / 100 = evaluate
            if abs(rec["sacrebleu_none"]["score"] / 100 - rec["bleu_evaluate"]["bleu"]) <= 1e-9:
                agree += 1
            else:
                diff += 1
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        one = [p for p in pairs if len(p["refs"]) == 1]
        preds = [p["pred"] for p in one]
        refs = [p["refs"] for p in one]
        rec = {"corpus": "every pair with one reference", "evaluate_source": source, "n": len(one),
               "bleu_evaluate": evaluate_bleu(preds, refs, False),
               "bleu_evaluate_smooth": evaluate_bleu(preds, refs, True),
               "sacrebleu_corpus": sacre(sacrebleu.corpus_bleu(preds, [[r[0] for r in refs]])),
               "sacrebleu_none": sacre(sacrebleu.corpus_bleu(preds, [[r[0] for r in refs]], smooth_method="none"))}
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")

    words = set()
    for p in pairs:
        for t in [p["pred"]] + p["refs"]:
            words.update(rouge_tokenize.tokenize(t, None))
    words.update(["sky", "skies", "dying", "lying", "tying", "news", "innings", "inning", "outings", "cannings",
                  "howe", "proceed", "exceed", "succeed", "flies", "dies", "spied", "died", "happy", "enjoy",
                  "spy", "fly", "try", "generalization", "oscillators", "hopefulness", "radically", "fully",
                  "hopefully", "geology", "theology", "archaeology", "conditional", "rational", "relational",
                  "vietnamization", "predication", "operator", "feudalism", "decisiveness", "callousness",
                  "formality", "sensitivity", "sensibility", "triplicate", "formative", "formalize",
                  "electricity", "electrical", "hopeful", "goodness", "revival", "allowance", "inference",
                  "airliner", "gyroscopic", "adjustable", "defensible", "irritant", "replacement", "adjustment",
                  "dependent", "adoption", "homologou", "communism", "activate", "angularity", "homologous",
                  "effective", "bowdlerize", "probate", "rate", "cease", "controll", "roll", "agreed", "feed",
                  "plastered", "bled", "motoring", "sing", "conflated", "troubled", "sized", "hopping",
                  "tanned", "falling", "hissing", "fizzed", "failing", "filing", "yyyy", "syzygy", "toy",
                  "ayyy", "yeyy", "ies", "eed", "ied", "sses", "alli", "logi", "at", "a", "y", "ye", "abli",
                  "conformabli", "vileli", "analogousli", "differentli", "radicalli", "hopefulli", "xylology",
                  "e", "ll", "bell", "tell", "ation", "ization", "bliss", "reading", "ringing", "sings"])
    with open(os.path.join(OUT, "porter.jsonl"), "w", encoding="utf-8") as f:
        for w in sorted(words):
            f.write(json.dumps({"word": w, "stem": stem.stem(w)}) + "\n")
    print("%d pairs, %d words; evaluate bleu: %s; sacrebleu(none)/100 == evaluate bleu within 1e-9 on %d pairs, "
          "not on %d" % (len(pairs), len(words), source, agree, diff), file=sys.stderr)


if __name__ == "__main__":
    main()

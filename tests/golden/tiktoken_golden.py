#!/usr/bin/env python3
"""tiktoken_golden.py - writes the tiktoken parity goldens for tests/unit/test_tiktoken.c.

Reference: the `tiktoken` package from PyPI, run offline: each encoding is
built with tiktoken.Encoding(name, pat_str=..., mergeable_ranks=load_tiktoken_bpe(path),
special_tokens=...) from a local rank file.

Texts: testdata/text/hostile.jsonl (360 lines) plus the stress texts below
(long corpus passages, pieces of thousands of bytes, special-token text,
case-folding and White_Space corner cases).  The three corpus passages
(the first 20000 characters of WikiText-2 valid, Tiny Shakespeare and a
Wikipedia dump sample) are read back from the committed stress.jsonl.

Output (JSON Lines, one record per text and encoding):
  testdata/golden/tiktoken/stress.jsonl
      {"id","text"}: the stress texts themselves (set "stress").
  testdata/golden/tiktoken/cl100k_base.jsonl
      {"set","id","ids"} for cl100k_base from $BUILD/share/lmkit/cl100k_base.tiktoken,
      encode_ordinary; {"set","id","special":true,"ids"} for encode(allowed_special="all").
      Long stress texts store {"n","fnv"} instead of the ids (see fnv below).
  testdata/golden/tiktoken/tiny.jsonl
      {"enc","set","id","n","fnv"} for every split regex (cl100k_base, o200k_base,
      r50k_base, p50k_base, kimi_k2) with the small rank file testdata/tokenize/tiny.tiktoken
      (the first 2000 ranks of cl100k_base).
  testdata/golden/tiktoken/kimi_k2.jsonl
      {"set","id","n","fnv"} for $BUILD/testdata/tiktoken/kimi-k2-instruct/tiktoken.model.
The rank files are those make decompresses from testdata/tiktoken (make
fixtures; BUILD default "build").
fnv: FNV-1a 64 over the ids as 4-byte little-endian integers, as 16 hex digits.

Run by hand in a virtualenv with tiktoken (never by make check):
    python3 -m venv /root/venv-tiktoken && /root/venv-tiktoken/bin/pip install tiktoken
    /root/venv-tiktoken/bin/python tests/golden/tiktoken_golden.py
"""
import json
import os
import struct
import sys

import tiktoken
from tiktoken.load import load_tiktoken_bpe

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(TOP, os.environ.get("BUILD") or "build")
OUT = os.path.join(TOP, "testdata", "golden", "tiktoken")

# The split regexes, as published with tiktoken (tiktoken_ext/openai_public.py)
# and with the Kimi K2 model (tokenization_kimi.py).
PAT = {
    "cl100k_base": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
    "o200k_base": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]),
    "r50k_base": r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""",
    "kimi_k2": "|".join([
        r"""[\p{Han}]+""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]),
}
PAT["p50k_base"] = PAT["r50k_base"]
SPECIALS = {
    "cl100k_base": {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                    "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    "r50k_base": {"<|endoftext|>": 50256},
    "p50k_base": {"<|endoftext|>": 50256},
    "kimi_k2": {},
}
LONG = 2000  # texts longer than this (characters) store n and fnv only


def fnv(ids):
    h = 0xcbf29ce484222325
    for b in struct.pack("<%dI" % len(ids), *ids):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def stress_texts():
    """Deterministic stress texts (set "stress")."""
    # the corpus passages, as committed
    with open(os.path.join(OUT, "stress.jsonl"), encoding="utf-8") as f:
        t = [json.loads(line)["text"] for line in f][:3]
    assert len(t) == 3 and all(len(x) == 20000 for x in t), "stress.jsonl does not start with the 3 passages"
    t += [
        "x" * 5000, "ab" * 3000, "abc" * 2000 + " tail", "\u00e9" * 3000, "\U0001F600" * 1500,
        "1234567890" * 500, " " * 3000 + "x", "\n" * 3000, "\r\n" * 1500 + "end", "a\u0301" * 1500,
        "日本語" * 1000, "\u0085 next line \u0085\u0085", "x\u0085y", "\u180e mongolian vowel separator",
        "it\u017fs it'\u017f IT'S it'\u212a", "don\u2019t we\u2019ll", "'s 'S 'ſ 'll 'LL 'Ll",
        "<|endoftext|>", "a<|endoftext|>b", "<|fim_prefix|>x<|fim_middle|>y<|fim_suffix|>z<|endofprompt|>",
        "<|endoftext|><|endoftext|> <|endoftext", "<|im_start|>user\nhi<|im_end|>",
        "line one  \nline two\t\t\n\n   \n", "trailing spaces then end   ", "a \n b \r\n c \t\n",
        "path/to/some/file/name.txt // comment", "https://a.b/c/d?e=f&g=h//x",
        "1,234,567.891 12345678901234567890", "٣٤٥ ١٢٣٤ ௧௨௩ ५६७", "Ⅻ ⅻ ½ ² ³ ①②③",
        "\u00a0\u00a0nbsp\u2007figure\u202fnarrow", "\u3000\u3000ideographic", "tab\u000bvt\u000cff",
        "mixed中文English日本語한국어text", "CamelCaseWordsHTTPServer XMLHttpRequest iPhone",
        "ÀÉÎÕÜ àéîõü ÇçÑñ", "Ǆǅǆ ǱǲǱ ᾈᾉ", "\U0001F468\u200d\U0001F469\u200d\U0001F467 \U0001F1FA\U0001F1F8",
        "def f(x):\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n",
        "{\"key\": [1, 2.5, -3e10, null, true], \"s\": \"a\\\"b\"}",
    ]
    return t


def hostile_texts():
    with open(os.path.join(TOP, "testdata", "text", "hostile.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def main():
    os.makedirs(OUT, exist_ok=True)
    sets = [("hostile", hostile_texts()), ("stress", stress_texts())]
    with open(os.path.join(OUT, "stress.jsonl"), "w", encoding="utf-8") as f:
        for i, s in enumerate(sets[1][1]):
            f.write(json.dumps({"id": i, "text": s}, ensure_ascii=False) + "\n")
    print("tiktoken", tiktoken.__version__, file=sys.stderr)

    ranks = load_tiktoken_bpe(os.path.join(BUILD, "share", "lmkit", "cl100k_base.tiktoken"))
    enc = tiktoken.Encoding("cl100k_base", pat_str=PAT["cl100k_base"], mergeable_ranks=ranks,
                            special_tokens=SPECIALS["cl100k_base"])
    with open(os.path.join(OUT, "cl100k_base.jsonl"), "w", encoding="utf-8") as f:
        for name, texts in sets:
            for i, s in enumerate(texts):
                ids = enc.encode_ordinary(s)
                rec = {"set": name, "id": i}
                if len(s) > LONG:
                    rec.update(n=len(ids), fnv=fnv(ids))
                else:
                    rec["ids"] = ids
                f.write(json.dumps(rec) + "\n")
                if "<|" in s:
                    ids = enc.encode(s, allowed_special="all")
                    f.write(json.dumps({"set": name, "id": i, "special": True, "ids": ids}) + "\n")
        # batch API agrees with the loop (a sanity check of the reference itself)
        allt = [s for _, texts in sets for s in texts]
        assert enc.encode_ordinary_batch(allt) == [enc.encode_ordinary(s) for s in allt]

    tiny = load_tiktoken_bpe(os.path.join(TOP, "testdata", "tokenize", "tiny.tiktoken"))
    with open(os.path.join(OUT, "tiny.jsonl"), "w", encoding="utf-8") as f:
        for ename in ("cl100k_base", "o200k_base", "r50k_base", "p50k_base", "kimi_k2"):
            e = tiktoken.Encoding("tiny-" + ename, pat_str=PAT[ename], mergeable_ranks=tiny,
                                  special_tokens=SPECIALS[ename])
            for name, texts in sets:
                for i, s in enumerate(texts):
                    ids = e.encode_ordinary(s)
                    f.write(json.dumps({"enc": ename, "set": name, "id": i, "n": len(ids), "fnv": fnv(ids)}) + "\n")

    kpath = os.path.join(BUILD, "testdata", "tiktoken", "kimi-k2-instruct", "tiktoken.model")
    kr = load_tiktoken_bpe(kpath)
    ke = tiktoken.Encoding("kimi_k2", pat_str=PAT["kimi_k2"], mergeable_ranks=kr, special_tokens={})
    with open(os.path.join(OUT, "kimi_k2.jsonl"), "w", encoding="utf-8") as f:
        for name, texts in sets:
            for i, s in enumerate(texts):
                ids = ke.encode_ordinary(s)
                f.write(json.dumps({"set": name, "id": i, "n": len(ids), "fnv": fnv(ids)}) + "\n")


if __name__ == "__main__":
    main()

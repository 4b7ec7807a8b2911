#!/usr/bin/env python3
"""tokenizers_golden.py - writes testdata/golden/tokenizers/<name>.jsonl, the
reference token ids of the Hugging Face `tokenizers` library for every
tokenizer.json in $BUILD/testdata/tokenizers (decompressed by make from
testdata/tokenizers; BUILD default "build") over testdata/text/hostile.jsonl.

One line per text: {"id": N, "ids": [...], "ids_new": [...]} where "ids" is
encode(text, add_special_tokens=True).ids and "ids_new" the same after
add_tokens(["[NEW0]", "[NEW1]"]) (normal added tokens, added at run time).
Every 4th text also has "off" (byte offsets [start, end) into the UTF-8 text,
converted from the library's character offsets) and "special" (its
special_tokens_mask); every 3rd text has "dec" (decode(ids) with
skip_special_tokens=True), "dec_all" (skip_special_tokens=False) and "tts"
(decoder.decode of the id_to_token strings of the ids, i.e.
transformers' convert_tokens_to_string(convert_ids_to_tokens(ids))).
A first line {"meta": ...} records the library version.

Also writes testdata/golden/tokenizers/added-strip.jsonl: added tokens with
lstrip / rstrip (roberta-base's own <mask>, and [L] lstrip, [R] rstrip, [B]
both, added with add_tokens) and token strings (Encoding.tokens: the added
token with the white space it took, a Unigram piece's slice of the
normalised text) over texts with white space of several kinds, combining
marks and compatibility characters.  A line {"base": NAME, "added": [...]}
(the added tokens, ids as the library gave them) precedes that tokenizer's
lines {"base", "text", "ids", "off" (bytes), "tokens"}.  `--strip` writes
only this file.

Run by hand from the repository root, in a virtualenv with PyPI `tokenizers`:
    python3 -m venv /root/venv-tok && /root/venv-tok/bin/pip install tokenizers
    /root/venv-tok/bin/python tests/golden/tokenizers_golden.py
"""
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, os.environ.get("BUILD") or "build", "testdata", "tokenizers")
OUT = os.path.join(ROOT, "testdata", "golden", "tokenizers")


def byte_offsets(text, offs):
    # prefix byte lengths of every character position
    pos = [0]
    for ch in text:
        pos.append(pos[-1] + len(ch.encode("utf-8", "surrogatepass")))
    return [[pos[s], pos[e]] for s, e in offs]


STRIP_BASES = ["roberta-base", "gpt2", "clip-vit-base", "phi-3-mini", "bert-base-uncased", "t5-small",
               "marian-nmt-unigram"]
STRIP_TEXTS = [
    "a <mask>", "a  <mask> b", " <mask>", "<mask>", "<mask> ", "a\t<mask>\nb", "x\u3000<mask>", "x\u00a0<mask> y",
    "\u00e9\u3000 <mask>\u2003z", "<mask><mask>  <mask>",
    "a [L] b", "a  [L]", "[L]", "  [L]", "x\u3000[L]y", "\u00e9\u2003\u2003[L]\u00fc",
    "a [R] b", "[R]  b", "a [R]\u3000b", "[R]", "[R]\u00a0\u00a0\u00e9 ", "x[R]\n\ny",
    "x  [B]  y", "[B]", " [B] ", "x\u2003[B]\u2003y", "\u00e9 [L] \u00fc [R] \u00f1 [B] \u00e7", "a[L]b[R]c[B]d",
    "[L][R][B]  [B][L]", "Hello, World! x n\u0303 y [B] \u00bd",
    "Caf\u00e9 \ufb01ne \uff21\uff22 \u01c6 x \u00bd \u2460 \u3392 \u2126",
    "NASA and USA. The END; \"q\" (x) don't", "\u1100\u1161\u11a8 a\u0308\u0301 \U0001F600 \u2713 \u00bd\u00bd",
]


def strip_golden():
    from tokenizers import AddedToken
    lines = [json.dumps({"meta": {"tokenizers": tokenizers.__version__}})]
    for name in STRIP_BASES:
        tok = Tokenizer.from_file(os.path.join(DATA, name, "tokenizer.json"))
        tok.add_tokens([AddedToken("[L]", lstrip=True, normalized=False),
                        AddedToken("[R]", rstrip=True, normalized=False),
                        AddedToken("[B]", lstrip=True, rstrip=True, normalized=False)])
        dec = tok.get_added_tokens_decoder()
        added = [{"id": i, "content": a.content, "single_word": a.single_word, "lstrip": a.lstrip,
                  "rstrip": a.rstrip, "normalized": a.normalized, "special": a.special}
                 for i, a in sorted(dec.items()) if a.content in ("[L]", "[R]", "[B]")]
        lines.append(json.dumps({"base": name, "added": added}))
        for text in STRIP_TEXTS:
            enc = tok.encode(text)
            lines.append(json.dumps({"base": name, "text": text, "ids": enc.ids,
                                     "off": byte_offsets(text, enc.offsets), "tokens": enc.tokens},
                                    ensure_ascii=False, separators=(",", ":")))
    with open(os.path.join(OUT, "added-strip.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("added-strip", len(STRIP_BASES), "x", len(STRIP_TEXTS), file=sys.stderr)


def main():
    if sys.argv[1:] == ["--strip"]:
        return strip_golden()
    strip_golden()
    with open(os.path.join(ROOT, "testdata", "text", "hostile.jsonl"), encoding="utf-8") as f:
        texts = [json.loads(line) for line in f if line.strip()]
    os.makedirs(OUT, exist_ok=True)
    names = sorted(d for d in os.listdir(DATA) if os.path.isfile(os.path.join(DATA, d, "tokenizer.json")))
    for name in names:
        path = os.path.join(DATA, name, "tokenizer.json")
        tok = Tokenizer.from_file(path)
        tok_new = Tokenizer.from_file(path)
        tok_new.add_tokens(["[NEW0]", "[NEW1]"])
        lines = [json.dumps({"meta": {"tokenizers": tokenizers.__version__, "file": name + "/tokenizer.json"}})]
        for k, rec in enumerate(texts):
            text = rec["text"]
            enc = tok.encode(text)
            row = {"id": rec["id"], "ids": enc.ids, "ids_new": tok_new.encode(text).ids}
            if k % 4 == 0:
                row["off"] = byte_offsets(text, enc.offsets)
                row["special"] = enc.special_tokens_mask
            if k % 3 == 0:
                row["dec"] = tok.decode(enc.ids, skip_special_tokens=True)
                row["dec_all"] = tok.decode(enc.ids, skip_special_tokens=False)
                toks = [tok.id_to_token(i) for i in enc.ids]
                row["tts"] = tok.decoder.decode(toks) if tok.decoder is not None else " ".join(toks)
            lines.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
        with open(os.path.join(OUT, name + ".jsonl"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(name, len(texts), file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""taco_sup_model.py - testdata/models/tiny-xlmr-sup: tiny-xlmr after
`taco-train sup` on a known word rule, the model whose llmlingua 0.2.2
outputs tests/golden/lingua_golden.py records (tiny-xlmr-sup.jsonl), so that
tests/unit/test_lingua.c shows a folder taco-train writes loads in llmlingua
and in lingua-compress with the same compressed strings.

Records: 300 of 6-20 words drawn from tiny-xlmr's whole-word pieces ("▁" and
3+ ASCII letters), a word kept iff it is in a fixed random half (seed 1).
Training: 3 epochs, batch 16, lr 3e-3, seed 1, one thread.

Run by hand from the repository root after `make`:
    python3 tests/golden/taco_sup_model.py
then tests/golden/lingua_golden.py.
"""
import json
import os
import random
import shutil
import subprocess
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(TOP, os.environ.get("BUILD") or "build", "bin")
SRC = os.path.join(TOP, "testdata", "models", "tiny-xlmr")
OUT = os.path.join(TOP, "testdata", "models", "tiny-xlmr-sup")


def main():
    vocab = json.load(open(os.path.join(SRC, "tokenizer.json"), encoding="utf-8"))["model"]["vocab"]
    words = sorted({p[1:] for p, _ in vocab if p.startswith("\u2581") and len(p) >= 4
                    and p[1:].isascii() and p[1:].isalpha()})
    rng = random.Random(1)
    keep = set(rng.sample(words, len(words) // 2))
    tmp = tempfile.mkdtemp(prefix="taco-sup-model-")
    data = os.path.join(tmp, "data.jsonl")
    with open(data, "w", encoding="utf-8") as f:
        for i in range(300):
            ws = [rng.choice(words) for _ in range(rng.randint(6, 20))]
            f.write(json.dumps({"id": i, "words": ws, "labels": [int(w in keep) for w in ws]}) + "\n")
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    subprocess.run([os.path.join(BIN, "taco-train"), "sup", "--model", SRC, "--data", data, "--epochs", "3",
                    "--batch-size", "16", "--lr", "3e-3", "--seed", "1", "--threads", "1", "--out", OUT],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(tmp)
    print("words:", len(words), "kept:", len(keep), "->", OUT)


if __name__ == "__main__":
    main()

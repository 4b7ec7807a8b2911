#!/usr/bin/env python3
"""grad_golden.py - reference loss and parameter gradients of the tiny token
classifiers, for tests/unit/test_train_grad.c (the encoder backward of
lib/nn/train.c).

Run by hand from the repository root (torch 2.x and transformers < 5):

    /root/venv-torch/bin/python tests/golden/grad_golden.py

For each of testdata/models/tiny-bert and testdata/models/tiny-xlmr
(*ForTokenClassification) it builds one batch of 3 sequences of lengths 11,
7 and 4, right-padded with the model's pad_token_id to 11 tokens (attention
mask 0 on the pads), with token-classification labels in {0, 1} and -100 on
the pads and on a few real tokens (torch's CrossEntropyLoss ignore_index,
mean over the other tokens).  The model runs in float64 (the weights are
float32 values, so the float64 gradients are the exact reference the float32
C code is measured against), eager attention, dropout off (eval()) but with
autograd on, and loss.backward() gives the gradient of every parameter.

Writes testdata/golden/grad/{tiny-bert,tiny-xlmr}.json:
  {"model", "B", "T", "ids" [B][T], "mask" [B][T], "labels" [B][T], "loss",
   "params": [{"name", "shape", "norm" (L2 norm of the whole gradient),
               "idx" (flat indices, row-major), "grad" (their values)}]}
in the checkpoint's tensor names.  The sample per tensor is fixed (numpy
seed 1234 + the tensor's position in sorted name order): 8 indices drawn
uniformly and 8 drawn among the nonzero entries (the used rows of the
embedding matrices), plus the first 4 entries of the padding_idx row of the
word and position embeddings (sequence 0 has a real token with the padding
id), sorted and deduplicated.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForTokenClassification

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LENS = [11, 7, 4]
NSAMPLE = 8


def batch(cfg, seed):
    rng = np.random.default_rng(seed)
    pad = cfg.pad_token_id
    T = max(LENS)
    ids = np.full((len(LENS), T), pad, dtype=np.int64)
    mask = np.zeros((len(LENS), T), dtype=np.int64)
    labels = np.full((len(LENS), T), -100, dtype=np.int64)
    for b, n in enumerate(LENS):
        row = rng.integers(5, cfg.vocab_size, size=n)
        row[row == pad] = pad + 3
        ids[b, :n] = row
        mask[b, :n] = 1
        labels[b, :n] = rng.integers(0, 2, size=n)
    ids[1, 2] = ids[0, 5]  # one token twice: embedding rows accumulate
    ids[2, 1] = ids[0, 5]
    ids[0, 8] = pad  # a real token with the padding id: nn.Embedding's padding_idx row gets no gradient
    labels[0, 0] = -100  # ignored real tokens
    labels[1, 6] = -100
    labels[2, 3] = -100
    return ids, mask, labels


def golden(name, seed):
    d = os.path.join(ROOT, "testdata", "models", name)
    model = AutoModelForTokenClassification.from_pretrained(d, attn_implementation="eager")
    model = model.double()
    model.eval()  # dropout off; autograd stays on
    ids, mask, labels = batch(model.config, seed)
    out = model(
        input_ids=torch.tensor(ids),
        attention_mask=torch.tensor(mask),
        labels=torch.tensor(labels),
    )
    out.loss.backward()
    params = []
    named = dict(model.named_parameters())
    for k, pname in enumerate(sorted(named)):
        g = named[pname].grad
        if g is None:
            g = torch.zeros_like(named[pname])
        flat = g.detach().reshape(-1).numpy()
        rng = np.random.default_rng(1234 + k)
        idx = set(rng.integers(0, flat.size, size=NSAMPLE).tolist())
        nz = np.flatnonzero(flat)
        if nz.size:
            idx |= set(rng.choice(nz, size=min(NSAMPLE, nz.size), replace=False).tolist())
        if pname.endswith("word_embeddings.weight") or pname.endswith("position_embeddings.weight"):
            C = g.shape[1]
            idx |= set(range(model.config.pad_token_id * C, model.config.pad_token_id * C + 4))
        idx = sorted(idx)
        params.append(
            {
                "name": pname,
                "shape": list(g.shape),
                "norm": float(np.linalg.norm(flat)),
                "idx": idx,
                "grad": [float(flat[i]) for i in idx],
            }
        )
    return {
        "model": name,
        "B": len(LENS),
        "T": max(LENS),
        "ids": ids.tolist(),
        "mask": mask.tolist(),
        "labels": labels.tolist(),
        "loss": float(out.loss.detach()),
        "torch": torch.__version__,
        "params": params,
    }


def main():
    outdir = os.path.join(ROOT, "testdata", "golden", "grad")
    os.makedirs(outdir, exist_ok=True)
    for seed, name in enumerate(["tiny-bert", "tiny-xlmr"]):
        g = golden(name, 100 + seed)
        path = os.path.join(outdir, name + ".json")
        with open(path, "w") as f:
            json.dump(g, f, separators=(",", ":"))
            f.write("\n")
        print(f"{path}: loss {g['loss']:.6f}, {len(g['params'])} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()

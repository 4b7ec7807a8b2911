#!/usr/bin/env python3
"""sup_golden.py - reference for 20 supervised training steps of the tiny
token classifiers, for tests/unit/test_sup_steps.c (lib/nn/train.c's forward,
loss and backward driven by lib/nn/optim.c's AdamW, schedule and clipping, and
the same steps by lib/taco/sup.c's trainer, the batches given as its windows
in order: 5 epochs of the 4 batches, shuffling off).

Run by hand from the repository root (torch 2.x and transformers < 5):

    /root/venv-torch/bin/python tests/golden/sup_golden.py

For each of testdata/models/tiny-bert and testdata/models/tiny-xlmr
(*ForTokenClassification), in float32 with eager attention, dropout off
(eval()) but autograd on, one thread:

  batches  4 fixed batches of 3 sequences (lengths LENS), cycled in order
           (step s uses batch (s-1) % 4); each batch right-padded with the
           model's pad_token_id to its longest sequence (attention mask 0 on
           the pads); a sequence is cls/bos, random ids in [5, vocab) (never
           the pad id), sep/eos; labels in {0, 1} (numpy seed), -100 on the
           pads and on the first and last real token (the special tokens).
  loss     the model's own loss with labels (CrossEntropyLoss, mean over the
           tokens whose label is not -100).
  optim    torch.optim.AdamW(lr 1e-3, betas (0.9, 0.999), eps 1e-8,
           foreach=False: the single-tensor loop torch runs on CPU tensors)
           with two parameter groups as transformers' Trainer makes them:
           weight decay 0.01 for the names Trainer.get_decay_parameter_names
           returns (lmkit: lm_optim_decays), 0 for the others, each group in
           named_parameters order.
  sched    get_linear_schedule_with_warmup(warmup 2, total 20), stepped after
           each optimiser step (so step 1 has lr 0).
  step     zero_grad; loss = model(...).loss; loss.backward();
           norm = clip_grad_norm_(params, 1.0); lr = group lr; opt.step();
           sched.step().

The same steps run again in float64 (from the same float32 weights, same
everything) as a measure of float32 rounding: "loss64" and "final64".

Then the same again with gradient accumulation ("accum"), as lib/taco/sup.c's
trainer does it with accum = ACCUM: each epoch (EPOCHS_ACCUM of them) takes
the 4 batches in order, ACCUM micro-batches per optimiser step, the epoch's
last step taking what is left (here 1: steps of batches 0,1,2 then 3, two
steps per epoch, 10 in all, the schedule over those 10), clipping at
MAX_NORM_ACCUM (3: some steps are clipped, some not, so that the scale of
the gradients shows in the weights, not only in the norms):

  step     zero_grad; for each of the step's k micro-batches:
           loss_i = model(...).loss (the micro-batch's mean token
           cross-entropy); (loss_i / k).backward(); then as above: clip,
           AdamW, schedule.  The step's loss is sum(loss_i / k), the mean of
           its micro-batches' losses.

This is transformers' Trainer with gradient_accumulation_steps = ACCUM on
these models (their forward takes no **kwargs, so the Trainer divides each
micro-batch's loss by the number of micro-batches in the update, the short
last one included, and counts ceil(4 / ACCUM) updates per epoch).

Writes testdata/golden/sup/{tiny-bert,tiny-xlmr}.json:
  {"model", "torch", "steps", "lr0", "weight_decay", "warmup", "max_norm",
   "batches": [{"B", "T", "ids" [B][T], "mask" [B][T], "labels" [B][T]}] (4),
   "loss" [20], "loss64" [20], "norm" [20] (clip's return), "lr" [20],
   "params": [{"name", "decay" (0/1), "idx" (flat, row-major),
               "init", "final", "final64" (values at idx)}],
  "accum": {"k", "epochs", "steps", "max_norm", "loss" [steps],
            "loss64" [steps], "norm" [steps], "lr" [steps],
            "micro_loss" [epochs * 4] (loss_i of every micro-batch, in order),
            "params": [{"name", "final", "final64"}] (the entries of "params",
            in its order, at its idx)}}
in the checkpoint's tensor names.  The sample per tensor is fixed (numpy seed
4321 + the tensor's position in sorted name order): 6 indices drawn uniformly
and 6 among the entries that got a nonzero gradient in some step (the used
rows of the embedding matrices), sorted and deduplicated.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, Trainer
from transformers.optimization import get_linear_schedule_with_warmup

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LENS = [[12, 9, 5], [16, 16, 7], [6, 3, 8], [10, 14, 11]]
STEPS = 20
LR, WD, WARMUP, MAX_NORM = 1e-3, 0.01, 2, 1.0
NSAMPLE = 6
ACCUM, EPOCHS_ACCUM, MAX_NORM_ACCUM = 3, 5, 3.0


def batches(cfg, tok, seed):
    rng = np.random.default_rng(seed)
    pad = cfg.pad_token_id
    out = []
    for lens in LENS:
        B, T = len(lens), max(lens)
        ids = np.full((B, T), pad, dtype=np.int64)
        mask = np.zeros((B, T), dtype=np.int64)
        labels = np.full((B, T), -100, dtype=np.int64)
        for b, n in enumerate(lens):
            row = rng.integers(5, cfg.vocab_size, size=n)
            row[row == pad] = pad + 7
            row[0], row[n - 1] = tok.cls_token_id, tok.sep_token_id
            ids[b, :n] = row
            mask[b, :n] = 1
            labels[b, 1 : n - 1] = rng.integers(0, 2, size=n - 2)
        out.append((ids, mask, labels))
    return out


def plan(nbatch, k, epochs):
    """the batch indices of every optimiser step: each epoch the batches in
    order, k per step, the last step of an epoch taking what is left"""
    return [list(range(j, min(j + k, nbatch))) for _ in range(epochs) for j in range(0, nbatch, k)]


def train(name, data, dtype, steps, max_norm):
    d = os.path.join(ROOT, "testdata", "models", name)
    model = AutoModelForTokenClassification.from_pretrained(d, attn_implementation="eager")
    model = model.to(dtype)
    model.eval()  # dropout off; autograd stays on
    named = list(model.named_parameters())
    init = {n: p.detach().clone() for n, p in named}
    decay = set(Trainer.get_decay_parameter_names(None, model))
    groups = [
        {"params": [p for n, p in named if n in decay], "weight_decay": WD},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=WARMUP, num_training_steps=len(steps))
    touched = {n: torch.zeros_like(p, dtype=torch.bool) for n, p in named}
    losses, micro, norms, lrs = [], [], [], []
    for step in steps:
        opt.zero_grad(set_to_none=True)
        loss = 0.0
        for b in step:
            ids, mask, labels = data[b]
            out = model(
                input_ids=torch.tensor(ids),
                attention_mask=torch.tensor(mask),
                labels=torch.tensor(labels),
            )
            (out.loss / len(step)).backward()
            micro.append(float(out.loss.detach()))
            loss += float(out.loss.detach()) / len(step)
        for n, p in named:
            if p.grad is not None:
                touched[n] |= p.grad != 0
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        losses.append(loss)
        norms.append(float(norm))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    final = {n: p.detach().clone() for n, p in named}
    return decay, init, final, touched, losses, micro, norms, lrs


def golden(name, seed):
    d = os.path.join(ROOT, "testdata", "models", name)
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModelForTokenClassification.from_pretrained(d)
    data = batches(model.config, tok, seed)
    one = [[s % len(data)] for s in range(STEPS)]
    decay, init, final, touched, losses, _, norms, lrs = train(name, data, torch.float32, one, MAX_NORM)
    _, _, final64, _, losses64, _, _, _ = train(name, data, torch.float64, one, MAX_NORM)
    acc = plan(len(data), ACCUM, EPOCHS_ACCUM)
    _, _, afinal, _, alosses, amicro, anorms, alrs = train(name, data, torch.float32, acc, MAX_NORM_ACCUM)
    _, _, afinal64, _, alosses64, _, _, _ = train(name, data, torch.float64, acc, MAX_NORM_ACCUM)
    aparams = []
    params = []
    for k, pname in enumerate(sorted(init)):
        rng = np.random.default_rng(4321 + k)
        n = init[pname].numel()
        idx = set(rng.integers(0, n, size=NSAMPLE).tolist())
        nz = np.flatnonzero(touched[pname].reshape(-1).numpy())
        if nz.size:
            idx |= set(rng.choice(nz, size=min(NSAMPLE, nz.size), replace=False).tolist())
        idx = sorted(idx)
        vals = lambda t: [float(t.reshape(-1)[i]) for i in idx]  # noqa: E731
        params.append(
            {
                "name": pname,
                "decay": 1 if pname in decay else 0,
                "idx": idx,
                "init": vals(init[pname]),
                "final": vals(final[pname]),
                "final64": vals(final64[pname]),
            }
        )
        aparams.append({"name": pname, "final": vals(afinal[pname]), "final64": vals(afinal64[pname])})
    return {
        "model": name,
        "torch": torch.__version__,
        "steps": STEPS,
        "lr0": LR,
        "weight_decay": WD,
        "warmup": WARMUP,
        "max_norm": MAX_NORM,
        "batches": [
            {"B": len(i), "T": len(i[0]), "ids": i.tolist(), "mask": m.tolist(), "labels": lb.tolist()}
            for i, m, lb in data
        ],
        "loss": losses,
        "loss64": losses64,
        "norm": norms,
        "lr": lrs,
        "params": params,
        "accum": {
            "k": ACCUM,
            "epochs": EPOCHS_ACCUM,
            "steps": len(acc),
            "max_norm": MAX_NORM_ACCUM,
            "loss": alosses,
            "loss64": alosses64,
            "micro_loss": amicro,
            "norm": anorms,
            "lr": alrs,
            "params": aparams,
        },
    }


def main():
    torch.set_num_threads(1)
    outdir = os.path.join(ROOT, "testdata", "golden", "sup")
    os.makedirs(outdir, exist_ok=True)
    for seed, name in enumerate(["tiny-bert", "tiny-xlmr"]):
        g = golden(name, 500 + seed)
        path = os.path.join(outdir, name + ".json")
        with open(path, "w") as f:
            json.dump(g, f, separators=(",", ":"))
            f.write("\n")
        rel = max(abs(a - b) / abs(b) for a, b in zip(g["loss"], g["loss64"]))
        print(
            f"{path}: loss {g['loss'][0]:.6f} -> {g['loss'][-1]:.6f}, float32 vs float64 {rel:.2g},"
            f" {len(g['params'])} tensors; with accumulation {g['accum']['k']}: loss"
            f" {g['accum']['loss'][0]:.6f} -> {g['accum']['loss'][-1]:.6f};"
            f" {os.path.getsize(path)} bytes",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()

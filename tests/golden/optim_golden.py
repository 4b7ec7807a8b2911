#!/usr/bin/env python3
"""optim_golden.py - goldens for lib/nn/optim (AdamW, schedules, clipping).

Regenerate (by hand; make check only reads the result):

    /root/venv-torch/bin/python tests/golden/optim_golden.py
        -> testdata/golden/optim/optim.safetensors.xz

Needs torch (2.9) and transformers (<5).  A tiny BERT-like module gives the
parameter names; transformers' Trainer.get_decay_parameter_names splits
them into a decay and a no-decay group.  Seeded gradients (the same for
every run, written as "grads") drive torch.optim.AdamW (foreach=False: the
single-tensor loop torch uses by default on CPU tensors) for STEPS steps,
each step being: clip_grad_norm_, read the group's lr, optimizer.step(),
scheduler.step().  Three runs:

  cosine     get_cosine_schedule_with_warmup (warmup 3 of 20), betas
             (0.9, 0.999), eps 1e-8, weight decay 0.1, max_norm 1.0
  linear     get_linear_schedule_with_warmup (warmup 4 of 20), betas
             (0.9, 0.999), eps 1e-8, weight decay 0.01, max_norm 0.5
  constwarm  get_constant_schedule_with_warmup (warmup 2), betas
             (0.3, 0.95) (the other branch of torch's lerp), eps 1e-6,
             weight decay 0.05, max_norm 1.0
  nowarm     get_cosine_schedule_with_warmup (no warmup, 20 steps) and
             AdamW's defaults (lr 1e-3): the first step already moves
             (under warm-up, step 1 has lr 0)

Bit-exactness: torch computes v.sqrt() with MKL's vsSqrt in an MKL build
(within 1 ulp, not always correctly rounded) and sums squares for the norms
in float32 lanes, so C's results differ in the last bit here and there.

Tensors (all little-endian, flat parameter layout = PARAMS order):
  decay                  U8 [nparam]      1 when the tensor is in the decay group
  grads                  F32 [STEPS, N]   raw gradients before clipping
  params.RUN             F32 [STEPS+1, N] row 0 initial, row s after step s
  norm.RUN               F32 [STEPS]      clip_grad_norm_'s return value
  lr.RUN                 F64 [STEPS]      the lr AdamW used at each step
  sched.KIND.W.T         F64 [T+4]        transformers' lr lambda at steps
                                          0..T+3 (KIND linear, cosine,
                                          cosine1.5 (num_cycles 1.5),
                                          constwarm, constant)
"""
import lzma
import math
import os
import sys

import torch
from safetensors.torch import save_file
from torch import nn
from transformers import Trainer
from transformers.optimization import (
    get_constant_schedule,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

STEPS = 20
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "golden", "optim")


class Named(nn.Module):
    """Modules only to give parameters BERT's names."""

    def __init__(self_, **children):
        super().__init__()
        for k, v in children.items():
            setattr(self_, k, v)


def build_model():
    torch.manual_seed(20261203)
    query = nn.Linear(13, 17)
    ln = nn.LayerNorm(17)
    cls = nn.Linear(23, 3)
    with torch.no_grad():
        for p in (query.weight, query.bias, cls.weight, cls.bias, ln.bias):
            p.copy_(torch.randn(p.shape) * 0.5)
        ln.weight.copy_(1 + 0.1 * torch.randn(ln.weight.shape))
    layer = Named(attention=Named(**{"self": Named(query=query)}, output=Named(LayerNorm=ln)))
    return Named(encoder=Named(layer=nn.ModuleList([layer])), classifier=cls)


# gradient scale per tensor (LayerNorm.bias tiny, so eps dominates there)
GSCALE = {"weight": 1.0, "bias": 0.5}
GSCALE_NAMED = {
    "encoder.layer.0.attention.output.LayerNorm.weight": 0.2,
    "encoder.layer.0.attention.output.LayerNorm.bias": 1e-7,
    "classifier.weight": 2.0,
}
STEP_FACTOR = [0.01, 0.05, 0.2]


def make_grads(model):
    g = torch.Generator().manual_seed(7)
    rows = []
    for s in range(STEPS):
        parts = []
        for name, p in model.named_parameters():
            sc = GSCALE_NAMED.get(name, GSCALE[name.rsplit(".", 1)[1]])
            x = torch.randn(p.numel(), generator=g) * (sc * STEP_FACTOR[s % 3])
            if s == 5:
                x[::7] = 0.0  # some exact zeros
            parts.append(x.float())
        rows.append(torch.cat(parts))
    return torch.stack(rows)


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def run(init_state, grads, sched, lr, betas, eps, wd, max_norm):
    model = build_model()
    model.load_state_dict(init_state)
    decay = set(Trainer.get_decay_parameter_names(None, model))
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if n in decay], "weight_decay": wd},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, foreach=False)
    sch = sched(opt)
    snaps, norms, lrs = [flat(model)], [], []
    for s in range(STEPS):
        off = 0
        for _, p in named:
            p.grad = grads[s, off : off + p.numel()].reshape(p.shape).clone()
            off += p.numel()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).reshape(1))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
        snaps.append(flat(model))
    return torch.stack(snaps), torch.cat(norms).float(), torch.tensor(lrs, dtype=torch.float64)


def sched_tables():
    """transformers' lr lambdas (lr 1, so lr == lambda) at steps 0..T+3."""
    out = {}
    configs = [(0, 10), (3, 20), (5, 5), (7, 3), (1, 1), (0, 1), (10, 1000)]
    for w, t in configs:
        kinds = {
            "linear": lambda o: get_linear_schedule_with_warmup(o, w, t),
            "cosine": lambda o: get_cosine_schedule_with_warmup(o, w, t),
            "cosine1.5": lambda o: get_cosine_schedule_with_warmup(o, w, t, num_cycles=1.5),
            "constwarm": lambda o: get_constant_schedule_with_warmup(o, w),
            "constant": get_constant_schedule,
        }
        for kind, make in kinds.items():
            p = nn.Parameter(torch.zeros(1))
            o = torch.optim.SGD([p], lr=1.0)
            sch = make(o)
            vals = [sch.lr_lambdas[0](s) for s in range(t + 4)]
            out[f"sched.{kind}.{w}.{t}"] = torch.tensor(vals, dtype=torch.float64)
    return out


def main():
    model = build_model()
    init_state = {k: v.clone() for k, v in model.state_dict().items()}
    decay = set(Trainer.get_decay_parameter_names(None, model))
    grads = make_grads(model)
    t = {
        "decay": torch.tensor([1 if n in decay else 0 for n, _ in model.named_parameters()], dtype=torch.uint8),
        "grads": grads.contiguous(),
    }
    runs = {
        "cosine": (lambda o: get_cosine_schedule_with_warmup(o, 3, STEPS), 5e-3, (0.9, 0.999), 1e-8, 0.1, 1.0),
        "linear": (lambda o: get_linear_schedule_with_warmup(o, 4, STEPS), 2e-3, (0.9, 0.999), 1e-8, 0.01, 0.5),
        "constwarm": (lambda o: get_constant_schedule_with_warmup(o, 2), 1e-2, (0.3, 0.95), 1e-6, 0.05, 1.0),
        "nowarm": (lambda o: get_cosine_schedule_with_warmup(o, 0, STEPS), 1e-3, (0.9, 0.999), 1e-8, 0.01, 1.0),
    }
    for name, args in runs.items():
        p, n, lr = run(init_state, grads, *args)
        t[f"params.{name}"] = p.contiguous()
        t[f"norm.{name}"] = n.contiguous()
        t[f"lr.{name}"] = lr
    t.update(sched_tables())
    meta = {
        "generator": "tests/golden/optim_golden.py",
        "torch": torch.__version__,
        "params": ",".join(n for n, _ in model.named_parameters()),
    }
    os.makedirs(OUT, exist_ok=True)
    tmp = os.path.join(OUT, "optim.safetensors.tmp")
    save_file(t, tmp, metadata=meta)
    with open(tmp, "rb") as f:
        data = f.read()
    os.remove(tmp)
    with lzma.open(os.path.join(OUT, "optim.safetensors.xz"), "wb", preset=9) as f:
        f.write(data)
    print(f"optim_golden: {len(data)} bytes, params {','.join(n for n, _ in model.named_parameters())}", file=sys.stderr)
    print(f"decay: {sorted(decay)}", file=sys.stderr)


if __name__ == "__main__":
    main()

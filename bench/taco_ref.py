#!/usr/bin/env python3
"""taco_ref.py - the PyTorch side of bench/taco.sh: supervised training steps
of a token classifier on the CPU, as taco-train sup runs them.

  taco_ref.py DIR DATA B T WARMUP STEPS THREADS LR MAX_NORM

Loads DIR (a taco-train init folder) with AutoModelForTokenClassification in
float32 (transformers' default attention), dropout off (eval(); autograd on),
torch.set_num_threads(THREADS).  DATA holds word-labelled records ("words",
"labels"); every word is tokenized on its own with DIR's tokenizer, its label
copied to its tokens, and a window is [CLS] + the word tokens + [SEP], the ends
labelled -100; every window must have exactly T tokens, so a batch of B
windows has no padding.  Step s uses windows (s-1)*B ... s*B-1 (cyclically).
A step: zero_grad, loss = model(ids, mask, labels).loss, backward,
clip_grad_norm_(MAX_NORM), AdamW(lr LR, betas (0.9, 0.999), eps 1e-8,
weight decay 0: taco-train's defaults; fused=True, the implementation
transformers' Trainer picks with torch >= 2.8 ("adamw_torch_fused") and the
fastest of torch's three on the CPU: the default for-loop one takes several
times longer for BERT-base).  WARMUP untimed steps, then STEPS timed ones.

Prints one JSON line per step (loss, grad_norm, the forward, backward and
optimiser times and the step's whole time) and a last line with the resident
memory after the imports, after loading and the peak (VmHWM), from
/proc/self/status.
"""
import json
import sys
import time

import torch
import transformers


def vm(key):
    with open("/proc/self/status", encoding="ascii") as f:
        for ln in f:
            if ln.startswith(key + ":"):
                return int(ln.split()[1]) / 1024.0
    return None


def main():
    d, data = sys.argv[1], sys.argv[2]
    B, T, warm, steps, threads = (int(a) for a in sys.argv[3:8])
    lr, max_norm = float(sys.argv[8]), float(sys.argv[9])
    rss_import = vm("VmRSS")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = transformers.AutoModelForTokenClassification.from_pretrained(
        d, torch_dtype=torch.float32)
    model.eval()
    tok = transformers.AutoTokenizer.from_pretrained(d)
    load = time.perf_counter() - t0
    rss_load = vm("VmRSS")

    windows = []
    with open(data, encoding="utf-8") as f:
        for ln in f:
            r = json.loads(ln)
            ids, labels = [tok.cls_token_id], [-100]
            for w, lab in zip(r["words"], r["labels"]):
                p = tok(w, add_special_tokens=False)["input_ids"]
                ids += p
                labels += [int(lab)] * len(p)
            ids.append(tok.sep_token_id)
            labels.append(-100)
            if len(ids) != T:
                sys.exit("taco_ref.py: a window has %d tokens, not %d" % (len(ids), T))
            windows.append((ids, labels))
    if len(windows) < B:
        sys.exit("taco_ref.py: fewer than %d windows" % B)

    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.0, fused=True)
    for s in range(warm + steps):
        sel = [windows[(s * B + i) % len(windows)] for i in range(B)]
        ids = torch.tensor([w[0] for w in sel], dtype=torch.long)
        labels = torch.tensor([w[1] for w in sel], dtype=torch.long)
        mask = torch.ones_like(ids)
        a = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        b = time.perf_counter()
        loss.backward()
        c = time.perf_counter()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
        e = time.perf_counter()
        print(json.dumps({
            "step": s + 1, "timed": s >= warm, "loss": loss.item(), "grad_norm": norm.item(),
            "tokens": int((labels != -100).sum()), "t_forward_s": round(b - a, 4),
            "t_backward_s": round(c - b, 4), "t_optim_s": round(e - c, 4),
            "step_s": round(e - a, 4)}), flush=True)
    print(json.dumps({
        "params": sum(p.numel() for p in model.parameters()), "load_s": round(load, 3),
        "rss_import_mb": round(rss_import), "rss_load_mb": round(rss_load),
        "rss_peak_mb": round(vm("VmHWM")), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "transformers": transformers.__version__,
        "attn": model.config._attn_implementation}))


if __name__ == "__main__":
    main()

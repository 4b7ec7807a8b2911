#!/usr/bin/env python3
"""encoder_ref.py - the transformers + torch CPU side of bench/encoder.sh.

  encoder_ref.py DIR B T ITERS [LOGITS_OUT]

Loads DIR (written by encoder_bench gen) with AutoModelForTokenClassification
in float32, builds the same token ids as encoder_bench (LCG, see there), runs
one short warm-up forward, then ITERS timed forwards of B x T tokens under
torch.inference_mode(), and prints one JSON line.  LOGITS_OUT gets the last
logits as raw little-endian float32, for comparison with lmkit's.
"""
import json
import os
import sys
import time

import torch
import transformers


def main():
    d, B, T, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(os.cpu_count() or 1)
    t0 = time.perf_counter()
    model = transformers.AutoModelForTokenClassification.from_pretrained(
        d).eval()
    load = time.perf_counter() - t0
    V = model.config.vocab_size
    x, ids = 1, []
    for _ in range(B * T):
        x = (x * 1103515245 + 12345) % 2147483648
        ids.append(5 + x % (V - 5))
    ids = torch.tensor(ids, dtype=torch.long).view(B, T)
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        model(input_ids=ids[:1, :min(T, 16)], attention_mask=mask[:1, :min(T, 16)])
        total, best = 0.0, 1e30
        for _ in range(iters):
            a = time.perf_counter()
            logits = model(input_ids=ids, attention_mask=mask).logits
            dt = time.perf_counter() - a
            total += dt
            best = min(best, dt)
    if len(sys.argv) > 5:
        logits.float().numpy().astype("<f4").tofile(sys.argv[5])
    print(json.dumps({
        "impl": "transformers", "batch": B, "seq": T, "iters": iters, "load_s": round(load, 3),
        "time_s": round(total / iters, 4), "best_s": round(best, 4),
        "tokens_per_s": round(B * T * iters / total, 1), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "transformers": transformers.__version__,
        "attn": model.config._attn_implementation}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""init_check.py - checks that the folders lib/nn/init.c writes (new
BertForTokenClassification / XLMRobertaForTokenClassification models around a
tokenizer.json) are what transformers expects.

Run by hand from the repository root after `make all-tests` (torch 2.x and
transformers < 5):

    /root/venv-torch/bin/python tests/golden/init_check.py [DIR ...]

Without DIR it runs `LMKIT_KEEP=1 build/tests/test_init`, which keeps the
folders it wrote and prints "# kept TMPDIR", and checks TMPDIR/bert-a and
TMPDIR/xlm-roberta-a (2 layers, hidden 64, 4 heads, seed 42, around the
tokenizers of testdata/models/tiny-bert and tiny-xlmr), then removes TMPDIR.

For each folder:
  - AutoModelForTokenClassification.from_pretrained(output_loading_info=True)
    reports no missing, unexpected or mismatched keys and no error messages,
    and every parameter and buffer it has for the checkpoint equals the tensor in
    model.safetensors (nothing was re-initialised);
  - the config: architecture, num_labels 2 and id2label LABEL_0/LABEL_1;
  - AutoTokenizer.from_pretrained gives a fast tokenizer of the right class
    whose special-token ids agree with config.json and whose ids for a few
    texts are those of tokenizers.Tokenizer.from_file(tokenizer.json) (so
    tokenizer_config.json changed nothing, e.g. no lower-casing);
  - a padded batch of two texts runs (eval, no grad): logits [2, T, 2],
    all finite;
  - initialisation statistics as transformers' _init_weights: weights with
    std near initializer_range, zero padding rows, LayerNorm 1/0, biases 0.
Prints one line per check and exits 1 if any failed.
"""
import os
import re
import shutil
import subprocess
import sys

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

FAILS = 0


def check(cond, what):
    global FAILS
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        FAILS += 1


def check_folder(d):
    print(f"== {d}")
    cfg = AutoConfig.from_pretrained(d)
    check(cfg.num_labels == 2 and cfg.id2label == {0: "LABEL_0", 1: "LABEL_1"},
          f"config: {cfg.architectures[0]}, model_type {cfg.model_type}, 2 labels LABEL_0/LABEL_1")
    model, info = AutoModelForTokenClassification.from_pretrained(d, output_loading_info=True)
    model.eval()
    check(type(model).__name__ == cfg.architectures[0], f"model class {type(model).__name__}")
    for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        check(len(info[k]) == 0, f"{k}: {list(info[k])}")
    sd = load_file(os.path.join(d, "model.safetensors"))
    msd = model.state_dict()
    same = all(k in msd and torch.equal(msd[k], v) for k, v in sd.items())
    params = {n for n, _ in model.named_parameters()}
    check(same and params <= set(sd), f"{len(sd)} tensors loaded as written, every parameter among them")

    tok = AutoTokenizer.from_pretrained(d)
    check(tok.is_fast, f"tokenizer {type(tok).__name__}, fast")
    check(tok.pad_token_id == cfg.pad_token_id, f"pad_token_id {tok.pad_token_id} as config.json")
    if cfg.model_type == "xlm-roberta":
        check(tok.bos_token_id == cfg.bos_token_id and tok.eos_token_id == cfg.eos_token_id,
              f"bos/eos {tok.bos_token_id}/{tok.eos_token_id} as config.json")
    raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    texts = ["Hello World, this is Straße number 42.", "ÀÉÎ naïve café 東京 tokens"]
    agree = all(tok(t)["input_ids"] == raw.encode(t).ids for t in texts)
    check(agree, "AutoTokenizer ids equal tokenizer.json's for cased/accented/CJK text")
    check(tok.model_max_length == 512, f"model_max_length {tok.model_max_length}")

    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    T = batch["input_ids"].shape[1]
    check(tuple(logits.shape) == (2, T, 2) and torch.isfinite(logits).all().item(),
          f"forward on a padded batch: logits {tuple(logits.shape)}, finite")

    r = cfg.initializer_range
    bad = []
    for name, t in sd.items():
        if "LayerNorm" in name:
            want = 1.0 if name.endswith("weight") else 0.0
            if not torch.all(t == want):
                bad.append(name)
        elif name.endswith(".bias"):
            if not torch.all(t == 0):
                bad.append(name)
        else:
            rows = t.clone()
            pad_rows = []
            if name.endswith("word_embeddings.weight") or (
                    cfg.model_type == "xlm-roberta" and name.endswith("position_embeddings.weight")):
                pad_rows = [cfg.pad_token_id]
            for p in pad_rows:
                if not torch.all(rows[p] == 0):
                    bad.append(name + " (pad row)")
            keep = torch.ones(rows.shape[0], dtype=torch.bool)
            keep[pad_rows] = False
            v = rows[keep].double().flatten()
            n = v.numel()
            if abs(v.mean().item()) > 6 * r / n ** 0.5 or abs(v.std().item() - r) > 6 * r / (2 * n) ** 0.5:
                bad.append(f"{name} (mean {v.mean().item():.3g}, std {v.std().item():.4g})")
    check(not bad, f"initialisation statistics (initializer_range {r}){': ' + ', '.join(bad) if bad else ''}")


def main():
    hf_logging.set_verbosity_error()
    dirs = sys.argv[1:]
    tmp = None
    if not dirs:
        env = dict(os.environ, LMKIT_KEEP="1")
        out = subprocess.run(["build/tests/test_init"], env=env, capture_output=True, text=True)
        m = re.search(r"^# kept (\S+)$", out.stdout, re.M)
        if out.returncode != 0 or not m:
            print(out.stdout[-2000:])
            sys.exit("build/tests/test_init failed or kept nothing")
        tmp = m.group(1)
        dirs = [os.path.join(tmp, "bert-a"), os.path.join(tmp, "xlm-roberta-a")]
    try:
        for d in dirs:
            check_folder(d)
    finally:
        if tmp:
            shutil.rmtree(tmp)
    print(f"{FAILS} failed" if FAILS else "all passed")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()

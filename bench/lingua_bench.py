#!/usr/bin/env python3
"""lingua_bench.py - helper of bench/lingua.sh: writes a seeded random
LLMLingua-2-shaped token classifier, cuts benchmark prompts, and runs the
reference (PyPI llmlingua 0.2.2) on them.  It does not time lingua-compress;
lingua.sh does, with the same /usr/bin/time -v around both.

  lingua_bench.py gen DIR SHAPE TOKENIZER_JSON
      SHAPE bert-base (BertForTokenClassification, 768/12/12/3072, 512
      positions, WordPiece) or xlmr-large (XLMRobertaForTokenClassification,
      1024/24/16/4096, 514 positions, Unigram); num_labels 2, torch seed 0,
      vocab_size = tokenizer size + 100 so that the reference's [NEWi]
      resize is a no-op (PromptCompressor.init_llmlingua2 in llmlingua
      0.2.2's llmlingua/prompt_compressor.py adds [NEW0]..[NEW99] and calls
      resize_token_embeddings).  DIR's name must contain
      "bert-base-multilingual-cased" or "xlm-roberta-large": the reference
      picks its word rules by that substring (llmlingua/utils.py,
      TokenClfDataset and is_begin_of_new_word).
  lingua_bench.py prompt OUT.jsonl TOKENS CORPUS
      one {"prompt": ...} record of about TOKENS cl100k tokens of CORPUS
      (whole lines, markup lines dropped).
  lingua_bench.py prompts OUT.jsonl N TOKENS CORPUS
      N records of about TOKENS cl100k tokens each: consecutive paragraphs of
      CORPUS (markup lines dropped) cut at a word boundary.
  lingua_bench.py ref DIR IN.jsonl RATE OUT.jsonl
      PromptCompressor(model_name=DIR, device_map="cpu", use_llmlingua2=True)
      .compress_prompt(prompt, rate=RATE) for every record, one after the
      other in the one process (the reference has no batch call); writes the
      result records and prints {"load_s":..., "compress_s":...}.

cl100k_base is read offline from $LMKIT_TIKTOKEN (the .tiktoken file)
through TIKTOKEN_CACHE_DIR, as tests/golden/lingua_golden.py does.
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

_tmp = tempfile.mkdtemp(prefix="lingua-bench-tiktoken-")
_url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
if os.environ.get("LMKIT_TIKTOKEN"):
    shutil.copy(os.environ["LMKIT_TIKTOKEN"], os.path.join(_tmp, hashlib.sha1(_url.encode()).hexdigest()))
os.environ["TIKTOKEN_CACHE_DIR"] = _tmp
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHAPES = {
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                      max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0),
    "xlmr-large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                       max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5),
}


def gen(d, shape, tokjson):
    import torch
    import transformers

    os.makedirs(d, exist_ok=True)
    shutil.copy(tokjson, os.path.join(d, "tokenizer.json"))
    tj = json.load(open(tokjson, encoding="utf-8"))
    v = tj["model"]["vocab"]
    n = len(v)
    for a in tj.get("added_tokens", []):
        n = max(n, a["id"] + 1)
    if shape == "bert-base":
        tc = {"tokenizer_class": "BertTokenizerFast", "model_max_length": 512,
              "do_lower_case": bool((tj.get("normalizer") or {}).get("lowercase", False)),
              "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
              "mask_token": "[MASK]"}
        cfg = transformers.BertConfig(vocab_size=n + 100, num_labels=2, **SHAPES[shape])
        cls = transformers.BertForTokenClassification
    else:
        # a SentencePiece stand-in: name only special tokens the file has, so
        # that the tokenizer adds none (XLM-R's <s>/<mask> may be missing)
        names = {(e[0] if isinstance(e, list) else e) for e in v} if isinstance(v, list) else set(v)

        def pick(*c):
            return next((x for x in c if x in names), None)
        unk, pad, eos = pick("<unk>"), pick("<pad>"), pick("</s>")
        bos = pick("<s>", "</s>")
        mask = pick("<mask>", "<extra_id_0>", "<unk>")
        if not (unk and pad and eos):
            sys.exit("lingua_bench.py: %s lacks <unk>, <pad> or </s>" % tokjson)
        tc = {"tokenizer_class": "XLMRobertaTokenizerFast", "model_max_length": 512, "bos_token": bos,
              "cls_token": bos, "eos_token": eos, "sep_token": eos, "unk_token": unk, "pad_token": pad,
              "mask_token": mask}
        sh = dict(SHAPES[shape])
        sh["pad_token_id"] = {e[0]: i for i, e in enumerate(v)}[pad]
        cfg = transformers.XLMRobertaConfig(vocab_size=n + 100, num_labels=2, **sh)
        cls = transformers.XLMRobertaForTokenClassification
    json.dump(tc, open(os.path.join(d, "tokenizer_config.json"), "w"))
    torch.manual_seed(0)
    m = cls(cfg)
    with torch.no_grad():  # spread the keep probabilities over (0, 1)
        m.classifier.weight.mul_(5.0)
    m.save_pretrained(d, safe_serialization=True)


def prompt(out, tokens, corpus):
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base")
    lines = [ln for ln in open(corpus, encoding="utf-8").read().split("\n") if not ln.startswith("<")]
    text, n = [], 0
    while n < tokens:
        for ln in lines:
            text.append(ln)
            n += len(enc.encode(ln + "\n", disallowed_special=()))
            if n >= tokens:
                break
    with open(out, "w", encoding="utf-8") as f:
        f.write(json.dumps({"prompt": "\n".join(text)}, ensure_ascii=False) + "\n")


def prompts(out, n, tokens, corpus):
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base")
    paras = [ln for ln in open(corpus, encoding="utf-8").read().split("\n")
             if ln.strip() and not ln.startswith("<") and len(ln) > 200]
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            ids = enc.encode(paras[i % len(paras)], disallowed_special=())[:tokens]
            text = enc.decode(ids)
            if len(ids) == tokens and " " in text:
                text = text[:text.rindex(" ")]
            f.write(json.dumps({"id": i, "prompt": text}, ensure_ascii=False) + "\n")


def ref(d, inp, rate, out):
    import torch
    from llmlingua import PromptCompressor

    t0 = time.perf_counter()
    c = PromptCompressor(model_name=d, device_map="cpu", use_llmlingua2=True)
    fwd = c.model.forward

    def forward(*a, attention_mask=None, **k):
        # transformers 4.57's SDPA path does not mask with the reference's
        # bool mask (see tests/golden/lingua_golden.py): pass it as 0/1
        if attention_mask is not None and attention_mask.dtype == torch.bool:
            attention_mask = attention_mask.long()
        return fwd(*a, attention_mask=attention_mask, **k)

    c.model.forward = forward
    t1 = time.perf_counter()
    with open(out, "w", encoding="utf-8") as f:
        for ln in open(inp, encoding="utf-8"):
            r = json.loads(ln)
            res = c.compress_prompt(r["prompt"], rate=float(rate))
            r.update(res)
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    t2 = time.perf_counter()
    print(json.dumps({"load_s": round(t1 - t0, 3), "compress_s": round(t2 - t1, 3),
                      "torch_threads": torch.get_num_threads()}))


def main():
    a = sys.argv[1:]
    try:
        if a and a[0] == "gen" and len(a) == 4:
            gen(a[1], a[2], a[3])
        elif a and a[0] == "prompt" and len(a) == 4:
            prompt(a[1], int(a[2]), a[3])
        elif a and a[0] == "prompts" and len(a) == 5:
            prompts(a[1], int(a[2]), int(a[3]), a[4])
        elif a and a[0] == "ref" and len(a) == 5:
            ref(a[1], a[2], a[3], a[4])
        else:
            sys.exit(__doc__)
    finally:
        shutil.rmtree(_tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

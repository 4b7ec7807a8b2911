#!/usr/bin/env python3
"""encoder_golden.py - tiny seeded BERT / XLM-R token classifiers and their
reference logits, for tests/unit/test_encoder.c.

Creates, under testdata/models/:
  tiny-bert/  BertForTokenClassification (hidden 32, 2 layers, 4 heads, FFN 64,
              128 positions, gelu_new, eps 1e-12, 2 labels) with a cased
              WordPiece tokenizer trained on wikitext-2 (valid split);
  tiny-xlmr/  XLMRobertaForTokenClassification (hidden 32, 2 layers, 2 heads,
              FFN 64, 130 positions, padding_idx 1, exact gelu, eps 1e-5,
              type_vocab_size 1, 2 labels) with a SentencePiece-style Unigram
              tokenizer whose normalizer is t5-small's Precompiled charsmap
              followed by collapsing runs of spaces, Metaspace pre-tokenizer
              and an "<s> $A </s>" template;
  tiny-xlmr-marian/  the same XLM-R shape (other seed) with a Unigram
              tokenizer cut from the bundled marian-nmt-unigram tokenizer.json
              (testdata/tokenizers): its normalizer (Precompiled charsmap that
              inserts case and glue markers, "Hello, A" -> "UhelloP, Ua", then
              Strip and Replace), its Metaspace pre-tokenizer and decoder, and
              its first 1000 pieces by score (plus the single ASCII characters)
              after XLM-R's <s> <pad> </s> <unk>; <mask> added as XLM-R has it.
              Made alone by `encoder_golden.py tiny-xlmr-marian` (no corpus
              needed, deterministic; no encoder golden file: the lingua goldens
              of tests/golden/lingua_golden.py cover it).
Each has config.json, model.safetensors, tokenizer.json (+ tokenizer_config.json,
special_tokens_map.json).  vocab_size = tokenizer size + 100, as LLMLingua-2's
checkpoints carry 100 extra [NEWi] rows (llmlingua 0.2.2 adds the tokens in
PromptCompressor.init_llmlingua2 and resizes the embeddings: a no-op here).
Weights come from a fixed torch seed; LayerNorm weights/biases and Linear
biases are randomised too, and the classifier is scaled so that the
probabilities spread over (0, 1).

Writes testdata/golden/encoder/{tiny-bert,tiny-xlmr}.jsonl: one case per line,
{"case", "B", "T", "texts", "ids" [B][T], "mask" [B][T], "logits" [B][T][2],
"probs" [B][T][2], "tokenizer_ids" (per text, with special tokens, untruncated),
"tokens"}, batch sizes 1 and 4 with right padding, lengths up to the model
maximum, and meta.json with the package versions.

Reruns are not bit-identical: the tokenizers trainers order equal-count
tokens by hash-map order and sum Unigram scores in varying order, so a rerun
gives an equivalent but different fixture set (other ids, hence other
weights and logits).  Commit all outputs of one run together.

Run by hand (local data only, but PyPI packages):
  python3 -m venv /root/venv-torch
  /root/venv-torch/bin/pip install torch 'transformers<5' safetensors tokenizers
  /root/venv-torch/bin/python tests/golden/encoder_golden.py
"""
import json
import os
import sys

import numpy
import torch
import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# WikiText-2 (valid.txt, test.txt: the raw text of the Salesforce
# wikitext-2-raw-v1 split) is not bundled: WIKITEXT2 names its folder.
CORPUS = os.environ.get("WIKITEXT2", "")
# t5-small's tokenizer.json, as make decompresses it from testdata/tokenizers
T5 = os.path.join(ROOT, os.environ.get("BUILD") or "build", "testdata", "tokenizers", "t5-small", "tokenizer.json")
MARIAN = os.path.join(ROOT, os.environ.get("BUILD") or "build", "testdata", "tokenizers", "marian-nmt-unigram",
                      "tokenizer.json")
MODELS = os.path.join(ROOT, "testdata", "models")
GOLDEN = os.path.join(ROOT, "testdata", "golden", "encoder")
SEED = 1234


def corpus_lines(name):
    if not CORPUS or not os.path.isfile(os.path.join(CORPUS, name)):
        sys.exit("encoder_golden.py: set WIKITEXT2 to the folder holding WikiText-2's valid.txt and test.txt")
    with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
        return [l.strip() for l in f if len(l.strip()) > 20 and not l.strip().startswith("=")]


def train_wordpiece(lines):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=1000, special_tokens=special,
                                        continuing_subword_prefix="##")
    tok.train_from_iterator(lines, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    return tok


def train_unigram(lines):
    with open(T5, encoding="utf-8") as f:
        t5 = json.load(f)
    pre = t5["normalizer"]
    assert pre["type"] == "Precompiled", pre["type"]
    tok = Tokenizer(models.Unigram())
    # same shape as xlm-roberta's tokenizer.json: Precompiled, then collapse spaces
    norm = {"type": "Sequence", "normalizers": [
        pre, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    j = json.loads(tok.to_str())
    j["normalizer"] = norm
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581",
                          "prepend_scheme": "always", "split": True}
    j["decoder"] = {"type": "Metaspace", "replacement": "\u2581",
                    "prepend_scheme": "always", "split": True}
    tok = Tokenizer.from_str(json.dumps(j))
    special = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.UnigramTrainer(vocab_size=1000, special_tokens=special, unk_token="<unk>",
                                      shrinking_factor=0.75, n_sub_iterations=2)
    tok.train_from_iterator(lines, trainer)
    tok.add_special_tokens(["<mask>"])
    s, e = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    assert (s, tok.token_to_id("<pad>"), e, tok.token_to_id("<unk>")) == (0, 1, 2, 3)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", s), ("</s>", e)])
    return tok


def marian_unigram(n_pieces=1000):
    """The marian tokenizer's normalizer and pieces in XLM-R's layout."""
    with open(MARIAN, encoding="utf-8") as f:
        mj = json.load(f)
    assert mj["model"]["type"] == "Unigram" and mj["normalizer"]["type"] == "Sequence"
    drop = {t["content"] for t in mj["added_tokens"]} | {"<unk>"}
    pieces = [(p, sc) for p, sc in mj["model"]["vocab"]
              if p not in drop and not (len(p) == 6 and p.startswith("<0x") and p.endswith(">"))]
    keep = pieces[:n_pieces]
    have = {p for p, _ in keep}
    keep += [(p, sc) for p, sc in pieces[n_pieces:] if len(p) == 1 and 0x20 < ord(p) < 0x7f and p not in have]
    special = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = [[t, 0.0] for t in special] + [[p, sc] for p, sc in keep]
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(special)]
    added.append({"id": len(vocab), "content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False,
                  "normalized": False, "special": True})
    j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
         "normalizer": mj["normalizer"], "pre_tokenizer": mj["pre_tokenizer"],
         "post_processor": {"type": "TemplateProcessing",
                            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                       {"Sequence": {"id": "A", "type_id": 0}},
                                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                     {"Sequence": {"id": "A", "type_id": 0}},
                                     {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                     {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                     {"Sequence": {"id": "B", "type_id": 0}},
                                     {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                            "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
         "decoder": mj["decoder"],
         "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False}}
    return Tokenizer.from_str(json.dumps(j, ensure_ascii=False))


def randomise(model, cls_scale):
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        model.classifier.weight.mul_(cls_scale)


def centre(model, tok, lines, max_len):
    """Shifts classifier.bias[1] so that the median keep-logit margin is 0."""
    ids = [tok.encode(t).ids[:max_len] for t in lines[:8]]
    margins = []
    with torch.no_grad():
        for i in ids:
            l = model(input_ids=torch.tensor([i])).logits[0]
            margins.append(l[:, 1] - l[:, 0])
        model.classifier.bias[1] -= torch.cat(margins).median()


def save_tokenizer(tok, path, fast_cls, **kw):
    try:
        fast = fast_cls(tokenizer_object=tok, **kw)
    except Exception as e:  # pragma: no cover - depends on the transformers version
        print("note: %s(tokenizer_object=...) failed (%s); generic class used" % (fast_cls.__name__, e),
              file=sys.stderr)
        fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, **kw)
    fast.model_max_length = 512
    fast.save_pretrained(path)
    # keep exactly the trained tokenizer.json (the wrapper may rewrite parts)
    tok.save(os.path.join(path, "tokenizer.json"))
    return Tokenizer.from_file(os.path.join(path, "tokenizer.json"))


def batch(tok, texts, max_len, pad_id):
    encs = [tok.encode(t) for t in texts]
    full = [e.ids for e in encs]
    toks = [e.tokens for e in encs]
    ids = [f[:max_len - 1] + [f[-1]] if len(f) > max_len else list(f) for f in full]
    T = max(len(i) for i in ids)
    mask = [[1] * len(i) + [0] * (T - len(i)) for i in ids]
    ids = [i + [pad_id] * (T - len(i)) for i in ids]
    return ids, mask, full, toks


def f32(t):
    """Nested lists of the float32 values, each printed shortest (repr of float32)."""
    return [[[float(str(numpy.float32(x))) for x in row] for row in seq] for seq in t.numpy()]


def cases_for(tok, model, max_len, pad_id, test_lines, extra):
    long_text = " ".join(test_lines[40:42])[:700]
    plan = [
        ("b1_short", [extra[0]]),
        ("b1_sentence", [test_lines[3]]),
        ("b4_padded", [test_lines[5], extra[1], test_lines[7][:60], extra[2]]),
        ("b4_short", [extra[0], extra[1], extra[3], test_lines[9][:80]]),
        ("b1_max", [long_text]),
        ("b4_max_padded", [long_text, test_lines[11], extra[3], test_lines[13][:30]]),
    ]
    out = []
    for name, texts in plan:
        ids, mask, full, toks = batch(tok, texts, max_len, pad_id)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor(ids),
                           attention_mask=torch.tensor(mask)).logits.float()
        probs = torch.softmax(logits, dim=-1)
        out.append({
            "case": name, "B": len(ids), "T": len(ids[0]), "texts": texts,
            "ids": ids, "mask": mask,
            "logits": f32(logits), "probs": f32(probs),
            "tokenizer_ids": full, "tokens": toks,
        })
    return out


def hostile_lines():
    with open(os.path.join(ROOT, "testdata", "text", "hostile.jsonl"), encoding="utf-8") as f:
        texts = [json.loads(l)["text"] for l in f if l.strip()]
    return [t for t in texts if len(t) > 20]


def xlmr_model(tok, xdir, seed, lines):
    tok = save_tokenizer(tok, xdir, transformers.XLMRobertaTokenizerFast, bos_token="<s>",
                         eos_token="</s>", sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                         pad_token="<pad>", mask_token="<mask>")
    xcfg = transformers.XLMRobertaConfig(
        vocab_size=tok.get_vocab_size() + 100, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=130,
        type_vocab_size=1, hidden_act="gelu", layer_norm_eps=1e-5, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, num_labels=2, initializer_range=0.2)
    torch.manual_seed(seed)
    xlmr = transformers.XLMRobertaForTokenClassification(xcfg).eval()
    randomise(xlmr, 1.0)
    centre(xlmr, tok, lines, 128)
    xlmr.save_pretrained(xdir, safe_serialization=True)
    return tok, xlmr


def main_marian():
    xdir = os.path.join(MODELS, "tiny-xlmr-marian")
    os.makedirs(xdir, exist_ok=True)
    tok, _ = xlmr_model(marian_unigram(), xdir, SEED + 3, hostile_lines())
    print("tiny-xlmr-marian: %d tokens" % tok.get_vocab_size(), file=sys.stderr)


def main():
    if sys.argv[1:] == ["tiny-xlmr-marian"]:
        return main_marian()
    torch.manual_seed(SEED)
    os.makedirs(GOLDEN, exist_ok=True)
    train = corpus_lines("valid.txt")
    test = corpus_lines("test.txt")
    extra = [
        "Hello, world!",
        "Full-width digits \uff11\uff12\uff13\uff1a and caf\u00e9 na\u00efve \u00c5ngstr\u00f6m.",
        "\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002 Emoji \U0001F600 end",
        "Tabs\tand   spaces\n\nnew lines  here .",
    ]

    # ---- BERT ----
    wp = train_wordpiece(train)
    bdir = os.path.join(MODELS, "tiny-bert")
    os.makedirs(bdir, exist_ok=True)
    wp = save_tokenizer(wp, bdir, transformers.BertTokenizerFast, do_lower_case=False,
                        unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                        cls_token="[CLS]", mask_token="[MASK]")
    bcfg = transformers.BertConfig(
        vocab_size=wp.get_vocab_size() + 100, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=128,
        type_vocab_size=2, hidden_act="gelu_new", layer_norm_eps=1e-12, pad_token_id=0,
        num_labels=2, initializer_range=0.2)
    torch.manual_seed(SEED)
    bert = transformers.BertForTokenClassification(bcfg).eval()
    randomise(bert, 2.0)
    centre(bert, wp, train, 128)
    bert.save_pretrained(bdir, safe_serialization=True)

    # ---- XLM-R ----
    ug = train_unigram(train)
    xdir = os.path.join(MODELS, "tiny-xlmr")
    os.makedirs(xdir, exist_ok=True)
    ug, xlmr = xlmr_model(ug, xdir, SEED + 2, train)

    for name, tok, model, max_len, pad in (("tiny-bert", wp, bert, 128, 0),
                                           ("tiny-xlmr", ug, xlmr, 128, 1)):
        cases = cases_for(tok, model, max_len, pad, test, extra)
        with open(os.path.join(GOLDEN, name + ".jsonl"), "w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
    meta = {"generator": "tests/golden/encoder_golden.py", "seed": SEED,
            "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "python": sys.version.split()[0],
            "attn_implementation": bert.config._attn_implementation}
    with open(os.path.join(GOLDEN, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()

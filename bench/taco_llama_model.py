#!/usr/bin/env python3
"""taco_llama_model.py - helper of bench/taco-llama.sh: writes a tiny
llama-architecture GGUF file with seeded random weights, small enough that
llama.cpp answers a chat request in milliseconds on one CPU core.

  taco_llama_model.py OUT.gguf [SEED]

Shape: 2 blocks, hidden 64, 4 query and 2 key/value heads (head size 16,
grouped-query attention), feed-forward 128, RMS norm eps 1e-5, RoPE over the
whole head, 512 positions, every tensor F32 (the names and layouts are the
GGUF "llama" ones: token_embd, blk.N.attn_{norm,q,k,v,output},
blk.N.ffn_{norm,gate,up,down}, output_norm, output; a 2-D tensor is written
as the numpy array (rows = outputs, columns = inputs), which GGUF stores as
ne = (inputs, outputs)).

Vocabulary: a SentencePiece ("llama") one of 354 pieces: <unk> <s> </s>,
the 256 byte-fallback pieces <0x00>..<0xFF> (which llama.cpp needs for the
bytes no piece covers, and for the line feed), then U+2581 (the word
boundary) and the 94 printable ASCII characters, each with the score -1, so
the tokenizer works character by character.  The chat template is a plain
Jinja one ("<|role|>\\ncontent\\n" per message, then "<|assistant|>\\n"),
rendered by the server's Jinja2 chat formatter.

Weights: from numpy's PCG64 seeded with SEED (default 1): the embeddings
N(0, 1), the linear layers N(0, 0.125) (about 1/sqrt(64), so that attention
carries the prompt into the answer: with smaller weights every answer is one
repeated character), norms 1; the output rows of <unk>, <s>, </s> and the
byte pieces are 0 and the others N(0, 1), so a greedy (temperature 0) answer
is printable ASCII, never ends early, and runs to max_tokens.  The answers
are gibberish, as they must be from random weights, but they differ from
prompt to prompt.
"""
import sys

import numpy as np
import gguf

N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, N_FF, N_CTX = 64, 2, 4, 2, 128, 512
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def vocab():
    toks, scores, types = [], [], []
    T = gguf.TokenType
    for s, t in (("<unk>", T.UNKNOWN), ("<s>", T.CONTROL), ("</s>", T.CONTROL)):
        toks.append(s), scores.append(0.0), types.append(t)
    for b in range(256):
        toks.append("<0x%02X>" % b), scores.append(0.0), types.append(T.BYTE)
    for s in ["\u2581"] + [chr(c) for c in range(33, 127)]:
        toks.append(s), scores.append(-1.0), types.append(T.NORMAL)
    return toks, scores, types


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: taco_llama_model.py OUT.gguf [SEED]")
    seed = int(sys.argv[2]) if len(sys.argv) == 3 else 1
    rng = np.random.Generator(np.random.PCG64(seed))
    toks, scores, types = vocab()
    V, D, hd = len(toks), N_EMBD, N_EMBD // N_HEAD

    def rand(*shape, std=0.125):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    w = gguf.GGUFWriter(sys.argv[1], "llama")
    w.add_name("tiny")
    w.add_context_length(N_CTX)
    w.add_embedding_length(D)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(V)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(TEMPLATE)

    w.add_tensor("token_embd.weight", rand(V, D, std=1.0))
    for i in range(N_LAYER):
        p = "blk.%d." % i
        w.add_tensor(p + "attn_norm.weight", np.ones(D, np.float32))
        w.add_tensor(p + "attn_q.weight", rand(D, D))
        w.add_tensor(p + "attn_k.weight", rand(N_HEAD_KV * hd, D))
        w.add_tensor(p + "attn_v.weight", rand(N_HEAD_KV * hd, D))
        w.add_tensor(p + "attn_output.weight", rand(D, D))
        w.add_tensor(p + "ffn_norm.weight", np.ones(D, np.float32))
        w.add_tensor(p + "ffn_gate.weight", rand(N_FF, D))
        w.add_tensor(p + "ffn_up.weight", rand(N_FF, D))
        w.add_tensor(p + "ffn_down.weight", rand(D, N_FF))
    w.add_tensor("output_norm.weight", np.ones(D, np.float32))
    out = rand(V, D, std=1.0)
    out[: 3 + 256] = 0.0
    w.add_tensor("output.weight", out)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()

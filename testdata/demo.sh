#!/bin/sh
# demo.sh - `make demo`: run the finished lmkit commands on bundled sample data.
set -eu
cd "$(dirname "$0")"
BIN=../${BUILD:-build}/bin
PATH="$BIN:$PATH"
out=$(mktemp -d)
say() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

say "dp-estimate: epsilon intervals from membership-inference counts" \
    "dp-estimate --delta 1e-5 dp-estimate/counts.jsonl"
dp-estimate --delta 1e-5 dp-estimate/counts.jsonl

say "dp-estimate: two audits' attack scores, threshold chosen on a held-out half, with a picture" \
    "dp-estimate --delta 1e-5 --group-by audit --holdout 0.5 --seed 1 --plot $out/eps.svg dp-estimate/game.jsonl"
dp-estimate --delta 1e-5 --group-by audit --holdout 0.5 --seed 1 --plot "$out/eps.svg" dp-estimate/game.jsonl
echo "(picture: $out/eps.svg)"
if [ -x "$BIN/lingua-compress" ]; then
    say "lingua-compress: LLMLingua-2 prompt compression, keeping half the tokens" \
        "printf '%s\\n' '{\"prompt\":\"...\"}' | lingua-compress -q --model models/tiny-bert --rate 0.5"
    echo "(models/tiny-bert is a RANDOM test model: it shows the command working, but the words it"
    echo " keeps mean nothing; pass --model with a trained LLMLingua-2 folder or Hugging Face id, e.g."
    echo " microsoft/llmlingua-2-xlm-roberta-large-meetingbank, for real compression)"
    printf '%s\n' \
        '{"id":1,"prompt":"The committee met on Monday to discuss the new budget proposal for the coming year."}' \
        '{"id":2,"prompt":"Please summarise the meeting notes below and list every action item with its owner."}' |
        lingua-compress -q --model models/tiny-bert --rate 0.5
fi
if [ -x "$BIN/leanattn-bench" ]; then
    say "leanattn-bench: correctness of every decode-attention partitioning on the CPU" \
        "leanattn-bench --device cpu --check"
    leanattn-bench --device cpu --check
fi
if [ -x "$BIN/route" ]; then
    say "route: BEST-Route on 2000 synthetic best-of-n queries, held-out evaluation (summaries only)" \
        "route synth -n 2000 --seed 1 | route eval --n-max 3 --seed 1 | grep summary"
    route synth -n 2000 --seed 1 | route eval --n-max 3 --seed 1 | grep '"type":"summary"' | head -4
fi
if [ -x "$BIN/tokenize" ]; then
    say "tokenize: cl100k_base token counts (the encoding ships with lmkit)" \
        "sed -n 10,12p text/hostile.jsonl | tokenize --encoding cl100k_base"
    sed -n '10,12p' text/hostile.jsonl | tokenize --encoding cl100k_base
fi

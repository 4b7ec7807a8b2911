#!/usr/bin/env bash
# refactor-corpus.sh - a corpus of command lines over every lmkit command,
# recorded before and after a change that must not change behaviour.
#
#   tests/refactor-corpus.sh record DIR [BINDIR]   run every case with the
#       commands of BINDIR (default build/bin) and write, per case NNN,
#       DIR/NNN.cmd (the command line), NNN.out, NNN.err, NNN.rc and
#       NNN.files/ (every file the case left in its working folder)
#   tests/refactor-corpus.sh compare A B           list every difference
#       between two recorded folders; exit 1 on any, 0 when identical
#   tests/refactor-corpus.sh list                  print the command lines
#
# Each case runs in a fresh, empty working folder under a clean environment
# (LC_ALL=C, HOME, TMPDIR and the model and tokenizer caches inside that
# folder, no $LMKIT_MODEL or $LMKIT_TIKTOKEN, stdin /dev/null unless the
# case redirects it), through `bash -o pipefail -c`, with three links:
#   td -> testdata/ of this tree, fx -> BINDIR/../testdata (the fixtures
#   make decompresses), sh -> shared inputs made once per recording with
#   BINDIR's own route synth/labels/train (recorded as cases 000-00N too).
# The recording needs BINDIR/../share/lmkit/cl100k_base.tiktoken and the
# fixtures: `make all-tests` (or `make SAN=1 BUILD=build-san all-tests`).
#
# What legitimately varies, and how it is normalised before it is written:
#   - the working folder's absolute path becomes @W@;
#   - leanattn-bench's wall-clock fields time_us, time_min_us, time_max_us,
#     gbps, pct_bw, pct_floor, speedup_vs_splitkv and speedup_vs_nosplit
#     become "~" (every record); bw_gbps and floor_us too in records whose
#     bandwidth was measured ("bw_source":"cpu-read-stream"); every case
#     gives --threads so that workers, grids and tiles are fixed; its --svg
#     plots (speed-ups) are reduced by the case itself to their series names;
#   - lingua-compress --timing's seconds and rates on stderr become "~".
# Nothing else is normalised: CPU-only results are bit-reproducible for a
# given build and --threads/--seed.  Compare recordings of builds of the same
# kind (before and after, both normal or both `make check-san`'s build-san):
# a normal and a sanitizer build differ in --version (the features line), in
# the --device cuda messages (the sanitizer build has no CUDA), and in the
# last bits of the probabilities lingua-compress prints (--word-labels,
# --token-probs), which come from differently optimised encoder code.
set -u
LC_ALL=C
export LC_ALL
TOP="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

CASES=()
c() { CASES+=("$1"); }

# ---- shared inputs (made first, also recorded) ----
c 'route synth -n 300 --seed 3 --prices-out ../sh/p.json >../sh/synth.jsonl; cat ../sh/p.json; md5sum <../sh/synth.jsonl'
c 'route labels --prices ../sh/p.json --n-max 3 --draws 4 ../sh/synth.jsonl >../sh/lab.jsonl; md5sum <../sh/lab.jsonl; head -c 2000 ../sh/lab.jsonl'
c 'route train --prices ../sh/p.json --n-max 3 --epochs 4 --hash-dim 512 -o ../sh/router.bin ../sh/lab.jsonl; md5sum <../sh/router.bin'

# ---- every command: conventions ----
for cmd in dp-estimate leanattn-bench lingua-compress route tokenize; do
    c "$cmd --help"
    c "$cmd --version"
    c "$cmd --no-such-option"
    c "$cmd --generate=complete-bash"
    c "$cmd --generate=complete-zsh"
    c "$cmd --generate=complete-fish"
    c "$cmd --generate=options"
    c "$cmd --threads 0"
done
for s in import labels train apply select eval synth; do
    c "route $s --help"
    c "route $s --bogus"
done
c 'route'
c 'route nosuch'

# ---- dp-estimate ----
DP='dp-estimate --threads 2'
c "$DP --delta 1e-5 td/dp-estimate/counts.jsonl"
for m in bayes dirichlet clopper-pearson jeffreys; do
    c "$DP --delta 1e-5 --method $m td/dp-estimate/counts.jsonl"
    c "$DP --delta 1e-5 --method $m --alpha 0.1 --one-sided lower td/dp-estimate/counts.jsonl"
    c "$DP --delta 1e-5 --method $m --one-sided upper td/dp-estimate/counts.jsonl"
    c "$DP --delta 0 --method $m --prior uniform td/dp-estimate/counts.jsonl"
done
c "$DP --delta 1e-5 --samples 20000 td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --samples 20000 --seed 7 --one-sided lower td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --samples 20000 --method jeffreys td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --samples 10 td/dp-estimate/counts.jsonl"
c "$DP --delta 1 td/dp-estimate/counts.jsonl"
c "$DP --alpha 0 --delta 1e-5 td/dp-estimate/counts.jsonl"
c "$DP --alpha 0.6 --one-sided lower --delta 1e-5 td/dp-estimate/counts.jsonl"
c "$DP --method nope --delta 1e-5 td/dp-estimate/counts.jsonl"
c "$DP td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --input scores td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --input counts --threshold 0 td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --threshold 0 --holdout 0.5 td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --method clopper-pearson --plot x.svg td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --group-by '' td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 td/golden/dp-estimate/cases.jsonl"
c "$DP --method jeffreys td/golden/dp-estimate/cases.jsonl"
c "$DP --method clopper-pearson --keep-going td/golden/dp-estimate/cases.jsonl"
c "$DP --delta 1e-5 --posterior post.jsonl td/dp-estimate/counts.jsonl; cat post.jsonl | md5sum; head -3 post.jsonl"
c "$DP --delta 1e-5 --posterior post.jsonl --method dirichlet --alpha 0.2 td/dp-estimate/counts.jsonl; md5sum <post.jsonl"
c "$DP --delta 1e-5 --plot p.svg td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --plot p.svg --one-sided lower td/dp-estimate/counts.jsonl"
c "$DP --delta 1e-5 --threshold 0 td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --threshold 0.5 --group-by audit td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --threshold 0.5 --group-by model td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --scan td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --scan --group-by audit td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --scan --threshold 0.2 --group-by audit td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --scan --method jeffreys --one-sided upper td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --holdout 0.5 td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --holdout 0.5 --group-by audit --seed 4 td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --holdout 0.3 --candidates 5 --group-by audit td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --holdout 0.5 --scan --group-by audit td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --holdout 0.01 --group-by audit td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --holdout 0.5 --method clopper-pearson --one-sided lower td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --threshold 0 --group-by audit --posterior g.jsonl --plot g.svg td/dp-estimate/game.jsonl; md5sum <g.jsonl"
c "$DP --delta 1e-5 --threshold 0 --posterior g.jsonl td/dp-estimate/game.jsonl; md5sum <g.jsonl"
c "$DP --delta 1e-5 --threshold 0 --group-by audit --method dirichlet --plot g.svg td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --threshold 0 --group-by audit --shard 0/2 td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --threshold 0 --input scores td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --threshold 0 --group-by nosuch td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --threshold 0 --group-by nosuch --keep-going --errors e.jsonl td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 td/dp-estimate/game.jsonl"
c "cat td/dp-estimate/counts.jsonl td/dp-estimate/game.jsonl | $DP --delta 1e-5 --threshold 0"
c "cat td/dp-estimate/counts.jsonl td/dp-estimate/game.jsonl | $DP --delta 1e-5 --keep-going --threshold 0 --input counts"
c "printf '%s\n' '{\"member\":true,\"guess\":1}' '{\"member\":false,\"guess\":0}' '{\"member\":1,\"guess\":true}' '{\"member\":0,\"guess\":true}' | $DP --delta 1e-5"
c "printf '%s\n' '{\"member\":true,\"guess\":1}' '{\"member\":false,\"score\":0.3}' | $DP --delta 1e-5 --threshold 0.5"
c "printf '%s\n' '{\"member\":true,\"score\":1}' '{\"member\":true,\"score\":2}' | $DP --delta 1e-5 --threshold 0.5"
c "printf '%s\n' '{\"member\":true,\"score\":1}' '{\"member\":false,\"score\":2}' | $DP --delta 1e-5 --scan"
c "printf '%s\n' '{\"member\":\"yes\",\"score\":1}' | $DP --delta 1e-5 --threshold 0"
c "printf '%s\n' '{\"member\":true,\"score\":\"x\"}' | $DP --delta 1e-5 --threshold 0"
c "printf '%s\n' '{\"member\":true}' | $DP --delta 1e-5 --threshold 0"
c "printf '%s\n' '{\"member\":true,\"score\":1}' | $DP --delta 1e-5"
c "printf '%s\n' '{\"member\":true,\"score\":1,\"model\":[1]}' | $DP --delta 1e-5 --threshold 0"
c "printf '%s\n' '{\"member\":true,\"score\":1,\"g\":{}}' | $DP --delta 1e-5 --threshold 0 --group-by g"
c "printf '%s\n' '{\"x\":1}' | $DP --delta 1e-5"
c "printf '%s\n' '{\"tp\":1,\"fp\":2,\"tn\":3}' '{\"tp\":-1,\"fp\":2,\"tn\":3,\"fn\":1}' '{\"tp\":1.5,\"fp\":2,\"tn\":3,\"fn\":1}' '{\"tp\":\"1\",\"fp\":2,\"tn\":3,\"fn\":1}' '{\"tp\":1e300,\"fp\":2,\"tn\":3,\"fn\":1}' '{\"tp\":0,\"fp\":2,\"tn\":3,\"fn\":0}' '{\"tp\":1,\"fp\":0,\"tn\":0,\"fn\":1}' '{\"TP\":76,\"FP\":19,\"TN\":982,\"FN\":923}' | $DP --delta 1e-5 --keep-going --errors e.jsonl"
c "printf '%s\n' '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923,\"delta\":1e-3,\"alpha\":0.01}' '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923,\"delta\":2}' '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923,\"alpha\":1}' | $DP --keep-going"
c "printf '%s\n' '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923}' '{\"tp\":1000,\"fp\":0,\"tn\":1000,\"fn\":0}' | $DP --delta 1e-5 --plot p.svg --posterior q.jsonl; md5sum <q.jsonl"
c "for i in \$(seq 14); do echo '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923}'; done | $DP --delta 1e-5 --plot p.svg"
c "printf '%s\n' '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923}' | $DP --delta 1e-5 --plot nodir/p.svg"
c "printf '%s\n' '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923}' | $DP --delta 1e-5 --posterior nodir/p.jsonl"
c "printf '%s\n' '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923}' | $DP --delta 1e-5 >/dev/full"
c "printf '{\"tp\":76,\"fp\":19,\"tn\":982,\"fn\":923}' | $DP --delta 1e-5 --method jeffreys --unbuffered"
c "$DP --delta 1e-5 --threshold 0 --group-by audit --threads 1 td/dp-estimate/game.jsonl"
c "$DP --delta 1e-5 --scan --group-by model --quiet td/dp-estimate/game.jsonl"

# ---- leanattn-bench (CPU; timings normalised) ----
LB='leanattn-bench --device cpu --threads 2 --bandwidth 10 --runs 1 --warmup 0 --no-flush'
S1='{"heads":4,"kv_heads":2,"head_dim":64,"ctx":500}'
S2='{"id":"b","heads":2,"head_dim":128,"ctx":[130,0,7]}'
S3='{"heads":8,"kv_heads":2,"head_dim":128,"ctx":[1,0,300,129]}'
c "leanattn-bench --device cpu --threads 2 --check"
c "leanattn-bench --device cpu --threads 1 --workers 3 --check"
c "leanattn-bench --device cuda --check"
c "leanattn-bench --device auto --threads 2 --check"
for a in naive nosplit splitkv lean lean-combine; do
    for dt in bf16 fp16 fp32; do
        c "echo '$S1' | $LB --algo $a --dtype $dt"
    done
    c "echo '$S3' | $LB --algo $a --layout NHD --workers 5"
done
c "printf '%s\n' '$S1' '$S2' | $LB --algo lean,naive,nosplit"
c "printf '%s\n' '$S1' '$S2' '$S3' | $LB"
c "printf '%s\n' '$S1' '$S2' '$S3' | $LB --layout NHD --dtype fp16 --workers 5"
c "printf '%s\n' '$S1' '$S2' | $LB --seed 9 --algo naive,nosplit,splitkv,lean,lean-combine"
c "echo '{\"heads\":4,\"kv_heads\":2,\"head_dim\":64,\"ctx\":[8000,0,12000]}' | $LB --dtype fp32 --workers 3 --algo naive,nosplit,splitkv,lean,lean-combine"
c "echo '{\"heads\":4,\"kv_heads\":2,\"head_dim\":64,\"ctx\":[8000,0,12000]}' | leanattn-bench --device cpu --threads 1 --bandwidth 10 --runs 2 --warmup 1 --workers 3"
c "echo '{\"heads\":1,\"head_dim\":64,\"ctx\":3}' | leanattn-bench --device auto --threads 2 --bandwidth 10 --runs 1 --warmup 0 --algo lean"
c "printf '%s\n' '{\"heads\":1,\"head_dim\":64,\"ctx\":3}' '{\"heads\":1,\"head_dim\":64,\"ctx\":5}' | leanattn-bench --device cpu --threads 2 --runs 1 --algo lean"
c "echo '{\"batch\":3,\"heads\":2,\"head_dim\":64,\"ctx\":40}' | $LB --algo splitkv,lean"
c "echo '{\"batch\":2,\"heads\":2,\"head_dim\":64,\"ctx\":[5,6,7]}' | $LB"
for bad in '{"heads":4,"head_dim":64,"ctx":-5}' '{"heads":4,"head_dim":64,"ctx":[10, -1]}' \
    '{"heads":4,"head_dim":64,"ctx":[10,"x"]}' '{"heads":32,"kv_heads":6,"head_dim":128,"ctx":8}' \
    '{"heads":4,"head_dim":96,"ctx":8}' '{"heads":4,"head_dim":64,"ctx":2.5}' \
    '{"heads":4,"head_dim":64,"ctx":"8k"}' '{"heads":0,"head_dim":64,"ctx":8}' \
    '{"head_dim":64,"ctx":8}' '{"heads":4,"head_dim":64}' '{"heads":4,"head_dim":64,"ctx":[]}' \
    '{"heads":4,"head_dim":64,"ctx":2000000000}' '{"heads":"4","head_dim":64,"ctx":8}'; do
    c "printf '%s\n' '{\"heads\":1,\"head_dim\":64,\"ctx\":4}' '$bad' | $LB --algo lean"
done
c "printf '%s\n' '{\"heads\":4,\"head_dim\":64,\"ctx\":-5}' '{\"heads\":1,\"head_dim\":64,\"ctx\":4}' | $LB --algo lean --keep-going --errors e.jsonl"
c "echo '{\"heads\":64,\"head_dim\":128,\"ctx\":100000}' | $LB --algo lean --max-kv 0.01"
c "$LB --algo lean,fast"
c "$LB --algo lean,lean"
c "$LB --algo ''"
c "$LB --matrix huge"
c "$LB --check --matrix waves"
c "$LB --svg x.svg --algo lean"
c "$LB --full"
c "$LB --matrix waves x.jsonl"
c "$LB --runs 0"
c "$LB --dtype fp8"
c "$LB --layout XYZ"
c "$LB --bandwidth 0"
c "$LB --workers 0"
c "$LB --max-kv 0"
c "leanattn-bench --device cuda --dtype fp32 --algo lean"
for mx in paper gqa waves ragged ablation; do
    c "$LB --matrix $mx --max-kv 0.004 --algo nosplit,lean"
done
c "$LB --matrix waves --max-kv 0.004 --full --algo splitkv,lean-combine --shard 1/3"
c "$LB --matrix waves --max-kv 0.000001"
c "printf '%s\n' '{\"heads\":2,\"kv_heads\":1,\"head_dim\":64,\"ctx\":512}' '{\"heads\":2,\"kv_heads\":1,\"head_dim\":64,\"ctx\":2048}' '{\"heads\":2,\"kv_heads\":1,\"head_dim\":64,\"ctx\":[2048,100]}' | $LB --svg plot.svg; rc=\$?; grep -o 'speed-up vs [a-z]*\\|>[a-z-]*</text>' plot.svg | sort -u; rm -f plot.svg; exit \$rc"
c "echo '$S1' | $LB --svg nodir/plot.svg"

# ---- lingua-compress (tiny models) ----
LC='lingua-compress --threads 2 --device cpu --count-encoding td/tokenize/tiny.tiktoken'
BERT='--model td/models/tiny-bert'
XLMR='--model td/models/tiny-xlmr'
P1='{"prompt":"The quick brown fox jumps over the lazy dog. It was 12 degrees, and 3 cats sat.\nNew line here, with commas."}'
P2='{"id":7,"context":["First context about cats and dogs.","Second one: 42 numbers, 7 more.","Third, unrelated text about trees."]}'
c "echo '$P1' | $LC $BERT"
c "echo '$P1' | $LC $XLMR"
for m in "$BERT" "$XLMR"; do
    c "$LC $m td/golden/lingua/$( [ "$m" = "$BERT" ] && echo tiny-bert || echo tiny-xlmr ).jsonl | md5sum"
    for o in '--rate 0.3' '--rate 1' '--target-token 10' '--force-tokens "\n,.,?"' '--force-reserve-digit' \
        '--force-tokens "\n,." --drop-consecutive' '--chunk-end-tokens "."' '--token-to-word first' \
        '--context-filter' '--context-filter --target-context 1' '--context-filter --context-rate 0.5' \
        '--context-filter --context-target-token 8' '--context-filter --force-context-ids 2' \
        '--compat compress_prompt' '--no-token-filter' '--word-labels' '--word-labels --word-sep "|" --label-sep =' \
        '--token-probs' '--special-ends proper' '--view' '--keep-going --field context'; do
        c "printf '%s\n' '$P1' '$P2' | $LC $m $o"
    done
done
c "printf '%s\n' '$P1' '$P2' | $LC $BERT --family xlm-roberta"
c "printf '%s\n' '$P1' '$P2' | $LC $BERT --batch-size 1"
c "printf '%s\n' '$P1' '$P2' | $LC $BERT --html page.html"
c "printf '%s\n' '$P1' '$P2' | $LC $BERT --timing"
c "printf 'plain text to squeeze, with 12 words and more words.\n' | $LC $BERT --text"
c "printf 'plain text to squeeze, with 12 words and more words.\n' | $LC $BERT --text --color always"
c "printf 'plain text to squeeze, with 12 words and more words.\n' | $LC $BERT --text --color never --rate 0.8"
c "printf '%s\n' '$P1' '{\"prompt\":5}' '{\"x\":1}' '$P2' | $LC $BERT --keep-going --errors e.jsonl"
c "printf '%s\n' '{\"prompt\":\"a b c d e f\",\"rate\":0.2}' '{\"prompt\":\"a b c d e f\",\"target_token\":2}' '{\"prompt\":\"a b c\",\"rate\":7}' | $LC $BERT --keep-going"
c "echo '$P1' | $LC"
c "echo '$P1' | $LC --model td/nosuch"
c "echo '$P1' | $LC $BERT --rate 0"
c "echo '$P1' | $LC $BERT --token-to-word max"
c "echo '$P1' | $LC $BERT --force-tokens \"\$(seq -s, 1 101)\""
c "echo '$P1' | $LC $BERT --device cuda"
c "echo '$P1' | lingua-compress --threads 2 --device cpu $BERT --count-encoding td/nosuch.tiktoken"
c "$LC $BERT --shard 1/2 td/text/hostile.jsonl --field text | md5sum"
c "$LC $XLMR --keep-going --field text td/text/hostile.jsonl | md5sum"

# ---- route ----
R=route
c "$R import routellm td/route/routellm_small.csv"
c "$R import routellm --out-tokens 5 td/route/routellm_small.csv"
c "$R import best-route td/route/stage.jsonl"
c "$R import best-route td/route/candidates.jsonl"
c "$R import best-route td/route/stage.jsonl td/route/candidates.jsonl"
c "printf '%s\n' '{\"prompt\":\"Which is a prime?\\nA. 4\"}' > ex.jsonl; $R import routellm --exclude ex.jsonl td/route/routellm_small.csv"
c "$R import routellm td/route/prices.json"
c "$R import best-route td/route/small.jsonl"
c "$R import nosuch td/route/small.jsonl"
c "$R labels --prices td/route/prices.json td/route/small.jsonl"
c "$R labels --prices td/route/prices.json --n-max 2 --draws 3 --match-t 0.05 td/route/small.jsonl"
c "$R labels --prices td/route/prices.json --bug-compat --seed 5 td/route/small.jsonl"
c "$R labels --prices td/route/prices.json --reference llama-31-8b td/route/small.jsonl"
c "$R labels --prices td/route/prices.json --reference nosuch td/route/small.jsonl"
c "$R labels td/route/small.jsonl"
c "$R labels --prices sh/p.json --threads 1 sh/synth.jsonl | md5sum"
c "$R apply --prices td/route/prices.json td/route/queries.jsonl"
c "$R apply --prices td/route/prices.json --n-max 2 --threshold 0.5 td/route/queries.jsonl"
c "$R apply --prices td/route/prices.json --threshold 0.9 --cost realised td/route/queries.jsonl"
c "$R apply --prices td/route/prices.json --threshold 2 td/route/queries.jsonl"
c "$R apply --prices sh/p.json --n-max 3 --router sh/router.bin sh/synth.jsonl | md5sum"
c "$R apply --prices sh/p.json --router td/route/prices.json sh/synth.jsonl"
c "$R select td/route/small.jsonl"
c "$R select --from llama-31-8b td/route/small.jsonl"
c "$R select --from llama-31-8b --first 2 td/route/small.jsonl"
c "$R select --from mistral-7b --selector proxy td/route/small.jsonl"
c "$R select --from gpt-4o --selector oracle td/route/small.jsonl"
c "$R select --from gpt-4o --selector auto --first 0 td/route/small.jsonl"
c "$R apply --prices td/route/prices.json td/route/queries.jsonl | $R select"
c "$R apply --prices sh/p.json --n-max 3 --router sh/router.bin sh/synth.jsonl | $R select | md5sum"
c "$R synth -n 20 --seed 1"
c "$R synth -n 20 --samples 3 --tau 0.5 --no-proxy"
c "$R synth -n 0"
c "$R synth -n 5 --samples 0"
c "$R train --prices sh/p.json --n-max 3 --epochs 3 --hash-dim 256 --model mlp --hidden 8 -o r2.bin sh/lab.jsonl; md5sum <r2.bin; rm -f r2.bin"
c "$R train --prices sh/p.json --n-max 3 --epochs 2 --hash-dim 0 --val-frac 0 --batch 16 --lr 0.01 --l2 0 -o r3.bin sh/lab.jsonl; md5sum <r3.bin; rm -f r3.bin"
c "$R train --prices sh/p.json --n-max 3 --epochs 5 --patience 1 --no-features -o r4.bin sh/synth.jsonl; md5sum <r4.bin; rm -f r4.bin"
c "$R train --prices sh/p.json sh/lab.jsonl"
c "$R train --prices sh/p.json --model tree -o x.bin sh/lab.jsonl"
c "$R eval --prices sh/p.json sh/synth.jsonl"
c "$R eval --prices sh/p.json --n-max 3 --epochs 3 --hash-dim 512 --bootstrap 20 --thresholds 5 sh/lab.jsonl"
c "$R eval --prices sh/p.json --predictor byo sh/synth.jsonl"
c "$R eval --prices sh/p.json --n-max 3 --router sh/router.bin --random-seeds 2 sh/synth.jsonl"
c "$R eval --prices sh/p.json --test-frac 0.5 --cost realised --bootstrap 0 sh/synth.jsonl"
c "$R eval --prices sh/p.json --n-max 3 --test sh/synth.jsonl --epochs 2 sh/lab.jsonl"
c "$R eval --prices sh/p.json --model mlp --hidden 4 --epochs 2 --svg e.svg sh/synth.jsonl"
c "$R eval --prices sh/p.json --match-t 0.1 --bug-compat --draws 2 --epochs 2 sh/synth.jsonl"
c "$R eval --prices td/route/prices.json td/route/small.jsonl"
c "$R eval --prices sh/p.json --test-frac 1 sh/synth.jsonl"
c "printf '%s\n' '{\"id\":1}' '{\"prompt\":3}' 'not json' | $R labels --prices td/route/prices.json --keep-going --errors e.jsonl"
c "printf '%s\n' '{\"id\":1}' | $R apply --prices td/route/prices.json"
c "printf '%s\n' '{\"id\":1,\"responses\":{}}' | $R select"

# ---- tokenize ----
TK='tokenize --threads 2'
c "$TK --tokenizer td/tokenize/tiny.tiktoken --encoding cl100k_base --ids td/text/hostile.jsonl | md5sum"
c "$TK --encoding cl100k_base td/text/hostile.jsonl | md5sum"
c "$TK --encoding cl100k_base --ids --tokens --offsets td/text/hostile.jsonl | md5sum"
c "$TK --encoding cl100k_base --allow-special --ids td/text/hostile.jsonl | md5sum"
c "printf '%s\n' '{\"text\":\"Hello <|endoftext|> world\"}' | $TK --encoding cl100k_base --ids --tokens --offsets"
c "printf '%s\n' '{\"text\":\"Hello <|endoftext|> world\"}' | $TK --encoding cl100k_base --allow-special --ids"
c "$TK --tokenizer fx/tiktoken/kimi-k2-instruct/tiktoken.model --ids td/text/hostile.jsonl | md5sum"
for t in all-MiniLM-L6-v2 bert-base-uncased clip-vit-base falcon-7b gpt2 marian-nmt-unigram phi-3-mini roberta-base t5-small; do
    c "$TK --tokenizer fx/tokenizers/$t --ids --tokens --offsets td/text/hostile.jsonl | md5sum"
done
c "$TK --tokenizer fx/tokenizers/bert-base-uncased/tokenizer.json --no-special --ids td/text/hostile.jsonl | md5sum"
c "$TK --tokenizer fx/tokenizers/t5-small --no-special --tokens td/text/hostile.jsonl | md5sum"
c "printf '%s\n' '{\"text\":\"caf\\u00e9 na\\u00efve \\ud83d\\ude00\"}' | $TK --tokenizer fx/tokenizers/gpt2 --ids --tokens --offsets"
c "printf '%s\n' '{\"t\":\"abc\"}' '{\"text\":5}' '{\"x\":1}' | $TK --encoding cl100k_base --field t --keep-going --errors e.jsonl"
c "printf '%s\n' '{\"text\":\"abc\"}' | $TK"
c "printf '%s\n' '{\"text\":\"abc\"}' | $TK --encoding nosuch"
c "printf '%s\n' '{\"text\":\"abc\"}' | $TK --tokenizer td/nosuch"
c "printf '%s\n' '{\"text\":\"abc\"}' | $TK --tokenizer td/route/prices.json"
c "$TK --encoding cl100k_base --shard 1/3 --unbuffered td/text/hostile.jsonl | md5sum"
c "$TK --encoding cl100k_base --ids td/golden/tiktoken/tiny.jsonl --field enc | md5sum"
c "printf '{\"text\":\"no newline\"}' | $TK --encoding cl100k_base --ids"
c "printf '\xef\xbb\xbf{\"text\":\"bom\"}\r\n' | $TK --encoding cl100k_base --ids"
c "printf '{\"text\":\"a\"}\n\n{\"text\":\"b\xff\"}\n' | $TK --encoding cl100k_base --ids"

normalise() { # file workdir
    sed -i -e "s#$2#@W@#g" \
        -e 's/"\(time_us\|time_min_us\|time_max_us\|gbps\|pct_bw\|pct_floor\|speedup_vs_splitkv\|speedup_vs_nosplit\)":[^,}]*/"\1":"~"/g' \
        -e '/"bw_source":"cpu-read-stream"/s/"\(bw_gbps\|floor_us\)":[^,}]*/"\1":"~"/g' \
        -e '/timing: {/s/"\([a-z_]*_s\)":[^,}]*/"\1":"~"/g' "$1"
}

record() {
    local dir=$1 bin=${2:-$TOP/build/bin}
    bin="$(cd "$bin" && pwd)" || exit 2
    [ -x "$bin/dp-estimate" ] || { echo "refactor-corpus: no commands in '$bin'" >&2; exit 2; }
    mkdir -p "$dir" || exit 2
    dir="$(cd "$dir" && pwd)"
    rm -f "$dir"/[0-9][0-9][0-9].*
    rm -rf "$dir"/[0-9][0-9][0-9].files
    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/lmkit-corpus.XXXXXX")" || exit 2
    mkdir "$work/sh"
    local i n=${#CASES[@]} id wd f
    for ((i = 0; i < n; i++)); do
        printf -v id '%03d' "$i"
        wd="$work/$id"
        mkdir "$wd"
        ln -s "$TOP/testdata" "$wd/td"
        ln -s "$bin/../testdata" "$wd/fx"
        ln -s ../sh "$wd/sh"
        printf '%s\n' "${CASES[$i]}" >"$dir/$id.cmd"
        (cd "$wd" && exec env -i PATH="$bin:/usr/bin:/bin" LC_ALL=C HOME="$wd/home" TMPDIR="$wd" \
            HF_HOME="$wd/hf" XDG_CACHE_HOME="$wd/cache" TIKTOKEN_CACHE_DIR="$wd/tk" \
            ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
            timeout 300 bash -o pipefail -c "${CASES[$i]}") \
            </dev/null >"$dir/$id.out" 2>"$dir/$id.err"
        echo $? >"$dir/$id.rc"
        normalise "$dir/$id.out" "$wd"
        normalise "$dir/$id.err" "$wd"
        rm -f "$wd/td" "$wd/fx" "$wd/sh"
        if [ -n "$(ls -A "$wd")" ]; then
            mv "$wd" "$dir/$id.files"
            find "$dir/$id.files" -type f | while read -r f; do normalise "$f" "$wd"; done
        fi
        [ -t 2 ] && printf '\r%d/%d' "$((i + 1))" "$n" >&2
    done
    [ -t 2 ] && echo >&2
    rm -rf "$work"
    echo "refactor-corpus: $n cases recorded in $dir"
}

compare() {
    local a=$1 b=$2 ndiff=0 f id
    [ -d "$a" ] && [ -d "$b" ] || { echo "refactor-corpus: compare needs two folders" >&2; exit 2; }
    while read -r f; do
        ndiff=$((ndiff + 1))
        echo "differs: $f"
    done < <(diff -rq "$a" "$b" 2>&1 | sed 's/^Files \(.*\) and .* differ$/\1/')
    for f in "$a"/*.cmd; do
        id=$(basename "$f" .cmd)
        if ! cmp -s "$a/$id.out" "$b/$id.out" || ! cmp -s "$a/$id.err" "$b/$id.err" ||
            ! cmp -s "$a/$id.rc" "$b/$id.rc"; then
            echo "--- case $id: $(cat "$f")"
            diff "$a/$id.rc" "$b/$id.rc" 2>&1 | sed 's/^/  rc /'
            diff "$a/$id.err" "$b/$id.err" 2>&1 | head -10 | sed 's/^/  err /'
            diff "$a/$id.out" "$b/$id.out" 2>&1 | head -10 | cut -c1-300 | sed 's/^/  out /'
        fi
    done
    local n
    n=$(ls "$a"/*.cmd | wc -l)
    if [ "$ndiff" -gt 0 ]; then
        echo "refactor-corpus: $ndiff difference(s) over $n cases"
        exit 1
    fi
    echo "refactor-corpus: $n cases, no difference"
}

case ${1:-} in
record) [ $# -ge 2 ] || { echo "usage: $0 record DIR [BINDIR]" >&2; exit 2; }; record "$2" "${3:-}" ;;
compare) [ $# -eq 3 ] || { echo "usage: $0 compare A B" >&2; exit 2; }; compare "$2" "$3" ;;
list) printf '%s\n' "${CASES[@]}" ;;
*) echo "usage: $0 record DIR [BINDIR] | compare A B | list" >&2; exit 2 ;;
esac

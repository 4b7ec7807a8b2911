#!/bin/sh
# bench/lingua-device.sh - end-to-end time and peak memory of lingua-compress
# --rate 0.33 on two devices (default DEVICES="cpu cuda"), same model, same
# prompts, same run; the GPU half of bench/lingua.sh for machines without
# torch (make gpu-check runs it).  Needs no Python: the random models are
# written by bench/encoder_bench.c (N(0, 0.02) weights, seed 1), so the
# reference is not run here; bench/lingua.sh compares against it.
#
#   sh bench/lingua-device.sh                 # on a GPU machine
#   DEVICES="cpu cpu" SHAPES=tiny sh bench/lingua-device.sh   # a dry run
#
# Shapes: bert-base (768/12/12/3072, 512 positions), xlmr-large
# (1024/24/16/4096, 514 positions) and tiny (bert 64/2/2/128: tests), each a
# 2-label token classifier with the WordPiece tokenizer $TOKENIZER (default
# bert-base-uncased, bundled in testdata/tokenizers and decompressed by
# make into $BUILD/testdata, else the tiny test model's).
# Prompts: LENGTHS (default "2000 10000") give one record of about that many
# cl100k tokens of $CORPUS (a text file; default the repo's man pages as
# plain text), and MANY (NxT, default 200x120) N records of up to
# T tokens' worth of text (4 characters a token), one paragraph each.
# One JSON line per (shape, prompt): per device the wall seconds, peak RSS
# (MB) and the encoder's own seconds from --timing; the first device's time
# over the second's; and whether the outputs are identical (a probability
# on a threshold can flip a word between devices).
#
# Environment: BUILD (default build), CC and CFLAGS (for the model writer),
# DEVICES, SHAPES (default "bert-base
# xlmr-large"), LENGTHS, MANY, TOKENIZER, CORPUS, LMKIT_TIKTOKEN
# (cl100k_base file; default the one lingua-compress finds in
# $BUILD/share/lmkit).
set -eu
cd "$(dirname "$0")/.."
set -- ${DEVICES:-cpu cuda}
[ $# -eq 2 ] || { echo "lingua-device.sh: DEVICES names two devices, e.g. \"cpu cuda\"" >&2; exit 2; }
BUILD=${BUILD:-build}
DEVICES=${DEVICES:-cpu cuda}
SHAPES=${SHAPES:-bert-base xlmr-large}
LENGTHS=${LENGTHS:-2000 10000}
MANY=${MANY-200x120}
TOKENIZER=${TOKENIZER:-$BUILD/testdata/tokenizers/bert-base-uncased/tokenizer.json}
[ -r "$TOKENIZER" ] || TOKENIZER=testdata/models/tiny-bert/tokenizer.json
CORPUS=${CORPUS:-}
if [ -n "${LMKIT_TIKTOKEN:-}" ]; then export LMKIT_TIKTOKEN; fi

bin=$BUILD/bin/lingua-compress
lib=$BUILD/liblmkit.a
for f in "$bin" "$lib"; do
    [ -e "$f" ] || { echo "lingua-device.sh: $f not found; run 'make' first" >&2; exit 2; }
done
/usr/bin/time -v true >/dev/null 2>&1 || { echo "lingua-device.sh: needs GNU /usr/bin/time -v" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lmkit-lingua-device.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

libs="$(pkg-config --libs jansson 2>/dev/null || echo -ljansson) $(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"
# a CUDA build: the bench binary (outside the build tree) is told where the
# build's liblmkit-cuda.so is
cuda_so=$BUILD/lib/lmkit/liblmkit-cuda.so
if [ -f "$cuda_so" ]; then
    case $cuda_so in /*) ;; *) cuda_so=$PWD/$cuda_so ;; esac
    export LMKIT_CUDA_LIB="$cuda_so"
fi
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -fopenmp ${CFLAGS:-} -Ilib bench/encoder_bench.c "$lib" $libs -lm \
    -o "$tmp/encoder_bench"

# the prompt text: the corpus without markup lines, or the man pages as text
if [ -n "$CORPUS" ] && [ -r "$CORPUS" ]; then
    grep -v '^<' "$CORPUS" | grep -v '^[[:space:]]*$' >"$tmp/text"
else
    cat man/man1/*.1 | grep -v '^\.\(Dd\|Dt\|Os\|Bl\|El\|Bd\|Ed\|Pp\|\\"\)' |
        sed 's/^\.[A-Z][a-z] *//; s/\\[&e(][a-z]*//g' | grep -v '^[[:space:]]*$' >"$tmp/text"
fi
# JSON-safe text lines: no backslashes, double quotes or tabs, no control
# characters
sed 's/\\//g; s/"/'"'"'/g; s/[[:cntrl:]]/ /g' "$tmp/text" >"$tmp/clean"
# prompt OUT CHARS: one record of whole lines up to CHARS characters
prompt() {
    awk -v max="$2" '{ if (n >= max) exit; s = s (n ? "\\n" : "") $0; n += length($0) + 1 }
        END { printf "{\"prompt\":\"%s\"}\n", s }' "$tmp/clean" "$tmp/clean" "$tmp/clean" "$tmp/clean" >"$1"
}
# records OUT N CHARS: N records, one line each, cut to about CHARS bytes
records() {
    awk -v n="$2" -v max="$3" 'length($0) > 200 && k < n {
            t = $0
            if (length(t) > max) { t = substr(t, 1, max); sub(/ [^ ]*$/, "", t) } # cut at a space: whole UTF-8
            printf "{\"id\":%d,\"prompt\":\"%s\"}\n", k++, t }' \
        "$tmp/clean" "$tmp/clean" "$tmp/clean" >"$1"
}

for shape in $SHAPES; do
    case $shape in
        bert-base) gen="bert 768 12 12 3072 119547 512" ;;
        xlmr-large) gen="xlmr 1024 24 16 4096 250002 514" ;;
        tiny) gen="bert 64 2 2 128 30622 512" ;;
        *) echo "lingua-device.sh: unknown shape '$shape' (bert-base, xlmr-large, tiny)" >&2; exit 2 ;;
    esac
    model=$tmp/$shape
    # shellcheck disable=SC2086
    "$tmp/encoder_bench" gen "$model" $gen
    cp "$TOKENIZER" "$model/tokenizer.json"
    for n in $LENGTHS many; do
        if [ "$n" = many ]; then
            [ -n "$MANY" ] || continue
            records "$tmp/in.jsonl" "${MANY%x*}" $((${MANY#*x} * 4))
        else
            prompt "$tmp/in.jsonl" $((n * 4))
        fi
        line="{\"bench\":\"lingua-device\",\"shape\":\"$shape\",\"records\":$(wc -l <"$tmp/in.jsonl" | tr -d ' ')"
        i=0
        for d in $DEVICES; do
            i=$((i + 1))
            /usr/bin/time -v -o "$tmp/time" "$bin" -m "$model" --device "$d" --rate 0.33 -q --timing \
                "$tmp/in.jsonl" >"$tmp/out$i" 2>"$tmp/err$i" || { cat "$tmp/err$i" >&2; exit 1; }
            secs=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$tmp/time" |
                awk -F: '{ s = 0; for (k = 1; k <= NF; k++) s = s * 60 + $k; printf "%.2f", s }')
            rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$tmp/time" |
                awk '{ printf "%.0f", $1 / 1024 }')
            timing=$(sed -n 's/^lingua-compress: timing: //p' "$tmp/err$i")
            [ $i = 1 ] && s1=$secs
            [ $i = 2 ] && s2=$secs
            line="$line,\"$i\":{\"device\":\"$d\",\"s\":$secs,\"rss_mb\":$rss,\"timing\":$timing}"
        done
        same=false
        cmp -s "$tmp/out1" "$tmp/out2" && same=true
        ratio=$(awk -v a="$s1" -v b="$s2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        echo "$line,\"time_ratio_1_over_2\":$ratio,\"same_output\":$same}"
    done
    rm -rf "$model"
done

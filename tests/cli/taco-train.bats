#!/usr/bin/env bats
# taco-train.bats - the taco-train command: init, label and sup on the tiny
# models, a known-rule task learnt to >= 95% F1 on held-out records, kill -9
# and resume giving byte-identical weights, and bad input and usage errors.

load helpers

setup() {
    TMP="$(mktemp -d)"
    M="$TOP/testdata/models/tiny-bert"
}
teardown() {
    rm -rf "$TMP"
}

# records of single-token words of tiny-bert's vocabulary, a word kept iff
# it is in a fixed random half of them: $1 records, seed $2
known_rule() {
    python3 - "$M/vocab.txt" "$1" "$2" <<'PY'
import json, random, sys
vocab = [w.strip() for w in open(sys.argv[1], encoding="utf-8")]
words = sorted({w for w in vocab if w.isalpha() and w.isascii() and len(w) >= 3})
rng = random.Random(int(sys.argv[3]))
keep = set(rng.sample(words, len(words) // 2))
for i in range(int(sys.argv[2])):
    ws = [rng.choice(words) for _ in range(rng.randint(8, 24))]
    print(json.dumps({"id": i, "words": ws, "labels": [int(w in keep) for w in ws]}))
PY
}

new_model() {
    taco-train init --family "${2:-bert}" --layers 2 --hidden 32 --heads 4 --seed 1 \
        --tokenizer "$M/tokenizer.json" --out "$1" >/dev/null
}

@test "taco-train with no command, an unknown command, --help" {
    run --separate-stderr taco-train
    [ "$status" -eq 2 ]
    [[ $stderr == *"a command is required"* ]] || fail "$stderr"
    run --separate-stderr taco-train frobnicate
    [ "$status" -eq 2 ]
    [[ $stderr == *"unknown command 'frobnicate'"* ]] || fail "$stderr"
    run --separate-stderr taco-train sup --help
    assert_success
    [[ $output == *"--resume"* ]] || fail "$output"
}

@test "init writes a model folder that lingua-compress loads; an existing folder is refused" {
    run --separate-stderr taco-train init --family bert --layers 2 --hidden 32 --heads 4 --seed 1 \
        --tokenizer "$M/tokenizer.json" --out "$TMP/m"
    assert_success
    [ "$output" = '{"model":"'"$TMP/m"'","family":"bert","layers":2,"hidden":32,"heads":4,"seed":1}' ] || fail "$output"
    for f in config.json model.safetensors tokenizer.json tokenizer_config.json special_tokens_map.json; do
        [ -f "$TMP/m/$f" ] || fail "no $f"
    done
    cmp "$M/tokenizer.json" "$TMP/m/tokenizer.json"
    echo '{"prompt":"The troops played a match."}' | lingua-compress --model "$TMP/m" >"$TMP/out"
    grep -q '"compressed_prompt"' "$TMP/out" || fail "$(cat "$TMP/out")"
    run --separate-stderr taco-train init --family bert --tokenizer "$M/tokenizer.json" --out "$TMP/m"
    [ "$status" -eq 2 ]
    [[ $stderr == *"already exists"* ]] || fail "$stderr"
    run --separate-stderr taco-train init --family bert --hidden 30 --heads 4 --tokenizer "$M/tokenizer.json" --out "$TMP/x"
    [ "$status" -eq 2 ]
    [[ $stderr == *"not a multiple of --heads"* ]] || fail "$stderr"
    run --separate-stderr taco-train init --tokenizer "$M/tokenizer.json" --out "$TMP/x"
    [ "$status" -eq 2 ]
    [[ $stderr == *"--family"* ]] || fail "$stderr"
    # an XLM-R model needs XLM-R's special tokens
    run --separate-stderr taco-train init --family xlm-roberta --layers 1 --hidden 8 --heads 2 \
        --tokenizer "$M/tokenizer.json" --out "$TMP/x"
    [ "$status" -eq 1 ]
    [[ $stderr == *"no <pad> token"* ]] || fail "$stderr"
    [ ! -e "$TMP/x" ]
}

@test "label: the three record forms; bad records name their field" {
    new_model "$TMP/m"
    run --separate-stderr taco-train label --model "$TMP/m" <<'EOF2'
{"origin":"The quick brown fox jumps over the lazy dog.","compressed":"quick fox lazy dog"}
{"text":"Hello big world","keep_spans":[[0,5],[10,15]],"k":1}
{"words":["a","b"],"labels":[true,0]}
EOF2
    assert_success
    [[ ${lines[0]} == *'"labels":[0,1,0,1,0,0,0,1,1,0],"label_stats":{"n_orig":10,"n_comp":4,"n_find":4,"n_kept":4,"comp_rate":0.4,'* ]] || fail "${lines[0]}"
    [ "${lines[1]}" = '{"text":"Hello big world","keep_spans":[[0,5],[10,15]],"k":1,"words":["Hello","big","world"],"labels":[1,0,1]}' ] || fail "${lines[1]}"
    [ "${lines[2]}" = '{"words":["a","b"],"labels":[1,0]}' ] || fail "${lines[2]}"
    run --separate-stderr taco-train label --model "$TMP/m" <<<'{"words":["a","b"],"labels":[1]}'
    [ "$status" -eq 1 ]
    [[ $stderr == *"<stdin>:1:"*'"labels" has 1 entries but "words" 2'* ]] || fail "$stderr"
    run --separate-stderr taco-train label --model "$TMP/m" <<<'{"words":["a"],"labels":[2]}'
    [ "$status" -eq 1 ]
    [[ $stderr == *'"labels"[0] must be 0, 1, true or false'* ]] || fail "$stderr"
    run --separate-stderr taco-train label --model "$TMP/m" <<<'{"origin":"a b"}'
    [ "$status" -eq 1 ]
    [[ $stderr == *'"compressed" is missing'* ]] || fail "$stderr"
    run --separate-stderr taco-train label --model "$TMP/m" <<<'{"text":"abc","keep_spans":[[0,9]]}'
    [ "$status" -eq 1 ]
    [[ $stderr == *'"keep_spans"'* ]] || fail "$stderr"
    run --separate-stderr taco-train label --model "$TMP/m" <<<'{"prompt":"abc"}'
    [ "$status" -eq 1 ]
    [[ $stderr == *"no training labels"* && $stderr == *'hint: give "words" and "labels"'* ]] || fail "$stderr"
}

@test "sup learns a known word rule: >= 95% token F1 on held-out records, from init" {
    new_model "$TMP/m"
    known_rule 400 1 >"$TMP/data.jsonl"
    run --separate-stderr taco-train sup --model "$TMP/m" --data "$TMP/data.jsonl" --epochs 3 \
        --batch-size 16 --lr 3e-3 --seed 1 --out "$TMP/t"
    assert_success
    f1=$(printf '%s\n' "${lines[@]}" | grep '"f1"' | tail -1 | sed 's/.*"f1":\([0-9.e-]*\).*/\1/')
    echo "# held-out token F1 after 3 epochs: $f1" >&3
    python3 -c "import sys; sys.exit(0 if float('$f1') >= 0.95 else 1)" || fail "F1 $f1"
    # one record per step, one per epoch, one at the end
    [ "$(printf '%s\n' "${lines[@]}" | grep -c '"loss"')" -eq "$(printf '%s\n' "${lines[@]}" | grep -c '^{"step"')" ]
    [ "$(printf '%s\n' "${lines[@]}" | grep -c '"train_loss"')" -eq 3 ]
    [[ ${lines[-1]} == '{"model":"'"$TMP/t"'","steps":'* ]] || fail "${lines[-1]}"
    [ -f "$TMP/t/taco_train.json" ]
    grep -q '"mode":"sup"' "$TMP/t/taco_train.json"
    # the trained model compresses with lingua-compress
    echo '{"prompt":"Batt season troops"}' | lingua-compress --model "$TMP/t" | grep -q compressed_prompt
}

@test "sup: kill -9 at any moment, --resume, and the weights are byte-identical" {
    new_model "$TMP/m"
    known_rule 200 2 >"$TMP/data.jsonl"
    args=(--data "$TMP/data.jsonl" --epochs 12 --batch-size 8 --lr 1e-3 --seed 3 --threads 2 --save-every 5)
    taco-train sup --model "$TMP/m" "${args[@]}" --out "$TMP/a" --plot "$TMP/a.svg" >/dev/null
    for delay in 0.05 0.4 0.9; do
        rm -rf "$TMP/b" "$TMP/b.checkpoint"
        taco-train sup --model "$TMP/m" "${args[@]}" --out "$TMP/b" >"$TMP/b1.log" &
        pid=$!
        for _ in $(seq 200); do [ -f "$TMP/b.checkpoint/trainer_state.json" ] && break; sleep 0.05; done
        sleep "$delay"
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" || true
        if [ -d "$TMP/b" ]; then
            echo "# delay $delay: the run finished before the kill" >&3
        else
            step=$(grep -o '"step": [0-9]*' "$TMP/b.checkpoint/trainer_state.json")
            echo "# delay $delay: killed, checkpoint at $step" >&3
            run --separate-stderr taco-train sup --resume "$TMP/b.checkpoint" "${args[@]}" --out "$TMP/b" \
                --plot "$TMP/b.svg"
            assert_success
            # the history survives the kill: the same curves
            cmp "$TMP/a.svg" "$TMP/b.svg" || fail "delay $delay: the plots differ"
        fi
        cmp "$TMP/a/model.safetensors" "$TMP/b/model.safetensors" || fail "delay $delay: weights differ"
    done
}

@test "sup: resume refuses other settings or data, naming them" {
    new_model "$TMP/m"
    known_rule 60 4 >"$TMP/data.jsonl"
    taco-train sup --model "$TMP/m" --data "$TMP/data.jsonl" --epochs 2 --batch-size 8 --save-every 2 \
        --checkpoint "$TMP/ck" --out "$TMP/a" >/dev/null
    run --separate-stderr taco-train sup --resume "$TMP/ck" --data "$TMP/data.jsonl" --epochs 2 --batch-size 4 \
        --out "$TMP/b"
    [ "$status" -eq 2 ]
    [[ $stderr == *"batch_size 8, this one 4"* ]] || fail "$stderr"
    known_rule 60 5 >"$TMP/other.jsonl"
    run --separate-stderr taco-train sup --resume "$TMP/ck" --data "$TMP/other.jsonl" --epochs 2 --batch-size 8 \
        --out "$TMP/b"
    [ "$status" -eq 2 ]
    [[ $stderr == *"data_sha256"* ]] || fail "$stderr"
    [ ! -e "$TMP/b" ]
}

@test "sup: usage errors and bad records" {
    new_model "$TMP/m"
    known_rule 20 6 >"$TMP/data.jsonl"
    run --separate-stderr taco-train sup --data "$TMP/data.jsonl" --out "$TMP/o"
    [ "$status" -eq 2 ]
    [[ $stderr == *"--model DIR is required"* ]] || fail "$stderr"
    run --separate-stderr taco-train sup --model "$TMP/m" --data "$TMP/data.jsonl" --out "$TMP/m"
    [ "$status" -eq 2 ]
    [[ $stderr == *"already exists"* ]] || fail "$stderr"
    run --separate-stderr taco-train sup --model "$TMP/m" --data "$TMP/data.jsonl" --eval "$TMP/data.jsonl" --out "$TMP/o"
    [ "$status" -eq 2 ]
    [[ $stderr == *"same file"* ]] || fail "$stderr"
    run --separate-stderr taco-train sup --model "$TMP/m" --data "$TMP/data.jsonl" --train-scope top:9 --out "$TMP/o"
    [ "$status" -eq 2 ]
    [[ $stderr == *"top:"* ]] || fail "$stderr"
    printf '%s\n' '{"words":["a"],"labels":[1]}' '{"words":["a"],"labels":[1]' >"$TMP/bad.jsonl"
    run --separate-stderr taco-train sup --model "$TMP/m" --data "$TMP/bad.jsonl" --out "$TMP/o"
    [ "$status" -eq 1 ]
    [[ $stderr == *"bad.jsonl:2:"* ]] || fail "$stderr"
    [ ! -e "$TMP/o" ]
}

# the raw bytes of tensor $2 of safetensors file $1, as hex
tensor_hex() {
    python3 - "$1" "$2" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
s, e = h[sys.argv[2]]["data_offsets"]
print(b[8 + n + s:8 + n + e].hex())
PY
}

@test "sup: --eval, --grad-accum, a warm-up and cosine schedule, a train scope (XLM-R)" {
    X="$TOP/testdata/models/tiny-xlmr"
    taco-train init --family xlm-roberta --layers 2 --hidden 32 --heads 4 --seed 2 \
        --tokenizer "$X/tokenizer.json" --out "$TMP/m" >/dev/null
    python3 - >"$TMP/train.jsonl" <<'PY'
import json, random
rng = random.Random(7)
words = ["alpha", "beta", "gamma", "delta", "house", "river", "stone", "cloud"]
for i in range(50):
    ws = [rng.choice(words) for _ in range(rng.randint(4, 12))]
    print(json.dumps({"origin": " ".join(ws), "compressed": " ".join(w for w in ws if w < "d")}))
PY
    head -10 "$TMP/train.jsonl" >"$TMP/dev.jsonl"
    run --separate-stderr taco-train sup --model "$TMP/m" --data "$TMP/train.jsonl" --eval "$TMP/dev.jsonl" \
        --epochs 2 --batch-size 8 --grad-accum 3 --lr 1e-3 --schedule cosine --warmup 2 \
        --train-scope top:1 --best-by f1 --no-dropout --out "$TMP/t"
    assert_success
    # 50 windows: 7 micro-batches, 3 optimiser steps per epoch
    [ "$(printf '%s\n' "${lines[@]}" | grep -c '^{"step"')" -eq 6 ] || fail "$output"
    [[ ${lines[0]} == '{"step":1,"epoch":1,"lr":0,'* ]] || fail "warm-up starts at 0: ${lines[0]}"
    [[ ${lines[1]} == '{"step":2,"epoch":1,"lr":0.0005,'* ]] || fail "${lines[1]}"
    [[ ${lines[2]} == '{"step":3,"epoch":1,"lr":0.001,'* ]] || fail "${lines[2]}"
    [[ ${lines[3]} == *'"eval_tokens":'* ]] || fail "${lines[3]}"
    # top:1 trains the last layer and the head only
    e=roberta.embeddings.word_embeddings.weight
    [ "$(tensor_hex "$TMP/m/model.safetensors" $e)" = "$(tensor_hex "$TMP/t/model.safetensors" $e)" ] ||
        fail "the embeddings changed"
    c=roberta.encoder.layer.1.output.dense.weight
    [ "$(tensor_hex "$TMP/m/model.safetensors" $c)" != "$(tensor_hex "$TMP/t/model.safetensors" $c)" ] ||
        fail "the last layer did not change"
    grep -q '"train_scope":"top:1"' "$TMP/t/taco_train.json"
}

@test "sup --plot writes an SVG of the step losses and the held-out scores" {
    new_model "$TMP/m"
    known_rule 60 8 >"$TMP/data.jsonl"
    taco-train sup --model "$TMP/m" --data "$TMP/data.jsonl" --epochs 2 --batch-size 8 --lr 1e-3 \
        --out "$TMP/t" --plot "$TMP/p.svg" >/dev/null
    python3 -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" "$TMP/p.svg"
    for s in "step loss" "held-out loss" "keep F1" "accuracy"; do
        grep -q "$s" "$TMP/p.svg" || fail "no '$s' in the plot"
    done
}

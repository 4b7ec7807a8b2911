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
    # a device that cannot be used is named, before any work
    if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
        run --separate-stderr taco-train sup --model "$TMP/m" --data "$TMP/data.jsonl" --out "$TMP/o" --device cuda
        [ "$status" -eq 2 ]
        [[ $stderr == *"--device cuda: "*"use --device cpu"* ]] || fail "$stderr"
        [ ! -e "$TMP/o" ]
    fi
    run --separate-stderr taco-train sup --model "$TMP/m" --data "$TMP/data.jsonl" --out "$TMP/o" --device gpu
    [ "$status" -eq 2 ]
    [[ $stderr == *"--device"* ]] || fail "$stderr"
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

# prompts of 30 words from a small vocabulary, $1 of them
rl_prompts() {
    python3 - "$1" <<'PY'
import json, random, sys
rng = random.Random(3)
words = ("river stone cloud house garden market window summer winter bridge candle forest silver yellow "
         "orange purple doctor teacher farmer pilot").split()
stop = "the of and to in a is".split()
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": i, "original_prompt": " ".join(rng.choice(words + stop) for _ in range(30))}))
PY
}

@test "rl with a deterministic reward co-process raises the mean reward" {
    taco-train init --family xlm-roberta --layers 2 --hidden 32 --heads 4 --seed 1 \
        --tokenizer "$TOP/testdata/models/tiny-xlmr/tokenizer.json" --out "$TMP/m" >/dev/null
    rl_prompts 64 >"$TMP/p.jsonl"
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t" \
        --llm-cmd "python3 '$TOP/tests/llm/mock-oracle.py' -k 8" --make-references --epochs 12 \
        --batch-size 8 --lr 3e-3 --seed 1 --baseline mean --reward f1 --prompt-template '{transcript}' \
        --llm-cache "$TMP/cache.jsonl" --plot "$TMP/rl.svg"
    assert_success
    printf '%s\n' "${lines[@]}" | grep '^{"step"' >"$TMP/steps.jsonl"
    [ "$(wc -l <"$TMP/steps.jsonl")" -eq 96 ]
    read -r first last < <(python3 - "$TMP/steps.jsonl" <<'PY'
import json, sys
r = [json.loads(l)["reward_mean"] for l in open(sys.argv[1])]
print(round(sum(r[:16]) / 16, 3), round(sum(r[-16:]) / 16, 3))
PY
)
    echo "# mean reward: first 16 steps $first, last 16 steps $last" >&3
    python3 -c "import sys; sys.exit(0 if $last > $first + 0.2 else 1)" || fail "reward $first -> $last"
    [[ ${lines[-1]} == '{"model":"'"$TMP/t"'","steps":96,"llm_calls":'*',"llm_failures":0}' ]] || fail "${lines[-1]}"
    grep -q '"mode":"rl"' "$TMP/t/taco_train.json"
    grep -q "mean reward" "$TMP/rl.svg"
    # the trained folder compresses with lingua-compress
    head -1 "$TMP/p.jsonl" | lingua-compress --model "$TMP/t" --field original_prompt | grep -q compressed_prompt
    # every answer is in the cache: a rerun makes no call
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t2" \
        --llm-cmd "python3 '$TOP/tests/llm/mock-oracle.py' -k 8" --make-references --epochs 12 \
        --batch-size 8 --lr 3e-3 --seed 1 --baseline mean --reward f1 --prompt-template '{transcript}' \
        --llm-cache "$TMP/cache.jsonl"
    assert_success
    [[ ${lines[-1]} == *'"llm_calls":0,"llm_failures":0}' ]] || fail "${lines[-1]}"
    cmp "$TMP/t/model.safetensors" "$TMP/t2/model.safetensors"
}

@test "rl: failed LLM calls are left out of the loss and counted; --reference-compat gives them +0.4" {
    taco-train init --family xlm-roberta --layers 1 --hidden 16 --heads 2 --seed 1 \
        --tokenizer "$TOP/testdata/models/tiny-xlmr/tokenizer.json" --out "$TMP/m" >/dev/null
    rl_prompts 8 | python3 -c "
import json, sys
for i, l in enumerate(sys.stdin):
    r = json.loads(l); r['gpt_output'] = 'river stone'
    if i < 4: r['original_prompt'] = 'poison ' + r['original_prompt']
    print(json.dumps(r))" >"$TMP/p.jsonl"
    oracle="python3 '$TOP/tests/llm/mock-oracle.py' --error-word poison"
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t" \
        --llm-cmd "$oracle" --epochs 1 --batch-size 8 --rollout greedy --compression-rate 0.3 --relaxation-tokens 100 \
        --over-compression 0 --force-tokens poison
    assert_success
    [[ ${lines[0]} == *'"prompts":8,"in_loss":4,'* ]] || fail "${lines[0]}"
    [[ ${lines[0]} == *'"llm_calls":8,"llm_failures":4,'* ]] || fail "${lines[0]}"
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t2" \
        --llm-cmd "$oracle" --epochs 1 --batch-size 8 --rollout greedy --compression-rate 0.3 --relaxation-tokens 100 \
        --over-compression 0 --force-tokens poison --reference-compat
    assert_success
    [[ ${lines[0]} == *'"prompts":8,"in_loss":8,'* ]] || fail "${lines[0]}"
}

@test "rl: the length rules decide without calling the LLM" {
    taco-train init --family xlm-roberta --layers 1 --hidden 16 --heads 2 --seed 1 \
        --tokenizer "$TOP/testdata/models/tiny-xlmr/tokenizer.json" --out "$TMP/m" >/dev/null
    rl_prompts 8 | sed 's/}$/,"gpt_output":"x"}/' >"$TMP/p.jsonl"
    # every compression is "over-compressed" when the share is 1
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t" \
        --llm-cmd "exit 3" --epochs 1 --batch-size 8 --over-compression 1
    assert_success
    reward() { python3 -c "import json, sys; print(round(json.loads(sys.argv[1])['reward_mean'], 9))" "$1"; }
    [ "$(reward "${lines[0]}")" = -0.4 ] || fail "${lines[0]}"
    [[ ${lines[0]} == *'"frac_over":1,"frac_relax":0,'*'"llm_calls":0,'* ]] || fail "${lines[0]}"
    # and outside a tolerance of 0 tokens around a rate of 1 (none kept all)
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t2" \
        --llm-cmd "exit 3" --epochs 1 --batch-size 8 --over-compression 0 --compression-rate 1 \
        --relaxation-tokens 0 --penalty-relax -0.25
    assert_success
    [ "$(reward "${lines[0]}")" = -0.25 ] || fail "${lines[0]}"
    [[ ${lines[0]} == *'"frac_relax":1,'*'"llm_calls":0,'* ]] || fail "${lines[0]}"
}

@test "rl --loss-mask effective leaves out the forced tokens, real the pads and ends, all nothing" {
    taco-train init --family xlm-roberta --layers 1 --hidden 16 --heads 2 --seed 1 \
        --tokenizer "$TOP/testdata/models/tiny-xlmr/tokenizer.json" --out "$TMP/m" >/dev/null
    rl_prompts 4 | sed 's/"}$/ 1999 and 42, river.", "gpt_output": "x"}/' >"$TMP/p.jsonl"
    rivers=$(grep -o river "$TMP/p.jsonl" | wc -l)
    [ "$rivers" -ge 5 ]
    positions() {
        taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t$RANDOM" --llm-cmd "exit 3" \
            --epochs 1 --batch-size 4 --over-compression 1 --rollout greedy "$@" |
            head -1 | python3 -c "import json, sys; print(json.loads(sys.stdin.readline())['positions'])"
    }
    real=$(positions --loss-mask real --force-tokens river)
    eff=$(positions --loss-mask effective --force-tokens river)
    all=$(positions --loss-mask all --force-tokens river)
    # each "river" is one forced placeholder token
    [ $((real - eff)) -eq "$rivers" ] || fail "real $real, effective $eff, $rivers rivers"
    [ "$all" -gt "$real" ] || fail "all $all, real $real"
    [ "$(positions --loss-mask all --force-tokens river --reference-compat)" -eq "$all" ]
    [ "$(positions --loss-mask effective --force-tokens river --reference-compat)" -eq "$all" ]
    # numbers too under --force-reserve-digit; without force tokens nothing is forced
    digits=$(positions --loss-mask effective --force-tokens river --force-reserve-digit)
    [ "$digits" -lt "$eff" ] || fail "reserve-digit $digits, effective $eff"
    [ "$(positions --loss-mask effective)" -eq "$(positions --loss-mask real)" ]
    grep -q '"loss_mask":"effective"' "$TMP"/t*/taco_train.json
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/x" --llm-cmd "exit 3" \
        --loss-mask some
    assert_failure 2
    [[ $stderr == *"loss-mask"* ]] || fail "$stderr"
}

@test "rl: usage errors and bad records" {
    taco-train init --family bert --layers 1 --hidden 8 --heads 2 --seed 1 --tokenizer "$M/tokenizer.json" \
        --out "$TMP/m" >/dev/null
    echo '{"original_prompt":"a b c","gpt_output":"a"}' >"$TMP/p.jsonl"
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t"
    [ "$status" -eq 2 ]
    [[ $stderr == *"--llm-url URL or --llm-cmd CMD"* ]] || fail "$stderr"
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/p.jsonl" --out "$TMP/t" --llm-cmd cat \
        --prompt-template 'no slot'
    [ "$status" -eq 2 ]
    [[ $stderr == *"{transcript}"* ]] || fail "$stderr"
    echo '{"original_prompt":"a b c"}' >"$TMP/q.jsonl"
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/q.jsonl" --out "$TMP/t" --llm-cmd cat
    [ "$status" -eq 1 ]
    [[ $stderr == *"no reference answer"* && $stderr == *"--make-references"* ]] || fail "$stderr"
    echo '{"original_prompt":7}' >"$TMP/q.jsonl"
    run --separate-stderr taco-train rl --model "$TMP/m" --data "$TMP/q.jsonl" --out "$TMP/t" --llm-cmd cat
    [ "$status" -eq 1 ]
    [[ $stderr == *'q.jsonl:1:'*'"original_prompt" must be a string'* ]] || fail "$stderr"
    [ ! -e "$TMP/t" ]
}

@test "rl: kill -9, --resume, and the weights are byte-identical" {
    taco-train init --family xlm-roberta --layers 1 --hidden 16 --heads 2 --seed 1 \
        --tokenizer "$TOP/testdata/models/tiny-xlmr/tokenizer.json" --out "$TMP/m" >/dev/null
    rl_prompts 32 >"$TMP/p.jsonl"
    args=(--data "$TMP/p.jsonl" --llm-cmd "python3 '$TOP/tests/llm/mock-oracle.py' -k 8" --make-references
          --epochs 10 --batch-size 4 --lr 3e-3 --seed 2 --baseline ema --reward f1 --prompt-template '{transcript}'
          --threads 2 --save-every 3)
    taco-train rl --model "$TMP/m" "${args[@]}" --llm-cache "$TMP/a.cache" --out "$TMP/a" --plot "$TMP/a.svg" >/dev/null
    taco-train rl --model "$TMP/m" "${args[@]}" --llm-cache "$TMP/b.cache" --out "$TMP/b" >"$TMP/b1.log" &
    pid=$!
    for _ in $(seq 400); do [ -f "$TMP/b.checkpoint/trainer_state.json" ] && break; sleep 0.05; done
    sleep 0.5
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" || true
    if [ -d "$TMP/b" ]; then
        echo "# the run finished before the kill" >&3
    else
        echo "# killed, checkpoint at $(grep -o '"step": [0-9]*' "$TMP/b.checkpoint/trainer_state.json")" >&3
        run --separate-stderr taco-train rl --resume "$TMP/b.checkpoint" "${args[@]}" --llm-cache "$TMP/b.cache" \
            --out "$TMP/b" --plot "$TMP/b.svg"
        assert_success
        cmp "$TMP/a.svg" "$TMP/b.svg" || fail "the plots differ"
    fi
    cmp "$TMP/a/model.safetensors" "$TMP/b/model.safetensors" || fail "weights differ"
    # a different setting is refused
    run --separate-stderr taco-train rl --resume "$TMP/b.checkpoint" "${args[@]}" --lr 1e-3 --out "$TMP/c"
    [ "$status" -eq 2 ]
    [[ $stderr == *"lr 0.003, this one 0.001"* ]] || fail "$stderr"
}

#!/bin/sh
# bench/taco-llama.sh - taco-train rl once, end to end, against a real
# OpenAI-compatible server on loopback: llama.cpp's server from PyPI
# llama-cpp-python (python -m llama_cpp.server) serving a tiny llama model
# with seeded random weights that bench/taco_llama_model.py writes (2 blocks,
# hidden 64, 354 SentencePiece pieces; 0.5 MB).  Its answers are gibberish;
# the point is the protocol: chat requests with a system message, temperature
# 0, top_p 1, max_tokens and seed, answers read back, --make-references, the
# counts, and the answer cache (a second run with the same --llm-cache must
# make no call, and must train the same weights).
#
#   sh bench/taco-llama.sh                      # makes its own venv
#   VENV=/path/to/venv sh bench/taco-llama.sh   # reuses (or fills) one
#   PYTHON=/path/to/venv/bin/python sh bench/taco-llama.sh
#
# Needs: make all done (taco-train in $BUILD/bin), python3 with venv and
# pip, and a C/C++ compiler and cmake when llama-cpp-python is not yet in the
# venv: the script then pip-installs $LLAMA_CPP_PYTHON (default
# llama-cpp-python[server]==0.3.2), gguf and numpy into it, and pip compiles
# llama.cpp from source, CPU only (CMAKE_ARGS -DGGML_NATIVE=OFF, no BLAS,
# no GPU, no OpenMP): that takes 2 to 5 minutes on 2 cores, once.  The
# default venv is ${TMPDIR:-/tmp}/lmkit-taco-llama-venv, kept for the next
# run.  With the venv ready, the run itself takes a few seconds.
#
# Output, JSON Lines: one record per rl step of the first run, reduced to
# {"run":1,"step","epoch","reward_mean","kept_rate","comp_ratio_mean",
# "prompts","in_loss","llm_calls","llm_failures","llm_cache_hits","t_llm_s"};
# one record per step of the rerun (the same fields, "run":2); then
# {"bench":"taco-llama","server":"llama-cpp-python X.Y.Z","prompts",
# "max_tokens","steps",
# "llm_calls","llm_failures" (taco-train's totals, the --make-references
# calls included), "server_requests","server_ok" (POST
# /v1/chat/completions lines in the server's access log, and those
# answered 200), "reference_calls" (llm_calls less the steps' calls: one
# per prompt, as no record has a "gpt_output"), "cache_entries",
# "cache_rerun_calls","cache_rerun_failures","cache_rerun_server_requests",
# "same_weights" (the two runs' model.safetensors are identical),
# "sample_answer" (the cached answer of the smallest key, cut to 48
# characters),
# "install_s","run_s","rerun_s"}.  The script exits 1 when a call failed or
# was not answered 200, the rerun made a call, or the weights differ.
#
# Environment: BUILD (default build), PYTHON or VENV, LLAMA_CPP_PYTHON,
# PORT (default: a free one), PROMPTS (default 8), EPOCHS (default 2),
# BATCH (default 4), MAX_TOKENS (default 24; the model has 512 positions),
# KEEP=1 keeps the work folder (server log, cache, models) and names it on
# stderr.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LLAMA_CPP_PYTHON=${LLAMA_CPP_PYTHON:-llama-cpp-python[server]==0.3.2}
PROMPTS=${PROMPTS:-8}
EPOCHS=${EPOCHS:-2}
BATCH=${BATCH:-4}
MAX_TOKENS=${MAX_TOKENS:-24}
TT=$BUILD/bin/taco-train
TOKENIZER=testdata/models/tiny-xlmr/tokenizer.json
[ -x "$TT" ] || { echo "taco-llama.sh: $TT not found" >&2; echo "hint: run make all first" >&2; exit 2; }

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---- the Python side ----
t0=$(now)
if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
else
    VENV=${VENV:-${TMPDIR:-/tmp}/lmkit-taco-llama-venv}
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    PY=$VENV/bin/python
fi
if ! "$PY" -c 'import llama_cpp, llama_cpp.server.app, gguf, numpy' 2>/dev/null; then
    echo "taco-llama.sh: installing $LLAMA_CPP_PYTHON, gguf, numpy into $("$PY" -c 'import sys; print(sys.prefix)') (compiles llama.cpp: minutes)" >&2
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_OPENMP=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF}" \
        CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
        "$PY" -m pip install -q "$LLAMA_CPP_PYTHON" gguf numpy >&2
fi
t1=$(now)
server_version=$("$PY" -c 'import llama_cpp; print(llama_cpp.__version__)')

work=$(mktemp -d "${TMPDIR:-/tmp}/lmkit-taco-llama.XXXXXX")
spid='' tpid=''
cleanup() {
    for p in $tpid $spid; do
        kill "$p" 2>/dev/null || :
        wait "$p" 2>/dev/null || :
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "taco-llama.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

"$PY" bench/taco_llama_model.py "$work/tiny.gguf" 1

# ---- the server ----
PORT=${PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
"$PY" -m llama_cpp.server --model "$work/tiny.gguf" --model_alias tiny --host 127.0.0.1 --port "$PORT" \
    --n_ctx 512 --n_threads 1 --n_threads_batch 1 >"$work/server.log" 2>&1 &
spid=$!
if ! "$PY" - "$PORT" "$spid" <<'PY'
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
for _ in range(600):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/v1/models" % port, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    try:  # gone, or a zombie (the shell reaps it only later)
        if open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z":
            sys.exit(1)
    except FileNotFoundError:
        sys.exit(1)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
then
    echo "taco-llama.sh: the server did not answer on 127.0.0.1:$PORT; its log:" >&2
    tail -n 30 "$work/server.log" >&2
    exit 2
fi

# ---- the data: PROMPTS records of 30 words ----
"$PY" - "$PROMPTS" >"$work/p.jsonl" <<'PY'
import json, random, sys
rng = random.Random(3)
words = ("river stone cloud house garden market window summer winter bridge candle forest silver yellow "
         "orange purple doctor teacher farmer pilot").split() + "the of and to in a is".split()
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": i, "original_prompt": " ".join(rng.choice(words) for _ in range(30))}))
PY

"$TT" init --family xlm-roberta --layers 2 --hidden 32 --heads 4 --seed 1 --tokenizer "$TOKENIZER" \
    --out "$work/m" >/dev/null
rl() { # OUT_DIR; in the background, so that a signal's trap runs at once
    "$TT" rl --model "$work/m" --data "$work/p.jsonl" --out "$1" \
        --llm-url "http://127.0.0.1:$PORT" --llm-model tiny --llm-cache "$work/cache.jsonl" \
        --make-references --max-tokens "$MAX_TOKENS" --prompt-template 'Summarize: {transcript}' \
        --epochs "$EPOCHS" --batch-size "$BATCH" --lr 3e-3 --seed 1 --baseline mean --reward f1 \
        --threads 1 &
    tpid=$!
    rc=0
    wait "$tpid" || rc=$?
    tpid=''
    return "$rc"
}
requests() { grep -c '"POST /v1/chat/completions HTTP/1.1"' "$work/server.log" || :; }

t2=$(now)
rl "$work/t1" >"$work/run1.jsonl" 2>"$work/run1.err" || {
    echo "taco-llama.sh: taco-train rl failed:" >&2; cat "$work/run1.err" >&2
    echo "the server's log:" >&2; tail -n 30 "$work/server.log" >&2; exit 1
}
t3=$(now)
req1=$(requests)
ok1=$(grep -c '"POST /v1/chat/completions HTTP/1.1" 200' "$work/server.log" || :)
rl "$work/t2" >"$work/run2.jsonl" 2>"$work/run2.err" || {
    echo "taco-llama.sh: taco-train rl (rerun) failed:" >&2; cat "$work/run2.err" >&2; exit 1
}
t4=$(now)
req2=$(requests)
same=false
cmp -s "$work/t1/model.safetensors" "$work/t2/model.safetensors" && same=true

"$PY" - "$work" "$server_version" "$PROMPTS" "$MAX_TOKENS" "$req1" "$ok1" "$((req2 - req1))" "$same" \
    "$(secs "$t0" "$t1")" "$(secs "$t2" "$t3")" "$(secs "$t3" "$t4")" <<'PY'
import json, sys
work, version, prompts, max_tokens, req1, ok1, req2, same, install_s, run_s, rerun_s = sys.argv[1:]
keys = ("step", "epoch", "reward_mean", "kept_rate", "comp_ratio_mean", "prompts", "in_loss",
        "llm_calls", "llm_failures", "llm_cache_hits", "t_llm_s")
end = []
step_calls = 0
for run in (1, 2):
    for line in open("%s/run%d.jsonl" % (work, run)):
        r = json.loads(line)
        if "step" in r:
            step_calls += r["llm_calls"] if run == 1 else 0
            print(json.dumps(dict([("run", run)] + [(k, r[k]) for k in keys]), separators=(",", ":")))
        elif "steps" in r:
            end.append(r)
cache = [json.loads(l) for l in open(work + "/cache.jsonl")]
s = {
    "bench": "taco-llama",
    "server": "llama-cpp-python " + version,
    "prompts": int(prompts),
    "max_tokens": int(max_tokens),
    "steps": end[0]["steps"],
    "llm_calls": end[0]["llm_calls"],
    "llm_failures": end[0]["llm_failures"],
    "server_requests": int(req1),
    "server_ok": int(ok1),
    "reference_calls": end[0]["llm_calls"] - step_calls,
    "cache_entries": len(cache),
    "cache_rerun_calls": end[1]["llm_calls"],
    "cache_rerun_failures": end[1]["llm_failures"],
    "cache_rerun_server_requests": int(req2),
    "same_weights": same == "true",
    "sample_answer": min(cache, key=lambda c: c["key"])["output"][:48] if cache else None,
    "install_s": float(install_s),
    "run_s": float(run_s),
    "rerun_s": float(rerun_s),
}
print(json.dumps(s, separators=(",", ":")))
bad = (s["llm_failures"] or s["cache_rerun_calls"] or s["cache_rerun_server_requests"]
       or not s["same_weights"] or s["reference_calls"] != s["prompts"]
       or s["server_ok"] != s["server_requests"] or s["llm_calls"] != s["server_requests"])
sys.exit(1 if bad else 0)
PY

#!/usr/bin/env bash
# route-mmlu.sh - the route pipeline on RouteLLM's MMLU data (Mixtral-8x7B as
# the cheap model, GPT-4-1106 as the reference; 14,042 questions, one answer
# per model, score 1/0): import -> held-out split by --seed -> train a hashed
# n-gram router on the rest -> evaluate.  Prints the summary records of the
# trained router, the single-response router, random mixing and the oracle
# (APGR with a bootstrap CI, CPT(50%), CPT(80%), drop at 10/20/40/60 % cost
# reduction).  n = 1 only: the data hold one answer per model, so this is a
# test of the router and the metrics, not of best-of-n.
#
# Usage: bench/route-mmlu.sh [SEED]   (run from the repository root after make)
# Data: ROUTELLM_MMLU names the folder of RouteLLM's mmlu_responses
# (mmlu_*.csv and contaminated_prompts.jsonl from the routellm repository);
# it is not bundled, and without it the script stops saying so.  Prices are GPT-4-turbo and Mixtral list prices
# per 1M tokens; output tokens are a fixed 1 per answer (the CSVs hold only
# correctness), prompt tokens are estimated as characters / 4.
set -euo pipefail
seed=${1:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${BUILD:-$top/build}/bin
data=${ROUTELLM_MMLU:-}
if [ -z "$data" ] || [ ! -d "$data" ]; then
    echo "route-mmlu.sh: set ROUTELLM_MMLU to RouteLLM's mmlu_responses folder (mmlu_*.csv)${data:+; '$data' is not a folder}" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/prices.json" <<'P'
{"gpt-4-1106-preview": {"in_per_mtok": 10, "out_per_mtok": 30, "reference": true},
 "mistralai/Mixtral-8x7B-Instruct-v0.1": {"in_per_mtok": 0.6, "out_per_mtok": 0.6}}
P
"$bin/route" import routellm --exclude "$data/contaminated_prompts.jsonl" "$data"/mmlu_*.csv >"$tmp/mmlu.jsonl"
n=$(wc -l <"$tmp/mmlu.jsonl")
start=$(date +%s.%N)
"$bin/route" eval --prices "$tmp/prices.json" --n-max 1 --seed "$seed" --test-frac 0.2 \
    --bootstrap 200 --thresholds 20 --epochs 20 "$tmp/mmlu.jsonl" >"$tmp/eval.jsonl"
end=$(date +%s.%N)
printf '{"type":"bench","name":"route-mmlu","queries":%s,"seed":%s,"eval_seconds":%.2f}\n' \
    "$n" "$seed" "$(echo "$end - $start" | bc)"
grep '"type":"summary"' "$tmp/eval.jsonl"

#!/bin/sh
# bench/dp-estimate.sh - time per estimate: dp-estimate against the Python
# reference package privacy-estimates 0.1.0.post1, on the same 200 count
# vectors, one JSON line per method with the ratio.
#
#   PYTHON=/path/to/venv/bin/python sh bench/dp-estimate.sh
#
# PYTHON must have privacy-estimates==0.1.0.post1 (with scipy, statsmodels,
# numpy, pandas); without it only lmkit's figures are printed.  The reference
# needs minutes per joint-beta estimate, so each reference method runs until
# REF_BUDGET seconds (default 300) are spent and its time per estimate is the
# mean over the vectors it finished (reported as ref_n).
set -eu
cd "$(dirname "$0")/.."
BIN=${BUILD:-build}/bin
PYTHON=${PYTHON:-python3}
REF_BUDGET=${REF_BUDGET:-300}
DELTA=1e-5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 200 games: 100..2000 challenges of each kind, attacks from coin-flip to strong.
awk 'BEGIN {
    s = 12345
    for (i = 0; i < 200; i++) {
        s = (s * 1103515245 + 12345) % 2147483648; P = 100 + int(s / 2147483648 * 1900)
        s = (s * 1103515245 + 12345) % 2147483648; N = 100 + int(s / 2147483648 * 1900)
        s = (s * 1103515245 + 12345) % 2147483648; tpr = 0.5 + 0.5 * s / 2147483648
        s = (s * 1103515245 + 12345) % 2147483648; fpr = 0.5 * s / 2147483648 * (1 - (tpr - 0.5))
        tp = int(P * tpr); fp = int(N * fpr)
        printf "{\"tp\":%d,\"fp\":%d,\"tn\":%d,\"fn\":%d}\n", tp, fp, N - fp, P - tp
    }
}' >"$work/counts.jsonl"

now() { date +%s.%N; }
for m in bayes clopper-pearson jeffreys; do
    t0=$(now)
    "$BIN/dp-estimate" --delta $DELTA --method $m --threads 1 "$work/counts.jsonl" >"$work/out.$m"
    t1=$(now)
    lm=$(echo "$t1 $t0" | awk '{ printf "%.6g", ($1 - $2) / 200 }')
    case $m in bayes) ref=joint-beta ;; clopper-pearson) ref=beta ;; *) ref=jeffreys ;; esac
    refline=$("$PYTHON" - "$work/counts.jsonl" "$ref" "$REF_BUDGET" "$DELTA" <<'PY' 2>/dev/null || echo "unavailable"
import json, sys, time, warnings
warnings.simplefilter("ignore")
from privacy_estimates import AttackResults, compute_eps_lo_hi
path, method, budget, delta = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
done, spent = 0, 0.0
for line in open(path):
    r = json.loads(line)
    c = AttackResults(FN=r["fn"], FP=r["fp"], TN=r["tn"], TP=r["tp"])
    t = time.perf_counter()
    try:
        compute_eps_lo_hi(count=c, delta=delta, alpha=0.05, method=method)
    except ValueError:
        pass  # the package gives up above eps = 10; the time still counts
    spent += time.perf_counter() - t
    done += 1
    if spent > budget:
        break
print("%d %.6g" % (done, spent / done))
PY
)
    if [ "$refline" = unavailable ]; then
        printf '{"bench":"dp-estimate","method":"%s","vectors":200,"lmkit_s_per_estimate":%s,"reference":"unavailable (set PYTHON to a venv with privacy-estimates)"}\n' "$m" "$lm"
    else
        set -- $refline
        printf '{"bench":"dp-estimate","method":"%s","vectors":200,"lmkit_s_per_estimate":%s,"reference_method":"%s","ref_n":%s,"reference_s_per_estimate":%s,"speedup":%s}\n' \
            "$m" "$lm" "$ref" "$1" "$2" "$(echo "$2 $lm" | awk '{ printf "%.4g", $1 / $2 }')"
    fi
done

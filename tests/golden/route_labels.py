#!/usr/bin/env python3
"""route_labels.py - regenerate testdata/golden/route/labels.json by hand.

A plain-Python reimplementation (standard library only) of:
  * the label logic of best-route-llm's
    notebooks/data_preparation_hybridllm_mapping.ipynb: best-of-n winner by
    proxy within a drawn index set (and the by-value lookup quirk), summed
    output tokens of the n drawn samples, and
    _match_prob(small, ref, t) = mean_i mean_j [small_i >= ref_j - t];
  * BEST-Route Algorithm 1 (estimated cost, reference as fallback) and the
    evaluation-curve variant of results_interpretation.ipynb (realised cost,
    reference competing with score 1);
  * RouteLLM's AUC / APGR / CPT (routellm/evals/evaluate.py: np.trapz over
    the strong share, np.interp for the call-percentage thresholds).
Index sets are drawn here with Python's `random` and stored in the golden, so
the C test replays them exactly.  Run from the repository root:
    python3 tests/golden/route_labels.py
"""
import json
import random

MODELS = ["small-a", "ref", "small-b"]   # table order; the reference is in the middle
REF = 1
N_MAX = 3
N_BOOT = 4
S = 6
PRICES = {"small-a": (0.3, 0.6), "ref": (5.0, 15.0), "small-b": (1.0, 3.0)}
AVG_OUT = {"small-a": 300.0, "ref": 290.0, "small-b": 120.0}


def make_record():
    resp = {}
    for m in MODELS:
        samples = []
        for i in range(S):
            lo, hi = (-0.1, 0.3) if m == MODELS[REF] else (-0.2, 0.4)
            score = round(random.uniform(lo, hi), 3)
            proxy = round(score + random.choice([-0.05, 0.0, 0.05]), 2)
            samples.append({"score": score, "proxy": proxy,
                            "output_tokens": random.randint(50, 400)})
        resp[m] = samples
    # a constructed proxy tie so that the by-value quirk matters
    resp["small-a"][0]["proxy"] = 0.9
    resp["small-a"][4]["proxy"] = 0.9
    return {"id": "g", "prompt_tokens": 40, "responses": resp}


def draws_for(m):
    nm = 1 if m == MODELS[REF] else N_MAX
    out = []
    for n in range(1, nm + 1):
        for _ in range(N_BOOT):
            out += [random.randrange(S) for _ in range(n)]
    return out


def winner(samples, idx, bug):
    keys = [samples[i]["proxy"] for i in idx]
    best_pos = max(range(len(idx)), key=lambda p: (keys[p], -p))   # first max wins
    if bug:
        mx = keys[best_pos]
        for i, s in enumerate(samples):          # first of ALL samples with that value
            if s["proxy"] == mx:
                return i
    return idx[best_pos]


def match_prob(small, ref, t):
    return sum(sum(1 for r in ref if s >= r - t) / len(ref) for s in small) / len(small)


def labels(rec, draws, bug, t):
    res = rec["responses"]
    rd = draws[MODELS[REF]]
    ref_scores = [res[MODELS[REF]][rd[b]]["score"] for b in range(N_BOOT)]
    ref_tokens = [res[MODELS[REF]][rd[b]]["output_tokens"] for b in range(N_BOOT)]
    out = {"ref_score": ref_scores[0], "ref_tokens": ref_tokens[0],
           "match": [], "draw_score": [], "draw_tokens": []}
    for m in MODELS:
        if m == MODELS[REF]:
            continue
        d = draws[m]
        off = 0
        for n in range(1, N_MAX + 1):
            sc, tk = [], []
            for b in range(N_BOOT):
                idx = d[off:off + n]
                off += n
                w = winner(res[m], idx, bug)
                sc.append(res[m][w]["score"])
                tk.append(sum(res[m][i]["output_tokens"] for i in idx))
            out["match"].append(match_prob(sc, ref_scores, t))
            out["draw_score"].append(sc[0])
            out["draw_tokens"].append(tk[0])
    return out


def small_models():
    return [m for m in MODELS if m != MODELS[REF]]


def est_cost(m, n, pt):
    i, o = PRICES[m]
    return (pt * i + n * AVG_OUT[m] * o) * 1e-6


def alg1(p, pt, t, n_use=0):
    best, bc = -1, float("inf")
    for s, m in enumerate(small_models()):
        for n in range(1, N_MAX + 1):
            h = s * N_MAX + n - 1
            if n_use and n > n_use:
                continue
            if p[h] >= t and est_cost(m, n, pt) < bc:
                best, bc = h, est_cost(m, n, pt)
    return best


def curve_choice(score, cost, ref_cost, t):
    best, bc = -1, float("inf")
    for h in range(len(score)):
        if score[h] >= t and cost[h] < bc:
            best, bc = h, cost[h]
    if 1.0 >= t and ref_cost < bc:
        best = -1
    return best


def trapz(y, x):
    return sum((x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2 for i in range(1, len(x)))


def interp(x, xp, fp):
    if x <= xp[0]:
        return fp[0]
    if x >= xp[-1]:
        return fp[-1]
    for i in range(len(xp) - 1):
        if xp[i] <= x <= xp[i + 1]:
            if xp[i + 1] == xp[i]:
                return fp[i]
            return fp[i] + (fp[i + 1] - fp[i]) * (x - xp[i]) / (xp[i + 1] - xp[i])
    return fp[-1]


def main():
    seed = 20250630
    while True:   # first seed whose draws make the by-value quirk matter
        random.seed(seed)
        rec = make_record()
        draws = {m: draws_for(m) for m in MODELS}
        lab = {"t0": labels(rec, draws, False, 0.0),
               "t005": labels(rec, draws, False, 0.05),
               "bug_t0": labels(rec, draws, True, 0.0)}
        if lab["t0"]["match"] != lab["bug_t0"]["match"]:
            break
        seed += 1
    # decision rule cases on fixed probabilities
    H = len(small_models()) * N_MAX
    probs = [[round(random.random(), 2) for _ in range(H)] for _ in range(5)]
    probs.append([0.5] * H)                       # equal probabilities
    pts = [40, 400, 4000, 10, 40, 40]
    thr = [0.0, 0.3, 0.6, 0.9, 1.01]
    alg = [[alg1(p, pt, t) for t in thr] for p, pt in zip(probs, pts)]
    alg_n1 = [[alg1(p, pt, t, 1) for t in thr] for p, pt in zip(probs, pts)]
    # curve variant with realised costs from the labels' first draws
    res = rec["responses"]
    rcost = []
    for s, m in enumerate(small_models()):
        i, o = PRICES[m]
        for n in range(N_MAX):
            h = s * N_MAX + n
            rcost.append((40 * i + lab["t0"]["draw_tokens"][h] * o) * 1e-6)
    ri, ro = PRICES["ref"]
    ref_cost = (40 * ri + lab["t0"]["ref_tokens"] * ro) * 1e-6
    scores = [2 * p - 1 for p in lab["t0"]["match"]]
    lo = min(scores + [1.0])
    hi = max(scores + [1.0])
    cthr = [lo + (hi - lo) * k / 20 for k in range(21)]
    cchoice = [curve_choice(scores, rcost, ref_cost, t) for t in cthr]
    # RouteLLM metrics on a hand-made curve (strong share %, accuracy)
    share = [0.0, 10.0, 30.0, 55.0, 80.0, 100.0]
    acc = [60.0, 64.0, 70.0, 74.0, 77.0, 78.0]
    weak, strong = 60.0, 78.0
    x = [s / 100 for s in share]
    auc = trapz(acc, x)
    wa = trapz([weak] * len(x), x)
    sa = trapz([strong] * len(x), x)
    apgr = (auc - wa) / (sa - wa)
    cpt = {str(int(f * 100)): interp(f * (strong - weak) + weak, acc, share)
           for f in (0.2, 0.5, 0.8)}
    out = {
        "note": "generated by tests/golden/route_labels.py; plain Python reimplementation",
        "seed": seed,
        "models": MODELS, "reference": MODELS[REF], "n_max": N_MAX, "n_boot": N_BOOT,
        "prices": {m: {"in_per_mtok": PRICES[m][0], "out_per_mtok": PRICES[m][1],
                       "avg_out_tokens": AVG_OUT[m]} for m in MODELS},
        "record": rec, "draws": draws, "labels": lab,
        "decide": {"probs": probs, "prompt_tokens": pts, "thresholds": thr,
                   "alg1": alg, "alg1_n1": alg_n1},
        "curve": {"realised_cost": rcost, "ref_cost": ref_cost, "scores": scores,
                  "thresholds": cthr, "choice": cchoice},
        "metrics": {"share_pct": share, "accuracy": acc, "weak": weak, "strong": strong,
                    "auc": auc, "apgr": apgr, "cpt": cpt},
    }
    with open("testdata/golden/route/labels.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""dp_estimate.py - regenerate the golden files for lib/privacy/dpest.c.

Run by hand (never by `make check`), in a virtualenv with
    privacy-estimates==0.1.0.post1 scipy statsmodels numpy pandas mpmath
e.g.  python3 tests/golden/dp_estimate.py exact   # cases.jsonl (minutes)
      python3 tests/golden/dp_estimate.py ref     # reference.jsonl (slow)

Writes JSON Lines under testdata/golden/dp-estimate/:
  cases.jsonl      one line per case: counts, delta, alpha, sided, and the
                   joint-beta bounds computed here independently of the C code
                   (scipy.special.betainc = Boost, scipy.integrate.quad =
                   QUADPACK QAGS, brentq with xtol 1e-12), plus, where the
                   counts are up to DPEST_MPMATH_MAX (default 1000), an
                   mpmath re-check of each bound (sign of CDF - p at bound
                   +- 1e-7 with mp.dps = 20, mpmath.quad; above 1000, dps 30
                   and the incomplete beta by its continued fraction)
                   recorded as "mp_ok";
                   and Clopper-Pearson / Jeffreys bounds from statsmodels
                   proportion_confint with the package's alpha split.
  reference.jsonl  PyPI privacy-estimates 0.1.0.post1 results per case and
                   method (joint-beta, joint-dirichlet, beta, jeffreys), each
                   call under a timeout; "status" is ok, timeout or error
                   (the package raises ValueError when an upper quantile
                   exceeds eps = 10).  joint-dirichlet raises TypeError on
                   every input in this release (Dirichlet.__init__ adds the
                   prior array to the AttackResults object); the method
                   "joint-dirichlet-patched" runs the package's own Dirichlet
                   code with that one addition made possible (the counts
                   added in the dataclass's field order FN, FP, TN, TP, as
                   the code intends), to check what it computes.
Infinite values are written as the string "inf".
The reference is slow (minutes per joint-beta case): `ref` takes
DPEST_METHODS (default: the four methods; add joint-dirichlet-patched),
DPEST_CASES ("0-9,12"), DPEST_REF_TIMEOUT (joint-beta) / DPEST_DIR_TIMEOUT
(joint-dirichlet-patched, seconds per call) and DPEST_REF_OUT (another file, for a second process
running other cases at the same time; merge the files by (id, method)).
"""
import json
import math
import multiprocessing as mp_
import os
import sys

import numpy as np
from scipy import integrate, optimize, special

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "golden", "dp-estimate")

# (FN, FP, TN, TP, delta, alpha, sided)
CASES = [
    (0, 512, 1, 487, 1e-5, 0.1, "two"),      # package README example
    (0, 512, 1, 487, 1e-5, 0.05, "lower"),
    (0, 512, 1, 487, 1e-5, 0.1, "lower"),
    (0, 0, 1000, 1000, 1e-5, 0.05, "lower"),  # all correct
    (0, 0, 1000, 1000, 1e-5, 0.05, "two"),
    (0, 0, 1000, 1000, 0.0, 0.05, "upper"),
    (0, 0, 10, 10, 0.0, 0.05, "two"),
    (0, 0, 100, 100, 1e-5, 0.05, "two"),
    (0, 0, 100000, 100000, 1e-5, 0.05, "lower"),
    (500, 500, 500, 500, 0.0, 0.05, "two"),   # coin flip
    (500, 500, 500, 500, 1e-5, 0.05, "two"),
    (5, 5, 5, 5, 0.0, 0.05, "two"),
    (50, 50, 50, 50, 0.0, 0.1, "two"),
    (5000, 5000, 5000, 5000, 0.0, 0.05, "two"),
    (50000, 50000, 50000, 50000, 1e-5, 0.05, "two"),
    (250000, 250000, 250000, 250000, 0.0, 0.05, "lower"),
    (3, 5, 995, 997, 0.0, 0.05, "two"),
    (3, 5, 995, 997, 1e-5, 0.05, "two"),
    (3, 5, 995, 997, 1e-5, 0.05, "lower"),
    (3, 5, 995, 997, 1e-5, 0.05, "upper"),
    (10, 20, 80, 90, 0.0, 0.05, "two"),
    (10, 20, 80, 90, 1e-3, 0.05, "two"),
    (10, 20, 80, 90, 0.01, 0.1, "two"),
    (100, 300, 700, 900, 1e-5, 0.05, "two"),
    (100, 300, 700, 900, 1e-5, 0.05, "lower"),
    (200, 100, 900, 800, 0.0, 0.05, "two"),
    (1000, 2000, 8000, 9000, 1e-5, 0.05, "two"),
    (1, 0, 50, 49, 0.0, 0.05, "two"),
    (0, 1, 49, 50, 0.0, 0.05, "two"),
    (20, 1, 99, 80, 1e-5, 0.05, "two"),
    (1, 20, 80, 99, 1e-5, 0.05, "two"),
    (400, 100, 900, 600, 0.0, 0.05, "two"),
    (900, 100, 900, 100, 0.0, 0.05, "two"),   # inverted attack (reflection)
    (990, 995, 5, 10, 1e-5, 0.05, "two"),     # near-perfect inverted
    (100, 3000, 497000, 500000, 1e-5, 0.05, "two"),
    (100, 3000, 497000, 500000, 1e-5, 0.05, "lower"),
    (30, 30, 99970, 99970, 1e-5, 0.05, "two"),
    (40000, 45000, 55000, 60000, 1e-5, 0.05, "two"),
    (12, 7, 493, 488, 1e-5, 0.2, "two"),
    (12, 7, 493, 488, 1e-5, 0.01, "two"),
    (12, 7, 493, 488, 1e-5, 0.001, "two"),
    (2, 3, 17, 18, 0.0, 0.05, "lower"),
    (60, 40, 60, 40, 0.0, 0.05, "two"),
    (0, 250, 250, 500, 1e-5, 0.05, "two"),
    (7, 0, 1000, 993, 1e-6, 0.05, "two"),
    # more small and medium games, so that at least 40 cases get the mpmath check
    (1, 1, 1, 1, 0.0, 0.05, "two"),
    (0, 0, 1, 1, 1e-5, 0.05, "two"),
    (25, 75, 425, 475, 1e-5, 0.05, "upper"),
    (150, 150, 850, 850, 1e-4, 0.05, "two"),
    (300, 10, 990, 700, 1e-5, 0.1, "lower"),
    (0, 5, 995, 1000, 1e-5, 0.05, "two"),
    (8, 8, 8, 8, 0.05, 0.05, "two"),
    (45, 5, 95, 55, 0.0, 0.02, "two"),
]


def enc(v):
    return "inf" if v == math.inf else float(v)


def eps_point(fnr, fpr, delta):
    if fpr > 1 - fnr:
        fpr, fnr = 1 - fnr, 1 - fpr
    rlo, rhi = min(fpr, fnr), max(fpr, fnr)
    if rhi > 1 - delta - rlo:
        return 0.0
    if rlo == 0:
        return math.inf
    return math.log((1 - delta - rhi) / rlo)


# ---------------------------------------------------------------- baselines
def baseline(FN, FP, TN, TP, delta, alpha, method):
    from statsmodels.stats.proportion import proportion_confint
    N, P = FP + TN, FN + TP
    fpr_l, fpr_r = proportion_confint(FP, N, alpha / 2, method)
    fnr_l, fnr_r = proportion_confint(FN, P, alpha / 2, method)
    if method == "jeffreys":
        if FP == 0:
            fpr_l = 0.0
        if TN == 0:
            fpr_r = 1.0
        if FN == 0:
            fnr_l = 0.0
        if TP == 0:
            fnr_r = 1.0
    straddle = (fnr_r > 1 - fpr_r) != (fnr_l > 1 - fpr_l)
    er = eps_point(fnr_r, fpr_r, delta)
    el = eps_point(fnr_l, fpr_l, delta)
    return (0.0 if straddle else min(el, er)), max(el, er)


# ------------------------------------------------- joint-beta, float64 path
def region(x, e, d):
    lo = max(0.0, 1 - d - x * e, (1 - d - x) / e)
    hi = min(1.0, 1 + (d - x) / e, d + (1 - x) * e)
    return lo, hi


class Post:
    def __init__(self, FN, FP, TN, TP, delta):
        self.ax, self.bx, self.ay, self.by = FN + .5, TP + .5, FP + .5, TN + .5
        self.d = delta
        self.xL = special.betaincinv(self.ax, self.bx, 1e-16)
        self.xU = special.betainccinv(self.ax, self.bx, 1e-16)
        self.yq = [special.betaincinv(self.ay, self.by, p) for p in (1e-12, 1e-3, .5)] + \
                  [special.betainccinv(self.ay, self.by, q) for q in (1e-3, 1e-12)]

    def cdf(self, eps):
        d, e = self.d, math.exp(eps)
        ax, bx, ay, by = self.ax, self.bx, self.ay, self.by
        pts = [(1 - d) / (1 + e), (1 - d) / e, 1 - d, d, 1 - (1 - d) / (1 + e), 1 - (1 - d) / e]
        for y in self.yq:
            pts += [(1 - d - y) / e, 1 - d - y * e, d + (1 - y) * e, 1 - (y - d) / e]
        xm = special.betaincinv(ax, bx, .5)
        pts.append(xm)

        def g(x):
            lo, hi = region(x, e, d)
            if hi <= lo:
                return 0.0
            return math.exp(special.xlogy(ax - 1, x) + special.xlog1py(bx - 1, -x) - special.betaln(ax, bx)) * \
                (special.betainc(ay, by, hi) - special.betainc(ay, by, lo))
        tot = 0.0
        # left of the median in t = sqrt(x) (removes x^(-1/2)), right in x
        a, b = (0.0 if ax < 1 else self.xL), xm
        inner = sorted(p for p in pts if a < p < b)
        if ax < 1:
            tp = [math.sqrt(p) for p in [a] + inner + [b]]
            for u, v in zip(tp[:-1], tp[1:]):
                tot += integrate.quad(lambda t: 2 * t * g(t * t), u, v, epsabs=1e-13, epsrel=1e-12, limit=400)[0]
        else:
            xp = [a] + inner + [b]
            for u, v in zip(xp[:-1], xp[1:]):
                tot += integrate.quad(g, u, v, epsabs=1e-13, epsrel=1e-12, limit=400)[0]
        a, b = xm, (1.0 if bx < 1 else self.xU)
        inner = sorted(p for p in pts if a < p < b)
        if bx < 1:
            tp = sorted(math.sqrt(1 - p) for p in [a] + inner + [b])
            for u, v in zip(tp[:-1], tp[1:]):
                tot += integrate.quad(lambda t: 2 * t * g(1 - t * t), u, v, epsabs=1e-13, epsrel=1e-12, limit=400)[0]
        else:
            xp = [a] + inner + [b]
            for u, v in zip(xp[:-1], xp[1:]):
                tot += integrate.quad(g, u, v, epsabs=1e-13, epsrel=1e-12, limit=400)[0]
        return tot

    def quantile(self, p):
        f = lambda eps: self.cdf(eps) - p
        if f(0.0) >= 0:
            return 0.0
        a, b = 0.0, 1.0
        while f(b) < 0:
            a, b = b, 2 * b
            if b > 200:
                return math.inf
        return optimize.brentq(f, a, b, xtol=1e-12, rtol=1e-14)


# ------------------------------------------------ mpmath re-check (small n)
def mp_betainc(a, b, x):
    """I_x(a, b) at mpmath precision by the continued fraction (modified
    Lentz), for large a, b where mpmath.betainc's series is slow."""
    import mpmath as mm
    if x <= 0:
        return mm.mpf(0)
    if x >= 1:
        return mm.mpf(1)
    if x > (a + 1) / (a + b + 2):
        return 1 - mp_betainc(b, a, 1 - x)
    tiny, eps = mm.mpf(10) ** (-(mm.mp.dps * 3)), mm.mpf(10) ** (-(mm.mp.dps + 2))
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = mm.mpf(1), 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < eps:
            break
    lf = mm.loggamma(a + b) - mm.loggamma(a) - mm.loggamma(b) + a * mm.log(x) + b * mm.log(1 - x)
    return mm.exp(lf) * h / a


def mp_cdf(FN, FP, TN, TP, delta, eps):
    import mpmath as mm
    mm.mp.dps = 20 if max(FN, FP, TN, TP) <= 1000 else 30
    ax, bx, ay, by = [mm.mpf(v) + mm.mpf(1) / 2 for v in (FN, TP, FP, TN)]
    d, e = mm.mpf(delta), mm.exp(mm.mpf(eps))
    lB = mm.log(mm.beta(ax, bx))

    def g(x):
        lo = max(mm.mpf(0), 1 - d - x * e, (1 - d - x) / e)
        hi = min(mm.mpf(1), 1 + (d - x) / e, d + (1 - x) * e)
        if hi <= lo:
            return mm.mpf(0)
        if max(ay, by) <= 1001:
            fy = mm.betainc(ay, by, lo, hi, regularized=True)
        else:
            fy = mp_betainc(ay, by, hi) - mp_betainc(ay, by, lo)
        return mm.exp((ax - 1) * mm.log(x) + (bx - 1) * mm.log(1 - x) - lB) * fy
    pts = [(1 - d) / (1 + e), (1 - d) / e, 1 - d, d, 1 - (1 - d) / (1 + e), 1 - (1 - d) / e]
    # large counts: the x posterior is narrow; split around it so that the
    # quadrature sees the peak (mean +- k sd, k up to 40)
    mu = ax / (ax + bx)
    sd = mm.sqrt(ax * bx / ((ax + bx) ** 2 * (ax + bx + 1)))
    if sd < mm.mpf("0.02"):
        pts += [mu + k * sd for k in (-40, -20, -10, -6, -4, -2, -1, 0, 1, 2, 4, 6, 10, 20, 40)]
    pts = sorted(set([mm.mpf(0)] + [p for p in pts if 0 < p < 1] + [mm.mpf(1)]))
    # t = sqrt(x) / sqrt(1 - x) substitution on the end panels via tanh-sinh,
    # which tolerates the endpoint singularities
    return mm.quad(g, pts)


def mp_check(case, lo, hi, p_lo, p_hi):
    FN, FP, TN, TP, delta = case[:5]
    out = True
    for b, p in ((lo, p_lo), (hi, p_hi)):
        if b is None or b == math.inf or b == 0.0:
            continue
        c1 = mp_cdf(FN, FP, TN, TP, delta, b - 1e-7)
        c2 = mp_cdf(FN, FP, TN, TP, delta, b + 1e-7)
        out = out and (c1 < p < c2)
    return out


def exact_case(i):
    FN, FP, TN, TP, delta, alpha, sided = CASES[i]
    P = Post(FN, FP, TN, TP, delta)
    p_lo = alpha / 2 if sided == "two" else alpha
    lo = P.quantile(p_lo) if sided != "upper" else 0.0
    hi = P.quantile(1 - p_lo) if sided != "lower" else math.inf
    rec = {"id": i, "FN": FN, "FP": FP, "TN": TN, "TP": TP, "delta": delta, "alpha": alpha,
           "sided": sided, "eps_point": enc(eps_point(FN / (FN + TP), FP / (FP + TN), delta)),
           "bayes_lo": enc(lo), "bayes_hi": enc(hi), "cdf0": P.cdf(0.0)}
    for m, name in (("beta", "cp"), ("jeffreys", "jeffreys")):
        a2 = alpha if sided == "two" else 2 * alpha
        l, h = baseline(FN, FP, TN, TP, delta, a2, m)
        rec[name + "_lo"] = enc(l if sided != "upper" else 0.0)
        rec[name + "_hi"] = enc(h if sided != "lower" else math.inf)
    if max(FN, FP, TN, TP) <= int(os.environ.get("DPEST_MPMATH_MAX", "1000")) and \
            os.environ.get("DPEST_MPMATH", "1") == "1":
        try:
            rec["mp_ok"] = bool(mp_check(CASES[i], lo if sided != "upper" else None,
                                         hi if sided != "lower" else None, p_lo, 1 - p_lo))
        except Exception as ex:  # record, do not hide
            rec["mp_ok"] = "error: %s" % ex
    return rec


# ------------------------------------------------------------- reference
METHODS = ["beta", "jeffreys", "joint-beta", "joint-dirichlet", "joint-dirichlet-patched"]


def ref_call(q, method, i, what):
    import warnings
    warnings.simplefilter("ignore")
    from privacy_estimates import AttackResults, compute_eps_lo, compute_eps_hi, compute_eps_lo_hi
    if method == "joint-dirichlet-patched":
        # `alpha_prior + count` in Dirichlet.__init__: let numpy defer to
        # AttackResults, which adds its counts in field order
        AttackResults.__array_ufunc__ = None
        AttackResults.__radd__ = lambda self, other: other + np.array(
            [self.FN, self.FP, self.TN, self.TP], dtype=float)
        method = "joint-dirichlet"
    FN, FP, TN, TP, delta, alpha, sided = CASES[i]
    c = AttackResults(FN=FN, FP=FP, TN=TN, TP=TP)
    try:
        if sided == "two":
            v = compute_eps_lo_hi(count=c, delta=delta, alpha=alpha, method=method)
        elif sided == "lower":
            v = (compute_eps_lo(count=c, delta=delta, alpha=alpha, method=method), math.inf)
        else:
            v = (0.0, compute_eps_hi(count=c, delta=delta, alpha=alpha, method=method))
        q.put(("ok", [float(v[0]), float(v[1])]))
    except Exception as ex:
        q.put(("error", "%s: %s" % (type(ex).__name__, ex)))


def ref_case(i, method, timeout):
    import time
    q = mp_.Queue()
    pr = mp_.Process(target=ref_call, args=(q, method, i, None))
    t0 = time.time()
    pr.start()
    pr.join(timeout)
    if pr.is_alive():
        pr.terminate()
        pr.join()
        return {"id": i, "method": method, "status": "timeout", "timeout_s": timeout}
    st, v = q.get() if not q.empty() else ("error", "no result")
    rec = {"id": i, "method": method, "status": st, "seconds": round(time.time() - t0, 2)}
    if st == "ok":
        rec["lo"], rec["hi"] = enc(v[0]), enc(v[1])
    else:
        rec["message"] = v
    return rec


def main():
    os.makedirs(OUT, exist_ok=True)
    part = sys.argv[1] if len(sys.argv) > 1 else "exact"
    if part == "exact":
        with open(os.path.join(OUT, "cases.jsonl"), "w") as f:
            for i in range(len(CASES)):
                rec = exact_case(i)
                f.write(json.dumps(rec) + "\n")
                f.flush()
                print(rec, file=sys.stderr)
    elif part == "ref":
        # DPEST_METHODS (comma list) and DPEST_CASES ("0-9,12") choose what to
        # (re)run; results for other (case, method) pairs already in
        # reference.jsonl are kept, so a long run can be done in pieces.
        tj = float(os.environ.get("DPEST_REF_TIMEOUT", "90"))
        td = float(os.environ.get("DPEST_DIR_TIMEOUT", "60"))
        methods = os.environ.get("DPEST_METHODS", "beta,jeffreys,joint-beta,joint-dirichlet").split(",")
        sel = set()
        for part_ in os.environ.get("DPEST_CASES", "0-%d" % (len(CASES) - 1)).split(","):
            a, _, b = part_.partition("-")
            sel.update(range(int(a), int(b or a) + 1))
        path = os.environ.get("DPEST_REF_OUT", os.path.join(OUT, "reference.jsonl"))
        have = {}
        if os.path.exists(path):
            for line in open(path):
                r = json.loads(line)
                have[(r["id"], r["method"])] = r

        def save():
            with open(path + ".tmp", "w") as f:
                for key in sorted(have, key=lambda k: (METHODS.index(k[1]), k[0])):
                    f.write(json.dumps(have[key]) + "\n")
            os.replace(path + ".tmp", path)
        for method in methods:
            t = {"joint-beta": tj, "joint-dirichlet-patched": td}.get(method, 60)
            for i in sorted(sel):
                if i >= len(CASES):
                    continue
                rec = ref_case(i, method, t)
                have[(i, method)] = rec
                save()
                print(rec, file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""lingua-golden-check.py CL100K [ARG...] - runs lingua-compress (from PATH)
over the committed llmlingua 0.2.2 golden cases of the tiny models
(testdata/golden/lingua/*.jsonl, written by tests/golden/lingua_golden.py)
and compares strings, counts and labels.  Cases with the same options run as
the records of one process (rate and target_token as record fields), so
their chunks share forward passes.  ARGs are added to every command line
(e.g. --device cuda for make gpu-check).  Prints "N of M identical, in K
runs" and a FAIL line per difference; exits 1 when any case differs.
"""
import json, os, subprocess, sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cl, extra = sys.argv[1], sys.argv[2:]
def esc(s):
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("\n", "\\n").replace("\t", "\\t")
bad = n = 0
groups = {}
for model in ("tiny-bert", "tiny-xlmr", "tiny-xlmr-marian"):
    for line in open(f"{top}/testdata/golden/lingua/{model}.jsonl"):
        c = json.loads(line); kw = c["kw"]
        a = ["lingua-compress", "-q", "--model", f"{top}/testdata/models/{model}", "--count-encoding", cl] + extra
        for k, o in (("target_context", "--target-context"),
                     ("context_level_rate", "--context-rate"), ("context_level_target_token", "--context-target-token"),
                     ("token_to_word", "--token-to-word"), ("word_sep", "--word-sep"), ("label_sep", "--label-sep")):
            if k in kw: a += [o, str(kw[k])]
        for k, o in (("force_tokens", "--force-tokens"), ("chunk_end_tokens", "--chunk-end-tokens")):
            if k in kw: a += [o, ",".join(esc(s) for s in kw[k])]
        if "force_context_ids" in kw: a += ["--force-context-ids", ",".join(map(str, kw["force_context_ids"]))]
        for k, o in (("force_reserve_digit", "--force-reserve-digit"), ("drop_consecutive", "--drop-consecutive"),
                     ("use_context_level_filter", "--context-filter"), ("return_word_label", "--word-labels")):
            if kw.get(k): a.append(o)
        if kw.get("use_token_level_filter") is False: a.append("--no-token-filter")
        rec = {"context": c["context"]}
        for k in ("rate", "target_token"):
            if k in kw: rec[k] = kw[k]
        groups.setdefault(tuple(a), []).append((model, c, rec))
for a, cases in groups.items():
    out = subprocess.run(list(a), input="".join(json.dumps(r) + "\n" for _, _, r in cases), capture_output=True, text=True)
    lines = out.stdout.splitlines()
    for i, (model, c, _) in enumerate(cases):
        n += 1
        try:
            got = json.loads(lines[i])
        except (ValueError, IndexError):
            print("FAIL", model, c["case"], out.stderr); bad += 1; continue
        # ratio and rate are numbers; the reference's strings print them
        if isinstance(got.get("ratio"), (int, float)):
            got["ratio"] = format(got["ratio"], ".1f") + "x"
        if isinstance(got.get("rate"), (int, float)):
            got["rate"] = format(got["rate"] * 100, ".1f") + "%"
        for k, v in c["expect"].items():
            if got.get(k) != v:
                print("FAIL", model, c["case"], k, repr(got.get(k)), "!=", repr(v)); bad += 1; break
print(f"{n - bad} of {n} identical, in {len(groups)} runs")
sys.exit(1 if bad or n < 80 else 0)

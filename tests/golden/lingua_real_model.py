#!/usr/bin/env python3
"""lingua_real_model.py - the six end-to-end golden cases of llmlingua's own
LLMLingua-2 test (microsoft/LLMLingua, tests/test_llmlingua2.py) run through
lingua-compress with the released
microsoft/llmlingua-2-xlm-roberta-large-meetingbank model.

The inputs, the options of each call and the expected compressed_prompt,
origin_tokens, compressed_tokens, ratio and rate (the reference's strings,
which lingua-compress's numbers print as) are data in
testdata/golden/lingua/real-model.jsonl (strings of the upstream test file,
tests/test_llmlingua2.py at 309392a and later).  The upstream calls go
through compress_prompt, which turns the context filter on by default; every
multi-context case sets it explicitly, so --context-filter is given there.

Needs the 2.24 GB model folder: set LMKIT_REAL_MODEL to it.  Without it the
script prints "skipped: set LMKIT_REAL_MODEL ..." and exits 0.  Counts use
cl100k_base from LMKIT_TIKTOKEN, else $BUILD/share/lmkit (where make puts
it; BUILD default "build").  It does not download anything; python3 with the standard
library only.  Exit 0 when all six match, 1 when any differs, 2 on setup
trouble.

  LMKIT_REAL_MODEL=/models/llmlingua-2-xlm-roberta-large-meetingbank \\
      python3 tests/golden/lingua_real_model.py
"""
import json
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(TOP, "testdata", "golden", "lingua", "real-model.jsonl")


def main():
    model = os.environ.get("LMKIT_REAL_MODEL", "")
    if not model:
        print("skipped: set LMKIT_REAL_MODEL to the microsoft/llmlingua-2-xlm-roberta-large-meetingbank folder")
        return 0
    if not os.path.isfile(os.path.join(model, "model.safetensors")):
        print(f"lingua_real_model.py: no model.safetensors in '{model}' (LMKIT_REAL_MODEL)", file=sys.stderr)
        return 2
    cl = os.environ.get("LMKIT_TIKTOKEN") or os.path.join(TOP, os.environ.get("BUILD") or "build", "share",
                                                          "lmkit", "cl100k_base.tiktoken")
    if not os.path.isfile(cl):
        print(f"lingua_real_model.py: no cl100k_base file '{cl}' (set LMKIT_TIKTOKEN)", file=sys.stderr)
        return 2
    bindir = os.path.join(TOP, os.environ.get("BUILD", "build"), "bin")
    exe = os.path.join(bindir, "lingua-compress")
    if not os.access(exe, os.X_OK):
        exe = shutil.which("lingua-compress")
    if not exe:
        print("lingua_real_model.py: lingua-compress not built (run make)", file=sys.stderr)
        return 2
    bad = n = 0
    for line in open(CASES, encoding="utf-8"):
        c = json.loads(line)
        n += 1
        cmd = [exe, "-q", "--model", model, "--count-encoding", cl] + c["args"]
        out = subprocess.run(cmd, input=json.dumps(c["input"], ensure_ascii=False) + "\n",
                             capture_output=True, text=True, encoding="utf-8")
        try:
            got = json.loads(out.stdout)
        except ValueError:
            print(f"FAIL case {c['case']}: exit {out.returncode}: {out.stderr.strip()}")
            bad += 1
            continue
        # ratio and rate are numbers; the reference's strings print them
        if isinstance(got.get("ratio"), (int, float)):
            got["ratio"] = format(got["ratio"], ".1f") + "x"
        if isinstance(got.get("rate"), (int, float)):
            got["rate"] = format(got["rate"] * 100, ".1f") + "%"
        diff = [k for k, v in c["expect"].items() if got.get(k) != v]
        if diff:
            bad += 1
            print(f"FAIL case {c['case']}:")
            for k in diff:
                print(f"  {k}: got {got.get(k)!r}\n  {' ' * len(k)}  want {c['expect'][k]!r}")
        else:
            print(f"ok case {c['case']}")
    print(f"{n - bad} of {n} identical")
    return 1 if bad or n != 6 else 0


if __name__ == "__main__":
    sys.exit(main())

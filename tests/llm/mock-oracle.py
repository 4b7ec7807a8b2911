#!/usr/bin/env python3
"""mock-oracle.py - a deterministic stand-in for the target LLM of
taco-train rl, speaking the co-process protocol of lib/llm/client.h
(the --llm-cmd protocol of lib/llm): one JSON line per request on stdin,
{"id","system","prompt","max_tokens","temperature","top_p","seed"}; one
line per answer on stdout, {"id","output"} or {"id","error"}.

The answer is the first K words of the prompt once the stop words below are
dropped (words split on white space, compared lower-cased without the
punctuation around them), joined by single spaces.

Options that make it misbehave on purpose, for tests:
  -k K               words kept (default 8)
  --repeat R         the answer repeated R times (a large answer)
  --reverse G        answer in groups of G, last request first (a group is
                     also closed when no request came for 50 ms)
  --error-word W     answer {"id","error"} when the prompt holds W
  --late-word W      answer a prompt holding W only after --late-delay s
  --late-delay S     (default 1.0)
  --die-after N      exit with --die-status once the N-th request is read,
                     without answering it
  --die-status S     (default 3)
"""
import argparse
import json
import select
import sys
import time

STOP = {"a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "and", "or", "but",
        "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "as", "from"}


def answer(prompt, k, repeat):
    words = [w for w in prompt.split() if w.strip(".,;:!?\"'()[]").lower() not in STOP]
    text = " ".join(words[:k])
    return " ".join([text] * repeat) if repeat > 1 else text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--reverse", type=int, default=1)
    ap.add_argument("--error-word")
    ap.add_argument("--late-word")
    ap.add_argument("--late-delay", type=float, default=1.0)
    ap.add_argument("--die-after", type=int, default=0)
    ap.add_argument("--die-status", type=int, default=3)
    a = ap.parse_args()
    out = sys.stdout
    group, late, seen = [], [], 0
    stdin = sys.stdin.buffer

    def reply(req):
        p = req.get("prompt") or ""
        if a.error_word and a.error_word in p:
            msg = {"id": req["id"], "error": "refused: the prompt holds " + a.error_word}
        else:
            msg = {"id": req["id"], "output": answer(p, a.k, a.repeat)}
        out.write(json.dumps(msg) + "\n")

    def flush_group():
        for req in reversed(group):
            reply(req)
        group.clear()
        out.flush()

    buf = b""
    while True:
        wait = 0.05 if group else None
        if late:
            d = max(0.0, min(t for t, _ in late) - time.monotonic())
            wait = d if wait is None else min(wait, d)
        r, _, _ = select.select([stdin], [], [], wait)
        now = time.monotonic()
        for item in [x for x in late if x[0] <= now]:
            late.remove(item)
            reply(item[1])
            out.flush()
        if not r:
            if group:
                flush_group()
            continue
        chunk = stdin.raw.read(65536) if hasattr(stdin, "raw") else stdin.read1(65536)
        if not chunk:
            flush_group()  # late answers are dropped: nobody waits for them
            return 0
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            req = json.loads(line)
            seen += 1
            if a.die_after and seen >= a.die_after:
                out.flush()
                sys.exit(a.die_status)
            if a.late_word and a.late_word in (req.get("prompt") or ""):
                late.append((time.monotonic() + a.late_delay, req))
                continue
            group.append(req)
            if len(group) >= a.reverse:
                flush_group()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)

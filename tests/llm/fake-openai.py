#!/usr/bin/env python3
"""fake-openai.py - a loopback OpenAI-compatible chat-completions server for
the tests of lib/llm (tests/unit/test_llm_http.c).  Python 3 stdlib only;
it listens on 127.0.0.1 on a free port, prints that port on its first
stdout line, and serves until killed.

POST .../chat/completions answers by the scenario named in the user message
("scenario=NAME"); attempts are counted per user message, so the same
message can fail first and succeed next:
  ok          200, content "answer: " + the message
  slow        the same after 0.3 s (to see requests in flight together)
  429         429 with Retry-After: 1, then ok
  429long     429 with Retry-After: 100 (more than a client allows)
  503date     503 with Retry-After as an HTTP date 1 s ahead, then ok
  500once     500 with an OpenAI error body, then ok
  500always   500 every time
  stall       nothing for 5 s, every time (longer than the client timeout)
  stallonce   nothing for 5 s the first time, then ok
  badjson     200 with a truncated JSON body
  nul         200 whose content holds a U+0000 character
  filter      200 with finish_reason "content_filter" and no content
  filtererr   400 with an error whose code is "content_filter"
  401         401 quoting the Authorization header it got, as some servers do
  echo        200, content = JSON of the path, Authorization header and body
  stats       200, content = JSON of the most requests in flight together
              (stalled ones, which the client abandons, not counted),
              the number of requests so far, and the seconds between the
              first two attempts of each scenario
"""
import email.utils
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
attempts = {}  # user message -> attempts so far
times = {}  # scenario -> attempt times
state = {"inflight": 0, "max": 0, "requests": 0}


def completion(content, finish="stop"):
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, obj=None, raw=None, headers=()):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        with lock:
            state["inflight"] += 1
            state["max"] = max(state["max"], state["inflight"])
            state["requests"] += 1
        try:
            self.handle_post()
        finally:
            with lock:
                state["inflight"] -= 1

    def handle_post(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.path.endswith("/chat/completions"):
            self.send(404, {"error": {"message": "no route " + self.path, "code": None}})
            return
        req = json.loads(body)
        user = [m["content"] for m in req["messages"] if m["role"] == "user"][0]
        m = re.search(r"scenario=(\w+)", user)
        sc = m.group(1) if m else "ok"
        with lock:
            n = attempts[user] = attempts.get(user, 0) + 1
            times.setdefault(sc, []).append(time.monotonic())
        ok = completion("answer: " + user)
        if sc == "ok":
            self.send(200, ok)
        elif sc == "slow":
            time.sleep(0.3)
            self.send(200, ok)
        elif sc == "429":
            if n == 1:
                self.send(429, {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
                          headers=[("Retry-After", "1")])
            else:
                self.send(200, ok)
        elif sc == "429long":
            self.send(429, {"error": {"message": "Rate limit reached"}}, headers=[("Retry-After", "100")])
        elif sc == "503date":
            if n == 1:
                when = email.utils.formatdate(time.time() + 1, usegmt=True)
                self.send(503, raw=b"overloaded", headers=[("Retry-After", when)])
            else:
                self.send(200, ok)
        elif sc == "500once":
            if n == 1:
                self.send(500, {"error": {"message": "The server had an error", "type": "server_error"}})
            else:
                self.send(200, ok)
        elif sc == "500always":
            self.send(500, {"error": {"message": "The server had an error", "type": "server_error"}})
        elif sc in ("stall", "stallonce"):
            if sc == "stall" or n == 1:
                # the client gives up long before: not counted as in flight
                with lock:
                    state["inflight"] -= 1
                time.sleep(5)
                with lock:
                    state["inflight"] += 1
                self.close_connection = True
                return
            self.send(200, ok)
        elif sc == "badjson":
            self.send(200, raw=b'{"choices": [{"message": {"content": "cut')
        elif sc == "nul":
            self.send(200, completion("a\u0000b", "stop"))
        elif sc == "filter":
            self.send(200, completion(None, "content_filter"))
        elif sc == "filtererr":
            self.send(400, {"error": {"message": "The response was filtered", "code": "content_filter"}})
        elif sc == "401":
            got = self.headers.get("Authorization", "")
            self.send(401, {"error": {"message": "Incorrect API key provided: " + got.replace("Bearer ", ""),
                                      "code": "invalid_api_key"}})
        elif sc == "echo":
            self.send(200, completion(json.dumps({"path": self.path,
                                                  "auth": self.headers.get("Authorization"),
                                                  "body": body.decode()})))
        elif sc == "stats":
            with lock:
                gaps = {k: v[1] - v[0] for k, v in times.items() if len(v) > 1}
                s = {"max_inflight": state["max"], "requests": state["requests"] - 1, "gaps": gaps}
            self.send(200, completion(json.dumps(s)))
        else:
            self.send(400, {"error": {"message": "unknown scenario " + sc}})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

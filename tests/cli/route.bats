#!/usr/bin/env bats
# route.bats - the route command: every subcommand, the decision rule and the
# labels on hand-worked records, bad input with positions, usage errors, and
# BEST-Route against the single-response router on synthetic data.

load helpers

setup() {
    TMP="$(mktemp -d)"
    D="$TOP/testdata/route"
    P="$D/prices.json"
}
teardown() {
    rm -rf "$TMP"
}

# the "route" object of each output line
routes() { grep -o '"route":{[^}]*}'; }

@test "route with no command, an unknown command or --help" {
    run --separate-stderr route
    [ "$status" -eq 2 ]
    [[ $stderr == *"a command is required"* ]] || fail "$stderr"
    [[ $stderr == *"Try 'route --help'"* ]] || fail "$stderr"
    run --separate-stderr route frobnicate
    [ "$status" -eq 2 ]
    [[ $stderr == *"unknown command 'frobnicate'"* ]] || fail "$stderr"
    run --separate-stderr route --help
    assert_success
    help=$output
    for c in import labels train apply select eval synth; do
        [[ $help == *"  $c "* ]] || fail "help lacks $c"
        run --separate-stderr route "$c" --help
        assert_success
        [[ ${lines[0]} == "Usage: route $c "* ]] || fail "$c: ${lines[0]}"
    done
    run --separate-stderr route apply --no-such-option
    [ "$status" -eq 2 ]
    [[ $stderr == *"Try 'route apply --help'"* ]] || fail "$stderr"
}

@test "apply: Algorithm 1 on bring-your-own match probabilities (hand-worked)" {
    # q1: kept llama:2 (0.7), mistral:1 (0.6), mistral:2 (0.8); costs (per 1M):
    #   mistral:1 = 40*0.25 + 296.2619125*0.25 = 84.0654...  (cheapest)
    # q2: nothing >= 0.5 -> the reference; q3: llama:1 184.4, mistral:2 150.1 -> mistral:2
    run --separate-stderr route apply --prices "$P" --n-max 2 "$D/queries.jsonl"
    assert_success
    r=$(routes <<<"$output")
    [ "$(sed -n 1p <<<"$r")" = '"route":{"model":"mistral-7b","n":1,"p_match":0.6,"est_cost":8.406547812499999e-5,"cost_mode":"estimated"}' ] || fail "$r"
    [[ $(sed -n 2p <<<"$r") == '"route":{"model":"gpt-4o","n":1,"p_match":null,'* ]] || fail "$r"
    [[ $(sed -n 3p <<<"$r") == '"route":{"model":"mistral-7b","n":2,"p_match":0.95,'* ]] || fail "$r"
    # a higher threshold uses the reference more; threshold 0 takes the cheapest known pair
    run route apply --prices "$P" --n-max 2 --threshold 0.99 "$D/queries.jsonl"
    [ "$(routes <<<"$output" | grep -c gpt-4o)" -eq 3 ] || fail "$output"
    run route apply --prices "$P" --n-max 2 --threshold 0 "$D/queries.jsonl"
    [ "$(routes <<<"$output" | grep -c '"model":"mistral-7b","n":1')" -eq 2 ] || fail "$output"
    [[ $(routes <<<"$output" | sed -n 3p) == *'"model":"mistral-7b","n":2'* ]] || fail "q3 has no mistral:1"
}

@test "apply: a cost tie goes to the earlier candidate; realised cost can change the choice" {
    cat >"$TMP/p.json" <<'J'
{"ref": {"in": 1, "out": 1, "reference": true, "avg_out_tokens": 100},
 "a": {"in": 1, "out": 1, "avg_out_tokens": 10}, "b": {"in": 1, "out": 1, "avg_out_tokens": 10}}
J
    run route apply --prices "$TMP/p.json" --n-max 1 <<<'{"prompt_tokens":5,"match_prob":{"a:1":0.9,"b:1":0.9}}'
    [[ $output == *'"route":{"model":"a","n":1'* ]] || fail "tie: $output"
    rec='{"prompt_tokens":5,"match_prob":{"a:1":0.9,"b:1":0.9},"responses":{"ref":[{"score":1,"output_tokens":100}],"a":[{"score":1,"output_tokens":50}],"b":[{"score":1,"output_tokens":20}]}}'
    run route apply --prices "$TMP/p.json" --n-max 1 --cost realised <<<"$rec"
    assert_success
    [[ $output == *'"route":{"model":"b","n":1,"p_match":0.9,"est_cost":1.4'*',"realised_cost":2.4'*',"cost_mode":"realised"}}' ]] || fail "$output"
    run route apply --prices "$TMP/p.json" --n-max 1 <<<"$rec"
    [[ $output == *'"route":{"model":"a","n":1'* ]] || fail "estimated: $output"
}

@test "labels: hand-worked soft labels, the relaxation and the oracle selector" {
    cat >"$TMP/p.json" <<'J'
{"ref": {"in": 1, "out": 1, "reference": true}, "s": {"in": 0.1, "out": 0.1}}
J
    # every small sample 0.1, every reference sample 0.2: no match unless t >= 0.1
    rec='{"id":"a","prompt_tokens":1,"responses":{"ref":[{"score":0.2,"proxy":0,"output_tokens":1},{"score":0.2,"proxy":1,"output_tokens":1}],"s":[{"score":0.1,"proxy":0,"output_tokens":1},{"score":0.1,"proxy":1,"output_tokens":1}]}}'
    run route labels --prices "$TMP/p.json" --n-max 2 <<<"$rec"
    assert_success
    [[ $output == *'"labels":{"s:1":0,"s:2":0},"selector":"proxy"}' ]] || fail "$output"
    run route labels --prices "$TMP/p.json" --n-max 2 --match-t 0.1 <<<"$rec"
    [[ $output == *'"labels":{"s:1":1,"s:2":1}'* ]] || fail "$output"
    # small samples 0 and 1 against a reference of 0.5: best-of-2 by true score wins
    # unless both draws are sample 0, so P(s:2) = 1 - (share of draws (0,0))
    rec='{"id":"b","prompt_tokens":1,"responses":{"ref":[{"score":0.5,"output_tokens":1}],"s":[{"score":0,"output_tokens":1},{"score":1,"output_tokens":1}]}}'
    run route labels --prices "$TMP/p.json" --n-max 2 --draws 200 --seed 3 <<<"$rec"
    assert_success
    [[ $output == *'"selector":"oracle"'* ]] || fail "no oracle flag: $output"
    p1=$(grep -oE '"s:1":[0-9.]+' <<<"$output" | cut -d: -f3)
    p2=$(grep -oE '"s:2":[0-9.]+' <<<"$output" | cut -d: -f3)
    awk -v a="$p1" -v b="$p2" 'BEGIN { exit !(a > 0.35 && a < 0.65 && b > 0.62 && b < 0.88 && b > a) }' || fail "$p1 $p2"
}

@test "labels are fixed by --seed and do not depend on --threads" {
    a=$(route labels --prices "$P" --n-max 2 --draws 4 --seed 1 "$D/small.jsonl")
    b=$(route labels --prices "$P" --n-max 2 --draws 4 --seed 1 --threads 1 "$D/small.jsonl")
    c=$(route labels --prices "$P" --n-max 2 --draws 4 --seed 2 "$D/small.jsonl")
    [ "$a" = "$b" ] || fail "threads change labels"
    [ "$a" != "$c" ] || fail "the seed changes nothing"
}

@test "select: best proxy among the routed model's first n samples, first on ties" {
    run route select --from llama-31-8b "$D/small.jsonl"
    assert_success
    [[ ${lines[0]} == *'"selected":{"model":"llama-31-8b","n":3,"index":1,"score":0.25,"proxy":0.5,"output_tokens":120,"selector":"proxy"}}' ]] || fail "${lines[0]}"
    run route select --from llama-31-8b --first 1 "$D/small.jsonl"
    [[ ${lines[0]} == *'"index":0,'* ]] || fail "${lines[0]}"
    rec='{"route":{"model":"m","n":2},"responses":{"m":[{"score":1,"output_tokens":3},{"score":2,"output_tokens":4},{"score":9,"output_tokens":5}]}}'
    run route select <<<"$rec"
    assert_success
    [[ $output == *'"selected":{"model":"m","n":2,"index":1,"score":2,"proxy":null,"output_tokens":4,"selector":"oracle"}}' ]] || fail "$output"
    run --separate-stderr route select <<<'{"responses":{"m":[{"score":1}]}}'
    [ "$status" -eq 1 ]
    [[ $stderr == *'no "route" field and no --from'* ]] || fail "$stderr"
}

@test "import routellm and best-route; a malformed CSV row is FILE:LINE, exit 1" {
    run --separate-stderr route import routellm "$D/routellm_small.csv"
    assert_success
    [ "${#lines[@]}" -eq 3 ] || fail "$output"
    [[ ${lines[1]} == *'"prompt":"A \"quoted\" question\nAnswer:"'* ]] || fail "${lines[1]}"
    [[ ${lines[1]} == *'"mistralai/Mixtral-8x7B-Instruct-v0.1":[{"score":0,"output_tokens":1}]'* ]] || fail "${lines[1]}"
    printf 'prompt,a,b\nok,True,False\nbad,True,maybe\n' >"$TMP/bad.csv"
    run --separate-stderr route import routellm "$TMP/bad.csv"
    [ "$status" -eq 1 ]
    [[ $stderr == "route: $TMP/bad.csv:3: "* ]] || fail "$stderr"
    run --separate-stderr route import best-route "$D/stage.jsonl"
    assert_success
    [[ $output == *'"responses":{"gpt-4o":[{"score":0.12,"proxy":1.5,"output_tokens":120}'* ]] || fail "$output"
    run --separate-stderr route import nosuch "$D/stage.jsonl"
    [ "$status" -eq 2 ]
    # the imported records feed the other commands
    route import routellm "$D/routellm_small.csv" >"$TMP/r.jsonl"
    printf '%s\n' '{"gpt-4-1106-preview":{"in":10,"out":30,"reference":true},"mistralai/Mixtral-8x7B-Instruct-v0.1":{"in":0.6,"out":0.6}}' >"$TMP/p.json"
    run route labels --prices "$TMP/p.json" --n-max 1 "$TMP/r.jsonl"
    assert_success
    [[ ${lines[1]} == *'"labels":{"mistralai/Mixtral-8x7B-Instruct-v0.1:1":0}'* ]] || fail "${lines[1]}"
}

@test "train writes a router that apply uses; bad options are usage errors" {
    route synth -n 300 --samples 4 --seed 2 --prices-out "$TMP/p.json" >"$TMP/s.jsonl"
    run --separate-stderr route train --prices "$TMP/p.json" --n-max 2 --hash-dim 1024 --seed 1 --out "$TMP/r.bin" "$TMP/s.jsonl"
    assert_success
    [[ $output == '{"type":"train","model":"linear","heads":6,"n_max":2,'* ]] || fail "$output"
    [ -s "$TMP/r.bin" ] || fail "no router"
    ls -a "$TMP" | grep -q '^\.r\.bin' && fail "temporary file left"
    run --separate-stderr route apply --prices "$TMP/p.json" --router "$TMP/r.bin" --threshold 0.2 "$TMP/s.jsonl"
    assert_success
    [ "$(routes <<<"$output" | wc -l)" -eq 300 ] || fail "not every record routed"
    [ "$(routes <<<"$output" | grep -c '"model":"syn-ref"')" -lt 300 ] || fail "everything to the reference"
    run --separate-stderr route train --prices "$TMP/p.json" "$TMP/s.jsonl"
    [ "$status" -eq 2 ]
    [[ $stderr == *"--out FILE is required"* ]] || fail "$stderr"
    run --separate-stderr route train --prices "$TMP/p.json" --model big --out x "$TMP/s.jsonl"
    [ "$status" -eq 2 ]
    run --separate-stderr route apply --prices "$TMP/p.json" --threshold abc </dev/null
    [ "$status" -eq 2 ]
    run --separate-stderr route apply --router "$TMP/r.bin" </dev/null
    [ "$status" -eq 2 ]
    [[ $stderr == *"--prices FILE is required"* ]] || fail "$stderr"
}

@test "bad records: missing reference, unknown model, negative tokens, empty responses (FILE:LINE:COL, exit 1)" {
    printf '%s\n' '{"id":"a","prompt_tokens":3,"responses":{"llama-31-8b":[{"score":1,"output_tokens":2}]}}' >"$TMP/in"
    run --separate-stderr route labels --prices "$P" "$TMP/in"
    [ "$status" -eq 1 ]
    [[ $stderr == "route: $TMP/in:1:41: responses: reference model 'gpt-4o' is missing"* ]] || fail "$stderr"
    [[ $stderr == *"hint: "* ]] || fail "$stderr"
    printf '%s\n' '{"id":"a","prompt_tokens":3,"responses":{"gpt-4o":[{"score":1,"output_tokens":2}],"foo":[{"score":1,"output_tokens":2}]}}' >"$TMP/in"
    run --separate-stderr route labels --prices "$P" "$TMP/in"
    [ "$status" -eq 1 ]
    [[ $stderr == "route: $TMP/in:1:83: responses.foo: model 'foo' is not in the prices file"* ]] || fail "$stderr"
    printf '%s\n' '{"id":"a","prompt_tokens":-3,"responses":{"gpt-4o":[{"score":1,"output_tokens":2}]}}' >"$TMP/in"
    run --separate-stderr route labels --prices "$P" "$TMP/in"
    [ "$status" -eq 1 ]
    [[ $stderr == "route: $TMP/in:1:27: prompt_tokens: token count must be >= 0"* ]] || fail "$stderr"
    run --separate-stderr route apply --prices "$P" <<<'{"prompt_tokens":-1,"match_prob":{}}'
    [ "$status" -eq 1 ]
    [[ $stderr == "route: <stdin>:1:18: prompt_tokens: token count must be >= 0"* ]] || fail "$stderr"
    printf '%s\n' '{"id":"a","prompt_tokens":3,"responses":{"gpt-4o":[]}}' >"$TMP/in"
    run --separate-stderr route labels --prices "$P" "$TMP/in"
    [ "$status" -eq 1 ]
    [[ $stderr == "route: $TMP/in:1:42: responses.gpt-4o: empty list of samples"* ]] || fail "$stderr"
    run --separate-stderr route apply --prices "$P" <<<'{"prompt_tokens":1,"match_prob":{"nosuch:1":0.5}}'
    [ "$status" -eq 1 ]
    [[ $stderr == *"match_prob: model 'nosuch' is not in the prices file"* ]] || fail "$stderr"
    # a reference without a price entry, and an unreadable prices file
    run --separate-stderr route apply --prices "$P" --reference nosuch </dev/null
    [ "$status" -eq 1 ]
    [[ $stderr == *"reference model 'nosuch' has no price entry"* ]] || fail "$stderr"
    run --separate-stderr route apply --prices "$TMP/none.json" </dev/null
    [ "$status" -eq 1 ]
}

@test "synth: seeded, every record synthetic, prices written atomically" {
    a=$(route synth -n 20 --samples 3 --seed 4 --prices-out "$TMP/p.json")
    b=$(route synth -n 20 --samples 3 --seed 4 --threads 1)
    [ "$a" = "$b" ] || fail "not reproducible"
    [ "$(grep -c '"synthetic":true' <<<"$a")" -eq 20 ] || fail "synthetic flag"
    [[ $(cat "$TMP/p.json") == *'"syn-ref":{"in_per_mtok":5,"out_per_mtok":15,"reference":true}'* ]] || fail "$(cat "$TMP/p.json")"
    run --separate-stderr route synth extra
    [ "$status" -eq 2 ]
}

@test "eval on synthetic data: BEST-Route matches the single-response router's quality at lower cost" {
    route synth -n 800 --samples 8 --seed 11 --prices-out "$TMP/p.json" >"$TMP/s.jsonl"
    run --separate-stderr route eval --prices "$TMP/p.json" --n-max 3 --hash-dim 2048 --bootstrap 30 --seed 1 \
        --svg "$TMP/c.svg" "$TMP/s.jsonl"
    assert_success
    for m in always-reference always always-best-n best-route single-response oracle random; do
        grep -q "\"type\":\"point\",\"method\":\"$m\"" <<<"$output" || fail "no $m points"
    done
    [ "$(grep -c '"type":"summary"' <<<"$output")" -eq 4 ] || fail "summaries"
    grep '"method":"best-route"' <<<"$output" | grep -q '"apgr_ci":\[' || fail "no APGR interval"
    # for every single-response point strictly between the anchors, some BEST-Route
    # point reaches at least its quality for less cost (majority of points), and
    # the quality drop at 20 % and 40 % cost reduction is smaller
    pts=$(grep '"type":"point"' <<<"$output" | grep -E '"method":"(best-route|single-response)"' |
          sed -E 's/.*"method":"([a-z-]+)".*"cost":([^,]+),"quality":([^,]+),.*"ref_share":([^,]+),.*/\1 \2 \3 \4/')
    awk '$1 == "best-route" { n++; c[n] = $2; q[n] = $3 }
         $1 == "single-response" && $4 > 0 && $4 < 1 { s++; sc[s] = $2; sq[s] = $3 }
         END { for (i = 1; i <= s; i++) { for (j = 1; j <= n; j++) if (q[j] >= sq[i] && c[j] < sc[i]) { w++; break } }
               printf "%d of %d\n", w, s; exit !(s > 5 && w >= 0.8 * s) }' <<<"$pts" || fail "BEST-Route not cheaper: $pts"
    drop() { grep "\"type\":\"summary\",\"method\":\"$1\"" <<<"$output" | grep -oE "\"$2\":[-0-9.e]+" | cut -d: -f2; }
    awk -v a="$(drop best-route 20)" -v b="$(drop single-response 20)" 'BEGIN { exit !(a < b) }' || fail "20 %"
    awk -v a="$(drop best-route 40)" -v b="$(drop single-response 40)" 'BEGIN { exit !(a < b) }' || fail "40 %"
    # the picture is valid SVG and names the curves
    xmllint --noout "$TMP/c.svg"
    grep -q 'best-route' "$TMP/c.svg" || fail "svg lacks the curve"
}

@test "eval is deterministic for a seed, by file split, and with bring-your-own predictions" {
    route synth -n 200 --samples 4 --seed 3 --prices-out "$TMP/p.json" >"$TMP/s.jsonl"
    a=$(route eval --prices "$TMP/p.json" --n-max 2 --hash-dim 512 --bootstrap 10 --seed 5 "$TMP/s.jsonl")
    b=$(route eval --prices "$TMP/p.json" --n-max 2 --hash-dim 512 --bootstrap 10 --seed 5 --threads 1 "$TMP/s.jsonl")
    [ "$a" = "$b" ] || fail "threads change eval"
    [[ $a == *'"n_train":160,"n_test":40,"seed":5,"split":"seeded"'* ]] || fail "split sizes"
    head -150 "$TMP/s.jsonl" >"$TMP/tr.jsonl"
    tail -50 "$TMP/s.jsonl" >"$TMP/te.jsonl"
    run --separate-stderr route eval --prices "$TMP/p.json" --n-max 2 --hash-dim 512 --bootstrap 0 --test "$TMP/te.jsonl" "$TMP/tr.jsonl"
    assert_success
    [[ $output == *'"n_train":150,"n_test":50,"seed":0,"split":"file"'* ]] || fail "$output"
    # byo: predictions that are the reference's own choice -> everything to the reference at t > 0
    sed 's/}$/,"match_prob":{"syn-cheap:1":0}}/' "$TMP/te.jsonl" >"$TMP/byo.jsonl"
    run --separate-stderr route eval --prices "$TMP/p.json" --n-max 2 --predictor byo --bootstrap 0 --test "$TMP/byo.jsonl" "$TMP/tr.jsonl"
    assert_success
    grep '"type":"summary","method":"best-route"' <<<"$output" | grep -q '"predictor":"byo"' || fail "$output"
    run --separate-stderr route eval --prices "$TMP/p.json" --predictor byo --router x "$TMP/tr.jsonl"
    [ "$status" -eq 2 ]
}

@test "import routellm: invalid UTF-8 in a field is FILE:LINE:COL, exit 1" {
    printf 'prompt,a,b\nok,True,False\n\xff\xfebad,True,False\n' >"$TMP/u.csv"
    run --separate-stderr route import routellm "$TMP/u.csv"
    [ "$status" -eq 1 ]
    [ "$output" = "" ] || fail "records written: $output"
    [ "${stderr_lines[0]}" = "route: $TMP/u.csv:3:1: invalid UTF-8 in column 'prompt'" ] || fail "$stderr"
    [[ ${stderr_lines[1]} == "hint: "*UTF-8* ]] || fail "$stderr"
    # inside a quoted field that spans lines: the physical line and character column
    printf 'prompt,a,b\n"\xc3\xa9t\xc3\xa9\nx\xc3\xa9\xe9",True,False\n' >"$TMP/u.csv"
    run --separate-stderr route import routellm "$TMP/u.csv"
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "route: $TMP/u.csv:3:3: invalid UTF-8 in column 'prompt'" ] || fail "$stderr"
    printf 'prompt,a,b_response,b\nq,True,\xff,False\n' >"$TMP/u.csv"
    run --separate-stderr route import routellm "$TMP/u.csv"
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "route: $TMP/u.csv:2:8: invalid UTF-8 in column 'b_response'" ] || fail "$stderr"
}

@test "import routellm: a NUL byte in a field is FILE:LINE:COL, exit 1" {
    printf 'prompt,a,b\nab\0cd,True,False\n' >"$TMP/n.csv"
    run --separate-stderr route import routellm "$TMP/n.csv"
    [ "$status" -eq 1 ]
    [ "$output" = "" ] || fail "records written: $output"
    [ "${stderr_lines[0]}" = "route: $TMP/n.csv:2:3: NUL byte in column 'prompt'" ] || fail "$stderr"
    [[ ${stderr_lines[1]} == "hint: "* ]] || fail "$stderr"
}

@test "import routellm: a repeated column name is FILE:1:COL, exit 1" {
    printf 'prompt,a,b,a\nq,True,False,False\n' >"$TMP/d.csv"
    run --separate-stderr route import routellm "$TMP/d.csv"
    [ "$status" -eq 1 ]
    [ "$output" = "" ] || fail "records written: $output"
    [ "${stderr_lines[0]}" = "route: $TMP/d.csv:1:12: column 'a' appears twice (columns 2 and 4)" ] || fail "$stderr"
    [[ ${stderr_lines[1]} == "hint: "* ]] || fail "$stderr"
    printf '"prompt",a,b,prompt\nq,True,False,z\n' >"$TMP/d.csv"
    run --separate-stderr route import routellm "$TMP/d.csv"
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "route: $TMP/d.csv:1:14: column 'prompt' appears twice (columns 1 and 4)" ] || fail "$stderr"
}

@test "select: samples are checked as route labels checks them (FILE:LINE:COL, exit 1)" {
    run --separate-stderr route select --from m <<<'{"responses":{"m":[{"score":"1","proxy":0.5,"output_tokens":3},{"score":2,"proxy":0.1,"output_tokens":4}]}}'
    [ "$status" -eq 1 ]
    [ "$output" = "" ] || fail "$output"
    [ "${stderr_lines[0]}" = "route: <stdin>:1:15: responses.m[0].score: expected a number" ] || fail "$stderr"
    run --separate-stderr route select --from m <<<'{"responses":{"m":[{"score":1,"proxy":0.5,"output_tokens":-3}]}}'
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "route: <stdin>:1:15: responses.m[0].output_tokens: token count must be >= 0, got -3" ] || fail "$stderr"
    [[ ${stderr_lines[1]} == "hint: token counts"* ]] || fail "$stderr"
    # the same messages as route labels gives
    printf '%s\n' '{"ref":{"in":1,"out":1,"reference":true},"m":{"in":1,"out":1}}' >"$TMP/p.json"
    run --separate-stderr route labels --prices "$TMP/p.json" <<<'{"id":"x","prompt_tokens":1,"responses":{"ref":[{"score":1,"output_tokens":1}],"m":[{"score":1,"output_tokens":-3}]}}'
    [[ ${stderr_lines[0]} == *"responses.m[0].output_tokens: token count must be >= 0, got -3" ]] || fail "$stderr"
    # samples of other models are checked too; a missing output_tokens is an error
    run --separate-stderr route select --from m <<<'{"responses":{"m":[{"score":1,"output_tokens":3}],"x":[{"score":1}]}}'
    [ "$status" -eq 1 ]
    [[ ${stderr_lines[0]} == *"responses.x[0].output_tokens: missing" ]] || fail "$stderr"
}

@test "select: some proxies missing is an error unless --selector chooses; the choice is in the output" {
    rec='{"responses":{"m":[{"score":1,"proxy":0.5,"output_tokens":3},{"score":2,"output_tokens":4}]}}'
    run --separate-stderr route select --from m <<<"$rec"
    [ "$status" -eq 1 ]
    [ "$output" = "" ] || fail "$output"
    [ "${stderr_lines[0]}" = "route: <stdin>:1:15: responses.m[1]: no \"proxy\", but responses.m[0] has one" ] || fail "$stderr"
    [[ ${stderr_lines[1]} == "hint: "*"--selector oracle"* ]] || fail "$stderr"
    run --separate-stderr route select --from m --selector oracle <<<"$rec"
    assert_success
    [[ $output == *'"selected":{"model":"m","n":2,"index":1,"score":2,"proxy":null,"output_tokens":4,"selector":"oracle"}}' ]] || fail "$output"
    run --separate-stderr route select --from m --selector proxy <<<"$rec"
    [ "$status" -eq 1 ]
    [[ ${stderr_lines[0]} == *'responses.m[1]: no "proxy" for --selector proxy' ]] || fail "$stderr"
    # only the first n samples are candidates
    run --separate-stderr route select --from m --first 1 <<<"$rec"
    assert_success
    [[ $output == *'"index":0,"score":1,"proxy":0.5,"output_tokens":3,"selector":"proxy"}}' ]] || fail "$output"
    # an explicit proxy choice, and oracle selection among samples with proxies
    run route select --from llama-31-8b --selector proxy "$D/small.jsonl"
    [[ ${lines[0]} == *'"index":1,"score":0.25,"proxy":0.5,"output_tokens":120,"selector":"proxy"}}' ]] || fail "${lines[0]}"
    run route select --from llama-31-8b --selector oracle "$D/small.jsonl"
    [[ ${lines[0]} == *'"index":2,"score":0.3,"proxy":0.5,"output_tokens":90,"selector":"oracle"}}' ]] || fail "${lines[0]}"
    run route select --from llama-31-8b --selector proxy <<<'{"responses":{"llama-31-8b":[{"score":1,"output_tokens":3}]}}'
    [ "$status" -eq 1 ]
    run --separate-stderr route select --selector best <<<"$rec"
    [ "$status" -eq 2 ]
    [[ $stderr == *"invalid --selector 'best'"* ]] || fail "$stderr"
}

@test "apply: --threshold outside [0, 1] is a usage error (exit 2)" {
    for t in 1.5 -1 1.0000001; do
        run --separate-stderr route apply --prices "$P" --threshold "$t" </dev/null
        [ "$status" -eq 2 ] || fail "--threshold $t: $status"
        [[ ${stderr_lines[0]} == "route: invalid --threshold '$t': must lie in [0, 1]" ]] || fail "$stderr"
    done
    run --separate-stderr route apply --prices "$P" --n-max 2 --threshold 1 "$D/queries.jsonl"
    assert_success
}

@test "apply: a match_prob outside [0, 1] is bad data (FILE:LINE:COL, exit 1)" {
    run --separate-stderr route apply --prices "$P" --n-max 2 <<<'{"prompt_tokens":5,"match_prob":{"mistral-7b:1":0.5,"mistral-7b:2":1.5}}'
    [ "$status" -eq 1 ]
    [ "$output" = "" ] || fail "$output"
    [ "${stderr_lines[0]}" = "route: <stdin>:1:68: match_prob: 'mistral-7b:2' must lie in [0, 1], got 1.5" ] || fail "$stderr"
    [[ ${stderr_lines[1]} == "hint: "* ]] || fail "$stderr"
    run --separate-stderr route apply --prices "$P" --n-max 2 <<<'{"prompt_tokens":5,"match_prob":{"mistral-7b:1":-0.25}}'
    [ "$status" -eq 1 ]
    [[ ${stderr_lines[0]} == *"match_prob: 'mistral-7b:1' must lie in [0, 1], got -0.25" ]] || fail "$stderr"
}

@test "prices: duplicate keys and an empty file have their own messages (FILE:LINE:COL, exit 1)" {
    q='{"prompt_tokens":5,"match_prob":{"a:1":0.9}}'
    printf '{"ref": {"in": 1, "out": 1, "reference": true, "avg_out_tokens": 100},\n "a": {"in": 1, "out": 1, "avg_out_tokens": 10},\n "a": {"in": 2, "out": 2, "avg_out_tokens": 10}}\n' >"$TMP/p.json"
    run --separate-stderr route apply --prices "$TMP/p.json" --n-max 1 <<<"$q"
    [ "$status" -eq 1 ]
    [ "$output" = "" ] || fail "$output"
    [ "${stderr_lines[0]}" = "route: $TMP/p.json:3:2: prices: duplicate key \"a\"" ] || fail "$stderr"
    [[ ${stderr_lines[1]} == "hint: "* ]] || fail "$stderr"
    printf '{"ref": {"in": 1, "out": 1, "in": 3, "reference": true},\n "a": {"in": 1, "out": 1}}\n' >"$TMP/p.json"
    run --separate-stderr route apply --prices "$TMP/p.json" --n-max 1 --cost realised <<<"$q"
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "route: $TMP/p.json:1:29: prices: duplicate key \"in\"" ] || fail "$stderr"
    printf '{"model":"ref","in":1,"out":1,"reference":true}\n{"model":"a","in":1,"out":1}\n\n{"model": "a","in":2,"out":2}\n' >"$TMP/p.jsonl"
    run --separate-stderr route apply --prices "$TMP/p.jsonl" --n-max 1 --cost realised <<<"$q"
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "route: $TMP/p.jsonl:4:11: prices: model 'a' is listed twice" ] || fail "$stderr"
    printf '[{"model":"ref","in":1,"out":1,"reference":true},\n {"model":"a","in":1,"out":1}, {"model":"a","in":2,"out":2}]\n' >"$TMP/p.json"
    run --separate-stderr route apply --prices "$TMP/p.json" --n-max 1 --cost realised <<<"$q"
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "route: $TMP/p.json:2:41: prices: model 'a' is listed twice" ] || fail "$stderr"
    for body in '' '\n  \n'; do
        printf "$body" >"$TMP/e.json"
        run --separate-stderr route apply --prices "$TMP/e.json" </dev/null
        [ "$status" -eq 1 ]
        [ "${stderr_lines[0]}" = "route: $TMP/e.json:1:1: prices: the file is empty" ] || fail "$stderr"
        [[ ${stderr_lines[1]} == "hint: e.g. "* ]] || fail "$stderr"
    done
}

@test "synth | eval: without --prices, eval uses the generator's prices (same bytes as --prices-out's file)" {
    route synth -n 300 --samples 3 --seed 3 --prices-out "$TMP/p.json" >"$TMP/s.jsonl"
    run -0 --separate-stderr sh -c "route synth -n 300 --samples 3 --seed 3 | route eval --n-max 2 --bootstrap 5 --hash-dim 512"
    [ "$(printf '%s\n' "$output" | grep -c '"type":"summary"')" -ge 1 ] || fail "$output"
    want=$(route eval --prices "$TMP/p.json" --n-max 2 --bootstrap 5 --hash-dim 512 "$TMP/s.jsonl")
    [ "$output" = "$want" ] || fail "differs from --prices p.json"
}

@test "eval: records of other models without --prices name the models and ask for --prices (exit 1)" {
    run -1 --separate-stderr route eval --n-max 2 "$D/small.jsonl"
    [[ $stderr == *"not in the prices file"* ]] || fail "$stderr"
    [[ $stderr == *"--prices"* ]] || fail "$stderr"
}

@test "labels, train, apply still require --prices (exit 2)" {
    for c in labels apply; do
        run -2 --separate-stderr route $c "$D/small.jsonl"
        [[ $stderr == *"--prices FILE is required"* ]] || fail "$c: $stderr"
    done
    run -2 --separate-stderr route train --out "$TMP/r.bin" "$D/small.jsonl"
    [[ $stderr == *"--prices FILE is required"* ]] || fail "train: $stderr"
}

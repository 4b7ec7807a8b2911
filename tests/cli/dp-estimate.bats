#!/usr/bin/env bats
# dp-estimate.bats - the dp-estimate command: values, conventions of its own,
# score input (grouping, thresholds, holdout, scan, models), pictures, errors.

load helpers

setup() {
    TMP="$(mktemp -d)"
    GAME="$TOP/testdata/dp-estimate/game.jsonl"
}
teardown() {
    rm -rf "$TMP"
}

# field VALUE from a one-line JSON output: num KEY
num() { grep -oE "\"$1\":(-?[0-9.eE+-]+|null|true|false)" | head -1 | cut -d: -f2; }
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

@test "package README example: joint-beta interval matches the exact values" {
    run --separate-stderr dp-estimate --delta 1e-5 --alpha 0.1 <<<'{"FN":0,"FP":512,"TN":1,"TP":487}'
    assert_success
    near "$(num eps_lo <<<"$output")" 0.14389 2e-5 || fail "eps_lo: $output"
    near "$(num eps_hi <<<"$output")" 6.41560 2e-5 || fail "eps_hi: $output"
    [ "$(num eps_point <<<"$output")" = null ] && [ "$(num eps_point_unbounded <<<"$output")" = true ] ||
        fail "eps_point should be unbounded (FNR = 0): $output"
}

@test "all-correct 1000/1000: one-sided lower bounds of every method" {
    in='{"tp":1000,"fp":0,"tn":1000,"fn":0}'
    for m in "bayes 7.20721" "dirichlet 7.20721" "clopper-pearson 5.60058" "jeffreys 5.98568"; do
        set -- $m
        run --separate-stderr dp-estimate --delta 1e-5 --one-sided lower --method "$1" <<<"$in"
        assert_success
        near "$(num eps_lo <<<"$output")" "$2" 2e-5 || fail "$1: $output"
        [ "$(num eps_hi <<<"$output")" = null ] || fail "$1: a lower bound leaves eps_hi unbounded"
        [ "$(num eps_hi_unbounded <<<"$output")" = true ] || fail "$1: flag"
    done
    # two-sided: finite upper end (no ceiling at 10), lower end = one-sided at alpha/2
    run dp-estimate --delta 1e-5 --alpha 0.1 <<<"$in"
    near "$(num eps_lo <<<"$output")" 7.20721 2e-5 || fail "two-sided lower end: $output"
    hi=$(num eps_hi <<<"$output")
    awk -v h="$hi" 'BEGIN { exit !(h > 10 && h < 100) }' || fail "eps_hi $hi should be finite and above 10"
}

@test "coin-flip attack: interval starts at 0 for delta > 0 and above 0 for delta = 0" {
    run dp-estimate --delta 1e-5 <<<'{"tp":500,"fp":500,"tn":500,"fn":500}'
    assert_success
    [ "$(num eps_point <<<"$output")" = 0 ] || fail "$output"
    run dp-estimate --delta 0 <<<'{"tp":500,"fp":500,"tn":500,"fn":500}'
    lo=$(num eps_lo <<<"$output")
    awk -v l="$lo" 'BEGIN { exit !(l > 0) }' || fail "delta = 0 gives a positive joint-beta lower bound: $output"
}

@test "the Bayesian interval is nested in Clopper-Pearson's" {
    for c in '{"tp":76,"fp":19,"tn":982,"fn":923}' '{"tp":40,"fp":10,"tn":90,"fn":60}' '{"tp":900,"fp":30,"tn":970,"fn":100}'; do
        b=$(dp-estimate --delta 1e-5 <<<"$c")
        p=$(dp-estimate --delta 1e-5 --method clopper-pearson <<<"$c")
        awk -v a="$(num eps_lo <<<"$b")" -v b="$(num eps_lo <<<"$p")" 'BEGIN { exit !(a >= b) }' || fail "$c lo"
        awk -v a="$(num eps_hi <<<"$b")" -v b="$(num eps_hi <<<"$p")" 'BEGIN { exit !(a <= b) }' || fail "$c hi"
    done
}

@test "Monte Carlo agrees with quadrature" {
    c='{"tp":76,"fp":19,"tn":982,"fn":923}'
    q=$(dp-estimate --delta 1e-5 <<<"$c")
    m=$(dp-estimate --delta 1e-5 --samples 200000 --seed 5 <<<"$c")
    near "$(num eps_lo <<<"$q")" "$(num eps_lo <<<"$m")" 0.03 || fail "$q / $m"
    near "$(num eps_hi <<<"$q")" "$(num eps_hi <<<"$m")" 0.05 || fail "$q / $m"
    [[ $m == *'"samples":200000'* ]] || fail "samples not reported: $m"
    [ "$(dp-estimate --delta 1e-5 --samples 20000 --seed 5 <<<"$c")" = \
      "$(dp-estimate --delta 1e-5 --samples 20000 --seed 5 --threads 1 <<<"$c")" ] || fail "MC depends on threads"
}

@test "per-record delta and alpha are used and left as written" {
    run dp-estimate <<<'{"tp":76,"fp":19,"tn":982,"fn":923,"delta":1e-05,"alpha":0.10}'
    assert_success
    [[ $output == *'"delta":1e-05,"alpha":0.10,'* ]] || fail "$output"
    [[ $output != *'"delta":1e-5'* ]] || fail "delta rewritten: $output"
    a=$(dp-estimate --delta 1e-5 --alpha 0.1 <<<'{"tp":76,"fp":19,"tn":982,"fn":923}')
    [ "$(num eps_lo <<<"$output")" = "$(num eps_lo <<<"$a")" ] || fail "per-record values not used"
}

@test "bad counts: clear messages with line and column, exit 1" {
    check() {
        run --separate-stderr dp-estimate --delta 1e-5 <<<"$1"
        [ "$status" -eq 1 ] || fail "$1: status $status"
        [[ $stderr == *"$2"* ]] || fail "$1: $stderr"
        [ -z "$output" ] || fail "$1: output written"
    }
    check '{"tp":-1,"fp":19,"tn":982,"fn":923}' '<stdin>:1:7: count "tp" is negative'
    check '{"tp":7.5,"fp":19,"tn":982,"fn":923}' '<stdin>:1:7: count "tp" must be a whole number'
    check '{"tp":"7","fp":19,"tn":982,"fn":923}' 'must be a number, not a string'
    check '{"tp":7,"fp":19,"tn":982}' 'missing count "fn"'
    check '{"tp":0,"fp":19,"tn":982,"fn":0}' 'no members'
    check '{"tp":0,"fp":0,"tn":0,"fn":0}' 'no members'
    check '{"tp":1,"fp":19,"tn":982,"fn":2,"delta":1}' '"delta" must be a number in [0, 1)'
    check '{"tp":1,"fp":19,"tn":982,"fn":2,"alpha":0}' '"alpha" must be a number in (0, 1)'
    check '{"hello":1}' 'neither a count record nor a trial record'
    run --separate-stderr dp-estimate <<<'{"tp":1,"fp":19,"tn":982,"fn":2}'
    [ "$status" -eq 1 ] && [[ $stderr == *"no delta"* ]] && [[ $stderr == *"hint: give --delta"* ]] || fail "$stderr"
}

@test "bad options are usage errors" {
    for args in "--delta 1" "--delta -0.1" "--delta x" "--alpha 0" "--alpha 1" "--method bogus" \
                "--delta 0 --one-sided lower --alpha 0.6" "--delta 0 --samples 5000 --method jeffreys" \
                "--delta 0 --plot x.svg --method clopper-pearson" "--delta 0 --input counts --scan" \
                "--delta 0 --threshold 1 --holdout 0.5" "--delta 0 --samples 10"; do
        run --separate-stderr dp-estimate $args </dev/null
        [ "$status" -eq 2 ] || fail "$args: status $status"
        [[ $stderr == *"Try 'dp-estimate --help'"* ]] || fail "$args: $stderr"
    done
}

@test "trial records: bad member, score, missing threshold" {
    run --separate-stderr dp-estimate -d 0 -t 0 <<<'{"member":"yes","score":1}'
    [ "$status" -eq 1 ] && [[ $stderr == *'1:11: "member" must be true or false'* ]] || fail "$stderr"
    run --separate-stderr dp-estimate -d 0 -t 0 <<<'{"member":true,"score":"high"}'
    [ "$status" -eq 1 ] && [[ $stderr == *'"score" must be a finite number'* ]] || fail "$stderr"
    run --separate-stderr dp-estimate -d 0 <<<'{"member":true,"score":0.5}'
    [ "$status" -eq 1 ] && [[ $stderr == *'a score needs a threshold'* ]] || fail "$stderr"
    run --separate-stderr dp-estimate -d 0 <<<$'{"tp":1,"fp":1,"tn":1,"fn":1}\n{"member":true,"guess":true}'
    [ "$status" -eq 1 ] && [[ $stderr == *'mixes count records and trial records'* ]] || fail "$stderr"
    run --separate-stderr dp-estimate -d 0 -t 0 <<<$'{"member":true,"score":1}\n{"member":true,"score":2}'
    [ "$status" -eq 1 ] && [[ $stderr == *'no non-members'* ]] || fail "$stderr"
}

@test "score input: grouping and a fixed threshold" {
    run --separate-stderr dp-estimate -d 1e-5 --group-by audit --threshold 1 "$GAME"
    assert_success
    [ "${#lines[@]}" -eq 2 ] || fail "one summary per group expected: $output"
    [[ ${lines[0]} == '{"type":"summary","group":"weak","n":256,'* ]] || fail "${lines[0]}"
    [[ ${lines[1]} == '{"type":"summary","group":"strong","n":256,'* ]] || fail "${lines[1]}"
    # the counts at T = 1 agree with a count by awk
    want=$(awk -F'[,:}]' '/"audit":"strong"/ { m = ($6 == "true"); s = $8 + 0; if (m && s >= 1) tp++; if (!m && s >= 1) fp++ }
                          END { printf "%d %d", tp, fp }' "$GAME")
    got="$(num tp <<<"${lines[1]}") $(num fp <<<"${lines[1]}")"
    [ "$got" = "$want" ] || fail "tp fp: got $got, want $want"
    [[ ${lines[1]} == *'"selection":"fixed","threshold":1,'* ]] || fail "${lines[1]}"
    # the strong attack certifies more privacy loss than the weak one
    awk -v w="$(num eps_lo <<<"${lines[0]}")" -v s="$(num eps_lo <<<"${lines[1]}")" 'BEGIN { exit !(s > w) }' ||
        fail "strong should beat weak"
    # no --group-by: one summary for the whole stream
    run dp-estimate -d 1e-5 --threshold 1 "$GAME"
    [ "${#lines[@]}" -eq 1 ] && [[ ${lines[0]} == *'"n":512,'* ]] && [[ ${lines[0]} != *'"group"'* ]] || fail "$output"
}

@test "score input: per-model summary (several challenges per model)" {
    run dp-estimate -d 1e-5 --group-by audit --threshold 1 "$GAME"
    for l in "${lines[@]}"; do
        [[ $l == *'"models":64,"samples_per_model":4,"heuristic":true,'* ]] || fail "$l"
    done
    # one challenge per model: no heuristic
    run dp-estimate -d 0 -t 0.5 <<<$'{"model":"a","member":true,"score":1}\n{"model":"b","member":false,"score":0}'
    [[ $output == *'"models":2,"samples_per_model":1,"heuristic":false,'* ]] || fail "$output"
}

@test "score input: --holdout splits by seed, reports on the rest" {
    run dp-estimate -d 1e-5 --group-by audit --holdout 0.5 --seed 3 "$GAME"
    assert_success
    [ "${#lines[@]}" -eq 2 ] || fail "$output"
    for l in "${lines[@]}"; do
        [[ $l == *'"selection":"holdout"'* ]] || fail "$l"
        h=$(num holdout_n <<<"$l"); e=$(num eval_n <<<"$l")
        [ $((h + e)) -eq 256 ] || fail "holdout $h + eval $e != 256"
        t=$(( $(num tp <<<"$l") + $(num fp <<<"$l") + $(num tn <<<"$l") + $(num fn <<<"$l") ))
        [ "$t" -eq "$e" ] || fail "counts $t should cover the evaluation part $e"
    done
    a=$(dp-estimate -d 1e-5 --group-by audit --holdout 0.5 --seed 3 "$GAME")
    [ "$a" = "$output" ] || fail "not reproducible"
    b=$(dp-estimate -d 1e-5 --group-by audit --holdout 0.5 --seed 4 "$GAME")
    [ "$b" != "$output" ] || fail "the seed does not change the split"
    c=$(dp-estimate -d 1e-5 --group-by audit --holdout 0.5 --seed 3 --threads 1 "$GAME")
    [ "$c" = "$output" ] || fail "threads change the result"
}

@test "score input: --scan lists every distinct threshold, marked optimistic" {
    run dp-estimate -d 1e-5 --group-by audit --scan --method jeffreys "$GAME"
    assert_success
    nscan=$(printf '%s\n' "$output" | grep -c '"type":"scan","group":"weak"')
    want=$(grep '"audit":"weak"' "$GAME" | grep -oE '"score":[-0-9.e]+' | sort -u | wc -l)
    [ "$nscan" -eq "$want" ] || fail "$nscan scan records for $want distinct scores"
    printf '%s\n' "$output" | grep '"type":"scan"' | grep -vq '"optimistic":true' && fail "unmarked scan record"
    best=$(printf '%s\n' "$output" | grep '"type":"scan","group":"strong"' | grep -oE '"eps_lo":[0-9.e-]+' | cut -d: -f2 | sort -g | tail -1)
    summary=$(printf '%s\n' "$output" | grep '"type":"summary","group":"strong"')
    [[ $summary == *'"selection":"optimistic"'* ]] || fail "$summary"
    [ "$(num eps_lo <<<"$summary")" = "$best" ] || fail "summary should sit at the best lower bound $best: $summary"
}

@test "guess input needs no threshold" {
    run dp-estimate -d 0 <<<$'{"member":true,"guess":true}\n{"member":false,"guess":false}\n{"member":true,"guess":0}\n{"member":false,"guess":1}'
    assert_success
    [[ $output == *'"selection":"guess","tp":1,"fp":1,"tn":1,"fn":1,'* ]] || fail "$output"
}

@test "--threads and --shard do not change results" {
    for i in $(seq 40); do echo "{\"i\":$i,\"tp\":$((i * 7 % 50 + 1)),\"fp\":$((i % 9)),\"tn\":$((60 - i % 9)),\"fn\":$((i % 13 + 2))}"; done >"$TMP/in"
    dp-estimate -d 1e-5 --threads 1 "$TMP/in" >"$TMP/one"
    dp-estimate -d 1e-5 --threads 2 "$TMP/in" >"$TMP/two"
    cmp "$TMP/one" "$TMP/two" || fail "threads change output"
    for k in 0 1 2; do dp-estimate -d 1e-5 --shard $k/3 "$TMP/in"; done | sort >"$TMP/sharded"
    sort "$TMP/one" | cmp - "$TMP/sharded" || fail "shards do not add up"
    [ "$(dp-estimate -d 1e-5 --shard 1/3 "$TMP/in" | head -1 | grep -o '"i":[0-9]*')" = '"i":2' ] || fail "shard 1/3 starts at the second record"
}

@test "--plot writes a valid SVG that shows the interval; --posterior a grid" {
    run --separate-stderr dp-estimate -d 1e-5 --plot "$TMP/p.svg" --posterior "$TMP/post.jsonl" \
        "$TOP/testdata/dp-estimate/counts.jsonl"
    assert_success
    xmllint --noout "$TMP/p.svg" || fail "not well-formed XML"
    grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$TMP/p.svg" || fail "not an SVG document"
    [ "$(grep -c 'fill-opacity="0.25" stroke="none"' "$TMP/p.svg")" -eq 3 ] || fail "one shaded interval per record"
    grep -q 'credible interval' "$TMP/p.svg" || fail "no legend for the interval"
    grep -q 'observed' "$TMP/p.svg" || fail "no marker for the point estimate"
    [ "$(wc -l <"$TMP/post.jsonl")" -eq $((3 * 241)) ] || fail "grid size"
    awk -F'[,:}]' '/"record":1,/ { c = $6 + 0; if (c < last - 1e-9) bad = 1; last = c } END { exit bad }' "$TMP/post.jsonl" ||
        fail "posterior CDF not monotone"
    ls -a "$TMP" | grep -q '^\.p\.svg' && fail "temporary file left"
    # an unwritable target: exit 2, nothing left behind
    run --separate-stderr dp-estimate -d 1e-5 --plot "$TMP/no/such/dir/p.svg" <<<'{"tp":1,"fp":1,"tn":1,"fn":1}'
    [ "$status" -eq 2 ] && [[ $stderr == *"--plot: cannot write"* ]] || fail "$status $stderr"
}

@test "keep-going on a count stream reports and continues" {
    printf '%s\n' '{"tp":1,"fp":1,"tn":1,"fn":1}' '{"tp":-1,"fp":1,"tn":1,"fn":1}' '{"tp":2,"fp":1,"tn":1,"fn":1}' >"$TMP/in"
    run --separate-stderr dp-estimate -d 0 --keep-going --errors "$TMP/err" "$TMP/in"
    [ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 2 ] || fail "$status: $output"
    grep -q '"line":2,"col":7,"error":"count \\"tp\\" is negative (-1)"' "$TMP/err" || fail "$(cat "$TMP/err")"
}

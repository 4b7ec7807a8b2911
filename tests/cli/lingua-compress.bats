#!/usr/bin/env bats
# lingua-compress.bats - the lingua-compress command: every golden case of
# llmlingua 0.2.2 on the tiny models through the command line, fields,
# per-record overrides, --text, threads, token counting fallbacks and errors.

load helpers

setup() {
    TMP="$(mktemp -d)"
    CL="$CL100K"
    TINY="$TOP/testdata/tokenize/tiny.tiktoken"
    BERT="$TOP/testdata/models/tiny-bert"
    XLMR="$TOP/testdata/models/tiny-xlmr"
    P='{"prompt":"The committee met on Monday to discuss the new budget proposal."}'
}
teardown() {
    rm -rf "$TMP"
}

need_cl() { [ -f "$CL" ] || fail "no $CL: run make fixtures"; }

@test "golden cases: the command reproduces llmlingua 0.2.2 (strings, counts, labels), prompts batched" {
    need_cl
    # cases with the same options run as the records of one process, so their
    # chunks share forward passes; make gpu-check runs it with --device cuda
    run python3 "$TOP/tests/lingua-golden-check.py" "$CL" --device cpu
    echo "$output"
    assert_success
}

@test "XLM-R chunks keep an unknown piece's own normalised text (combining marks, compatibility characters, marker-inserting normalisers), as llmlingua 0.2.2" {
    need_cl
    run --separate-stderr lingua-compress -q -m "$XLMR" --count-encoding "$CL" --rate 1 <<<'{"prompt":"x n\u0303 y"}
{"prompt":"Caf\u00e9 \ufb01ne \uff21\uff22 \u01c6 x"}'
    assert_success
    assert_line --index 0 --partial '"compressed_prompt":"x ñ y","origin_tokens":5,"compressed_tokens":4,'
    assert_line --index 1 --partial '"compressed_prompt":"Café fine AB dž x",'
    # a normaliser that inserts case markers: they stay in the chunk text
    run --separate-stderr lingua-compress -q -m "$TOP/testdata/models/tiny-xlmr-marian" --count-encoding "$CL" \
        --rate 1 <<<'{"prompt":"Caf\u00e9 \ufb01ne \uff21\uff22 \u01c6 x"}'
    assert_success
    assert_output --partial '"compressed_prompt":"Ucafé ﬁne UａUｂ ǆ x",'
}

@test "prompt string: the reference's output fields, input passes through" {
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<"$P"
    assert_success
    assert_output '{"prompt":"The committee met on Monday to discuss the new budget proposal.","compressed_prompt":"met on Monday discuss new","origin_tokens":24,"compressed_tokens":10,"ratio":2.4,"rate":0.4166666666666667,"saving":", Saving $0.0 in GPT-4."}'
    [ -z "$stderr" ]
}

@test "context list: compressed_prompt_list, --field picks another member" {
    run --separate-stderr lingua-compress -m "$XLMR" --count-encoding "$TINY" <<<'{"context":["One two three.","Four five."]}'
    assert_success
    assert_output --partial '"compressed_prompt_list":['
    run --separate-stderr lingua-compress -m "$XLMR" --count-encoding "$TINY" --field q <<<'{"q":["One two three.","Four five."]}'
    assert_success
    assert_output --partial '"compressed_prompt_list":['
}

@test "a record's rate and target_token override the options" {
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"prompt":"The committee met on Monday to discuss the new budget proposal.","rate":1}'
    assert_success
    assert_output --partial '"rate":1,"compressed_prompt":"The committee met on Monday to discuss the new budget proposal."'
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"prompt":"The committee met on Monday to discuss the new budget proposal.","target_token":5}'
    assert_success
    refute_output --partial '"compressed_tokens":10,'
}

@test "empty prompt: empty result, ratio and rate 1" {
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"prompt":""}'
    assert_success
    assert_output '{"prompt":"","compressed_prompt":"","origin_tokens":0,"compressed_tokens":0,"ratio":1,"rate":1,"saving":", Saving $0.0 in GPT-4."}'
}

@test "--text compresses all of stdin and writes text" {
    run --separate-stderr lingua-compress -m "$XLMR" -q --text --rate 0.3 --force-reserve-digit --force-tokens '!' <<<'Call me at 555-0199. Bye!'
    assert_success
    assert_output '555-0199!'
}

@test "--word-labels adds the labelled words, --token-probs the encoder's tokens" {
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --word-labels --label-sep = --word-sep '|' <<<"$P"
    assert_success
    assert_output --partial '"fn_labeled_original_prompt":"The=0|committee=0|met=1|'
    assert_output --partial '"words":[{"word":"The","prob":0.'
    # the words array says what the labelled string says, and keep follows the output
    [ "$(jq -r '[.words[] | .word + "=" + (if .keep then "1" else "0" end)] | join("|")' <<<"$output")" = \
      "$(jq -r .fn_labeled_original_prompt <<<"$output")" ]
    [ "$(jq -r '[.words[] | select(.keep) | .word] | join(" ")' <<<"$output")" = "met on Monday discuss new" ]
    [ "$(jq '[.words[] | .prob | select(. > 0 and . < 1)] | length' <<<"$output")" -eq 12 ]
    refute_output --partial '"token_probs"'
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --token-probs <<<"$P"
    assert_success
    refute_output --partial '"words"'
    # one entry per model token, as the tokenizer splits the text (no [CLS]/[SEP])
    n=$(tokenize -t "$BERT" --no-special --field prompt <<<"$P" | jq .n_tokens)
    [ "$(jq '.token_probs | length' <<<"$output")" -eq "$n" ]
    [ "$(jq -r '.token_probs[0].token' <<<"$output")" = The ]
    [ "$(jq '[.token_probs[] | .prob | select(. > 0 and . < 1)] | length' <<<"$output")" -eq "$n" ]
    # at rate 1 nothing needs the encoder, but --token-probs runs it
    run --separate-stderr lingua-compress -m "$XLMR" --count-encoding "$TINY" --token-probs --rate 1 <<<"$P"
    assert_success
    [ "$(jq '.token_probs | length' <<<"$output")" -gt 5 ]
    [ "$(jq -r '.token_probs[0].token' <<<"$output")" = "▁The" ]
}

@test "--compat compress_prompt turns the context filter on; the last of --context-filter/--no-context-filter counts" {
    r='{"context":["The budget passed.","It rained today.","Parks get funds."]}'
    lc=(lingua-compress -m "$XLMR" --count-encoding "$TINY" --rate 0.5 -q)
    [ "$("${lc[@]}" <<<"$r" | jq -c .compressed_prompt_list)" = '["budget","rained","get"]' ]
    [ "$("${lc[@]}" --compat compress_prompt <<<"$r" | jq -c .compressed_prompt_list)" = '["budget","get"]' ]
    [ "$("${lc[@]}" --compat compress_prompt --no-context-filter <<<"$r" | jq -c .compressed_prompt_list)" = \
      '["budget","rained","get"]' ]
    [ "$("${lc[@]}" --no-context-filter --context-filter <<<"$r" | jq -c .compressed_prompt_list)" = '["budget","get"]' ]
    run --separate-stderr "${lc[@]}" --compat llmlingua3 <<<"$r"
    [ "$status" -eq 2 ]
}

@test "--special-ends proper gives XLM-R its own <s> and </s> (BERT unchanged)" {
    for m in "$BERT" "$XLMR"; do
        lingua-compress -m "$m" --count-encoding "$TINY" --token-probs <<<"$P" >"$TMP/ref"
        lingua-compress -m "$m" --count-encoding "$TINY" --token-probs --special-ends proper <<<"$P" >"$TMP/proper"
        jq -c '[.token_probs[].token]' "$TMP/ref" >"$TMP/ref.tokens"
        jq -c '[.token_probs[].token]' "$TMP/proper" >"$TMP/proper.tokens"
        cmp "$TMP/ref.tokens" "$TMP/proper.tokens"
        if [ "$m" = "$BERT" ]; then cmp "$TMP/ref" "$TMP/proper"; else ! cmp -s "$TMP/ref" "$TMP/proper"; fi
    done
    run --separate-stderr lingua-compress -m "$XLMR" --special-ends sometimes <<<"$P"
    [ "$status" -eq 2 ]
}

@test "threads, batch size and batching across records do not change the output" {
    for i in 1 2 3 4 5 6; do echo "$P"; echo '{"context":["A b c.","D e f g."]}'; done >"$TMP/in"
    # and a prompt of many chunks of different lengths (packed per pass)
    long=$(for i in $(seq 1 40); do printf 'Sentence %d says %.*s. ' "$i" $((i % 9 * 12)) \
        "the budget of the committee was discussed again on Monday with the new proposal "; done)
    printf '{"prompt":"%s"}\n' "$long" >>"$TMP/in"
    lingua-compress -m "$BERT" --count-encoding "$TINY" --threads 1 --batch-size 1 "$TMP/in" >"$TMP/a"
    lingua-compress -m "$BERT" --count-encoding "$TINY" --threads 2 --batch-size 7 "$TMP/in" >"$TMP/b"
    lingua-compress -m "$BERT" --count-encoding "$TINY" --threads 2 "$TMP/in" >"$TMP/c"
    lingua-compress -m "$BERT" --count-encoding "$TINY" --unbuffered "$TMP/in" >"$TMP/d"
    cmp "$TMP/a" "$TMP/b"
    cmp "$TMP/a" "$TMP/c"
    cmp "$TMP/a" "$TMP/d"
    [ "$(wc -l <"$TMP/a")" -eq 13 ]
}

@test "--timing: one JSON line on stderr, the output unchanged" {
    for i in 1 2 3; do echo "$P"; done >"$TMP/in"
    echo '{"prompt":"All of it stays.","rate":1}' >>"$TMP/in"
    lingua-compress -m "$BERT" --count-encoding "$TINY" "$TMP/in" >"$TMP/plain"
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --timing -q "$TMP/in"
    assert_success
    [ "$output" = "$(cat "$TMP/plain")" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    t=${stderr#lingua-compress: timing: }
    [ "$(jq '.records' <<<"$t")" -eq 4 ]
    # three records need the encoder, one chunk each; the fourth keeps everything
    [ "$(jq '.chunks' <<<"$t")" -eq 3 ]
    [ "$(jq '.tokens > 0 and .encoder_s >= 0 and .total_s >= .encoder_s' <<<"$t")" = true ]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --timing --text <<<"A short text."
    assert_success
    [ "$(jq '.records' <<<"${stderr#lingua-compress: timing: }")" -eq 1 ]
}

@test "with no flag the counts are cl100k_base's (golden tiktoken counts), and no fallback note" {
    LMKIT_TIKTOKEN= TIKTOKEN_CACHE_DIR="$TMP/none" DATA_GYM_CACHE_DIR= TMPDIR="$TMP" \
        run --separate-stderr lingua-compress -m "$BERT" --field text "$TOP/testdata/text/hostile.jsonl"
    assert_success
    [ -z "$stderr" ] || fail "$stderr"
    printf '%s\n' "$output" >"$TMP/out.jsonl"
    run python3 "$TOP/tests/cli/golden_cl100k.py" "$TMP/out.jsonl" "$TOP/testdata/golden/tiktoken/cl100k_base.jsonl" origin_tokens
    assert_success
}

@test "without a count encoding the model tokenizer counts, said once on stderr" {
    # a copy of the binary has no share/lmkit beside it
    mkdir "$TMP/cache" "$TMP/bin"
    cp "$BIN/lingua-compress" "$TMP/bin/"
    for i in 1 2 3; do echo "$P"; done >"$TMP/in"
    LMKIT_TIKTOKEN= TIKTOKEN_CACHE_DIR="$TMP/cache" DATA_GYM_CACHE_DIR= TMPDIR="$TMP" \
        run --separate-stderr "$TMP/bin/lingua-compress" -m "$BERT" "$TMP/in"
    assert_success
    [ "$(grep -c "counting tokens with the model's tokenizer" <<<"$stderr")" -eq 1 ]
    [ "${#lines[@]}" -eq 3 ]
}

@test "the count encoding is found through LMKIT_TIKTOKEN" {
    LMKIT_TIKTOKEN="$TINY" run --separate-stderr lingua-compress -m "$BERT" <<<"$P"
    assert_success
    assert_output --partial '"origin_tokens":24,'
    [ -z "$stderr" ]
}

@test "bad records: missing or non-string prompt, bad rate or target_token, bad context item" {
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"text":"x"}'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *'<stdin>:1'*'no "prompt" field'* ]]
    [[ "$stderr" == *hint:* ]]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"prompt":3}'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *'<stdin>:1:11: "prompt" must be a string'* ]] || [[ "$stderr" == *'<stdin>:1:11: "prompt" must be a string or a list'* ]]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"prompt":"a","rate":1.5}'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *':1:22: "rate" must be a number in (0, 1]'* ]]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"prompt":"a","rate":0}'
    [ "$status" -eq 1 ]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"prompt":"a","target_token":-5}'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *'"target_token" must be an integer'* ]]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" <<<'{"context":["a",2]}'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *'item 2 must be a string'* ]]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --context-filter <<<'{"context":["a","b"],"target_token":0}'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *'target_token 0 with the context filter'* ]]
}

@test "usage errors: rate, force tokens, model, device" {
    run --separate-stderr lingua-compress -m "$BERT" --rate 0 </dev/null
    [ "$status" -eq 2 ]
    [[ "$stderr" == *--rate* ]]
    run --separate-stderr lingua-compress -m "$BERT" --rate 1.01 </dev/null
    [ "$status" -eq 2 ]
    run --separate-stderr lingua-compress -m "$BERT" --force-tokens "$(printf 'a%d,' $(seq 0 100))x" </dev/null
    [ "$status" -eq 2 ]
    [[ "$stderr" == *'at most 100'* ]]
    run --separate-stderr lingua-compress -m "$BERT" --force-tokens 'a,\q' </dev/null
    [ "$status" -eq 2 ]
    LMKIT_MODEL= run --separate-stderr lingua-compress </dev/null
    [ "$status" -eq 2 ]
    [[ "$stderr" == *'no model'* ]]
    [[ "$stderr" == *'hint:'*'--model'* ]]
    if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then # no GPU: cuda is a usage error
        run --separate-stderr lingua-compress -m "$BERT" --device cuda </dev/null
        [ "$status" -eq 2 ]
        [[ "$stderr" == *'--device cuda: '* ]]
        [[ "$stderr" == *'hint:'*'--device cpu'* ]]
    fi
}

@test "a missing or broken model folder or rank file is bad data: exit 1, naming the file" {
    mkdir "$TMP/m"
    cp "$BERT/config.json" "$TMP/m/"
    run --separate-stderr lingua-compress -m "$TMP/m" <<<"$P"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ "$stderr" == *'model.safetensors'* ]] || fail "$stderr"
    run --separate-stderr lingua-compress -m "$TMP/nope" <<<"$P"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"cannot open model folder '$TMP/nope'"* ]] || fail "$stderr"
    # a WordPiece tokenizer whose unk_token is not in its vocabulary: the
    # file is named when the model loads, not the first record it fails on
    cp -r "$BERT" "$TMP/unk"
    sed 's/"unk_token": *"\[UNK\]"/"unk_token":"[NOPE]"/' "$BERT/tokenizer.json" >"$TMP/unk/tokenizer.json"
    ! cmp -s "$BERT/tokenizer.json" "$TMP/unk/tokenizer.json"
    run --separate-stderr lingua-compress -m "$TMP/unk" --count-encoding "$TINY" <<<'{"prompt":"hello \u2603 world"}'
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ "$stderr" == "lingua-compress: $TMP/unk/tokenizer.json: model.unk_token '[NOPE]' is not in model.vocab"* ]] ||
        fail "$stderr"
    printf 'xx\n' >"$TMP/bad.tiktoken"
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TMP/bad.tiktoken" <<<"$P"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ "$stderr" == "lingua-compress: $TMP/bad.tiktoken:1: expected \"BASE64 RANK\""* ]] || fail "$stderr"
    [ -f "$CL" ] || return 0
    cp "$CL" "$TMP/o200k_base.tiktoken"
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TMP/o200k_base.tiktoken" <<<"$P"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ "$stderr" == *"o200k_base.tiktoken: 100256 ranks, the size of a cl100k_base rank file, not o200k_base"* ]] ||
        fail "$stderr"
    [[ "$stderr" == *"hint: --count-encoding takes the cl100k_base rank file"* ]] || fail "$stderr"
}

@test "a trailing backslash in --force-tokens or --chunk-end-tokens is named, exit 2" {
    run --separate-stderr lingua-compress -m "$BERT" --force-tokens 'a\' </dev/null
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [ "${stderr_lines[0]}" = "lingua-compress: invalid --force-tokens 'a\\': trailing backslash (write \\\\ for a backslash)" ] ||
        fail "$stderr"
    [ "${stderr_lines[1]}" = "Try 'lingua-compress --help' for more information." ] || fail "$stderr"
    run --separate-stderr lingua-compress -m "$BERT" --chunk-end-tokens '.,\' </dev/null
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"invalid --chunk-end-tokens '.,\': trailing backslash"* ]] || fail "$stderr"
    run --separate-stderr lingua-compress -m "$BERT" --force-tokens 'a,\q' </dev/null
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"unknown escape '\q'"* ]] || fail "$stderr"
}

@test "the model path can come from LMKIT_MODEL" {
    LMKIT_MODEL="$BERT" run --separate-stderr lingua-compress --count-encoding "$TINY" <<<"$P"
    assert_success
    assert_output --partial '"compressed_prompt":"met on Monday discuss new"'
}

@test "--text reads one FILE or standard input" {
    printf 'Call me at 555-0199. Bye!\n' >"$TMP/t.txt"
    run --separate-stderr lingua-compress -m "$XLMR" -q --text --rate 0.3 --force-reserve-digit --force-tokens '!' "$TMP/t.txt"
    assert_success
    assert_output '555-0199!'
    run --separate-stderr lingua-compress -m "$XLMR" -q --text --rate 0.3 --force-reserve-digit --force-tokens '!' - <"$TMP/t.txt"
    assert_output '555-0199!'
    run --separate-stderr lingua-compress -m "$BERT" --text "$TMP/t.txt" "$TMP/t.txt" </dev/null
    [ "$status" -eq 2 ]
    [[ "$stderr" == *'--text compresses one text: give one FILE (or - for standard input), not 2'* ]]
    run --separate-stderr lingua-compress -m "$BERT" --text "$TMP/missing.txt" </dev/null
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"cannot open '$TMP/missing.txt'"* ]]
    [ -z "$output" ]
}

@test "real-model runner: skips without LMKIT_REAL_MODEL; on another model it fails but the counts agree" {
    need_cl
    LMKIT_REAL_MODEL= run python3 "$TOP/tests/golden/lingua_real_model.py"
    assert_success
    assert_output "skipped: set LMKIT_REAL_MODEL to the microsoft/llmlingua-2-xlm-roberta-large-meetingbank folder"
    # the tiny model keeps other words, but origin_tokens depends on the inputs only
    LMKIT_REAL_MODEL="$XLMR" LMKIT_TIKTOKEN="$CL" run python3 "$TOP/tests/golden/lingua_real_model.py"
    [ "$status" -eq 1 ]
    assert_output --partial "0 of 6 identical"
    refute_output --partial "origin_tokens:"
    [ "$(grep -c '^FAIL case' <<<"$output")" -eq 6 ]
}

@test "streaming: 10,000 records in bounded memory, and --shard K/N splits them exactly" {
    [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1 || skip "no GNU /usr/bin/time -v"
    awk 'BEGIN { for (i = 0; i < 10000; i++) printf "{\"id\":%d,\"prompt\":\"Item %d met on day %d.\"}\n", i, i, i % 31 }' >"$TMP/in.jsonl"
    head -n 1000 "$TMP/in.jsonl" >"$TMP/in1k.jsonl"
    lc=(lingua-compress -m "$BERT" --count-encoding "$TINY" --rate 0.5 -q)
    rss() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$1"; }
    /usr/bin/time -v -o "$TMP/t1k" "${lc[@]}" "$TMP/in1k.jsonl" >"$TMP/out1k.jsonl"
    /usr/bin/time -v -o "$TMP/t10k" "${lc[@]}" "$TMP/in.jsonl" >"$TMP/out.jsonl"
    [ "$(wc -l <"$TMP/out.jsonl")" -eq 10000 ]
    cmp <(head -n 1000 "$TMP/out.jsonl") "$TMP/out1k.jsonl"
    r1=$(rss "$TMP/t1k") r10=$(rss "$TMP/t10k")
    echo "peak RSS: 1,000 records $r1 kB, 10,000 records $r10 kB"
    [ "$r10" -lt $((2 * r1)) ]
    for k in 0 1 2; do "${lc[@]}" --shard "$k/3" "$TMP/in.jsonl" >"$TMP/shard$k.jsonl"; done
    [ "$(wc -l <"$TMP/shard1.jsonl")" -eq 3333 ]
    grep -q '^{"id":4,' "$TMP/shard1.jsonl"
    cmp <(sort "$TMP"/shard?.jsonl) <(sort "$TMP/out.jsonl")
}

@test "--html: a valid page, one word element per word, text escaped, written atomically" {
    command -v xmllint >/dev/null || skip "no xmllint"
    in='{"prompt":"A <b> & c > d.\nNew \"line\" here."}'
    run --separate-stderr lingua-compress -m "$XLMR" --count-encoding "$TINY" --word-labels --html "$TMP/v.html" <<<"$in"
    assert_success
    words=$(jq '.words | length' <<<"$output")
    xmllint --noout "$TMP/v.html"
    xmllint --html --noout "$TMP/v.html"
    n=$(xmllint --xpath "count(//*[local-name()='span'][@class='k' or @class='d'])" "$TMP/v.html")
    [ "$n" -eq "$words" ]
    kept=$(xmllint --xpath "count(//*[local-name()='span'][@class='k'])" "$TMP/v.html")
    [ "$kept" -eq "$(jq '[.words[] | select(.keep)] | length' <<<"$output")" ]
    grep -q '&lt;b' "$TMP/v.html"
    grep -q '&amp;' "$TMP/v.html"
    grep -q '&gt;' "$TMP/v.html"
    grep -q '&lt;stdin&gt;:1' "$TMP/v.html"
    [ "$(grep -c '<b>' "$TMP/v.html")" -eq 0 ]
    [ "$(ls -A "$TMP")" = v.html ]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --html "$TMP/no/such/dir/v.html" <<<"$P"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
}

@test "--html: records of several files in order, with --text too" {
    command -v xmllint >/dev/null || skip "no xmllint"
    printf '%s\n%s\n' "$P" '{"prompt":"Second record here."}' >"$TMP/a.jsonl"
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --threads 2 --html "$TMP/v.html" "$TMP/a.jsonl"
    assert_success
    xmllint --noout "$TMP/v.html"
    run xmllint --xpath "//*[local-name()='h2']/text()" "$TMP/v.html"
    assert_line --index 0 --partial 'a.jsonl:1'
    assert_line --index 1 --partial 'a.jsonl:2'
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --text --html "$TMP/t.html" <<<'The committee met on Monday.'
    assert_success
    assert_output 'met on'
    xmllint --noout "$TMP/t.html"
    [ "$(xmllint --xpath "count(//*[local-name()='span'][@class='k' or @class='d'])" "$TMP/t.html")" -eq 6 ]
}

@test "--color: --text shows the original words, dropped ones in SGR 2 ... SGR 22" {
    txt='The committee met on Monday to discuss the new budget proposal.'
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --text --color=always <<<"$txt"
    assert_success
    assert_output --partial $'\e[2mThe committee\e[22m met on Monday \e[2mto\e[22m discuss'
    [ "$(sed 's/\x1b\[2m//g; s/\x1b\[22m//g' <<<"$output")" = "$txt" ]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --text --color=never <<<"$txt"
    assert_output 'met on Monday discuss new'
    [[ "$output" != *$'\e'* ]]
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --text --color=auto <<<"$txt"
    assert_output 'met on Monday discuss new'
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --color=always <<<"$P"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"--html"* ]]
}

@test "--view: records as text, a header each, in order; --color dims the dropped words" {
    printf '%s\n' "$P" '{"context":["The budget passed.","It rained today."]}' "$P" >"$TMP/in"
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --threads 2 --view "$TMP/in"
    assert_success
    assert_line --index 0 "==> $TMP/in:1: ratio 2.4x, 24 -> 10 tokens <=="
    assert_line --index 1 'met on Monday discuss new'
    assert_line --index 2 --partial "==> $TMP/in:2: ratio "
    [ "$(grep -c '^==> ' <<<"$output")" -eq 3 ]
    assert_line --index 6 'met on Monday discuss new'
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --view --color always <<<"$P"
    assert_success
    assert_line --index 1 $'\e[2mThe committee\e[22m met on Monday \e[2mto\e[22m discuss \e[2mthe\e[22m new \e[2mbudget proposal.\e[22m'
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --view --text <<<"$P"
    [ "$status" -eq 2 ]
    printf '%s\n' "$P" '{"prompt":3}' >"$TMP/bad"
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" --view "$TMP/bad"
    [ "$status" -eq 1 ]
    assert_output --partial 'met on Monday discuss new'
    [[ "$stderr" == *"bad:2:"* ]]
}

@test "gpu-check's lingua step compares two devices record by record (run here as cpu against cpu)" {
    DEVICES="cpu cpu" run sh "$TOP/tests/gpu-lingua.sh" "$(dirname "$(command -v lingua-compress)")" "$BERT" "$TMP"
    assert_success
    assert_output --partial '"model":"tiny-bert","devices":"cpu cpu","records":360,"differ":0,'
    [ "$(wc -l <"$TMP/lingua.jsonl")" -eq 1 ]
}

@test "bench/lingua-device.sh times two devices end to end (run here as cpu against cpu, tiny shape)" {
    san=
    [ -n "${SAN:-}" ] && san="-fsanitize=address,undefined"
    CFLAGS=$san DEVICES="cpu cpu" SHAPES=tiny LENGTHS=300 MANY=4x60 BUILD="$(dirname "$BIN")" \
        run --separate-stderr sh "$TOP/bench/lingua-device.sh"
    assert_success
    [ "${#lines[@]}" -eq 2 ]
    jq -e '.shape == "tiny" and .records == 1 and .same_output and ."1".device == "cpu" and ."2".timing.tokens > 0' \
        <<<"${lines[0]}"
    jq -e '.records == 4 and .same_output and ."1".timing.records == 4' <<<"${lines[1]}"
    DEVICES=cpu run --separate-stderr sh "$TOP/bench/lingua-device.sh"
    [ "$status" -eq 2 ]
}

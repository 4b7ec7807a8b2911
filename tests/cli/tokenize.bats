#!/usr/bin/env bats
# tokenize.bats - the tokenize command: tiktoken ids against tiktoken's,
# counts, offsets in characters, fields, special tokens, threads, malformed
# rank files, tokenizer.json and model folders.

load helpers

setup() {
    TMP="$(mktemp -d)"
    CL="$CL100K"
    TINY="$TOP/testdata/tokenize/tiny.tiktoken"
}
teardown() {
    rm -rf "$TMP"
}

need_cl() { [ -f "$CL" ] || fail "no $CL: run make fixtures"; }

@test "cl100k_base ids of the hostile texts are tiktoken's (golden)" {
    need_cl
    run --separate-stderr tokenize -t "$CL" --ids "$TOP/testdata/text/hostile.jsonl"
    assert_success
    printf '%s\n' "$output" >"$TMP/out.jsonl"
    run python3 "$TOP/tests/cli/golden_cl100k.py" "$TMP/out.jsonl" "$TOP/testdata/golden/tiktoken/cl100k_base.jsonl" n_tokens --ids
    assert_success
}

@test "--encoding cl100k_base needs no file: counts are tiktoken's (golden), from the build tree's share/lmkit" {
    LMKIT_TIKTOKEN= TIKTOKEN_CACHE_DIR="$TMP/none" DATA_GYM_CACHE_DIR= TMPDIR="$TMP" \
        run --separate-stderr tokenize --encoding cl100k_base "$TOP/testdata/text/hostile.jsonl" \
        "$TOP/testdata/golden/tiktoken/stress.jsonl"
    assert_success
    [ -z "$stderr" ] || fail "$stderr"
    printf '%s\n' "$output" >"$TMP/out.jsonl"
    run python3 "$TOP/tests/cli/golden_cl100k.py" "$TMP/out.jsonl" "$TOP/testdata/golden/tiktoken/cl100k_base.jsonl" n_tokens --stress
    assert_success
    # the same ids as with the file named
    echo '{"text":"Hello world"}' | tokenize -e cl100k_base --ids >"$TMP/a"
    echo '{"text":"Hello world"}' | tokenize -t "$CL" --ids >"$TMP/b"
    cmp "$TMP/a" "$TMP/b"
    [ "$(cat "$TMP/a")" = '{"text":"Hello world","n_tokens":2,"ids":[9906,1917]}' ]
}

@test "--encoding without a file: LMKIT_TIKTOKEN, then share/lmkit beside the binary, then tiktoken's cache; else where it looked" {
    # a copy of the binary has no share/lmkit beside it
    mkdir -p "$TMP/bin" "$TMP/cache"
    cp "$BIN/tokenize" "$TMP/bin/"
    env=(env LMKIT_TIKTOKEN= TIKTOKEN_CACHE_DIR="$TMP/cache" DATA_GYM_CACHE_DIR= TMPDIR="$TMP")
    run --separate-stderr "${env[@]}" "$TMP/bin/tokenize" -e cl100k_base <<<'{"text":"x"}'
    [ "$status" -eq 2 ]
    [[ ${stderr_lines[0]} == "tokenize: no cl100k_base rank file: searched \$LMKIT_TIKTOKEN (unset), $TMP/share/lmkit/cl100k_base.tiktoken, tiktoken's cache"* ]] ||
        fail "$stderr"
    [ "${stderr_lines[1]}" = "hint: pass the rank file with --tokenizer FILE" ] || fail "$stderr"
    [ -z "$output" ]
    # kimi_k2 has no cache entry: only the share folder is searched
    run --separate-stderr "${env[@]}" "$TMP/bin/tokenize" -e kimi_k2 <<<'{"text":"x"}'
    [ "$status" -eq 2 ]
    [ "${stderr_lines[0]}" = "tokenize: no kimi_k2 rank file: searched $TMP/share/lmkit/kimi_k2.tiktoken" ] || fail "$stderr"
    # tiktoken's cache: the file named by the SHA-1 of its download URL
    cp "$TINY" "$TMP/cache/9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
    run --separate-stderr "${env[@]}" "$TMP/bin/tokenize" -e cl100k_base <<<'{"text":"ab"}'
    assert_success
    expected=$(tokenize -t "$TINY" -e cl100k_base <<<'{"text":"ab"}')
    assert_output "$expected"
    # the share folder beside the binary comes before the cache
    mkdir -p "$TMP/share/lmkit"
    cp "$CL" "$TMP/share/lmkit/"
    run --separate-stderr "${env[@]}" "$TMP/bin/tokenize" -e cl100k_base <<<'{"text":"Hello world"}'
    assert_output '{"text":"Hello world","n_tokens":2}'
    # LMKIT_TIKTOKEN before both
    LMKIT_TIKTOKEN="$TINY" run --separate-stderr "$TMP/bin/tokenize" -e cl100k_base <<<'{"text":"ab"}'
    assert_output "$expected"
}

@test "counting alone gives the same n_tokens as listing ids, at any thread count" {
    need_cl
    tokenize -t "$CL" --ids --threads 1 "$TOP/testdata/text/hostile.jsonl" | grep -o '"n_tokens":[0-9]*' >"$TMP/a"
    tokenize -t "$CL" --threads 2 "$TOP/testdata/text/hostile.jsonl" | grep -o '"n_tokens":[0-9]*' >"$TMP/b"
    [ "$(wc -l <"$TMP/a")" -eq 360 ]
    cmp "$TMP/a" "$TMP/b"
    tokenize -t "$CL" --ids --tokens --offsets --threads 1 "$TOP/testdata/text/hostile.jsonl" >"$TMP/c"
    tokenize -t "$CL" --ids --tokens --offsets --threads 2 "$TOP/testdata/text/hostile.jsonl" >"$TMP/d"
    cmp "$TMP/c" "$TMP/d"
}

@test "offsets are character offsets; pieces of one character share its span" {
    need_cl
    run --separate-stderr tokenize -t "$CL" --offsets --ids <<<'{"text":"\u00e9t\u00e9 \ud83d\ude00!"}'
    assert_success
    # "été" is one token of 5 bytes and 3 characters; " 😀" (a surrogate pair in JSON) is 2 characters
    assert_output --partial '"offsets":[[0,3],[3,5],[5,6]]'
    run --separate-stderr tokenize -t "$TINY" -e cl100k_base --offsets --tokens <<<'{"text":"\u65e5x"}'
    assert_success
    assert_output --partial '"offsets":[[0,1],[0,1],[0,1],[1,2]]'
}

@test "--allow-special turns special-token text into the special token" {
    need_cl
    run tokenize -t "$CL" --ids <<<'{"text":"<|endoftext|>"}'
    assert_output --partial '"n_tokens":7,'
    run tokenize -t "$CL" --ids --allow-special <<<'{"text":"<|fim_prefix|>a<|fim_suffix|><|endofprompt|>"}'
    assert_output --partial '"ids":[100258,64,100260,100276]'
    # --no-special changes nothing for a rank file
    run tokenize -t "$CL" --ids --no-special <<<'{"text":"<|endoftext|>"}'
    assert_output --partial '"n_tokens":7,'
}

@test "--tokens shows token bytes, U+FFFD for partial characters" {
    run --separate-stderr tokenize -t "$TINY" -e cl100k_base --tokens <<<'{"text":"Hi \u00e9\u65e5"}'
    assert_success
    want=$(printf '%s' '{"text":"Hi \u00e9\u65e5","n_tokens":7,"tokens":["H","i"," ","'; printf '\303\251'
           printf '","\357\277\275","\357\277\275","\357\277\275"]}')
    assert_output "$want"
}

@test "--field reads another field; a missing or non-string field is an error with its position" {
    run --separate-stderr tokenize -t "$TINY" -e cl100k_base --field prompt <<<'{"prompt":"abc abc"}'
    assert_success
    assert_output '{"prompt":"abc abc","n_tokens":4}'
    printf '{"text":"ok"}\n{"txt":"x"}\n' >"$TMP/in"
    run --separate-stderr tokenize -t "$TINY" -e cl100k_base "$TMP/in"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ $stderr == "tokenize: $TMP/in:2: no \"text\" field"* ]] || fail "$stderr"
    [[ $stderr == *"hint: "*"--field"* ]] || fail "$stderr"
    run --separate-stderr tokenize -t "$TINY" -e cl100k_base <<<'{"a":1, "text":[1]}'
    [ "$status" -eq 1 ]
    [[ $stderr == 'tokenize: <stdin>:1:16: "text" must be a string, not an array'* ]] || fail "$stderr"
}

@test "malformed rank files are reported with file and line, exit 1, nothing written" {
    printf 'IQ== 0\nI*== 1\n' >"$TMP/a.tiktoken"
    run --separate-stderr tokenize -t "$TMP/a.tiktoken" -e cl100k_base <<<'{"text":"x"}'
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ $stderr == "tokenize: $TMP/a.tiktoken:2:2: bad base64"* ]] || fail "$stderr"
    printf 'IQ== 0\nIg== 0\n' >"$TMP/b.tiktoken"
    run --separate-stderr tokenize -t "$TMP/b.tiktoken" -e cl100k_base <<<'{"text":"x"}'
    [ "$status" -eq 1 ]
    [[ $stderr == *"b.tiktoken:2: duplicate rank 0 (already on line 1)"* ]] || fail "$stderr"
    printf 'IQ== 0\nIg== 7\n' >"$TMP/c.tiktoken"
    run --separate-stderr tokenize -t "$TMP/c.tiktoken" -e cl100k_base <<<'{"text":"x"}'
    [[ $stderr == *"c.tiktoken:2: rank 7 where 1 was expected"* ]] || fail "$stderr"
    head -300 "$TINY" >"$TMP/d.tiktoken"
    sed -n 3p "$TINY" >>"$TMP/d.tiktoken"
    run --separate-stderr tokenize -t "$TMP/d.tiktoken" -e cl100k_base <<<'{"text":"x"}'
    [[ $stderr == *"d.tiktoken:301: "* ]] || fail "$stderr"
    : >"$TMP/e.tiktoken"
    run --separate-stderr tokenize -t "$TMP/e.tiktoken" -e cl100k_base <<<'{"text":"x"}'
    [ "$status" -eq 1 ]
    [[ $stderr == *"e.tiktoken: no tokens"* ]] || fail "$stderr"
    head -200 "$TINY" >"$TMP/f.tiktoken"
    run --separate-stderr tokenize -t "$TMP/f.tiktoken" -e cl100k_base <<<'{"text":"x"}'
    [[ $stderr == *"has no rank"* ]] || fail "$stderr"
    run --separate-stderr tokenize -t "$TMP/nope.tiktoken" <<<'{"text":"x"}'
    [ "$status" -eq 1 ]
    [[ $stderr == *"cannot open"*"nope.tiktoken"* ]] || fail "$stderr"
}

@test "the encoding comes from the file name or --encoding; usage errors exit 2" {
    run --separate-stderr tokenize -t "$TINY" <<<'{"text":"x"}'
    [ "$status" -eq 2 ]
    [[ $stderr == *"cannot tell the encoding"*"--encoding"* ]] || fail "$stderr"
    run --separate-stderr tokenize -t "$TINY" -e gpt5 <<<'{"text":"x"}'
    [ "$status" -eq 2 ]
    run --separate-stderr tokenize <<<'{"text":"x"}'
    [ "$status" -eq 2 ]
    [[ $stderr == *"--tokenizer PATH or --encoding NAME is required"* ]] || fail "$stderr"
    cp "$TINY" "$TMP/o200k_base.tiktoken"
    run --separate-stderr tokenize -t "$TMP/o200k_base.tiktoken" <<<'{"text":"x"}'
    assert_success
    echo '{"model":{}}' >"$TMP/tokenizer.json"
    run --separate-stderr tokenize -t "$TMP/tokenizer.json" -e cl100k_base <<<'{"text":"x"}'
    [ "$status" -eq 2 ]
    [[ $stderr == *"--encoding applies to tiktoken rank files"* ]] || fail "$stderr"
}

@test "a model folder with tiktoken.model is read as a rank file" {
    mkdir "$TMP/m"
    cp "$TINY" "$TMP/m/tiktoken.model"
    run --separate-stderr tokenize -t "$TMP/m" -e cl100k_base --ids <<<'{"text":"Hello"}'
    assert_success
    assert_output '{"text":"Hello","n_tokens":3,"ids":[39,301,385]}'
    mkdir "$TMP/empty"
    run --separate-stderr tokenize -t "$TMP/empty" <<<'{"text":"x"}'
    [ "$status" -eq 1 ]
    [[ $stderr == *"no tokenizer.json and no tiktoken rank file"* ]] || fail "$stderr"
}

@test "Kimi K2 tiktoken.model: encoding inferred from the path, non-UTF-8 tokens load" {
    K="$FIXTURES/tiktoken/kimi-k2-instruct/tiktoken.model"
    run --separate-stderr tokenize -t "$K" --ids <<<'{"text":"\u4f60\u597d\u4e16\u754c\uff0cHello!"}'
    assert_success
    assert_output --partial '"n_tokens":5,"ids":[33845,2243,378,19180,0]'
}

@test "tokenizer.json: gpt2 ids, bert special tokens and offsets" {
    G="$FIXTURES/tokenizers/gpt2/tokenizer.json"
    B="$FIXTURES/tokenizers/bert-base-uncased"
    run --separate-stderr tokenize -t "$G" --ids <<<'{"text":"Hello world"}'
    assert_success
    assert_output '{"text":"Hello world","n_tokens":2,"ids":[15496,995]}'
    run --separate-stderr tokenize -t "$B" --ids --offsets <<<'{"text":"hello world"}'
    assert_success
    assert_output --partial '"ids":[101,7592,2088,102],"offsets":[[0,0],[0,5],[6,11],[0,0]]'
    run --separate-stderr tokenize -t "$B" --ids --no-special <<<'{"text":"hello world"}'
    assert_output --partial '"ids":[7592,2088]'
    run --separate-stderr tokenize -t "$B" --allow-special <<<'{"text":"x"}'
    [ "$status" -eq 2 ]
    # character offsets as Python's tokenizers reports them (byte-level pieces share a span)
    run --separate-stderr tokenize -t "$G" --offsets <<<'{"text":"h\u00e9llo w\u00f6rld \u65e5\u672c \ud83d\ude00!"}'
    assert_success
    assert_output --partial '"offsets":[[0,1],[1,2],[2,5],[5,7],[7,9],[9,11],[11,13],[12,13],[12,13],[13,14],[13,14],[14,16],[15,16],[16,17]]'
    run --separate-stderr tokenize -t "$B" --offsets <<<'{"text":"h\u00e9llo w\u00f6rld \u65e5\u672c \ud83d\ude00!"}'
    assert_output --partial '"offsets":[[0,0],[0,5],[6,11],[12,13],[13,14],[15,16],[16,17],[0,0]]'
}

@test "tokenizer.json: an lstrip added token's offsets leave out the space it took (roberta-base <mask>)" {
    R="$FIXTURES/tokenizers/roberta-base/tokenizer.json"
    # tokenizers: (2,8) and (3,9); the token takes the spaces, its span does not
    run --separate-stderr tokenize -t "$R" --ids --offsets <<<'{"text":"a <mask>"}
{"text":"a  <mask> b"}
{"text":"\u00e9\u3000<mask>"}'
    assert_success
    assert_line --index 0 '{"text":"a <mask>","n_tokens":4,"ids":[0,102,50264,2],"offsets":[[0,0],[0,1],[2,8],[0,0]]}'
    assert_line --index 1 --partial '"offsets":[[0,0],[0,1],[3,9],[10,11],[0,0]]'
    assert_line --index 2 --partial '"ids":[0,1140,50264,2],"offsets":[[0,0],[0,1],[2,8],[0,0]]'
}

@test "a line with a NUL or control byte says so, at the byte's column" {
    run --separate-stderr tokenize -t "$TINY" -e cl100k_base < <(printf '{"text":"a"}\n\0{"text":"b"}\n')
    [ "$status" -eq 1 ]
    assert_output '{"text":"a","n_tokens":1}'
    [[ $stderr == "tokenize: <stdin>:2:1: NUL byte in the line, expected a JSON object"* ]] || fail "$stderr"
    [[ $stderr == *"hint: NUL bytes between characters mean UTF-16 input"* ]] || fail "$stderr"
    run --separate-stderr tokenize -t "$TINY" -e cl100k_base < <(printf '{"text":"a\0b"}\n')
    [ "$status" -eq 1 ]
    [[ $stderr == "tokenize: <stdin>:1:11: NUL byte in a string: escape it as \\u0000"* ]] || fail "$stderr"
    run --separate-stderr tokenize -t "$TINY" -e cl100k_base < <(printf '{"text":"\xc3\xa9"}\1\n')
    [ "$status" -eq 1 ]
    [[ $stderr == "tokenize: <stdin>:1:13: unexpected control character 0x01, expected end of line"* ]] || fail "$stderr"
}

@test "a broken tokenizer.json is named when it loads, exit 1, before any record" {
    B="$TOP/testdata/models/tiny-bert/tokenizer.json"
    sed 's/"unk_token": *"\[UNK\]"/"unk_token":"[NOPE]"/' "$B" >"$TMP/unk.json"
    ! cmp -s "$B" "$TMP/unk.json"
    run --separate-stderr tokenize -t "$TMP/unk.json" <<<'{"text":"hello"}'
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$stderr" = "tokenize: $TMP/unk.json: model.unk_token '[NOPE]' is not in model.vocab" ] || fail "$stderr"
    python3 - "$B" "$TMP/big.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["added_tokens"].append({"id": 2147483648, "content": "<x>", "special": True})
json.dump(t, open(sys.argv[2], "w"))
PY
    run --separate-stderr tokenize -t "$TMP/big.json" <<<'{"text":"hello"}'
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ $stderr == "tokenize: $TMP/big.json: added_tokens[5]: id 2147483648 is out of range (0 to 2147483632)" ]] ||
        fail "$stderr"
}

@test "a rank file that does not fit --encoding is refused, naming the file and the encoding, with a hint" {
    need_cl
    run --separate-stderr tokenize -t "$CL" -e o200k_base <<<'{"text":"hi <|endoftext|>"}'
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "${stderr_lines[0]}" = "tokenize: $CL: 100256 ranks, the size of a cl100k_base rank file, not o200k_base (199998 ranks); is this the right encoding?" ] ||
        fail "$stderr"
    [ "${stderr_lines[1]}" = "hint: pass the rank file of o200k_base, or the --encoding this file was made for" ] ||
        fail "$stderr"
    run --separate-stderr tokenize -t "$CL" -e kimi_k2 <<<'{"text":"hi"}'
    [ "$status" -eq 1 ]
    [[ $stderr == *"not kimi_k2 (163584 ranks)"* ]] || fail "$stderr"
    # ranks that run over the encoding's special-token ids
    head -n 60000 "$CL" >"$TMP/r50k_base.tiktoken"
    run --separate-stderr tokenize -t "$TMP/r50k_base.tiktoken" <<<'{"text":"hi"}'
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ ${stderr_lines[0]} == "tokenize: $TMP/r50k_base.tiktoken: the special token <|endoftext|> of r50k_base has id 50256, which is a rank in the file (60000 ranks)"* ]] ||
        fail "$stderr"
    [ "${stderr_lines[1]}" = "hint: the encoding r50k_base comes from the file name; name the right one with --encoding" ] ||
        fail "$stderr"
    # a truncated vocabulary keeps the encoding's special ids
    run --separate-stderr tokenize -t "$TINY" -e o200k_base --allow-special --ids <<<'{"text":"<|endoftext|>"}'
    assert_success
    assert_output '{"text":"<|endoftext|>","n_tokens":1,"ids":[199999]}'
}

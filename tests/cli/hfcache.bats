#!/usr/bin/env bats
# hfcache.bats - lingua-compress --model ORG/NAME found offline in a fake
# Hugging Face cache tree (huggingface_hub's layout), and the message when
# it is not there.

load helpers

setup() {
    TMP="$(mktemp -d)"
    BERT="$TOP/testdata/models/tiny-bert"
    P='{"prompt":"The committee met on Monday to discuss the new budget proposal."}'
    unset HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_HOME XDG_CACHE_HOME LMKIT_MODEL
    export HOME="$TMP/home"
    mkdir -p "$HOME"
    cd "$TMP"
}
teardown() {
    rm -rf "$TMP"
}

# fake_model CACHE ORG NAME REV [main]: a snapshot of the tiny model
fake_model() {
    local repo="$1/models--$2--$3"
    mkdir -p "$repo/snapshots/$4" "$repo/blobs"
    cp "$BERT"/* "$repo/snapshots/$4/"
    if [ "${5:-}" = main ]; then
        mkdir -p "$repo/refs"
        printf '%s' "$4" >"$repo/refs/main"
    fi
}

@test "hf cache: an id in \$HF_HUB_CACHE gives the same output as the folder" {
    fake_model "$TMP/hub" test tiny-bert 0123abcd main
    want=$(echo "$P" | lingua-compress -q --model "$BERT" --rate 0.5)
    run -0 --separate-stderr sh -c "echo '$P' | HF_HUB_CACHE='$TMP/hub' lingua-compress -q -m test/tiny-bert --rate 0.5"
    assert_output "$want"
}

@test "hf cache: \$HF_HOME/hub and ~/.cache/huggingface/hub are searched" {
    fake_model "$TMP/hfhome/hub" test in-home 1111 main
    run -0 sh -c "echo '$P' | HF_HOME='$TMP/hfhome' lingua-compress -q -m test/in-home --rate 0.5"
    fake_model "$HOME/.cache/huggingface/hub" test in-dot-cache 2222 main
    run -0 sh -c "echo '$P' | lingua-compress -q -m test/in-dot-cache --rate 0.5"
    fake_model "$TMP/xdg/huggingface/hub" test in-xdg 3333 main
    run -0 sh -c "echo '$P' | XDG_CACHE_HOME='$TMP/xdg' lingua-compress -q -m test/in-xdg --rate 0.5"
}

@test "hf cache: refs/main chooses its snapshot among several" {
    fake_model "$TMP/hub" test two good main
    mkdir -p "$TMP/hub/models--test--two/snapshots/bad" # an empty older snapshot
    run -0 sh -c "echo '$P' | HF_HUB_CACHE='$TMP/hub' lingua-compress -q -m test/two --rate 0.5"
    printf 'bad\n' >"$TMP/hub/models--test--two/refs/main"
    run -1 sh -c "echo '$P' | HF_HUB_CACHE='$TMP/hub' lingua-compress -q -m test/two --rate 0.5"
    assert_output --partial "snapshots/bad"
}

@test "hf cache: without refs/main, only a single snapshot is taken" {
    fake_model "$TMP/hub" test norefs only
    run -0 sh -c "echo '$P' | HF_HUB_CACHE='$TMP/hub' lingua-compress -q -m test/norefs --rate 0.5"
    mkdir -p "$TMP/hub/models--test--norefs/snapshots/other"
    run -1 --separate-stderr sh -c "echo '$P' | HF_HUB_CACHE='$TMP/hub' lingua-compress -q -m test/norefs --rate 0.5"
    assert_output ""
    [[ $stderr == *"has no refs/main and 2 snapshots"* ]]
}

@test "hf cache: a missing id fails (exit 1) naming every place searched and the download command" {
    run -1 --separate-stderr sh -c "echo '$P' | HF_HUB_CACHE='$TMP/a' HF_HOME='$TMP/b' lingua-compress -m org/absent"
    assert_output ""
    [[ $stderr == *"model 'org/absent' is not a folder nor in the Hugging Face cache"* ]]
    [[ $stderr == *"'$TMP/a/models--org--absent'"* ]]
    [[ $stderr == *"'$TMP/b/hub/models--org--absent'"* ]]
    [[ $stderr == *"'$HOME/.cache/huggingface/hub/models--org--absent'"* ]]
    [[ $stderr == *"hint: download it with 'huggingface-cli download org/absent'"* ]]
}

@test "hf cache: a folder that exists wins over an id of the same name" {
    mkdir -p test
    cp -r "$BERT" test/local
    fake_model "$TMP/hub" test local 4444 main
    rm "$TMP/hub/models--test--local/snapshots/4444/model.safetensors" # would fail if used
    run -0 sh -c "echo '$P' | HF_HUB_CACHE='$TMP/hub' lingua-compress -q -m test/local --rate 0.5"
}

@test "hf cache: LMKIT_MODEL takes an id too" {
    fake_model "$TMP/hub" test env 5555 main
    run -0 sh -c "echo '$P' | HF_HUB_CACHE='$TMP/hub' LMKIT_MODEL=test/env lingua-compress -q --rate 0.5"
}

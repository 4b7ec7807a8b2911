/* test_hfcache.c - lm_hf_model_dir on fake Hugging Face cache trees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/hfcache.h"
#include "tap.h"

static char root[256];

static void mkdirs(const char *rel)
{
    char p[512], *s;
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(p, 0755);
        *s = '/';
    }
    mkdir(p, 0755);
}

static void put(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = s ? strlen(s) : 0, b = strlen(tail);
    return s && a >= b && strcmp(s + a - b, tail) == 0;
}

int main(void)
{
    char err[2048];
    int as_id;
    char *d;

    ok(lm_hf_is_repo_id("microsoft/llmlingua-2-xlm-roberta-large-meetingbank"), "org/name is an id");
    ok(lm_hf_is_repo_id("a.b/c_d-e"), "dots, underscores and dashes are allowed");
    ok(!lm_hf_is_repo_id("name"), "a bare name is not an id");
    ok(!lm_hf_is_repo_id("a/b/c"), "two slashes are a path");
    ok(!lm_hf_is_repo_id("/abs"), "an absolute path is not an id");
    ok(!lm_hf_is_repo_id("../x"), "'..' is not an id");
    ok(!lm_hf_is_repo_id("a/.x"), "a part starting with '.' is not an id");
    ok(!lm_hf_is_repo_id("a/b c"), "a space is not allowed");

    snprintf(root, sizeof root, "/tmp/lmkit-hfcache-XXXXXX");
    if (!mkdtemp(root))
        return printf("Bail out! mkdtemp\n"), 1;
    char hub[300];
    snprintf(hub, sizeof hub, "%s/hub", root);
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", root, 1);
    setenv("HF_HUB_CACHE", hub, 1);

    /* refs/main -> snapshots/<hash> */
    mkdirs("hub/models--org--one/snapshots/abc123");
    mkdirs("hub/models--org--one/snapshots/old999");
    mkdirs("hub/models--org--one/refs");
    put("hub/models--org--one/refs/main", "abc123\n");
    d = lm_hf_model_dir("org/one", &as_id, err, sizeof err);
    ok(ends_with(d, "/hub/models--org--one/snapshots/abc123") && as_id, "refs/main picks its snapshot: %s",
       d ? d : err);
    free(d);

    /* refs/main naming a missing snapshot */
    put("hub/models--org--one/refs/main", "fff000");
    d = lm_hf_model_dir("org/one", &as_id, err, sizeof err);
    ok(!d && strstr(err, "fff000") && strstr(err, "missing"), "a dangling refs/main is an error: %s", err);
    free(d);

    /* no refs/main, one snapshot */
    mkdirs("hub/models--org--two/snapshots/only1");
    d = lm_hf_model_dir("org/two", &as_id, err, sizeof err);
    ok(ends_with(d, "models--org--two/snapshots/only1"), "no refs/main: the only snapshot is used");
    free(d);

    /* no refs/main, two snapshots */
    mkdirs("hub/models--org--two/snapshots/only2");
    d = lm_hf_model_dir("org/two", &as_id, err, sizeof err);
    ok(!d && strstr(err, "2 snapshots"), "no refs/main, two snapshots: an error: %s", err);
    free(d);

    /* missing: the message lists every cache searched */
    setenv("HF_HOME", root, 1); /* $HF_HOME/hub == $HF_HUB_CACHE: listed once */
    setenv("XDG_CACHE_HOME", "/nonexistent-xdg", 1);
    d = lm_hf_model_dir("org/none", &as_id, err, sizeof err);
    ok(!d && as_id, "a missing id fails and says it was looked up as an id");
    ok(strstr(err, "hub/models--org--none'") &&
           strstr(err, "/nonexistent-xdg/huggingface/hub/models--org--none") &&
           strstr(err, ".cache/huggingface/hub/models--org--none"),
       "the message lists the caches searched: %s", err);
    char once[400];
    snprintf(once, sizeof once, "'%s/models--org--none'", hub);
    char *first = strstr(err, once);
    ok(first && !strstr(first + 1, once), "$HF_HOME/hub, the same as $HF_HUB_CACHE, is listed once");

    /* later caches are searched too */
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    mkdirs("xdg/huggingface/hub/models--org--three/snapshots/s3");
    char xdg[300];
    snprintf(xdg, sizeof xdg, "%s/xdg", root);
    setenv("XDG_CACHE_HOME", xdg, 1);
    d = lm_hf_model_dir("org/three", &as_id, err, sizeof err);
    ok(ends_with(d, "xdg/huggingface/hub/models--org--three/snapshots/s3"), "XDG_CACHE_HOME is searched");
    free(d);
    mkdirs(".cache/huggingface/hub/models--org--four/snapshots/s4");
    d = lm_hf_model_dir("org/four", &as_id, err, sizeof err);
    ok(ends_with(d, ".cache/huggingface/hub/models--org--four/snapshots/s4"), "~/.cache is searched");
    free(d);

    /* an existing folder wins over an id */
    if (chdir(root) == 0) {
        mkdirs("org/four");
        d = lm_hf_model_dir("org/four", &as_id, err, sizeof err);
        ok(d && strcmp(d, "org/four") == 0 && !as_id, "a folder that exists wins over an id");
        free(d);
    }
    d = lm_hf_model_dir("no/such/dir", &as_id, err, sizeof err);
    ok(!d && !as_id && strstr(err, "cannot open model folder 'no/such/dir'"),
       "a missing path is not an id: %s", err);
    free(d);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", root);
    return tap_done();
}

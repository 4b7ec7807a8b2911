/* test_lingua_record.c - lingua-compress's records and set-up in lib/lingua
 * (record.h, setup.h): the text member, the record's own rate and
 * target_token, its texts, the fields written back, and the failures of
 * the model, encoder and rank-file set-up with their exit statuses and
 * hints.  Needs the cl100k_base rank file of the build tree (as
 * test_lingua.c) and testdata/models/tiny-bert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/diag.h"
#include "lingua/record.h"
#include "lingua/setup.h"
#include "tap.h"

static lm_record rec(const char *line)
{
    lm_record r = {.file = "t.jsonl", .lineno = 2, .index = 1, .text = line, .len = strlen(line)};
    lm_jerr e;
    if (lm_json_scan_object(&r.scan, line, r.len, &e) < 0)
        abort();
    return r;
}

static void t_member(void)
{
    lm_rerr e = {0};
    lm_record r = rec("{\"context\":[\"a\"],\"x\":1}");
    const lm_member *m = lm_lingua_rec_member(&r, "prompt", &e);
    ok(m && strcmp(m->key, "context") == 0, "no prompt: the context list");
    ok(!lm_lingua_rec_member(&r, "text", &e) && e.pos == LM_NOPOS &&
           strcmp(e.msg.p, "no \"text\" field") == 0 && e.hint.n > 0,
       "--field names a missing member: message and hint");
    lm_rerr_free(&e);
    e = (lm_rerr){0};
    ok(!lm_lingua_rec_member(&r, "x", &e) && e.pos == 21 &&
           strcmp(e.msg.p, "\"x\" must be a string or a list of strings, not a number") == 0,
       "a number is not a text");
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
}

static void t_params(void)
{
    lm_rerr e = {0};
    lm_lingua_opts o;
    lm_lingua_opts_default(&o);
    const lm_member *mt;
    lm_record r = rec("{\"rate\":0.25,\"target_token\":7}");
    ok(lm_lingua_rec_params(&r, &o, &mt, &e) == 0 && o.rate == 0.25 && o.target_token == 7 && mt,
       "rate and target_token");
    lm_jscan_free(&r.scan);
    r = rec("{\"rate\":1.5}");
    ok(lm_lingua_rec_params(&r, &o, &mt, &e) == -1 && e.pos == 8 && !mt &&
           strcmp(e.msg.p, "\"rate\" must be a number in (0, 1]") == 0,
       "a rate above 1");
    lm_rerr_free(&e);
    e = (lm_rerr){0};
    lm_jscan_free(&r.scan);
    r = rec("{\"target_token\":-2}");
    ok(lm_lingua_rec_params(&r, &o, &mt, &e) == -1 && e.pos == 16, "a target_token below -1");
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
}

static void t_texts(void)
{
    lm_rerr e = {0};
    lm_lingua_texts t;
    lm_record r = rec("{\"prompt\":\"a\\tb\"}");
    ok(lm_lingua_rec_texts(&r, lm_rec_get(&r, "prompt"), &t, &e) == 0 && t.n == 1 && !t.is_list &&
           t.cl[0] == 3 && memcmp(t.cx[0], "a\tb", 3) == 0,
       "a prompt string, decoded");
    lm_lingua_texts_free(&t);
    lm_jscan_free(&r.scan);
    r = rec("{\"context\":[\"x\",\"yz\"]}");
    ok(lm_lingua_rec_texts(&r, lm_rec_get(&r, "context"), &t, &e) == 0 && t.n == 2 && t.is_list &&
           t.cl[1] == 2 && strcmp(t.cx[1], "yz") == 0,
       "a context list");
    lm_lingua_texts_free(&t);
    lm_jscan_free(&r.scan);
    r = rec("{\"context\":[\"x\",null]}");
    ok(lm_lingua_rec_texts(&r, lm_rec_get(&r, "context"), &t, &e) == -1 && e.pos == 11 &&
           strcmp(e.msg.p, "\"context\" item 2 must be a string, not null") == 0,
       "a null item");
    lm_lingua_texts_free(&t);
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
}

static void t_setup_failures(void)
{
    lm_lingua_fail f;
    ok(!lm_lingua_model_dir(NULL, &f) && f.status == LM_EXIT_USAGE &&
           strcmp(f.msg, "no model: LLMLingua-2 needs its token classifier") == 0 && f.hint[0],
       "no model: usage, with a hint");
    ok(!lm_lingua_model_dir("testdata/no-such-model", &f) && f.status == LM_EXIT_DATA && f.hint[0],
       "a missing folder: bad data");
    ok(!lm_lingua_model_dir("no-such-org/no-such-model", &f) && f.status == LM_EXIT_DATA &&
           strstr(f.hint, "huggingface-cli download no-such-org/no-such-model"),
       "an id not in the cache: the download hint");
    lm_lingua_encoder le = {0};
    char warn[256];
    ok(lm_lingua_encoder_setup(&le, "testdata", -1, 0, LM_DEVICE_CPU, warn, sizeof warn, &f) == -1 &&
           f.status == LM_EXIT_DATA && strstr(f.hint, "config.json") && !warn[0],
       "a folder without a model: bad data");
    lm_tiktoken *tk = (lm_tiktoken *)&f;
    ok(lm_lingua_counter_load("testdata/no-such-file", &tk, &f) == -1 && !tk && f.status == LM_EXIT_DATA,
       "a missing rank file: bad data");
    ok(lm_lingua_counter_load("testdata/PROVENANCE.md", &tk, &f) == -1 && !tk && f.status == LM_EXIT_DATA &&
           !f.hint[0] && strstr(f.msg, "testdata/PROVENANCE.md:1:"),
       "not a rank file: bad data at its line, no hint");
}

static void t_compress_fields(void)
{
    const char *build = getenv("BUILD");
    char path[512];
    snprintf(path, sizeof path, "%s/share/lmkit/cl100k_base.tiktoken", build && *build ? build : "build");
    lm_lingua_fail f;
    lm_tiktoken *tk;
    if (!ok(lm_lingua_counter_load(path, &tk, &f) == 0 && tk, "the build tree's cl100k_base loads"))
        return;
    lm_lingua_encoder le = {0};
    char warn[256], err[256];
    if (!ok(lm_lingua_encoder_setup(&le, "testdata/models/tiny-bert", -1, 0, LM_DEVICE_CPU, warn, sizeof warn,
                                    &f) == 0 &&
                !warn[0],
            "tiny-bert on the CPU")) {
        diag("%s", f.msg);
        lm_tiktoken_free(tk);
        return;
    }
    lm_lingua_force fm = {0};
    const char *ends[2] = {".", "\n"};
    size_t ends_len[2] = {1, 1};
    lm_lingua_force_build(&fm, &le.m, NULL, NULL, 0, ends, ends_len, 2, err, sizeof err);
    lm_record r = rec("{\"context\":[\"The cat sat on the mat.\",\"It was 42 degrees.\"],\"rate\":0.5}");
    lm_lingua_opts o;
    lm_lingua_opts_default(&o);
    o.want_words = 1;
    o.want_tokens = 1;
    lm_rerr e = {0};
    lm_lingua_texts t;
    const lm_member *mt;
    lm_lingua_rec_params(&r, &o, &mt, &e);
    lm_lingua_rec_texts(&r, lm_lingua_rec_member(&r, "prompt", &e), &t, &e);
    lm_lingua_counter k;
    lm_lingua_counter_init(&k, tk, le.tok);
    lm_lingua_result res;
    int rc = lm_lingua_compress(&le.m, &fm, &o, t.cx, t.cl, t.n, lm_lingua_count, &k, lm_lingua_encoder_probs,
                                &le, &res, err, sizeof err);
    ok(rc == 0, "compress a context list");
    if (rc == 0) {
        lm_out out = {0};
        lm_lingua_fields_opts fo = {.word_labels = 1, .word_sep = "|", .label_sep = "=", .token_probs = 1};
        lm_lingua_rec_fields(&out, &res, 1, &fo);
        lm_buf b = {0};
        out.standalone = 1;
        lm_out_render(&out, NULL, &b);
        const char *keys[] = {"{\"compressed_prompt\":",
                              ",\"compressed_prompt_list\":[",
                              ",\"origin_tokens\":",
                              ",\"compressed_tokens\":",
                              ",\"ratio\":",
                              ",\"rate\":",
                              ",\"saving\":",
                              ",\"fn_labeled_original_prompt\":\"The=",
                              ",\"words\":[",
                              ",\"token_probs\":["};
        const char *at = b.p;
        int in_order = 1;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            const char *p = strstr(at, keys[i]);
            if (!p) {
                in_order = 0;
                diag("missing or out of order: %s", keys[i]);
                break;
            }
            at = p + 1;
        }
        ok(in_order, "the fields in the reference's order, then --word-labels' and --token-probs'");
        lm_buf view = {0};
        lm_view_page page = {0};
        lm_lingua_rec_show(&r, &t, &res, &view, 0, &page);
        ok(view.p && strncmp(view.p, "==> t.jsonl:2: ratio ", 21) == 0 && strstr(view.p, " tokens <==\n"),
           "--view: the header with FILE:LINE");
        lm_buf html = {0};
        lm_view_page_render(&page, "t", &html);
        ok(html.p && strstr(html.p, "t.jsonl:2"), "--html: the record's fragment");
        lm_buf_free(&html), lm_buf_free(&view), lm_buf_free(&b);
        lm_view_page_free(&page);
        lm_out_free(&out);
        lm_lingua_result_free(&res);
    }
    lm_lingua_counter_free(&k);
    lm_lingua_texts_free(&t);
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
    lm_lingua_force_free(&fm);
    lm_lingua_encoder_free(&le);
    lm_tiktoken_free(tk);
}

int main(void)
{
    lm_prog = "test_lingua_record";
    t_member();
    t_params();
    t_texts();
    t_setup_failures();
    t_compress_fields();
    return tap_done();
}

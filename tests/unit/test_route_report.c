/* test_route_report.c - route's records from and to the record loop:
 * positions of a culprit in the line (core/recpos.h, route_err_pos), the
 * members read (route/recio.h), the fields written and the curves drawn
 * (route/report.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/recpos.h"
#include "core/svg.h"
#include "route/decide.h"
#include "route/recio.h"
#include "route/report.h"
#include "tap.h"

static route_models M;

static lm_record rec(const char *line)
{
    lm_record r = {.file = "t.jsonl", .lineno = 3, .text = line, .len = strlen(line)};
    lm_jerr e;
    if (lm_json_scan_object(&r.scan, line, r.len, &e) < 0)
        abort();
    return r;
}

/* The fields of o as a standalone record (static buffer). */
static const char *render(lm_out *o)
{
    static lm_buf b;
    lm_buf_reset(&b);
    o->standalone = 1;
    lm_out_render(o, NULL, &b);
    lm_out_free(o);
    memset(o, 0, sizeof *o);
    return b.p;
}

static void test_recpos(void)
{
    const char *line = "{\"a\":1,\"m\":{\"x\":[1,2],\"k\\\"q\":{\"y\":3}}}";
    lm_record r = rec(line);
    const lm_member *m = lm_rec_get(&r, "m");
    is_int(lm_rec_value_pos(&r, m, "x"), strstr(line, "[1,2]") - line, "value of a key inside a member");
    is_int(lm_rec_value_pos(&r, m, "nope"), m->vpos, "no such key: the member");
    is_int(lm_rec_value_pos(&r, lm_rec_get(&r, "a"), "x"), lm_rec_get(&r, "a")->vpos,
           "not an object: itself");
    is_int(lm_rec_key_pos(&r, m, "k\"q"), strstr(line, "\"k\\\"q\"") - line, "a key found with its escapes");
    is_int(lm_rec_key_pos(&r, m, "y"), strstr(line, "\"y\"") - line, "a key at any depth");
    is_int(lm_rec_key_pos(&r, m, "z"), m->vpos, "a key not there: the member");
    lm_jscan_free(&r.scan);
}

static void test_err_pos(void)
{
    const char *line =
        "{\"id\":\"q\",\"responses\":{\"small\":[{\"score\":\"x\"}]},\"match_prob\":{\"small:1\":2}}";
    lm_record r = rec(line);
    route_err e;
    route_err_set(&e, "responses", "small", "responses.small[0].score: expected a number");
    is_int(route_err_pos(&r, &e), strstr(line, "\"small\"") - line, "the key the path goes through");
    e.whole = 1;
    is_int(route_err_pos(&r, &e), strstr(line, "{\"small\"") - line, "whole: the member's value");
    route_err_set(&e, "match_prob", "small:1", "match_prob.small:1: not in [0, 1]");
    e.at_value = 1;
    is_int(route_err_pos(&r, &e), strstr(line, "2}}") - line, "at_value: the key's value");
    route_err_set(&e, "prompt_tokens", NULL, "prompt_tokens: missing");
    ok(route_err_pos(&r, &e) == LM_NOPOS, "a member the record lacks: no position");
    route_err_set(&e, NULL, NULL, "something");
    ok(route_err_pos(&r, &e) == LM_NOPOS, "no member: no position");

    lm_rerr re = {0};
    route_err_set(&e, "responses", NULL, "responses: bad");
    route_err_hint(&e, "fix it");
    route_rec_err(&r, &re, &e);
    ok(re.pos == (size_t)(strstr(line, "{\"small\"") - line) && strcmp(re.msg.p, "responses: bad") == 0 &&
           re.hint.p && strcmp(re.hint.p, "fix it") == 0,
       "route_rec_err: position, message, hint");
    lm_rerr_free(&re);
    lm_jscan_free(&r.scan);
}

static void test_rec_json(void)
{
    lm_rerr re = {0};
    lm_record r = rec("{\"id\":\"a\\u0041\",\"prompt_tokens\":1,\"other\":[1],\"synthetic\":true}");
    json_t *j = route_rec_json(&r, &re);
    ok(j && strcmp(json_string_value(json_object_get(j, "id")), "aA") == 0, "a string id is decoded");
    ok(j && json_object_get(j, "synthetic") == json_true() && !json_object_get(j, "other"),
       "only the members route reads");
    json_decref(j);
    lm_jscan_free(&r.scan);
    r = rec("{\"id\":12,\"prompt_tokens\":1}");
    j = route_rec_json(&r, &re);
    ok(j && strcmp(json_string_value(json_object_get(j, "id")), "12") == 0, "a number id as its text");
    json_decref(j);
    lm_jscan_free(&r.scan);
    r = rec("{\"prompt_tokens\":1}");
    j = route_rec_json(&r, &re);
    ok(j && strcmp(json_string_value(json_object_get(j, "id")), "t.jsonl:3") == 0, "no id: FILE:LINE");
    json_decref(j);
    lm_jscan_free(&r.scan);

    /* a parse error points into the line */
    const char *line = "{\"id\":\"a\",\"prompt_tokens\":1,\"prompt_tokens_by_model\":{\"x.y\":1}}";
    r = rec(line);
    route_record rr;
    ok(route_rec_parse(&r, &M, 0, &rr, &re) == -1 && re.pos == (size_t)(strstr(line, "\"x.y\"") - line) &&
           strstr(re.msg.p, "model 'x.y' is not in the prices file"),
       "route_rec_parse: the unknown model's key");
    lm_jscan_free(&r.scan);
    r = rec("{\"id\":\"a\",\"prompt_tokens\":7}");
    ok(route_rec_parse(&r, &M, 0, &rr, &re) == 0 && rr.prompt_tokens[0] == 7 && rr.prompt_tokens[1] == 7,
       "route_rec_parse: a good query");
    route_record_free(&rr, &M);
    lm_jscan_free(&r.scan);
    lm_rerr_free(&re);
}

static void test_match_prob(void)
{
    lm_rerr re = {0};
    double pred[2];
    lm_record r = rec("{\"id\":\"a\"}");
    ok(route_rec_match_prob(&r, &M, 2, pred, &re) == 1 && isnan(pred[0]) && isnan(pred[1]), "absent: 1, NaN");
    lm_jscan_free(&r.scan);
    r = rec("{\"match_prob\":[1]}");
    ok(route_rec_match_prob(&r, &M, 2, pred, &re) == -1 && re.pos == 14 &&
           strcmp(re.msg.p, "\"match_prob\" must be an object {\"MODEL:N\": p}, not an array") == 0,
       "match_prob not an object");
    lm_jscan_free(&r.scan);
    r = rec("{\"match_prob\":{\"small:2\":0.25}}");
    ok(route_rec_match_prob(&r, &M, 2, pred, &re) == 0 && isnan(pred[0]) && pred[1] == 0.25,
       "small:2 is head 1");
    lm_jscan_free(&r.scan);
    lm_rerr_free(&re);
}

static void test_select(void)
{
    lm_rerr re = {0};
    char model[256];
    route_selection sel;
    const char *resp = "\"responses\":{\"small\":[{\"score\":0.1,\"proxy\":0.9,\"output_tokens\":3},"
                       "{\"score\":0.8,\"proxy\":0.2,\"output_tokens\":4}]}";
    char line[512];
    snprintf(line, sizeof line, "{%s}", resp);
    lm_record r = rec(line);
    ok(route_rec_select(&r, NULL, 0, ROUTE_SELECT_AUTO, model, sizeof model, &sel, &re) == -1 &&
           strcmp(re.msg.p, "no \"route\" field and no --from MODEL") == 0,
       "no route and no --from");
    ok(route_rec_select(&r, "small", 0, ROUTE_SELECT_AUTO, model, sizeof model, &sel, &re) == 0 &&
           strcmp(model, "small") == 0 && sel.index == 0 && !sel.oracle,
       "--from: the best proxy");
    lm_jscan_free(&r.scan);
    snprintf(line, sizeof line, "{%s,\"route\":{\"model\":\"small\",\"n\":1}}", resp);
    r = rec(line);
    ok(route_rec_select(&r, NULL, 0, ROUTE_SELECT_ORACLE, model, sizeof model, &sel, &re) == 0 &&
           sel.n == 1 && sel.index == 0 && sel.oracle,
       "route.n limits the candidates");
    ok(route_rec_select(&r, NULL, 2, ROUTE_SELECT_ORACLE, model, sizeof model, &sel, &re) == 0 &&
           sel.n == 2 && sel.index == 1,
       "first overrides route.n");
    lm_out o = {0};
    route_report_selected(&o, model, &sel);
    is_str(render(&o),
           "{\"selected\":{\"model\":\"small\",\"n\":2,\"index\":1,\"score\":0.8,\"proxy\":0.2,"
           "\"output_tokens\":4,\"selector\":\"oracle\"}}\n",
           "selected");
    lm_jscan_free(&r.scan);
    r = rec("{\"responses\":[]}");
    ok(route_rec_select(&r, "small", 0, ROUTE_SELECT_AUTO, model, sizeof model, &sel, &re) == -1 &&
           re.pos == 13 && strcmp(re.msg.p, "\"responses\" must be an object") == 0,
       "responses not an object");
    lm_jscan_free(&r.scan);
    lm_rerr_free(&re);
}

static void test_report(void)
{
    lm_out o = {0};
    route_labels l;
    route_labels_alloc(&l, 2);
    l.match[0] = 0.5;
    l.match[1] = NAN;
    l.selector_oracle = 1;
    route_report_labels(&o, &M, 2, &l);
    is_str(render(&o), "{\"labels\":{\"small:1\":0.5,\"small:2\":null},\"selector\":\"oracle\"}\n", "labels");
    route_labels_free(&l);

    double pred[2] = {0.7, 0.9}, est[3] = {1, 2, 10}, real[3] = {1.5, 2.5, 11};
    route_report_route(&o, &M, 2, 1, pred, est, 1, real, ROUTE_COST_REALISED);
    is_str(render(&o),
           "{\"route\":{\"model\":\"small\",\"n\":2,\"p_match\":0.9,\"est_cost\":2,\"realised_cost\":2.5,"
           "\"cost_mode\":\"realised\"}}\n",
           "route: a small model");
    route_report_route(&o, &M, 2, ROUTE_REF, pred, est, 0, real, ROUTE_COST_ESTIMATED);
    is_str(render(&o),
           "{\"route\":{\"model\":\"big\",\"n\":1,\"p_match\":null,\"est_cost\":null,"
           "\"cost_mode\":\"estimated\"}}\n",
           "route: the reference, no estimate");

    route_router R = {0};
    R.arch = ROUTE_MLP;
    R.n_heads = 2;
    R.n_max = 2;
    route_train_log log = {0};
    log.epochs = 2;
    log.best_epoch = 1;
    log.init_loss = 0.5;
    log.best_val_loss = NAN;
    log.train_loss[1] = 0.25;
    log.n_train = 9;
    route_report_train(&o, &R, &log, 0, 7);
    is_str(render(&o),
           "{\"type\":\"train\",\"model\":\"mlp\",\"heads\":2,\"n_max\":2,\"features\":0,\"n_train\":9,"
           "\"n_val\":0,\"epochs\":2,\"best_epoch\":1,\"init_loss\":0.5,\"best_val_loss\":null,"
           "\"final_train_loss\":0.25,\"selector\":\"proxy\",\"seed\":7}\n",
           "train summary");

    route_point p = {.t = 0.5, .cost_per_1k = 10, .quality_mean = 0.75, .ref_share = 0.25, .mean_n = 1.5};
    route_report_point(&o, "best-route", &p, NULL, 0, 1);
    is_str(render(&o),
           "{\"type\":\"point\",\"method\":\"best-route\",\"threshold\":0.5,\"cost\":10,\"quality\":0.75,"
           "\"cost_reduction_pct\":0,\"quality_drop_pct\":0,\"ref_share\":0.25,\"mean_n\":1.5}\n",
           "point with a threshold");
    route_report_point(&o, "random", &p, "small", 2, 2);
    is_str(render(&o),
           "{\"type\":\"point\",\"method\":\"random\",\"model\":\"small\",\"n\":2,\"threshold\":null,"
           "\"ref_prob\":0.5,\"cost\":10,\"quality\":0.75,\"cost_reduction_pct\":0,\"quality_drop_pct\":0,"
           "\"ref_share\":0.25,\"mean_n\":1.5}\n",
           "random mixing: ref_prob");

    route_eval_result res = {0};
    res.predictor = "linear";
    res.n_train = 3;
    res.n_test = 2;
    res.sum[0] = (route_summary){{1, NAN, 3, 4}, 0.5, 0.25, NAN, 40, 0.9, 0.4, 1};
    res.have_ci[0] = 1;
    res.ci[0][0] = 0.1, res.ci[0][1] = 0.4, res.ci[0][2] = 0.25;
    route_report_ctx rc = {.cost_mode = ROUTE_COST_ESTIMATED, .bootstrap = 50, .seed = 4, .split_file = 0};
    route_report_summary(&o, &res, 0, "best-route", "small", &rc);
    is_str(render(&o),
           "{\"type\":\"summary\",\"method\":\"best-route\",\"predictor\":\"linear\",\"selector\":\"proxy\","
           "\"cost_mode\":\"estimated\",\"drop_at_cost_reduction\":{\"10\":1,\"20\":null,\"40\":3,\"60\":4},"
           "\"apgr\":0.25,\"apgr_ci\":[0.1,0.4],\"apgr_boot_mean\":0.25,\"bootstrap\":50,\"cpt50\":null,"
           "\"cpt80\":40,\"auc\":0.5,\"weak\":\"small:1\",\"q_ref\":0.9,\"q_weak\":0.4,\"n_train\":3,"
           "\"n_test\":2,\"seed\":4,\"split\":\"seeded\"}\n",
           "summary with an interval");
    rc.split_file = 1;
    route_report_summary(&o, &res, ROUTE_CURVE_RANDOM, "random", "small", &rc);
    const char *s = render(&o);
    ok(strstr(s, "\"predictor\":\"random\"") && strstr(s, "\"cost_mode\":\"none\"") &&
           !strstr(s, "apgr_ci") && strstr(s, "\"split\":\"file\""),
       "random summary: no cost mode, no interval, split from a file");
}

/* The SVG of one plot (static buffer). */
static char *svg_of(lm_plot *p)
{
    static char *buf;
    size_t n;
    free(buf);
    FILE *f = open_memstream(&buf, &n);
    lm_svg_write(f, &p, 1);
    fclose(f);
    lm_plot_free(p);
    return buf;
}

static void test_plot(void)
{
    route_point pts[3] = {{.cost_per_1k = 3, .quality_mean = 0.9},
                          {.cost_per_1k = 1, .quality_mean = 0.2},
                          {.cost_per_1k = 2, .quality_mean = 0.5}};
    lm_plot *a = lm_plot_new("t", "x", "y");
    route_plot_curve(a, "c", pts, 3);
    char *sa = strdup(svg_of(a));
    lm_plot *b = lm_plot_new("t", "x", "y");
    double x[3] = {1, 2, 3}, y[3] = {0.2, 0.5, 0.9};
    lm_plot_series(b, "c", x, y, 3, 1);
    is_str(svg_of(b), sa, "route_plot_curve draws the points in order of cost");
    free(sa);

    route_eval_result res = {0};
    res.ref = (route_point){.cost_per_1k = 10, .quality_mean = 1};
    route_point always[1] = {{.cost_per_1k = 1, .quality_mean = 0.5}};
    route_point best[1] = {{.cost_per_1k = 3, .quality_mean = 0.8}};
    size_t best_n[1] = {3};
    res.always = always;
    res.always_best = best;
    res.best_n = best_n;
    a = lm_plot_new("t", "x", "y");
    route_plot_anchors(a, &res, &M);
    sa = strdup(svg_of(a));
    ok(strstr(sa, "always-reference") && strstr(sa, "always small n=1") && strstr(sa, "always small n=3"),
       "anchors: the reference, n = 1 and the best n");
    free(sa);
    best_n[0] = 1;
    a = lm_plot_new("t", "x", "y");
    route_plot_anchors(a, &res, &M);
    sa = strdup(svg_of(a));
    ok(strstr(sa, "always small n=1") && !strstr(sa, "always small n=1 ") &&
           strstr(sa, "always small n=1") == strstr(sa, "always small n="),
       "anchors: a best n of 1 is not drawn twice");
    free(sa);
}

int main(void)
{
    const char *names[2] = {"small", "big"};
    double in[2] = {0.1, 5}, out[2] = {0.2, 15};
    char err[256];
    if (route_models_init(&M, 2, names, in, out, 1, err, sizeof err) < 0) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    test_recpos();
    test_err_pos();
    test_rec_json();
    test_match_prob();
    test_select();
    test_report();
    test_plot();
    route_models_free(&M);
    return tap_done();
}

/* recio.c - route's records from the record loop (recio.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/recpos.h"
#include "route/recio.h"

size_t route_err_pos(const lm_record *in, const route_err *e)
{
    const lm_member *m = e->member[0] ? lm_rec_get(in, e->member) : NULL;
    if (!m)
        return LM_NOPOS;
    if (e->whole || !e->key[0])
        return m->vpos;
    if (e->at_value)
        return lm_rec_value_pos(in, m, e->key);
    return lm_rec_key_pos(in, m, e->key);
}

void route_rec_err(const lm_record *in, lm_rerr *err, const route_err *e)
{
    lm_rerr_set(err, route_err_pos(in, e), "%s", e->msg);
    if (e->hint[0])
        lm_rerr_hint(err, "%s", e->hint);
}

json_t *route_rec_json(const lm_record *in, lm_rerr *err)
{
    static const char *const keys[] = {
        "prompt", "prompt_tokens", "prompt_tokens_by_model", "features", "synthetic", "responses", NULL};
    json_t *o = json_object();
    if (!o) {
        lm_rerr_set(err, LM_NOPOS, "out of memory");
        return NULL;
    }
    const lm_member *id = lm_rec_get(in, "id");
    lm_buf s = {0};
    if (id && id->type == LM_J_STRING)
        lm_jstr_decode(&s, in->text + id->vpos, id->vlen);
    else if (id)
        lm_buf_add(&s, in->text + id->vpos, id->vlen);
    else
        lm_buf_printf(&s, "%s:%llu", in->file, (unsigned long long)in->lineno);
    json_object_set_new(o, "id", json_stringn(s.p ? s.p : "", s.n));
    lm_buf_free(&s);
    for (size_t i = 0; keys[i]; i++) {
        const lm_member *m = lm_rec_get(in, keys[i]);
        if (!m)
            continue;
        json_error_t je;
        json_t *v = json_loadb(in->text + m->vpos, m->vlen, JSON_DECODE_ANY, &je);
        if (!v) {
            size_t p = je.position > 0 ? (size_t)je.position - 1 : 0;
            lm_rerr_set(err, m->vpos + (p < m->vlen ? p : 0), "\"%s\": %s", keys[i], je.text);
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, keys[i], v);
    }
    return o;
}

int route_rec_parse(const lm_record *in, const route_models *m, int need_responses, route_record *r,
                    lm_rerr *err)
{
    json_t *j = route_rec_json(in, err);
    if (!j)
        return -1;
    route_err e;
    int rc = route_record_parse_e(r, j, m, need_responses, &e);
    json_decref(j);
    if (rc < 0) {
        route_rec_err(in, err, &e);
        return -1;
    }
    return 0;
}

int route_rec_match_prob(const lm_record *in, const route_models *m, size_t n_max, double *pred, lm_rerr *err)
{
    size_t H = (m->n - 1) * n_max;
    for (size_t h = 0; h < H; h++)
        pred[h] = NAN;
    const lm_member *mp = lm_rec_get(in, "match_prob");
    if (!mp)
        return 1;
    if (mp->type != LM_J_OBJECT) {
        lm_rerr_set(err, mp->vpos, "\"match_prob\" must be an object {\"MODEL:N\": p}, not %s",
                    lm_jtype_name(mp->type));
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(in->text + mp->vpos, mp->vlen, 0, &je);
    if (!o) {
        lm_rerr_set(err, mp->vpos, "\"match_prob\": %s", je.text);
        return -1;
    }
    route_err e;
    int rc = route_match_prob_parse(o, m, n_max, pred, &e);
    json_decref(o);
    if (rc < 0)
        route_rec_err(in, err, &e);
    return rc;
}

/* The model and n named by the record's "route" (route apply's output). */
static int route_target(const lm_record *in, char *model, size_t msize, size_t *n, lm_rerr *err)
{
    const lm_member *ro = lm_rec_get(in, "route");
    json_t *o = ro ? json_loadb(in->text + ro->vpos, ro->vlen, 0, NULL) : NULL;
    json_t *mm = o ? json_object_get(o, "model") : NULL;
    json_t *nn = o ? json_object_get(o, "n") : NULL;
    if (!json_is_string(mm) || (nn && (!json_is_integer(nn) || json_integer_value(nn) < 1))) {
        lm_rerr_set(err, ro ? ro->vpos : LM_NOPOS, "%s",
                    ro ? "\"route\" must hold \"model\" (a string) and \"n\" (>= 1)"
                       : "no \"route\" field and no --from MODEL");
        lm_rerr_hint(err, "run route apply first, or give --from MODEL");
        json_decref(o);
        return -1;
    }
    snprintf(model, msize, "%s", json_string_value(mm));
    if (!*n && nn)
        *n = (size_t)json_integer_value(nn);
    json_decref(o);
    return 0;
}

int route_rec_select(const lm_record *in, const char *from, size_t first, route_selector kind, char *model,
                     size_t msize, route_selection *sel, lm_rerr *err)
{
    const lm_member *rm = lm_rec_get(in, "responses");
    if (!rm || rm->type != LM_J_OBJECT) {
        lm_rerr_set(err, rm ? rm->vpos : LM_NOPOS, "%s",
                    rm ? "\"responses\" must be an object" : "no \"responses\" field");
        lm_rerr_hint(
            err,
            "records look like {\"responses\": {\"MODEL\": [{\"score\",\"proxy\",\"output_tokens\"}, ...]}}");
        return -1;
    }
    size_t n = first;
    if (from)
        snprintf(model, msize, "%s", from);
    else if (route_target(in, model, msize, &n, err) < 0)
        return -1;
    json_error_t je;
    json_t *resp = json_loadb(in->text + rm->vpos, rm->vlen, 0, &je);
    if (!resp) {
        lm_rerr_set(err, rm->vpos, "\"responses\": %s", je.text);
        return -1;
    }
    route_err e;
    int rc = route_select(sel, resp, model, n, kind, &e);
    json_decref(resp);
    if (rc < 0) {
        route_rec_err(in, err, &e);
        return -1;
    }
    return 0;
}

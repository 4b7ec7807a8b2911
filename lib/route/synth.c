/* synth.c - synthetic best-of-n generator (see synth.h). */
#include "route/synth.h"

#include <math.h>
#include <stdio.h>

#include "core/rng.h"

typedef struct {
    const char *name;
    double mu, beta, sigma, in_price, out_price, mean_out;
} synth_model;

/* reference first; small models ordered as in the prices document */
static const synth_model MODELS[] = {
    {"syn-ref", 0.14, 0.06, 0.02, 5.0, 15.0, 294.0},
    {"syn-cheap", 0.09, 0.12, 0.04, 0.25, 0.25, 296.0},
    {"syn-mid", 0.11, 0.10, 0.035, 0.3, 0.61, 298.0},
    {"syn-fast", 0.115, 0.09, 0.02, 3.0, 6.0, 131.0},
};
#define N_MODELS (sizeof MODELS / sizeof MODELS[0])

void route_synth_opts_default(route_synth_opts *o)
{
    o->n_samples = 20;
    o->tau = 0.02;
    o->feat_noise = 0.1;
    o->with_proxy = 1;
    o->seed = 1;
}

size_t route_synth_n_models(void)
{
    return N_MODELS;
}

json_t *route_synth_prices(void)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < N_MODELS; i++) {
        json_t *e =
            json_pack("{s:f,s:f}", "in_per_mtok", MODELS[i].in_price, "out_per_mtok", MODELS[i].out_price);
        if (!e) {
            json_decref(o);
            return NULL;
        }
        if (i == 0)
            json_object_set_new(e, "reference", json_true());
        json_object_set_new(o, MODELS[i].name, e);
    }
    return o;
}

/* lognormal with the given mean and log-sd s */
static double lognormal_mean(lm_rng *r, double mean, double s)
{
    return exp(log(mean) - 0.5 * s * s + s * lm_rng_normal(r));
}

json_t *route_synth_record(const route_synth_opts *o, uint64_t q)
{
    lm_rng r;
    lm_rng_init(&r, o->seed, q);
    double d = lm_rng_uniform(&r);
    char id[64];
    snprintf(id, sizeof id, "syn/%llu", (unsigned long long)q);
    /* prompt: 12 words from a 20-word vocabulary centred on d */
    char prompt[256];
    size_t pl = 0;
    for (int w = 0; w < 12; w++) {
        double x = d + 0.15 * lm_rng_normal(&r);
        int k = (int)floor(20.0 * x);
        k = k < 0 ? 0 : k > 19 ? 19 : k;
        pl += (size_t)snprintf(prompt + pl, sizeof prompt - pl, "%sw%d", w ? " " : "", k);
    }
    double pt = round(lognormal_mean(&r, 45.0, 0.5));
    json_t *rec = json_object();
    json_t *resp = json_object();
    json_t *feat = json_array();
    if (!rec || !resp || !feat)
        goto oom;
    json_object_set_new(rec, "id", json_string(id));
    json_object_set_new(rec, "prompt", json_string(prompt));
    json_object_set_new(rec, "prompt_tokens", json_real(pt));
    json_array_append_new(feat, json_real(d + o->feat_noise * lm_rng_normal(&r)));
    json_object_set_new(rec, "features", feat);
    feat = NULL;
    json_object_set_new(rec, "difficulty", json_real(d));
    json_object_set_new(rec, "synthetic", json_true());
    for (size_t m = 0; m < N_MODELS; m++) {
        const synth_model *sm = &MODELS[m];
        json_t *arr = json_array();
        if (!arr)
            goto oom;
        for (size_t i = 0; i < o->n_samples; i++) {
            double s = sm->mu - sm->beta * d + sm->sigma * lm_rng_normal(&r);
            double px = s + o->tau * lm_rng_normal(&r);
            double ot = round(lognormal_mean(&r, sm->mean_out, 0.4));
            json_t *e = o->with_proxy
                            ? json_pack("{s:f,s:f,s:f}", "score", s, "proxy", px, "output_tokens", ot)
                            : json_pack("{s:f,s:f}", "score", s, "output_tokens", ot);
            if (!e || json_array_append_new(arr, e)) {
                json_decref(arr);
                goto oom;
            }
        }
        json_object_set_new(resp, sm->name, arr);
    }
    json_object_set_new(rec, "responses", resp);
    return rec;
oom:
    json_decref(rec);
    json_decref(resp);
    json_decref(feat);
    return NULL;
}

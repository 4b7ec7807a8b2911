/* synth.h - seeded synthetic best-of-n data with known ground truth (lmkit's
 * own generator; see route(1), "Evaluation").  Records are marked "synthetic": true and must never be read
 * as evidence about real LLMs.
 *
 * Per query a latent difficulty d ~ U(0, 1).  Per model m and sample i:
 *   score_i = mu_m - beta_m d + sigma_m N(0, 1)
 *   proxy_i = score_i + tau N(0, 1)            (an imperfect proxy)
 *   output_tokens ~ lognormal with the model's mean length
 * and the prompt length ~ lognormal with mean 45.  The reference is the
 * model with the highest mu.  Best-of-n raises a small model's expected
 * quality by about sigma_m E[max of n normals] (less with proxy noise), the
 * mechanism BEST-Route exploits.  The record carries "difficulty": d, a
 * feature vector [d + noise], and a prompt whose words are drawn around d,
 * so that hashed text features also carry signal.
 * Randomness: lm_rng_init(seed, query_index), so records are independent of
 * order and threads.
 */
#ifndef LMKIT_ROUTE_SYNTH_H
#define LMKIT_ROUTE_SYNTH_H

#include <jansson.h>
#include <stdint.h>

#include "route/data.h"

typedef struct {
    size_t n_samples;  /* samples per model per query (default 20) */
    double tau;        /* proxy noise (default 0.02) */
    double feat_noise; /* noise on the difficulty feature (default 0.1) */
    int with_proxy;    /* default 1 */
    uint64_t seed;
} route_synth_opts;

void route_synth_opts_default(route_synth_opts *o);
/* The generator's model table: a reference and three small models, prices
 * and mean lengths of the kind the BEST-Route paper's setup uses. */
size_t route_synth_n_models(void);
/* Prices document (object form, reference marked), new reference. */
json_t *route_synth_prices(void);
/* Record of query q, or NULL when out of memory. */
json_t *route_synth_record(const route_synth_opts *o, uint64_t q);

#endif

/* recio.h - route's records as the record loop hands them over (lm_record):
 * the members route reads turned into the structures of data.h and
 * select.h, and lib/route errors turned into record errors (lm_rerr) that
 * point at the culprit in the input line.
 *
 * Every function returns 0 on success and -1 with err set for bad data;
 * route_rec_match_prob returns 1 when the record has no "match_prob".
 */
#ifndef LMKIT_ROUTE_RECIO_H
#define LMKIT_ROUTE_RECIO_H

#include <jansson.h>
#include <stddef.h>

#include "core/jsonl.h"
#include "route/data.h"
#include "route/select.h"

/* Byte offset in in->text of the culprit of e: the value of its member, or
 * inside it the value of (at_value) or the key (otherwise) e->key names, when
 * that can be found; LM_NOPOS when the record has no such member. */
size_t route_err_pos(const lm_record *in, const route_err *e);

/* e as the record's problem: message, position and hint. */
void route_rec_err(const lm_record *in, lm_rerr *err, const route_err *e);

/* The members route reads ("id", "prompt", "prompt_tokens",
 * "prompt_tokens_by_model", "features", "synthetic", "responses") as a
 * jansson object, with "id" as a string (a non-string id as its JSON text,
 * a missing one as FILE:LINE).  The whole line is never round-tripped:
 * jansson cannot hold every JSON number.  NULL with err on a member that
 * jansson cannot read. */
json_t *route_rec_json(const lm_record *in, lm_rerr *err);

/* The record as a route_record (route_record_parse_e over route_rec_json). */
int route_rec_parse(const lm_record *in, const route_models *m, int need_responses, route_record *r,
                    lm_rerr *err);

/* "match_prob": {"MODEL:N": p} into pred[(small model) * n_max + n - 1]
 * ((m->n - 1) * n_max values, NaN where absent). */
int route_rec_match_prob(const lm_record *in, const route_models *m, size_t n_max, double *pred,
                         lm_rerr *err);

/* Best-of-n over the record's "responses": among the samples of from (or
 * of the record's "route".model when from is NULL) and the first `first`
 * of them (0: "route".n, else all).  The model chosen is written to
 * model[0..msize). */
int route_rec_select(const lm_record *in, const char *from, size_t first, route_selector kind, char *model,
                     size_t msize, route_selection *sel, lm_rerr *err);

#endif

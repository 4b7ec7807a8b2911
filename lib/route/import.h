/* import.h - converters from public routing data to route records (see
 * route(1), "Data format").
 *
 * RouteLLM CSVs (routellm/evals/{mmlu/responses/mmlu_*.csv,
 * gsm8k/gsm8k_responses.csv}): header "prompt, <model>, ..." with True/False
 * per model, plus optional "<model>_response" text columns.  Each row becomes
 * a record with one sample per model, score 1/0.  Token counts are not in
 * the data: prompt tokens are estimated as ceil(characters / 4), output
 * tokens from the response text the same way when present, else the
 * caller's fixed value; records say "approx_tokens": true.
 *
 * best-route-llm stage files (README pipeline): one object per line with
 * "id", "prompt" and per model {"responses", "armoRM_scores",
 * "token_num_prompt", "token_num_responses", "ourRM_scores"?}.
 * Router files (hybridllm_dataset_..._{train,validation,test}.jsonl) hold
 * bootstrap winners per "<model>_ourRM_bo<n>" candidate; they convert to
 * labels directly (route_import_candidates).
 *
 * Errors carry a line number (CSV: the physical line where the row starts)
 * and the field.  What a record cannot hold is refused, never altered: a NUL
 * byte or invalid UTF-8 in any field, and a column name given twice; those
 * errors also carry the character column of the culprit ("line L:C: ...",
 * L its physical line).  Nothing here reads files.
 */
#ifndef LMKIT_ROUTE_IMPORT_H
#define LMKIT_ROUTE_IMPORT_H

#include <jansson.h>
#include <stddef.h>

#include "route/data.h"
#include "route/labels.h"

/* Converts a whole CSV text.  id_prefix names rows "<prefix>/<row>" (row
 * numbers from 0).  exclude: sorted (strcmp) prompts to drop, may be NULL.
 * On success *recs is a malloc'd array of *n_recs new records.  Returns 0, or
 * -1 with "line N: ..." or "line N:C: ..." in err. */
int route_import_routellm_csv(const char *text, size_t len, const char *id_prefix, double out_tokens,
                              const char *const *exclude, size_t n_exclude, json_t ***recs, size_t *n_recs,
                              char *err, size_t errlen);
/* The same with a route_err: e->line (and e->col for refused bytes and a
 * repeated column) say where, e->msg what (without the "line" prefix), and
 * e->hint what to do. */
int route_import_routellm_csv_e(const char *text, size_t len, const char *id_prefix, double out_tokens,
                                const char *const *exclude, size_t n_exclude, json_t ***recs, size_t *n_recs,
                                route_err *e);

/* A list of prompts to leave out (RouteLLM's contaminated_prompts.jsonl):
 * one {"eval_prompt": "..."} or {"prompt": "..."} per non-empty line, into
 * *out, a sorted (strcmp) array of *n new strings, the exclude list of
 * route_import_routellm_csv.  Returns 0, or -1 with e (e->line: the line
 * that is not such an object; 0 when memory ran out). */
int route_import_exclude(const char *text, size_t len, char ***out, size_t *n, route_err *e);
void route_import_exclude_free(char **v, size_t n);

/* One best-route-llm stage record -> one route record.  models: the models
 * to take (NULL: every key holding an object with "armoRM_scores").
 * Returns a new record, or NULL with a message naming the field. */
json_t *route_import_stage(const json_t *in, const char *const *models, size_t n_models, char *err,
                           size_t errlen);
/* The same with a route_err: e->member is the record's member at fault (a
 * model's object, "id"), e->key the field inside it. */
json_t *route_import_stage_e(const json_t *in, const char *const *models, size_t n_models, route_err *e);

/* One router-file row -> labels: for each candidate "<m>_ourRM_bo<n>" take
 * its armoRM score(s) and token counts; soft label by route_match_prob over
 * the stored draws (scalars count as one draw).  prompt_tokens gets the
 * reference candidate's token_num_prompt.  Candidates of models not in the
 * table, or with n > n_max, are an error; missing ones stay NaN. */
int route_import_candidates(const json_t *row, const route_models *m, size_t n_max, double match_t,
                            route_labels *l, double *prompt_tokens, char *err, size_t errlen);

#endif

/* select.h - best-of-n selection over the samples of one model (route
 * select): keep the sample with the highest proxy score, or the highest true
 * score when the samples carry no proxy ("oracle"); the first one wins ties.
 *
 * Works on a record's "responses" object as jansson holds it, so that a
 * record needs no prices table to be selected from.  Does no I/O.
 */
#ifndef LMKIT_ROUTE_SELECT_H
#define LMKIT_ROUTE_SELECT_H

#include <jansson.h>
#include <stddef.h>

#include "route/data.h"

typedef enum {
    ROUTE_SELECT_AUTO,   /* by proxy, or by true score when no candidate has a proxy */
    ROUTE_SELECT_PROXY,  /* by proxy; every candidate needs one */
    ROUTE_SELECT_ORACLE, /* by true score */
} route_selector;

typedef struct {
    size_t n;     /* candidates: the first n samples */
    size_t index; /* the winner among them */
    double score; /* the winner's "score", "proxy" and "output_tokens"; */
    double proxy; /* NaN where absent or not a number */
    double out_tokens;
    int oracle; /* chosen by true score */
} route_selection;

/* Best-of-n among the first n samples of model in resp (n = 0: all of them).
 * resp is checked as route_responses_check does.  Returns 0, or -1 with e
 * filled: the model's samples missing or fewer than n (e->whole: the fault
 * is the "responses" member as a whole), a malformed sample, or a proxy on
 * some candidates but not all (by proxy, or with ROUTE_SELECT_PROXY). */
int route_select(route_selection *out, const json_t *resp, const char *model, size_t n, route_selector sel,
                 route_err *e);

#endif

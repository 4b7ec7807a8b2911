/* game.c - confusion counts from scores and membership bits (see game.h). */
#include "game.h"

#include <stdlib.h>

void lm_game_counts(const lm_trial *t, size_t n, double T, int64_t c[4])
{
    c[0] = c[1] = c[2] = c[3] = 0;
    for (size_t i = 0; i < n; i++) {
        int guess = t[i].score >= T;
        if (t[i].member)
            c[guess ? LM_TP : LM_FN]++;
        else
            c[guess ? LM_FP : LM_TN]++;
    }
}

static int by_score_desc(const void *a, const void *b)
{
    const lm_trial *x = a, *y = b;
    if (x->score > y->score)
        return -1;
    if (x->score < y->score)
        return 1;
    /* ties: members first, then model, for a fully determined order */
    if (x->member != y->member)
        return y->member - x->member;
    return (x->model > y->model) - (x->model < y->model);
}

size_t lm_game_sweep(lm_trial *t, size_t n, double *thr, int64_t (*counts)[4])
{
    qsort(t, n, sizeof *t, by_score_desc);
    int64_t P = 0, N = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].member)
            P++;
        else
            N++;
    }
    int64_t tp = 0, fp = 0;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        double s = t[i].score;
        while (i < n && t[i].score == s) {
            if (t[i].member)
                tp++;
            else
                fp++;
            i++;
        }
        thr[k] = s;
        counts[k][LM_TP] = tp;
        counts[k][LM_FP] = fp;
        counts[k][LM_TN] = N - fp;
        counts[k][LM_FN] = P - tp;
        k++;
    }
    return k;
}

size_t lm_game_candidates(size_t nd, size_t k, size_t *idx)
{
    if (nd == 0 || k == 0)
        return 0;
    if (nd <= k) {
        for (size_t i = 0; i < nd; i++)
            idx[i] = i;
        return nd;
    }
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        size_t j = (size_t)((double)i * (double)(nd - 1) / (double)(k - 1) + 0.5);
        if (m == 0 || idx[m - 1] != j)
            idx[m++] = j;
    }
    return m;
}

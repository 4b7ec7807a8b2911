/* game.h - membership-inference game outcomes: from per-challenge scores
 * and membership bits to confusion counts.
 *
 * The attack guesses "member" iff score >= T (the convention of the
 * privacy-estimates package: AttackResults.from_scores_threshold_and_labels
 * in privacy_estimates/utils.py).  A sweep gives
 * the counts at every distinct threshold in one pass over the sorted scores.
 * Counts are in the order tp, fp, tn, fn.  Thread-safe; no I/O.
 */
#ifndef LMKIT_PRIVACY_GAME_H
#define LMKIT_PRIVACY_GAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double score;
    int member;     /* 1 member, 0 non-member */
    uint32_t model; /* index of the trained model the challenge belongs to */
} lm_trial;

enum { LM_TP, LM_FP, LM_TN, LM_FN };

/* Counts at threshold T. */
void lm_game_counts(const lm_trial *t, size_t n, double T, int64_t c[4]);

/* Sorts t by descending score and writes the distinct scores to thr (n
 * entries available) with the counts at each: guess member iff score >=
 * thr[k].  Returns the number of distinct thresholds. */
size_t lm_game_sweep(lm_trial *t, size_t n, double *thr, int64_t (*counts)[4]);

/* At most k candidate thresholds spread evenly over the distinct values of
 * a sorted sweep (indices into thr); returns how many were chosen.  Used to
 * bound the cost of choosing a threshold on held-out data. */
size_t lm_game_candidates(size_t ndistinct, size_t k, size_t *idx);

#endif

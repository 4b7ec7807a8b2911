/* test_taco_rl.c - the pieces of TACO-RL in lib/taco/rl.c: the reward's
 * length rules at their boundaries, the reference's cut of a prediction,
 * the metric choice, and the policy-gradient terms of one position against
 * finite differences of the loss. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "taco/rl.h"
#include "tap.h"
#include "text/metrics.h"

static void t_branch(void)
{
    lm_taco_reward_opts o;
    lm_taco_reward_opts_default(&o);
    ok(lm_taco_reward_branch(&o, 100, 0) == LM_TACO_R_OVER, "L_c = 0: over-compressed");
    ok(lm_taco_reward_branch(&o, 100, 10) == LM_TACO_R_OVER, "L_c = 0.1 L_o exactly: over-compressed");
    ok(lm_taco_reward_branch(&o, 100, 11) == LM_TACO_R_RELAX, "L_c = 11 of 100: |11 - 50| = 39 > 30, relax");
    ok(lm_taco_reward_branch(&o, 200, 130) == LM_TACO_R_METRIC, "|130 - 100| = 30: the metric");
    ok(lm_taco_reward_branch(&o, 200, 131) == LM_TACO_R_RELAX, "|131 - 100| = 31: relax penalty");
    ok(lm_taco_reward_branch(&o, 200, 69) == LM_TACO_R_RELAX, "|69 - 100| = 31: relax penalty");
    ok(lm_taco_reward_branch(&o, 200, 70) == LM_TACO_R_METRIC, "|70 - 100| = 30: the metric");
}

static void t_cut(void)
{
    static const char *const in[][2] = {
        {"\n\n  The summary.  \nMore", "The summary."},
        {"one line", "one line"},
        {"\n\n\n", ""},
        {"", ""},
        {" \t\n x", ""},
        {"a\r\nb", "a"},
    };
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        size_t off, len;
        lm_taco_pred_cut(in[i][0], strlen(in[i][0]), &off, &len);
        ok(len == strlen(in[i][1]) && memcmp(in[i][0] + off, in[i][1], len) == 0, "cut %zu: '%.*s'", i,
           (int)len, in[i][0] + off);
    }
    lm_taco_reward_opts o;
    lm_taco_reward_opts_default(&o);
    const char *ref = "the cat sat on the mat";
    double b = lm_taco_reward_metric(&o, "\nthe cat sat on the mat\nignored words", 36, ref, strlen(ref));
    ok(fabs(b - 1) < 1e-12, "BLEU of the first line: 1 (%g)", b);
    o.first_line = 0;
    b = lm_taco_reward_metric(&o, "\nthe cat sat on the mat\nignored words", 36, ref, strlen(ref));
    ok(b < 1 && b > 0, "without the cut the extra words count (%g)", b);
    o.first_line = 1;
    o.metric = LM_TACO_METRIC_F1;
    lm_text r = {ref, strlen(ref)};
    ok(lm_taco_reward_metric(&o, "cat sat", 7, ref, strlen(ref)) == lm_squad_f1("cat sat", 7, &r, 1),
       "f1 is SQuAD's F1");
    o.metric = LM_TACO_METRIC_EM;
    ok(lm_taco_reward_metric(&o, "The cat sat on the mat.", 23, ref, strlen(ref)) == 1,
       "em after normalisation");
}

/* loss of one position as a function of the logits z */
static double pos_loss(const double *z, int a, double adv, double beta)
{
    double m = fmax(z[0], z[1]);
    double e0 = exp(z[0] - m), e1 = exp(z[1] - m), s = e0 + e1;
    double p0 = e0 / s, p1 = e1 / s;
    double h = -(p0 * log(p0) + p1 * log(p1));
    return -adv * log(a ? p1 : p0) - beta * h;
}

static void t_grad(void)
{
    static const double cases[][5] = {
        /* z0, z1, a, adv, beta */
        {0.3, -0.2, 1, 0.7, 0.01}, {0.3, -0.2, 0, 0.7, 0.01}, {-1.5, 2.0, 1, -0.4, 0.05},
        {2.0, -3.0, 0, 0.0, 0.5},  {0.0, 0.0, 1, 1.0, 0.0},
    };
    double worst = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const double *c = cases[i];
        double z[2] = {c[0], c[1]};
        double m = fmax(z[0], z[1]), e0 = exp(z[0] - m), e1 = exp(z[1] - m);
        float p[2] = {(float)(e0 / (e0 + e1)), (float)(e1 / (e0 + e1))};
        float dl[2] = {0, 0};
        double lp, h;
        lm_taco_pg_position(p, (int)c[2], c[3], c[4], 1.0, dl, &lp, &h);
        for (int k = 0; k < 2; k++) {
            double zp[2] = {z[0], z[1]}, zm[2] = {z[0], z[1]}, eps = 1e-5;
            zp[k] += eps, zm[k] -= eps;
            double fd =
                (pos_loss(zp, (int)c[2], c[3], c[4]) - pos_loss(zm, (int)c[2], c[3], c[4])) / (2 * eps);
            double err = fabs(dl[k] - fd) / fmax(fabs(fd), 1e-3);
            if (err > worst)
                worst = err;
        }
        ok(fabs(lp - log(c[2] ? p[1] : p[0])) < 1e-6 && h > 0, "case %zu: log p(a) and entropy", i);
    }
    ok(worst < 1e-4, "d loss / d logits against finite differences: worst relative error %.2g", worst);
    float dl[2] = {1, 2}, p[2] = {0.25f, 0.75f};
    double lp, h;
    lm_taco_pg_position(p, 1, 0.5, 0, 0.1, dl, &lp, &h);
    ok(fabsf(dl[0] - (1 + 0.1f * 0.5f * 0.25f)) < 1e-6 && fabsf(dl[1] - (2 - 0.1f * 0.5f * 0.25f)) < 1e-6,
       "gradients add into dl, scaled by 1/|M|");
}

int main(void)
{
    t_branch();
    t_cut();
    t_grad();
    return tap_done();
}

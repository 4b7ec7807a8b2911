/* test_route_router.c - the multi-head router on synthetic best-of-n data:
 * training lowers the loss and beats random predictions, results do not
 * depend on the thread count, save/load round-trips, bad files are refused
 * with clear messages; plus the synthetic generator's ground truth. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/rng.h"
#include "route/data.h"
#include "route/eval.h"
#include "route/features.h"
#include "route/labels.h"
#include "route/router.h"
#include "route/synth.h"
#include "tap.h"

#define NQ 1500
#define NMAX 3

static route_models M;
static route_record R[NQ];
static route_labels L[NQ];
static route_csr X;
static double *Y;

static void build(const route_feat_cfg *fc)
{
    char err[256];
    route_synth_opts so;
    route_synth_opts_default(&so);
    so.seed = 7;
    json_t *pr = route_synth_prices();
    char *ps = json_dumps(pr, 0);
    ok(route_models_parse(&M, ps, strlen(ps), NULL, err, sizeof err) == 0, "synthetic prices: %s", err);
    free(ps);
    json_decref(pr);
    route_label_opts lo;
    route_label_opts_default(&lo);
    lo.n_max = NMAX;
    size_t H = (M.n - 1) * NMAX;
    Y = malloc(NQ * H * sizeof(double));
    int good = 1;
    for (size_t q = 0; q < NQ; q++) {
        json_t *j = route_synth_record(&so, q);
        good &= route_record_parse(&R[q], j, &M, err, sizeof err) == 0;
        good &= R[q].synthetic;
        json_decref(j);
        route_labels_alloc(&L[q], H);
        good &= route_labels_build(&L[q], &R[q], &M, &lo, 11, q, err, sizeof err) == 0;
        memcpy(Y + q * H, L[q].match, H * sizeof(double));
        uint32_t *idx;
        float *val;
        size_t nnz;
        good &= route_featurize(fc, R[q].prompt, R[q].features, R[q].n_features, &idx, &val, &nnz) == 0;
        route_csr_append(&X, idx, val, nnz);
        free(idx);
        free(val);
    }
    ok(good, "synthetic records parse, are marked synthetic, get labels and features");
    route_models_fit_avg_out(&M, R, NQ);
}

/* mean label per head: best-of-n must help every small model on this data */
static void ground_truth(void)
{
    size_t H = (M.n - 1) * NMAX;
    int rises = 1;
    for (size_t s = 0; s < M.n - 1; s++) {
        double prev = -1;
        for (size_t n = 0; n < NMAX; n++) {
            double m = 0;
            for (size_t q = 0; q < NQ; q++)
                m += Y[q * H + s * NMAX + n];
            m /= NQ;
            rises &= m > prev;
            prev = m;
        }
    }
    ok(rises, "synthetic ground truth: mean match rises with n for every small model");
}

static double *predict_all(const route_router *r)
{
    size_t H = r->n_heads;
    double *p = malloc(NQ * H * sizeof(double));
    for (size_t q = 0; q < NQ; q++)
        route_router_predict(r, X.idx + X.rowptr[q], X.val + X.rowptr[q], X.rowptr[q + 1] - X.rowptr[q],
                             p + q * H);
    return p;
}

static double apgr_of(const double *pred)
{
    route_eval_data d;
    char err[256];
    size_t H = (M.n - 1) * NMAX;
    route_eval_alloc(&d, NQ, H, NMAX);
    for (size_t q = 0; q < NQ; q++)
        route_eval_fill(&d, q, &M, &R[q], &L[q], ROUTE_COST_REALISED, err, sizeof err);
    route_rule rule = {0, 1, 1.0};
    double thr[12];
    size_t nt = route_thresholds_quantile(&d, pred, &rule, 10, thr);
    route_point pts[12];
    route_sweep(&d, pred, &rule, thr, nt, pts);
    route_summary s;
    /* weak: the cheapest small model at n = 1 (table model 1 -> small 0) */
    route_summarize(&d, pts, nt, 0, &s);
    route_eval_free(&d);
    return s.apgr;
}

/* A 266-byte router file (a fuzzing find) whose header sizes need 1.2e9
 * parameters but whose params line and data say 22: loaded in a child
 * limited to 512 MB of address space, it must be refused by the size check,
 * not by an out-of-memory error after allocating the header's size. */
static void huge_header(void)
{
    const char head[] = "lmkit-route-router 1\narch mlp\nhash_dim 399999999\nword_ngram 2\nchar_min 3\n"
                        "char_max 4\nemb_dim 2\nhidden 3\nn_max 1\nn_small 1\nmodel 3.5 ll31-:b\n"
                        "reference 294 gpt-4o\nparams 22 l22\nend\n";
    char path[] = "/tmp/test_route_router_huge.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb");
    fwrite(head, 1, sizeof head - 1, f);
    for (int i = 0; i < 22; i++)
        fwrite("\0\0\0\0", 1, 4, f);
    fclose(f);
    int pfd[2];
    if (pipe(pfd) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
#ifndef __SANITIZE_ADDRESS__
        /* (AddressSanitizer reserves terabytes of address space: the limit
         * is left out there, and the check is only on the message) */
        struct rlimit rl = {512u << 20, 512u << 20};
        setrlimit(RLIMIT_AS, &rl);
#endif
        route_router r;
        char err[512] = "";
        int rc = route_router_load(&r, path, err, sizeof err);
        if (write(pfd[1], err, strlen(err) + 1) < 0)
            _exit(3);
        _exit(rc == -1 ? 0 : 1);
    }
    close(pfd[1]);
    char msg[512] = "";
    ssize_t n = read(pfd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = 0;
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
           strstr(msg, "header says 22 parameters, the sizes need 1200000010"),
       "a header whose sizes need 1.2e9 parameters is refused before they are allocated: %s", msg);
    remove(path);
}

int main(void)
{
    char err[256];
    route_feat_cfg fc;
    route_feat_cfg_default(&fc);
    fc.hash_dim = 1 << 10;
    fc.emb_dim = 1;
    build(&fc);
    ground_truth();
    size_t H = (M.n - 1) * NMAX;
    const char *small[3];
    for (size_t s = 0; s < M.n - 1; s++)
        small[s] = M.name[route_models_small(&M, s)];

    route_train_opts o;
    route_train_opts_default(&o);
    o.seed = 3;
    o.max_epochs = 15;
    o.batch = 256;
    o.lr = 0.02;
    route_router lin, lin1, mlp, back;
    route_train_log log;
    ok(route_router_init(&lin, ROUTE_LINEAR, &fc, 0, NMAX, M.n - 1, small, M.name[M.ref], NULL, err,
                         sizeof err) == 0,
       "init linear: %s", err);
    ok(route_router_train(&lin, &X, Y, &o, &log, err, sizeof err) == 0, "train linear: %s", err);
    diag("linear: init loss %.4f, epochs %zu, best epoch %zu, val loss %.4f", log.init_loss, log.epochs,
         log.best_epoch, log.best_val_loss);
    ok(log.train_loss[0] < log.init_loss && log.best_val_loss < log.init_loss - 0.02,
       "linear training reduces the loss");

    /* thread-count independence */
#ifdef _OPENMP
    int nt0 = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    route_router_init(&lin1, ROUTE_LINEAR, &fc, 0, NMAX, M.n - 1, small, M.name[M.ref], NULL, err,
                      sizeof err);
    route_router_train(&lin1, &X, Y, &o, NULL, err, sizeof err);
#ifdef _OPENMP
    omp_set_num_threads(nt0 > 1 ? nt0 : 2);
#endif
    ok(memcmp(lin.params, lin1.params, lin.n_params * sizeof(float)) == 0,
       "same parameters with 1 thread and with several");
    route_router_free(&lin1);

    o.arch = ROUTE_MLP;
    o.hidden = 16;
    o.lr = 0.005;
    ok(route_router_init(&mlp, ROUTE_MLP, &fc, 16, NMAX, M.n - 1, small, M.name[M.ref], NULL, err,
                         sizeof err) == 0,
       "init mlp");
    ok(route_router_train(&mlp, &X, Y, &o, &log, err, sizeof err) == 0, "train mlp: %s", err);
    diag("mlp: init loss %.4f, epochs %zu, best epoch %zu, val loss %.4f", log.init_loss, log.epochs,
         log.best_epoch, log.best_val_loss);
    ok(log.best_val_loss < log.init_loss - 0.02, "mlp training reduces the loss");

    /* beats random predictions (same decision rule, same data) */
    double *pl = predict_all(&lin), *pm = predict_all(&mlp);
    double *pr = malloc(NQ * H * sizeof(double));
    lm_rng rng;
    lm_rng_init(&rng, 5, 0);
    for (size_t i = 0; i < NQ * H; i++)
        pr[i] = lm_rng_uniform(&rng);
    double al = apgr_of(pl), am = apgr_of(pm), ar = apgr_of(pr), ao = apgr_of(Y);
    diag("APGR (in-sample): linear %.3f, mlp %.3f, random %.3f, oracle labels %.3f", al, am, ar, ao);
    ok(al > ar + 0.1, "linear router beats random predictions on APGR");
    ok(am > ar + 0.1, "mlp router beats random predictions on APGR");

    /* save / load */
    char path[] = "/tmp/test_route_router.XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ok(route_router_save(&mlp, path, err, sizeof err) == 0, "save: %s", err);
    ok(route_router_load(&back, path, err, sizeof err) == 0, "load: %s", err);
    ok(back.n_params == mlp.n_params && memcmp(back.params, mlp.params, mlp.n_params * sizeof(float)) == 0 &&
           back.arch == ROUTE_MLP && back.hidden == 16 && back.feat.hash_dim == fc.hash_dim &&
           strcmp(back.small[2], small[2]) == 0 && strcmp(back.reference, M.name[M.ref]) == 0,
       "round trip keeps parameters, sizes and names");
    double p1[16], p2[16];
    route_router_predict(&mlp, X.idx, X.val, X.rowptr[1], p1);
    route_router_predict(&back, X.idx, X.val, X.rowptr[1], p2);
    ok(memcmp(p1, p2, H * sizeof(double)) == 0, "loaded router predicts identically");
    route_router_free(&back);

    /* malformed files */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)sz);
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz)
        diag("short read");
    fclose(f);
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)sz - 4, f);
    fclose(f);
    ok(route_router_load(&back, path, err, sizeof err) == -1 && strstr(err, "truncated"),
       "truncated file: %s", err);
    f = fopen(path, "wb");
    fputs("lmkit-route-router 9\n", f);
    fclose(f);
    ok(route_router_load(&back, path, err, sizeof err) == -1 && strstr(err, "version 9"),
       "future version: %s", err);
    f = fopen(path, "wb");
    fputs("hello\n", f);
    fclose(f);
    ok(route_router_load(&back, path, err, sizeof err) == -1 && strstr(err, "not a route router file"),
       "not a router: %s", err);
    char *bad = malloc((size_t)sz + 1);
    memcpy(bad, buf, (size_t)sz);
    bad[sz] = 0;
    char *hp = strstr(bad, "hidden 16");
    if (hp)
        hp[7] = '7';
    f = fopen(path, "wb");
    fwrite(bad, 1, (size_t)sz, f);
    fclose(f);
    ok(route_router_load(&back, path, err, sizeof err) == -1 && strstr(err, "parameters"),
       "sizes disagree with the parameter count: %s", err);
    free(bad);
    free(buf);
    remove(path);

    free(pl);
    free(pm);
    free(pr);
    route_router_free(&lin);
    route_router_free(&mlp);
    for (size_t q = 0; q < NQ; q++) {
        route_record_free(&R[q], &M);
        route_labels_free(&L[q]);
    }
    route_csr_free(&X);
    free(Y);
    route_models_free(&M);
    huge_header();
    return tap_done();
}

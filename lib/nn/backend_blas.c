/* backend_blas.c - OpenBLAS, loaded on first use with its thread pool off.
 *
 * The commands do not link OpenBLAS: the pthread build starts, from its
 * library constructor and so before main, one worker thread per core, and
 * each worker maps a work buffer of 128 MiB at once.  lmkit never uses those
 * workers (the encoder calls a single-threaded sgemm from each of its own
 * OpenMP threads, see ops.c), yet on a 16-core machine they hold 1.9 GiB of
 * address space, and under a `ulimit -v` a worker whose mmap fails retries
 * it forever (blas_memory_alloc): the command spins, and hangs at exit
 * joining that worker.  So the few OpenBLAS functions lmkit calls are
 * defined here and forward to libopenblas, dlopened on the first call with
 * OPENBLAS_NUM_THREADS=1 in the environment (restored after), which makes
 * OpenBLAS start no workers.
 *
 * Library: $LMKIT_BLAS_LIB, else LM_BLAS_SONAME (libopenblas.so.0, the name
 * Debian's alternatives give the BLAS the headers came from).  A program
 * that also links -lopenblas still calls these definitions (the executable's
 * own come first); one that cannot load the library exits with status 2 and
 * a message on the first BLAS call (lm_nn_blas_load reports it instead).
 */
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "nn/backend.h"

#ifndef LM_BLAS_SONAME
#define LM_BLAS_SONAME "libopenblas.so.0"
#endif

typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint,
                         blasint, float, const float *, blasint, const float *, blasint, float, float *,
                         blasint);

static struct {
    pthread_once_t once;
    int ok;
    sgemm_fn sgemm;
    void (*set_threads)(int);
    int (*get_threads)(void);
    void *(*buf_alloc)(int);
    void (*buf_free)(void *);
    char why[768];
} blas = {PTHREAD_ONCE_INIT, 0, NULL, NULL, NULL, NULL, NULL, ""};

static void load(void)
{
    const char *name = getenv("LMKIT_BLAS_LIB");
    if (!name || !*name)
        name = LM_BLAS_SONAME;
    char old[64];
    const char *o = getenv("OPENBLAS_NUM_THREADS");
    int had = o != NULL;
    if (had)
        snprintf(old, sizeof old, "%s", o);
    setenv("OPENBLAS_NUM_THREADS", "1", 1); /* read by its constructor */
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (had)
        setenv("OPENBLAS_NUM_THREADS", old, 1);
    else
        unsetenv("OPENBLAS_NUM_THREADS");
    if (!h) {
        const char *e = dlerror();
        lm_seterr(blas.why, sizeof blas.why, "cannot load OpenBLAS (%s): %s", name, e ? e : "unknown error");
        return;
    }
    blas.sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    blas.set_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    blas.get_threads = (int (*)(void))dlsym(h, "openblas_get_num_threads");
    /* OpenBLAS's buffer allocator: exported, not in cblas.h; optional */
    blas.buf_alloc = (void *(*)(int))dlsym(h, "blas_memory_alloc");
    blas.buf_free = (void (*)(void *))dlsym(h, "blas_memory_free");
    if (!blas.sgemm || !blas.set_threads || !blas.get_threads) {
        lm_seterr(blas.why, sizeof blas.why,
                  "%s is not OpenBLAS (cblas_sgemm or openblas_set_num_threads is missing)", name);
        return; /* the handle stays open: harmless */
    }
    blas.ok = 1;
}

int lm_nn_blas_load(char *err, size_t errlen)
{
    pthread_once(&blas.once, load);
    if (blas.ok)
        return 0;
    lm_seterr(err, errlen, "%s", blas.why);
    return -1;
}

static void need(void)
{
    char err[sizeof blas.why];
    if (lm_nn_blas_load(err, sizeof err)) /* after the first call: one atomic load */
        lm_die_hint(LM_EXIT_USAGE,
                    "install OpenBLAS (Debian: libopenblas0), or name the library "
                    "with LMKIT_BLAS_LIB",
                    "%s", err);
}

void *lm_nn_blas_buffer_alloc(void)
{
    need();
    return blas.buf_alloc && blas.buf_free ? blas.buf_alloc(0) : NULL;
}

void lm_nn_blas_buffer_free(void *b)
{
    if (b)
        blas.buf_free(b);
}

/* ---- the OpenBLAS functions lmkit calls (prototypes from cblas.h) ---- */

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint M,
                 blasint N, blasint K, float alpha, const float *A, blasint lda, const float *B, blasint ldb,
                 float beta, float *C, blasint ldc)
{
    need();
    blas.sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void openblas_set_num_threads(int n)
{
    need();
    blas.set_threads(n);
}

int openblas_get_num_threads(void)
{
    need();
    return blas.get_threads();
}

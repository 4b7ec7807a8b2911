/* backend.c - the CPU op tables (see backend.h): BLAS and naive; and the
 * set-up of OpenBLAS's work buffers (lm_nn_cpu_reserve). */
#include "nn/backend.h"

#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/diag.h"
#include "nn/ops.h"

const lm_nn_backend lm_nn_backend_cpu = {
    .name = "cpu",
    .embeddings = nn_embeddings_forward,
    .layernorm = nn_layernorm_forward,
    .matmul = nn_matmul_forward,
    .attention = nn_attention_forward,
    .gelu = nn_gelu_forward,
    .gelu_tanh = nn_gelu_tanh_forward,
    .softmax = nn_softmax_forward,
};

const lm_nn_backend lm_nn_backend_cpu_naive = {
    .name = "cpu-naive",
    .embeddings = nn_embeddings_forward,
    .layernorm = nn_layernorm_forward,
    .matmul = nn_matmul_forward_naive,
    .attention = nn_attention_forward_naive,
    .gelu = nn_gelu_forward,
    .gelu_tanh = nn_gelu_tanh_forward,
    .softmax = nn_softmax_forward,
};

/* ---- OpenBLAS work buffers ---- */

/* per buffer, beyond LM_NN_BLAS_BUFFER: OpenBLAS's guard page and alignment */
#define BUFFER_SLACK ((size_t)1 << 20)

/* 0 when n buffers can be mapped now (the probe maps them as OpenBLAS
 * does, so that strict overcommit counts it too), else the errno. */
static int probe(int n)
{
    size_t bytes = (size_t)n * (LM_NN_BLAS_BUFFER + BUFFER_SLACK);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return errno ? errno : ENOMEM;
    munmap(p, bytes);
    return 0;
}

/* One product large enough to take OpenBLAS's buffer (small products may
 * skip it on some CPUs). */
static void warm_sgemm(void)
{
    enum { N = 256 };
    float *a = lm_xcalloc((size_t)3 * N * N, sizeof *a);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0f, a, N, a + N * N, N, 0.0f,
                a + 2 * N * N, N);
    free(a);
}

int lm_nn_cpu_reserve(int *fits, size_t *shortfall, char *err, size_t errlen)
{
    if (fits)
        *fits = 0;
    if (shortfall)
        *shortfall = 0;
    if (lm_nn_blas_load(err, errlen))
        return -1;
    if (openblas_get_num_threads() != 1) /* as the ops do (ops.c) */
        openblas_set_num_threads(1);
    int team = 1, e = 0;
    /* the team first (its stacks count against the limit), then the probe,
     * then one buffer per thread, all held at once so that OpenBLAS maps a
     * buffer for each */
#pragma omp parallel
    {
#pragma omp single
        {
            team = omp_get_num_threads();
            e = probe(team);
        }
        if (e == 0) {
            void *b = lm_nn_blas_buffer_alloc();
            if (!b) /* no direct access to the allocator: through a product */
                warm_sgemm();
#pragma omp barrier
            lm_nn_blas_buffer_free(b);
        }
    }
    if (fits)
        *fits = team;
    if (e == 0)
        return 0;
    int k = team - 1;
    while (k > 0 && probe(k) != 0)
        k--;
    if (fits)
        *fits = k;
    char lim[200] = "";
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        unsigned long long used = 0, cur = rl.rlim_cur, need;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f) {
            if (fscanf(f, "%llu", &used) != 1)
                used = 0;
            fclose(f);
        }
        used *= (unsigned long long)sysconf(_SC_PAGESIZE);
        need = (unsigned long long)team * (LM_NN_BLAS_BUFFER + BUFFER_SLACK);
        if (shortfall && used && need + used > cur)
            *shortfall = (size_t)(need + used - cur);
        snprintf(lim, sizeof lim,
                 "; the address-space limit (ulimit -v) is %llu MiB, %llu MiB of "
                 "it in use",
                 cur >> 20, used >> 20);
    }
    lm_seterr(err, errlen,
              "no memory for OpenBLAS's work buffers: %d thread%s need%s %d x %zu MiB of address "
              "space (%s)%s",
              team, team == 1 ? "" : "s", team == 1 ? "s" : "", team, LM_NN_BLAS_BUFFER >> 20, strerror(e),
              lim);
    return -1;
}

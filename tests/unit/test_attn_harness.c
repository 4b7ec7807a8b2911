/* test_attn_harness.c - lib/attn/harness: shapes read from records (with
 * their errors and positions), the seeded input fill, the checksum, the
 * device choice, the K+V limit, and one shape run through the CPU backend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attn/harness.h"
#include "core/cli.h"
#include "tap.h"

/* Parses one line: 0 with s filled, or -1 with "POS: message" in msg. */
static int parse(const char *line, attn_shape *s, char *msg, size_t msglen)
{
    lm_record r = {.file = "t", .lineno = 1, .text = line, .len = strlen(line)};
    lm_jerr je;
    msg[0] = 0;
    if (lm_json_scan_object(&r.scan, line, r.len, &je) < 0)
        return -2;
    lm_rerr e = {0};
    e.pos = LM_NOPOS;
    int rc = attn_shape_parse(&r, s, &e);
    if (rc)
        snprintf(msg, msglen, "%ld: %s", e.pos == LM_NOPOS ? -1L : (long)e.pos, e.msg.p ? e.msg.p : "");
    lm_rerr_free(&e);
    lm_jscan_free(&r.scan);
    return rc;
}

static void test_shapes(void)
{
    attn_shape s;
    char msg[300];
    ok(parse("{\"heads\":4,\"head_dim\":64,\"ctx\":500}", &s, msg, sizeof msg) == 0, "uniform shape");
    ok(s.dims.B == 1 && s.dims.H_q == 4 && s.dims.H_kv == 4 && s.dims.D == 64 && !s.ragged &&
           s.lens[0] == 500,
       "batch 1, kv_heads = heads by default");
    free(s.lens);
    ok(parse("{\"batch\":3,\"heads\":8,\"kv_heads\":2,\"head_dim\":128,\"ctx\":7}", &s, msg, sizeof msg) == 0,
       "batch of three");
    ok(s.dims.B == 3 && s.dims.H_kv == 2 && s.lens[0] == 7 && s.lens[2] == 7,
       "every sequence the same length");
    free(s.lens);
    ok(parse("{\"heads\":2,\"head_dim\":64,\"ctx\":[ 130 , 0,7 ]}", &s, msg, sizeof msg) == 0, "ragged");
    ok(s.ragged && s.dims.B == 3 && s.lens[0] == 130 && s.lens[1] == 0 && s.lens[2] == 7, "one length each");
    free(s.lens);

    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"{\"heads\":4,\"head_dim\":64,\"ctx\":-5}",
         "31: \"ctx\" is negative (-5): context lengths are >= 0"},
        {"{\"heads\":4,\"head_dim\":64,\"ctx\":[10, -1]}",
         "36: \"ctx\"[1] is negative (-1): context lengths are >= 0"},
        {"{\"heads\":4,\"head_dim\":64,\"ctx\":[10,\"x\"]}", "35: \"ctx\"[1] must be a number"},
        {"{\"heads\":32,\"kv_heads\":6,\"head_dim\":128,\"ctx\":8}",
         "23: \"heads\" (32) is not divisible by \"kv_heads\" (6)"},
        {"{\"heads\":4,\"head_dim\":96,\"ctx\":8}", "22: \"head_dim\" is 96; it must be 64 or 128"},
        {"{\"heads\":4,\"head_dim\":64,\"ctx\":2.5}", "31: \"ctx\" must be a whole number, not 2.5"},
        {"{\"heads\":4,\"head_dim\":64,\"ctx\":\"8k\"}",
         "31: \"ctx\" must be a number or a list of numbers, not a string"},
        {"{\"heads\":0,\"head_dim\":64,\"ctx\":8}", "9: \"heads\" is 0; it must lie in [1, 4096]"},
        {"{\"head_dim\":64,\"ctx\":8}", "-1: no \"heads\" field"},
        {"{\"heads\":4,\"head_dim\":64}", "-1: no \"ctx\" field"},
        {"{\"heads\":4,\"head_dim\":64,\"ctx\":[]}", "31: \"ctx\" is an empty list"},
        {"{\"heads\":4,\"head_dim\":64,\"ctx\":2000000000}",
         "31: \"ctx\" is 2000000000; at most 1073741824 tokens are supported"},
        {"{\"batch\":2,\"heads\":2,\"head_dim\":64,\"ctx\":[5,6,7]}",
         "9: \"batch\" is 2 but \"ctx\" lists 3 lengths"},
        {"{\"heads\":\"4\",\"head_dim\":64,\"ctx\":8}", "9: \"heads\" must be a number, not a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i].line, &s, msg, sizeof msg);
        ok(rc == -1 && strcmp(msg, bad[i].msg) == 0, "%s -> %s", bad[i].line, msg);
    }
}

static void test_fill_and_checksum(void)
{
    size_t n = 5 * 65536 + 17;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    attn_fill_normal(a, ATTN_F32, n, 42, 1);
    attn_fill_normal(b, ATTN_F32, n, 42, 4);
    ok(memcmp(a, b, n * sizeof *a) == 0, "the fill does not depend on the thread count");
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        sum += a[i];
        sq += (double)a[i] * a[i];
    }
    ok(fabs(sum / (double)n) < 0.01 && fabs(sq / (double)n - 1) < 0.02, "N(0,1): mean %g, variance %g",
       sum / (double)n, sq / (double)n);
    attn_fill_normal(b, ATTN_F32, n, 43, 1);
    ok(memcmp(a, b, n * sizeof *a) != 0, "another seed, other values");
    uint16_t h[3];
    attn_fill_normal(h, ATTN_BF16, 3, 42, 1);
    ok(h[0] == attn_f32_to_bf16(a[0]) && h[2] == attn_f32_to_bf16(a[2]), "bf16 stores the same draws");
    free(a);
    free(b);
    ok(attn_fnv1a("", 0) == 0xcbf29ce484222325ULL, "FNV-1a of nothing");
    ok(attn_fnv1a("a", 1) == 0xaf63dc4c8601ec8cULL, "FNV-1a of \"a\"");
}

static void bench_init(attn_bench *b, const char *algs)
{
    memset(b, 0, sizeof *b);
    b->dtype = ATTN_BF16;
    b->layout = ATTN_HND;
    b->runs = 2;
    b->warmup = 0;
    b->no_flush = 1;
    b->workers = 3;
    b->threads = 2;
    b->seed = 1;
    b->llc = 1 << 20;
    b->max_kv_bytes = (size_t)1 << 30;
    for (const char *s = algs; *s;) {
        const char *e = strchr(s, ',');
        char name[32];
        size_t n = e ? (size_t)(e - s) : strlen(s);
        memcpy(name, s, n);
        name[n] = 0;
        attn_alg_parse(name, &b->algs[b->nalg++]);
        s = e ? e + 1 : s + n;
    }
}

static void test_device(void)
{
    attn_bench b;
    char err[1200];
    const char *hint;
    bench_init(&b, "lean");
    ok(attn_device_open(&b, LM_DEVICE_CPU, 0, err, sizeof err, &hint) == 0 && b.be == &attn_backend_cpu,
       "--device cpu: the CPU backend");
    ok(b.mem_bytes > 0, "the machine's memory is known");
    attn_device_close(&b);
    ok(attn_device_open(&b, LM_DEVICE_AUTO, 1, err, sizeof err, &hint) == 0 && b.be == &attn_backend_cpu,
       "auto with a CPU-only data type: the CPU");
    attn_device_close(&b);
    int rc = attn_device_open(&b, LM_DEVICE_CUDA, 0, err, sizeof err, &hint);
    if (rc == 0) {
        ok(strcmp(b.be->name, "cuda") == 0 && b.be->check && b.be->upload, "--device cuda: the CUDA backend");
        attn_device_close(&b);
    } else {
        ok(strncmp(err, "--device cuda: ", 15) == 0 && hint && *hint, "--device cuda without a GPU: %s (%s)",
           err, hint ? hint : "no hint");
    }
    const attn_backend *c = &attn_backend_cpu;
    ok(strcmp(c->name, "cpu") == 0 && strcmp(c->bw_source, "cpu-read-stream") == 0 && c->read_bw &&
           c->shape_ok && c->run && !c->upload && !c->release && !c->check,
       "the CPU table");
}

static void test_run(void)
{
    attn_bench b;
    char err[1200];
    const char *hint;
    bench_init(&b, "naive,nosplit,lean,lean-combine");
    attn_device_open(&b, LM_DEVICE_CPU, 0, err, sizeof err, &hint);
    int lens[3] = {130, 0, 300};
    attn_shape sh = {{3, 4, 2, 64, 0}, lens, 1, NULL, 0};
    ok(attn_shape_check(&b, &sh, err, sizeof err, &hint) == 0, "the shape fits");
    attn_result r1[ATTN_N_ALGS], r2[ATTN_N_ALGS];
    ok(attn_shape_run(&b, &sh, 7, r1, err, sizeof err) == 0, "run: %s", err);
    is_int((int)b.n_results, 4, "four results counted");
    ok(!r1[ATTN_SPLITKV].ran && r1[ATTN_LEAN].ran && r1[ATTN_NAIVE].ran, "only the algorithms asked for ran");
    int good = 1;
    for (int a = 0; a < ATTN_N_ALGS; a++) {
        if (!r1[a].ran)
            continue;
        if (!r1[a].acc.ok || strcmp(r1[a].device, "cpu") || r1[a].workers != 3 ||
            !(r1[a].t_min <= r1[a].t_med && r1[a].t_med <= r1[a].t_max) || r1[a].checksum == 0)
            good = 0;
    }
    ok(good, "every result accurate, on the CPU, with 3 workers and ordered timings");
    ok(r1[ATTN_LEAN].si.grid > 0 && r1[ATTN_LEAN].partial_rows > 0, "lean: a grid and partial states");
    ok(r1[ATTN_NOSPLIT].partial_rows == 0, "nosplit: no partial states");
    b.threads = 1;
    ok(attn_shape_run(&b, &sh, 7, r2, err, sizeof err) == 0, "run again with one thread");
    ok(r1[ATTN_LEAN].checksum == r2[ATTN_LEAN].checksum && r1[ATTN_NAIVE].checksum == r2[ATTN_NAIVE].checksum,
       "the same bits");
    ok(attn_shape_run(&b, &sh, 8, r2, err, sizeof err) == 0 &&
           r1[ATTN_LEAN].checksum != r2[ATTN_LEAN].checksum,
       "another stream, other inputs");
    /* the K+V limit */
    b.max_kv_bytes = 1000;
    ok(attn_shape_check(&b, &sh, err, sizeof err, &hint) == -1, "over --max-kv");
    ok(strncmp(err, "this shape needs ", 17) == 0 && strstr(err, "more than the") != NULL, "%s", err);
    is_str(hint, "the limit is --max-kv, by default half the machine's memory", "its hint");
    attn_device_close(&b);
}

int main(void)
{
    test_shapes();
    test_fill_and_checksum();
    test_device();
    test_run();
    return tap_done();
}

/* safetensors.c - safetensors reader (mmap, reference validation), fp16/bf16
 * conversion, sharded checkpoints and an atomic writer.  See safetensors.h
 * for the format and the list of checks (huggingface/safetensors tensor.rs).
 */
#include "nn/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/fs.h"
#include "core/diag.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[LM_DT_COUNT] = {
    [LM_DT_BOOL] = {"BOOL", 1},       [LM_DT_U8] = {"U8", 1},           [LM_DT_I8] = {"I8", 1},
    [LM_DT_F8_E5M2] = {"F8_E5M2", 1}, [LM_DT_F8_E4M3] = {"F8_E4M3", 1}, [LM_DT_I16] = {"I16", 2},
    [LM_DT_U16] = {"U16", 2},         [LM_DT_F16] = {"F16", 2},         [LM_DT_BF16] = {"BF16", 2},
    [LM_DT_I32] = {"I32", 4},         [LM_DT_U32] = {"U32", 4},         [LM_DT_F32] = {"F32", 4},
    [LM_DT_F64] = {"F64", 8},         [LM_DT_I64] = {"I64", 8},         [LM_DT_U64] = {"U64", 8},
};

const char *lm_dtype_name(lm_dtype dt)
{
    return (unsigned)dt < LM_DT_COUNT ? dtypes[dt].name : NULL;
}

size_t lm_dtype_size(lm_dtype dt)
{
    return (unsigned)dt < LM_DT_COUNT ? dtypes[dt].size : 0;
}

static int dtype_from_name(const char *s, lm_dtype *dt)
{
    for (int i = 0; i < LM_DT_COUNT; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *dt = (lm_dtype)i;
            return 0;
        }
    return -1;
}

/* A tensor name for messages: at most 120 bytes, control bytes shown as '?'. */
static const char *shown(const char *name, char *buf, size_t cap)
{
    size_t i = 0;
    for (; name[i] && i + 4 < cap && i < 120; i++) {
        unsigned char c = (unsigned char)name[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (name[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = 0;
    return buf;
}

/* ---- half precision ---- */

float lm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float lm_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t lm_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t exp = (u >> 23) & 0xff, man = u & 0x7fffff;
    if (exp == 0xff) /* inf or nan (keep a quiet nan) */
        return sign | 0x7c00 | (man ? 0x200 | (uint16_t)(man >> 13) : 0);
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return sign | 0x7c00;
    if (e <= 0) { /* subnormal or zero */
        if (e < -10)
            return sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
        uint32_t m = man >> shift;
        if (rest > half || (rest == half && (m & 1)))
            m++;
        return sign | (uint16_t)m;
    }
    uint32_t m = man >> 13, rest = man & 0x1fff;
    uint32_t r = ((uint32_t)e << 10) | m;
    if (rest > 0x1000 || (rest == 0x1000 && (m & 1)))
        r++; /* may carry into the exponent, up to inf: correct */
    return sign | (uint16_t)r;
}

uint16_t lm_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffff))
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* ---- parsing ---- */

static int cmp_offsets(const void *a, const void *b)
{
    const lm_st_tensor *x = *(const lm_st_tensor *const *)a, *y = *(const lm_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static void st_free(lm_safetensors *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->t[i].name);
    free(st->t);
    free(st->metadata);
    st->t = NULL;
    st->n = 0;
    st->metadata = NULL;
}

/* Fills t from one header entry; returns 0 or -1 with a message naming it. */
static int parse_entry(lm_st_tensor *t, const char *name, json_t *v, const char *where, char *err,
                       size_t errlen)
{
    char nb[128];
    shown(name, nb, sizeof nb);
    if (!json_is_object(v)) {
        lm_seterr(err, errlen, "%s: tensor '%s': header entry is not an object", where, nb);
        return -1;
    }
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) {
        lm_seterr(err, errlen, "%s: tensor '%s': missing or non-string \"dtype\"", where, nb);
        return -1;
    }
    if (dtype_from_name(json_string_value(jd), &t->dtype) != 0) {
        char db[64];
        lm_seterr(err, errlen,
                  "%s: tensor '%s': unknown dtype \"%s\" (expected one of F32, F16, BF16, F64, "
                  "I64, I32, I16, I8, U8, ..., BOOL)",
                  where, nb, shown(json_string_value(jd), db, sizeof db));
        return -1;
    }
    if (!json_is_array(js)) {
        lm_seterr(err, errlen, "%s: tensor '%s': missing or non-array \"shape\"", where, nb);
        return -1;
    }
    if (json_array_size(js) > LM_ST_MAX_DIMS) {
        lm_seterr(err, errlen, "%s: tensor '%s': %zu dimensions (at most %d supported)", where, nb,
                  json_array_size(js), LM_ST_MAX_DIMS);
        return -1;
    }
    t->ndim = (int)json_array_size(js);
    size_t numel = 1;
    int overflow = 0;
    for (int d = 0; d < t->ndim; d++) {
        json_t *x = json_array_get(js, (size_t)d);
        if (!json_is_integer(x) || json_integer_value(x) < 0) {
            lm_seterr(err, errlen, "%s: tensor '%s': shape[%d] is not a non-negative integer", where, nb, d);
            return -1;
        }
        t->shape[d] = json_integer_value(x);
        if ((uint64_t)t->shape[d] > SIZE_MAX || __builtin_mul_overflow(numel, (size_t)t->shape[d], &numel))
            overflow = 1;
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)) || json_integer_value(json_array_get(jo, 0)) < 0 ||
        json_integer_value(json_array_get(jo, 1)) < 0) {
        lm_seterr(err, errlen,
                  "%s: tensor '%s': \"data_offsets\" must be two non-negative integers [begin, end]", where,
                  nb);
        return -1;
    }
    t->begin = (size_t)json_integer_value(json_array_get(jo, 0));
    t->end = (size_t)json_integer_value(json_array_get(jo, 1));
    size_t nbytes = 0;
    if (overflow || __builtin_mul_overflow(numel, lm_dtype_size(t->dtype), &nbytes)) {
        lm_seterr(err, errlen, "%s: tensor '%s': shape overflows (element count times %s size)", where, nb,
                  lm_dtype_name(t->dtype));
        return -1;
    }
    t->numel = numel;
    t->name = lm_xstrdup(name);
    return 0;
}

static int parse_into(lm_safetensors *st, const uint8_t *p, size_t len, const char *where, char *err,
                      size_t errlen)
{
    if (len < 8) {
        lm_seterr(err, errlen, "%s: %zu bytes, too short for the 8-byte header length", where, len);
        return -1;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | p[i];
    if (n > LM_ST_MAX_HEADER) {
        lm_seterr(err, errlen, "%s: header length %llu exceeds the 100000000-byte limit", where,
                  (unsigned long long)n);
        return -1;
    }
    if (n > len - 8) {
        lm_seterr(err, errlen, "%s: header length %llu runs past the end of the %zu-byte file", where,
                  (unsigned long long)n, len);
        return -1;
    }
    if (n == 0 || p[8] != '{') {
        lm_seterr(err, errlen, "%s: header does not start with '{'", where);
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)p + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        lm_seterr(err, errlen, "%s: header is not valid JSON: %s (byte %d)", where, je.text, je.position);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        lm_seterr(err, errlen, "%s: header is not a JSON object", where);
        return -1;
    }
    st->buf = p + 8 + n;
    st->buflen = len - 8 - (size_t)n;
    size_t cap = json_object_size(root);
    st->t = lm_xcalloc(cap, sizeof *st->t);
    lm_st_tensor **order = lm_xcalloc(cap, sizeof *order);
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "__metadata__") == 0) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) {
                lm_seterr(err, errlen, "%s: \"__metadata__\" is not an object", where);
                rc = -1;
                break;
            }
            json_object_foreach(v, mk, mv)
            {
                if (!json_is_string(mv)) {
                    char kb[128];
                    lm_seterr(err, errlen, "%s: \"__metadata__\" value for '%s' is not a string", where,
                              shown(mk, kb, sizeof kb));
                    rc = -1;
                    break;
                }
            }
            if (rc)
                break;
            st->metadata = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (!st->metadata) {
                lm_seterr(err, errlen, "%s: out of memory", where);
                rc = -1;
                break;
            }
            continue;
        }
        lm_st_tensor *t = &st->t[st->n];
        if (parse_entry(t, key, v, where, err, errlen) != 0) {
            rc = -1;
            break;
        }
        order[st->n] = t;
        st->n++;
    }
    json_decref(root);
    if (rc == 0) {
        qsort(order, st->n, sizeof *order, cmp_offsets);
        size_t start = 0;
        for (size_t i = 0; i < st->n && rc == 0; i++) {
            lm_st_tensor *t = order[i];
            char nb[128];
            shown(t->name, nb, sizeof nb);
            size_t want = t->numel * lm_dtype_size(t->dtype); /* checked in parse_entry */
            if (t->begin != start || t->end < t->begin) {
                lm_seterr(err, errlen,
                          "%s: tensor '%s': data_offsets [%zu, %zu] do not start where the previous "
                          "tensor ends (%zu): %s",
                          where, nb, t->begin, t->end, start,
                          t->end < t->begin  ? "end before begin"
                          : t->begin > start ? "hole in the data buffer"
                                             : "overlaps another tensor");
                rc = -1;
            } else if (t->end - t->begin != want) {
                lm_seterr(err, errlen, "%s: tensor '%s': data_offsets cover %zu bytes but %s shape needs %zu",
                          where, nb, t->end - t->begin, lm_dtype_name(t->dtype), want);
                rc = -1;
            } else if (t->end > st->buflen) {
                lm_seterr(err, errlen,
                          "%s: tensor '%s': data_offsets end at %zu, past the %zu-byte data buffer "
                          "(file truncated?)",
                          where, nb, t->end, st->buflen);
                rc = -1;
            } else {
                t->data = st->buf + t->begin;
                start = t->end;
            }
        }
        if (rc == 0 && start != st->buflen) {
            char nb[128];
            if (st->n)
                lm_seterr(err, errlen,
                          "%s: the tensors (last: '%s') cover %zu bytes of the %zu-byte data buffer; "
                          "the file has trailing bytes",
                          where, shown(order[st->n - 1]->name, nb, sizeof nb), start, st->buflen);
            else
                lm_seterr(err, errlen, "%s: no tensors, but %zu bytes of data follow the header", where,
                          st->buflen);
            rc = -1;
        }
    }
    free(order);
    if (rc)
        st_free(st);
    return rc;
}

int lm_st_parse(lm_safetensors *st, const void *data, size_t len, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    return parse_into(st, data, len, "<memory>", err, errlen);
}

int lm_st_open(lm_safetensors *st, const char *path, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lm_seterr(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        lm_seterr(err, errlen, "'%s': not a regular file", path);
        close(fd);
        return -1;
    }
    size_t len = (size_t)sb.st_size;
    if (len < 8) {
        close(fd);
        lm_seterr(err, errlen, "'%s': %zu bytes, too short for the 8-byte header length", path, len);
        return -1;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        lm_seterr(err, errlen, "cannot map '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t plen = strlen(path) + 3;
    char *where = lm_xmalloc(plen);
    snprintf(where, plen, "'%s'", path);
    if (parse_into(st, map, len, where, err, errlen) != 0) {
        free(where);
        munmap(map, len);
        return -1;
    }
    free(where);
    st->map = map;
    st->maplen = len;
    st->path = lm_xstrdup(path);
    return 0;
}

void lm_st_close(lm_safetensors *st)
{
    if (!st)
        return;
    st_free(st);
    if (st->map)
        munmap(st->map, st->maplen);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const lm_st_tensor *lm_st_find(const lm_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0)
            return &st->t[i];
    return NULL;
}

int lm_st_f32_in_place(const lm_st_tensor *t)
{
    return t->dtype == LM_DT_F32 && ((uintptr_t)t->data % _Alignof(float)) == 0;
}

int lm_st_to_f32(const lm_st_tensor *t, float *out, char *err, size_t errlen)
{
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case LM_DT_F32: memcpy(out, p, t->numel * 4); return 0;
    case LM_DT_F16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = lm_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    case LM_DT_BF16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = lm_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    default: {
        char nb[128];
        lm_seterr(err, errlen, "tensor '%s': dtype %s is not supported here (F32, F16 or BF16 only)",
                  shown(t->name, nb, sizeof nb), lm_dtype_name(t->dtype));
        return -1;
    }
    }
}

/* ---- sharded checkpoints ---- */

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = lm_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int lm_st_set_open_file(lm_st_set *set, const char *path, char *err, size_t errlen)
{
    memset(set, 0, sizeof *set);
    set->files = lm_xcalloc(1, sizeof *set->files);
    if (lm_st_open(&set->files[0], path, err, errlen) != 0) {
        free(set->files);
        set->files = NULL;
        return -1;
    }
    set->nfiles = 1;
    return 0;
}

int lm_st_set_open(lm_st_set *set, const char *dir, char *err, size_t errlen)
{
    memset(set, 0, sizeof *set);
    char *single = join(dir, "model.safetensors");
    char *index = join(dir, "model.safetensors.index.json");
    struct stat sb;
    if (stat(single, &sb) == 0) {
        int rc = lm_st_set_open_file(set, single, err, errlen);
        free(single);
        free(index);
        return rc;
    }
    free(single);
    size_t len;
    char e2[256];
    char *text = lm_read_file(index, &len, e2, sizeof e2);
    if (!text) {
        lm_seterr(err, errlen, "'%s': no model.safetensors and no model.safetensors.index.json (%s)", dir,
                  e2);
        free(index);
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    json_t *wm = root ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        lm_seterr(err, errlen, "'%s': %s", index,
                  root ? "no \"weight_map\" object (or it is empty)" : je.text);
        json_decref(root);
        free(index);
        return -1;
    }
    /* distinct shard names, in first-seen order */
    const char **names = lm_xcalloc(json_object_size(wm), sizeof *names);
    size_t nn = 0;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(wm, key, v)
    {
        const char *s = json_string_value(v);
        char nb[128];
        if (!s || !*s || strchr(s, '/') || strcmp(s, "..") == 0 || strcmp(s, ".") == 0) {
            lm_seterr(err, errlen, "'%s': tensor '%s': shard name is not a plain file name", index,
                      shown(key, nb, sizeof nb));
            rc = -1;
            break;
        }
        size_t k = 0;
        while (k < nn && strcmp(names[k], s) != 0)
            k++;
        if (k == nn)
            names[nn++] = s;
    }
    if (rc == 0)
        set->files = lm_xcalloc(nn, sizeof *set->files);
    for (size_t k = 0; rc == 0 && k < nn; k++) {
        char *p = join(dir, names[k]);
        if (lm_st_open(&set->files[k], p, err, errlen) != 0) {
            rc = -1;
        } else {
            set->nfiles++;
        }
        free(p);
    }
    if (rc == 0) {
        json_object_foreach(wm, key, v)
        {
            size_t k = 0;
            while (k < nn && strcmp(names[k], json_string_value(v)) != 0)
                k++;
            if (!lm_st_find(&set->files[k], key)) {
                char nb[128];
                lm_seterr(err, errlen, "'%s': tensor '%s' is listed in shard '%s' but not found there", index,
                          shown(key, nb, sizeof nb), names[k]);
                rc = -1;
                break;
            }
        }
    }
    free(names);
    json_decref(root);
    free(index);
    if (rc)
        lm_st_set_close(set);
    return rc;
}

void lm_st_set_close(lm_st_set *set)
{
    if (!set)
        return;
    for (size_t k = 0; k < set->nfiles; k++)
        lm_st_close(&set->files[k]);
    free(set->files);
    memset(set, 0, sizeof *set);
}

const lm_st_tensor *lm_st_set_find(const lm_st_set *set, const char *name)
{
    for (size_t k = 0; k < set->nfiles; k++) {
        const lm_st_tensor *t = lm_st_find(&set->files[k], name);
        if (t)
            return t;
    }
    return NULL;
}

/* ---- writer ---- */

int lm_st_write(const char *path, const lm_st_wtensor *t, size_t n, const char *metadata_json, char *err,
                size_t errlen)
{
    json_t *root = json_object();
    if (!root) {
        lm_seterr(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    if (metadata_json) {
        json_error_t je;
        json_t *m = json_loads(metadata_json, JSON_REJECT_DUPLICATES, &je);
        const char *k;
        json_t *v;
        int okm = json_is_object(m);
        if (okm)
            json_object_foreach(m, k, v) okm &= json_is_string(v);
        if (!okm) {
            lm_seterr(err, errlen, "'%s': metadata must be a JSON object of string values", path);
            json_decref(m);
            json_decref(root);
            return -1;
        }
        json_object_set_new(root, "__metadata__", m);
    }
    size_t off = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char nb[128];
        const char *dn = lm_dtype_name(t[i].dtype);
        if (!t[i].name || !dn || t[i].ndim < 0 || t[i].ndim > LM_ST_MAX_DIMS ||
            strcmp(t[i].name, "__metadata__") == 0 || json_object_get(root, t[i].name)) {
            lm_seterr(err, errlen, "'%s': tensor '%s': bad or duplicate name, dtype or rank", path,
                      t[i].name ? shown(t[i].name, nb, sizeof nb) : "(null)");
            rc = -1;
            break;
        }
        size_t numel = 1, nbytes;
        json_t *shape = json_array();
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].shape[d] < 0 || __builtin_mul_overflow(numel, (size_t)t[i].shape[d], &numel))
                rc = -1;
            json_array_append_new(shape, json_integer(t[i].shape[d]));
        }
        if (rc || __builtin_mul_overflow(numel, lm_dtype_size(t[i].dtype), &nbytes) ||
            __builtin_add_overflow(off, nbytes, &nbytes)) {
            json_decref(shape);
            lm_seterr(err, errlen, "'%s': tensor '%s': bad shape", path, shown(t[i].name, nb, sizeof nb));
            rc = -1;
            break;
        }
        json_t *e = json_object();
        json_object_set_new(e, "dtype", json_string(dn));
        json_object_set_new(e, "shape", shape);
        json_t *o = json_array();
        json_array_append_new(o, json_integer((json_int_t)off));
        json_array_append_new(o, json_integer((json_int_t)nbytes));
        json_object_set_new(e, "data_offsets", o);
        if (json_object_set_new(root, t[i].name, e) != 0) {
            lm_seterr(err, errlen, "'%s': tensor '%s': name is not valid UTF-8", path,
                      shown(t[i].name, nb, sizeof nb));
            rc = -1;
        }
        off = nbytes;
    }
    char *hdr = rc ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc)
        return -1;
    if (!hdr) {
        lm_seterr(err, errlen, "out of memory");
        return -1;
    }
    size_t hl = strlen(hdr), pad = (8 - (8 + hl) % 8) % 8;
    uint64_t N = hl + pad;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)(N >> (8 * i));
    lm_atomic a;
    if (lm_atomic_open(&a, path, err, errlen) != 0) {
        free(hdr);
        return -1;
    }
    int bad = fwrite(len8, 1, 8, a.fp) != 8 || fwrite(hdr, 1, hl, a.fp) != hl;
    for (size_t i = 0; i < pad && !bad; i++)
        bad = fputc(' ', a.fp) == EOF;
    free(hdr);
    for (size_t i = 0; i < n && !bad; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++)
            numel *= (size_t)t[i].shape[d];
        size_t nbytes = numel * lm_dtype_size(t[i].dtype);
        bad = nbytes && fwrite(t[i].data, 1, nbytes, a.fp) != nbytes;
    }
    if (bad) {
        lm_seterr(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        lm_atomic_abort(&a);
        return -1;
    }
    return lm_atomic_commit(&a, err, errlen);
}

/* encoder.c - loading and running a BERT-family encoder; see encoder.h.
 *
 * Weights: a table of (tensor name, expected shape, destination pointer) is
 * built from the config (llm.c's fill_in_parameter_sizes), every tensor is
 * looked up and its shape checked, F32 tensors are pointed at in the mmap and
 * the others converted into one block.  Activations: a table of sizes carves
 * one block (llm.c's malloc_and_point_activations).
 */
#include "nn/encoder.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/diag.h"

typedef struct {
    char name[192];
    int ndim;
    int64_t shape[2];
    const float **dst;
    const lm_st_tensor *t;
} pspec;

static void spec(pspec *p, const char *prefix, const char *name, int64_t d0, int64_t d1, const float **dst)
{
    snprintf(p->name, sizeof p->name, "%s%s", prefix, name);
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->dst = dst;
    p->t = NULL;
}

/* Looks a tensor up; LayerNorm.weight/bias fall back to the older
 * LayerNorm.gamma/beta names that transformers also accepts. */
static const lm_st_tensor *lookup(const lm_st_set *set, const char *name)
{
    const lm_st_tensor *t = lm_st_set_find(set, name);
    if (t)
        return t;
    size_t n = strlen(name);
    char alt[200];
    const char *w = "LayerNorm.weight", *b = "LayerNorm.bias";
    if (n >= strlen(w) && strcmp(name + n - strlen(w), w) == 0)
        snprintf(alt, sizeof alt, "%.*sLayerNorm.gamma", (int)(n - strlen(w)), name);
    else if (n >= strlen(b) && strcmp(name + n - strlen(b), b) == 0)
        snprintf(alt, sizeof alt, "%.*sLayerNorm.beta", (int)(n - strlen(b)), name);
    else
        return NULL;
    return lm_st_set_find(set, alt);
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
}

static int bind_weights(lm_encoder *m, const char *where, char *err, size_t errlen)
{
    const lm_hf_config *c = &m->cfg;
    const lm_st_set *set = &m->st;
    const char *prefix = c->family == LM_FAMILY_BERT ? "bert." : "roberta.";
    char probe[64];
    snprintf(probe, sizeof probe, "%sembeddings.word_embeddings.weight", prefix);
    if (!lm_st_set_find(set, probe)) {
        if (lm_st_set_find(set, "embeddings.word_embeddings.weight")) {
            prefix = ""; /* saved from a bare BertModel / RobertaModel */
        } else {
            lm_seterr(err, errlen, "%s: tensor '%s' not found (is this a %s checkpoint?)", where, probe,
                      c->model_type);
            return -1;
        }
    }
    int L = c->num_layers;
    int64_t C = c->hidden_size, F = c->intermediate_size;
    size_t n = 5 + 16 * (size_t)L + (c->token_classification ? 2 : 0);
    pspec *ps = lm_xcalloc(n, sizeof *ps);
    m->w.layers = lm_xcalloc((size_t)L, sizeof *m->w.layers);
    size_t k = 0;
    lm_encoder_weights *w = &m->w;
    spec(&ps[k++], prefix, "embeddings.word_embeddings.weight", c->vocab_size, C, &w->wte);
    spec(&ps[k++], prefix, "embeddings.position_embeddings.weight", c->max_position, C, &w->wpe);
    spec(&ps[k++], prefix, "embeddings.token_type_embeddings.weight", c->type_vocab_size, C, &w->wtt);
    spec(&ps[k++], prefix, "embeddings.LayerNorm.weight", C, 0, &w->lnew);
    spec(&ps[k++], prefix, "embeddings.LayerNorm.bias", C, 0, &w->lneb);
    for (int l = 0; l < L; l++) {
        lm_encoder_layer *ly = &w->layers[l];
        char p[96];
        snprintf(p, sizeof p, "%sencoder.layer.%d.", prefix, l);
        spec(&ps[k++], p, "attention.self.query.weight", C, C, &ly->qw);
        spec(&ps[k++], p, "attention.self.query.bias", C, 0, &ly->qb);
        spec(&ps[k++], p, "attention.self.key.weight", C, C, &ly->kw);
        spec(&ps[k++], p, "attention.self.key.bias", C, 0, &ly->kb);
        spec(&ps[k++], p, "attention.self.value.weight", C, C, &ly->vw);
        spec(&ps[k++], p, "attention.self.value.bias", C, 0, &ly->vb);
        spec(&ps[k++], p, "attention.output.dense.weight", C, C, &ly->ow);
        spec(&ps[k++], p, "attention.output.dense.bias", C, 0, &ly->ob);
        spec(&ps[k++], p, "attention.output.LayerNorm.weight", C, 0, &ly->ln1w);
        spec(&ps[k++], p, "attention.output.LayerNorm.bias", C, 0, &ly->ln1b);
        spec(&ps[k++], p, "intermediate.dense.weight", F, C, &ly->fcw);
        spec(&ps[k++], p, "intermediate.dense.bias", F, 0, &ly->fcb);
        spec(&ps[k++], p, "output.dense.weight", C, F, &ly->pw);
        spec(&ps[k++], p, "output.dense.bias", C, 0, &ly->pb);
        spec(&ps[k++], p, "output.LayerNorm.weight", C, 0, &ly->ln2w);
        spec(&ps[k++], p, "output.LayerNorm.bias", C, 0, &ly->ln2b);
    }
    if (c->token_classification) {
        spec(&ps[k++], "", "classifier.weight", c->num_labels, C, &w->clsw);
        spec(&ps[k++], "", "classifier.bias", c->num_labels, 0, &w->clsb);
    }
    /* pass 1: find, check, count what needs converting */
    size_t convert = 0;
    for (size_t i = 0; i < n; i++) {
        const lm_st_tensor *t = lookup(set, ps[i].name);
        char want[64], got[160];
        if (!t) {
            lm_seterr(err, errlen, "%s: tensor '%s' not found in the checkpoint", where, ps[i].name);
            goto fail;
        }
        int same = t->ndim == ps[i].ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == ps[i].shape[d];
        if (!same) {
            shape_str(want, sizeof want, ps[i].ndim, ps[i].shape);
            shape_str(got, sizeof got, t->ndim, t->shape);
            lm_seterr(err, errlen, "%s: tensor '%s' has shape %s, config.json implies %s", where, ps[i].name,
                      got, want);
            goto fail;
        }
        if (t->dtype != LM_DT_F32 && t->dtype != LM_DT_F16 && t->dtype != LM_DT_BF16) {
            lm_seterr(err, errlen, "%s: tensor '%s' has dtype %s (F32, F16 or BF16 expected)", where,
                      ps[i].name, lm_dtype_name(t->dtype));
            goto fail;
        }
        ps[i].t = t;
        m->n_params += t->numel;
        if (!lm_st_f32_in_place(t))
            convert += t->numel;
    }
    /* pass 2: one block for everything converted */
    if (convert) {
        m->block = lm_xmalloc(lm_xmul(convert, sizeof *m->block));
        m->block_floats = convert;
    }
    float *p = m->block;
    for (size_t i = 0; i < n; i++) {
        const lm_st_tensor *t = ps[i].t;
        if (lm_st_f32_in_place(t)) {
            *ps[i].dst = t->data;
            m->n_in_place++;
        } else {
            if (lm_st_to_f32(t, p, err, errlen) != 0)
                goto fail;
            *ps[i].dst = p;
            p += t->numel;
        }
    }
    m->n_tensors = n;
    free(ps);
    return 0;
fail:
    free(ps);
    return -1;
}

lm_encoder *lm_encoder_load_files(const char *config_path, const char *weights_path, char *err, size_t errlen)
{
    lm_encoder *m = lm_xcalloc(1, sizeof *m);
    if (lm_hf_config_load(&m->cfg, config_path, err, errlen) != 0) {
        free(m);
        return NULL;
    }
    size_t wl = strlen(weights_path);
    int rc;
    if (wl >= 11 && strcmp(weights_path + wl - 11, ".index.json") == 0) {
        /* an index: open the set from its folder */
        char *dir = lm_xstrdup(weights_path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        rc = lm_st_set_open(&m->st, slash ? dir : ".", err, errlen);
        free(dir);
    } else {
        rc = lm_st_set_open_file(&m->st, weights_path, err, errlen);
    }
    if (rc != 0) {
        lm_hf_config_free(&m->cfg);
        free(m);
        return NULL;
    }
    char where[512];
    snprintf(where, sizeof where, "'%s'", weights_path);
    if (bind_weights(m, where, err, errlen) != 0) {
        lm_encoder_free(m);
        return NULL;
    }
    return m;
}

lm_encoder *lm_encoder_load(const char *dir, char *err, size_t errlen)
{
    size_t n = strlen(dir) + 40;
    char *cp = lm_xmalloc(n);
    snprintf(cp, n, "%s/config.json", dir);
    lm_encoder *m = lm_xcalloc(1, sizeof *m);
    if (lm_hf_config_load(&m->cfg, cp, err, errlen) != 0) {
        free(m);
        free(cp);
        return NULL;
    }
    free(cp);
    if (lm_st_set_open(&m->st, dir, err, errlen) != 0) {
        lm_hf_config_free(&m->cfg);
        free(m);
        return NULL;
    }
    char where[512];
    snprintf(where, sizeof where, "'%s'", dir);
    if (bind_weights(m, where, err, errlen) != 0) {
        lm_encoder_free(m);
        return NULL;
    }
    return m;
}

void lm_encoder_free(lm_encoder *m)
{
    if (!m)
        return;
    free(m->block);
    free(m->w.layers);
    lm_st_set_close(&m->st);
    lm_hf_config_free(&m->cfg);
    free(m);
}

lm_encoder_state *lm_encoder_state_new(const lm_encoder *m, int B, int T, char *err, size_t errlen)
{
    const lm_hf_config *c = &m->cfg;
    if (B < 1 || T < 1) {
        lm_seterr(err, errlen, "batch %d x %d tokens: both must be at least 1", B, T);
        return NULL;
    }
    size_t BT = (size_t)B * (size_t)T, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t NH = (size_t)c->num_heads;
    /* the activation table: x q k v atty tmp ffh att maskadd pos */
    size_t sizes[10] = {BT * C, BT * C, BT * C, BT * C, BT * C, BT * C, BT * F, NH * (size_t)T * (size_t)T,
                        BT,     BT};
    size_t total = 0;
    for (int i = 0; i < 10; i++)
        if (__builtin_add_overflow(total, sizes[i], &total) || total > SIZE_MAX / 8) {
            lm_seterr(err, errlen, "batch %d x %d tokens is too large", B, T);
            return NULL;
        }
    lm_encoder_state *s = lm_xcalloc(1, sizeof *s);
    float *block = lm_xmalloc(total * sizeof(float));
    float **ptrs[9] = {&s->x, &s->q, &s->k, &s->v, &s->atty, &s->tmp, &s->ffh, &s->att, &s->maskadd};
    float *p = block;
    for (int i = 0; i < 9; i++) {
        *ptrs[i] = p;
        p += sizes[i];
    }
    s->pos = (int32_t *)(void *)p; /* same size and alignment as float */
    s->block = block;
    s->block_floats = total;
    s->B = B;
    s->T = T;
    return s;
}

void lm_encoder_state_free(lm_encoder_state *s)
{
    if (!s)
        return;
    free(s->block);
    free(s);
}

/* Where the sequences of a batch lie in the activation rows: padded
 * (B sequences of T rows each, keys masked through s->maskadd) or packed
 * (nseq sequences back to back, lens[i] rows each, no padding). */
typedef struct {
    int B, T;
    const int *lens;
    int nseq;
} layout;

static long layout_rows(const layout *L)
{
    if (!L->lens)
        return (long)L->B * L->T;
    long n = 0;
    for (int i = 0; i < L->nseq; i++)
        n += L->lens[i];
    return n;
}

int lm_encoder_positions(const int32_t *ids, int n, int seq, int roberta, int pad, int V, int P, int32_t *pos,
                         char *err, size_t errlen)
{
    int run = 0;
    for (int t = 0; t < n; t++) {
        int32_t id = ids[t];
        if (id < 0 || id >= V) {
            lm_seterr(err, errlen, "token id %ld at [%d][%d] is outside the vocabulary [0, %d)", (long)id,
                      seq, t, V);
            return -1;
        }
        int32_t p;
        if (!roberta) {
            p = t;
        } else { /* cumsum(id != pad) * (id != pad) + pad */
            int real = id != pad;
            run += real;
            p = real ? run + pad : pad;
        }
        if (p >= P) {
            lm_seterr(err, errlen,
                      "sequence %d: token %d needs position %ld but max_position_embeddings is "
                      "%d (sequence too long for this model)",
                      seq, t, (long)p, P);
            return -1;
        }
        if (pos)
            pos[t] = p;
    }
    return 0;
}

static int positions(const lm_hf_config *c, const int32_t *ids, int n, int seq, int32_t *pos, char *err,
                     size_t errlen)
{
    return lm_encoder_positions(ids, n, seq, c->family == LM_FAMILY_ROBERTA, c->pad_token_id, c->vocab_size,
                                c->max_position, pos, err, errlen);
}

/* Embeddings, the layers and the head over s->pos (filled) and L. */
static void forward_rows(const lm_nn_backend *be, const lm_encoder *m, lm_encoder_state *s,
                         const int32_t *ids, const layout *L, float *logits, float *probs)
{
    const lm_hf_config *c = &m->cfg;
    const lm_encoder_weights *w = &m->w;
    int C = c->hidden_size, F = c->intermediate_size, NH = c->num_heads, NL = c->num_labels;
    /* the row-wise ops see one sequence of R rows */
    int R = (int)layout_rows(L);
    float *x = s->x;
    be->embeddings(x, ids, s->pos, w->wte, w->wpe, w->wtt, 1, R, C);
    be->layernorm(x, x, NULL, w->lnew, w->lneb, 1, R, C, c->layer_norm_eps);
    for (int l = 0; l < c->num_layers; l++) {
        const lm_encoder_layer *ly = &w->layers[l];
        be->matmul(s->q, x, ly->qw, ly->qb, 1, R, C, C);
        be->matmul(s->k, x, ly->kw, ly->kb, 1, R, C, C);
        be->matmul(s->v, x, ly->vw, ly->vb, 1, R, C, C);
        if (!L->lens) {
            be->attention(s->atty, s->att, s->q, s->k, s->v, s->maskadd, L->B, L->T, C, NH);
        } else {
            size_t off = 0; /* s->maskadd is all zeros: no key is masked */
            for (int i = 0; i < L->nseq; i++) {
                be->attention(s->atty + off, s->att, s->q + off, s->k + off, s->v + off, s->maskadd, 1,
                              L->lens[i], C, NH);
                off += (size_t)L->lens[i] * C;
            }
        }
        be->matmul(s->tmp, s->atty, ly->ow, ly->ob, 1, R, C, C);
        be->layernorm(x, s->tmp, x, ly->ln1w, ly->ln1b, 1, R, C, c->layer_norm_eps);
        be->matmul(s->ffh, x, ly->fcw, ly->fcb, 1, R, C, F);
        size_t n = (size_t)R * F;
        if (c->act == LM_ACT_GELU)
            be->gelu(s->ffh, s->ffh, n);
        else
            be->gelu_tanh(s->ffh, s->ffh, n);
        be->matmul(s->tmp, s->ffh, ly->pw, ly->pb, 1, R, F, C);
        be->layernorm(x, s->tmp, x, ly->ln2w, ly->ln2b, 1, R, C, c->layer_norm_eps);
    }
    if (logits || probs) {
        float *out = logits ? logits : probs;
        be->matmul(out, x, w->clsw, w->clsb, 1, R, C, NL);
        if (probs)
            be->softmax(probs, out, R, NL);
    }
}

static int check_head(const lm_hf_config *c, const float *logits, const float *probs, char *err,
                      size_t errlen)
{
    if ((logits || probs) && !c->token_classification) {
        lm_seterr(err, errlen, "%s has no classification head: ask for the hidden state only",
                  c->architecture);
        return -1;
    }
    return 0;
}

int lm_encoder_forward_with(const lm_nn_backend *be, const lm_encoder *m, lm_encoder_state *s,
                            const int32_t *ids, const uint8_t *mask, int B, int T, float *logits,
                            float *probs, char *err, size_t errlen)
{
    const lm_hf_config *c = &m->cfg;
    if (B < 1 || T < 1 || B > s->B || T > s->T) {
        lm_seterr(err, errlen, "batch %d x %d tokens does not fit the state's %d x %d", B, T, s->B, s->T);
        return -1;
    }
    if (check_head(c, logits, probs, err, errlen) != 0)
        return -1;
    /* positions, additive key mask */
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * T;
        if (positions(c, ids + o, T, b, s->pos + o, err, errlen) != 0)
            return -1;
        for (int t = 0; t < T; t++)
            s->maskadd[o + t] = (!mask || mask[o + t]) ? 0.0f : -FLT_MAX;
    }
    layout L = {B, T, NULL, 0};
    forward_rows(be, m, s, ids, &L, logits, probs);
    s->lastB = B;
    s->lastT = T;
    return 0;
}

int lm_encoder_forward_packed_with(const lm_nn_backend *be, const lm_encoder *m, lm_encoder_state *s,
                                   const int32_t *ids, const int *lens, int nseq, float *logits, float *probs,
                                   char *err, size_t errlen)
{
    const lm_hf_config *c = &m->cfg;
    long rows = 0;
    for (int i = 0; i < nseq; i++) {
        if (lens[i] < 1 || lens[i] > s->T) {
            lm_seterr(err, errlen, "sequence %d has %d tokens; the state takes 1 to %d", i, lens[i], s->T);
            return -1;
        }
        rows += lens[i];
    }
    if (nseq < 1 || rows > (long)s->B * s->T) {
        lm_seterr(err, errlen, "%d sequences of %ld tokens in all do not fit the state's %d x %d", nseq, rows,
                  s->B, s->T);
        return -1;
    }
    if (check_head(c, logits, probs, err, errlen) != 0)
        return -1;
    size_t o = 0;
    for (int i = 0; i < nseq; i++) {
        if (positions(c, ids + o, lens[i], i, s->pos + o, err, errlen) != 0)
            return -1;
        o += (size_t)lens[i];
    }
    memset(s->maskadd, 0, (size_t)s->T * sizeof *s->maskadd);
    layout L = {1, (int)rows, lens, nseq};
    forward_rows(be, m, s, ids, &L, logits, probs);
    s->lastB = 1;
    s->lastT = (int)rows;
    return 0;
}

int lm_encoder_forward(const lm_encoder *m, lm_encoder_state *s, const int32_t *ids, const uint8_t *mask,
                       int B, int T, float *logits, float *probs, char *err, size_t errlen)
{
    return lm_encoder_forward_with(&lm_nn_backend_cpu, m, s, ids, mask, B, T, logits, probs, err, errlen);
}

int lm_encoder_forward_packed(const lm_encoder *m, lm_encoder_state *s, const int32_t *ids, const int *lens,
                              int nseq, float *logits, float *probs, char *err, size_t errlen)
{
    return lm_encoder_forward_packed_with(&lm_nn_backend_cpu, m, s, ids, lens, nseq, logits, probs, err,
                                          errlen);
}

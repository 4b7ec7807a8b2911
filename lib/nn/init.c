/* init.c - a new token classifier around a tokenizer.json; see init.h. */
#include "nn/init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/diag.h"
#include "core/fs.h"
#include "core/rng.h"
#include "nn/safetensors.h"
#include "text/tokenizer.h"

static const char *const bert_tokens[5] = {"[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"};
static const char *const xlmr_tokens[5] = {"<pad>", "<s>", "</s>", "<unk>", "<mask>"};

const char *const *lm_init_token_names(lm_family family)
{
    return family == LM_FAMILY_BERT ? bert_tokens : xlmr_tokens;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- weights ---- */

void lm_init_weights(lm_train_model *m, float init_range, uint64_t seed)
{
    const double std = init_range;
    const int pad = m->cfg.pad_token_id;
    for (int i = 0; i < m->nparams; i++) {
        const lm_train_param *p = &m->params[i];
        float *w = m->params_mem + p->offset;
        if (strstr(p->name, "LayerNorm.")) {
            float v = ends_with(p->name, ".weight") ? 1.0f : 0.0f;
            for (size_t j = 0; j < p->numel; j++)
                w[j] = v;
            continue;
        }
        if (ends_with(p->name, ".bias")) {
            memset(w, 0, p->numel * sizeof *w);
            continue;
        }
        /* a Linear or Embedding weight: [rows, cols] */
        long rows = (long)p->shape[0];
        size_t cols = p->ndim == 2 ? (size_t)p->shape[1] : 1;
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= (1u << 16))
        for (long r = 0; r < rows; r++) {
            lm_rng g;
            lm_rng_init(&g, seed, ((uint64_t)i << 40) | (uint64_t)r);
            float *o = w + (size_t)r * cols;
            for (size_t j = 0; j < cols; j++)
                o[j] = (float)(std * lm_rng_normal(&g));
        }
        int pad_row = ends_with(p->name, "embeddings.word_embeddings.weight") ||
                      (m->cfg.family == LM_FAMILY_ROBERTA &&
                       ends_with(p->name, "embeddings.position_embeddings.weight"));
        if (pad_row && pad >= 0 && pad < rows)
            memset(w + (size_t)pad * cols, 0, cols * sizeof *w);
    }
}

/* ---- config ---- */

int lm_init_config(const lm_init_spec *spec, const lm_init_tokens *tok, lm_hf_config *cfg, char *err,
                   size_t errlen)
{
    int bert = spec->family == LM_FAMILY_BERT;
    if (spec->family != LM_FAMILY_BERT && spec->family != LM_FAMILY_ROBERTA) {
        lm_seterr(err, errlen, "unknown model family %d", (int)spec->family);
        return -1;
    }
    if (spec->layers < 1 || spec->layers > LM_INIT_MAX_LAYERS) {
        lm_seterr(err, errlen, "layers %d out of range (1..%d)", spec->layers, LM_INIT_MAX_LAYERS);
        return -1;
    }
    if (spec->hidden < 1 || spec->hidden > LM_INIT_MAX_HIDDEN) {
        lm_seterr(err, errlen, "hidden size %d out of range (1..%d)", spec->hidden, LM_INIT_MAX_HIDDEN);
        return -1;
    }
    if (spec->heads < 1 || spec->hidden % spec->heads != 0) {
        lm_seterr(err, errlen, "%d heads do not divide the hidden size %d", spec->heads, spec->hidden);
        return -1;
    }
    int F = spec->intermediate ? spec->intermediate : 4 * spec->hidden;
    if (F < 1 || F > 4 * LM_INIT_MAX_HIDDEN) {
        lm_seterr(err, errlen, "intermediate size %d out of range (1..%d)", F, 4 * LM_INIT_MAX_HIDDEN);
        return -1;
    }
    int P = spec->max_position ? spec->max_position : bert ? 512 : 512 + tok->pad + 1;
    int Pmin = bert ? 1 : tok->pad + 2; /* XLM-R: positions start at pad + 1 */
    if (P < Pmin || P > LM_INIT_MAX_POSITION) {
        lm_seterr(err, errlen, "max_position_embeddings %d out of range (%d..%d)", P, Pmin,
                  LM_INIT_MAX_POSITION);
        return -1;
    }
    if (spec->init_range < 0 || spec->init_range > 1) {
        lm_seterr(err, errlen, "initializer_range %g out of range (0..1)", (double)spec->init_range);
        return -1;
    }
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->architecture, sizeof cfg->architecture, "%s",
             bert ? "BertForTokenClassification" : "XLMRobertaForTokenClassification");
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", bert ? "bert" : "xlm-roberta");
    cfg->family = spec->family;
    cfg->token_classification = 1;
    cfg->hidden_size = spec->hidden;
    cfg->num_layers = spec->layers;
    cfg->num_heads = spec->heads;
    cfg->intermediate_size = F;
    cfg->vocab_size = tok->vocab_size + LM_INIT_NEW_TOKENS;
    cfg->max_position = P;
    cfg->type_vocab_size = bert ? 2 : 1;
    cfg->pad_token_id = tok->pad;
    cfg->act = LM_ACT_GELU;
    snprintf(cfg->act_name, sizeof cfg->act_name, "gelu");
    cfg->layer_norm_eps = bert ? 1e-12f : 1e-5f;
    cfg->hidden_dropout = 0.1f;
    cfg->attention_dropout = 0.1f;
    cfg->classifier_dropout = 0.1f;
    cfg->num_labels = 2;
    cfg->id2label = lm_xcalloc(2, sizeof *cfg->id2label);
    cfg->id2label[0] = lm_xstrdup("LABEL_0");
    cfg->id2label[1] = lm_xstrdup("LABEL_1");
    return 0;
}

/* config.json as transformers writes it for these models (sorted keys) */
static char *config_json(const lm_hf_config *c, const lm_init_tokens *tok, double range)
{
    int bert = c->family == LM_FAMILY_BERT;
    json_t *o = json_object();
    json_t *arch = json_array();
    json_array_append_new(arch, json_string(c->architecture));
    json_object_set_new(o, "architectures", arch);
    json_object_set_new(o, "attention_probs_dropout_prob", json_real(0.1));
    if (!bert) {
        json_object_set_new(o, "bos_token_id", json_integer(tok->cls));
        json_object_set_new(o, "eos_token_id", json_integer(tok->sep));
    }
    json_object_set_new(o, "classifier_dropout", json_null());
    json_object_set_new(o, "hidden_act", json_string("gelu"));
    json_object_set_new(o, "hidden_dropout_prob", json_real(0.1));
    json_object_set_new(o, "hidden_size", json_integer(c->hidden_size));
    json_t *i2l = json_object(), *l2i = json_object();
    for (int i = 0; i < c->num_labels; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        json_object_set_new(i2l, key, json_string(c->id2label[i]));
        json_object_set_new(l2i, c->id2label[i], json_integer(i));
    }
    json_object_set_new(o, "id2label", i2l);
    json_object_set_new(o, "initializer_range", json_real(range));
    json_object_set_new(o, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(o, "label2id", l2i);
    json_object_set_new(o, "layer_norm_eps", json_real(bert ? 1e-12 : 1e-5));
    json_object_set_new(o, "max_position_embeddings", json_integer(c->max_position));
    json_object_set_new(o, "model_type", json_string(c->model_type));
    json_object_set_new(o, "num_attention_heads", json_integer(c->num_heads));
    json_object_set_new(o, "num_hidden_layers", json_integer(c->num_layers));
    json_object_set_new(o, "pad_token_id", json_integer(c->pad_token_id));
    json_object_set_new(o, "position_embedding_type", json_string("absolute"));
    json_object_set_new(o, "torch_dtype", json_string("float32"));
    json_object_set_new(o, "type_vocab_size", json_integer(c->type_vocab_size));
    json_object_set_new(o, "use_cache", json_true());
    json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (!s)
        lm_die(LM_EXIT_USAGE, "out of memory writing config.json");
    return s;
}

/* tokenizer_config.json and special_tokens_map.json */
static char *tokenizer_files(const lm_hf_config *c, const json_t *tokjson, int special_map)
{
    int bert = c->family == LM_FAMILY_BERT;
    const char *const *n = lm_init_token_names(c->family);
    json_t *o = json_object();
    json_object_set_new(o, "pad_token", json_string(n[0]));
    json_object_set_new(o, "cls_token", json_string(n[1]));
    json_object_set_new(o, "sep_token", json_string(n[2]));
    json_object_set_new(o, "unk_token", json_string(n[3]));
    json_object_set_new(o, "mask_token", json_string(n[4]));
    if (!bert) {
        json_object_set_new(o, "bos_token", json_string(n[1]));
        json_object_set_new(o, "eos_token", json_string(n[2]));
    }
    if (!special_map) {
        json_object_set_new(o, "tokenizer_class",
                            json_string(bert ? "BertTokenizerFast" : "XLMRobertaTokenizerFast"));
        json_object_set_new(o, "model_max_length",
                            json_integer(bert ? c->max_position : c->max_position - c->pad_token_id - 1));
        json_object_set_new(o, "clean_up_tokenization_spaces", json_false());
        if (bert) {
            /* BertTokenizerFast rebuilds a BertNormalizer whose flags differ
             * from these, so state what the file has */
            const json_t *norm = json_object_get(tokjson, "normalizer");
            const char *type = json_string_value(json_object_get(norm, "type"));
            int is_bert = type && strcmp(type, "BertNormalizer") == 0;
            const json_t *lc = is_bert ? json_object_get(norm, "lowercase") : NULL;
            const json_t *sa = is_bert ? json_object_get(norm, "strip_accents") : NULL;
            const json_t *cc = is_bert ? json_object_get(norm, "handle_chinese_chars") : NULL;
            json_object_set_new(o, "do_lower_case", json_boolean(json_is_true(lc)));
            json_object_set_new(o, "strip_accents",
                                json_is_boolean(sa) ? json_copy((json_t *)sa) : json_null());
            json_object_set_new(o, "tokenize_chinese_chars", json_boolean(!cc || json_is_true(cc)));
        }
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!s)
        lm_die(LM_EXIT_USAGE, "out of memory writing the tokenizer files");
    return s;
}

/* ---- the folder ---- */

static int write_text(const char *dir, const char *name, const char *text, size_t len, char *err,
                      size_t errlen)
{
    char *path = lm_xmalloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    lm_atomic a;
    int rc = lm_atomic_open(&a, path, err, errlen);
    if (rc == 0) {
        if (fwrite(text, 1, len, a.fp) != len) {
            lm_seterr(err, errlen, "%s: %s", path, strerror(errno));
            lm_atomic_abort(&a);
            rc = -1;
        } else {
            rc = lm_atomic_commit(&a, err, errlen);
        }
    }
    free(path);
    return rc;
}

/* json_dumps text plus the final newline transformers writes */
static int write_json(const char *dir, const char *name, const char *json, char *err, size_t errlen)
{
    size_t n = strlen(json);
    char *s = lm_xmalloc(n + 2);
    memcpy(s, json, n);
    s[n] = '\n';
    s[n + 1] = 0;
    int rc = write_text(dir, name, s, n + 1, err, errlen);
    free(s);
    return rc;
}

static int find_tokens(lm_family family, const lm_tokenizer *t, const char *path, lm_init_tokens *tok,
                       char *err, size_t errlen)
{
    const char *const *names = lm_init_token_names(family);
    int *ids[5] = {&tok->pad, &tok->cls, &tok->sep, &tok->unk, &tok->mask};
    size_t V = lm_tokenizer_vocab_size(t);
    if (V == 0 || V > (size_t)0x7fffffff) {
        lm_seterr(err, errlen, "%s: vocabulary of %zu tokens is not usable", path, V);
        return -1;
    }
    tok->vocab_size = (int)V;
    for (int i = 0; i < 5; i++) {
        int32_t id = lm_tokenizer_id(t, names[i], strlen(names[i]));
        if (id < 0) {
            lm_seterr(err, errlen, "%s: the tokenizer has no %s token, which a%s model needs", path, names[i],
                      family == LM_FAMILY_BERT ? " BERT" : "n XLM-RoBERTa");
            return -1;
        }
        if ((size_t)id >= V) {
            lm_seterr(err, errlen, "%s: the id %d of %s is past the vocabulary size %zu", path, (int)id,
                      names[i], V);
            return -1;
        }
        *ids[i] = id;
    }
    return 0;
}

static int write_folder(const lm_init_spec *spec, const char *tokenizer_path, const char *out_dir, char *err,
                        size_t errlen)
{
    struct stat st;
    if (lstat(out_dir, &st) == 0) {
        lm_seterr(err, errlen, "%s: already exists; a new model is only written to a new folder", out_dir);
        return -2;
    }
    if (errno != ENOENT) {
        lm_seterr(err, errlen, "%s: %s", out_dir, strerror(errno));
        return -2;
    }
    size_t toklen;
    char *toktext = lm_read_file(tokenizer_path, &toklen, err, errlen);
    if (!toktext)
        return -2;
    int rc = -1;
    char *tmp = NULL;
    lm_train_model *m = NULL;
    lm_hf_config cfg = {0};
    json_error_t je;
    json_t *tokjson = json_loadb(toktext, toklen, 0, &je);
    lm_tokenizer *t = tokjson ? lm_tokenizer_load_mem(toktext, toklen, tokenizer_path, err, errlen) : NULL;
    if (!tokjson)
        lm_seterr(err, errlen, "%s:%d:%d: %s", tokenizer_path, je.line, je.column, je.text);
    lm_init_tokens tok;
    if (!t || find_tokens(spec->family, t, tokenizer_path, &tok, err, errlen) != 0)
        goto out;
    rc = -2;
    if (lm_init_config(spec, &tok, &cfg, err, errlen) != 0)
        goto out;
    double range = spec->init_range > 0 ? spec->init_range : 0.02;

    if (lm_dir_tmp(out_dir, "init", &tmp, err, errlen) != 0)
        goto out;

    m = lm_train_model_new(&cfg, cfg.family == LM_FAMILY_BERT ? "bert." : "roberta.");
    lm_init_weights(m, (float)range, spec->seed);
    char *cj = config_json(&cfg, &tok, range);
    int wrc = write_json(tmp, "config.json", cj, err, errlen);
    free(cj);
    if (wrc != 0)
        goto out;
    char *stpath = lm_xmalloc(strlen(tmp) + 32);
    sprintf(stpath, "%s/model.safetensors", tmp);
    wrc = lm_train_model_save(m, stpath, "{\"format\":\"pt\"}", err, errlen);
    free(stpath);
    if (wrc != 0)
        goto out;
    if (write_text(tmp, "tokenizer.json", toktext, toklen, err, errlen) != 0)
        goto out;
    for (int k = 0; k < 2; k++) {
        char *s = tokenizer_files(&cfg, tokjson, k);
        wrc = write_json(tmp, k ? "special_tokens_map.json" : "tokenizer_config.json", s, err, errlen);
        free(s);
        if (wrc != 0)
            goto out;
    }
    if (lm_dir_publish(tmp, out_dir, 0, err, errlen) != 0)
        goto out;
    free(tmp);
    tmp = NULL;
    rc = 0;
out:
    if (tmp) {
        lm_dir_remove(tmp);
        free(tmp);
    }
    lm_train_model_free(m);
    lm_hf_config_free(&cfg);
    lm_tokenizer_free(t);
    json_decref(tokjson);
    free(toktext);
    return rc;
}

int lm_init_write(const lm_init_spec *spec, const char *tokenizer_path, const char *out_dir, char *err,
                  size_t errlen)
{
    /* "out/" names the folder "out" */
    char *dir = lm_xstrdup(out_dir);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = 0;
    int rc = write_folder(spec, tokenizer_path, dir, err, errlen);
    free(dir);
    return rc;
}

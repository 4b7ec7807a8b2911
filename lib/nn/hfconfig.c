/* hfconfig.c - config.json of BERT / RoBERTa / XLM-RoBERTa encoders; see
 * hfconfig.h.  Defaults are transformers' BertConfig / RobertaConfig /
 * XLMRobertaConfig class defaults (configuration_bert.py etc.).
 */
#include "nn/hfconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/fs.h"
#include "core/diag.h"

static const struct {
    const char *arch;
    const char *model_type;
    lm_family family;
    int head;
} archs[] = {
    {"BertForTokenClassification", "bert", LM_FAMILY_BERT, 1},
    {"BertModel", "bert", LM_FAMILY_BERT, 0},
    {"RobertaForTokenClassification", "roberta", LM_FAMILY_ROBERTA, 1},
    {"RobertaModel", "roberta", LM_FAMILY_ROBERTA, 0},
    {"XLMRobertaForTokenClassification", "xlm-roberta", LM_FAMILY_ROBERTA, 1},
    {"XLMRobertaModel", "xlm-roberta", LM_FAMILY_ROBERTA, 0},
};

/* An integer field in [lo, hi], or def when absent.  Returns 0 or -1. */
static int get_int(json_t *root, const char *key, int def, long long lo, long long hi, int *out,
                   const char *where, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        lm_seterr(err, errlen, "%s: \"%s\" must be an integer in [%lld, %lld]", where, key, lo, hi);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

/* A probability in [0, 1) (a dropout rate), or def when absent or null. */
static int get_rate(json_t *root, const char *key, float def, float *out, const char *where, char *err,
                    size_t errlen)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) < 1)) {
        lm_seterr(err, errlen, "%s: \"%s\" must be a number in [0, 1)", where, key);
        return -1;
    }
    *out = (float)json_number_value(v);
    return 0;
}

void lm_hf_config_free(lm_hf_config *cfg)
{
    if (!cfg)
        return;
    if (cfg->id2label)
        for (int i = 0; i < cfg->num_labels; i++)
            free(cfg->id2label[i]);
    free(cfg->id2label);
    cfg->id2label = NULL;
}

static int parse_labels(lm_hf_config *cfg, json_t *root, const char *where, char *err, size_t errlen)
{
    json_t *i2l = json_object_get(root, "id2label");
    json_t *nl = json_object_get(root, "num_labels");
    int n = 2; /* PretrainedConfig default */
    if (i2l && !json_is_null(i2l)) {
        if (!json_is_object(i2l) || json_object_size(i2l) == 0 || json_object_size(i2l) > 100000) {
            lm_seterr(err, errlen, "%s: \"id2label\" must be a non-empty object", where);
            return -1;
        }
        n = (int)json_object_size(i2l);
        if (nl && (!json_is_integer(nl) || json_integer_value(nl) != n)) {
            lm_seterr(err, errlen, "%s: \"num_labels\" disagrees with the %d entries of \"id2label\"", where,
                      n);
            return -1;
        }
    } else if (nl && get_int(root, "num_labels", 2, 1, 100000, &n, where, err, errlen) != 0) {
        return -1;
    }
    cfg->id2label = lm_xcalloc((size_t)n, sizeof *cfg->id2label);
    cfg->num_labels = n;
    for (int i = 0; i < n; i++) {
        char key[24], def[32];
        snprintf(key, sizeof key, "%d", i);
        snprintf(def, sizeof def, "LABEL_%d", i);
        const char *s = def;
        if (i2l && json_is_object(i2l)) {
            json_t *v = json_object_get(i2l, key);
            if (!json_is_string(v)) {
                lm_seterr(err, errlen, "%s: \"id2label\" has no string entry for \"%s\" (keys must be 0..%d)",
                          where, key, n - 1);
                return -1;
            }
            s = json_string_value(v);
        }
        cfg->id2label[i] = lm_xstrdup(s);
    }
    return 0;
}

int lm_hf_config_parse(lm_hf_config *cfg, const char *text, size_t len, const char *where, char *err,
                       size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        lm_seterr(err, errlen, "%s:%d:%d: %s", where, root ? 1 : je.line, root ? 1 : je.column,
                  root ? "not a JSON object" : je.text);
        json_decref(root);
        return -1;
    }
    int rc = -1;
    json_t *ar = json_object_get(root, "architectures");
    json_t *mt = json_object_get(root, "model_type");
    size_t k, na = sizeof archs / sizeof archs[0];
    if (!json_is_array(ar) || json_array_size(ar) != 1 || !json_is_string(json_array_get(ar, 0))) {
        lm_seterr(err, errlen,
                  "%s: \"architectures\" must list exactly one architecture (supported: "
                  "BertForTokenClassification, BertModel, RobertaForTokenClassification, "
                  "RobertaModel, XLMRobertaForTokenClassification, XLMRobertaModel)",
                  where);
        goto out;
    }
    const char *a = json_string_value(json_array_get(ar, 0));
    for (k = 0; k < na && strcmp(archs[k].arch, a) != 0; k++)
        ;
    if (k == na) {
        lm_seterr(err, errlen,
                  "%s: architecture \"%.60s\" is not supported (supported: "
                  "BertForTokenClassification, BertModel, RobertaForTokenClassification, "
                  "RobertaModel, XLMRobertaForTokenClassification, XLMRobertaModel)",
                  where, a);
        goto out;
    }
    if (mt && (!json_is_string(mt) || strcmp(json_string_value(mt), archs[k].model_type) != 0)) {
        lm_seterr(err, errlen, "%s: model_type \"%.30s\" does not match architecture %s (expected \"%s\")",
                  where, json_is_string(mt) ? json_string_value(mt) : "?", a, archs[k].model_type);
        goto out;
    }
    snprintf(cfg->architecture, sizeof cfg->architecture, "%s", a);
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", archs[k].model_type);
    cfg->family = archs[k].family;
    cfg->token_classification = archs[k].head;

    int bert = cfg->family == LM_FAMILY_BERT;
    if (get_int(root, "hidden_size", 768, 1, 1 << 16, &cfg->hidden_size, where, err, errlen) ||
        get_int(root, "num_hidden_layers", 12, 1, 1000, &cfg->num_layers, where, err, errlen) ||
        get_int(root, "num_attention_heads", 12, 1, 1 << 12, &cfg->num_heads, where, err, errlen) ||
        get_int(root, "intermediate_size", 3072, 1, 1 << 20, &cfg->intermediate_size, where, err, errlen) ||
        get_int(root, "vocab_size", bert ? 30522 : 50265, 1, 1 << 26, &cfg->vocab_size, where, err, errlen) ||
        get_int(root, "max_position_embeddings", 512, 1, 1 << 20, &cfg->max_position, where, err, errlen) ||
        get_int(root, "type_vocab_size", 2, 1, 1 << 16, &cfg->type_vocab_size, where, err, errlen))
        goto out;
    if (cfg->hidden_size % cfg->num_heads != 0) {
        lm_seterr(err, errlen, "%s: hidden_size %d is not a multiple of num_attention_heads %d", where,
                  cfg->hidden_size, cfg->num_heads);
        goto out;
    }
    json_t *pad = json_object_get(root, "pad_token_id");
    if (pad && json_is_null(pad)) {
        if (!bert) {
            lm_seterr(err, errlen, "%s: \"pad_token_id\" is null, but RoBERTa positions need it", where);
            goto out;
        }
        cfg->pad_token_id = 0;
    } else if (get_int(root, "pad_token_id", bert ? 0 : 1, 0, cfg->vocab_size - 1, &cfg->pad_token_id, where,
                       err, errlen)) {
        goto out;
    }
    if (!bert && cfg->max_position < cfg->pad_token_id + 2) {
        lm_seterr(err, errlen, "%s: max_position_embeddings %d leaves no position after padding_idx %d",
                  where, cfg->max_position, cfg->pad_token_id);
        goto out;
    }

    json_t *act = json_object_get(root, "hidden_act");
    const char *an = act ? json_string_value(act) : "gelu";
    if (!an) {
        lm_seterr(err, errlen, "%s: \"hidden_act\" must be a string", where);
        goto out;
    }
    if (strcmp(an, "gelu") == 0 || strcmp(an, "gelu_python") == 0)
        cfg->act = LM_ACT_GELU;
    else if (strcmp(an, "gelu_new") == 0 || strcmp(an, "gelu_pytorch_tanh") == 0 ||
             strcmp(an, "gelu_fast") == 0)
        cfg->act = LM_ACT_GELU_TANH;
    else {
        lm_seterr(err, errlen,
                  "%s: hidden_act \"%.30s\" is not supported (gelu, gelu_python, gelu_new, "
                  "gelu_pytorch_tanh, gelu_fast)",
                  where, an);
        goto out;
    }
    snprintf(cfg->act_name, sizeof cfg->act_name, "%s", an);

    json_t *eps = json_object_get(root, "layer_norm_eps");
    cfg->layer_norm_eps = 1e-12f;
    if (eps) {
        /* checked as the float the encoder uses: 1e-90 would become 0 */
        if (!json_is_number(eps) || !((float)json_number_value(eps) > 0) || json_number_value(eps) > 1) {
            lm_seterr(err, errlen,
                      "%s: \"layer_norm_eps\" must be a number in (0, 1] that a float "
                      "holds (at least 1.4e-45)",
                      where);
            goto out;
        }
        cfg->layer_norm_eps = (float)json_number_value(eps);
    }

    if (get_rate(root, "hidden_dropout_prob", 0.1f, &cfg->hidden_dropout, where, err, errlen) ||
        get_rate(root, "attention_probs_dropout_prob", 0.1f, &cfg->attention_dropout, where, err, errlen) ||
        get_rate(root, "classifier_dropout", cfg->hidden_dropout, &cfg->classifier_dropout, where, err,
                 errlen))
        goto out;

    json_t *pet = json_object_get(root, "position_embedding_type");
    if (pet && !json_is_null(pet) &&
        (!json_is_string(pet) || strcmp(json_string_value(pet), "absolute") != 0)) {
        lm_seterr(err, errlen, "%s: position_embedding_type \"%.30s\" is not supported (only \"absolute\")",
                  where, json_is_string(pet) ? json_string_value(pet) : "?");
        goto out;
    }
    const char *flags[] = {"is_decoder", "add_cross_attention"};
    for (size_t i = 0; i < 2; i++) {
        json_t *f = json_object_get(root, flags[i]);
        if (f && !json_is_false(f) && !json_is_null(f)) {
            lm_seterr(err, errlen, "%s: \"%s\" is set; only encoders are supported", where, flags[i]);
            goto out;
        }
    }
    if (cfg->token_classification) {
        if (parse_labels(cfg, root, where, err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    if (rc)
        lm_hf_config_free(cfg);
    return rc;
}

int lm_hf_config_load(lm_hf_config *cfg, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = lm_read_file(path, &len, err, errlen);
    if (!text) {
        memset(cfg, 0, sizeof *cfg);
        return -1;
    }
    size_t wl = strlen(path) + 3;
    char *where = lm_xmalloc(wl);
    snprintf(where, wl, "'%s'", path);
    int rc = lm_hf_config_parse(cfg, text, len, where, err, errlen);
    free(where);
    free(text);
    return rc;
}

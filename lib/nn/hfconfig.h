/* hfconfig.h - the Hugging Face config.json of a BERT-family encoder.
 *
 * Supports the architectures BertForTokenClassification, BertModel,
 * RobertaForTokenClassification, RobertaModel, XLMRobertaForTokenClassification
 * and XLMRobertaModel (transformers' modeling_bert.py / modeling_roberta.py).
 * Reads every field that changes the forward math, with transformers'
 * defaults when a field is absent (BertConfig: layer_norm_eps 1e-12,
 * hidden_act "gelu", max_position_embeddings 512, type_vocab_size 2,
 * pad_token_id 0; num_labels 2 unless id2label says otherwise).
 * Anything that would change the math and is not implemented is an error
 * that names the field and its value: relative position embeddings, decoder
 * or cross-attention use, activations other than exact or tanh GELU,
 * several architectures at once.  The dropout rates are read for training
 * (nn/train.h); other fields that do not affect inference (torch_dtype,
 * use_cache, ...) are ignored.
 *
 * Not here: tokenizer.json (lib/text), the weights (nn/encoder.c).
 */
#ifndef LMKIT_NN_HFCONFIG_H
#define LMKIT_NN_HFCONFIG_H

#include <stddef.h>

typedef enum { LM_FAMILY_BERT, LM_FAMILY_ROBERTA } lm_family;
typedef enum { LM_ACT_GELU, LM_ACT_GELU_TANH } lm_act;

typedef struct {
    char architecture[64];    /* e.g. "XLMRobertaForTokenClassification" */
    char model_type[32];      /* "bert", "roberta", "xlm-roberta" */
    lm_family family;         /* positions: arange (BERT) or cumsum + padding_idx (RoBERTa) */
    int token_classification; /* 1: ...ForTokenClassification (classifier head) */
    int hidden_size;          /* C */
    int num_layers;           /* L */
    int num_heads;            /* H, C % H == 0 */
    int intermediate_size;    /* F */
    int vocab_size;           /* V */
    int max_position;         /* P = max_position_embeddings */
    int type_vocab_size;      /* >= 1; token type 0 is used */
    int pad_token_id;         /* RoBERTa padding_idx */
    lm_act act;               /* hidden_act */
    char act_name[32];        /* as written */
    float layer_norm_eps;
    float hidden_dropout;     /* hidden_dropout_prob (0.1) */
    float attention_dropout;  /* attention_probs_dropout_prob (0.1) */
    float classifier_dropout; /* classifier_dropout, hidden_dropout when null or absent */
    int num_labels;           /* 0 for the bare *Model architectures */
    char **id2label;          /* [num_labels], "LABEL_i" when absent; NULL for bare models */
} lm_hf_config;

/* Parses config.json text.  `where` names the file in messages.
 * Returns 0, or -1 with a message in err. */
int lm_hf_config_parse(lm_hf_config *cfg, const char *json, size_t len, const char *where, char *err,
                       size_t errlen);
/* Reads and parses a file. */
int lm_hf_config_load(lm_hf_config *cfg, const char *path, char *err, size_t errlen);
void lm_hf_config_free(lm_hf_config *cfg);

#endif

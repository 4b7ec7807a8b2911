/* init.h - a new, randomly initialised token classifier of a given shape
 * around a given tokenizer.json, written as a Hugging Face folder (what
 * `taco-train init` makes).
 *
 * Families: BERT (BertForTokenClassification, model_type "bert", tensors
 * "bert.*") and XLM-RoBERTa (XLMRobertaForTokenClassification, model_type
 * "xlm-roberta", tensors "roberta.*"), both with the classifier head
 * "classifier.*" of 2 labels LABEL_0/LABEL_1 as the LLMLingua-2 checkpoints
 * have.  The vocabulary size and the special-token ids come from the
 * tokenizer: [PAD] [CLS] [SEP] [UNK] [MASK] for BERT, <pad> <s> </s> <unk>
 * <mask> for XLM-R; a tokenizer without one of them is refused.  The
 * embedding matrix has room for 100 more ids, the "[NEW0]".."[NEW99]"
 * tokens LLMLingua-2 adds at inference (lib/lingua/model.h), as the
 * released checkpoints have it (250002 + 100 rows for XLM-R large).
 *
 * Initialisation is transformers' _init_weights (modeling_bert.py, shared by
 * modeling_xlm_roberta.py): every Linear and Embedding weight is drawn from
 * N(0, initializer_range^2), Linear biases are 0, the padding_idx row of an
 * Embedding is 0 (word embeddings: pad_token_id; XLM-R position embeddings:
 * pad_token_id too), LayerNorm weight 1 and bias 0.  The numbers come from
 * lib/core/rng.h: one generator per (tensor, row), lm_rng_init(seed,
 * (table index << 40) | row), and lm_rng_normal (Marsaglia's polar method)
 * times the range, rounded to float.  They are therefore a function of the
 * seed and the shape alone, whatever the thread count; they are not torch's
 * numbers for the same seed.
 *
 * The folder holds config.json, model.safetensors (F32, metadata
 * {"format":"pt"}), a byte copy of tokenizer.json, tokenizer_config.json and
 * special_tokens_map.json (for transformers' AutoTokenizer: the fast
 * tokenizer class, the special tokens, and for BERT do_lower_case,
 * strip_accents and tokenize_chinese_chars as the file's BertNormalizer sets
 * them, so that BertTokenizerFast does not rebuild the normalizer).
 *
 * Atomicity: everything is written into a new hidden sibling folder
 * ".NAME.init-XXXXXX" beside the output, which is renamed to the output at the
 * end with renameat2(RENAME_NOREPLACE).  An output path that already exists
 * (file, folder, even an empty one, or a link) is refused and left alone:
 * the folder either appears complete or not at all.  On an error the
 * temporary folder is removed; a process killed meanwhile leaves it behind.
 */
#ifndef LMKIT_NN_INIT_H
#define LMKIT_NN_INIT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/hfconfig.h"
#include "nn/train.h"

typedef struct {
    lm_family family; /* LM_FAMILY_BERT or LM_FAMILY_ROBERTA (written as xlm-roberta) */
    int layers;       /* L >= 1 */
    int hidden;       /* C >= 1, a multiple of heads */
    int heads;        /* >= 1 */
    int intermediate; /* F; 0: 4 * hidden */
    int max_position; /* 0: 512 (BERT), 514 (XLM-R: 512 positions after pad_token_id + 1) */
    float init_range; /* initializer_range; 0: 0.02 */
    uint64_t seed;
} lm_init_spec;

/* Rows of the word embeddings past the tokenizer's vocabulary: the ids of
 * LLMLingua-2's [NEWi] tokens. */
#define LM_INIT_NEW_TOKENS 100

/* Limits of a shape (memory is the real bound; these keep sizes in int). */
#define LM_INIT_MAX_LAYERS 256
#define LM_INIT_MAX_HIDDEN 65536
#define LM_INIT_MAX_POSITION 1048576

/* Special-token ids of a tokenizer for a family. */
typedef struct {
    int vocab_size;
    int pad, cls, sep, unk, mask; /* cls is <s> (bos), sep </s> (eos) for XLM-R */
} lm_init_tokens;

/* The family's names for its special tokens, in the order pad, cls, sep, unk,
 * mask. */
const char *const *lm_init_token_names(lm_family family);

/* Fills the table of m (lm_train_model_new) as _init_weights does, with
 * m->cfg.pad_token_id and m->cfg.family for the padding rows.  Tensors are
 * told apart by their names (".LayerNorm.", ".bias", "embeddings."). */
void lm_init_weights(lm_train_model *m, float init_range, uint64_t seed);

/* The config of the new model (num_labels 2, id2label LABEL_0/LABEL_1,
 * dropout 0.1, exact GELU).  Returns 0, or -1 with a message naming the bad
 * field of spec. */
int lm_init_config(const lm_init_spec *spec, const lm_init_tokens *tok, lm_hf_config *cfg, char *err,
                   size_t errlen);

/* Writes the folder out_dir for spec around the tokenizer file
 * tokenizer_path.  Returns 0; -1 with a message when the tokenizer is
 * unusable (unreadable JSON, a special token missing: the message names it);
 * -2 with a message for a bad spec, an existing out_dir, or a system error. */
int lm_init_write(const lm_init_spec *spec, const char *tokenizer_path, const char *out_dir, char *err,
                  size_t errlen);

#endif

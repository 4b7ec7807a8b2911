/* fuzz_safetensors.c - fuzz target for the safetensors header validation
 * (lib/nn/safetensors.c, lm_st_parse) and the config.json parser
 * (lib/nn/hfconfig.c).
 *
 * Input: arbitrary bytes, taken as a whole safetensors file held in memory,
 * and as config.json text.  The parser must either reject the input with a
 * non-empty message, or accept it with every tensor's [begin, end) inside the
 * data buffer, end - begin == numel * dtype size, and the tensors tiling the
 * buffer; accepted float tensors are converted to fp32 (bounded in size) so
 * that ASan sees every byte read.  Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/hfconfig.h"
#include "nn/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lm_safetensors st;
    char err[512];
    err[0] = 0;
    if (lm_st_parse(&st, data, size, err, sizeof err) != 0) {
        if (!err[0])
            abort();
    } else {
        size_t covered = 0;
        for (size_t i = 0; i < st.n; i++) {
            const lm_st_tensor *t = &st.t[i];
            if (t->end < t->begin || t->end > st.buflen ||
                t->end - t->begin != t->numel * lm_dtype_size(t->dtype))
                abort();
            if ((const uint8_t *)t->data != st.buf + t->begin)
                abort();
            covered += t->end - t->begin;
            if (lm_st_find(&st, t->name) == NULL)
                abort();
            if ((t->dtype == LM_DT_F32 || t->dtype == LM_DT_F16 || t->dtype == LM_DT_BF16) &&
                t->numel <= (1u << 20)) {
                float *f = malloc(t->numel * sizeof *f + 1);
                if (f && lm_st_to_f32(t, f, err, sizeof err) != 0)
                    abort();
                free(f);
            }
        }
        if (covered != st.buflen)
            abort();
        if (st.buf + st.buflen != data + size)
            abort();
        lm_st_close(&st);
    }
    lm_hf_config cfg;
    err[0] = 0;
    if (lm_hf_config_parse(&cfg, (const char *)data, size, "fuzz", err, sizeof err) == 0) {
        if (cfg.hidden_size % cfg.num_heads != 0 || (cfg.token_classification && !cfg.id2label))
            abort();
        for (int i = 0; cfg.id2label && i < cfg.num_labels; i++)
            if (!cfg.id2label[i])
                abort();
        lm_hf_config_free(&cfg);
    } else if (!err[0]) {
        abort();
    }
    return 0;
}

/* fuzz_hfconfig.c - fuzz target for the Hugging Face config.json parser
 * (lib/nn/hfconfig.c, lm_hf_config_parse).
 *
 * Input: arbitrary bytes taken as config.json text.  The parser must either
 * reject it with a non-empty message, or give a configuration with positive
 * sizes, hidden_size a multiple of the head count, a finite positive
 * layer-norm epsilon, and one label name per label.  Any violation aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/hfconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lm_hf_config cfg;
    char err[512];
    err[0] = 0;
    if (lm_hf_config_parse(&cfg, (const char *)data, size, "fuzz", err, sizeof err) != 0) {
        if (!err[0])
            abort();
        return 0;
    }
    if (cfg.hidden_size <= 0 || cfg.num_heads <= 0 || cfg.hidden_size % cfg.num_heads != 0 ||
        cfg.num_layers <= 0 || cfg.vocab_size <= 0 || cfg.intermediate_size <= 0 ||
        !(cfg.layer_norm_eps > 0) || !isfinite(cfg.layer_norm_eps) || cfg.num_labels < 0 ||
        cfg.type_vocab_size < 1 || cfg.max_position <= 0 ||
        (cfg.token_classification && (!cfg.id2label || cfg.num_labels < 1)))
        abort();
    for (int i = 0; cfg.id2label && i < cfg.num_labels; i++)
        if (!cfg.id2label[i])
            abort();
    lm_hf_config_free(&cfg);
    return 0;
}

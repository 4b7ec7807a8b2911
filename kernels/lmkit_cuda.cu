/* lmkit_cuda.cu - the exported table of liblmkit-cuda.so (lmkit_cuda.h):
 * the encoder, training and attention launchers of encoder_cuda.cu,
 * train_cuda.cu and attn_cuda.cu behind one symbol.  The .cu files are
 * compiled with hidden visibility; this function is the library's only
 * export.
 */
#include "lmkit_cuda.h"

static lm_cuda_api api;

extern "C" __attribute__((visibility("default"))) const lm_cuda_api *lm_cuda_api_v1(void)
{
    /* filled on every call (cheap, and called once per process): no static
     * initialisation order to think about */
    lm_cuda_api *a = &api;
    a->abi = LM_CUDA_API_ABI;
    a->size = sizeof *a;
    a->device_count = enc_cuda_device_count;

    a->enc_create = enc_cuda_create;
    a->enc_destroy = enc_cuda_destroy;
    a->enc_describe = enc_cuda_describe;
    a->enc_use = enc_cuda_use;
    a->enc_malloc = enc_cuda_malloc;
    a->enc_free = enc_cuda_free;
    a->enc_upload = enc_cuda_upload;
    a->enc_download = enc_cuda_download;
    a->enc_sync = enc_cuda_sync;
    a->enc_convert = enc_cuda_convert;
    a->enc_prep = enc_cuda_prep;
    a->enc_embeddings = enc_cuda_embeddings;
    a->enc_layernorm = enc_cuda_layernorm;
    a->enc_matmul = enc_cuda_matmul;
    a->enc_attention = enc_cuda_attention;
    a->enc_gelu = enc_cuda_gelu;
    a->enc_softmax = enc_cuda_softmax;

    a->trc_copy = trc_copy;
    a->trc_zero = trc_zero;
    a->trc_dropout = trc_dropout;
    a->trc_layernorm_fwd = trc_layernorm_fwd;
    a->trc_layernorm_bwd = trc_layernorm_bwd;
    a->trc_matmul_bwd = trc_matmul_bwd;
    a->trc_gelu_bwd = trc_gelu_bwd;
    a->trc_attention_fwd = trc_attention_fwd;
    a->trc_attention_bwd = trc_attention_bwd;
    a->trc_embeddings_bwd = trc_embeddings_bwd;

    a->attn_device_info = attn_cuda_device_info;
    a->attn_lean_occupancy = attn_cuda_lean_occupancy;
    a->attn_malloc = attn_cuda_malloc;
    a->attn_free = attn_cuda_free;
    a->attn_upload = attn_cuda_upload;
    a->attn_download = attn_cuda_download;
    a->attn_plan_create = attn_cuda_plan_create;
    a->attn_plan_destroy = attn_cuda_plan_destroy;
    a->attn_plan_info = attn_cuda_plan_info;
    a->attn_run = attn_cuda_run;
    a->attn_time = attn_cuda_time;
    a->attn_read_bw = attn_cuda_read_bw;
    a->attn_flush_l2 = attn_cuda_flush_l2;
    return a;
}

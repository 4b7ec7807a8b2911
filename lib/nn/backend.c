/* backend.c - the CPU op tables (see backend.h): BLAS and naive. */
#include "nn/backend.h"

#include "nn/ops.h"

const lm_nn_backend lm_nn_backend_cpu = {
    .name = "cpu",
    .embeddings = nn_embeddings_forward,
    .layernorm = nn_layernorm_forward,
    .matmul = nn_matmul_forward,
    .attention = nn_attention_forward,
    .gelu = nn_gelu_forward,
    .gelu_tanh = nn_gelu_tanh_forward,
    .softmax = nn_softmax_forward,
};

const lm_nn_backend lm_nn_backend_cpu_naive = {
    .name = "cpu-naive",
    .embeddings = nn_embeddings_forward,
    .layernorm = nn_layernorm_forward,
    .matmul = nn_matmul_forward_naive,
    .attention = nn_attention_forward_naive,
    .gelu = nn_gelu_forward,
    .gelu_tanh = nn_gelu_tanh_forward,
    .softmax = nn_softmax_forward,
};

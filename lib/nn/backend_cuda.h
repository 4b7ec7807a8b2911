/* backend_cuda.h - the CUDA backend, loaded on first use.
 *
 * The GPU code (the .cu files of kernels/) and the CUDA libraries it needs (libcudart,
 * libcublas) live in a shared library of their own, liblmkit-cuda.so, which
 * no command links: a run on the CPU never maps them (they reserve hundreds
 * of MB of address space; under `ulimit -v` that alone kept the commands
 * from starting).  The first call that wants a GPU (--device cuda or auto)
 * dlopens it and takes its table of functions (kernels/lmkit_cuda.h).
 *
 * Where the library is looked for, first match:
 *   $LMKIT_CUDA_LIB                   the path of the .so itself
 *   DIR/../lib/lmkit/liblmkit-cuda.so  DIR = the folder of the running
 *                                     executable (/proc/self/exe): works in
 *                                     the build tree (build/bin, build/tests)
 *                                     and installed ($PREFIX/bin)
 * Built without CUDA (no nvcc, CUDA=0, SAN=1) nothing is loaded and every
 * call says so.  Loading happens once per process; these functions may be
 * called from any thread.
 *
 * Not here: the encoder and attention forwards (nn/encoder_cuda.h,
 * lib/attn/harness_cuda.c call through the table).
 */
#ifndef LMKIT_NN_BACKEND_CUDA_H
#define LMKIT_NN_BACKEND_CUDA_H

#include <stddef.h>

/* kernels/lmkit_cuda.h: angle brackets, so that the search starts at the -I
 * folders (kernels/ holds encoder_cuda.h, as does lib/nn/). */
#include <lmkit_cuda.h>

#define LM_CUDA_LIB_ENV "LMKIT_CUDA_LIB"
#define LM_CUDA_LIB_NAME "liblmkit-cuda.so"

/* The loaded library's table, or NULL with what is missing in why (built
 * without CUDA; the .so not found; the CUDA runtime libraries it needs not
 * found; a .so of another lmkit version). */
const lm_cuda_api *lm_cuda_lib(char *why, size_t whylen);

/* As lm_cuda_lib, and at least one usable GPU: else NULL with what is
 * missing (the NVIDIA driver, a recent enough driver, a GPU). */
const lm_cuda_api *lm_cuda_gpu(char *why, size_t whylen);

/* Cheap and loads nothing: 1 when a GPU may be present (built with CUDA and
 * an NVIDIA device node, /dev/nvidiaN or WSL's /dev/dxg, exists).  For
 * --device auto: on a machine without one the CPU is chosen without mapping
 * the CUDA libraries; a 1 still needs lm_cuda_gpu to be sure. */
int lm_cuda_present(void);

/* The path the library is (or would be) loaded from; "" when built without
 * CUDA. */
void lm_cuda_lib_path(char *buf, size_t cap);

#endif

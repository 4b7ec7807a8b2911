/* setup.h - what lingua-compress sets up before its first record: the
 * model folder (a path, or a Hugging Face id looked up in the local cache,
 * never on the network), the encoder on its device with the CPU's memory
 * reserved, and the cl100k_base rank file the reference counts tokens with.
 *
 * Nothing here prints or exits: a failure fills an lm_lingua_fail with the
 * exit status it calls for (LM_EXIT_DATA for a model or rank file that
 * cannot be read or is malformed, LM_EXIT_USAGE for system trouble or an
 * impossible request), the message and a hint ("" for none).
 */
#ifndef LMKIT_LINGUA_SETUP_H
#define LMKIT_LINGUA_SETUP_H

#include "lingua/model.h"
#include "text/tiktoken.h"

typedef struct {
    int status;     /* LM_EXIT_DATA or LM_EXIT_USAGE */
    char msg[1024]; /* the message */
    char hint[512]; /* what to do, or "" */
} lm_lingua_fail;

/* model (a folder, or org/name in the Hugging Face cache; NULL or "" for
 * none) as a folder path (free it).  NULL with f. */
char *lm_lingua_model_dir(const char *model, lm_lingua_fail *f);

/* Loads the encoder of folder dir (family -1: config.json's model_type;
 * batch 0: the default) onto device (LM_DEVICE_*: auto takes a GPU when
 * one is present, cuda insists), then reserves the CPU's memory when it
 * computes there.  When auto falls back to the CPU, warn gets the reason
 * (else warn[0] is 0), also when a later step then fails.  Returns 0, or
 * -1 with f. */
int lm_lingua_encoder_setup(lm_lingua_encoder *le, const char *dir, int family, int batch, int device,
                            char *warn, size_t warnlen, lm_lingua_fail *f);

/* The rank file for token counts: path when given, else cl100k_base where
 * lm_tiktoken_find looks ($LMKIT_TIKTOKEN, the share folder beside the
 * executable, tiktoken's cache).  Sets *tk to the loaded encoding, or to
 * NULL when there is no such file (counts then come from the model's
 * tokenizer).  Returns 0, or -1 with f when the file cannot be loaded. */
int lm_lingua_counter_load(const char *path, lm_tiktoken **tk, lm_lingua_fail *f);

#endif

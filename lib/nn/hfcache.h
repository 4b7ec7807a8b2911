/* hfcache.h - find a Hugging Face model id ("org/name") in the local
 * Hugging Face cache, offline, as huggingface_hub lays it out.
 *
 * huggingface_hub (constants.py, file_download.py) keeps a repository
 * "org/name" in CACHE/models--org--name/, with refs/main holding the commit
 * hash of the revision last downloaded and snapshots/<hash>/ holding its
 * files.  CACHE is, in this order of precedence: $HF_HUB_CACHE,
 * $HUGGINGFACE_HUB_CACHE (its older name), $HF_HOME/hub,
 * $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub.  Where
 * huggingface_hub uses only the first that is set, we look in each of them
 * in that order and take the first that holds the model, so a model
 * downloaded before HF_HOME was set is still found.
 *
 * When refs/main is missing (a cache filled by hand or by a download of
 * another revision), the model is taken from snapshots/ only if it holds
 * exactly one snapshot; with several, the choice would be a guess, so it is
 * an error that names them.  Nothing here reaches the network.
 */
#ifndef LMKIT_NN_HFCACHE_H
#define LMKIT_NN_HFCACHE_H

#include <stddef.h>

/* Nonzero when s has the shape of a Hugging Face repository id: "org/name",
 * each part non-empty, made of letters, digits, '-', '_' and '.', neither
 * starting with '.' nor holding "..". */
int lm_hf_is_repo_id(const char *s);

/* The folder a --model argument names: arg itself when it is a folder (a
 * path that exists wins over an id); else, when arg is a repository id, the
 * snapshot folder in the first cache that holds it.  Returns a malloc'ed
 * path, or NULL with a message in err: for an id, the message lists every
 * place searched.  *searched_id is set to 1 when arg was looked up as an id
 * (so the caller can suggest 'huggingface-cli download'). */
char *lm_hf_model_dir(const char *arg, int *searched_id, char *err, size_t errlen);

#endif

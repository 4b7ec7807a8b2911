/* fs.h - atomic file output for every file an lmkit command writes.
 *
 * lm_atomic_open() creates a temporary file in the target's own folder
 * (".NAME.XXXXXX"), so the final rename never crosses a file system.
 * lm_atomic_commit() flushes, fsyncs and renames it over the target;
 * lm_atomic_abort() removes it.  A reader of the target therefore sees either
 * the old file or the complete new one, never a half-written file.
 * The special path "-" means standard output: commit only flushes it.
 */
#ifndef LMKIT_CORE_FS_H
#define LMKIT_CORE_FS_H

#include <stdio.h>

typedef struct {
    FILE *fp;       /* write here */
    char *path;     /* target path */
    char *tmp;      /* temporary path, NULL for stdout */
} lm_atomic;

/* Returns 0 and fills *a, or -1 with a message in err (errno-based). */
int lm_atomic_open(lm_atomic *a, const char *path, char *err, size_t errlen);
/* Returns 0, or -1 with a message in err; the temporary is removed on failure. */
int lm_atomic_commit(lm_atomic *a, char *err, size_t errlen);
/* Discards the temporary file (safe to call after a failed commit). */
void lm_atomic_abort(lm_atomic *a);

/* Reads a whole file (or "-" for stdin) into a NUL-terminated malloc'd
 * buffer; *len gets its size without the NUL.  Returns NULL with a message
 * in err on failure. */
char *lm_read_file(const char *path, size_t *len, char *err, size_t errlen);

#endif

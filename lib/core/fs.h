/* fs.h - file output for every file an lmkit command writes, and the checks
 * that keep outputs from destroying inputs.
 *
 * lm_atomic_open() resolves the target first: symbolic links are followed to
 * the file they name (the link stays a link).  A regular file or a new path is
 * written through a temporary file in the target's own folder
 * (".NAME.XXXXXX"), created with the mode (and, where the process may set it,
 * the owner and group) of the file it replaces, so the final rename never
 * crosses a file system; lm_atomic_commit() flushes, fsyncs and renames it
 * over the target; lm_atomic_abort() removes it.  A reader of the target
 * therefore sees either the old file or the complete new one, never a
 * half-written file.  Anything else (a device such as /dev/null, a named pipe,
 * a socket) is opened and written directly, as a shell redirection would.
 * The special path "-" means standard output: commit only flushes it.
 *
 * Temporary files still open are removed when the process exits without
 * committing them (exit() on an error, out of memory) and on SIGINT, SIGTERM,
 * SIGHUP and SIGPIPE; the signal then takes its default action.
 */
#ifndef LMKIT_CORE_FS_H
#define LMKIT_CORE_FS_H

#include <stdio.h>

typedef struct {
    FILE *fp;   /* write here */
    char *path; /* target path (after following links) */
    char *tmp;  /* temporary path, NULL for stdout or a device/pipe */
} lm_atomic;

/* Returns 0 and fills *a, or -1 with a message in err (errno-based). */
int lm_atomic_open(lm_atomic *a, const char *path, char *err, size_t errlen);
/* Returns 0, or -1 with a message in err; the temporary is removed on failure. */
int lm_atomic_commit(lm_atomic *a, char *err, size_t errlen);
/* Discards the temporary file (safe to call after a failed commit). */
void lm_atomic_abort(lm_atomic *a);

/* Checks, before any work, that path can be written as lm_atomic_open will
 * write it: the folder of a new or regular file exists and is writable, a
 * device or pipe is writable, the target is not a folder.  Returns 0, or -1
 * with a message in err. */
int lm_out_check(const char *path, char *err, size_t errlen);

/* 1 if writing output would replace the regular file input ("-": standard
 * input, whatever it is redirected from): both name the same file after
 * links are followed.  0 otherwise, also when either does not exist. */
int lm_out_replaces(const char *output, const char *input);

/* 1 if the outputs a and b would write the same regular file (existing or
 * new) after links are followed. */
int lm_out_same(const char *a, const char *b);

/* Records that standard input was closed when the program started (see
 * lm_cli_init); reading "-" then fails with EBADF instead of reading the
 * /dev/null that stands in for it. */
void lm_stdin_mark_closed(void);
int lm_stdin_closed(void);

/* Reads a whole file (or "-" for stdin) into a NUL-terminated malloc'd
 * buffer; *len gets its size without the NUL.  Returns NULL with a message
 * in err on failure. */
char *lm_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* ---- folders that appear complete or not at all ----
 *
 * A folder output (a model folder, a checkpoint) is written into a new
 * hidden sibling ".BASE.TAG-XXXXXX" (lm_dir_tmp), then published under its
 * name in one rename (lm_dir_publish).  Only plain files are written into
 * such folders, so lm_dir_remove removes one level.  A process killed in
 * between leaves the hidden folder behind, never a half-written output. */

/* Creates the sibling of path (trailing slashes ignored) with the mode a
 * new folder gets; *tmp (lm_x*-allocated) gets its path.  Returns 0, or -1
 * with a message (path names no folder to create, the parent is not
 * writable). */
int lm_dir_tmp(const char *path, const char *tag, char **tmp, char *err, size_t errlen);
/* Makes tmp's files durable and renames it to path.  replace 0: an existing
 * path (even an empty folder) is refused: "already exists" in the message.
 * replace 1: an existing folder is swapped out in one step (renameat2
 * RENAME_EXCHANGE, or two renames where the file system lacks it) and
 * removed.  Returns 0, or -1 with a message; tmp is left for the caller to
 * remove on failure. */
int lm_dir_publish(const char *tmp, const char *path, int replace, char *err, size_t errlen);
/* Removes the plain files of dir, then dir (errors ignored). */
void lm_dir_remove(const char *dir);
/* Copies the file src to the new or replaced file dst atomically.  Returns
 * 0, or -1 with a message. */
int lm_copy_file(const char *src, const char *dst, char *err, size_t errlen);

#endif

/* jsonl.h - the JSON Lines record loop shared by every lmkit filter.
 *
 * Reading: input files (or "-" for stdin) are opened before anything is
 * processed; lines may be of any length; "\r\n" is accepted; a UTF-8 byte
 * order mark at the start of a file is skipped; blank lines are skipped but
 * counted, so line numbers always match the file (1-based).  Each line must
 * be exactly one JSON object (see json.h for the strictness rules).
 *
 * Writing: the output record is the input line with the command's fields
 * spliced in (lm_out).  A field the command sets that the input already has
 * is replaced in place; new fields are appended before the closing brace;
 * every other byte of the line is kept as it was.  Numbers the command adds
 * print in the shortest text that reads back to the same double.
 *
 * Errors: a bad record is reported as "PROG: FILE:LINE:COL: message" (COL
 * counts characters) with an optional hint line.  By default the loop stops
 * there, after writing every good record before it, and returns 1.  With
 * --keep-going it skips and counts bad records and returns 1 at the end.
 * With --errors FILE the rejected lines are also written (atomically) as
 * {"file","line","col","error","raw"} records.  A line that cannot be read
 * (a read error, or too long for the memory left: getline's failure is never
 * taken for end of file) ends the loop after the records before it have been
 * written, naming the file and line; status 2 for memory, 1 otherwise.  A
 * closed standard input is an error (EBADF), not empty input.
 *
 * Out of memory: when an allocation wrapper (diag.h) fails while a batch is
 * processed, every record finished before the first unfinished one is
 * written in order and that record's line is named before the exit (2).
 * Records of a gathering command (prepare/gather below) that were prepared
 * but whose shared pass had not run are not finished, so they are not
 * written; with --unbuffered each record is its own batch.
 *
 * Scale-out: with --shard K/N only records whose index (0-based, over all
 * inputs, blank lines not counted) is K modulo N are processed; the others
 * are not even parsed.  A command whose record function is thread-safe sets
 * parallel = 1: records are then processed in batches on OpenMP threads and
 * written in input order, so output never depends on the thread count.
 */
#ifndef LMKIT_CORE_JSONL_H
#define LMKIT_CORE_JSONL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "cli.h"
#include "json.h"

#define LM_NOPOS ((size_t)-1)

typedef struct {
    const char *file; /* display name: the path, or "<stdin>" */
    uint64_t lineno;  /* 1-based line number in file */
    uint64_t index;   /* 0-based record index over all inputs */
    const char *text; /* the line, without its line terminator */
    size_t len;
    lm_jscan scan; /* its top-level members */
    void *state;   /* the command's, between prepare and fn (lm_loop) */
} lm_record;

const lm_member *lm_rec_get(const lm_record *r, const char *key);

/* A problem with one record: byte offset of the culprit in the line (or
 * LM_NOPOS), the message and an optional hint. */
typedef struct {
    size_t pos;
    lm_buf msg;
    lm_buf hint;
} lm_rerr;

void lm_rerr_set(lm_rerr *e, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void lm_rerr_hint(lm_rerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lm_rerr_free(lm_rerr *e);

/* The fields a command adds to (or replaces in) a record. */
typedef struct {
    struct lm_outf {
        size_t koff, klen, voff, vlen;
    } * f;
    size_t nf, capf;
    lm_buf keys, vals;
    size_t open_key; /* index of a field being built with lm_out_begin */
    lm_buf queued;   /* records rendered by lm_out_push */
    int standalone;  /* write the fields as a new object, not the input */
    int suppress;    /* write nothing for this record */
} lm_out;

void lm_out_reset(lm_out *o);
void lm_out_free(lm_out *o);
/* Sets key to raw JSON text (the caller guarantees it is valid JSON). */
void lm_out_raw(lm_out *o, const char *key, const char *json, size_t len);
/* Sets key to a finite number in shortest round-trip form; a non-finite v
 * writes null (commands document their own rule and avoid relying on it). */
void lm_out_num(lm_out *o, const char *key, double v);
void lm_out_int(lm_out *o, const char *key, int64_t v);
void lm_out_str(lm_out *o, const char *key, const char *s);
void lm_out_strn(lm_out *o, const char *key, const char *s, size_t n);
void lm_out_bool(lm_out *o, const char *key, int v);
void lm_out_null(lm_out *o, const char *key);
/* Builds a nested value: append raw JSON to the returned buffer, then call
 * lm_out_end.  Fields may not be set in between. */
lm_buf *lm_out_begin(lm_out *o, const char *key);
void lm_out_end(lm_out *o);
/* Renders the record (in may be NULL for a standalone record) plus '\n'
 * onto dst. */
void lm_out_render(const lm_out *o, const lm_record *in, lm_buf *dst);
/* For commands that write several records per input record: renders the
 * fields set so far as one output record (annotating in, or standalone if
 * in is NULL or o->standalone), queues it, and clears the fields.  Queued
 * records are written before whatever the record function leaves at the
 * end; set o->suppress to write only the queued ones. */
void lm_out_push(lm_out *o, const lm_record *in);

/* For a command's human-readable mode: writes s[0..n) as it is (after
 * anything queued before) instead of an output record. */
void lm_out_text(lm_out *o, const char *s, size_t n);

enum { LM_REC_OK = 0, LM_REC_BAD = 1, LM_REC_FATAL = 2 };

/* Called for every record of the shard.  Fill out (or set out->suppress);
 * return LM_REC_BAD with err set for bad data, LM_REC_FATAL for a system
 * problem (the loop then stops with exit status 2). */
typedef int (*lm_rec_fn)(void *ctx, const lm_record *in, lm_out *out, lm_rerr *err);
/* Work gathered across records (see lm_loop.prepare). */
typedef int (*lm_rec_prepare_fn)(void *ctx, lm_record *in, lm_rerr *err);
typedef void (*lm_rec_gather_fn)(void *ctx, lm_record *const *recs, size_t n);

typedef struct {
    const lm_cmd *cmd;
    const lm_common *common;
    lm_rec_fn fn;
    void *ctx;
    int parallel; /* fn may run concurrently on different records */
    /* Optional, for commands that do part of their work for many records at
     * once (one encoder pass over the chunks of many prompts).  prepare runs
     * first on every record of a batch (concurrently when parallel), returns
     * like fn but writes no output, and may leave a pointer in in->state;
     * then gather runs once, on the calling thread (outside any parallel
     * region, so the whole thread team is free for it), over the records
     * whose prepare returned LM_REC_OK, in input order (not at all when
     * there are none); then fn runs on
     * exactly those records and releases their state.  A batch is up to 512
     * records or 8 MB of input, one record when reading a terminal or with
     * --unbuffered. */
    lm_rec_prepare_fn prepare;
    lm_rec_gather_fn gather;
    uint64_t n_read; /* out: records seen (in this shard) */
    uint64_t n_bad;  /* out: records rejected */
} lm_loop;

/* Runs the loop over files ("-" or none: stdin).  Returns the exit status:
 * 0, 1 (bad data or an unreadable input) or 2 (system trouble).  Output is
 * written to stdout; a write error ends the process with status 2. */
int lm_loop_run(lm_loop *L, int nfiles, char **files);

/* Writes one rendered record to stdout with the loop's flushing rule. */
void lm_emit(const lm_common *c, const lm_out *o, const lm_record *in);

/* Reports a record problem the way the loop does ("PROG: FILE:LINE:COL: ..."). */
void lm_report(const lm_record *in, const lm_rerr *e);

#endif

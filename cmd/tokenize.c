/* tokenize.c - count and list the tokens of a text field with a tiktoken
 * rank file (cl100k_base, o200k_base, ...; lib/text/tiktoken.c) or a
 * Hugging Face tokenizer.json (lib/text/tokenizer.h).
 *
 * Argument parsing and the record loop only.  Records are annotated in
 * place with n_tokens and, on request, ids, tokens and offsets (character
 * offsets [start, end) into the text, as Python's tokenizers reports them).
 * Records run in parallel; each thread keeps its own encoder scratch.
 */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/cli.h"
#include "core/diag.h"
#include "core/json.h"
#include "core/jsonl.h"
#include "text/tiktoken.h"
#include "text/tokenizer.h"

enum {
    OPT_TOKENIZER = 256,
    OPT_ENCODING,
    OPT_IDS,
    OPT_TOKENS,
    OPT_OFFSETS,
    OPT_NO_SPECIAL,
    OPT_ALLOW_SPECIAL
};

static const lm_opt opts[] = {
    {"tokenizer", 't', "PATH",
     "a .tiktoken rank file, a tokenizer.json, or a model folder holding one "
     "(default: --encoding's rank file installed with lmkit)",
     "file", OPT_TOKENIZER},
    {"encoding", 'e', "NAME", "tiktoken: the split regex and specials (default: from the file name)",
     "choice:cl100k_base o200k_base r50k_base p50k_base kimi_k2", OPT_ENCODING},
    {"ids", 0, NULL, "add \"ids\": the token ids", NULL, OPT_IDS},
    {"tokens", 0, NULL, "add \"tokens\": the token strings", NULL, OPT_TOKENS},
    {"offsets", 0, NULL, "add \"offsets\": [start, end) of each token, in characters", NULL, OPT_OFFSETS},
    {"no-special", 0, NULL, "tokenizer.json: no special tokens from the post-processor ([CLS], </s>, ...)",
     NULL, OPT_NO_SPECIAL},
    {"allow-special", 0, NULL, "tiktoken: special-token text such as <|endoftext|> becomes its special token",
     NULL, OPT_ALLOW_SPECIAL},
    {0},
};

static const lm_cmd cmd = {
    "tokenize",
    "{--tokenizer PATH | --encoding NAME} [OPTION]... [FILE]...",
    "Count the tokens of each record's text with a tiktoken or Hugging Face tokenizer.",
    "Reads JSON Lines and adds \"n_tokens\" to each record (and \"ids\", \"tokens\", \"offsets\"\n"
    "on request).  A .tiktoken rank file gives the ids of the tiktoken package's encode_ordinary\n"
    "(or encode with allowed_special=\"all\" under --allow-special); a tokenizer.json gives those\n"
    "of the tokenizers package's encode, special tokens included unless --no-special.\n"
    "--encoding without --tokenizer reads that encoding's rank file from $LMKIT_TIKTOKEN\n"
    "(cl100k_base), the folder lmkit installs (share/lmkit beside bin/), or tiktoken's cache.",
    "Example:\n  echo '{\"text\":\"Hello world\"}' | tokenize --encoding cl100k_base --ids",
    opts,
    LM_OPT_THREADS | LM_OPT_RECORDS | LM_OPT_FIELD,
    "text",
    NULL,
};

/* Scratch of one thread. */
typedef struct {
    int ready;
    lm_tiktoken_state *st;
    lm_tiktoken_enc te;
    lm_encoding he;
    lm_buf text;
} slot_t;

typedef struct {
    const char *path, *encoding;
    int ids, tokens, offsets, no_special, allow_special;
    const char *field;
    lm_tiktoken *tt;
    lm_tokenizer *hf;
    slot_t *slots;
    int nslots;
} ctx_t;

static int on_opt(void *vc, int id, const char *arg)
{
    ctx_t *c = vc;
    switch (id) {
    case OPT_TOKENIZER:
        if (!*arg)
            lm_usage_error(&cmd, "invalid --tokenizer '': a file or folder is expected");
        c->path = arg;
        break;
    case OPT_ENCODING:
        c->encoding = lm_tiktoken_encodings[lm_opt_choice(&cmd, "encoding", arg, lm_tiktoken_encodings)];
        break;
    case OPT_IDS: c->ids = 1; break;
    case OPT_TOKENS: c->tokens = 1; break;
    case OPT_OFFSETS: c->offsets = 1; break;
    case OPT_NO_SPECIAL: c->no_special = 1; break;
    case OPT_ALLOW_SPECIAL: c->allow_special = 1; break;
    }
    return 0;
}

/* The rank file inside a folder without tokenizer.json, or NULL. */
static char *find_tiktoken(const char *dir)
{
    static const char *const names[] = {"tiktoken.model",     "cl100k_base.tiktoken", "o200k_base.tiktoken",
                                        "r50k_base.tiktoken", "p50k_base.tiktoken",   NULL};
    struct stat sb;
    for (const char *const *n = names; *n; n++) {
        char *p = lm_xmalloc(strlen(dir) + strlen(*n) + 2);
        sprintf(p, "%s/%s", dir, *n);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            return p;
        free(p);
    }
    return NULL;
}

/* Loads the tokenizer named by --tokenizer; exits on failure. */
static void load(ctx_t *c)
{
    char err[1024];
    struct stat sb;
    if (stat(c->path, &sb) != 0)
        lm_die_hint(LM_EXIT_DATA, "--tokenizer names a .tiktoken file, a tokenizer.json or a model folder",
                    "cannot open '%s': %s", c->path, strerror(errno));
    char *tt_path = NULL;
    if (S_ISDIR(sb.st_mode)) {
        char *j = lm_xmalloc(strlen(c->path) + 16);
        sprintf(j, "%s/tokenizer.json", c->path);
        if (stat(j, &sb) != 0) {
            tt_path = find_tiktoken(c->path);
            if (!tt_path)
                lm_die_hint(LM_EXIT_DATA,
                            "a model folder holds tokenizer.json, tiktoken.model or NAME.tiktoken",
                            "'%s' has no tokenizer.json and no tiktoken rank file", c->path);
        }
        free(j);
    } else {
        FILE *fp = fopen(c->path, "rb");
        if (!fp)
            lm_die(LM_EXIT_DATA, "cannot open '%s': %s", c->path, strerror(errno));
        int ch;
        while ((ch = getc(fp)) == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            ;
        fclose(fp);
        if (ch != '{' && ch != 0xef /* a BOM before '{' */)
            tt_path = lm_xstrdup(c->path);
    }
    if (tt_path) {
        if (!c->encoding && !lm_tiktoken_infer(tt_path))
            lm_usage_error(&cmd,
                           "cannot tell the encoding of '%s' from its name: pass --encoding "
                           "(cl100k_base, o200k_base, r50k_base, p50k_base or kimi_k2)",
                           tt_path);
        c->tt = lm_tiktoken_load(tt_path, c->encoding, err, sizeof err);
        if (!c->tt && strstr(err, "the right encoding?")) {
            char hint[256];
            if (c->encoding)
                snprintf(hint, sizeof hint,
                         "pass the rank file of %s, or the --encoding this file was made for", c->encoding);
            else
                snprintf(hint, sizeof hint,
                         "the encoding %s comes from the file name; name the right one with "
                         "--encoding",
                         lm_tiktoken_infer(tt_path));
            lm_die_hint(LM_EXIT_DATA, hint, "%s", err);
        }
        if (!c->tt)
            lm_die(LM_EXIT_DATA, "%s", err);
        free(tt_path);
        return;
    }
    if (c->encoding)
        lm_usage_error(&cmd, "--encoding applies to tiktoken rank files, not to '%s'", c->path);
    if (c->allow_special)
        lm_usage_error(&cmd,
                       "--allow-special applies to tiktoken rank files; a tokenizer.json always matches "
                       "its added tokens");
    c->hf = lm_tokenizer_load(c->path, err, sizeof err);
    if (!c->hf)
        lm_die(LM_EXIT_DATA, "%s", err);
}

static slot_t *my_slot(ctx_t *c)
{
    int k = omp_get_thread_num();
    if (k >= c->nslots)
        return NULL;
    slot_t *s = &c->slots[k];
    if (!s->ready) {
        if (c->tt && !(s->st = lm_tiktoken_state_new(c->tt)))
            return NULL;
        s->ready = 1;
    }
    return s;
}

/* Character index of byte b in t (bytes that continue a character count
 * with it): walks from the cursor (*cb bytes = *cc characters). */
static size_t char_at(const char *t, size_t *cb, size_t *cc, size_t b)
{
    while (*cb < b) {
        if (((unsigned char)t[*cb] & 0xc0) != 0x80)
            (*cc)++;
        (*cb)++;
    }
    while (*cb > b) {
        (*cb)--;
        if (((unsigned char)t[*cb] & 0xc0) != 0x80)
            (*cc)--;
    }
    return *cc;
}

static void add_offsets(lm_out *out, const char *t, size_t len, const size_t (*off)[2], size_t n)
{
    lm_buf *b = lm_out_begin(out, "offsets");
    size_t cb = 0, cc = 0;
    lm_buf_addc(b, '[');
    for (size_t k = 0; k < n; k++) {
        size_t s = off[k][0], e = off[k][1];
        size_t cs = char_at(t, &cb, &cc, s);
        if (s < e && s < len && ((unsigned char)t[s] & 0xc0) == 0x80 && cs > 0)
            cs--; /* a token starting inside a character starts with it */
        size_t ce = char_at(t, &cb, &cc, e);
        lm_buf_printf(b, "%s[%zu,%zu]", k ? "," : "", cs, ce);
    }
    lm_buf_addc(b, ']');
    lm_out_end(out);
}

/* A tokenizer's failure: bad text is bad data (exit 1); running out of memory
 * is system trouble (exit 2), after the records before it are written. */
static int encode_failed(const lm_record *in, const lm_member *m, int rc, const char *msg, lm_rerr *err)
{
    if (rc == -2) {
        lm_rerr_set(err, LM_NOPOS, "%s:%llu: out of memory tokenizing this record", in->file,
                    (unsigned long long)in->lineno);
        lm_rerr_hint(err, "free memory, or split the text into smaller records");
        return LM_REC_FATAL;
    }
    lm_rerr_set(err, m->vpos, "%s", msg);
    return LM_REC_BAD;
}

static int on_record(void *vc, const lm_record *in, lm_out *out, lm_rerr *err)
{
    ctx_t *c = vc;
    const lm_member *m = lm_rec_get(in, c->field);
    if (!m) {
        lm_rerr_set(err, LM_NOPOS, "no \"%s\" field", c->field);
        lm_rerr_hint(err, "name the field that holds the text with --field");
        return LM_REC_BAD;
    }
    if (m->type != LM_J_STRING) {
        lm_rerr_set(err, m->vpos, "\"%s\" must be a string, not %s", c->field, lm_jtype_name(m->type));
        return LM_REC_BAD;
    }
    slot_t *s = my_slot(c);
    if (!s) {
        lm_rerr_set(err, LM_NOPOS, "out of memory");
        return LM_REC_FATAL;
    }
    lm_buf_reset(&s->text);
    lm_jstr_decode(&s->text, in->text + m->vpos, m->vlen);
    const char *t = s->text.p ? s->text.p : "";
    size_t len = s->text.n;
    char msg[512];
    int more = c->ids || c->tokens || c->offsets;

    if (c->tt) {
        if (!more) {
            size_t n;
            int rc = lm_tiktoken_count(c->tt, s->st, t, len, c->allow_special, &n, msg, sizeof msg);
            if (rc != 0)
                return encode_failed(in, m, rc, msg, err);
            lm_out_int(out, "n_tokens", (int64_t)n);
            return LM_REC_OK;
        }
        lm_tiktoken_enc *e = &s->te;
        int rc = lm_tiktoken_encode(c->tt, s->st, t, len, c->allow_special, c->offsets, e, msg, sizeof msg);
        if (rc != 0)
            return encode_failed(in, m, rc, msg, err);
        lm_out_int(out, "n_tokens", (int64_t)e->n);
        if (c->ids) {
            lm_buf *b = lm_out_begin(out, "ids");
            lm_buf_addc(b, '[');
            for (size_t k = 0; k < e->n; k++)
                lm_buf_printf(b, "%s%u", k ? "," : "", e->ids[k]);
            lm_buf_addc(b, ']');
            lm_out_end(out);
        }
        if (c->tokens) {
            lm_buf *b = lm_out_begin(out, "tokens");
            lm_buf_addc(b, '[');
            for (size_t k = 0; k < e->n; k++) {
                size_t tl;
                const char *tb = lm_tiktoken_token(c->tt, e->ids[k], &tl);
                if (k)
                    lm_buf_addc(b, ',');
                lm_buf_add_jstr(b, tb, tl);
            }
            lm_buf_addc(b, ']');
            lm_out_end(out);
        }
        if (c->offsets)
            add_offsets(out, t, len, (const size_t(*)[2])e->off, e->n);
        return LM_REC_OK;
    }

    lm_encoding *e = &s->he;
    int rc = lm_tokenizer_encode(c->hf, t, len, !c->no_special, e, msg, sizeof msg);
    if (rc != 0)
        return encode_failed(in, m, rc, msg, err);
    lm_out_int(out, "n_tokens", (int64_t)e->n);
    if (c->ids) {
        lm_buf *b = lm_out_begin(out, "ids");
        lm_buf_addc(b, '[');
        for (size_t k = 0; k < e->n; k++)
            lm_buf_printf(b, "%s%d", k ? "," : "", (int)e->ids[k]);
        lm_buf_addc(b, ']');
        lm_out_end(out);
    }
    if (c->tokens) {
        lm_buf *b = lm_out_begin(out, "tokens");
        lm_buf_addc(b, '[');
        for (size_t k = 0; k < e->n; k++) {
            size_t tl = 0;
            const char *tb = lm_tokenizer_token(c->hf, e->ids[k], &tl);
            if (k)
                lm_buf_addc(b, ',');
            lm_buf_add_jstr(b, tb ? tb : "", tb ? tl : 0);
        }
        lm_buf_addc(b, ']');
        lm_out_end(out);
    }
    if (c->offsets)
        add_offsets(out, t, len, (const size_t(*)[2])e->off, e->n);
    return LM_REC_OK;
}

int main(int argc, char **argv)
{
    lm_cli_init(argv[0]);
    ctx_t c = {0};
    lm_common com;
    int oi = lm_cli_parse(&cmd, argc, argv, &com, on_opt, &c);
    char *found = NULL;
    if (!c.path) {
        if (!c.encoding)
            lm_usage_error(&cmd, "--tokenizer PATH or --encoding NAME is required");
        char where[4096];
        found = lm_tiktoken_find(c.encoding, where, sizeof where);
        if (!found)
            lm_die_hint(LM_EXIT_USAGE, "pass the rank file with --tokenizer FILE",
                        "no %s rank file: searched %s", c.encoding, where);
        c.path = found;
    }
    c.field = com.field;
    lm_cli_threads(&com);
    load(&c);
    c.nslots = omp_get_max_threads();
    c.slots = lm_xcalloc((size_t)c.nslots, sizeof *c.slots);
    lm_loop L = {.cmd = &cmd, .common = &com, .fn = on_record, .ctx = &c, .parallel = 1};
    int st = lm_loop_run(&L, argc - oi, argv + oi);
    for (int k = 0; k < c.nslots; k++) {
        lm_tiktoken_state_free(c.slots[k].st);
        lm_tiktoken_enc_free(&c.slots[k].te);
        if (c.hf)
            lm_encoding_free(&c.slots[k].he);
        lm_buf_free(&c.slots[k].text);
    }
    free(c.slots);
    free(found);
    lm_tiktoken_free(c.tt);
    if (c.hf)
        lm_tokenizer_free(c.hf);
    return st;
}

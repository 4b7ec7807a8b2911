/* cache.c - the answer cache of client.h: JSON Lines {"key","output"},
 * loaded whole at open, appended one write() per answer. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/fs.h"

static int is_key(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

static void remember(lm_llm *c, const char *key, const char *output)
{
    int is_new;
    uint32_t id = lm_strmap_id(&c->cmap, key, 64, &is_new);
    if (!is_new)
        return; /* the first answer stored stays */
    lm_grow(c->cout, c->capcout, (size_t)id + 1);
    c->cout[id] = lm_xstrdup(output);
}

/* One line of the file: 0, or -1 with the reason in why. */
static int load_line(lm_llm *c, const char *p, size_t n, char *why, size_t whylen)
{
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        lm_seterr(why, whylen, "not JSON (%s)", je.text);
        return -1;
    }
    json_t *k = json_object_get(v, "key"), *o = json_object_get(v, "output");
    int rc = -1;
    if (!json_is_object(v) || !json_is_string(k) || !json_is_string(o))
        lm_seterr(why, whylen, "not an object with string members \"key\" and \"output\"");
    else if (!is_key(json_string_value(k)))
        lm_seterr(why, whylen, "\"key\" is not 64 lower-case hex digits");
    else if (strlen(json_string_value(o)) != json_string_length(o))
        lm_seterr(why, whylen, "\"output\" holds a NUL character");
    else {
        remember(c, json_string_value(k), json_string_value(o));
        c->st.cache_loaded++;
        rc = 0;
    }
    json_decref(v);
    return rc;
}

int llm_cache_open(lm_llm *c, char *err, size_t errlen)
{
    const char *path = c->cfg.cache_path;
    size_t len = 0;
    char *text = NULL;
    if (access(path, F_OK) == 0 && !(text = lm_read_file(path, &len, err, errlen)))
        return -1;
    size_t line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
        line++;
        if (n && text[pos + n - 1] == '\r')
            n--;
        char why[300];
        if (n && load_line(c, text + pos, n, why, sizeof why)) {
            c->st.cache_bad_lines++;
            lm_warn("'%s':%zu: cache line skipped: %s", path, line, why);
            if (!nl)
                lm_hint("a process writing the cache was stopped in the middle of this last line; "
                        "its answer will be asked for again");
        }
        pos = end + 1;
    }
    c->cache_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (c->cache_fd < 0) {
        lm_seterr(err, errlen, "cannot open the LLM cache '%s' for writing: %s", path, strerror(errno));
        free(text);
        return -1;
    }
    /* a torn last line gets its newline now, so that the next answer starts a
     * line of its own instead of gluing onto it */
    int torn = len > 0 && text[len - 1] != '\n';
    free(text);
    if (torn && write(c->cache_fd, "\n", 1) != 1) {
        lm_seterr(err, errlen, "cannot write to the LLM cache '%s': %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

const char *llm_cache_get(lm_llm *c, const char *key)
{
    if (c->cmap.n == 0)
        return NULL;
    /* lm_strmap has no lookup without insert: a new key gets no answer */
    int is_new;
    uint32_t id = lm_strmap_id(&c->cmap, key, 64, &is_new);
    if (is_new) {
        lm_grow(c->cout, c->capcout, (size_t)id + 1);
        c->cout[id] = NULL;
        return NULL;
    }
    return c->cout[id];
}

int llm_cache_put(lm_llm *c, const char *key, const char *output, char *err, size_t errlen)
{
    int is_new;
    uint32_t id = lm_strmap_id(&c->cmap, key, 64, &is_new);
    lm_grow(c->cout, c->capcout, (size_t)id + 1);
    if (!is_new && c->cout[id])
        return 0;
    c->cout[id] = lm_xstrdup(output);
    lm_buf b = {0};
    lm_buf_adds(&b, "{\"key\":\"");
    lm_buf_adds(&b, key);
    lm_buf_adds(&b, "\",\"output\":");
    lm_buf_add_jstr(&b, output, strlen(output));
    lm_buf_adds(&b, "}\n");
    /* one write: a kill leaves the line whole or torn at the end, never two
     * answers interleaved */
    size_t off = 0;
    while (off < b.n) {
        ssize_t w = write(c->cache_fd, b.p + off, b.n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            lm_seterr(err, errlen, "cannot append to the LLM cache '%s': %s", c->cfg.cache_path,
                      w < 0 ? strerror(errno) : "nothing written");
            lm_buf_free(&b);
            return -1;
        }
        off += (size_t)w;
    }
    lm_buf_free(&b);
    return 0;
}

void llm_cache_close(lm_llm *c)
{
    if (c->cache_fd >= 0)
        close(c->cache_fd);
    c->cache_fd = -1;
    for (size_t i = 0; i < c->cmap.n; i++)
        free(c->cout[i]);
    free(c->cout);
    c->cout = NULL;
    c->capcout = 0;
    lm_strmap_free(&c->cmap);
}

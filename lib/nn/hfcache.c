/* hfcache.c - Hugging Face cache lookup of a model id; see hfcache.h. */
#include "nn/hfcache.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/diag.h"

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int part_ok(const char *s, size_t n)
{
    if (n == 0 || n > 96 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
            return 0;
        if (c == '.' && i + 1 < n && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

int lm_hf_is_repo_id(const char *s)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || strchr(slash + 1, '/'))
        return 0;
    return part_ok(s, (size_t)(slash - s)) && part_ok(slash + 1, strlen(slash + 1));
}

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = lm_xmalloc(na + nb + 2);
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

/* The candidate caches in precedence order, without repeats; n returned. */
static size_t cache_dirs(char *out[5])
{
    const char *v;
    char *c[5];
    size_t k = 0, n = 0;
    if ((v = getenv("HF_HUB_CACHE")) && *v)
        c[k++] = lm_xstrdup(v);
    if ((v = getenv("HUGGINGFACE_HUB_CACHE")) && *v)
        c[k++] = lm_xstrdup(v);
    if ((v = getenv("HF_HOME")) && *v)
        c[k++] = join(v, "hub");
    if ((v = getenv("XDG_CACHE_HOME")) && *v)
        c[k++] = join(v, "huggingface/hub");
    if ((v = getenv("HOME")) && *v)
        c[k++] = join(v, ".cache/huggingface/hub");
    for (size_t i = 0; i < k; i++) {
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            dup |= strcmp(out[j], c[i]) == 0;
        if (dup)
            free(c[i]);
        else
            out[n++] = c[i];
    }
    return n;
}

/* refs/main's commit hash, or NULL when the file is missing or unusable. */
static char *read_ref(const char *repo)
{
    char *ref = join(repo, "refs/main");
    FILE *f = fopen(ref, "r");
    free(ref);
    if (!f)
        return NULL;
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n && isspace((unsigned char)buf[n - 1]))
        buf[--n] = 0;
    if (!part_ok(buf, n))
        return NULL;
    return lm_xstrdup(buf);
}

/* The snapshot folder of one cached repository, or NULL with err set when
 * the repository folder exists but no snapshot can be chosen. */
static char *pick_snapshot(const char *repo, int *broken, char *err, size_t errlen)
{
    char *snaps = join(repo, "snapshots");
    char *hash = read_ref(repo);
    char *dir = NULL;
    if (hash) {
        dir = join(snaps, hash);
        if (!is_dir(dir)) {
            lm_seterr(err, errlen, "'%s/refs/main' names revision %s, but '%s' is missing", repo, hash, dir);
            *broken = 1;
            free(dir);
            dir = NULL;
        }
        free(hash);
        free(snaps);
        return dir;
    }
    DIR *d = opendir(snaps);
    size_t count = 0;
    char first[256] = "", second[256] = "";
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char *p = join(snaps, e->d_name);
            if (is_dir(p)) {
                count++;
                snprintf(count == 1 ? first : second, sizeof first, "%s", e->d_name);
            }
            free(p);
        }
        closedir(d);
    }
    if (count == 1) {
        dir = join(snaps, first);
    } else {
        *broken = 1;
        if (count == 0)
            lm_seterr(err, errlen, "'%s' has no refs/main and no snapshot in snapshots/", repo);
        else
            lm_seterr(err, errlen,
                      "'%s' has no refs/main and %zu snapshots (%s, %s%s): cannot tell which to use", repo,
                      count, first, second, count > 2 ? ", ..." : "");
    }
    free(snaps);
    return dir;
}

char *lm_hf_model_dir(const char *arg, int *searched_id, char *err, size_t errlen)
{
    *searched_id = 0;
    if (is_dir(arg))
        return lm_xstrdup(arg);
    if (!lm_hf_is_repo_id(arg)) {
        struct stat sb;
        int e = stat(arg, &sb) == 0 ? ENOTDIR : errno;
        lm_seterr(err, errlen, "cannot open model folder '%s': %s", arg,
                  e == ENOTDIR ? "not a folder" : strerror(e));
        return NULL;
    }
    *searched_id = 1;
    char name[256];
    snprintf(name, sizeof name, "models--%s", arg);
    *strchr(name, '/') = 0;
    strcat(name, "--");
    strcat(name, strchr(arg, '/') + 1);

    char *caches[5];
    size_t n = cache_dirs(caches);
    char *found = NULL;
    char list[2048] = "";
    size_t used = 0;
    int broken = 0;
    for (size_t i = 0; i < n && !found && !broken; i++) {
        char *repo = join(caches[i], name);
        int w = snprintf(list + used, sizeof list - used, "%s'%s'", i ? ", " : "", repo);
        if (w > 0 && (size_t)w < sizeof list - used)
            used += (size_t)w;
        if (is_dir(repo))
            found = pick_snapshot(repo, &broken, err, errlen);
        free(repo);
    }
    for (size_t i = 0; i < n; i++)
        free(caches[i]);
    if (!found && !broken) {
        if (n == 0)
            lm_seterr(err, errlen,
                      "model '%s' is not a folder, and no Hugging Face cache is known "
                      "(HF_HUB_CACHE, HF_HOME and HOME are unset)",
                      arg);
        else
            lm_seterr(err, errlen, "model '%s' is not a folder nor in the Hugging Face cache (searched %s)",
                      arg, list);
    }
    return found;
}

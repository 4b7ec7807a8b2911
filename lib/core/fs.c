/* fs.c - atomic writes (temp file, fsync, rename) and whole-file reads. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lm_atomic_open(lm_atomic *a, const char *path, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (strcmp(path, "-") == 0) {
        a->fp = stdout;
        return 0;
    }
    size_t n = strlen(path);
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    a->path = strdup(path);
    a->tmp = malloc(n + 16);
    if (!a->path || !a->tmp) {
        snprintf(err, errlen, "out of memory");
        free(a->path);
        free(a->tmp);
        return -1;
    }
    memcpy(a->tmp, path, dirlen);
    snprintf(a->tmp + dirlen, n + 16 - dirlen, ".%s.XXXXXX", path + dirlen);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a file beside '%s': %s", path, strerror(errno));
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return -1;
    }
    /* mkstemp makes 0600; give the file the usual mode under the umask. */
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    a->fp = fdopen(fd, "w");
    if (!a->fp) {
        snprintf(err, errlen, "cannot open '%s': %s", a->tmp, strerror(errno));
        close(fd);
        unlink(a->tmp);
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return -1;
    }
    return 0;
}

int lm_atomic_commit(lm_atomic *a, char *err, size_t errlen)
{
    if (!a->tmp) {
        if (fflush(a->fp) != 0 || ferror(a->fp)) {
            snprintf(err, errlen, "write error: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    int bad = fflush(a->fp) != 0 || ferror(a->fp);
    int e = errno;
    if (!bad && fsync(fileno(a->fp)) != 0 && errno != EINVAL && errno != EROFS) {
        bad = 1;
        e = errno;
    }
    if (fclose(a->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    a->fp = NULL;
    if (!bad && rename(a->tmp, a->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        snprintf(err, errlen, "cannot write '%s': %s", a->path, strerror(e));
        unlink(a->tmp);
    }
    free(a->tmp);
    free(a->path);
    a->tmp = a->path = NULL;
    return bad ? -1 : 0;
}

void lm_atomic_abort(lm_atomic *a)
{
    if (a->tmp) {
        if (a->fp)
            fclose(a->fp);
        unlink(a->tmp);
        free(a->tmp);
        free(a->path);
    }
    memset(a, 0, sizeof *a);
}

char *lm_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (n < cap)
            break;
        char *nb = cap > ((size_t)-1) / 4 ? NULL : realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf) {
        snprintf(err, errlen, "out of memory reading '%s'", path);
    } else if (ferror(fp)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    if (!is_stdin)
        fclose(fp);
    return buf;
}

/* fs.c - file output (temp file, fsync, rename; devices and pipes written
 * directly), output/input checks and whole-file reads (see fs.h). */
#include "fs.h"
#include "diag.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- resolving the target ---- */

/* The folder part of path ("." when it has none), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return lm_xstrdup(".");
    if (slash == path)
        return lm_xstrdup("/");
    return lm_xstrndup(path, (size_t)(slash - path));
}

/* Follows symbolic links from path to the name they finally stand for (which
 * need not exist yet: a dangling link names the file to create).  Returns a
 * malloc'd path, or NULL with errno set (ELOOP after 40 links). */
static char *resolve(const char *path)
{
    char *p = lm_xstrdup(path);
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
            return p;
        if (hops == 40) {
            free(p);
            errno = ELOOP;
            return NULL;
        }
        size_t cap = (size_t)st.st_size + 1 > 256 ? (size_t)st.st_size + 1 : 256;
        char *t = lm_xmalloc(cap);
        ssize_t n = readlink(p, t, cap);
        if (n < 0 || (size_t)n >= cap) { /* changed under us or unreadable */
            int e = n < 0 ? errno : EAGAIN;
            free(t);
            free(p);
            errno = e;
            return NULL;
        }
        t[n] = '\0';
        char *next;
        if (t[0] == '/') {
            next = t;
        } else {
            char *d = dir_of(p);
            size_t len = strlen(d) + 1 + (size_t)n + 1;
            next = lm_xmalloc(len);
            snprintf(next, len, "%s/%s", d, t);
            free(d);
            free(t);
        }
        free(p);
        p = next;
    }
}

/* ---- temporary files removed on exit and on signals ---- */

#define MAX_PENDING 32
static char *volatile pending[MAX_PENDING];
static int hooks_set;

static void remove_pending(void)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        char *t = pending[i];
        if (t)
            unlink(t);
    }
}

static void on_signal(int sig)
{
    int e = errno;
    remove_pending(); /* unlink is async-signal-safe */
    errno = e;
    /* SA_RESETHAND restored the default action; the signal is blocked while
     * this handler runs and is delivered again as it returns. */
    raise(sig);
}

static void at_exit(void)
{
    remove_pending();
}

static void set_hooks(void)
{
    if (hooks_set)
        return;
    hooks_set = 1;
    atexit(at_exit);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
            continue; /* ignored (nohup) or handled by someone else: leave it */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Adds (add != 0) or removes tmp from the list, with the signals above
 * blocked so that a handler never sees it half-updated. */
static int track(char *tmp, int add)
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    int ok = !add;
    for (int i = 0; i < MAX_PENDING; i++) {
        if (add && !pending[i]) {
            pending[i] = tmp;
            ok = 1;
            break;
        }
        if (!add && pending[i] == tmp)
            pending[i] = NULL;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return ok ? 0 : -1;
}

/* ---- writing ---- */

static int open_fail(lm_atomic *a, int fd, int unlink_tmp)
{
    if (fd >= 0)
        close(fd);
    if (a->tmp) {
        if (unlink_tmp)
            unlink(a->tmp);
        track(a->tmp, 0);
    }
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
    return -1;
}

int lm_atomic_open(lm_atomic *a, const char *path, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (strcmp(path, "-") == 0) {
        a->fp = stdout;
        return 0;
    }
    a->path = resolve(path);
    if (!a->path) {
        lm_seterr(err, errlen, "cannot follow '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int exists = stat(a->path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        lm_seterr(err, errlen, "cannot write '%s': %s", path, strerror(EISDIR));
        return open_fail(a, -1, 0);
    }
    if (exists && !S_ISREG(st.st_mode)) {
        /* a device, pipe or socket: write it as it is */
        int fd = open(a->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 || !(a->fp = fdopen(fd, "w"))) {
            lm_seterr(err, errlen, "cannot open '%s': %s", path, strerror(errno));
            return open_fail(a, fd, 0);
        }
        return 0;
    }
    size_t n = strlen(a->path);
    const char *slash = strrchr(a->path, '/');
    size_t dirlen = slash ? (size_t)(slash - a->path) + 1 : 0;
    a->tmp = lm_xmalloc(n + 16);
    memcpy(a->tmp, a->path, dirlen);
    snprintf(a->tmp + dirlen, n + 16 - dirlen, ".%s.XXXXXX", a->path + dirlen);
    set_hooks();
    /* listed before it exists, so that no signal can come between its
     * creation and its listing */
    if (track(a->tmp, 1) < 0) {
        lm_seterr(err, errlen, "cannot write '%s': too many output files at once", path);
        free(a->tmp);
        a->tmp = NULL;
        return open_fail(a, -1, 0);
    }
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        lm_seterr(err, errlen, "cannot create a file beside '%s': %s", path, strerror(errno));
        return open_fail(a, -1, 0);
    }
    /* mkstemp makes 0600: give it the replaced file's owner and mode, or a
     * new file's usual mode under the umask, before anything is written */
    if (exists) {
        if ((st.st_uid != geteuid() || st.st_gid != getegid()) && fchown(fd, st.st_uid, st.st_gid) != 0)
            (void)!fchown(fd, (uid_t)-1, st.st_gid); /* the group alone, where allowed */
        (void)fchmod(fd, st.st_mode & 07777);
    } else {
        mode_t um = umask(0);
        umask(um);
        (void)fchmod(fd, 0666 & ~um);
    }
    a->fp = fdopen(fd, "w");
    if (!a->fp) {
        lm_seterr(err, errlen, "cannot open '%s': %s", a->tmp, strerror(errno));
        return open_fail(a, fd, 1);
    }
    return 0;
}

int lm_atomic_commit(lm_atomic *a, char *err, size_t errlen)
{
    if (a->fp == stdout) {
        if (fflush(a->fp) != 0 || ferror(a->fp)) {
            lm_seterr(err, errlen, "write error: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    int bad = fflush(a->fp) != 0 || ferror(a->fp);
    int e = errno;
    if (!bad && a->tmp && fsync(fileno(a->fp)) != 0 && errno != EINVAL && errno != EROFS) {
        bad = 1;
        e = errno;
    }
    if (fclose(a->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    a->fp = NULL;
    if (!bad && a->tmp && rename(a->tmp, a->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        lm_seterr(err, errlen, "cannot write '%s': %s", a->path, strerror(e));
        if (a->tmp)
            unlink(a->tmp);
    }
    if (a->tmp)
        track(a->tmp, 0);
    free(a->tmp);
    free(a->path);
    a->tmp = a->path = NULL;
    return bad ? -1 : 0;
}

void lm_atomic_abort(lm_atomic *a)
{
    if (a->fp && a->fp != stdout)
        fclose(a->fp);
    if (a->tmp) {
        unlink(a->tmp);
        track(a->tmp, 0);
    }
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

/* ---- checks before the work ---- */

int lm_out_check(const char *path, char *err, size_t errlen)
{
    if (strcmp(path, "-") == 0)
        return 0;
    char *t = resolve(path);
    if (!t) {
        lm_seterr(err, errlen, "cannot follow '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = 0;
    if (stat(t, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            lm_seterr(err, errlen, "cannot write '%s': %s", path, strerror(EISDIR));
            rc = -1;
        } else if (access(t, W_OK) != 0) {
            lm_seterr(err, errlen, "cannot write '%s': %s", path, strerror(errno));
            rc = -1;
        }
    } else {
        char *d = dir_of(t);
        struct stat ds;
        if (stat(d, &ds) != 0) {
            lm_seterr(err, errlen, "cannot write '%s': %s", path, strerror(errno));
            rc = -1;
        } else if (!S_ISDIR(ds.st_mode)) {
            lm_seterr(err, errlen, "cannot write '%s': %s", path, strerror(ENOTDIR));
            rc = -1;
        } else if (access(d, W_OK | X_OK) != 0) {
            lm_seterr(err, errlen, "cannot write '%s': its folder '%s': %s", path, d, strerror(errno));
            rc = -1;
        }
        free(d);
    }
    free(t);
    return rc;
}

/* The resolved target as an absolute-folder path ("/real/dir/name"), or NULL. */
static char *canonical(const char *path)
{
    char *t = resolve(path), *d = t ? dir_of(t) : NULL, *rd = d ? realpath(d, NULL) : NULL, *c = NULL;
    if (rd) {
        const char *slash = strrchr(t, '/');
        const char *base = slash ? slash + 1 : t;
        size_t len = strlen(rd) + strlen(base) + 2;
        c = lm_xmalloc(len);
        snprintf(c, len, "%s/%s", rd, base);
    }
    free(t);
    free(d);
    free(rd);
    return c;
}

int lm_out_same(const char *a, const char *b)
{
    if (strcmp(a, "-") == 0 || strcmp(b, "-") == 0)
        return 0;
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ca = canonical(a), *cb = canonical(b);
    int same = ca && cb && strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return same;
}

static int stdin_was_closed;

void lm_stdin_mark_closed(void)
{
    stdin_was_closed = 1;
}

int lm_stdin_closed(void)
{
    return stdin_was_closed;
}

int lm_out_replaces(const char *output, const char *input)
{
    struct stat so, si;
    if (strcmp(output, "-") == 0 || stat(output, &so) != 0 || !S_ISREG(so.st_mode))
        return 0;
    if (strcmp(input, "-") == 0) {
        if (stdin_was_closed || fstat(STDIN_FILENO, &si) != 0)
            return 0;
    } else if (stat(input, &si) != 0) {
        return 0;
    }
    return so.st_dev == si.st_dev && so.st_ino == si.st_ino;
}

/* ---- reading ---- */
char *lm_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    int is_stdin = strcmp(path, "-") == 0;
    if (is_stdin && stdin_was_closed) {
        lm_seterr(err, errlen, "cannot read standard input: %s", strerror(EBADF));
        return NULL;
    }
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        lm_seterr(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = lm_xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (n < cap - 1)
            break;
        lm_grow(buf, cap, n + 2);
    }
    if (ferror(fp)) {
        lm_seterr(err, errlen, "cannot read '%s': %s", path, strerror(errno));
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

/* ---- folders published in one rename ---- */

/* path without trailing slashes; *base points at its last component */
static char *dir_clean(const char *path, const char **base, size_t *plen)
{
    char *d = lm_xstrdup(path);
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/')
        d[--n] = 0;
    const char *slash = strrchr(d, '/');
    *plen = slash ? (size_t)(slash - d) + 1 : 0;
    *base = slash ? slash + 1 : d;
    return d;
}

int lm_dir_tmp(const char *path, const char *tag, char **tmp, char *err, size_t errlen)
{
    const char *base;
    size_t plen;
    char *d = dir_clean(path, &base, &plen);
    *tmp = NULL;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        lm_seterr(err, errlen, "%s: not a folder name to create", path);
        free(d);
        return -1;
    }
    char *t = lm_xmalloc(plen + strlen(base) + strlen(tag) + 16);
    sprintf(t, "%.*s.%s.%s-XXXXXX", (int)plen, d, base, tag);
    mode_t mask = umask(0);
    umask(mask);
    if (!mkdtemp(t)) {
        lm_seterr(err, errlen, "%.*s: cannot create a folder there: %s", plen ? (int)plen : 1, plen ? d : ".",
                  strerror(errno));
        free(t);
        free(d);
        return -1;
    }
    free(d);
    /* mkdtemp makes it 0700; a new folder gets the usual mode */
    if (chmod(t, 0777 & ~mask) != 0) {
        lm_seterr(err, errlen, "%s: %s", t, strerror(errno));
        rmdir(t);
        free(t);
        return -1;
    }
    *tmp = t;
    return 0;
}

static int fsync_path(const char *p, int flags)
{
    int fd = open(p, O_RDONLY | flags);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

void lm_dir_remove(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            unlinkat(dirfd(dp), e->d_name, 0);
        }
        closedir(dp);
    }
    rmdir(dir);
}

int lm_dir_publish(const char *tmp, const char *path, int replace, char *err, size_t errlen)
{
    const char *base;
    size_t plen;
    char *d = dir_clean(path, &base, &plen);
    int rc = -1;
    if (fsync_path(tmp, O_DIRECTORY) != 0) {
        lm_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    struct stat st;
    int exists = lstat(d, &st) == 0;
    if (exists && (!replace || !S_ISDIR(st.st_mode))) {
        lm_seterr(err, errlen, "%s: already exists%s", d,
                  replace ? " and is not a folder" : "; it is only written as a new folder");
        goto out;
    }
    int mv;
    if (!exists) {
        mv = renameat2(AT_FDCWD, tmp, AT_FDCWD, d, RENAME_NOREPLACE);
        if (mv != 0 && (errno == EINVAL || errno == ENOSYS))
            mv = rename(tmp, d); /* no RENAME_NOREPLACE here: checked above */
    } else {
        mv = renameat2(AT_FDCWD, tmp, AT_FDCWD, d, RENAME_EXCHANGE);
        if (mv == 0) {
            lm_dir_remove(tmp); /* tmp now names the old folder */
        } else if (errno == EINVAL || errno == ENOSYS) {
            char *old = lm_xmalloc(strlen(tmp) + 8);
            sprintf(old, "%s.old", tmp);
            mv = rename(d, old);
            if (mv == 0) {
                mv = rename(tmp, d);
                if (mv != 0)
                    rename(old, d);
                else
                    lm_dir_remove(old);
            }
            free(old);
        }
    }
    if (mv != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            lm_seterr(err, errlen, "%s: already exists; it is only written as a new folder", d);
        else
            lm_seterr(err, errlen, "%s: cannot rename %s to it: %s", d, tmp, strerror(errno));
        goto out;
    }
    /* make the new name durable */
    char *parent = plen ? lm_xstrndup(d, plen) : lm_xstrdup(".");
    fsync_path(parent, O_DIRECTORY);
    free(parent);
    rc = 0;
out:
    free(d);
    return rc;
}

int lm_copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
    size_t n;
    char *buf = lm_read_file(src, &n, err, errlen);
    if (!buf)
        return -1;
    lm_atomic a;
    int rc = lm_atomic_open(&a, dst, err, errlen);
    if (rc == 0) {
        if (fwrite(buf, 1, n, a.fp) != n) {
            lm_seterr(err, errlen, "%s: %s", dst, strerror(errno));
            lm_atomic_abort(&a);
            rc = -1;
        } else {
            rc = lm_atomic_commit(&a, err, errlen);
        }
    }
    free(buf);
    return rc;
}

/* test_fs.c - atomic writes never leave a half-written target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "tap.h"

int main(void)
{
    char dir[] = "/tmp/lmkit-fs-XXXXXX";
    ok(mkdtemp(dir) != NULL, "temp dir");
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    lm_atomic a;
    ok(lm_atomic_open(&a, path, err, sizeof err) == 0, "open");
    fputs("new content\n", a.fp);
    size_t n;
    char *before = lm_read_file(path, &n, err, sizeof err);
    is_str(before, "old\n", "target untouched before commit");
    free(before);
    ok(lm_atomic_commit(&a, err, sizeof err) == 0, "commit");
    char *after = lm_read_file(path, &n, err, sizeof err);
    is_str(after, "new content\n", "target replaced at commit");
    free(after);
    ok(lm_atomic_open(&a, path, err, sizeof err) == 0, "open again");
    fputs("discard me", a.fp);
    lm_atomic_abort(&a);
    after = lm_read_file(path, &n, err, sizeof err);
    is_str(after, "new content\n", "abort keeps the old file");
    free(after);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", dir);
    ok(lm_atomic_open(&a, bad, err, sizeof err) < 0 && strstr(err, "cannot create"), "missing folder: %s",
       err);
    ok(lm_read_file("/nonexistent/file", &n, err, sizeof err) == NULL && strstr(err, "cannot open"),
       "read error names the file");

    /* a device is written directly, never replaced */
    ok(lm_atomic_open(&a, "/dev/null", err, sizeof err) == 0 && a.tmp == NULL, "/dev/null opened directly");
    fputs("x", a.fp);
    ok(lm_atomic_commit(&a, err, sizeof err) == 0, "and committed: %s", err);
    struct stat st;
    ok(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is still a device");

    /* a link is followed; the replaced file keeps its mode */
    char link[300], target[300], other[300];
    snprintf(link, sizeof link, "%s/link", dir);
    snprintf(target, sizeof target, "%s/out.jsonl", dir);
    snprintf(other, sizeof other, "%s/./out.jsonl", dir);
    chmod(path, 0640);
    ok(symlink("out.jsonl", link) == 0, "symlink");
    ok(lm_atomic_open(&a, link, err, sizeof err) == 0 && strcmp(a.path, target) == 0, "link resolved to %s",
       a.path ? a.path : "(null)");
    fputs("via link\n", a.fp);
    ok(lm_atomic_commit(&a, err, sizeof err) == 0, "commit through the link");
    struct stat ls;
    ok(lstat(link, &ls) == 0 && S_ISLNK(ls.st_mode), "the link stays a link");
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640, "mode 0640 kept (%o)",
       (unsigned)(st.st_mode & 07777));
    after = lm_read_file(path, &n, err, sizeof err);
    is_str(after, "via link\n", "the target has the new content");
    free(after);

    /* checks before the work */
    ok(lm_out_replaces(link, path) && lm_out_replaces(path, other), "an output naming an input is seen");
    ok(!lm_out_replaces("/dev/null", "/dev/null"), "a device never counts as replacing an input");
    char fresh[300], fresh2[300];
    snprintf(fresh, sizeof fresh, "%s/new.svg", dir);
    snprintf(fresh2, sizeof fresh2, "%s/../%s/new.svg", dir, strrchr(dir, '/') + 1);
    ok(lm_out_same(fresh, fresh2) && !lm_out_same(fresh, path),
       "two names of one new file are the same output");
    ok(lm_out_check(fresh, err, sizeof err) == 0, "a new file in a writable folder can be written");
    ok(lm_out_check(bad, err, sizeof err) < 0 && strstr(err, "No such file"), "missing folder: %s", err);
    ok(lm_out_check(dir, err, sizeof err) < 0 && strstr(err, "Is a directory"), "a folder: %s", err);
    unlink(link);
    unlink(path);
    rmdir(dir);
    return tap_done();
}

/* test_fs.c - atomic writes never leave a half-written target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    ok(lm_atomic_open(&a, bad, err, sizeof err) < 0 && strstr(err, "cannot create"), "missing folder: %s", err);
    ok(lm_read_file("/nonexistent/file", &n, err, sizeof err) == NULL && strstr(err, "cannot open"),
       "read error names the file");
    unlink(path);
    rmdir(dir);
    return tap_done();
}

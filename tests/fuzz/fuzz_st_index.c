/* fuzz_st_index.c - fuzz target for sharded checkpoints: the
 * model.safetensors.index.json reader of lm_st_set_open (lib/nn/safetensors.c).
 *
 * A scratch folder holds two valid shards, a.safetensors (tensors x, y) and
 * b.safetensors (z).  Input: arbitrary bytes written as the folder's
 * model.safetensors.index.json.  Opening must either fail with a non-empty
 * message, or give a set of 1 to 2 shards in which every tensor the weight
 * map names is found.  Any violation aborts.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/safetensors.h"

static char dir[64], index_path[128];

static void cleanup(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/a.safetensors", dir), unlink(p);
    snprintf(p, sizeof p, "%s/b.safetensors", dir), unlink(p);
    unlink(index_path);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s/fuzz-st-index.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", dir);
    atexit(cleanup);
    static const float v[4] = {1, 2, 3, 4};
    static const int64_t s2[] = {2}, s1[] = {1};
    lm_st_wtensor a[] = {{"x", LM_DT_F32, 1, s2, v}, {"y", LM_DT_F32, 1, s1, v + 2}};
    lm_st_wtensor b[] = {{"z", LM_DT_F32, 1, s1, v + 3}};
    char p[128], err[256];
    snprintf(p, sizeof p, "%s/a.safetensors", dir);
    if (lm_st_write(p, a, 2, NULL, err, sizeof err) != 0)
        abort();
    snprintf(p, sizeof p, "%s/b.safetensors", dir);
    if (lm_st_write(p, b, 1, NULL, err, sizeof err) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    FILE *f = fopen(index_path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    lm_st_set set;
    char err[512];
    err[0] = 0;
    if (lm_st_set_open(&set, dir, err, sizeof err) != 0) {
        if (!err[0] || set.nfiles != 0 || set.files)
            abort();
        return 0;
    }
    if (set.nfiles < 1 || set.nfiles > 2)
        abort();
    json_error_t je;
    json_t *root = json_loadb((const char *)data, size, 0, &je);
    json_t *wm = json_object_get(root, "weight_map");
    const char *key;
    json_t *v;
    if (!json_is_object(wm))
        abort();
    json_object_foreach(wm, key, v)
    {
        if (!lm_st_set_find(&set, key))
            abort();
    }
    json_decref(root);
    lm_st_set_close(&set);
    return 0;
}

/* fuzz_route_router.c - fuzz target for router model files
 * (lib/route/router.c, route_router_load).
 *
 * Input: arbitrary bytes taken as a whole router file (text header, then
 * little-endian float32 parameters), handed to the loader through a memory
 * file.  The loader must either reject it with a non-empty message, or give
 * a router whose sizes agree with each other and whose predictions (for no
 * features and for one feature per input dimension, bounded) are
 * probabilities.  Any violation aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "route/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-router", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    route_router r;
    char err[512];
    err[0] = 0;
    if (route_router_load(&r, path, err, sizeof err) != 0) {
        if (!err[0])
            abort();
        return 0;
    }
    if (r.n_heads != r.n_small * r.n_max || r.n_small == 0 || !r.reference ||
        (r.arch == ROUTE_LINEAR) != (r.hidden == 0))
        abort();
    for (size_t s = 0; s < r.n_small; s++)
        if (!r.small[s])
            abort();
    double *p = malloc((r.n_heads ? r.n_heads : 1) * sizeof *p);
    if (!p)
        abort();
    route_router_predict(&r, NULL, NULL, 0, p);
    /* the loader bounds parameters, so probabilities are always in [0, 1] */
    size_t D = route_feat_dim(&r.feat);
    for (size_t d = 0; d < D && d < 64; d++) {
        uint32_t idx = (uint32_t)(d == 63 ? D - 1 : d);
        float val = 1.0f;
        route_router_predict(&r, &idx, &val, 1, p);
        for (size_t h = 0; h < r.n_heads; h++)
            if (!(p[h] >= 0 && p[h] <= 1))
                abort();
    }
    free(p);
    route_router_free(&r);
    return 0;
}

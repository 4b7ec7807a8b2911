/* fuzz_route_prices.c - fuzz target for the prices-file parser
 * (lib/route/data.c, route_models_parse).
 *
 * Input: arbitrary bytes taken as a prices document (an object, an array or
 * JSON Lines), parsed once with the reference from the file and once with
 * the reference named "b".  The parser must either reject it with a
 * non-empty message, or give a table of distinct, findable model names,
 * finite prices >= 0, an average output length that is NaN or >= 0, and a
 * reference inside the table.  Any violation aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const refs[] = {NULL, "b"};
    for (int pass = 0; pass < 2; pass++) {
        route_models m;
        char err[512];
        err[0] = 0;
        int rc = route_models_parse(&m, (const char *)data, size, refs[pass], err, sizeof err);
        if (rc != 0) {
            if (rc != -1 || !err[0])
                abort();
            continue;
        }
        if (m.n == 0 || m.ref >= m.n)
            abort();
        if (refs[pass] && strcmp(m.name[m.ref], refs[pass]) != 0)
            abort();
        for (size_t i = 0; i < m.n; i++) {
            if (!m.name[i] || route_models_find(&m, m.name[i]) != (long)i)
                abort(); /* names are distinct and found */
            if (!isfinite(m.in_price[i]) || m.in_price[i] < 0 || !isfinite(m.out_price[i]) ||
                m.out_price[i] < 0 || m.avg_out[i] < 0)
                abort();
        }
        size_t ns = route_models_n_small(&m);
        if (ns != m.n - 1)
            abort();
        for (size_t s = 0; s < ns; s++)
            if (route_models_small(&m, s) == m.ref || route_models_small(&m, s) >= m.n)
                abort();
        route_models_free(&m);
    }
    return 0;
}

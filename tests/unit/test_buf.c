/* test_buf.c - shortest round-trip numbers and JSON string escaping. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/rng.h"
#include "tap.h"

static const char *fmt(double v)
{
    static char t[40];
    lm_fmt_double(t, v);
    return t;
}

int main(void)
{
    is_str(fmt(0.1), "0.1", "0.1");
    is_str(fmt(1.0), "1", "1");
    is_str(fmt(-2.5), "-2.5", "-2.5");
    is_str(fmt(1e-5), "1e-5", "1e-5 without exponent padding");
    is_str(fmt(1e300), "1e300", "1e300");
    is_str(fmt(123456789012345680.0), "123456789012345680", "large integral value written out");
    is_str(fmt(120), "120", "120, not 1.2e2");
    is_str(fmt(300), "300", "300, not 3e2");
    is_str(fmt(1e5), "1e5", "1e5 is shorter than 100000");
    is_str(fmt(1500000), "1.5e6", "1.5e6 is shorter than 1500000");
    is_str(fmt(100), "100", "a tie between 100 and 1e2 goes to the plain form");
    is_str(fmt(1e21), "1e21", "1e21");
    is_str(fmt(-4200), "-4200", "-4200");
    is_str(fmt(DBL_MIN), "2.2250738585072014e-308", "DBL_MIN");
    is_str(fmt(5e-324), "5e-324", "smallest subnormal");
    is_str(fmt(0.30000000000000004), "0.30000000000000004", "0.1+0.2");
    is_str(fmt(INFINITY), "null", "non-finite writes null");
    lm_rng r;
    lm_rng_init(&r, 1, 2);
    int bad = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = lm_rng_u64(&r);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        char t[40];
        lm_fmt_double(t, v);
        if (strtod(t, NULL) != v)
            bad++;
    }
    is_int(bad, 0, "100000 random doubles round-trip");
    lm_buf b = {0};
    lm_buf_add_jstr(&b, "a\"\\\n\x01\x7f\xff\xc3\xa9", 9);
    is_str(b.p, "\"a\\\"\\\\\\n\\u0001\\u007f\xef\xbf\xbd\xc3\xa9\"", "escaping, invalid byte as U+FFFD");
    lm_buf_free(&b);
    return tap_done();
}

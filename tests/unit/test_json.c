/* test_json.c - the strict JSON scanner, number and string accessors. */
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "core/json.h"
#include "tap.h"

static int writes(void (*fn)(lm_buf *, double), double v, const char *want)
{
    lm_buf b = {0};
    fn(&b, v);
    int eq = b.n == strlen(want) && memcmp(b.p, want, b.n) == 0;
    ok(eq, "number %.17g written as %s (got %.*s)", v, want, (int)b.n, b.p ? b.p : "");
    lm_buf_free(&b);
    return eq;
}

/* Numbers and jansson values written as JSON text. */
static void test_writing(void)
{
    writes(lm_buf_add_jnum, 120, "120");
    writes(lm_buf_add_jnum, -0.0, "0");
    writes(lm_buf_add_jnum, 0.1, "0.1");
    writes(lm_buf_add_jnum, 1e-5, "1e-5");
    writes(lm_buf_add_jnum, 123456789012345.0, "123456789012345");
    writes(lm_buf_add_jnum, 1e15, "1e15");
    writes(lm_buf_add_jnum, -7, "-7");
    writes(lm_buf_add_jnum_or_null, NAN, "null");
    writes(lm_buf_add_jnum_or_null, INFINITY, "null");
    writes(lm_buf_add_jnum_or_null, 2.5, "2.5");
    json_t *v = json_loads("{\"b\":[1,2.0,0.1,true,false,null],\"a\":\"x\\u00e9\\n\",\"c\":{}}", 0, NULL);
    lm_buf b = {0};
    lm_buf_add_jansson(&b, v);
    const char *want = "{\"b\":[1,2,0.1,true,false,null],\"a\":\"x\xc3\xa9\\n\",\"c\":{}}";
    ok(v && b.n == strlen(want) && memcmp(b.p, want, b.n) == 0, "jansson value keeps key order: %.*s",
       (int)b.n, b.p ? b.p : "");
    json_decref(v);
    lm_buf_free(&b);
}

static int scan(const char *s, lm_jscan *js, lm_jerr *e)
{
    return lm_json_scan_object(js, s, strlen(s), e);
}

static void rejects(const char *s, size_t want_pos, const char *want_msg)
{
    lm_jscan js = {0};
    lm_jerr e;
    int rc = scan(s, &js, &e);
    ok(rc < 0, "rejects %s", s);
    if (rc < 0) {
        is_int(e.pos, want_pos, "  error position for %s", s);
        ok(strstr(e.msg, want_msg) != NULL, "  message '%s' mentions '%s'", e.msg, want_msg);
    }
    lm_jscan_free(&js);
}

/* The same for text with NUL bytes. */
static void rejects_n(const char *s, size_t len, size_t want_pos, const char *want_msg, const char *what)
{
    lm_jscan js = {0};
    lm_jerr e;
    int rc = lm_json_scan_object(&js, s, len, &e);
    ok(rc < 0, "rejects %s", what);
    if (rc < 0) {
        is_int(e.pos, want_pos, "  error position for %s", what);
        ok(strstr(e.msg, want_msg) != NULL, "  message '%s' mentions '%s'", e.msg, want_msg);
    }
    lm_jscan_free(&js);
}

int main(void)
{
    test_writing();
    lm_jscan js = {0};
    lm_jerr e;
    const char *line = "{\"x\":0.1,\"id\":18446744073709551615,\"big\":1e400,\"s\":\"\\u00e9\"}";
    ok(scan(line, &js, &e) == 0, "scans the passthrough example");
    is_int(js.n, 4, "four members");
    is_str(js.m[1].key, "id", "second key");
    is_int(js.m[1].vlen, 20, "raw span of the big integer");
    is_int(js.m[2].type, LM_J_NUMBER, "1e400 is a number");
    double d;
    ok(lm_jnum(line + js.m[2].vpos, js.m[2].vlen, &d) < 0 && isinf(d), "1e400 overflows to inf, flagged");
    int64_t i;
    ok(lm_jint(line + js.m[1].vpos, js.m[1].vlen, &i) < 0, "2^64-1 does not fit int64");
    lm_buf b = {0};
    lm_jstr_decode(&b, line + js.m[3].vpos, js.m[3].vlen);
    is_str(b.p, "\xc3\xa9", "\\u00e9 decodes to UTF-8");
    ok(lm_jstr_eq(line + js.m[3].vpos, js.m[3].vlen, "\xc3\xa9"), "jstr_eq with escapes");
    is_int(js.close, strlen(line) - 1, "closing brace position");

    ok(scan("  {\"a\" : [1, {\"b\": {}}], \"c\": \"\\ud83d\\ude00\"} \r", &js, &e) == 0,
       "white space, nesting and a surrogate pair");
    ok(scan("{}", &js, &e) == 0 && js.n == 0, "empty object");
    ok(lm_jint("76", 2, &i) == 0 && i == 76, "jint 76");
    ok(lm_jint("76.0", 4, &i) == 0 && i == 76, "jint 76.0");
    ok(lm_jint("7.6e1", 5, &i) == 0 && i == 76, "jint 7.6e1");
    ok(lm_jint("7.5", 3, &i) < 0, "jint rejects 7.5");
    ok(lm_jint("-9223372036854775808", 20, &i) == 0 && i == INT64_MIN, "jint INT64_MIN");

    rejects("{\"a\":1,\"a\":2}", 7, "duplicate key");
    rejects("{\"a\":{\"k\":1,\"\\u006b\":2}}", 12, "duplicate key");
    rejects("{\"s\":\"\xff\"}", 6, "invalid UTF-8");
    rejects("{\"s\":\"\xed\xa0\x80\"}", 6, "invalid UTF-8"); /* encoded surrogate */
    rejects("{\"s\":\"\xc0\xaf\"}", 6, "invalid UTF-8");     /* overlong */
    rejects("{\"s\":\"\\ud800\"}", 6, "surrogate");
    rejects("{\"n\":01}", 5, "leading zero");
    rejects("{\"n\":1.}", 5, "digit must follow");
    rejects("{\"a\":1} {\"b\":2}", 8, "one JSON value per line");
    rejects("[1,2]", 0, "expected a JSON object");
    rejects("{\"a\":1", 6, "end of line");
    rejects("{\"c\":\"a\tb\"}", 7, "control character");
    rejects("{\"a\":tru}", 5, "expected a JSON value");
    rejects("{\"a\" 1}", 5, "':'");
    /* NUL and control bytes are named, at their own position */
    rejects_n("\0{\"a\":1}", 8, 0, "NUL byte in the line, expected a JSON object", "a NUL before the object");
    rejects_n("  \0", 3, 2, "NUL byte in the line", "a NUL after white space");
    rejects_n("{\"a\":\0}", 7, 5, "NUL byte in the line, expected a JSON value", "a NUL as a value");
    rejects_n("{\"a\":1}\0", 8, 7, "NUL byte in the line, expected end of line", "a NUL after the object");
    rejects_n("{\"a\":\"x\0y\"}", 11, 7, "NUL byte in a string: escape it as \\u0000", "a NUL in a string");
    rejects_n("{\"\0\":1}", 7, 2, "NUL byte in a string", "a NUL in a key");
    rejects("\x01{}", 0, "unexpected control character 0x01, expected a JSON object");
    rejects("{\"a\":\"x\x1fy\"}", 7, "control character 0x1f in string");
    {
        char deep[2000];
        size_t n = 0;
        n += (size_t)sprintf(deep, "{\"d\":");
        for (int k = 0; k < 600; k++)
            deep[n++] = '[';
        for (int k = 0; k < 600; k++)
            deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = 0;
        ok(scan(deep, &js, &e) < 0 && strstr(e.msg, "nesting"), "nesting limit");
    }
    ok(lm_json_validate("[1, \"x\", null]", 14, &e) == 0, "validate accepts an array");
    ok(lm_json_validate("[1, {\"a\":1,\"a\":1}]", 18, &e) < 0 && e.dup, "validate finds nested duplicates");
    ok(lm_json_validate("[1, {\"a\":1,}]", 13, &e) < 0 && !e.dup, "other errors are not duplicates");
    lm_buf_free(&b);
    lm_jscan_free(&js);
    return tap_done();
}

/* test_jsonl.c - splicing fields into records, byte-for-byte passthrough. */
#include <string.h>

#include "core/jsonl.h"
#include "tap.h"

static char *render(const char *line, void (*fill)(lm_out *))
{
    static lm_buf out;
    lm_record r = {.file = "t", .lineno = 1, .text = line, .len = strlen(line)};
    lm_jerr e;
    if (lm_json_scan_object(&r.scan, line, r.len, &e) < 0)
        return NULL;
    lm_out o = {0};
    lm_out_reset(&o);
    fill(&o);
    lm_buf_reset(&out);
    lm_out_render(&o, &r, &out);
    lm_out_free(&o);
    lm_jscan_free(&r.scan);
    return out.p;
}

static void add_eps(lm_out *o)
{
    lm_out_num(o, "eps", 0.1);
    lm_out_bool(o, "ok", 1);
}
static void replace_a(lm_out *o)
{
    lm_out_int(o, "a", 7);
}
static void nested(lm_out *o)
{
    lm_buf *b = lm_out_begin(o, "route");
    lm_buf_adds(b, "{\"model\":");
    lm_buf_add_jstr(b, "m\"1", 3);
    lm_buf_adds(b, "}");
    lm_out_end(o);
    lm_out_str(o, "k\xc3\xa9y", "tab\there");
}

int main(void)
{
    is_str(render("{\"x\":0.1,\"id\":18446744073709551615,\"big\":1e400,\"s\":\"\\u00e9\"}", add_eps),
           "{\"x\":0.1,\"id\":18446744073709551615,\"big\":1e400,\"s\":\"\\u00e9\",\"eps\":0.1,\"ok\":true}\n",
           "odd numbers and escapes pass through, fields appended");
    is_str(render("{}", add_eps), "{\"eps\":0.1,\"ok\":true}\n", "empty object");
    is_str(render(" { \"b\" : 1 , \"a\" : [1, 2] } ", replace_a),
           " { \"b\" : 1 , \"a\" : 7 } \n", "replace in place keeps spacing and order");
    is_str(render("{\"z\":null}", nested),
           "{\"z\":null,\"route\":{\"model\":\"m\\\"1\"},\"k\xc3\xa9y\":\"tab\\there\"}\n",
           "nested value and escaped string");
    lm_out o = {0};
    lm_out_reset(&o);
    lm_out_num(&o, "a", 1e-5);
    lm_out_num(&o, "b", 1e21);
    lm_out_num(&o, "c", 2.0 / 3.0);
    lm_out_num(&o, "d", -0.0);
    lm_out_num(&o, "a", 3); /* set twice: last wins, position kept */
    lm_buf b = {0};
    lm_out_render(&o, NULL, &b);
    is_str(b.p, "{\"a\":3,\"b\":1e21,\"c\":0.6666666666666666,\"d\":-0}\n", "standalone record, shortest numbers");
    lm_buf_free(&b);
    lm_out_free(&o);
    return tap_done();
}

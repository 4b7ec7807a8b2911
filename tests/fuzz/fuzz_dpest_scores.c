/* fuzz_dpest_scores.c - fuzz target for the trial ("score") records of
 * dp-estimate (on_record in cmd/dp-estimate.c with --input scores, included;
 * see cmd_harness.h; the reading is lm_dp_trials_gather in lib/privacy/audit.c).
 *
 * Input: one byte choosing the settings (a --threshold or not, a --group-by
 * field or not), then bytes split into lines; every line the JSON Lines
 * scanner accepts is read as a trial record.  The reader must either reject
 * it with a message (at a position inside the line, or none), or keep one
 * trial whose membership is 0 or 1, whose score is finite (0 or 1 for a
 * guess), and whose group is known; rejected lines keep nothing.  Any
 * violation aborts.
 */
#include "cmd_harness.h"
#include "../../cmd/dp-estimate.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    ctx_t c;
    memset(&c, 0, sizeof c);
    lm_dp_opts_default(&c.o);
    c.input = (data[0] & 4) ? IN_AUTO : IN_SCORES;
    c.have_threshold = data[0] & 1;
    c.group_by = (data[0] & 2) ? "g" : NULL;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    uint64_t index = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lm_record r = {.file = "fuzz", .lineno = index + 1, .index = index, .text = p, .len = n};
        lm_jerr je;
        if (lm_json_scan_object(&r.scan, p, n, &je) == 0 &&
            (c.input == IN_SCORES || !(get_either(&r, "tp", "TP") || get_either(&r, "fn", "FN")))) {
            lm_out o = {0};
            lm_out_reset(&o);
            lm_rerr e = {.pos = LM_NOPOS};
            size_t before = c.trials.n;
            int rc = on_record(&c, &r, &o, &e);
            if (rc == LM_REC_OK) {
                const lm_dp_trial *t = &c.trials.t[c.trials.n - 1];
                if (c.trials.n != before + 1 || !o.suppress || (t->member != 0 && t->member != 1) ||
                    !isfinite(t->score) || (t->guess && t->score != 0 && t->score != 1) ||
                    t->group >= c.trials.groups.n || t->index != index)
                    abort();
            } else if (rc != LM_REC_BAD || c.trials.n != before || e.msg.n == 0 ||
                       (e.pos != LM_NOPOS && e.pos >= n)) {
                abort();
            }
            lm_rerr_free(&e);
            lm_out_free(&o);
        }
        lm_jscan_free(&r.scan);
        index++;
        if (!nl)
            break;
        p = nl + 1;
    }
    lm_dp_trials_free(&c.trials);
    return 0;
}

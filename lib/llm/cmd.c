/* cmd.c - the co-process backend of client.h (the --llm-cmd protocol): one
 * child, /bin/sh -c CMD, JSON Lines both ways, answers matched by id, both
 * pipes non-blocking and driven by poll(). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/diag.h"

int llm_cmd_open(lm_llm *c, char *err, size_t errlen)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC)) {
        lm_seterr(err, errlen, "cannot create a pipe for the LLM command: %s", strerror(errno));
        return -1;
    }
    if (pipe2(out, O_CLOEXEC)) {
        lm_seterr(err, errlen, "cannot create a pipe for the LLM command: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        lm_seterr(err, errlen, "cannot start the LLM command: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return -1;
    }
    if (pid == 0) {
        /* the child: stdin from in, stdout to out (dup2 clears close-on-exec),
         * stderr shared, SIGPIPE as the shell expects it */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", c->cfg.cmd, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->pid = pid;
    c->to_fd = in[1];
    c->from_fd = out[0];
    fcntl(c->to_fd, F_SETFL, fcntl(c->to_fd, F_GETFL) | O_NONBLOCK);
    fcntl(c->from_fd, F_SETFL, fcntl(c->from_fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* Waits up to `secs` for the child; 1 with *status when it has exited. */
static int reap(lm_llm *c, double secs, int *status)
{
    double until = lm_clock() + secs;
    for (;;) {
        pid_t r = waitpid(c->pid, status, WNOHANG);
        if (r == c->pid || (r < 0 && errno == ECHILD)) {
            if (r < 0)
                *status = -1;
            c->pid = -1;
            return 1;
        }
        if (lm_clock() >= until)
            return 0;
        poll(NULL, 0, 10);
    }
}

static void describe_exit(lm_buf *b, int status)
{
    if (status == -1)
        lm_buf_adds(b, "ended (its status is unknown)");
    else if (WIFEXITED(status))
        lm_buf_printf(b, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        lm_buf_printf(b, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        lm_buf_printf(b, "stopped (status 0x%x)", (unsigned)status);
}

void llm_cmd_close(lm_llm *c)
{
    if (c->to_fd >= 0)
        close(c->to_fd);
    if (c->from_fd >= 0)
        close(c->from_fd);
    c->to_fd = c->from_fd = -1;
    int st;
    if (c->pid > 0 && !reap(c, 2, &st)) {
        kill(c->pid, SIGTERM);
        if (!reap(c, 1, &st)) {
            kill(c->pid, SIGKILL);
            reap(c, 5, &st);
        }
    }
    lm_buf_free(&c->in);
    free(c->gone);
    c->gone = NULL;
}

typedef struct {
    uint64_t id;
    size_t j;
    double deadline;
} slot;

/* Makes the client dead with a message (the batch then fails). */
static int fatal(lm_llm *c, lm_buf *msg, char *err, size_t errlen)
{
    lm_seterr(err, errlen, "%s", msg->p);
    c->dead = lm_xstrdup(msg->p);
    lm_buf_free(msg);
    return -1;
}

/* One answer line.  0, or -1 with the protocol error in msg. */
static int answer(lm_llm *c, const char *p, size_t n, slot *fl, size_t *nfl, lm_buf *msg)
{
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    json_t *id = json_object_get(v, "id"), *o = json_object_get(v, "output"),
           *e = json_object_get(v, "error");
    int rc = -1;
    char *end;
    const char *ids = json_string_value(id);
    uint64_t num = ids && *ids ? strtoull(ids, &end, 10) : 0;
    if (!v)
        lm_buf_printf(msg, "is not JSON (%s at byte %d)", je.text, je.position);
    else if (!json_is_object(v) || !json_is_string(id))
        lm_buf_adds(msg, "is not an object with a string \"id\"");
    else if (!(json_is_string(o) ^ json_is_string(e)))
        lm_buf_adds(msg, "has neither a string \"output\" nor a string \"error\" (exactly one is needed)");
    else if (json_is_string(o) && strlen(json_string_value(o)) != json_string_length(o))
        lm_buf_adds(msg, "has an \"output\" holding a NUL character");
    else {
        size_t k = 0;
        while (k < *nfl && !(num && *end == '\0' && fl[k].id == num))
            k++;
        if (k < *nfl) {
            char *text = json_is_string(o) ? lm_xstrdup(json_string_value(o)) : NULL;
            lm_buf eb = {0};
            if (!text)
                lm_buf_printf(&eb, "the LLM command answered with an error: %s", json_string_value(e));
            llm_finish(c, fl[k].j, text, eb.p, 1);
            fl[k] = fl[--*nfl];
            rc = 0;
        } else {
            size_t g = 0;
            while (g < c->ngone && !(num && *end == '\0' && c->gone[g] == num))
                g++;
            if (g < c->ngone) {
                c->gone[g] = c->gone[--c->ngone]; /* a late answer to a timed-out request */
                rc = 0;
            } else {
                lm_buf_adds(msg, "names the id ");
                lm_buf_add_jstr(msg, ids, strlen(ids));
                lm_buf_adds(msg, ", which is not a request in flight");
            }
        }
    }
    json_decref(v);
    return rc;
}

int llm_cmd_batch(lm_llm *c, const size_t *todo, size_t n, char *err, size_t errlen)
{
    size_t cap = (size_t)c->cfg.parallel, nfl = 0, next = 0;
    slot *fl = lm_xcalloc(cap, sizeof *fl);
    lm_buf out = {0}, msg = {0};
    size_t outpos = 0;
    int rc = 0;
    while (rc == 0 && (next < n || nfl > 0)) {
        /* hand out requests while there is room */
        while (next < n && nfl < cap) {
            char id[24];
            snprintf(id, sizeof id, "%" PRIu64, ++c->next_id);
            fl[nfl].id = c->next_id;
            fl[nfl].j = todo[next];
            fl[nfl].deadline = lm_clock() + c->cfg.timeout;
            nfl++;
            next++;
            lm_llm_cmd_line(&out, id, &c->reqs[todo[next - 1]]);
            lm_buf_addc(&out, '\n');
        }
        double now = lm_clock(), first = INFINITY;
        for (size_t k = 0; k < nfl;) {
            if (fl[k].deadline <= now) {
                lm_buf e = {0};
                lm_buf_printf(&e, "the LLM command gave no answer within %g s", c->cfg.timeout);
                llm_finish(c, fl[k].j, NULL, e.p, 1);
                lm_grow(c->gone, c->capgone, c->ngone + 1);
                c->gone[c->ngone++] = fl[k].id;
                fl[k] = fl[--nfl];
                continue;
            }
            if (fl[k].deadline < first)
                first = fl[k].deadline;
            k++;
        }
        if (nfl == 0)
            continue;
        struct pollfd pf[2] = {{c->from_fd, POLLIN, 0}, {c->to_fd, POLLOUT, 0}};
        int npf = outpos < out.n && c->to_fd >= 0 ? 2 : 1;
        double d = (first - now) * 1000;
        int ms = d > 60000 ? 60000 : (int)ceil(d);
        int r = poll(pf, (nfds_t)npf, ms);
        if (r < 0 && errno != EINTR) {
            lm_buf_printf(&msg, "waiting for the LLM command: %s", strerror(errno));
            rc = fatal(c, &msg, err, errlen);
            break;
        }
        if (r <= 0)
            continue;
        if (npf == 2 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(c->to_fd, out.p + outpos, out.n - outpos);
            if (w > 0)
                outpos += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                /* the child no longer reads (EPIPE): what it says, and its
                 * end of file, come on its stdout */
                close(c->to_fd);
                c->to_fd = -1;
            }
            if (outpos == out.n) {
                lm_buf_reset(&out);
                outpos = 0;
            }
        }
        if (pf[0].revents & (POLLIN | POLLERR | POLLHUP)) {
            char chunk[65536];
            ssize_t got;
            while ((got = read(c->from_fd, chunk, sizeof chunk)) > 0)
                lm_buf_add(&c->in, chunk, (size_t)got);
            /* every complete line */
            size_t pos = 0;
            char *nl;
            while (rc == 0 && pos < c->in.n && (nl = memchr(c->in.p + pos, '\n', c->in.n - pos))) {
                size_t len = (size_t)(nl - (c->in.p + pos));
                c->lines++;
                if (len && c->in.p[pos + len - 1] == '\r')
                    len--;
                if (len && answer(c, c->in.p + pos, len, fl, &nfl, &msg)) {
                    lm_buf e = {0};
                    lm_buf_printf(&e, "the LLM command's answer line %" PRIu64 " %s", c->lines, msg.p);
                    lm_buf_free(&msg);
                    rc = fatal(c, &e, err, errlen);
                }
                pos = (size_t)(nl - c->in.p) + 1;
            }
            if (pos) {
                memmove(c->in.p, c->in.p + pos, c->in.n - pos);
                c->in.n -= pos;
                c->in.p[c->in.n] = '\0';
            }
            if (rc == 0 && got == 0) {
                /* end of file: the child is gone (or closed its stdout) */
                int st;
                if (!reap(c, 2, &st)) {
                    kill(c->pid, SIGKILL);
                    reap(c, 5, &st);
                }
                lm_buf_printf(&msg, "the LLM command '%s' ", c->cfg.cmd);
                describe_exit(&msg, st);
                lm_buf_printf(&msg, " with %zu request%s unanswered", nfl + (n - next),
                              nfl + (n - next) == 1 ? "" : "s");
                rc = fatal(c, &msg, err, errlen);
            } else if (rc == 0 && got < 0 && errno != EAGAIN && errno != EINTR) {
                lm_buf_printf(&msg, "reading from the LLM command: %s", strerror(errno));
                rc = fatal(c, &msg, err, errlen);
            }
        }
    }
    /* a fatal error: everything not answered fails with its message */
    for (size_t k = 0; k < nfl; k++)
        llm_finish(c, fl[k].j, NULL, lm_xstrdup(c->dead ? c->dead : "no answer"), 1);
    for (; next < n; next++)
        llm_finish(c, todo[next], NULL, lm_xstrdup(c->dead ? c->dead : "not sent"), 0);
    free(fl);
    lm_buf_free(&out);
    lm_buf_free(&msg);
    return rc;
}

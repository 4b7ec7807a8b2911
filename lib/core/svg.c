/* svg.c - SVG line plots (see svg.h). */
#include "svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

#define PW 720.0 /* panel width */
#define PH 400.0 /* panel height */
#define ML 78.0  /* margins: left, right, top, bottom */
#define MR 24.0
#define MT 58.0
#define MB 56.0

typedef struct {
    char *name;
    double *x, *y;
    size_t n;
    int markers;
} series;

typedef struct {
    double x;
    char *label;
} vline;

struct lm_plot {
    char *title, *xlabel, *ylabel, *note;
    int logx;
    int yfixed;
    double ylo, yhi;
    series *s;
    size_t ns;
    int shade_s;
    double shade_x0, shade_x1;
    char *shade_label;
    vline *v;
    size_t nv;
};

static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

lm_plot *lm_plot_new(const char *title, const char *xlabel, const char *ylabel)
{
    lm_plot *p = lm_xcalloc(1, sizeof *p);
    p->title = lm_xstrdup(title ? title : "");
    p->xlabel = lm_xstrdup(xlabel ? xlabel : "");
    p->ylabel = lm_xstrdup(ylabel ? ylabel : "");
    p->shade_s = -1;
    return p;
}

void lm_plot_free(lm_plot *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ns; i++) {
        free(p->s[i].name);
        free(p->s[i].x);
        free(p->s[i].y);
    }
    for (size_t i = 0; i < p->nv; i++)
        free(p->v[i].label);
    free(p->s);
    free(p->v);
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    free(p->note);
    free(p->shade_label);
    free(p);
}

void lm_plot_logx(lm_plot *p, int base)
{
    p->logx = base;
}

void lm_plot_yrange(lm_plot *p, double lo, double hi)
{
    p->yfixed = 1;
    p->ylo = lo;
    p->yhi = hi;
}

int lm_plot_series(lm_plot *p, const char *name, const double *x, const double *y, size_t n, int markers)
{
    p->s = lm_xrealloc(p->s, (p->ns + 1) * sizeof *p->s);
    series *s = &p->s[p->ns];
    s->name = lm_xstrdup(name ? name : "");
    s->x = lm_xmalloc(lm_xmul(n ? n : 1, sizeof *s->x));
    s->y = lm_xmalloc(lm_xmul(n ? n : 1, sizeof *s->y));
    if (n) {
        memcpy(s->x, x, n * sizeof *x);
        memcpy(s->y, y, n * sizeof *y);
    }
    s->n = n;
    s->markers = markers;
    return (int)p->ns++;
}

void lm_plot_shade(lm_plot *p, int s, double x0, double x1, const char *label)
{
    p->shade_s = s;
    p->shade_x0 = x0;
    p->shade_x1 = x1;
    free(p->shade_label);
    p->shade_label = lm_xstrdup(label ? label : "");
}

void lm_plot_vline(lm_plot *p, double x, const char *label)
{
    p->v = lm_xrealloc(p->v, (p->nv + 1) * sizeof *p->v);
    p->v[p->nv].x = x;
    p->v[p->nv].label = lm_xstrdup(label ? label : "");
    p->nv++;
}

void lm_plot_note(lm_plot *p, const char *note)
{
    free(p->note);
    p->note = lm_xstrdup(note);
}

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

static double nice_step(double range, int target)
{
    if (!(range > 0))
        return 1;
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nf * mag;
}

static double tx(const lm_plot *p, double x)
{
    return p->logx ? log(x) / log(p->logx) : x;
}

static void fmt_tick(char *buf, size_t n, double v)
{
    if (fabs(v) < 1e-12)
        v = 0;
    if (fabs(v) >= 1e5 || (fabs(v) < 1e-3 && v != 0))
        snprintf(buf, n, "%.3g", v);
    else
        snprintf(buf, n, "%.6g", v);
}

static void fmt_pow(char *buf, size_t n, int base, double e)
{
    double v = pow(base, e);
    if (base == 2 && v >= 1024 && fmod(v, 1024) == 0) {
        if (v >= 1048576 && fmod(v, 1048576) == 0)
            snprintf(buf, n, "%gM", v / 1048576);
        else
            snprintf(buf, n, "%gk", v / 1024);
    } else {
        fmt_tick(buf, n, v);
    }
}

/* A panel's data ranges and its place on the page. */
typedef struct {
    double x0, x1, y0, y1; /* data ranges (x after tx) */
    double W, H, oy;       /* plot area size, the panel's top */
} frame;

static double SX(const frame *fr, double v)
{
    return ML + (v - fr->x0) / (fr->x1 - fr->x0) * fr->W;
}

static double SY(const frame *fr, double v)
{
    return fr->oy + MT + fr->H - (v - fr->y0) / (fr->y1 - fr->y0) * fr->H;
}

/* The ranges: every finite point and marker line, y from 0 (or the fixed
 * range) with 5% headroom; an empty or flat range becomes one unit. */
static frame panel_frame(const lm_plot *p, double oy)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < p->ns; i++)
        for (size_t k = 0; k < p->s[i].n; k++) {
            double xv = p->s[i].x[k], yv = p->s[i].y[k];
            if (!isfinite(xv) || !isfinite(yv) || (p->logx && xv <= 0))
                continue;
            xv = tx(p, xv);
            x0 = fmin(x0, xv);
            x1 = fmax(x1, xv);
            y0 = fmin(y0, yv);
            y1 = fmax(y1, yv);
        }
    for (size_t i = 0; i < p->nv; i++)
        if (isfinite(p->v[i].x) && (!p->logx || p->v[i].x > 0)) {
            x0 = fmin(x0, tx(p, p->v[i].x));
            x1 = fmax(x1, tx(p, p->v[i].x));
        }
    if (!isfinite(x0)) {
        x0 = 0;
        x1 = 1;
    }
    if (!isfinite(y0)) {
        y0 = 0;
        y1 = 1;
    }
    if (p->yfixed) {
        y0 = p->ylo;
        y1 = p->yhi;
    } else {
        if (y0 >= 0)
            y0 = 0;
        double pad = (y1 - y0) * 0.05;
        y1 += pad > 0 ? pad : 1;
    }
    if (x1 <= x0)
        x1 = x0 + 1;
    if (y1 <= y0)
        y1 = y0 + 1;
    return (frame){x0, x1, y0, y1, PW - ML - MR, PH - MT - MB, oy};
}

/* Title, note, the frame, grid lines with tick labels, axis labels. */
static void panel_axes(FILE *f, const lm_plot *p, const frame *fr)
{
    double oy = fr->oy, W = fr->W, H = fr->H;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" font-weight=\"bold\" text-anchor=\"middle\">",
            PW / 2, oy + 22);
    esc(f, p->title);
    fprintf(f, "</text>\n");
    if (p->note) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">", PW / 2, oy + 40);
        esc(f, p->note);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
            ML, oy + MT, W, H);
    /* y ticks */
    double st = nice_step(fr->y1 - fr->y0, 6);
    for (double v = ceil(fr->y0 / st) * st; v <= fr->y1 + st * 1e-9; v += st) {
        char t[32];
        fmt_tick(t, sizeof t, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", ML, SY(fr, v),
                ML + W, SY(fr, v));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ML - 6, SY(fr, v) + 4, t);
    }
    /* x ticks */
    if (p->logx) {
        double e0 = ceil(fr->x0 - 1e-9), e1 = floor(fr->x1 + 1e-9);
        double every = fmax(1, ceil((e1 - e0 + 1) / 10));
        for (double e = e0; e <= e1; e += every) {
            char t[32];
            fmt_pow(t, sizeof t, p->logx, e);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", SX(fr, e),
                    oy + MT, SX(fr, e), oy + MT + H);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", SX(fr, e),
                    oy + MT + H + 16, t);
        }
    } else {
        double sx = nice_step(fr->x1 - fr->x0, 8);
        for (double v = ceil(fr->x0 / sx) * sx; v <= fr->x1 + sx * 1e-9; v += sx) {
            char t[32];
            fmt_tick(t, sizeof t, v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", SX(fr, v),
                    oy + MT, SX(fr, v), oy + MT + H);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", SX(fr, v),
                    oy + MT + H + 16, t);
        }
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ML + W / 2, oy + PH - 14);
    esc(f, p->xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">",
            oy + MT + H / 2);
    esc(f, p->ylabel);
    fprintf(f, "</text>\n");
}

/* Inside the clip: the shaded area under one series, the series (lines and
 * markers) and the labelled vertical marker lines. */
static void panel_data(FILE *f, const lm_plot *p, const frame *fr)
{
    double oy = fr->oy, W = fr->W, H = fr->H, y0 = fr->y0;
    fprintf(
        f, "<clipPath id=\"c%.0f\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>\n",
        oy, ML, oy + MT, W, H);
    fprintf(f, "<g clip-path=\"url(#c%.0f)\">\n", oy);
    if (p->shade_s >= 0 && (size_t)p->shade_s < p->ns) {
        const series *s = &p->s[p->shade_s];
        fprintf(f, "<path fill=\"#1f77b4\" fill-opacity=\"0.25\" stroke=\"none\" d=\"");
        int started = 0;
        double lastx = 0;
        for (size_t k = 0; k < s->n; k++) {
            double xv = s->x[k];
            if (!(xv >= p->shade_x0 && xv <= p->shade_x1) || !isfinite(s->y[k]))
                continue;
            double X = SX(fr, tx(p, xv));
            if (!started) {
                fprintf(f, "M%.2f %.2f ", X, SY(fr, y0 > 0 ? y0 : 0));
                started = 1;
            }
            fprintf(f, "L%.2f %.2f ", X, SY(fr, s->y[k]));
            lastx = X;
        }
        if (started)
            fprintf(f, "L%.2f %.2f Z", lastx, SY(fr, y0 > 0 ? y0 : 0));
        fprintf(f, "\"/>\n");
    }
    for (size_t i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        const char *col = colors[i % 10];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (size_t k = 0; k < s->n; k++) {
            if (!isfinite(s->x[k]) || !isfinite(s->y[k]) || (p->logx && s->x[k] <= 0))
                continue;
            fprintf(f, "%.2f,%.2f ", SX(fr, tx(p, s->x[k])), SY(fr, s->y[k]));
        }
        fprintf(f, "\"/>\n");
        if (s->markers)
            for (size_t k = 0; k < s->n; k++)
                if (isfinite(s->x[k]) && isfinite(s->y[k]) && (!p->logx || s->x[k] > 0))
                    fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                            SX(fr, tx(p, s->x[k])), SY(fr, s->y[k]), col);
    }
    for (size_t i = 0; i < p->nv; i++) {
        if (!isfinite(p->v[i].x) || (p->logx && p->v[i].x <= 0))
            continue;
        double X = SX(fr, tx(p, p->v[i].x));
        fprintf(f,
                "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#000\" "
                "stroke-dasharray=\"5,4\"/>\n",
                X, oy + MT, X, oy + MT + H);
        fprintf(f, "<text x=\"%.2f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"start\">", X + 4,
                oy + MT + H - 8 - 14.0 * (double)i);
        esc(f, p->v[i].label);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n");
}

/* The legend: named series, then the shaded area's label. */
static void panel_legend(FILE *f, const lm_plot *p, const frame *fr)
{
    double W = fr->W, ly = fr->oy + MT + 8;
    size_t nleg = 0;
    for (size_t i = 0; i < p->ns; i++)
        if (p->s[i].name[0]) {
            double yy = ly + 16.0 * (double)nleg++;
            fprintf(
                f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n",
                ML + W - 170, yy, ML + W - 150, yy, colors[i % 10]);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", ML + W - 144, yy + 4);
            esc(f, p->s[i].name);
            fprintf(f, "</text>\n");
        }
    if (p->shade_s >= 0 && p->shade_label && p->shade_label[0]) {
        double yy = ly + 16.0 * (double)nleg;
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"20\" height=\"10\" fill=\"#1f77b4\" "
                "fill-opacity=\"0.25\"/>\n",
                ML + W - 170, yy - 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", ML + W - 144, yy + 4);
        esc(f, p->shade_label);
        fprintf(f, "</text>\n");
    }
}

static void panel(FILE *f, const lm_plot *p, double oy)
{
    frame fr = panel_frame(p, oy);
    fprintf(f, "<g font-family=\"sans-serif\" font-size=\"12\">\n");
    panel_axes(f, p, &fr);
    panel_data(f, p, &fr);
    panel_legend(f, p, &fr);
    fprintf(f, "</g>\n");
}

int lm_svg_write(FILE *f, lm_plot *const *plots, size_t n)
{
    double H = PH * (double)(n ? n : 1);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\">\n",
            PW, H, PW, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    for (size_t i = 0; i < n; i++)
        panel(f, plots[i], PH * (double)i);
    fprintf(f, "</svg>\n");
    return ferror(f) ? -1 : 0;
}

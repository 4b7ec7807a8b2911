/* svg.h - small, dependency-free SVG line plots for lmkit's --plot/--svg.
 *
 * One plot is a panel with a title, axis labels, nice ticks (linear, or
 * log2/log10 on x), any number of line series with a legend, optional
 * shading under a series between two x values, and labelled vertical
 * markers.  lm_svg_write() lays panels out in a column and writes one
 * standalone, valid SVG 1.1 document (text is XML-escaped; numbers are
 * written in the C locale).  It draws; it does not compute anything.
 */
#ifndef LMKIT_CORE_SVG_H
#define LMKIT_CORE_SVG_H

#include <stddef.h>
#include <stdio.h>

typedef struct lm_plot lm_plot;

lm_plot *lm_plot_new(const char *title, const char *xlabel, const char *ylabel);
void lm_plot_free(lm_plot *p);
/* x axis on a log scale (base 2 or 10); 0 for linear. */
void lm_plot_logx(lm_plot *p, int base);
/* Fixed y range (otherwise from the data, starting at 0 when all y >= 0). */
void lm_plot_yrange(lm_plot *p, double lo, double hi);
/* Adds a series (copied); returns its index. markers: draw a dot per point. */
int lm_plot_series(lm_plot *p, const char *name, const double *x, const double *y, size_t n, int markers);
/* Shades the area under series s between x0 and x1, with a legend label. */
void lm_plot_shade(lm_plot *p, int s, double x0, double x1, const char *label);
/* A labelled vertical line at x (dashed). */
void lm_plot_vline(lm_plot *p, double x, const char *label);
/* A line of text under the title. */
void lm_plot_note(lm_plot *p, const char *note);

/* Writes the panels as one SVG document.  Returns 0, or -1 on a write error. */
int lm_svg_write(FILE *out, lm_plot *const *plots, size_t n);

#endif

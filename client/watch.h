/*
 * watch.h - what `sluicectl watch` shows of a `stats` reply
 * (docs/protocol.md): a screen that fits the terminal, or one line per
 * interval when there is no terminal.
 */
#ifndef SLUICE_WATCH_H
#define SLUICE_WATCH_H

#include <stdio.h>

#include <jansson.h>

/*
 * Draws the whole screen for a terminal of width x height: cursor home,
 * each line cut to width and cleared to its end, the rest of the screen
 * cleared.  interval_ms is shown in the title.
 */
void watch_draw(FILE *out, const json_t *stats, int width, int height,
    unsigned long interval_ms);
/* One summary line (with a newline) for a pipe or a log. */
void watch_line(FILE *out, const json_t *stats);
/* Seconds until the queue is empty at pages_per_s, or -1 if unknown. */
long watch_eta(const json_t *stats);

#endif

/*
 * view_warm.h - the viewer's model of one trace, built by `hx view` in the same pass over its
 * files that loads the store, so that the service starts with it in its cache instead of reading
 * the trace back from the store (view_warm.c says why it is the very model the store would give).
 *
 * Ownership: hx__view_warm_new's handle is the caller's (hx__view_warm_free); the model
 * hx__view_warm_finish returns is the caller's (hx__view_free, or the service's cache).
 * Thread safety: one thread.
 */
#ifndef HX_CLI_VIEW_WARM_H
#define HX_CLI_VIEW_WARM_H

#include <haruspex.h>
#include <haruspex/reader.h>

#include "server/server.h"
#include "view/view.h"

typedef struct hx__view_warm hx__view_warm;

/* For reader r, read in HX_ORDER_TIME (its processes are looked up until finish), with the clock
 * offsets given to the service (cfg.clock_offsets; kept, not copied). HX_OK or HX_ENOMEM. */
int hx__view_warm_new(hx__view_warm **out, hx_reader *r, const hx__clock_entry *offsets,
                      size_t noffsets);
void hx__view_warm_free(hx__view_warm *w); /* NULL: no-op */

/* A traced event as the reader returned it, of reader process `proc`. The first one chooses the
 * trace; other traces' events are ignored. Never fails: when the model could differ from the
 * store's, or memory runs short, it is given up (its memory freed) and finish returns NULL. */
void hx__view_warm_event(hx__view_warm *w, const hx_event *ev, size_t proc);
/* Give the model up from outside: the store dropped duplicate events, so its copy of the trace
 * may lack events the model has. */
void hx__view_warm_give_up(hx__view_warm *w);
/* The trace being built, or NULL (none yet, or given up). */
const uint8_t *hx__view_warm_trace(const hx__view_warm *w);

/* After the reader's last event: the model, if it is of trace_id and was not given up, with the
 * untraced events among `names` (cfg.entity_events) that name its entities; NULL otherwise. */
hx__view *hx__view_warm_finish(hx__view_warm *w, const uint8_t trace_id[16],
                               const hx_event *names, size_t nnames);

#endif /* HX_CLI_VIEW_WARM_H */

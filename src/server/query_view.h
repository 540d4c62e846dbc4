/*
 * query_view.h - the requests of the viewer's endpoints (docs/http-api.md, "The viewer's
 * endpoints"), parsed and validated: GET /api/traces/{id}/{view,lod,event,find,range,
 * critical-path}. Like query.h, a pure function of the bytes (no libevent, no model), so
 * tests/fuzz/fuzz_view_query.c runs it alone; api_view.c turns a parsed request into a question to
 * the model (src/view/view.h).
 *
 * Each endpoint accepts its own keys (query.h's rules: unknown, repeated or empty keys are errors):
 *   view, critical-path   none
 *   lod                   from, to (required, from < to), px (1..16384, required), lanes,
 *                         min_px (1..64, default 1), max_items (100..200000, default 50000),
 *                         arrows (true, default, or false)
 *   event                 id (ENTITY:SEQ) or e (an index): exactly one
 *   find                  q (text, required, at most 4096 bytes), after (ENTITY:SEQ), dir (next,
 *                         default, or prev)
 *   range                 from, to (required, from < to), lanes
 * Times are those of query.h (ns since the epoch, or RFC 3339). `lanes` is a comma-separated list
 * of lane numbers, each listed once.
 *
 * Ownership: a parsed request owns its lanes and text; free it with hx__view_params_free (also
 * after a failed parse, which leaves nothing to free but may be freed). Thread safety: touches only
 * its arguments.
 */
#ifndef HX_SERVER_QUERY_VIEW_H
#define HX_SERVER_QUERY_VIEW_H

#include <stddef.h>
#include <stdint.h>

typedef enum hx__view_endpoint {
	HX__VIEW_OVERVIEW = 0,   /* .../view */
	HX__VIEW_LOD,
	HX__VIEW_EVENT,
	HX__VIEW_FIND,
	HX__VIEW_RANGE,
	HX__VIEW_CRITPATH
} hx__view_endpoint;

#define HX__VIEW_PX_MAX 16384u
#define HX__VIEW_MIN_PX_MAX 64u
#define HX__VIEW_ITEMS_MIN 100u
#define HX__VIEW_ITEMS_MAX 200000u
#define HX__VIEW_ITEMS_DEFAULT 50000u
#define HX__VIEW_TEXT_MAX 4096u
#define HX__VIEW_NO_EVENT UINT32_MAX
/* "ENTITY:SEQ" with 16 hex digits and up to 20 decimal ones, and the NUL */
#define HX__VIEW_EVENT_ID_MAX 38

typedef struct hx__view_params {
	hx__view_endpoint ep;
	uint8_t trace_id[16];
	uint64_t from_ns, to_ns;       /* lod, range */
	uint32_t px, min_px, max_items; /* lod */
	int arrows;                    /* lod */
	uint32_t *lanes;               /* lod, range: NULL = every lane */
	size_t nlanes;
	char event_id[HX__VIEW_EVENT_ID_MAX]; /* event: id, find: after; lowercase, "" when absent */
	uint32_t e;                    /* event: e, HX__VIEW_NO_EVENT when absent */
	char *text;                    /* find: q (decoded) */
	int dir;                       /* find: 1 next, -1 prev */
} hx__view_params;

/* tail: what follows /api/traces/ in the path ("ID/NAME", as the route hands it over); qs: the
 * query string (len bytes, NULL for none). Returns 0; HX__VIEW_PARSE_NO_ENDPOINT when NAME is not a
 * viewer endpoint (the HTTP layer answers 404); or -1 with a sentence in err (400). */
#define HX__VIEW_PARSE_NO_ENDPOINT (-2)
int hx__view_parse(hx__view_params *p, const char *tail, const char *qs, size_t len, char *err,
                   size_t errlen);
void hx__view_params_free(hx__view_params *p);

/* An event ID "ENTITY:SEQ" (16 hex digits of either case, a colon, a decimal sequence number)
 * written in canonical form (lowercase, no leading zeros) into out. 0, or -1 when s is not one. */
int hx__view_parse_event_id(const char *s, char out[HX__VIEW_EVENT_ID_MAX]);

#endif /* HX_SERVER_QUERY_VIEW_H */

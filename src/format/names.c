/*
 * names.c - the static names of event and interaction kinds: part of the format (the reader's
 * text and JSON output use them, and the fuzz build compiles src/format alone), and public
 * through haruspex.h.
 */
#include <haruspex.h>

const char *hx_event_kind_name(int kind)
{
	switch (kind) {
	case HX_EV_ENTITY_BEGIN: return "entity_begin";
	case HX_EV_ENTITY_END: return "entity_end";
	case HX_EV_TRACE_BEGIN: return "trace_begin";
	case HX_EV_TRACE_JOIN: return "trace_join";
	case HX_EV_TRACE_END: return "trace_end";
	case HX_EV_BLOCK_BEGIN: return "block_begin";
	case HX_EV_BLOCK_END: return "block_end";
	case HX_EV_POINT: return "point";
	case HX_EV_COUNTER: return "counter";
	case HX_EV_ERROR: return "error";
	case HX_EV_STATE: return "state";
	case HX_EV_ANNOTATE: return "annotate";
	case HX_EV_CAUSE: return "cause";
	case HX_EV_EFFECT: return "effect";
	}
	return NULL;
}

const char *hx_interaction_name(int kind)
{
	switch (kind) {
	case HX_IA_MESSAGE: return "message";
	case HX_IA_REQUEST: return "request";
	case HX_IA_REPLY: return "reply";
	case HX_IA_ASYNC: return "async";
	case HX_IA_FORK: return "fork";
	case HX_IA_JOIN: return "join";
	case HX_IA_LOCK: return "lock";
	case HX_IA_PUBLISH: return "publish";
	case HX_IA_CAUSAL: return "causal";
	}
	return NULL;
}

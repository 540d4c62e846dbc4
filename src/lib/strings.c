/*
 * strings.c - the library's static tables of names: versions, error texts, counter names, event
 * and interaction kind names. All generated from the X-macros in haruspex.h, so a new code needs
 * one line there and nothing here.
 */
#include <haruspex.h>
#include <pthread.h>
#include <string.h>

const char *hx_version(void)
{
	return "0.1.0";
}

unsigned hx_version_number(void)
{
	return HX_VERSION_NUMBER;
}

const char *hx_strerror(int err)
{
	switch (err) {
#define HX__ERR_CASE(name, code, text)                                                            \
	case (code):                                                                               \
		return text;
		HX_ERRNO_MAP(HX__ERR_CASE)
#undef HX__ERR_CASE
	}
	return "unknown error";
}

static const char *const counter_names[] = {
#define HX__CTR_NAME(name, text) #name,
	HX_COUNTER_MAP(HX__CTR_NAME)
#undef HX__CTR_NAME
};

static const char *const counter_texts[] = {
#define HX__CTR_TEXT(name, text) text,
	HX_COUNTER_MAP(HX__CTR_TEXT)
#undef HX__CTR_TEXT
};

/* Lower-case copies of the X-macro names, made once: "DROPPED" -> "dropped". */
static char counter_lower[HX_COUNT__MAX][32];
static pthread_once_t lower_once = PTHREAD_ONCE_INIT;

static void make_lower(void)
{
	for (int i = 0; i < HX_COUNT__MAX; i++) {
		size_t j = 0;
		for (; counter_names[i][j] && j < sizeof counter_lower[i] - 1; j++) {
			char c = counter_names[i][j];
			counter_lower[i][j] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		counter_lower[i][j] = 0;
	}
}

const char *hx_counter_name(int id)
{
	if (id < 0 || id >= HX_COUNT__MAX)
		return NULL;
	pthread_once(&lower_once, make_lower);
	return counter_lower[id];
}

const char *hx_counter_text(int id)
{
	if (id < 0 || id >= HX_COUNT__MAX)
		return NULL;
	return counter_texts[id];
}

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

size_t hx__strlen(const char *s)
{
	return s ? strlen(s) : 0;
}

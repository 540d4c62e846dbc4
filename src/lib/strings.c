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

size_t hx__strlen(const char *s)
{
	return s ? strlen(s) : 0;
}

/*
 * diag.c - what the importer says about its input: where (the field path of a JSON value), the
 * document errors, the rejected spans and the repairs, counted by kind with the first place each
 * was seen, and the one-line summary `hx import` prints and the service returns.
 */
#include <stdio.h>
#include <string.h>

#include "import/import_int.h"

static const char *const warn_names[HX__IMPORT_WARN__MAX] = {
#define HX__WARN_NAME(name, lower, text) lower,
	HX__IMPORT_WARN_MAP(HX__WARN_NAME)
#undef HX__WARN_NAME
};

static const char *const warn_texts[HX__IMPORT_WARN__MAX] = {
#define HX__WARN_TEXT(name, lower, text) text,
	HX__IMPORT_WARN_MAP(HX__WARN_TEXT)
#undef HX__WARN_TEXT
};

const char *hx__import_warn_name(int kind)
{
	return kind >= 0 && kind < HX__IMPORT_WARN__MAX ? warn_names[kind] : NULL;
}

const char *hx__import_warn_text(int kind)
{
	return kind >= 0 && kind < HX__IMPORT_WARN__MAX ? warn_texts[kind] : NULL;
}

int hx__jpath_text(hx__buf *b, const hx__jpath *p)
{
	/* the chain runs from the leaf up: collect, then print from the root */
	const hx__jpath *seg[64];
	size_t n = 0, skipped = 0;
	for (; p; p = p->up) {
		if (n < 64)
			seg[n++] = p;
		else
			skipped++;
	}
	int err = 0;
	if (skipped)
		err |= hx__buf_puts(b, "...");
	for (size_t i = n; i-- > 0;) {
		if (seg[i]->key) {
			if (i != n - 1 || skipped)
				err |= hx__buf_putc(b, '.');
			err |= hx__text_plain(b, seg[i]->key, strlen(seg[i]->key));
		} else {
			err |= hx__buf_printf(b, "[%zu]", seg[i]->index);
		}
	}
	return err;
}

/* Append s to dst (cap bytes, NUL-terminated), cutting what does not fit. */
static void append(char *dst, size_t cap, const char *s)
{
	size_t have = strnlen(dst, cap), n = strlen(s);
	if (have + 1 >= cap)
		return;
	if (n > cap - 1 - have)
		n = cap - 1 - have;
	memcpy(dst + have, s, n);
	dst[have + n] = '\0';
}

/* "NAME: " for a named input, "document 2, " in a sequence, then the path */
static void where_text(const hx__import *im, const hx__jpath *p, char *out, size_t cap)
{
	hx__buf b = HX__BUF_INIT;
	const char *name = im->input < im->ninputs ? im->names[im->input] : NULL;
	if (name)
		hx__buf_printf(&b, "%s: ", name);
	if (im->doc > 0)
		hx__buf_printf(&b, "document %u, ", im->doc + 1);
	if (p)
		hx__jpath_text(&b, p);
	else if (b.len >= 2)
		b.p[b.len -= 2] = '\0'; /* no path: drop the ", " */
	out[0] = '\0';
	append(out, cap, b.p ? b.p : "");
	hx__buf_free(&b);
}

static void put_message(char *dst, size_t cap, const char *where, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void put_message(char *dst, size_t cap, const char *where, const char *fmt, va_list ap)
{
	char msg[HX__IMPORT_MSG_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	dst[0] = '\0';
	if (where && *where) {
		append(dst, cap, where);
		append(dst, cap, ": ");
	}
	append(dst, cap, msg);
}

void hx__imp_span_where(const hx__import *im, const hx__imp_span *s, char *out, size_t cap)
{
	hx__buf b = HX__BUF_INIT;
	const char *name = s->input < im->ninputs ? im->names[s->input] : NULL;
	int err = name ? hx__buf_printf(&b, "%s: ", name) : 0;
	if (s->doc)
		err |= hx__buf_printf(&b, "document %u, ", s->doc + 1);
	err |= hx__buf_printf(&b, "span %u (ID %016llx of trace ", s->ordinal, (unsigned long long)s->id);
	for (int k = 0; k < 16; k++)
		err |= hx__buf_printf(&b, "%02x", s->trace[k]);
	err |= hx__buf_putc(&b, ')');
	out[0] = '\0';
	if (!err)
		append(out, cap, b.p);
	hx__buf_free(&b);
}

int hx__imp_doc_error(hx__import *im, const hx__jpath *p, const char *fmt, ...)
{
	if (im->err && im->errlen) {
		char where[HX__IMPORT_MSG_MAX];
		where_text(im, p, where, sizeof(where));
		va_list ap;
		va_start(ap, fmt);
		put_message(im->err, im->errlen, where, fmt, ap);
		va_end(ap);
	}
	return HX_EFORMAT;
}

void hx__imp_rejectv(hx__import *im, const char *where, const char *fmt, va_list ap)
{
	if (im->st.rejected++ == 0)
		put_message(im->st.rejection, sizeof(im->st.rejection), where, fmt, ap);
}

void hx__imp_reject_at(hx__import *im, const char *where, const char *why)
{
	if (im->st.rejected++ == 0) {
		im->st.rejection[0] = '\0';
		if (where && *where) {
			append(im->st.rejection, sizeof(im->st.rejection), where);
			append(im->st.rejection, sizeof(im->st.rejection), ": ");
		}
		append(im->st.rejection, sizeof(im->st.rejection), why);
	}
}

int hx__imp_reject(hx__import *im, const hx__jpath *p, const char *fmt, ...)
{
	char where[HX__IMPORT_MSG_MAX] = "";
	if (im->st.rejected == 0)
		where_text(im, p, where, sizeof(where));
	va_list ap;
	va_start(ap, fmt);
	hx__imp_rejectv(im, where, fmt, ap);
	va_end(ap);
	return -1;
}

void hx__imp_warn_at(hx__import *im, hx__import_warn kind, const char *where)
{
	if (im->st.warn[kind]++ == 0) {
		im->st.warning[kind][0] = '\0';
		append(im->st.warning[kind], sizeof(im->st.warning[kind]), where ? where : "");
	}
}

void hx__imp_warn(hx__import *im, hx__import_warn kind, const hx__jpath *p)
{
	char where[HX__IMPORT_MSG_MAX] = "";
	if (im->st.warn[kind] == 0)
		where_text(im, p, where, sizeof(where));
	hx__imp_warn_at(im, kind, where);
}

int hx__import_summary(const hx__import *im, hx__buf *b)
{
	const hx__import_stats *s = &im->st;
	int err = hx__buf_printf(b, "%llu span%s read, %llu imported", (unsigned long long)s->spans,
	                         s->spans == 1 ? "" : "s", (unsigned long long)(s->spans - s->rejected));
	if (im->finished)
		err |= hx__buf_printf(b, " as %llu events (%llu traces, %llu entities, %llu processes)",
		                      (unsigned long long)s->events, (unsigned long long)s->traces,
		                      (unsigned long long)s->entities, (unsigned long long)s->processes);
	if (s->rejected) {
		err |= hx__buf_printf(b, "; %llu rejected, the first: ", (unsigned long long)s->rejected);
		err |= hx__text_plain(b, s->rejection, strlen(s->rejection));
	}
	int first = 1;
	for (int k = 0; k < HX__IMPORT_WARN__MAX; k++) {
		if (!s->warn[k])
			continue;
		err |= hx__buf_puts(b, first ? "; repaired: " : "; ");
		first = 0;
		err |= hx__buf_printf(b, "%llu x %s (%s", (unsigned long long)s->warn[k],
		                      hx__import_warn_name(k), hx__import_warn_text(k));
		if (s->warning[k][0]) {
			err |= hx__buf_puts(b, "; first at ");
			err |= hx__text_plain(b, s->warning[k], strlen(s->warning[k]));
		}
		err |= hx__buf_putc(b, ')');
	}
	return err ? HX_ENOMEM : HX_OK;
}

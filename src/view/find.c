/*
 * find.c - GET /find: the next or previous event, in time order, whose name or attributes
 * contain a text (ASCII case folded), and how many events match in all.
 *
 * One pass decides every event: names are interned, so each distinct name is tested once and an
 * event's name costs a table lookup; attributes are read from the blob, which is in event order.
 * The same pass counts the matches and keeps the nearest one after (or before) `after` in the
 * order (time, index), so no time-ordered copy of the events is needed. A search is linear in
 * the trace, which is what a text search with an exact total costs without an inverted index
 * the model would have to keep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

static inline char fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does h[0..hn) contain the folded needle n[0..nn)? */
static int icontains(const char *h, size_t hn, const char *n, size_t nn)
{
	if (!nn)
		return 1;
	if (hn < nn)
		return 0;
	for (size_t i = 0; i + nn <= hn; i++) {
		if (fold(h[i]) != n[0])
			continue;
		size_t k = 1;
		while (k < nn && fold(h[i + k]) == n[k])
			k++;
		if (k == nn)
			return 1;
	}
	return 0;
}

static int iequal(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (fold(a[i]) != b[i])
			return 0;
	return 1;
}

typedef struct needle {
	char *all;          /* the whole text, folded */
	size_t len;
	const char *key, *val; /* key=value: the parts (into all), else NULL */
	size_t klen, vlen;
} needle;

/* An attribute's value as text, for matching (bytes are not text: not matched). */
static size_t value_text(const hx__vattr *a, char *tmp, size_t size, const char **out)
{
	switch (a->type) {
	case HX_ATTR_INT: *out = tmp; return (size_t)snprintf(tmp, size, "%lld", (long long)a->i);
	case HX_ATTR_DOUBLE: *out = tmp; return (size_t)snprintf(tmp, size, "%.17g", a->d);
	case HX_ATTR_BOOL: *out = a->i ? "true" : "false"; return strlen(*out);
	case HX_ATTR_STRING: *out = a->s; return a->slen;
	default: *out = ""; return 0;
	}
}

static int attrs_match(const hx__view *v, uint32_t e, const needle *nd)
{
	const uint8_t *p = v->blob + v->attr_off[e], *end = v->blob + v->attr_off[e + 1];
	hx__vattr a;
	while (hx__vattr_next(&p, end, &a)) {
		if (!a.key)
			continue;
		char tmp[64];
		const char *s;
		size_t sn = value_text(&a, tmp, sizeof(tmp), &s);
		if (sn >= sizeof(tmp) && s == tmp)
			sn = sizeof(tmp) - 1;
		if (icontains(a.key, a.klen, nd->all, nd->len) || icontains(s, sn, nd->all, nd->len))
			return 1;
		if (nd->key && iequal(a.key, a.klen, nd->key, nd->klen) && icontains(s, sn, nd->val, nd->vlen))
			return 1;
	}
	return 0;
}

/* Is event x before event y in the order (time, index)? */
static inline int earlier(const hx__dag *d, uint32_t x, uint32_t y)
{
	return d->ev_time[x] < d->ev_time[y] || (d->ev_time[x] == d->ev_time[y] && x < y);
}

int hx__view_find_json(const hx__view *v, const char *text, uint32_t after, int dir,
                       hx__buf *out)
{
	const hx__dag *d = v->d;
	if (!text || !*text || !dir || (after != HX__DAG_NONE && after >= d->n))
		return HX_EINVAL;
	needle nd;
	memset(&nd, 0, sizeof(nd));
	nd.len = strlen(text);
	nd.all = malloc(nd.len + 1);
	uint8_t *name_ok = calloc(d->nstr ? d->nstr : 1, 1);
	int rc = HX_ENOMEM;
	if (!nd.all || !name_ok)
		goto out;
	for (size_t i = 0; i <= nd.len; i++)
		nd.all[i] = fold(text[i]);
	char *eq = strchr(nd.all, '=');
	if (eq && eq > nd.all) {
		nd.key = nd.all;
		nd.klen = (size_t)(eq - nd.all);
		nd.val = eq + 1;
		nd.vlen = nd.len - nd.klen - 1;
	}
	for (size_t s = 0; s < d->nstr; s++) {
		const char *str = hx__dag_str(d, (uint32_t)s);
		name_ok[s] = (uint8_t)icontains(str, strlen(str), nd.all, nd.len);
	}
	uint64_t total = 0;
	uint32_t match = HX__DAG_NONE;
	for (size_t k = 0; k < d->n; k++) {
		uint32_t i = (uint32_t)k;
		if (!name_ok[d->ev_name[i]] &&
		    (v->attr_off[i] == v->attr_off[i + 1] || !attrs_match(v, i, &nd)))
			continue;
		total++;
		if (dir > 0 ? (after == HX__DAG_NONE || earlier(d, after, i)) &&
		                  (match == HX__DAG_NONE || earlier(d, i, match))
		            : (after == HX__DAG_NONE || earlier(d, i, after)) &&
		                  (match == HX__DAG_NONE || earlier(d, match, i)))
			match = i;
	}
	int err = hx__buf_puts(out, "{\"match\":");
	if (match == HX__DAG_NONE) {
		err |= hx__buf_puts(out, "null");
	} else {
		err |= hx__buf_puts(out, "{\"e\":");
		err |= hx__vj_u64(out, match);
		err |= hx__buf_puts(out, ",\"id\":");
		err |= hx__vj_id(out, v, match);
		err |= hx__buf_puts(out, ",\"lane\":");
		err |= hx__vj_u64(out, hx__v_lane(v, match));
		err |= hx__buf_puts(out, ",\"time_ns\":");
		err |= hx__vj_u64(out, hx__v_time(v, match));
		err |= hx__buf_puts(out, ",\"name\":");
		err |= hx__vj_name(out, v, d->ev_name[match]);
		err |= hx__buf_puts(out, ",\"kind\":");
		err |= hx__vj_cstr(out, hx_event_kind_name(d->ev_kind[match]));
		err |= hx__buf_putc(out, '}');
	}
	err |= hx__buf_puts(out, ",\"total\":");
	err |= hx__vj_u64(out, total);
	err |= hx__buf_putc(out, '}');
	rc = err ? HX_ENOMEM : HX_OK;
out:
	free(nd.all);
	free(name_ok);
	return rc;
}

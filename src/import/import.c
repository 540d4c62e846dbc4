/*
 * import.c - the importer's life (import.h): documents in, through jansson and the format's
 * parser (otlp.c, zipkin.c); the build (build.h); the result handed out as hx_events.
 */
#include <string.h>
#include <stdlib.h>
#include <zlib.h>

#include "import/build.h"

void hx__import_limits_default(hx__import_limits *l)
{
	l->max_bytes = HX__IMPORT_MAX_BYTES;
	l->max_spans = HX__IMPORT_MAX_SPANS;
	l->max_depth = HX__IMPORT_MAX_DEPTH;
	l->max_string = HX__IMPORT_MAX_STRING;
	l->max_attrs = HX__IMPORT_MAX_ATTRS;
}

int hx__import_new(hx__import **out, const hx__import_limits *lim)
{
	*out = NULL;
	hx__import *im = calloc(1, sizeof(*im));
	if (!im)
		return HX_ENOMEM;
	if (lim)
		im->lim = *lim;
	else
		hx__import_limits_default(&im->lim);
	/* what the format can hold, whatever was asked */
	if (im->lim.max_string > HX__IMPORT_MAX_STRING)
		im->lim.max_string = HX__IMPORT_MAX_STRING;
	if (im->lim.max_spans > UINT32_MAX / 2)
		im->lim.max_spans = UINT32_MAX / 2;
	if (im->lim.max_depth > UINT32_MAX / 2)
		im->lim.max_depth = UINT32_MAX / 2;
	*out = im;
	return HX_OK;
}

void hx__imp_out_free(hx__imp_out *o)
{
	if (!o)
		return;
	free(o->bs);
	free(o->slots);
	free(o->lanes);
	free(o->kids);
	free(o->causes);
	free(o->effs);
	free(o->leaves);
	free(o->ev);
	free(o->procs);
	free(o);
}

void hx__import_free(hx__import *im)
{
	if (!im)
		return;
	hx__imp_out_free(im->out);
	hx__arena_free(&im->arena);
	free(im->spans);
	free(im->res);
	free(im->res_slots);
	free(im->names);
	free(im);
}

void hx__import_salt(hx__import *im, const void *salt, size_t len)
{
	im->salt = hx__imp_hash(im->salt, salt, len);
}

/* The line and column of byte `off` in data, for messages about a document of a sequence. */
static void position(const char *data, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int one_document(hx__import *im, const char *data, size_t len, size_t *off,
                        hx__import_format fmt, unsigned flags)
{
	json_error_t jerr;
	size_t start = *off;
	size_t jflags = (flags & HX__IMPORT_SEQUENCE) ? JSON_DISABLE_EOF_CHECK : 0;
	json_t *root = json_loadb(data + start, len - start, jflags, &jerr);
	if (!root) {
		int line, col;
		position(data, start, &line, &col);
		/* jansson counts from the document's start: shift to the input's */
		if (jerr.line > 1)
			col = jerr.column;
		else
			col += jerr.column - 1;
		line += jerr.line > 0 ? jerr.line - 1 : 0;
		if (jerr.line < 0)
			return hx__imp_doc_error(im, NULL, "not valid JSON: %s", jerr.text);
		return hx__imp_doc_error(im, NULL, "not valid JSON at line %d, column %d: %s", line, col,
		                         jerr.text);
	}
	*off = start + (jflags ? (size_t)jerr.position : len - start);
	if (fmt == HX__IMPORT_AUTO)
		fmt = json_is_array(root) ? HX__IMPORT_ZIPKIN : HX__IMPORT_OTLP;
	im->doc_spans = 0;
	int rc = fmt == HX__IMPORT_ZIPKIN ? hx__imp_zipkin(im, root) : hx__imp_otlp(im, root);
	json_decref(root);
	im->st.documents++;
	return rc;
}

int hx__import_name(hx__import *im, const char *name)
{
	im->next_name = name ? hx__arena_strdup(&im->arena, name, strlen(name)) : NULL;
	return name && !im->next_name ? HX_ENOMEM : HX_OK;
}

int hx__import_add(hx__import *im, const void *data, size_t len, hx__import_format fmt,
                   unsigned flags, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (im->finished)
		return HX_ESTATE;
	if (hx__grow((void **)&im->names, &im->cap_names, im->ninputs + 1, sizeof(*im->names)))
		return HX_ENOMEM;
	im->input = (uint32_t)im->ninputs;
	im->names[im->ninputs++] = im->next_name;
	im->next_name = NULL;
	im->err = err;
	im->errlen = errlen;
	im->doc = 0;
	if (len > im->lim.max_bytes) {
		hx__imp_doc_error(im, NULL, "%zu bytes, over the limit of %zu", len, im->lim.max_bytes);
		return HX_EINVAL;
	}
	/* a document that fails leaves nothing behind: its spans, counts and messages go */
	size_t nspans = im->nspans;
	hx__import_stats *saved = malloc(sizeof(*saved));
	if (!saved)
		return HX_ENOMEM;
	*saved = im->st;
	const char *p = data;
	size_t off = 0;
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		off = 3; /* a UTF-8 byte order mark */
	int rc = HX_OK, any = 0;
	for (;;) {
		while (off < len && (p[off] == ' ' || p[off] == '\t' || p[off] == '\n' || p[off] == '\r'))
			off++;
		if (off >= len)
			break;
		rc = one_document(im, p, len, &off, fmt, flags);
		any = 1;
		if (rc != HX_OK || !(flags & HX__IMPORT_SEQUENCE))
			break;
		im->doc++;
	}
	if (rc == HX_OK && !any)
		rc = hx__imp_doc_error(im, NULL, "empty: no JSON document");
	if (rc != HX_OK) {
		im->nspans = nspans;
		im->st = *saved;
	}
	free(saved);
	im->err = NULL;
	im->errlen = 0;
	return rc;
}

int hx__import_finish(hx__import *im)
{
	if (im->finished)
		return HX_ESTATE;
	im->finished = 1;
	hx__imp_out *o = calloc(1, sizeof(*o));
	if (!o)
		return HX_ENOMEM;
	im->out = o;
	im->doc = 0;
	int rc = hx__imp_resolve(im, o);
	if (rc == HX_OK)
		rc = hx__imp_lanes(im, o);
	if (rc == HX_OK)
		rc = hx__imp_emit(im, o);
	if (rc != HX_OK) {
		hx__imp_out_free(o);
		im->out = NULL;
		return rc;
	}
	im->st.events = o->nev;
	im->st.traces = o->ntraces;
	im->st.entities = o->nlanes;
	im->st.processes = o->nprocs;
	return HX_OK;
}

const hx__import_stats *hx__import_get_stats(const hx__import *im)
{
	return &im->st;
}

size_t hx__import_nprocs(const hx__import *im)
{
	return im->out ? im->out->nprocs : 0;
}

const hx__import_proc *hx__import_proc_get(const hx__import *im, size_t i)
{
	return im->out && i < im->out->nprocs ? &im->out->procs[i].pub : NULL;
}

int hx__import_events(const hx__import *im, size_t i, int (*fn)(const hx_event *ev, void *user),
                      void *user)
{
	const hx__imp_out *o = im->out;
	if (!o || i >= o->nprocs)
		return HX_OK;
	const hx__bproc *p = &o->procs[i];
	for (size_t k = p->first; k < p->first + p->pub.nevents; k++) {
		const hx__bev *v = &o->ev[k];
		const hx__blane *l = &o->lanes[v->lane];
		hx_event ev;
		hx_context ctx;
		memset(&ev, 0, sizeof(ev));
		ev.kind = (hx_event_kind)v->kind;
		ev.time_ns = ev.time_orig_ns = v->time;
		ev.entity_id = l->entity;
		ev.seq = v->seq;
		memcpy(ev.trace_id, l->trace, 16);
		ev.name = v->name ? v->name : "";
		ev.name_len = v->name ? v->name_len : 0;
		ev.attrs = v->attrs;
		ev.nattrs = v->nattrs;
		ev.unit = "";
		switch (v->kind) {
		case HX_EV_ENTITY_BEGIN:
			ev.entity_kind = (hx_entity_kind)l->ekind;
			ev.tid = l->tid > 0 ? (uint64_t)l->tid : 0;
			break;
		case HX_EV_ANNOTATE:
			ev.target = (hx_annotate_target)v->aux;
			break;
		case HX_EV_CAUSE:
			ev.interaction = (hx_interaction)v->aux;
			break;
		case HX_EV_EFFECT: {
			const hx__beff *f = &o->effs[v->ref];
			memset(&ctx, 0, sizeof(ctx));
			if (f->cause != HX__IMP_NONE) {
				const hx__bcause *c = &o->causes[f->cause];
				memcpy(ctx.trace_id, o->lanes[c->lane].trace, 16);
				ctx.entity_id = o->lanes[c->lane].entity;
				ctx.seq = c->seq;
				ctx.flags = HX_CTX_VALID | HX_CTX_SAMPLED;
			} else {
				memcpy(ctx.trace_id, f->trace, 16);
				ctx.entity_id = f->span;
				ctx.flags = HX_CTX_VALID | HX_CTX_SAMPLED | HX_CTX_FOREIGN;
			}
			ev.interaction = (hx_interaction)v->aux;
			ev.causes = &ctx;
			ev.ncauses = 1;
			break;
		}
		default:
			break;
		}
		int rc = fn(&ev, user);
		if (rc)
			return rc;
	}
	return HX_OK;
}

int hx__import_gunzip(const void *src, size_t len, size_t max, uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) /* 16: gzip framing only */
		return HX_ENOMEM;
	size_t cap = len * 4 < 65536 ? 65536 : len * 4;
	if (cap > max + 1)
		cap = max + 1;
	uint8_t *buf = malloc(cap);
	int rc = buf ? HX_OK : HX_ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)src;
	size_t left = len, used = 0;
	int zr = Z_OK;
	while (rc == HX_OK && zr != Z_STREAM_END) {
		if (used == cap) {
			if (cap > max) {
				rc = HX_EINVAL;
				break;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = HX_ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		uInt in_chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
		uInt out_chunk = cap - used > (1u << 30) ? (1u << 30) : (uInt)(cap - used);
		z.avail_in = in_chunk;
		z.next_out = buf + used;
		z.avail_out = out_chunk;
		zr = inflate(&z, Z_NO_FLUSH);
		left -= in_chunk - z.avail_in;
		used += out_chunk - z.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_MEM_ERROR)
			rc = HX_ENOMEM;
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			rc = HX_EFORMAT;
		else if (zr == Z_BUF_ERROR && left == 0 && z.avail_out)
			rc = HX_EFORMAT; /* the input ended inside the stream */
	}
	if (rc == HX_OK && used > max)
		rc = HX_EINVAL;
	inflateEnd(&z);
	if (rc != HX_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = used;
	return HX_OK;
}

/*
 * build.c - events in, model out. Each event goes to a DAG builder (structure) and, when it has
 * attributes or is a counter, its record goes to a staging blob keyed by its event ID, in arrival
 * order. The DAG sorts events by (entity, seq) and drops duplicates; once it is built, each
 * staged record is found its event by ID (one probe per entity change: an entity's sequence
 * numbers are dense) and the blob is rewritten in the DAG's order, so an event's attributes are
 * blob[attr_off[e] .. attr_off[e + 1]). Then the indices are built, each step linear (or n log n
 * in the rare disordered case), and the staging is freed as soon as it is used.
 */
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

#define MAX_PROC (1u << 24) /* process indices are a reader's: small. Beyond this: refused */

struct hx__view_builder {
	hx__dag_builder *db;
	uint8_t trace[16];
	int filter;
	hx__vdesc *procs;
	size_t nprocs;
	/* entity ID -> the caller's process index of its first event (open addressing) */
	uint64_t *em_id;
	uint32_t *em_proc;           /* HX__VPROC_UNKNOWN: empty slot */
	size_t em_cap, em_n;
	uint64_t last_id;
	int have_last;
	/* records of events with attributes or a counter value, in arrival order */
	uint64_t *r_ent, *r_seq, *r_off; /* r_off: nr + 1 entries once finishing */
	size_t nr, rcap;
	uint8_t *blob;
	size_t blob_len, blob_cap;
	uint64_t attrs_dropped;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static int em_rehash(hx__view_builder *b, size_t cap)
{
	uint64_t *ids = malloc(cap * sizeof(*ids));
	uint32_t *procs = malloc(cap * sizeof(*procs));
	if (!ids || !procs) {
		free(ids);
		free(procs);
		return HX_ENOMEM;
	}
	memset(procs, 0xff, cap * sizeof(*procs));
	for (size_t i = 0; i < b->em_cap; i++) {
		if (b->em_proc[i] == HX__VPROC_UNKNOWN)
			continue;
		size_t j = mix64(b->em_id[i]) & (cap - 1);
		while (procs[j] != HX__VPROC_UNKNOWN)
			j = (j + 1) & (cap - 1);
		ids[j] = b->em_id[i];
		procs[j] = b->em_proc[i];
	}
	free(b->em_id);
	free(b->em_proc);
	b->em_id = ids;
	b->em_proc = procs;
	b->em_cap = cap;
	return HX_OK;
}

static uint32_t em_find(const hx__view_builder *b, uint64_t id)
{
	for (size_t j = mix64(id) & (b->em_cap - 1); b->em_proc[j] != HX__VPROC_UNKNOWN;
	     j = (j + 1) & (b->em_cap - 1))
		if (b->em_id[j] == id)
			return b->em_proc[j];
	return HX__VPROC_UNKNOWN;
}

static int em_note(hx__view_builder *b, uint64_t id, uint32_t proc)
{
	if (b->have_last && b->last_id == id)
		return HX_OK;
	size_t j = mix64(id) & (b->em_cap - 1);
	for (; b->em_proc[j] != HX__VPROC_UNKNOWN; j = (j + 1) & (b->em_cap - 1))
		if (b->em_id[j] == id)
			goto done;
	b->em_id[j] = id;
	b->em_proc[j] = proc;
	if (++b->em_n * 2 > b->em_cap && em_rehash(b, b->em_cap * 2))
		return HX_ENOMEM;
done:
	b->last_id = id;
	b->have_last = 1;
	return HX_OK;
}

int hx__view_builder_new(hx__view_builder **out, const uint8_t trace_id[16], size_t expect)
{
	*out = NULL;
	hx__view_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return HX_ENOMEM;
	static const uint8_t zero[16];
	hx__dag_filter f;
	memset(&f, 0, sizeof(f));
	if (trace_id && memcmp(trace_id, zero, 16)) {
		memcpy(b->trace, trace_id, 16);
		memcpy(f.id, trace_id, 16);
		f.nibbles = 32;
		b->filter = 1;
	}
	int rc = hx__dag_builder_new(&b->db, &f, expect);
	if (rc == HX_OK)
		rc = em_rehash(b, 64);
	if (rc) {
		hx__view_builder_free(b);
		return rc;
	}
	*out = b;
	return HX_OK;
}

static void staging_free(hx__view_builder *b)
{
	free(b->r_ent);
	free(b->r_seq);
	free(b->r_off);
	free(b->blob);
	b->r_ent = b->r_seq = b->r_off = NULL;
	b->blob = NULL;
}

void hx__view_builder_free(hx__view_builder *b)
{
	if (!b)
		return;
	hx__dag_builder_free(b->db);
	for (size_t i = 0; i < b->nprocs; i++) {
		free(b->procs[i].host);
		free(b->procs[i].service);
		free(b->procs[i].program);
	}
	free(b->procs);
	free(b->em_id);
	free(b->em_proc);
	staging_free(b);
	free(b);
}

static char *dup_str(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *p = malloc(n + 1);
	if (p) {
		if (n)
			memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

int hx__view_builder_process(hx__view_builder *b, uint32_t proc, const char *host,
                             const char *service, const char *program, uint64_t pid,
                             int64_t offset_ns)
{
	if (proc >= MAX_PROC)
		return HX_EINVAL;
	if (proc >= b->nprocs) {
		size_t cap = b->nprocs;
		if (hx__dag_grow(&b->procs, &cap, (size_t)proc + 1, sizeof(*b->procs)))
			return HX_ENOMEM;
		memset(b->procs + b->nprocs, 0, (cap - b->nprocs) * sizeof(*b->procs));
		b->nprocs = cap;
	}
	char *h = dup_str(host), *s = dup_str(service), *p = dup_str(program);
	if (!h || !s || !p) {
		free(h);
		free(s);
		free(p);
		return HX_ENOMEM;
	}
	/* the DAG names an entity's program by the service when there is one, as hx__dag_read */
	int rc = hx__dag_builder_process(b->db, proc, host, *s ? s : p, pid);
	if (rc) {
		free(h);
		free(s);
		free(p);
		return rc;
	}
	hx__vdesc *d = &b->procs[proc];
	free(d->host);
	free(d->service);
	free(d->program);
	d->host = h;
	d->service = s;
	d->program = p;
	d->pid = pid;
	d->offset_ns = offset_ns;
	d->set = 1;
	return HX_OK;
}

static int record_grow(hx__view_builder *b, size_t bytes)
{
	if (b->nr + 1 > b->rcap) {
		size_t c = b->rcap ? b->rcap * 2 : 1024;
		uint64_t *e = realloc(b->r_ent, c * sizeof(*e));
		if (!e)
			return HX_ENOMEM;
		b->r_ent = e;
		uint64_t *s = realloc(b->r_seq, c * sizeof(*s));
		if (!s)
			return HX_ENOMEM;
		b->r_seq = s;
		/* one more: the end offset is added when finishing */
		uint64_t *o = realloc(b->r_off, (c + 1) * sizeof(*o));
		if (!o)
			return HX_ENOMEM;
		b->r_off = o;
		b->rcap = c;
	}
	if (b->blob_len + bytes > b->blob_cap) {
		size_t c = b->blob_cap ? b->blob_cap : 65536;
		while (c < b->blob_len + bytes)
			c *= 2;
		uint8_t *p = realloc(b->blob, c);
		if (!p)
			return HX_ENOMEM;
		b->blob = p;
		b->blob_cap = c;
	}
	return HX_OK;
}

int hx__view_builder_add(hx__view_builder *b, const hx_event *ev, uint32_t proc)
{
	int rc = hx__dag_builder_add(b->db, ev, proc);
	if (rc)
		return rc;
	if (em_note(b, ev->entity_id, proc < MAX_PROC ? proc : HX__VPROC_UNKNOWN - 1))
		return HX_ENOMEM;
	if (b->filter && memcmp(ev->trace_id, b->trace, 16))
		return HX_OK; /* not in the trace: the DAG did not keep it either */
	size_t n = hx__vattr_size(ev);
	if (!n)
		return HX_OK;
	/* offsets are 32-bit: what would not fit is dropped and counted, never wrapped */
	if (b->blob_len + n > UINT32_MAX) {
		b->attrs_dropped++;
		return HX_OK;
	}
	if (record_grow(b, n))
		return HX_ENOMEM;
	b->r_ent[b->nr] = ev->entity_id;
	b->r_seq[b->nr] = ev->seq;
	b->r_off[b->nr] = b->blob_len;
	b->nr++;
	hx__vattr_encode(ev, b->blob + b->blob_len);
	b->blob_len += n;
	return HX_OK;
}

/* ---- finishing ---- */

/* The event (entity ID, seq), remembering the last entity: records come in runs of one entity. */
static uint32_t find_event(const hx__dag *d, uint64_t ent, uint64_t seq, uint64_t *last_id,
                           uint32_t *last_ent)
{
	if (*last_ent == HX__DAG_NONE || *last_id != ent) {
		*last_ent = hx__dag_entity_find(d, ent);
		*last_id = ent;
	}
	if (*last_ent == HX__DAG_NONE)
		return HX__DAG_NONE;
	const hx__dag_entity *en = &d->entities[*last_ent];
	if (en->dense)
		return en->count && seq >= en->first_seq && seq - en->first_seq < en->count
		           ? en->first + (uint32_t)(seq - en->first_seq)
		           : HX__DAG_NONE;
	return hx__dag_find(d, ent, seq);
}

static int place_attrs(hx__view_builder *b, hx__view *v)
{
	const hx__dag *d = v->d;
	size_t n = d->n;
	v->attr_off = hx__dag_alloc((n + 1) * sizeof(*v->attr_off));
	uint32_t *rec = hx__dag_alloc(n * sizeof(*rec));
	if (!v->attr_off || !rec) {
		free(rec);
		return HX_ENOMEM;
	}
	memset(rec, 0xff, n * sizeof(*rec));
	if (b->nr)
		b->r_off[b->nr] = b->blob_len;
	uint64_t last_id = 0;
	uint32_t last_ent = HX__DAG_NONE;
	size_t total = 0;
	for (size_t r = 0; r < b->nr; r++) {
		uint32_t i = find_event(d, b->r_ent[r], b->r_seq[r], &last_id, &last_ent);
		/* the first copy of a duplicate is the one the DAG kept */
		if (i != HX__DAG_NONE && rec[i] == HX__DAG_NONE) {
			rec[i] = (uint32_t)r;
			total += b->r_off[r + 1] - b->r_off[r];
		}
	}
	v->blob = malloc(total ? total : 1);
	if (!v->blob) {
		free(rec);
		return HX_ENOMEM;
	}
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		v->attr_off[i] = (uint32_t)pos;
		if (rec[i] != HX__DAG_NONE) {
			size_t r = rec[i], len = b->r_off[r + 1] - b->r_off[r];
			memcpy(v->blob + pos, b->blob + b->r_off[r], len);
			pos += len;
		}
	}
	v->attr_off[n] = (uint32_t)pos;
	v->blob_len = pos;
	v->attrs_dropped = b->attrs_dropped;
	v->bytes += (n + 1) * sizeof(*v->attr_off) + (total ? total : 1);
	free(rec);
	return HX_OK;
}

/* Each DAG entity's process: the caller's index of its first event. */
static int entity_procs(hx__view_builder *b, const hx__dag *d, uint32_t **out)
{
	uint32_t *ep = malloc((d->nentities ? d->nentities : 1) * sizeof(*ep));
	if (!ep)
		return HX_ENOMEM;
	for (size_t e = 0; e < d->nentities; e++) {
		ep[e] = em_find(b, d->entities[e].id);
	}
	*out = ep;
	return HX_OK;
}

int hx__view_builder_finish(hx__view_builder *b, hx__view **out)
{
	*out = NULL;
	hx__view *v = calloc(1, sizeof(*v));
	uint32_t *ep = NULL;
	int rc = HX_ENOMEM;
	if (!v)
		goto out;
	rc = hx__dag_builder_finish(b->db, &v->d);
	b->db = NULL;
	if (rc)
		goto out;
	const hx__dag *d = v->d;
	memcpy(v->trace_id, b->trace, 16);
	v->has_trace_id = b->filter;
	if (b->filter) {
		v->cp_trace = hx__dag_trace_find(d, b->trace);
	} else {
		v->cp_trace = d->ntraces == 1 ? 0 : HX__DAG_NONE;
		if (d->ntraces == 1) {
			memcpy(v->trace_id, d->traces[0].id, 16);
			v->has_trace_id = 1;
		}
	}
	for (size_t i = 0; i < d->n; i++) {
		if (!i || d->ev_time[i] < v->start_ns)
			v->start_ns = d->ev_time[i];
		if (!i || d->ev_time[i] > v->end_ns)
			v->end_ns = d->ev_time[i];
	}
	if ((rc = place_attrs(b, v)))
		goto out;
	staging_free(b);
	if ((rc = entity_procs(b, d, &ep)) || (rc = hx__view_lanes(v, ep, b->procs, b->nprocs)) ||
	    (rc = hx__view_json_strings(v)) || (rc = hx__view_index_sets(v)) ||
	    (rc = hx__view_index_arrows(v)))
		goto out;
	v->bytes += sizeof(*v) + hx__dag_bytes(d);
	*out = v;
	v = NULL;
out:
	free(ep);
	hx__view_free(v);
	hx__view_builder_free(b);
	return rc;
}

void hx__view_free(hx__view *v)
{
	if (!v)
		return;
	hx__dag_free(v->d);
	free(v->jstr);
	free(v->jstr_off);
	free(v->ent_hex);
	for (size_t i = 0; i < v->nprocs; i++) {
		free(v->procs[i].host);
		free(v->procs[i].service);
		free(v->procs[i].program);
	}
	free(v->procs);
	free(v->lanes);
	free(v->ent_lane);
	free(v->bsets);
	free(v->wsets);
	free(v->iv_start);
	free(v->iv_end);
	free(v->iv_max);
	free(v->iv_id);
	free(v->iv_pyr);
	free(v->pt_off);
	free(v->pt_time);
	free(v->pt_ev);
	free(v->pt_pyr);
	free(v->pt_nodes);
	free(v->err_off);
	free(v->err_time);
	free(v->tracks);
	free(v->lane_track);
	free(v->ct_time);
	free(v->ct_val);
	free(v->ct_ev);
	free(v->ct_pyr);
	free(v->eff_off);
	free(v->eff_ev);
	free(v->arrows);
	free(v->pairs);
	free(v->pair_lane);
	free(v->lane_pair_off);
	free(v->lane_pairs);
	free(v->as_lo);
	free(v->as_maxhi);
	free(v->as_hi);
	free(v->as_id);
	free(v->blk_self);
	free(v->attr_off);
	free(v->blob);
	free(v);
}

const hx__dag *hx__view_dag(const hx__view *v)
{
	return v->d;
}

size_t hx__view_bytes(const hx__view *v)
{
	return v ? v->bytes : 0;
}

size_t hx__view_lanes_count(const hx__view *v)
{
	return v->nlanes;
}

uint32_t hx__view_find_id(const hx__view *v, const char *id)
{
	/* ENTITY16HEX:SEQ, exactly: 16 hex digits, a colon, decimal digits */
	if (!id)
		return HX__DAG_NONE;
	uint64_t ent = 0, seq = 0;
	size_t i = 0;
	for (; i < 16; i++) {
		char c = id[i];
		unsigned x;
		if (c >= '0' && c <= '9')
			x = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x = (unsigned)(c - 'A' + 10);
		else
			return HX__DAG_NONE;
		ent = ent << 4 | x;
	}
	if (id[i++] != ':' || !id[i])
		return HX__DAG_NONE;
	for (; id[i]; i++) {
		if (id[i] < '0' || id[i] > '9')
			return HX__DAG_NONE;
		uint64_t dig = (uint64_t)(id[i] - '0');
		if (seq > (UINT64_MAX - dig) / 10)
			return HX__DAG_NONE;
		seq = seq * 10 + dig;
	}
	return hx__dag_find(v->d, ent, seq);
}

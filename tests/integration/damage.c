/*
 * damage.c - the reader against damaged traces: it never crashes, never returns an event that was
 * not in the original (no silent corruption), returns every event of every chunk the damage did
 * not touch, and says the trace is damaged whenever committed data was lost.
 *
 *   truncation  a small trace (4 KiB chunks, a few data chunks) cut at every length from 0 to its
 *               size, once as a crashed program leaves it (no index) and once closed by
 *               hx_shutdown() (with its index chunk at the end).
 *   flips       a 2 MB trace (16 KiB chunks) with 1-10 random bytes changed, 200 trials with fixed
 *               seeds; then flips aimed at chunk headers (stream, sequence number, commit word);
 *               then flips in the file header, where only "no crash, nothing invented" holds.
 *
 * The expected content of each chunk comes from decoding the original's slots one by one with the
 * format's decoder (cross-checked against the reader on the intact file); which chunks a cut or a
 * flip touched follows from the layout: slot i starts at 4096 + i * chunk_bytes and its committed
 * bytes end at 32 + the low half of its commit word.
 */
#include "../hxtest.h"

#include <sys/wait.h>

#include "format/decode.h"
#include "format/format.h"
#include "format/reader_int.h"

static int failures;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "damage: %s: ", #cond);                                     \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* ---- the original: its slots and its events ---- */

typedef struct slot {
	uint64_t off, end;  /* slot start; end of its committed bytes */
	uint32_t stream, seq, committed;
	int data;           /* a chunk (valid magic) */
} slot;

typedef struct ref_ev {
	uint64_t entity_id, seq;
	uint64_t hash;      /* of everything but the time (a damaged clock stream may move times) */
	uint32_t slot;
	uint32_t seen;      /* trial stamp */
} ref_ev;

typedef struct original {
	uint8_t *data;
	size_t len;
	uint32_t chunk_bytes;
	slot *slots;
	size_t nslots;
	ref_ev *evs;
	size_t nev;
} original;

/* A 64-bit hash of n bytes, eight at a time (FNV-style multiply, with a rotation so that every
 * input bit reaches the high bits too). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
		b += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, b, n);
	h = (h ^ w ^ ((uint64_t)n << 56)) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static uint64_t ev_hash(const hx_event *e)
{
	uint64_t h = 0xcbf29ce484222325ull;
	int32_t k[6] = {(int32_t)e->kind, (int32_t)e->entity_kind, (int32_t)e->state, (int32_t)e->target,
	                (int32_t)e->interaction, e->counter_is_int};
	h = fnv(h, k, sizeof k);
	h = fnv(h, &e->entity_id, 8);
	h = fnv(h, &e->seq, 8);
	h = fnv(h, e->trace_id, 16);
	h = fnv(h, &e->name_len, sizeof e->name_len);
	h = fnv(h, e->name, e->name_len);
	h = fnv(h, &e->tid, 8);
	if (e->unit)
		h = fnv(h, e->unit, strlen(e->unit) + 1);
	h = fnv(h, &e->counter_int, 8);
	h = fnv(h, &e->counter_double, 8);
	h = fnv(h, &e->nattrs, sizeof e->nattrs);
	for (size_t i = 0; i < e->nattrs; i++) {
		const hx_attr *a = &e->attrs[i];
		h = fnv(h, a->key, strlen(a->key) + 1);
		h = fnv(h, &a->type, sizeof a->type);
		if (a->type == HX_ATTR_STRING || a->type == HX_ATTR_BYTES) {
			h = fnv(h, &a->v.s.len, sizeof a->v.s.len);
			h = fnv(h, a->v.s.ptr, a->v.s.len);
		} else if (a->type == HX_ATTR_BOOL) {
			h = fnv(h, &a->v.b, sizeof a->v.b);
		} else {
			h = fnv(h, &a->v.i, 8);
		}
	}
	h = fnv(h, &e->ncauses, sizeof e->ncauses);
	for (size_t i = 0; i < e->ncauses; i++) {
		h = fnv(h, e->causes[i].trace_id, 16);
		h = fnv(h, &e->causes[i].entity_id, 8);
		h = fnv(h, &e->causes[i].seq, 8);
		h = fnv(h, &e->causes[i].flags, 4);
	}
	return h;
}

static int cmp_ref(const void *a, const void *b)
{
	const ref_ev *x = a, *y = b;
	if (x->entity_id != y->entity_id)
		return x->entity_id < y->entity_id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

static ref_ev *ref_find(const original *o, uint64_t entity, uint64_t seq)
{
	ref_ev k = {entity, seq, 0, 0, 0};
	return bsearch(&k, o->evs, o->nev, sizeof(ref_ev), cmp_ref);
}

/* Decode every slot of the original on its own. */
static void analyse(original *o)
{
	o->chunk_bytes = hx__le32(o->data + HX_FH_CHUNK_BYTES);
	size_t cb = o->chunk_bytes;
	o->nslots = o->len > HX_FILE_HEADER_BYTES ? (o->len - HX_FILE_HEADER_BYTES + cb - 1) / cb : 0;
	o->slots = calloc(o->nslots + 1, sizeof(slot));
	size_t cap = 1024;
	o->evs = hxt_xmalloc(cap * sizeof(ref_ev));
	o->nev = 0;
	hx__decoder d;
	if (hx__decoder_init(&d) != HX_OK)
		abort();
	for (size_t i = 0; i < o->nslots; i++) {
		slot *s = &o->slots[i];
		s->off = HX_FILE_HEADER_BYTES + i * cb;
		if (s->off + HX_CHUNK_HEADER_BYTES > o->len)
			continue;
		const uint8_t *c = o->data + s->off;
		if (hx__le32(c + HX_CH_MAGIC) != HX_CHUNK_MAGIC)
			continue;
		s->data = 1;
		s->stream = hx__le32(c + HX_CH_STREAM);
		s->seq = hx__le32(c + HX_CH_SEQ);
		s->committed = (uint32_t)hx__le64(c + HX_CH_COMMIT);
		s->end = s->off + HX_CHUNK_HEADER_BYTES + s->committed;
		if (s->end > o->len || s->committed > cb - HX_CHUNK_HEADER_BYTES) {
			fprintf(stderr, "damage: the original's slot %zu is inconsistent\n", i);
			exit(1);
		}
		hx__decoder_reset(&d, hx__le64(c + HX_CH_BASE_TICKS));
		const uint8_t *p = c + HX_CHUNK_HEADER_BYTES, *end = p + s->committed;
		while (p < end) {
			hx_event ev;
			const char *why = NULL;
			int r = hx__decode_record(&d, &p, end, &ev, NULL, NULL, &why);
			if (r < 0) {
				fprintf(stderr, "damage: the original's slot %zu does not decode: %s\n", i, why);
				exit(1);
			}
			if (r != HX__REC_EVENT)
				continue;
			if (o->nev == cap) {
				cap *= 2;
				o->evs = hxt_xrealloc(o->evs, cap * sizeof(ref_ev));
			}
			o->evs[o->nev++] = (ref_ev){ev.entity_id, ev.seq, ev_hash(&ev), (uint32_t)i, 0};
		}
	}
	hx__decoder_free(&d);
	qsort(o->evs, o->nev, sizeof(ref_ev), cmp_ref);
	for (size_t i = 1; i < o->nev; i++)
		if (!cmp_ref(&o->evs[i - 1], &o->evs[i])) {
			fprintf(stderr, "damage: the original has event %016" PRIx64 ":%" PRIu64 " twice\n", o->evs[i].entity_id,
			        o->evs[i].seq);
			exit(1);
		}
}

/* What one read of a damaged copy showed. */
typedef struct outcome {
	int open_rc;
	size_t events, foreign, changed;  /* returned; not in the original; different content */
	int damaged;
} outcome;

/* Read `data` (len bytes), stamping each returned original event with `stamp`. */
static void read_copy(original *o, const uint8_t *data, size_t len, uint32_t stamp, hx_read_order order,
                      outcome *out)
{
	memset(out, 0, sizeof(*out));
	hx_reader *r = NULL;
	out->open_rc = hx__reader_open_mem(&r, data, len, order);
	if (out->open_rc != HX_OK)
		return;
	hx_event ev;
	int rc;
	while ((rc = hx_reader_next(r, &ev)) == HX_OK) {
		out->events++;
		ref_ev *f = ref_find(o, ev.entity_id, ev.seq);
		if (!f) {
			if (out->foreign++ < 3)
				fprintf(stderr, "damage: an event not in the original: %016" PRIx64 ":%" PRIu64 " %s '%.40s'\n",
				        ev.entity_id, ev.seq, hx_event_kind_name(ev.kind), ev.name);
			continue;
		}
		if (f->hash != ev_hash(&ev)) {
			if (out->changed++ < 3)
				fprintf(stderr, "damage: event %016" PRIx64 ":%" PRIu64 " came back changed (%s '%.40s')\n",
				        ev.entity_id, ev.seq, hx_event_kind_name(ev.kind), ev.name);
			continue;
		}
		f->seen = stamp;
	}
	CHECK(rc == HX_EOF, "hx_reader_next ended with %s", hx_strerror(rc));
	hx_reader_info info;
	hx_reader_info_get(r, &info);
	out->damaged = info.damaged;
	hx_reader_close(r);
}

/* ---- making the originals ---- */

static void record_small(void)
{
	static const char pad[] = "attribute text that makes the records of this trace long enough";
	hx_trace_begin("small");
	hx_entity *e = hx_entity_begin("task", HX_ENTITY_TASK);
	for (int i = 0; i < 100; i++) {
		if (i % 10 == 3) {
			hx_entity_enter(e);
			HX_POINT_WITH("in-task", HX_INT("i", i));
			hx_entity_leave();
		}
		HX_POINT_WITH("point", HX_INT("i", i), HX_STR("pad", pad), HX_DOUBLE("x", i * 0.5));
		if (i % 25 == 0)
			hx_counter_int("count", i, "items");
	}
	hx_entity_end(e);
	hx_trace_end();
}

static uint8_t *make_trace(const char *dir, uint32_t chunk_bytes, int crash, void (*work)(void), size_t *len)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		/* a child, so that a "crash" (no hx_shutdown) leaves the parent untouched */
		hx_config cfg;
		hx_config_init(&cfg);
		cfg.dir = dir;
		cfg.chunk_bytes = chunk_bytes;
		if (hx_init(&cfg) != HX_OK)
			_exit(2);
		work();
		if (!crash && hx_shutdown() != HX_OK)
			_exit(3);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "damage: the trace writer failed (%d)\n", status);
		exit(1);
	}
	char path[1024];
	if (hxt_first_hx_file(dir, path, sizeof path) != 0 || hxt_count_hx_files(dir) != 1) {
		fprintf(stderr, "damage: expected one trace file in %s\n", dir);
		exit(1);
	}
	uint8_t *data = hxt_slurp(path, len);
	if (!data) {
		perror(path);
		exit(1);
	}
	return data;
}

static void load_original(original *o, const char *dir, uint32_t chunk_bytes, int crash, void (*work)(void))
{
	memset(o, 0, sizeof(*o));
	o->data = make_trace(dir, chunk_bytes, crash, work, &o->len);
	analyse(o);
	/* cross-check: the reader on the intact file returns exactly the decoded events */
	outcome out;
	read_copy(o, o->data, o->len, 1, HX_ORDER_STREAM, &out);
	size_t seen = 0;
	for (size_t i = 0; i < o->nev; i++)
		seen += o->evs[i].seen == 1;
	CHECK(out.open_rc == HX_OK && out.events == o->nev && seen == o->nev && !out.damaged,
	      "the intact original reads back %zu of %zu events (open %d, damaged %d)", seen, o->nev, out.open_rc,
	      out.damaged);
	read_copy(o, o->data, o->len, 2, HX_ORDER_TIME, &out);
	CHECK(out.events == o->nev && !out.damaged, "time order: %zu of %zu events", out.events, o->nev);
	for (size_t i = 0; i < o->nev; i++)
		o->evs[i].seen = 0;
}

static void free_original(original *o)
{
	free(o->data);
	free(o->slots);
	free(o->evs);
}

/* ---- truncation ---- */

/* Under the sanitizers, where a read costs ten times more, cuts inside all-zero stretches (unused
 * slots, the unused rest of a chunk) are sampled: within 64 bytes of either end of the stretch and
 * every 61st byte between. Every cut through the header and through committed bytes is still
 * tried; the release build tries every length. */
static int interesting_cut(const original *o, size_t L)
{
	if (L < HX_FILE_HEADER_BYTES)
		return 1;
	size_t i = (L - HX_FILE_HEADER_BYTES) / o->chunk_bytes;
	if (i >= o->nslots)
		return 1;
	const slot *s = &o->slots[i];
	uint64_t from = s->data ? s->end : s->off, to = s->off + o->chunk_bytes;
	if (L <= from + 64 || L + 64 >= to)
		return 1;
	return (L - from) % 61 == 0;
}

/* Cut the original at every length. A cut through a chunk's committed bytes must be reported;
 * so must any loss of a closed trace (its header names its index chunk, at the end of the file);
 * whole chunks cut off a crashed trace cannot be known to have existed. A cut that loses nothing
 * must not be reported. */
static void truncations(original *o, const char *label, int closed)
{
	size_t data_chunks = 0;
	for (size_t i = 0; i < o->nslots; i++)
		data_chunks += o->slots[i].data && o->slots[i].committed > 0;
	CHECK(data_chunks >= 4, "%s: only %zu chunks hold data", label, data_chunks);
	uint32_t stamp = 100;
	size_t lost_reported = 0, cuts = 0;
	size_t tested = 0;
	for (size_t L = 0; L <= o->len; L++) {
		if (HXT_SANITIZED && !interesting_cut(o, L))
			continue;
		tested++;
		stamp++;
		outcome out;
		read_copy(o, o->data, L, stamp, (L & 1) ? HX_ORDER_TIME : HX_ORDER_STREAM, &out);
		CHECK(out.foreign == 0 && out.changed == 0, "%s: cut at %zu: events not in the original", label, L);
		if (L < HX_FILE_HEADER_BYTES) {
			CHECK(out.open_rc != HX_OK || out.events == 0, "%s: cut at %zu (inside the header): %zu events", label, L,
			      out.events);
			continue;
		}
		CHECK(out.open_rc == HX_OK, "%s: cut at %zu: open returned %s", label, L, hx_strerror(out.open_rc));
		int cut_data = 0, lost_whole = 0, ambiguous = 0;
		for (size_t i = 0; i < o->nslots; i++) {
			const slot *s = &o->slots[i];
			if (!s->data || L >= s->end)
				continue;
			if (s->committed == 0)
				ambiguous = 1; /* a chunk with nothing committed */
			else if (L <= s->off)
				lost_whole = 1;
			else
				cut_data = 1;
		}
		if (closed && lost_whole)
			cut_data = 1;
		cuts += cut_data;
		for (size_t i = 0; i < o->nev; i++) {
			const ref_ev *e = &o->evs[i];
			const slot *s = &o->slots[e->slot];
			int whole = s->end <= L, cut = L > s->off && L < s->end;
			if (whole && e->seen != stamp) {
				CHECK(0, "%s: cut at %zu: event %016" PRIx64 ":%" PRIu64 " of the intact slot %u is missing", label, L,
				      e->entity_id, e->seq, e->slot);
				break;
			}
			if (cut && e->seen == stamp) {
				CHECK(0, "%s: cut at %zu: event %016" PRIx64 ":%" PRIu64 " of the cut slot %u was returned", label, L,
				      e->entity_id, e->seq, e->slot);
				break;
			}
		}
		if (cut_data) {
			lost_reported += out.damaged;
			CHECK(out.damaged, "%s: cut at %zu loses committed data but the trace is not reported damaged", label, L);
		} else if (!ambiguous && !lost_whole) {
			CHECK(!out.damaged, "%s: cut at %zu loses nothing but the trace is reported damaged", label, L);
		}
		if (failures > 20) {
			fprintf(stderr, "damage: too many failures, stopping\n");
			exit(1);
		}
	}
	printf("damage: %s: %zu bytes, %zu slots (%zu with data), %zu events: %zu cut lengths, %zu of them "
	       "losing committed data, all reported\n",
	       label, o->len, o->nslots, data_chunks, o->nev, tested, lost_reported);
	(void)cuts;
}

/* ---- flips ---- */

static void record_large(void)
{
	/* over 2 MB of varied events */
	char text[128];
	hx_context tr = hx_trace_begin("large");
	for (int i = 0; i < 60000; i++) {
		int n = snprintf(text, sizeof text, "value %d of a long enough string %x", i, i * 2654435761u);
		switch (i % 5) {
		case 0:
			HX_POINT_WITH("p", HX_INT("i", i), HX_STRN("s", text, (size_t)n));
			break;
		case 1:
			HX_BLOCK_BEGIN_WITH("b", HX_DOUBLE("d", i / 7.0), HX_BYTES("raw", text, 12));
			break;
		case 2:
			hx_counter("c", i * 1.5, "ms");
			break;
		case 3:
			hx_block_end();
			break;
		case 4:
			hx_effect_attrs(HX_IA_MESSAGE, "e", &tr, 1, HX_ATTRS(HX_BOOL("ok", i & 1)));
			break;
		}
	}
	hx_trace_end();
}

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Check one flipped copy: nothing invented, nothing lost from an untouched chunk, damage said. */
static void check_flips(original *o, uint8_t *copy, const size_t *offs, int nflips, uint32_t stamp, const char *what,
                        int header_only)
{
	outcome out;
	read_copy(o, copy, o->len, stamp, (stamp & 1) ? HX_ORDER_TIME : HX_ORDER_STREAM, &out);
	CHECK(out.foreign == 0 && out.changed == 0, "%s (trial %u): events that were not in the original", what, stamp);
	if (header_only)
		return;
	CHECK(out.open_rc == HX_OK, "%s (trial %u): open returned %s", what, stamp, hx_strerror(out.open_rc));
	int touched_data = 0;
	for (int k = 0; k < nflips; k++) {
		size_t i = (offs[k] - HX_FILE_HEADER_BYTES) / o->chunk_bytes;
		if (i < o->nslots && o->slots[i].data && offs[k] < o->slots[i].end)
			touched_data = 1;
	}
	size_t missing = 0;
	for (size_t i = 0; i < o->nev; i++) {
		const ref_ev *e = &o->evs[i];
		const slot *s = &o->slots[e->slot];
		int touched = 0;
		for (int k = 0; k < nflips; k++)
			if (offs[k] >= s->off && offs[k] < s->end)
				touched = 1;
		if (!touched && e->seen != stamp && missing++ < 3)
			fprintf(stderr, "damage: %s (trial %u): event %016" PRIx64 ":%" PRIu64 " of the untouched slot %u "
			        "(stream %u, chunk %u) is missing\n",
			        what, stamp, e->entity_id, e->seq, e->slot, s->stream, s->seq);
	}
	CHECK(missing == 0, "%s (trial %u): %zu events of untouched chunks missing", what, stamp, missing);
	if (touched_data)
		CHECK(out.damaged, "%s (trial %u): committed bytes changed but the trace is not reported damaged", what, stamp);
}

static void flips(original *o)
{
	size_t data_chunks = 0;
	for (size_t i = 0; i < o->nslots; i++)
		data_chunks += o->slots[i].data;
	/* "large": over a MiB and many chunks (the file's exact size depends on how big the writer
	 * made its windows, which follows its speed) */
	CHECK(o->len >= (1u << 20), "the large trace is only %zu bytes", o->len);
	CHECK(data_chunks >= 64, "the large trace has only %zu chunks", data_chunks);
	uint8_t *copy = hxt_xmalloc(o->len);
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	uint32_t stamp = 1000;
	size_t offs[16];
	int trials = 200;

	/* random flips anywhere after the file header */
	for (int t = 0; t < trials; t++) {
		memcpy(copy, o->data, o->len);
		int n = 1 + (int)(xs(&rng) % 10);
		for (int k = 0; k < n; k++) {
			offs[k] = HX_FILE_HEADER_BYTES + xs(&rng) % (o->len - HX_FILE_HEADER_BYTES);
			copy[offs[k]] ^= (uint8_t)(1 + xs(&rng) % 255);
		}
		check_flips(o, copy, offs, n, ++stamp, "random flips", 0);
		if (failures > 20)
			exit(1);
	}

	/* flips aimed at chunk headers: magic, stream, sequence number, base time, commit word; a
	 * damaged header must cost its own chunk only, even when it now claims another chunk's place */
	size_t *data_slots = hxt_xmalloc(o->nslots * sizeof(size_t));
	size_t nd = 0;
	for (size_t i = 0; i < o->nslots; i++)
		if (o->slots[i].data && o->slots[i].stream != HX_STREAM_INDEX)
			data_slots[nd++] = i;
	for (int t = 0; t < 100; t++) {
		memcpy(copy, o->data, o->len);
		const slot *s = &o->slots[data_slots[xs(&rng) % nd]];
		if (t % 4 == 0) {
			/* claim the sequence number of another chunk of the same stream */
			uint32_t other = s->seq;
			for (size_t j = 0; j < nd; j++) {
				const slot *x = &o->slots[data_slots[(j + (size_t)t) % nd]];
				if (x != s && x->stream == s->stream) {
					other = x->seq;
					break;
				}
			}
			if (other == s->seq)
				continue;
			hx__put_le32(copy + s->off + HX_CH_SEQ, other);
			offs[0] = s->off + HX_CH_SEQ;
		} else {
			offs[0] = s->off + xs(&rng) % HX_CHUNK_HEADER_BYTES;
			copy[offs[0]] ^= (uint8_t)(1 + xs(&rng) % 255);
		}
		check_flips(o, copy, offs, 1, ++stamp,
		            t % 4 == 0 ? "chunk header claiming another chunk's sequence number" : "chunk header flip", 0);
		if (failures > 20)
			exit(1);
	}
	free(data_slots);

	/* the file header: anything may be lost, nothing may be invented */
	for (int t = 0; t < 100; t++) {
		memcpy(copy, o->data, o->len);
		int n = 1 + (int)(xs(&rng) % 4);
		for (int k = 0; k < n; k++) {
			offs[k] = t < 50 ? xs(&rng) % 128 : xs(&rng) % HX_FILE_HEADER_BYTES;
			copy[offs[k]] ^= (uint8_t)(1 + xs(&rng) % 255);
		}
		check_flips(o, copy, offs, n, ++stamp, "file header flip", 1);
	}
	free(copy);
	printf("damage: flips: %zu bytes, %zu chunks, %zu events: %d random trials of 1-10 flips, 100 chunk-header "
	       "flips, 100 file-header flips\n",
	       o->len, data_chunks, o->nev, trials);
}

static char base[512];

static void remove_base(void)
{
	if (base[0])
		hxt_rmrf(base);
}

int main(void)
{
	if (hxt_mkdtemp(base, sizeof base, "damage") != 0) {
		perror("mkdtemp");
		return 1;
	}
	atexit(remove_base); /* also on the early exits of a failing run */
	char dir[700];
	original o;

	double t0 = now_s();
	snprintf(dir, sizeof dir, "%s/crashed", base);
	load_original(&o, dir, 4096, 1, record_small);
	truncations(&o, "truncation of a crashed trace", 0);
	free_original(&o);

	snprintf(dir, sizeof dir, "%s/closed", base);
	load_original(&o, dir, 4096, 0, record_small);
	truncations(&o, "truncation of a closed trace", 1);
	free_original(&o);

	double t1 = now_s();
	snprintf(dir, sizeof dir, "%s/large", base);
	load_original(&o, dir, 16384, 0, record_large);
	flips(&o);
	free_original(&o);
	printf("damage: truncations %.1f s, flips %.1f s%s\n", t1 - t0, now_s() - t1,
	       HXT_SANITIZED ? " (sanitized build: cuts in all-zero stretches sampled)" : "");

	if (failures)
		printf("damage: %d failures\n", failures);
	return failures ? 1 : 0;
}

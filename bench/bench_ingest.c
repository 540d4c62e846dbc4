/*
 * bench_ingest.c - one ingest client of the service benchmark (bench/run-service.sh).
 *
 *   bench_ingest tcp://HOST:PORT SECONDS SOURCE_DIR EVENTS [SEED]
 *   bench_ingest tcp://HOST:PORT SECONDS bigtrace EVENTS [SEED]   (one trace of EVENTS events)
 *
 * Replays a recorded trace directory (real events: blocks, points with attributes, interactions,
 * states) as many times as it takes to make EVENTS events, each round with its own entity and
 * trace IDs (the round's key mixed in) and times moved forward, so that every event is new to the
 * store and nothing is deduplicated away. All batches are encoded before the clock starts (the
 * client's own cost stays out of the measurement); then they are sent through the shipping
 * client (src/net/client.h) for at most SECONDS, counting the events the service acknowledged,
 * which means stored durably. Prints one line:
 *   acked_events=N start_ns=T0 end_ns=T1
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <haruspex.h>
#include <haruspex/reader.h>

#include "net/client.h"
#include "net/proto.h"

#define BATCH_EVENTS 1000

struct batch {
	uint8_t *p;
	size_t len, events;
};

static struct batch *batches;
static size_t nbatches, capbatches;
static uint64_t acked_events;

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_ack(uint64_t ticket, void *user)
{
	(void)user;
	acked_events += batches[ticket].events;
}

static void keep(hx_batch_builder *bb)
{
	size_t len;
	size_t n = hx_batch_builder_events(bb);
	if (!n)
		return;
	const uint8_t *p = hx_batch_builder_finish(bb, &len);
	if (nbatches == capbatches) {
		capbatches = capbatches ? capbatches * 2 : 1024;
		batches = realloc(batches, capbatches * sizeof *batches);
		if (!batches) {
			fputs("bench_ingest: out of memory\n", stderr);
			exit(1);
		}
	}
	struct batch *b = &batches[nbatches++];
	b->p = malloc(len);
	if (!b->p) {
		fputs("bench_ingest: out of memory\n", stderr);
		exit(1);
	}
	memcpy(b->p, p, len);
	b->len = len;
	b->events = n;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void remap_trace(uint8_t t[16], uint64_t key)
{
	static const uint8_t zero[16];
	if (!memcmp(t, zero, 16))
		return;
	for (int i = 0; i < 8; i++)
		t[8 + i] ^= (uint8_t)(key >> (8 * i));
}

/* One round of the source: every traced event, IDs remapped with key, times shifted. */
static uint64_t build_round(const char *dir, uint64_t key, uint64_t shift, uint64_t budget)
{
	hx_reader *r;
	if (hx_reader_open(&r, dir, HX_ORDER_STREAM) != HX_OK) {
		fprintf(stderr, "bench_ingest: cannot read %s\n", dir);
		exit(1);
	}
	uint8_t instance[16];
	for (int i = 0; i < 16; i++)
		instance[i] = (uint8_t)(mix(key + (uint64_t)i) >> 7);
	const char *kv[6] = {"host", "bench", "service", "bench-ingest", "program", "bench_ingest"};
	hx_batch_builder *bb = hx_batch_builder_new(instance, 1, kv, 3);
	hx_event ev;
	uint64_t n = 0;
	hx_context causes[HX_CAUSE_MAX];
	size_t proc = (size_t)-1;
	while (n < budget && hx_reader_next(r, &ev) == HX_OK) {
		static const uint8_t zero[16];
		if (!memcmp(ev.trace_id, zero, 16))
			continue; /* the service stores traces */
		size_t p = hx_reader_event_process(r);
		if (p != proc || hx_batch_builder_events(bb) >= BATCH_EVENTS) {
			keep(bb); /* one process per batch, and batches of ~1000 events */
			proc = p;
		}
		ev.entity_id = mix(ev.entity_id ^ key) | 1;
		remap_trace(ev.trace_id, key);
		ev.time_ns += shift;
		ev.time_orig_ns = ev.time_ns;
		if (ev.kind == HX_EV_ENTITY_BEGIN && ev.parent_id)
			ev.parent_id = mix(ev.parent_id ^ key) | 1;
		for (size_t i = 0; i < ev.ncauses && i < HX_CAUSE_MAX; i++) {
			causes[i] = ev.causes[i];
			if (!(causes[i].flags & HX_CTX_FOREIGN))
				causes[i].entity_id = mix(causes[i].entity_id ^ key) | 1;
			remap_trace(causes[i].trace_id, key);
		}
		ev.causes = ev.ncauses ? causes : NULL;
		if (hx_batch_builder_add(bb, &ev) != HX_OK) {
			fputs("bench_ingest: cannot build a batch\n", stderr);
			exit(1);
		}
		n++;
	}
	keep(bb);
	hx_batch_builder_free(bb);
	hx_reader_close(r);
	return n;
}

/* SOURCE_DIR "bigtrace": one trace of `want` events on one entity (nested blocks, points with an
 * integer attribute), for the fetch measurement; prints its trace ID on stderr. */
static void build_big(uint64_t want, uint64_t seed)
{
	uint8_t instance[16] = {0xb1, 0x6};
	const char *kv[6] = {"host", "bench", "service", "bench-big", "program", "bench_ingest"};
	hx_batch_builder *bb = hx_batch_builder_new(instance, 1, kv, 3);
	hx_event ev;
	memset(&ev, 0, sizeof ev);
	uint64_t t0 = real_ns();
	for (int i = 0; i < 6; i++)
		ev.trace_id[i] = (uint8_t)((t0 / 1000000u) >> (40 - 8 * i));
	for (int i = 6; i < 16; i++)
		ev.trace_id[i] = (uint8_t)(mix(seed + (uint64_t)i) >> 11);
	ev.entity_id = mix(seed) | 1;
	hx_attr a = {.key = "i", .type = HX_ATTR_INT};
	for (uint64_t i = 0; i < want; i++) {
		if (hx_batch_builder_events(bb) >= BATCH_EVENTS)
			keep(bb);
		ev.seq = i;
		ev.time_ns = ev.time_orig_ns = t0 + i * 200;
		ev.attrs = NULL;
		ev.nattrs = 0;
		if (i == 0) {
			ev.kind = HX_EV_TRACE_BEGIN;
			ev.name = "big";
		} else if (i % 3 == 1) {
			ev.kind = HX_EV_BLOCK_BEGIN;
			ev.name = "step";
		} else if (i % 3 == 2) {
			ev.kind = HX_EV_POINT;
			ev.name = "progress";
			a.v.i = (int64_t)i;
			ev.attrs = &a;
			ev.nattrs = 1;
		} else {
			ev.kind = HX_EV_BLOCK_END;
			ev.name = "";
		}
		ev.name_len = strlen(ev.name);
		if (hx_batch_builder_add(bb, &ev) != HX_OK) {
			fputs("bench_ingest: cannot build a batch\n", stderr);
			exit(1);
		}
	}
	keep(bb);
	hx_batch_builder_free(bb);
	fprintf(stderr, "trace_id=");
	for (int i = 0; i < 16; i++)
		fprintf(stderr, "%02x", ev.trace_id[i]);
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fputs("usage: bench_ingest tcp://HOST:PORT SECONDS SOURCE_DIR EVENTS [SEED]\n", stderr);
		return 2;
	}
	double seconds = atof(argv[2]);
	uint64_t want = strtoull(argv[4], NULL, 10), seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
	uint64_t have = strcmp(argv[3], "bigtrace") ? 0 : want;
	if (have)
		build_big(want, seed);
	for (uint64_t round = 0; have < want; round++) {
		uint64_t got = build_round(argv[3], mix(seed * 1000003u + round), round * 1000000000ull, want - have);
		if (!got) {
			fprintf(stderr, "bench_ingest: %s holds no traced events\n", argv[3]);
			return 1;
		}
		have += got;
	}
	hx_client_opts o;
	memset(&o, 0, sizeof o);
	o.url = argv[1];
	o.name = "bench_ingest";
	o.queue_bytes = 64u << 20;
	o.on_ack = on_ack;
	hx_client *c;
	char err[256];
	if (hx_client_new(&c, &o, err, sizeof err) != HX_OK) {
		fprintf(stderr, "bench_ingest: %s\n", err);
		return 1;
	}
	uint64_t start = real_ns(), stop = start + (uint64_t)(seconds * 1e9);
	size_t next = 0;
	while (real_ns() < stop && (next < nbatches || hx_client_unacked(c))) {
		while (next < nbatches && hx_client_send(c, batches[next].p, batches[next].len, next) == HX_OK)
			next++;
		if (hx_client_poll(c, 20) == HX_EINVAL) {
			fputs("bench_ingest: a batch is over the service's limit\n", stderr);
			return 1;
		}
	}
	uint64_t end = real_ns();
	printf("acked_events=%" PRIu64 " start_ns=%" PRIu64 " end_ns=%" PRIu64 "\n", acked_events, start, end);
	hx_client_free(c);
	for (size_t i = 0; i < nbatches; i++)
		free(batches[i].p);
	free(batches);
	return 0;
}

/*
 * ship.c - the shipper (ship.h): follower -> batch builder -> client, with positions confirmed on
 * ACK.
 *
 * A batch's ticket is a follower mark taken when the batch is closed: it covers every event taken
 * so far, which are exactly this batch's events and those of the batches before it. The client
 * acknowledges batches in order, so confirming a ticket never confirms an event that is not
 * durable.
 */
#include "net/ship.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/follow.h"
#include "net/proto.h"

struct hx_shipper {
	hx__follow *f;
	hx_client *c;
	hx_batch_builder *b;
	uint8_t b_instance[16];  /* the process the builder's batch is for */
	size_t b_events;
	size_t batch_bytes;
	int reading;             /* 0 after hx_shipper_stop_reading */
	int found;               /* the last poll of the files took events, or stopped early */
	int stuck;               /* the last poll stopped: a batch waits for room */
	int save_failed;
	void (*log)(int error, const char *message, void *user); /* the caller's */
	void *log_user;
	uint64_t acked_events;
	struct ticket {          /* batches in flight: ticket -> events, for the statistics */
		uint64_t ticket, events;
	} *inflight;
	size_t ninflight, cap_inflight;
	hx_shipper_stats st;
	char err[512];
};

static void on_ack(uint64_t ticket, void *user)
{
	hx_shipper *s = user;
	/* a write error is remembered; the positions stay confirmed in memory and are written with
	 * the next ACK, so nothing is lost but a restart might resend a little more */
	if (hx__follow_confirm(s->f, ticket) != HX_OK) {
		s->save_failed = 1;
		snprintf(s->err, sizeof s->err, "%s", hx__follow_error(s->f));
	}
	size_t k = 0;
	while (k < s->ninflight && s->inflight[k].ticket <= ticket) {
		s->st.events_acked += s->inflight[k].events;
		s->st.batches_acked++;
		k++;
	}
	memmove(s->inflight, s->inflight + k, (s->ninflight - k) * sizeof *s->inflight);
	s->ninflight -= k;
}

static void on_log(int error, const char *message, void *user)
{
	hx_shipper *s = user;
	if (s->log)
		s->log(error, message, s->log_user);
}

int hx_shipper_new(hx_shipper **out, const hx_shipper_opts *o, char *err, size_t errlen)
{
	*out = NULL;
	hx_shipper *s = calloc(1, sizeof *s);
	if (!s)
		return HX_ENOMEM;
	hx__follow_opts fo = {o->dir, o->state_dir, o->only_instance};
	int rc = hx__follow_open(&s->f, &fo, err, errlen);
	if (rc == HX_OK) {
		hx_client_opts co = o->client;
		co.on_ack = on_ack;
		co.on_log = on_log;
		co.user = s;
		s->log = o->client.on_log;
		s->log_user = o->client.user;
		rc = hx_client_new(&s->c, &co, err, errlen);
	}
	if (rc != HX_OK) {
		hx_shipper_free(s);
		return rc;
	}
	s->batch_bytes = o->batch_bytes ? o->batch_bytes : 256u << 10;
	s->reading = 1;
	s->found = 1;
	*out = s;
	return HX_OK;
}

void hx_shipper_free(hx_shipper *s)
{
	if (!s)
		return;
	hx_client_free(s->c);
	hx__follow_close(s->f);
	hx_batch_builder_free(s->b);
	free(s->inflight);
	free(s);
}

static size_t target_bytes(const hx_shipper *s)
{
	size_t max = hx_client_max_batch(s->c) / 2;
	return s->batch_bytes < max ? s->batch_bytes : max;
}

/* Close the batch being built and queue it. 1 when done (or nothing to do), 0 when the queue has
 * no room (the batch stays in the builder), -1 for memory. */
static int flush(hx_shipper *s)
{
	if (!s->b || s->b_events == 0)
		return 1;
	if (!hx_client_room(s->c, hx_batch_builder_bytes(s->b)))
		return 0;
	if (s->ninflight == s->cap_inflight) {
		size_t cap = s->cap_inflight ? s->cap_inflight * 2 : 64;
		struct ticket *t = realloc(s->inflight, cap * sizeof *t);
		if (!t)
			return -1;
		s->inflight = t;
		s->cap_inflight = cap;
	}
	size_t len;
	const uint8_t *bytes = hx_batch_builder_finish(s->b, &len);
	if (!bytes)
		return -1;
	uint64_t ticket = hx__follow_mark(s->f);
	int rc = hx_client_send(s->c, bytes, len, ticket);
	if (rc != HX_OK) {
		/* the finished batch is gone from the builder: its events are taken but not queued.
		 * Only a batch over the server's limit or memory can do this; the positions are not
		 * confirmed, so a restart sends them again. */
		snprintf(s->err, sizeof s->err, "a batch of %zu bytes cannot be queued: %s", len,
		         hx_strerror(rc));
		return -1;
	}
	s->inflight[s->ninflight++] = (struct ticket){ticket, s->b_events};
	s->b_events = 0;
	return 1;
}

static int take(const hx__follow_proc *p, const hx_event *ev, void *user)
{
	hx_shipper *s = user;
	if (s->b && s->b_events &&
	    (memcmp(s->b_instance, p->instance, 16) || hx_batch_builder_bytes(s->b) >= target_bytes(s))) {
		int r = flush(s);
		if (r <= 0)
			return 1;
	}
	if (!s->b || memcmp(s->b_instance, p->instance, 16)) {
		hx_batch_builder_free(s->b);
		s->b = hx_batch_builder_new(p->instance, p->pid, p->resource, p->npairs);
		if (!s->b)
			return 1;
		memcpy(s->b_instance, p->instance, 16);
		s->b_events = 0;
	}
	int rc = hx_batch_builder_add(s->b, ev);
	if (rc == HX_ENOMEM)
		return 1;
	if (rc == HX_OK)
		s->b_events++;
	else
		s->st.events_refused++; /* the format cannot hold it: counted, the position moves on */
	s->st.events_taken++;
	return 0;
}

int hx_shipper_step(hx_shipper *s, int timeout_ms)
{
	int rc = HX_OK, wait = timeout_ms;
	/* A batch left in the builder by a full queue goes first: reading more would only grow it. */
	int ready = flush(s);
	if (ready < 0)
		return HX_ENOMEM;
	s->found = !ready;
	if (ready && s->reading) {
		long n = hx__follow_poll(s->f, take, s, 0);
		if (n < 0) {
			snprintf(s->err, sizeof s->err, "%s", hx__follow_error(s->f));
			return (int)n;
		}
		if (flush(s) < 0)
			return HX_ENOMEM;
		/* a full queue refused a batch mid-poll: it waits in the builder for ACKs */
		s->stuck = s->b && s->b_events > 0;
		s->found = n > 0 || s->stuck;
		if (n > 0 && !s->stuck)
			wait = 0; /* more may be coming: send this and look again at once */
	}
	if (!s->found && hx_client_unacked(s->c) == 0 && !hx__follow_settled(s->f)) {
		/* Positions moved without a batch (past finished chunks, or events the format refused)
		 * and nothing is in flight: everything taken is accounted for, confirm it now. */
		if (hx__follow_confirm(s->f, hx__follow_mark(s->f)) != HX_OK) {
			snprintf(s->err, sizeof s->err, "%s", hx__follow_error(s->f));
			rc = HX_EIO;
		}
	}
	int cr = hx_client_poll(s->c, wait);
	if (cr != HX_OK) {
		snprintf(s->err, sizeof s->err, "%s", hx_client_last_error(s->c));
		rc = cr;
	}
	if (rc == HX_OK && s->save_failed) {
		s->save_failed = 0;
		rc = HX_EIO;
	}
	return rc;
}

void hx_shipper_stop_reading(hx_shipper *s)
{
	s->reading = 0;
}

int hx_shipper_done(const hx_shipper *s)
{
	return !s->found && (!s->b || s->b_events == 0) && hx_client_unacked(s->c) == 0 &&
	       hx__follow_settled(s->f);
}

size_t hx_shipper_unacked(const hx_shipper *s)
{
	return hx_client_unacked(s->c);
}

void hx_shipper_stats_get(const hx_shipper *s, hx_shipper_stats *out)
{
	hx__follow_stats fs;
	hx__follow_stats_get(s->f, &fs);
	*out = s->st;
	out->reconnects = hx_client_reconnects(s->c);
	out->chunks_skipped = fs.chunks_skipped;
}

const char *hx_shipper_error(const hx_shipper *s)
{
	return s->err[0] ? s->err : hx_client_last_error(s->c);
}

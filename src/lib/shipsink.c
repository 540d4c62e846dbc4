/*
 * shipsink.c - the tcp:// sink: the file sink, plus a thread that ships this process's files.
 *
 * Recording is exactly the file sink's (the hot path does not know this file exists): events are
 * in the shared file mapping when the call returns, so a SIGKILL loses nothing, and a dead network
 * or service never blocks the program. This thread follows the process's own files with the
 * shipper (src/net/ship.h), sends batches, and saves in the trace directory, per stream, how far
 * the service has acknowledged (hxship-<instance>.pos). What it had not shipped when the process
 * died stays in the files, and `hx ship DIR` sends it later, starting from those positions.
 *
 * At hx_shutdown() the files are closed first (every event committed, indexes written), then the
 * thread keeps shipping for up to HARUSPEX_SHIP_LINGER_MS (default 2000) and stops.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/tracer.h"
#include "net/ship.h"

#define STEP_MS 200          /* how often the files are looked at while nothing happens */
#define LINGER_DEFAULT_MS 2000

struct hx__shipsink {
	pthread_t thread;
	hx_shipper *s;
	_Atomic int stop;
	uint64_t linger_ms;
	int quiet;
	int logged;              /* one message per run: a down service must not flood stderr */
};

static void on_log(int error, const char *msg, void *user)
{
	struct hx__shipsink *k = user;
	if (!error || k->quiet || k->logged)
		return;
	k->logged = 1;
	fprintf(stderr, "haruspex: shipping: %s; the events stay in the trace files and are sent when "
	                "the service answers (or later by `hx ship`)\n", msg);
}

static void *ship_thread(void *arg)
{
	struct hx__shipsink *k = arg;
	while (!atomic_load(&k->stop))
		hx_shipper_step(k->s, STEP_MS);
	/* Shutdown: the files are complete; ship what is left, for a bounded time. */
	uint64_t deadline = hx__mono_ns() + k->linger_ms * 1000000u;
	while (hx__mono_ns() < deadline) {
		uint64_t left_ms = (deadline - hx__mono_ns()) / 1000000u;
		hx_shipper_step(k->s, (int)(left_ms < 50 ? left_ms : 50));
		if (hx_shipper_done(k->s))
			break;
	}
	return NULL;
}

int hx__shipsink_start(struct hx__tracer *tr)
{
	struct hx__shipsink *k = calloc(1, sizeof *k);
	if (!k)
		return HX_ENOMEM;
	const char *v = getenv("HARUSPEX_SHIP_LINGER_MS"); /* validated by config.c */
	k->linger_ms = v && *v ? strtoull(v, NULL, 10) : LINGER_DEFAULT_MS;
	k->quiet = tr->cfg.quiet;
	hx_shipper_opts o;
	memset(&o, 0, sizeof o);
	o.dir = tr->dir;
	o.state_dir = tr->dir;
	o.only_instance = tr->instance;
	o.client.url = tr->cfg.ship_to;
	o.client.token = tr->cfg.ship_token;
	o.client.name = tr->program;
	/* a connection attempt must not hold hx_shutdown() much beyond its linger */
	o.client.connect_timeout_ms = k->linger_ms < 1000 ? (uint32_t)(k->linger_ms + 1) : 1000;
	o.client.on_log = on_log;
	o.client.user = k;
	char err[256] = "";
	int rc = hx_shipper_new(&k->s, &o, err, sizeof err);
	if (rc != HX_OK) {
		if (!tr->cfg.quiet)
			fprintf(stderr, "haruspex: tcp sink: %s; events are written to %s only\n",
			        err[0] ? err : hx_strerror(rc), tr->dir);
		free(k);
		return HX_ESINK;
	}
	/* Like the file sink's thread: no signal of the program may run on this thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&k->thread, NULL, ship_thread, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		if (!tr->cfg.quiet)
			fprintf(stderr, "haruspex: tcp sink: cannot start the shipping thread; events are "
			                "written to %s only\n", tr->dir);
		hx_shipper_free(k->s);
		free(k);
		return HX_ESINK;
	}
	tr->ship = k;
	return HX_OK;
}

void hx__shipsink_stop(struct hx__tracer *tr)
{
	struct hx__shipsink *k = tr->ship;
	if (!k)
		return;
	atomic_store(&k->stop, 1);
	pthread_join(k->thread, NULL);
	hx_shipper_free(k->s);
	free(k);
	tr->ship = NULL;
}

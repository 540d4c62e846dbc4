/*
 * ship_kafka.c - `hx ship DIR --to kafka://BROKER[,BROKER...]/TOPIC`: the Kafka shipper
 * (src/lib/kafkasink.h) over a directory of trace files, the same engine as the library's
 * kafka:// sink thread. Positions are saved in the state directory (default DIR, where the sink
 * saves them too) only for events whose messages Kafka acknowledged (acks=all), so a restart
 * neither loses nor repeats events; after a SIGKILLed program, `hx ship --once` sends what its
 * sink had not delivered.
 */
#define _GNU_SOURCE
#include "cli/ship_kafka.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cmd.h"

#if HX_HAVE_KAFKA
#include "lib/kafkasink.h"

#define POLL_MS 200        /* how often the files are looked at while nothing happens */
#define STOP_LINGER_MS 5000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void log_line(const char *msg, void *user)
{
	(void)user;
	fprintf(stderr, "hx ship: %s\n", msg);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int hx__ship_kafka(const char *dir, const char *url, const char *state, int once, int quiet,
                   int tls, int token)
{
	if (tls || token) {
		fprintf(stderr, "hx ship: --tls, --ca and --token apply to tcp:// only; a kafka:// "
		                "destination is reached with the brokers' plaintext listener\n");
		return HX_EXIT_USAGE;
	}
	hx__kship_opts o;
	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.state_dir = state ? state : dir;
	o.url = url;
	o.client_id = "hx-ship";
	o.on_log = quiet ? NULL : log_line;
	char err[512] = "";
	hx__kship *s;
	int rc = hx__kship_new(&s, &o, err, sizeof err);
	if (rc != HX_OK) {
		fprintf(stderr, "hx ship: %s\n", err[0] ? err : hx_strerror(rc));
		return HX_EXIT_USAGE;
	}
	/* A signal only sets the flag; the step's wait ends within POLL_MS. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int status = HX_EXIT_OK;
	uint64_t stop_deadline = 0;
	for (;;) {
		if (stop_requested && !stop_deadline) {
			hx__kship_stop_reading(s);
			stop_deadline = mono_ms() + STOP_LINGER_MS;
		}
		rc = hx__kship_step(s, POLL_MS);
		if (rc == HX_EFORMAT) {
			fprintf(stderr, "hx ship: %s\n", hx__kship_error(s));
			status = HX_EXIT_USAGE;
			break;
		}
		if (rc == HX_EIO || rc == HX_ENOMEM)
			fprintf(stderr, "hx ship: %s\n", hx__kship_error(s)[0] ? hx__kship_error(s) : hx_strerror(rc));
		if (once && hx__kship_done(s))
			break;
		if (stop_deadline && (hx__kship_undelivered(s) == 0 || mono_ms() >= stop_deadline)) {
			if (hx__kship_undelivered(s)) {
				fprintf(stderr, "hx ship: stopped with %zu messages undelivered; their events "
				                "are sent again next time\n", hx__kship_undelivered(s));
				status = HX_EXIT_NO;
			}
			break;
		}
	}
	hx__kship_stats st;
	hx__kship_stats_get(s, &st);
	if (!quiet)
		fprintf(stderr, "hx ship: %llu events delivered in %llu messages, %llu messages produced "
		                "again%s\n", (unsigned long long)st.events_delivered,
		        (unsigned long long)st.messages_delivered, (unsigned long long)st.messages_retried,
		        st.chunks_skipped ? ", damaged chunks skipped" : "");
	if (st.events_refused)
		fprintf(stderr, "hx ship: %llu events the batch format cannot hold were not sent\n",
		        (unsigned long long)st.events_refused);
	hx__kship_free(s);
	return status;
}

#else /* !HX_HAVE_KAFKA */

int hx__ship_kafka(const char *dir, const char *url, const char *state, int once, int quiet,
                   int tls, int token)
{
	(void)dir, (void)state, (void)once, (void)quiet, (void)tls, (void)token;
	fprintf(stderr, "hx ship: %.64s: this hx was built without Kafka support (librdkafka); "
	                "install librdkafka-dev and rebuild\n", url);
	return HX_EXIT_USAGE;
}

#endif

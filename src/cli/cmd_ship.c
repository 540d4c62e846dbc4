/*
 * cmd_ship.c - `hx ship DIR --to tcp://HOST:PORT`: send the events of a directory of trace files
 * to a service (docs/protocol.md), following files still being written, rotated files and files of
 * programs that crashed. Positions are saved in the state directory (default: DIR itself, where
 * the library's tcp:// sink saves them too) only for events the service acknowledged, so a restart
 * neither loses nor repeats events.
 *
 *   --once       ship what is there, exit 0 once all of it is acknowledged
 *   (default)    follow until SIGINT or SIGTERM, then finish what is in flight (for up to 5 s)
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd.h"
#include "cli/ship_kafka.h"
#include "net/ship.h"
#include "net/tls.h"

#define POLL_MS 200        /* how often the files are looked at while nothing happens */
#define STOP_LINGER_MS 5000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void log_line(int error, const char *msg, void *user)
{
	(void)user, (void)error;
	fprintf(stderr, "hx ship: %s\n", msg);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cmd_ship(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"to", required_argument, NULL, 't'},   {"token", required_argument, NULL, 'k'},
		{"tls", no_argument, NULL, 'T'},        {"ca", required_argument, NULL, 'c'},
		{"state", required_argument, NULL, 's'}, {"once", no_argument, NULL, 'o'},
		{"quiet", no_argument, NULL, 'q'},      {NULL, 0, NULL, 0},
	};
	const char *to = NULL, *token = getenv("HARUSPEX_SHIP_TOKEN"), *ca = NULL, *state = NULL;
	int tls = 0, once = 0, quiet = 0, opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 't': to = optarg; break;
		case 'k': token = optarg; break;
		case 'T': tls = 1; break;
		case 'c': ca = optarg; tls = 1; break;
		case 's': state = optarg; break;
		case 'o': once = 1; break;
		case 'q': quiet = 1; break;
		default: return hx__cli_bad_option("ship", argv);
		}
	}
	if (optind != argc - 1 || !to) {
		if (!to)
			fprintf(stderr, "hx ship: --to tcp://HOST:PORT is required\n");
		return hx__cli_usage("ship");
	}
	const char *dir = argv[optind];
	if (!strncmp(to, "kafka://", 8)) /* Kafka: src/cli/ship_kafka.c (a --token from the
	                                    environment is not an option given to it) */
		return hx__ship_kafka(dir, to, state, once, quiet, tls,
		                      token && token != getenv("HARUSPEX_SHIP_TOKEN"));
	char err[512] = "";
	void *tls_cfg = NULL;
	if (tls && !(tls_cfg = hx_tls_config_new(ca, err, sizeof err))) {
		fprintf(stderr, "hx ship: %s\n", err);
		return HX_EXIT_USAGE;
	}
	hx_shipper_opts so;
	memset(&so, 0, sizeof so);
	so.dir = dir;
	so.state_dir = state ? state : dir;
	so.client.url = to;
	so.client.token = token;
	so.client.name = "hx ship";
	so.client.transport = tls ? &hx_transport_tls : NULL;
	so.client.transport_cfg = tls_cfg;
	so.client.on_log = quiet ? NULL : log_line;
	hx_shipper *s;
	int rc = hx_shipper_new(&s, &so, err, sizeof err);
	if (rc != HX_OK) {
		fprintf(stderr, "hx ship: %s\n", err[0] ? err : hx_strerror(rc));
		hx_tls_config_free(tls_cfg);
		return HX_EXIT_USAGE;
	}
	/* A signal only sets the flag; poll() returns early with EINTR (no SA_RESTART). A closed
	 * connection must be an error on its write, not a SIGPIPE (OpenSSL writes with write(2)). */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int status = HX_EXIT_OK;
	uint64_t stop_deadline = 0;
	for (;;) {
		if (stop_requested && !stop_deadline) {
			hx_shipper_stop_reading(s);
			stop_deadline = mono_ms() + STOP_LINGER_MS;
		}
		rc = hx_shipper_step(s, POLL_MS);
		if (rc == HX_EACCES && once) {
			fprintf(stderr, "hx ship: %s: giving up\n", hx_shipper_error(s));
			status = HX_EXIT_USAGE;
			break;
		}
		if (rc == HX_EINVAL || rc == HX_EFORMAT || rc == HX_ENOMEM) {
			fprintf(stderr, "hx ship: %s\n", hx_shipper_error(s)[0] ? hx_shipper_error(s) : hx_strerror(rc));
			status = HX_EXIT_USAGE;
			break;
		}
		if (rc == HX_EIO)
			fprintf(stderr, "hx ship: %s\n", hx_shipper_error(s));
		if (once && hx_shipper_done(s))
			break;
		if (stop_deadline && (hx_shipper_unacked(s) == 0 || mono_ms() >= stop_deadline)) {
			if (hx_shipper_unacked(s)) {
				fprintf(stderr, "hx ship: stopped with %zu batches unacknowledged; they are sent "
				                "again next time\n", hx_shipper_unacked(s));
				status = HX_EXIT_NO;
			}
			break;
		}
	}
	hx_shipper_stats st;
	hx_shipper_stats_get(s, &st);
	if (!quiet)
		fprintf(stderr, "hx ship: %llu events acknowledged in %llu batches, %llu reconnections%s\n",
		        (unsigned long long)st.events_acked, (unsigned long long)st.batches_acked,
		        (unsigned long long)st.reconnects, st.chunks_skipped ? ", damaged chunks skipped" : "");
	if (st.events_refused)
		fprintf(stderr, "hx ship: %llu events the batch format cannot hold were not sent\n",
		        (unsigned long long)st.events_refused);
	hx_shipper_free(s);
	hx_tls_config_free(tls_cfg);
	return status;
}

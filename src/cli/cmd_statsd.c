/*
 * cmd_statsd.c - `hx statsd PATH... --to statsd://HOST:PORT`: metrics from traces, sent to statsd
 * (docs/interchange.md, "statsd"): block durations as timers, points as counters, errors as
 * counters of their block, counter events as gauges. The same engine as the library's statsd://
 * sink (src/lib/statsdsink.h).
 *
 *   (default)    replay: every event of the files, directories or service URLs, then exit
 *   --follow     one local directory: what is there, then what programs add, until SIGINT or
 *                SIGTERM (files still being written, rotated files, new processes)
 *
 * statsd has no timestamps: replayed metrics count as of now. Sends may wait for room in the
 * socket's buffer (this is not the traced program), but UDP still drops what a busy statsd does
 * not read in time.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd.h"
#include "lib/statsdsink.h"

#define POLL_MS 200          /* how often a followed directory is looked at */
#define POLL_EVENTS 65536    /* events per poll at most */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int replay(hx__statsd *s, char **paths, size_t n, uint64_t *damaged)
{
	hx_reader *r;
	/* by time: each entity's events in order, whichever streams hold them */
	int rc = hx__cli_open_paths("statsd", paths, n, HX_ORDER_TIME, &r);
	if (rc)
		return rc;
	hx_event ev;
	while ((rc = hx_reader_next(r, &ev)) == HX_OK) {
		if (hx__statsd_event(s, &ev) != HX_OK) {
			rc = HX_ENOMEM;
			break;
		}
	}
	hx__statsd_flush(s);
	hx_reader_info info;
	hx_reader_info_get(r, &info);
	*damaged = info.chunks_damaged;
	hx_reader_close(r);
	if (rc != HX_EOF) {
		fprintf(stderr, "hx statsd: %s\n", hx_strerror(rc));
		return HX_EXIT_USAGE;
	}
	return HX_EXIT_OK;
}

static int follow(hx__statsd *s, const char *dir)
{
	char err[512] = "";
	int rc = hx__statsd_follow(s, dir, NULL, err, sizeof err);
	if (rc != HX_OK) {
		fprintf(stderr, "hx statsd: %s\n", err[0] ? err : hx_strerror(rc));
		return HX_EXIT_USAGE;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop_requested) {
		long n = hx__statsd_poll(s, POLL_EVENTS);
		if (n == HX_ENOMEM) {
			fprintf(stderr, "hx statsd: out of memory\n");
			return HX_EXIT_USAGE;
		}
		if (n < 0)
			fprintf(stderr, "hx statsd: %s\n", hx__statsd_error(s));
		if (n < POLL_EVENTS) {
			struct timespec ts = {0, POLL_MS * 1000000L};
			nanosleep(&ts, NULL); /* a signal ends it early */
		}
	}
	return HX_EXIT_OK;
}

int cmd_statsd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"to", required_argument, NULL, 't'},
		{"follow", no_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	const char *to = NULL;
	int follow_mode = 0, quiet = 0, opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 't': to = optarg; break;
		case 'f': follow_mode = 1; break;
		case 'q': quiet = 1; break;
		default: return hx__cli_bad_option("statsd", argv);
		}
	}
	if (optind >= argc || !to) {
		if (!to)
			fprintf(stderr, "hx statsd: --to statsd://HOST:PORT is required\n");
		return hx__cli_usage("statsd");
	}
	if (follow_mode && (optind != argc - 1 || hx__cli_is_url(argv[optind]))) {
		fprintf(stderr, "hx statsd: --follow reads one local directory\n");
		return HX_EXIT_USAGE;
	}
	hx__statsd_opts o;
	memset(&o, 0, sizeof o);
	o.url = to;
	o.blocking = 1;
	char err[512] = "";
	hx__statsd *s;
	int rc = hx__statsd_new(&s, &o, err, sizeof err);
	if (rc != HX_OK) {
		fprintf(stderr, "hx statsd: %s\n", err[0] ? err : hx_strerror(rc));
		return HX_EXIT_USAGE;
	}
	uint64_t damaged = 0;
	int status = follow_mode ? follow(s, argv[optind])
	                         : replay(s, argv + optind, (size_t)(argc - optind), &damaged);
	hx__statsd_stats st;
	hx__statsd_stats_get(s, &st);
	if (follow_mode)
		damaged = st.chunks_skipped;
	if (!quiet && status == HX_EXIT_OK) {
		fprintf(stderr, "hx statsd: %llu events, %llu metric lines sent to %s in %llu datagrams\n",
		        (unsigned long long)st.events, (unsigned long long)st.lines_sent,
		        hx__statsd_peer(s), (unsigned long long)st.datagrams_sent);
		if (st.unmatched || st.untracked || st.unended)
			fprintf(stderr, "hx statsd: no timer for %llu block ends without their begin, %llu "
			                "blocks beyond %d open ones, %llu blocks never ended\n",
			        (unsigned long long)st.unmatched, (unsigned long long)st.untracked,
			        HX__STATSD_OPEN_MAX, (unsigned long long)st.unended);
		if (st.skipped)
			fprintf(stderr, "hx statsd: %llu gauges with a NaN or infinite value not sent\n",
			        (unsigned long long)st.skipped);
		if (damaged)
			fprintf(stderr, "hx statsd: %llu damaged chunks skipped (see hx check)\n",
			        (unsigned long long)damaged);
	}
	if (st.datagrams_failed) {
		fprintf(stderr, "hx statsd: %llu datagrams (%llu lines) could not be sent: %s\n",
		        (unsigned long long)st.datagrams_failed, (unsigned long long)st.lines_failed,
		        strerror(st.last_errno));
		if (status == HX_EXIT_OK)
			status = HX_EXIT_NO;
	}
	hx__statsd_free(s);
	return status;
}

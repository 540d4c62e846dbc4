/*
 * serve.c - `hx serve` as a whole: limits, start-up, the budget, signals and the orderly stop.
 *
 * Start-up: open the store, start the commit thread, bind the native listener (ingest loop, this
 * thread) and the HTTP listener (http loop, its own thread), then print
 *     listening native=HOST:PORT http=HOST:PORT
 * on stdout (flushed; scripts read the ports from it when they asked for port 0).
 *
 * Stop (SIGTERM or SIGINT): stop accepting and reading; stop the HTTP loop; let the commit thread
 * finish what was received (one last group commit); write the ACKs of that commit; close every
 * connection once its output is flushed (at most FLUSH_TIMEOUT_S); close the store. A second
 * signal during the flush skips the rest of the wait.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FLUSH_TIMEOUT_S 3
#define QUEUE_MAX 4096u
#define MAX_CONNECTIONS 4096u

void hx__srv_log(const char *fmt, ...)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "hx serve: ");
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

/* ---- limits ---- */

int hx__limits_init(hx__limits *l, const hx__serve_config *cfg, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	uint64_t mem = cfg->memory_limit ? cfg->memory_limit : HX__SERVE_MEMORY_DEFAULT;
	if (mem < HX__SERVE_MEMORY_MIN) {
		snprintf(err, errlen, "--memory-limit must be at least %llu MiB",
		         (unsigned long long)(HX__SERVE_MEMORY_MIN >> 20));
		return -1;
	}
	if (mem > SIZE_MAX / 2)
		mem = SIZE_MAX / 2;
	/* The split: a quarter for what peers make us hold (windows, queued batches), a quarter for
	 * the store's buffer, an eighth each for one inflated frame, one response and one pulled-up
	 * frame, the rest for the process itself and the allocator's slack. */
	uint64_t frame_cap = mem / 8;
	uint64_t frame = cfg->max_frame ? cfg->max_frame : HX_FRAME_MAX_DEFAULT;
	if (!cfg->max_frame && frame > frame_cap)
		frame = frame_cap;
	if (frame > frame_cap) {
		snprintf(err, errlen, "--max-frame %llu is more than an eighth of --memory-limit "
		                      "(at most %llu)", (unsigned long long)frame,
		         (unsigned long long)frame_cap);
		return -1;
	}
	if (frame < 4096) {
		snprintf(err, errlen, "--max-frame must be at least 4096 bytes");
		return -1;
	}
	if (frame > UINT32_MAX)
		frame = UINT32_MAX;
	l->memory_limit = mem;
	l->max_frame = (uint32_t)frame;
	l->inflate_max = (size_t)(mem / 8 < HX_FRAME_INFLATE_MAX ? mem / 8 : HX_FRAME_INFLATE_MAX);
	if (l->inflate_max < l->max_frame)
		l->inflate_max = l->max_frame;
	l->mem_budget = (size_t)(mem / 4);
	l->response_max = (size_t)(mem / 8);
	l->store_memory = mem / 4;
	l->queue_max = QUEUE_MAX;
	l->max_connections = MAX_CONNECTIONS;
	return 0;
}

/* ---- the budget ---- */

void hx__srv_charge(hx__server *srv, size_t n)
{
	atomic_fetch_add(&srv->mem_used, n);
}

void hx__srv_release(hx__server *srv, size_t n)
{
	atomic_fetch_sub(&srv->mem_used, n);
	if (atomic_load(&srv->ingest_paused) && hx__srv_can_resume(srv) && srv->ingest.notify)
		event_active(srv->ingest.notify, EV_READ, 0);
}

int hx__srv_overloaded(hx__server *srv)
{
	return atomic_load(&srv->mem_used) >= srv->lim.mem_budget ||
	       atomic_load(&srv->m.queue_depth) >= srv->lim.queue_max;
}

int hx__srv_can_resume(hx__server *srv)
{
	return atomic_load(&srv->mem_used) <= srv->lim.mem_budget / 4 * 3 &&
	       atomic_load(&srv->m.queue_depth) <= srv->lim.queue_max / 4 * 3;
}

int hx__srv_token_ok(const hx__server *srv, const char *tok, size_t len)
{
	const char *want = srv->cfg.token;
	if (!want)
		return 1;
	size_t n = strlen(want);
	/* the time does not depend on where the first difference is */
	unsigned diff = len != n;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned)(unsigned char)want[i] ^ (unsigned)(i < len ? (unsigned char)tok[i] : 0);
	return diff == 0;
}

/* ---- listening ---- */

/* "1.2.3.4:P" or "[v6]:P", P in 0..65535 (evutil_parse_sockaddr_port refuses port 0). */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, int *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	const char *port = colon + 1;
	unsigned long p = 0;
	if (!*port || strlen(port) > 5)
		return -1;
	for (const char *c = port; *c; c++) {
		if (*c < '0' || *c > '9')
			return -1;
		p = p * 10 + (unsigned long)(*c - '0');
	}
	if (p > 65535)
		return -1;
	size_t hl = (size_t)(colon - addr);
	memcpy(host, addr, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		if (hl < 3 || host[hl - 1] != ']')
			return -1;
		host[hl - 1] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -1;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)p);
	*len = sizeof(*s4);
	return 0;
}

struct evconnlistener *hx__srv_listen(struct event_base *base, const char *addr,
                                      evconnlistener_cb cb, void *arg, char *name,
                                      size_t namelen, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen;
	if (parse_addr(addr, &ss, &sslen)) {
		snprintf(err, errlen, "not an address HOST:PORT (an IP address and a port, 0 for any "
		                      "free one, such as 127.0.0.1:7311 or [::1]:7311)");
		return NULL;
	}
	struct evconnlistener *l = evconnlistener_new_bind(
	    base, cb, arg, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 512,
	    (struct sockaddr *)&ss, sslen);
	if (!l) {
		snprintf(err, errlen, "cannot listen: %s", strerror(errno));
		return NULL;
	}
	if (!cb)
		evconnlistener_disable(l);
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char host[INET6_ADDRSTRLEN] = "?";
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &blen) == 0) {
		if (bound.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&bound;
			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
			snprintf(name, namelen, "%s:%u", host, ntohs(s4->sin_port));
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&bound;
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			snprintf(name, namelen, "[%s]:%u", host, ntohs(s6->sin6_port));
		}
	} else {
		snprintf(name, namelen, "%s", addr);
	}
	return l;
}

/* ---- signals and stopping ---- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	hx__server *srv = arg;
	if (atomic_exchange(&srv->stopping, 1)) {
		/* second signal: stop waiting for connections to flush */
		event_base_loopbreak(srv->ingest.base);
		return;
	}
	hx__srv_log("%s: stopping (finishing the current commit)", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopbreak(srv->ingest.base);
}

static void on_flush_timeout(evutil_socket_t fd, short what, void *arg)
{
	hx__server *srv = arg;
	event_base_loopbreak(srv->ingest.base);
}

static void *http_main(void *arg)
{
	hx__server *srv = arg;
	event_base_loop(srv->http.base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void stop(hx__server *srv)
{
	hx__ingest_stop_accepting(srv);
	atomic_store(&srv->ingest_paused, 0);
	hx__ingest_pause_all(srv);   /* with stopping set, nothing resumes */
	if (srv->http_running) {
		event_base_loopbreak(srv->http.base);
		pthread_join(srv->http_thread, NULL);
		srv->http_running = 0;
	}
	hx__viewer_stop(srv); /* a model being built sees `stopping` and gives up */
	hx__commit_stop(srv);
	hx__loop_drain(&srv->ingest); /* the last ACKs */
	hx__kafka_ingest_stop(srv);   /* and the last Kafka offsets */
	hx__ingest_close_all(srv);
	if (srv->nconns) {
		struct timeval tv = {FLUSH_TIMEOUT_S, 0};
		srv->stop_timer = evtimer_new(srv->ingest.base, on_flush_timeout, srv);
		if (srv->stop_timer)
			evtimer_add(srv->stop_timer, &tv);
		event_base_loop(srv->ingest.base, EVLOOP_NO_EXIT_ON_EMPTY);
	}
}

static void server_free(hx__server *srv)
{
	hx__extract_stop(srv); /* its thread reads the store */
	hx__ingest_stop_accepting(srv);
	hx__http_free(srv);
	hx__viewer_free(srv); /* after evhttp: its requests are gone */
	hx__loop_drain(&srv->http); /* POSTs whose requests went with evhttp: nothing to answer */
	hx__loop_drain(&srv->ingest);
	if (srv->stop_timer)
		event_free(srv->stop_timer);
	if (srv->sig_term)
		event_free(srv->sig_term);
	if (srv->sig_int)
		event_free(srv->sig_int);
	hx__loop_free(&srv->ingest);
	hx__loop_free(&srv->http);
	hx_store_close(srv->store);
	hx__tls_ctx_free(srv->tls);
	pthread_mutex_destroy(&srv->store_lock);
	free(srv);
}

int hx__serve_run(const hx__serve_config *cfg)
{
	char err[512];
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads()) {
		hx__srv_log("libevent has no thread support");
		return 2;
	}
	hx__server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		hx__srv_log("out of memory");
		return 2;
	}
	srv->cfg = *cfg;
	hx__metrics_init(&srv->m);
	pthread_mutex_init(&srv->store_lock, NULL);
	if (hx__limits_init(&srv->lim, cfg, err, sizeof(err))) {
		hx__srv_log("%s", err);
		goto fail_early;
	}
	if (cfg->tls_cert) {
		srv->tls = hx__tls_server_ctx(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
		if (!srv->tls) {
			hx__srv_log("TLS: %s", err);
			goto fail_early;
		}
	}
	hx_store_config sc;
	memset(&sc, 0, sizeof(sc));
	sc.dir = cfg->data_dir;
	sc.max_bytes = cfg->retention_bytes;
	sc.max_age_ns = cfg->retention_age_ns;
	sc.memory_limit = srv->lim.store_memory;
	int rc = hx_store_open(&srv->store, cfg->data_dir, &sc);
	if (rc != HX_OK) {
		hx__srv_log("cannot open the store in %s: %s", cfg->data_dir, hx_strerror(rc));
		srv->store = NULL;
		goto fail_early;
	}
	hx_store_info info;
	if (hx_store_info_get(srv->store, &info) == HX_OK) {
		srv->store_concurrent = info.concurrent_reads;
		atomic_store(&srv->m.store_bytes, info.bytes);
		atomic_store(&srv->m.store_events, info.events);
		atomic_store(&srv->m.store_traces, info.traces);
	}
	if (hx__loop_init(&srv->ingest, srv) || hx__loop_init(&srv->http, srv)) {
		hx__srv_log("cannot create the event loops");
		goto fail_early;
	}
	if (hx__commit_start(srv)) {
		hx__srv_log("cannot start the commit thread");
		goto fail_early;
	}
	if (hx__extract_start(srv))
		goto fail_early;
	srv->m.kafka = cfg->kafka_url != NULL;
	atomic_store(&srv->m.kafka_lag, -1);
	if (cfg->no_native) /* hx view */
		snprintf(srv->native_addr, sizeof(srv->native_addr), "off");
	if ((!cfg->no_native && hx__ingest_start(srv)) || hx__viewer_start(srv) ||
	    hx__http_start(srv) || (!cfg->no_native && hx__kafka_ingest_start(srv)))
		goto fail;
	if (pthread_create(&srv->http_thread, NULL, http_main, srv)) {
		hx__srv_log("cannot start the HTTP thread");
		goto fail;
	}
	srv->http_running = 1;
	srv->sig_term = evsignal_new(srv->ingest.base, SIGTERM, on_signal, srv);
	srv->sig_int = evsignal_new(srv->ingest.base, SIGINT, on_signal, srv);
	if (!srv->sig_term || !srv->sig_int || evsignal_add(srv->sig_term, NULL) ||
	    evsignal_add(srv->sig_int, NULL)) {
		hx__srv_log("cannot install the signal handlers");
		goto fail;
	}
	/* hx view loaded its files straight into the store, past the completeness tracker: every
	 * trace is complete already, so their features are extracted now, before the URL is given,
	 * and the aggregate and dependency pages answer at once. */
	if (cfg->no_native && (rc = hx__extract_all_now(srv)) < 0)
		hx__srv_log("analysis: cannot extract the loaded traces: %s", hx_strerror(rc));
	if (cfg->warm_trace && (rc = hx__viewer_warm(srv, cfg->warm_trace)) != HX_OK)
		hx__srv_log("viewer: cannot build the model of the largest trace: %s", hx_strerror(rc));
	if (cfg->ready) {
		cfg->ready(srv->http_addr, cfg->ready_arg);
	} else {
		printf("listening native=%s http=%s\n", srv->native_addr, srv->http_addr);
		fflush(stdout);
	}
	hx__srv_log("store %s (%s), %llu events; native %s%s, HTTP %s%s; memory limit %llu MiB",
	            cfg->data_dir, info.backend ? info.backend : "?",
	            (unsigned long long)atomic_load(&srv->m.store_events), srv->native_addr,
	            srv->tls ? " (TLS)" : "", srv->http_addr, cfg->token ? ", token required" : "",
	            (unsigned long long)(srv->lim.memory_limit >> 20));

	event_base_loop(srv->ingest.base, EVLOOP_NO_EXIT_ON_EMPTY);
	stop(srv);
	hx__srv_log("stopped: %llu events received, %llu stored, %llu duplicates, %llu batches "
	            "acknowledged", (unsigned long long)atomic_load(&srv->m.events_received),
	            (unsigned long long)atomic_load(&srv->m.events_stored),
	            (unsigned long long)atomic_load(&srv->m.events_duplicate),
	            (unsigned long long)atomic_load(&srv->m.batches_acked));
	server_free(srv);
	return 0;

fail:
	atomic_store(&srv->stopping, 1);
	stop(srv);
	server_free(srv);
	return 2;
fail_early:
	hx__commit_stop(srv);
	server_free(srv);
	return 2;
}

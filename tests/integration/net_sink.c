/*
 * net_sink.c - shipping end to end: the tcp:// sink of libharuspex and `hx ship`, against a small
 * test server (below) that speaks the native protocol with the real codec (src/net/proto.h),
 * "stores" every event it receives by appending its ID to a file before it sends the ACK (so a
 * killed server keeps what it acknowledged, like the real one), and can be told to misbehave:
 * drop a connection after storing a batch without acknowledging it, answer the first HELLO with
 * garbage, require a token, acknowledge slowly, or be killed and started again.
 *
 * Every case checks the same thing at the end: every event in the trace files is in the store
 * (nothing lost) and the store holds nothing else; duplicates are allowed only where a batch was
 * in flight, and a second `hx ship --once` adds nothing (nothing repeated).
 *
 * The server is replaced by `hx serve` once it exists; this one keeps the client honest meanwhile.
 */
#include "../hxtest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "net/proto.h"

/* ---- the test server ---- */

typedef struct srv_opts {
	int port;
	const char *store;        /* file of "entity seq" lines */
	int drop_at;              /* store the Nth batch, then close without ACK (0: never) */
	int garbage_first;        /* answer the first HELLO with garbage */
	const char *token;        /* required token, NULL: none */
	int ack_delay_ms;         /* before each ACK */
} srv_opts;

struct sconn {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	int hello;
};

static void send_frame(int fd, hx_frame_type t, const uint8_t *p, uint32_t n)
{
	uint8_t h[HX_FRAME_HEADER_BYTES];
	hx_frame_header(h, t, 0, p, n);
	if (write(fd, h, sizeof h) != (ssize_t)sizeof h || (n && write(fd, p, n) != (ssize_t)n))
		return; /* the client went away: its next read tells it */
}

struct store_buf {
	char *p;
	size_t len, cap;
};

static int store_event(const hx_event *ev, void *user)
{
	struct store_buf *b = user;
	if (b->len + 64 > b->cap) {
		b->cap = (b->cap + 64) * 2;
		b->p = hxt_xrealloc(b->p, b->cap);
	}
	b->len += (size_t)sprintf(b->p + b->len, "%016" PRIx64 " %" PRIu64 "\n", ev->entity_id, ev->seq);
	return 0;
}

/* Handle the frames in c's buffer. Returns -1 to close the connection. */
static int serve_frames(const srv_opts *o, struct sconn *c, int store_fd, int *batches, int *hellos)
{
	for (;;) {
		hx_frame f;
		hx_proto_reason why;
		long n = hx_frame_parse(c->buf, c->len, HX_FRAME_MAX_DEFAULT, &f, &why);
		if (n < 0) {
			uint8_t e[64];
			size_t el = hx_error_encode(e, sizeof e, why, "bad frame");
			send_frame(c->fd, HX_FRAME_ERROR, e, (uint32_t)el);
			return -1;
		}
		if (n == 0)
			return 0;
		if (f.type == HX_FRAME_HELLO) {
			hx_hello h;
			if (hx_hello_parse(f.payload, f.len, &h))
				return -1;
			if (o->garbage_first && (*hellos)++ == 0) {
				static const char junk[] = "HTTP/1.1 400 Bad Request\r\n\r\nnot what you expected";
				if (write(c->fd, junk, sizeof junk - 1) < 0)
					return -1;
				return -1;
			}
			if (o->token && (h.token_len != strlen(o->token) || memcmp(h.token, o->token, h.token_len))) {
				uint8_t e[64];
				size_t el = hx_error_encode(e, sizeof e, HX_REASON_UNAUTHORIZED, "wrong token");
				send_frame(c->fd, HX_FRAME_ERROR, e, (uint32_t)el);
				return -1;
			}
			uint8_t w[8];
			hx_welcome_encode(w, HX_FRAME_MAX_DEFAULT, HX_PROTO_VERSION);
			send_frame(c->fd, HX_FRAME_WELCOME, w, 8);
			c->hello = 1;
		} else if (f.type == HX_FRAME_BATCH && c->hello) {
			uint64_t seq;
			hx_batch_info bi;
			struct store_buf sb = {0};
			if (f.len < 8 || hx_u64_parse(f.payload, 8, &seq) ||
			    hx_batch_parse(f.payload + 8, f.len - 8, &bi, &why) ||
			    hx_batch_events(&bi, store_event, &sb, &why)) {
				free(sb.p);
				return -1;
			}
			if (sb.len && write(store_fd, sb.p, sb.len) != (ssize_t)sb.len)
				_exit(3);
			free(sb.p);
			if (o->drop_at && ++*batches == o->drop_at)
				return -1; /* stored, never acknowledged: the client must resend */
			if (o->ack_delay_ms)
				poll(NULL, 0, o->ack_delay_ms);
			uint8_t a[8];
			hx_u64_encode(a, seq);
			send_frame(c->fd, HX_FRAME_ACK, a, 8);
		} else if (f.type == HX_FRAME_PING) {
			send_frame(c->fd, HX_FRAME_PONG, f.payload, f.len);
		} else if (f.type != HX_FRAME_PONG) {
			return -1;
		}
		memmove(c->buf, c->buf + n, c->len - (size_t)n);
		c->len -= (size_t)n;
	}
}

static void serve(const srv_opts *o, int ready_fd)
{
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; bind(ls, (struct sockaddr *)&sa, sizeof sa); i++) {
		if (i > 200)
			_exit(2);
		poll(NULL, 0, 10);
	}
	if (listen(ls, 64))
		_exit(2);
	int store_fd = open(o->store, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (store_fd < 0 || write(ready_fd, "r", 1) != 1)
		_exit(2);
	close(ready_fd);
	struct sconn conns[16];
	size_t nconns = 0;
	int batches = 0, hellos = 0;
	for (;;) {
		struct pollfd pfd[17];
		pfd[0] = (struct pollfd){ls, POLLIN, 0};
		for (size_t i = 0; i < nconns; i++)
			pfd[i + 1] = (struct pollfd){conns[i].fd, POLLIN, 0};
		if (poll(pfd, nconns + 1, -1) < 0)
			continue;
		if ((pfd[0].revents & POLLIN) && nconns < 16) {
			int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				conns[nconns++] = (struct sconn){fd, NULL, 0, 0, 0};
		}
		for (size_t i = 0; i < nconns; i++) {
			if (!(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct sconn *c = &conns[i];
			if (c->cap - c->len < 65536) {
				c->cap = c->cap ? c->cap * 2 : 1 << 20;
				c->buf = hxt_xrealloc(c->buf, c->cap);
			}
			ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
			int drop = n <= 0;
			if (n > 0) {
				c->len += (size_t)n;
				drop = serve_frames(o, c, store_fd, &batches, &hellos) < 0;
			}
			if (drop) {
				close(c->fd);
				free(c->buf);
				conns[i] = conns[--nconns];
				pfd[i + 1] = pfd[nconns + 1];
				i--;
			}
		}
	}
}

static pid_t g_server = -1; /* the running test server: teardown kills it if a test failed */

static pid_t server_start(const srv_opts *o)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		serve(o, p[1]);
		_exit(0);
	}
	close(p[1]);
	g_server = pid;
	char r;
	assert_int_equal(read(p[0], &r, 1), 1); /* listening */
	close(p[0]);
	return pid;
}

static void server_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	g_server = -1;
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof sa;
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &l), 0);
	close(s);
	return ntohs(sa.sin_port);
}

/* ---- event IDs: the files against the store ---- */

typedef struct id {
	uint64_t entity, seq;
} id;

typedef struct ids {
	id *v;
	size_t n;
} ids;

static int id_cmp(const void *a, const void *b)
{
	const id *x = a, *y = b;
	if (x->entity != y->entity)
		return x->entity < y->entity ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static ids read_store(const char *path)
{
	ids r = {0};
	FILE *f = fopen(path, "r");
	if (!f)
		return r;
	size_t cap = 0;
	unsigned long long e, s;
	while (fscanf(f, "%llx %llu", &e, &s) == 2) {
		if (r.n == cap) {
			cap = cap ? cap * 2 : 1024;
			r.v = hxt_xrealloc(r.v, cap * sizeof *r.v);
		}
		r.v[r.n++] = (id){e, s};
	}
	fclose(f);
	if (r.n)
		qsort(r.v, r.n, sizeof *r.v, id_cmp);
	return r;
}

static ids read_files(const char *dir)
{
	hxt_events evs = {0};
	hxt_read_result res;
	assert_int_equal(hxt_read_all(dir, HX_ORDER_STREAM, &evs, &res, 1), HX_OK);
	assert_int_equal(res.damage, 0);
	ids r = {hxt_xmalloc((evs.n + 1) * sizeof(id)), evs.n};
	for (size_t i = 0; i < evs.n; i++)
		r.v[i] = (id){evs.v[i].ev.entity_id, evs.v[i].ev.seq};
	hxt_events_free(&evs);
	if (r.n)
		qsort(r.v, r.n, sizeof *r.v, id_cmp);
	return r;
}

/* Every file event is stored, nothing else is; returns the number of duplicates in the store. */
static size_t check_store(const char *dir, const char *store, size_t *nfile_events)
{
	ids want = read_files(dir), got = read_store(store);
	size_t dups = 0, j = 0;
	for (size_t i = 0; i < got.n; i++) {
		if (i > 0 && !id_cmp(&got.v[i], &got.v[i - 1])) {
			dups++;
			continue;
		}
		while (j < want.n && id_cmp(&want.v[j], &got.v[i]) < 0) {
			fail_msg("event %016" PRIx64 "/%" PRIu64 " is in the files, not in the store",
			         want.v[j].entity, want.v[j].seq);
		}
		if (j >= want.n || id_cmp(&want.v[j], &got.v[i]))
			fail_msg("the store has %016" PRIx64 "/%" PRIu64 ", which no file holds",
			         got.v[i].entity, got.v[i].seq);
		j++;
	}
	if (j < want.n)
		fail_msg("%zu events of the files are not in the store (first %016" PRIx64 "/%" PRIu64 ")",
		         want.n - j, want.v[j].entity, want.v[j].seq);
	*nfile_events = want.n;
	free(want.v);
	free(got.v);
	return dups;
}

static size_t store_lines(const char *store)
{
	ids s = read_store(store);
	free(s.v);
	return s.n;
}

/* ---- traced programs and hx ship ---- */

typedef struct prog {
	const char *dir, *url;   /* url NULL: the file sink */
	int events;              /* per thread; 0: until killed */
	int sleep_every, sleep_us;
	const char *linger_ms;
} prog;

static void *prog_thread(void *arg)
{
	const prog *p = arg;
	for (int i = 0; p->events == 0 || i < p->events; i++) {
		HX_POINT_WITH("work", HX_INT("i", i), HX_STR("what", "a string attribute"));
		if (i % 10 == 0) {
			hx_block_begin("step");
			hx_block_end();
		}
		if (p->sleep_every && i % p->sleep_every == 0)
			usleep((useconds_t)p->sleep_us);
	}
	return NULL;
}

static pid_t prog_start(const prog *p)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid)
		return pid;
	if (p->linger_ms)
		setenv("HARUSPEX_SHIP_LINGER_MS", p->linger_ms, 1);
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = p->dir;
	cfg.chunk_bytes = 4096; /* many chunks: chunk boundaries are where following is subtle */
	cfg.quiet = 1;
	if (p->url) {
		cfg.sink = HX_SINK_TCP;
		cfg.ship_to = p->url;
	}
	if (hx_init(&cfg) != HX_OK)
		_exit(4);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, prog_thread, (void *)p);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	hx_shutdown();
	_exit(0);
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		poll(NULL, 0, 10);
	}
}

/* hx ship DIR --to URL [extra...] in the background */
static pid_t ship_start(const char *dir, const char *url, const char *a1, const char *a2,
                        const char *a3)
{
	const char *hx = getenv("HX");
	assert_non_null(hx);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *argv[10] = {hx, "ship", dir, "--to", url, "--quiet"};
		int n = 6;
		if (a1)
			argv[n++] = a1;
		if (a2)
			argv[n++] = a2;
		if (a3)
			argv[n++] = a3;
		argv[n] = NULL;
		execv(hx, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int ship_once(const char *dir, const char *url, const char *a1, const char *a2)
{
	return wait_exit(ship_start(dir, url, "--once", a1, a2), 60000);
}

/* ---- fixture ---- */

typedef struct fx {
	char root[512], dir[600], store[600], url[64];
	int port;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (!f || hxt_mkdtemp(f->root, sizeof f->root, "net"))
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/traces", f->root);
	snprintf(f->store, sizeof f->store, "%s/store.txt", f->root);
	mkdir(f->dir, 0755);
	f->port = free_port();
	snprintf(f->url, sizeof f->url, "tcp://127.0.0.1:%d", f->port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	if (g_server > 0)
		server_kill(g_server);
	hxt_rmrf(f->root);
	free(f);
	return 0;
}


/* ---- the cases ---- */

/* The tcp sink ships everything before hx_shutdown() returns, saves its position, and hx ship
 * resumes from that position: it sends nothing again. */
static void test_sink_ships(void **state)
{
	fx *f = *state;
	srv_opts so = {f->port, f->store, 0, 0, NULL, 0};
	pid_t srv = server_start(&so);
	prog p = {f->dir, f->url, HXT_SANITIZED ? 2000 : 5000, 0, 0, "10000"};
	assert_int_equal(wait_exit(prog_start(&p), 60000), 0);
	size_t n, dups = check_store(f->dir, f->store, &n);
	assert_true(n >= (size_t)(2 * p.events));
	assert_int_equal(dups, 0);
	assert_true(hxt_has_ship_state(f->dir));
	size_t lines = store_lines(f->store);
	assert_int_equal(ship_once(f->dir, f->url, NULL, NULL), 0);
	assert_int_equal(store_lines(f->store), lines);
	server_kill(srv);
}

/* The service dies and comes back, and drops a connection after storing a batch it never
 * acknowledges: nothing is lost, the resent batch is tolerated as duplicates. */
static void test_server_restarts(void **state)
{
	fx *f = *state;
	srv_opts so = {f->port, f->store, 2, 0, NULL, 0};
	pid_t srv = server_start(&so);
	prog p = {f->dir, f->url, 3000, 100, 20000, "15000"};
	pid_t pr = prog_start(&p);
	poll(NULL, 0, 400);
	server_kill(srv);
	poll(NULL, 0, 500);
	so.drop_at = 0;
	srv = server_start(&so);
	assert_int_equal(wait_exit(pr, 60000), 0);
	size_t n;
	check_store(f->dir, f->store, &n);
	assert_true(n >= 6000);
	server_kill(srv);
}

/* A program SIGKILLed while its sink ships: `hx ship --once` sends the rest, from the position
 * the sink saved; then a second run sends nothing. */
static void test_sigkill_then_ship(void **state)
{
	fx *f = *state;
	srv_opts so = {f->port, f->store, 0, 0, NULL, 0};
	pid_t srv = server_start(&so);
	prog p = {f->dir, f->url, 0, 50, 2000, NULL};
	pid_t pr = prog_start(&p);
	for (int i = 0; i < 500 && !hxt_has_ship_state(f->dir); i++)
		poll(NULL, 0, 10); /* the sink has had at least one batch acknowledged */
	assert_true(hxt_has_ship_state(f->dir));
	poll(NULL, 0, 200);
	kill(pr, SIGKILL);
	waitpid(pr, NULL, 0);
	size_t before = store_lines(f->store);
	assert_int_equal(ship_once(f->dir, f->url, NULL, NULL), 0);
	size_t n, dups = check_store(f->dir, f->store, &n);
	size_t sent = store_lines(f->store) - before;
	assert_true(sent < n);       /* it resumed: it did not send everything again */
	assert_true(dups <= sent);
	size_t lines = store_lines(f->store);
	assert_int_equal(ship_once(f->dir, f->url, NULL, NULL), 0);
	assert_int_equal(store_lines(f->store), lines);
	server_kill(srv);
}

/* hx ship killed in the middle restarts from its saved state: no loss, and it does not start
 * over. The files here come from the file sink (a program that already ended). */
static void test_ship_restart(void **state)
{
	fx *f = *state;
	prog p = {f->dir, NULL, HXT_SANITIZED ? 20000 : 40000, 0, 0, NULL};
	assert_int_equal(wait_exit(prog_start(&p), 60000), 0);
	srv_opts so = {f->port, f->store, 0, 0, NULL, 150};
	pid_t srv = server_start(&so);
	pid_t sh = ship_start(f->dir, f->url, NULL, NULL, NULL);
	for (int i = 0; i < 1000 && !hxt_has_ship_state(f->dir); i++)
		poll(NULL, 0, 5);
	assert_true(hxt_has_ship_state(f->dir));
	kill(sh, SIGKILL);
	waitpid(sh, NULL, 0);
	server_kill(srv);
	size_t before = store_lines(f->store);
	assert_true(before > 0);
	so.ack_delay_ms = 0;
	srv = server_start(&so);
	assert_int_equal(ship_once(f->dir, f->url, NULL, NULL), 0);
	size_t n;
	check_store(f->dir, f->store, &n);
	assert_true(store_lines(f->store) - before < n);
	size_t lines = store_lines(f->store);
	assert_int_equal(ship_once(f->dir, f->url, NULL, NULL), 0);
	assert_int_equal(store_lines(f->store), lines);
	/* a follower stopped by SIGTERM exits cleanly, everything acknowledged */
	pid_t follower = ship_start(f->dir, f->url, NULL, NULL, NULL);
	poll(NULL, 0, 300);
	kill(follower, SIGTERM);
	assert_int_equal(wait_exit(follower, 10000), 0);
	assert_int_equal(store_lines(f->store), lines);
	server_kill(srv);
}

/* Garbage instead of a WELCOME is a failed connection like any other; a wrong token is refused. */
static void test_garbage_and_token(void **state)
{
	fx *f = *state;
	prog p = {f->dir, NULL, 1000, 0, 0, NULL};
	assert_int_equal(wait_exit(prog_start(&p), 60000), 0);
	srv_opts so = {f->port, f->store, 0, 1, "letmein", 0};
	pid_t srv = server_start(&so);
	assert_int_equal(ship_once(f->dir, f->url, "--token", "wrong"), 2);
	assert_int_equal(store_lines(f->store), 0);
	assert_int_equal(ship_once(f->dir, f->url, "--token", "letmein"), 0);
	size_t n, dups = check_store(f->dir, f->store, &n);
	assert_int_equal(dups, 0);
	assert_true(n >= 2000);
	server_kill(srv);
	/* bad usage and a bad address are refused with status 2 */
	assert_int_equal(ship_once(f->dir, "http://x:1", NULL, NULL), 2);
	assert_int_equal(ship_once("/nonexistent-hx-dir", f->url, NULL, NULL), 2);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sink_ships, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_restarts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_then_ship, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ship_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_token, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

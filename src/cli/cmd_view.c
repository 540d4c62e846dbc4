/*
 * cmd_view.c - `hx view PATH...`: the web viewer over trace files (docs/operations.md, "Looking at
 * a trace in the browser: hx view").
 *
 * The viewer is the one `hx serve` carries (src/server/: the same endpoints, the same model cache,
 * the same embedded page), so `hx view` only puts the files where that service finds them: it
 * reads the paths as every command does (files, directories, http:// URLs), aligns the hosts'
 * clocks, loads every traced event into a store in a temporary directory (or --data DIR, kept),
 * remembers the clock offset applied to each process (the viewer shows original times), and then
 * runs the service with HTTP only: no native listener, bound to 127.0.0.1 on a free port unless
 * --http says otherwise, and never with a token (so a plain browser opens it: anyone who can
 * connect to that address can read the traces, hence the loopback default). Before announcing
 * itself it has the model of the largest trace ready, so the first page opens at once: built in
 * the same pass that loads the store (view_warm.c, which is why the files are read in time
 * order), or, when the first trace read is not the largest, by the service from the store. Then
 * it prints exactly one line on stdout,
 *     hx view: http://127.0.0.1:PORT/
 * and opens a browser on it unless --no-open. SIGTERM or SIGINT stops it; the temporary store is
 * removed at exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/view_warm.h"
#include "server/server.h"

#define VIEW_HTTP_DEFAULT "127.0.0.1:0"
#define VIEW_CACHE_DEFAULT (1ull << 30)
#define GROUP_EVENTS 8192u          /* events per hx_store_append */
#define GROUP_BYTES (4u << 20)      /* or this many bytes of copies */
#define SIGNAL_CHECK_EVERY 4096u

extern char **environ;

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* ---- traces seen while loading: events per trace ID, to pick the largest ---- */

typedef struct tcount {
	uint8_t id[16];
	uint64_t n;
	int used;
} tcount;

typedef struct tcounts {
	tcount *v;
	size_t cap, n;
} tcounts;

static size_t id_hash(const uint8_t id[16], size_t mask)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 16; i++)
		h = (h ^ id[i]) * 1099511628211ull;
	return (size_t)(h ^ h >> 29) & mask;
}

static int tcounts_add(tcounts *t, const uint8_t id[16])
{
	if (2 * (t->n + 1) > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		tcount *v = calloc(cap, sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].used) {
				size_t j = id_hash(t->v[i].id, cap - 1);
				while (v[j].used)
					j = (j + 1) & (cap - 1);
				v[j] = t->v[i];
			}
		free(t->v);
		t->v = v;
		t->cap = cap;
	}
	size_t j = id_hash(id, t->cap - 1);
	while (t->v[j].used && memcmp(t->v[j].id, id, 16))
		j = (j + 1) & (t->cap - 1);
	if (!t->v[j].used) {
		t->v[j].used = 1;
		memcpy(t->v[j].id, id, 16);
		t->n++;
	}
	t->v[j].n++;
	return HX_OK;
}

/* ---- loading ---- */

typedef struct loader {
	hx_reader *r;
	hx_store *store;
	hx__evcopy group;            /* traced events waiting for hx_store_append */
	size_t *gproc;               /* the reader's process of each event in group */
	size_t gproc_cap, nproc;     /* nproc: 1 + the largest process index in group */
	hx_event *part;              /* flush: group regrouped by process */
	size_t part_cap;
	size_t *pend;                /* flush: where each process's events end in part */
	size_t pend_cap;
	hx__evcopy names;            /* untraced events that name entities (cfg.entity_events) */
	uint64_t events;             /* traced events read */
	uint64_t duplicates;         /* events the store had already */
	tcounts traces;
	hx__view_warm *warm;         /* the model of the first trace read */
} loader;

static int append_proc(loader *l, size_t proc, const hx_event *ev, size_t n)
{
	const hx_process_info *p = hx_reader_process(l->r, proc);
	hx_store_proc sp;
	memset(&sp, 0, sizeof(sp));
	if (p) {
		memcpy(sp.instance, p->instance, 16);
		sp.pid = p->pid;
	}
	sp.host = p && p->host ? p->host : "";
	sp.service = p && p->service ? p->service : "";
	sp.program = p && p->program ? p->program : "";
	size_t dup = 0;
	int rc = hx_store_append(l->store, &sp, ev, n, NULL, &dup);
	l->duplicates += dup;
	return rc;
}

/* In time order the processes' events interleave, and an append takes one process's: the group
 * goes to the store split by process (a stable counting sort), each in the reader's order. */
static int flush(loader *l)
{
	size_t n = l->group.n, np = l->nproc;
	if (!n)
		return HX_OK;
	if (l->part_cap < n) {
		hx_event *v = realloc(l->part, n * sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		l->part = v;
		l->part_cap = n;
	}
	if (l->pend_cap < np + 1) {
		size_t *v = realloc(l->pend, (np + 1) * sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		l->pend = v;
		l->pend_cap = np + 1;
	}
	memset(l->pend, 0, (np + 1) * sizeof(*l->pend));
	for (size_t i = 0; i < n; i++)
		l->pend[l->gproc[i] + 1]++;
	for (size_t p = 0; p < np; p++)
		l->pend[p + 1] += l->pend[p];
	/* pend[p] is where p's events start; once placed, where they end */
	for (size_t i = 0; i < n; i++)
		l->part[l->pend[l->gproc[i]]++] = l->group.ev[i];
	int rc = HX_OK;
	for (size_t p = 0, start = 0; p < np && rc == HX_OK; start = l->pend[p], p++)
		if (l->pend[p] > start)
			rc = append_proc(l, p, l->part + start, l->pend[p] - start);
	hx__evcopy_reset(&l->group);
	l->nproc = 0;
	return rc;
}

static int load_events(loader *l)
{
	static const uint8_t zero[16];
	hx_event ev;
	int rc;
	uint64_t n = 0;
	while ((rc = hx_reader_next(l->r, &ev)) == HX_OK) {
		if (++n % SIGNAL_CHECK_EVERY == 0 && got_signal)
			return HX_ESTATE;
		if (!memcmp(ev.trace_id, zero, 16)) {
			/* the viewer shows traces; events outside any trace have no page, but those that
			 * name an entity give its lane a name */
			if ((ev.kind == HX_EV_ENTITY_BEGIN ||
			     (ev.kind == HX_EV_ANNOTATE && ev.target == HX_TARGET_ENTITY)) &&
			    (rc = hx__evcopy_add(&l->names, &ev)) != HX_OK)
				return rc;
			continue;
		}
		size_t proc = hx_reader_event_process(l->r);
		if ((l->group.n >= GROUP_EVENTS || l->group.bytes >= GROUP_BYTES) &&
		    (rc = flush(l)) != HX_OK)
			return rc;
		if (l->group.n == l->gproc_cap) {
			size_t cap = l->gproc_cap ? 2 * l->gproc_cap : 1024;
			size_t *v = realloc(l->gproc, cap * sizeof(*v));
			if (!v)
				return HX_ENOMEM;
			l->gproc = v;
			l->gproc_cap = cap;
		}
		l->gproc[l->group.n] = proc;
		l->nproc = proc + 1 > l->nproc ? proc + 1 : l->nproc;
		if ((rc = hx__evcopy_add(&l->group, &ev)) != HX_OK ||
		    (rc = tcounts_add(&l->traces, ev.trace_id)) != HX_OK)
			return rc;
		hx__view_warm_event(l->warm, &ev, proc);
		l->events++;
	}
	if (rc != HX_EOF)
		return rc;
	if ((rc = flush(l)) != HX_OK)
		return rc;
	if (l->duplicates)
		hx__view_warm_give_up(l->warm);
	return hx_store_commit(l->store);
}

/* What clock alignment added to each process: its host's offset. */
static hx__clock_entry *clock_table(hx_reader *r, size_t *n)
{
	const hx_clock_offset *hosts;
	size_t nhosts = hx_reader_clock_offsets(r, &hosts);
	size_t np = hx_reader_processes(r);
	hx__clock_entry *t = calloc(np ? np : 1, sizeof(*t));
	if (!t)
		return NULL;
	for (size_t i = 0; i < np; i++) {
		const hx_process_info *p = hx_reader_process(r, i);
		size_t h = hx_reader_process_host(r, i);
		memcpy(t[i].instance, p->instance, 16);
		t[i].pid = p->pid;
		t[i].offset_ns = h < nhosts ? hosts[h].offset_ns : 0;
	}
	*n = np;
	return t;
}

/* ---- the temporary store ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static char *make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "%s/hx-view.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpl))
		return NULL;
	return strdup(tmpl);
}

/* ---- ready: the one line, and the browser ---- */

typedef struct ready_ctx {
	int open;
	pid_t browser;
} ready_ctx;

static void open_browser(ready_ctx *c, const char *url)
{
	const char *browser = getenv("BROWSER");
	const char *prog = browser && *browser ? browser : "xdg-open";
	if (!(browser && *browser) && !getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) {
		fprintf(stderr, "hx view: no display to open a browser on: open %s\n", url);
		return;
	}
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa))
		return;
	/* the browser must not write into our stdout, which holds exactly one line */
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	char *argv[] = {(char *)prog, (char *)url, NULL};
	int rc = posix_spawnp(&c->browser, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		c->browser = 0;
		fprintf(stderr, "hx view: cannot run %s (%s): open %s\n", prog, strerror(rc), url);
	}
}

static void on_ready(const char *http_addr, void *arg)
{
	ready_ctx *c = arg;
	char url[128];
	snprintf(url, sizeof(url), "http://%s/", http_addr);
	printf("hx view: %s\n", url);
	fflush(stdout);
	if (c->open)
		open_browser(c, url);
	/* a signal during the start-up came before the service's own handlers: pass it on */
	if (got_signal)
		raise(got_signal);
}

/* ---- the command ---- */

int cmd_view(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"http", required_argument, NULL, 'H'},
		{"data", required_argument, NULL, 'd'},
		{"no-open", no_argument, NULL, 'n'},
		{"view-cache", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	const char *http = VIEW_HTTP_DEFAULT, *data = NULL;
	uint64_t cache = VIEW_CACHE_DEFAULT;
	int open = 1, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H':
			http = optarg;
			break;
		case 'd':
			data = optarg;
			break;
		case 'n':
			open = 0;
			break;
		case 'c':
			if (hx__parse_size(optarg, &cache) || !cache) {
				fprintf(stderr, "hx view: --view-cache needs a size such as 2G, not '%s'\n",
				        optarg);
				return hx__cli_usage("view");
			}
			break;
		default:
			return hx__cli_bad_option("view", argv);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "hx view: which traces? give a trace file, directory or URL\n");
		return hx__cli_usage("view");
	}

	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	loader l;
	memset(&l, 0, sizeof(l));
	hx__evcopy_init(&l.group);
	hx__evcopy_init(&l.names);
	char *tmp = NULL;
	hx__clock_entry *offsets = NULL;
	size_t noffsets = 0;
	hx__view *model = NULL;
	int ret = HX_EXIT_USAGE, rc;
	/* time order: the order the store gives a trace back in, which view_warm.c needs */
	if (hx__cli_open_paths("view", argv + optind, (size_t)(argc - optind), HX_ORDER_TIME, &l.r))
		goto out;
	if ((rc = hx_reader_align_clocks(l.r)) != HX_OK) {
		fprintf(stderr, "hx view: cannot align the hosts' clocks: %s\n", hx_strerror(rc));
		goto out;
	}
	if (!(offsets = clock_table(l.r, &noffsets)) ||
	    hx__view_warm_new(&l.warm, l.r, offsets, noffsets) != HX_OK) {
		fprintf(stderr, "hx view: out of memory\n");
		goto out;
	}
	if (!data && !(data = tmp = make_tmpdir())) {
		fprintf(stderr, "hx view: cannot create a temporary directory: %s\n", strerror(errno));
		goto out;
	}
	hx_store_config sc;
	memset(&sc, 0, sizeof(sc));
	sc.dir = data;
	if ((rc = hx_store_open(&l.store, data, &sc)) != HX_OK) {
		fprintf(stderr, "hx view: cannot open a store in %s: %s %s\n", data, hx_strerror(rc),
		        hx_store_errmsg());
		l.store = NULL;
		goto out;
	}
	rc = load_events(&l);
	if (rc == HX_ESTATE && got_signal) {
		ret = HX_EXIT_OK;
		goto out;
	}
	if (rc != HX_OK) {
		fprintf(stderr, "hx view: cannot load the events into %s: %s %s\n", data,
		        hx_strerror(rc), hx_store_errmsg());
		goto out;
	}
	hx_store_close(l.store);
	l.store = NULL;
	if (!l.traces.n) {
		fprintf(stderr, "hx view: no traced events in the input (the viewer shows traces: "
		                "events recorded between hx_trace_begin() and hx_trace_end())\n");
		goto out;
	}
	/* the largest trace; among equals, the one whose model was built while loading */
	const tcount *largest = NULL;
	const uint8_t *built = hx__view_warm_trace(l.warm);
	for (size_t i = 0; i < l.traces.cap; i++) {
		const tcount *t = &l.traces.v[i];
		if (t->used && (!largest || t->n > largest->n ||
		                (t->n == largest->n && built && !memcmp(t->id, built, 16))))
			largest = t;
	}
	model = hx__view_warm_finish(l.warm, largest->id, l.names.ev, l.names.n);
	hx__view_warm_free(l.warm);
	l.warm = NULL;
	hx_reader_info info;
	hx_reader_info_get(l.r, &info);
	if (info.damaged)
		fprintf(stderr, "hx view: the input is damaged (%llu chunks skipped): `hx check` says "
		                "where\n", (unsigned long long)info.chunks_damaged);
	fprintf(stderr, "hx view: %llu events of %zu traces from %zu processes\n",
	        (unsigned long long)l.events, l.traces.n, hx_reader_processes(l.r));
	if (!model) /* says what the wait is for: a big trace takes a while */
		fprintf(stderr, "hx view: building the largest trace's model from the store\n");
	hx_reader_close(l.r);
	l.r = NULL;
	hx__evcopy_free(&l.group);
	free(l.gproc);
	free(l.part);
	free(l.pend);
	l.gproc = NULL;
	l.part = NULL;
	l.pend = NULL;
	if (got_signal) {
		ret = HX_EXIT_OK;
		goto out;
	}

	ready_ctx ready = {open, 0};
	hx__serve_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = data;
	cfg.http = http;
	cfg.listen = "";
	cfg.memory_limit = HX__SERVE_MEMORY_DEFAULT;
	cfg.view_cache = cache;
	cfg.no_native = 1;
	cfg.entity_events = l.names.ev;
	cfg.nentity_events = l.names.n;
	cfg.clock_offsets = offsets;
	cfg.nclock_offsets = noffsets;
	cfg.warm_trace = largest->id;
	cfg.warm_model = &model; /* taken when the service starts: what is left is ours */
	cfg.ready = on_ready;
	cfg.ready_arg = &ready;
	/* the service installs its own handlers (libevent's) and puts ours back when it stops; a
	 * signal before that sets got_signal, which on_ready passes on */
	ret = hx__serve_run(&cfg) == 0 ? HX_EXIT_OK : HX_EXIT_USAGE;
	if (ready.browser > 0)
		waitpid(ready.browser, NULL, WNOHANG);
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	hx_store_close(l.store);
	hx_reader_close(l.r);
	hx__evcopy_free(&l.group);
	hx__evcopy_free(&l.names);
	free(l.gproc);
	free(l.part);
	free(l.pend);
	hx__view_warm_free(l.warm);
	hx__view_free(model);
	free(l.traces.v);
	free(offsets);
	if (tmp) {
		nftw(tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
		free(tmp);
	}
	return ret;
}

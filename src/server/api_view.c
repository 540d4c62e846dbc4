/*
 * api_view.c - the viewer's endpoints, GET /api/traces/{id}/{view,lod,event,find,range,
 * critical-path} (docs/http-api.md), answered from the model of the whole trace (src/view/view.h)
 * kept in the service's model cache (srv->views).
 *
 * WHY A WORKER THREAD. Building a model reads the whole trace from the store and sorts it: seconds
 * for a trace of millions of events. The http loop must go on answering everything else meanwhile,
 * so a viewer request is parsed on the http loop (bad parameters are answered at once), then
 * handed to one of WORKERS threads, which gets the model (from the cache, or built by the loader
 * below: concurrent requests for one trace wait for one build) and writes the answer into a
 * buffer. The finished job goes back to the http loop on a done list with an event, as commit.c
 * hands batches back, and only the http thread ever touches the evhttp request. A client that
 * leaves first is seen by the connection's close callback: the job is marked gone (a worker that
 * has not started it skips it, so abandoned requests cost no build), and its request, which
 * evhttp then detaches from the connection rather than free, is freed when the job comes back.
 *
 * Bounds: at most QUEUE_MAX jobs wait (more get 503 with Retry-After); the models are bounded by
 * the cache's budget (--view-cache, default a quarter of --memory-limit); an answer is bounded by
 * the request (lod's max_items) or the trace.
 *
 * The loader: hx_store_fetch over the whole trace (under the store's read lock when the backend
 * needs it), each process described to the builder once, when its first event arrives, with the
 * clock offset `hx view` applied to it (cfg.clock_offsets; 0 for anything else). It gives up when
 * the service stops.
 *
 * Errors: 400 for bad parameters (the parser's sentence, or the model's for a request it cannot
 * answer, such as a lane it does not have), 404 for an unknown trace or event, 503 when memory ran
 * out or the queue is full, 500 when the store failed.
 */
#include "server/query_view.h"
#include "server/server.h"
#include "view/view.h"

#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 2
#define QUEUE_MAX 256u
#define CANCEL_CHECK_EVERY 4096u

typedef struct vjob {
	struct vjob *next;
	struct hx__viewer *vw;
	struct evhttp_request *req;   /* http thread only; NULL once evhttp freed it */
	_Atomic int gone;             /* the client left: nothing to answer (set by the http thread) */
	hx__view_params p;
	int code;                     /* the answer: a status, and a body or an error sentence */
	hx__buf body;
	char err[256];
} vjob;

struct hx__viewer {
	hx__server *srv;
	pthread_t threads[WORKERS];
	int nthreads;
	pthread_mutex_t lock;         /* everything below */
	pthread_cond_t cond;
	vjob *qhead, *qtail;          /* waiting for a worker */
	size_t queued;                /* waiting or being answered */
	vjob *done_head, *done_tail;  /* answered, for the http loop */
	int stop;
	struct event *notify;         /* on the http loop: the done list has jobs */
};

/* ---- the loader ---- */

typedef struct lproc {
	uint8_t instance[16];
	uint64_t pid;
} lproc;

typedef struct load_ctx {
	hx__server *srv;
	hx__view_builder *b;
	lproc *procs;
	size_t nprocs, cap;
	uint32_t last;                /* the process of the previous event: usually the next one's */
	uint64_t n;
	int rc;
	/* the entities met, for cfg.entity_events (open addressing; 0 marks a free slot, and
	 * entity ID 0 is never an entity: the library's IDs are nonzero) */
	uint64_t *ents;
	size_t nents, ents_cap;
	uint64_t last_ent;
} load_ctx;

static size_t ent_slot(const uint64_t *v, size_t cap, uint64_t id)
{
	size_t j = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
	while (v[j] && v[j] != id)
		j = (j + 1) & (cap - 1);
	return j;
}

/* Note an entity of the trace; only when the config has entity names to hand out. */
static int ent_note(load_ctx *c, uint64_t id)
{
	if (!c->srv->cfg.nentity_events || !id || id == c->last_ent)
		return HX_OK;
	c->last_ent = id;
	if (2 * (c->nents + 1) > c->ents_cap) {
		size_t cap = c->ents_cap ? 2 * c->ents_cap : 256;
		uint64_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		for (size_t i = 0; i < c->ents_cap; i++)
			if (c->ents[i])
				v[ent_slot(v, cap, c->ents[i])] = c->ents[i];
		free(c->ents);
		c->ents = v;
		c->ents_cap = cap;
	}
	size_t j = ent_slot(c->ents, c->ents_cap, id);
	if (!c->ents[j]) {
		c->ents[j] = id;
		c->nents++;
	}
	return HX_OK;
}

/* After the trace's own events: the untraced events that name its entities. Their process is
 * given as unknown, so they change no entity's process (its traced events set it first). */
static int add_entity_names(load_ctx *c)
{
	const hx__serve_config *cfg = &c->srv->cfg;
	for (size_t i = 0; i < cfg->nentity_events && c->nents; i++) {
		const hx_event *ev = &cfg->entity_events[i];
		if (!ev->entity_id || !c->ents[ent_slot(c->ents, c->ents_cap, ev->entity_id)])
			continue;
		int rc = hx__view_builder_add(c->b, ev, UINT32_MAX - 1);
		if (rc != HX_OK)
			return rc;
	}
	return HX_OK;
}

static int64_t clock_offset(const hx__serve_config *cfg, const hx_store_proc *p)
{
	for (size_t i = 0; i < cfg->nclock_offsets; i++)
		if (cfg->clock_offsets[i].pid == p->pid &&
		    !memcmp(cfg->clock_offsets[i].instance, p->instance, 16))
			return cfg->clock_offsets[i].offset_ns;
	return 0;
}

static long proc_of(load_ctx *c, const hx_store_proc *p)
{
	if (c->last < c->nprocs && c->procs[c->last].pid == p->pid &&
	    !memcmp(c->procs[c->last].instance, p->instance, 16))
		return c->last;
	for (size_t i = 0; i < c->nprocs; i++)
		if (c->procs[i].pid == p->pid && !memcmp(c->procs[i].instance, p->instance, 16))
			return (long)(c->last = (uint32_t)i);
	if (c->nprocs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		lproc *v = realloc(c->procs, cap * sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		c->procs = v;
		c->cap = cap;
	}
	uint32_t i = (uint32_t)c->nprocs;
	int rc = hx__view_builder_process(c->b, i, p->host, p->service, p->program, p->pid,
	                                  clock_offset(&c->srv->cfg, p));
	if (rc != HX_OK)
		return rc;
	memcpy(c->procs[i].instance, p->instance, 16);
	c->procs[i].pid = p->pid;
	c->nprocs++;
	return (long)(c->last = i);
}

static int on_event(const hx_event *ev, const hx_store_proc *proc, void *user)
{
	load_ctx *c = user;
	if (++c->n % CANCEL_CHECK_EVERY == 0 && atomic_load(&c->srv->stopping)) {
		c->rc = HX_ESTATE;
		return 1;
	}
	long pi = proc_of(c, proc);
	if (pi < 0) {
		c->rc = (int)pi;
		return 1;
	}
	int rc = hx__view_builder_add(c->b, ev, (uint32_t)pi);
	if (rc == HX_OK)
		rc = ent_note(c, ev->entity_id);
	if (rc != HX_OK) {
		c->rc = rc;
		return 1;
	}
	return 0;
}

static int load(hx__view_builder *b, const uint8_t trace_id[16], void *user)
{
	load_ctx c;
	memset(&c, 0, sizeof(c));
	c.srv = user;
	c.b = b;
	c.last = UINT32_MAX;
	hx_store_window all;
	memset(&all, 0, sizeof(all));
	hx__store_read_lock(c.srv);
	int rc = hx_store_fetch(c.srv->store, trace_id, &all, on_event, &c);
	hx__store_read_unlock(c.srv);
	free(c.procs);
	if (!c.rc && (rc == HX_OK || rc == 1 || rc == HX_EDAMAGED))
		c.rc = add_entity_names(&c);
	free(c.ents);
	if (c.rc)
		return c.rc;
	if (rc == HX_EDAMAGED) {
		/* every intact event was delivered: show them, and say what was not */
		hx__srv_log("viewer: part of a trace failed the store's checks and is left out: %s",
		            hx_store_errmsg());
		return HX_OK;
	}
	return rc == 1 ? HX_OK : rc;
}

/* ---- a job: get the model, ask it ---- */

static void answer(vjob *j)
{
	hx__server *srv = j->vw->srv;
	hx__view *v = NULL;
	int rc = hx__view_cache_get(srv->views, j->p.trace_id, load, srv, &v);
	if (rc == HX_ENOENT) {
		static const char hexd[] = "0123456789abcdef";
		char id[33];
		for (int i = 0; i < 16; i++) {
			id[2 * i] = hexd[j->p.trace_id[i] >> 4];
			id[2 * i + 1] = hexd[j->p.trace_id[i] & 15];
		}
		id[32] = '\0';
		j->code = 404;
		snprintf(j->err, sizeof(j->err), "no trace %s in the store", id);
		return;
	}
	if (rc == HX_ESTATE) { /* the loader gave up: the service stops */
		j->code = 503;
		snprintf(j->err, sizeof(j->err), "the service is stopping");
		return;
	}
	if (rc != HX_OK) {
		j->code = rc == HX_ENOMEM ? 503 : 500;
		snprintf(j->err, sizeof(j->err), "cannot build the trace's model: %s", hx_strerror(rc));
		return;
	}
	const hx__view_params *p = &j->p;
	switch (p->ep) {
	case HX__VIEW_OVERVIEW:
		rc = hx__view_overview_json(v, &j->body);
		break;
	case HX__VIEW_LOD: {
		hx__lod_req r;
		memset(&r, 0, sizeof(r));
		r.from_ns = p->from_ns;
		r.to_ns = p->to_ns;
		r.px = p->px;
		r.lanes = p->lanes;
		r.nlanes = p->nlanes;
		r.min_px = p->min_px;
		r.max_items = p->max_items;
		r.arrows = p->arrows;
		rc = hx__view_lod_json(v, &r, &j->body, j->err, sizeof(j->err));
		break;
	}
	case HX__VIEW_EVENT: {
		uint32_t e = p->event_id[0] ? hx__view_find_id(v, p->event_id) : p->e;
		if (e == HX__DAG_NONE) {
			rc = HX_ENOENT;
			break;
		}
		rc = hx__view_event_json(v, e, &j->body);
		break;
	}
	case HX__VIEW_FIND: {
		uint32_t after = HX__DAG_NONE;
		if (p->event_id[0] && (after = hx__view_find_id(v, p->event_id)) == HX__DAG_NONE) {
			rc = HX_EINVAL;
			snprintf(j->err, sizeof(j->err), "'after' names no event of this trace (%s)",
			         p->event_id);
			break;
		}
		rc = hx__view_find_json(v, p->text, after, p->dir, &j->body);
		break;
	}
	case HX__VIEW_RANGE:
		rc = hx__view_range_json(v, p->from_ns, p->to_ns, p->lanes, p->nlanes, &j->body);
		if (rc == HX_EINVAL) /* the window was checked: only a lane can be wrong */
			snprintf(j->err, sizeof(j->err), "'lanes' names a lane this trace does not have");
		break;
	case HX__VIEW_CRITPATH:
		rc = hx__view_critpath_json(v, &j->body);
		break;
	}
	hx__view_cache_put(srv->views, v);
	if (rc == HX_OK) {
		j->code = 200;
		return;
	}
	hx__buf_free(&j->body);
	if (rc == HX_EINVAL) {
		j->code = 400;
		if (!j->err[0])
			snprintf(j->err, sizeof(j->err), "the model cannot answer these parameters");
	} else if (rc == HX_ENOENT) {
		j->code = 404;
		snprintf(j->err, sizeof(j->err), "no such event in this trace");
	} else {
		j->code = rc == HX_ENOMEM ? 503 : 500;
		snprintf(j->err, sizeof(j->err), "cannot answer: %s", hx_strerror(rc));
	}
}

static void *worker(void *arg)
{
	struct hx__viewer *vw = arg;
	pthread_mutex_lock(&vw->lock);
	for (;;) {
		while (!vw->qhead && !vw->stop)
			pthread_cond_wait(&vw->cond, &vw->lock);
		if (vw->stop)
			break;
		vjob *j = vw->qhead;
		vw->qhead = j->next;
		if (!vw->qhead)
			vw->qtail = NULL;
		pthread_mutex_unlock(&vw->lock);
		if (!atomic_load(&j->gone)) /* a client that left costs no build */
			answer(j);
		pthread_mutex_lock(&vw->lock);
		j->next = NULL;
		if (vw->done_tail)
			vw->done_tail->next = j;
		else
			vw->done_head = j;
		vw->done_tail = j;
		event_active(vw->notify, EV_READ, 0);
	}
	pthread_mutex_unlock(&vw->lock);
	return NULL;
}

/* ---- the http side ---- */

/* The connection of a waiting job goes down. Either the client left (evhttp then detached the
 * request from the connection first: the request is still ours, freed when the job is back), or
 * evhttp itself is being freed (the request goes with the connection: forget it). */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	vjob *j = arg;
	atomic_store(&j->gone, 1);
	if (j->req && evhttp_request_get_connection(j->req))
		j->req = NULL;
}

static void job_free(vjob *j)
{
	hx__view_params_free(&j->p);
	hx__buf_free(&j->body);
	free(j);
}

/* Send a finished job's answer (http thread) and free it. */
static void job_finish(vjob *j)
{
	hx__server *srv = j->vw->srv;
	struct evhttp_connection *evcon = j->req ? evhttp_request_get_connection(j->req) : NULL;
	if (j->req && !evcon) {
		evhttp_request_free(j->req); /* detached when its client left: ours to free */
	} else if (j->req) {
		evhttp_connection_set_closecb(evcon, NULL, NULL);
		if (j->code == 200)
			hx__http_reply_buf(srv, j->req, 200, "application/json", &j->body);
		else
			hx__http_error(srv, j->req, j->code, j->err[0] ? j->err : "cannot answer");
	}
	job_free(j);
}

static void drain(struct hx__viewer *vw)
{
	pthread_mutex_lock(&vw->lock);
	vjob *j = vw->done_head;
	vw->done_head = vw->done_tail = NULL;
	for (vjob *k = j; k; k = k->next)
		vw->queued--;
	pthread_mutex_unlock(&vw->lock);
	while (j) {
		vjob *next = j->next;
		job_finish(j);
		j = next;
	}
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	drain(arg);
}

void hx__api_view(hx__server *srv, struct evhttp_request *req, const char *tail,
                  const char *query)
{
	struct hx__viewer *vw = srv->viewer;
	vjob *j = calloc(1, sizeof(*j));
	if (!j) {
		hx__http_error(srv, req, 503, "out of memory");
		return;
	}
	int rc = hx__view_parse(&j->p, tail, query, query ? strlen(query) : 0, j->err,
	                        sizeof(j->err));
	if (rc) {
		hx__http_error(srv, req, rc == HX__VIEW_PARSE_NO_ENDPOINT ? 404 : 400, j->err);
		job_free(j);
		return;
	}
	j->err[0] = '\0';
	j->vw = vw;
	j->req = req;
	hx__buf_init(&j->body);
	pthread_mutex_lock(&vw->lock);
	int busy = vw->queued >= QUEUE_MAX || vw->stop || atomic_load(&srv->stopping);
	if (!busy) {
		vw->queued++;
		if (vw->qtail)
			vw->qtail->next = j;
		else
			vw->qhead = j;
		vw->qtail = j;
		pthread_cond_signal(&vw->cond);
	}
	pthread_mutex_unlock(&vw->lock);
	if (busy) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		hx__http_error(srv, req, 503, "the viewer is busy: retry later");
		job_free(j);
		return;
	}
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon)
		evhttp_connection_set_closecb(evcon, conn_closed, j);
}

/* ---- life cycle (serve.c) ---- */

int hx__viewer_start(hx__server *srv)
{
	uint64_t bytes = srv->cfg.view_cache ? srv->cfg.view_cache : srv->lim.memory_limit / 4;
	if (bytes > SIZE_MAX)
		bytes = SIZE_MAX;
	if (hx__view_cache_new(&srv->views, (size_t)bytes) != HX_OK) {
		hx__srv_log("cannot create the viewer's model cache: out of memory");
		return -1;
	}
	struct hx__viewer *vw = calloc(1, sizeof(*vw));
	if (!vw) {
		hx__srv_log("out of memory");
		return -1;
	}
	srv->viewer = vw;
	vw->srv = srv;
	pthread_mutex_init(&vw->lock, NULL);
	pthread_cond_init(&vw->cond, NULL);
	vw->notify = event_new(srv->http.base, -1, 0, on_done, vw);
	if (!vw->notify) {
		hx__srv_log("cannot create the viewer's event");
		return -1;
	}
	for (int i = 0; i < WORKERS; i++) {
		if (pthread_create(&vw->threads[i], NULL, worker, vw)) {
			hx__srv_log("cannot start the viewer's threads");
			return -1;
		}
		vw->nthreads++;
	}
	return 0;
}

int hx__viewer_warm(hx__server *srv, const uint8_t trace_id[16])
{
	hx__view **given = srv->cfg.warm_model;
	if (given && *given) { /* hx view built it from its files, as load() would from the store */
		hx__view *m = *given;
		*given = NULL;
		return hx__view_cache_insert(srv->views, m);
	}
	hx__view *v = NULL;
	int rc = hx__view_cache_get(srv->views, trace_id, load, srv, &v);
	if (rc == HX_OK)
		hx__view_cache_put(srv->views, v);
	return rc;
}

void hx__viewer_stop(hx__server *srv)
{
	struct hx__viewer *vw = srv->viewer;
	if (!vw)
		return;
	pthread_mutex_lock(&vw->lock);
	vw->stop = 1;
	pthread_cond_broadcast(&vw->cond);
	pthread_mutex_unlock(&vw->lock);
	for (int i = 0; i < vw->nthreads; i++)
		pthread_join(vw->threads[i], NULL);
	vw->nthreads = 0;
}

void hx__viewer_free(hx__server *srv)
{
	struct hx__viewer *vw = srv->viewer;
	if (vw) {
		hx__viewer_stop(srv);
		/* the http loop is gone (and evhttp with it, which cleared the requests of open
		 * connections): what is left is only freed */
		vjob *lists[2] = {vw->qhead, vw->done_head};
		for (int l = 0; l < 2; l++)
			for (vjob *j = lists[l], *next; j; j = next) {
				next = j->next;
				if (j->req) /* detached from its connection, so not freed with evhttp */
					evhttp_request_free(j->req);
				job_free(j);
			}
		if (vw->notify)
			event_free(vw->notify);
		pthread_cond_destroy(&vw->cond);
		pthread_mutex_destroy(&vw->lock);
		free(vw);
		srv->viewer = NULL;
	}
	hx__view_cache_free(srv->views);
	srv->views = NULL;
}

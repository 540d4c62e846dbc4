/*
 * statsdsink.c - the statsd engine (statsdsink.h) and the statsd:// sink's thread.
 *
 * Recording is exactly the file sink's (the hot path does not know this file exists): a thread
 * follows the process's own files and turns what is new into statsd datagrams. UDP gives no
 * acknowledgement, so nothing is saved about how far it got: what the thread had not read when
 * the process died is in the files, and `hx statsd DIR` can send it (all of it) later.
 */
#define _GNU_SOURCE
#include "lib/statsdsink.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "format/follow.h"
#include "format/statsd_line.h"
#include "format/text.h"
#include "lib/tracer.h"

/* ---- URL ---- */

static int host_char(char c, int bracketed)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-' || c == '_')
		return 1;
	return bracketed && (c == ':' || c == '%');
}

/* A decimal fraction without the locale's help ("0.25", "1", "1.0"): N / 10^k, both exact in a
 * double for the digits allowed, so the one rounding of the division gives what strtod gives. */
static int parse_rate(const char *s, size_t n, double *out)
{
	uint64_t num = 0, den = 1;
	size_t i = 0, digits = 0;
	int point = 0;
	for (; i < n; i++) {
		if (s[i] == '.' && !point) {
			point = 1;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || ++digits > 15)
			return -1;
		num = num * 10 + (uint64_t)(s[i] - '0');
		if (point)
			den *= 10;
	}
	if (!digits)
		return -1;
	*out = (double)num / (double)den;
	return 0;
}

int hx__statsd_url_parse(const char *url, hx__statsd_url *out, char *why, size_t whylen)
{
	static const char form[] = "statsd://HOST[:PORT][?prefix=P&rate=R&mtu=N]";
	size_t sl = strlen(HX__STATSD_SCHEME);
	memset(out, 0, sizeof *out);
	out->mtu = HX__STATSD_DGRAM_DEFAULT;
	memcpy(out->port, HX__STATSD_PORT_DEFAULT, sizeof HX__STATSD_PORT_DEFAULT);
	if (!url || strncmp(url, HX__STATSD_SCHEME, sl)) {
		snprintf(why, whylen, "%.64s: expected %s", url ? url : "(null)", form);
		return -1;
	}
	const char *a = url + sl, *q = strchr(a, '?');
	size_t alen = q ? (size_t)(q - a) : strlen(a);
	const char *h = a, *port = NULL;
	size_t hl;
	int bracketed = a[0] == '[';
	if (bracketed) {
		const char *close = memchr(a, ']', alen);
		if (!close || (close + 1 < a + alen && close[1] != ':')) {
			snprintf(why, whylen, "%.64s: expected statsd://[IPv6]:PORT", url);
			return -1;
		}
		h = a + 1;
		hl = (size_t)(close - h);
		if (close + 1 < a + alen)
			port = close + 2;
	} else {
		const char *colon = memchr(a, ':', alen);
		hl = colon ? (size_t)(colon - a) : alen;
		if (colon)
			port = colon + 1;
	}
	if (hl == 0 || hl >= sizeof out->host) {
		snprintf(why, whylen, "%.64s: the host must be 1 to 255 characters (%s)", url, form);
		return -1;
	}
	for (size_t i = 0; i < hl; i++) {
		if (!host_char(h[i], bracketed)) {
			snprintf(why, whylen, "%.64s: a host name holds letters, digits, '.', '-' and '_' "
			         "(an IPv6 address goes in brackets)", url);
			return -1;
		}
	}
	memcpy(out->host, h, hl);
	out->host[hl] = '\0';
	if (port) {
		size_t pl = (size_t)(a + alen - port);
		unsigned long pn = 0;
		int ok = pl >= 1 && pl <= 5;
		for (size_t i = 0; ok && i < pl; i++) {
			ok = port[i] >= '0' && port[i] <= '9';
			pn = pn * 10 + (unsigned long)(port[i] - '0');
		}
		if (!ok || pn == 0 || pn > 65535) {
			snprintf(why, whylen, "%.64s: the port must be a number from 1 to 65535", url);
			return -1;
		}
		snprintf(out->port, sizeof out->port, "%lu", pn);
	}
	/* options: name=value pairs separated by '&', each at most once */
	int seen_prefix = 0, seen_rate = 0, seen_mtu = 0;
	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		const char *amp = strchr(p, '&'), *e = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(e - p));
		if (!eq) {
			snprintf(why, whylen, "%.64s: option '%.*s' has no value (%s)", url,
			         (int)(e - p > 32 ? 32 : e - p), p, form);
			return -1;
		}
		const char *v = eq + 1;
		size_t kl = (size_t)(eq - p), vl = (size_t)(e - v);
#define KEY(k) (kl == sizeof(k) - 1 && !memcmp(p, k, kl))
		if (KEY("prefix") && !seen_prefix++) {
			if (vl > HX__STATSD_PREFIX_MAX) {
				snprintf(why, whylen, "%.64s: the prefix is longer than %d bytes", url,
				         HX__STATSD_PREFIX_MAX);
				return -1;
			}
			for (size_t i = 0; i < vl; i++) {
				if (!hx__statsd_name_char((unsigned char)v[i])) {
					snprintf(why, whylen, "%.64s: a prefix holds only letters, digits, '.', '_' "
					         "and '-'", url);
					return -1;
				}
			}
			memcpy(out->prefix, v, vl);
			out->prefix[vl] = '\0';
		} else if (KEY("rate") && !seen_rate++) {
			if (parse_rate(v, vl, &out->rate) || !(out->rate > 0.0 && out->rate <= 1.0)) {
				snprintf(why, whylen, "%.64s: the rate is a probability above 0 and at most 1, "
				         "such as 0.01", url);
				return -1;
			}
		} else if (KEY("mtu") && !seen_mtu++) {
			size_t m = 0;
			int ok = vl >= 1 && vl <= 5;
			for (size_t i = 0; ok && i < vl; i++) {
				ok = v[i] >= '0' && v[i] <= '9';
				m = m * 10 + (size_t)(v[i] - '0');
			}
			if (!ok || m < HX__STATSD_DGRAM_MIN || m > HX__STATSD_DGRAM_MAX) {
				snprintf(why, whylen, "%.64s: the mtu is a datagram size from %d to %d bytes", url,
				         HX__STATSD_DGRAM_MIN, HX__STATSD_DGRAM_MAX);
				return -1;
			}
			out->mtu = m;
		} else {
			snprintf(why, whylen, "%.64s: option '%.*s' is unknown or given twice (prefix, rate, "
			         "mtu)", url, (int)(kl > 32 ? 32 : kl), p);
			return -1;
		}
#undef KEY
		p = amp ? amp + 1 : e;
	}
	return 0;
}

/* ---- the engine's state ---- */

struct frame {                /* an open block */
	uint64_t begin_ns;
	char *name;               /* its name as recorded (any bytes), len bytes */
	size_t len;
};

struct ent {                  /* an entity with open blocks */
	uint64_t id;
	int used;
	uint32_t n, cap;
	uint32_t extra;           /* blocks opened above the frames without being remembered (the
	                             limit was reached): always the innermost, so an end takes one of
	                             them first */
	struct frame *f;
};

struct cev {                  /* one event of a poll, kept until the poll is sorted */
	uint64_t entity, seq, time_ns;
	int64_t vi;
	double vd;
	size_t name_off, name_len;
	uint8_t kind, traced, is_int;
};

struct hx__statsd {
	hx__statsd_url url;
	double rate;              /* |@rate of traced timers and counters; outside (0, 1): none */
	int fd, blocking;
	char peer[300];
	char *dbuf;
	hx__statsd_dgram d;
	/* open blocks by entity: open addressing, linear probing */
	struct ent *tab;
	size_t tcap, tcount;
	size_t frames;            /* frames held across entities (<= HX__STATSD_OPEN_MAX) */
	/* following */
	hx__follow *f;
	struct cev *buf;
	size_t nbuf, capbuf;
	hx__buf names;
	int oom;                  /* a poll's event could not be kept: offered again next poll */
	hx__statsd_stats st;
	char err[256];
};

static size_t slot_of(const struct hx__statsd *s, uint64_t id)
{
	uint64_t h = (id ^ (id >> 31)) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 17) & (s->tcap - 1);
}

static struct ent *ent_find(struct hx__statsd *s, uint64_t id)
{
	if (!s->tcap)
		return NULL;
	for (size_t i = slot_of(s, id);; i = (i + 1) & (s->tcap - 1)) {
		if (!s->tab[i].used)
			return NULL;
		if (s->tab[i].id == id)
			return &s->tab[i];
	}
}

static int ent_grow(struct hx__statsd *s)
{
	size_t ncap = s->tcap ? s->tcap * 2 : 64;
	struct ent *old = s->tab, *nt = calloc(ncap, sizeof *nt);
	if (!nt)
		return HX_ENOMEM;
	size_t ocap = s->tcap;
	s->tab = nt;
	s->tcap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].used)
			continue;
		size_t j = slot_of(s, old[i].id);
		while (nt[j].used)
			j = (j + 1) & (ncap - 1);
		nt[j] = old[i];
	}
	free(old);
	return HX_OK;
}

/* A new entry for id (not in the table). NULL when memory is short. */
static struct ent *ent_add(struct hx__statsd *s, uint64_t id)
{
	if ((s->tcount + 1) * 2 > s->tcap && ent_grow(s) != HX_OK)
		return NULL;
	size_t i = slot_of(s, id);
	while (s->tab[i].used)
		i = (i + 1) & (s->tcap - 1);
	memset(&s->tab[i], 0, sizeof s->tab[i]);
	s->tab[i].used = 1;
	s->tab[i].id = id;
	s->tcount++;
	return &s->tab[i];
}

/* Forget e (its frames freed), closing the gap in its probe sequence (backward shift). */
static void ent_del(struct hx__statsd *s, struct ent *e)
{
	for (uint32_t k = 0; k < e->n; k++)
		free(e->f[k].name);
	s->frames -= e->n;
	free(e->f);
	size_t i = (size_t)(e - s->tab), mask = s->tcap - 1;
	s->tab[i].used = 0;
	s->tcount--;
	for (size_t j = (i + 1) & mask; s->tab[j].used; j = (j + 1) & mask) {
		size_t home = slot_of(s, s->tab[j].id);
		/* move j back into the hole at i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->tab[i] = s->tab[j];
			s->tab[j].used = 0;
			i = j;
		}
	}
}

/* ---- sending ---- */

static void send_dgram(struct hx__statsd *s)
{
	if (!s->d.len)
		return;
	ssize_t r;
	do
		r = send(s->fd, s->d.buf, s->d.len, MSG_NOSIGNAL | (s->blocking ? 0 : MSG_DONTWAIT));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)s->d.len) {
		s->st.datagrams_sent++;
		s->st.lines_sent += s->d.lines;
	} else {
		/* a full buffer (never waited for), or a refusal the network reported for an earlier
		 * datagram (ICMP port unreachable): this one is lost */
		s->st.datagrams_failed++;
		s->st.lines_failed += s->d.lines;
		s->st.last_errno = r < 0 ? errno : EMSGSIZE;
	}
	hx__statsd_dgram_clear(&s->d);
}

static void put_line(struct hx__statsd *s, const char *line, size_t n)
{
	if (!n)
		return;
	s->st.lines++;
	for (size_t i = 0; i < n; i++)
		s->st.lines += line[i] == '\n';
	if (hx__statsd_dgram_add(&s->d, line, n)) {
		send_dgram(s);
		hx__statsd_dgram_add(&s->d, line, n); /* fits an empty datagram: mtu >= LINE_MAX */
	}
}

void hx__statsd_flush(hx__statsd *s)
{
	send_dgram(s);
}

/* ---- events to lines ---- */

/* Remember an open block, unless the limit is reached (then it sends no timer). */
static int block_begin(struct hx__statsd *s, const struct cev *e, const char *ename)
{
	struct ent *en = ent_find(s, e->entity);
	if (en && en->extra) {
		if (en->extra < UINT32_MAX)
			en->extra++; /* above blocks already untracked: stays the innermost */
		s->st.untracked++;
		return HX_OK;
	}
	if (s->frames >= HX__STATSD_OPEN_MAX) {
		if (en)
			en->extra = 1;
		s->st.untracked++; /* without an entry: its end will find no begin (unmatched) */
		return HX_OK;
	}
	if (!en && !(en = ent_add(s, e->entity)))
		return HX_ENOMEM;
	if (en->n == en->cap) {
		uint32_t ncap = en->cap ? en->cap * 2 : 4;
		struct frame *nf = realloc(en->f, ncap * sizeof *nf);
		if (!nf)
			goto oom;
		en->f = nf;
		en->cap = ncap;
	}
	struct frame *fr = &en->f[en->n];
	if (!(fr->name = malloc(e->name_len + 1)))
		goto oom;
	memcpy(fr->name, ename, e->name_len);
	fr->name[e->name_len] = '\0';
	fr->len = e->name_len;
	fr->begin_ns = e->time_ns;
	en->n++;
	s->frames++;
	return HX_OK;
oom:
	if (!en->n)
		ent_del(s, en);
	return HX_ENOMEM;
}

static int on_event(struct hx__statsd *s, const struct cev *e, const char *ename)
{
	char name[HX__STATSD_NAME_MAX + 1], line[HX__STATSD_LINE_MAX];
	double rate = e->traced ? s->rate : 0.0;
	const char *prefix = s->url.prefix;
	struct ent *en;
	switch (e->kind) {
	case HX_EV_BLOCK_BEGIN:
		return block_begin(s, e, ename);
	case HX_EV_BLOCK_END: {
		en = ent_find(s, e->entity);
		if (!en) {
			s->st.unmatched++;
			return HX_OK;
		}
		if (en->extra) {
			en->extra--; /* counted as untracked at its begin */
			return HX_OK;
		}
		struct frame *top = &en->f[en->n - 1];
		uint64_t ns = e->time_ns > top->begin_ns ? e->time_ns - top->begin_ns : 0;
		hx__statsd_name(name, prefix, top->name, top->len, NULL);
		put_line(s, line, hx__statsd_timer(line, name, ns, rate));
		free(top->name);
		en->n--;
		s->frames--;
		if (!en->n)
			ent_del(s, en);
		return HX_OK;
	}
	case HX_EV_POINT:
		hx__statsd_name(name, prefix, ename, e->name_len, NULL);
		put_line(s, line, hx__statsd_count(line, name, 1, rate));
		return HX_OK;
	case HX_EV_ERROR:
		/* named after its block: the message is free text, a new metric per message */
		en = ent_find(s, e->entity);
		if (en && !en->extra)
			hx__statsd_name(name, prefix, en->f[en->n - 1].name, en->f[en->n - 1].len, ".error");
		else
			hx__statsd_name(name, prefix, "error", 5, NULL);
		put_line(s, line, hx__statsd_count(line, name, 1, rate));
		return HX_OK;
	case HX_EV_COUNTER: {
		hx__statsd_name(name, prefix, ename, e->name_len, NULL);
		size_t n = e->is_int ? hx__statsd_gauge_int(line, name, e->vi)
		                     : hx__statsd_gauge_double(line, name, e->vd);
		if (!n)
			s->st.skipped++;
		put_line(s, line, n);
		return HX_OK;
	}
	case HX_EV_ENTITY_END:
		if ((en = ent_find(s, e->entity))) {
			s->st.unended += en->n + en->extra;
			ent_del(s, en);
		}
		return HX_OK;
	default:
		return HX_OK;
	}
}

static int wanted(int kind)
{
	return kind == HX_EV_BLOCK_BEGIN || kind == HX_EV_BLOCK_END || kind == HX_EV_POINT ||
	       kind == HX_EV_ERROR || kind == HX_EV_COUNTER || kind == HX_EV_ENTITY_END;
}

static int traced(const hx_event *ev)
{
	for (int i = 0; i < 16; i++)
		if (ev->trace_id[i])
			return 1;
	return 0;
}

static void cev_fill(struct cev *c, const hx_event *ev)
{
	memset(c, 0, sizeof *c);
	c->entity = ev->entity_id;
	c->seq = ev->seq;
	c->time_ns = ev->time_ns;
	c->kind = (uint8_t)ev->kind;
	c->traced = (uint8_t)traced(ev);
	c->is_int = (uint8_t)ev->counter_is_int;
	c->vi = ev->counter_int;
	c->vd = ev->counter_double;
	c->name_len = ev->name ? ev->name_len : 0;
	if (c->name_len > HX_NAME_MAX)
		c->name_len = HX_NAME_MAX; /* a name is cut at HX__STATSD_NAME_MAX bytes anyway */
}

int hx__statsd_event(hx__statsd *s, const hx_event *ev)
{
	s->st.events++;
	if (!wanted(ev->kind))
		return HX_OK;
	struct cev c;
	cev_fill(&c, ev);
	return on_event(s, &c, c.name_len ? ev->name : "");
}

/* ---- following files ---- */

/* The follower's callback: keep the event (with a copy of its name) for the sorted pass. */
static int collect(const hx__follow_proc *proc, const hx_event *ev, void *user)
{
	struct hx__statsd *s = user;
	(void)proc;
	if (!wanted(ev->kind)) {
		s->st.events++;
		return 0;
	}
	if (s->nbuf == s->capbuf) {
		size_t ncap = s->capbuf ? s->capbuf * 2 : 1024;
		struct cev *nb = realloc(s->buf, ncap * sizeof *nb);
		if (!nb) {
			s->oom = 1;
			return 1; /* refused: offered again at the next poll */
		}
		s->buf = nb;
		s->capbuf = ncap;
	}
	struct cev *c = &s->buf[s->nbuf];
	cev_fill(c, ev);
	c->name_off = s->names.len;
	if (c->name_len && hx__buf_append(&s->names, ev->name, c->name_len) != HX_OK) {
		s->oom = 1;
		return 1;
	}
	s->nbuf++;
	s->st.events++;
	return 0;
}

static int cev_cmp(const void *a, const void *b)
{
	const struct cev *x = a, *y = b;
	if (x->entity != y->entity)
		return x->entity < y->entity ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int hx__statsd_follow(hx__statsd *s, const char *dir, const uint8_t *only_instance, char *err,
                      size_t errlen)
{
	if (s->f)
		return HX_ESTATE;
	hx__follow_opts fo;
	memset(&fo, 0, sizeof fo);
	fo.dir = dir;
	fo.only_instance = only_instance;
	return hx__follow_open(&s->f, &fo, err, errlen);
}

long hx__statsd_poll(hx__statsd *s, size_t max_events)
{
	if (!s->f)
		return HX_ESTATE;
	s->nbuf = 0;
	s->oom = 0;
	hx__buf_reset(&s->names);
	long n = hx__follow_poll(s->f, collect, s, max_events);
	if (n < 0)
		snprintf(s->err, sizeof s->err, "%s", hx__follow_error(s->f));
	/* Streams are read one after the other, so an entity that moved between threads (a
	 * coroutine) can come out of order: each entity's events in sequence order again. */
	if (s->nbuf > 1)
		qsort(s->buf, s->nbuf, sizeof *s->buf, cev_cmp);
	int rc = HX_OK;
	for (size_t i = 0; i < s->nbuf; i++) {
		const struct cev *c = &s->buf[i];
		if (on_event(s, c, c->name_len ? s->names.p + c->name_off : "") != HX_OK)
			rc = HX_ENOMEM;
	}
	send_dgram(s);
	hx__follow_stats fs;
	hx__follow_stats_get(s->f, &fs);
	s->st.chunks_skipped = fs.chunks_skipped;
	if (n >= 0 && (rc != HX_OK || (s->oom && n == 0))) {
		snprintf(s->err, sizeof s->err, "out of memory");
		return HX_ENOMEM;
	}
	return n;
}

/* ---- life ---- */

int hx__statsd_new(hx__statsd **out, const hx__statsd_opts *o, char *err, size_t errlen)
{
	*out = NULL;
	hx__statsd *s = calloc(1, sizeof *s);
	if (!s)
		return HX_ENOMEM;
	s->fd = -1;
	if (hx__statsd_url_parse(o->url, &s->url, err, errlen)) {
		free(s);
		return HX_ECONFIG;
	}
	s->rate = s->url.rate > 0.0 ? s->url.rate : o->rate;
	s->blocking = o->blocking;
	hx__buf_init(&s->names);
	snprintf(s->peer, sizeof s->peer, "%s:%s", s->url.host, s->url.port);
	/* Resolved once, here: a name that stops resolving later changes nothing, and the sending
	 * thread never waits for DNS. */
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	int g = getaddrinfo(s->url.host, s->url.port, &hints, &ai);
	if (g != 0 || !ai) {
		snprintf(err, errlen, "statsd://%s: cannot resolve %s: %s", s->peer, s->url.host,
		         g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		if (ai)
			freeaddrinfo(ai);
		free(s);
		return HX_ECONFIG;
	}
	int e = 0;
	for (struct addrinfo *p = ai; p && s->fd < 0; p = p->ai_next) {
		int fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | (s->blocking ? 0 : SOCK_NONBLOCK),
		                p->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		/* connected: the kernel reports a refusal (ICMP) on a later send, which counts it */
		if (connect(fd, p->ai_addr, p->ai_addrlen) != 0) {
			e = errno;
			close(fd);
			continue;
		}
		s->fd = fd;
	}
	freeaddrinfo(ai);
	if (s->fd < 0) {
		snprintf(err, errlen, "statsd://%s: cannot open a UDP socket to it: %s", s->peer,
		         strerror(e ? e : EINVAL));
		free(s);
		return HX_EIO;
	}
	s->dbuf = malloc(s->url.mtu);
	if (!s->dbuf) {
		hx__statsd_free(s);
		return HX_ENOMEM;
	}
	s->d.buf = s->dbuf;
	s->d.cap = s->url.mtu;
	*out = s;
	return HX_OK;
}

void hx__statsd_free(hx__statsd *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->tcap; i++) {
		if (!s->tab[i].used)
			continue;
		for (uint32_t k = 0; k < s->tab[i].n; k++)
			free(s->tab[i].f[k].name);
		free(s->tab[i].f);
	}
	free(s->tab);
	hx__follow_close(s->f);
	free(s->buf);
	hx__buf_free(&s->names);
	free(s->dbuf);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

void hx__statsd_stats_get(const hx__statsd *s, hx__statsd_stats *out)
{
	*out = s->st;
}

const char *hx__statsd_error(const hx__statsd *s)
{
	return s->err;
}

const char *hx__statsd_peer(const hx__statsd *s)
{
	return s->peer;
}

/* ---- the statsd:// sink ---- */

#define STEP_MS 200          /* how often the files are looked at while nothing happens */
#define STEP_EVENTS 4096     /* events per work step: a fork() waits for one step at most */
#define LINGER_DEFAULT_MS 2000

struct hx__statsdsink {
	struct hx__tracer *tr;
	pthread_t thread;
	pthread_mutex_t lock;    /* protects stop; cond wakes the thread for it */
	pthread_cond_t cond;
	int stop;
	hx__statsd *s;
	uint64_t linger_ms;
	int quiet;
	int logged_send, logged_read;
	struct hx__statsdsink *older; /* a parent's sink abandoned by fork(), kept reachable */
};

/* The sink of the running tracer. One tracer runs at a time (lib.c), and the tracer struct has
 * no slot for this sink, so it is kept here, with the tracer it belongs to. In a fork()ed child
 * it still names the parent's sink, whose thread does not exist there: it is abandoned (never
 * touched again: its lock may have been held), as lib.c abandons the parent's tracer, and stays
 * reachable from the child's own sink (`older`), so leak checkers do not report it. */
static struct hx__statsdsink *running;
static hx__statsd_stats last_stats;

static void note_problems(struct hx__statsdsink *k, long polled)
{
	if (k->quiet)
		return;
	if (!k->logged_send && k->s->st.datagrams_failed) {
		k->logged_send = 1;
		fprintf(stderr, "haruspex: statsd sink: sending to %s failed (%s); metrics are dropped "
		                "while it lasts (counted), the events stay in the trace files\n",
		        hx__statsd_peer(k->s), strerror(k->s->st.last_errno));
	}
	if (!k->logged_read && polled < 0) {
		k->logged_read = 1;
		fprintf(stderr, "haruspex: statsd sink: reading the trace files: %s\n",
		        hx__statsd_error(k->s)[0] ? hx__statsd_error(k->s) : hx_strerror((int)polled));
	}
}

static long work_step(struct hx__statsdsink *k)
{
	hx__bg_enter(); /* a fork() waits for this step: see hx__bg_enter() */
	long n = hx__statsd_poll(k->s, STEP_EVENTS);
	hx__bg_leave();
	note_problems(k, n);
	return n;
}

static void *sink_thread(void *arg)
{
	struct hx__statsdsink *k = arg;
	for (;;) {
		long n = work_step(k);
		pthread_mutex_lock(&k->lock);
		if (!k->stop && n < STEP_EVENTS) { /* a full step: more is waiting, go on at once */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)STEP_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&k->cond, &k->lock, &ts);
		}
		int stop = k->stop;
		pthread_mutex_unlock(&k->lock);
		if (stop)
			break;
	}
	/* Shutdown: the files are complete; send what is left, for a bounded time. Two empty polls
	 * in a row: the follower waits one poll before it calls a missing chunk a gap. */
	uint64_t deadline = hx__mono_ns() + k->linger_ms * 1000000u;
	int idle = 0;
	while (idle < 2 && hx__mono_ns() < deadline) {
		long n = work_step(k);
		idle = n == 0 ? idle + 1 : n < 0 ? 2 : 0;
	}
	if (idle < 2 && !k->quiet)
		fprintf(stderr, "haruspex: statsd sink: stopped after %llu ms with events not sent yet; "
		                "`hx statsd %s` sends the metrics of the whole files\n",
		        (unsigned long long)k->linger_ms, k->tr->dir);
	return NULL;
}

int hx__statsdsink_start(struct hx__tracer *tr)
{
	struct hx__statsdsink *k = calloc(1, sizeof *k);
	if (!k)
		return HX_ENOMEM;
	const char *v = getenv("HARUSPEX_SHIP_LINGER_MS"); /* validated by config.c */
	k->linger_ms = v && *v ? strtoull(v, NULL, 10) : LINGER_DEFAULT_MS;
	k->quiet = tr->cfg.quiet;
	k->tr = tr;
	hx__statsd_opts o;
	memset(&o, 0, sizeof o);
	o.url = tr->cfg.ship_to;
	o.rate = tr->cfg.sampler == HX_SAMPLE_PROBABILITY ? tr->cfg.sample_probability : 0.0;
	char err[512] = "";
	int rc = hx__statsd_new(&k->s, &o, err, sizeof err);
	if (rc == HX_OK)
		rc = hx__statsd_follow(k->s, tr->dir, tr->instance, err, sizeof err);
	pthread_condattr_t ca;
	if (rc == HX_OK) {
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&k->cond, &ca);
		pthread_condattr_destroy(&ca);
		pthread_mutex_init(&k->lock, NULL);
		/* Like the file sink's thread: no signal of the program may run on this thread. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&k->thread, NULL, sink_thread, k) != 0) {
			snprintf(err, sizeof err, "cannot start the statsd thread");
			rc = HX_ESINK;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != HX_OK) {
			pthread_cond_destroy(&k->cond);
			pthread_mutex_destroy(&k->lock);
		}
	}
	if (rc != HX_OK) {
		if (!tr->cfg.quiet)
			fprintf(stderr, "haruspex: statsd sink: %s; events are written to %s only\n",
			        err[0] ? err : hx_strerror(rc), tr->dir);
		hx__statsd_free(k->s);
		free(k);
		return HX_ESINK;
	}
	k->older = running; /* non-NULL only in a fork()ed child: see `running` */
	running = k;
	return HX_OK;
}

void hx__statsdsink_stop(struct hx__tracer *tr)
{
	struct hx__statsdsink *k = running;
	if (!k || k->tr != tr)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = 1;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	hx__statsd_stats_get(k->s, &last_stats);
	hx__statsd_free(k->s);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	running = k->older;
	free(k);
}

void hx__statsdsink_last_stats(hx__statsd_stats *out)
{
	*out = last_stats;
}

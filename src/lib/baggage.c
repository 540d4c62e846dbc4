/*
 * baggage.c - W3C Baggage: key/values that travel with a trace.
 *
 * Baggage belongs to a trace, not to a thread: every entity of the process that is in trace T
 * sees T's baggage, so handing work to another thread (which joins T) hands the baggage over
 * too, and hx_inject() sends it to other processes. The process keeps one table, keyed by trace
 * ID, of at most HX_BAGGAGE_MAX_TRACES traces; the least recently used trace is forgotten when a
 * new one needs room (its entries counted as baggage_dropped), which bounds the memory of a
 * long-running server whose traces never say they are over.
 *
 * Locking: one mutex protects the whole table (every field of struct table, struct bag and
 * struct entry below). These calls are not on the recording hot path, so a single lock is enough
 * and keeps the LRU list simple. A fork() in another thread while the lock is held would leave
 * the child's copy locked forever: pthread_atfork handlers take the lock around fork().
 *
 * The table is static and outlives hx_shutdown(): a trace and its baggage go on across a restart
 * of tracing, and everything stays reachable from `table` (so LeakSanitizer does not report it).
 *
 * What is stored is the decoded entry (key, value bytes); the header is made from it on demand.
 * Properties (";name=value" after a member) are accepted when parsing and dropped: Haruspex has
 * no use for them, and W3C gives them no meaning of their own.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <haruspex/propagation.h>

#include "lib/tracer.h"
#include "format/format.h"

#define BUCKETS 4096 /* power of 2, about one trace per bucket at the limit */

struct entry {
	char *key;     /* key bytes then value bytes, one allocation; NUL after each */
	char *val;
	size_t klen, vlen;
	size_t cost;   /* serialized bytes: key "=" percent-encoded value */
};

struct bag {
	uint8_t id[16];
	struct bag *hnext;              /* hash chain */
	struct bag *newer, *older;      /* LRU list: table.newest ... table.oldest */
	struct entry *e;
	size_t n, cap;
	size_t cost;                    /* sum of the entries' cost (commas not included) */
};

static struct table {
	pthread_mutex_t lock;
	struct bag *buckets[BUCKETS];
	struct bag *newest, *oldest;
	size_t ntraces;
} table = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	pthread_mutex_lock(&table.lock);
}

static void fork_release(void)
{
	pthread_mutex_unlock(&table.lock);
}

static void atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_release);
}

static void table_lock(void)
{
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&table.lock);
}

static void table_unlock(void)
{
	pthread_mutex_unlock(&table.lock);
}

/* ---- character classes and encoding -------------------------------------------------------- */

/* tchar of RFC 7230: a W3C Baggage key is a token. */
static int is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *k, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)k[i]))
			return 0;
	return 1;
}

/* baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E: printable ASCII without space,
 * DQUOTE, comma, semicolon and backslash. */
static int is_baggage_octet(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

/* Sent as is: a baggage-octet other than '%', which W3C says to always encode. */
static int sent_plain(unsigned char c)
{
	return is_baggage_octet(c) && c != '%';
}

static size_t encoded_len(const char *v, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++)
		out += sent_plain((unsigned char)v[i]) ? 1 : 3;
	return out;
}

static char *encode(char *out, const char *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (sent_plain(c)) {
			*out++ = (char)c;
		} else {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		}
	}
	return out;
}


/* Decode a header value into out (room for n bytes): -1 when it holds a byte that is not a
 * baggage-octet or a '%' not followed by two hex digits. */
static int decode(const char *v, size_t n, char *out, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!is_baggage_octet(c))
			return -1;
		if (c == '%') {
			if (n - i < 3)
				return -1;
			int hi = hx__hexval(v[i + 1]), lo = hx__hexval(v[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = (char)c;
		}
	}
	*outlen = o;
	return 0;
}

/* ---- the table ----------------------------------------------------------------------------- */

static size_t bucket_of(const uint8_t id[16])
{
	/* The first 48 bits of a Haruspex trace ID are a timestamp, but other tracers' IDs may be
	 * anything: hash all 16 bytes. */
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
	return (size_t)(h >> 32) & (BUCKETS - 1);
}

/* Serialized size: the entries plus the commas between them. */
static size_t bag_bytes(size_t n, size_t cost)
{
	return cost + (n ? n - 1 : 0);
}

static void lru_unlink(struct bag *b)
{
	if (b->newer)
		b->newer->older = b->older;
	else
		table.newest = b->older;
	if (b->older)
		b->older->newer = b->newer;
	else
		table.oldest = b->newer;
	b->newer = b->older = NULL;
}

static void lru_push(struct bag *b)
{
	b->older = table.newest;
	b->newer = NULL;
	if (table.newest)
		table.newest->newer = b;
	table.newest = b;
	if (!table.oldest)
		table.oldest = b;
}

static struct bag *bag_find(const uint8_t id[16])
{
	for (struct bag *b = table.buckets[bucket_of(id)]; b; b = b->hnext)
		if (!memcmp(b->id, id, 16)) {
			lru_unlink(b);
			lru_push(b);
			return b;
		}
	return NULL;
}

static void bag_free(struct bag *b)
{
	struct bag **pp = &table.buckets[bucket_of(b->id)];
	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	lru_unlink(b);
	for (size_t i = 0; i < b->n; i++)
		free(b->e[i].key);
	free(b->e);
	free(b);
	table.ntraces--;
}

static struct bag *bag_create(const uint8_t id[16])
{
	struct bag *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	if (table.ntraces >= HX_BAGGAGE_MAX_TRACES) {
		struct bag *old = table.oldest;
		for (size_t i = 0; i < old->n; i++)
			hx__count(HX_COUNT_BAGGAGE_DROPPED);
		bag_free(old);
	}
	memcpy(b->id, id, 16);
	size_t k = bucket_of(id);
	b->hnext = table.buckets[k];
	table.buckets[k] = b;
	lru_push(b);
	table.ntraces++;
	return b;
}

static struct entry *bag_lookup(struct bag *b, const char *key, size_t klen)
{
	for (size_t i = 0; b && i < b->n; i++)
		if (b->e[i].klen == klen && !memcmp(b->e[i].key, key, klen))
			return &b->e[i];
	return NULL;
}

static void bag_remove(struct bag *b, struct entry *e)
{
	size_t i = (size_t)(e - b->e);
	b->cost -= e->cost;
	free(e->key);
	memmove(&b->e[i], &b->e[i + 1], (b->n - i - 1) * sizeof *e);
	b->n--;
	if (b->n == 0)
		bag_free(b); /* an empty baggage takes no slot of the table */
}

/* Set key = value (value bytes, any) in the baggage of trace id, creating the trace's record if
 * needed. HX_ENOSPC (counted) if the W3C limits would be exceeded; the old value then stays. */
static int bag_put(const uint8_t id[16], const char *key, size_t klen, const char *val, size_t vlen)
{
	size_t cost = klen + 1 + encoded_len(val, vlen);
	struct bag *b = bag_find(id);
	struct entry *old = bag_lookup(b, key, klen);
	size_t n = (b ? b->n : 0) + (old ? 0 : 1);
	size_t total = bag_bytes(n, (b ? b->cost : 0) - (old ? old->cost : 0) + cost);
	if (n > HX_BAGGAGE_MAX_ENTRIES || total > HX_BAGGAGE_MAX_BYTES) {
		hx__count(HX_COUNT_BAGGAGE_DROPPED);
		return HX_ENOSPC;
	}
	char *mem = malloc(klen + vlen + 2);
	if (!mem)
		return HX_ENOMEM;
	memcpy(mem, key, klen);
	mem[klen] = 0;
	memcpy(mem + klen + 1, val, vlen);
	mem[klen + 1 + vlen] = 0;
	if (!b && !(b = bag_create(id))) {
		free(mem);
		return HX_ENOMEM;
	}
	if (!old && b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct entry *e = realloc(b->e, cap * sizeof *e);
		if (!e) {
			free(mem);
			if (b->n == 0)
				bag_free(b);
			return HX_ENOMEM;
		}
		b->e = e;
		b->cap = cap;
	}
	struct entry *e = old;
	if (e) {
		b->cost -= e->cost;
		free(e->key);
	} else {
		e = &b->e[b->n++];
	}
	e->key = mem;
	e->klen = klen;
	e->val = mem + klen + 1;
	e->vlen = vlen;
	e->cost = cost;
	b->cost += cost;
	return HX_OK;
}

/* The trace of the calling thread's current entity. Reads the thread state without making one:
 * a thread that has recorded nothing yet is in no trace, and these calls record no event. */
static int current_trace(uint8_t out[16])
{
	if (__atomic_load_n(&hx__state, __ATOMIC_ACQUIRE) != 1)
		return HX_ESTATE;
	struct hx__thread *t = hx__tls;
	struct hx__tracer *tr = atomic_load_explicit(&hx__tracer_cur, memory_order_acquire);
	/* A thread state from before a shutdown and new hx_init() belongs to the old run. */
	if (!t || !tr || t->gen != tr->gen || !t->cur || !t->cur->in_trace)
		return HX_ESTATE;
	memcpy(out, t->cur->trace_id, 16);
	return HX_OK;
}

static int trace_arg(const uint8_t *trace_id, uint8_t out[16])
{
	if (!trace_id)
		return current_trace(out);
	static const uint8_t zero[16];
	if (!memcmp(trace_id, zero, 16))
		return HX_EINVAL;
	memcpy(out, trace_id, 16);
	return HX_OK;
}

/* ---- public functions ---------------------------------------------------------------------- */

int hx_baggage_set(const char *key, const char *value)
{
	if (!key || !is_token(key, strlen(key)))
		return HX_EINVAL;
	uint8_t id[16];
	int rc = current_trace(id);
	if (rc != HX_OK)
		return rc;
	table_lock();
	if (value) {
		rc = bag_put(id, key, strlen(key), value, strlen(value));
	} else {
		struct bag *b = bag_find(id);
		struct entry *e = bag_lookup(b, key, strlen(key));
		if (e)
			bag_remove(b, e);
	}
	table_unlock();
	return rc;
}

int hx_baggage_get(const char *key, char *buf, size_t len)
{
	if (!key || (!buf && len))
		return HX_EINVAL;
	if (len)
		buf[0] = 0;
	uint8_t id[16];
	int rc = current_trace(id);
	if (rc != HX_OK)
		return rc;
	table_lock();
	struct entry *e = bag_lookup(bag_find(id), key, strlen(key));
	if (!e) {
		rc = HX_ENOENT;
	} else if (e->vlen + 1 > len) {
		rc = HX_ENOSPC;
	} else {
		memcpy(buf, e->val, e->vlen);
		buf[e->vlen] = 0;
		rc = (int)e->vlen; /* at most HX_BAGGAGE_MAX_BYTES */
	}
	table_unlock();
	return rc;
}

int hx_baggage_format(const uint8_t *trace_id, char *buf, size_t len)
{
	if (!buf && len)
		return HX_EINVAL;
	if (len)
		buf[0] = 0;
	uint8_t id[16];
	int rc = trace_arg(trace_id, id);
	if (rc != HX_OK)
		return rc;
	table_lock();
	struct bag *b = bag_find(id);
	size_t total = b ? bag_bytes(b->n, b->cost) : 0;
	if (!buf) {
		rc = (int)total; /* the size query (buf NULL, len 0) */
	} else if (total + 1 > len) {
		rc = HX_ENOSPC;
	} else {
		char *p = buf;
		for (size_t i = 0; b && i < b->n; i++) {
			if (i)
				*p++ = ',';
			memcpy(p, b->e[i].key, b->e[i].klen);
			p += b->e[i].klen;
			*p++ = '=';
			p = encode(p, b->e[i].val, b->e[i].vlen);
		}
		*p = 0;
		rc = (int)total;
	}
	table_unlock();
	return rc;
}

/* One list-member "key OWS = OWS value *(OWS ; OWS property)": the key and the raw (still
 * encoded) value, or -1 if malformed. Properties are checked, then dropped. */
static int member_split(const char *s, size_t n, const char **key, size_t *klen, const char **val,
                        size_t *vlen)
{
	const char *semi = memchr(s, ';', n);
	size_t head = semi ? (size_t)(semi - s) : n;
	const char *eq = memchr(s, '=', head);
	if (!eq)
		return -1;
	const char *k = s, *v = eq + 1;
	size_t kl = (size_t)(eq - s), vl = head - kl - 1;
	while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
		kl--;
	while (vl && (v[0] == ' ' || v[0] == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (!is_token(k, kl))
		return -1;
	for (size_t i = 0; i < vl; i++)
		if (!is_baggage_octet((unsigned char)v[i]))
			return -1;
	/* property = key OWS "=" OWS value / key OWS */
	while (semi) {
		const char *p = semi + 1;
		size_t rest = n - (size_t)(p - s);
		semi = memchr(p, ';', rest);
		size_t pl = semi ? (size_t)(semi - p) : rest;
		const char *peq = memchr(p, '=', pl);
		const char *pk = p;
		size_t pkl = peq ? (size_t)(peq - p) : pl;
		while (pkl && (pk[0] == ' ' || pk[0] == '\t'))
			pk++, pkl--;
		while (pkl && (pk[pkl - 1] == ' ' || pk[pkl - 1] == '\t'))
			pkl--;
		if (!is_token(pk, pkl))
			return -1;
		if (peq) {
			const char *pv = peq + 1;
			size_t pvl = pl - (size_t)(pv - p);
			for (size_t i = 0; i < pvl; i++) {
				unsigned char c = (unsigned char)pv[i];
				if (!is_baggage_octet(c) && c != ' ' && c != '\t')
					return -1;
			}
		}
	}
	*key = k;
	*klen = kl;
	*val = v;
	*vlen = vl;
	return 0;
}

int hx_baggage_parse(const uint8_t *trace_id, const char *s, size_t len)
{
	if (!s && len)
		return HX_EINVAL;
	uint8_t id[16];
	int rc = trace_arg(trace_id, id);
	if (rc != HX_OK)
		return rc;
	if (!s)
		return HX_OK;
	/* A member longer than the whole baggage may be cannot be kept: decode only what could fit. */
	char *dec = malloc(HX_BAGGAGE_MAX_BYTES + 1);
	if (!dec)
		return HX_ENOMEM;
	int malformed = 0, nomem = 0, done = 0;
	const char *p = s, *end = s + len;
	table_lock();
	while (!done) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		const char *m = p;
		size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
		if (q)
			p = q + 1;
		else
			done = 1;
		while (n && (m[0] == ' ' || m[0] == '\t'))
			m++, n--;
		while (n && (m[n - 1] == ' ' || m[n - 1] == '\t'))
			n--;
		if (n == 0)
			continue; /* empty members, as joined fields make them */
		const char *k, *v;
		size_t kl, vl, dl = 0;
		int bad = member_split(m, n, &k, &kl, &v, &vl) != 0;
		if (!bad && vl <= HX_BAGGAGE_MAX_BYTES) /* longer: dropped below, as over the limit */
			bad = decode(v, vl, dec, &dl) != 0;
		if (bad) {
			hx__count(HX_COUNT_BAD_HEADER);
			malformed = 1;
			continue;
		}
		if (kl + 1 + vl > HX_BAGGAGE_MAX_BYTES) { /* too big even encoded as received */
			hx__count(HX_COUNT_BAGGAGE_DROPPED);
			continue;
		}
		int r = bag_put(id, k, kl, dec, dl);
		if (r == HX_ENOMEM)
			nomem = 1;
	}
	table_unlock();
	free(dec);
	if (nomem)
		return HX_ENOMEM;
	return malformed ? HX_EFORMAT : HX_OK;
}

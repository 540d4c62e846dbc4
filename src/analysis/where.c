/*
 * where.c - the --where expressions of `hx analyze` (trace_features.h): a small parser into a
 * tree of comparisons joined by and / or / not, and its evaluation on one trace's features.
 *
 * Parsing is pure (no I/O, no globals) and bounded: the text is at most HX__WHERE_MAX_LEN bytes,
 * the recursion at most HX__WHERE_MAX_DEPTH deep, and every node stems from at least one byte of
 * the text, so nothing an expression says can make it use more than a few times its length in
 * memory. Precedence, loosest first: or, and, not, comparison; parentheses group.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/trace_features.h"

typedef enum ntype { N_OR, N_AND, N_NOT, N_CMP } ntype;

typedef enum fld {
	F_DURATION, F_EVENTS, F_ENTITIES, F_PROCESSES, F_HOSTS, F_ERRORS, F_FANOUT, F_CRITICAL,
	F_COUNT, F_TOTAL, F_SELF, F_WAIT,           /* numeric; the last four need a block */
	F_ROOT, F_TRACE, F_SERVICE, F_HOST, F_NAME, /* strings */
	F_ATTR
} fld;

typedef enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_HAS } op;

static const struct {
	const char *name;
	fld f;
	int time; /* takes duration units */
} fields[] = {
	{"duration", F_DURATION, 1}, {"duration_ns", F_DURATION, 1}, {"events", F_EVENTS, 0},
	{"entities", F_ENTITIES, 0}, {"processes", F_PROCESSES, 0}, {"hosts", F_HOSTS, 0},
	{"errors", F_ERRORS, 0},     {"fanout", F_FANOUT, 0},       {"critical", F_CRITICAL, 1},
	{"critical_ns", F_CRITICAL, 1}, {"count", F_COUNT, 0},      {"total", F_TOTAL, 1},
	{"total_ns", F_TOTAL, 1},    {"self", F_SELF, 1},           {"self_ns", F_SELF, 1},
	{"wait", F_WAIT, 1},         {"wait_ns", F_WAIT, 1},        {"root", F_ROOT, 0},
	{"trace", F_TRACE, 0},       {"service", F_SERVICE, 0},     {"host", F_HOST, 0},
	{"name", F_NAME, 0},
};

typedef struct lit {
	int is_str;
	char *s;        /* is_str: NUL-terminated (the text cannot hold a NUL) */
	double d;       /* a number */
	uint64_t u;     /* the same when exact: a non-negative integer after units */
	int exact;
	const char *text; /* the number as written, for messages */
} lit;

typedef struct node {
	uint8_t type, field, op;
	uint32_t a, b;  /* children: OR, AND (a, b), NOT (a) */
	char *attr;     /* F_ATTR: the key */
	lit v;
} node;

struct hx__where {
	node *n;
	size_t nn, cap;
	uint32_t root;
	int uses_block; /* reads count, total, self or wait */
};

/* ---- lexing ---- */

typedef struct parser {
	const char *s;
	size_t pos, len;
	hx__where *w;
	char *err;
	size_t errlen;
	int failed, oom;
} parser;

static void fail(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(parser *p, size_t at, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = 1;
	p->oom = !strcmp(fmt, "out of memory");
	if (!p->err || !p->errlen)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "at offset %zu: %s", at, msg);
}

static void skip_space(parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
	                           p->s[p->pos] == '\r'))
		p->pos++;
}

static int ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int ident_char(int c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '/' || c == '-';
}

/* The word at pos (letters, digits, _ . : / -), length 0 if none. */
static size_t word_len(const parser *p)
{
	size_t i = p->pos;
	if (i >= p->len || !ident_start((unsigned char)p->s[i]))
		return 0;
	while (i < p->len && ident_char((unsigned char)p->s[i]))
		i++;
	return i - p->pos;
}

static int word_is(const parser *p, const char *kw)
{
	size_t n = word_len(p), k = strlen(kw);
	return n == k && !strncasecmp(p->s + p->pos, kw, k);
}

/* `and` / `&&`, `or` / `||`, `not` / `!` (not `!=`): consumes it. */
static int take_keyword(parser *p, const char *kw, const char *sym)
{
	skip_space(p);
	if (word_is(p, kw)) {
		p->pos += strlen(kw);
		return 1;
	}
	size_t k = strlen(sym);
	if (p->len - p->pos >= k && !strncmp(p->s + p->pos, sym, k) &&
	    !(k == 1 && p->pos + 1 < p->len && p->s[p->pos + 1] == '=')) {
		p->pos += k;
		return 1;
	}
	return 0;
}

/* A quoted string at pos ("..." or '...', backslash escapes \\ \" \' \n \t \r): a malloc'd copy. */
static char *lex_string(parser *p)
{
	char q = p->s[p->pos];
	size_t start = p->pos++;
	char *out = malloc(p->len - p->pos + 1);
	size_t n = 0;
	if (!out) {
		fail(p, start, "out of memory");
		return NULL;
	}
	while (p->pos < p->len && p->s[p->pos] != q) {
		char c = p->s[p->pos++];
		if (c == '\\') {
			if (p->pos >= p->len)
				break;
			c = p->s[p->pos++];
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '\\': case '"': case '\'': break;
			default:
				fail(p, p->pos - 2, "unknown escape '\\%c' in a string (\\\\ \\\" \\' \\n \\t \\r)",
				     isprint((unsigned char)c) ? c : '?');
				free(out);
				return NULL;
			}
		}
		out[n++] = c;
	}
	if (p->pos >= p->len) {
		fail(p, start, "string not closed (a %c is missing)", q);
		free(out);
		return NULL;
	}
	p->pos++;
	out[n] = 0;
	return out;
}

/* Units of a number, in ns per unit. */
static const struct {
	const char *name;
	double ns;
	uint64_t uns;
} units[] = {
	{"ns", 1, 1}, {"us", 1e3, 1000}, {"\xc2\xb5s", 1e3, 1000}, {"ms", 1e6, 1000000},
	{"s", 1e9, 1000000000}, {"m", 60e9, 60000000000ull}, {"h", 3600e9, 3600000000000ull},
};

/* A number at pos, with an optional unit right after it. 0, or -1 after fail(). */
static int lex_number(parser *p, lit *v, int *has_unit)
{
	size_t start = p->pos, i = p->pos;
	if (i < p->len && (p->s[i] == '-' || p->s[i] == '+'))
		i++;
	size_t digits = i;
	while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
		i++;
	int integer = 1;
	if (i < p->len && p->s[i] == '.') {
		integer = 0;
		i++;
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			i++;
	}
	if (i == digits || (i == digits + 1 && !integer)) {
		fail(p, start, "expected a number");
		return -1;
	}
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E') && i + 1 < p->len &&
	    ((p->s[i + 1] >= '0' && p->s[i + 1] <= '9') ||
	     ((p->s[i + 1] == '-' || p->s[i + 1] == '+') && i + 2 < p->len && p->s[i + 2] >= '0' &&
	      p->s[i + 2] <= '9'))) {
		integer = 0;
		i += 2;
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			i++;
	}
	char buf[64];
	if (i - start >= sizeof buf) {
		fail(p, start, "number too long");
		return -1;
	}
	memcpy(buf, p->s + start, i - start);
	buf[i - start] = 0;
	errno = 0;
	v->d = strtod(buf, NULL);
	if (!isfinite(v->d)) {
		fail(p, start, "number out of range");
		return -1;
	}
	v->exact = 0;
	if (integer && buf[0] != '-') {
		errno = 0;
		unsigned long long u = strtoull(buf[0] == '+' ? buf + 1 : buf, NULL, 10);
		if (!errno) {
			v->u = u;
			v->exact = 1;
		}
	}
	/* the unit: letters (or µ) glued to the number */
	size_t j = i;
	while (j < p->len && (isalpha((unsigned char)p->s[j]) || (unsigned char)p->s[j] >= 0x80))
		j++;
	*has_unit = 0;
	if (j > i) {
		size_t k;
		for (k = 0; k < sizeof units / sizeof units[0]; k++)
			if (strlen(units[k].name) == j - i && !memcmp(units[k].name, p->s + i, j - i))
				break;
		if (k == sizeof units / sizeof units[0]) {
			fail(p, i, "unknown unit '%.*s' (ns, us, ms, s, m, h)", (int)(j - i > 16 ? 16 : j - i),
			     p->s + i);
			return -1;
		}
		*has_unit = 1;
		v->d *= units[k].ns;
		if (v->exact && units[k].uns > 1) {
			if (v->u > UINT64_MAX / units[k].uns)
				v->exact = 0;
			else
				v->u *= units[k].uns;
		}
		if (!isfinite(v->d)) {
			fail(p, start, "number out of range");
			return -1;
		}
		/* 1.5ms is 1500000 ns exactly: keep integers exact where the value is one */
		if (!v->exact && v->d >= 0 && v->d < 9007199254740992.0 && v->d == floor(v->d)) {
			v->u = (uint64_t)v->d;
			v->exact = 1;
		}
	}
	if (j < p->len && ident_char((unsigned char)p->s[j])) {
		fail(p, j, "unexpected '%c' after a number", p->s[j]);
		return -1;
	}
	p->pos = j;
	return 0;
}

/* ---- the tree ---- */

static uint32_t new_node(parser *p, ntype t)
{
	hx__where *w = p->w;
	if (w->nn == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		node *nn = realloc(w->n, cap * sizeof(*nn));
		if (!nn) {
			fail(p, p->pos, "out of memory");
			return UINT32_MAX;
		}
		w->n = nn;
		w->cap = cap;
	}
	node *n = &w->n[w->nn];
	memset(n, 0, sizeof(*n));
	n->type = (uint8_t)t;
	return (uint32_t)w->nn++;
}

static uint32_t parse_or(parser *p, int depth);

static const char *op_text(int o)
{
	static const char *const t[] = {"=", "!=", "<", "<=", ">", ">=", "~"};
	return t[o];
}

static uint32_t parse_cmp(parser *p)
{
	skip_space(p);
	size_t at = p->pos, n = word_len(p);
	if (!n) {
		if (p->pos >= p->len)
			fail(p, at, "expected a field (duration, errors, service, attr.KEY ...), found the end");
		else
			fail(p, at, "expected a field (duration, errors, service, attr.KEY ...), found '%c'",
			     p->s[at]);
		return UINT32_MAX;
	}
	const char *word = p->s + at;
	int f = -1, time = 0;
	char *attr = NULL;
	if (n >= 5 && !strncmp(word, "attr.", 5)) {
		f = F_ATTR;
		if (n > 5) {
			attr = strndup(word + 5, n - 5);
		} else if (at + 5 < p->len && (p->s[at + 5] == '"' || p->s[at + 5] == '\'')) {
			p->pos = at + 5;
			if (!(attr = lex_string(p)))
				return UINT32_MAX;
			n = p->pos - at;
		} else {
			fail(p, at, "attr. needs a key: attr.KEY or attr.\"KEY\"");
			return UINT32_MAX;
		}
		if (!attr) {
			fail(p, at, "out of memory");
			return UINT32_MAX;
		}
		if (!*attr) {
			free(attr);
			fail(p, at, "attr. needs a key: attr.KEY or attr.\"KEY\"");
			return UINT32_MAX;
		}
	} else {
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
			if (strlen(fields[i].name) == n && !strncmp(fields[i].name, word, n)) {
				f = fields[i].f;
				time = fields[i].time;
			}
		if (f < 0) {
			fail(p, at, "unknown field '%.*s' (duration, events, entities, processes, hosts, errors, "
			            "fanout, critical, root, trace, service, host, name, attr.KEY, count, total, "
			            "self, wait)", (int)(n > 40 ? 40 : n), word);
			return UINT32_MAX;
		}
	}
	p->pos = at + n;
	skip_space(p);
	size_t opat = p->pos;
	int o = -1;
	const char *s = p->s + p->pos;
	size_t left = p->len - p->pos;
	if (left >= 2 && !strncmp(s, "==", 2)) {
		o = OP_EQ;
		p->pos += 2;
	} else if (left >= 2 && !strncmp(s, "!=", 2)) {
		o = OP_NE;
		p->pos += 2;
	} else if (left >= 2 && !strncmp(s, "<=", 2)) {
		o = OP_LE;
		p->pos += 2;
	} else if (left >= 2 && !strncmp(s, ">=", 2)) {
		o = OP_GE;
		p->pos += 2;
	} else if (left >= 1 && (*s == '=' || *s == '<' || *s == '>' || *s == '~')) {
		o = *s == '=' ? OP_EQ : *s == '<' ? OP_LT : *s == '>' ? OP_GT : OP_HAS;
		p->pos++;
	}
	if (o < 0) {
		free(attr);
		fail(p, opat, "expected a comparison (= != < <= > >= ~) after '%.*s'", (int)(n > 40 ? 40 : n), word);
		return UINT32_MAX;
	}
	skip_space(p);
	size_t vat = p->pos;
	lit v;
	memset(&v, 0, sizeof(v));
	int has_unit = 0;
	if (p->pos < p->len && (p->s[p->pos] == '"' || p->s[p->pos] == '\'')) {
		v.is_str = 1;
		if (!(v.s = lex_string(p))) {
			free(attr);
			return UINT32_MAX;
		}
	} else if (p->pos < p->len && ((p->s[p->pos] >= '0' && p->s[p->pos] <= '9') || p->s[p->pos] == '-' ||
	                               p->s[p->pos] == '+' || p->s[p->pos] == '.')) {
		if (lex_number(p, &v, &has_unit)) {
			free(attr);
			return UINT32_MAX;
		}
	} else {
		free(attr);
		if (p->pos >= p->len)
			fail(p, vat, "expected a value after '%s', found the end", op_text(o));
		else
			fail(p, vat, "expected a value (a number, a duration or a \"quoted string\") after '%s'",
			     op_text(o));
		return UINT32_MAX;
	}
	int numeric = f <= F_WAIT, stringy = f >= F_ROOT && f <= F_NAME;
	const char *fname = f == F_ATTR ? "an attribute" : NULL;
	char fbuf[48];
	if (!fname) {
		snprintf(fbuf, sizeof fbuf, "%.*s", (int)(n > 40 ? 40 : n), word);
		fname = fbuf;
	}
	if (numeric && v.is_str)
		fail(p, vat, "%s compares with a number, not a string", fname);
	else if (numeric && o == OP_HAS)
		fail(p, opat, "~ (contains) compares strings; %s is a number", fname);
	else if (numeric && has_unit && !time)
		fail(p, vat, "%s is a count: no unit", fname);
	else if (stringy && !v.is_str)
		fail(p, vat, "%s compares with a \"quoted string\"", fname);
	else if (f == F_ATTR && has_unit)
		fail(p, vat, "an attribute compares with a plain number or a string: no unit");
	else if (f == F_ATTR && !v.is_str && o == OP_HAS)
		fail(p, opat, "~ (contains) needs a \"quoted string\"");
	if (p->failed) {
		free(attr);
		free(v.s);
		return UINT32_MAX;
	}
	uint32_t id = new_node(p, N_CMP);
	if (id == UINT32_MAX) {
		free(attr);
		free(v.s);
		return UINT32_MAX;
	}
	node *nd = &p->w->n[id];
	nd->field = (uint8_t)f;
	nd->op = (uint8_t)o;
	nd->attr = attr;
	nd->v = v;
	if (f == F_COUNT || f == F_TOTAL || f == F_SELF || f == F_WAIT)
		p->w->uses_block = 1;
	return id;
}

static uint32_t parse_unary(parser *p, int depth)
{
	if (depth > HX__WHERE_MAX_DEPTH) {
		fail(p, p->pos, "nested more than %d deep", HX__WHERE_MAX_DEPTH);
		return UINT32_MAX;
	}
	skip_space(p);
	size_t at = p->pos;
	if (take_keyword(p, "not", "!")) {
		uint32_t a = parse_unary(p, depth + 1);
		if (a == UINT32_MAX)
			return a;
		uint32_t id = new_node(p, N_NOT);
		if (id != UINT32_MAX)
			p->w->n[id].a = a;
		return id;
	}
	if (p->pos < p->len && p->s[p->pos] == '(') {
		p->pos++;
		uint32_t a = parse_or(p, depth + 1);
		if (a == UINT32_MAX)
			return a;
		skip_space(p);
		if (p->pos >= p->len || p->s[p->pos] != ')') {
			fail(p, at, "'(' not closed");
			return UINT32_MAX;
		}
		p->pos++;
		return a;
	}
	return parse_cmp(p);
}

static uint32_t parse_and(parser *p, int depth)
{
	uint32_t a = parse_unary(p, depth);
	while (a != UINT32_MAX && take_keyword(p, "and", "&&")) {
		uint32_t b = parse_unary(p, depth);
		if (b == UINT32_MAX)
			return b;
		uint32_t id = new_node(p, N_AND);
		if (id == UINT32_MAX)
			return id;
		p->w->n[id].a = a;
		p->w->n[id].b = b;
		a = id;
	}
	return a;
}

static uint32_t parse_or(parser *p, int depth)
{
	uint32_t a = parse_and(p, depth);
	while (a != UINT32_MAX && take_keyword(p, "or", "||")) {
		uint32_t b = parse_and(p, depth);
		if (b == UINT32_MAX)
			return b;
		uint32_t id = new_node(p, N_OR);
		if (id == UINT32_MAX)
			return id;
		p->w->n[id].a = a;
		p->w->n[id].b = b;
		a = id;
	}
	return a;
}

void hx__where_free(hx__where *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nn; i++) {
		free(w->n[i].attr);
		free(w->n[i].v.s);
	}
	free(w->n);
	free(w);
}

int hx__where_parse(const char *expr, hx__where **out, char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	parser p;
	memset(&p, 0, sizeof(p));
	p.err = err;
	p.errlen = errlen;
	if (!expr) {
		fail(&p, 0, "no expression");
		return HX_EINVAL;
	}
	p.s = expr;
	p.len = strnlen(expr, HX__WHERE_MAX_LEN + 1);
	if (p.len > HX__WHERE_MAX_LEN) {
		fail(&p, 0, "expression longer than %d bytes", HX__WHERE_MAX_LEN);
		return HX_EINVAL;
	}
	if (!(p.w = calloc(1, sizeof(*p.w)))) {
		fail(&p, 0, "out of memory");
		return HX_ENOMEM;
	}
	p.w->root = parse_or(&p, 0);
	if (!p.failed) {
		skip_space(&p);
		if (p.pos < p.len)
			fail(&p, p.pos, "unexpected '%c' (expected and, or, or the end)", p.s[p.pos]);
	}
	if (p.failed) {
		hx__where_free(p.w);
		return p.oom ? HX_ENOMEM : HX_EINVAL;
	}
	*out = p.w;
	return HX_OK;
}

size_t hx__where_attr_keys(const hx__where *w, const char **keys, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; w && i < w->nn; i++) {
		if (w->n[i].type != N_CMP || w->n[i].field != F_ATTR)
			continue;
		size_t j;
		for (j = 0; j < i; j++)
			if (w->n[j].type == N_CMP && w->n[j].field == F_ATTR && !strcmp(w->n[j].attr, w->n[i].attr))
				break;
		if (j < i)
			continue; /* named before */
		if (k < max)
			keys[k] = w->n[i].attr;
		k++;
	}
	return k;
}

/* ---- evaluation ---- */

static int cmp_num(uint64_t x, const lit *v, int o)
{
	int c;
	if (v->exact)
		c = x < v->u ? -1 : x > v->u;
	else
		c = (double)x < v->d ? -1 : (double)x > v->d;
	switch (o) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	default: return 0;
	}
}

static int cmp_str(const char *x, const lit *v, int o)
{
	if (o == OP_HAS)
		return strstr(x, v->s) != NULL;
	int c = strcmp(x, v->s);
	switch (o) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	default: return 0;
	}
}

/* Any of n strings matches; for != none equals. */
static int cmp_any(char *const *xs, size_t n, const lit *v, int o)
{
	if (o == OP_NE) {
		for (size_t i = 0; i < n; i++)
			if (!strcmp(xs[i], v->s))
				return 0;
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (cmp_str(xs[i], v, o))
			return 1;
	return 0;
}

static int cmp_attr(const hx__features *f, const node *nd)
{
	const char *val = NULL;
	for (size_t i = 0; i < f->nattrs && !val; i++)
		if (f->attrs[i].key && !strcmp(f->attrs[i].key, nd->attr))
			val = f->attrs[i].value ? f->attrs[i].value : "";
	if (!val)
		return nd->op == OP_NE;
	if (nd->v.is_str)
		return cmp_str(val, &nd->v, nd->op);
	/* a number: compared as one when the value reads as one */
	char *end;
	errno = 0;
	double d = strtod(val, &end);
	if (end == val || *end || !isfinite(d))
		return nd->op == OP_NE;
	int c = d < nd->v.d ? -1 : d > nd->v.d;
	switch (nd->op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	default: return 0;
	}
}

static int eval(const hx__where *w, uint32_t i, const hx__features *f, const hx__feat_block *b)
{
	const node *nd = &w->n[i];
	switch (nd->type) {
	case N_OR: return eval(w, nd->a, f, b) || eval(w, nd->b, f, b);
	case N_AND: return eval(w, nd->a, f, b) && eval(w, nd->b, f, b);
	case N_NOT: return !eval(w, nd->a, f, b);
	default: break;
	}
	char hex[33];
	switch (nd->field) {
	case F_DURATION: return cmp_num(f->duration_ns, &nd->v, nd->op);
	case F_EVENTS: return cmp_num(f->events, &nd->v, nd->op);
	case F_ENTITIES: return cmp_num(f->entities, &nd->v, nd->op);
	case F_PROCESSES: return cmp_num(f->processes, &nd->v, nd->op);
	case F_HOSTS: return cmp_num(f->hosts, &nd->v, nd->op);
	case F_ERRORS: return cmp_num(f->errors, &nd->v, nd->op);
	case F_FANOUT: return cmp_num(f->fanout, &nd->v, nd->op);
	case F_CRITICAL: return cmp_num(b ? b->critical_ns : f->critical_ns, &nd->v, nd->op);
	case F_COUNT: return b && cmp_num(b->count, &nd->v, nd->op);
	case F_TOTAL: return b && cmp_num(b->total_ns, &nd->v, nd->op);
	case F_SELF: return b && cmp_num(b->self_ns, &nd->v, nd->op);
	case F_WAIT: return b && cmp_num(b->wait_ns, &nd->v, nd->op);
	case F_ROOT: return cmp_str(f->root_name ? f->root_name : "", &nd->v, nd->op);
	case F_TRACE:
		for (int k = 0; k < 16; k++)
			snprintf(hex + 2 * k, 3, "%02x", f->trace_id[k]);
		return cmp_str(hex, &nd->v, nd->op);
	case F_SERVICE: return cmp_any(f->services, f->nservices, &nd->v, nd->op);
	case F_HOST: return cmp_any(f->host_names, f->nhost_names, &nd->v, nd->op);
	case F_NAME:
		if (b)
			return cmp_str(b->name ? b->name : "", &nd->v, nd->op);
		if (nd->op == OP_NE) {
			for (size_t k = 0; k < f->nblocks; k++)
				if (f->blocks[k].name && !strcmp(f->blocks[k].name, nd->v.s))
					return 0;
			return 1;
		}
		for (size_t k = 0; k < f->nblocks; k++)
			if (cmp_str(f->blocks[k].name ? f->blocks[k].name : "", &nd->v, nd->op))
				return 1;
		return 0;
	case F_ATTR: return cmp_attr(f, nd);
	default: return 0;
	}
}

int hx__where_match(const hx__where *w, const hx__features *f, const hx__feat_block *block)
{
	if (!w || !w->nn)
		return 1;
	if (block || !w->uses_block)
		return eval(w, w->root, f, block);
	/* block fields without a block in scope: true when one of the trace's blocks makes it so */
	for (size_t i = 0; i < f->nblocks; i++)
		if (eval(w, w->root, f, &f->blocks[i]))
			return 1;
	return f->nblocks ? 0 : eval(w, w->root, f, NULL);
}

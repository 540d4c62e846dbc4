/*
 * common.c - what the subcommands share: usage messages, opening a trace, damage lines, output.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"

int hx__cli_usage(const char *name)
{
	const hx__cmd *c = hx__cmd_find(name);
	fprintf(stderr, "usage: hx %s %s\n", name, c ? c->synopsis : "");
	return HX_EXIT_USAGE;
}

int hx__cli_bad_option(const char *name, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	if (optopt && strncmp(arg, "--", 2))
		fprintf(stderr, "hx %s: bad or incomplete option '-%c'\n", name, optopt);
	else
		fprintf(stderr, "hx %s: bad or incomplete option '%s'\n", name, arg);
	return hx__cli_usage(name);
}

/* A service URL becomes the temporary directory its traces were fetched into (fetch.c); a path
 * stays itself. NULL after a message on stderr. */
static const char *local_path(const char *name, const char *path)
{
	if (!hx__cli_is_url(path))
		return path;
	char *dir = NULL, err[512];
	if (hx__cli_fetch(path, &dir, err, sizeof err) != 0) {
		fprintf(stderr, "hx %s: %s: %s\n", name, path, err);
		return NULL;
	}
	return dir;
}

int hx__cli_open(const char *name, const char *path, hx_read_order order, hx_reader **out)
{
	const char *url = path;
	if (!(path = local_path(name, path)))
		return HX_EXIT_USAGE;
	int rc = hx_reader_open(out, path, order);
	if (rc == HX_EFORMAT && path != url) {
		fprintf(stderr, "hx %s: %s: no events there\n", name, url);
		return HX_EXIT_USAGE;
	}
	if (rc == HX_OK)
		return 0;
	fprintf(stderr, "hx %s: %s: %s\n", name, path, hx_strerror(rc));
	return HX_EXIT_USAGE;
}

int hx__cli_open_paths(const char *name, char **paths, size_t n, hx_read_order order,
                       hx_reader **out)
{
	for (size_t i = 0; i < n; i++) {
		const char *local = local_path(name, paths[i]);
		if (!local)
			return HX_EXIT_USAGE;
		paths[i] = (char *)local; /* the caller's argv: a fetched URL is read from its copy */
	}
	int rc = hx_reader_open_paths(out, (const char *const *)paths, n, order);
	if (rc == HX_OK)
		return 0;
	/* name the path that failed: the first one that cannot be read alone */
	const char *bad = n == 1 ? paths[0] : NULL;
	for (size_t i = 0; !bad && i < n; i++) {
		hx_reader *one;
		int r1 = hx_reader_open(&one, paths[i], order);
		if (r1 != HX_OK && r1 != HX_EFORMAT)
			bad = paths[i];
		hx_reader_close(one);
	}
	if (bad)
		fprintf(stderr, "hx %s: %s: %s\n", name, bad, hx_strerror(rc));
	else
		fprintf(stderr, "hx %s: %zu paths: %s\n", name, n, hx_strerror(rc));
	return HX_EXIT_USAGE;
}

int hx__cli_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int hx__cli_damage_text(hx__buf *b, const hx_damage *d)
{
	/* file names come from a directory listing and reasons quote them: escape both, so a name
	 * cannot drive the terminal */
	const char *kind = hx_damage_kind_name(d->kind);
	int err = hx__buf_printf(b, "%-12s ", kind ? kind : "unknown");
	err |= hx__text_plain(b, d->file, strlen(d->file));
	err |= hx__buf_printf(b, " at %llu", (unsigned long long)d->offset);
	if (d->bytes)
		err |= hx__buf_printf(b, " (%llu bytes)", (unsigned long long)d->bytes);
	if (d->kind != HX_DMG_NOT_A_TRACE && d->kind != HX_DMG_HEADER && d->kind != HX_DMG_IO)
		err |= hx__buf_printf(b, " stream %u chunk %llu", d->stream,
		                      (unsigned long long)d->chunk_seq);
	err |= hx__buf_puts(b, ": ");
	err |= hx__text_plain(b, d->reason, strlen(d->reason));
	return err ? HX_ENOMEM : HX_OK;
}

int hx__cli_damage_json(hx__buf *b, const hx_damage *d)
{
	const char *kind = hx_damage_kind_name(d->kind);
	int err = hx__buf_puts(b, "{\"kind\":");
	err |= hx__json_string(b, kind ? kind : "unknown", strlen(kind ? kind : "unknown"));
	err |= hx__buf_puts(b, ",\"file\":");
	err |= hx__json_string(b, d->file, strlen(d->file));
	err |= hx__buf_printf(b, ",\"offset\":%llu,\"bytes\":%llu,\"stream\":%u,\"chunk_seq\":%llu,",
	                      (unsigned long long)d->offset, (unsigned long long)d->bytes, d->stream,
	                      (unsigned long long)d->chunk_seq);
	err |= hx__buf_puts(b, "\"reason\":");
	err |= hx__json_string(b, d->reason, strlen(d->reason));
	err |= hx__buf_putc(b, '}');
	return err ? HX_ENOMEM : HX_OK;
}

int hx__cli_flush(hx__buf *b, FILE *f)
{
	int rc = 0;
	if (b->len && fwrite(b->p, 1, b->len, f) != b->len)
		rc = -1;
	hx__buf_reset(b);
	return rc;
}

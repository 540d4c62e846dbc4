/*
 * assets.h - the viewer's own files (web/), embedded in the hx binary at build time by
 * scripts/embed-assets.py, which writes the table below into web_assets.c. Nothing is ever read
 * from the file system at run time: a request can only name an entry of this table.
 *
 * Names are paths relative to web/ ("index.html", "js/app.js"), made only of letters, digits and
 * . _ - / (the generator refuses anything else), so a URL path names an asset byte for byte,
 * without decoding. The ETag is the quoted start of the content's SHA-256.
 * Thread safety: constant data.
 */
#ifndef HX_SERVER_ASSETS_H
#define HX_SERVER_ASSETS_H

#include <stddef.h>

typedef struct hx__asset {
	const char *name;
	const unsigned char *data;
	size_t len;
	const char *etag;
} hx__asset;

extern const hx__asset hx__assets[];
extern const size_t hx__nassets;

#endif /* HX_SERVER_ASSETS_H */

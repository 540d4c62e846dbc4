/*
 * assets.c - GET / and GET /assets/NAME: the viewer's page and its scripts and styles, answered
 * from the table embedded at build time (assets.h). No path reaches the file system: the route
 * hands over the rest of the path undecoded, and only an exact match with an embedded name is an
 * answer, so "..", "%2e%2e", encoded slashes and the like simply name nothing (404).
 *
 * Headers: the Content-Type is decided by the name's extension (with X-Content-Type-Options:
 * nosniff, which http.c adds to every response, a browser runs a module only when it is served
 * as JavaScript); Content-Security-Policy as docs/http-api.md states it, so that even a name or
 * value of a trace that slipped into the page as markup could load and run nothing; X-Frame-Options
 * DENY, so no other site frames the viewer; an ETag with Cache-Control: no-cache, so a browser
 * revalidates every time (If-None-Match answered 304) and never runs an outdated copy after hx is
 * rebuilt. No Access-Control-Allow-Origin, ever. The bearer token, when the service has one, is
 * required here as everywhere (http.c checks it before any route).
 */
#include "server/assets.h"
#include "server/server.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <string.h>

#define CSP "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " \
            "connect-src 'self'"

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".json", "application/json"},
	{".map", "application/json"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".ico", "image/x-icon"},
	{".woff2", "font/woff2"},
	{".txt", "text/plain; charset=utf-8"},
};

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

static const hx__asset *find(const char *name)
{
	for (size_t i = 0; i < hx__nassets; i++)
		if (!strcmp(hx__assets[i].name, name))
			return &hx__assets[i];
	return NULL;
}

/* Does an If-None-Match list ("a", W/"b", *) name this ETag? */
static int etag_matches(const char *list, const char *etag)
{
	size_t n = strlen(etag);
	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (!strncmp(p, "W/", 2))
			p += 2;
		if (!strncmp(p, etag, n) && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

static void serve(hx__server *srv, struct evhttp_request *req, const hx__asset *a)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Security-Policy", CSP);
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "ETag", a->etag);
	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	if (inm && etag_matches(inm, a->etag)) {
		hx__http_reply(srv, req, 304, NULL, NULL, 0);
		return;
	}
	hx__http_reply(srv, req, 200, content_type(a->name), a->data, a->len);
}

void hx__static_index(hx__server *srv, struct evhttp_request *req, const char *tail,
                      const char *query)
{
	/* the query string is the page's own state (which trace, which window): not ours to check */
	const hx__asset *a = find("index.html");
	if (!a) {
		hx__http_error(srv, req, 404, "this hx was built without the viewer's files (web/)");
		return;
	}
	serve(srv, req, a);
}

void hx__static_asset(hx__server *srv, struct evhttp_request *req, const char *tail,
                      const char *query)
{
	const hx__asset *a = tail ? find(tail) : NULL;
	if (!a) {
		hx__http_error(srv, req, 404, "no such asset");
		return;
	}
	serve(srv, req, a);
}

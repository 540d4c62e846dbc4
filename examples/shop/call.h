/*
 * call.h - the HTTP client side of the shop's processes (client, gateway), on libcurl: one
 * request/reply interaction per call, the context crossing in the W3C headers both ways.
 */
#ifndef SHOP_CALL_H
#define SHOP_CALL_H

#include <haruspex.h>

#include <curl/curl.h>

/* The answer to one call. */
typedef struct shop_answer {
	long status;            /* HTTP status; 0 when the call failed before an answer */
	char body[256];         /* NUL-terminated, truncated to fit */
	hx_context reply;       /* the server's reply CAUSE, from the response headers (may be invalid) */
} shop_answer;

/* One request/reply interaction over HTTP: record hx_request(request_name), POST `body` to `url`
 * with the request's context injected into the headers, wait (STATE waiting, `waiting_for`), then
 * record hx_reply_received(reply_name) naming the server's reply, which resumes this entity.
 * A transport failure records an error instead and ends the wait. Returns 0 when an answer
 * arrived (any status), -1 otherwise (with a message). `curl` is a reusable easy handle. */
int shop_call(CURL *curl, const char *url, const char *body, const char *request_name, const char *waiting_for,
              const char *reply_name, shop_answer *out);

#endif /* SHOP_CALL_H */

/*
 * store_int.h - what store.c offers the backends (and nobody else): the per-thread message behind
 * hx_store_errmsg().
 */
#ifndef HX_STORE_INT_H
#define HX_STORE_INT_H

#include "store/store.h"

/* Set the message hx_store_errmsg() returns on this thread (printf format). */
void hx__store_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* HX_STORE_INT_H */

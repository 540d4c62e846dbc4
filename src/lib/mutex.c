/*
 * mutex.c - hx_mutex: a pthread mutex that records lock hand-offs (release -> acquire) when, and
 * only when, a thread had to wait for it.
 *
 * Recording every lock and unlock would double the cost of a short critical section and fill
 * traces with uncontended pairs that explain nothing; what explains latency is a thread that
 * waited, and who it waited for. So the uncontended path is a trylock (plus, on unlock, one
 * relaxed load of the waiter count), and the contended path records three events: STATE waiting
 * on the waiter, CAUSE (lock) on the releasing thread, and EFFECT (lock) on the waiter, which
 * also ends its wait (haruspex.h: an effect on a waiting entity resumes it).
 *
 * The releasing thread writes its CAUSE context into the mutex while it still holds the lock and
 * the waiter reads it after acquiring, so the mutex itself orders the two: no extra atomics. A
 * waiter that arrives between the releaser's look at the waiter count and its unlock finds no
 * context (or an older one, cleared below) and records STATE running instead: the wait is still
 * visible, only its cause is not named.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <haruspex.h>

struct hx_mutex {
	pthread_mutex_t lock;
	atomic_uint waiters;  /* threads inside hx_mutex_lock's contended path */
	hx_context release;   /* CAUSE of the last contended release; protected by `lock` */
	char name[];          /* the reason recorded for waits, and the interaction events' name */
};

hx_mutex *hx_mutex_create(const char *name)
{
	if (!name)
		name = "mutex";
	size_t len = strnlen(name, HX_NAME_MAX);
	hx_mutex *m = calloc(1, sizeof *m + len + 1);
	if (!m)
		return NULL;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	memcpy(m->name, name, len);
	return m;
}

void hx_mutex_destroy(hx_mutex *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int hx_mutex_trylock(hx_mutex *m)
{
	if (!m)
		return EINVAL;
	return pthread_mutex_trylock(&m->lock);
}

void hx_mutex_lock(hx_mutex *m)
{
	if (!m)
		return;
	if (pthread_mutex_trylock(&m->lock) == 0)
		return;
	atomic_fetch_add_explicit(&m->waiters, 1, memory_order_relaxed);
	hx_state_set(HX_STATE_WAITING, m->name);
	pthread_mutex_lock(&m->lock);
	atomic_fetch_sub_explicit(&m->waiters, 1, memory_order_relaxed);
	if (m->release.flags & HX_CTX_VALID)
		hx_effect_attrs(HX_IA_LOCK, m->name, &m->release, 1, NULL, 0);
	else
		hx_state_set(HX_STATE_RUNNING, m->name);
	/* One release wakes one waiter: the next one must not name the same cause. */
	memset(&m->release, 0, sizeof m->release);
}

void hx_mutex_unlock(hx_mutex *m)
{
	if (!m)
		return;
	if (atomic_load_explicit(&m->waiters, memory_order_relaxed) > 0)
		m->release = hx_cause_attrs(HX_IA_LOCK, m->name, NULL, 0);
	else
		memset(&m->release, 0, sizeof m->release);
	pthread_mutex_unlock(&m->lock);
}

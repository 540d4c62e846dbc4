/*
 * entity.c - explicit entities: coroutines, event-loop tasks, actors.
 *
 * An explicit entity has no stream of its own. Whatever thread runs it writes its events into the
 * thread's own stream behind a CONTEXT record naming the entity and its next sequence number, so
 * a coroutine that migrates between threads keeps one gap-free sequence and no two threads ever
 * write one stream. The owner CAS in enter is what makes "one thread at a time" a checked rule.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/tracer.h"

/* Is e usable by this process's current tracer? Counts the reason when not. */
static int entity_ok(const struct hx__thread *t, const struct hx_entity *e)
{
	if (!e || e->ended) {
		hx__count(HX_COUNT_BAD_ENTITY);
		return 0;
	}
	if (e->gen != t->gen) {
		/* made before a fork() (the child has a new tracer) or before a shutdown */
		hx__count(HX_COUNT_AFTER_FORK);
		return 0;
	}
	return 1;
}

hx_entity *hx_entity_begin(const char *name, hx_entity_kind kind)
{
	if (!hx__state)
		return NULL;
	struct hx__thread *t = hx__thread_current();
	if (!t)
		return NULL;
	if (kind < HX_ENTITY_THREAD || kind > HX_ENTITY_PROCESS) {
		hx__count(HX_COUNT_BAD_ARGUMENT);
		return NULL;
	}
	struct hx_entity *e = calloc(1, sizeof *e);
	if (!e) {
		hx__count(HX_COUNT_DROPPED);
		return NULL;
	}
	e->id = hx__entity_id_new(t);
	e->kind = kind;
	e->gen = t->gen;
	e->is_explicit = 1;
	/* inherit the creator's trace: a task spawned while handling a request belongs to it */
	if (t->cur->in_trace) {
		memcpy(e->trace_id, t->cur->trace_id, 16);
		e->in_trace = 1;
		e->muted = t->cur->muted; /* a sampled-out trace stays sampled out in its tasks */
	}
	hx__emit_entity_begin(t, e, name, kind, 0, t->cur->id);
	return e;
}

void hx_entity_enter(hx_entity *e)
{
	if (!hx__state)
		return;
	struct hx__thread *t = hx__thread_current();
	if (!t || !entity_ok(t, e))
		return;
	struct hx__thread *expected = NULL;
	if (!atomic_compare_exchange_strong(&e->owner, &expected, t)) {
		hx__count(HX_COUNT_BAD_ENTITY); /* entered already, here or on another thread */
		return;
	}
	e->prev_current = t->cur;
	t->cur = e;
	hx__mute_set(t, e->muted);
	hx__emit_state(t, e, HX_STATE_RUNNING);
}

/* Pop e (the current entity of t) off the thread's enter chain. */
static void pop_current(struct hx__thread *t, struct hx_entity *e)
{
	t->cur = e->prev_current ? e->prev_current : &t->self;
	hx__mute_set(t, t->cur->muted);
	e->prev_current = NULL;
	atomic_store(&e->owner, NULL);
}

void hx_entity_leave(void)
{
	if (!hx__state)
		return;
	struct hx__thread *t = hx__thread_current();
	if (!t)
		return;
	struct hx_entity *e = t->cur;
	if (e == &t->self) {
		hx__count(HX_COUNT_LEAVE_WITHOUT_ENTER);
		return;
	}
	hx__emit_state(t, e, HX_STATE_WAITING);
	pop_current(t, e);
}

void hx_entity_end(hx_entity *e)
{
	if (!e)
		return;
	struct hx__thread *t = hx__state ? hx__thread_current() : NULL;
	if (!t) {
		/* Tracing is off: nothing to record, but the handle is still ours to free. */
		free(e);
		return;
	}
	if (!entity_ok(t, e)) {
		if (e->gen != t->gen)
			free(e); /* a parent's handle: the child still owns the memory */
		return;
	}
	struct hx__thread *owner = atomic_load(&e->owner);
	if (owner && owner != t) {
		hx__count(HX_COUNT_BAD_ENTITY); /* running on another thread: cannot end it here */
		return;
	}
	hx__emit_entity_end(t, e);
	e->ended = 1;
	if (owner == t) {
		/* Ending an entered entity leaves it. If it is not the innermost one, unlink it from
		 * the chain so the chain never points at freed memory. */
		if (t->cur == e) {
			pop_current(t, e);
		} else {
			for (struct hx_entity *x = t->cur; x && x != &t->self; x = x->prev_current) {
				if (x->prev_current == e) {
					x->prev_current = e->prev_current;
					break;
				}
			}
		}
	}
	free(e);
}

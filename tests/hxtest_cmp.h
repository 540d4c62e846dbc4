/*
 * hxtest_cmp.h - field-by-field equality of two decoded events, for tests that check a round trip
 * (test_encode.c: encoder -> decoder; tests/store/conformance.c: append -> fetch). Include it after
 * <cmocka.h>: it asserts with cmocka's macros.
 */
#ifndef HX_TEST_CMP_H
#define HX_TEST_CMP_H

#include <haruspex.h>
#include <string.h>

/* Every field the format carries: identity, time, trace, name, attributes (by type), causes (the
 * sampled and foreign flags), and each kind's own fields. */
static inline void hxt_assert_same_event(const hx_event *a, const hx_event *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->time_ns, b->time_ns);
	assert_int_equal(a->entity_id, b->entity_id);
	assert_int_equal(a->seq, b->seq);
	assert_memory_equal(a->trace_id, b->trace_id, 16);
	assert_int_equal(a->name_len, b->name_len);
	if (a->name_len)
		assert_memory_equal(a->name, b->name, a->name_len);
	assert_int_equal(a->nattrs, b->nattrs);
	for (size_t i = 0; i < a->nattrs; i++) {
		const hx_attr *x = &a->attrs[i], *y = &b->attrs[i];
		assert_string_equal(x->key ? x->key : "", y->key ? y->key : "");
		assert_int_equal(x->type, y->type);
		switch (x->type) {
		case HX_ATTR_INT:
			assert_int_equal(x->v.i, y->v.i);
			break;
		case HX_ATTR_DOUBLE:
			assert_memory_equal(&x->v.d, &y->v.d, sizeof(double));
			break;
		case HX_ATTR_BOOL:
			assert_int_equal(!!x->v.b, !!y->v.b);
			break;
		default:
			assert_int_equal(x->v.s.len, y->v.s.len);
			if (x->v.s.len)
				assert_memory_equal(x->v.s.ptr, y->v.s.ptr, x->v.s.len);
		}
	}
	assert_int_equal(a->ncauses, b->ncauses);
	for (size_t i = 0; i < a->ncauses; i++) {
		assert_memory_equal(a->causes[i].trace_id, b->causes[i].trace_id, 16);
		assert_int_equal(a->causes[i].entity_id, b->causes[i].entity_id);
		assert_int_equal(a->causes[i].seq, b->causes[i].seq);
		assert_int_equal(a->causes[i].flags & (HX_CTX_SAMPLED | HX_CTX_FOREIGN),
		                 b->causes[i].flags & (HX_CTX_SAMPLED | HX_CTX_FOREIGN));
	}
	switch (a->kind) {
	case HX_EV_ENTITY_BEGIN:
		assert_int_equal(a->entity_kind, b->entity_kind);
		assert_int_equal(a->tid, b->tid);
		assert_int_equal(a->parent_id, b->parent_id);
		break;
	case HX_EV_STATE:
		assert_int_equal(a->state, b->state);
		break;
	case HX_EV_ANNOTATE:
		assert_int_equal(a->target, b->target);
		break;
	case HX_EV_CAUSE:
	case HX_EV_EFFECT:
	case HX_EV_TRACE_JOIN:
		assert_int_equal(a->interaction, b->interaction);
		assert_int_equal(!!a->resumes, !!b->resumes);
		break;
	case HX_EV_COUNTER:
		assert_string_equal(a->unit ? a->unit : "", b->unit ? b->unit : "");
		assert_int_equal(a->counter_is_int, b->counter_is_int);
		if (a->counter_is_int)
			assert_int_equal(a->counter_int, b->counter_int);
		else
			assert_memory_equal(&a->counter_double, &b->counter_double, sizeof(double));
		break;
	default:
		break;
	}
}

#endif /* HX_TEST_CMP_H */

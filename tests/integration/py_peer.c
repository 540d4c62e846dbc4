/*
 * py_peer - the C side of the Python binding's tests (bindings/python/tests/). Not a meson test:
 * the Python tests run it (tests/integration/python.sh runs them).
 *
 *   py_peer layout
 *       Print the size of every struct the binding mirrors with ctypes and the offset of each of
 *       their fields, one "name value" line each ("sizeof hx_event 208",
 *       "offsetof hx_event.resumes 192"), so test_abi.py can compare them with ctypes.
 *
 *   py_peer serve DIR
 *       The far end of a cross-process hand-off. Traces into DIR (service "py_peer"), reads one
 *       line from stdin carrying a context, either "bin <hex of the binary form>" or
 *       "tp <traceparent> <tracestate>", and continues its trace (TRACE_JOIN), records the
 *       request's arrival (EFFECT request), a block "peer work" holding a point, and the reply
 *       (CAUSE reply). It writes the reply's context on stdout in the other form than the one
 *       it received ("tp ..." for "bin ...", "bin ..." for "tp ..."), followed by a line
 *       "entity <entity ID in hex>", then ends the trace and shuts down. Exit status 0 on
 *       success; 2 for bad arguments, 3 when the input is not a context, 4 on a failed call.
 */
#define _GNU_SOURCE
#include <haruspex.h>
#include <haruspex/propagation.h>
#include <haruspex/reader.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE(type) printf("sizeof %s %zu\n", #type, sizeof(type))
#define OFF(type, field) printf("offsetof %s.%s %zu\n", #type, #field, offsetof(type, field))

static void layout(void)
{
	SIZE(hx_config);
	OFF(hx_config, size);
	OFF(hx_config, sink);
	OFF(hx_config, dir);
	OFF(hx_config, service);
	OFF(hx_config, max_file_bytes);
	OFF(hx_config, max_files);
	OFF(hx_config, fsync);
	OFF(hx_config, fsync_interval_ms);
	OFF(hx_config, fsync_every);
	OFF(hx_config, callback);
	OFF(hx_config, callback_user);
	OFF(hx_config, chunk_bytes);
	OFF(hx_config, quiet);
	OFF(hx_config, sampler);
	OFF(hx_config, sample_probability);
	OFF(hx_config, sample_rate);
	OFF(hx_config, disable);
	OFF(hx_config, ship_to);
	OFF(hx_config, ship_token);

	SIZE(hx_attr);
	OFF(hx_attr, key);
	OFF(hx_attr, type);
	OFF(hx_attr, v);
	OFF(hx_attr, v.i);
	OFF(hx_attr, v.d);
	OFF(hx_attr, v.b);
	OFF(hx_attr, v.s.ptr);
	OFF(hx_attr, v.s.len);

	SIZE(hx_context);
	OFF(hx_context, trace_id);
	OFF(hx_context, entity_id);
	OFF(hx_context, seq);
	OFF(hx_context, flags);
	OFF(hx_context, reserved);

	SIZE(hx_event);
	OFF(hx_event, kind);
	OFF(hx_event, time_ns);
	OFF(hx_event, entity_id);
	OFF(hx_event, seq);
	OFF(hx_event, trace_id);
	OFF(hx_event, name);
	OFF(hx_event, name_len);
	OFF(hx_event, attrs);
	OFF(hx_event, nattrs);
	OFF(hx_event, entity_kind);
	OFF(hx_event, tid);
	OFF(hx_event, state);
	OFF(hx_event, target);
	OFF(hx_event, interaction);
	OFF(hx_event, causes);
	OFF(hx_event, ncauses);
	OFF(hx_event, unit);
	OFF(hx_event, counter_is_int);
	OFF(hx_event, counter_int);
	OFF(hx_event, counter_double);
	OFF(hx_event, parent_id);
	OFF(hx_event, resumes);
	OFF(hx_event, time_orig_ns);

	SIZE(hx_stats);
	OFF(hx_stats, count);
	OFF(hx_stats, events);
	printf("value HX_COUNT__MAX %d\n", (int)HX_COUNT__MAX);

	SIZE(hx_damage);
	OFF(hx_damage, kind);
	OFF(hx_damage, file);
	OFF(hx_damage, offset);
	OFF(hx_damage, bytes);
	OFF(hx_damage, stream);
	OFF(hx_damage, chunk_seq);
	OFF(hx_damage, reason);

	SIZE(hx_process_info);
	OFF(hx_process_info, instance);
	OFF(hx_process_info, pid);
	OFF(hx_process_info, host);
	OFF(hx_process_info, program);
	OFF(hx_process_info, service);
	OFF(hx_process_info, files);
	OFF(hx_process_info, clean);
	OFF(hx_process_info, counters);
	OFF(hx_process_info, clock_kind);
	OFF(hx_process_info, ticks_per_sec);
	OFF(hx_process_info, syncs);

	SIZE(hx_reader_info);
	OFF(hx_reader_info, files);
	OFF(hx_reader_info, bytes);
	OFF(hx_reader_info, chunks);
	OFF(hx_reader_info, chunks_damaged);
	OFF(hx_reader_info, events);
	OFF(hx_reader_info, records);
	OFF(hx_reader_info, payload_bytes);
	OFF(hx_reader_info, event_bytes);
	OFF(hx_reader_info, damaged);

	SIZE(hx_header_pair);
	OFF(hx_header_pair, name);
	OFF(hx_header_pair, value);

	printf("value HX_TRACEPARENT_LEN %d\n", HX_TRACEPARENT_LEN);
	printf("value HX_TRACESTATE_MAX %d\n", HX_TRACESTATE_MAX);
	printf("value HX_CONTEXT_BINARY_MAX %d\n", HX_CONTEXT_BINARY_MAX);
	printf("value HX_BAGGAGE_MAX_BYTES %d\n", HX_BAGGAGE_MAX_BYTES);
	printf("value HX_FILE_COUNTERS_PUBLIC %d\n", HX_FILE_COUNTERS_PUBLIC);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse one input line into *ctx. Returns 0 for "bin", 1 for "tp", -1 if malformed. */
static int parse_line(char *line, hx_context *ctx)
{
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "bin ", 4) == 0) {
		const char *hex = line + 4;
		size_t n = strlen(hex);
		uint8_t buf[HX_CONTEXT_BINARY_MAX];
		if (n % 2 || n / 2 > sizeof buf)
			return -1;
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return -1;
			buf[i] = (uint8_t)(hi * 16 + lo);
		}
		int used = hx_context_from_binary(buf, n / 2, ctx);
		return used == (int)(n / 2) ? 0 : -1;
	}
	if (strncmp(line, "tp ", 3) == 0) {
		char *tp = line + 3;
		char *ts = strchr(tp, ' ');
		if (!ts)
			return -1;
		*ts++ = '\0';
		if (hx_traceparent_parse(tp, strlen(tp), ctx) != HX_OK)
			return -1;
		if (hx_tracestate_apply(ts, strlen(ts), ctx) != HX_OK)
			return -1;
		return 1;
	}
	return -1;
}

static int serve(const char *dir)
{
	hx_config cfg;
	hx_config_init(&cfg);
	cfg.dir = dir;
	cfg.service = "py_peer";
	if (hx_init(&cfg) != HX_OK) {
		fprintf(stderr, "py_peer: hx_init failed\n");
		return 4;
	}

	char line[1024];
	if (!fgets(line, sizeof line, stdin)) {
		fprintf(stderr, "py_peer: no context on stdin\n");
		hx_shutdown();
		return 3;
	}
	hx_context in;
	int form = parse_line(line, &in);
	if (form < 0 || !(in.flags & HX_CTX_VALID)) {
		fprintf(stderr, "py_peer: not a context: %s\n", line);
		hx_shutdown();
		return 3;
	}

	hx_trace_continue(&in, "peer");
	hx_request_received("request arrived", &in);
	hx_block_begin("peer work");
	HX_POINT_WITH("computed", HX_INT("answer", 42), HX_STR("lang", "c"));
	hx_block_end();
	hx_context out = hx_reply("reply");
	hx_context here = hx_context_current();

	int rc = 0;
	if (form == 0) {
		char tp[HX_TRACEPARENT_LEN + 1], ts[HX_TRACESTATE_MAX + 1];
		if (hx_traceparent_format(&out, tp, sizeof tp) < 0 ||
		    hx_tracestate_format(&out, NULL, ts, sizeof ts) < 0)
			rc = 4;
		else
			printf("tp %s %s\n", tp, ts);
	} else {
		uint8_t buf[HX_CONTEXT_BINARY_MAX];
		int n = hx_context_to_binary(&out, buf, sizeof buf);
		if (n <= 0) {
			rc = 4;
		} else {
			printf("bin ");
			for (int i = 0; i < n; i++)
				printf("%02x", buf[i]);
			printf("\n");
		}
	}
	printf("entity %016" PRIx64 "\n", here.entity_id);
	fflush(stdout);

	hx_trace_end();
	hx_shutdown();
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "layout") == 0) {
		layout();
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	fprintf(stderr, "usage: py_peer layout | py_peer serve DIR\n");
	return 2;
}

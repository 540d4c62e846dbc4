/*
 * config.c - the configuration: defaults, the caller's struct, then HARUSPEX_* environment
 * variables on top (an operator can redirect a program without rebuilding it).
 *
 * Every value from the environment is validated; a bad one is an error that names the variable,
 * never a silent default, so a typo in a deployment is seen at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/tracer.h"
#include "net/client.h"
#include "lib/statsdsink.h"
#if HX_HAVE_KAFKA
#include "lib/kafkasink.h"
#endif

void hx_config_init(hx_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof *cfg);
	cfg->size = sizeof *cfg;
	cfg->sink = HX_SINK_FILE;
	cfg->dir = "./haruspex-traces";
	cfg->service = NULL;
	cfg->max_file_bytes = 1ull << 30;
	cfg->max_files = 0;
	cfg->fsync = HX_FSYNC_NONE;
	cfg->fsync_interval_ms = 1000;
	cfg->fsync_every = 1;
	cfg->chunk_bytes = HX_CHUNK_DEFAULT;
}

static int parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s || *s == '-')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	/* allow k, M, G suffixes for sizes */
	uint64_t mult = 1;
	if (*end == 'k' || *end == 'K')
		mult = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1024 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mult = 1024ull * 1024 * 1024, end++;
	if (*end)
		return -1;
	if (mult > 1 && v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(errbuf, errlen, __VA_ARGS__);                                             \
		return HX_ECONFIG;                                                                 \
	} while (0)

/* Copy the fields the caller's (possibly older, smaller) struct has. */
static void copy_known(hx_config *out, const hx_config *in)
{
	size_t n = in->size < sizeof *out ? in->size : sizeof *out;
	if (n < sizeof(size_t))
		return;
	memcpy(out, in, n);
	out->size = sizeof *out;
}

int hx__config_resolve(hx_config *out, const hx_config *in, char *errbuf, size_t errlen)
{
	hx_config_init(out);
	if (in) {
		if (in->size == 0 || in->size > 65536)
			BAD("hx_config.size is %zu: call hx_config_init() first", in->size);
		copy_known(out, in);
	}
	const char *v;
	if ((v = getenv("HARUSPEX_SINK")) && *v) {
		if (!strcmp(v, "file"))
			out->sink = HX_SINK_FILE;
		else if (!strcmp(v, "stderr"))
			out->sink = HX_SINK_STDERR;
		else if (!strcmp(v, "none"))
			out->sink = HX_SINK_NONE;
		else if (!strncmp(v, "tcp://", 6)) {
			out->sink = HX_SINK_TCP;
			out->ship_to = v;
		}
		else if (!strncmp(v, "kafka://", 8)) {
			out->sink = HX_SINK_KAFKA;
			out->ship_to = v;
		}
		else if (!strncmp(v, HX__STATSD_SCHEME, strlen(HX__STATSD_SCHEME))) {
			out->sink = HX_SINK_STATSD;
			out->ship_to = v;
		}
		else if (!strcmp(v, "callback")) {
			if (!out->callback)
				BAD("HARUSPEX_SINK=callback, but the program set no callback");
			out->sink = HX_SINK_CALLBACK;
		} else
			BAD("HARUSPEX_SINK=%.64s: expected file, stderr, callback, none, tcp://HOST:PORT, "
			    "kafka://BROKERS/TOPIC or statsd://HOST:PORT", v);
	}
	if ((v = getenv("HARUSPEX_SHIP_TOKEN")) && *v)
		out->ship_token = v;
	if ((v = getenv("HARUSPEX_SHIP_LINGER_MS")) && *v) {
		uint64_t n; /* read by the shipping thread (shipsink.c); checked here like the rest */
		if (parse_u64(v, &n) || n > 600000)
			BAD("HARUSPEX_SHIP_LINGER_MS=%.64s: expected milliseconds, at most 600000", v);
	}
	if ((v = getenv("HARUSPEX_DIR")) && *v)
		out->dir = v;
	if ((v = getenv("HARUSPEX_SERVICE")) && *v)
		out->service = v;
	if ((v = getenv("HARUSPEX_MAX_FILE_BYTES")) && *v) {
		if (parse_u64(v, &out->max_file_bytes))
			BAD("HARUSPEX_MAX_FILE_BYTES=%.64s: expected a size such as 512M", v);
	}
	if ((v = getenv("HARUSPEX_MAX_FILES")) && *v) {
		uint64_t n;
		if (parse_u64(v, &n) || n > 1000000)
			BAD("HARUSPEX_MAX_FILES=%.64s: expected a count (0 = keep all)", v);
		out->max_files = (uint32_t)n;
	}
	if ((v = getenv("HARUSPEX_CHUNK_BYTES")) && *v) {
		uint64_t n;
		if (parse_u64(v, &n) || n > HX_CHUNK_MAX)
			BAD("HARUSPEX_CHUNK_BYTES=%.64s: expected a power of two from 4096 to 1M", v);
		out->chunk_bytes = (uint32_t)n;
	}
	if ((v = getenv("HARUSPEX_FSYNC")) && *v) {
		uint64_t n;
		if (!strcmp(v, "none"))
			out->fsync = HX_FSYNC_NONE;
		else if (!strncmp(v, "interval:", 9) && !parse_u64(v + 9, &n) && n > 0 && n <= 3600000) {
			out->fsync = HX_FSYNC_INTERVAL;
			out->fsync_interval_ms = (uint32_t)n;
		} else if (!strncmp(v, "every:", 6) && !parse_u64(v + 6, &n) && n > 0 && n <= UINT32_MAX) {
			out->fsync = HX_FSYNC_EVERY;
			out->fsync_every = (uint32_t)n;
		} else
			BAD("HARUSPEX_FSYNC=%.64s: expected none, interval:MS or every:N", v);
	}
	if ((v = getenv("HARUSPEX_QUIET")) && *v)
		out->quiet = strcmp(v, "0") != 0;
	if ((v = getenv("HARUSPEX_SAMPLE")) && *v) {
		char *end;
		if (!strcmp(v, "always")) {
			out->sampler = HX_SAMPLE_ALWAYS;
		} else if (!strcmp(v, "never")) {
			out->sampler = HX_SAMPLE_NEVER;
		} else if (!strncmp(v, "probability:", 12)) {
			errno = 0;
			double p = strtod(v + 12, &end);
			if (errno || end == v + 12 || *end || !(p >= 0.0 && p <= 1.0))
				BAD("HARUSPEX_SAMPLE=%.64s: the probability must be from 0 to 1", v);
			out->sampler = HX_SAMPLE_PROBABILITY;
			out->sample_probability = p;
		} else if (!strncmp(v, "rate:", 5)) {
			errno = 0;
			double r = strtod(v + 5, &end);
			if (errno || end == v + 5 || *end || !(r > 0.0 && r <= 1e9))
				BAD("HARUSPEX_SAMPLE=%.64s: the rate must be traces per second, above 0", v);
			out->sampler = HX_SAMPLE_RATE;
			out->sample_rate = r;
		} else {
			BAD("HARUSPEX_SAMPLE=%.64s: expected always, never, probability:P or rate:N", v);
		}
	}
	if ((v = getenv("HARUSPEX_DISABLE")))
		out->disable = v;

	/* validate the result, whatever set it */
	if (out->sink < HX_SINK_FILE || out->sink > HX_SINK_STATSD)
		BAD("hx_config.sink %d is not a sink", (int)out->sink);
	if (out->sink == HX_SINK_CALLBACK && !out->callback)
		BAD("callback sink without a callback");
	if ((out->sink == HX_SINK_FILE || out->sink == HX_SINK_TCP || out->sink == HX_SINK_KAFKA ||
	     out->sink == HX_SINK_STATSD) && (!out->dir || !*out->dir))
		BAD("file sink without a directory");
	if (out->sink == HX_SINK_TCP) {
		char host[256], port[32], why[200];
		if (hx_net_parse_url(out->ship_to, host, sizeof host, port, sizeof port, why, sizeof why))
			BAD("tcp sink: %s", why);
		if (out->ship_token && strlen(out->ship_token) > 1024)
			BAD("tcp sink: the token is longer than 1024 bytes");
	}
	if (out->sink == HX_SINK_KAFKA) {
#if HX_HAVE_KAFKA
		char brokers[4096], topic[256], why[200];
		if (hx__kafka_url_parse(out->ship_to, brokers, sizeof brokers, topic, sizeof topic, why,
		                        sizeof why))
			BAD("kafka sink: %s", why);
#else
		BAD("kafka sink: this libharuspex was built without Kafka support (librdkafka); "
		    "install librdkafka-dev and rebuild");
#endif
	}
	if (out->sink == HX_SINK_STATSD) {
		hx__statsd_url u; /* only the form: the host is resolved by hx_init() (statsdsink.c) */
		char why[200];
		if (hx__statsd_url_parse(out->ship_to, &u, why, sizeof why))
			BAD("statsd sink: %s", why);
	}
	uint32_t cb = out->chunk_bytes;
	if (cb < HX_CHUNK_MIN || cb > HX_CHUNK_MAX || (cb & (cb - 1)))
		BAD("chunk size %u: expected a power of two from 4096 to 1M", cb);
	if (out->max_file_bytes < (uint64_t)HX_FILE_HEADER_BYTES + 16ull * cb)
		BAD("max file size %llu is smaller than one window of chunks",
		    (unsigned long long)out->max_file_bytes);
	if (out->fsync < HX_FSYNC_NONE || out->fsync > HX_FSYNC_EVERY)
		BAD("hx_config.fsync %d is not a policy", (int)out->fsync);
	if (out->fsync == HX_FSYNC_INTERVAL && out->fsync_interval_ms == 0)
		BAD("fsync interval of 0 ms");
	if (out->fsync == HX_FSYNC_EVERY && out->fsync_every == 0)
		BAD("fsync every 0 events");
	if (out->sampler < HX_SAMPLE_ALWAYS || out->sampler > HX_SAMPLE_RATE)
		BAD("hx_config.sampler %d is not a sampler", (int)out->sampler);
	if (out->sampler == HX_SAMPLE_PROBABILITY && !(out->sample_probability >= 0.0 && out->sample_probability <= 1.0))
		BAD("sample probability %g: expected 0 to 1", out->sample_probability);
	if (out->sampler == HX_SAMPLE_RATE && !(out->sample_rate > 0.0 && out->sample_rate <= 1e9))
		BAD("sample rate %g: expected traces per second above 0", out->sample_rate);
	if (out->disable && hx__filters_check(out->disable, errbuf, errlen) != HX_OK)
		return HX_ECONFIG;
	return HX_OK;
}

/*
 * export.c - the entry point of the export module: the format names and hx__export_write(),
 * which runs one format's writer over a finished input into a FILE* (export.h).
 */
#include <string.h>

#include "export/export_int.h"

static const char *const names[] = {NULL, "chrome", "otlp", "zipkin"};

int hx__export_format_parse(const char *name)
{
	for (int f = HX__EXPORT_CHROME; f <= HX__EXPORT_ZIPKIN; f++)
		if (name && !strcmp(name, names[f]))
			return f;
	return 0;
}

const char *hx__export_format_name(int format)
{
	return format >= HX__EXPORT_CHROME && format <= HX__EXPORT_ZIPKIN ? names[format] : NULL;
}

int hx__export_write(const hx__export_input *in, int format, FILE *f, hx__export_stats *st)
{
	hx__export_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (!in || !in->dag || !f || !hx__export_format_name(format))
		return HX_EINVAL;
	hx__xw w;
	memset(&w, 0, sizeof(w));
	w.f = f;
	int rc;
	switch (format) {
	case HX__EXPORT_CHROME:
		rc = hx__export_chrome(in, &w, st);
		break;
	case HX__EXPORT_OTLP:
		rc = hx__export_otlp(in, &w, st);
		break;
	default:
		rc = hx__export_zipkin(in, &w, st);
		break;
	}
	if (!rc)
		rc = hx__xw_flush(&w, 1);
	st->bytes = w.written;
	hx__buf_free(&w.b);
	return rc;
}

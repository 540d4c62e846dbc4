/*
 * cmd_serve.c - `hx serve`: the trace storage service (src/server/, docs/operations.md). This file
 * only turns flags into an hx__serve_config; the service itself lives in src/server/serve.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "server/server.h"

/* A token goes into an HTTP header and a HELLO frame: visible ASCII only, no spaces. */
static int token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > HX_HELLO_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return 0;
	return 1;
}

/* The first line of a file, without its line end and surrounding blanks. */
static char *read_token_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "hx serve: --token-file %s: ", path);
		perror(NULL);
		return NULL;
	}
	char line[HX_HELLO_TOKEN_MAX + 4];
	char *got = fgets(line, sizeof(line), f);
	fclose(f);
	if (!got) {
		fprintf(stderr, "hx serve: --token-file %s is empty\n", path);
		return NULL;
	}
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
	             line[n - 1] == '\t'))
		line[--n] = '\0';
	char *s = line;
	while (*s == ' ' || *s == '\t')
		s++;
	char *tok = strdup(s);
	if (!tok)
		fprintf(stderr, "hx serve: out of memory\n");
	return tok;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"http", required_argument, NULL, 'H'},
		{"token", required_argument, NULL, 't'},
		{"token-file", required_argument, NULL, 'T'},
		{"tls-cert", required_argument, NULL, 'c'},
		{"tls-key", required_argument, NULL, 'k'},
		{"memory-limit", required_argument, NULL, 'm'},
		{"max-frame", required_argument, NULL, 'f'},
		{"retention-bytes", required_argument, NULL, 'r'},
		{"retention-age", required_argument, NULL, 'a'},
		{"kafka", required_argument, NULL, 'K'},
		{"kafka-group", required_argument, NULL, 'G'},
		{"complete-idle", required_argument, NULL, 'I'},
		{"analysis-attrs", required_argument, NULL, 'A'},
		{"view-cache", required_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	hx__serve_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = HX__SERVE_LISTEN_DEFAULT;
	cfg.http = HX__SERVE_HTTP_DEFAULT;
	cfg.memory_limit = HX__SERVE_MEMORY_DEFAULT;
	const char *token = NULL, *token_file = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			cfg.data_dir = optarg;
			break;
		case 'l':
			cfg.listen = optarg;
			break;
		case 'H':
			cfg.http = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'T':
			token_file = optarg;
			break;
		case 'c':
			cfg.tls_cert = optarg;
			break;
		case 'k':
			cfg.tls_key = optarg;
			break;
		case 'm':
			if (hx__parse_size(optarg, &cfg.memory_limit) || !cfg.memory_limit) {
				fprintf(stderr, "hx serve: --memory-limit needs a size such as 512M, not '%s'\n",
				        optarg);
				return hx__cli_usage("serve");
			}
			break;
		case 'f':
			if (hx__parse_size(optarg, &cfg.max_frame) || !cfg.max_frame) {
				fprintf(stderr, "hx serve: --max-frame needs a size such as 16M, not '%s'\n",
				        optarg);
				return hx__cli_usage("serve");
			}
			break;
		case 'r':
			if (hx__parse_size(optarg, &cfg.retention_bytes) || !cfg.retention_bytes) {
				fprintf(stderr, "hx serve: --retention-bytes needs a size such as 100G, not "
				                "'%s'\n", optarg);
				return hx__cli_usage("serve");
			}
			break;
		case 'a':
			if (hx__parse_duration(optarg, &cfg.retention_age_ns) || !cfg.retention_age_ns) {
				fprintf(stderr, "hx serve: --retention-age needs a duration such as 72h or 7d, "
				                "not '%s'\n", optarg);
				return hx__cli_usage("serve");
			}
			break;
		case 'K':
			if (strncmp(optarg, "kafka://", 8) != 0) {
				fprintf(stderr, "hx serve: --kafka needs kafka://BROKER[,BROKER...]/TOPIC, not '%s'\n",
				        optarg);
				return hx__cli_usage("serve");
			}
			cfg.kafka_url = optarg;
			break;
		case 'G':
			if (!*optarg) {
				fprintf(stderr, "hx serve: --kafka-group needs a name\n");
				return hx__cli_usage("serve");
			}
			cfg.kafka_group = optarg;
			break;
		case 'I': /* continuous analysis (src/server/extract.c) */
			if (hx__parse_duration(optarg, &cfg.complete_idle_ns) || !cfg.complete_idle_ns ||
			    cfg.complete_idle_ns > 86400000000000ull) {
				fprintf(stderr, "hx serve: --complete-idle needs a duration from 1ns to 1d such "
				                "as 30s, not '%s'\n", optarg);
				return hx__cli_usage("serve");
			}
			break;
		case 'A': {
			size_t keys = 1, len = strlen(optarg);
			for (const char *p = optarg; *p; p++)
				keys += *p == ',';
			if (!len || len > 4096 || keys > 16 || strstr(optarg, ",,") || optarg[0] == ',' ||
			    optarg[len - 1] == ',') {
				fprintf(stderr, "hx serve: --analysis-attrs needs 1 to 16 attribute keys "
				                "separated by commas, such as http.route,user.id\n");
				return hx__cli_usage("serve");
			}
			cfg.analysis_attrs = optarg;
			break;
		}
		case 'V':
			if (hx__parse_size(optarg, &cfg.view_cache) || !cfg.view_cache) {
				fprintf(stderr, "hx serve: --view-cache needs a size such as 256M, not '%s'\n",
				        optarg);
				return hx__cli_usage("serve");
			}
			break;
		default:
			return hx__cli_bad_option("serve", argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hx serve: unexpected argument '%s'\n", argv[optind]);
		return hx__cli_usage("serve");
	}
	if (!cfg.data_dir) {
		fprintf(stderr, "hx serve: --data DIR is required\n");
		return hx__cli_usage("serve");
	}
	if (token && token_file) {
		fprintf(stderr, "hx serve: give --token or --token-file, not both\n");
		return hx__cli_usage("serve");
	}
	if (!cfg.tls_cert != !cfg.tls_key) {
		fprintf(stderr, "hx serve: TLS needs both --tls-cert and --tls-key\n");
		return hx__cli_usage("serve");
	}
	char *owned = NULL;
	if (token_file && !(token = owned = read_token_file(token_file)))
		return HX_EXIT_USAGE;
	if (token && !token_ok(token)) {
		fprintf(stderr, "hx serve: a token is 1 to %u visible ASCII characters, without spaces\n",
		        HX_HELLO_TOKEN_MAX);
		free(owned);
		return HX_EXIT_USAGE;
	}
	cfg.token = token;
	int rc = hx__serve_run(&cfg);
	free(owned);
	return rc == 0 ? HX_EXIT_OK : HX_EXIT_USAGE;
}

/*
 * cmd_export.c - `dmarcd export [--type aggregate|forensic|tlsrpt|all]
 * [--format json|csv] [--domain D] [--since T] [--until T]`: stored
 * reports, streamed to stdout.  Failure and TLS reports are JSON only, in
 * their `dmarcd parse` lines.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"

static void
export_usage(void)
{
	fprintf(stderr, "usage: dmarcd export [-f FILE] [--db URL] "
	    "[--type aggregate|forensic|tlsrpt|all] [--format json|csv] "
	    "[--domain D] [--since T] [--until T]\n");
}

int
cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "format", required_argument, NULL, 'F' },
		{ "domain", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "type", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct db_export_filter	 filter;
	enum db_export_format	 fmt = DB_EXPORT_JSON;
	struct db		*db = NULL;
	char			 err[1024];
	int			 ch, rc;
	bool			 agg = true, arf = false, tls = false;

	memset(&env, 0, sizeof(env));
	memset(&filter, 0, sizeof(filter));
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			if (strcmp(optarg, "json") == 0)
				fmt = DB_EXPORT_JSON;
			else if (strcmp(optarg, "csv") == 0)
				fmt = DB_EXPORT_CSV;
			else {
				export_usage();
				return EXIT_USAGE;
			}
			break;
		case 'd':
			filter.domain = optarg;
			break;
		case 's':
			filter.since = optarg;
			break;
		case 'u':
			filter.until = optarg;
			break;
		case 't':
			agg = strcmp(optarg, "aggregate") == 0 ||
			    strcmp(optarg, "all") == 0;
			arf = strcmp(optarg, "forensic") == 0 ||
			    strcmp(optarg, "all") == 0;
			tls = strcmp(optarg, "tlsrpt") == 0 ||
			    strcmp(optarg, "all") == 0;
			if (!agg && !arf && !tls) {
				export_usage();
				return EXIT_USAGE;
			}
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				export_usage();
				return EXIT_USAGE;
			}
		}
	}
	if (optind != argc || ((arf || tls) && fmt == DB_EXPORT_CSV)) {
		export_usage();
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		return rc;
	}
	rc = 0;
	if (agg)
		rc = db_export(db, &filter, fmt, stdout, err, sizeof(err));
	if (rc == 0 && arf)
		rc = db_export_forensic(db, &filter, stdout, err,
		    sizeof(err));
	if (rc == 0 && tls)
		rc = db_export_tlsrpt(db, &filter, stdout, err, sizeof(err));
	if (rc != 0)
		log_warnx("%s", err);
	db_close(&db);
	cmd_env_free(&env);
	return rc == 0 ? 0 : rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_DB;
}

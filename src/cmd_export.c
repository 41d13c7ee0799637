/*
 * cmd_export.c - `dmarcd export [--type aggregate|forensic|tlsrpt|all]
 * [--format json|csv] [--domain D] [--since T] [--until T] [--user NAME]`:
 * stored reports (only the domains of the users file's NAME), streamed
 * to stdout.  Failure and TLS reports are JSON only, in
 * their `dmarcd parse` lines.
 */
#include "config.h"

#include <ctype.h>
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
	    "[--domain D] [--since T] [--until T] [--user NAME]\n");
}

/* n digits at *p; advances past them. */
static bool
digits(const char **p, int n)
{
	for (; n > 0; n--, (*p)++)
		if (!isdigit((unsigned char)**p))
			return false;
	return true;
}

/* Unix seconds, or YYYY-MM-DD with an optional [T ]HH:MM[:SS[.F]] and
 * zone (Z, +HH, +HH:MM): checked here so that a typo gets our message
 * rather than PostgreSQL's.  The range of each field is PostgreSQL's to
 * check. */
bool
export_time_ok(const char *s)
{
	const char	*p = s;

	if (*p == '\0')
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '\0')
		return p - s <= 12;
	p = s;
	if (!digits(&p, 4) || *p++ != '-' || !digits(&p, 2) ||
	    *p++ != '-' || !digits(&p, 2))
		return false;
	if (*p == '\0')
		return true;
	if ((*p != 'T' && *p != ' ') || (p++, !digits(&p, 2)) ||
	    *p++ != ':' || !digits(&p, 2))
		return false;
	if (*p == ':') {
		p++;
		if (!digits(&p, 2))
			return false;
		if (*p == '.') {
			p++;
			if (!digits(&p, 1))
				return false;
			while (isdigit((unsigned char)*p))
				p++;
		}
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-') {
		p++;
		if (!digits(&p, 2))
			return false;
		if (*p == ':')
			p++;
		if (*p != '\0' && !digits(&p, 2))
			return false;
	}
	return *p == '\0';
}

int
cmd_bad_value(const char *cmd, const char *opt, const char *v,
    const char *expected)
{
	char	clean[128];

	str_escape(clean, sizeof(clean), v, strlen(v));
	log_warnx("%s: --%s: expected %s: %s", cmd, opt, expected, clean);
	return EXIT_USAGE;
}

int
export_filter_opt(const char *cmd, struct db_export_filter *f, int ch,
    const char *arg)
{
	switch (ch) {
	case 'd':
		f->domain = arg;
		return 0;
	case 's':
		if (!export_time_ok(arg))
			return cmd_bad_value(cmd, "since", arg, EXPORT_TIME);
		f->since = arg;
		return 0;
	case 'u':
		if (!export_time_ok(arg))
			return cmd_bad_value(cmd, "until", arg, EXPORT_TIME);
		f->until = arg;
		return 0;
	}
	return -1;
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
		{ "user", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct db_export_filter	 filter;
	enum db_export_format	 fmt = DB_EXPORT_JSON;
	struct db		*db = NULL;
	struct buf		 ub;
	const char		*user = NULL;
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
			else
				return cmd_bad_value("export", "format",
				    optarg, "json or csv");
			break;
		case 'd':
		case 's':
		case 'u':
			if ((rc = export_filter_opt("export", &filter, ch,
			    optarg)) != 0)
				return rc;
			break;
		case 'U':
			user = optarg;
			break;
		case 't':
			agg = strcmp(optarg, "aggregate") == 0 ||
			    strcmp(optarg, "all") == 0;
			arf = strcmp(optarg, "forensic") == 0 ||
			    strcmp(optarg, "all") == 0;
			tls = strcmp(optarg, "tlsrpt") == 0 ||
			    strcmp(optarg, "all") == 0;
			if (!agg && !arf && !tls)
				return cmd_bad_value("export", "type",
				    optarg, "aggregate, forensic, tlsrpt or "
				    "all");
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				export_usage();
				return EXIT_USAGE;
			}
		}
	}
	if ((arf || tls) && fmt == DB_EXPORT_CSV) {
		log_warnx("export: --format csv: aggregate reports only "
		    "(failure and TLS reports are JSON)");
		return EXIT_USAGE;
	}
	if (optind != argc) {
		export_usage();
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		return rc;
	}
	buf_init(&ub, DB_USER_DOMAINS_MAX);
	rc = user != NULL ? cmd_user_domains(&env, db, "export", user,
	    filter.domain, &ub, &filter.domains) : 0;
	if (rc != 0) {
		buf_free(&ub);
		db_close(&db);
		cmd_env_free(&env);
		return rc;
	}
	if (agg)
		rc = db_export(db, &filter, fmt, stdout, err, sizeof(err));
	if (rc == 0 && arf)
		rc = db_export_forensic(db, &filter, stdout, err,
		    sizeof(err));
	if (rc == 0 && tls)
		rc = db_export_tlsrpt(db, &filter, stdout, err, sizeof(err));
	if (rc != 0)
		log_warnx("%s", err);
	buf_free(&ub);
	db_close(&db);
	cmd_env_free(&env);
	return rc == 0 ? 0 : rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
}

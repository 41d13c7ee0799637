/*
 * cmd_alerts.c - `dmarcd alerts --check [--dry-run] [--format json|text]`:
 * evaluates the alert rules of dmarcd.conf (its ALERTS section), sends
 * each destination the alerts it has not had, and prints what it sent.
 * Run by contrib/dmarcd-alerts.timer; `dmarcd ingest` does the same after
 * it stored something.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "alerts.h"

static void
alerts_usage(void)
{
	fprintf(stderr, "usage: dmarcd alerts --check [-f FILE] [--db URL] "
	    "[--dry-run] [--format json|text]\n");
}

int
cmd_alerts(int argc, char **argv)
{
	static const struct option own[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "check", no_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	struct option		 longopts[16];
	struct cmd_env		 env;
	struct db		*db = NULL;
	enum alerts_format	 fmt = ALERTS_TEXT;
	char			 err[1024];
	bool			 check = false, dry_run = false;
	int			 ch, rc;

	memset(&env, 0, sizeof(env));
	conf_longopts("alerts", own, longopts, nitems(longopts));
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			check = true;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'F':
			if (strcmp(optarg, "text") == 0)
				fmt = ALERTS_TEXT;
			else if (strcmp(optarg, "json") == 0)
				fmt = ALERTS_JSON;
			else {
				alerts_usage();
				return EXIT_USAGE;
			}
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				alerts_usage();
				return EXIT_USAGE;
			}
		}
	}
	if (optind != argc || !check) {
		alerts_usage();
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	if (!dry_run && (env.conf.alert_mail_to == NULL ||
	    *env.conf.alert_mail_to == '\0') &&
	    (env.conf.alert_webhook == NULL ||
	    *env.conf.alert_webhook == '\0')) {
		log_warnx("alerts: no destination: set alert_mail_to or "
		    "alert_webhook in dmarcd.conf");
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		return rc;
	}
	rc = alerts_check(db, &env.conf, dry_run, fmt, stdout, err,
	    sizeof(err));
	db_close(&db);
	cmd_env_free(&env);
	if (fflush(stdout) != 0)
		return EXIT_TEMPFAIL;
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	return EXIT_OK;
}

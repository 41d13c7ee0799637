/* cmd_check_config.c - `dmarcd check-config [-v] [-f FILE]`: validate only. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "alerts.h"
#include "classify.h"
#include "enricher.h"
#include "conf.h"
#include "dmarcd.h"
#include "httpd.h"
#include "summary.h"

int
cmd_check_config(int argc, char **argv)
{
	struct cmd_env		 env;
	struct httpd_config	 hc;
	struct classifier	*cl;
	struct enricher		*en;
	const char		*name;
	char			 err[512];
	bool			 verbose = false;
	int			 ch, rc;

	memset(&env, 0, sizeof(env));
	while ((ch = getopt(argc, argv, "f:v")) != -1) {
		if (ch == 'v')
			verbose = true;
		else if (ch != 'f' || cmd_common_opt(&env, ch, optarg) == -1) {
			fprintf(stderr, "usage: dmarcd check-config [-v] "
			    "[-f FILE]\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: dmarcd check-config [-v] [-f FILE]\n");
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	name = env.conf.file ? env.conf.file : "(defaults)";
	/* what serve would refuse at start, without reading its files */
	memset(&hc, 0, sizeof(hc));
	serve_config(&hc, &env.conf);
	if (httpd_check_config(&hc, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: serve: %s\n", name, err);
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	/* the users file serve, summary --user and export --user read */
	if (env.conf.http_users != NULL && *env.conf.http_users != '\0') {
		struct httpd_user	users[HTTPD_USERS_MAX];
		size_t			n;

		if (httpd_users_load(env.conf.http_users, users,
		    nitems(users), &n, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: http_users: %s\n", name, err);
			cmd_env_free(&env);
			return EXIT_CONFIG;
		}
		httpd_users_free(users, n);
	}
	if (lmtp_metrics_check(env.conf.lmtp_metrics_listen, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "%s: lmtp_metrics_listen: %s\n", name, err);
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	if (env.conf.http_public_url != NULL &&
	    *env.conf.http_public_url != '\0' &&
	    !summary_url_ok(env.conf.http_public_url)) {
		fprintf(stderr, "%s: http_public_url: expected an http:// or "
		    "https:// URL of at most %d bytes without blanks, quotes "
		    "or angle brackets\n", name, SUMMARY_URL_MAX);
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	if (env.conf.alert_webhook != NULL && *env.conf.alert_webhook != '\0' &&
	    !webhook_url_ok(env.conf.alert_webhook)) {
		/* the URL itself is not printed: it may hold a secret */
		fprintf(stderr, "%s: alert_webhook: expected an http:// or "
		    "https:// URL\n", name);
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	/* the catalogue and MMDB files the enricher would load, and its DNS
	 * servers (enricher_new: unless enrich = off, so those are checked
	 * on their own) */
	if (strcmp(env.conf.enrich, "off") == 0) {
		if (classifier_open(&env.conf, &cl, stderr) == -1) {
			cmd_env_free(&env);
			return EXIT_CONFIG;
		}
		classifier_free(cl);
	} else {
		if (enricher_new(&env.conf, NULL, false, &en, stderr) == -1) {
			cmd_env_free(&env);
			return EXIT_CONFIG;
		}
		enricher_free(&en);
	}
	if (verbose)
		conf_print(&env.conf, stdout);
	printf("%s: OK\n", env.conf.file ? env.conf.file :
	    "(no file: defaults)");
	cmd_env_free(&env);
	return 0;
}

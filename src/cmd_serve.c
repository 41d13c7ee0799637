/*
 * cmd_serve.c - `dmarcd serve [--listen HOST:PORT]`: the dashboard.  The
 * schema is brought up to date once at start; the server itself then only
 * reads (see httpd/pool.c).
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "httpd.h"
#include "services.h"
#include "simulation.h"

static void
serve_usage(void)
{
	fprintf(stderr, "usage: dmarcd serve [-f FILE] [--db URL] "
	    "[--listen HOST:PORT] [--static-dir DIR] [--vendor-dir DIR]\n"
	    "    [--tls-cert FILE --tls-key FILE] [--users FILE]\n");
}

/* A file setting: NULL when empty (none). */
static const char *
serve_file(const char *v)
{
	return v != NULL && *v != '\0' ? v : NULL;
}

void
serve_config(struct httpd_config *hc, const struct conf *c)
{
	static char	tree[PATH_MAX];

	/* the command line's over dmarcd.conf's over the defaults, as
	 * cmd_env_load left them; the static pages' default is computed */
	hc->listen = c->http_listen;
	hc->static_dir = serve_file(c->http_static_dir);
	if (hc->static_dir == NULL)
		hc->static_dir = httpd_static_default(tree, sizeof(tree));
	hc->vendor_dir = c->http_vendor_dir;
	hc->tls_cert = serve_file(c->http_tls_cert);
	hc->tls_key = serve_file(c->http_tls_key);
	hc->users_file = serve_file(c->http_users);
	hc->public_url = c->http_public_url;
	hc->simulate = simulation_api;
}

/* The approved-sender edits' check of a service name (httpd_config
 * service_name): the catalogue's spelling, or NULL. */
static const char *
serve_service_name(void *arg, const char *name)
{
	const struct service	*svc = catalogue_service(arg, name);

	return svc != NULL ? svc->name : NULL;
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option own[] = {
		{ "db", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct option		 longopts[16];
	struct cmd_env		 env;
	struct httpd_config	 hc;
	struct httpd		*h;
	struct catalogue	*cat;
	struct db		*db = NULL;
	sigset_t		 set;
	char			 err[1024], host[64];
	uint16_t		 port;
	int			 ch, rc, sig;

	memset(&env, 0, sizeof(env));
	memset(&hc, 0, sizeof(hc));
	conf_longopts("serve", own, longopts, nitems(longopts));
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1)
		if (cmd_common_opt(&env, ch, optarg) == -1) {
			serve_usage();
			return EXIT_USAGE;
		}
	if (optind != argc) {
		serve_usage();
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	serve_config(&hc, &env.conf);
	/* what check-config checks, before the database is touched */
	if (httpd_check_config(&hc, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	/* migrate once, with a writable connection, then read only */
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		return rc;
	}
	db_close(&db);
	hc.dbc = env.dbc;
	/* the catalogue a service rule must name, as `senders add` loads it */
	cat = catalogue_new();
	if (catalogue_builtin(cat, stderr) == -1 ||
	    (env.conf.services_file != NULL && *env.conf.services_file !=
	    '\0' && catalogue_load(cat, env.conf.services_file,
	    stderr) == -1)) {
		catalogue_free(cat);
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	hc.service_name = serve_service_name;
	hc.service_arg = cat;

	/* the worker threads inherit the blocked signals; we sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatalx("out of memory");
	if (httpd_start(h, &hc, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		free(h);
		catalogue_free(cat);
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	httpd_parse_listen(hc.listen, host, sizeof(host), &port, err,
	    sizeof(err));
	printf("dmarcd: dashboard at %s://%s%s%s:%u/\n",
	    hc.tls_cert != NULL ? "https" : "http",
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    (unsigned)port);
	fflush(stdout);
	sigwait(&set, &sig);
	log_info("signal %d: stopping", sig);
	httpd_stop(h);
	free(h);
	catalogue_free(cat);
	cmd_env_free(&env);
	return 0;
}

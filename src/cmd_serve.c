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

#define SERVE_VENDOR_DIR	"/usr/share/javascript/chart.js"

static void
serve_usage(void)
{
	fprintf(stderr, "usage: dmarcd serve [-f FILE] [--db URL] "
	    "[--listen HOST:PORT] [--static-dir DIR] [--vendor-dir DIR]\n"
	    "    [--tls-cert FILE --tls-key FILE] [--users FILE]\n");
}

/* A setting not given on the command line: the file's, else def. */
static void
serve_pick(const char **v, const char *file, const char *def)
{
	if (*v == NULL)
		*v = file != NULL && *file != '\0' ? file : def;
}

void
serve_config(struct httpd_config *hc, const struct conf *c)
{
	static char	tree[PATH_MAX];

	/* the command line, else dmarcd.conf, else the defaults */
	serve_pick(&hc->listen, c->http_listen, HTTPD_DEFAULT_LISTEN);
	serve_pick(&hc->static_dir, c->http_static_dir,
	    httpd_static_default(tree, sizeof(tree)));
	serve_pick(&hc->vendor_dir, c->http_vendor_dir, SERVE_VENDOR_DIR);
	serve_pick(&hc->tls_cert, c->http_tls_cert, NULL);
	serve_pick(&hc->tls_key, c->http_tls_key, NULL);
	serve_pick(&hc->users_file, c->http_users, NULL);
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "listen", required_argument, NULL, 'l' },
		{ "static-dir", required_argument, NULL, 's' },
		{ "vendor-dir", required_argument, NULL, 'V' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "users", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct httpd_config	 hc;
	struct httpd		*h;
	struct db		*db = NULL;
	sigset_t		 set;
	char			 err[1024], host[64];
	uint16_t		 port;
	int			 ch, rc, sig;

	memset(&env, 0, sizeof(env));
	memset(&hc, 0, sizeof(hc));
	while ((ch = getopt_long(argc, argv, "f:l:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			hc.listen = optarg;
			break;
		case 's':
			hc.static_dir = optarg;
			break;
		case 'V':
			hc.vendor_dir = optarg;
			break;
		case 'c':
			hc.tls_cert = optarg;
			break;
		case 'k':
			hc.tls_key = optarg;
			break;
		case 'u':
			hc.users_file = optarg;
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				serve_usage();
				return EXIT_USAGE;
			}
		}
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
	cmd_env_free(&env);
	return 0;
}

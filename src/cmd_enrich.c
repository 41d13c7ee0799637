/*
 * cmd_enrich.c - `dmarcd enrich [-v] [-f FILE] [--db URL] [--refresh]
 * [OPTION]...`: one pass of the enricher (src/enricher.c) over what is
 * pending, then exit; a progress line when stderr is a terminal, and a
 * summary line at the end.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "enricher.h"

struct progress {
	struct timespec	 start;
	bool		 shown;
};

static void
enrich_usage(void)
{
	fprintf(stderr, "usage: dmarcd enrich [-v] [-f FILE] [--db URL] "
	    "[--refresh] [OPTION]...\n"
	    "(dmarcd enrich --help lists the options)\n");
}

static double
since(const struct timespec *t0)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
show_progress(void *arg, const struct enrich_stats *st)
{
	struct progress	*p = arg;
	double		 s = since(&p->start);

	fprintf(stderr, "\renrich: %llu looked up, %.0f/s ",
	    (unsigned long long)st->looked_up, s > 0 ? st->looked_up / s : 0);
	p->shown = true;
}

int
cmd_enrich(int argc, char **argv)
{
	static const struct option own[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "refresh", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct option		 longopts[32];
	struct cmd_env		 env;
	struct enrich_stats	 st;
	struct progress		 p;
	struct enricher		*e = NULL;
	struct db		*db = NULL;
	const char		*items[32];
	char			 err[1024], servers[2048];
	size_t			 o;
	double			 s;
	bool			 refresh = false;
	int			 ch, rc, verbose = 0, i, k;

	memset(&env, 0, sizeof(env));
	conf_longopts("enrich", own, longopts, nitems(longopts));
	while ((ch = getopt_long(argc, argv, "f:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			refresh = true;
			break;
		case 'v':
			verbose++;
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				enrich_usage();
				return EXIT_USAGE;
			}
		}
	}
	if (optind != argc) {
		enrich_usage();
		return EXIT_USAGE;
	}
	if (verbose > 0)
		log_init("dmarcd", false, verbose + 1);	/* -v: each address */
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	/* --dns-server is repeatable: all of them, not the last */
	if ((k = conf_arg_list(&env, "dns_servers", items,
	    nitems(items))) == -1) {
		log_warnx("dns_servers: more than %zu on the command line",
		    nitems(items));
		cmd_env_free(&env);
		return EXIT_USAGE;
	}
	servers[0] = '\0';
	for (i = 0, o = 0; i < k && o < sizeof(servers); i++) {
		int l = snprintf(servers + o, sizeof(servers) - o, "%s%s",
		    i ? "," : "", items[i]);

		o = l < 0 || (size_t)l >= sizeof(servers) - o ?
		    sizeof(servers) : o + l;
	}
	if (o >= sizeof(servers)) {
		log_warnx("dns_servers: too long on the command line");
		cmd_env_free(&env);
		return EXIT_USAGE;
	}
	if (enricher_new(&env.conf, k > 0 ? servers : NULL, refresh, &e,
	    stderr) == -1) {
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		enricher_free(&e);
		cmd_env_free(&env);
		return rc;
	}
	memset(&st, 0, sizeof(st));
	memset(&p, 0, sizeof(p));
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	rc = enricher_pass(e, db, isatty(STDERR_FILENO) ? show_progress :
	    NULL, &p, &st, err, sizeof(err));
	s = since(&p.start);
	if (p.shown)
		fputc('\n', stderr);
	db_close(&db);
	enricher_free(&e);
	if (rc != 0) {
		log_warnx("%s", err);
		cmd_env_free(&env);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	if (st.reclassified > 0)
		fprintf(stderr, "enrich: the service catalogue or the geoip_db"
		    " files changed: %llu sources classified again\n",
		    (unsigned long long)st.reclassified);
	fprintf(stderr, "enrich: %llu looked up (",
	    (unsigned long long)st.looked_up);
	for (i = 0; i < ENRICH_STATES; i++)
		fprintf(stderr, "%s%s %llu", i ? ", " : "",
		    resolver_state_name(i), (unsigned long long)st.state[i]);
	fprintf(stderr, "), %llu verified, %llu queries, %llu classified, "
	    "%.1f s, %.0f IPs/s\n", (unsigned long long)st.verified,
	    (unsigned long long)st.queries,
	    (unsigned long long)st.classified, s,
	    st.dns_seconds > 0 ? st.looked_up / st.dns_seconds : 0.0);
	cmd_env_free(&env);
	return EXIT_OK;
}

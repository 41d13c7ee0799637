/*
 * cmd_simulate.c - `dmarcd simulate`: what a policy would do to a
 * period's mail, per domain: every record's DMARC result recomputed from
 * its authentication results under the policy's alignment modes
 * (policy/simulate.c), the messages it would quarantine and reject, and
 * the sources that would lose mail, with why.  A policy value not given
 * is the domain's latest published one.  The work is src/simulation.c;
 * this file reads options and prints.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib.h"
#include "conf.h"
#include "db.h"
#include "dmarcd.h"
#include "simulation.h"

#define SIM_LINE_CAP	(1024 * 1024)	/* one domain's JSON line */
#define SIM_TOP_MAX	1000		/* --top */

/* How the command prints. */
struct out_opts {
	unsigned	 top;
	bool		 json;
};

static void
simulate_usage(void)
{
	fprintf(stderr, "usage: dmarcd simulate [--domain D] [--since T] "
	    "[--until T | --period Nd]\n"
	    "       [--p none|quarantine|reject] [--sp ...] [--np ...] "
	    "[--pct N]\n"
	    "       [--adkim r|s] [--aspf r|s] [--testing y|n] [--top N] "
	    "[--user NAME] [--format json|text]\n");
}

static void
text_domain(FILE *f, const struct out_opts *oo, const struct sim_domain *d)
{
	char	esc[4 * 256 + 4], pub[4 * 32 + 4] = "-";
	size_t	i, n;

	str_escape(esc, sizeof(esc), d->name, strlen(d->name));
	/* the published p is a report's text: escaped like the name */
	if (d->pub[0] != NULL)
		str_escape(pub, sizeof(pub), d->pub[0], strlen(d->pub[0]));
	fprintf(f, "%s: p=%s sp=%s pct=%u adkim=%s aspf=%s%s (published "
	    "p=%s)\n", esc, sim_disp_name(d->pol.p), sim_disp_name(d->pol.sp),
	    d->pol.pct, d->pol.adkim_strict ? "s" : "r",
	    d->pol.aspf_strict ? "s" : "r",
	    d->pol.testing ? " t=y" : "", pub);
	fprintf(f, "  %llu messages, %llu pass (%.1f%%); would quarantine "
	    "%llu, would reject %llu\n", (unsigned long long)d->messages,
	    (unsigned long long)d->pass, d->messages ? 100.0 * d->pass /
	    d->messages : 0.0, (unsigned long long)d->would_quarantine,
	    (unsigned long long)d->would_reject);
	n = d->nsrc < oo->top ? d->nsrc : oo->top;
	for (i = 0; i < n; i++) {
		const struct sim_source	*s = &d->src[i];
		char			 svc[4 * 64 + 4] = "";

		if (s->service != NULL)
			str_escape(svc, sizeof(svc), s->service,
			    strlen(s->service));
		fprintf(f, "  %-9s %-39s %-20s %10llu of %llu: %s\n",
		    sender_class_name(s->cls), s->ip, *svc ? svc : "-",
		    (unsigned long long)s->would_fail,
		    (unsigned long long)s->messages, s->why);
	}
	fprintf(f, "  by class: approved %llu (%llu would fail), forwarded "
	    "%llu (%llu), unknown %llu (%llu)\n",
	    (unsigned long long)d->cls_messages[SENDER_APPROVED],
	    (unsigned long long)d->cls_would_fail[SENDER_APPROVED],
	    (unsigned long long)d->cls_messages[SENDER_FORWARDED],
	    (unsigned long long)d->cls_would_fail[SENDER_FORWARDED],
	    (unsigned long long)d->cls_messages[SENDER_UNKNOWN],
	    (unsigned long long)d->cls_would_fail[SENDER_UNKNOWN]);
}

static int
disp_opt(const char *opt, const char *v, const char **out)
{
	enum sim_disp	d;

	if (sim_disp_parse(v, &d) == -1)
		return cmd_bad_value("simulate", opt, v,
		    "none, quarantine or reject");
	*out = v;
	return 0;
}

static int
word_opt(const char *opt, const char *v, const char *a, const char *b,
    const char **out)
{
	char	expected[32];

	if (strcasecmp(v, a) != 0 && strcasecmp(v, b) != 0) {
		snprintf(expected, sizeof(expected), "%s or %s", a, b);
		return cmd_bad_value("simulate", opt, v, expected);
	}
	*out = v;
	return 0;
}

/* "30d": since that many days ago (unix seconds into buf). */
static int
period_opt(const char *v, char *buf, size_t len)
{
	char		*end;
	long long	 days;

	days = strtoll(v, &end, 10);
	if (end == v || (strcmp(end, "d") != 0 && *end != '\0') ||
	    days < 1 || days > 36500)
		return cmd_bad_value("simulate", "period", v,
		    "a number of days, 1d to 36500d");
	snprintf(buf, len, "%lld", (long long)time(NULL) - days * 86400);
	return 0;
}

int
cmd_simulate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "format", required_argument, NULL, 'F' },
		{ "domain", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "period", required_argument, NULL, 'P' },
		{ "p", required_argument, NULL, 'p' },
		{ "sp", required_argument, NULL, 'S' },
		{ "np", required_argument, NULL, 'N' },
		{ "pct", required_argument, NULL, 'c' },
		{ "adkim", required_argument, NULL, 'k' },
		{ "aspf", required_argument, NULL, 'a' },
		{ "testing", required_argument, NULL, 't' },
		{ "top", required_argument, NULL, 'T' },
		{ "user", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct db_export_filter	 filter;
	struct sim_opts		 o;
	struct out_opts		 oo;
	struct sim_result	*res = NULL;
	struct buf		 b, ub;
	struct db		*db = NULL;
	const char		*user = NULL;
	char			 err[1024], since[32], *end;
	long			 v;
	size_t			 i;
	int			 ch, rc = 0;
	bool			 period = false, since_given = false;

	memset(&env, 0, sizeof(env));
	memset(&filter, 0, sizeof(filter));
	memset(&o, 0, sizeof(o));
	o.pct = -1;
	oo.top = 20;
	oo.json = true;
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			if (strcmp(optarg, "json") == 0)
				oo.json = true;
			else if (strcmp(optarg, "text") == 0)
				oo.json = false;
			else
				rc = cmd_bad_value("simulate", "format",
				    optarg, "json or text");
			break;
		case 's':
			since_given = true;
			/* FALLTHROUGH */
		case 'd':
		case 'u':
			rc = export_filter_opt("simulate", &filter, ch, optarg);
			break;
		case 'P':
			if ((rc = period_opt(optarg, since,
			    sizeof(since))) == 0) {
				filter.since = since;
				period = true;
			}
			break;
		case 'p':
			rc = disp_opt("p", optarg, &o.p);
			break;
		case 'S':
			rc = disp_opt("sp", optarg, &o.sp);
			break;
		case 'N':
			rc = disp_opt("np", optarg, &o.np);
			break;
		case 'c':
		case 'T':
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 0 ||
			    v > (ch == 'c' ? 100 : SIM_TOP_MAX))
				rc = cmd_bad_value("simulate", ch == 'c' ?
				    "pct" : "top", optarg, ch == 'c' ?
				    "0 to 100" : "0 to 1000");
			else if (ch == 'c')
				o.pct = (int)v;
			else
				oo.top = (unsigned)v;
			break;
		case 'k':
			rc = word_opt("adkim", optarg, "r", "s", &o.adkim);
			break;
		case 'a':
			rc = word_opt("aspf", optarg, "r", "s", &o.aspf);
			break;
		case 't':
			rc = word_opt("testing", optarg, "y", "n",
			    &o.testing);
			break;
		case 'U':
			user = optarg;
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				simulate_usage();
				return EXIT_USAGE;
			}
		}
		if (rc != 0)
			return rc;
	}
	if (optind != argc) {
		simulate_usage();
		return EXIT_USAGE;
	}
	if (period && since_given) {
		log_warnx("simulate: --period and --since: give one");
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		return rc;
	}
	buf_init(&ub, DB_USER_DOMAINS_MAX);
	if (user != NULL && (rc = cmd_user_domains(&env, db, "simulate", user,
	    filter.domain, &ub, &filter.domains)) != 0) {
		buf_free(&ub);
		db_close(&db);
		cmd_env_free(&env);
		return rc;
	}
	rc = simulation_run(db, &filter, &o, NULL, NULL, &res, err,
	    sizeof(err));
	if (rc == 0) {
		buf_init(&b, SIM_LINE_CAP);
		for (i = 0; i < res->ndom && rc == 0; i++) {
			const struct sim_domain	*d = &res->dom[i];

			if (!oo.json) {
				text_domain(stdout, &oo, d);
				continue;
			}
			buf_reset(&b);
			if (simulation_json(&b, d, oo.top) == -1 ||
			    buf_addc(&b, '\n') == -1) {
				snprintf(err, sizeof(err), "simulate: %s: "
				    "line too long", d->name);
				rc = DB_EPERM;
			} else if (fwrite(b.data, 1, b.len, stdout) != b.len) {
				snprintf(err, sizeof(err), "write error");
				rc = DB_EPERM;
			}
		}
		buf_free(&b);
		if (rc == 0 && fflush(stdout) != 0) {
			snprintf(err, sizeof(err), "write error");
			rc = DB_EPERM;
		}
	}
	simulation_free(&res);
	buf_free(&ub);
	db_close(&db);
	cmd_env_free(&env);
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	return EXIT_OK;
}

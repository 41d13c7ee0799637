/*
 * cmd_simulate.c - `dmarcd simulate`: what a policy would do to a
 * period's mail, per domain: every record's DMARC result recomputed from
 * its authentication results under the policy's alignment modes
 * (policy/simulate.c), the messages it would quarantine and reject, and
 * the sources that would lose mail, with why.  A policy value not given
 * is the domain's latest published one.
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
#include "simulate.h"

#define SIM_LINE_CAP	(1024 * 1024)	/* one domain's JSON line */
#define SIM_TOP_MAX	1000		/* --top */
#define SIM_DOMAINS_MAX	1000000

/* What the command line sets; the rest comes from the published policy. */
struct sim_opts {
	const char	*p, *sp, *np, *adkim, *aspf, *testing;
	int		 pct;		/* -1: not given */
	unsigned	 top;
	bool		 json;
};

struct sim_source {
	char		*ip, *service;
	const char	*why;
	uint64_t	 messages, would_fail, why_msgs;
	uint64_t	 fail[SIM_NDISP];
};

struct sim_domain {
	char			*name;
	char			*pub[6];	/* p sp np adkim aspf testing */
	int			 pub_pct;
	struct sim_policy	 pol;
	uint64_t		 messages, pass, pass_strict_dkim,
				 pass_strict_spf;
	uint64_t		 fail[SIM_NDISP];
	struct sim_source	*src;
	size_t			 nsrc, srccap;
};

struct sim_run {
	struct sim_opts		*o;
	struct sim_domain	*dom;
	size_t			 ndom, domcap;
	struct sim_domain	*cur;	/* the rows' domain */
	struct sim_source	 s;	/* the rows' source, being folded */
	bool			 in_source;
};

static void
simulate_usage(void)
{
	fprintf(stderr, "usage: dmarcd simulate [--domain D] [--since T] "
	    "[--until T | --period Nd]\n"
	    "       [--p none|quarantine|reject] [--sp ...] [--np ...] "
	    "[--pct N]\n"
	    "       [--adkim r|s] [--aspf r|s] [--testing y|n] [--top N] "
	    "[--format json|text]\n");
}

static char *
xstrdup(const char *s)
{
	char	*c;

	if (s == NULL)
		return NULL;
	if ((c = strdup(s)) == NULL)
		fatalx("out of memory");
	return c;
}

/* The policy a domain is simulated under: the options over what it
 * published; sp defaults to p, np to sp (RFC 7489 6.3, DMARCbis). */
static void
resolve(const struct sim_opts *o, struct sim_domain *d)
{
	const char	*v;

	d->pol.p = SIM_NONE;
	v = o->p ? o->p : d->pub[0];
	(void)sim_disp_parse(v, &d->pol.p);
	d->pol.sp = d->pol.p;
	v = o->sp ? o->sp : d->pub[1];
	(void)sim_disp_parse(v, &d->pol.sp);
	d->pol.np = d->pol.sp;
	v = o->np ? o->np : d->pub[2];
	(void)sim_disp_parse(v, &d->pol.np);
	d->pol.pct = o->pct >= 0 ? (unsigned)o->pct : d->pub_pct >= 0 &&
	    d->pub_pct <= 100 ? (unsigned)d->pub_pct : 100;
	v = o->adkim ? o->adkim : d->pub[3];
	d->pol.adkim_strict = v != NULL && strcasecmp(v, "s") == 0;
	v = o->aspf ? o->aspf : d->pub[4];
	d->pol.aspf_strict = v != NULL && strcasecmp(v, "s") == 0;
	v = o->testing ? o->testing : d->pub[5];
	d->pol.testing = v != NULL && strcasecmp(v, "y") == 0;
}

static int
on_policy(void *ctx, const struct db_sim_policy *p, char *err, size_t errlen)
{
	struct sim_run		*x = ctx;
	struct sim_domain	*d;

	if (x->ndom == SIM_DOMAINS_MAX) {
		snprintf(err, errlen, "simulate: more than %d domains",
		    SIM_DOMAINS_MAX);
		return DB_EPERM;
	}
	if (x->ndom == x->domcap) {
		x->domcap = x->domcap ? x->domcap * 2 : 16;
		if ((x->dom = reallocarray(x->dom, x->domcap,
		    sizeof(*x->dom))) == NULL)
			fatalx("out of memory");
	}
	d = &x->dom[x->ndom++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(p->domain);
	d->pub[0] = xstrdup(p->p);
	d->pub[1] = xstrdup(p->sp);
	d->pub[2] = xstrdup(p->np);
	d->pub[3] = xstrdup(p->adkim);
	d->pub[4] = xstrdup(p->aspf);
	d->pub[5] = xstrdup(p->testing);
	d->pub_pct = p->pct;
	resolve(x->o, d);
	return 0;
}

/* The folded source goes to its domain's list if it would lose mail. */
static void
source_done(struct sim_run *x)
{
	struct sim_domain	*d = x->cur;
	uint64_t		 q, r;

	if (!x->in_source)
		return;
	x->in_source = false;
	sim_apply(x->s.fail, &d->pol, &q, &r);
	x->s.would_fail = q + r;
	if (x->s.would_fail == 0) {
		free(x->s.ip);
		free(x->s.service);
		return;
	}
	if (d->nsrc == d->srccap) {
		d->srccap = d->srccap ? d->srccap * 2 : 16;
		if ((d->src = reallocarray(d->src, d->srccap,
		    sizeof(*d->src))) == NULL)
			fatalx("out of memory");
	}
	d->src[d->nsrc++] = x->s;
}

static struct sim_domain *
find_domain(struct sim_run *x, const char *name)
{
	size_t	i;

	for (i = 0; i < x->ndom; i++)
		if (strcmp(x->dom[i].name, name) == 0)
			return &x->dom[i];
	return NULL;
}

static int
on_row(void *ctx, const struct db_sim_row *r, char *err, size_t errlen)
{
	struct sim_run		*x = ctx;
	struct sim_domain	*d;
	struct sim_auth		 a;
	struct sim_verdict	 v;
	bool			 forwarded = false;
	size_t			 i;

	if (x->cur == NULL || strcmp(x->cur->name, r->domain) != 0) {
		if (x->cur != NULL)
			source_done(x);
		if ((x->cur = find_domain(x, r->domain)) == NULL) {
			snprintf(err, errlen, "simulate: records of a domain "
			    "without a report");
			return DB_EPERM;
		}
	}
	d = x->cur;
	if (x->in_source && strcmp(x->s.ip, r->ip) != 0)
		source_done(x);
	if (!x->in_source) {
		memset(&x->s, 0, sizeof(x->s));
		x->s.ip = xstrdup(r->ip);
		x->s.service = xstrdup(r->service);
		x->in_source = true;
	}
	memset(&a, 0, sizeof(a));
	a.domain = r->domain;
	a.header_from = r->header_from;
	a.dkim_domain = r->dkim_domain;
	a.dkim_result = r->dkim_result;
	a.ndkim = r->ndkim;
	a.spf_domain = r->spf_domain;
	a.spf_scope = r->spf_scope;
	a.spf_result = r->spf_result;
	a.nspf = r->nspf;
	sim_evaluate(&a, &v);
	d->messages += r->count;
	x->s.messages += r->count;
	if (sim_pass(&v, true, d->pol.aspf_strict))
		d->pass_strict_dkim += r->count;
	if (sim_pass(&v, d->pol.adkim_strict, true))
		d->pass_strict_spf += r->count;
	if (sim_pass(&v, d->pol.adkim_strict, d->pol.aspf_strict)) {
		d->pass += r->count;
		return 0;
	}
	d->fail[sim_requested(&v, &d->pol)] += r->count;
	x->s.fail[sim_requested(&v, &d->pol)] += r->count;
	for (i = 0; i < r->nreason; i++)
		if (strcmp(r->reason_type[i], "forwarded") == 0 ||
		    strcmp(r->reason_type[i], "mailing_list") == 0 ||
		    strcmp(r->reason_type[i], "trusted_forwarder") == 0)
			forwarded = true;
	if (r->service_type != NULL && strcmp(r->service_type,
	    "forwarder") == 0)
		forwarded = true;
	if (r->count > x->s.why_msgs) {
		x->s.why = sim_why(&v, &d->pol, forwarded);
		x->s.why_msgs = r->count;
	}
	(void)errlen;
	return 0;
}

static int
source_cmp(const void *a, const void *b)
{
	const struct sim_source	*x = a, *y = b;

	if (x->would_fail != y->would_fail)
		return x->would_fail > y->would_fail ? -1 : 1;
	return strcmp(x->ip, y->ip);
}

static const char *
mode(bool strict)
{
	return strict ? "s" : "r";
}

static int
json_domain(struct buf *b, const struct sim_run *x, struct sim_domain *d)
{
	uint64_t	q, r;
	size_t		i, n;
	int		rc = 0;

	sim_apply(d->fail, &d->pol, &q, &r);
	rc |= json_key(b, "domain", true);
	rc |= json_str(b, d->name);
	rc |= json_key(b, "policy", false);
	rc |= buf_addc(b, '{');
	rc |= json_key(b, "p", true);
	rc |= json_str(b, sim_disp_name(d->pol.p));
	rc |= json_key(b, "sp", false);
	rc |= json_str(b, sim_disp_name(d->pol.sp));
	rc |= json_key(b, "np", false);
	rc |= json_str(b, sim_disp_name(d->pol.np));
	rc |= json_key(b, "pct", false);
	rc |= json_uint(b, d->pol.pct);
	rc |= json_key(b, "adkim", false);
	rc |= json_str(b, mode(d->pol.adkim_strict));
	rc |= json_key(b, "aspf", false);
	rc |= json_str(b, mode(d->pol.aspf_strict));
	rc |= json_key(b, "testing", false);
	rc |= buf_adds(b, d->pol.testing ? "true}" : "false}");
	rc |= json_key(b, "published", false);
	rc |= buf_addc(b, '{');
	rc |= json_key(b, "p", true);
	rc |= json_str(b, d->pub[0]);
	rc |= json_key(b, "sp", false);
	rc |= json_str(b, d->pub[1]);
	rc |= json_key(b, "np", false);
	rc |= json_str(b, d->pub[2]);
	rc |= json_key(b, "pct", false);
	rc |= d->pub_pct >= 0 ? json_int(b, d->pub_pct) :
	    buf_adds(b, "null");
	rc |= json_key(b, "adkim", false);
	rc |= json_str(b, d->pub[3]);
	rc |= json_key(b, "aspf", false);
	rc |= json_str(b, d->pub[4]);
	rc |= json_key(b, "testing", false);
	rc |= json_str(b, d->pub[5]);
	rc |= buf_addc(b, '}');
	rc |= json_key(b, "messages", false);
	rc |= json_uint(b, d->messages);
	rc |= json_key(b, "pass", false);
	rc |= json_uint(b, d->pass);
	rc |= json_key(b, "pass_strict_dkim", false);
	rc |= json_uint(b, d->pass_strict_dkim);
	rc |= json_key(b, "pass_strict_spf", false);
	rc |= json_uint(b, d->pass_strict_spf);
	rc |= json_key(b, "would_quarantine", false);
	rc |= json_uint(b, q);
	rc |= json_key(b, "would_reject", false);
	rc |= json_uint(b, r);
	rc |= json_key(b, "sources", false);
	rc |= buf_addc(b, '[');
	n = d->nsrc < x->o->top ? d->nsrc : x->o->top;
	for (i = 0; i < n; i++) {
		const struct sim_source	*s = &d->src[i];

		rc |= buf_adds(b, i ? ",{" : "{");
		rc |= json_key(b, "ip", true);
		rc |= json_str(b, s->ip);
		rc |= json_key(b, "service", false);
		rc |= json_str(b, s->service);
		rc |= json_key(b, "messages", false);
		rc |= json_uint(b, s->messages);
		rc |= json_key(b, "would_fail", false);
		rc |= json_uint(b, s->would_fail);
		rc |= json_key(b, "why", false);
		rc |= json_str(b, s->why);
		rc |= buf_addc(b, '}');
	}
	rc |= buf_adds(b, "]}\n");
	return rc ? -1 : 0;
}

static void
text_domain(FILE *f, const struct sim_run *x, const struct sim_domain *d)
{
	char		 esc[4 * 256 + 4];
	uint64_t	 q, r;
	size_t		 i, n;

	sim_apply(d->fail, &d->pol, &q, &r);
	str_escape(esc, sizeof(esc), d->name, strlen(d->name));
	fprintf(f, "%s: p=%s sp=%s pct=%u adkim=%s aspf=%s%s (published "
	    "p=%s)\n", esc, sim_disp_name(d->pol.p), sim_disp_name(d->pol.sp),
	    d->pol.pct, mode(d->pol.adkim_strict), mode(d->pol.aspf_strict),
	    d->pol.testing ? " t=y" : "", d->pub[0] ? d->pub[0] : "-");
	fprintf(f, "  %llu messages, %llu pass (%.1f%%); would quarantine "
	    "%llu, would reject %llu\n", (unsigned long long)d->messages,
	    (unsigned long long)d->pass, d->messages ? 100.0 * d->pass /
	    d->messages : 0.0, (unsigned long long)q, (unsigned long long)r);
	n = d->nsrc < x->o->top ? d->nsrc : x->o->top;
	for (i = 0; i < n; i++) {
		const struct sim_source	*s = &d->src[i];
		char			 svc[4 * 64 + 4] = "";

		if (s->service != NULL)
			str_escape(svc, sizeof(svc), s->service,
			    strlen(s->service));
		fprintf(f, "  %-39s %-20s %10llu of %llu: %s\n", s->ip,
		    *svc ? svc : "-", (unsigned long long)s->would_fail,
		    (unsigned long long)s->messages, s->why);
	}
}

static void
run_free(struct sim_run *x)
{
	size_t	i, j;

	for (i = 0; i < x->ndom; i++) {
		struct sim_domain	*d = &x->dom[i];

		free(d->name);
		for (j = 0; j < 6; j++)
			free(d->pub[j]);
		for (j = 0; j < d->nsrc; j++) {
			free(d->src[j].ip);
			free(d->src[j].service);
		}
		free(d->src);
	}
	free(x->dom);
	if (x->in_source) {
		free(x->s.ip);
		free(x->s.service);
	}
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
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct db_export_filter	 filter;
	struct sim_opts		 o;
	struct sim_run		 x;
	struct buf		 b;
	struct db		*db = NULL;
	char			 err[1024], since[32], *end;
	long			 v;
	size_t			 i;
	int			 ch, rc = 0;
	bool			 period = false, since_given = false;

	memset(&env, 0, sizeof(env));
	memset(&filter, 0, sizeof(filter));
	memset(&o, 0, sizeof(o));
	o.pct = -1;
	o.top = 20;
	o.json = true;
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'F':
			if (strcmp(optarg, "json") == 0)
				o.json = true;
			else if (strcmp(optarg, "text") == 0)
				o.json = false;
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
				o.top = (unsigned)v;
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
	memset(&x, 0, sizeof(x));
	x.o = &o;
	rc = db_simulate(db, &filter, on_policy, on_row, &x, err, sizeof(err));
	if (rc == 0 && x.cur != NULL)
		source_done(&x);
	if (rc == 0) {
		buf_init(&b, SIM_LINE_CAP);
		for (i = 0; i < x.ndom && rc == 0; i++) {
			struct sim_domain	*d = &x.dom[i];

			qsort(d->src, d->nsrc, sizeof(*d->src), source_cmp);
			if (!o.json) {
				text_domain(stdout, &x, d);
				continue;
			}
			buf_reset(&b);
			if (buf_addc(&b, '{') == -1 ||
			    json_domain(&b, &x, d) == -1) {
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
	run_free(&x);
	db_close(&db);
	cmd_env_free(&env);
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	return EXIT_OK;
}

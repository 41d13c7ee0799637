/*
 * simulation.c - policy/simulate.c over the database's records (see
 * simulation.h).  Rows come grouped by domain, then source address
 * (db/simulate.c), so a source is folded as its rows pass and kept only
 * when it would lose mail.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib.h"
#include "dmarcd.h"
#include "simulation.h"

#define SIM_DOMAINS_MAX	1000000

struct sim_prof_done {
	struct sim_verdict	 v;
	struct sender_auth_part	 part;
	bool			 done;
};

struct sim_fold {
	const struct sim_opts	*o;
	void			(*adjust)(void *, struct sim_domain *);
	void			*arg;
	struct sim_result	*r;
	struct sim_domain	*cur;	/* the rows' domain */
	struct sim_source	 s;	/* the rows' source, being folded */
	bool			 in_source;
	bool			 sorted;	/* r->dom, by name */
	/* by_day: what each profile's results amount to (its verdict and
	 * its part of the class, under its domain's rules), computed at
	 * its first row */
	struct sim_prof_done	*pv;
	size_t			 npv;
};

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

/* Every approved-sender rule, by domain, before the records are read (one
 * connection: no query while another streams). */
static int
on_rule(void *ctx, const struct db_sender_rule *dr, char *err, size_t errlen)
{
	struct sim_result	*r = ctx;
	struct sim_rules	*sr = NULL;
	char			 text[SENDER_RULE_LEN_MAX + 16], why[256];

	if (r->nrules > 0 && strcmp(r->rules[r->nrules - 1].domain,
	    dr->domain) == 0)
		sr = &r->rules[r->nrules - 1];	/* listed by domain */
	if (sr == NULL) {
		if ((r->rules = reallocarray(r->rules, r->nrules + 1,
		    sizeof(*r->rules))) == NULL)
			fatalx("out of memory");
		sr = &r->rules[r->nrules++];
		sr->domain = xstrdup(dr->domain);
		if ((sr->rs = sender_rules_new()) == NULL)
			fatalx("out of memory");
	}
	snprintf(text, sizeof(text), "%s %s", dr->kind, dr->value);
	if (sender_rules_add(sr->rs, text, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "simulate: a stored rule of %s: %s",
		    dr->domain, why);
		return DB_EPERM;
	}
	return 0;
}

static int
on_policy(void *ctx, const struct db_sim_policy *p, char *err, size_t errlen)
{
	struct sim_fold		*x = ctx;
	struct sim_result	*r = x->r;
	struct sim_domain	*d;
	size_t			 i;

	if (r->ndom == SIM_DOMAINS_MAX) {
		snprintf(err, errlen, "simulate: more than %d domains",
		    SIM_DOMAINS_MAX);
		return DB_EPERM;
	}
	if (r->ndom == r->domcap) {
		r->domcap = r->domcap ? r->domcap * 2 : 16;
		if ((r->dom = reallocarray(r->dom, r->domcap,
		    sizeof(*r->dom))) == NULL)
			fatalx("out of memory");
	}
	d = &r->dom[r->ndom++];
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
	for (i = 0; i < r->nrules; i++)
		if (strcmp(r->rules[i].domain, d->name) == 0)
			d->rules = r->rules[i].rs;
	if (x->adjust != NULL)
		x->adjust(x->arg, d);
	return 0;
}

/* The folded source goes to its domain's list if it would lose mail. */
static void
source_done(struct sim_fold *x)
{
	struct sim_domain	*d = x->cur;
	uint64_t		 q, r;

	int			 c;

	if (!x->in_source)
		return;
	x->in_source = false;
	/* its class: that of most of its messages, approved on a tie */
	x->s.cls = SENDER_APPROVED;
	for (c = 1; c < SIM_CLASSES; c++)
		if (x->s.cls_messages[c] > x->s.cls_messages[x->s.cls])
			x->s.cls = c;
	sim_apply(x->s.fail, &d->pol, &q, &r);
	x->s.would_fail = q + r;
	if (x->s.would_fail == 0) {
		free(x->s.ip);
		free(x->s.service);
		free(x->s.rule);
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

static int
domain_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sim_domain *)a)->name,
	    ((const struct sim_domain *)b)->name);
}

/* The domains sorted by byte once every policy is in (before the first
 * record: records come after the policies), then found by bsearch. */
static struct sim_domain *
find_domain(struct sim_fold *x, const char *name)
{
	struct sim_domain	 key;

	if (!x->sorted) {
		qsort(x->r->dom, x->r->ndom, sizeof(*x->r->dom), domain_cmp);
		x->sorted = true;
	}
	key.name = (char *)(uintptr_t)name;
	return bsearch(&key, x->r->dom, x->r->ndom, sizeof(*x->r->dom),
	    domain_cmp);
}

static void
sender_record_of(const struct db_sim_row *r, struct sender_record *sr_out)
{
	struct sender_record	 sr;

	memset(&sr, 0, sizeof(sr));
	sr.domain = r->domain;
	/* no header_from: the policy domain's, as the alignment takes it */
	sr.header_from = r->header_from ? r->header_from : r->domain;
	sr.ip = r->ip;
	sr.service = r->service;
	sr.service_type = r->service_type;
	sr.ptr = r->ptr;
	sr.ptr_verified = r->ptr_verified;
	sr.dkim_domain = r->dkim_domain;
	sr.dkim_result = r->dkim_result;
	sr.ndkim = r->ndkim;
	sr.spf_domain = r->spf_domain;
	sr.spf_result = r->spf_result;
	sr.nspf = r->nspf;
	sr.reason_type = r->reason_type;
	sr.nreason = r->nreason;
	*sr_out = sr;
}

enum sender_class
simulation_class(const struct sender_rules *rules, const struct db_sim_row *r,
    const char **rule_r)
{
	struct sender_record	 sr;

	sender_record_of(r, &sr);
	return sender_classify(rules, &sr, rule_r);
}

/* A row's verdict and its results' part of its class: once a profile
 * (their libpsl lookups are most of a row's cost), else every time. */
static void
evaluate(struct sim_fold *x, const struct sender_rules *rules,
    const struct db_sim_row *r, const struct sender_record *sr,
    struct sim_verdict *v, struct sender_auth_part *part)
{
	struct sim_auth	 a;
	size_t		 i = r->profile - 1, n;

	if (r->profile > 0 && i < x->npv && x->pv[i].done) {
		*v = x->pv[i].v;
		*part = x->pv[i].part;
		return;
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
	sim_evaluate(&a, v);
	sender_classify_auth(rules, sr, part);
	if (r->profile == 0)
		return;
	if (i >= x->npv) {
		n = x->npv ? x->npv : 64;
		while (n <= i)
			n *= 2;
		if ((x->pv = reallocarray(x->pv, n, sizeof(*x->pv))) == NULL)
			fatalx("out of memory");
		memset(x->pv + x->npv, 0, (n - x->npv) * sizeof(*x->pv));
		x->npv = n;
	}
	x->pv[i].v = *v;
	x->pv[i].part = *part;
	x->pv[i].done = true;
}

static int
on_row(void *ctx, const struct db_sim_row *r, char *err, size_t errlen)
{
	struct sim_fold		*x = ctx;
	struct sim_domain	*d;
	struct sim_verdict	 v;
	struct sender_record	 sr;
	struct sender_auth_part	 part;
	enum sender_class	 cls;
	enum sim_disp		 req;
	const char		*rule;

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
	sender_record_of(r, &sr);
	evaluate(x, d->rules, r, &sr, &v, &part);
	cls = sender_classify_with(d->rules, &sr, &part, &rule);
	if (rule != NULL && x->s.rule == NULL)
		x->s.rule = xstrdup(rule);
	d->messages += r->count;
	d->cls_messages[cls] += r->count;
	x->s.messages += r->count;
	x->s.cls_messages[cls] += r->count;
	if (sim_pass(&v, true, d->pol.aspf_strict))
		d->pass_strict_dkim += r->count;
	if (sim_pass(&v, d->pol.adkim_strict, true))
		d->pass_strict_spf += r->count;
	if (sim_pass(&v, d->pol.adkim_strict, d->pol.aspf_strict)) {
		d->pass += r->count;
		return 0;
	}
	req = sim_requested(&v, &d->pol);
	d->fail[req] += r->count;
	d->cls_fail[cls][req] += r->count;
	x->s.fail[req] += r->count;
	if (r->count > x->s.why_msgs) {
		x->s.why = sim_why(&v, &d->pol, cls == SENDER_FORWARDED);
		x->s.why_msgs = r->count;
	}
	return 0;
}

static int
source_cmp(const void *a, const void *b)
{
	const struct sim_source	*x = a, *y = b;

	/* the owner's own senders that would lose mail first */
	if ((x->cls == SENDER_APPROVED) != (y->cls == SENDER_APPROVED))
		return x->cls == SENDER_APPROVED ? -1 : 1;
	if (x->would_fail != y->would_fail)
		return x->would_fail > y->would_fail ? -1 : 1;
	return strcmp(x->ip, y->ip);
}

int
simulation_run(struct db *db, const struct db_export_filter *f,
    const struct sim_opts *o, void (*adjust)(void *, struct sim_domain *),
    void *arg, struct sim_result **r_out, char *err, size_t errlen)
{
	struct sim_fold	 x;
	uint64_t	 q, rj;
	size_t		 i;
	int		 c, rc;

	memset(&x, 0, sizeof(x));
	x.o = o;
	x.adjust = adjust;
	x.arg = arg;
	if ((x.r = calloc(1, sizeof(*x.r))) == NULL)
		fatalx("out of memory");
	rc = db_senders_list(db, f->domain, on_rule, x.r, err, errlen);
	if (rc == 0)
		rc = (o->by_day ? db_simulate_days : db_simulate)(db, f,
		    on_policy, on_row, &x, err, errlen);
	free(x.pv);
	if (rc == 0 && x.cur != NULL)
		source_done(&x);
	if (x.in_source) {
		free(x.s.ip);
		free(x.s.service);
		free(x.s.rule);
	}
	if (rc != 0) {
		simulation_free(&x.r);
		*r_out = NULL;
		return rc;
	}
	for (i = 0; i < x.r->ndom; i++) {
		struct sim_domain	*d = &x.r->dom[i];

		sim_apply(d->fail, &d->pol, &d->would_quarantine,
		    &d->would_reject);
		for (c = 0; c < SIM_CLASSES; c++) {
			sim_apply(d->cls_fail[c], &d->pol, &q, &rj);
			d->cls_would_fail[c] = q + rj;
		}
		if (d->nsrc > 0)
			qsort(d->src, d->nsrc, sizeof(*d->src),
			    source_cmp);
	}
	*r_out = x.r;
	return 0;
}

static const char *
mode(bool strict)
{
	return strict ? "s" : "r";
}

int
simulation_json(struct buf *b, const struct sim_domain *d, unsigned top)
{
	size_t	i, n;
	int	c, rc = 0;

	rc |= buf_addc(b, '{');
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
	rc |= json_uint(b, d->would_quarantine);
	rc |= json_key(b, "would_reject", false);
	rc |= json_uint(b, d->would_reject);
	rc |= json_key(b, "by_class", false);
	rc |= buf_addc(b, '{');
	for (c = 0; c < SIM_CLASSES; c++) {
		rc |= json_key(b, sender_class_name(c), c == 0);
		rc |= buf_addc(b, '{');
		rc |= json_key(b, "messages", true);
		rc |= json_uint(b, d->cls_messages[c]);
		rc |= json_key(b, "would_fail", false);
		rc |= json_uint(b, d->cls_would_fail[c]);
		rc |= buf_addc(b, '}');
	}
	rc |= buf_addc(b, '}');
	rc |= json_key(b, "sources", false);
	rc |= buf_addc(b, '[');
	n = d->nsrc < top ? d->nsrc : top;
	for (i = 0; i < n; i++) {
		const struct sim_source	*s = &d->src[i];

		rc |= buf_adds(b, i ? ",{" : "{");
		rc |= json_key(b, "ip", true);
		rc |= json_str(b, s->ip);
		rc |= json_key(b, "service", false);
		rc |= json_str(b, s->service);
		rc |= json_key(b, "class", false);
		rc |= json_str(b, sender_class_name(s->cls));
		rc |= json_key(b, "rule", false);
		rc |= json_str(b, s->rule);
		rc |= json_key(b, "messages", false);
		rc |= json_uint(b, s->messages);
		rc |= json_key(b, "would_fail", false);
		rc |= json_uint(b, s->would_fail);
		rc |= json_key(b, "why", false);
		rc |= json_str(b, s->why);
		rc |= buf_addc(b, '}');
	}
	rc |= buf_adds(b, "]}");
	return rc ? -1 : 0;
}

void
simulation_free(struct sim_result **rp)
{
	struct sim_result	*r = *rp;
	size_t			 i, j;

	if (r == NULL)
		return;
	for (i = 0; i < r->ndom; i++) {
		struct sim_domain	*d = &r->dom[i];

		free(d->name);
		for (j = 0; j < 6; j++)
			free(d->pub[j]);
		for (j = 0; j < d->nsrc; j++) {
			free(d->src[j].ip);
			free(d->src[j].service);
			free(d->src[j].rule);
		}
		free(d->src);
	}
	free(r->dom);
	for (i = 0; i < r->nrules; i++) {
		free(r->rules[i].domain);
		sender_rules_free(r->rules[i].rs);
	}
	free(r->rules);
	free(r);
	*rp = NULL;
}

int
simulation_api(struct db *db, const struct httpd_sim_query *q,
    struct buf *out, char *err, size_t errlen)
{
	struct db_export_filter	 f;
	struct sim_opts		 o;
	struct sim_result	*r = NULL;
	size_t			 i;
	int			 rc;

	memset(&f, 0, sizeof(f));
	f.domain = q->domain;
	f.domains = q->domains;
	f.since = q->since;
	f.until = q->until;
	o.p = q->p;
	o.sp = q->sp;
	o.np = q->np;
	o.adkim = q->adkim;
	o.aspf = q->aspf;
	o.testing = q->testing;
	o.pct = q->pct;
	o.by_day = true;
	if ((rc = simulation_run(db, &f, &o, NULL, NULL, &r, err,
	    errlen)) != 0)
		return rc;
	rc = buf_addc(out, '[');
	for (i = 0; i < r->ndom && rc == 0; i++)
		rc = (i ? buf_addc(out, ',') : 0) |
		    simulation_json(out, &r->dom[i], q->top);
	rc |= buf_addc(out, ']');
	simulation_free(&r);
	if (rc != 0) {
		snprintf(err, errlen, "simulate: response too large");
		return DB_EPERM;
	}
	return 0;
}

/*
 * simulate.c - a record's DMARC result under hypothetical alignment modes
 * (RFC 7489 3.1, DMARCbis 4.4): a DKIM signature is aligned when it
 * passes and its d= equals header_from (strict) or has the same
 * organisational domain (relaxed); an SPF result likewise, for the MAIL
 * FROM identity only (scope mfrom, or no scope: RFC 7489's default).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "orgdomain.h"
#include "simulate.h"

static const char *const disp_names[SIM_NDISP] = {
	"none", "quarantine", "reject"
};

int
sim_disp_parse(const char *s, enum sim_disp *d)
{
	int	i;

	for (i = 0; i < SIM_NDISP; i++)
		if (s != NULL && strcasecmp(s, disp_names[i]) == 0) {
			*d = i;
			return 0;
		}
	return -1;
}

const char *
sim_disp_name(enum sim_disp d)
{
	return d < SIM_NDISP ? disp_names[d] : "?";
}

/* a and b the same name: case and a trailing dot ignored */
static bool
same_name(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

/* name strictly below parent ("a.example.org" below "example.org") */
static bool
below(const char *name, const char *parent)
{
	size_t	ln = strlen(name), lp = strlen(parent);

	if (ln > 0 && name[ln - 1] == '.')
		ln--;
	if (lp > 0 && parent[lp - 1] == '.')
		lp--;
	return lp > 0 && ln > lp + 1 && name[ln - lp - 1] == '.' &&
	    strncasecmp(name + ln - lp, parent, lp) == 0;
}

static bool
is_pass(const char *result)
{
	return result != NULL && strcasecmp(result, "pass") == 0;
}

static bool
is_mfrom(const char *scope)
{
	return scope == NULL || *scope == '\0' ||
	    strcasecmp(scope, "mfrom") == 0;
}

void
sim_evaluate(const struct sim_auth *a, struct sim_verdict *v)
{
	const char	*from = a->header_from != NULL && *a->header_from ?
			    a->header_from : a->domain;
	char		 org[ORG_NAME_MAX + 1], dorg[ORG_NAME_MAX + 1];
	bool		 has_org;
	size_t		 i;

	memset(v, 0, sizeof(*v));
	v->subdomain = below(from, a->domain);
	has_org = org_domain(from, org, sizeof(org)) == 0;
	for (i = 0; i < a->ndkim; i++) {
		const char	*d = a->dkim_domain[i];
		bool		 strict, relaxed;

		if (d == NULL || *d == '\0')
			continue;
		strict = same_name(d, from);
		relaxed = strict || (has_org && org_domain(d, dorg,
		    sizeof(dorg)) == 0 && strcmp(org, dorg) == 0);
		if (relaxed)
			v->dkim_own = true;
		if (!is_pass(a->dkim_result[i]))
			continue;
		v->dkim_strict |= strict;
		v->dkim_relaxed |= relaxed;
	}
	for (i = 0; i < a->nspf; i++) {
		const char	*d = a->spf_domain[i];
		bool		 strict, relaxed;

		if (d == NULL || *d == '\0' || !is_pass(a->spf_result[i]) ||
		    !is_mfrom(a->spf_scope ? a->spf_scope[i] : NULL))
			continue;
		strict = same_name(d, from);
		relaxed = strict || (has_org && org_domain(d, dorg,
		    sizeof(dorg)) == 0 && strcmp(org, dorg) == 0);
		v->spf_strict |= strict;
		v->spf_relaxed |= relaxed;
		if (!relaxed)
			v->spf_pass_other = true;
	}
}

bool
sim_pass(const struct sim_verdict *v, bool adkim_strict, bool aspf_strict)
{
	return (adkim_strict ? v->dkim_strict : v->dkim_relaxed) ||
	    (aspf_strict ? v->spf_strict : v->spf_relaxed);
}

enum sim_disp
sim_requested(const struct sim_verdict *v, const struct sim_policy *pol)
{
	return v->subdomain ? pol->sp : pol->p;
}

const char *
sim_why(const struct sim_verdict *v, const struct sim_policy *pol,
    bool forwarded)
{
	if (pol->adkim_strict && v->dkim_relaxed && !v->dkim_strict)
		return "DKIM passes for a parent or sibling of the From domain:"
		    " strict DKIM alignment (adkim=s) refuses it";
	if (pol->aspf_strict && v->spf_relaxed && !v->spf_strict)
		return "SPF passes for a parent or sibling of the From domain:"
		    " strict SPF alignment (aspf=s) refuses it";
	if (forwarded && v->dkim_own)
		return "DKIM breaks at a forwarder (the message was changed"
		    " on the way); SPF cannot pass there";
	if (v->dkim_own)
		return "a DKIM signature of your domain fails: check the"
		    " selector's key in DNS and what changes the message";
	if (v->spf_pass_other)
		return "SPF passes only for the sender's own domain: set a"
		    " custom return path (bounce domain) under your domain,"
		    " and sign with DKIM as your domain";
	return "no DKIM signature of your domain and no SPF pass for it:"
	    " sign with DKIM as your domain, or authorise the source in SPF";
}

void
sim_apply(const uint64_t fail[SIM_NDISP], const struct sim_policy *pol,
    uint64_t *quarantine_r, uint64_t *reject_r)
{
	unsigned	pct = pol->testing ? 0 : pol->pct > 100 ? 100 : pol->pct;
	uint64_t	r = fail[SIM_REJECT], q = fail[SIM_QUARANTINE];
	uint64_t	r_in, q_in;

	/* no overflow: message counts are below 2^63 / 100 in practice,
	 * and the division first keeps it exact for the rest */
	r_in = r / 100 * pct + r % 100 * pct / 100;
	q_in = q / 100 * pct + q % 100 * pct / 100;
	*reject_r = r_in;
	*quarantine_r = (r - r_in) + q_in;
}

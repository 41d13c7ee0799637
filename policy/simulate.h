/*
 * simulate.h - what a DMARC policy would do to the mail a report
 * describes: each record's DMARC result recomputed from its
 * authentication results (DKIM d= and result, SPF domain, scope and
 * result, header_from) under hypothetical alignment modes, then the
 * messages a p/sp with pct (or DMARCbis t=y) would quarantine or reject.
 * No database, no network; relaxed alignment compares organisational
 * domains (enrich/orgdomain.h, the one function for them).
 */
#ifndef DMARCD_SIMULATE_H
#define DMARCD_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_disp { SIM_NONE, SIM_QUARANTINE, SIM_REJECT, SIM_NDISP };

/* "none", "quarantine", "reject"; -1 for anything else (case ignored). */
int		 sim_disp_parse(const char *s, enum sim_disp *d);
const char	*sim_disp_name(enum sim_disp d);

struct sim_policy {
	enum sim_disp	 p, sp, np;
	unsigned	 pct;		/* 0..100 */
	bool		 adkim_strict, aspf_strict;
	bool		 testing;	/* DMARCbis t=y: as pct=0 */
};

/* One record's authentication results, as the report gives them. */
struct sim_auth {
	const char		*domain;	/* the policy's (report's) */
	const char		*header_from;	/* NULL: the policy domain */
	const char *const	*dkim_domain, *const *dkim_result;
	size_t			 ndkim;
	const char *const	*spf_domain, *const *spf_scope,
				*const *spf_result;	/* scope may be NULL */
	size_t			 nspf;
};

/* What the record's results amount to. */
struct sim_verdict {
	bool	dkim_strict, dkim_relaxed;	/* a passing, aligned d= */
	bool	spf_strict, spf_relaxed;	/* a passing, aligned mfrom */
	bool	dkim_own;	/* a signature of header_from's org, any result */
	bool	spf_pass_other;	/* SPF passes, for a domain not aligned */
	bool	subdomain;	/* header_from below the policy domain: sp */
};

void	sim_evaluate(const struct sim_auth *a, struct sim_verdict *v);
bool	sim_pass(const struct sim_verdict *v, bool adkim_strict,
	    bool aspf_strict);

/* Why a failing record fails, in words a postmaster acts on. */
const char *sim_why(const struct sim_verdict *v, const struct sim_policy *pol,
	    bool forwarded);

/* Messages a failing record's policy (p or sp) asks for, before pct. */
enum sim_disp sim_requested(const struct sim_verdict *v,
	    const struct sim_policy *pol);

/*
 * Of fail[d] failing messages per requested disposition d, how many a
 * policy with pct (or testing) would quarantine and reject.  pct is
 * applied to the totals, rounded down (RFC 7489 6.6.4: a message left out
 * of the sample is treated one step lower, reject as quarantine and
 * quarantine as none); t=y counts as pct=0.
 */
void	sim_apply(const uint64_t fail[SIM_NDISP], const struct sim_policy *pol,
	    uint64_t *quarantine_r, uint64_t *reject_r);

#endif

/*
 * test_simulate.c - the simulator's arithmetic (policy/simulate.c): one
 * record's alignment under each mode, names written by strangers (case,
 * a final dot, an invalid name, HELO scope), p or sp, and pct applied to
 * totals without overflow.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "simulate.h"
#include "tap.h"

static struct sim_verdict
eval(const char *domain, const char *from, const char *dkim_d,
    const char *dkim_r, const char *spf_d, const char *spf_s,
    const char *spf_r)
{
	struct sim_auth		a;
	struct sim_verdict	v;

	memset(&a, 0, sizeof(a));
	a.domain = domain;
	a.header_from = from;
	if (dkim_d != NULL) {
		a.dkim_domain = &dkim_d;
		a.dkim_result = &dkim_r;
		a.ndkim = 1;
	}
	if (spf_d != NULL) {
		a.spf_domain = &spf_d;
		a.spf_scope = &spf_s;
		a.spf_result = &spf_r;
		a.nspf = 1;
	}
	sim_evaluate(&a, &v);
	return v;
}

int
main(void)
{
	struct sim_verdict	v;
	struct sim_policy	pol;
	uint64_t		fail[SIM_NDISP], q, r;
	enum sim_disp		d;

	v = eval("example.org", "example.org", "EXAMPLE.ORG.", "pass", NULL,
	    NULL, NULL);
	ok(v.dkim_strict && v.dkim_relaxed && sim_pass(&v, true, true),
	    "case and a final dot ignored: strictly aligned");
	v = eval("example.org", "example.org", "mail.example.org", "pass",
	    NULL, NULL, NULL);
	ok(!v.dkim_strict && v.dkim_relaxed && sim_pass(&v, false, true) &&
	    !sim_pass(&v, true, true), "a subdomain's d=: relaxed only");
	v = eval("example.co.uk", "example.co.uk", "co.uk", "pass", NULL,
	    NULL, NULL);
	ok(!v.dkim_relaxed, "a public suffix as d= aligns with nothing");
	v = eval("example.org", "example.org", "example.org", "fail",
	    "esp.example", NULL, "pass");
	ok(!sim_pass(&v, false, false) && v.dkim_own && v.spf_pass_other,
	    "a failing own signature, SPF for the ESP: fails, both noted");
	v = eval("example.org", "example.org", NULL, NULL, "example.org",
	    "helo", "pass");
	ok(!v.spf_relaxed, "SPF for HELO does not count");
	v = eval("example.org", "example.org", NULL, NULL, "example.org",
	    NULL, "Pass");
	ok(v.spf_strict, "SPF without a scope is MAIL FROM; result case "
	    "ignored");
	v = eval("example.org", NULL, "example.org", "pass", NULL, NULL, NULL);
	ok(v.dkim_strict && !v.subdomain, "no header_from: the domain's");
	v = eval("example.org", "shop.example.org", "example.org", "fail",
	    NULL, NULL, NULL);
	ok(v.subdomain, "a subdomain header_from: sp");
	v = eval("example.org", "badexample.org", NULL, NULL, NULL, NULL,
	    NULL);
	ok(!v.subdomain, "badexample.org is not below example.org");
	v = eval("example.org", "exa mple..org", "exa mple..org", "pass",
	    NULL, NULL, NULL);
	ok(v.dkim_strict && sim_pass(&v, false, false),
	    "an invalid name: only the same name aligns");
	ok(sim_disp_parse("Reject", &d) == 0 && d == SIM_REJECT &&
	    sim_disp_parse("block", &d) == -1 && sim_disp_parse(NULL, &d) ==
	    -1, "dispositions parsed, others refused");

	memset(&pol, 0, sizeof(pol));
	memset(fail, 0, sizeof(fail));
	fail[SIM_REJECT] = 7;
	fail[SIM_QUARANTINE] = 3;
	pol.pct = 50;
	sim_apply(fail, &pol, &q, &r);
	ok(r == 3 && q == 4 + 1, "pct 50: 3 of 7 rejected, 4 + 1 of 3 "
	    "quarantined (%llu, %llu)", (unsigned long long)r,
	    (unsigned long long)q);
	pol.pct = 100;
	pol.testing = true;
	sim_apply(fail, &pol, &q, &r);
	ok(r == 0 && q == 7, "t=y: reject as quarantine, quarantine as none");
	pol.testing = false;
	fail[SIM_REJECT] = UINT64_MAX;
	fail[SIM_QUARANTINE] = 0;
	pol.pct = 99;
	sim_apply(fail, &pol, &q, &r);
	ok(r == UINT64_MAX / 100 * 99 + UINT64_MAX % 100 * 99 / 100 &&
	    q + r == UINT64_MAX, "pct on 2^64-1 messages: no overflow");
	pol.adkim_strict = true;
	v = eval("example.org", "example.org", "mail.example.org", "pass",
	    NULL, NULL, NULL);
	ok(strstr(sim_why(&v, &pol, false), "adkim=s") != NULL,
	    "why: strict DKIM alignment");
	pol.adkim_strict = false;
	v = eval("example.org", "example.org", "example.org", "fail", NULL,
	    NULL, NULL);
	ok(strstr(sim_why(&v, &pol, true), "forwarder") != NULL,
	    "why: DKIM broken at a forwarder");
	return done_testing();
}

/*
 * test_senders.c - approved-sender rules and classes (policy/senders.c):
 * each rule kind normalised and approving, each way to be forwarded
 * (each override reason, a catalogue forwarder, SPF failing while the
 * domain's own DKIM passes), unknown, and hostile rules: bad CIDRs, bad
 * and over-long domains, 10,000 rules matched fast and the 10,001st
 * refused.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "services.h"
#include "senders.h"
#include "tap.h"

static struct sender_rules *
rules_of(const char *const *texts)
{
	struct sender_rules	*rs = sender_rules_new();
	char			 err[256];

	for (; *texts != NULL; texts++)
		if (sender_rules_add(rs, *texts, err, sizeof(err)) == -1)
			diag("rule %s: %s", *texts, err);
	return rs;
}

/* The normalised form of text: "kind value", or "error: message". */
static void
norm(const char *text, const char *want)
{
	const char	*kind;
	char		 value[SENDER_RULE_LEN_MAX + 1], err[256], got[2048];
	char		 esc[128];

	if (sender_rule_parse(text, &kind, value, sizeof(value), err,
	    sizeof(err)) == -1)
		snprintf(got, sizeof(got), "error: %s", err);
	else
		snprintf(got, sizeof(got), "%s %s", kind, value);
	str_escape(esc, sizeof(esc), text, strlen(text));
	if (strncmp(want, "error: ", 7) == 0 && strncmp(got, "error: ", 7) ==
	    0 && strstr(got, want + 7) != NULL)
		ok(1, "%s: %s", esc, got);
	else
		is_str(got, want, esc);
}

/* A rule refused by sender_rules_add, the rules unchanged, with err
 * containing want. */
static void
refused(struct sender_rules *rs, const char *text, const char *want,
    const char *name)
{
	char	err[256];
	size_t	n = sender_rules_count(rs);
	int	rc = sender_rules_add(rs, text, err, sizeof(err));

	ok(rc == -1 && strstr(err, want) != NULL &&
	    sender_rules_count(rs) == n && strchr(err, '\n') == NULL,
	    "%s: refused (%s)", name, rc == -1 ? err : "added");
}

static void
expect(const struct sender_rules *rs, const struct sender_record *rec,
    enum sender_class want, const char *want_rule, const char *name)
{
	const char		*rule;
	enum sender_class	 c = sender_classify(rs, rec, &rule);

	ok(c == want && ((rule == NULL && want_rule == NULL) ||
	    (rule != NULL && want_rule != NULL && strcmp(rule, want_rule) ==
	    0)), "%s: %s %s (got %s %s)", name, sender_class_name(want),
	    want_rule ? want_rule : "", sender_class_name(c),
	    rule ? rule : "");
}

static const char *const pass1[] = { "pass" };
static const char *const fail1[] = { "fail" };
static const char *const softfail1[] = { "softfail" };

int
main(void)
{
	static const char *const all_rules[] = {
		"service Amazon SES", "cidr 192.0.2.77/24",
		"cidr 2001:DB8::/32", "ptr Mail.Example.NET.",
		"dkim example.org", "spf bounce.example.info", NULL,
	};
	struct sender_rules	*rs, *big;
	struct sender_record	 r, base;
	struct catalogue	*cat;
	const struct service	*svc;
	const char		*dkd[2], *dkr[2], *spd[1], *reason[1], *rule;
	char			 text[2048], err[256], name[400];
	size_t			 i;
	double			 t0, dt;
	int			 rc, approved;

	/* --- normal forms ------------------------------------------------ */
	norm("service Google", "service Google");
	norm("  SERVICE   Microsoft 365  ", "service Microsoft 365");
	norm("cidr 192.0.2.77/24", "cidr 192.0.2.0/24");
	norm("cidr 192.0.2.77", "cidr 192.0.2.77/32");
	norm("CIDR 2001:DB8:0:0::1/32", "cidr 2001:db8::/32");
	norm("cidr 2001:db8::1", "cidr 2001:db8::1/128");
	norm("cidr 10.1.2.3/0", "cidr 0.0.0.0/0");
	norm("cidr 10.1.2.3/9", "cidr 10.0.0.0/9");
	norm("ptr Mail.Example.COM.", "ptr mail.example.com");
	norm("dkim example.co.uk", "dkim example.co.uk");
	norm("spf _spf.Example.org", "spf _spf.example.org");
	/* bad CIDRs */
	norm("cidr 192.0.2.0/33", "error: cidr 192.0.2.0/33: the length "
	    "must be 0..32 for IPv4");
	norm("cidr 2001:db8::/129", "error: the length must be 0..128");
	norm("cidr 192.0.2.0/", "error: the length must be");
	norm("cidr 192.0.2.0/2x", "error: the length must be");
	norm("cidr 192.0.2.0/-1", "error: the length must be");
	norm("cidr 192.0.2.0/0024", "error: the length must be");
	norm("cidr 192.0.2.0/24/8", "error: the length must be");
	norm("cidr 300.0.2.0/24", "error: not an IPv4 or IPv6 address");
	norm("cidr example.com/24", "error: not an IPv4 or IPv6 address");
	norm("cidr /24", "error: not an address/length");
	norm("cidr 1111:2222:3333:4444:5555:6666:7777:8888:9999/64",
	    "error: not an IPv4 or IPv6 address");
	/* bad domains, kinds and services */
	norm("dkim com", "error: a public suffix");
	norm("spf co.uk", "error: a public suffix");
	norm("ptr exa mple.com", "error: not a domain name");
	norm("ptr exa<b>mple.com", "error: not a domain name");
	norm("dkim a..example.com", "error: an empty label");
	norm("dkim .example.com", "error: an empty label");
	norm("dkim", "error: dkim: no value");
	norm("spf    ", "error: spf: no value");
	norm("ip 192.0.2.1", "error: unknown kind \"ip\"");
	norm("", "error: no kind");
	norm("service Go\nogle", "error: not printable ASCII");
	memset(text, 0, sizeof(text));
	memcpy(text, "dkim ", 5);
	memset(text + 5, 'a', 64);
	memcpy(text + 69, ".example.com", 12);
	norm(text, "error: a label over 63 bytes");
	/* a 300-byte domain: labels of 49 bytes and a dot, 6 times */
	memcpy(text, "ptr ", 4);
	for (i = 0; i < 6; i++) {
		memset(text + 4 + 50 * i, 'a' + i, 49);
		text[4 + 50 * i + 49] = '.';
	}
	text[4 + 300] = '\0';
	memcpy(text + 4 + 297, "com", 3);
	ok(strlen(text + 4) == 300, "the domain has 300 bytes");
	norm(text, "error: ptr: domain of 300 bytes (at most 253)");
	memset(text, 'x', 1100);
	text[1100] = '\0';
	memcpy(text, "service ", 8);
	norm(text, "error: rule of 1100 bytes (at most 1024)");
	memset(text, 0, sizeof(text));
	memcpy(text, "service ", 8);
	memset(text + 8, 'S', 65);
	norm(text, "error: service: name of 65 bytes (at most 64)");

	/* --- rules: duplicates, a refused rule changes nothing ----------- */
	rs = rules_of(all_rules);
	is_int(sender_rules_count(rs), 6, "six rules");
	ok(sender_rules_add(rs, "SERVICE amazon ses", err, sizeof(err)) == 0 &&
	    sender_rules_add(rs, "cidr 192.0.2.1/24", err, sizeof(err)) == 0 &&
	    sender_rules_add(rs, "dkim EXAMPLE.org.", err, sizeof(err)) == 0 &&
	    sender_rules_count(rs) == 6, "the same rules again: still six");
	refused(rs, "cidr 192.0.2.0/33", "length", "bad CIDR");
	refused(rs, text, "65 bytes", "long service name");
	refused(rs, "mx example.com", "unknown kind", "unknown kind");

	/* --- approved: each kind ------------------------------------------ */
	memset(&base, 0, sizeof(base));
	base.domain = "example.com";
	base.header_from = "example.com";
	base.ip = "198.51.100.9";
	r = base;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "nothing known: unknown");
	expect(NULL, &r, SENDER_UNKNOWN, NULL, "no rules: unknown");
	r.service = "amazon SES";
	r.service_type = "transactional";
	expect(rs, &r, SENDER_APPROVED, "service Amazon SES",
	    "service, case ignored");
	r = base;
	r.ip = "192.0.2.200";
	expect(rs, &r, SENDER_APPROVED, "cidr 192.0.2.0/24", "IPv4 in /24");
	r.ip = "192.0.3.1";
	expect(rs, &r, SENDER_UNKNOWN, NULL, "IPv4 outside /24");
	r.ip = "2001:db8:ffff::25";
	expect(rs, &r, SENDER_APPROVED, "cidr 2001:db8::/32", "IPv6 in /32");
	r.ip = "2001:db9::25";
	expect(rs, &r, SENDER_UNKNOWN, NULL, "IPv6 outside /32");
	r.ip = "::ffff:192.0.2.200";
	expect(rs, &r, SENDER_UNKNOWN, NULL, "IPv6 is not IPv4");
	r.ip = "192.0.2.200/32";
	expect(rs, &r, SENDER_UNKNOWN, NULL, "not an address: no match");
	r = base;
	r.ptr = "O1.MAIL.example.net.";
	r.ptr_verified = true;
	expect(rs, &r, SENDER_APPROVED, "ptr mail.example.net",
	    "verified PTR under the domain");
	r.ptr = "mail.example.net";
	expect(rs, &r, SENDER_APPROVED, "ptr mail.example.net",
	    "verified PTR equal to the domain");
	r.ptr = "evilmail.example.net";
	expect(rs, &r, SENDER_UNKNOWN, NULL, "PTR only ending in the letters");
	r.ptr = "mail.example.net.evil.test";
	expect(rs, &r, SENDER_UNKNOWN, NULL, "PTR with the domain inside");
	r.ptr = "o1.mail.example.net";
	r.ptr_verified = false;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "PTR not forward-confirmed");
	r = base;
	dkd[0] = "s1.Example.ORG";
	r.dkim_domain = dkd;
	r.dkim_result = pass1;
	r.ndkim = 1;
	expect(rs, &r, SENDER_APPROVED, "dkim example.org", "DKIM pass");
	r.dkim_result = fail1;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "DKIM fail does not approve");
	r = base;
	spd[0] = "bounce.example.info";
	r.spf_domain = spd;
	r.spf_result = pass1;
	r.nspf = 1;
	expect(rs, &r, SENDER_APPROVED, "spf bounce.example.info", "SPF pass");
	r.spf_result = softfail1;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "SPF softfail does not approve");
	/* the first kind wins: service before cidr */
	r = base;
	r.service = "Amazon SES";
	r.ip = "192.0.2.1";
	expect(rs, &r, SENDER_APPROVED, "service Amazon SES",
	    "service and cidr: service named");

	/* --- forwarded: each reason --------------------------------------- */
	reason[0] = "forwarded";
	r = base;
	r.reason_type = reason;
	r.nreason = 1;
	expect(rs, &r, SENDER_FORWARDED, NULL, "reason forwarded");
	reason[0] = "mailing_list";
	expect(rs, &r, SENDER_FORWARDED, NULL, "reason mailing_list");
	reason[0] = "Trusted_Forwarder";
	expect(rs, &r, SENDER_FORWARDED, NULL, "reason trusted_forwarder");
	reason[0] = "local_policy";
	expect(rs, &r, SENDER_UNKNOWN, NULL, "reason local_policy: unknown");
	/* approved comes first */
	reason[0] = "forwarded";
	r.ip = "192.0.2.3";
	expect(rs, &r, SENDER_APPROVED, "cidr 192.0.2.0/24",
	    "approved and forwarded: approved");
	/* a catalogue forwarder */
	cat = catalogue_new();
	ok(catalogue_builtin(cat, stderr) == 0, "built-in catalogue");
	svc = catalogue_match(cat, SVC_DKIM, "googlegroups.com");
	r = base;
	r.service = svc ? svc->name : NULL;
	r.service_type = svc ? svc->type : NULL;
	expect(rs, &r, SENDER_FORWARDED, NULL, "catalogue forwarder "
	    "(Google Groups)");
	svc = catalogue_match(cat, SVC_DKIM, "amazonses.com");
	r.service = svc ? svc->name : NULL;
	r.service_type = svc ? svc->type : NULL;
	expect(NULL, &r, SENDER_UNKNOWN, NULL, "catalogue ESP, no rules: "
	    "unknown");
	catalogue_free(cat);
	/* SPF fails for the forwarder while the domain's own DKIM passes */
	r = base;
	r.header_from = "news.example.com";
	dkd[0] = "mail.EXAMPLE.com";
	r.dkim_domain = dkd;
	r.dkim_result = pass1;
	r.ndkim = 1;
	spd[0] = "lists.forwarder.test";
	r.spf_domain = spd;
	r.spf_result = fail1;
	r.nspf = 1;
	expect(rs, &r, SENDER_FORWARDED, NULL, "SPF fail, own DKIM passes");
	r.nspf = 0;
	expect(rs, &r, SENDER_FORWARDED, NULL, "no SPF, own DKIM passes");
	r.nspf = 1;
	r.spf_result = pass1;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "SPF passes: not forwarded");
	r.spf_result = fail1;
	r.dkim_result = fail1;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "own DKIM fails: unknown");
	dkd[0] = "esp.test";
	r.dkim_result = pass1;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "another's DKIM passes: unknown");
	dkd[0] = "esp.test";
	dkd[1] = "example.com";
	dkr[0] = "fail";
	dkr[1] = "pass";
	r.dkim_result = dkr;
	r.ndkim = 2;
	expect(rs, &r, SENDER_FORWARDED, NULL, "second signature is own");
	r.header_from = NULL;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "no header_from: unknown");
	r.header_from = "com";
	expect(rs, &r, SENDER_UNKNOWN, NULL, "header_from a suffix: unknown");

	/* --- hostile records: over-long names do not match or crash ------- */
	r = base;
	memset(name, 'a', 299);
	name[299] = '\0';
	memcpy(name + 280, ".example.org", 12);
	r.header_from = name;
	dkd[0] = name;
	r.dkim_domain = dkd;
	r.dkim_result = pass1;
	r.ndkim = 1;
	r.ptr = name;
	r.ptr_verified = true;
	r.service = name;
	r.ip = name;
	expect(rs, &r, SENDER_UNKNOWN, NULL, "300-byte names: unknown");
	sender_rules_free(rs);

	/* --- 10,000 rules work and are matched fast; 10,001 refused ------- */
	big = sender_rules_new();
	rc = 0;
	for (i = 0; i < SENDER_RULES_MAX && rc == 0; i++) {
		switch (i % 3) {
		case 0:
			snprintf(text, sizeof(text), "cidr 10.%zu.%zu.0/24",
			    i / 256 % 256, i % 256);
			break;
		case 1:
			snprintf(text, sizeof(text), "dkim d%zu.example.org", i);
			break;
		default:
			snprintf(text, sizeof(text), "ptr h%zu.example.net", i);
		}
		rc = sender_rules_add(big, text, err, sizeof(err));
	}
	ok(rc == 0 && sender_rules_count(big) == SENDER_RULES_MAX,
	    "10,000 rules added (%zu%s%s)", sender_rules_count(big),
	    rc ? ": " : "", rc ? err : "");
	refused(big, "cidr 192.0.2.0/24", "more than 10000 rules",
	    "the 10,001st rule");
	ok(sender_rules_add(big, "ptr h2.example.net", err, sizeof(err)) == 0,
	    "a rule already there, when full: not an error");
	r = base;
	dkd[0] = "x.d9997.example.org";
	r.dkim_domain = dkd;
	r.dkim_result = pass1;
	r.ndkim = 1;
	r.ptr = "mx.h9998.example.net";
	r.ptr_verified = true;
	expect(big, &r, SENDER_APPROVED, "ptr h9998.example.net",
	    "10,000 rules: PTR found");
	r.ptr_verified = false;
	expect(big, &r, SENDER_APPROVED, "dkim d9997.example.org",
	    "10,000 rules: DKIM found");
	r.ip = "10.39.15.99";	/* rule 9999 */
	expect(big, &r, SENDER_APPROVED, "cidr 10.39.15.0/24",
	    "10,000 rules: CIDR found");
	approved = 0;
	t0 = now_seconds();
	for (i = 0; i < 100000; i++) {
		snprintf(text, sizeof(text), "10.%zu.%zu.1", i / 256 % 64,
		    i % 256);
		r.ip = text;
		dkd[0] = "y.nothere.example.org";
		r.ptr = "mx.nothere.example.net";
		approved += sender_classify(big, &r, &rule) == SENDER_APPROVED;
	}
	dt = now_seconds() - t0;
	ok(approved > 0 && approved < 100000, "mixed matches (%d)", approved);
	ok(dt < 2.0, "100,000 records against 10,000 rules in %.3f s (< 2 s)",
	    dt);
	sender_rules_free(big);
	return done_testing();
}

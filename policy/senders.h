/*
 * senders.h - approved senders: what a domain's owner says is theirs
 * (rules), and the class of a record of the domain: approved (its source
 * matches a rule), forwarded (a forwarder or a mailing list) or unknown.
 * Pure C: no database, no network; the rules come from db/senders.c.
 *
 * A rule is "KIND VALUE":
 *   service NAME   the source's catalogue service (case ignored)
 *   cidr ADDR/LEN  the source IP in that IPv4 or IPv6 network (a bare
 *                  address is a /32 or /128; host bits are cleared)
 *   ptr DOMAIN     the source's forward-confirmed PTR name equals DOMAIN
 *                  or ends in .DOMAIN
 *   dkim DOMAIN    a passing DKIM signature's d= equals or ends in .DOMAIN
 *   spf DOMAIN     a passing SPF result's domain equals or ends in .DOMAIN
 * Kinds and domains are lower-cased, a domain's final dot dropped; a
 * domain is at most 253 bytes of letters, digits, '-', '_' and '.', and
 * not a public suffix (a rule "dkim com" would approve everyone).
 */
#ifndef DMARCD_SENDERS_H
#define DMARCD_SENDERS_H

#include <stdbool.h>
#include <stddef.h>

#define SENDER_RULES_MAX	10000	/* rules of a domain */
#define SENDER_RULE_LEN_MAX	1024	/* bytes of a rule's text */
#define SENDER_DOMAIN_MAX	253	/* bytes of a rule's domain */
#define SENDER_SERVICE_MAX	64	/* bytes of a service name */

struct sender_rules;	/* one domain's rules */

struct sender_rules *sender_rules_new(void);	/* NULL: out of memory */
void	sender_rules_free(struct sender_rules *);

/*
 * Adds the rule written as text ("KIND VALUE") in its normalised form.
 * Returns 0 (a rule already there is not added twice), or -1 with err
 * (errlen bytes, always terminated) a clear message: an unknown kind, a
 * bad CIDR, a bad or over-long domain, a bad service name, more than
 * SENDER_RULES_MAX rules, out of memory.  The rules are unchanged then.
 */
int	sender_rules_add(struct sender_rules *, const char *text, char *err,
	    size_t errlen);
size_t	sender_rules_count(const struct sender_rules *);

/*
 * The normalised form of text into kind_r (a static string: "service",
 * "cidr", "ptr", "dkim" or "spf") and value (valuelen bytes, at least
 * SENDER_RULE_LEN_MAX + 1): 0, or -1 with err as sender_rules_add.  What
 * the database stores (kind, value).
 */
int	sender_rule_parse(const char *text, const char **kind_r, char *value,
	    size_t valuelen, char *err, size_t errlen);

/* What a record and its source are known as; strings are the report's
 * and source_host's, hostile. */
struct sender_record {
	const char *domain, *header_from;  /* policy domain, header_from (may be NULL) */
	const char *ip;                    /* text form */
	const char *service, *service_type, *ptr; bool ptr_verified; /* source_host; NULL unknown */
	const char *const *dkim_domain, *const *dkim_result; size_t ndkim;
	const char *const *spf_domain, *const *spf_result; size_t nspf;
	const char *const *reason_type; size_t nreason;
};

enum sender_class { SENDER_APPROVED, SENDER_FORWARDED, SENDER_UNKNOWN };

/*
 * The first class that applies: approved (the source matches a rule);
 * forwarded (an override reason forwarded, mailing_list or
 * trusted_forwarder; a source of service type forwarder; or no SPF
 * result passes while a DKIM signature passes whose d= has the
 * organisational domain of header_from); unknown.  rules may be NULL
 * (none); *rule_r, if not NULL, gets the matching rule's text ("KIND
 * VALUE", valid while the rules are) or NULL when not approved.  When
 * several rules match, the first of service, cidr, ptr, dkim, spf wins.
 */
enum sender_class sender_classify(const struct sender_rules *,
	    const struct sender_record *, const char **rule_r);
const char *sender_class_name(enum sender_class); /* "approved", "forwarded", "unknown" */

/*
 * sender_classify in two parts, for a caller that sees many records
 * alike in their results (the simulator: one profile, many sources).
 * sender_classify_auth reads only header_from and the results (the dkim
 * and spf rules, the override reasons, the forwarded DKIM pattern);
 * sender_classify_with adds the source's part (service, cidr, ptr, a
 * forwarder's service type) to it: together exactly sender_classify.
 */
struct sender_auth_part {
	const char	*rule;		/* a dkim or spf rule matched, or NULL */
	bool		 forwarded;
};
void	sender_classify_auth(const struct sender_rules *,
	    const struct sender_record *, struct sender_auth_part *);
enum sender_class sender_classify_with(const struct sender_rules *,
	    const struct sender_record *, const struct sender_auth_part *,
	    const char **rule_r);

#endif

/*
 * senders.c - approved-sender rules and the class of a record (see
 * senders.h).  Rules are kept sorted, one array per kind, so a record is
 * matched with a few binary searches whatever the number of rules: a
 * name is looked up whole and at each of its dots (as the service
 * catalogue does), an address once per prefix length in use.
 *
 * May use: lib/ (escaping), enrich/orgdomain.h (organisational domains).
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib.h"
#include "orgdomain.h"
#include "senders.h"

/* in the order a match is looked for (senders.h) */
enum rule_kind { K_SERVICE, K_CIDR, K_PTR, K_DKIM, K_SPF, K_NKINDS };

static const char *const kind_names[K_NKINDS] = {
	"service", "cidr", "ptr", "dkim", "spf",
};

struct rule {
	char		*text;		/* "kind value" */
	const char	*value;		/* in text */
	int		 af;		/* cidr: AF_INET or AF_INET6 */
	unsigned	 plen;		/* cidr: prefix length */
	unsigned char	 addr[16];	/* cidr: the network, host bits 0 */
};

struct sender_rules {
	struct rule	*r[K_NKINDS];	/* sorted by rule_cmp */
	size_t		 n[K_NKINDS], size[K_NKINDS];
	size_t		 total;
	/* the cidr prefix lengths in use: [0] IPv4, [1] IPv6 */
	unsigned	 plens[2][129];
};

/* An error message naming a value of the user's: escaped, shortened. */
static void
rule_err(char *err, size_t errlen, const char *pre, const char *what,
    const char *post)
{
	char	esc[96];

	str_escape(esc, sizeof(esc), what, strlen(what));
	snprintf(err, errlen, "%s%s%s", pre, esc, post);
}

struct sender_rules *
sender_rules_new(void)
{
	return calloc(1, sizeof(struct sender_rules));
}

void
sender_rules_free(struct sender_rules *rs)
{
	size_t	k, i;

	if (rs == NULL)
		return;
	for (k = 0; k < K_NKINDS; k++) {
		for (i = 0; i < rs->n[k]; i++)
			free(rs->r[k][i].text);
		free(rs->r[k]);
	}
	free(rs);
}

size_t
sender_rules_count(const struct sender_rules *rs)
{
	return rs == NULL ? 0 : rs->total;
}

const char *
sender_class_name(enum sender_class c)
{
	switch (c) {
	case SENDER_APPROVED:
		return "approved";
	case SENDER_FORWARDED:
		return "forwarded";
	case SENDER_UNKNOWN:
		break;
	}
	return "unknown";
}

/* --- parsing -------------------------------------------------------------- */

/* A domain of a rule, lower-cased in place, final dot dropped: 0 or -1
 * with err. */
static int
parse_domain(const char *kind, char *v, char *err, size_t errlen)
{
	char	org[ORG_NAME_MAX + 1];
	size_t	len, label = 0, i;

	len = strlen(v);
	if (len > 1 && v[len - 1] == '.')
		v[--len] = '\0';
	if (len > SENDER_DOMAIN_MAX) {
		snprintf(err, errlen, "%s: domain of %zu bytes (at most %d)",
		    kind, len, SENDER_DOMAIN_MAX);
		return -1;
	}
	for (i = 0; i <= len; i++) {
		if (v[i] == '.' || v[i] == '\0') {
			if (label == 0 || label > 63) {
				rule_err(err, errlen, "", v, label ?
				    ": a label over 63 bytes" :
				    ": an empty label");
				return -1;
			}
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' &&
		    v[i] != '_') {
			rule_err(err, errlen, "", v, ": not a domain name "
			    "(letters, digits, '-', '_' and '.')");
			return -1;
		}
		v[i] = tolower((unsigned char)v[i]);
		label++;
	}
	if (org_domain(v, org, sizeof(org)) == -1) {
		rule_err(err, errlen, "", v, ": a public suffix (the rule "
		    "would match every sender under it)");
		return -1;
	}
	return 0;
}

/* ADDR[/LEN] into r and its canonical text into v (host bits cleared). */
static int
parse_cidr(char *v, size_t vlen, struct rule *r, char *err, size_t errlen)
{
	char		 addr[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
	const char	*slash, *p;
	size_t		 alen, nbytes, i;
	unsigned	 max, plen = 0;

	slash = strchr(v, '/');
	alen = slash ? (size_t)(slash - v) : strlen(v);
	if (alen == 0 || alen >= sizeof(addr)) {
		rule_err(err, errlen, "cidr ", v, ": not an address/length");
		return -1;
	}
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	memset(r->addr, 0, sizeof(r->addr));
	if (inet_pton(AF_INET, addr, r->addr) == 1)
		r->af = AF_INET, max = 32, nbytes = 4;
	else if (inet_pton(AF_INET6, addr, r->addr) == 1)
		r->af = AF_INET6, max = 128, nbytes = 16;
	else {
		rule_err(err, errlen, "cidr ", v,
		    ": not an IPv4 or IPv6 address");
		return -1;
	}
	if (slash == NULL)
		plen = max;
	else {
		for (p = slash + 1; isdigit((unsigned char)*p) &&
		    p - slash <= 3; p++)
			plen = plen * 10 + (unsigned)(*p - '0');
		if (p == slash + 1 || *p != '\0' || plen > max) {
			char	esc[96];

			str_escape(esc, sizeof(esc), v, strlen(v));
			snprintf(err, errlen, "cidr %s: the length must be "
			    "0..%u for IPv%c", esc, max, max == 32 ? '4' : '6');
			return -1;
		}
	}
	r->plen = plen;
	for (i = 0; i < nbytes; i++) {
		if (plen >= 8 * (i + 1))
			continue;
		if (plen <= 8 * i)
			r->addr[i] = 0;
		else
			r->addr[i] &= (unsigned char)(0xff << (8 * (i + 1) -
			    plen));
	}
	if (inet_ntop(r->af, r->addr, out, sizeof(out)) == NULL) {
		snprintf(err, errlen, "cidr: cannot write the address");
		return -1;
	}
	snprintf(v, vlen, "%s/%u", out, plen);
	return 0;
}

static int
parse_service(char *v, char *err, size_t errlen)
{
	size_t	len = strlen(v), i;

	if (len > SENDER_SERVICE_MAX) {
		snprintf(err, errlen, "service: name of %zu bytes (at most "
		    "%d)", len, SENDER_SERVICE_MAX);
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e) {
			rule_err(err, errlen, "service ", v,
			    ": not printable ASCII");
			return -1;
		}
	return 0;
}

/* text -> kind and normalised value (and r's address for a cidr). */
static int
rule_parse(const char *text, enum rule_kind *kind_r, char *value,
    size_t valuelen, struct rule *r, char *err, size_t errlen)
{
	const char	*p, *kw;
	size_t		 klen, n;
	char		*v;
	int		 k;

	if (valuelen < SENDER_RULE_LEN_MAX + 1) {
		snprintf(err, errlen, "rule: value buffer too small");
		return -1;
	}
	if ((n = strlen(text)) > SENDER_RULE_LEN_MAX) {
		snprintf(err, errlen, "rule of %zu bytes (at most %d)", n,
		    SENDER_RULE_LEN_MAX);
		return -1;
	}
	for (p = text; *p == ' ' || *p == '\t'; p++)
		;
	for (kw = p; *p != '\0' && *p != ' ' && *p != '\t'; p++)
		;
	klen = (size_t)(p - kw);
	for (k = 0; k < K_NKINDS; k++)
		if (strlen(kind_names[k]) == klen &&
		    strncasecmp(kind_names[k], kw, klen) == 0)
			break;
	if (k == K_NKINDS) {
		char	word[SENDER_RULE_LEN_MAX + 1];

		memcpy(word, kw, klen);
		word[klen] = '\0';
		rule_err(err, errlen, klen ? "unknown kind \"" : "no kind",
		    word, klen ? "\" (service, cidr, ptr, dkim or spf)" :
		    " (service, cidr, ptr, dkim or spf)");
		return -1;
	}
	memcpy(value, p, strlen(p) + 1);
	v = str_trim(value);
	memmove(value, v, strlen(v) + 1);
	if (*value == '\0') {
		snprintf(err, errlen, "%s: no value", kind_names[k]);
		return -1;
	}
	switch (k) {
	case K_SERVICE:
		if (parse_service(value, err, errlen) == -1)
			return -1;
		break;
	case K_CIDR:
		if (parse_cidr(value, valuelen, r, err, errlen) == -1)
			return -1;
		break;
	default:
		if (parse_domain(kind_names[k], value, err, errlen) == -1)
			return -1;
	}
	*kind_r = k;
	return 0;
}

int
sender_rule_parse(const char *text, const char **kind_r, char *value,
    size_t valuelen, char *err, size_t errlen)
{
	struct rule	r;
	enum rule_kind	k;

	if (rule_parse(text, &k, value, valuelen, &r, err, errlen) == -1)
		return -1;
	*kind_r = kind_names[k];
	return 0;
}

/* --- the sorted arrays ---------------------------------------------------- */

static int
addr_cmp(int af, unsigned plen, const unsigned char *addr,
    const struct rule *b)
{
	if (af != b->af)
		return af < b->af ? -1 : 1;
	if (plen != b->plen)
		return plen < b->plen ? -1 : 1;
	return memcmp(addr, b->addr, 16);
}

/* Orders a kind's rules: services by name, case ignored; networks by
 * family, length, address; domains by byte. */
static int
rule_cmp(enum rule_kind k, const struct rule *a, const struct rule *b)
{
	if (k == K_SERVICE)
		return strcasecmp(a->value, b->value);
	if (k == K_CIDR)
		return addr_cmp(a->af, a->plen, a->addr, b);
	return strcmp(a->value, b->value);
}

/* The index of the first rule of k not below key; *found when equal. */
static size_t
rule_find(const struct sender_rules *rs, enum rule_kind k,
    const struct rule *key, bool *found)
{
	size_t	lo = 0, hi = rs->n[k], mid;
	int	c;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = rule_cmp(k, &rs->r[k][mid], key)) < 0)
			lo = mid + 1;
		else {
			if (c == 0)
				*found = true;
			hi = mid;
		}
	}
	return lo;
}

int
sender_rules_add(struct sender_rules *rs, const char *text, char *err,
    size_t errlen)
{
	struct rule	 r, *grown;
	enum rule_kind	 k;
	char		 value[SENDER_RULE_LEN_MAX + 1];
	size_t		 at, size, klen;
	bool		 found;

	memset(&r, 0, sizeof(r));
	if (rule_parse(text, &k, value, sizeof(value), &r, err, errlen) == -1)
		return -1;
	r.value = value;
	at = rule_find(rs, k, &r, &found);
	if (found)
		return 0;
	if (rs->total >= SENDER_RULES_MAX) {
		snprintf(err, errlen, "more than %d rules for a domain",
		    SENDER_RULES_MAX);
		return -1;
	}
	if (rs->n[k] == rs->size[k]) {
		size = rs->size[k] ? rs->size[k] * 2 : 16;
		if ((grown = reallocarray(rs->r[k], size, sizeof(*grown))) ==
		    NULL)
			goto nomem;
		rs->r[k] = grown;
		rs->size[k] = size;
	}
	klen = strlen(kind_names[k]);
	if ((r.text = malloc(klen + 1 + strlen(value) + 1)) == NULL)
		goto nomem;
	memcpy(r.text, kind_names[k], klen);
	r.text[klen] = ' ';
	memcpy(r.text + klen + 1, value, strlen(value) + 1);
	r.value = r.text + klen + 1;
	memmove(&rs->r[k][at + 1], &rs->r[k][at],
	    (rs->n[k] - at) * sizeof(r));
	rs->r[k][at] = r;
	rs->n[k]++;
	rs->total++;
	if (k == K_CIDR)
		rs->plens[r.af == AF_INET6][r.plen]++;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* --- matching ------------------------------------------------------------- */

/* The rule of kind k (a domain kind) that name equals or ends in
 * "." + rule: the whole name first, then each shorter suffix. */
static const struct rule *
match_name(const struct sender_rules *rs, enum rule_kind k, const char *name)
{
	struct rule	 key;
	char		 buf[SENDER_DOMAIN_MAX + 2];
	const char	*p;
	size_t		 len, i, at;
	bool		 found;

	if (rs->n[k] == 0 || name == NULL ||
	    (len = strlen(name)) == 0 || len > SENDER_DOMAIN_MAX + 1)
		return NULL;
	for (i = 0; i < len; i++)
		buf[i] = tolower((unsigned char)name[i]);
	if (buf[len - 1] == '.')
		len--;
	buf[len] = '\0';
	memset(&key, 0, sizeof(key));
	for (p = buf; p != NULL && *p != '\0'; ) {
		key.value = p;
		at = rule_find(rs, k, &key, &found);
		if (found)
			return &rs->r[k][at];
		if ((p = strchr(p, '.')) != NULL)
			p++;
	}
	return NULL;
}

static const struct rule *
match_ip(const struct sender_rules *rs, const char *ip)
{
	struct rule	 key;
	unsigned char	 a[16], m[16];
	unsigned	 plen, max, i;
	size_t		 at;
	int		 af, fam;
	bool		 found;

	if (rs->n[K_CIDR] == 0 || ip == NULL)
		return NULL;
	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, ip, a) == 1)
		af = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, ip, a) == 1)
		af = AF_INET6, max = 128;
	else
		return NULL;
	fam = af == AF_INET6;
	memset(&key, 0, sizeof(key));
	/* the longest network first: its note is the most specific */
	for (plen = max + 1; plen-- > 0; ) {
		if (rs->plens[fam][plen] == 0)
			continue;
		memset(m, 0, sizeof(m));
		for (i = 0; i < 16; i++) {
			if (plen >= 8 * (i + 1))
				m[i] = a[i];
			else if (plen > 8 * i)
				m[i] = a[i] & (unsigned char)(0xff <<
				    (8 * (i + 1) - plen));
		}
		key.af = af;
		key.plen = plen;
		memcpy(key.addr, m, sizeof(m));
		at = rule_find(rs, K_CIDR, &key, &found);
		if (found)
			return &rs->r[K_CIDR][at];
	}
	return NULL;
}

static const struct rule *
match_service(const struct sender_rules *rs, const char *service)
{
	struct rule	key;
	size_t		at;
	bool		found;

	if (rs->n[K_SERVICE] == 0 || service == NULL)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.value = service;
	at = rule_find(rs, K_SERVICE, &key, &found);
	return found ? &rs->r[K_SERVICE][at] : NULL;
}

static bool
is_pass(const char *const *results, size_t i)
{
	return results != NULL && results[i] != NULL &&
	    strcasecmp(results[i], "pass") == 0;
}

/* The rule of rs the record's source matches, or NULL. */
static const struct rule *
match_source(const struct sender_rules *rs, const struct sender_record *rec)
{
	const struct rule	*r;

	if ((r = match_service(rs, rec->service)) != NULL ||
	    (r = match_ip(rs, rec->ip)) != NULL)
		return r;
	if (rec->ptr_verified && (r = match_name(rs, K_PTR, rec->ptr)) != NULL)
		return r;
	return NULL;
}

/* The rule of rs the record's passing results match, or NULL. */
static const struct rule *
match_auth(const struct sender_rules *rs, const struct sender_record *rec)
{
	const struct rule	*r;
	size_t			 i;

	for (i = 0; rec->dkim_domain != NULL && i < rec->ndkim; i++)
		if (is_pass(rec->dkim_result, i) &&
		    (r = match_name(rs, K_DKIM, rec->dkim_domain[i])) != NULL)
			return r;
	for (i = 0; rec->spf_domain != NULL && i < rec->nspf; i++)
		if (is_pass(rec->spf_result, i) &&
		    (r = match_name(rs, K_SPF, rec->spf_domain[i])) != NULL)
			return r;
	return NULL;
}

/* No SPF result passes while a DKIM signature of header_from's
 * organisational domain does: what a forwarder leaves of the domain's
 * own mail (the forwarder's IP is not in the domain's SPF record). */
static bool
forwarded_own_dkim(const struct sender_record *rec)
{
	char	from_org[ORG_NAME_MAX + 1], d_org[ORG_NAME_MAX + 1];
	size_t	i;

	for (i = 0; rec->spf_domain != NULL && i < rec->nspf; i++)
		if (is_pass(rec->spf_result, i))
			return false;
	if (rec->header_from == NULL ||
	    org_domain(rec->header_from, from_org, sizeof(from_org)) == -1)
		return false;
	for (i = 0; rec->dkim_domain != NULL && i < rec->ndkim; i++)
		if (is_pass(rec->dkim_result, i) && rec->dkim_domain[i] !=
		    NULL && org_domain(rec->dkim_domain[i], d_org,
		    sizeof(d_org)) == 0 && strcmp(d_org, from_org) == 0)
			return true;
	return false;
}

/* What the results say of forwarding: a reason, or the DKIM pattern. */
static bool
forwarded_auth(const struct sender_record *rec)
{
	static const char *const reasons[] = {
		"forwarded", "mailing_list", "trusted_forwarder",
	};
	size_t	i, j;

	for (i = 0; rec->reason_type != NULL && i < rec->nreason; i++)
		for (j = 0; j < nitems(reasons); j++)
			if (rec->reason_type[i] != NULL &&
			    strcasecmp(rec->reason_type[i], reasons[j]) == 0)
				return true;
	return forwarded_own_dkim(rec);
}

void
sender_classify_auth(const struct sender_rules *rs,
    const struct sender_record *rec, struct sender_auth_part *part)
{
	const struct rule	*r;

	part->rule = rs != NULL && (r = match_auth(rs, rec)) != NULL ?
	    r->text : NULL;
	part->forwarded = forwarded_auth(rec);
}

enum sender_class
sender_classify_with(const struct sender_rules *rs,
    const struct sender_record *rec, const struct sender_auth_part *part,
    const char **rule_r)
{
	const struct rule	*r;
	const char		*rule = NULL;

	if (rs != NULL && (r = match_source(rs, rec)) != NULL)
		rule = r->text;		/* a source rule comes first */
	else
		rule = part->rule;
	if (rule_r != NULL)
		*rule_r = rule;
	if (rule != NULL)
		return SENDER_APPROVED;
	if (part->forwarded || (rec->service_type != NULL &&
	    strcasecmp(rec->service_type, "forwarder") == 0))
		return SENDER_FORWARDED;
	return SENDER_UNKNOWN;
}

enum sender_class
sender_classify(const struct sender_rules *rs,
    const struct sender_record *rec, const char **rule_r)
{
	struct sender_auth_part	 part;

	sender_classify_auth(rs, rec, &part);
	return sender_classify_with(rs, rec, &part, rule_r);
}

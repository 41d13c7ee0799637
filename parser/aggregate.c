/*
 * aggregate.c - the streaming DMARC aggregate report parser (RFC 7489 and
 * DMARCbis) on libxml2's SAX2 push parser.
 *
 * Shape: libxml2 is fed fixed-size chunks (filled whole, so the result does
 * not depend on how the read callback splits its input) and calls us back
 * per element and per run of text; no tree is ever built.  A small stack
 * of states (one byte per open element) follows the nesting.  A state says
 * what an element means where it is (a <domain> under <policy_published> is
 * not one under <dkim>), so elements may come in any order and unknown ones
 * are skipped with everything inside them.  Elements are matched on their
 * local name, whatever the namespace or prefix.  Leaf text goes into one
 * capped buffer; finished values go into an arena that is emptied after
 * every record, so memory does not grow with the number of records.
 * Nothing is allocated per element.
 *
 * Choices where the RFCs leave room:
 *  - A field given twice keeps its first value (this also bounds memory).
 *  - <report_metadata> or <policy_published> after the first <record> is an
 *    error: report_begin has already handed the metadata out, and quietly
 *    changing it under the caller would be worse than refusing.
 *  - A report with no records is accepted; report_begin is then called at
 *    the end of the document, just before report_end.
 *  - report_end is only called once libxml2 has seen the whole document,
 *    so trailing garbage after </feedback> still fails the report.
 *  - A bad <pct> is treated as absent (has_pct false): it is advisory.
 *    Unknown enumeration values are kept, lower-cased and capped.
 *  - An empty <reason>, <dkim> or <spf> (no field at all) is dropped.
 *  - end < begin is accepted as given; only non-numbers are refused.
 *  - Of several faults the first in document order is reported: libxml2
 *    stops calling back at its first fatal error, and we stop it at ours.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "aggregate.h"

#define AGG_NS_DMARC2	"urn:ietf:params:xml:ns:dmarc-2.0"
#define AGG_ENUM_MAX	32	/* bytes kept of an unknown enumeration */
#define AGG_QUOTE_MAX	64	/* bytes of report data quoted in errors */
#define AGG_ARENA_BLOCK	8192
#define AGG_NAME_SLOTS	128	/* power of two, > 2 * AGG_NNAMES */
#define AGG_CHUNK	65536	/* bytes handed to libxml2 at a time */

/* Element names we know, whatever their parent. */
enum agg_tok {
	T_UNKNOWN, T_ADKIM, T_ASPF, T_AUTH_RESULTS, T_BEGIN, T_COMMENT,
	T_COUNT, T_DATE_RANGE, T_DISCOVERY_METHOD, T_DISPOSITION, T_DKIM,
	T_DOMAIN, T_EMAIL, T_END, T_ENVELOPE_FROM, T_ENVELOPE_TO, T_ERROR,
	T_EXTRA_CONTACT_INFO, T_FEEDBACK, T_FO, T_GENERATOR, T_HEADER_FROM,
	T_HUMAN_RESULT, T_IDENTIFIERS, T_NP, T_ORG_NAME, T_P, T_PCT,
	T_POLICY_EVALUATED, T_POLICY_PUBLISHED, T_REASON, T_RECORD,
	T_REPORT_ID, T_REPORT_METADATA, T_RESULT, T_ROW, T_SCOPE, T_SELECTOR,
	T_SOURCE_IP, T_SP, T_SPF, T_TESTING, T_TYPE, T_VERSION
};

/* Sorted by name: agg_lookup() scans the run sharing the first letter. */
static const struct {
	const char	*name;
	enum agg_tok	 tok;
} agg_names[] = {
	{ "adkim", T_ADKIM }, { "aspf", T_ASPF },
	{ "auth_results", T_AUTH_RESULTS }, { "begin", T_BEGIN },
	{ "comment", T_COMMENT }, { "count", T_COUNT },
	{ "date_range", T_DATE_RANGE },
	{ "discovery_method", T_DISCOVERY_METHOD },
	{ "disposition", T_DISPOSITION }, { "dkim", T_DKIM },
	{ "domain", T_DOMAIN }, { "email", T_EMAIL }, { "end", T_END },
	{ "envelope_from", T_ENVELOPE_FROM }, { "envelope_to", T_ENVELOPE_TO },
	{ "error", T_ERROR }, { "extra_contact_info", T_EXTRA_CONTACT_INFO },
	{ "feedback", T_FEEDBACK }, { "fo", T_FO },
	{ "generator", T_GENERATOR }, { "header_from", T_HEADER_FROM },
	{ "human_result", T_HUMAN_RESULT }, { "identifiers", T_IDENTIFIERS },
	{ "np", T_NP }, { "org_name", T_ORG_NAME }, { "p", T_P },
	{ "pct", T_PCT }, { "policy_evaluated", T_POLICY_EVALUATED },
	{ "policy_published", T_POLICY_PUBLISHED }, { "reason", T_REASON },
	{ "record", T_RECORD }, { "report_id", T_REPORT_ID },
	{ "report_metadata", T_REPORT_METADATA }, { "result", T_RESULT },
	{ "row", T_ROW }, { "scope", T_SCOPE }, { "selector", T_SELECTOR },
	{ "source_ip", T_SOURCE_IP }, { "sp", T_SP }, { "spf", T_SPF },
	{ "testing", T_TESTING }, { "type", T_TYPE }, { "version", T_VERSION },
};
#define AGG_NNAMES	(sizeof(agg_names) / sizeof(agg_names[0]))

/*
 * What an open element means.  Containers first, then leaves (>= F_FIRST),
 * whose text is collected.  Fits in a byte.
 */
enum agg_state {
	S_IGNORE, S_FEEDBACK, S_META, S_DATE, S_POLICY, S_RECORD, S_ROW,
	S_PE, S_REASON, S_IDENT, S_AUTH, S_ADKIM, S_ASPF,
	F_FIRST,
	F_VERSION = F_FIRST, F_ORG_NAME, F_EMAIL, F_EXTRA, F_REPORT_ID,
	F_BEGIN, F_END, F_ERROR, F_GENERATOR, F_DOMAIN, F_ADKIM, F_ASPF,
	F_P, F_SP, F_NP, F_PCT, F_FO, F_TESTING, F_DISCOVERY, F_SOURCE_IP,
	F_COUNT, F_DISPOSITION, F_PE_DKIM, F_PE_SPF, F_REASON_TYPE,
	F_REASON_COMMENT, F_HEADER_FROM, F_ENVELOPE_FROM, F_ENVELOPE_TO,
	F_DKIM_DOMAIN, F_DKIM_SELECTOR, F_DKIM_RESULT, F_DKIM_HUMAN,
	F_SPF_DOMAIN, F_SPF_SCOPE, F_SPF_RESULT, F_SPF_HUMAN,
	F_LAST
};

/* How a leaf's text is checked and kept. */
enum agg_kind {
	K_IDENT,	/* kept as is; over max_text is an error */
	K_TEXT,		/* free text; over max_text is cut */
	K_ENUM,		/* lower-cased, normalised, capped */
	K_SPECIAL	/* numbers and addresses, handled one by one */
};

/* Enumeration tables (see agg_enums). */
enum agg_norm {
	N_NONE, N_RESULT, N_ALIGN, N_POLICY, N_DISPOSITION, N_TESTING,
	N_DISCOVERY, N_SCOPE, N_REASON
};

static const struct {
	const char	*name;		/* for error messages */
	enum agg_kind	 kind;
	enum agg_norm	 norm;
} agg_leaves[F_LAST - F_FIRST] = {
	[F_VERSION - F_FIRST] = { "version", K_IDENT, N_NONE },
	[F_ORG_NAME - F_FIRST] = { "org_name", K_IDENT, N_NONE },
	[F_EMAIL - F_FIRST] = { "email", K_IDENT, N_NONE },
	[F_EXTRA - F_FIRST] = { "extra_contact_info", K_TEXT, N_NONE },
	[F_REPORT_ID - F_FIRST] = { "report_id", K_IDENT, N_NONE },
	[F_BEGIN - F_FIRST] = { "begin", K_SPECIAL, N_NONE },
	[F_END - F_FIRST] = { "end", K_SPECIAL, N_NONE },
	[F_ERROR - F_FIRST] = { "error", K_TEXT, N_NONE },
	[F_GENERATOR - F_FIRST] = { "generator", K_TEXT, N_NONE },
	[F_DOMAIN - F_FIRST] = { "domain", K_IDENT, N_NONE },
	[F_ADKIM - F_FIRST] = { "adkim", K_ENUM, N_ALIGN },
	[F_ASPF - F_FIRST] = { "aspf", K_ENUM, N_ALIGN },
	[F_P - F_FIRST] = { "p", K_ENUM, N_POLICY },
	[F_SP - F_FIRST] = { "sp", K_ENUM, N_POLICY },
	[F_NP - F_FIRST] = { "np", K_ENUM, N_POLICY },
	[F_PCT - F_FIRST] = { "pct", K_SPECIAL, N_NONE },
	[F_FO - F_FIRST] = { "fo", K_ENUM, N_NONE },
	[F_TESTING - F_FIRST] = { "testing", K_ENUM, N_TESTING },
	[F_DISCOVERY - F_FIRST] = { "discovery_method", K_ENUM, N_DISCOVERY },
	[F_SOURCE_IP - F_FIRST] = { "source_ip", K_SPECIAL, N_NONE },
	[F_COUNT - F_FIRST] = { "count", K_SPECIAL, N_NONE },
	[F_DISPOSITION - F_FIRST] = { "disposition", K_ENUM, N_DISPOSITION },
	[F_PE_DKIM - F_FIRST] = { "dkim", K_ENUM, N_RESULT },
	[F_PE_SPF - F_FIRST] = { "spf", K_ENUM, N_RESULT },
	[F_REASON_TYPE - F_FIRST] = { "type", K_ENUM, N_REASON },
	[F_REASON_COMMENT - F_FIRST] = { "comment", K_TEXT, N_NONE },
	[F_HEADER_FROM - F_FIRST] = { "header_from", K_IDENT, N_NONE },
	[F_ENVELOPE_FROM - F_FIRST] = { "envelope_from", K_IDENT, N_NONE },
	[F_ENVELOPE_TO - F_FIRST] = { "envelope_to", K_IDENT, N_NONE },
	[F_DKIM_DOMAIN - F_FIRST] = { "domain", K_IDENT, N_NONE },
	[F_DKIM_SELECTOR - F_FIRST] = { "selector", K_IDENT, N_NONE },
	[F_DKIM_RESULT - F_FIRST] = { "result", K_ENUM, N_RESULT },
	[F_DKIM_HUMAN - F_FIRST] = { "human_result", K_TEXT, N_NONE },
	[F_SPF_DOMAIN - F_FIRST] = { "domain", K_IDENT, N_NONE },
	[F_SPF_SCOPE - F_FIRST] = { "scope", K_ENUM, N_SCOPE },
	[F_SPF_RESULT - F_FIRST] = { "result", K_ENUM, N_RESULT },
	[F_SPF_HUMAN - F_FIRST] = { "human_result", K_TEXT, N_NONE },
};

/* Known enumeration values and the synonyms receivers write for them. */
static const struct {
	enum agg_norm	 norm;
	const char	*in;
	const char	*out;
} agg_enums[] = {
	{ N_RESULT, "pass", "pass" }, { N_RESULT, "fail", "fail" },
	{ N_RESULT, "none", "none" }, { N_RESULT, "neutral", "neutral" },
	{ N_RESULT, "softfail", "softfail" },
	{ N_RESULT, "temperror", "temperror" },
	{ N_RESULT, "permerror", "permerror" },
	{ N_RESULT, "policy", "policy" },
	{ N_RESULT, "hardfail", "fail" },
	{ N_RESULT, "temp_error", "temperror" },
	{ N_RESULT, "temp-error", "temperror" },
	{ N_RESULT, "tempfail", "temperror" },
	{ N_RESULT, "perm_error", "permerror" },
	{ N_RESULT, "perm-error", "permerror" },
	{ N_RESULT, "permfail", "permerror" },
	{ N_ALIGN, "r", "r" }, { N_ALIGN, "s", "s" },
	{ N_ALIGN, "relaxed", "r" }, { N_ALIGN, "strict", "s" },
	{ N_POLICY, "none", "none" }, { N_POLICY, "quarantine", "quarantine" },
	{ N_POLICY, "reject", "reject" },
	{ N_DISPOSITION, "none", "none" },
	{ N_DISPOSITION, "quarantine", "quarantine" },
	{ N_DISPOSITION, "reject", "reject" },
	{ N_DISPOSITION, "pass", "pass" },
	{ N_DISPOSITION, "quarantined", "quarantine" },
	{ N_DISPOSITION, "rejected", "reject" },
	{ N_TESTING, "n", "n" }, { N_TESTING, "y", "y" },
	{ N_TESTING, "no", "n" }, { N_TESTING, "yes", "y" },
	{ N_DISCOVERY, "psl", "psl" }, { N_DISCOVERY, "treewalk", "treewalk" },
	{ N_DISCOVERY, "tree-walk", "treewalk" },
	{ N_DISCOVERY, "tree_walk", "treewalk" },
	{ N_SCOPE, "mfrom", "mfrom" }, { N_SCOPE, "helo", "helo" },
	{ N_SCOPE, "mailfrom", "mfrom" }, { N_SCOPE, "mail_from", "mfrom" },
	{ N_SCOPE, "mail-from", "mfrom" }, { N_SCOPE, "ehlo", "helo" },
	{ N_REASON, "forwarded", "forwarded" },
	{ N_REASON, "sampled_out", "sampled_out" },
	{ N_REASON, "trusted_forwarder", "trusted_forwarder" },
	{ N_REASON, "mailing_list", "mailing_list" },
	{ N_REASON, "local_policy", "local_policy" },
	{ N_REASON, "other", "other" },
	{ N_REASON, "policy_test_mode", "policy_test_mode" },
};
#define AGG_NENUMS	(sizeof(agg_enums) / sizeof(agg_enums[0]))

/* Bump allocator; emptied after each record, keeping its first block. */
struct agg_block {
	struct agg_block	*next;
	size_t			 size;
	char			 data[];
};

struct agg_arena {
	struct agg_block	*head;	/* newest first; the last is kept */
	size_t			 used;
};

struct agg_parser {
	agg_read_fn		 rd;
	const char		*(*read_error)(void *);
	void			*rctx;
	const struct agg_limits	*lim;
	const struct agg_handler *h;
	void			*hctx;
	xmlParserCtxtPtr	 ctxt;
	char			*chunk;		/* AGG_CHUNK bytes of input */

	unsigned char		*stack;		/* enum agg_state per level */
	unsigned		 depth;
	uint64_t		 n_elements;

	char			*text;		/* leaf text, max_text + 1 */
	size_t			 tlen;
	int			 text_over;	/* more than max_text */

	struct agg_report	 r;
	struct agg_arena	 report_arena;	/* lives for the whole parse */
	struct agg_record	 rec;
	struct agg_arena	 rec_arena;	/* emptied after each record */

	unsigned		 have_begin : 1, have_end : 1,
				 seen_date_range : 1, begun : 1,
				 have_ip : 1, have_count : 1,
				 read_failed : 1, failed : 1, xml_fatal : 1,
				 io_eof : 1, in_prolog : 1, doctype : 1;
	unsigned		 dt_match;	/* bytes of "<!DOCTYPE" seen */
	uint64_t		 in_bytes;	/* read so far */

	/*
	 * Element names are interned in the parser's dictionary, so after
	 * one look-up per parse a name is found by its address alone.
	 */
	struct {
		const xmlChar	*name;
		unsigned char	 tok;
	}			 names[AGG_NAME_SLOTS];

	char			 err[512];
	char			 xml_err[256];	/* libxml2's message, first */
	int			 xml_line;
	int			 xml_code;
	int			 xml_open;	/* elements open at the error */
};

static int	agg_fail(struct agg_parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Records the first reason the parse failed; later ones are consequences. */
static int
agg_fail(struct agg_parser *p, const char *fmt, ...)
{
	va_list	ap;

	if (p->failed)
		return -1;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Where to cut s[0..n) so that no UTF-8 sequence is left unfinished. */
static size_t
agg_utf8_cut(const char *s, size_t n)
{
	size_t		i, need;
	unsigned char	c;

	/* Find the start of the last sequence, at most 4 bytes back. */
	for (i = n; i > 0 && n - i < 4; i--)
		if (((unsigned char)s[i - 1] & 0xc0) != 0x80)
			break;
	if (i == 0)
		return n;
	c = (unsigned char)s[i - 1];
	if (c < 0x80)
		return n;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return n - (i - 1) >= need ? n : i - 1;
}

/* Report data as it may appear in an error: capped, no control bytes. */
static const char *
agg_quote(char *buf, size_t bufsz, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < bufsz && i < AGG_QUOTE_MAX; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    '?' : s[i];
	if (s[i] != '\0')
		i = agg_utf8_cut(buf, i);
	buf[i] = '\0';
	return buf;
}

static void *
agg_arena_alloc(struct agg_arena *a, size_t n)
{
	struct agg_block	*b;
	size_t			 size;

	if (a->head == NULL || a->head->size - a->used < n) {
		size = n > AGG_ARENA_BLOCK ? n : AGG_ARENA_BLOCK;
		if ((b = malloc(sizeof(*b) + size)) == NULL)
			return NULL;
		b->next = a->head;
		b->size = size;
		a->head = b;
		a->used = 0;
	}
	a->used += n;
	return a->head->data + a->used - n;
}

/* Keeps the oldest block so a steady stream of records allocates nothing. */
static void
agg_arena_reset(struct agg_arena *a)
{
	struct agg_block	*b;

	while (a->head != NULL && a->head->next != NULL) {
		b = a->head;
		a->head = b->next;
		free(b);
	}
	a->used = 0;
}

static void
agg_arena_free(struct agg_arena *a)
{
	agg_arena_reset(a);
	free(a->head);
	a->head = NULL;
}

static char *
agg_strndup(struct agg_parser *p, struct agg_arena *a, const char *s,
    size_t n)
{
	char	*d;

	if ((d = agg_arena_alloc(a, n + 1)) == NULL) {
		agg_fail(p, "out of memory");
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static enum agg_tok
agg_lookup(const char *name)
{
	size_t	lo, hi, mid;
	int	c;

	/* Binary search on the first letter, then a short linear run. */
	lo = 0;
	hi = AGG_NNAMES;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if ((unsigned char)agg_names[mid].name[0] <
		    (unsigned char)name[0])
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < AGG_NNAMES && agg_names[lo].name[0] == name[0]; lo++) {
		c = strcmp(agg_names[lo].name, name);
		if (c == 0)
			return agg_names[lo].tok;
		if (c > 0)
			break;
	}
	return T_UNKNOWN;
}

/* An element's local name; undeclared prefixes reach us as "pfx:name". */
static enum agg_tok
agg_lookup_name(const char *name)
{
	enum agg_tok	 t;
	const char	*colon;

	if ((t = agg_lookup(name)) == T_UNKNOWN &&
	    (colon = strrchr(name, ':')) != NULL)
		t = agg_lookup(colon + 1);
	return t;
}

static size_t
agg_name_hash(const xmlChar *name)
{
	uint64_t	h = (uint64_t)(uintptr_t)name;

	h = (h >> 3) * UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(h >> 57) & (AGG_NAME_SLOTS - 1);
}

/* Fills the address-keyed name table from the parser's dictionary. */
static void
agg_names_init(struct agg_parser *p, xmlDictPtr dict)
{
	const xmlChar	*name;
	size_t		 i, h;

	for (i = 0; i < AGG_NNAMES; i++) {
		name = xmlDictLookup(dict,
		    (const xmlChar *)agg_names[i].name, -1);
		if (name == NULL)
			continue;
		for (h = agg_name_hash(name); p->names[h].name != NULL;
		    h = (h + 1) & (AGG_NAME_SLOTS - 1))
			;
		p->names[h].name = name;
		p->names[h].tok = agg_names[i].tok;
	}
}

/* An element's token: by address first, by spelling when that misses. */
static enum agg_tok
agg_name_tok(struct agg_parser *p, const xmlChar *name)
{
	size_t	h;

	for (h = agg_name_hash(name); p->names[h].name != NULL;
	    h = (h + 1) & (AGG_NAME_SLOTS - 1))
		if (p->names[h].name == name)
			return p->names[h].tok;
	return agg_lookup_name((const char *)name);
}

/* What element tok means inside an element in state parent. */
static enum agg_state
agg_child(enum agg_state parent, enum agg_tok t)
{
	switch (parent) {
	case S_FEEDBACK:
		switch (t) {
		case T_VERSION:			return F_VERSION;
		case T_REPORT_METADATA:		return S_META;
		case T_POLICY_PUBLISHED:	return S_POLICY;
		case T_RECORD:			return S_RECORD;
		default:			return S_IGNORE;
		}
	case S_META:
		switch (t) {
		case T_ORG_NAME:		return F_ORG_NAME;
		case T_EMAIL:			return F_EMAIL;
		case T_EXTRA_CONTACT_INFO:	return F_EXTRA;
		case T_REPORT_ID:		return F_REPORT_ID;
		case T_DATE_RANGE:		return S_DATE;
		case T_ERROR:			return F_ERROR;
		case T_GENERATOR:		return F_GENERATOR;
		default:			return S_IGNORE;
		}
	case S_DATE:
		switch (t) {
		case T_BEGIN:			return F_BEGIN;
		case T_END:			return F_END;
		default:			return S_IGNORE;
		}
	case S_POLICY:
		switch (t) {
		case T_DOMAIN:			return F_DOMAIN;
		case T_ADKIM:			return F_ADKIM;
		case T_ASPF:			return F_ASPF;
		case T_P:			return F_P;
		case T_SP:			return F_SP;
		case T_NP:			return F_NP;
		case T_PCT:			return F_PCT;
		case T_FO:			return F_FO;
		case T_TESTING:			return F_TESTING;
		case T_DISCOVERY_METHOD:	return F_DISCOVERY;
		default:			return S_IGNORE;
		}
	case S_RECORD:
		switch (t) {
		case T_ROW:			return S_ROW;
		case T_IDENTIFIERS:		return S_IDENT;
		case T_AUTH_RESULTS:		return S_AUTH;
		default:			return S_IGNORE;
		}
	case S_ROW:
		switch (t) {
		case T_SOURCE_IP:		return F_SOURCE_IP;
		case T_COUNT:			return F_COUNT;
		case T_POLICY_EVALUATED:	return S_PE;
		default:			return S_IGNORE;
		}
	case S_PE:
		switch (t) {
		case T_DISPOSITION:		return F_DISPOSITION;
		case T_DKIM:			return F_PE_DKIM;
		case T_SPF:			return F_PE_SPF;
		case T_REASON:			return S_REASON;
		default:			return S_IGNORE;
		}
	case S_REASON:
		switch (t) {
		case T_TYPE:			return F_REASON_TYPE;
		case T_COMMENT:			return F_REASON_COMMENT;
		default:			return S_IGNORE;
		}
	case S_IDENT:
		switch (t) {
		case T_HEADER_FROM:		return F_HEADER_FROM;
		case T_ENVELOPE_FROM:		return F_ENVELOPE_FROM;
		case T_ENVELOPE_TO:		return F_ENVELOPE_TO;
		default:			return S_IGNORE;
		}
	case S_AUTH:
		switch (t) {
		case T_DKIM:			return S_ADKIM;
		case T_SPF:			return S_ASPF;
		default:			return S_IGNORE;
		}
	case S_ADKIM:
		switch (t) {
		case T_DOMAIN:			return F_DKIM_DOMAIN;
		case T_SELECTOR:		return F_DKIM_SELECTOR;
		case T_RESULT:			return F_DKIM_RESULT;
		case T_HUMAN_RESULT:		return F_DKIM_HUMAN;
		default:			return S_IGNORE;
		}
	case S_ASPF:
		switch (t) {
		case T_DOMAIN:			return F_SPF_DOMAIN;
		case T_SCOPE:			return F_SPF_SCOPE;
		case T_RESULT:			return F_SPF_RESULT;
		case T_HUMAN_RESULT:		return F_SPF_HUMAN;
		default:			return S_IGNORE;
		}
	default:
		return S_IGNORE;
	}
}

static int
agg_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Collects a leaf's text, dropping leading blanks; notes overflow. */
static void
agg_text_add(struct agg_parser *p, const char *s, size_t n)
{
	size_t	room;

	if (p->tlen == 0)
		while (n > 0 && agg_is_space(*s)) {
			s++;
			n--;
		}
	room = p->lim->max_text - p->tlen;
	if (n <= room) {
		memcpy(p->text + p->tlen, s, n);
		p->tlen += n;
		return;
	}
	memcpy(p->text + p->tlen, s, room);
	p->tlen += room;
	/* Blanks past the cap would be trimmed anyway. */
	for (s += room, n -= room; n > 0; s++, n--)
		if (!agg_is_space(*s)) {
			p->text_over = 1;
			break;
		}
}

/* "record N: " when inside a record, for error messages. */
static const char *
agg_where(struct agg_parser *p, char *buf, size_t bufsz)
{
	unsigned	i;

	for (i = 0; i < p->depth; i++)
		if (p->stack[i] == S_RECORD) {
			snprintf(buf, bufsz, "record %" PRIu64 ": ",
			    p->r.n_records + 1);
			return buf;
		}
	return "";
}

/* Lower-cases, normalises and caps an enumeration value. */
static char *
agg_enum(struct agg_parser *p, struct agg_arena *a, enum agg_norm norm,
    const char *s, size_t n)
{
	char	 low[AGG_ENUM_MAX + 1];
	size_t	 i, len;

	len = n > AGG_ENUM_MAX ? AGG_ENUM_MAX : n;
	for (i = 0; i < len; i++)
		low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i];
	if (n > len)
		len = agg_utf8_cut(low, len);
	low[len] = '\0';
	if (norm != N_NONE && n == len)
		for (i = 0; i < AGG_NENUMS; i++)
			if (agg_enums[i].norm == norm &&
			    strcmp(agg_enums[i].in, low) == 0)
				return agg_strndup(p, a, agg_enums[i].out,
				    strlen(agg_enums[i].out));
	return agg_strndup(p, a, low, len);
}

/* Parses an unsigned decimal; 0 on success. */
static int
agg_parse_u64(const char *s, uint64_t *v_r)
{
	uint64_t	v = 0;

	if (*s == '+')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	/* Some receivers write "1538438400.0"; a zero fraction is harmless. */
	if (*s == '.')
		for (s++; *s == '0'; s++)
			;
	if (*s != '\0')
		return -1;
	*v_r = v;
	return 0;
}

static int
agg_date(struct agg_parser *p, const char *name, const char *s, int64_t *v_r)
{
	uint64_t	v;
	char		q[AGG_QUOTE_MAX + 1];

	if (*s == '\0')
		return agg_fail(p, "empty <date_range>/<%s>", name);
	if (agg_parse_u64(s, &v) == -1 || v > INT64_MAX)
		return agg_fail(p, "<date_range>/<%s> '%s' is not a number of "
		    "seconds", name, agg_quote(q, sizeof(q), s));
	*v_r = (int64_t)v;
	return 0;
}

/* inet_ntop() for IPv4 goes through sprintf; this is most of the rows. */
static void
agg_ipv4_str(const unsigned char *a, char *out)
{
	int	i;

	for (i = 0; i < 4; i++) {
		if (a[i] >= 100)
			*out++ = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			*out++ = (char)('0' + a[i] / 10 % 10);
		*out++ = (char)('0' + a[i] % 10);
		*out++ = i < 3 ? '.' : '\0';
	}
}

static int
agg_source_ip(struct agg_parser *p, const char *s)
{
	struct agg_record	*rec = &p->rec;
	char			 q[AGG_QUOTE_MAX + 1];

	if (p->have_ip)
		return 0;
	if (*s == '\0')
		return agg_fail(p, "record %" PRIu64 ": empty <source_ip>",
		    p->r.n_records + 1);
	if (inet_pton(AF_INET, s, rec->addr) == 1) {
		rec->family = AF_INET;
		memset(rec->addr + 4, 0, sizeof(rec->addr) - 4);
	} else if (inet_pton(AF_INET6, s, rec->addr) == 1)
		rec->family = AF_INET6;
	else
		return agg_fail(p, "record %" PRIu64 ": <source_ip> '%s' is "
		    "not an IPv4 or IPv6 address", p->r.n_records + 1,
		    agg_quote(q, sizeof(q), s));
	if (rec->family == AF_INET)
		agg_ipv4_str(rec->addr, rec->source_ip);
	else if (inet_ntop(rec->family, rec->addr, rec->source_ip,
	    sizeof(rec->source_ip)) == NULL)
		return agg_fail(p, "record %" PRIu64 ": cannot format "
		    "<source_ip>", p->r.n_records + 1);
	p->have_ip = 1;
	return 0;
}

/* Where a string leaf goes, NULL for the special ones. */
static char **
agg_slot(struct agg_parser *p, enum agg_state f)
{
	struct agg_report	*r = &p->r;
	struct agg_record	*rec = &p->rec;

	switch (f) {
	case F_VERSION:		return &r->version;
	case F_ORG_NAME:	return &r->org_name;
	case F_EMAIL:		return &r->org_email;
	case F_EXTRA:		return &r->extra_contact_info;
	case F_REPORT_ID:	return &r->report_id;
	case F_GENERATOR:	return &r->generator;
	case F_DOMAIN:		return &r->domain;
	case F_ADKIM:		return &r->adkim;
	case F_ASPF:		return &r->aspf;
	case F_P:		return &r->p;
	case F_SP:		return &r->sp;
	case F_NP:		return &r->np;
	case F_FO:		return &r->fo;
	case F_TESTING:		return &r->testing;
	case F_DISCOVERY:	return &r->discovery_method;
	case F_DISPOSITION:	return &rec->disposition;
	case F_PE_DKIM:		return &rec->dkim;
	case F_PE_SPF:		return &rec->spf;
	case F_REASON_TYPE:
		return &rec->reasons[rec->n_reasons - 1].type;
	case F_REASON_COMMENT:
		return &rec->reasons[rec->n_reasons - 1].comment;
	case F_HEADER_FROM:	return &rec->header_from;
	case F_ENVELOPE_FROM:	return &rec->envelope_from;
	case F_ENVELOPE_TO:	return &rec->envelope_to;
	case F_DKIM_DOMAIN:	return &rec->auth_dkim[rec->n_dkim - 1].domain;
	case F_DKIM_SELECTOR:
		return &rec->auth_dkim[rec->n_dkim - 1].selector;
	case F_DKIM_RESULT:	return &rec->auth_dkim[rec->n_dkim - 1].result;
	case F_DKIM_HUMAN:
		return &rec->auth_dkim[rec->n_dkim - 1].human_result;
	case F_SPF_DOMAIN:	return &rec->auth_spf[rec->n_spf - 1].domain;
	case F_SPF_SCOPE:	return &rec->auth_spf[rec->n_spf - 1].scope;
	case F_SPF_RESULT:	return &rec->auth_spf[rec->n_spf - 1].result;
	case F_SPF_HUMAN:
		return &rec->auth_spf[rec->n_spf - 1].human_result;
	case F_ERROR:
		return r->n_errors < AGG_MAX_ERRORS ?
		    &r->errors[r->n_errors] : NULL;
	default:
		return NULL;
	}
}

/* A leaf element ended: checks its text and stores it. */
static int
agg_leaf_end(struct agg_parser *p, enum agg_state f)
{
	char		 wb[32], q[AGG_QUOTE_MAX + 1];
	char		**slot;
	char		*s = p->text;
	size_t		 n = p->tlen;
	uint64_t	 v;
	struct agg_arena *a;
	const char	*name = agg_leaves[f - F_FIRST].name;
	enum agg_kind	 kind = agg_leaves[f - F_FIRST].kind;

	if (p->text_over) {
		if (kind == K_IDENT || kind == K_SPECIAL)
			return agg_fail(p, "%s<%s> longer than max_text (%zu "
			    "bytes)", agg_where(p, wb, sizeof(wb)), name,
			    p->lim->max_text);
		/* Free text: cut at a character boundary. */
		n = agg_utf8_cut(s, n);
	}
	while (n > 0 && agg_is_space((unsigned char)s[n - 1]))
		n--;
	s[n] = '\0';

	switch (f) {
	case F_BEGIN:
		if (p->have_begin)
			return 0;
		p->have_begin = 1;
		return agg_date(p, "begin", s, &p->r.begin);
	case F_END:
		if (p->have_end)
			return 0;
		p->have_end = 1;
		return agg_date(p, "end", s, &p->r.end);
	case F_PCT:
		/* Advisory: nonsense is treated as absent. */
		if (!p->r.has_pct && agg_parse_u64(s, &v) == 0 && v <= 100) {
			p->r.has_pct = true;
			p->r.pct = (int)v;
		}
		return 0;
	case F_SOURCE_IP:
		return agg_source_ip(p, s);
	case F_COUNT:
		if (p->have_count)
			return 0;
		if (agg_parse_u64(s, &p->rec.count) == -1)
			return agg_fail(p, "record %" PRIu64 ": <count> '%s' is "
			    "not a number", p->r.n_records + 1,
			    agg_quote(q, sizeof(q), s));
		if (p->rec.count > AGG_COUNT_MAX)
			return agg_fail(p, "record %" PRIu64 ": <count> %" PRIu64
			    " is more than %" PRIu64 " (2^40) messages",
			    p->r.n_records + 1, p->rec.count, AGG_COUNT_MAX);
		p->have_count = 1;
		return 0;
	default:
		break;
	}

	if ((slot = agg_slot(p, f)) == NULL || *slot != NULL || n == 0)
		return 0;
	a = f >= F_SOURCE_IP ? &p->rec_arena : &p->report_arena;
	if (kind == K_ENUM) {
		if ((*slot = agg_enum(p, a,
		    agg_leaves[f - F_FIRST].norm, s, n)) == NULL)
			return -1;
	} else if ((*slot = agg_strndup(p, a, s, n)) == NULL)
		return -1;
	if (f == F_ERROR)
		p->r.n_errors++;
	if (f == F_DISPOSITION && strcmp(*slot, "pass") == 0)
		p->r.dmarcbis = true;
	return 0;
}

/* Metadata is complete: checks what a report cannot do without. */
static int
agg_report_begin(struct agg_parser *p)
{
	const char	*error = NULL;

	p->begun = 1;
	if (p->r.report_id == NULL)
		return agg_fail(p, "missing <report_metadata>/<report_id>");
	if (!p->seen_date_range)
		return agg_fail(p, "missing <report_metadata>/<date_range>");
	if (!p->have_begin)
		return agg_fail(p, "missing <date_range>/<begin>");
	if (!p->have_end)
		return agg_fail(p, "missing <date_range>/<end>");
	if (p->r.domain == NULL)
		return agg_fail(p, "missing <policy_published>/<domain>");
	if (p->h->report_begin != NULL &&
	    p->h->report_begin(p->hctx, &p->r, &error) == -1)
		return agg_fail(p, "%s", error ? error : "report_begin failed");
	return 0;
}

static int
agg_record_begin(struct agg_parser *p)
{
	struct agg_record	*rec = &p->rec;

	if (!p->begun && agg_report_begin(p) == -1)
		return -1;
	if (p->r.n_records >= p->lim->max_records)
		return agg_fail(p, "more than max_records (%" PRIu64
		    ") records", p->lim->max_records);
	agg_arena_reset(&p->rec_arena);
	/* The arrays are cleared entry by entry as they fill. */
	rec->source_ip[0] = '\0';
	rec->family = 0;
	memset(rec->addr, 0, sizeof(rec->addr));
	rec->count = 0;
	rec->disposition = rec->dkim = rec->spf = NULL;
	rec->header_from = rec->envelope_from = rec->envelope_to = NULL;
	rec->n_reasons = rec->n_dkim = rec->n_spf = 0;
	p->have_ip = p->have_count = 0;
	return 0;
}

static int
agg_record_end(struct agg_parser *p)
{
	const char	*error = NULL;
	uint64_t	 n = p->r.n_records + 1;

	if (!p->have_ip)
		return agg_fail(p, "record %" PRIu64 ": no <source_ip>", n);
	if (!p->have_count)
		return agg_fail(p, "record %" PRIu64 ": no <count>", n);
	if (p->r.messages + p->rec.count < p->r.messages)
		return agg_fail(p, "record %" PRIu64 ": <count> overflows the "
		    "report's total", n);
	p->r.n_records = n;
	p->r.messages += p->rec.count;
	if (p->h->record != NULL &&
	    p->h->record(p->hctx, &p->r, &p->rec, &error) == -1)
		return agg_fail(p, "%s", error ? error : "record failed");
	return 0;
}

/* Opens a <reason>, <dkim> or <spf>: one more entry, cleared. */
static int
agg_entry_begin(struct agg_parser *p, enum agg_state st)
{
	struct agg_record	*rec = &p->rec;

	switch (st) {
	case S_REASON:
		if (rec->n_reasons >= AGG_MAX_REASONS)
			return agg_fail(p, "record %" PRIu64 ": more than "
			    "AGG_MAX_REASONS (%d) <reason> elements",
			    p->r.n_records + 1, AGG_MAX_REASONS);
		memset(&rec->reasons[rec->n_reasons++], 0,
		    sizeof(rec->reasons[0]));
		break;
	case S_ADKIM:
		if (rec->n_dkim >= AGG_MAX_DKIM)
			return agg_fail(p, "record %" PRIu64 ": more than "
			    "AGG_MAX_DKIM (%d) <dkim> auth results",
			    p->r.n_records + 1, AGG_MAX_DKIM);
		memset(&rec->auth_dkim[rec->n_dkim++], 0,
		    sizeof(rec->auth_dkim[0]));
		break;
	case S_ASPF:
		if (rec->n_spf >= AGG_MAX_SPF)
			return agg_fail(p, "record %" PRIu64 ": more than "
			    "AGG_MAX_SPF (%d) <spf> auth results",
			    p->r.n_records + 1, AGG_MAX_SPF);
		memset(&rec->auth_spf[rec->n_spf++], 0,
		    sizeof(rec->auth_spf[0]));
		break;
	default:
		break;
	}
	return 0;
}

/* Closes a <reason>, <dkim> or <spf>; one that said nothing is dropped. */
static void
agg_entry_end(struct agg_parser *p, enum agg_state st)
{
	struct agg_record	*rec = &p->rec;
	struct agg_reason	*re;
	struct agg_dkim		*d;
	struct agg_spf		*s;

	switch (st) {
	case S_REASON:
		re = &rec->reasons[rec->n_reasons - 1];
		if (re->type == NULL && re->comment == NULL)
			rec->n_reasons--;
		break;
	case S_ADKIM:
		d = &rec->auth_dkim[rec->n_dkim - 1];
		if (d->domain == NULL && d->selector == NULL &&
		    d->result == NULL && d->human_result == NULL)
			rec->n_dkim--;
		break;
	case S_ASPF:
		s = &rec->auth_spf[rec->n_spf - 1];
		if (s->domain == NULL && s->scope == NULL &&
		    s->result == NULL && s->human_result == NULL)
			rec->n_spf--;
		break;
	default:
		break;
	}
}

/* An element closed (or an empty one opened). */
static int
agg_element_end(struct agg_parser *p)
{
	enum agg_state	st;

	if (p->depth == 0)
		return 0;
	st = p->stack[--p->depth];
	if (st >= F_FIRST)
		return agg_leaf_end(p, st);
	switch (st) {
	case S_RECORD:
		return agg_record_end(p);
	case S_REASON:
	case S_ADKIM:
	case S_ASPF:
		agg_entry_end(p, st);
		break;
	default:
		break;
	}
	return 0;
}

/* An element opened: name is its local name, from the parser's dictionary. */
static int
agg_element_begin(struct agg_parser *p, const xmlChar *name,
    const xmlChar *prefix, const xmlChar *uri)
{
	enum agg_state	 parent, st;
	enum agg_tok	 t;

	if (++p->n_elements > p->lim->max_elements)
		return agg_fail(p, "more than max_elements (%" PRIu64
		    ") elements", p->lim->max_elements);
	if (p->depth >= p->lim->max_depth)
		return agg_fail(p, "elements nested deeper than max_depth "
		    "(%u)", p->lim->max_depth);
	if (p->depth == 0) {
		if (agg_name_tok(p, name) != T_FEEDBACK) {
			char	q[AGG_QUOTE_MAX + 1], qn[2 * AGG_QUOTE_MAX + 2];

			/* An undeclared prefix is part of the name as written. */
			snprintf(qn, sizeof(qn), "%s%s%s",
			    prefix != NULL && uri == NULL ?
			    (const char *)prefix : "",
			    prefix != NULL && uri == NULL ? ":" : "",
			    (const char *)name);
			return agg_fail(p, "not a DMARC aggregate report (root "
			    "element <%s>)", agg_quote(q, sizeof(q), qn));
		}
		if (uri != NULL &&
		    strcmp((const char *)uri, AGG_NS_DMARC2) == 0)
			p->r.dmarcbis = true;
		st = S_FEEDBACK;
	} else {
		parent = p->stack[p->depth - 1];
		if (parent == S_IGNORE || parent >= F_FIRST)
			st = S_IGNORE;
		else {
			t = agg_name_tok(p, name);
			st = agg_child(parent, t);
		}
	}
	p->stack[p->depth++] = st;

	switch (st) {
	case S_IGNORE:
	case S_FEEDBACK:
		break;
	case S_META:
	case S_POLICY:
		/* See the top of the file: metadata is handed out once. */
		if (p->begun)
			return agg_fail(p, "<%s> after the first <record>",
			    st == S_META ? "report_metadata" :
			    "policy_published");
		break;
	case S_DATE:
		p->seen_date_range = 1;
		break;
	case S_RECORD:
		if (agg_record_begin(p) == -1)
			return -1;
		break;
	case S_REASON:
	case S_ADKIM:
	case S_ASPF:
		if (agg_entry_begin(p, st) == -1)
			return -1;
		break;
	case F_VERSION:
		/* A late <version> changes nothing already handed out. */
		if (p->begun) {
			p->stack[p->depth - 1] = S_IGNORE;
			break;
		}
		p->tlen = 0;
		p->text_over = 0;
		break;
	case F_GENERATOR:
	case F_NP:
	case F_TESTING:
	case F_DISCOVERY:
		p->r.dmarcbis = true;
		/* FALLTHROUGH */
	default:
		p->tlen = 0;
		p->text_over = 0;
		break;
	}
	return 0;
}

/* libxml2's errors: kept (the first fatal one wins), never printed. */
static void
agg_xml_error(void *arg, xmlErrorPtr e)
{
	struct agg_parser	*p = arg;
	size_t			 n;

	if (e == NULL || e->level < XML_ERR_ERROR)
		return;
	if (p->xml_fatal || (p->xml_err[0] != '\0' &&
	    e->level != XML_ERR_FATAL))
		return;
	snprintf(p->xml_err, sizeof(p->xml_err), "%s",
	    e->message ? e->message : "unknown XML error");
	/* Some messages span lines ("...encoding !\nBytes: ..."). */
	for (n = 0; p->xml_err[n] != '\0'; n++)
		if ((unsigned char)p->xml_err[n] < 0x20)
			p->xml_err[n] = ' ';
	while (n > 0 && agg_is_space((unsigned char)p->xml_err[n - 1]))
		p->xml_err[--n] = '\0';
	p->xml_line = e->line;
	p->xml_code = e->code;
	if (e->domain == XML_FROM_PARSER && e->ctxt != NULL)
		p->xml_open = ((xmlParserCtxtPtr)e->ctxt)->nameNr;
	if (e->level == XML_ERR_FATAL)
		p->xml_fatal = 1;
}

/*
 * Looks for "<!DOCTYPE" in the prolog, before libxml2 parses an internal
 * subset (an entity bomb trips libxml2's own loop check first, with a less
 * useful message).  NUL bytes are skipped so UTF-16 and UTF-32 are covered.
 * Scanning stops at the first '<' followed by a letter: the root element.
 * Returns -1 when a DOCTYPE is found.
 */
static int
agg_prolog_scan(struct agg_parser *p, const char *buf, size_t n)
{
	static const char	 kw[] = "<!DOCTYPE";
	unsigned char		 c;
	size_t			 i;

	for (i = 0; i < n && p->in_prolog; i++) {
		if ((c = (unsigned char)buf[i]) == '\0')
			continue;
		if (p->dt_match == 1 && (c == '_' || c == ':' || c >= 0x80 ||
		    (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
			p->in_prolog = 0;
			break;
		}
		if (c == (unsigned char)kw[p->dt_match]) {
			if (++p->dt_match == sizeof(kw) - 1) {
				p->doctype = 1;
				return -1;
			}
		} else
			p->dt_match = c == '<' ? 1 : 0;
	}
	return 0;
}

/* Reads until buf is full or the input ends; -1 when the read fails. */
static ssize_t
agg_fill(struct agg_parser *p, char *buf, size_t len)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len && !p->io_eof) {
		if ((n = p->rd(p->rctx, buf + got, len - got)) < 0) {
			p->read_failed = 1;
			return -1;
		}
		if ((size_t)n > len - got)
			n = (ssize_t)(len - got);
		if (n == 0)
			p->io_eof = 1;
		got += (size_t)n;
	}
	p->in_bytes += got;
	return (ssize_t)got;
}

/*
 * The SAX2 callbacks.  One that fails stops libxml2 at once; the reason is
 * already in p->err and nothing after it is looked at.
 */
static void
agg_sax_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
    int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
	struct agg_parser	*p = ctx;

	(void)nb_namespaces;
	(void)namespaces;
	(void)nb_attributes;
	(void)nb_defaulted;
	(void)attributes;
	if (agg_element_begin(p, localname, prefix, uri) == -1)
		xmlStopParser(p->ctxt);
}

static void
agg_sax_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri)
{
	struct agg_parser	*p = ctx;

	(void)localname;
	(void)prefix;
	(void)uri;
	if (agg_element_end(p) == -1)
		xmlStopParser(p->ctxt);
}

/* Text and CDATA; only a leaf's own text is kept. */
static void
agg_sax_text(void *ctx, const xmlChar *s, int len)
{
	struct agg_parser	*p = ctx;

	if (p->depth > 0 && p->stack[p->depth - 1] >= F_FIRST && len > 0)
		agg_text_add(p, (const char *)s, (size_t)len);
}

/*
 * A DOCTYPE that agg_prolog_scan() could not see (an encoding it does not
 * read through): refused before its internal subset is parsed.
 */
static void
agg_sax_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id,
    const xmlChar *system_id)
{
	struct agg_parser	*p = ctx;

	(void)name;
	(void)external_id;
	(void)system_id;
	p->doctype = 1;
	agg_fail(p, "DTD not allowed");
	xmlStopParser(p->ctxt);
}

static void
agg_sax_entity_decl(void *ctx, const xmlChar *name, int type,
    const xmlChar *public_id, const xmlChar *system_id, xmlChar *content)
{
	(void)type;
	(void)public_id;
	(void)content;
	agg_sax_dtd(ctx, name, NULL, system_id);
}

/* No entity is ever defined: "&x;" is then libxml2's own error. */
static xmlEntityPtr
agg_sax_get_entity(void *ctx, const xmlChar *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

static void
agg_sax_reference(void *ctx, const xmlChar *name)
{
	struct agg_parser	*p = ctx;

	(void)name;
	agg_fail(p, "entity references not allowed");
	xmlStopParser(p->ctxt);
}

/* Feeds libxml2 the whole input; 0 when the document ended well. */
static int
agg_run(struct agg_parser *p, xmlSAXHandler *sax)
{
	ssize_t	n;
	size_t	off;
	int	rc;

	for (;;) {
		if ((n = agg_fill(p, p->chunk, AGG_CHUNK)) == -1)
			return agg_fail(p, "%s", p->read_error != NULL &&
			    p->read_error(p->rctx) != NULL ?
			    p->read_error(p->rctx) : "read error");
		if (p->in_prolog &&
		    agg_prolog_scan(p, p->chunk, (size_t)n) == -1)
			return agg_fail(p, "DTD not allowed");
		off = 0;
		if (p->ctxt == NULL) {
			/* libxml2 guesses the encoding from 4 bytes, or none. */
			off = n >= 4 ? 4 : 0;
			p->ctxt = xmlCreatePushParserCtxt(sax, p,
			    off > 0 ? p->chunk : NULL, (int)off, NULL);
			if (p->ctxt == NULL)
				return agg_fail(p, "cannot create XML parser%s%s",
				    p->xml_err[0] ? ": " : "", p->xml_err);
			/* No network, no DTD, no entity substitution. */
			xmlCtxtUseOptions(p->ctxt,
			    XML_PARSE_NONET | XML_PARSE_NOWARNING);
			agg_names_init(p, p->ctxt->dict);
		}
		rc = xmlParseChunk(p->ctxt, p->chunk + off,
		    (int)((size_t)n - off), p->io_eof);
		if (p->failed)
			return -1;
		if (rc != 0 || !p->ctxt->wellFormed || p->xml_fatal)
			break;
		if (p->io_eof) {
			if (p->n_elements == 0)
				return agg_fail(p,
				    "empty document (no root element)");
			return 0;
		}
	}
	if (p->doctype)
		return agg_fail(p, "DTD not allowed");
	if (p->in_bytes == 0)
		return agg_fail(p, "empty document");
	/* libxml2 calls a truncated document "extra content". */
	if (p->io_eof && p->xml_open > 0 &&
	    p->xml_code == XML_ERR_DOCUMENT_END)
		return agg_fail(p, "XML error at line %d: %s (the input "
		    "ends inside %d open element%s)", p->xml_line,
		    p->xml_err, p->xml_open, p->xml_open == 1 ? "" : "s");
	if (p->xml_err[0] != '\0')
		return agg_fail(p, "XML error at line %d: %s",
		    p->xml_line, p->xml_err);
	return agg_fail(p, "XML error");
}

void
agg_limits_default(struct agg_limits *l)
{
	l->max_depth = AGG_DEFAULT_DEPTH;
	l->max_elements = AGG_DEFAULT_ELEMENTS;
	l->max_records = AGG_DEFAULT_RECORDS;
	l->max_text = AGG_DEFAULT_TEXT;
}

/* Keeps libxml2 quiet outside a parse too. */
static void
agg_xml_silent(void *arg, xmlErrorPtr e)
{
	(void)arg;
	(void)e;
}

/* The few messages libxml2 prints without going through its error API. */
static void
agg_xml_quiet(void *arg, const char *fmt, ...)
{
	(void)arg;
	(void)fmt;
}

void
agg_global_init(void)
{
	xmlInitParser();
	xmlSetStructuredErrorFunc(NULL, agg_xml_silent);
}

int
agg_parse(agg_read_fn rd, const char *(*read_error)(void *), void *rctx,
    const struct agg_limits *lim, const struct agg_handler *h, void *hctx,
    char *err, size_t errlen)
{
	struct agg_parser	*p;
	xmlSAXHandler		 sax;
	xmlStructuredErrorFunc	 old_fn;
	xmlGenericErrorFunc	 old_gfn;
	void			*old_ctx, *old_gctx;
	const char		*error = NULL;
	int			 rc = -1;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->rd = rd;
	p->read_error = read_error;
	p->rctx = rctx;
	p->lim = lim;
	p->h = h;
	p->hctx = hctx;
	p->in_prolog = 1;
	if ((p->stack = malloc(lim->max_depth + 1)) == NULL ||
	    (p->text = malloc(lim->max_text + 1)) == NULL ||
	    (p->chunk = malloc(AGG_CHUNK)) == NULL) {
		agg_fail(p, "out of memory");
		goto out;
	}

	/*
	 * Only what we use, so nothing builds a tree; DTDs and entities are
	 * refused (see STYLE.md).
	 */
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = agg_sax_start;
	sax.endElementNs = agg_sax_end;
	sax.characters = agg_sax_text;
	sax.ignorableWhitespace = agg_sax_text;
	sax.cdataBlock = agg_sax_text;
	sax.internalSubset = agg_sax_dtd;
	sax.externalSubset = agg_sax_dtd;
	sax.entityDecl = agg_sax_entity_decl;
	sax.getEntity = agg_sax_get_entity;
	sax.getParameterEntity = agg_sax_get_entity;
	sax.reference = agg_sax_reference;
	sax.serror = agg_xml_error;

	/*
	 * Encoding errors are raised without a parser context and go to the
	 * global handlers; point them at us for the duration of the parse.
	 */
	old_fn = xmlStructuredError;
	old_ctx = xmlStructuredErrorContext;
	old_gfn = xmlGenericError;
	old_gctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(p, agg_xml_error);
	xmlSetGenericErrorFunc(NULL, agg_xml_quiet);
	if (agg_run(p, &sax) == 0) {
		if (!p->begun)
			agg_report_begin(p);
		if (!p->failed && h->report_end != NULL &&
		    h->report_end(hctx, &p->r, &error) == -1)
			agg_fail(p, "%s", error ? error : "report_end failed");
		if (!p->failed)
			rc = 0;
	}
	if (p->ctxt != NULL)
		xmlFreeParserCtxt(p->ctxt);
	xmlSetGenericErrorFunc(old_gctx, old_gfn);
	xmlSetStructuredErrorFunc(old_ctx, old_fn);

 out:
	if (rc == -1 && errlen > 0)
		snprintf(err, errlen, "%s", p->failed ? p->err : "parse failed");
	else if (errlen > 0)
		err[0] = '\0';
	agg_arena_free(&p->report_arena);
	agg_arena_free(&p->rec_arena);
	free(p->stack);
	free(p->text);
	free(p->chunk);
	free(p);
	return rc;
}

struct agg_mem {
	const char	*data;
	size_t		 len, off;
};

static ssize_t
agg_mem_read(void *ctx, void *buf, size_t len)
{
	struct agg_mem	*m = ctx;

	if (len > m->len - m->off)
		len = m->len - m->off;
	memcpy(buf, m->data + m->off, len);
	m->off += len;
	return (ssize_t)len;
}

int
agg_parse_mem(const void *data, size_t len, const struct agg_limits *lim,
    const struct agg_handler *h, void *hctx, char *err, size_t errlen)
{
	struct agg_mem	m = { data, len, 0 };

	return agg_parse(agg_mem_read, NULL, &m, lim, h, hctx, err, errlen);
}

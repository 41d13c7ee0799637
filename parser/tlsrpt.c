/*
 * tlsrpt.c - SMTP TLS reports (RFC 8460).  json-c builds a tree (JSON is
 * not streamed), so the input is capped by size and nesting first; the tree
 * is then copied into plain structs with a cap on every count.
 *
 * Tolerated, because real reporters send them: counts as decimal strings,
 * a single string where an array of strings is due (policy-string,
 * mx-host), null or absent contact-info, absent policy-domain, absent
 * summary counts (0), unknown policy and result types (kept as given),
 * date-times without a UTC offset (taken as UTC).
 * Refused: counts that are negative, fractional or above 2^53.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "tlsrpt.h"

#define TLSRPT_CHUNK	(64 * 1024)	/* bytes read and tokenised at once */

/* Where in the report an error is, for the reason. */
struct tlsrpt_ctx {
	const struct tlsrpt_limits	*lim;
	char				*err;
	size_t				 errlen;
	char				 where[64];
};

void
tlsrpt_limits_default(struct tlsrpt_limits *l)
{
	l->max_size = 16 << 20;
	l->max_depth = 32;
	l->max_policies = 1000;
	l->max_details = 10000;
	l->max_strings = 1000;
	l->max_string = 64 * 1024;
}

static int __attribute__((format(printf, 2, 3)))
fail(struct tlsrpt_ctx *c, const char *fmt, ...)
{
	va_list	ap;
	size_t	n = 0;

	if (c->where[0] != '\0')
		n = (size_t)snprintf(c->err, c->errlen, "%s: ", c->where);
	if (n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A string member copied out: 0 (NULL when absent or null), or -1 when it
 * is another type or too long. */
static int
get_str(struct tlsrpt_ctx *c, json_object *o, const char *key, char **out_r)
{
	json_object	*v;
	const char	*s;
	size_t		 n;

	*out_r = NULL;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(c, "%s is not a string", key);
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n > c->lim->max_string)
		return fail(c, "%s longer than max_string (%zu bytes)", key,
		    c->lim->max_string);
	if (memchr(s, '\0', n) != NULL)
		return fail(c, "%s contains a NUL character", key);
	if ((*out_r = strndup(s, n)) == NULL)
		return fail(c, "out of memory");
	return 0;
}

static int
need_str(struct tlsrpt_ctx *c, json_object *o, const char *key, char **out_r)
{
	if (get_str(c, o, key, out_r) == -1)
		return -1;
	if (*out_r == NULL)
		return fail(c, "%s missing", key);
	return 0;
}


/* An array of strings, or one string taken as an array of one. */
static int
get_strs(struct tlsrpt_ctx *c, json_object *o, const char *key,
    char ***out_r, size_t *n_r)
{
	json_object	*v, *e;
	size_t		 i, n, l;

	*out_r = NULL;
	*n_r = 0;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		if ((*out_r = calloc(1, sizeof(char *))) == NULL)
			return fail(c, "out of memory");
		if (get_str(c, o, key, *out_r) == -1)
			return -1;
		*n_r = 1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return fail(c, "%s is neither a string nor an array", key);
	n = json_object_array_length(v);
	if (n > c->lim->max_strings)
		return fail(c, "%s has more than max_strings (%u) entries",
		    key, c->lim->max_strings);
	if (n == 0)
		return 0;
	if ((*out_r = calloc(n, sizeof(char *))) == NULL)
		return fail(c, "out of memory");
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			return fail(c, "%s[%zu] is not a string", key, i);
		l = (size_t)json_object_get_string_len(e);
		if (l > c->lim->max_string)
			return fail(c, "%s[%zu] longer than max_string (%zu "
			    "bytes)", key, i, c->lim->max_string);
		if (memchr(json_object_get_string(e), '\0', l) != NULL)
			return fail(c, "%s[%zu] contains a NUL character",
			    key, i);
		if (((*out_r)[i] = strndup(json_object_get_string(e), l)) ==
		    NULL)
			return fail(c, "out of memory");
		*n_r = i + 1;
	}
	return 0;
}

/*
 * A count: a JSON integer, or a string of decimal digits (some reporters
 * quote them).  Absent or null gives dflt.  Fractions, exponents, negative
 * numbers and values above 2^53 are refused: a count is exact or useless.
 */
static int
get_count(struct tlsrpt_ctx *c, json_object *o, const char *key,
    int64_t dflt, int64_t *out_r)
{
	json_object	*v;
	int64_t		 n;

	*out_r = dflt;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_int:
		/* Saturates at INT64_MAX, which is out of range anyway. */
		n = json_object_get_int64(v);
		break;
	case json_type_string:
		if (parse_int64(json_object_get_string(v), INT64_MIN,
		    INT64_MAX, &n) == -1)
			return fail(c, "%s is not a whole number", key);
		break;
	case json_type_double:
		return fail(c, "%s is not a whole number", key);
	default:
		return fail(c, "%s is not a number", key);
	}
	if (n < 0)
		return fail(c, "%s is negative", key);
	if (n > TLSRPT_COUNT_MAX)
		return fail(c, "%s above 2^53", key);
	*out_r = n;
	return 0;
}

static json_object *
get_obj(struct tlsrpt_ctx *c, json_object *o, const char *key, bool need)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
		if (need)
			fail(c, "%s missing", key);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_object)) {
		fail(c, "%s is not an object", key);
		return NULL;
	}
	return v;
}

/* Reads one failure-details entry. */
static int
read_detail(struct tlsrpt_ctx *c, json_object *o, struct tlsrpt_detail *d)
{
	d->failed_session_count = -1;
	if (!json_object_is_type(o, json_type_object))
		return fail(c, "not an object");
	if (get_str(c, o, "result-type", &d->result_type) == -1 ||
	    get_str(c, o, "sending-mta-ip", &d->sending_mta_ip) == -1 ||
	    get_str(c, o, "receiving-mx-hostname",
	    &d->receiving_mx_hostname) == -1 ||
	    get_str(c, o, "receiving-mx-helo", &d->receiving_mx_helo) == -1 ||
	    get_str(c, o, "receiving-ip", &d->receiving_ip) == -1 ||
	    get_str(c, o, "additional-information",
	    &d->additional_information) == -1 ||
	    get_str(c, o, "failure-reason-code",
	    &d->failure_reason_code) == -1 ||
	    get_count(c, o, "failed-session-count", -1,
	    &d->failed_session_count) == -1)
		return -1;
	str_domain_norm(d->receiving_mx_hostname);
	return 0;
}

static int
read_policy(struct tlsrpt_ctx *c, json_object *o, size_t pi,
    struct tlsrpt_policy *p)
{
	json_object	*pol, *sum, *fd;
	size_t		 i, n;

	snprintf(c->where, sizeof(c->where), "policies[%zu]", pi);
	if (!json_object_is_type(o, json_type_object))
		return fail(c, "not an object");
	if ((pol = get_obj(c, o, "policy", true)) == NULL)
		return -1;
	snprintf(c->where, sizeof(c->where), "policies[%zu].policy", pi);
	if (need_str(c, pol, "policy-type", &p->policy_type) == -1 ||
	    get_strs(c, pol, "policy-string", &p->policy_string,
	    &p->n_policy_string) == -1 ||
	    get_str(c, pol, "policy-domain", &p->policy_domain) == -1 ||
	    get_strs(c, pol, "mx-host", &p->mx_host, &p->n_mx_host) == -1)
		return -1;
	str_lower(p->policy_type);
	str_domain_norm(p->policy_domain);

	snprintf(c->where, sizeof(c->where), "policies[%zu]", pi);
	if ((sum = get_obj(c, o, "summary", true)) == NULL)
		return -1;
	snprintf(c->where, sizeof(c->where), "policies[%zu].summary", pi);
	if (get_count(c, sum, "total-successful-session-count", 0,
	    &p->successful) == -1 ||
	    get_count(c, sum, "total-failure-session-count", 0,
	    &p->failure) == -1)
		return -1;

	snprintf(c->where, sizeof(c->where), "policies[%zu]", pi);
	if (!json_object_object_get_ex(o, "failure-details", &fd) ||
	    fd == NULL)
		return 0;
	if (!json_object_is_type(fd, json_type_array))
		return fail(c, "failure-details is not an array");
	n = json_object_array_length(fd);
	if (n > c->lim->max_details)
		return fail(c, "more than max_details (%u) failure-details",
		    c->lim->max_details);
	if (n == 0)
		return 0;
	if ((p->details = calloc(n, sizeof(*p->details))) == NULL)
		return fail(c, "out of memory");
	for (i = 0; i < n; i++) {
		snprintf(c->where, sizeof(c->where),
		    "policies[%zu].failure-details[%zu]", pi, i);
		p->n_details = i + 1;
		if (read_detail(c, json_object_array_get_idx(fd, i),
		    &p->details[i]) == -1)
			return -1;
	}
	return 0;
}

static int
read_report(struct tlsrpt_ctx *c, json_object *root, struct tlsrpt_report *r)
{
	json_object	*dr, *pols;
	size_t		 i, n;

	if (!json_object_is_type(root, json_type_object))
		return fail(c, "not an SMTP TLS report: JSON is not an object");
	if (!json_object_object_get_ex(root, "policies", &pols) ||
	    pols == NULL)
		return fail(c, "not an SMTP TLS report: no policies");
	if (need_str(c, root, "organization-name", &r->organization_name) ==
	    -1 || get_str(c, root, "contact-info", &r->contact_info) == -1 ||
	    need_str(c, root, "report-id", &r->report_id) == -1)
		return -1;
	if ((dr = get_obj(c, root, "date-range", true)) == NULL)
		return -1;
	snprintf(c->where, sizeof(c->where), "date-range");
	if (need_str(c, dr, "start-datetime", &r->start_datetime) == -1 ||
	    need_str(c, dr, "end-datetime", &r->end_datetime) == -1)
		return -1;
	if (tlsrpt_parse_datetime(r->start_datetime, &r->begin) == -1)
		return fail(c, "start-datetime is not an RFC 3339 date-time");
	if (tlsrpt_parse_datetime(r->end_datetime, &r->end) == -1)
		return fail(c, "end-datetime is not an RFC 3339 date-time");
	if (r->end < r->begin)
		return fail(c, "end-datetime before start-datetime");
	c->where[0] = '\0';

	if (!json_object_is_type(pols, json_type_array))
		return fail(c, "policies is not an array");
	n = json_object_array_length(pols);
	if (n > c->lim->max_policies)
		return fail(c, "more than max_policies (%u) policies",
		    c->lim->max_policies);
	if (n > 0 && (r->policies = calloc(n, sizeof(*r->policies))) == NULL)
		return fail(c, "out of memory");
	for (i = 0; i < n; i++) {
		r->n_policies = i + 1;
		if (read_policy(c, json_object_array_get_idx(pols, i), i,
		    &r->policies[i]) == -1)
			return -1;
		/* Each term is at most 2^53, so 1000s of them cannot wrap. */
		r->successful += r->policies[i].successful;
		r->failure += r->policies[i].failure;
	}
	return 0;
}

static int
is_json_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The state of one parse: the tokenizer fed chunk by chunk. */
struct tlsrpt_tok {
	struct json_tokener	*tok;
	json_object		*root;
	size_t			 total;
	bool			 bom_checked;
};

/* Feeds p[0..len) to the tokenizer; 0 or -1 with a reason. */
static int
tok_feed(struct tlsrpt_ctx *c, struct tlsrpt_tok *t, const char *p,
    size_t len)
{
	enum json_tokener_error	 je;
	size_t			 i, used;

	t->total += len;
	if (t->total > c->lim->max_size)
		return fail(c, "SMTP TLS report larger than max_size (%zu "
		    "bytes)", c->lim->max_size);
	if (!t->bom_checked && len > 0) {
		/* A UTF-8 byte order mark, which json-c would refuse. */
		if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			len -= 3;
		}
		t->bom_checked = true;
	}
	while (len > 0) {
		if (t->root != NULL) {
			/* Only white space may follow the document. */
			for (i = 0; i < len; i++)
				if (!is_json_space((unsigned char)p[i]))
					return fail(c, "invalid JSON: data "
					    "after the report");
			return 0;
		}
		if (len > INT32_MAX)
			return fail(c, "invalid JSON: chunk too large");
		t->root = json_tokener_parse_ex(t->tok, p, (int)len);
		je = json_tokener_get_error(t->tok);
		if (t->root == NULL && je == json_tokener_continue)
			return 0;
		if (t->root == NULL) {
			if (je == json_tokener_error_depth)
				return fail(c, "invalid JSON: nested deeper "
				    "than max_depth (%d)", c->lim->max_depth);
			return fail(c, "invalid JSON: %s at byte %zu",
			    json_tokener_error_desc(je), t->total - len +
			    json_tokener_get_parse_end(t->tok));
		}
		used = json_tokener_get_parse_end(t->tok);
		p += used;
		len -= used;
	}
	return 0;
}

/* Ends the input: a whole document, or why not. */
static int
tok_finish(struct tlsrpt_ctx *c, struct tlsrpt_tok *t)
{
	if (t->root != NULL)
		return 0;
	/* A bare number at the very end is complete only once told so. */
	t->root = json_tokener_parse_ex(t->tok, "", 1);
	if (t->root != NULL)
		return 0;
	if (t->total == 0)
		return fail(c, "input is empty");
	return fail(c, "invalid JSON: truncated (%s)",
	    json_tokener_error_desc(json_tokener_get_error(t->tok)));
}

static int
tok_init(struct tlsrpt_ctx *c, struct tlsrpt_tok *t)
{
	memset(t, 0, sizeof(*t));
	if ((t->tok = json_tokener_new_ex(c->lim->max_depth)) == NULL)
		return fail(c, "out of memory");
	/* Trailing bytes are checked here: json-c would refuse even a
	 * final newline in strict mode. */
	json_tokener_set_flags(t->tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_ALLOW_TRAILING_CHARS);
	return 0;
}

static void
tok_free(struct tlsrpt_tok *t)
{
	if (t->root != NULL)
		json_object_put(t->root);
	if (t->tok != NULL)
		json_tokener_free(t->tok);
}

static void
ctx_init(struct tlsrpt_ctx *c, const struct tlsrpt_limits *lim,
    struct tlsrpt_report *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	memset(c, 0, sizeof(*c));
	c->lim = lim;
	c->err = err;
	c->errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
}

int
tlsrpt_parse_mem(const void *data, size_t len,
    const struct tlsrpt_limits *lim, struct tlsrpt_report *r,
    char *err, size_t errlen)
{
	struct tlsrpt_ctx	 c;
	struct tlsrpt_tok	 t;
	const char		*p = data;
	size_t			 n;
	int			 rc = -1;

	ctx_init(&c, lim, r, err, errlen);
	if (len > lim->max_size)
		return fail(&c, "SMTP TLS report larger than max_size (%zu "
		    "bytes)", lim->max_size);
	if (tok_init(&c, &t) == -1)
		return -1;
	/* In chunks: json-c takes an int length. */
	while (len > 0) {
		n = len > TLSRPT_CHUNK ? TLSRPT_CHUNK : len;
		if (tok_feed(&c, &t, p, n) == -1)
			goto out;
		p += n;
		len -= n;
	}
	if (tok_finish(&c, &t) == 0)
		rc = read_report(&c, t.root, r);
out:
	tok_free(&t);
	return rc;
}

int
tlsrpt_parse(tlsrpt_read_fn rd, const char *(*read_error)(void *),
    void *rctx, const struct tlsrpt_limits *lim, struct tlsrpt_report *r,
    char *err, size_t errlen)
{
	struct tlsrpt_ctx	 c;
	struct tlsrpt_tok	 t;
	char			*chunk;
	ssize_t			 n;
	int			 rc = -1;

	ctx_init(&c, lim, r, err, errlen);
	if ((chunk = malloc(TLSRPT_CHUNK)) == NULL)
		return fail(&c, "out of memory");
	if (tok_init(&c, &t) == -1) {
		free(chunk);
		return -1;
	}
	while ((n = rd(rctx, chunk, TLSRPT_CHUNK)) > 0)
		if (tok_feed(&c, &t, chunk, (size_t)n) == -1)
			goto out;
	if (n < 0) {
		fail(&c, "%s", read_error ? read_error(rctx) : "read error");
		goto out;
	}
	if (tok_finish(&c, &t) == 0)
		rc = read_report(&c, t.root, r);
out:
	tok_free(&t);
	free(chunk);
	return rc;
}

static void
strs_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
tlsrpt_report_free(struct tlsrpt_report *r)
{
	struct tlsrpt_policy	*p;
	struct tlsrpt_detail	*d;
	size_t			 i, j;

	for (i = 0; i < r->n_policies; i++) {
		p = &r->policies[i];
		free(p->policy_type);
		strs_free(p->policy_string, p->n_policy_string);
		free(p->policy_domain);
		strs_free(p->mx_host, p->n_mx_host);
		for (j = 0; j < p->n_details; j++) {
			d = &p->details[j];
			free(d->result_type);
			free(d->sending_mta_ip);
			free(d->receiving_mx_hostname);
			free(d->receiving_mx_helo);
			free(d->receiving_ip);
			free(d->additional_information);
			free(d->failure_reason_code);
		}
		free(p->details);
	}
	free(r->policies);
	free(r->organization_name);
	free(r->contact_info);
	free(r->report_id);
	free(r->start_datetime);
	free(r->end_datetime);
	memset(r, 0, sizeof(*r));
}

/* Reads exactly n digits; -1 if any is not a digit. */
static int
digits(const char **sp, int n)
{
	const char	*s = *sp;
	int		 v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	*sp = s;
	return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; no timegm, whose
 * range and time zone handling vary). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
tlsrpt_parse_datetime(const char *s, int64_t *t_r)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	int	 y, mo, d, h, mi, sec, oh, om, sign;
	bool	 leap;

	if ((y = digits(&s, 4)) < 0 || *s++ != '-' ||
	    (mo = digits(&s, 2)) < 0 || *s++ != '-' ||
	    (d = digits(&s, 2)) < 0 || (*s != 'T' && *s != 't' && *s != ' '))
		return -1;
	s++;
	if ((h = digits(&s, 2)) < 0 || *s++ != ':' ||
	    (mi = digits(&s, 2)) < 0 || *s++ != ':' ||
	    (sec = digits(&s, 2)) < 0)
		return -1;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
		oh = om = 0;
		sign = 1;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if ((oh = digits(&s, 2)) < 0 || *s++ != ':' ||
		    (om = digits(&s, 2)) < 0 || oh > 23 || om > 59)
			return -1;
	} else if (*s == '\0') {
		/* No offset (Microsoft sends these): taken as UTC. */
		oh = om = 0;
		sign = 1;
	} else
		return -1;
	if (*s != '\0')
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60)
		return -1;
	*t_r = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    sign * (oh * 3600 + om * 60);
	return 0;
}

/* --- the `parse` JSON line ------------------------------------------- */

static int
kv_str(struct buf *b, const char *k, const char *v, bool first)
{
	return json_key(b, k, first) == -1 || json_str(b, v) == -1 ? -1 : 0;
}

static int
kv_count(struct buf *b, const char *k, int64_t v, bool first)
{
	if (json_key(b, k, first) == -1)
		return -1;
	return v < 0 ? buf_adds(b, "null") : json_int(b, v);
}

static int
kv_strs(struct buf *b, const char *k, char **v, size_t n, bool first)
{
	size_t	i;
	int	rc = 0;

	rc |= json_key(b, k, first);
	rc |= buf_addc(b, '[');
	for (i = 0; i < n; i++) {
		if (i)
			rc |= buf_addc(b, ',');
		rc |= json_str(b, v[i]);
	}
	rc |= buf_addc(b, ']');
	return rc ? -1 : 0;
}

static int
json_detail(struct buf *b, const struct tlsrpt_detail *d)
{
	int	rc = 0;

	rc |= buf_addc(b, '{');
	rc |= kv_str(b, "result-type", d->result_type, true);
	rc |= kv_str(b, "sending-mta-ip", d->sending_mta_ip, false);
	rc |= kv_str(b, "receiving-mx-hostname", d->receiving_mx_hostname,
	    false);
	rc |= kv_str(b, "receiving-mx-helo", d->receiving_mx_helo, false);
	rc |= kv_str(b, "receiving-ip", d->receiving_ip, false);
	rc |= kv_count(b, "failed-session-count", d->failed_session_count,
	    false);
	rc |= kv_str(b, "additional-information", d->additional_information,
	    false);
	rc |= kv_str(b, "failure-reason-code", d->failure_reason_code, false);
	rc |= buf_addc(b, '}');
	return rc ? -1 : 0;
}

int
tlsrpt_json(struct buf *b, const char *source, const struct tlsrpt_report *r)
{
	const struct tlsrpt_policy	*p;
	size_t				 i, j;
	int				 rc = 0;

	rc |= buf_adds(b, "{\"type\":\"tlsrpt\"");
	rc |= kv_str(b, "source", source, false);
	rc |= kv_str(b, "organization-name", r->organization_name, false);
	rc |= json_key(b, "date-range", false);
	rc |= buf_addc(b, '{');
	rc |= kv_str(b, "start-datetime", r->start_datetime, true);
	rc |= kv_str(b, "end-datetime", r->end_datetime, false);
	rc |= json_key(b, "begin", false);
	rc |= json_int(b, r->begin);
	rc |= json_key(b, "end", false);
	rc |= json_int(b, r->end);
	rc |= buf_addc(b, '}');
	rc |= kv_str(b, "contact-info", r->contact_info, false);
	rc |= kv_str(b, "report-id", r->report_id, false);
	rc |= buf_adds(b, ",\"policies\":[");
	for (i = 0; i < r->n_policies && rc == 0; i++) {
		p = &r->policies[i];
		if (i)
			rc |= buf_addc(b, ',');
		rc |= buf_adds(b, "{\"policy\":{");
		rc |= kv_str(b, "policy-type", p->policy_type, true);
		rc |= kv_strs(b, "policy-string", p->policy_string,
		    p->n_policy_string, false);
		rc |= kv_str(b, "policy-domain", p->policy_domain, false);
		rc |= kv_strs(b, "mx-host", p->mx_host, p->n_mx_host, false);
		rc |= buf_adds(b, "},\"summary\":{");
		rc |= kv_count(b, "total-successful-session-count",
		    p->successful, true);
		rc |= kv_count(b, "total-failure-session-count", p->failure,
		    false);
		rc |= buf_adds(b, "},\"failure-details\":[");
		for (j = 0; j < p->n_details && rc == 0; j++) {
			if (j)
				rc |= buf_addc(b, ',');
			rc |= json_detail(b, &p->details[j]);
		}
		rc |= buf_adds(b, "]}");
	}
	rc |= buf_adds(b, "]}\n");
	return rc ? -1 : 0;
}

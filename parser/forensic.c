/*
 * forensic.c - failure reports (RFC 6591 on ARF, RFC 5965).  GMime has
 * already parsed the email; here the multipart/report is found, its
 * message/feedback-report part read as a header block (our own reader:
 * field by field with caps, keeping only the fields we know), and the
 * returned message cut to its headers unless the body is wanted.
 *
 * Privacy: the returned body is dropped by default (keep_body keeps it),
 * DKIM-Canonicalized-Body/Header are never kept, and redact replaces local
 * parts of addresses in the fields that name people.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "forensic.h"

#define ARF_REDACTED	"redacted"	/* stands in for a local part */

struct arf_ctx {
	const struct arf_limits	*lim;
	char			*err;
	size_t			 errlen;
	bool			 failed;
};

void
arf_limits_default(struct arf_limits *l)
{
	l->max_part = 1 << 20;
	l->max_field = 16 * 1024;
	l->max_rcpt = 100;
	l->max_multi = 32;
	l->max_headers = 256 * 1024;
	l->max_body = 1 << 20;
	l->max_depth = 16;
	l->keep_body = false;
	l->redact = false;
}

static int __attribute__((format(printf, 2, 3)))
fail(struct arf_ctx *c, const char *fmt, ...)
{
	va_list	ap;

	if (!c->failed) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
		c->failed = true;
	}
	return -1;
}

static bool
is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Copies text with CRLF turned into LF (and NULs into spaces, so C strings
 * hold all of it). */
static char *
text_norm(const char *p, size_t len, size_t *len_r)
{
	char	*s;
	size_t	 i, n = 0;

	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			continue;
		s[n++] = p[i] == '\0' ? ' ' : p[i];
	}
	s[n] = '\0';
	*len_r = n;
	return s;
}

/* --- the header block reader ------------------------------------------ */

/* One field of a header block: name, and its raw (folded) value. */
struct hdr_field {
	const char	*name, *val;
	size_t		 name_len, val_len;
};

/* Finds the next field at or after *pp in [*pp, end); skips lines that are
 * not fields.  Returns false at the end. */
static bool
hdr_next(const char **pp, const char *end, struct hdr_field *f)
{
	const char	*p = *pp, *eol, *colon, *q;

	while (p < end) {
		eol = memchr(p, '\n', end - p);
		if (eol == NULL)
			eol = end;
		colon = is_wsp(*p) ? NULL : memchr(p, ':', eol - p);
		if (colon == NULL || colon == p) {
			p = eol < end ? eol + 1 : end;
			continue;
		}
		for (q = p; q < colon && *q > ' ' && *q < 127; q++)
			;
		if (q < colon) {
			/* Spaces before the colon: "Name :" or prose. */
			while (q < colon && is_wsp(*q))
				q++;
			if (q < colon) {
				p = eol < end ? eol + 1 : end;
				continue;
			}
		}
		f->name = p;
		for (f->name_len = colon - p; f->name_len > 0 &&
		    is_wsp(p[f->name_len - 1]); f->name_len--)
			;
		f->val = colon + 1;
		/* The value goes on over continuation lines. */
		while (eol < end && eol + 1 < end && is_wsp(eol[1])) {
			eol = memchr(eol + 1, '\n', end - eol - 1);
			if (eol == NULL)
				eol = end;
		}
		f->val_len = eol - f->val;
		*pp = eol < end ? eol + 1 : end;
		return true;
	}
	*pp = end;
	return false;
}

static bool
name_is(const struct hdr_field *f, const char *name)
{
	return strlen(name) == f->name_len &&
	    strncasecmp(f->name, name, f->name_len) == 0;
}

/* The unfolded, trimmed value, or NULL (with the error set) when longer
 * than max_field. */
static char *
field_value(struct arf_ctx *c, const struct hdr_field *f)
{
	const char	*v = f->val;
	size_t		 n = f->val_len, i, o = 0;
	char		*s;

	while (n > 0 && (is_wsp(*v) || *v == '\r' || *v == '\n'))
		v++, n--;
	while (n > 0 && (is_wsp(v[n - 1]) || v[n - 1] == '\r' ||
	    v[n - 1] == '\n'))
		n--;
	if (n > c->lim->max_field * 2) {
		fail(c, "feedback-report field %.*s longer than max_field "
		    "(%zu bytes)", (int)(f->name_len > 64 ? 64 : f->name_len),
		    f->name, c->lim->max_field);
		return NULL;
	}
	if ((s = malloc(n + 1)) == NULL) {
		fail(c, "out of memory");
		return NULL;
	}
	/* Unfolding drops the line breaks; a fold's white space stays. */
	for (i = 0; i < n; i++)
		if (v[i] != '\r' && v[i] != '\n')
			s[o++] = v[i] == '\0' ? ' ' : v[i];
	s[o] = '\0';
	if (o > c->lim->max_field) {
		free(s);
		fail(c, "feedback-report field %.*s longer than max_field "
		    "(%zu bytes)", (int)(f->name_len > 64 ? 64 : f->name_len),
		    f->name, c->lim->max_field);
		return NULL;
	}
	return s;
}

/* Adds a value to a list: kept while under cap, always counted. */
static int
list_add(struct arf_ctx *c, struct arf_list *l, const struct hdr_field *f,
    unsigned cap)
{
	char	**v, *s;

	l->total++;
	if (l->n >= cap)
		return 0;
	if ((s = field_value(c, f)) == NULL)
		return -1;
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		free(s);
		return fail(c, "out of memory");
	}
	l->v = v;
	l->v[l->n++] = s;
	return 0;
}

/* Sets a single-valued field; the first occurrence wins. */
static int
set_once(struct arf_ctx *c, char **dst, const struct hdr_field *f)
{
	if (*dst != NULL)
		return 0;
	return (*dst = field_value(c, f)) == NULL ? -1 : 0;
}

/* Strips one pair of angle brackets: "<a@b>" -> "a@b", "<>" -> "". */
static void
strip_angle(char *s)
{
	size_t	n;

	if (s == NULL || s[0] != '<')
		return;
	n = strlen(s);
	if (n < 2 || s[n - 1] != '>')
		return;
	memmove(s, s + 1, n - 2);
	s[n - 2] = '\0';
}

/* The first word of a value, lower case ("auth-failure (x)" -> ...). */
static void
first_token_lower(char *s)
{
	if (s == NULL)
		return;
	s[strcspn(s, " \t;(")] = '\0';
	str_lower(s);
}

/* --- values ----------------------------------------------------------- */

/* An IP address in its canonical text form, or NULL: accepts brackets,
 * "IPv6:" and a trailing comment ("192.0.2.1 (host.example)"). */
static char *
ip_norm(const char *s)
{
	char		tmp[INET6_ADDRSTRLEN + 8], out[INET6_ADDRSTRLEN];
	struct in_addr	a4;
	struct in6_addr	a6;
	size_t		n;

	while (is_wsp(*s))
		s++;
	if (*s == '[')
		s++;
	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	n = strcspn(s, " \t]();,");
	if (n == 0 || n >= sizeof(tmp))
		return NULL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, &a4) == 1)
		return strdup(inet_ntop(AF_INET, &a4, out, sizeof(out)));
	if (inet_pton(AF_INET6, tmp, &a6) != 1)
		return NULL;
	/* ::ffff:192.0.2.1 is an IPv4 sender seen through a v6 socket. */
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], 4);
		return strdup(inet_ntop(AF_INET, &a4, out, sizeof(out)));
	}
	return strdup(inet_ntop(AF_INET6, &a6, out, sizeof(out)));
}

/* An RFC 5322 date to unix time; false if GMime cannot read it. */
static bool
date_parse(const char *s, int64_t *t_r)
{
	GDateTime	*dt;

	if (s == NULL || (dt = g_mime_utils_header_decode_date(s)) == NULL)
		return false;
	*t_r = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return true;
}

static bool
is_local_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch >= 0x80 ||
	    strchr("!#$%&'*+-/=?^_`{|}~.", ch) != NULL;
}

/* Appends s[0..n) to b with the local part of every address replaced. */
static int
redact_into(struct buf *b, const char *s, size_t n)
{
	size_t	i, start, done = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '@' || i == 0)
			continue;
		start = i;
		if (s[i - 1] == '"') {
			/* A quoted local part: back to its opening quote. */
			for (start = i - 1; start > 0 && s[start - 1] != '"';
			    start--)
				;
			start = start > 0 ? start - 1 : i;
		} else
			while (start > 0 &&
			    is_local_char((unsigned char)s[start - 1]))
				start--;
		if (start == i || start < done)
			continue;
		if (buf_add(b, s + done, start - done) == -1 ||
		    buf_adds(b, ARF_REDACTED) == -1)
			return -1;
		done = i;
	}
	return buf_add(b, s + done, n - done);
}

/* Redacts a value in place (it never needs more than its length plus a
 * few bytes per address, so a fresh string is made). */
static int
redact_str(struct arf_ctx *c, char **sp)
{
	struct buf	b;

	if (*sp == NULL)
		return 0;
	buf_init(&b, strlen(*sp) * 8 + 64);
	if (redact_into(&b, *sp, strlen(*sp)) == -1 ||
	    buf_addc(&b, '\0') == -1) {
		buf_free(&b);
		return fail(c, "out of memory");
	}
	free(*sp);
	*sp = buf_take(&b);
	return 0;
}

/* Header fields of the returned message that name people. */
static bool
field_names_person(const char *name, size_t n)
{
	static const char *const names[] = {
		"From", "To", "Cc", "Bcc", "Reply-To", "Return-Path",
		"Sender", "Resent-From", "Resent-To", "Resent-Cc",
		"Resent-Sender", "Delivered-To", "X-Original-To",
	};
	size_t	i;

	for (i = 0; i < nitems(names); i++)
		if (strlen(names[i]) == n && strncasecmp(name, names[i], n) ==
		    0)
			return true;
	return false;
}

/* The header block s[0..n) with addresses redacted in the fields above;
 * continuation lines belong to their field. */
static int
redact_headers(struct arf_ctx *c, char **sp)
{
	struct buf	 b;
	const char	*s = *sp, *eol, *colon;
	size_t		 n = strlen(*sp), len;
	bool		 in_person = false;

	buf_init(&b, n * 8 + 64);
	while (n > 0) {
		eol = memchr(s, '\n', n);
		len = eol ? (size_t)(eol - s) + 1 : n;
		if (!is_wsp(*s)) {
			colon = memchr(s, ':', len);
			in_person = colon != NULL &&
			    field_names_person(s, colon - s);
		}
		if ((in_person ? redact_into(&b, s, len) :
		    buf_add(&b, s, len)) == -1) {
			buf_free(&b);
			return fail(c, "out of memory");
		}
		s += len;
		n -= len;
	}
	if (buf_addc(&b, '\0') == -1) {
		buf_free(&b);
		return fail(c, "out of memory");
	}
	free(*sp);
	*sp = buf_take(&b);
	return 0;
}

/* --- MIME ------------------------------------------------------------- */

static bool
is_type(GMimeObject *o, const char *type, const char *subtype)
{
	GMimeContentType	*ct = g_mime_object_get_content_type(o);

	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

/* The multipart holding a message/feedback-report part, searched down to
 * max_depth (not into attached messages: those are the returned ones). */
static GMimeMultipart *
find_report(GMimeObject *o, unsigned depth, unsigned max)
{
	GMimeMultipart	*mp, *found;
	int		 i, n;

	if (o == NULL || !GMIME_IS_MULTIPART(o) || depth >= max)
		return NULL;
	mp = GMIME_MULTIPART(o);
	n = g_mime_multipart_get_count(mp);
	for (i = 0; i < n; i++)
		if (is_type(g_mime_multipart_get_part(mp, i), "message",
		    "feedback-report"))
			return mp;
	for (i = 0; i < n; i++)
		if ((found = find_report(g_mime_multipart_get_part(mp, i),
		    depth + 1, max)) != NULL)
			return found;
	return NULL;
}

/*
 * A part's content, decoded, CRLF turned into LF: a leaf's decoded bytes,
 * or an attached message written out whole.  Refused past cap bytes.
 */
static int
part_text(struct arf_ctx *c, GMimeObject *o, size_t cap, const char *what,
    char **out_r, size_t *len_r)
{
	GMimeDataWrapper	*dw;
	GMimeStream		*ms, *st;
	GMimeMessage		*inner;
	GByteArray		*ba;
	gint64			 enc;
	int			 rc = 0;

	*out_r = NULL;
	*len_r = 0;
	ms = g_mime_stream_mem_new();
	if (GMIME_IS_MESSAGE_PART(o)) {
		inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (inner != NULL)
			g_mime_object_write_to_stream(GMIME_OBJECT(inner),
			    NULL, ms);
	} else if (GMIME_IS_PART(o) &&
	    (dw = g_mime_part_get_content(GMIME_PART(o))) != NULL) {
		/* Encoded size first: base64 decodes to 3/4 of it. */
		st = g_mime_data_wrapper_get_stream(dw);
		enc = st ? g_mime_stream_length(st) : 0;
		if (enc > 0 && (uint64_t)enc / 2 > cap)
			rc = fail(c, "%s part larger than %zu bytes", what,
			    cap);
		else
			g_mime_data_wrapper_write_to_stream(dw, ms);
	}
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	if (rc == 0 && ba->len > cap)
		rc = fail(c, "%s part larger than %zu bytes", what, cap);
	if (rc == 0 && (*out_r = text_norm((const char *)ba->data, ba->len,
	    len_r)) == NULL)
		rc = fail(c, "out of memory");
	g_object_unref(ms);
	return rc;
}

/* Reads the message/feedback-report fields. */
static int
read_fields(struct arf_ctx *c, const char *t, size_t len,
    struct arf_report *r)
{
	const struct arf_limits	*lim = c->lim;
	struct hdr_field	 f;
	const char		*p = t, *end = t + len;
	int			 rc = 0;

	while (rc == 0 && hdr_next(&p, end, &f)) {
		if (name_is(&f, "Feedback-Type"))
			rc = set_once(c, &r->feedback_type, &f);
		else if (name_is(&f, "User-Agent"))
			rc = set_once(c, &r->user_agent, &f);
		else if (name_is(&f, "Version"))
			rc = set_once(c, &r->version, &f);
		else if (name_is(&f, "Original-Mail-From"))
			rc = set_once(c, &r->original_mail_from, &f);
		else if (name_is(&f, "Original-Rcpt-To"))
			rc = list_add(c, &r->original_rcpt_to, &f,
			    lim->max_rcpt);
		else if (name_is(&f, "Arrival-Date") ||
		    name_is(&f, "Received-Date"))	/* its old name */
			rc = set_once(c, &r->arrival_date_text, &f);
		else if (name_is(&f, "Source-IP")) {
			char *v = NULL;

			if (r->source_ip == NULL &&
			    (rc = set_once(c, &v, &f)) == 0) {
				r->source_ip = ip_norm(v);
				free(v);
			}
		} else if (name_is(&f, "Reported-Domain"))
			rc = set_once(c, &r->reported_domain, &f);
		else if (name_is(&f, "Authentication-Results"))
			rc = list_add(c, &r->authentication_results, &f,
			    lim->max_multi);
		else if (name_is(&f, "Auth-Failure"))
			rc = list_add(c, &r->auth_failure, &f,
			    lim->max_multi);
		else if (name_is(&f, "DKIM-Domain"))
			rc = set_once(c, &r->dkim_domain, &f);
		else if (name_is(&f, "DKIM-Identity"))
			rc = set_once(c, &r->dkim_identity, &f);
		else if (name_is(&f, "DKIM-Selector"))
			rc = set_once(c, &r->dkim_selector, &f);
		else if (name_is(&f, "Delivery-Result"))
			rc = set_once(c, &r->delivery_result, &f);
		else if (name_is(&f, "Identity-Alignment"))
			rc = set_once(c, &r->identity_alignment, &f);
		else if (name_is(&f, "Reported-URI"))
			rc = list_add(c, &r->reported_uri, &f,
			    lim->max_multi);
		else if (name_is(&f, "Original-Envelope-Id"))
			rc = set_once(c, &r->original_envelope_id, &f);
		else if (name_is(&f, "Reporting-MTA"))
			rc = set_once(c, &r->reporting_mta, &f);
		else if (name_is(&f, "Incidents")) {
			char	*v = NULL;
			int64_t	 n;

			if (r->incidents < 0 &&
			    (rc = set_once(c, &v, &f)) == 0 &&
			    parse_int64(v, 1, INT32_MAX, &n) == 0)
				r->incidents = n;
			free(v);
		}
		/* Anything else (DKIM-Canonicalized-Body too) is dropped. */
	}
	return rc;
}

/* Tidies values and decides whether this is a failure report at all. */
static int
check_fields(struct arf_ctx *c, struct arf_report *r)
{
	size_t	i;

	first_token_lower(r->feedback_type);
	for (i = 0; i < r->auth_failure.n; i++)
		first_token_lower(r->auth_failure.v[i]);
	first_token_lower(r->delivery_result);
	if (r->identity_alignment != NULL)
		str_lower(r->identity_alignment);
	str_domain_norm(r->reported_domain);
	str_domain_norm(r->dkim_domain);
	strip_angle(r->original_mail_from);
	for (i = 0; i < r->original_rcpt_to.n; i++)
		strip_angle(r->original_rcpt_to.v[i]);
	r->has_arrival_date = date_parse(r->arrival_date_text,
	    &r->arrival_date);

	if (r->feedback_type == NULL || r->feedback_type[0] == '\0')
		return fail(c, "not a DMARC failure report: feedback report "
		    "without Feedback-Type");
	if (strcmp(r->feedback_type, "auth-failure") == 0)
		return 0;
	if (strcmp(r->feedback_type, "other") == 0 && r->auth_failure.n > 0)
		return 0;
	return fail(c, "not a DMARC failure report: feedback report of type "
	    "\"%.64s\" (%s)", r->feedback_type,
	    strcmp(r->feedback_type, "abuse") == 0 ? "a spam complaint" :
	    strcmp(r->feedback_type, "fraud") == 0 ? "a fraud report" :
	    strcmp(r->feedback_type, "virus") == 0 ? "a virus report" :
	    strcmp(r->feedback_type, "not-spam") == 0 ? "a not-spam report" :
	    "not an authentication failure");
}

/* Keeps the returned headers (and the body when asked) from t[0..len). */
static int
keep_returned(struct arf_ctx *c, char *t, size_t len, bool has_body,
    struct arf_report *r)
{
	const struct arf_limits	*lim = c->lim;
	char			*sep;
	size_t			 hlen, blen;

	while (len > 0 && *t == '\n')
		t++, len--;
	sep = memmem(t, len, "\n\n", 2);
	hlen = sep ? (size_t)(sep - t) + 1 : len;
	if (hlen > lim->max_headers) {
		/* Cut at a line end: never half a header line. */
		for (hlen = lim->max_headers; hlen > 0 && t[hlen - 1] != '\n';
		    hlen--)
			;
		r->headers_truncated = true;
	}
	if ((r->headers = strndup(t, hlen)) == NULL)
		return fail(c, "out of memory");
	if (lim->keep_body && has_body && sep != NULL) {
		blen = len - (size_t)(sep + 2 - t);
		if (blen > lim->max_body) {
			blen = lim->max_body;
			r->body_truncated = true;
		}
		if ((r->body = strndup(sep + 2, blen)) == NULL)
			return fail(c, "out of memory");
	}
	return 0;
}

/* The returned message in the report: headers and maybe body. */
static int
read_returned(struct arf_ctx *c, GMimeMultipart *mp, struct arf_report *r)
{
	GMimeObject	*o = NULL;
	char		*t;
	size_t		 len;
	bool		 whole;
	int		 i, n, rc;

	n = g_mime_multipart_get_count(mp);
	for (i = 0; i < n; i++) {
		o = g_mime_multipart_get_part(mp, i);
		whole = is_type(o, "message", "rfc822") ||
		    is_type(o, "message", "global") ||
		    is_type(o, "text", "rfc822");
		if (whole || is_type(o, "text", "rfc822-headers") ||
		    is_type(o, "message", "rfc822-headers") ||
		    is_type(o, "message", "global-headers"))
			break;
	}
	if (i == n)
		return 0;	/* RFC 5965 makes it optional */
	/* A returned message may be big; its size is bounded by the
	 * email's own cap, and only max_headers/max_body of it are kept. */
	if (part_text(c, o, (size_t)-1 / 2, "returned message", &t, &len) ==
	    -1)
		return -1;
	rc = keep_returned(c, t, len, whole, r);
	free(t);
	return rc;
}

/* Reads the report email's own From, Date, Message-ID and Subject. */
static int
read_reporter(struct arf_ctx *c, GMimeMessage *m, struct arf_report *r)
{
	InternetAddressList	*from;
	InternetAddress		*ia;
	GDateTime		*dt;
	const char		*s;

	from = g_mime_message_get_from(m);
	if (from != NULL && internet_address_list_length(from) > 0) {
		ia = internet_address_list_get_address(from, 0);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia) &&
		    (s = internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(ia))) != NULL &&
		    (r->report_from = strdup(s)) == NULL)
			return fail(c, "out of memory");
	}
	if ((dt = g_mime_message_get_date(m)) != NULL) {
		r->report_date = g_date_time_to_unix(dt);
		r->has_report_date = true;
	}
	if ((s = g_mime_message_get_message_id(m)) != NULL &&
	    (r->report_message_id = strdup(s)) == NULL)
		return fail(c, "out of memory");
	if ((s = g_mime_message_get_subject(m)) != NULL &&
	    (r->report_subject = strdup(s)) == NULL)
		return fail(c, "out of memory");
	return 0;
}

/* --- Exim's plain-text report ----------------------------------------- */

static bool
mem_has(const char *p, size_t len, const char *needle)
{
	return memmem(p, len, needle, strlen(needle)) != NULL;
}

bool
arf_text_is_report(const void *p, size_t len)
{
	/* The labels are Exim's own (dmarc.c); all must be there. */
	if (p == NULL || len == 0)
		return false;
	return mem_has(p, len > 4096 ? 4096 : len, "failed the published") &&
	    mem_has(p, len, "Sender Domain:") &&
	    mem_has(p, len, "Sender IP Address:") &&
	    mem_has(p, len, "DMARC Results:");
}

/* The value of "  Label: value" if line starts with the label. */
static const char *
label_value(const char *line, const char *label)
{
	size_t	n = strlen(label);

	while (is_wsp(*line))
		line++;
	if (strncasecmp(line, label, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	while (is_wsp(*line))
		line++;
	return line;
}

static int
dup_to(struct arf_ctx *c, char **dst, const char *s)
{
	if (*dst != NULL)
		return 0;
	if (strlen(s) > c->lim->max_field)
		return fail(c, "plain-text report line longer than max_field "
		    "(%zu bytes)", c->lim->max_field);
	if ((*dst = strdup(s)) == NULL)
		return fail(c, "out of memory");
	return 0;
}

/* Reads Exim's template from its text/plain part, t (LF, modifiable). */
static int
read_exim_text(struct arf_ctx *c, char *t, size_t len, struct arf_report *r)
{
	char		*line, *next, *hdrs = NULL, *spf = NULL, *dkim = NULL;
	const char	*v;
	const char	*al;
	int		 rc = 0;

	r->format = ARF_FORMAT_EXIM_TEXT;
	for (line = t; rc == 0 && line != NULL && *line != '\0';
	    line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strstr(line, "copy of the headers") != NULL) {
			hdrs = next;
			break;
		}
		if ((v = label_value(line, "Sender Domain")) != NULL)
			rc = dup_to(c, &r->reported_domain, v);
		else if ((v = label_value(line, "Sender IP Address")) !=
		    NULL) {
			if (r->source_ip == NULL)
				r->source_ip = ip_norm(v);
		} else if ((v = label_value(line, "Received Date")) != NULL)
			rc = dup_to(c, &r->arrival_date_text, v);
		else if ((v = label_value(line, "SPF Alignment")) != NULL)
			rc = dup_to(c, &spf, v);
		else if ((v = label_value(line, "DKIM Alignment")) != NULL)
			rc = dup_to(c, &dkim, v);
	}
	if (rc == 0 && spf != NULL && dkim != NULL) {
		al = strcasecmp(spf, "yes") == 0 ?
		    (strcasecmp(dkim, "yes") == 0 ? "dkim,spf" : "spf") :
		    (strcasecmp(dkim, "yes") == 0 ? "dkim" : "none");
		rc = dup_to(c, &r->identity_alignment, al);
	}
	free(spf);
	free(dkim);
	if (rc == 0)
		rc = dup_to(c, &r->feedback_type, "auth-failure");
	if (rc == 0 && (r->auth_failure.v = calloc(1, sizeof(char *))) ==
	    NULL)
		rc = fail(c, "out of memory");
	if (rc == 0 && (r->auth_failure.v[0] = strdup("dmarc")) == NULL)
		rc = fail(c, "out of memory");
	if (rc == 0)
		r->auth_failure.n = r->auth_failure.total = 1;
	if (rc == 0 && hdrs != NULL)
		rc = keep_returned(c, hdrs, strlen(hdrs), false, r);
	if (rc == 0) {
		str_domain_norm(r->reported_domain);
		r->has_arrival_date = date_parse(r->arrival_date_text,
		    &r->arrival_date);
	}
	(void)len;
	return rc;
}

/* A text/plain part holding Exim's template, searched like find_report. */
static GMimeObject *
find_exim_text(struct arf_ctx *c, GMimeObject *o, unsigned depth)
{
	GMimeObject	*found;
	char		*t;
	size_t		 len;
	bool		 yes;
	int		 i, n;

	if (o == NULL || depth >= c->lim->max_depth)
		return NULL;
	if (GMIME_IS_MULTIPART(o)) {
		n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n; i++)
			if ((found = find_exim_text(c, g_mime_multipart_get_part(
			    GMIME_MULTIPART(o), i), depth + 1)) != NULL)
				return found;
		return NULL;
	}
	if (!GMIME_IS_PART(o) || !is_type(o, "text", "plain"))
		return NULL;
	if (part_text(c, o, c->lim->max_part, "text", &t, &len) == -1) {
		/* Too big to be the template: not an error here. */
		c->failed = false;
		return NULL;
	}
	yes = arf_text_is_report(t, len);
	free(t);
	return yes ? o : NULL;
}

/* --- the report ------------------------------------------------------- */

/* Replaces the local parts of the addresses a parsed report names: an ARF
 * report's envelope sender and recipients and the returned headers; Exim's
 * template carries them only in its headers. */
static int
report_redact(struct arf_ctx *c, struct arf_report *r)
{
	size_t	i;

	if (r->format == ARF_FORMAT_ARF) {
		if (redact_str(c, &r->original_mail_from) == -1)
			return -1;
		for (i = 0; i < r->original_rcpt_to.n; i++)
			if (redact_str(c, &r->original_rcpt_to.v[i]) == -1)
				return -1;
	}
	if (r->headers != NULL && redact_headers(c, &r->headers) == -1)
		return -1;
	r->redacted = true;
	return 0;
}

int
arf_parse_message(void *msg, const struct arf_limits *lim,
    struct arf_report *r, char *err, size_t errlen)
{
	struct arf_ctx	 c;
	GMimeMessage	*m = msg;
	GMimeMultipart	*mp;
	GMimeObject	*o, *fb = NULL;
	char		*t = NULL;
	size_t		 len;
	int		 n, k;

	memset(r, 0, sizeof(*r));
	r->incidents = -1;
	memset(&c, 0, sizeof(c));
	c.lim = lim;
	c.err = err;
	c.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if (m == NULL || !GMIME_IS_MESSAGE(m))
		return fail(&c, "not a failure report: no message");
	if (read_reporter(&c, m, r) == -1)
		return -1;
	o = g_mime_message_get_mime_part(m);
	if ((mp = find_report(o, 0, lim->max_depth)) == NULL) {
		if ((o = find_exim_text(&c, o, 0)) == NULL)
			return fail(&c, "not a failure report: no "
			    "message/feedback-report part and no known "
			    "plain-text report");
		if (part_text(&c, o, lim->max_part, "text", &t, &len) == -1)
			return -1;
		k = read_exim_text(&c, t, len, r);
		free(t);
		if (k == 0 && lim->redact)
			k = report_redact(&c, r);
		return k;
	}
	n = g_mime_multipart_get_count(mp);
	for (k = 0; k < n && fb == NULL; k++)
		if (is_type(g_mime_multipart_get_part(mp, k), "message",
		    "feedback-report"))
			fb = g_mime_multipart_get_part(mp, k);
	if (part_text(&c, fb, lim->max_part, "message/feedback-report", &t,
	    &len) == -1)
		return -1;
	k = read_fields(&c, t, len, r);
	free(t);
	if (k == -1 || check_fields(&c, r) == -1 ||
	    read_returned(&c, mp, r) == -1)
		return -1;
	if (lim->redact)
		return report_redact(&c, r);
	return 0;
}

int
arf_report_redact(struct arf_report *r, char *err, size_t errlen)
{
	struct arf_ctx	c;

	memset(&c, 0, sizeof(c));
	c.err = err;
	c.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	return report_redact(&c, r);
}

static void
list_free(struct arf_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

void
arf_report_free(struct arf_report *r)
{
	free(r->report_from);
	free(r->report_message_id);
	free(r->report_subject);
	free(r->feedback_type);
	free(r->user_agent);
	free(r->version);
	free(r->original_mail_from);
	list_free(&r->original_rcpt_to);
	free(r->arrival_date_text);
	free(r->source_ip);
	free(r->reported_domain);
	list_free(&r->authentication_results);
	list_free(&r->auth_failure);
	free(r->dkim_domain);
	free(r->dkim_identity);
	free(r->dkim_selector);
	free(r->delivery_result);
	free(r->identity_alignment);
	list_free(&r->reported_uri);
	free(r->original_envelope_id);
	free(r->reporting_mta);
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->incidents = -1;
}

/* --- the `parse` JSON line ------------------------------------------- */

static int
kv_str(struct buf *b, const char *k, const char *v)
{
	return json_key(b, k, false) == -1 || json_str(b, v) == -1 ? -1 : 0;
}

static int
kv_list(struct buf *b, const char *k, const struct arf_list *l)
{
	size_t	i;
	int	rc = 0;

	rc |= json_key(b, k, false);
	rc |= buf_addc(b, '[');
	for (i = 0; i < l->n; i++) {
		if (i)
			rc |= buf_addc(b, ',');
		rc |= json_str(b, l->v[i]);
	}
	rc |= buf_addc(b, ']');
	return rc ? -1 : 0;
}

static int
kv_time(struct buf *b, const char *k, bool has, int64_t t)
{
	if (json_key(b, k, false) == -1)
		return -1;
	return has ? json_int(b, t) : buf_adds(b, "null");
}

static int
kv_bool(struct buf *b, const char *k, bool v)
{
	if (json_key(b, k, false) == -1)
		return -1;
	return buf_adds(b, v ? "true" : "false");
}

int
arf_json(struct buf *b, const char *source, const struct arf_report *r)
{
	int	rc = 0;

	rc |= buf_adds(b, "{\"type\":\"forensic\"");
	rc |= kv_str(b, "source", source);
	rc |= kv_str(b, "format", r->format == ARF_FORMAT_ARF ? "arf" :
	    "exim-text");
	rc |= kv_str(b, "report_from", r->report_from);
	rc |= kv_time(b, "report_date", r->has_report_date, r->report_date);
	rc |= kv_str(b, "report_message_id", r->report_message_id);
	rc |= kv_str(b, "report_subject", r->report_subject);
	rc |= kv_str(b, "feedback_type", r->feedback_type);
	rc |= kv_str(b, "user_agent", r->user_agent);
	rc |= kv_str(b, "version", r->version);
	rc |= kv_str(b, "original_mail_from", r->original_mail_from);
	rc |= kv_list(b, "original_rcpt_to", &r->original_rcpt_to);
	rc |= json_key(b, "original_rcpt_to_total", false);
	rc |= json_uint(b, r->original_rcpt_to.total);
	rc |= kv_time(b, "arrival_date", r->has_arrival_date,
	    r->arrival_date);
	rc |= kv_str(b, "arrival_date_text", r->arrival_date_text);
	rc |= kv_str(b, "source_ip", r->source_ip);
	rc |= kv_str(b, "reported_domain", r->reported_domain);
	rc |= kv_list(b, "authentication_results",
	    &r->authentication_results);
	rc |= kv_list(b, "auth_failure", &r->auth_failure);
	rc |= kv_str(b, "dkim_domain", r->dkim_domain);
	rc |= kv_str(b, "dkim_identity", r->dkim_identity);
	rc |= kv_str(b, "dkim_selector", r->dkim_selector);
	rc |= kv_str(b, "delivery_result", r->delivery_result);
	rc |= kv_str(b, "identity_alignment", r->identity_alignment);
	rc |= kv_list(b, "reported_uri", &r->reported_uri);
	rc |= kv_str(b, "original_envelope_id", r->original_envelope_id);
	rc |= kv_str(b, "reporting_mta", r->reporting_mta);
	rc |= kv_time(b, "incidents", r->incidents >= 0, r->incidents);
	rc |= kv_str(b, "headers", r->headers);
	rc |= kv_bool(b, "headers_truncated", r->headers_truncated);
	rc |= kv_str(b, "body", r->body);
	rc |= kv_bool(b, "body_truncated", r->body_truncated);
	rc |= kv_bool(b, "redacted", r->redacted);
	rc |= buf_adds(b, "}\n");
	return rc ? -1 : 0;
}

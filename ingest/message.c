/*
 * message.c - one message, unpacked, each report classified and parsed
 * once, handed to a sink (message.h).  The sink stores or prints; this
 * file only decides what each item is and whether it gave a report.
 *
 * May touch: ingest/unpack.c, parser/ (aggregate, forensic, tlsrpt), lib/.
 * Report bytes are not copied here: they stream from the unpacker through
 * the parser, and past the sink's bytes callback when it has one.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "message.h"

#define MESSAGE_HEADER_SCAN	(64 * 1024)	/* bytes searched for Message-ID */
#define MESSAGE_IDENTITY_CAP	(16 << 20)	/* a failure report's JSON */

struct message_run {
	const struct message_limits	*lim;
	const struct message_sink	*sink;
	void				*ctx;
	unsigned			 taken, refused;
	bool				 stopped;
	char				 err[512];
};

/* The unpacker's stream, shown to the sink's bytes callback on the way. */
struct message_tee {
	struct unpack_item		*item;
	const struct message_sink	*sink;
	void				*ctx;
};

void
message_limits_default(struct message_limits *l)
{
	unpack_limits_default(&l->unpack);
	agg_limits_default(&l->agg);
	arf_limits_default(&l->arf);
	tlsrpt_limits_default(&l->tls);
	l->max_document = 0;
}

static ssize_t
tee_read(void *rctx, void *buf, size_t len)
{
	struct message_tee	*t = rctx;
	ssize_t			 n;

	n = unpack_item_read(t->item, buf, len);
	if (n > 0)
		t->sink->bytes(t->ctx, buf, (size_t)n);
	return n;
}

static const char *
tee_error(void *rctx)
{
	struct message_tee	*t = rctx;

	return unpack_item_error(t->item);
}

/* The item gave no report: told to the sink once. */
static void
refuse(struct message_run *m, const char *item, const char *reason)
{
	m->refused++;
	m->sink->not_report(m->ctx, item, reason);
}

/* What a sink callback returned for item: counted, a refusal passed on,
 * a stop remembered (unpack then stops with it). */
static int
settle(struct message_run *m, const char *item, int rc, const char *err,
    const char **error_r)
{
	switch (rc) {
	case 0:
		m->taken++;
		return 0;
	case MESSAGE_REFUSED:
		refuse(m, item, err);
		return 0;
	default:
		if (err != m->err)
			snprintf(m->err, sizeof(m->err), "%s", err);
		m->stopped = true;
		*error_r = m->err;
		return -1;
	}
}

static int
run_aggregate(struct message_run *m, struct unpack_item *item,
    const char *name, const char **error_r)
{
	struct message_tee	 t = { item, m->sink, m->ctx };
	char			 perr[512], drain[8192];
	int			 rc;

	if (m->sink->bytes != NULL) {
		rc = agg_parse(tee_read, tee_error, &t, &m->lim->agg,
		    m->sink->agg, m->ctx, perr, sizeof(perr));
		/* the sink hashes the whole document, trailing bytes too */
		if (rc == 0)
			while (tee_read(&t, drain, sizeof(drain)) > 0)
				;
	} else
		rc = agg_parse(unpack_item_read, unpack_item_error, item,
		    &m->lim->agg, m->sink->agg, m->ctx, perr, sizeof(perr));
	rc = m->sink->aggregate(m->ctx, rc == 0 ? NULL : perr, m->err,
	    sizeof(m->err));
	return settle(m, name, rc, m->err, error_r);
}

static int
run_tlsrpt(struct message_run *m, struct unpack_item *item,
    const char *name, const char **error_r)
{
	struct message_tee	 t = { item, m->sink, m->ctx };
	struct tlsrpt_report	 r;
	char			 perr[512];
	int			 rc;

	if (m->sink->bytes != NULL)
		rc = tlsrpt_parse(tee_read, tee_error, &t, &m->lim->tls, &r,
		    perr, sizeof(perr));
	else
		rc = tlsrpt_parse(unpack_item_read, unpack_item_error, item,
		    &m->lim->tls, &r, perr, sizeof(perr));
	if (rc == -1) {
		tlsrpt_report_free(&r);
		refuse(m, name, perr);
		return 0;
	}
	rc = m->sink->tlsrpt(m->ctx, &r, m->err, sizeof(m->err));
	tlsrpt_report_free(&r);
	return settle(m, name, rc, m->err, error_r);
}

/* The dedup identity of a failure report read with keep_body and redact
 * off: that is r without its body, as r is not redacted yet. */
static int
failure_identity(struct arf_report *r, struct buf *b)
{
	char	*body = r->body;
	bool	 truncated = r->body_truncated;
	int	 rc;

	r->body = NULL;
	r->body_truncated = false;
	rc = arf_json(b, NULL, r);
	r->body = body;
	r->body_truncated = truncated;
	return rc;
}

/* A failure report, parsed once: its identity, then the privacy settings,
 * then the sink. */
static int
run_failure(struct message_run *m, struct unpack_item *item,
    const char *name, const char **error_r)
{
	struct arf_limits	 lim = m->lim->arf;
	struct arf_report	 r;
	struct buf		 id;
	char			 perr[512];
	int			 rc;

	lim.redact = false;
	buf_init(&id, MESSAGE_IDENTITY_CAP);
	if (arf_parse_message(unpack_item_message(item), &lim, &r, perr,
	    sizeof(perr)) == -1)
		rc = -1;
	else if (m->sink->want_identity && failure_identity(&r, &id) == -1) {
		snprintf(perr, sizeof(perr), "failure report too large");
		rc = -1;
	} else if (m->lim->arf.redact)
		rc = arf_report_redact(&r, perr, sizeof(perr));
	else
		rc = 0;
	if (rc == -1) {
		arf_report_free(&r);
		buf_free(&id);
		refuse(m, name, perr);
		return 0;
	}
	rc = m->sink->failure(m->ctx, &r, &id, m->err, sizeof(m->err));
	arf_report_free(&r);
	buf_free(&id);
	return settle(m, name, rc, m->err, error_r);
}

/* One candidate report out of the unpacker. */
static int
on_item(void *ctx, struct unpack_item *item, const char **error_r)
{
	struct message_run	*m = ctx;
	const char		*name = unpack_item_name(item);
	enum message_kind	 kind;
	int			 rc;

	switch (unpack_item_kind(item)) {
	case UNPACK_FORENSIC:
		kind = MESSAGE_FAILURE;
		break;
	case UNPACK_TLSRPT:
		kind = MESSAGE_TLSRPT;
		break;
	default:
		kind = MESSAGE_AGGREGATE;
		break;
	}
	if ((rc = m->sink->begin(m->ctx, name, kind, m->err,
	    sizeof(m->err))) != 0)
		return settle(m, name, rc, m->err, error_r);
	switch (kind) {
	case MESSAGE_FAILURE:
		return run_failure(m, item, name, error_r);
	case MESSAGE_TLSRPT:
		return run_tlsrpt(m, item, name, error_r);
	default:
		return run_aggregate(m, item, name, error_r);
	}
}

/* After unpacking (n items, or -1 with uerr): the message as a whole
 * gave no report, or the sink stopped it. */
static int
run_end(struct message_run *m, int n, const char *uerr, char *err,
    size_t errlen)
{
	if (m->stopped) {
		snprintf(err, errlen, "%s", m->err);
		return MESSAGE_STOP;
	}
	if (n <= 0)
		refuse(m, NULL, *uerr ? uerr : "no report found");
	else if (m->taken + m->refused == 0)
		refuse(m, NULL, "no report found");
	return 0;
}

static void
run_init(struct message_run *m, const struct message_limits *lim,
    const struct message_sink *sink, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->lim = lim;
	m->sink = sink;
	m->ctx = ctx;
}

int
message_run(const void *data, size_t len, const char *source,
    const struct message_limits *lim, const struct message_sink *sink,
    void *ctx, char *err, size_t errlen)
{
	struct message_run	 m;
	char			 uerr[512] = "";
	int			 n;

	run_init(&m, lim, sink, ctx);
	n = unpack_bytes(data, len, source, &lim->unpack, on_item, &m, uerr,
	    sizeof(uerr));
	return run_end(&m, n, uerr, err, errlen);
}

int
message_run_fd(int fd, const char *source, const struct message_limits *lim,
    const struct message_sink *sink, void *ctx, char *err, size_t errlen)
{
	struct message_run	 m;
	char			 uerr[512] = "";
	int			 n;

	run_init(&m, lim, sink, ctx);
	n = unpack_fd(fd, source, &lim->unpack, on_item, &m, uerr,
	    sizeof(uerr));
	return run_end(&m, n, uerr, err, errlen);
}

void
message_header_id(const void *data, size_t len, char *out, size_t outlen)
{
	const char	*p = data, *end, *eol, *v;
	size_t		 n;

	*out = '\0';
	end = p + (len < MESSAGE_HEADER_SCAN ? len : MESSAGE_HEADER_SCAN);
	while (p < end) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end;
		if (eol == p || (eol == p + 1 && *p == '\r'))
			return;		/* end of the header */
		if (eol - p > 11 && strncasecmp(p, "Message-ID:", 11) == 0) {
			for (v = p + 11; v < eol && isspace((unsigned char)*v);
			    v++)
				;
			n = eol - v;
			while (n > 0 && isspace((unsigned char)v[n - 1]))
				n--;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
		p = eol + 1;
	}
}

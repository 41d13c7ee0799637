/*
 * sink.c - the database sink of ingest/message.c: each report of a message
 * into the batch's open transaction (aggregate reports through store.c, a
 * SAVEPOINT each; failure and TLS reports through forensic.c and
 * tlsrpt.c, likewise); whatever gave no report is a reason to quarantine
 * the whole message with, in the same transaction.  The durability rule
 * (release the input only after COMMIT) is the caller's, through
 * db_batch_commit().
 *
 * May touch: store.c, forensic.c, tlsrpt.c, quarantine.c, document.c,
 * sha256.c, the sink interface of ingest/message_sink.h and the report
 * types of parser/report.h (no unpacker, no parser: reports come parsed).
 */
#include "config.h"

#include <string.h>

#include "db.h"
#include "message_sink.h"

#define SINK_REASONS_CAP	4096	/* bytes of joined reasons */

/* The current item's hash and document, when it is abandoned. */
static void
sink_discard(struct db_sink *s)
{
	unsigned char	dummy[32];

	if (s->h != NULL)
		db_sha256_finish(&s->h, dummy);
	db_document_free(&s->doc);
	s->in_aggregate = false;
}

static void
sink_not_report(void *ctx, const char *item, const char *reason)
{
	struct db_sink	*s = ctx;
	struct buf	*b = &s->reasons;

	sink_discard(s);
	s->failed++;
	if (b->len > 0 && buf_adds(b, "; ") == -1)
		return;
	if (item != NULL && *item != '\0')
		buf_printf(b, "%s: ", item);
	buf_adds(b, reason);
}

/* The database failed: the message stops with status. */
static int
sink_stop(struct db_sink *s, int status)
{
	s->status = status == DB_ETEMP ? DB_ETEMP : DB_EPERM;
	return MESSAGE_STOP;
}

static int
sink_begin(void *ctx, const char *item, enum message_kind kind, char *err,
    size_t errlen)
{
	struct db_sink	*s = ctx;
	int		 rc;

	sink_discard(s);
	s->st.item = item;
	switch (kind) {
	case MESSAGE_AGGREGATE:
		if ((rc = db_store_item_begin(&s->st, err, errlen)) != 0)
			return sink_stop(s, rc);
		s->h = db_sha256_new();
		s->doc = db_document_new(s->max_document);
		s->in_aggregate = true;
		break;
	case MESSAGE_TLSRPT:
		s->h = db_sha256_new();
		break;
	case MESSAGE_FAILURE:
		break;
	}
	return 0;
}

/* report.sha256 / tlsrpt.sha256, and report_document. */
static void
sink_bytes(void *ctx, const void *p, size_t n)
{
	struct db_sink	*s = ctx;

	if (s->h != NULL)
		db_sha256_update(s->h, p, n);
	if (s->in_aggregate)
		db_document_add(s->doc, p, n);
}

static int
sink_aggregate(void *ctx, const char *perr, char *err, size_t errlen)
{
	struct db_sink	*s = ctx;
	struct db_store	*st = &s->st;
	char		 serr[512];
	int		 rc;

	db_sha256_finish(&s->h, st->sha256);
	s->in_aggregate = false;
	if (st->status == DB_ETEMP) {
		db_document_free(&s->doc);
		snprintf(err, errlen, "%s", st->err);
		return sink_stop(s, DB_ETEMP);
	}
	st->doc = s->doc;	/* queued with the report by item_end */
	rc = db_store_item_end(st, perr == NULL || st->duplicate, serr,
	    sizeof(serr));
	st->doc = NULL;
	db_document_free(&s->doc);
	st->item = NULL;
	if (rc == DB_ETEMP) {
		snprintf(err, errlen, "%s", serr);
		return sink_stop(s, DB_ETEMP);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s", perr == NULL ? serr : perr);
		return MESSAGE_REFUSED;
	}
	return 0;
}

static void
sink_origin(struct db_sink *s, struct db_report_origin *o)
{
	o->source = s->st.source;
	o->item = s->st.item;
	o->message_id = s->st.message_id;
}

/* What forensic.c or tlsrpt.c made of a report: counted, refused (the
 * reason in err), or the message stopped. */
static int
sink_other(struct db_sink *s, int rc, bool dup, unsigned *n, unsigned *dups)
{
	s->st.item = NULL;
	if (rc == DB_ETEMP)
		return sink_stop(s, DB_ETEMP);
	if (rc != 0)
		return MESSAGE_REFUSED;
	(*(dup ? dups : n))++;
	return 0;
}

static int
sink_tlsrpt(void *ctx, const struct tlsrpt_report *r, char *err,
    size_t errlen)
{
	struct db_sink		*s = ctx;
	struct db_report_origin	 o;
	unsigned char		 sha[32];
	bool			 dup = false;
	int			 rc;

	db_sha256_finish(&s->h, sha);
	sink_origin(s, &o);
	rc = db_store_tlsrpt(s->st.db, r, sha, &o, &dup, err, errlen);
	return sink_other(s, rc, dup, &s->tls, &s->tls_dups);
}

static int
sink_failure(void *ctx, const struct arf_report *r,
    const struct buf *identity, char *err, size_t errlen)
{
	struct db_sink		*s = ctx;
	struct db_report_origin	 o;
	struct db_sha256	*h;
	unsigned char		 sha[32];
	bool			 dup = false;
	int			 rc;

	h = db_sha256_new();
	db_sha256_update(h, identity->data, identity->len);
	db_sha256_finish(&h, sha);
	sink_origin(s, &o);
	rc = db_store_forensic(s->st.db, r, sha, &o, &dup, err, errlen);
	return sink_other(s, rc, dup, &s->arf, &s->arf_dups);
}

const struct message_sink db_message_sink = {
	.begin = sink_begin,
	.bytes = sink_bytes,
	.agg = &db_store_handler,	/* ctx: the struct db_store first in
					 * struct db_sink */
	.aggregate = sink_aggregate,
	.tlsrpt = sink_tlsrpt,
	.failure = sink_failure,
	.not_report = sink_not_report,
	.want_identity = true,
};

void
db_sink_init(struct db_sink *s, struct db_batch *b, const char *source,
    const char *message_id, uint64_t max_document)
{
	memset(s, 0, sizeof(*s));
	db_store_init(&s->st, b);
	s->st.source = source;
	s->st.message_id = message_id;
	buf_init(&s->reasons, SINK_REASONS_CAP);
	s->max_document = max_document;
}

void
db_sink_deinit(struct db_sink *s)
{
	sink_discard(s);
	db_store_deinit(&s->st);
	buf_free(&s->reasons);
}

int
db_sink_finish(struct db_sink *s, int rc, const void *data, size_t len,
    bool quarantine, struct db_message_result *res, char *err,
    size_t errlen)
{
	struct db_store	*st = &s->st;

	memset(res, 0, sizeof(*res));
	if (rc != 0)
		return s->status != 0 ? s->status : DB_ETEMP;
	res->reports = st->reports;
	res->duplicates = st->duplicates;
	res->records = st->records;
	res->forensic = s->arf;
	res->forensic_duplicates = s->arf_dups;
	res->tlsrpt = s->tls;
	res->tlsrpt_duplicates = s->tls_dups;
	if (s->failed > 0 || res->reports + res->duplicates + s->arf +
	    s->arf_dups + s->tls + s->tls_dups == 0) {
		if (s->reasons.len == 0)
			sink_not_report(s, NULL, "no report found");
		snprintf(res->reason, sizeof(res->reason), "%s",
		    s->reasons.data);
		res->quarantined = true;
		if (quarantine)
			return db_quarantine_put(st->db, data, len, st->source,
			    s->reasons.data, err, errlen);
	}
	return 0;
}

/*
 * message.c - one input message, end to end: unpack it, parse each report
 * into the store (a SAVEPOINT each), quarantine the whole message with the
 * reasons when any part of it gave no report, all in one transaction.
 * Ingest, quarantine retry and LMTP share this path, so the durability rule
 * (release the input only after COMMIT) is kept in one place.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "db.h"

#define MESSAGE_RETRIES		3	/* deadlock / serialization retries */
#define MESSAGE_REASONS_CAP	4096	/* bytes of joined reasons */
#define MESSAGE_HEADER_SCAN	(64 * 1024)	/* bytes searched for Message-ID */

struct message_ctx {
	struct db_store			 st;
	const struct db_ingest_limits	*lim;
	struct buf			 reasons;
	unsigned			 failed;
	unsigned			 arf, arf_dups, tls, tls_dups;
	int				 status;
	char				 err[512];
};

/* The unpacker's stream, hashed on the way through (report.sha256) and
 * kept (report_document). */
struct hash_reader {
	struct unpack_item	*item;
	struct db_sha256	*h;
	struct db_document	*doc;
};

static ssize_t
hash_read(void *rctx, void *buf, size_t len)
{
	struct hash_reader	*hr = rctx;
	ssize_t			 n;

	n = unpack_item_read(hr->item, buf, len);
	if (n > 0) {
		db_sha256_update(hr->h, buf, (size_t)n);
		db_document_add(hr->doc, buf, (size_t)n);
	}
	return n;
}

static const char *
hash_error(void *rctx)
{
	struct hash_reader	*hr = rctx;

	return unpack_item_error(hr->item);
}

static void
add_reason(struct message_ctx *mc, const char *name, const char *reason)
{
	struct buf	*b = &mc->reasons;

	mc->failed++;
	if (b->len > 0 && buf_adds(b, "; ") == -1)
		return;
	if (name != NULL && *name != '\0')
		buf_printf(b, "%s: ", name);
	buf_adds(b, reason);
}

/* A failure report or a TLS report: db/forensic.c, db/tlsrpt.c store it
 * in a SAVEPOINT of their own; what they refuse is a reason to quarantine
 * the message (e.g. "not a DMARC failure report: ..."). */
static int
on_other_item(struct message_ctx *mc, struct unpack_item *item,
    const char **error_r)
{
	struct db_report_origin	 o;
	bool			 dup = false, tls;
	char			 serr[512];
	int			 rc;

	o.source = mc->st.source;
	o.item = unpack_item_name(item);
	o.message_id = mc->st.message_id;
	tls = unpack_item_kind(item) == UNPACK_TLSRPT;
	if (tls)
		rc = db_store_tlsrpt(mc->st.db, unpack_item_read,
		    unpack_item_error, item, &mc->lim->tls, &o, &dup, serr,
		    sizeof(serr));
	else
		rc = db_store_forensic(mc->st.db, unpack_item_message(item),
		    &mc->lim->arf, &o, &dup, serr, sizeof(serr));
	if (rc == DB_ETEMP) {
		snprintf(mc->err, sizeof(mc->err), "%s", serr);
		mc->status = DB_ETEMP;
		*error_r = mc->err;
		return -1;
	}
	if (rc != 0)
		add_reason(mc, o.item, serr);
	else if (tls)
		(*(dup ? &mc->tls_dups : &mc->tls))++;
	else
		(*(dup ? &mc->arf_dups : &mc->arf))++;
	return 0;
}

static int
on_item(void *ctx, struct unpack_item *item, const char **error_r)
{
	struct message_ctx	*mc = ctx;
	struct db_store		*st = &mc->st;
	struct hash_reader	 hr;
	char			 perr[512], serr[512], drain[8192];
	int			 rc, rc2;

	switch (unpack_item_kind(item)) {
	case UNPACK_AGGREGATE:
		break;
	case UNPACK_FORENSIC:
	case UNPACK_TLSRPT:
		return on_other_item(mc, item, error_r);
	default:
		break;
	}
	if ((rc = db_store_item_begin(st, mc->err, sizeof(mc->err))) != 0) {
		mc->status = rc == DB_ETEMP ? DB_ETEMP : DB_EPERM;
		*error_r = mc->err;
		return -1;
	}
	st->item = unpack_item_name(item);
	hr.item = item;
	hr.h = db_sha256_new();
	hr.doc = db_document_new(mc->lim->max_document);
	rc = agg_parse(hash_read, hash_error, &hr, &mc->lim->agg,
	    &db_store_handler, st, perr, sizeof(perr));
	if (rc == 0)
		while (hash_read(&hr, drain, sizeof(drain)) > 0)
			;
	db_sha256_finish(&hr.h, st->sha256);
	if (st->status == DB_ETEMP) {
		db_document_free(&hr.doc);
		snprintf(mc->err, sizeof(mc->err), "%s", st->err);
		mc->status = DB_ETEMP;
		*error_r = mc->err;
		return -1;
	}
	st->doc = hr.doc;	/* queued with the report by item_end */
	rc2 = db_store_item_end(st, rc == 0 || st->duplicate, serr,
	    sizeof(serr));
	st->doc = NULL;
	db_document_free(&hr.doc);
	if (rc2 == DB_ETEMP) {
		snprintf(mc->err, sizeof(mc->err), "%s", serr);
		mc->status = DB_ETEMP;
		*error_r = mc->err;
		return -1;
	}
	if (rc2 != 0)
		add_reason(mc, st->item, rc == 0 ? serr : perr);
	st->item = NULL;
	return 0;
}

/* The Message-ID of an email, if data starts with a header. */
static void
message_id(const char *data, size_t len, char *out, size_t outlen)
{
	const char	*p = data, *end, *eol, *v;
	size_t		 n;

	*out = '\0';
	end = data + (len < MESSAGE_HEADER_SCAN ? len : MESSAGE_HEADER_SCAN);
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

int
db_ingest_message_tx(struct db *db, const struct db_ingest_limits *lim,
    const void *data, size_t len, const char *source, bool quarantine,
    struct db_message_result *res, char *err, size_t errlen)
{
	struct message_ctx	 mc;
	char			 uerr[512], msgid[256];
	int			 n, rc = 0;

	memset(res, 0, sizeof(*res));
	memset(&mc, 0, sizeof(mc));
	if (!db->in_batch)
		db_store_forget(db, false);
	db_store_init(&mc.st, db);
	buf_init(&mc.reasons, MESSAGE_REASONS_CAP);
	mc.lim = lim;
	mc.st.source = source;
	message_id(data, len, msgid, sizeof(msgid));
	mc.st.message_id = *msgid ? msgid : NULL;

	n = unpack_bytes(data, len, source, &lim->unpack, on_item, &mc, uerr,
	    sizeof(uerr));
	if (mc.status != 0) {
		snprintf(err, errlen, "%s", mc.err);
		rc = mc.status;
		goto out;
	}
	if (n <= 0)
		add_reason(&mc, NULL, *uerr ? uerr : "no report found");
	res->reports = mc.st.reports;
	res->duplicates = mc.st.duplicates;
	res->records = mc.st.records;
	res->forensic = mc.arf;
	res->forensic_duplicates = mc.arf_dups;
	res->tlsrpt = mc.tls;
	res->tlsrpt_duplicates = mc.tls_dups;
	if (mc.failed > 0 || res->reports + res->duplicates + mc.arf +
	    mc.arf_dups + mc.tls + mc.tls_dups == 0) {
		if (mc.reasons.len == 0)
			add_reason(&mc, NULL, "no report found");
		snprintf(res->reason, sizeof(res->reason), "%s",
		    mc.reasons.data);
		res->quarantined = true;
		if (quarantine)
			rc = db_quarantine_put(db, data, len, source,
			    mc.reasons.data, err, errlen);
	}
	/* Alone in its transaction: its rollups now, before the caller's
	 * COMMIT.  In a batch they wait for db_batch_commit(). */
	if (rc == 0 && !db->in_batch)
		rc = db_store_flush(db, err, errlen);
out:
	db_store_deinit(&mc.st);
	buf_free(&mc.reasons);
	return rc;
}

/* --- group commit ------------------------------------------------------ */

/* A quarantine row for input whose bytes are not kept (larger than the
 * cap).  Its key is a hash of where it is and how big, not of bytes we do
 * not have, so two such inputs do not share a row. */
#define QUARANTINE_UNKEPT \
	"INSERT INTO quarantine (sha256, bytes, size, reason, source)" \
	" VALUES ($1, ''::bytea, $2::bigint, $3, $4)" \
	" ON CONFLICT (domain, sha256) DO UPDATE SET" \
	" times_seen = quarantine.times_seen + 1, last_seen = now()," \
	" reason = excluded.reason"

/* Undoes what the current message did, keeping the batch. */
static int
batch_undo(struct db *db, char *err, size_t errlen)
{
	PGresult	*res;

	if (db->in_copy) {
		db->in_copy = false;
		PQputCopyEnd(db->conn, "message abandoned");
		while ((res = PQgetResult(db->conn)) != NULL)
			PQclear(res);
	}
	return db_exec(db, "ROLLBACK TO SAVEPOINT message; "
	    "RELEASE SAVEPOINT message", err, errlen) == 0 ? 0 : DB_ETEMP;
}

/* What ended the message's SAVEPOINT with rc: DB_ERETRY for a deadlock
 * (rolled back alone), DB_ETEMP when the batch is lost. */
static int
batch_failed(struct db *db, int rc, char *err, size_t errlen)
{
	char	uerr[256];

	(void)err;	/* the message's error is already there */
	(void)errlen;

	if (rc == DB_ETEMP && (!db->retryable ||
	    PQstatus(db->conn) != CONNECTION_OK))
		return DB_ETEMP;
	if (batch_undo(db, uerr, sizeof(uerr)) != 0)
		return DB_ETEMP;
	return rc == DB_ETEMP ? DB_ERETRY : rc;
}

int
db_batch_begin(struct db *db, char *err, size_t errlen)
{
	db->retryable = false;
	db_store_forget(db, false);
	db->in_batch = true;
	return db_exec(db, "BEGIN", err, errlen);
}

int
db_batch_commit(struct db *db, char *err, size_t errlen)
{
	int	rc;

	/* The batch's rollups, from the rows that survived its SAVEPOINTs. */
	db->in_batch = false;
	if (db_store_flush(db, err, errlen) != 0) {
		db_rollback(db);
		return DB_ETEMP;	/* nothing committed: the inputs stay */
	}
	if ((rc = db_exec(db, "COMMIT", err, errlen)) != 0 ||
	    PQstatus(db->conn) != CONNECTION_OK)
		return DB_ETEMP;	/* in doubt: the inputs stay */
	return 0;
}

void
db_batch_rollback(struct db *db)
{
	db->in_batch = false;
	db_store_forget(db, false);
	if (db->in_copy) {
		db->in_copy = false;
		PQputCopyEnd(db->conn, "batch abandoned");
	}
	db_rollback(db);
}

int
db_batch_message(struct db *db, const struct db_ingest_limits *lim,
    const void *data, size_t len, const char *source,
    struct db_message_result *res, char *err, size_t errlen)
{
	char	serr[512];
	int	rc;

	db->retryable = false;
	if ((rc = db_exec(db, "SAVEPOINT message", err, errlen)) != 0)
		return DB_ETEMP;
	rc = db_ingest_message_tx(db, lim, data, len, source, true, res,
	    err, errlen);
	if (rc == 0)
		return db_exec(db, "RELEASE SAVEPOINT message", err,
		    errlen) == 0 ? 0 : DB_ETEMP;
	if ((rc = batch_failed(db, rc, err, errlen)) != DB_EPERM)
		return rc;
	/* Storing it failed for good (a constraint, bad text): keep the
	 * bytes with that reason, as for any other non-report. */
	memset(res, 0, sizeof(*res));
	snprintf(res->reason, sizeof(res->reason), "not stored: %s", err);
	res->quarantined = true;
	if (db_exec(db, "SAVEPOINT message", serr, sizeof(serr)) != 0)
		return DB_ETEMP;
	rc = db_quarantine_put(db, data, len, source, res->reason, err,
	    errlen);
	if (rc == 0)
		return db_exec(db, "RELEASE SAVEPOINT message", err,
		    errlen) == 0 ? 0 : DB_ETEMP;
	return batch_failed(db, rc, serr, sizeof(serr));
}

int
db_batch_unkept(struct db *db, uint64_t size, const char *source,
    const char *reason, char *err, size_t errlen)
{
	struct db_sha256	*h;
	unsigned char		 digest[32];
	const char		*v[4];
	int			 lens[4] = { 32, 0, 0, 0 };
	int			 fmts[4] = { 1, 0, 0, 0 };
	char			 sz[24], uerr[256];
	PGresult		*pres;
	int			 rc = 0;

	snprintf(sz, sizeof(sz), "%" PRIu64, size);
	h = db_sha256_new();
	db_sha256_update(h, "dmarcd: bytes not kept", 23);
	db_sha256_update(h, source, strlen(source) + 1);
	db_sha256_update(h, sz, strlen(sz));
	db_sha256_finish(&h, digest);
	v[0] = (const char *)digest;
	v[1] = sz;
	v[2] = reason;
	v[3] = source;
	db->retryable = false;
	if (db_exec(db, "SAVEPOINT message", err, errlen) != 0)
		return DB_ETEMP;
	pres = PQexecParams(db->conn, QUARANTINE_UNKEPT, 4, NULL, v, lens,
	    fmts, 0);
	if (PQresultStatus(pres) != PGRES_COMMAND_OK)
		rc = db_result_error(db, pres, "quarantine", err, errlen);
	PQclear(pres);
	if (rc == 0)
		return db_exec(db, "RELEASE SAVEPOINT message", err,
		    errlen) == 0 ? 0 : DB_ETEMP;
	return batch_failed(db, rc, uerr, sizeof(uerr));
}

int
db_ingest_message(struct db *db, const struct db_ingest_limits *lim,
    const void *data, size_t len, const char *source,
    struct db_message_result *res, char *err, size_t errlen)
{
	int	attempt, rc = DB_ETEMP;

	for (attempt = 0; attempt < MESSAGE_RETRIES; attempt++) {
		db->retryable = false;
		if ((rc = db_exec(db, "BEGIN", err, errlen)) != 0)
			return rc;
		rc = db_ingest_message_tx(db, lim, data, len, source, true, res,
		    err, errlen);
		if (rc == 0)
			rc = db_exec(db, "COMMIT", err, errlen);
		else
			db_rollback(db);
		if (rc == 0 || !db->retryable ||
		    PQstatus(db->conn) != CONNECTION_OK)
			return rc;
	}
	return rc;
}

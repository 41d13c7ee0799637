/*
 * store.c - one transaction's state (struct db_batch: its SAVEPOINTs and
 * the reports whose totals wait for its end), and aggregate reports into
 * PostgreSQL as an agg_handler: the report
 * row at report_begin (its unique key decides duplicates there, before any
 * record is read), records streamed into one COPY.  The report's totals
 * and every rollup are written once per transaction, by batch_flush()
 * before COMMIT (dmarcd_store_reports): per report that cost 85% of ingest time
 * (measured).  Memory stays flat: at most STORE_COPY_CHUNK bytes of COPY
 * data and a few dozen bytes per report of the open transaction.
 *
 * May touch: db.c (connection, errors, escaping), document.c,
 * quarantine.c, sha256.c, and the report types of parser/report.h.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "report.h"

#define STORE_COPY_CHUNK	(256 * 1024)	/* COPY bytes per PQputCopyData */
#define STORE_COPY_CAP		(STORE_COPY_CHUNK + 256 * 1024)	/* + a record */

/* Returned through error_r when a report is already stored: parsing stops
 * early and the caller counts a duplicate, not a failure. */
static const char store_duplicate[] = "duplicate report";

#define INSERT_REPORT \
	"INSERT INTO report (domain, org_name, org_email, extra_contact_info," \
	" report_id, begin_time, end_time, errors, generator, version, adkim," \
	" aspf, p, sp, np, pct, fo, testing, discovery_method, dmarcbis," \
	" source, item, message_id)" \
	" VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint)," \
	" to_timestamp($7::bigint), $8::text[], $9, $10, $11, $12, $13, $14," \
	" $15, $16::smallint, $17, $18, $19, $20::boolean, $21, $22, $23)" \
	" ON CONFLICT DO NOTHING RETURNING id," \
	" dmarcd_partition(dmarcd_report_month(begin_time, end_time))"

#define COPY_RECORDS \
	"COPY record (domain, report, ordinal, source_ip, count, disposition," \
	" dkim, spf, reason_type, reason_comment, header_from, envelope_from," \
	" envelope_to, dkim_domain, dkim_selector, dkim_result," \
	" dkim_human_result, spf_domain, spf_scope, spf_result," \
	" spf_human_result, month) FROM STDIN"

/* The reports of the transaction, at its end (sql/functions.sql): their
 * totals, documents and rollups. */
#define STORE_REPORTS \
	"SELECT dmarcd_store_reports($1::text[], $2::bigint[], $3::bigint[]," \
	" $4::bigint[], $5::text[], $6::bigint[], $7::bytea[])"

/* The same when another process folds the rollups (rollup_queue). */
#define STORE_REPORTS_LATER \
	"SELECT dmarcd_store_reports_later($1::text[], $2::bigint[]," \
	" $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bytea[])"

#define BYTEA_OID		17	/* pg_type.oid of bytea */
#define ARRAY_HEADER		20	/* ndim, flags, type, size, lbound */

#define STORE_PENDING_CAP	(64 << 20)	/* bytes of one pending array */
#define STORE_FOLD_MAX		5000	/* queued reports folded a transaction */
#define STORE_PENDING_DOCS	(8 << 20)	/* gzip bytes of the documents
						 * pending; more go in at once */

static void	store_forget(struct db_batch *b, bool free_bufs);

void
db_store_init(struct db_store *st, struct db_batch *b)
{
	memset(st, 0, sizeof(*st));
	st->db = b->db;
	st->batch = b;
	buf_init(&st->copy, STORE_COPY_CAP);
}

void
db_store_deinit(struct db_store *st)
{
	buf_free(&st->copy);
	free(st->domain);
	st->domain = NULL;
}

/* Prepares the per-report statements once per connection: parse and plan
 * cost as much as running them (measured). */
static int
store_prepare(struct db_store *st, const char **error_r)
{
	static const struct {
		const char	*name, *sql;
		int		 nparams;
	} stmts[] = {
		{ "dmarcd_report", INSERT_REPORT, 23 },
	};
	PGresult	*res;
	size_t		 i;

	for (i = 0; i < nitems(stmts); i++) {
		res = PQprepare(st->db->conn, stmts[i].name, stmts[i].sql,
		    stmts[i].nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (db_result_error(st->db, res, "prepare", st->err,
			    sizeof(st->err)) == DB_ETEMP)
				st->status = DB_ETEMP;
			PQclear(res);
			*error_r = st->err;
			return -1;
		}
		PQclear(res);
	}
	st->db->prepared = true;
	return 0;
}

/* Records a database failure; returns -1 for the callback. */
static int
store_fail(struct db_store *st, const PGresult *res, const char *what,
    const char **error_r)
{
	if (db_result_error(st->db, res, what, st->err, sizeof(st->err)) ==
	    DB_ETEMP)
		st->status = DB_ETEMP;
	*error_r = st->err;
	return -1;
}

static int
store_begin(void *ctx, const struct agg_report *r, const char **error_r)
{
	struct db_store	*st = ctx;
	const char	*v[23];
	char		 begin[24], end[24], pct[8];
	struct buf	 errors;
	PGresult	*res;
	int		 rc;

	if (!st->db->prepared && store_prepare(st, error_r) == -1)
		return -1;
	buf_init(&errors, 64 * 1024);
	if (db_array_field(&errors, (const char *const *)r->errors,
	    sizeof(r->errors[0]), r->n_errors, false) == -1) {
		buf_free(&errors);
		*error_r = "report errors too long";
		return -1;
	}
	snprintf(begin, sizeof(begin), "%" PRId64, r->begin);
	snprintf(end, sizeof(end), "%" PRId64, r->end);
	snprintf(pct, sizeof(pct), "%d", r->pct);
	v[0] = r->domain;
	v[1] = r->org_name;
	v[2] = r->org_email;
	v[3] = r->extra_contact_info;
	v[4] = r->report_id;
	v[5] = begin;
	v[6] = end;
	v[7] = errors.data;
	v[8] = r->generator;
	v[9] = r->version;
	v[10] = r->adkim;
	v[11] = r->aspf;
	v[12] = r->p;
	v[13] = r->sp;
	v[14] = r->np;
	v[15] = r->has_pct ? pct : NULL;
	v[16] = r->fo;
	v[17] = r->testing;
	v[18] = r->discovery_method;
	v[19] = r->dmarcbis ? "true" : "false";
	v[20] = st->source;
	v[21] = st->item;
	v[22] = st->message_id;
	res = PQexecPrepared(st->db->conn, "dmarcd_report", 23, v, NULL, NULL,
	    0);
	buf_free(&errors);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = store_fail(st, res, "storing report", error_r);
		PQclear(res);
		return rc;
	}
	free(st->domain);
	st->domain = strdup(r->domain);
	st->ordinal = 0;
	st->report = 0;
	st->begin = r->begin;
	st->end = r->end;
	if (PQntuples(res) == 0) {
		PQclear(res);
		st->duplicate = true;
		*error_r = store_duplicate;
		return -1;
	}
	st->report = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	/* the partition's month (sql/017_partitions.sql), made if new */
	snprintf(st->month, sizeof(st->month), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (st->domain == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	res = PQexec(st->db->conn, COPY_RECORDS);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = store_fail(st, res, "COPY record", error_r);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	st->db->in_copy = true;
	buf_reset(&st->copy);
	return 0;
}

static int
store_flush(struct db_store *st, const char **error_r)
{
	if (st->copy.len == 0)
		return 0;
	if (PQputCopyData(st->db->conn, st->copy.data, st->copy.len) != 1)
		return store_fail(st, NULL, "COPY record", error_r);
	buf_reset(&st->copy);
	return 0;
}

/* A field of each element of an array of structs: first, stride, count. */
#define ARR(arr, field, n) \
	(const char *const *)&rec->arr[0].field, sizeof(rec->arr[0]), (n)

static int
store_record(void *ctx, const struct agg_report *r,
    const struct agg_record *rec, const char **error_r)
{
	struct db_store	*st = ctx;
	struct buf	*b = &st->copy;
	char		 num[64];
	int		 rc = 0;

	(void)r;
	snprintf(num, sizeof(num), "%" PRId64 "\t%" PRIu32 "\t", st->report,
	    st->ordinal++);
	rc |= db_copy_field(b, st->domain);
	rc |= buf_addc(b, '\t');
	rc |= buf_adds(b, num);
	rc |= db_copy_field(b, rec->source_ip);
	snprintf(num, sizeof(num), "\t%" PRIu64 "\t", rec->count);
	rc |= buf_adds(b, num);
	rc |= db_copy_field(b, rec->disposition);
	rc |= buf_addc(b, '\t');
	rc |= db_copy_field(b, rec->dkim);
	rc |= buf_addc(b, '\t');
	rc |= db_copy_field(b, rec->spf);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(reasons, type, rec->n_reasons),
	    true);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(reasons, comment, rec->n_reasons),
	    true);
	rc |= buf_addc(b, '\t');
	rc |= db_copy_field(b, rec->header_from);
	rc |= buf_addc(b, '\t');
	rc |= db_copy_field(b, rec->envelope_from);
	rc |= buf_addc(b, '\t');
	rc |= db_copy_field(b, rec->envelope_to);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(auth_dkim, domain, rec->n_dkim),
	    true);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(auth_dkim, selector, rec->n_dkim),
	    true);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(auth_dkim, result, rec->n_dkim),
	    true);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(auth_dkim, human_result, rec->n_dkim), true);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(auth_spf, domain, rec->n_spf),
	    true);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(auth_spf, scope, rec->n_spf), true);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(auth_spf, result, rec->n_spf),
	    true);
	rc |= buf_addc(b, '\t');
	rc |= db_array_field(b, ARR(auth_spf, human_result, rec->n_spf), true);
	rc |= buf_addc(b, '\t');
	rc |= buf_adds(b, st->month);
	rc |= buf_addc(b, '\n');
	if (rc) {
		*error_r = "record too large to store";
		return -1;
	}
	if (b->len >= STORE_COPY_CHUNK)
		return store_flush(st, error_r);
	return 0;
}

static int
store_end(void *ctx, const struct agg_report *r, const char **error_r)
{
	struct db_store	*st = ctx;
	PGresult	*res;
	int		 rc = 0;

	if (store_flush(st, error_r) == -1)
		return -1;
	st->db->in_copy = false;
	if (PQputCopyEnd(st->db->conn, NULL) != 1)
		return store_fail(st, NULL, "COPY record", error_r);
	while ((res = PQgetResult(st->db->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = store_fail(st, res, "COPY record", error_r);
		PQclear(res);
	}
	st->records_pending = r->n_records;
	st->messages_pending = r->messages;
	return rc;
}

const struct agg_handler db_store_handler = {
	store_begin, store_record, store_end,
};

int
db_store_item_begin(struct db_store *st, char *err, size_t errlen)
{
	st->report = 0;
	st->duplicate = false;
	st->err[0] = '\0';
	/* One round trip: the previous report's SAVEPOINT goes with it. */
	if (st->sp_open) {
		st->sp_open = false;
		return db_exec(st->db, "RELEASE SAVEPOINT report; "
		    "SAVEPOINT report", err, errlen);
	}
	return db_exec(st->db, "SAVEPOINT report", err, errlen);
}

/* Appends one element to an array literal being built ("{a,b"). */
static int
pend_elem(struct buf *b, const char *s, bool quote)
{
	int	rc;

	rc = buf_addc(b, b->len == 0 ? '{' : ',');
	if (!quote)
		return rc | buf_adds(b, s);
	rc |= buf_addc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			rc |= buf_addc(b, '\\');
		rc |= buf_addc(b, *s);
	}
	return rc | buf_addc(b, '"');
}

static int
put_be32(struct buf *b, uint32_t v)
{
	unsigned char	 be[4] = { v >> 24, v >> 16, v >> 8, v };

	return buf_add(b, be, sizeof(be));
}

/* The pending arrays are out of step: nothing of them is sent. */
static int
store_pend_fail(struct db_batch *b, char *err, size_t errlen)
{
	store_forget(b, false);
	snprintf(err, errlen, "too many reports in one transaction");
	return DB_ETEMP;
}

/* Queues the report's document (st->doc) as the next element of the
 * pending bytea[] (its size in pend_doc_size), so it goes in with the
 * transaction's one dmarcd_store_reports() call, not a round trip each.
 * When the queue is full it is inserted now instead and queued as a NULL
 * of size -1, which that function skips; a report without one likewise. */
static int
store_pend_document(struct db_store *st, char *err, size_t errlen)
{
	static const char	 header[ARRAY_HEADER];
	struct db_batch		*b = st->batch;
	const void		*gz = NULL;
	size_t			 len = 0, mark;
	uint64_t		 size = 0;
	char			 num[24];
	int			 rc;

	if (b->pend_doc.len == 0 &&
	    buf_add(&b->pend_doc, header, sizeof(header)) != 0)
		return store_pend_fail(b, err, errlen);
	if (st->doc != NULL) {
		db_document_finish(st->doc, &gz, &len, &size);
		mark = b->pend_doc.len;
		if (len <= INT32_MAX && put_be32(&b->pend_doc, gz != NULL ?
		    (uint32_t)len : UINT32_MAX) == 0 && (gz == NULL ||
		    buf_add(&b->pend_doc, gz, len) == 0)) {
			snprintf(num, sizeof(num), "%" PRIu64, size);
			if (pend_elem(&b->pend_doc_size, num, false) != 0)
				return store_pend_fail(b, err, errlen);
			return 0;
		}
		b->pend_doc.len = mark;	/* full: now, on its own */
		if ((rc = db_document_store(st->db, st->doc, st->domain,
		    st->report, err, errlen)) != 0)
			return rc;
	}
	if (put_be32(&b->pend_doc, UINT32_MAX) != 0 ||
	    pend_elem(&b->pend_doc_size, "-1", false) != 0)
		return store_pend_fail(b, err, errlen);
	return 0;
}

/* Queues the finished report for batch_flush(). */
static int
store_finish(struct db_store *st, char *err, size_t errlen)
{
	struct db_batch	*b = st->batch;
	char		 num[24], hex[65];
	size_t		 i;
	int		 rc = 0;

	if (b->pend_id.cap == 0) {
		buf_init(&b->pend_domain, STORE_PENDING_CAP);
		buf_init(&b->pend_id, STORE_PENDING_CAP);
		buf_init(&b->pend_records, STORE_PENDING_CAP);
		buf_init(&b->pend_messages, STORE_PENDING_CAP);
		buf_init(&b->pend_sha256, STORE_PENDING_CAP);
		buf_init(&b->pend_doc_size, STORE_PENDING_CAP);
		buf_init(&b->pend_doc, STORE_PENDING_DOCS);
	}
	if ((rc = store_pend_document(st, err, errlen)) != 0)
		return rc;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", st->sha256[i]);
	rc |= pend_elem(&b->pend_domain, st->domain, true);
	snprintf(num, sizeof(num), "%" PRId64, st->report);
	rc |= pend_elem(&b->pend_id, num, false);
	snprintf(num, sizeof(num), "%" PRIu64, st->records_pending);
	rc |= pend_elem(&b->pend_records, num, false);
	snprintf(num, sizeof(num), "%" PRIu64, st->messages_pending);
	rc |= pend_elem(&b->pend_messages, num, false);
	rc |= pend_elem(&b->pend_sha256, hex, false);
	if (rc != 0)
		return store_pend_fail(b, err, errlen);
	b->pend_n++;
	return 0;
}

/* Forgets the pending reports (after ROLLBACK, or before BEGIN); frees
 * with free_bufs true. */
static void
store_forget(struct db_batch *b, bool free_bufs)
{
	struct buf	*a[] = { &b->pend_domain, &b->pend_id,
			    &b->pend_records, &b->pend_messages,
			    &b->pend_sha256, &b->pend_doc_size,
			    &b->pend_doc };
	size_t		 i;

	for (i = 0; i < nitems(a); i++) {
		if (free_bufs)
			buf_free(a[i]);
		else
			buf_reset(a[i]);
	}
	b->pend_n = 0;
}

/* Writes the totals and rollups of the reports stored in the open
 * transaction, then forgets them; run just before COMMIT.  Reports rolled
 * back since are skipped.  Returns 0, DB_ETEMP or DB_EPERM. */
static int
batch_flush(struct db_batch *b, char *err, size_t errlen)
{
	struct buf	*a[] = { &b->pend_domain, &b->pend_id,
			    &b->pend_records, &b->pend_messages,
			    &b->pend_sha256, &b->pend_doc_size };
	const char	*v[nitems(a) + 1];
	int		 len[nitems(a) + 1] = { 0 }, fmt[nitems(a) + 1] = { 0 };
	unsigned char	*h;
	PGresult	*res;
	size_t		 i;
	int		 rc = 0;

	if (b->pend_n == 0)
		return 0;
	for (i = 0; i < nitems(a); i++) {
		if (buf_addc(a[i], '}') == -1)
			return store_pend_fail(b, err, errlen);
		v[i] = a[i]->data;
	}
	/* the documents' bytea[]: one dimension of pend_n, from 1 */
	if (b->pend_doc.len < ARRAY_HEADER || b->pend_doc.len > INT32_MAX)
		return store_pend_fail(b, err, errlen);
	h = (unsigned char *)b->pend_doc.data;
	h[0] = h[1] = h[2] = 0, h[3] = 1;		/* ndim */
	h[4] = h[5] = h[6] = 0, h[7] = 1;		/* may hold NULLs */
	h[8] = h[9] = h[10] = 0, h[11] = BYTEA_OID;	/* element type */
	h[12] = b->pend_n >> 24, h[13] = b->pend_n >> 16,
	    h[14] = b->pend_n >> 8, h[15] = b->pend_n;	/* size */
	h[16] = h[17] = h[18] = 0, h[19] = 1;		/* lower bound */
	v[i] = b->pend_doc.data;
	len[i] = (int)b->pend_doc.len;
	fmt[i] = 1;
	res = PQexecParams(b->db->conn, b->db->rollup_later ?
	    STORE_REPORTS_LATER : STORE_REPORTS, nitems(v), NULL, v, len, fmt,
	    0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(b->db, res, "report totals and rollups",
		    err, errlen);
	PQclear(res);
	store_forget(b, false);
	return rc;
}

int
db_store_item_end(struct db_store *st, bool ok, char *err, size_t errlen)
{
	PGresult	*res;
	int		 rc;

	if (st->db->in_copy) {
		/* the parse failed half-way: abandon the COPY */
		st->db->in_copy = false;
		PQputCopyEnd(st->db->conn, "report abandoned");
		while ((res = PQgetResult(st->db->conn)) != NULL)
			PQclear(res);
		ok = false;
	}
	if (ok && st->report != 0) {
		if ((rc = store_finish(st, err, errlen)) != 0) {
			if (rc == DB_ETEMP)
				return rc;
			ok = false;
		} else {
			st->reports++;
			st->records += st->records_pending;
			st->messages += st->messages_pending;
		}
	} else if (st->duplicate)
		st->duplicates++;
	if (ok || st->duplicate) {
		/* released by the next report's item_begin, or with the
		 * enclosing SAVEPOINT or transaction: a round trip saved */
		st->sp_open = true;
		return 0;
	}
	rc = db_exec(st->db, "ROLLBACK TO SAVEPOINT report; "
	    "RELEASE SAVEPOINT report", err, errlen);
	return rc == 0 ? DB_EPERM : rc;
}

/* Adds up to max queued reports to the rollups, in a transaction of
 * its own; *n_r gets how many. */
static int
rollup_queued(struct db *db, unsigned max, unsigned *n_r, char *err,
    size_t errlen)
{
	PGresult	*res;
	const char	*v[1];
	char		 num[16];
	int		 rc = 0;

	*n_r = 0;
	snprintf(num, sizeof(num), "%u", max);
	v[0] = num;
	res = PQexecParams(db->conn, "SELECT dmarcd_rollup_queued($1::int)", 1,
	    NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db_result_error(db, res, "rollups", err, errlen);
	else
		*n_r = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rc;
}

int
db_rollup_drain(struct db *db, char *err, size_t errlen)
{
	unsigned	n;
	int		rc;

	do {
		if ((rc = rollup_queued(db, STORE_FOLD_MAX, &n, err,
		    errlen)) != 0)
			return rc;
	} while (n > 0);
	return 0;
}

/* --- the transaction: one message, or a group commit of many ---------- */

/* A quarantine row for input whose bytes are not kept (larger than the
 * cap).  Its key is a hash of where it is and how big, not of bytes we do
 * not have, so two such inputs do not share a row. */
#define QUARANTINE_UNKEPT \
	"INSERT INTO quarantine (sha256, bytes, size, reason, source)" \
	" VALUES ($1, ''::bytea, $2::bigint, $3, $4)" \
	" ON CONFLICT (domain, sha256) DO UPDATE SET" \
	" times_seen = quarantine.times_seen + 1, last_seen = now()," \
	" reason = excluded.reason"

void
db_batch_init(struct db_batch *b, struct db *db)
{
	memset(b, 0, sizeof(*b));
	b->db = db;
}

void
db_batch_deinit(struct db_batch *b)
{
	if (b->open)
		db_batch_rollback(b);
	store_forget(b, true);
}

/* Undoes what the current message did, keeping the batch. */
static int
batch_undo(struct db_batch *b, char *err, size_t errlen)
{
	struct db	*db = b->db;
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
batch_failed(struct db_batch *b, int rc)
{
	char	uerr[256];

	/* the message's error is already in the caller's err */
	if (rc == DB_ETEMP && (!b->db->retryable ||
	    PQstatus(b->db->conn) != CONNECTION_OK))
		return DB_ETEMP;
	if (batch_undo(b, uerr, sizeof(uerr)) != 0)
		return DB_ETEMP;
	return rc == DB_ETEMP ? DB_ERETRY : rc;
}

int
db_batch_begin(struct db_batch *b, char *err, size_t errlen)
{
	int	rc;

	b->db->retryable = false;
	store_forget(b, false);
	if ((rc = db_exec(b->db, "BEGIN", err, errlen)) == 0)
		b->open = true;
	return rc;
}

int
db_batch_commit(struct db_batch *b, char *err, size_t errlen)
{
	int	rc;

	b->open = false;
	/* The batch's rollups, from the rows that survived its SAVEPOINTs. */
	if ((rc = batch_flush(b, err, errlen)) != 0) {
		db_rollback(b->db);
		return rc;	/* nothing committed: the inputs stay */
	}
	if ((rc = db_exec(b->db, "COMMIT", err, errlen)) != 0)
		return rc;	/* in doubt: the inputs stay */
	if (PQstatus(b->db->conn) != CONNECTION_OK)
		return DB_ETEMP;
	return 0;
}

void
db_batch_rollback(struct db_batch *b)
{
	b->open = false;
	store_forget(b, false);
	if (b->db->in_copy) {
		b->db->in_copy = false;
		PQputCopyEnd(b->db->conn, "batch abandoned");
	}
	db_rollback(b->db);
}

int
db_batch_item_begin(struct db_batch *b, char *err, size_t errlen)
{
	b->db->retryable = false;
	return db_exec(b->db, "SAVEPOINT message", err, errlen) == 0 ? 0 :
	    DB_ETEMP;
}

int
db_batch_item_end(struct db_batch *b, int rc, char *err, size_t errlen)
{
	if (rc == 0)
		return db_exec(b->db, "RELEASE SAVEPOINT message", err,
		    errlen) == 0 ? 0 : DB_ETEMP;
	return batch_failed(b, rc);
}

int
db_batch_quarantine(struct db_batch *b, const void *data, size_t len,
    const char *source, const char *reason, char *err, size_t errlen)
{
	char	serr[512];
	int	rc;

	/* err keeps the message's own error when only this fails */
	if (db_exec(b->db, "SAVEPOINT message", serr, sizeof(serr)) != 0)
		return DB_ETEMP;
	rc = db_quarantine_put(b->db, data, len, source, reason, err, errlen);
	return db_batch_item_end(b, rc, err, errlen);
}

int
db_batch_unkept(struct db_batch *b, uint64_t size, const char *source,
    const char *reason, char *err, size_t errlen)
{
	struct db		*db = b->db;
	struct db_sha256	*h;
	unsigned char		 digest[32];
	const char		*v[4];
	int			 lens[4] = { 32, 0, 0, 0 };
	int			 fmts[4] = { 1, 0, 0, 0 };
	char			 sz[24];
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
	if (db_batch_item_begin(b, err, errlen) != 0)
		return DB_ETEMP;
	pres = PQexecParams(db->conn, QUARANTINE_UNKEPT, 4, NULL, v, lens,
	    fmts, 0);
	if (PQresultStatus(pres) != PGRES_COMMAND_OK)
		rc = db_result_error(db, pres, "quarantine", err, errlen);
	PQclear(pres);
	return db_batch_item_end(b, rc, err, errlen);
}

/*
 * deliver.c - a message into the database: ingest/message.c's pipeline
 * with db/sink.c's sink, in db/store.c's transactions.  The one place where
 * the two meet, so neither the pipeline knows the database nor db/ the
 * unpacker and parsers.
 *
 * May touch: ingest/message.h, db/db.h (sink, batch, quarantine).
 */
#include "config.h"

#include <string.h>

#include "deliver.h"

#define DELIVER_RETRIES		3	/* deadlock / serialization retries */

int
deliver_message_tx(struct db_batch *b, const struct message_limits *lim,
    const void *data, size_t len, const char *source, bool quarantine,
    struct db_message_result *res, char *err, size_t errlen)
{
	struct db_sink	 s;
	char		 msgid[256];
	int		 rc;

	message_header_id(data, len, msgid, sizeof(msgid));
	db_sink_init(&s, b, source, *msgid ? msgid : NULL, lim->max_document);
	rc = message_run(data, len, source, lim, &db_message_sink, &s, err,
	    errlen);
	rc = db_sink_finish(&s, rc, data, len, quarantine, res, err, errlen);
	db_sink_deinit(&s);
	return rc;
}

/* Storing the message failed for good (a constraint, a value out of a
 * column's range): keep the bytes in quarantine with that reason, in a
 * transaction of their own, so the input can be released where a retry
 * would fail the same way until the MTA gave up and dropped the report. */
static int
keep_unstored(struct db_batch *b, const void *data, size_t len,
    const char *source, struct db_message_result *res, char *err,
    size_t errlen)
{
	char	qerr[512];
	int	rc;

	memset(res, 0, sizeof(*res));
	snprintf(res->reason, sizeof(res->reason), "not stored: %s", err);
	res->quarantined = true;
	if ((rc = db_batch_begin(b, qerr, sizeof(qerr))) == 0) {
		if ((rc = db_batch_quarantine(b, data, len, source,
		    res->reason, qerr, sizeof(qerr))) == 0)
			rc = db_batch_commit(b, qerr, sizeof(qerr));
		else
			db_batch_rollback(b);
	}
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "%s; nor quarantined: %s", res->reason, qerr);
	return rc == DB_EPERM ? DB_EPERM : DB_ETEMP;
}

int
deliver_message(struct db *db, const struct message_limits *lim,
    const void *data, size_t len, const char *source,
    struct db_message_result *res, char *err, size_t errlen)
{
	struct db_batch	 b;
	int		 attempt, rc = DB_ETEMP;

	db_batch_init(&b, db);
	for (attempt = 0; attempt < DELIVER_RETRIES; attempt++) {
		if ((rc = db_batch_begin(&b, err, errlen)) != 0)
			break;
		rc = deliver_message_tx(&b, lim, data, len, source, true, res,
		    err, errlen);
		if (rc == 0)
			rc = db_batch_commit(&b, err, errlen);
		else
			db_batch_rollback(&b);
		if (rc == 0 || !db_may_retry(db))
			break;
	}
	if (rc == DB_EPERM)
		rc = keep_unstored(&b, data, len, source, res, err, errlen);
	db_batch_deinit(&b);
	return rc;
}

int
deliver_batch(struct db_batch *b, const struct message_limits *lim,
    const void *data, size_t len, const char *source,
    struct db_message_result *res, char *err, size_t errlen)
{
	int	rc;

	if (db_batch_item_begin(b, err, errlen) != 0)
		return DB_ETEMP;
	rc = deliver_message_tx(b, lim, data, len, source, true, res, err,
	    errlen);
	if ((rc = db_batch_item_end(b, rc, err, errlen)) != DB_EPERM)
		return rc;
	/* Storing it failed for good (a constraint, bad text): keep the
	 * bytes with that reason, as for any other non-report. */
	memset(res, 0, sizeof(*res));
	snprintf(res->reason, sizeof(res->reason), "not stored: %s", err);
	res->quarantined = true;
	return db_batch_quarantine(b, data, len, source, res->reason, err,
	    errlen);
}

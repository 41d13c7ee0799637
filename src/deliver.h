/*
 * deliver.h - a message into the database: the pipeline of
 * ingest/message.c with the database sink of db/sink.c, inside a
 * transaction of db/store.c.  Used by ingest, lmtp (sessions and the
 * Maildir watcher) and quarantine retry.
 *
 * Returns follow db.h: 0, DB_EPERM, DB_ETEMP (and DB_ERETRY for
 * deliver_batch, as db_batch_item_end).
 */
#ifndef DMARCD_DELIVER_H
#define DMARCD_DELIVER_H

#include "db.h"
#include "message.h"

/* Unpacks, parses and stores every report of data[0..len) in a transaction
 * of its own; what gave no report is quarantined in the same transaction,
 * and a message the database refuses for good (DB_EPERM) is quarantined
 * with that reason in a transaction after it, as deliver_batch keeps it.
 * On 0 everything is committed (the input may be released; res says what
 * was stored or quarantined); on DB_ETEMP nothing is and the input must be
 * kept; DB_EPERM when not even the quarantine row could be written.
 * Deadlocks are retried. */
int	deliver_message(struct db *db, const struct message_limits *lim,
	    const void *data, size_t len, const char *source,
	    struct db_message_result *res, char *err, size_t errlen);
/* The same inside the open batch b, without a SAVEPOINT of its own
 * (quarantine retry); quarantine false: not quarantined again. */
int	deliver_message_tx(struct db_batch *b, const struct message_limits *lim,
	    const void *data, size_t len, const char *source, bool quarantine,
	    struct db_message_result *res, char *err, size_t errlen);
/* One message of a group commit, in a SAVEPOINT of its own: 0 stored or
 * quarantined (res->quarantined; a message whose storing failed for good
 * is rolled back alone and quarantined with that reason); DB_EPERM not
 * even its quarantine row could be written (rolled back alone, the input
 * stays); DB_ERETRY / DB_ETEMP as db_batch_item_end. */
int	deliver_batch(struct db_batch *b, const struct message_limits *lim,
	    const void *data, size_t len, const char *source,
	    struct db_message_result *res, char *err, size_t errlen);

#endif

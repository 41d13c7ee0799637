/*
 * ingest_loop.h - the one ingest loop, of `dmarcd ingest` and of the
 * Maildir watcher of `dmarcd lmtp --maildir`: the messages of a source
 * (ingest/source.h) into the database, many per transaction (group
 * commit, each message in a SAVEPOINT of its own), each released by
 * source_done only after the COMMIT that holds it.
 *
 * The rule, the same for both callers:
 *   - a message that cannot be read now (msg->temporary) stays where it
 *     is, for the next run or pass;
 *   - one over max_message_size gets a quarantine row with its size and
 *     reason, bytes not kept, and is released;
 *   - one the database refuses for good is quarantined with that reason
 *     and released;
 *   - while the database is unavailable nothing is released.
 *
 * May touch: ingest/source.h, deliver.h, db/store.c's batch API.
 */
#ifndef DMARCD_INGEST_LOOP_H
#define DMARCD_INGEST_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "source.h"
#include "deliver.h"

struct ingest_totals {
	uint64_t	messages, reports, records, duplicates, quarantined;
	uint64_t	failed, bytes;
	uint64_t	forensic, tlsrpt;	/* duplicates counted above */
};

struct ingest_pending;

struct ingest_loop {
	/* set by the caller after ingest_loop_init */
	struct progress		*prog;	/* NULL: none */
	bool			 log_each;	/* a line per message committed;
						 * else only the quarantined */
	/* A message left where it is (msg->temporary), already counted as
	 * failed; NULL: logged as a warning. */
	void			(*held)(void *arg,
				    const struct source_msg *msg);
	void			*arg;
	/* Called before each transaction opens (NULL: the connection of
	 * ingest_loop_init is kept): sets *db_r to a connection, opening
	 * one if it must.  0, or DB_ETEMP with the reason in err. */
	int			(*connect)(void *arg, struct db **db_r,
				    char *err, size_t errlen);
	const char		*tag;	/* log prefix, "" or "watch: " */
	/* why ingest_loop_source/commit returned DB_ETEMP */
	char			 err[1536];

	/* the loop's own */
	struct db		*db;
	const struct message_limits *lim;
	struct db_batch		 tx;	/* the transaction (db/store.c) */
	double			 started;
	uint64_t		 bytes;
	struct ingest_pending	*v;
	size_t			 n, size;
	struct ingest_totals	 t;	/* of the batch, not committed yet */
};

void	ingest_loop_init(struct ingest_loop *l, struct db *db,
	    const struct message_limits *lim);
/* Every message of src into the open (or a new) transaction; COMMITs as
 * the batch fills, and adds what was committed to t.  Returns 0 (src is
 * at its end or failed, logged and counted), or DB_ETEMP when the database
 * went away: the transaction is rolled back, its messages stay where they
 * are, l->err says why.  A pending batch's done handles outlive src. */
int	ingest_loop_source(struct ingest_loop *l, struct source *src,
	    struct ingest_totals *t);
/* COMMITs what is pending, then releases its messages.  0 or DB_ETEMP (as
 * above). */
int	ingest_loop_commit(struct ingest_loop *l, struct ingest_totals *t);
/* Rolls back what is pending (nothing released) and frees l's state. */
void	ingest_loop_deinit(struct ingest_loop *l);

#endif

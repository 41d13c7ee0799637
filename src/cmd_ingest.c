/*
 * cmd_ingest.c - `dmarcd ingest PATH...`: every message of files,
 * directories, mboxes, Maildirs or stdin into the database, many messages
 * per transaction (each in a SAVEPOINT of its own); a Maildir message
 * leaves new/ only after the COMMIT of its transaction.
 *
 * May touch: ingest/source.h (inputs and their done handles), deliver.h
 * (a message into the batch), db/store.c's batch API (the transaction's
 * state is there; this file keeps only what to release after COMMIT).
 */
#include "config.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"
#include "source.h"
#include "conf.h"
#include "deliver.h"
#include "dmarcd.h"
#include "rollup_folder.h"

/* Group commit: a transaction holds at most this many messages, bytes of
 * messages, or seconds, whichever comes first.  One COMMIT (one fsync)
 * then serves many messages; the bytes of a message are not held after it
 * is stored, only what done needs (source_hold). */
#define INGEST_BATCH_MESSAGES	1000
#define INGEST_BATCH_BYTES	(64 << 20)
#define INGEST_BATCH_SECONDS	0.5
#define INGEST_FOLD_MS		100	/* the rollup folder's pace */

struct ingest_totals {
	uint64_t	messages, reports, records, duplicates, quarantined;
	uint64_t	failed, bytes;
	uint64_t	forensic, tlsrpt;	/* duplicates counted above */
};

/* A message stored in the open transaction, waiting for its COMMIT. */
struct ingest_pending {
	struct source_pending	*done;
	char			*note;	/* "origin: quarantined: reason" */
};

struct ingest_batch {
	struct db		*db;
	struct db_batch		 tx;	/* the transaction (db/store.c) */
	double			 started;
	uint64_t		 bytes;
	struct ingest_pending	*v;
	size_t			 n, size;
	struct ingest_totals	 t;	/* of the batch, not committed yet */
};

static double
now_seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
totals_add(struct ingest_totals *to, const struct ingest_totals *from)
{
	to->messages += from->messages;
	to->reports += from->reports;
	to->records += from->records;
	to->duplicates += from->duplicates;
	to->quarantined += from->quarantined;
	to->failed += from->failed;
	to->bytes += from->bytes;
	to->forensic += from->forensic;
	to->tlsrpt += from->tlsrpt;
}

/* Forgets the batch's messages without done: they stay where they are. */
static void
batch_drop(struct ingest_batch *b)
{
	size_t	i;

	for (i = 0; i < b->n; i++) {
		source_pending_free(&b->v[i].done);
		free(b->v[i].note);
	}
	b->n = 0;
	b->bytes = 0;
	memset(&b->t, 0, sizeof(b->t));
}

static int
batch_open(struct ingest_batch *b)
{
	char	err[512];

	if (b->tx.open)
		return 0;
	if (db_batch_begin(&b->tx, err, sizeof(err)) != 0) {
		log_warnx("database unavailable, stopping: %s", err);
		return EXIT_TEMPFAIL;
	}
	b->started = now_seconds();
	return 0;
}

/* COMMITs the batch, then (only then) releases its inputs.  Returns 0, or
 * EXIT_TEMPFAIL with every input of the batch left where it was. */
static int
batch_commit(struct ingest_batch *b, struct ingest_totals *t)
{
	char	err[1024];
	size_t	i;

	if (!b->tx.open)
		return 0;
	if (db_batch_commit(&b->tx, err, sizeof(err)) != 0) {
		log_warnx("database unavailable, stopping (the last %zu "
		    "messages stay for the next run): %s", b->n, err);
		batch_drop(b);
		return EXIT_TEMPFAIL;
	}
	for (i = 0; i < b->n; i++) {
		if (b->v[i].note != NULL)
			log_info("%s", b->v[i].note);
		if (source_pending_done(&b->v[i].done, err, sizeof(err)) == -1)
			log_warnx("%s", err);
	}
	totals_add(t, &b->t);
	batch_drop(b);
	return 0;
}

/* Rolls the batch back after the database failed. */
static int
batch_abort(struct ingest_batch *b, const char *origin, const char *err)
{
	log_warnx("database unavailable, stopping (%s and the %zu messages "
	    "before it in this transaction stay for the next run): %s",
	    origin, b->n, err);
	if (b->tx.open)
		db_batch_rollback(&b->tx);
	batch_drop(b);
	return EXIT_TEMPFAIL;
}

/* Adds a stored message (its done handle taken) to the batch. */
static int
batch_push(struct ingest_batch *b, struct source_pending **done,
    const char *origin, size_t len, const struct db_message_result *res)
{
	struct ingest_pending	*v, *p;

	if (b->n == b->size) {
		if ((v = reallocarray(b->v, b->size ? b->size * 2 : 64,
		    sizeof(*v))) == NULL)
			fatalx("out of memory");
		b->v = v;
		b->size = b->size ? b->size * 2 : 64;
	}
	p = &b->v[b->n++];
	p->done = *done;
	*done = NULL;
	p->note = NULL;
	if (res->quarantined && asprintf(&p->note, "%s: quarantined: %s",
	    origin, res->reason) == -1)
		p->note = NULL;
	b->bytes += len;
	b->t.messages++;
	b->t.bytes += len;
	b->t.reports += res->reports;
	b->t.records += res->records;
	b->t.duplicates += res->duplicates + res->forensic_duplicates +
	    res->tlsrpt_duplicates;
	b->t.forensic += res->forensic;
	b->t.tlsrpt += res->tlsrpt;
	if (res->quarantined)
		b->t.quarantined++;
	return 0;
}

/* A deadlock rolled msg back alone: commit the rest, then msg in a
 * transaction of its own (deliver_message retries). */
static int
ingest_alone(struct ingest_batch *b, const struct message_limits *lim,
    const struct source_msg *msg, struct source_pending **done,
    struct ingest_totals *t)
{
	struct db_message_result	 res;
	char				 err[1024];
	int				 rc;

	if ((rc = batch_commit(b, t)) != 0) {
		source_pending_free(done);
		return rc;
	}
	rc = deliver_message(b->db, lim, msg->data, msg->len, msg->origin,
	    &res, err, sizeof(err));
	if (rc == DB_ETEMP) {
		source_pending_free(done);
		return batch_abort(b, msg->origin, err);
	}
	if (rc != 0) {
		log_warnx("%s: %s", msg->origin, err);
		t->failed++;
		source_pending_free(done);
		return 0;
	}
	batch_push(b, done, msg->origin, msg->len, &res);
	/* committed already: release it now */
	if (b->v[0].note != NULL)
		log_info("%s", b->v[0].note);
	if (source_pending_done(&b->v[0].done, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	totals_add(t, &b->t);
	batch_drop(b);
	return 0;
}

/* One source, message by message, into the open batch.  Returns 0, or
 * EXIT_TEMPFAIL when the database went away (the batch's messages stay
 * where they are). */
static int
ingest_source(struct ingest_batch *b, const struct message_limits *lim,
    struct source *src, struct progress *prog, struct ingest_totals *t)
{
	const struct source_msg		*msg;
	struct db_message_result	 res;
	struct source_pending		*done;
	char				 err[1024], reason[1024];
	int				 rc;

	for (;;) {
		if ((rc = source_next(src, &msg, err, sizeof(err))) == 0)
			return 0;
		if (rc == -1) {
			log_warnx("%s", err);
			t->failed++;
			return 0;
		}
		if (msg->error != NULL && msg->temporary) {
			/* left in place: nothing stored, nothing lost */
			log_warnx("%s: %s", msg->origin, msg->error);
			t->failed++;
			continue;
		}
		if (source_hold(src, msg, &done, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			t->failed++;
			continue;
		}
		if ((rc = batch_open(b)) != 0) {
			source_pending_free(&done);
			return rc;
		}
		memset(&res, 0, sizeof(res));
		if (msg->error != NULL) {
			/* permanent (too large): a row saying so, then done,
			 * so it does not wait in new/ forever */
			snprintf(reason, sizeof(reason), "%s; bytes not kept",
			    msg->error);
			rc = db_batch_unkept(&b->tx, msg->len, msg->origin,
			    reason, err, sizeof(err));
			res.quarantined = true;
			snprintf(res.reason, sizeof(res.reason), "%s", reason);
		} else
			rc = deliver_batch(&b->tx, lim, msg->data, msg->len,
			    msg->origin, &res, err, sizeof(err));
		if (rc == DB_ETEMP) {
			source_pending_free(&done);
			return batch_abort(b, msg->origin, err);
		}
		if (rc == DB_ERETRY) {
			if ((rc = ingest_alone(b, lim, msg, &done, t)) != 0)
				return rc;
		} else if (rc != 0) {
			log_warnx("%s: %s", msg->origin, err);
			t->failed++;
			source_pending_free(&done);
		} else
			batch_push(b, &done, msg->origin,
			    msg->error == NULL ? msg->len : 0, &res);
		if (b->tx.open && (b->n >= INGEST_BATCH_MESSAGES ||
		    b->bytes >= INGEST_BATCH_BYTES ||
		    now_seconds() - b->started >= INGEST_BATCH_SECONDS) &&
		    (rc = batch_commit(b, t)) != 0)
			return rc;
		progress_update(prog, t->messages + b->t.messages,
		    t->reports + b->t.reports, t->bytes + b->t.bytes);
	}
}

/* Folds what is left in the rollup queue (sql/008); a failure is only
 * logged: the queue keeps it for the next folder. */
static void
ingest_fold_queued(struct db *db)
{
	char	err[512];

	if (db_rollup_drain(db, err, sizeof(err)) != 0)
		log_warnx("%s", err);
}

/* The rollup folder of ingest_fold_rollups (rollup_folder.c): a second
 * connection adds the queued reports to the rollups while ingest reads
 * on, so the two use both cores.  After an error it stops folding; what is
 * left waits in the queue for the main connection's last fold. */
static int
folder_start(struct cmd_env *env, struct db *db, struct rollup_folder *f)
{
	memset(f, 0, sizeof(*f));
	if (cmd_env_open(env, &f->db) != 0)
		return -1;
	f->interval_ms = INGEST_FOLD_MS;
	if (rollup_folder_start(f) != 0)
		return -1;
	db->rollup_later = true;
	return 0;
}

int
cmd_ingest(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct db		*db = NULL;
	struct message_limits	 lim;
	struct source_limits	 slim;
	struct source		*src;
	struct source_estimate	 est, all;
	struct progress		 prog;
	struct ingest_totals	 t;
	struct ingest_batch	 batch;
	struct rollup_folder	 folder;
	char			 err[1024];
	double			 start, secs;
	int			 ch, i, rc = 0, status = EXIT_OK;
	bool			 quiet = false;

	memset(&env, 0, sizeof(env));
	while ((ch = getopt_long(argc, argv, "f:q", longopts, NULL)) != -1) {
		if (ch == 'q')
			quiet = true;
		else if (cmd_common_opt(&env, ch, optarg) == -1) {
			fprintf(stderr, "usage: dmarcd ingest [-q] [-f FILE] "
			    "[--db URL] PATH|-...\n");
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		fprintf(stderr, "usage: dmarcd ingest [-q] [-f FILE] "
		    "[--db URL] PATH|-...\n");
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	conf_ingest_limits(&env.conf, &lim);
	source_limits_default(&slim);
	slim.max_message_size = lim.unpack.max_message_size;
	agg_global_init();
	unpack_global_init();
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		unpack_global_deinit();
		return rc;
	}

	start = now_seconds();
	memset(&folder, 0, sizeof(folder));
	if (env.conf.ingest_fold_rollups &&
	    folder_start(&env, db, &folder) != 0)
		log_warnx("rollups: no folder; writing them in each batch");
	memset(&t, 0, sizeof(t));
	memset(&all, 0, sizeof(all));
	all.exact = true;
	/* a look ahead for the progress line, only when someone sees it */
	if (!quiet && isatty(fileno(stderr)))
		for (i = 0; i < argc; i++) {
			if (source_open(argv[i], &slim, &src, err,
			    sizeof(err)) == -1)
				continue;
			if (source_estimate(src, &est, err, sizeof(err)) == 0) {
				all.messages += est.messages;
				all.bytes += est.bytes;
				all.exact = all.exact && est.exact;
			}
			source_free(&src);
		}
	progress_init(&prog, quiet ? NULL : stderr, &all);
	if (quiet)
		prog.enabled = false;
	memset(&batch, 0, sizeof(batch));
	batch.db = db;
	db_batch_init(&batch.tx, db);
	for (i = 0; i < argc && status != EXIT_TEMPFAIL; i++) {
		if (source_open(argv[i], &slim, &src, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			t.failed++;
			continue;
		}
		/* the batch spans sources: its done handles outlive them */
		if ((rc = ingest_source(&batch, &lim, src, &prog, &t)) != 0)
			status = rc;
		source_free(&src);
	}
	if (status != EXIT_TEMPFAIL && (rc = batch_commit(&batch, &t)) != 0)
		status = rc;
	rollup_folder_stop(&folder);
	/* rollups an LMTP daemon (or the folder) queued and could not fold */
	if (status != EXIT_TEMPFAIL)
		ingest_fold_queued(db);
	db_batch_deinit(&batch.tx);
	free(batch.v);
	progress_end(&prog);
	secs = now_seconds() - start;
	printf("ingest: %llu messages, %llu reports, %llu records, "
	    "%llu duplicates, %llu quarantined, %llu failed, %.2f s "
	    "(%.0f records/s)\n", (unsigned long long)t.messages,
	    (unsigned long long)t.reports, (unsigned long long)t.records,
	    (unsigned long long)t.duplicates,
	    (unsigned long long)t.quarantined, (unsigned long long)t.failed,
	    secs, secs > 0 ? t.records / secs : 0.0);
	if (t.forensic + t.tlsrpt > 0)
		printf("ingest: %llu failure reports, %llu TLS reports\n",
		    (unsigned long long)t.forensic,
		    (unsigned long long)t.tlsrpt);
	db_close(&db);
	cmd_env_free(&env);
	unpack_global_deinit();
	if (status == EXIT_OK && t.failed > 0)
		status = EXIT_INPUT;
	return status;
}

/*
 * ingest_loop.c - the one ingest loop (see ingest_loop.h): a source's
 * messages into group commits, each released after its COMMIT.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "ingest_loop.h"

/* Group commit: a transaction holds at most this many messages, bytes of
 * messages, or seconds, whichever comes first.  One COMMIT (one fsync)
 * then serves many messages; the bytes of a message are not held after it
 * is stored, only what done needs (source_hold). */
#define LOOP_BATCH_MESSAGES	1000
#define LOOP_BATCH_BYTES	(64 << 20)
#define LOOP_BATCH_SECONDS	0.5

/* A message stored in the open transaction, waiting for its COMMIT; what
 * storing it again alone takes, should the COMMIT be refused for good. */
struct ingest_pending {
	struct source_pending	*done;
	char			*note;	/* logged after the COMMIT */
	char			*origin;
	char			*data;	/* a copy; NULL for an unkept row */
	size_t			 len;
	char			*unkept;	/* that row's reason */
};

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

void
ingest_loop_init(struct ingest_loop *l, struct db *db,
    const struct message_limits *lim)
{
	memset(l, 0, sizeof(*l));
	l->db = db;
	l->lim = lim;
	l->tag = "";
	db_batch_init(&l->tx, db);
}

static void
pending_free(struct ingest_pending *p)
{
	source_pending_free(&p->done);
	free(p->note);
	free(p->origin);
	free(p->data);
	free(p->unkept);
	memset(p, 0, sizeof(*p));
}

static void
totals_count(struct ingest_totals *t, size_t len,
    const struct db_message_result *res)
{
	t->messages++;
	t->bytes += len;
	t->reports += res->reports;
	t->records += res->records;
	t->duplicates += res->duplicates + res->forensic_duplicates +
	    res->tlsrpt_duplicates;
	t->forensic += res->forensic;
	t->tlsrpt += res->tlsrpt;
	if (res->quarantined)
		t->quarantined++;
}

/* Forgets the batch's messages without done: they stay where they are. */
static void
batch_drop(struct ingest_loop *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		pending_free(&l->v[i]);
	l->n = 0;
	l->bytes = 0;
	memset(&l->t, 0, sizeof(l->t));
}

void
ingest_loop_deinit(struct ingest_loop *l)
{
	if (l->tx.open)
		db_batch_rollback(&l->tx);
	batch_drop(l);
	db_batch_deinit(&l->tx);
	free(l->v);
	l->v = NULL;
	l->size = 0;
}

static int
batch_open(struct ingest_loop *l)
{
	char	err[1024];

	if (l->tx.open)
		return 0;
	if (l->connect != NULL) {
		if (l->connect(l->arg, &l->db, err, sizeof(err)) != 0) {
			snprintf(l->err, sizeof(l->err), "%s", err);
			return DB_ETEMP;
		}
		if (l->tx.db != l->db) {
			db_batch_deinit(&l->tx);
			db_batch_init(&l->tx, l->db);
		}
	}
	if (db_batch_begin(&l->tx, err, sizeof(err)) != 0) {
		snprintf(l->err, sizeof(l->err), "%s", err);
		return DB_ETEMP;
	}
	l->started = now_seconds();
	return 0;
}

/* What is logged of a message once committed: the quarantined only, or
 * (log_each) every one. */
static char *
batch_note(const struct ingest_loop *l, const char *origin,
    const struct db_message_result *res)
{
	char	*note = NULL;
	int	 r;

	if (res->quarantined && (!l->log_each ||
	    res->reports + res->duplicates == 0))
		r = asprintf(&note, "%s: quarantined: %s", origin,
		    res->reason);
	else if (l->log_each)
		r = asprintf(&note, "%s: %u reports, %u duplicates%s", origin,
		    res->reports, res->duplicates,
		    res->quarantined ? ", quarantined" : "");
	else
		return NULL;
	return r == -1 ? NULL : note;
}

/* A row for a message over max_message_size, in a transaction of its
 * own. */
static int
unkept_alone(struct ingest_loop *l, const struct ingest_pending *p,
    struct db_message_result *res, char *err, size_t errlen)
{
	struct db_batch	tx;
	int		rc;

	memset(res, 0, sizeof(*res));
	snprintf(res->reason, sizeof(res->reason), "%s", p->unkept);
	res->quarantined = true;
	db_batch_init(&tx, l->db);
	if ((rc = db_batch_begin(&tx, err, errlen)) == 0 &&
	    (rc = db_batch_unkept(&tx, p->len, p->origin, p->unkept, err,
	    errlen)) == 0)
		rc = db_batch_commit(&tx, err, errlen);
	else
		db_batch_rollback(&tx);
	db_batch_deinit(&tx);
	return rc;
}

/*
 * The COMMIT was refused for good (the batch's totals or rollups: a
 * report's counts that fit a bigint alone, not summed): nothing of the
 * batch is stored.  Store its messages again one transaction each, so that
 * deliver_message quarantines the one the database refuses and the others
 * are stored, instead of the whole batch failing on every run.
 */
static int
batch_redo(struct ingest_loop *l, struct ingest_totals *t, const char *why)
{
	struct db_message_result	 res;
	struct ingest_pending		*p;
	char				 err[1024], *note;
	size_t				 i;
	int				 rc;

	log_warnx("%sa transaction of %zu messages refused (%s): storing "
	    "them one by one", l->tag, l->n, why);
	for (i = 0; i < l->n; i++) {
		p = &l->v[i];
		if (p->data != NULL)
			rc = deliver_message(l->db, l->lim, p->data, p->len,
			    p->origin, &res, err, sizeof(err));
		else
			rc = unkept_alone(l, p, &res, err, sizeof(err));
		if (rc == DB_ETEMP) {
			snprintf(l->err, sizeof(l->err), "%s and the %zu "
			    "messages after it stay where they are: %s",
			    p->origin, l->n - i - 1, err);
			batch_drop(l);
			return DB_ETEMP;
		}
		if (rc != 0) {
			/* not even its quarantine row: it stays */
			log_warnx("%s%s: %s", l->tag, p->origin, err);
			t->failed++;
			pending_free(p);
			continue;
		}
		totals_count(t, p->data != NULL ? p->len : 0, &res);
		if ((note = batch_note(l, p->origin, &res)) != NULL) {
			log_info("%s%s", l->tag, note);
			free(note);
		}
		if (source_pending_done(&p->done, err, sizeof(err)) == -1)
			log_warnx("%s%s", l->tag, err);
		pending_free(p);
	}
	batch_drop(l);
	return 0;
}

int
ingest_loop_commit(struct ingest_loop *l, struct ingest_totals *t)
{
	char	err[1024];
	size_t	i;
	int	rc;

	if (!l->tx.open)
		return 0;
	if ((rc = db_batch_commit(&l->tx, err, sizeof(err))) == DB_EPERM)
		return batch_redo(l, t, err);
	if (rc != 0) {
		snprintf(l->err, sizeof(l->err), "the last %zu messages stay "
		    "where they are: %s", l->n, err);
		batch_drop(l);
		return DB_ETEMP;
	}
	for (i = 0; i < l->n; i++) {
		if (l->v[i].note != NULL)
			log_info("%s%s", l->tag, l->v[i].note);
		if (source_pending_done(&l->v[i].done, err, sizeof(err)) == -1)
			log_warnx("%s%s", l->tag, err);
	}
	totals_add(t, &l->t);
	batch_drop(l);
	return 0;
}

/* Rolls the batch back after the database failed. */
static int
batch_abort(struct ingest_loop *l, const char *origin, const char *err)
{
	snprintf(l->err, sizeof(l->err), "%s and the %zu messages before it "
	    "in this transaction stay where they are: %s", origin, l->n, err);
	if (l->tx.open)
		db_batch_rollback(&l->tx);
	batch_drop(l);
	return DB_ETEMP;
}

/* Adds a stored message (its done handle taken) to the batch. */
static void
batch_push(struct ingest_loop *l, struct source_pending **done,
    const struct source_msg *msg, const struct db_message_result *res)
{
	size_t			 len = msg->error == NULL ? msg->len : 0;
	struct ingest_pending	*v, *p;

	if (l->n == l->size) {
		if ((v = reallocarray(l->v, l->size ? l->size * 2 : 64,
		    sizeof(*v))) == NULL)
			fatalx("out of memory");
		l->v = v;
		l->size = l->size ? l->size * 2 : 64;
	}
	p = &l->v[l->n++];
	memset(p, 0, sizeof(*p));
	p->done = *done;
	*done = NULL;
	p->note = batch_note(l, msg->origin, res);
	if ((p->origin = strdup(msg->origin)) == NULL)
		fatalx("out of memory");
	p->len = msg->len;
	if (msg->error != NULL) {
		if ((p->unkept = strdup(res->reason)) == NULL)
			fatalx("out of memory");
	} else {
		if ((p->data = malloc(msg->len + 1)) == NULL)
			fatalx("out of memory");
		memcpy(p->data, msg->data, msg->len);
		p->data[msg->len] = '\0';
	}
	l->bytes += len;
	totals_count(&l->t, len, res);
}

/* A deadlock rolled msg back alone: commit the rest, then msg in a
 * transaction of its own (deliver_message retries). */
static int
ingest_alone(struct ingest_loop *l, const struct source_msg *msg,
    struct source_pending **done, struct ingest_totals *t)
{
	struct db_message_result	 res;
	char				 err[1024];
	int				 rc;

	if ((rc = ingest_loop_commit(l, t)) != 0) {
		source_pending_free(done);
		return rc;
	}
	rc = deliver_message(l->db, l->lim, msg->data, msg->len, msg->origin,
	    &res, err, sizeof(err));
	if (rc == DB_ETEMP) {
		source_pending_free(done);
		return batch_abort(l, msg->origin, err);
	}
	if (rc != 0) {
		log_warnx("%s%s: %s", l->tag, msg->origin, err);
		t->failed++;
		source_pending_free(done);
		return 0;
	}
	/* committed already: release it now */
	batch_push(l, done, msg, &res);
	if (l->v[0].note != NULL)
		log_info("%s%s", l->tag, l->v[0].note);
	if (source_pending_done(&l->v[0].done, err, sizeof(err)) == -1)
		log_warnx("%s%s", l->tag, err);
	totals_add(t, &l->t);
	batch_drop(l);
	return 0;
}

/* Into the open batch: a row for a message over max_message_size (a
 * permanent error item), else the message itself. */
static int
batch_message(struct ingest_loop *l, const struct source_msg *msg,
    struct db_message_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	if (msg->error == NULL)
		return deliver_batch(&l->tx, l->lim, msg->data, msg->len,
		    msg->origin, res, err, errlen);
	/* a row saying so, then done, so it does not wait forever */
	snprintf(res->reason, sizeof(res->reason), "%s; bytes not kept",
	    msg->error);
	res->quarantined = true;
	return db_batch_unkept(&l->tx, msg->len, msg->origin, res->reason,
	    err, errlen);
}

int
ingest_loop_source(struct ingest_loop *l, struct source *src,
    struct ingest_totals *t)
{
	const struct source_msg		*msg;
	struct db_message_result	 res;
	struct source_pending		*done;
	char				 err[1024];
	int				 rc;

	for (;;) {
		if ((rc = source_next(src, &msg, err, sizeof(err))) == 0)
			return 0;
		if (rc == -1) {
			log_warnx("%s%s", l->tag, err);
			t->failed++;
			return 0;
		}
		if (msg->error != NULL && msg->temporary) {
			/* left in place: nothing stored, nothing lost */
			t->failed++;
			if (l->held != NULL)
				l->held(l->arg, msg);
			else
				log_warnx("%s%s: %s", l->tag, msg->origin,
				    msg->error);
			continue;
		}
		if (source_hold(src, msg, &done, err, sizeof(err)) == -1) {
			log_warnx("%s%s", l->tag, err);
			t->failed++;
			continue;
		}
		if ((rc = batch_open(l)) != 0) {
			source_pending_free(&done);
			return rc;
		}
		rc = batch_message(l, msg, &res, err, sizeof(err));
		if (rc == DB_ETEMP) {
			source_pending_free(&done);
			return batch_abort(l, msg->origin, err);
		}
		if (rc == DB_ERETRY) {
			if ((rc = ingest_alone(l, msg, &done, t)) != 0)
				return rc;
		} else if (rc != 0) {
			/* not even its quarantine row: it stays */
			log_warnx("%s%s: %s", l->tag, msg->origin, err);
			t->failed++;
			source_pending_free(&done);
		} else
			batch_push(l, &done, msg, &res);
		if (l->tx.open && (l->n >= LOOP_BATCH_MESSAGES ||
		    l->bytes >= LOOP_BATCH_BYTES ||
		    now_seconds() - l->started >= LOOP_BATCH_SECONDS) &&
		    (rc = ingest_loop_commit(l, t)) != 0)
			return rc;
		if (l->prog != NULL)
			progress_update(l->prog, t->messages + l->t.messages,
			    t->reports + l->t.reports, t->bytes + l->t.bytes);
	}
}

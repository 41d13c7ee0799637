/*
 * lmtp_watch.c - `dmarcd lmtp --maildir`: one thread follows those
 * Maildirs with inotify (and a rescan every minute) and ingests what lands
 * in new/ by `dmarcd ingest`'s rule (ingest/source.h): a message leaves
 * new/ only after its COMMIT, stored or quarantined; what cannot be read
 * now stays for the next pass.  Has its own database connection; touches
 * struct daemon only through runconf_get()/runconf_put() and its stop fd.
 */
#include "config.h"

#include <sys/inotify.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "source.h"
#include "lmtp_daemon.h"

#define WATCH_RESCAN_MS		60000	/* Maildir rescan without events */
#define WATCH_RETRY_MS		5000	/* after the database failed */
#define WATCH_HELD_MAX		1024	/* unreadable messages remembered */

/* --- Maildir watching ------------------------------------------------- */

/*
 * The messages left in new/ for a temporary error (unreadable): warned
 * about the first time, then tried again quietly on each pass, so a
 * message that waits for its permissions does not fill the log.  The
 * names of the last complete pass; past WATCH_HELD_MAX they are not
 * remembered (and warned about on each pass).
 */
struct watch_held {
	char	**name;
	size_t	  n;
};

static bool
held_has(const struct watch_held *h, const char *name)
{
	size_t	i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->name[i], name) == 0)
			return true;
	return false;
}

static void
held_add(struct watch_held *h, const char *name)
{
	if (h->name == NULL &&
	    (h->name = calloc(WATCH_HELD_MAX, sizeof(*h->name))) == NULL)
		return;
	if (h->n < WATCH_HELD_MAX && !held_has(h, name) &&
	    (h->name[h->n] = strdup(name)) != NULL)
		h->n++;
}

static void
held_free(struct watch_held *h)
{
	while (h->n > 0)
		free(h->name[--h->n]);
	free(h->name);
	h->name = NULL;
}

/* A message over max_message_size (a permanent error item): a quarantine
 * row with its size and reason, bytes not kept, as `dmarcd ingest` writes,
 * so that it leaves new/ instead of being read again on every pass. */
static int
watch_unkept(struct db *db, const struct source_msg *msg,
    struct db_message_result *res, char *err, size_t errlen)
{
	struct db_batch	tx;
	int		rc;

	memset(res, 0, sizeof(*res));
	snprintf(res->reason, sizeof(res->reason), "%s; bytes not kept",
	    msg->error);
	res->quarantined = true;
	db_batch_init(&tx, db);
	if ((rc = db_batch_begin(&tx, err, errlen)) == 0 &&
	    (rc = db_batch_unkept(&tx, msg->len, msg->origin, res->reason, err,
	    errlen)) == 0)
		rc = db_batch_commit(&tx, err, errlen);
	else {
		db_batch_rollback(&tx);
		/* a deadlock too: the message stays for the next pass */
		rc = rc == DB_EPERM ? DB_EPERM : DB_ETEMP;
	}
	db_batch_deinit(&tx);
	return rc;
}

/* Ingests what one Maildir holds, by `dmarcd ingest`'s rule: a temporary
 * error item stays where it is, a permanent one and a message the
 * database refuses for good are quarantined and done.  Returns DB_ETEMP
 * when the database went away (the message stays in new/ for the next
 * pass).  held: the last pass's messages with a temporary error; now
 * those of this pass. */
static int
watch_ingest(struct daemon *d, const char *path, struct db **db,
    unsigned *gen, const struct watch_held *held, struct watch_held *now)
{
	const struct source_msg		*msg;
	struct db_message_result	 res;
	struct source_limits		 slim;
	struct source			*src;
	struct runconf			*rc = runconf_get(d);
	char				 err[1024];
	int				 r, status = 0;

	source_limits_default(&slim);
	slim.max_message_size = rc->lim.unpack.max_message_size;
	if (source_open(path, &slim, &src, err, sizeof(err)) == -1) {
		log_warnx("watch: %s", err);
		runconf_put(d, rc);
		return 0;
	}
	while ((r = source_next(src, &msg, err, sizeof(err))) == 1) {
		if (msg->error != NULL && msg->temporary) {
			/* stays, as `dmarcd ingest` leaves it for the next
			 * run: tried again on the next pass */
			if (held_has(held, msg->origin))
				log_debug("watch: %s: %s", msg->origin,
				    msg->error);
			else
				log_warnx("watch: %s: %s (left in new/, tried "
				    "again on each pass)", msg->origin,
				    msg->error);
			held_add(now, msg->origin);
			continue;
		}
		if ((r = store_connect(d, rc, db, gen, err,
		    sizeof(err))) == 0) {
			if (msg->error != NULL)
				r = watch_unkept(*db, msg, &res, err,
				    sizeof(err));
			else
				r = deliver_message(*db, &rc->lim, msg->data,
				    msg->len, msg->origin, &res, err,
				    sizeof(err));
		}
		if (r != 0)
			db_close(db);
		if (r == DB_ETEMP) {
			log_warnx("watch: database unavailable, %s stays: %s",
			    msg->origin, err);
			status = DB_ETEMP;
			break;
		}
		if (r != 0) {
			log_warnx("watch: %s: %s", msg->origin, err);
			continue;
		}
		if (res.quarantined && res.reports + res.duplicates == 0)
			log_info("watch: %s: quarantined: %s", msg->origin,
			    res.reason);
		else
			log_info("watch: %s: %u reports, %u duplicates%s",
			    msg->origin, res.reports, res.duplicates,
			    res.quarantined ? ", quarantined" : "");
		if (source_done(src, msg, err, sizeof(err)) == -1)
			log_warnx("watch: %s", err);
	}
	if (r == -1)
		log_warnx("watch: %s", err);
	source_free(&src);
	runconf_put(d, rc);
	return status;
}

void *
watch_main(void *arg)
{
	struct daemon	*d = arg;
	struct pollfd	 pfd[2];
	struct db	*db = NULL;
	struct watch_held held, now;
	char		 path[4096], evbuf[4096];
	unsigned	 i, gen = 0;
	size_t		 k;
	int		 in, wait_ms = 0, status;

	memset(&held, 0, sizeof(held));
	if ((in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warnx("watch: inotify: %s", strerror(errno));
		return NULL;
	}
	for (i = 0; i < d->set->nmaildirs; i++) {
		snprintf(path, sizeof(path), "%s/new", d->set->maildirs[i]);
		/* deliveries are renamed from tmp/ into new/ */
		if (inotify_add_watch(in, path, IN_MOVED_TO | IN_CLOSE_WRITE |
		    IN_ONLYDIR) == -1)
			log_warnx("watch: %s: %s", path, strerror(errno));
		else
			log_info("watch: following %s", d->set->maildirs[i]);
	}
	pfd[0].fd = in;
	pfd[0].events = POLLIN;
	pfd[1].fd = d->watch_stopfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, wait_ms) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			break;
		while (read(in, evbuf, sizeof(evbuf)) > 0)
			;	/* which file does not matter: new/ is read */
		status = 0;
		memset(&now, 0, sizeof(now));
		for (i = 0; i < d->set->nmaildirs && status == 0; i++)
			status = watch_ingest(d, d->set->maildirs[i], &db, &gen,
			    &held, &now);
		/* a pass cut short has not seen them all: keep the rest */
		for (k = 0; status != 0 && k < held.n; k++)
			held_add(&now, held.name[k]);
		held_free(&held);
		held = now;
		wait_ms = status == DB_ETEMP ? WATCH_RETRY_MS : WATCH_RESCAN_MS;
	}
	held_free(&held);
	close(in);
	db_close(&db);
	return NULL;
}


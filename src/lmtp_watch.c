/*
 * lmtp_watch.c - `dmarcd lmtp --maildir`: one thread follows those
 * Maildirs with inotify (and a rescan every minute) and ingests what lands
 * in new/ like `dmarcd ingest` does (ingest/source.h); a message leaves
 * new/ only after its COMMIT.  Has its own database connection; touches
 * struct daemon only through runconf_get()/runconf_put() and its stop fd.
 */
#include "config.h"

#include <sys/inotify.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "source.h"
#include "lmtp_daemon.h"

#define WATCH_RESCAN_MS		60000	/* Maildir rescan without events */
#define WATCH_RETRY_MS		5000	/* after the database failed */

/* --- Maildir watching ------------------------------------------------- */

/* Ingests what one Maildir holds.  Returns DB_ETEMP when the database went
 * away (the message stays in new/ for the next pass). */
static int
watch_ingest(struct daemon *d, const char *path, struct db **db,
    unsigned *gen)
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
		if (msg->error != NULL) {
			log_warnx("watch: %s: %s", msg->origin, msg->error);
			continue;
		}
		if ((r = store_connect(d, rc, db, gen, err,
		    sizeof(err))) == 0)
			r = db_ingest_message(*db, &rc->lim, msg->data,
			    msg->len, msg->origin, &res, err, sizeof(err));
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
		log_info("watch: %s: %u reports, %u duplicates%s",
		    msg->origin, res.reports, res.duplicates,
		    res.quarantined ? ", quarantined" : "");
		if (source_done(src, msg, res.reports + res.duplicates > 0 ?
		    SOURCE_STORED : SOURCE_QUARANTINED, err, sizeof(err)) == -1)
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
	char		 path[4096], evbuf[4096];
	unsigned	 i, gen = 0;
	int		 in, wait_ms = 0, status;

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
		for (i = 0; i < d->set->nmaildirs && status == 0; i++)
			status = watch_ingest(d, d->set->maildirs[i], &db, &gen);
		wait_ms = status == DB_ETEMP ? WATCH_RETRY_MS : WATCH_RESCAN_MS;
	}
	close(in);
	db_close(&db);
	return NULL;
}


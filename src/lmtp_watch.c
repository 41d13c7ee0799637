/*
 * lmtp_watch.c - `dmarcd lmtp --maildir`: one thread follows those
 * Maildirs with inotify (and a rescan every minute) and ingests what lands
 * in new/ by `dmarcd ingest`'s loop (ingest_loop.h): a message leaves
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
#include "ingest_loop.h"
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

/* One pass over a Maildir: the daemon, its connection, the messages held
 * on the last pass and those held on this one. */
struct watch_pass {
	struct daemon		*d;
	struct runconf		*rc;
	struct db		**db;
	unsigned		*gen;
	const struct watch_held	*held;
	struct watch_held	*now;
};

/* A message the daemon cannot read now stays in new/, as `dmarcd ingest`
 * leaves it: warned about once, then tried again quietly on each pass. */
static void
watch_held_msg(void *arg, const struct source_msg *msg)
{
	struct watch_pass	*p = arg;

	if (held_has(p->held, msg->origin))
		log_debug("watch: %s: %s", msg->origin, msg->error);
	else
		log_warnx("watch: %s: %s (left in new/, tried again on each "
		    "pass)", msg->origin, msg->error);
	held_add(p->now, msg->origin);
}

/* The connection, opened only when a message is to be stored (an idle
 * watcher does not warn while the database is down). */
static int
watch_connect(void *arg, struct db **db_r, char *err, size_t errlen)
{
	struct watch_pass	*p = arg;
	int			 r;

	if ((r = store_connect(p->d, p->rc, p->db, p->gen, err,
	    errlen)) != 0)
		return DB_ETEMP;
	*db_r = *p->db;
	return r;
}

/* Ingests what one Maildir holds by the one ingest loop (ingest_loop.h),
 * `dmarcd ingest`'s rule and group commits.  Returns DB_ETEMP when the
 * database went away (the messages stay in new/ for the next pass). */
static int
watch_ingest(struct daemon *d, const char *path, struct db **db,
    unsigned *gen, const struct watch_held *held, struct watch_held *now)
{
	struct watch_pass	 pass;
	struct ingest_loop	 loop;
	struct ingest_totals	 t;
	struct source_limits	 slim;
	struct source		*src;
	struct runconf		*rc = runconf_get(d);
	char			 err[1024];
	int			 r;

	source_limits_default(&slim);
	slim.max_message_size = rc->lim.unpack.max_message_size;
	if (source_open(path, &slim, &src, err, sizeof(err)) == -1) {
		log_warnx("watch: %s", err);
		runconf_put(d, rc);
		return 0;
	}
	pass = (struct watch_pass){ d, rc, db, gen, held, now };
	memset(&t, 0, sizeof(t));
	ingest_loop_init(&loop, *db, &rc->lim);
	loop.log_each = true;
	loop.held = watch_held_msg;
	loop.connect = watch_connect;
	loop.arg = &pass;
	loop.tag = "watch: ";
	if ((r = ingest_loop_source(&loop, src, &t)) == 0)
		r = ingest_loop_commit(&loop, &t);
	ingest_loop_deinit(&loop);
	if (r != 0) {
		log_warnx("watch: database unavailable, trying again in %d s: "
		    "%s", WATCH_RETRY_MS / 1000, loop.err);
		db_close(db);	/* the connection may be broken */
	}
	source_free(&src);
	runconf_put(d, rc);
	return r;
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


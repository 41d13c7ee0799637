/*
 * lmtp_pool.c - `dmarcd lmtp`'s delivery pool: a fixed number of threads,
 * each with its own database connection, store the messages the sessions
 * hand them (a job each; deliver_message, which quarantines what the
 * database refuses for good), and hand the jobs back to the event loop
 * through d->done and an eventfd.  Also the counted
 * configuration (a reload swaps it while threads hold the old one) and the
 * start and stop of every thread of the daemon (the Maildir watcher and
 * the rollup folder too).
 *
 * Touches struct daemon only under d->mu (queue, done, rc) and open_mu;
 * never a session: a job's reply is the event loop's (lmtp_session.c).
 */
#include "config.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "lmtp_daemon.h"

/* Adds what the deliveries queued to the rollups every half second and
 * once more at shutdown, so the dashboard is at most a moment behind. */
#define LMTP_FOLD_MS	500

/* --- configuration, counted ------------------------------------------- */

int
runconf_load(const struct cmd_env *proto, unsigned gen, struct runconf **rc_r)
{
	struct runconf	*rc;
	int		 r;

	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		fatalx("out of memory");
	/* the command line as given at start, over the file as it is now */
	rc->env.conf_file = proto->conf_file;
	rc->env.db_url = proto->db_url;
	memcpy(rc->env.args, proto->args, sizeof(rc->env.args));
	rc->env.nargs = proto->nargs;
	if ((r = cmd_env_load(&rc->env)) != 0) {
		free(rc);
		return r;
	}
	conf_ingest_limits(&rc->env.conf, &rc->lim);
	rc->gen = gen;
	rc->refs = 1;
	*rc_r = rc;
	return 0;
}

void
runconf_unref(struct runconf *rc)
{
	if (rc != NULL && --rc->refs == 0) {
		cmd_env_free(&rc->env);
		free(rc);
	}
}

struct runconf *
runconf_get(struct daemon *d)
{
	struct runconf	*rc;

	pthread_mutex_lock(&d->mu);
	rc = d->rc;
	rc->refs++;
	pthread_mutex_unlock(&d->mu);
	return rc;
}

void
runconf_put(struct daemon *d, struct runconf *rc)
{
	pthread_mutex_lock(&d->mu);
	runconf_unref(rc);
	pthread_mutex_unlock(&d->mu);
}

/* Keeps *db connected to rc's database; reconnects after a reload or a
 * failure.  Returns db_open's status. */
int
store_connect(struct daemon *d, struct runconf *rc, struct db **db,
    unsigned *gen, char *err, size_t errlen)
{
	int	r;

	if (*db != NULL && *gen == rc->gen)
		return 0;
	db_close(db);
	pthread_mutex_lock(&d->open_mu);
	r = db_open(&rc->env.dbc, true, db, err, errlen);
	pthread_mutex_unlock(&d->open_mu);
	if (r == 0)
		*gen = rc->gen;
	return r;
}

/* --- delivery threads ------------------------------------------------- */

static void
worker_deliver(struct daemon *d, struct db **db, unsigned *gen,
    struct job *j)
{
	struct runconf	*rc = runconf_get(d);

	j->rc = store_connect(d, rc, db, gen, j->err, sizeof(j->err));
	if (j->rc == 0) {
		/* concurrent deliveries queue their rollups (rollup_folder.c) */
		(*db)->rollup_later = true;
		j->rc = deliver_message(*db, &rc->lim, j->data, j->len,
		    j->source, &j->res, j->err, sizeof(j->err));
	}
	if (j->rc != 0)
		db_close(db);	/* the connection may be broken: start over */
	runconf_put(d, rc);
}

static void *
worker_main(void *arg)
{
	struct daemon	*d = arg;
	struct db	*db = NULL;
	struct job	*j;
	unsigned	 gen = 0;
	uint64_t	 one = 1;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (d->queue == NULL && !d->workers_stop)
			pthread_cond_wait(&d->cv, &d->mu);
		if (d->queue == NULL)
			break;
		j = d->queue;
		if ((d->queue = j->next) == NULL)
			d->queue_tail = &d->queue;
		pthread_mutex_unlock(&d->mu);

		worker_deliver(d, &db, &gen, j);

		pthread_mutex_lock(&d->mu);
		j->next = d->done;
		d->done = j;
		/* a full counter fails, and the loop wakes anyway */
		(void)!write(d->donefd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&d->mu);
	db_close(&db);
	return NULL;
}

/* The rollup folder's connection follows a reload like a delivery
 * thread's; while the database is down its rounds are skipped quietly. */
static int
fold_connect(void *arg, struct db **db_r)
{
	struct daemon	*d = arg;
	struct runconf	*rc = runconf_get(d);
	char		 err[512];
	int		 r;

	r = store_connect(d, rc, db_r, &d->fold_gen, err, sizeof(err));
	runconf_put(d, rc);
	return r;
}

void
daemon_start_threads(struct daemon *d)
{
	unsigned	i;
	int		r;

	for (i = 0; i < d->set->workers; i++) {
		if ((r = pthread_create(&d->threads[i], NULL, worker_main,
		    d)) != 0)
			fatalx("pthread_create: %s", strerror(r));
		d->nthreads++;
	}
	memset(&d->folder, 0, sizeof(d->folder));
	d->folder.interval_ms = LMTP_FOLD_MS;
	d->folder.connect = fold_connect;
	d->folder.arg = d;
	if (rollup_folder_start(&d->folder) != 0)
		fatalx("cannot start the rollup folder");
	if (d->set->nmaildirs > 0) {
		if ((d->watch_stopfd = eventfd(0, EFD_CLOEXEC)) == -1)
			fatalx("eventfd: %s", strerror(errno));
		if ((r = pthread_create(&d->watch_thread, NULL, watch_main,
		    d)) != 0)
			fatalx("pthread_create: %s", strerror(r));
		d->watching = true;
	}
	enrich_thread_start(d);
}

void
daemon_stop_threads(struct daemon *d)
{
	uint64_t	one = 1;
	unsigned	i;

	enrich_thread_stop(d);	/* first: it ends at once */
	pthread_mutex_lock(&d->mu);
	d->workers_stop = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	for (i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	/* after the deliveries: the folder's last round takes theirs */
	rollup_folder_stop(&d->folder);
	if (d->watching) {
		if (write(d->watch_stopfd, &one, sizeof(one)) == -1)
			log_warnx("eventfd: %s", strerror(errno));
		pthread_join(d->watch_thread, NULL);
		close(d->watch_stopfd);
	}
}

/*
 * lmtp_enrich.c - lmtp's background enricher: a thread of its own, with a
 * database connection of its own, running a pass of the enricher
 * (src/enricher.c) at start and every enrich_interval seconds.  Sessions
 * and deliveries never wait on it: it shares nothing with them but the
 * counted configuration, and the rows it writes are not locked while DNS
 * is asked.  A stop ends the pass in progress at once (its unfinished
 * batch stays pending for the next run).
 */
#include "config.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "enricher.h"
#include "lmtp_daemon.h"

/* The enricher for rc's settings, made again after a reload. */
static void
enricher_follow(struct daemon *d, struct runconf *rc,
    struct runconf **cur_rc, struct enricher **e)
{
	struct enricher	*ne = NULL, *old;

	if (*cur_rc == rc && *e != NULL)
		return;
	if (enricher_new(&rc->env.conf, NULL, false, &ne, stderr) == -1)
		log_warnx("enrich: the settings above leave the enricher off");
	pthread_mutex_lock(&d->mu);
	old = d->enricher;
	d->enricher = ne;
	if (d->enrich_quit && ne != NULL)
		enricher_stop(ne);
	rc->refs++;
	pthread_mutex_unlock(&d->mu);
	enricher_free(&old);
	if (*cur_rc != NULL)
		runconf_put(d, *cur_rc);
	*cur_rc = rc;
	*e = ne;
}

static void
enrich_round(struct daemon *d, struct runconf **cur_rc, struct enricher **e,
    struct db **db)
{
	struct enrich_stats	 st;
	struct runconf		*rc = runconf_get(d);
	char			 err[1024];
	int			 r;

	enricher_follow(d, rc, cur_rc, e);
	if (*e != NULL && store_connect(d, rc, db, &d->enrich_gen, err,
	    sizeof(err)) == 0) {
		memset(&st, 0, sizeof(st));
		if ((r = enricher_pass(*e, *db, NULL, NULL, &st, err,
		    sizeof(err))) != 0) {
			log_warnx("%s", err);
			db_close(db);
		} else {
			if (st.reclassified > 0)
				log_info("enrich: the service catalogue or the"
				    " geoip_db files changed: %llu sources to"
				    " classify again",
				    (unsigned long long)st.reclassified);
			if (st.looked_up > 0 || st.classified > 0)
				log_info("enrich: %llu looked up (%llu ok, %llu "
				    "verified), %llu classified",
				    (unsigned long long)st.looked_up,
				    (unsigned long long)st.state[RESOLVER_OK],
				    (unsigned long long)st.verified,
				    (unsigned long long)st.classified);
		}
	}
	runconf_put(d, rc);
}

static void *
enrich_main(void *arg)
{
	struct daemon	*d = arg;
	struct runconf	*cur_rc = NULL, *rc;
	struct enricher	*e = NULL;
	struct db	*db = NULL;
	struct pollfd	 pfd;
	int		 ms;

	pfd.fd = d->enrich_stopfd;
	pfd.events = POLLIN;
	for (;;) {
		enrich_round(d, &cur_rc, &e, &db);
		rc = runconf_get(d);
		ms = (int)rc->env.conf.enrich_interval * 1000;
		runconf_put(d, rc);
		if (poll(&pfd, 1, ms) > 0)
			break;
	}
	pthread_mutex_lock(&d->mu);
	d->enricher = NULL;
	pthread_mutex_unlock(&d->mu);
	enricher_free(&e);
	if (cur_rc != NULL)
		runconf_put(d, cur_rc);
	db_close(&db);
	return NULL;
}

void
enrich_thread_start(struct daemon *d)
{
	int	r;

	d->enrich_quit = false;
	d->enricher = NULL;
	if ((d->enrich_stopfd = eventfd(0, EFD_CLOEXEC)) == -1)
		fatalx("eventfd: %s", strerror(errno));
	if ((r = pthread_create(&d->enrich_thread, NULL, enrich_main, d)) != 0)
		fatalx("pthread_create: %s", strerror(r));
	d->enriching = true;
}

void
enrich_thread_stop(struct daemon *d)
{
	uint64_t	one = 1;

	if (!d->enriching)
		return;
	pthread_mutex_lock(&d->mu);
	d->enrich_quit = true;
	if (d->enricher != NULL)
		enricher_stop(d->enricher);
	pthread_mutex_unlock(&d->mu);
	if (write(d->enrich_stopfd, &one, sizeof(one)) == -1)
		log_warnx("eventfd: %s", strerror(errno));
	pthread_join(d->enrich_thread, NULL);
	close(d->enrich_stopfd);
	d->enriching = false;
}

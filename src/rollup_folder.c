/*
 * rollup_folder.c - the rollup folder: a thread with a database
 * connection of its own that adds what deliveries queued (sql/008) to the
 * rollups.  Touches struct daemon only through runconf_get()/runconf_put()
 * and its stop fd.
 */
#include "config.h"

#include <poll.h>
#include <stdbool.h>

#include "lib.h"
#include "lmtp_daemon.h"

/* Adds what the deliveries queued to the rollups (sql/008), every half
 * second and once more at shutdown, so the dashboard is at most a moment
 * behind while deliveries never wait on each other's rollup rows. */
void *
fold_main(void *arg)
{
	struct daemon	*d = arg;
	struct db	*db = NULL;
	struct runconf	*rc;
	struct pollfd	 pfd;
	unsigned	 gen = 0;
	char		 err[512];
	bool		 stop = false;

	pfd.fd = d->fold_stopfd;
	pfd.events = POLLIN;
	while (!stop) {
		if (poll(&pfd, 1, 500) > 0)
			stop = true;
		rc = runconf_get(d);
		if (store_connect(d, rc, &db, &gen, err, sizeof(err)) == 0 &&
		    db_rollup_drain(db, err, sizeof(err)) != 0) {
			log_warnx("rollups: %s", err);
			db_close(&db);
		}
		runconf_put(d, rc);
	}
	db_close(&db);
	return NULL;
}


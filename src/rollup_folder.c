/*
 * rollup_folder.c - the one rollup folder, for `dmarcd ingest`
 * (ingest_fold_rollups) and `dmarcd lmtp`: a thread that drains the rollup
 * queue (table rollup_queue, by db_rollup_drain) on a connection of its
 * own, and at its start and hourly makes next month's partitions ahead
 * (db_partitions_ahead).  Touches only that connection, its stop fd and
 * what the caller's connect callback touches.
 */
#include "config.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "db.h"
#include "rollup_folder.h"

/* how often the folder makes this and next month's partitions ahead, and
 * again after a failure (a lock not had) */
#define FOLDER_PARTITIONS_S	3600
#define FOLDER_RETRY_S		60

static void *
folder_main(void *arg)
{
	struct rollup_folder	*f = arg;
	struct pollfd		 pfd;
	char			 err[512];
	bool			 stop = false;
	double			 ahead = 0;	/* when next, monotonic */

	pfd.fd = f->stopfd;
	pfd.events = POLLIN;
	while (!stop) {
		if (poll(&pfd, 1, (int)f->interval_ms) > 0)
			stop = true;	/* after one more drain */
		if (f->connect != NULL && f->connect(f->arg, &f->db) != 0)
			continue;
		if (f->db == NULL)
			continue;	/* gave up: the caller folds the rest */
		if (now_seconds() >= ahead) {
			/* next month's first report then finds them made */
			ahead = now_seconds() + FOLDER_PARTITIONS_S;
			if (db_partitions_ahead(f->db, err, sizeof(err)) != 0) {
				log_warnx("partitions ahead: %s", err);
				ahead = now_seconds() + FOLDER_RETRY_S;
			}
		}
		if (db_rollup_drain(f->db, err, sizeof(err)) != 0) {
			/* what is left stays queued for the next drain */
			log_warnx("%s", err);	/* "rollups: ..." */
			db_close(&f->db);
		}
	}
	db_close(&f->db);
	return NULL;
}

int
rollup_folder_start(struct rollup_folder *f)
{
	int	r;

	f->running = false;
	if ((f->stopfd = eventfd(0, EFD_CLOEXEC)) == -1) {
		log_warnx("eventfd: %s", strerror(errno));
		db_close(&f->db);
		return -1;
	}
	if ((r = pthread_create(&f->thread, NULL, folder_main, f)) != 0) {
		log_warnx("pthread_create: %s", strerror(r));
		close(f->stopfd);
		db_close(&f->db);
		return -1;
	}
	f->running = true;
	return 0;
}

void
rollup_folder_stop(struct rollup_folder *f)
{
	uint64_t	one = 1;

	if (!f->running)
		return;
	if (write(f->stopfd, &one, sizeof(one)) == -1)
		log_warnx("eventfd: %s", strerror(errno));
	pthread_join(f->thread, NULL);
	close(f->stopfd);
	f->running = false;
}

/*
 * rollup_folder.h - the rollup folder of `dmarcd ingest` and `dmarcd lmtp`:
 * a thread with a database connection of its own adds the reports that
 * were stored with db->rollup_later (rollup_queue) to the rollups, every
 * interval_ms and once more when told to stop, so the storing connections
 * never wait on each other's rollup rows.
 */
#ifndef DMARCD_ROLLUP_FOLDER_H
#define DMARCD_ROLLUP_FOLDER_H

#include <pthread.h>
#include <stdbool.h>

struct db;

struct rollup_folder {
	/* the caller's, set before rollup_folder_start() */
	unsigned	 interval_ms;	/* between two drains */
	struct db	*db;		/* the folder's (it closes it); NULL
					 * for connect to open */
	/*
	 * Keeps *db_r connected: opens it, or replaces it (after a reload).
	 * Returns 0, or a DB_E* status: that round is skipped, quietly.
	 * NULL: the folder has only db, and after its first error leaves
	 * what is queued to the caller's last fold.
	 */
	int		(*connect)(void *arg, struct db **db_r);
	void		*arg;
	/* the folder's */
	int		 stopfd;
	pthread_t	 thread;
	bool		 running;
};

/* Starts the folder's thread.  Returns 0, or -1 (logged) with f->db
 * closed. */
int	rollup_folder_start(struct rollup_folder *f);
/* Tells the folder to stop, waits for its last drain and closes its
 * connection; nothing when it is not running. */
void	rollup_folder_stop(struct rollup_folder *f);

#endif

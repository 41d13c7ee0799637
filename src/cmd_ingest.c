/*
 * cmd_ingest.c - `dmarcd ingest PATH...`: every message of files,
 * directories, mboxes, Maildirs or stdin into the database by the one
 * ingest loop (ingest_loop.h: group commits; a Maildir message leaves
 * new/ only after the COMMIT of its transaction), the progress line, the
 * rollup folder and the totals.
 *
 * Then, when something was stored and alerts are configured, one alert
 * evaluation (alerts.h): its failures are logged, they do not fail the
 * ingest (the next evaluation sends what this one could not).
 *
 * May touch: ingest/source.h (inputs), ingest_loop.h, rollup_folder.h,
 * alerts.h.
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
#include <unistd.h>

#include "lib.h"
#include "source.h"
#include "conf.h"
#include "ingest_loop.h"
#include "dmarcd.h"
#include "rollup_folder.h"
#include "alerts.h"

#define INGEST_FOLD_MS		100	/* the rollup folder's pace */

/* Folds what is left in the rollup queue (rollup_queue); a failure is only
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
	struct ingest_loop	 loop;
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
	ingest_loop_init(&loop, db, &lim);
	loop.prog = &prog;
	for (i = 0; i < argc && status != EXIT_TEMPFAIL; i++) {
		if (source_open(argv[i], &slim, &src, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			t.failed++;
			continue;
		}
		/* the batch spans sources: its done handles outlive them */
		if (ingest_loop_source(&loop, src, &t) != 0)
			status = EXIT_TEMPFAIL;
		source_free(&src);
	}
	if (status != EXIT_TEMPFAIL && ingest_loop_commit(&loop, &t) != 0)
		status = EXIT_TEMPFAIL;
	if (status == EXIT_TEMPFAIL)
		log_warnx("database unavailable, stopping (for the next run): "
		    "%s", loop.err);
	rollup_folder_stop(&folder);
	/* rollups an LMTP daemon (or the folder) queued and could not fold */
	if (status != EXIT_TEMPFAIL)
		ingest_fold_queued(db);
	ingest_loop_deinit(&loop);
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
	if (status != EXIT_TEMPFAIL && t.reports + t.quarantined > 0 &&
	    alerts_configured(&env.conf) &&
	    alerts_check(db, &env.conf, false, ALERTS_TEXT,
	    quiet ? NULL : stdout, err, sizeof(err)) != 0)
		log_warnx("%s", err);
	db_close(&db);
	cmd_env_free(&env);
	unpack_global_deinit();
	if (status == EXIT_OK && t.failed > 0)
		status = EXIT_INPUT;
	return status;
}

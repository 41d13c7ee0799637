/*
 * cmd_quarantine.c - `dmarcd quarantine list [-a] | show ID | retry [ID|--all]`.
 *
 * retry re-parses the kept bytes with this version.  When a report comes
 * out, it is stored and the row is marked resolved in the same transaction;
 * the bytes stay (nothing the user gave is deleted), and `list -a` shows
 * resolved rows too.
 *
 * May touch: db/ (the quarantine, a db_batch per retried row), deliver.h
 * (the message's trip again), conf.h.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "deliver.h"
#include "dmarcd.h"

struct retry_ctx {
	struct db		*db;
	struct message_limits	 lim;
	unsigned		 resolved, still, reports;
	char			 err[1024];
};

static void
quarantine_usage(void)
{
	fprintf(stderr, "usage: dmarcd quarantine [-f FILE] [--db URL] "
	    "list [-a] | show ID | retry ID|--all\n");
}

/* One kept message, parsed again; its own transaction. */
static int
retry_one(void *ctx, const struct db_quarantined *q)
{
	struct retry_ctx		*rc = ctx;
	struct db_message_result	 res;
	struct db_batch			 b;
	char				 source[64];
	int				 r;

	snprintf(source, sizeof(source), "quarantine:%" PRId64, q->id);
	db_batch_init(&b, rc->db);
	if ((r = db_batch_begin(&b, rc->err, sizeof(rc->err))) != 0) {
		db_batch_deinit(&b);
		return r;
	}
	r = deliver_message_tx(&b, &rc->lim, q->data, q->len,
	    *q->source ? q->source : source, false, &res, rc->err,
	    sizeof(rc->err));
	if (r == 0 && !res.quarantined)
		r = db_quarantine_resolve(rc->db, q->domain, q->id, rc->err,
		    sizeof(rc->err));
	if (r == 0)
		r = db_batch_commit(&b, rc->err, sizeof(rc->err));
	else
		db_batch_rollback(&b);
	db_batch_deinit(&b);
	if (r != 0)
		return r;
	if (res.quarantined) {
		rc->still++;
		printf("%" PRId64 "\tstill quarantined: %s\n", q->id,
		    res.reason);
	} else {
		rc->resolved++;
		rc->reports += res.reports + res.duplicates;
		printf("%" PRId64 "\tresolved: %u reports stored, "
		    "%u duplicates\n", q->id, res.reports, res.duplicates);
	}
	return 0;
}

int
cmd_quarantine(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env		 env;
	struct retry_ctx	 rctx;
	struct db		*db = NULL;
	const char		*sub;
	char			 err[1024];
	int64_t			 id = 0;
	bool			 all = false;
	int			 ch, rc;

	memset(&env, 0, sizeof(env));
	while ((ch = getopt_long(argc, argv, "+f:", longopts, NULL)) != -1)
		if (cmd_common_opt(&env, ch, optarg) == -1) {
			quarantine_usage();
			return EXIT_USAGE;
		}
	if (optind >= argc) {
		quarantine_usage();
		return EXIT_USAGE;
	}
	sub = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "af:", longopts, NULL)) != -1) {
		if (ch == 'a')
			all = true;
		else if (cmd_common_opt(&env, ch, optarg) == -1) {
			quarantine_usage();
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		if (parse_int64(argv[optind], 1, INT64_MAX, &id) == -1 ||
		    optind + 1 != argc) {
			quarantine_usage();
			return EXIT_USAGE;
		}
	}
	if ((strcmp(sub, "show") == 0 && id == 0) ||
	    (strcmp(sub, "retry") == 0 && id == 0 && !all) ||
	    (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 &&
	    strcmp(sub, "retry") != 0)) {
		quarantine_usage();
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		return rc;
	}
	if (strcmp(sub, "list") == 0)
		rc = db_quarantine_list(db, all, stdout, err, sizeof(err));
	else if (strcmp(sub, "show") == 0)
		rc = db_quarantine_show(db, id, stdout, err, sizeof(err));
	else {
		memset(&rctx, 0, sizeof(rctx));
		rctx.db = db;
		conf_ingest_limits(&env.conf, &rctx.lim);
		agg_global_init();
		unpack_global_init();
		rc = db_quarantine_each(db, id, retry_one, &rctx, err,
		    sizeof(err));
		if (rc != 0 && *rctx.err)
			snprintf(err, sizeof(err), "%s", rctx.err);
		unpack_global_deinit();
		printf("retry: %u resolved (%u reports), %u still "
		    "quarantined\n", rctx.resolved, rctx.reports, rctx.still);
	}
	if (rc != 0)
		log_warnx("%s", err);
	db_close(&db);
	cmd_env_free(&env);
	return rc == 0 ? 0 : rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
}

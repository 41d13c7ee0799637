/*
 * cmd_db.c - `dmarcd db migrate|status|start|stop|grant|prune`: the schema,
 * the embedded cluster, the roles of a shared server and retention.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"

static void
db_usage(void)
{
	fprintf(stderr, "usage: dmarcd db [-f FILE] [--db URL] "
	    "migrate [--to N] | status | start | stop |\n"
	    "       grant ROLE --read-only|--ingest | prune [--dry-run]\n");
}

static int
db_migrate_cmd(struct cmd_env *env, int target)
{
	struct db	*db = NULL;
	char		 err[1024];
	int		 rc, from, to;

	/* connect without the automatic migration: this is the migration */
	if ((rc = db_open(&env->dbc, false, &db, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	rc = db_migrate(db, target, &from, &to, err, sizeof(err));
	db_close(&db);
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	if (from == to)
		printf("schema at version %d, nothing to do\n", to);
	else
		printf("schema migrated from version %d to %d\n", from, to);
	return 0;
}

static int
db_status_cmd(struct cmd_env *env)
{
	struct db	*db = NULL;
	char		 err[1024];
	int		 rc;

	if (env->dbc.url == NULL || *env->dbc.url == '\0') {
		/* say where it stands; never start it just to look */
		if ((rc = db_cluster_status(&env->dbc, stdout, err,
		    sizeof(err))) != 1) {
			if (rc < 0)
				log_warnx("%s", err);
			return rc < 0 ? EXIT_FAIL : 0;
		}
	} else
		printf("database: configured URL\n");
	if ((rc = db_open(&env->dbc, false, &db, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	rc = db_status_print(db, stdout, err, sizeof(err));
	db_close(&db);
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	return 0;
}

/* Says so when there is nothing to stop: 0 then, 1 when the cluster runs,
 * -1 on error. */
static int
db_stop_cmd(struct cmd_env *env)
{
	FILE	*null;
	char	 err[1024];
	int	 rc;

	if ((null = fopen("/dev/null", "w")) == NULL) {
		log_warnx("/dev/null: %s", strerror(errno));
		return -1;
	}
	rc = db_cluster_status(&env->dbc, null, err, sizeof(err));
	fclose(null);
	if (rc < 0) {
		log_warnx("%s", err);
		return -1;
	}
	if (rc == 2)
		printf("db stop: no embedded cluster has been created; "
		    "nothing to stop\n");
	else if (rc == 0)
		printf("db stop: the embedded cluster is not running; "
		    "nothing to stop\n");
	return rc == 1 ? 1 : 0;
}

static int
db_grant_cmd(struct cmd_env *env, const char *role, int kind)
{
	struct db	*db = NULL;
	char		 err[1024], clean[200];
	bool		 created;
	int		 rc;

	if ((rc = db_open(&env->dbc, true, &db, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	rc = db_grant(db, role, kind == 'I', &created, err, sizeof(err));
	db_close(&db);
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	str_escape(clean, sizeof(clean), role, strlen(role));
	printf("role %s%s: %s\n", clean, created ? " (created, no password:"
	    " set one with ALTER ROLE ... PASSWORD)" : "", kind == 'I' ?
	    "may read and write dmarcd's rows (ingest, lmtp, enrich, alerts)"
	    " but not change its schema" : "may read dmarcd's tables (serve,"
	    " export, summary) and write nothing");
	return 0;
}

static int
db_prune_cmd(struct cmd_env *env, bool dry)
{
	struct db	*db = NULL;
	char		 err[1024];
	unsigned	 n;
	int		 rc;

	/* off, it still does the housekeeping below */
	if (env->conf.retention == 0)
		printf("db prune: retention is off (dmarcd.conf(5)): every "
		    "record is kept\n");
	if ((rc = db_open(&env->dbc, true, &db, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	rc = db_prune(db, (unsigned)env->conf.retention,
	    (unsigned)env->conf.rollup_retention, dry, stdout, &n, err,
	    sizeof(err));
	db_close(&db);
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	if (n == 0)
		printf("nothing %s\n", dry ? "to drop" : "dropped");
	else if (dry)
		printf("dry run: nothing dropped\n");
	if (!dry)
		printf("made this and next month's partitions; analysed record"
		    " and sim_day\n");
	return 0;
}

int
cmd_db(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "to", required_argument, NULL, 'T' },
		{ "read-only", no_argument, NULL, 'R' },
		{ "ingest", no_argument, NULL, 'I' },
		{ "dry-run", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_env	 env;
	const char	*sub, *role = NULL;
	char		 err[1024], conninfo[1024];
	int		 ch, rc, target = 0, kind = 0;
	bool		 dry = false;

	memset(&env, 0, sizeof(env));
	while ((ch = getopt_long(argc, argv, "+f:", longopts, NULL)) != -1)
		if (cmd_common_opt(&env, ch, optarg) == -1) {
			db_usage();
			return EXIT_USAGE;
		}
	if (optind >= argc) {
		db_usage();
		return EXIT_USAGE;
	}
	sub = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;	/* a full restart: options may follow ROLE too */
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		if (ch == 'T' && strcmp(sub, "migrate") == 0)
			target = atoi(optarg);
		else if ((ch == 'R' || ch == 'I') && strcmp(sub, "grant") == 0 &&
		    (kind == 0 || kind == ch))
			kind = ch;
		else if (ch == 'N' && strcmp(sub, "prune") == 0)
			dry = true;
		else if (cmd_common_opt(&env, ch, optarg) == -1) {
			db_usage();
			return EXIT_USAGE;
		}
	}
	if (strcmp(sub, "grant") == 0 && optind + 1 == argc && kind != 0)
		role = argv[optind++];
	if (optind != argc || (strcmp(sub, "grant") == 0 && role == NULL)) {
		db_usage();
		return EXIT_USAGE;
	}
	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	if (strcmp(sub, "migrate") == 0 || strcmp(sub, "init") == 0)
		rc = db_migrate_cmd(&env, target);
	else if (strcmp(sub, "status") == 0)
		rc = db_status_cmd(&env);
	else if (strcmp(sub, "grant") == 0)
		rc = db_grant_cmd(&env, role, kind);
	else if (strcmp(sub, "prune") == 0)
		rc = db_prune_cmd(&env, dry);
	else if (strcmp(sub, "start") == 0 || strcmp(sub, "stop") == 0) {
		if (env.dbc.url != NULL && *env.dbc.url != '\0') {
			log_warnx("db %s: a database URL is configured; only "
			    "the embedded cluster is started and stopped here",
			    sub);
			rc = EXIT_USAGE;
		} else if (strcmp(sub, "start") == 0) {
			rc = db_cluster_start(&env.dbc, conninfo,
			    sizeof(conninfo), err, sizeof(err));
			if (rc != 0)
				log_warnx("%s", err);
			rc = rc == 0 ? 0 : rc == DB_ETEMP ? EXIT_TEMPFAIL :
			    EXIT_FAIL;
		} else if ((rc = db_stop_cmd(&env)) != 1) {
			rc = rc == 0 ? 0 : EXIT_FAIL;
		} else {
			rc = db_cluster_stop(&env.dbc, err, sizeof(err));
			if (rc != 0)
				log_warnx("%s", err);
			rc = rc == 0 ? 0 : EXIT_FAIL;
		}
	} else {
		db_usage();
		rc = EXIT_USAGE;
	}
	cmd_env_free(&env);
	return rc;
}

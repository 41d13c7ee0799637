/*
 * cluster.c - the embedded default database: a private PostgreSQL cluster in
 * the state directory, made with the system's initdb and run with pg_ctl,
 * reachable only through a unix socket in a directory of mode 0700 (so
 * "trust" authentication admits only its owner and root).
 *
 * It is started on demand by any command that needs the database and left
 * running: a cluster start costs about a second, which a cron'd `ingest` or
 * every LMTP delivery should not pay, and `serve` needs it anyway.
 * `dmarcd db stop` stops it cleanly.  As root, the cluster runs as an
 * unprivileged user (PostgreSQL refuses root): cluster_user, by default the
 * system user "dmarcd", created with useradd when missing.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"

#define CLUSTER_START_TIMEOUT	"120"	/* seconds pg_ctl waits */

struct cluster {
	char		 state[512];
	char		 pgdata[600];
	char		 run[600];	/* socket directory */
	char		 log[600];
	char		 bindir[512];
	uid_t		 uid;		/* who runs the cluster */
	gid_t		 gid;
	const char	*user;		/* NULL: ourselves */
};

int
db_state_dir_default(char *buf, size_t len)
{
	const char	*s;

	if ((s = getenv("DMARCD_STATE_DIR")) != NULL && *s != '\0')
		snprintf(buf, len, "%s", s);
	else if (geteuid() == 0)
		snprintf(buf, len, "/var/lib/dmarcd");
	else if ((s = getenv("XDG_STATE_HOME")) != NULL && *s == '/')
		snprintf(buf, len, "%s/dmarcd", s);
	else if ((s = getenv("HOME")) != NULL && *s == '/')
		snprintf(buf, len, "%s/.local/state/dmarcd", s);
	else
		return -1;
	return 0;
}

/* The newest /usr/lib/postgresql/N/bin holding initdb, pg_ctl, postgres. */
static int
find_bindir(char *buf, size_t len)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[600];
	long		 v, best = -1;

	if ((d = opendir("/usr/lib/postgresql")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		v = strtol(e->d_name, NULL, 10);
		if (v <= 0)
			continue;
		snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/pg_ctl",
		    e->d_name);
		if (access(path, X_OK) != 0)
			continue;
		snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/initdb",
		    e->d_name);
		if (access(path, X_OK) == 0 && v > best) {
			best = v;
			snprintf(buf, len, "/usr/lib/postgresql/%s/bin",
			    e->d_name);
		}
	}
	closedir(d);
	return best > 0 ? 0 : -1;
}

/* Runs argv (argv[0] a path) as the cluster's user, output to the log;
 * returns the exit status, or -1. */
static int
run(const struct cluster *c, char *const argv[], char *err, size_t errlen)
{
	pid_t	pid;
	int	status, fd;

	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDONLY)) != -1)
			dup2(fd, 0);
		if ((fd = open(c->log, O_WRONLY | O_APPEND | O_CREAT, 0600)) !=
		    -1) {
			if (c->user != NULL && fchown(fd, c->uid, c->gid) == -1)
				_exit(126);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (c->user != NULL && (initgroups(c->user, c->gid) == -1 ||
		    setgid(c->gid) == -1 || setuid(c->uid) == -1))
			_exit(126);
		if (chdir(c->state) == -1)
			_exit(126);
		setenv("LC_ALL", "C", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (!WIFEXITED(status)) {
		snprintf(err, errlen, "%s killed by signal %d", argv[0],
		    WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127) {
		snprintf(err, errlen, "cannot run %s as %s", argv[0],
		    c->user ? c->user : "ourselves");
		return -1;
	}
	return WEXITSTATUS(status);
}

/* Resolves the cluster's user (creating the system user when needed). */
static int
cluster_user(struct cluster *c, const struct db_config *cfg, char *err,
    size_t errlen)
{
	struct passwd	*pw;
	char		*argv[] = { "/usr/sbin/useradd", "--system",
			    "--no-create-home", "--home-dir", c->state,
			    "--shell", "/usr/sbin/nologin", "--user-group",
			    NULL, NULL };
	pid_t		 pid;
	int		 status, fd;

	c->user = NULL;
	c->uid = geteuid();
	c->gid = getegid();
	if (c->uid != 0)
		return 0;
	c->user = cfg->cluster_user && *cfg->cluster_user ?
	    cfg->cluster_user : DB_CLUSTER_USER;
	if ((pw = getpwnam(c->user)) == NULL) {
		if (strcmp(c->user, DB_CLUSTER_USER) != 0) {
			snprintf(err, errlen, "cluster_user %s: no such user",
			    c->user);
			return DB_EPERM;
		}
		argv[8] = (char *)DB_CLUSTER_USER;
		if ((pid = fork()) == 0) {
			if ((fd = open("/dev/null", O_RDWR)) != -1) {
				dup2(fd, 0);
				dup2(fd, 1);
			}
			execv(argv[0], argv);
			_exit(127);
		}
		if (pid == -1 || waitpid(pid, &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
		    (pw = getpwnam(c->user)) == NULL) {
			snprintf(err, errlen, "cannot create the system user "
			    "%s (useradd)", c->user);
			return DB_EPERM;
		}
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "cluster_user %s is root: PostgreSQL "
		    "refuses to run as root", c->user);
		return DB_EPERM;
	}
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	return 0;
}

static int
cluster_paths(struct cluster *c, const struct db_config *cfg, char *err,
    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (cfg->state_dir && *cfg->state_dir)
		snprintf(c->state, sizeof(c->state), "%s", cfg->state_dir);
	else if (db_state_dir_default(c->state, sizeof(c->state)) == -1) {
		snprintf(err, errlen, "no state directory: set state_dir or "
		    "DMARCD_STATE_DIR");
		return DB_EPERM;
	}
	snprintf(c->pgdata, sizeof(c->pgdata), "%s/pgdata", c->state);
	snprintf(c->run, sizeof(c->run), "%s/run", c->state);
	snprintf(c->log, sizeof(c->log), "%s/postgresql.log", c->state);
	if (strlen(c->run) + sizeof("/.s.PGSQL.5432") > 107) {
		snprintf(err, errlen, "state directory %s: path too long for "
		    "a unix socket", c->state);
		return DB_EPERM;
	}
	if (cfg->pg_bindir && *cfg->pg_bindir)
		snprintf(c->bindir, sizeof(c->bindir), "%s", cfg->pg_bindir);
	else if (find_bindir(c->bindir, sizeof(c->bindir)) == -1) {
		snprintf(err, errlen, "no database configured and no "
		    "PostgreSQL found in /usr/lib/postgresql/*/bin "
		    "(install postgresql, or set database = postgresql://...)");
		return DB_EPERM;
	}
	return 0;
}

/* A directory of ours (or the cluster user's), mode 0700. */
static int
own_dir(const struct cluster *c, const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return DB_EPERM;
	}
	if (c->user != NULL && chown(path, c->uid, c->gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		return DB_EPERM;
	}
	return 0;
}

static int
mkdir_parents(const char *path, char *err, size_t errlen)
{
	char	tmp[600], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", tmp,
			    strerror(errno));
			return DB_EPERM;
		}
		*p = '/';
	}
	return 0;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A single-quoted value for postgresql.conf or a conninfo string. */
static void
quote_value(char *dst, size_t len, const char *s)
{
	size_t	n = 0;

	if (len < 3)
		return;
	dst[n++] = '\'';
	for (; *s && n + 3 < len; s++) {
		if (*s == '\'' || *s == '\\')
			dst[n++] = '\\';
		dst[n++] = *s;
	}
	dst[n++] = '\'';
	dst[n] = '\0';
}

/* initdb into pgdata.new, configure, then rename: a half-made cluster is
 * never mistaken for a good one. */
static int
cluster_init(const struct cluster *c, const struct db_config *cfg,
    char *err, size_t errlen)
{
	char	 tmp[640], initdb[600], conf[700], run_q[700];
	char	*argv[] = { initdb, "-D", tmp, "-U", DB_NAME, "-A", "trust",
		    "-E", "UTF8", "--locale=C", NULL };
	FILE	*f;
	int	 st;

	snprintf(tmp, sizeof(tmp), "%s.new", c->pgdata);
	snprintf(initdb, sizeof(initdb), "%s/initdb", c->bindir);
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if ((st = run(c, argv, err, errlen)) != 0) {
		if (st > 0)
			snprintf(err, errlen, "initdb failed (exit %d); see %s",
			    st, c->log);
		return DB_EPERM;
	}
	snprintf(conf, sizeof(conf), "%s/postgresql.conf", tmp);
	quote_value(run_q, sizeof(run_q), c->run);
	if ((f = fopen(conf, "a")) == NULL) {
		snprintf(err, errlen, "%s: %s", conf, strerror(errno));
		return DB_EPERM;
	}
	fprintf(f, "\n# dmarcd: a private cluster, reachable only through a "
	    "unix socket\nlisten_addresses = ''\n"
	    "unix_socket_directories = %s\nunix_socket_permissions = 0700\n"
	    "fsync = on\nsynchronous_commit = on\nshared_buffers = %s\n"
	    "max_connections = 40\nmax_wal_size = 1GB\n", run_q,
	    cfg->shared_buffers && *cfg->shared_buffers ?
	    cfg->shared_buffers : DB_SHARED_BUFFERS);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", conf, strerror(errno));
		return DB_EPERM;
	}
	if (rename(tmp, c->pgdata) == -1) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		return DB_EPERM;
	}
	return 0;
}

static void
conninfo(const struct cluster *c, const char *dbname, char *buf, size_t len)
{
	char	run_q[700];

	quote_value(run_q, sizeof(run_q), c->run);
	snprintf(buf, len, "host=%s dbname=%s user=%s", run_q, dbname,
	    DB_NAME);
}

static int
create_database(const struct cluster *c, char *err, size_t errlen)
{
	char		 ci[800];
	PGconn		*conn;
	PGresult	*res;
	int		 rc = 0;

	conninfo(c, "postgres", ci, sizeof(ci));
	conn = PQconnectdb(ci);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "embedded cluster: %s",
		    PQerrorMessage(conn));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(conn);
		return DB_ETEMP;
	}
	res = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = '"
	    DB_NAME "'");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		PQclear(res);
		res = PQexec(conn, "CREATE DATABASE " DB_NAME);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "CREATE DATABASE: %s",
			    PQresultErrorMessage(res));
			err[strcspn(err, "\n")] = '\0';
			rc = DB_ETEMP;
		}
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}

int
db_cluster_start(const struct db_config *cfg, char *conninfo_r,
    size_t conninfo_len, char *err, size_t errlen)
{
	struct cluster	 c;
	char		 lockpath[600], pgctl[600], ping[800], pgversion[640];
	char		*argv[] = { pgctl, "-D", c.pgdata, "-l", c.log, "-w",
			    "-t", CLUSTER_START_TIMEOUT, "start", NULL };
	int		 fd, rc, st;

	if ((rc = cluster_paths(&c, cfg, err, errlen)) != 0)
		return rc;
	conninfo(&c, DB_NAME, conninfo_r, conninfo_len);
	conninfo(&c, "postgres", ping, sizeof(ping));
	snprintf(pgversion, sizeof(pgversion), "%s/PG_VERSION", c.pgdata);
	/* running already: the common case, no lock */
	if (access(pgversion, F_OK) == 0 && PQping(ping) == PQPING_OK)
		return 0;

	if ((rc = cluster_user(&c, cfg, err, errlen)) != 0 ||
	    (rc = mkdir_parents(c.state, err, errlen)) != 0 ||
	    (rc = own_dir(&c, c.state, err, errlen)) != 0 ||
	    (rc = own_dir(&c, c.run, err, errlen)) != 0)
		return rc;
	/* one process creates and starts; the others wait, then find it up */
	snprintf(lockpath, sizeof(lockpath), "%s/cluster.lock", c.state);
	if ((fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    flock(fd, LOCK_EX) == -1) {
		snprintf(err, errlen, "%s: %s", lockpath, strerror(errno));
		if (fd != -1)
			close(fd);
		return DB_ETEMP;
	}
	if (access(pgversion, F_OK) != 0 &&
	    (rc = cluster_init(&c, cfg, err, errlen)) != 0)
		goto out;
	if (PQping(ping) != PQPING_OK) {
		snprintf(pgctl, sizeof(pgctl), "%s/pg_ctl", c.bindir);
		if ((st = run(&c, argv, err, errlen)) != 0) {
			if (st > 0)
				snprintf(err, errlen, "cannot start the "
				    "embedded PostgreSQL (pg_ctl exit %d); "
				    "see %s", st, c.log);
			rc = DB_ETEMP;
			goto out;
		}
	}
	rc = create_database(&c, err, errlen);
out:
	close(fd);
	return rc;
}

int
db_cluster_stop(const struct db_config *cfg, char *err, size_t errlen)
{
	struct cluster	 c;
	char		 pgctl[600], pgversion[640];
	char		*argv[] = { pgctl, "-D", c.pgdata, "-m", "fast", "-w",
			    "-t", CLUSTER_START_TIMEOUT, "stop", NULL };
	char		*status[] = { pgctl, "-D", c.pgdata, "status", NULL };
	int		 rc;

	if ((rc = cluster_paths(&c, cfg, err, errlen)) != 0 ||
	    (rc = cluster_user(&c, cfg, err, errlen)) != 0)
		return rc;
	snprintf(pgversion, sizeof(pgversion), "%s/PG_VERSION", c.pgdata);
	if (access(pgversion, F_OK) != 0)
		return 0;
	snprintf(pgctl, sizeof(pgctl), "%s/pg_ctl", c.bindir);
	if (run(&c, status, err, errlen) == 3)
		return 0;	/* not running */
	if ((rc = run(&c, argv, err, errlen)) != 0) {
		if (rc > 0)
			snprintf(err, errlen, "pg_ctl stop failed (exit %d); "
			    "see %s", rc, c.log);
		return DB_EPERM;
	}
	return 0;
}

int
db_cluster_status(const struct db_config *cfg, FILE *out, char *err,
    size_t errlen)
{
	struct cluster	 c;
	char		 pgversion[640], ping[800];
	int		 rc;

	if ((rc = cluster_paths(&c, cfg, err, errlen)) != 0)
		return rc;
	snprintf(pgversion, sizeof(pgversion), "%s/PG_VERSION", c.pgdata);
	fprintf(out, "cluster: %s (PostgreSQL from %s)\n", c.pgdata, c.bindir);
	if (access(pgversion, F_OK) != 0) {
		fprintf(out, "state: not created\n");
		return 2;
	}
	conninfo(&c, "postgres", ping, sizeof(ping));
	rc = PQping(ping) == PQPING_OK;
	fprintf(out, "state: %s\nsocket: %s\n", rc ? "running" : "stopped",
	    c.run);
	return rc;
}

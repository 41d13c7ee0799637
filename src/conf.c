/*
 * conf.c - dmarcd.conf: the settings table (tmux options-table style), the
 * reader, and the secrecy check for files holding a database password.
 *
 * Syntax: "name = value" lines; '#' starts a comment line; blank lines are
 * ignored; a value may be wrapped in double quotes.  Sizes take a K, M or G
 * suffix (powers of 1024).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"

#define CONF_LINE_MAX	4096	/* bytes of one line */
#define CONF_FILE_MAX	(1 << 20)	/* bytes of the whole file */

enum conf_type {
	CONF_STRING,
	CONF_NUMBER,
	CONF_SIZE,
};

struct conf_entry {
	const char	*name;
	enum conf_type	 type;
	size_t		 offset;
	uint64_t	 min, max;
	const char	*help;
	bool		 secret_url;	/* may hold a password */
};

#define S(f)	CONF_STRING, offsetof(struct conf, f), 0, 0
#define N(f, lo, hi)	CONF_NUMBER, offsetof(struct conf, f), lo, hi
#define Z(f, lo, hi)	CONF_SIZE, offsetof(struct conf, f), lo, hi

static const struct conf_entry conf_table[] = {
	{ "database", S(database),
	  "PostgreSQL URL or conninfo; empty: the embedded cluster", true },
	{ "state_dir", S(state_dir),
	  "state directory (embedded cluster); default $DMARCD_STATE_DIR, "
	  "/var/lib/dmarcd as root, else ~/.local/state/dmarcd", false },
	{ "cluster_user", S(cluster_user),
	  "user running the embedded cluster when dmarcd runs as root",
	  false },
	{ "pg_bindir", S(pg_bindir),
	  "PostgreSQL programs for the embedded cluster; default the newest "
	  "/usr/lib/postgresql/N/bin", false },
	{ "shared_buffers", S(shared_buffers),
	  "shared_buffers of a new embedded cluster", false },
	{ "max_message_size", Z(max_message_size, 1024, (uint64_t)1 << 30),
	  "bytes of one message or file", false },
	{ "max_attachments", N(max_attachments, 1, 10000),
	  "MIME parts examined per message", false },
	{ "max_archive_entries", N(max_archive_entries, 1, 100000),
	  "entries read per zip archive", false },
	{ "max_report_size", Z(max_report_size, 1024, (uint64_t)1 << 40),
	  "decompressed bytes of one report", false },
	{ "max_ratio", N(max_ratio, 1, 1000000),
	  "decompressed/compressed bytes ratio", false },
	{ "max_nesting", N(max_nesting, 1, 32),
	  "nesting of messages and archives", false },
	{ "xml_max_depth", N(xml_max_depth, 4, 1024),
	  "XML element nesting", false },
	{ "xml_max_elements", N(xml_max_elements, 100, UINT64_MAX),
	  "XML elements per report", false },
	{ "max_records", N(max_records, 1, UINT64_MAX),
	  "records per report", false },
	{ "max_text", Z(max_text, 64, 1 << 20),
	  "bytes of one text value in a report", false },
	{ "ingest_fold_rollups", N(ingest_fold_rollups, 0, 1),
	  "ingest: 1 queues each batch's rollups and folds them on a second "
	  "connection while it reads on; 0 (default) writes them in the "
	  "batch's transaction", false },
	{ "max_stored_document", Z(max_stored_document, 0, 1 << 30),
	  "gzipped bytes kept of an aggregate report's XML document (shown "
	  "by the dashboard); larger ones are not kept; 0 keeps none",
	  false },
	{ "lmtp_listen", S(lmtp_listen),
	  "lmtp: where to listen, a list of unix:PATH or HOST:PORT; "
	  "default unix:/run/dmarcd/lmtp.sock", false },
	{ "lmtp_socket_mode", S(lmtp_socket_mode),
	  "lmtp: mode of unix sockets, octal; default 0660", false },
	{ "lmtp_user", S(lmtp_user),
	  "lmtp: user to become after binding, when started as root; "
	  "default dmarcd", false },
	{ "lmtp_max_sessions", N(lmtp_max_sessions, 1, 100000),
	  "lmtp: concurrent sessions (more get 421); default 100", false },
	{ "lmtp_workers", N(lmtp_workers, 1, 64),
	  "lmtp: delivery threads, each with a database connection; "
	  "default 4", false },
	{ "lmtp_idle_timeout", N(lmtp_idle_timeout, 1, 86400),
	  "lmtp: seconds a session may send nothing; default 300", false },
	{ "lmtp_command_timeout", N(lmtp_command_timeout, 1, 86400),
	  "lmtp: seconds for one command line; default 300", false },
	{ "lmtp_data_timeout", N(lmtp_data_timeout, 1, 86400),
	  "lmtp: seconds from DATA to the final dot; default 600", false },
	{ "lmtp_session_timeout", N(lmtp_session_timeout, 1, 604800),
	  "lmtp: seconds of one connection; default 3600", false },
	{ "lmtp_shutdown_timeout", N(lmtp_shutdown_timeout, 1, 3600),
	  "lmtp: seconds SIGTERM waits for deliveries in flight; default 30",
	  false },
	{ "lmtp_max_line", N(lmtp_max_line, 512, 65536),
	  "lmtp: bytes of one command line; default 1000", false },
	{ "lmtp_max_recipients", N(lmtp_max_recipients, 1, 100000),
	  "lmtp: recipients per transaction; default 100", false },
	{ "lmtp_recipients", S(lmtp_recipients),
	  "lmtp: accept only these addresses (a list; others get 550); "
	  "default any", false },
	{ "watch_maildirs", S(watch_maildirs),
	  "lmtp: Maildirs to follow with inotify and ingest (a list)", false },
	{ "http_listen", S(http_listen),
	  "serve: HOST:PORT; default 127.0.0.1:8080 (anything but loopback "
	  "needs http_tls_cert, http_tls_key and http_users)", false },
	{ "http_static_dir", S(http_static_dir),
	  "serve: the dashboard's pages; default the installed ones", false },
	{ "http_vendor_dir", S(http_vendor_dir),
	  "serve: where Chart.js is; default Debian's "
	  "/usr/share/javascript/chart.js", false },
	{ "http_tls_cert", S(http_tls_cert),
	  "serve: TLS certificate (PEM)", false },
	{ "http_tls_key", S(http_tls_key),
	  "serve: TLS private key (PEM; not readable by others)", false },
	{ "http_users", S(http_users),
	  "serve: users file, name:crypt-hash lines (not readable by others)",
	  false },
	{ "summary_from", S(summary_from),
	  "From: of summaries; default dmarcd@ this host's name", false },
	{ "summary_to", S(summary_to),
	  "To: of summaries (address list); needed by summary --send "
	  "without --to", false },
	{ "sendmail_path", S(sendmail_path),
	  "sendmail used by summary --send; default /usr/sbin/sendmail",
	  false },
	{ "forensic_keep_body", N(forensic_keep_body, 0, 1),
	  "failure reports: 1 keeps the returned message's body, 0 (default) "
	  "only its headers", false },
	{ "forensic_redact", N(forensic_redact, 0, 1),
	  "failure reports: 1 replaces the local parts of addresses; "
	  "default 0", false },
};

#undef S
#undef N
#undef Z

static void
conf_defaults(struct conf *c)
{
	struct unpack_limits	ul;
	struct agg_limits	al;

	memset(c, 0, sizeof(*c));
	unpack_limits_default(&ul);
	agg_limits_default(&al);
	c->max_message_size = ul.max_message_size;
	c->max_attachments = ul.max_attachments;
	c->max_archive_entries = ul.max_archive_entries;
	c->max_report_size = ul.max_report_size;
	c->max_ratio = ul.max_ratio;
	c->max_nesting = ul.max_depth;
	c->xml_max_depth = al.max_depth;
	c->xml_max_elements = al.max_elements;
	c->max_records = al.max_records;
	c->max_text = al.max_text;
	c->max_stored_document = CONF_MAX_STORED_DOCUMENT;
}

static int
parse_value(const struct conf_entry *e, const char *v, uint64_t *n_r,
    char *why, size_t whylen)
{
	unsigned long long	 n;
	char			*end;
	uint64_t		 mult = 1;

	errno = 0;
	if (*v < '0' || *v > '9') {
		snprintf(why, whylen, "%s: not a number: %s", e->name, v);
		return -1;
	}
	n = strtoull(v, &end, 10);
	if (e->type == CONF_SIZE && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1ULL << 10; end++; break;
		case 'm': case 'M': mult = 1ULL << 20; end++; break;
		case 'g': case 'G': mult = 1ULL << 30; end++; break;
		}
	}
	if (*end != '\0' || errno == ERANGE ||
	    (mult > 1 && n > UINT64_MAX / mult)) {
		snprintf(why, whylen, "%s: not a %s: %s", e->name,
		    e->type == CONF_SIZE ? "size (N, NK, NM, NG)" : "number",
		    v);
		return -1;
	}
	n *= mult;
	if (n < e->min || n > e->max) {
		snprintf(why, whylen, "%s: %llu out of range %llu..%llu",
		    e->name, n, (unsigned long long)e->min,
		    (unsigned long long)e->max);
		return -1;
	}
	*n_r = n;
	return 0;
}

int
conf_parse_number(const char *name, const char *v, uint64_t *n_r, char *why,
    size_t whylen)
{
	size_t	i;

	for (i = 0; i < nitems(conf_table); i++)
		if (strcmp(conf_table[i].name, name) == 0 &&
		    conf_table[i].type != CONF_STRING)
			return parse_value(&conf_table[i], v, n_r, why, whylen);
	fatalx("conf_parse_number: no numeric setting %s", name);
}

static bool
has_password(const char *url)
{
	PQconninfoOption	*opts, *o;
	char			*perr = NULL;
	bool			 found = false;

	if ((opts = PQconninfoParse(url, &perr)) == NULL) {
		PQfreemem(perr);
		return false;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    *o->val != '\0')
			found = true;
	PQconninfoFree(opts);
	return found;
}

static int
conf_parse(struct conf *c, const char *file, const char *text, size_t len,
    const struct stat *sb, FILE *errs)
{
	const struct conf_entry	*e;
	const char		*p = text, *end = text + len, *eol;
	char			 line[CONF_LINE_MAX + 1], why[256], *name, *v;
	char			 clean[300];
	bool			 seen[nitems(conf_table)];
	unsigned		 lineno = 0, nerr = 0;
	uint64_t		 n;
	size_t			 i, l;

	memset(seen, 0, sizeof(seen));
	for (; p < end; p = eol + 1) {
		lineno++;
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end;
		if ((size_t)(eol - p) > CONF_LINE_MAX) {
			fprintf(errs, "%s:%u: line too long\n", file, lineno);
			nerr++;
			continue;
		}
		memcpy(line, p, eol - p);
		line[eol - p] = '\0';
		if (memchr(line, '\0', eol - p) != NULL) {
			fprintf(errs, "%s:%u: NUL byte\n", file, lineno);
			nerr++;
			continue;
		}
		name = str_trim(line);
		if (*name == '\0' || *name == '#')
			continue;
		if ((v = strchr(name, '=')) == NULL) {
			str_escape(clean, sizeof(clean), name, strlen(name));
			fprintf(errs, "%s:%u: expected \"name = value\": %s\n",
			    file, lineno, clean);
			nerr++;
			continue;
		}
		*v++ = '\0';
		name = str_trim(name);
		v = str_trim(v);
		l = strlen(v);
		if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
			v[l - 1] = '\0';
			v++;
		}
		for (i = 0; i < nitems(conf_table); i++)
			if (strcmp(conf_table[i].name, name) == 0)
				break;
		if (i == nitems(conf_table)) {
			str_escape(clean, sizeof(clean), name, strlen(name));
			fprintf(errs, "%s:%u: unknown setting: %s\n", file,
			    lineno, clean);
			nerr++;
			continue;
		}
		e = &conf_table[i];
		if (seen[i]) {
			fprintf(errs, "%s:%u: %s set twice\n", file, lineno,
			    e->name);
			nerr++;
			continue;
		}
		seen[i] = true;
		if (e->type == CONF_STRING) {
			char	**sp = (char **)((char *)c + e->offset);

			if (e->secret_url && *v != '\0' && has_password(v) &&
			    sb != NULL && (sb->st_mode & (S_IROTH | S_IWOTH))) {
				fprintf(errs, "%s:%u: %s holds a password but "
				    "the file is world-%s (chmod o-rw %s)\n",
				    file, lineno, e->name,
				    sb->st_mode & S_IWOTH ? "writable" :
				    "readable", file);
				nerr++;
			}
			free(*sp);
			if ((*sp = strdup(v)) == NULL)
				fatalx("out of memory");
			continue;
		}
		if (parse_value(e, v, &n, why, sizeof(why)) == -1) {
			str_escape(clean, sizeof(clean), why, strlen(why));
			fprintf(errs, "%s:%u: %s\n", file, lineno, clean);
			nerr++;
			continue;
		}
		*(uint64_t *)(void *)((char *)c + e->offset) = n;
	}
	return nerr ? -1 : 0;
}

int
conf_load(struct conf *c, const char *file, FILE *errs)
{
	struct buf	 text;
	struct stat	 sb;
	char		 err[512];
	bool		 required = true;
	int		 rc;

	conf_defaults(c);
	if (file == NULL)
		file = getenv("DMARCD_CONF");
	if (file == NULL || *file == '\0') {
		file = CONF_DEFAULT_FILE;
		required = false;
	}
	if (stat(file, &sb) == -1) {
		if (errno == ENOENT && !required)
			return 0;
		fprintf(errs, "%s: %s\n", file, strerror(errno));
		return -1;
	}
	if (read_file_capped(file, CONF_FILE_MAX, &text, err,
	    sizeof(err)) == -1) {
		fprintf(errs, "%s: %s\n", file, err);
		return -1;
	}
	c->file = file;
	rc = conf_parse(c, file, text.data ? text.data : "", text.len, &sb,
	    errs);
	buf_free(&text);
	return rc;
}

void
conf_free(struct conf *c)
{
	size_t	i;

	/* Every string setting is owned: free them from the table. */
	for (i = 0; i < nitems(conf_table); i++)
		if (conf_table[i].type == CONF_STRING)
			free(*(char **)((char *)c + conf_table[i].offset));
	memset(c, 0, sizeof(*c));
}

void
conf_print(const struct conf *c, FILE *out)
{
	const struct conf_entry	*e;
	const char		*s;
	size_t			 i;

	for (i = 0; i < nitems(conf_table); i++) {
		e = &conf_table[i];
		if (e->type == CONF_STRING) {
			s = *(char *const *)(const void *)
			    ((const char *)c + e->offset);
			if (e->secret_url && s != NULL && has_password(s))
				s = "(set, holds a password)";
			fprintf(out, "%s = %s\t# %s\n", e->name,
			    s ? s : "", e->help);
		} else
			fprintf(out, "%s = %llu\t# %s\n", e->name,
			    (unsigned long long)*(const uint64_t *)
			    (const void *)((const char *)c + e->offset),
			    e->help);
	}
}

void
conf_db_config(const struct conf *c, const char *db_url,
    struct db_config *dc)
{
	const char	*env = getenv("DMARCD_DB");

	memset(dc, 0, sizeof(*dc));
	if (db_url != NULL)
		dc->url = db_url;
	else if (env != NULL && *env != '\0')
		dc->url = env;
	else
		dc->url = c->database;
	dc->state_dir = c->state_dir;
	dc->cluster_user = c->cluster_user;
	dc->pg_bindir = c->pg_bindir;
	dc->shared_buffers = c->shared_buffers;
}

void
conf_ingest_limits(const struct conf *c, struct message_limits *l)
{
	unpack_limits_default(&l->unpack);
	agg_limits_default(&l->agg);
	l->unpack.max_message_size = c->max_message_size;
	l->unpack.max_attachments = c->max_attachments;
	l->unpack.max_archive_entries = c->max_archive_entries;
	l->unpack.max_report_size = c->max_report_size;
	l->unpack.max_ratio = c->max_ratio;
	l->unpack.max_depth = c->max_nesting;
	l->agg.max_depth = c->xml_max_depth;
	l->agg.max_elements = c->xml_max_elements;
	l->agg.max_records = c->max_records;
	l->agg.max_text = c->max_text;
	arf_limits_default(&l->arf);
	l->arf.keep_body = c->forensic_keep_body != 0;
	l->arf.redact = c->forensic_redact != 0;
	tlsrpt_limits_default(&l->tls);
	l->max_document = c->max_stored_document;
}

int
cmd_env_load(struct cmd_env *env)
{
	if (conf_load(&env->conf, env->conf_file, stderr) == -1)
		return EXIT_CONFIG;
	conf_db_config(&env->conf, env->db_url, &env->dbc);
	return 0;
}

void
cmd_env_free(struct cmd_env *env)
{
	conf_free(&env->conf);
}

int
cmd_env_open(struct cmd_env *env, struct db **db_r)
{
	char	err[1024];
	int	rc;

	if ((rc = db_open(&env->dbc, true, db_r, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	return 0;
}

int
conf_list(const char *value, const char **items, int max, char **copy_r)
{
	char	*p, *tok, *save = NULL;
	int	 n = 0;

	*copy_r = NULL;
	if (value == NULL || *value == '\0')
		return 0;
	if ((p = strdup(value)) == NULL)
		fatalx("out of memory");
	*copy_r = p;
	for (tok = strtok_r(p, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (n == max)
			return -1;
		items[n++] = tok;
	}
	return n;
}

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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "lmtp.h"

#define CONF_LINE_MAX	4096	/* bytes of one line */
#define CONF_FILE_MAX	(1 << 20)	/* bytes of the whole file */
#define HELP_COL	23	/* where --help's descriptions start */

enum conf_type {
	CONF_STRING,
	CONF_LIST,	/* a string of items; its option repeats */
	CONF_NUMBER,
	CONF_SIZE,	/* a number that takes K, M, G */
	CONF_MODE,	/* a file mode, in octal */
	CONF_CHOICE,	/* one of the words of arg, "a|b|c" */
	CONF_MONTHS,	/* months: Nmo, Ny (12N) or off (0) */
};

/*
 * One setting.  cmd names the commands that use it, separated by spaces
 * (it prefixes the help);
 * option, when set, is the long option of those commands that sets it too
 * (arg names its value in --help).  The default is def for numbers, sdef
 * for strings; a string without sdef has a default computed where it is
 * used, which help describes.
 */
struct conf_entry {
	const char	*name;
	enum conf_type	 type;
	size_t		 offset;
	uint64_t	 def;
	const char	*sdef;
	uint64_t	 min, max;
	const char	*cmd, *option, *arg;
	const char	*help;
	bool		 secret_url;	/* may hold a password */
};

#define S(f, d)	CONF_STRING, offsetof(struct conf, f), 0, d, 0, 0
#define L(f, d)	CONF_LIST, offsetof(struct conf, f), 0, d, 0, 0
#define N(f, d, lo, hi)	CONF_NUMBER, offsetof(struct conf, f), d, NULL, lo, hi
#define Z(f, d, lo, hi)	CONF_SIZE, offsetof(struct conf, f), d, NULL, lo, hi
#define M(f, d)	CONF_MODE, offsetof(struct conf, f), d, NULL, 0, 0777
#define C(f, d)	CONF_CHOICE, offsetof(struct conf, f), 0, d, 0, 0
#define MO(f, d, lo, hi) CONF_MONTHS, offsetof(struct conf, f), d, NULL, lo, hi
#define NOOPT(cmd)	cmd, NULL, NULL

static const struct conf_entry conf_table[] = {
	{ "database", S(database, NULL), NOOPT(NULL),
	  "PostgreSQL URL or conninfo; empty: the embedded cluster", true },
	{ "state_dir", S(state_dir, NULL), NOOPT(NULL),
	  "state directory (embedded cluster); default $DMARCD_STATE_DIR, "
	  "/var/lib/dmarcd as root, else ~/.local/state/dmarcd", false },
	{ "cluster_user", S(cluster_user, DB_CLUSTER_USER), NOOPT(NULL),
	  "user running the embedded cluster when dmarcd runs as root "
	  "(the default one is created when missing)", false },
	{ "pg_bindir", S(pg_bindir, NULL), NOOPT(NULL),
	  "PostgreSQL programs for the embedded cluster; default the newest "
	  "/usr/lib/postgresql/N/bin", false },
	{ "shared_buffers", S(shared_buffers, DB_SHARED_BUFFERS), NOOPT(NULL),
	  "shared_buffers of a new embedded cluster", false },
	{ "max_message_size", Z(max_message_size, UNPACK_DEFAULT_MESSAGE_SIZE,
	  1024, (uint64_t)1 << 30), NOOPT(NULL),
	  "bytes of one message or file", false },
	{ "max_attachments", N(max_attachments, UNPACK_DEFAULT_ATTACHMENTS,
	  1, 10000), NOOPT(NULL),
	  "MIME parts examined per message", false },
	{ "max_archive_entries", N(max_archive_entries,
	  UNPACK_DEFAULT_ARCHIVE_ENTRIES, 1, 100000), NOOPT(NULL),
	  "entries read per zip archive", false },
	{ "max_report_size", Z(max_report_size, UNPACK_DEFAULT_REPORT_SIZE,
	  1024, (uint64_t)1 << 40), NOOPT(NULL),
	  "decompressed bytes of one report", false },
	{ "max_ratio", N(max_ratio, UNPACK_DEFAULT_RATIO, 1, 1000000),
	  NOOPT(NULL), "decompressed/compressed bytes ratio", false },
	{ "max_nesting", N(max_nesting, UNPACK_DEFAULT_DEPTH, 1, 32),
	  NOOPT(NULL), "nesting of messages and archives", false },
	{ "xml_max_depth", N(xml_max_depth, AGG_DEFAULT_DEPTH, 4, 1024),
	  NOOPT(NULL), "XML element nesting", false },
	{ "xml_max_elements", N(xml_max_elements, AGG_DEFAULT_ELEMENTS, 100,
	  UINT64_MAX), NOOPT(NULL), "XML elements per report", false },
	{ "max_records", N(max_records, AGG_DEFAULT_RECORDS, 1, UINT64_MAX),
	  NOOPT(NULL), "records per report", false },
	{ "max_text", Z(max_text, AGG_DEFAULT_TEXT, 64, 1 << 20),
	  NOOPT(NULL), "bytes of one text value in a report", false },
	{ "ingest_fold_rollups", N(ingest_fold_rollups, 1, 0, 1),
	  NOOPT("ingest"),
	  "1 queues each batch's rollups and folds them on a second "
	  "connection while it reads on; 0 writes them in the batch's "
	  "transaction", false },
	{ "max_stored_document", Z(max_stored_document, 16 << 20, 0, 1 << 30),
	  NOOPT(NULL),
	  "gzipped bytes kept of an aggregate report's XML document (shown "
	  "by the dashboard); larger ones are not kept; 0 keeps none",
	  false },
	{ "retention", MO(retention, 0, 0, 1200), NOOPT("db prune"),
	  "how long records are kept, by the month of their report "
	  "(13mo, 2y; off keeps them all): dmarcd db prune drops the months "
	  "older, with the report documents", false },
	{ "rollup_retention", MO(rollup_retention, 0, 0, 1200),
	  NOOPT("db prune"),
	  "how long the per-day rollups (the dashboard's figures) and the "
	  "reports' headers are kept; at least retention; off keeps them "
	  "all", false },
	{ "lmtp_listen", L(lmtp_listen, "unix:/run/dmarcd/lmtp.sock"),
	  "lmtp", "listen", "SPEC",
	  "where to listen, a list of unix:PATH or HOST:PORT", false },
	{ "lmtp_socket_mode", M(lmtp_socket_mode, 0660),
	  "lmtp", "socket-mode", "MODE",
	  "mode of unix sockets, octal", false },
	{ "lmtp_user", S(lmtp_user, "dmarcd"), "lmtp", "user", "USER",
	  "user to become after binding, when started as root", false },
	{ "lmtp_max_sessions", N(lmtp_max_sessions, 100, 1, 100000),
	  "lmtp", "max-sessions", "N",
	  "concurrent sessions (more get 421)", false },
	{ "lmtp_workers", N(lmtp_workers, 4, 1, 64), "lmtp", "workers", "N",
	  "delivery threads, each with a database connection", false },
	/* RFC 5321 4.5.3.2.7: five minutes between commands */
	{ "lmtp_idle_timeout", N(lmtp_idle_timeout, 300, 1, 86400),
	  "lmtp", "idle-timeout", "S",
	  "seconds a session may send nothing", false },
	{ "lmtp_command_timeout", N(lmtp_command_timeout, 300, 1, 86400),
	  "lmtp", "command-timeout", "S",
	  "seconds for one command line", false },
	{ "lmtp_data_timeout", N(lmtp_data_timeout, 600, 1, 86400),
	  "lmtp", "data-timeout", "S",
	  "seconds from DATA to the final dot", false },
	{ "lmtp_session_timeout", N(lmtp_session_timeout, 3600, 1, 604800),
	  "lmtp", "session-timeout", "S",
	  "seconds of one connection", false },
	{ "lmtp_shutdown_timeout", N(lmtp_shutdown_timeout, 30, 1, 3600),
	  "lmtp", "shutdown-timeout", "S",
	  "seconds SIGTERM waits for deliveries in flight", false },
	{ "lmtp_max_line", N(lmtp_max_line, LMTP_LINE_DEFAULT, 512, 65536),
	  "lmtp", "max-line", "N", "bytes of one command line", false },
	{ "lmtp_max_recipients", N(lmtp_max_recipients, LMTP_RCPTS_DEFAULT,
	  1, 100000), "lmtp", "max-recipients", "N",
	  "recipients per transaction", false },
	{ "lmtp_recipients", L(lmtp_recipients, NULL),
	  "lmtp", "recipient", "ADDR",
	  "accept only these addresses (others get 550); default any",
	  false },
	{ "watch_maildirs", L(watch_maildirs, NULL), "lmtp", "maildir", "PATH",
	  "Maildirs to follow with inotify and ingest; default none", false },
	{ "lmtp_metrics_listen", S(lmtp_metrics_listen, NULL),
	  "lmtp", "metrics-listen", "HOST:PORT",
	  "loopback address of /metrics and /healthz (HTTP); default none",
	  false },
	{ "http_listen", S(http_listen, "127.0.0.1:8080"),
	  "serve", "listen", "HOST:PORT",
	  "where to listen (anything but loopback needs http_tls_cert, "
	  "http_tls_key and http_users)", false },
	{ "http_static_dir", S(http_static_dir, NULL),
	  "serve", "static-dir", "DIR",
	  "the dashboard's pages; default the build tree's when run from "
	  "it, else the installed ones", false },
	{ "http_vendor_dir", S(http_vendor_dir,
	  "/usr/share/javascript/chart.js"), "serve", "vendor-dir", "DIR",
	  "where Chart.js is (Debian's libjs-chart.js)", false },
	{ "http_tls_cert", S(http_tls_cert, NULL), "serve", "tls-cert", "FILE",
	  "TLS certificate (PEM)", false },
	{ "http_tls_key", S(http_tls_key, NULL), "serve", "tls-key", "FILE",
	  "TLS private key (PEM; not readable by others)", false },
	{ "http_users", S(http_users, NULL), "serve", "users", "FILE",
	  "users file, name:crypt-hash[:senders[:domains]] lines (not "
	  "readable by others)",
	  false },
	{ "http_public_url", S(http_public_url, NULL), NOOPT("summary"),
	  "the dashboard's address as its users reach it (https://...); "
	  "summaries link to it", false },
	{ "summary_from", S(summary_from, NULL), NOOPT("summary"),
	  "From: of summaries; default dmarcd@ this host's name", false },
	{ "summary_to", S(summary_to, NULL), "summary", "to", "ADDR",
	  "To: of summaries (address list); needed by --send", false },
	{ "sendmail_path", S(sendmail_path, "/usr/sbin/sendmail"),
	  NOOPT("summary"), "sendmail used by --send", false },
	{ "forensic_keep_body", N(forensic_keep_body, 0, 0, 1), NOOPT(NULL),
	  "failure reports: 1 keeps the returned message's body, 0 only its "
	  "headers", false },
	{ "forensic_redact", N(forensic_redact, 0, 0, 1), NOOPT(NULL),
	  "failure reports: 1 replaces the local parts of addresses", false },
	/* enrichment (enrich/): by `dmarcd enrich` and lmtp's background
	 * enricher, never on the delivery path */
	{ "enrich", C(enrich, "on"), "lmtp enrich", "enrich", "on|off|local",
	  "source enrichment: on (DNS, catalogue, GeoIP), local (no DNS) or "
	  "off (none at all)", false },
	{ "enrich_interval", N(enrich_interval, 10, 1, 86400), NOOPT("lmtp"),
	  "seconds between the background enricher's passes", false },
	{ "dns_servers", L(dns_servers, NULL), "enrich", "dns-server",
	  "ADDR[:PORT]", "DNS servers to ask; default those of "
	  "/etc/resolv.conf", false },
	{ "dns_max_inflight", N(dns_max_inflight, 64, 1, 4096), "enrich",
	  "max-inflight", "N", "source IPs looked up at once", false },
	{ "dns_timeout", N(dns_timeout, 5, 1, 60), "enrich", "timeout", "SEC",
	  "seconds a lookup (PTR, then A/AAAA of its name) may take", false },
	{ "dns_max_rate", N(dns_max_rate, 5000, 1, 1000000), "enrich",
	  "max-rate", "N", "DNS queries sent per second, at most", false },
	{ "dns_min_ttl", N(dns_min_ttl, 86400, 60, 31536000), NOOPT("enrich"),
	  "seconds an answer is kept at least, whatever its TTL", false },
	{ "dns_max_ttl", N(dns_max_ttl, 2592000, 60, 31536000),
	  NOOPT("enrich"), "seconds an answer is kept at most", false },
	{ "dns_negative_ttl", N(dns_negative_ttl, 86400, 60, 31536000),
	  NOOPT("enrich"), "seconds an NXDOMAIN (no PTR) is kept", false },
	{ "dns_error_ttl", N(dns_error_ttl, 3600, 60, 31536000),
	  NOOPT("enrich"), "seconds before a SERVFAIL or timeout is retried",
	  false },
	{ "services_file", S(services_file, NULL), "enrich", "services", "FILE",
	  "services that add to or override the built-in catalogue", false },
	{ "geoip_db", L(geoip_db, NULL), "enrich", "geoip-db", "FILE",
	  "MMDB files (ASN, country) for AS and country; none: left out",
	  false },
	/* alerts: evaluated by `dmarcd alerts --check` and after an ingest
	 * that stored something; each rule's 0 turns it off */
	{ "alert_mail_to", S(alert_mail_to, NULL), NOOPT("alerts ingest"),
	  "To: of alert mails (address list, sent the summary's way); "
	  "default none", false },
	{ "alert_webhook", S(alert_webhook, NULL), NOOPT("alerts ingest"),
	  "http:// or https:// URL alerts are POSTed to as JSON; default "
	  "none", false },
	{ "alert_webhook_timeout", N(alert_webhook_timeout, 10, 1, 300),
	  NOOPT("alerts ingest"), "seconds one webhook POST may take", false },
	{ "alert_new_source", N(alert_new_source, 0, 0,
	  1000000000000ULL),
	  NOOPT("alerts ingest"),
	  "a source new to a domain sent at least N messages in a day", false },
	{ "alert_pass_drop", N(alert_pass_drop, 0, 0, 100),
	  NOOPT("alerts ingest"),
	  "a domain's DMARC pass rate fell by more than N points day over day",
	  false },
	{ "alert_reporter_silent", N(alert_reporter_silent, 0, 0, 365),
	  NOOPT("alerts ingest"),
	  "a reporter of the 30 days before sent nothing for N days", false },
	{ "alert_quarantine_growth", N(alert_quarantine_growth, 0, 0, 1000000),
	  NOOPT("alerts ingest"),
	  "the quarantine grew by N items or more", false },
	{ "alert_approved_fail", N(alert_approved_fail, 0, 0, 100),
	  NOOPT("alerts ingest"),
	  "an approved source had N % or more of a day's messages failing "
	  "DMARC, after a month under that", false },
};

#undef S
#undef L
#undef N
#undef Z
#undef M
#undef C
#undef NOOPT

static bool
is_string(const struct conf_entry *e)
{
	return e->type == CONF_STRING || e->type == CONF_LIST ||
	    e->type == CONF_CHOICE;
}

/* Whether v is one of the words of a choice's arg ("on|off|local"). */
static bool
is_choice(const struct conf_entry *e, const char *v)
{
	const char	*p = e->arg, *bar;
	size_t		 l = strlen(v);

	for (; p != NULL; p = bar == NULL ? NULL : bar + 1) {
		bar = strchr(p, '|');
		if ((bar == NULL ? strlen(p) : (size_t)(bar - p)) == l &&
		    strncmp(p, v, l) == 0)
			return true;
	}
	return false;
}

/* Where e lives in c (const for conf_print, which only reads). */
static char **
entry_string(const struct conf *c, const struct conf_entry *e)
{
	return (char **)(void *)((char *)(uintptr_t)c + e->offset);
}

static uint64_t *
entry_number(const struct conf *c, const struct conf_entry *e)
{
	return (uint64_t *)(void *)((char *)(uintptr_t)c + e->offset);
}

static void
conf_defaults(struct conf *c)
{
	const struct conf_entry	*e;
	size_t			 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < nitems(conf_table); i++) {
		e = &conf_table[i];
		if (!is_string(e))
			*entry_number(c, e) = e->def;
		else if (e->sdef != NULL &&
		    (*entry_string(c, e) = strdup(e->sdef)) == NULL)
			fatalx("out of memory");
	}
}

static int
parse_value(const struct conf_entry *e, const char *v, uint64_t *n_r,
    char *why, size_t whylen)
{
	unsigned long long	 n;
	char			*end;
	uint64_t		 mult = 1;

	errno = 0;
	if (e->type == CONF_MONTHS && strcmp(v, "off") == 0)
		v = "0";
	if (*v < '0' || *v > '9') {
		snprintf(why, whylen, "%s: not a number: %s", e->name, v);
		return -1;
	}
	n = strtoull(v, &end, e->type == CONF_MODE ? 8 : 10);
	if (e->type == CONF_SIZE && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1ULL << 10; end++; break;
		case 'm': case 'M': mult = 1ULL << 20; end++; break;
		case 'g': case 'G': mult = 1ULL << 30; end++; break;
		}
	}
	if (e->type == CONF_MONTHS && n > 0) {
		if (strcmp(end, "mo") == 0)
			end += 2;
		else if (strcmp(end, "y") == 0 && n <= UINT64_MAX / 12) {
			mult = 12;
			end++;
		} else
			end = (char *)"?";	/* a number alone: of what? */
	}
	if (*end != '\0' || errno == ERANGE ||
	    (mult > 1 && n > UINT64_MAX / mult)) {
		snprintf(why, whylen, "%s: not a %s: %s", e->name,
		    e->type == CONF_SIZE ? "size (N, NK, NM, NG)" :
		    e->type == CONF_MODE ? "mode (octal)" :
		    e->type == CONF_MONTHS ? "duration (13mo, 2y or off)" :
		    "number", v);
		return -1;
	}
	n *= mult;
	if (n < e->min || n > e->max) {
		if (e->type == CONF_MODE)
			snprintf(why, whylen, "%s: %llo out of range 0..0777",
			    e->name, n);
		else if (e->type == CONF_MONTHS)
			snprintf(why, whylen, "%s: %llu months, more than %llu",
			    e->name, n, (unsigned long long)e->max);
		else
			snprintf(why, whylen, "%s: %llu out of range "
			    "%llu..%llu", e->name, n,
			    (unsigned long long)e->min,
			    (unsigned long long)e->max);
		return -1;
	}
	*n_r = n;
	return 0;
}

/* A number as the file takes it: modes in octal, the rest in decimal. */
static const char *
format_number(const struct conf_entry *e, uint64_t n, char *buf, size_t len)
{
	if (e->type == CONF_MONTHS && n == 0)
		snprintf(buf, len, "off");
	else
		snprintf(buf, len, e->type == CONF_MODE ? "%04llo" :
		    e->type == CONF_MONTHS ? "%llumo" : "%llu",
		    (unsigned long long)n);
	return buf;
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

/* Sets one setting from its text, as the file and the options give it. */
static int
conf_set(struct conf *c, const struct conf_entry *e, const char *v,
    char *why, size_t whylen)
{
	char		**sp;
	uint64_t	  n;

	if (is_string(e)) {
		/* empty: the default (nothing, for most) */
		if (*v == '\0' && e->sdef != NULL)
			v = e->sdef;
		if (e->type == CONF_CHOICE && !is_choice(e, v)) {
			snprintf(why, whylen, "%s: expected %s: %s", e->name,
			    e->arg, v);
			return -1;
		}
		sp = entry_string(c, e);
		free(*sp);
		if ((*sp = strdup(v)) == NULL)
			fatalx("out of memory");
		return 0;
	}
	if (parse_value(e, v, &n, why, whylen) == -1)
		return -1;
	*entry_number(c, e) = n;
	return 0;
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
		if (e->secret_url && *v != '\0' && has_password(v) &&
		    sb != NULL && (sb->st_mode & (S_IROTH | S_IWOTH))) {
			fprintf(errs, "%s:%u: %s holds a password but the "
			    "file is world-%s (chmod o-rw %s)\n", file, lineno,
			    e->name, sb->st_mode & S_IWOTH ? "writable" :
			    "readable", file);
			nerr++;
		}
		if (conf_set(c, e, v, why, sizeof(why)) == -1) {
			str_escape(clean, sizeof(clean), why, strlen(why));
			fprintf(errs, "%s:%u: %s\n", file, lineno, clean);
			nerr++;
		}
	}
	/* the reports' headers outlive their records: the dedup key */
	if (c->rollup_retention != 0 && c->retention == 0) {
		fprintf(errs, "%s: rollup_retention needs retention: the "
		    "rollups outlive the records, not the other way\n", file);
		nerr++;
	} else if (c->rollup_retention != 0 &&
	    c->rollup_retention < c->retention) {
		fprintf(errs, "%s: rollup_retention (%llumo) is shorter than "
		    "retention (%llumo)\n", file,
		    (unsigned long long)c->rollup_retention,
		    (unsigned long long)c->retention);
		nerr++;
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
		if (is_string(&conf_table[i]))
			free(*entry_string(c, &conf_table[i]));
	memset(c, 0, sizeof(*c));
}

void
conf_print(const struct conf *c, FILE *out)
{
	const struct conf_entry	*e;
	const char		*s;
	char			 num[32];
	size_t			 i;

	for (i = 0; i < nitems(conf_table); i++) {
		e = &conf_table[i];
		if (is_string(e)) {
			s = *entry_string(c, e);
			if (e->secret_url && s != NULL && has_password(s))
				s = "(set, holds a password)";
		} else
			s = format_number(e, *entry_number(c, e),
			    num, sizeof(num));
		fprintf(out, "%s = %s\t# %s%s%s\n", e->name, s ? s : "",
		    e->cmd ? e->cmd : "", e->cmd ? ": " : "", e->help);
	}
}

/* Whether cmd is one of the entry's commands (words of e->cmd). */
static bool
for_cmd(const struct conf_entry *e, const char *cmd)
{
	const char	*p = e->cmd;
	size_t		 len = strlen(cmd);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, cmd, len) == 0 && (p[len] == ' ' ||
		    p[len] == '\0'))
			return true;
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	}
	return false;
}

void
conf_help(const char *cmd, FILE *out)
{
	const struct conf_entry	*e;
	struct buf		 b;
	char			 opt[64], num[32], lo[32], hi[32];
	size_t			 i;
	int			 n, rc = 0;

	buf_init(&b, 1 << 16);
	for (i = 0; i < nitems(conf_table); i++) {
		e = &conf_table[i];
		if (e->option == NULL || !for_cmd(e, cmd))
			continue;
		/* the option and its help, then its setting and default as
		 * check-config -v prints it */
		n = snprintf(opt, sizeof(opt), "  --%s %s", e->option, e->arg);
		rc |= buf_adds(&b, opt);
		if (n > HELP_COL - 1) {
			rc |= buf_addc(&b, '\n');
			n = 0;
		}
		rc |= buf_wrap(&b, e->help, n, HELP_COL, 78);
		if (is_string(e))
			rc |= buf_printf(&b, "%*s%ssetting %s%s%s", HELP_COL, "",
			    e->type == CONF_LIST ? "repeatable; " : "", e->name,
			    e->sdef ? "; default " : "", e->sdef ? e->sdef : "");
		else if (e->type == CONF_MODE)
			rc |= buf_printf(&b, "%*ssetting %s; default %s",
			    HELP_COL, "", e->name,
			    format_number(e, e->def, num, sizeof(num)));
		else
			rc |= buf_printf(&b, "%*ssetting %s; default %s; %s..%s",
			    HELP_COL, "", e->name,
			    format_number(e, e->def, num, sizeof(num)),
			    format_number(e, e->min, lo, sizeof(lo)),
			    format_number(e, e->max, hi, sizeof(hi)));
		rc |= buf_addc(&b, '\n');
	}
	if (rc != 0)
		fatalx("conf_help: out of memory");
	if (b.len > 0)		/* a command may take none: no data then */
		fwrite(b.data, 1, b.len, out);
	buf_free(&b);
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

void
conf_longopts(const char *cmd, const struct option *own, struct option *opts,
    size_t max)
{
	size_t	i, n = 0;

	for (; own->name != NULL; own++) {
		if (n + 1 >= max)
			fatalx("conf_longopts: %s: room for %zu", cmd, max);
		opts[n++] = *own;
	}
	for (i = 0; i < nitems(conf_table); i++) {
		if (conf_table[i].option == NULL ||
		    !for_cmd(&conf_table[i], cmd))
			continue;
		if (n + 1 >= max)
			fatalx("conf_longopts: %s: room for %zu", cmd, max);
		opts[n].name = conf_table[i].option;
		opts[n].has_arg = required_argument;
		opts[n].flag = NULL;
		opts[n].val = CONF_OPT_BASE + (int)i;
		n++;
	}
	memset(&opts[n], 0, sizeof(opts[n]));
}

int
cmd_common_opt(struct cmd_env *env, int ch, const char *arg)
{
	switch (ch) {
	case 'f':
		env->conf_file = arg;
		return 0;
	case 'D':
		env->db_url = arg;
		return 0;
	}
	if (ch < CONF_OPT_BASE ||
	    (size_t)(ch - CONF_OPT_BASE) >= nitems(conf_table))
		return -1;
	if (env->nargs == CONF_ARGS_MAX) {
		log_warnx("more than %d setting options", CONF_ARGS_MAX);
		return -1;
	}
	env->args[env->nargs].entry = ch - CONF_OPT_BASE;
	env->args[env->nargs].value = arg;
	env->nargs++;
	return 0;
}

int
conf_arg_list(const struct cmd_env *env, const char *name,
    const char **items, unsigned max)
{
	unsigned	i, n = 0;

	for (i = 0; i < env->nargs; i++)
		if (strcmp(conf_table[env->args[i].entry].name, name) == 0) {
			if (n == max)
				return -1;
			items[n++] = env->args[i].value;
		}
	return (int)n;
}

/* The command line's settings over the file's; a list option's items are
 * kept apart (conf_arg_list), since a path may hold a comma or a space. */
static int
conf_apply_args(struct conf *c, const struct cmd_env *env)
{
	const struct conf_entry	*e;
	char			 why[256], clean[300];
	unsigned		 i;
	int			 rc = 0;

	for (i = 0; i < env->nargs; i++) {
		e = &conf_table[env->args[i].entry];
		if (e->type == CONF_LIST)
			continue;
		if (conf_set(c, e, env->args[i].value, why,
		    sizeof(why)) == -1) {
			str_escape(clean, sizeof(clean), why, strlen(why));
			log_warnx("--%s: %s", e->option, clean);
			rc = -1;
		}
	}
	return rc;
}

int
cmd_env_load(struct cmd_env *env)
{
	int	rc = 0;

	if (conf_load(&env->conf, env->conf_file, stderr) == -1)
		rc = EXIT_CONFIG;
	else if (conf_apply_args(&env->conf, env) == -1)
		rc = EXIT_USAGE;
	if (rc != 0) {
		conf_free(&env->conf);
		return rc;
	}
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

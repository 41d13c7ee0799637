/*
 * db.h - the PostgreSQL store (libpq): connecting, migrations, storing
 * reports (the database sink of ingest/message.c), transactions of many
 * messages, the quarantine, export, and the embedded cluster.
 *
 * db/ takes reports already parsed: it includes no unpacker and calls no
 * parser, only the report types (and, for export, their JSON form).
 *
 * Error contract for the whole component: functions return 0 on success,
 * DB_EPERM (-1) for a permanent failure (bad data, a constraint, a schema
 * newer than this program) or DB_ETEMP (-2) for a temporary one (the
 * database unreachable, the connection lost, out of resources, a deadlock):
 * the caller keeps the input and exits EX_TEMPFAIL or answers 4xx.  The
 * reason goes to a caller-owned buffer (err, errlen; always terminated).
 */
#ifndef DMARCD_DB_H
#define DMARCD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "lib.h"

/* The report types (parser/report.h) and the sink interface
 * (ingest/message_sink.h), by name only: the .c files that use them
 * include those headers. */
struct agg_handler;
struct arf_report;
struct tlsrpt_report;
struct message_sink;

#define DB_EPERM	(-1)
#define DB_ETEMP	(-2)
#define DB_ERETRY	(-3)	/* db_batch_*: see there */
#define DB_EFULL	(-4)	/* a cap of the data: db_senders_add */

#define DB_NAME		"dmarcd"	/* database of the embedded cluster */
/* seconds a connection may take to open, unless the URL says
 * (connect_timeout): libpq's default waits as long as TCP does */
#define DB_CONNECT_TIMEOUT	"10"
/* the embedded cluster's user (as root) and shared_buffers by default */
#define DB_CLUSTER_USER		"dmarcd"
#define DB_SHARED_BUFFERS	"32MB"

struct db_config {
	const char	*url;		/* postgresql:// URL or conninfo; NULL
					 * or "" = the embedded cluster */
	const char	*state_dir;	/* NULL = db_state_dir_default() */
	const char	*cluster_user;	/* run the cluster as this when root;
					 * NULL = DB_CLUSTER_USER */
	const char	*pg_bindir;	/* NULL = newest PostgreSQL found */
	const char	*shared_buffers;	/* NULL = DB_SHARED_BUFFERS */
};

/* A connection.  Fields are private to db/, except conn for the
 * read-only SELECTs of src/summary.c. */
struct db {
	PGconn		*conn;
	bool		 in_copy;
	bool		 retryable;	/* last error: deadlock, serialization */
	bool		 prepared;	/* store.c's statements are prepared */
	bool		 rollup_later;	/* queue rollups (rollup_queue), for
					 * many concurrent one-message
					 * transactions */
	char		 sqlstate[6];	/* of the last error, "" if none */
};

/* db.c */
/* Connects (starting the embedded cluster if no URL is configured) and,
 * when migrate is true, brings the schema up to date first. */
int	db_open(const struct db_config *cfg, bool migrate, struct db **db_r,
	    char *err, size_t errlen);
void	db_close(struct db **db);
/* Ends the open transaction, if any, without keeping it (errors ignored:
 * a broken connection has no transaction left either). */
void	db_rollback(struct db *db);
/* What the last error says of writing, for a clear refusal: "read-only"
 * (a hot standby, a read-only transaction), "not allowed" (the role has
 * no right to write there) or NULL. */
const char *db_write_refused(const struct db *db);
/* Runs a command without parameters (BEGIN, COMMIT, SAVEPOINT ...). */
int	db_exec(struct db *db, const char *sql, char *err, size_t errlen);
/* Classifies a failed result (res may be NULL): DB_ETEMP or DB_EPERM, with
 * the server's message in err. */
int	db_result_error(struct db *db, const PGresult *res, const char *what,
	    char *err, size_t errlen);
/* Failed queries (each db_result_error) and failed connections of this
 * process since it started, for /metrics. */
uint64_t db_error_count(void);
/* Runs a query in single-row mode and calls row for each row, so a result
 * of any size is streamed.  row returns 0, or an error (with err filled),
 * after which the remaining rows are drained unseen.  Returns 0 or the
 * first error (a failed query is classified as by db_result_error, its
 * message prefixed with what). */
typedef int (*db_row_fn)(void *ctx, const PGresult *row, char *err,
    size_t errlen);
int	db_each_row(struct db *db, const char *what, const char *sql,
	    int nparams, const char *const *values, db_row_fn row, void *ctx,
	    char *err, size_t errlen);
/* True when res is an error that retrying the transaction may cure
 * (deadlock, serialization failure). */
bool	db_result_retryable(const PGresult *res);
/* True when the last error was a deadlock or a serialization failure and
 * the connection is still up: running the transaction again may do. */
bool	db_may_retry(const struct db *db);
/* Appends text as a COPY text-format field: NULL -> \N; backslash, tab,
 * newline and carriage return escaped.  The one escaping path for COPY. */
int	db_copy_field(struct buf *b, const char *s);
/* Appends a text[] literal ({"a",NULL}) of n strings found every stride
 * bytes from first; copy selects COPY escaping on top (else plain, for a
 * query parameter). */
int	db_array_field(struct buf *b, const char *const *first, size_t stride,
	    size_t n, bool copy);
/* Parses a one-dimensional text[] in PostgreSQL's output form into at most
 * max strings (pointers into s, which is modified; NULL elements are NULL).
 * Returns the number of elements, or -1 when malformed. */
int	db_array_parse(char *s, char **out, size_t max);
/* db_array_parse into *v, first grown to s's commas + 1 (*max: its room,
 * kept between calls).  Returns the number of elements, or -1 when
 * malformed or out of memory. */
int	db_array_parse_grow(char *s, char ***v, size_t *max);

/* migrate.c; the SQL comes from sql/NNN_name.sql through the generated
 * migrations.c. */
struct db_migration {
	int		 version;
	const char	*name;
	const char	*sql;
};
extern const struct db_migration db_migrations[];
extern const size_t db_n_migrations;
/* sql/functions.sql: applied after the migrations when it changed. */
extern const char db_functions[];

/* The newest schema version this program knows. */
int	db_schema_latest(void);
/* The database's schema version (0: empty database). */
int	db_schema_version(struct db *db, int *version_r, char *err,
	    size_t errlen);
/* Applies the migrations above the current version up to target (0 = the
 * latest) in one transaction, under an advisory lock so several processes
 * may race, then, at the latest version, db_functions if the database's
 * copy differs.  from_r/to_r (may be NULL) get the versions before and
 * after. */
int	db_migrate(struct db *db, int target, int *from_r, int *to_r,
	    char *err, size_t errlen);
/* Prints version, pending migrations and table sizes. */
int	db_status_print(struct db *db, FILE *out, char *err, size_t errlen);

/*
 * store.c: one transaction of one or many messages (struct db_batch: the
 * only holder of a transaction's state), and aggregate reports into it
 * as an agg_handler, one report per SAVEPOINT.
 *
 * Group commit: many messages in one transaction, each in a SAVEPOINT of
 * its own, so one commit (one fsync) serves them all.  db_batch_begin()
 * opens the transaction, messages go in (db_batch_item_begin/_end around
 * each, db_batch_quarantine, db_batch_unkept), db_batch_commit() writes
 * the reports' totals and rollups and commits: only after it returns 0
 * may the inputs of the batch be released (Maildir done).
 *   db_batch_item_end(rc): the message's result rc (0 or an error of the
 *     message, err filled) ends its SAVEPOINT: 0 released; DB_EPERM
 *     rolled back alone (store it as a non-report, or keep the input),
 *     DB_ERETRY deadlock or serialization failure, rolled back alone
 *     (commit the batch, then give it a transaction of its own);
 *     DB_ETEMP the batch is lost: db_batch_rollback(), keep every input.
 *   db_batch_quarantine, db_batch_unkept: the same codes.
 * db_batch_commit() returns 0, DB_ETEMP or DB_EPERM; after an error
 * nothing is committed, or it is in doubt: keep the inputs (dedup makes
 * ingesting them again harmless).
 */
struct db_batch {
	struct db	*db;
	bool		 open;		/* begin .. commit/rollback; callers
					 * read it, only store.c writes */
	/* Reports stored in the open transaction whose totals and rollups
	 * are written at its end: array literals for dmarcd_store_reports();
	 * pend_n reports. */
	struct buf	 pend_domain, pend_id, pend_records, pend_messages,
			 pend_sha256, pend_doc_size;
	/* their documents: a bytea[] in binary form, its 20-byte header
	 * (written at the end) then each element's length and bytes */
	struct buf	 pend_doc;
	size_t		 pend_n;
};

void	db_batch_init(struct db_batch *b, struct db *db);
void	db_batch_deinit(struct db_batch *b);
int	db_batch_begin(struct db_batch *b, char *err, size_t errlen);
int	db_batch_commit(struct db_batch *b, char *err, size_t errlen);
/* Rolls the open batch back (nothing of it stays). */
void	db_batch_rollback(struct db_batch *b);
int	db_batch_item_begin(struct db_batch *b, char *err, size_t errlen);
int	db_batch_item_end(struct db_batch *b, int rc, char *err,
	    size_t errlen);
/* A message kept with reason (its storing failed for good), in a
 * SAVEPOINT of its own. */
int	db_batch_quarantine(struct db_batch *b, const void *data, size_t len,
	    const char *source, const char *reason, char *err, size_t errlen);
/* A quarantine row for input whose bytes are not kept (larger than the
 * message cap): empty bytes, its real size, the reason, the source; keyed
 * by source and size, so a second run bumps times_seen. */
int	db_batch_unkept(struct db_batch *b, uint64_t size, const char *source,
	    const char *reason, char *err, size_t errlen);

struct db_document;

struct db_store {
	struct db	*db;
	struct db_batch	*batch;		/* the transaction it stores into */
	const char	*source;	/* where the message came from */
	const char	*item;		/* attachment name */
	const char	*message_id;
	/* the current report */
	int64_t		 report;	/* report.id, 0 when a duplicate */
	char		*domain;	/* owned */
	uint32_t	 ordinal;
	int64_t		 begin, end;
	char		 month[32];	/* record.month of the report (a date) */
	uint64_t	 records_pending, messages_pending;
	struct buf	 copy;		/* COPY lines not yet sent */
	bool		 duplicate;
	bool		 sp_open;	/* the last report's SAVEPOINT is not
					 * released yet (the next one does) */
	int		 status;	/* DB_ETEMP once the database failed */
	char		 err[512];
	unsigned char	 sha256[32];	/* of the document, set before end */
	struct db_document *doc;	/* the document, set before end (the
					 * caller's); NULL: none */
	/* totals */
	uint64_t	 reports, duplicates, records, messages;
};

extern const struct agg_handler db_store_handler;

void	db_store_init(struct db_store *st, struct db_batch *b);
void	db_store_deinit(struct db_store *st);
/* Around one agg_parse: a SAVEPOINT, then RELEASE when the parse succeeded
 * or ROLLBACK TO when it failed (ok false), so a bad report leaves the
 * message's other reports in place.  item_end returns 0 when the report was
 * stored or was a duplicate, DB_EPERM when it was rolled back (the reason
 * is the parser's, or in err when storing it failed), DB_ETEMP. */
int	db_store_item_begin(struct db_store *st, char *err, size_t errlen);
int	db_store_item_end(struct db_store *st, bool ok, char *err,
	    size_t errlen);

/* quarantine.c */
/* Keeps a message that gave no (or not every) report: inserted, or when
 * the same bytes are already there, times_seen and last_seen bumped. */
int	db_quarantine_put(struct db *db, const void *data, size_t len,
	    const char *source, const char *reason, char *err, size_t errlen);
int	db_quarantine_list(struct db *db, bool all, FILE *out, char *err,
	    size_t errlen);
/* Writes the original bytes of quarantine row id, byte for byte. */
int	db_quarantine_show(struct db *db, int64_t id, FILE *out, char *err,
	    size_t errlen);
/* Calls fn for each unresolved row (id > 0: that row only). */
struct db_quarantined {
	int64_t		 id;
	const char	*domain;
	const char	*source;
	const void	*data;
	size_t		 len;
};
int	db_quarantine_each(struct db *db, int64_t id,
	    int (*fn)(void *ctx, const struct db_quarantined *q), void *ctx,
	    char *err, size_t errlen);
/* Marks a row resolved (its bytes stay). */
int	db_quarantine_resolve(struct db *db, const char *domain, int64_t id,
	    char *err, size_t errlen);

/* document.c: an aggregate report's document, gzipped as it streams past
 * the parser (at most max bytes of gzip held; over that, or with max 0,
 * only its size is kept), then stored beside its report (report_document)
 * in the open transaction. */
struct db_document;
struct db_document *db_document_new(uint64_t max);
void	db_document_add(struct db_document *d, const void *p, size_t n);
/* Ends the gzip: *gz_r its bytes (NULL when not kept), *size_r the
 * document's size. */
void	db_document_finish(struct db_document *d, const void **gz_r,
	    size_t *len_r, uint64_t *size_r);
/* Inserts it now (what store.c does when a transaction's pending
 * documents are full; otherwise they go with dmarcd_store_reports). */
int	db_document_store(struct db *db, struct db_document *d,
	    const char *domain, int64_t report, char *err, size_t errlen);
void	db_document_free(struct db_document **d);

/*
 * sink.c: the database sink of ingest/message.c (db_message_sink, ctx a
 * struct db_sink): each report into the batch's transaction, a SAVEPOINT
 * each; what gave no report becomes the reasons to quarantine the whole
 * message with, in the same transaction.
 */
struct db_sha256;

struct db_sink {
	struct db_store		 st;	/* first: the agg_handler's ctx */
	struct buf		 reasons;
	unsigned		 failed;
	unsigned		 arf, arf_dups, tls, tls_dups;
	bool			 in_aggregate;	/* bytes go to doc as well */
	struct db_sha256	*h;	/* of the current item's bytes */
	struct db_document	*doc;	/* of the current aggregate report */
	uint64_t		 max_document;
	int			 status;	/* why it stopped the message */
};

struct db_message_result {
	unsigned	reports;	/* stored */
	unsigned	duplicates;
	uint64_t	records;
	bool		quarantined;
	char		reason[1024];	/* why it was quarantined */
	/* failure and TLS reports (not in reports/duplicates above) */
	unsigned	forensic, forensic_duplicates;
	unsigned	tlsrpt, tlsrpt_duplicates;
};

extern const struct message_sink db_message_sink;

/* A message from source (message_id may be NULL) into the open batch b;
 * max_document: gzip bytes kept of an aggregate report's document. */
void	db_sink_init(struct db_sink *s, struct db_batch *b, const char *source,
	    const char *message_id, uint64_t max_document);
/* After message_run() returned rc for data[0..len): its result in res;
 * when any part of it gave no report it is quarantined (if quarantine)
 * with the reasons.  Returns 0, DB_EPERM or DB_ETEMP (rc MESSAGE_STOP:
 * why the sink stopped it, err left as message_run filled it). */
int	db_sink_finish(struct db_sink *s, int rc, const void *data,
	    size_t len, bool quarantine, struct db_message_result *res,
	    char *err, size_t errlen);
void	db_sink_deinit(struct db_sink *s);

/* export.c */
enum db_export_format {
	DB_EXPORT_JSON,
	DB_EXPORT_CSV,
};

/* The condition of the domains a user may see: $n a text[] literal of
 * them, NULL for every domain (" AND (...)"; col: the domain column).
 * Planned with the value (an unnamed statement), so NULL costs nothing. */
#define DB_DOMAINS_AND(col, n) \
	" AND ($" #n "::text[] IS NULL OR " col " = ANY ($" #n "::text[]))"

struct db_export_filter {
	const char	*domain;	/* NULL = all */
	/* and only these (a text[] literal, as the users file resolved
	 * them for a user: httpd_user_domains); NULL = no restriction */
	const char	*domains;
	const char	*since;		/* period ends at or after (timestamptz
					 * text or unix seconds) */
	const char	*until;		/* period begins before */
};

/* Streams stored reports to out in report order, records in their order. */
int	db_export(struct db *db, const struct db_export_filter *f,
	    enum db_export_format fmt, FILE *out, char *err, size_t errlen);
/* A --since/--until value as a timestamptz parameter (unix seconds become
 * ISO 8601 UTC in buf; NULL for NULL or ""). */
const char *db_export_time_param(const char *s, char *buf, size_t len);
/* Appends one RFC 4180 CSV field (quoted when needed).  The one path. */
int	db_csv_field(struct buf *b, const char *s, bool first);

/* sources.c: the source IPs of the reports db_export would export with f,
 * by messages descending then address; fn is called once per IP with
 * what is known of it (NULL: unknown) and what it sent.  The strings live
 * until fn returns. */
struct db_source {
	const char		 *ip;
	const char		 *ptr;		/* as stored: \DDD escapes */
	bool			  ptr_verified;
	const char		 *base_domain;
	const char		 *service;
	const char		 *service_type;
	bool			  has_asn;
	long long		  asn;
	const char		 *as_org;
	const char		 *country;
	uint64_t		  messages;
	uint64_t		  dmarc_pass;	/* dmarcd_record_pass() */
	const char *const	 *domains;	/* header_from, sorted by byte */
	size_t			  n_domains;
};
typedef int (*db_source_fn)(void *ctx, const struct db_source *s,
    char *err, size_t errlen);
int	db_sources(struct db *db, const struct db_export_filter *f,
	    db_source_fn fn, void *ctx, char *err, size_t errlen);

/* simulate.c: for the policy simulator, over the reports db_export would
 * export with f: pfn once per domain with its latest published policy
 * (NULL: not published; pct -1), then fn once per group of records alike
 * in everything a DMARC result and a class depend on, by domain then
 * source address.  The strings live until the callback returns. */
struct db_sim_policy {
	const char	*domain;
	const char	*p, *sp, *np, *adkim, *aspf, *testing;
	int		 pct;
};
struct db_sim_row {
	const char		*domain, *header_from, *ip;
	const char *const	*dkim_domain, *const *dkim_result;
	size_t			 ndkim;
	const char *const	*spf_domain, *const *spf_scope,
				*const *spf_result;	/* scope may be NULL */
	size_t			 nspf;
	const char *const	*reason_type;
	size_t			 nreason;
	const char		*service, *service_type, *ptr;
	bool			 ptr_verified;
	uint64_t		 count;
	size_t			 profile;	/* db_simulate_days: the
						 * row's profile, 1.. in this
						 * call; else 0 */
};
typedef int (*db_sim_policy_fn)(void *ctx, const struct db_sim_policy *p,
    char *err, size_t errlen);
typedef int (*db_sim_row_fn)(void *ctx, const struct db_sim_row *r,
    char *err, size_t errlen);
int	db_simulate(struct db *db, const struct db_export_filter *f,
	    db_sim_policy_fn pfn, db_sim_row_fn fn, void *ctx, char *err,
	    size_t errlen);
/* The same from the rollup (sql/015_simulator.sql), for the reports whose
 * day (dmarcd_report_day, as the dashboard's pages count them) the period
 * overlaps: rows that share a profile share its arrays. */
int	db_simulate_days(struct db *db, const struct db_export_filter *f,
	    db_sim_policy_fn pfn, db_sim_row_fn fn, void *ctx, char *err,
	    size_t errlen);
/* The same groups for the records of one source (ip, text) of domain. */
int	db_simulate_source(struct db *db, const char *domain, const char *ip,
	    db_sim_row_fn fn, void *ctx, char *err, size_t errlen);

/* senders.c: the approved-sender rules of sql/013_senders.sql, kind and
 * value normalised by the caller (policy/senders.h sender_rule_parse). */
struct sender_rules;
struct db_sender_rule {
	const char	*domain, *kind, *value;
	const char	*note;		/* NULL: none */
	const char	*added;		/* list: ISO 8601 UTC */
};
typedef int (*db_sender_rule_fn)(void *ctx, const struct db_sender_rule *r,
    char *err, size_t errlen);
/* The rules of domain (NULL: all) by domain, kind, value. */
int	db_senders_list(struct db *db, const char *domain,
	    db_sender_rule_fn fn, void *ctx, char *err, size_t errlen);
/* Adds r (*added_r false when it was there: its note replaced when r has
 * one); DB_EFULL when the domain has max rules already. */
int	db_senders_add(struct db *db, const struct db_sender_rule *r,
	    size_t max, bool *added_r, char *err, size_t errlen);
/* Removes r (a service of any case); *removed_r false when not there. */
int	db_senders_remove(struct db *db, const struct db_sender_rule *r,
	    bool *removed_r, char *err, size_t errlen);
/* Makes the whole table equal to rules (distinct, each domain within
 * its cap: the caller checked), notes included, in one transaction. */
struct db_senders_sync_counts {
	uint64_t	added, removed, noted;	/* noted: a note changed */
};
int	db_senders_sync(struct db *db, const struct db_sender_rule *rules,
	    size_t n, struct db_senders_sync_counts *c_r, char *err,
	    size_t errlen);
/* Adds the rules of domain to rs. */
int	db_senders_load(struct db *db, const char *domain,
	    struct sender_rules *rs, char *err, size_t errlen);
/* A suggested approval: a rule no rule of the domain covers yet, and
 * the sources of the period it would approve. */
#define DB_SUGGEST_IPS_MAX	10	/* addresses named per suggestion */
/* What `senders suggest` and /api/senders call passing consistently: at
 * least this many messages in the period, at least this % passing. */
#define DB_SUGGEST_MIN_MESSAGES	10
#define DB_SUGGEST_MIN_PASS_PCT	95
struct db_sender_suggestion {
	char		*domain, *rule;
	char		*service, *service_type;	/* NULL: none */
	uint64_t	 sources, messages, dmarc_pass;
	char		*ips[DB_SUGGEST_IPS_MAX];	/* the first sources */
	size_t		 nips;
};
/* The suggestions of the reports f selects whose sources sent at least
 * min_messages, at least min_pass_pct % passing DMARC
 * (dmarcd_record_pass), by domain then messages descending; *s_r is
 * the caller's (db_senders_suggestions_free). */
int	db_senders_suggest(struct db *db, const struct db_export_filter *f,
	    uint64_t min_messages, unsigned min_pass_pct,
	    struct db_sender_suggestion **s_r, size_t *n_r, char *err,
	    size_t errlen);
void	db_senders_suggestions_free(struct db_sender_suggestion *s, size_t n);

/* store.c: adds the queued reports (db->rollup_later, rollup_queue) to the
 * rollups until the queue is empty, a few thousand a transaction. */
int	db_rollup_drain(struct db *db, char *err, size_t errlen);

/* metrics.c: the gauges /metrics reads from the database at scrape time
 * (lmtp's listener and serve), and the trivial query of /healthz. */
struct db_gauges {
	uint64_t	rollup_queue;	/* reports not yet in the rollups */
	double		rollup_lag;	/* seconds since the oldest of them was
					 * received; 0 when none */
	uint64_t	enrich_pending;	/* source_host rows 'pending' */
	uint64_t	quarantine_open; /* quarantine items unresolved */
};

int	db_gauges_read(struct db *db, struct db_gauges *g, char *err,
	    size_t errlen);
/* Appends dmarcd_database_errors_total (db_error_count), then g (up:
 * whether it was read; when not, only dmarcd_database_up 0) in the
 * exposition format.  Returns as buf_add. */
int	db_gauges_write(struct buf *out, const struct db_gauges *g, bool up);
/* SELECT 1: 0, or DB_ETEMP / DB_EPERM with err. */
int	db_ping(struct db *db, char *err, size_t errlen);

/* cluster.c: the embedded default cluster. */
/* $DMARCD_STATE_DIR, /var/lib/dmarcd as root, else $XDG_STATE_HOME/dmarcd
 * or ~/.local/state/dmarcd.  Writes into buf. */
int	db_state_dir_default(char *buf, size_t len);
/* Creates (initdb) and starts the cluster if needed; conninfo_r gets how
 * to reach it. */
int	db_cluster_start(const struct db_config *cfg, char *conninfo_r,
	    size_t conninfo_len, char *err, size_t errlen);
/* Stops it (pg_ctl stop -m fast); 0 also when it was not running. */
int	db_cluster_stop(const struct db_config *cfg, char *err, size_t errlen);
/* 1 running, 0 stopped, 2 not created; DB_EPERM on error. */
int	db_cluster_status(const struct db_config *cfg, FILE *out, char *err,
	    size_t errlen);

/* sha256.c: SHA-256 (nettle). */
struct db_sha256;
struct db_sha256 *db_sha256_new(void);
void	db_sha256_update(struct db_sha256 *h, const void *p, size_t n);
/* Writes the 32-byte digest and frees h. */
void	db_sha256_finish(struct db_sha256 **h, unsigned char out[32]);

/* --- failure reports (forensic.c) and SMTP TLS reports (tlsrpt.c) -------
 * Each stores one report inside the caller's transaction, in a SAVEPOINT
 * of its own, deduplicated by the table's unique key (ON CONFLICT DO
 * NOTHING: *duplicate_r set).  They return 0 (stored or duplicate),
 * DB_EPERM when the report was not stored (unreadable, not a DMARC failure
 * report, refused by the database: the reason in err, the transaction
 * usable) or DB_ETEMP. */
struct db_report_origin {
	const char	*source;	/* where the message came from */
	const char	*item;		/* attachment name */
	const char	*message_id;	/* of the carrying email; may be NULL */
};

/* forensic.c; sha: of the report's identity (see message.h). */
int	db_store_forensic(struct db *db, const struct arf_report *r,
	    const unsigned char sha[32], const struct db_report_origin *o,
	    bool *duplicate_r, char *err, size_t errlen);
/* Failure reports as `dmarcd parse` prints them (source: the stored one). */
int	db_export_forensic(struct db *db, const struct db_export_filter *f,
	    FILE *out, char *err, size_t errlen);

/* tlsrpt.c; sha: of the report's JSON as it came. */
int	db_store_tlsrpt(struct db *db, const struct tlsrpt_report *r,
	    const unsigned char sha[32], const struct db_report_origin *o,
	    bool *duplicate_r, char *err, size_t errlen);
int	db_export_tlsrpt(struct db *db, const struct db_export_filter *f,
	    FILE *out, char *err, size_t errlen);

/* access.c: the domains the database holds that match any of patterns
 * (domain_pattern_ok) into out, as a text[] literal with its '\0' (for
 * DB_DOMAINS_AND; "{}" when none).  out's cap: DB_USER_DOMAINS_MAX. */
#define DB_USER_DOMAINS_MAX	(16 << 20)	/* bytes of that list */
int	db_user_domains(struct db *db, const char *const *patterns, size_t n,
	    struct buf *out, char *err, size_t errlen);

/* grant.c: makes role (a login role, created when missing) able to read
 * dmarcd's tables, or with ingest to write their rows too, now and in the
 * tables later migrations make (default privileges of the calling role,
 * which should own the schema); never to create or alter one.  One
 * transaction.  *created_r: the role was created. */
int	db_grant(struct db *db, const char *role, bool ingest, bool *created_r,
	    char *err, size_t errlen);

/* prune.c: retention.  Drops the months of records (and the record-sized
 * rollups, the reports' documents) older than months, and the per-day
 * rollups and reports older than rollup_months (0: either off), in one
 * transaction after folding the queued rollups; with dry, drops nothing.
 * Writes what it drops (would drop) to out; *n_r: how many tables lose
 * something.  Unless dry, also makes this and next month's partitions and
 * analyses record and sim_day, with both months 0 too.  Returns 0,
 * DB_ETEMP (a lock not had in 10 s, among others) or DB_EPERM. */
int	db_prune(struct db *db, unsigned months, unsigned rollup_months,
	    bool dry, FILE *out, unsigned *n_r, char *err, size_t errlen);
/* Makes this and next month's partitions if they are missing (the rollup
 * folder, hourly), waiting at most 2 s for a lock.  Returns 0 or a DB_E*
 * status. */
int	db_partitions_ahead(struct db *db, char *err, size_t errlen);

/* alerts.c: the alert rules' conditions over the rollups and the
 * quarantine, and their episodes (sql/014_alerts.sql).  An episode opens
 * when a rule starts to hold for a key and closes at the first evaluation
 * where it does not; each destination is sent it once. */
#define DB_ALERTS_MAX		1000	/* keys one rule holds for, and
					 * episodes listed, per evaluation */
#define DB_ALERTS_NEW_DAYS	7	/* days a source stays new, a
					 * day's drop stays recent */
#define DB_ALERTS_HISTORY_DAYS	30	/* "seen before", "expected" */
#define DB_ALERTS_RETRY_DAYS	7	/* an unsent alert is retried */
#define DB_ALERTS_MIN_MESSAGES	10	/* a day's messages for a failure
					 * rate to mean something */

enum db_alert_rule {
	DB_ALERT_NEW_SOURCE,
	DB_ALERT_PASS_DROP,
	DB_ALERT_REPORTER_SILENT,
	DB_ALERT_QUARANTINE_GROWTH,
	DB_ALERT_APPROVED_FAIL,
	DB_ALERT_NRULES
};

/* Thresholds by enum db_alert_rule; 0 turns a rule off. */
struct db_alert_rules {
	uint64_t	 threshold[DB_ALERT_NRULES];
	const char	*today;		/* YYYY-MM-DD (UTC); NULL: the server's */
};

struct db_alert {
	char		*domain;	/* '' for the quarantine */
	int64_t		 id;
	enum db_alert_rule rule;
	char		*key;		/* source IP, reporter, '' */
	int64_t		 value, threshold;
	char		*detail;	/* day(s) the figures are of */
	char		*opened;	/* RFC 3339, UTC */
	bool		 open;		/* false: closed since */
	bool		 mail_sent, webhook_sent;
};

struct db_alerts {
	struct db_alert	*v;
	size_t		 n;
};

/* A key a rule holds for, offered to the caller before its episode is
 * opened or kept (the approved-sender class filter goes here); returns
 * true to keep it. */
typedef bool (*db_alert_filter_fn)(void *ctx, const struct db_alert *a);

/* The rule's name in the table and the JSON: "new_source" ... */
const char	*db_alert_rule_name(enum db_alert_rule rule);
/* Takes the evaluators' lock (a session lock: one evaluation and its
 * sends at a time), evaluates every rule in one transaction and lists in
 * out the episodes of the last DB_ALERTS_RETRY_DAYS days that a wanted
 * destination has not had yet (oldest first, at most DB_ALERTS_MAX).
 * commit false (a dry run) rolls the evaluation back.  The lock is held
 * until db_alerts_done(). */
int	db_alerts_evaluate(struct db *db, const struct db_alert_rules *r,
	    bool want_mail, bool want_webhook, bool commit,
	    db_alert_filter_fn filter, void *ctx, struct db_alerts *out,
	    char *err, size_t errlen);
/* Records that a destination ("mail" or "webhook") took a. */
int	db_alerts_mark_sent(struct db *db, const struct db_alert *a,
	    bool webhook, char *err, size_t errlen);
/* Releases the lock of db_alerts_evaluate. */
void	db_alerts_done(struct db *db);
void	db_alerts_free(struct db_alerts *a);

#endif

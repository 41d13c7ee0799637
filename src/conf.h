/*
 * conf.h - dmarcd.conf: one file for every subcommand.  Settings are
 * declared once, as data in conf.c (name, type, default, bounds, the
 * command and long option that also take it, help): the file's reader, the
 * command lines' options, `COMMAND --help` and `check-config -v` all come
 * from that table.  Every error is reported as file:line, all at once.
 */
#ifndef DMARCD_CONF_H
#define DMARCD_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>

#include "db.h"
#include "message.h"

#define CONF_DEFAULT_FILE	"/etc/dmarcd.conf"

#define EXIT_CONFIG	78	/* EX_CONFIG */

struct conf {
	const char	*file;		/* what was read; NULL: none */
	char		*database;
	char		*state_dir;
	char		*cluster_user;
	char		*pg_bindir;
	char		*shared_buffers;
	/* unpacker */
	uint64_t	 max_message_size;
	uint64_t	 max_attachments;
	uint64_t	 max_archive_entries;
	uint64_t	 max_report_size;
	uint64_t	 max_ratio;
	uint64_t	 max_nesting;
	/* aggregate parser */
	uint64_t	 xml_max_depth;
	uint64_t	 xml_max_elements;
	uint64_t	 max_records;
	uint64_t	 max_text;
	uint64_t	 max_stored_document;	/* gzip bytes; 0: none */
	uint64_t	 ingest_fold_rollups;	/* 1: on a second connection */
	/* retention (db/prune.c), in months; 0: off */
	uint64_t	 retention;
	uint64_t	 rollup_retention;	/* >= retention */
	/* lmtp (cmd_lmtp.c) */
	char		*lmtp_listen;		/* list: unix:PATH or HOST:PORT */
	uint64_t	 lmtp_socket_mode;	/* 0..0777, written in octal */
	char		*lmtp_user;
	uint64_t	 lmtp_max_sessions;
	uint64_t	 lmtp_workers;
	uint64_t	 lmtp_idle_timeout;
	uint64_t	 lmtp_command_timeout;
	uint64_t	 lmtp_data_timeout;
	uint64_t	 lmtp_session_timeout;
	uint64_t	 lmtp_shutdown_timeout;
	uint64_t	 lmtp_max_line;
	uint64_t	 lmtp_max_recipients;
	char		*lmtp_recipients;	/* list of addresses */
	char		*watch_maildirs;	/* list of Maildir paths */
	char		*lmtp_metrics_listen;	/* HOST:PORT; NULL, "": off */
	/* serve (cmd_serve.c) */
	char		*http_listen;
	char		*http_static_dir;
	char		*http_vendor_dir;
	char		*http_tls_cert;
	char		*http_tls_key;
	char		*http_users;
	char		*http_public_url;	/* links in summaries */
	/* summary (cmd_summary.c) */
	char		*summary_from;
	char		*summary_to;
	char		*sendmail_path;
	/* failure reports (db/forensic.c); 0 or 1 */
	uint64_t	 forensic_keep_body;
	uint64_t	 forensic_redact;
	/* enrichment (enrich/, src/cmd_enrich.c) */
	char		*enrich;		/* "on", "off" or "local" */
	uint64_t	 enrich_interval;
	char		*dns_servers;		/* list of ADDR[:PORT] */
	uint64_t	 dns_max_inflight;
	uint64_t	 dns_timeout;		/* seconds */
	uint64_t	 dns_max_rate;		/* queries per second */
	uint64_t	 dns_min_ttl;
	uint64_t	 dns_max_ttl;
	uint64_t	 dns_negative_ttl;
	uint64_t	 dns_error_ttl;
	char		*services_file;
	char		*geoip_db;		/* list of MMDB paths */
	/* alerts (src/alerts.c, db/alerts.c); a rule's 0 turns it off */
	char		*alert_mail_to;		/* address list; NULL: no mail */
	char		*alert_webhook;		/* http(s) URL; NULL: none */
	uint64_t	 alert_webhook_timeout;	/* seconds */
	uint64_t	 alert_new_source;	/* messages in a day */
	uint64_t	 alert_pass_drop;	/* percentage points */
	uint64_t	 alert_reporter_silent;	/* days */
	uint64_t	 alert_quarantine_growth;	/* items */
	uint64_t	 alert_approved_fail;	/* percent of a day's messages */
};

/* Defaults, then the file (NULL: $DMARCD_CONF, else CONF_DEFAULT_FILE, which
 * may be missing).  Returns 0, or -1 with every error written to errs as
 * "file:line: message" lines. */
int	conf_load(struct conf *c, const char *file, FILE *errs);
void	conf_free(struct conf *c);
/* Prints every setting with its value (check-config -v). */
void	conf_print(const struct conf *c, FILE *out);
/* Prints the options cmd takes from the table, each with its setting,
 * default and bounds (`dmarcd CMD --help`). */
void	conf_help(const char *cmd, FILE *out);

/* The database to use: --db, else $DMARCD_DB, else the file's. */
void	conf_db_config(const struct conf *c, const char *db_url,
	    struct db_config *dc);
void	conf_ingest_limits(const struct conf *c, struct message_limits *l);
/* Splits a list setting (items separated by commas or white space) into at
 * most max pointers into the copy it returns in *copy_r (caller frees).
 * Returns the number of items, or -1 when there are more than max (out of
 * memory is fatal). */
int	conf_list(const char *value, const char **items, int max,
	    char **copy_r);

/* A setting given on the command line (--OPTION VALUE): applied over the
 * file's value by cmd_env_load, under the file's parser and bounds. */
struct conf_arg {
	unsigned	 entry;		/* index in the table */
	const char	*value;
};
#define CONF_ARGS_MAX	256	/* room for every lmtp list at its most */
/* getopt values of the table's options: CONF_OPT_BASE + entry */
#define CONF_OPT_BASE	1000

/* What every command shares, in the order it happens: the options (-f
 * FILE, --db URL and the table's, cmd_common_opt), the file loaded with the
 * options over it and the database chosen (cmd_env_load), then opened
 * (cmd_env_open). */
struct cmd_env {
	struct conf		 conf;
	struct db_config	 dbc;
	const char		*conf_file;
	const char		*db_url;
	struct conf_arg		 args[CONF_ARGS_MAX];
	unsigned		 nargs;
};

/* Copies own (a getopt_long table ending in a NULL name) to opts, which
 * holds max entries, adding the long options cmd takes from the settings
 * table; the result ends in a NULL name too. */
void	conf_longopts(const char *cmd, const struct option *own,
	    struct option *opts, size_t max);
/* The command line's items for a list setting (a repeatable option), in
 * order, into items (at most max); 0 when none were given, -1 when more
 * than max. */
int	conf_arg_list(const struct cmd_env *env, const char *name,
	    const char **items, unsigned max);

/* Handles -f (ch 'f'), --db (ch 'D') and the table's options (from
 * conf_longopts); -1 for other options. */
int	cmd_common_opt(struct cmd_env *env, int ch, const char *arg);
/* Loads the file and applies the command line's settings over it; the
 * exit status on failure: 78 for the file, 64 for an option's value. */
int	cmd_env_load(struct cmd_env *env);
void	cmd_env_free(struct cmd_env *env);
/* Opens (and migrates) the database; prints the error and returns the
 * exit status on failure (75 when temporary). */
int	cmd_env_open(struct cmd_env *env, struct db **db_r);

#endif

/*
 * conf.h - dmarcd.conf: one file for every subcommand.  Settings are
 * declared as data in conf.c (name, type, default, bounds, help), and every
 * error is reported as file:line, all of them at once.
 */
#ifndef DMARCD_CONF_H
#define DMARCD_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"
#include "message.h"

#define CONF_DEFAULT_FILE	"/etc/dmarcd.conf"
/* gzip bytes kept of a report document (max_stored_document) */
#define CONF_MAX_STORED_DOCUMENT	(16 << 20)

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
	uint64_t	 ingest_fold_rollups;	/* 1: folded beside (sql/008) */
	/* lmtp (cmd_lmtp.c); 0 or NULL: the command's default */
	char		*lmtp_listen;		/* list: unix:PATH or HOST:PORT */
	char		*lmtp_socket_mode;	/* octal */
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
	/* serve (cmd_serve.c) */
	char		*http_listen;
	char		*http_static_dir;
	char		*http_vendor_dir;
	char		*http_tls_cert;
	char		*http_tls_key;
	char		*http_users;
	/* summary (cmd_summary.c) */
	char		*summary_from;
	char		*summary_to;
	char		*sendmail_path;
	/* failure reports (db/forensic.c); 0 or 1 */
	uint64_t	 forensic_keep_body;
	uint64_t	 forensic_redact;
};

/* Defaults, then the file (NULL: $DMARCD_CONF, else CONF_DEFAULT_FILE, which
 * may be missing).  Returns 0, or -1 with every error written to errs as
 * "file:line: message" lines. */
int	conf_load(struct conf *c, const char *file, FILE *errs);
void	conf_free(struct conf *c);
/* Prints every setting with its value (check-config -v). */
void	conf_print(const struct conf *c, FILE *out);

/* The database to use: --db, else $DMARCD_DB, else the file's. */
void	conf_db_config(const struct conf *c, const char *db_url,
	    struct db_config *dc);
void	conf_ingest_limits(const struct conf *c, struct message_limits *l);
/* Parses v as the numeric setting name is read from the file: the same
 * type, suffixes and bounds, so an option and its setting agree.  Returns 0,
 * or -1 with the reason in why. */
int	conf_parse_number(const char *name, const char *v, uint64_t *n_r,
	    char *why, size_t whylen);
/* Splits a list setting (items separated by commas or white space) into at
 * most max pointers into the copy it returns in *copy_r (caller frees).
 * Returns the number of items, or -1 when there are more than max (out of
 * memory is fatal). */
int	conf_list(const char *value, const char **items, int max,
	    char **copy_r);

/* What every database command shares: -f FILE and --db URL as parsed
 * (cmd_common_opt), the file loaded and the database chosen
 * (cmd_env_load), then opened (cmd_env_open). */
struct cmd_env {
	struct conf		 conf;
	struct db_config	 dbc;
	const char		*conf_file;
	const char		*db_url;
};

/* cmd_db.c: handles -f (ch 'f') and --db (ch 'D'); -1 for other options. */
int	cmd_common_opt(struct cmd_env *env, int ch, const char *arg);
int	cmd_env_load(struct cmd_env *env);
void	cmd_env_free(struct cmd_env *env);
/* Opens (and migrates) the database; prints the error and returns the
 * exit status on failure (75 when temporary). */
int	cmd_env_open(struct cmd_env *env, struct db **db_r);

#endif

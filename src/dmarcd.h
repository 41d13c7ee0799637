/*
 * dmarcd.h - the program: subcommands and what they share.
 */
#ifndef DMARCD_H
#define DMARCD_H

#include <stdbool.h>

/* Exit statuses (sysexits.h values where one fits). */
#define EXIT_OK		0
#define EXIT_INPUT	1	/* parse, ingest: some input gave no report */
#define EXIT_FAIL	1	/* other commands: a permanent failure (the
				 * database refused, a summary too long);
				 * the same status on purpose */
#define EXIT_USAGE	64	/* EX_USAGE */
#define EXIT_TEMPFAIL	75	/* EX_TEMPFAIL */

/* cmd_parse.c */
int	cmd_parse(int argc, char **argv);
/* cmd_db.c, cmd_ingest.c, cmd_export.c, cmd_quarantine.c,
 * cmd_check_config.c */
int	cmd_db(int argc, char **argv);
int	cmd_ingest(int argc, char **argv);
int	cmd_export(int argc, char **argv);
int	cmd_quarantine(int argc, char **argv);
int	cmd_check_config(int argc, char **argv);
/* Whether s is a --since/--until value (cmd_export.c; sources takes the
 * same); EXPORT_TIME says what is expected. */
bool	export_time_ok(const char *s);
#define EXPORT_TIME	"unix seconds, YYYY-MM-DD or " \
	"YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]"
/* A bad value of cmd's --opt: a message naming both; EXIT_USAGE. */
int	cmd_bad_value(const char *cmd, const char *opt, const char *v,
	    const char *expected);
/* The period options export and sources share, as getopt_long returns
 * them ('d' --domain, 's' --since, 'u' --until), into f: 0 when ch was
 * one, EXIT_USAGE after a message when its value is bad, -1 when ch is
 * another option. */
struct db_export_filter;
int	export_filter_opt(const char *cmd, struct db_export_filter *f,
	    int ch, const char *arg);
/* cmd_user.c: --user NAME of summary, export, sources and simulate: the
 * domains the user of http_users sees (a text[] literal in out) into
 * *domains_r, NULL when every domain; domain (--domain, or NULL) must be
 * one of them.  EXIT_OK, or the exit status after a message. */
struct cmd_env;
struct db;
struct buf;
int	cmd_user_domains(const struct cmd_env *env, struct db *db,
	    const char *cmd, const char *name, const char *domain,
	    struct buf *out, const char **domains_r);
/* cmd_sources.c */
int	cmd_sources(int argc, char **argv);
/* cmd_simulate.c */
int	cmd_simulate(int argc, char **argv);
/* cmd_lmtp.c */
int	cmd_lmtp(int argc, char **argv);
/* cmd_serve.c */
struct httpd_config;
struct conf;
int	cmd_serve(int argc, char **argv);
/* Completes hc (what the command line left unset) from c and the
 * defaults; check-config uses it to check what serve would. */
void	serve_config(struct httpd_config *hc, const struct conf *c);
/* lmtp_metrics.c: lmtp_metrics_listen as lmtp takes it (empty: none, or
 * a loopback HOST:PORT); check-config runs it too.  0, or -1 with err. */
int	lmtp_metrics_check(const char *spec, char *err, size_t errlen);
/* cmd_summary.c */
int	cmd_summary(int argc, char **argv);
/* cmd_senders.c */
int	cmd_senders(int argc, char **argv);
/* cmd_alerts.c */
int	cmd_alerts(int argc, char **argv);
/* cmd_enrich.c */
int	cmd_enrich(int argc, char **argv);

#endif

/*
 * lmtp_daemon.h - what the files of `dmarcd lmtp` share: its settings, the
 * counted configuration, the sessions and jobs, and struct daemon.  Private
 * to cmd_lmtp.c, lmtp_listen.c, lmtp_session.c, lmtp_pool.c,
 * lmtp_watch.c, lmtp_enrich.c and lmtp_metrics.c.
 *
 * Threads: the event loop (lmtp_session.c) owns the listeners and the
 * sessions; the delivery threads (lmtp_pool.c), the watcher (lmtp_watch.c)
 * and the rollup folder touch struct daemon only under mu (queue, done,
 * rc) and through runconf_get()/runconf_put(); the metrics listener's
 * thread reads the counters of struct lmtp_metrics, which are atomic.
 */
#ifndef DMARCD_LMTP_DAEMON_H
#define DMARCD_LMTP_DAEMON_H

#include <sys/types.h>

#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>

#include "lmtp.h"
#include "conf.h"
#include "deliver.h"
#include "rollup_folder.h"

#define LMTP_LISTEN_MAX		16
#define LMTP_LIST_MAX		64	/* --recipient, --maildir */
#define LMTP_READ_SIZE		(16 * 1024)	/* one read of a session */
#define LMTP_SOURCE_MAX		320	/* bytes of a quarantine source */

struct lmtp_settings {
	const char	*listen[LMTP_LISTEN_MAX];
	unsigned	 nlisten;
	mode_t		 socket_mode;
	const char	*user;
	unsigned	 max_sessions;
	unsigned	 workers;
	unsigned	 idle_timeout;		/* seconds without a byte */
	unsigned	 command_timeout;	/* seconds for one command line */
	unsigned	 data_timeout;		/* seconds from 354 to the dot */
	unsigned	 session_timeout;	/* seconds of one connection */
	unsigned	 shutdown_timeout;	/* SIGTERM: in-flight grace */
	size_t		 max_line;
	unsigned	 max_rcpts;
	const char	*recipients[LMTP_LIST_MAX];
	unsigned	 nrecipients;
	const char	*maildirs[LMTP_LIST_MAX];
	unsigned	 nmaildirs;
	const char	*metrics_listen;	/* NULL: none; read at start */
	bool		 foreground;
	bool		 syslog;
	int		 verbose;
	/* storage of the lists taken from dmarcd.conf */
	char		*listen_copy, *recipients_copy, *maildirs_copy;
};

/* What a reload replaces: the config file, the database, the limits.
 * Counted, since delivery threads hold one while the loop swaps it. */
struct runconf {
	struct cmd_env		 env;
	struct message_limits	 lim;
	unsigned		 gen;
	unsigned		 refs;
};

enum ev_kind { EV_LISTENER, EV_CONN, EV_SIGNAL, EV_DONE };

struct ev_tag {
	enum ev_kind	 kind;
};

struct listener {
	struct ev_tag	 tag;
	int		 fd;
	char		 name[128];
	char		*unix_path;	/* unlinked at exit */
};

struct conn;
struct MHD_Daemon;

struct job {
	struct conn			*conn;
	const char			*data;	/* the session's message */
	size_t				 len;
	char				 source[LMTP_SOURCE_MAX];
	int				 rc;
	struct db_message_result	 res;
	char				 err[512];
	uint64_t			 start_ms;
	uint64_t			 start_us;	/* for the metrics */
	struct job			*next;
};

struct conn {
	struct ev_tag		 tag;
	int			 fd;
	char			 id[12];
	char			 peer[136];
	struct lmtp_session	*s;
	struct daemon		*d;
	char			 in[LMTP_READ_SIZE];
	size_t			 in_off, in_len;	/* not yet taken */
	uint64_t		 started, last_read, line_since, data_since;
	uint32_t		 events;
	bool			 delivering;
	bool			 dead;		/* peer gone during a delivery */
	struct job		 job;
	char			 reply[160];	/* delivery text */
	struct conn		*prev, *next;
};

/* What dmarcd_lmtp_deliveries_total counts one of per message. */
enum lmtp_delivery {
	LMTP_DELIVERY_STORED,		/* a new report or more: 250 */
	LMTP_DELIVERY_DUPLICATE,	/* only reports stored before: 250 */
	LMTP_DELIVERY_QUARANTINED,	/* no usable report, kept: 250 */
	LMTP_DELIVERY_TEMPFAIL,		/* not stored: 451 */
	LMTP_DELIVERY_COUNT
};
enum lmtp_report_kind { LMTP_KIND_AGGREGATE, LMTP_KIND_FAILURE,
	LMTP_KIND_TLS, LMTP_KIND_COUNT };
#define LMTP_REPLY_CLASSES	METRICS_STATUS_CLASSES	/* 2xx .. 5xx */

/* lmtp_metrics.c's counters (bumped by the event loop) and its listener
 * (a libmicrohttpd thread of its own, with a database connection of its
 * own for the gauges). */
struct lmtp_metrics {
	metrics_counter		 deliveries[LMTP_DELIVERY_COUNT];
	metrics_counter		 replies[LMTP_REPLY_CLASSES];
	metrics_counter		 reports[LMTP_KIND_COUNT];
	metrics_counter		 duplicates[LMTP_KIND_COUNT];
	metrics_counter		 records;
	metrics_counter		 quarantined;
	metrics_counter		 sessions;
	struct metrics_histogram latency;	/* DATA's dot to the reply */
	int			 fd;		/* -1: no listener */
	char			 name[64];
	struct MHD_Daemon	*mhd;
	struct db		*db;		/* the listener thread's */
	unsigned		 gen;
};

struct daemon {
	struct lmtp_settings	*set;
	struct lmtp_callbacks	 cb;
	char			 hostname[256];
	int			 ep;
	struct listener		 listeners[LMTP_LISTEN_MAX];
	unsigned		 nlisteners;
	struct ev_tag		 sig_tag, done_tag;
	int			 sigfd, donefd;
	struct conn		*conns;
	unsigned		 nconns;
	uint32_t		 id_base, id_next;
	bool			 stopping;
	uint64_t		 stop_deadline;

	/* shared with the threads, under mu */
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct job		*queue, **queue_tail;
	struct job		*done;
	bool			 workers_stop;
	struct runconf		*rc;
	pthread_mutex_t		 open_mu;	/* one db_open at a time: it may
						 * start the embedded cluster */
	pthread_t		 threads[64];
	unsigned		 nthreads;
	int			 watch_stopfd;
	pthread_t		 watch_thread;
	struct rollup_folder	 folder;
	unsigned		 fold_gen;	/* folder.db's runconf */
	bool			 watching;
	/* the background enricher (lmtp_enrich.c); enricher under mu */
	struct enricher		*enricher;
	int			 enrich_stopfd;
	pthread_t		 enrich_thread;
	unsigned		 enrich_gen;
	bool			 enrich_quit, enriching;
	struct lmtp_metrics	 metrics;
};

/* lmtp_pool.c: the counted configuration, the delivery threads, and
 * starting and stopping every thread of the daemon. */
/* Loads the file with proto's command line over it into *rc_r; the exit
 * status on failure (cmd_env_load's). */
int	runconf_load(const struct cmd_env *proto, unsigned gen,
	    struct runconf **rc_r);
void	runconf_unref(struct runconf *rc);
struct runconf *runconf_get(struct daemon *d);
void	runconf_put(struct daemon *d, struct runconf *rc);
int	store_connect(struct daemon *d, struct runconf *rc, struct db **db,
	    unsigned *gen, char *err, size_t errlen);
void	daemon_start_threads(struct daemon *d);
void	daemon_stop_threads(struct daemon *d);

/* lmtp_session.c: the event loop, the sessions, signals */
int	session_rcpt(void *ctx, const char *addr);
enum lmtp_outcome session_deliver(void *ctx, const struct lmtp_message *m,
	    const char **text_r);
void	event_loop(struct daemon *d);

/* lmtp_listen.c: listeners and the privilege drop */
int	listen_on(struct daemon *d, const char *spec, struct listener *l,
	    const struct passwd *pw);
void	stop_listening(struct daemon *d);
void	drop_privileges(const struct passwd *pw);

/* lmtp_enrich.c: the background enricher's thread */
void	enrich_thread_start(struct daemon *d);
/* Ends the pass in progress and waits for the thread. */
void	enrich_thread_stop(struct daemon *d);

/* lmtp_metrics.c: the counters and the /metrics, /healthz listener */
void	lmtp_metrics_init(struct lmtp_metrics *m);
/* Binds set->metrics_listen (before the privilege drop and the fork);
 * -1 when it is not a loopback HOST:PORT or cannot be bound (logged). */
int	lmtp_metrics_bind(struct daemon *d);
/* Serves on the bound socket (after the fork: a thread of its own). */
void	lmtp_metrics_start(struct daemon *d);
void	lmtp_metrics_stop(struct daemon *d);
/* Counts a finished delivery once: outcome, what it stored, its time. */
void	lmtp_metrics_delivered(struct daemon *d, const struct job *j,
	    uint64_t us);
/* lmtp_callbacks.reply: a reply queued by a session. */
void	lmtp_metrics_reply(void *ctx, unsigned code);
/* The 421 of a connection refused (too many sessions): no session. */
void	lmtp_metrics_reply_busy(struct daemon *d);

/* lmtp_watch.c: the Maildir watcher's thread */
void	*watch_main(void *arg);

#endif

/*
 * cmd_lmtp.c - `dmarcd lmtp`: the LMTP daemon, and the Maildir watcher.
 *
 * One thread runs an epoll loop over the listeners and every session
 * (ingest/lmtp.c speaks the protocol); a fixed pool of delivery threads,
 * each with its own database connection, runs db_ingest_message() for the
 * messages that are complete.  An idle or slow client costs a descriptor
 * and a session, never a thread or a database connection, and PostgreSQL
 * sees at most `workers` connections however many MTAs connect.  A session
 * answers nothing after DATA until its delivery thread has committed
 * (DESIGN.md "Durability rule").
 *
 * With --maildir, one more thread follows those Maildirs with inotify and
 * ingests what lands in new/ like `dmarcd ingest` does (ingest/source.h).
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"
#include "lmtp.h"
#include "source.h"
#include "conf.h"
#include "dmarcd.h"

#define LMTP_LISTEN_MAX		16
#define LMTP_LIST_MAX		64	/* --recipient, --maildir */
#define LMTP_DEFAULT_LISTEN	"unix:/run/dmarcd/lmtp.sock"
#define LMTP_DEFAULT_USER	"dmarcd"
#define LMTP_READ_SIZE		(16 * 1024)	/* one read of a session */
#define LMTP_OUT_HIGH		(64 * 1024)	/* unsent replies: stop reading */
#define LMTP_SWEEP_MS		250	/* timeout checks */
#define LMTP_SOURCE_MAX		320	/* bytes of a quarantine source */
#define WATCH_RESCAN_MS		60000	/* Maildir rescan without events */
#define WATCH_RETRY_MS		5000	/* after the database failed */

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
	bool		 foreground;
	bool		 syslog;
	int		 verbose;
	/* storage of the lists taken from dmarcd.conf */
	char		*listen_copy, *recipients_copy, *maildirs_copy;
};

#define LMTP_UNSET	UINT_MAX	/* not given on the command line */
#define LMTP_UNSET_MODE	((mode_t)-1)

/* What a reload replaces: the config file, the database, the limits.
 * Counted, since delivery threads hold one while the loop swaps it. */
struct runconf {
	struct cmd_env		 env;
	struct db_ingest_limits	 lim;
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

struct job {
	struct conn			*conn;
	const char			*data;	/* the session's message */
	size_t				 len;
	char				 source[LMTP_SOURCE_MAX];
	int				 rc;
	struct db_message_result	 res;
	char				 err[512];
	uint64_t			 start_ms;
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
	int			 fold_stopfd;	/* the rollup folder */
	pthread_t		 fold_thread;
	bool			 watching;
};

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- configuration, counted ------------------------------------------- */

static struct runconf *
runconf_load(const char *conf_file, const char *db_url, unsigned gen)
{
	struct runconf	*rc;

	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		fatalx("out of memory");
	rc->env.conf_file = conf_file;
	rc->env.db_url = db_url;
	if (cmd_env_load(&rc->env) != 0) {
		free(rc);
		return NULL;
	}
	conf_ingest_limits(&rc->env.conf, &rc->lim);
	rc->gen = gen;
	rc->refs = 1;
	return rc;
}

static void
runconf_unref(struct runconf *rc)
{
	if (rc != NULL && --rc->refs == 0) {
		cmd_env_free(&rc->env);
		free(rc);
	}
}

static struct runconf *
runconf_get(struct daemon *d)
{
	struct runconf	*rc;

	pthread_mutex_lock(&d->mu);
	rc = d->rc;
	rc->refs++;
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static void
runconf_put(struct daemon *d, struct runconf *rc)
{
	pthread_mutex_lock(&d->mu);
	runconf_unref(rc);
	pthread_mutex_unlock(&d->mu);
}

/* Keeps *db connected to rc's database; reconnects after a reload or a
 * failure.  Returns db_open's status. */
static int
store_connect(struct daemon *d, struct runconf *rc, struct db **db,
    unsigned *gen, char *err, size_t errlen)
{
	int	r;

	if (*db != NULL && *gen == rc->gen)
		return 0;
	db_close(db);
	pthread_mutex_lock(&d->open_mu);
	r = db_open(&rc->env.dbc, true, db, err, errlen);
	pthread_mutex_unlock(&d->open_mu);
	if (r == 0)
		*gen = rc->gen;
	return r;
}

/* --- delivery threads ------------------------------------------------- */

static void
worker_deliver(struct daemon *d, struct db **db, unsigned *gen,
    struct job *j)
{
	struct runconf	*rc = runconf_get(d);

	j->rc = store_connect(d, rc, db, gen, j->err, sizeof(j->err));
	if (j->rc == 0) {
		/* concurrent deliveries queue their rollups (fold_main) */
		(*db)->rollup_later = true;
		j->rc = db_ingest_message(*db, &rc->lim, j->data, j->len,
		    j->source, &j->res, j->err, sizeof(j->err));
	}
	if (j->rc != 0)
		db_close(db);	/* the connection may be broken: start over */
	runconf_put(d, rc);
}

static void *
worker_main(void *arg)
{
	struct daemon	*d = arg;
	struct db	*db = NULL;
	struct job	*j;
	unsigned	 gen = 0;
	uint64_t	 one = 1;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (d->queue == NULL && !d->workers_stop)
			pthread_cond_wait(&d->cv, &d->mu);
		if (d->queue == NULL)
			break;
		j = d->queue;
		if ((d->queue = j->next) == NULL)
			d->queue_tail = &d->queue;
		pthread_mutex_unlock(&d->mu);

		worker_deliver(d, &db, &gen, j);

		pthread_mutex_lock(&d->mu);
		j->next = d->done;
		d->done = j;
		/* a full counter fails, and the loop wakes anyway */
		(void)!write(d->donefd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&d->mu);
	db_close(&db);
	return NULL;
}

/* --- sessions --------------------------------------------------------- */

static int
session_rcpt(void *ctx, const char *addr)
{
	struct conn	*c = ctx;
	unsigned	 i;

	if (c->d->set->nrecipients == 0)
		return 0;
	for (i = 0; i < c->d->set->nrecipients; i++)
		if (strcasecmp(c->d->set->recipients[i], addr) == 0)
			return 0;
	log_info("%s: recipient refused: %s", c->id, addr);
	return -1;
}

/* Hands a complete message to the delivery threads; the session waits. */
static enum lmtp_outcome
session_deliver(void *ctx, const struct lmtp_message *m, const char **text_r)
{
	struct conn	*c = ctx;
	struct daemon	*d = c->d;
	struct job	*j = &c->job;

	(void)text_r;
	memset(j, 0, sizeof(*j));
	j->conn = c;
	j->data = m->data;
	j->len = m->len;
	j->start_ms = now_ms();
	snprintf(j->source, sizeof(j->source), "lmtp:%s from=<%s>", c->id,
	    m->sender);
	c->delivering = true;
	pthread_mutex_lock(&d->mu);
	*d->queue_tail = j;
	d->queue_tail = &j->next;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return LMTP_PENDING;
}

static void
conn_free(struct daemon *d, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	d->nconns--;
	lmtp_session_free(&c->s);
	free(c);
}

/* Closes the socket; the session goes too unless a delivery still reads
 * its message (then it goes when the delivery is done). */
static void
conn_close(struct daemon *d, struct conn *c, const char *why)
{
	if (c->fd != -1) {
		epoll_ctl(d->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
		log_debug("%s: closed (%s)", c->id, why);
	}
	if (c->delivering)
		c->dead = true;
	else
		conn_free(d, c);
}

/* Sends what replies are pending.  -1: the peer is gone. */
static int
conn_flush(struct conn *c)
{
	const char	*p;
	size_t		 n;
	ssize_t		 w;

	while ((p = lmtp_session_output(c->s, &n)) != NULL) {
		if ((w = send(c->fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		lmtp_session_output_consume(c->s, (size_t)w);
	}
	return 0;
}

/* Feeds the session what it has not taken yet, and notes when a command
 * line or a DATA started, for the timeouts. */
static void
conn_feed(struct conn *c, uint64_t now)
{
	enum lmtp_phase	phase;
	size_t		used;

	while (c->in_off < c->in_len) {
		used = lmtp_session_input(c->s, c->in + c->in_off,
		    c->in_len - c->in_off);
		c->in_off += used;
		phase = lmtp_session_phase(c->s);
		if (phase != LMTP_PHASE_COMMAND && phase != LMTP_PHASE_DATA)
			break;
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	phase = lmtp_session_phase(c->s);
	if (phase == LMTP_PHASE_DATA) {
		if (c->data_since == 0)
			c->data_since = now;
	} else
		c->data_since = 0;
	if (lmtp_session_partial_line(c->s)) {
		if (c->line_since == 0)
			c->line_since = now;
	} else
		c->line_since = 0;
}

/* Sets what epoll watches for, or closes a finished session. */
static void
conn_update(struct daemon *d, struct conn *c)
{
	struct epoll_event	ev;
	enum lmtp_phase		phase;
	uint32_t		want = 0;
	size_t			pending;

	if (c->fd == -1)
		return;
	if (conn_flush(c) == -1) {
		conn_close(d, c, "write failed");
		return;
	}
	(void)lmtp_session_output(c->s, &pending);
	phase = lmtp_session_phase(c->s);
	if (phase == LMTP_PHASE_CLOSED && pending == 0) {
		conn_close(d, c, "session ended");
		return;
	}
	if (!c->delivering && c->in_len == 0 && pending < LMTP_OUT_HIGH &&
	    phase != LMTP_PHASE_CLOSED)
		want |= EPOLLIN;
	if (pending > 0)
		want |= EPOLLOUT;
	if (want != c->events) {
		memset(&ev, 0, sizeof(ev));
		ev.events = want;
		ev.data.ptr = &c->tag;
		epoll_ctl(d->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = want;
	}
}

/* Ends a session with a last reply, sent if the socket takes it now. */
static void
conn_end(struct daemon *d, struct conn *c, const char *code, const char *why)
{
	char	line[300];

	snprintf(line, sizeof(line), "%s %s %s", code, d->hostname, why);
	lmtp_session_close(c->s, line);
	(void)conn_flush(c);
	log_info("%s: %s, closing", c->id, why);
	conn_close(d, c, why);
}

/* Reads and feeds what the client sent.  -1: c was closed (and may be
 * freed). */
static int
conn_read(struct daemon *d, struct conn *c)
{
	ssize_t	n;

	if (c->in_len > 0 || c->delivering)
		return 0;
	n = recv(c->fd, c->in, sizeof(c->in), 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn_close(d, c, "read failed");
		return -1;
	}
	if (n == 0) {
		if (lmtp_session_in_transaction(c->s))
			log_info("%s: client closed in a transaction",
			    c->id);
		conn_close(d, c, "client closed");
		return -1;
	}
	c->last_read = now_ms();
	c->in_off = 0;
	c->in_len = (size_t)n;
	conn_feed(c, c->last_read);
	return 0;
}

static void
conn_event(struct daemon *d, struct conn *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (c->delivering) {
			/* nobody to answer: the MTA retries, dedup makes
			 * the second delivery harmless */
			conn_close(d, c, "client gone during delivery");
			return;
		}
		if (conn_read(d, c) == -1)
			return;
	}
	conn_update(d, c);
}

/* A delivery is done: reply, and go on with pipelined input. */
static void
conn_delivered(struct daemon *d, struct job *j)
{
	struct conn		*c = j->conn;
	enum lmtp_outcome	 out;
	uint64_t		 ms = now_ms() - j->start_ms;

	c->delivering = false;
	if (j->rc == 0 && j->res.quarantined && j->res.reports == 0 &&
	    j->res.duplicates == 0) {
		out = LMTP_STORED;
		log_info("%s: %zu bytes quarantined in %" PRIu64 " ms: %s",
		    c->id, j->len, ms, j->res.reason);
		snprintf(c->reply, sizeof(c->reply), "Kept in quarantine: "
		    "no usable report");
	} else if (j->rc == 0) {
		out = LMTP_STORED;
		log_info("%s: %zu bytes: %u reports (%u duplicates), "
		    "%" PRIu64 " records stored in %" PRIu64 " ms%s%s", c->id,
		    j->len, j->res.reports, j->res.duplicates,
		    j->res.records, ms, j->res.quarantined ?
		    "; part quarantined: " : "",
		    j->res.quarantined ? j->res.reason : "");
		snprintf(c->reply, sizeof(c->reply), "Stored %u reports "
		    "(%u duplicates)", j->res.reports, j->res.duplicates);
	} else {
		/*
		 * A permanent store error (schema, constraint) is ours, not
		 * the sender's, and bouncing a report loses it: both kinds
		 * answer 451 and the MTA's queue lifetime bounds the retries.
		 */
		out = LMTP_TEMPFAIL;
		log_warnx("%s: %zu bytes not stored (%s, answered 451): %s",
		    c->id, j->len, j->rc == DB_ETEMP ? "database unavailable" :
		    "store error", j->err);
		snprintf(c->reply, sizeof(c->reply), "%s, try again later",
		    j->rc == DB_ETEMP ? "Database unavailable" :
		    "Local error in processing");
	}
	if (c->dead) {
		conn_free(d, c);
		return;
	}
	lmtp_session_delivered(c->s, out, c->reply);
	if (d->stopping) {
		/* the transaction in flight is answered; no new one starts */
		conn_end(d, c, "421 4.3.2", "Shutting down");
		return;
	}
	conn_feed(c, now_ms());
	conn_update(d, c);
}

static void
done_event(struct daemon *d)
{
	struct job	*list, *j, *rev = NULL;
	uint64_t	 n;

	if (read(d->donefd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warnx("eventfd: %s", strerror(errno));
	pthread_mutex_lock(&d->mu);
	list = d->done;
	d->done = NULL;
	pthread_mutex_unlock(&d->mu);
	while (list != NULL) {	/* oldest first */
		j = list;
		list = j->next;
		j->next = rev;
		rev = j;
	}
	while ((j = rev) != NULL) {
		rev = j->next;
		conn_delivered(d, j);
	}
}

static void
accept_event(struct daemon *d, struct listener *l)
{
	static const char	busy[] = "421 4.3.2 Too many connections, "
				    "try again later\r\n";
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	struct lmtp_limits	 lim;
	struct epoll_event	 ev;
	struct runconf		*rc;
	struct conn		*c;
	char			 host[INET6_ADDRSTRLEN];
	int			 fd;

	while ((fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		if (d->nconns >= d->set->max_sessions) {
			/* a courtesy: the socket may not take it */
			(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
			close(fd);
			log_warnx("%s: %u sessions already, connection "
			    "refused", l->name, d->nconns);
			sl = sizeof(ss);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			log_warnx("out of memory");
			return;
		}
		c->tag.kind = EV_CONN;
		c->fd = fd;
		c->d = d;
		snprintf(c->id, sizeof(c->id), "%08" PRIx32,
		    d->id_base + d->id_next++ * 2654435761u);
		if (ss.ss_family == AF_INET)
			snprintf(c->peer, sizeof(c->peer), "%s:%u",
			    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, host, sizeof(host)),
			    ntohs(((struct sockaddr_in *)&ss)->sin_port));
		else if (ss.ss_family == AF_INET6)
			snprintf(c->peer, sizeof(c->peer), "[%s]:%u",
			    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, host, sizeof(host)),
			    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
		else
			snprintf(c->peer, sizeof(c->peer), "%s", l->name);
		c->started = c->last_read = now_ms();
		lmtp_limits_default(&lim);
		lim.max_line = d->set->max_line;
		lim.max_rcpts = d->set->max_rcpts;
		rc = runconf_get(d);
		lim.max_message = rc->lim.unpack.max_message_size;
		runconf_put(d, rc);
		c->s = lmtp_session_new(&lim, &d->cb, c, d->hostname);
		if ((c->next = d->conns) != NULL)
			c->next->prev = c;
		d->conns = c;
		d->nconns++;
		memset(&ev, 0, sizeof(ev));
		ev.events = c->events = EPOLLIN;
		ev.data.ptr = &c->tag;
		if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			log_warnx("epoll_ctl: %s", strerror(errno));
			conn_close(d, c, "epoll");
			continue;
		}
		log_info("%s: connect from %s", c->id, c->peer);
		conn_update(d, c);
		sl = sizeof(ss);
	}
	if (errno != EAGAIN && errno != EINTR)
		log_warnx("%s: accept: %s", l->name, strerror(errno));
}

/* Timeouts, and the graceful part of a shutdown. */
static void
sweep(struct daemon *d, uint64_t now)
{
	struct lmtp_settings	*set = d->set;
	struct conn		*c, *next;

	for (c = d->conns; c != NULL; c = next) {
		next = c->next;
		if (c->fd == -1 || c->delivering)
			continue;
		if (c->data_since != 0 &&
		    now - c->data_since > set->data_timeout * 1000ULL)
			conn_end(d, c, "421 4.4.2", "DATA timeout");
		else if (c->line_since != 0 &&
		    now - c->line_since > set->command_timeout * 1000ULL)
			conn_end(d, c, "421 4.4.2",
			    "Command timeout (slow client)");
		else if (now - c->last_read > set->idle_timeout * 1000ULL)
			conn_end(d, c, "421 4.4.2", "Idle timeout");
		else if (now - c->started > set->session_timeout * 1000ULL)
			conn_end(d, c, "421 4.4.2", "Session time limit");
		else if (d->stopping && (!lmtp_session_in_transaction(c->s) ||
		    now > d->stop_deadline))
			conn_end(d, c, "421 4.3.2", "Shutting down");
	}
}

static void
stop_listening(struct daemon *d)
{
	unsigned	i;

	for (i = 0; i < d->nlisteners; i++) {
		if (d->listeners[i].fd == -1)
			continue;
		epoll_ctl(d->ep, EPOLL_CTL_DEL, d->listeners[i].fd, NULL);
		close(d->listeners[i].fd);
		d->listeners[i].fd = -1;
		if (d->listeners[i].unix_path != NULL)
			unlink(d->listeners[i].unix_path);
	}
}

static void
reload(struct daemon *d)
{
	struct runconf	*rc, *old;

	if ((rc = runconf_load(d->rc->env.conf_file, d->rc->env.db_url,
	    d->rc->gen + 1)) == NULL) {
		log_warnx("SIGHUP: configuration has errors, keeping the "
		    "old one");
		return;
	}
	pthread_mutex_lock(&d->mu);
	old = d->rc;
	d->rc = rc;
	runconf_unref(old);
	pthread_mutex_unlock(&d->mu);
	log_info("SIGHUP: configuration reloaded (%s); listeners, user and "
	    "timeouts need a restart", rc->env.conf.file ? rc->env.conf.file :
	    "no file");
}

static void
signal_event(struct daemon *d)
{
	struct signalfd_siginfo	si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			reload(d);
			break;
		case SIGTERM:
		case SIGINT:
			if (d->stopping)
				break;
			log_info("signal %u: stopping, %u sessions finish "
			    "their transactions (at most %u s)", si.ssi_signo,
			    d->nconns, d->set->shutdown_timeout);
			d->stopping = true;
			d->stop_deadline = now_ms() +
			    d->set->shutdown_timeout * 1000ULL;
			stop_listening(d);
			break;
		}
	}
}

static void
event_loop(struct daemon *d)
{
	struct epoll_event	 evs[64];
	struct ev_tag		*t;
	uint64_t		 now, last_sweep = 0;
	int			 n, i;

	for (;;) {
		n = epoll_wait(d->ep, evs, nitems(evs), LMTP_SWEEP_MS);
		if (n == -1 && errno != EINTR)
			fatalx("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			t = evs[i].data.ptr;
			switch (t->kind) {
			case EV_LISTENER:
				accept_event(d, (struct listener *)(void *)t);
				break;
			case EV_CONN:
				conn_event(d, (struct conn *)(void *)t,
				    evs[i].events);
				break;
			case EV_SIGNAL:
				signal_event(d);
				break;
			case EV_DONE:
				done_event(d);
				break;
			}
		}
		now = now_ms();
		if (now - last_sweep >= LMTP_SWEEP_MS) {
			sweep(d, now);
			last_sweep = now;
		}
		if (d->stopping && d->nconns == 0)
			break;
	}
}

/* --- Maildir watching ------------------------------------------------- */

/* Ingests what one Maildir holds.  Returns DB_ETEMP when the database went
 * away (the message stays in new/ for the next pass). */
static int
watch_ingest(struct daemon *d, const char *path, struct db **db,
    unsigned *gen)
{
	const struct source_msg		*msg;
	struct db_message_result	 res;
	struct source_limits		 slim;
	struct source			*src;
	struct runconf			*rc = runconf_get(d);
	char				 err[1024];
	int				 r, status = 0;

	source_limits_default(&slim);
	slim.max_message_size = rc->lim.unpack.max_message_size;
	if (source_open(path, &slim, &src, err, sizeof(err)) == -1) {
		log_warnx("watch: %s", err);
		runconf_put(d, rc);
		return 0;
	}
	while ((r = source_next(src, &msg, err, sizeof(err))) == 1) {
		if (msg->error != NULL) {
			log_warnx("watch: %s: %s", msg->origin, msg->error);
			continue;
		}
		if ((r = store_connect(d, rc, db, gen, err,
		    sizeof(err))) == 0)
			r = db_ingest_message(*db, &rc->lim, msg->data,
			    msg->len, msg->origin, &res, err, sizeof(err));
		if (r != 0)
			db_close(db);
		if (r == DB_ETEMP) {
			log_warnx("watch: database unavailable, %s stays: %s",
			    msg->origin, err);
			status = DB_ETEMP;
			break;
		}
		if (r != 0) {
			log_warnx("watch: %s: %s", msg->origin, err);
			continue;
		}
		log_info("watch: %s: %u reports, %u duplicates%s",
		    msg->origin, res.reports, res.duplicates,
		    res.quarantined ? ", quarantined" : "");
		if (source_done(src, msg, res.reports + res.duplicates > 0 ?
		    SOURCE_STORED : SOURCE_QUARANTINED, err, sizeof(err)) == -1)
			log_warnx("watch: %s", err);
	}
	if (r == -1)
		log_warnx("watch: %s", err);
	source_free(&src);
	runconf_put(d, rc);
	return status;
}

static void *
watch_main(void *arg)
{
	struct daemon	*d = arg;
	struct pollfd	 pfd[2];
	struct db	*db = NULL;
	char		 path[4096], evbuf[4096];
	unsigned	 i, gen = 0;
	int		 in, wait_ms = 0, status;

	if ((in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warnx("watch: inotify: %s", strerror(errno));
		return NULL;
	}
	for (i = 0; i < d->set->nmaildirs; i++) {
		snprintf(path, sizeof(path), "%s/new", d->set->maildirs[i]);
		/* deliveries are renamed from tmp/ into new/ */
		if (inotify_add_watch(in, path, IN_MOVED_TO | IN_CLOSE_WRITE |
		    IN_ONLYDIR) == -1)
			log_warnx("watch: %s: %s", path, strerror(errno));
		else
			log_info("watch: following %s", d->set->maildirs[i]);
	}
	pfd[0].fd = in;
	pfd[0].events = POLLIN;
	pfd[1].fd = d->watch_stopfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, wait_ms) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			break;
		while (read(in, evbuf, sizeof(evbuf)) > 0)
			;	/* which file does not matter: new/ is read */
		status = 0;
		for (i = 0; i < d->set->nmaildirs && status == 0; i++)
			status = watch_ingest(d, d->set->maildirs[i], &db, &gen);
		wait_ms = status == DB_ETEMP ? WATCH_RETRY_MS : WATCH_RESCAN_MS;
	}
	close(in);
	db_close(&db);
	return NULL;
}

/* --- start-up --------------------------------------------------------- */

/* Binds one --listen address: "unix:PATH", "/PATH", "HOST:PORT",
 * "[V6]:PORT" or "PORT" (loopback). */
/* Creates a unix socket's missing directory (one level, like systemd's
 * RuntimeDirectory), handed to the user the daemon becomes, so that a
 * plain `dmarcd lmtp` works on a fresh /run. */
static int
lmtp_socket_dir(const char *path, const struct passwd *pw)
{
	char	dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750) == -1)
		return errno == EEXIST ? 0 : -1;
	if (pw != NULL && chown(dir, pw->pw_uid, pw->pw_gid) == -1)
		return -1;
	return 0;
}

static int
listen_on(struct daemon *d, const char *spec, struct listener *l,
    const struct passwd *pw)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_un	 sun;
	struct stat		 sb;
	char			 host[256];
	const char		*path = NULL, *port;
	char			*end;
	int			 fd = -1, one = 1, r;

	memset(l, 0, sizeof(*l));
	l->tag.kind = EV_LISTENER;
	l->fd = -1;
	snprintf(l->name, sizeof(l->name), "%s", spec);
	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (spec[0] == '/')
		path = spec;
	if (path != NULL) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof(sun.sun_path)) {
			log_warnx("%s: socket path too long", spec);
			return -1;
		}
		strcpy(sun.sun_path, path);
		if (lmtp_socket_dir(path, pw) == -1) {
			log_warnx("%s: cannot create its directory: %s", spec,
			    strerror(errno));
			return -1;
		}
		if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
			log_warnx("%s: exists and is not a socket", spec);
			return -1;
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			goto fail;
		/* a socket left by a dead daemon is removed; a live one is
		 * not taken over */
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
		    errno == EAGAIN) {
			log_warnx("%s: another server is listening there",
			    spec);
			close(fd);
			return -1;
		}
		close(fd);
		unlink(path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1 ||
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    chmod(path, d->set->socket_mode) == -1 ||
		    (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) == -1) ||
		    listen(fd, 128) == -1)
			goto fail;
		if ((l->unix_path = strdup(path)) == NULL)
			fatalx("out of memory");
		l->fd = fd;
		return 0;
	}

	if (spec[0] == '[') {
		snprintf(host, sizeof(host), "%s", spec + 1);
		if ((end = strstr(host, "]:")) == NULL) {
			log_warnx("%s: expected [ADDRESS]:PORT", spec);
			return -1;
		}
		*end = '\0';
		port = end + 2;
	} else if ((port = strrchr(spec, ':')) != NULL) {
		snprintf(host, sizeof(host), "%.*s", (int)(port - spec), spec);
		port++;
	} else {
		snprintf(host, sizeof(host), "127.0.0.1");
		port = spec;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0) {
		log_warnx("%s: %s", spec, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		goto fail;
	l->fd = fd;
	return 0;
fail:
	log_warnx("%s: %s", spec, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static void
drop_privileges(const struct passwd *pw)
{
	if (pw == NULL)
		return;
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatalx("cannot become %s: %s", pw->pw_name, strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) != -1)
		fatalx("could regain root after dropping it");
	log_info("running as %s", pw->pw_name);
}

static void
lmtp_usage(void)
{
	fprintf(stderr, "usage: dmarcd lmtp [-v] [-f FILE] [--db URL] "
	    "[--listen unix:PATH|HOST:PORT]...\n"
	    "\t[--foreground] [--syslog] [--user USER] [--socket-mode MODE]\n"
	    "\t[--max-sessions N] [--workers N] [--max-recipients N] "
	    "[--max-line N]\n"
	    "\t[--idle-timeout S] [--command-timeout S] [--data-timeout S]\n"
	    "\t[--session-timeout S] [--shutdown-timeout S]\n"
	    "\t[--recipient ADDR]... [--maildir PATH]...\n");
}

/* A numeric option, under the bounds of its dmarcd.conf setting. */
static int
opt_uint(const char *name, const char *setting, const char *v, unsigned *out)
{
	uint64_t	n;
	char		why[256];

	if (conf_parse_number(setting, v, &n, why, sizeof(why)) == -1) {
		log_warnx("--%s: %s", name, why);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

enum {
	O_LISTEN = 256, O_FOREGROUND, O_SYSLOG, O_USER, O_MODE, O_SESSIONS,
	O_WORKERS, O_IDLE, O_COMMAND, O_DATA, O_SESSION, O_SHUTDOWN,
	O_RCPTS, O_LINE, O_RECIPIENT, O_MAILDIR,
};

/* Parses argv into set and env; -1 on a usage error. */
static int
lmtp_options(int argc, char **argv, struct lmtp_settings *set,
    struct cmd_env *env)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "foreground", no_argument, NULL, O_FOREGROUND },
		{ "syslog", no_argument, NULL, O_SYSLOG },
		{ "user", required_argument, NULL, O_USER },
		{ "socket-mode", required_argument, NULL, O_MODE },
		{ "max-sessions", required_argument, NULL, O_SESSIONS },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "command-timeout", required_argument, NULL, O_COMMAND },
		{ "data-timeout", required_argument, NULL, O_DATA },
		{ "session-timeout", required_argument, NULL, O_SESSION },
		{ "shutdown-timeout", required_argument, NULL, O_SHUTDOWN },
		{ "max-recipients", required_argument, NULL, O_RCPTS },
		{ "max-line", required_argument, NULL, O_LINE },
		{ "recipient", required_argument, NULL, O_RECIPIENT },
		{ "maildir", required_argument, NULL, O_MAILDIR },
		{ NULL, 0, NULL, 0 },
	};
	unsigned	 u = 0;
	char		*end;
	int		 ch, r = 0;

	memset(set, 0, sizeof(*set));
	/* Unset until lmtp_settings_apply: the command line wins over
	 * dmarcd.conf, which wins over the defaults. */
	set->socket_mode = LMTP_UNSET_MODE;
	set->max_sessions = set->workers = set->idle_timeout =
	    set->command_timeout = set->data_timeout = set->session_timeout =
	    set->shutdown_timeout = set->max_rcpts = LMTP_UNSET;
	set->max_line = LMTP_UNSET;
	while ((ch = getopt_long(argc, argv, "f:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			set->verbose++;
			break;
		case O_LISTEN:
			if (set->nlisten == LMTP_LISTEN_MAX)
				r = -1;
			else
				set->listen[set->nlisten++] = optarg;
			break;
		case O_FOREGROUND:
			set->foreground = true;
			break;
		case O_SYSLOG:
			set->syslog = true;
			break;
		case O_USER:
			set->user = optarg;
			break;
		case O_MODE:
			set->socket_mode = strtoul(optarg, &end, 8);
			if (*end != '\0' || set->socket_mode > 0777)
				r = -1;
			break;
		case O_SESSIONS:
			r |= opt_uint("max-sessions", "lmtp_max_sessions",
			    optarg, &set->max_sessions);
			break;
		case O_WORKERS:
			r |= opt_uint("workers", "lmtp_workers", optarg,
			    &set->workers);
			break;
		case O_IDLE:
			r |= opt_uint("idle-timeout", "lmtp_idle_timeout",
			    optarg, &set->idle_timeout);
			break;
		case O_COMMAND:
			r |= opt_uint("command-timeout", "lmtp_command_timeout",
			    optarg, &set->command_timeout);
			break;
		case O_DATA:
			r |= opt_uint("data-timeout", "lmtp_data_timeout",
			    optarg, &set->data_timeout);
			break;
		case O_SESSION:
			r |= opt_uint("session-timeout", "lmtp_session_timeout",
			    optarg, &set->session_timeout);
			break;
		case O_SHUTDOWN:
			r |= opt_uint("shutdown-timeout",
			    "lmtp_shutdown_timeout", optarg, &set->shutdown_timeout);
			break;
		case O_RCPTS:
			r |= opt_uint("max-recipients", "lmtp_max_recipients",
			    optarg, &set->max_rcpts);
			break;
		case O_LINE:
			r |= opt_uint("max-line", "lmtp_max_line", optarg,
			    &u);
			set->max_line = u;
			break;
		case O_RECIPIENT:
			if (set->nrecipients == LMTP_LIST_MAX)
				r = -1;
			else
				set->recipients[set->nrecipients++] = optarg;
			break;
		case O_MAILDIR:
			if (set->nmaildirs == LMTP_LIST_MAX)
				r = -1;
			else
				set->maildirs[set->nmaildirs++] = optarg;
			break;
		default:
			if (cmd_common_opt(env, ch, optarg) == -1)
				r = -1;
			break;
		}
	}
	if (optind != argc)
		r = -1;
	return r;
}

/* One numeric setting: the command line's, else the file's, else def. */
static void
setting_pick(unsigned *v, uint64_t file, unsigned def)
{
	if (*v == LMTP_UNSET)
		*v = file != 0 ? (unsigned)file : def;
}

/* A list setting, when the command line gave none; -1 when too long. */
static int
setting_list(const char **items, unsigned *n, unsigned max, const char *file,
    char **copy_r, const char *name)
{
	int	k;

	if (*n > 0)
		return 0;
	if ((k = conf_list(file, items, max, copy_r)) == -1) {
		log_warnx("%s: more than %u items", name, max);
		return -1;
	}
	*n = k;
	return 0;
}

/* Completes set from dmarcd.conf and the defaults; -1 on a bad value. */
static int
lmtp_settings_apply(struct lmtp_settings *set, const struct conf *c)
{
	unsigned	line = (unsigned)set->max_line;
	char		*end;

	if (set->socket_mode == LMTP_UNSET_MODE) {
		set->socket_mode = 0660;
		if (c->lmtp_socket_mode != NULL) {
			set->socket_mode = strtoul(c->lmtp_socket_mode, &end, 8);
			if (*end != '\0' || set->socket_mode > 0777) {
				log_warnx("lmtp_socket_mode: not an octal mode: "
				    "%s", c->lmtp_socket_mode);
				return -1;
			}
		}
	}
	if (set->user == NULL)
		set->user = c->lmtp_user;
	setting_pick(&set->max_sessions, c->lmtp_max_sessions, 100);
	setting_pick(&set->workers, c->lmtp_workers, 4);
	/* RFC 5321 4.5.3.2.7: five minutes between commands */
	setting_pick(&set->idle_timeout, c->lmtp_idle_timeout, 300);
	setting_pick(&set->command_timeout, c->lmtp_command_timeout, 300);
	setting_pick(&set->data_timeout, c->lmtp_data_timeout, 600);
	setting_pick(&set->session_timeout, c->lmtp_session_timeout, 3600);
	setting_pick(&set->shutdown_timeout, c->lmtp_shutdown_timeout, 30);
	setting_pick(&set->max_rcpts, c->lmtp_max_recipients, 100);
	setting_pick(&line, c->lmtp_max_line, 1000);
	set->max_line = line;
	if (setting_list(set->listen, &set->nlisten, LMTP_LISTEN_MAX,
	    c->lmtp_listen, &set->listen_copy, "lmtp_listen") == -1 ||
	    setting_list(set->recipients, &set->nrecipients, LMTP_LIST_MAX,
	    c->lmtp_recipients, &set->recipients_copy, "lmtp_recipients") == -1 ||
	    setting_list(set->maildirs, &set->nmaildirs, LMTP_LIST_MAX,
	    c->watch_maildirs, &set->maildirs_copy, "watch_maildirs") == -1)
		return -1;
	if (set->nlisten == 0)
		set->listen[set->nlisten++] = LMTP_DEFAULT_LISTEN;
	return 0;
}

/* Adds what the deliveries queued to the rollups (sql/008), every half
 * second and once more at shutdown, so the dashboard is at most a moment
 * behind while deliveries never wait on each other's rollup rows. */
static void *
fold_main(void *arg)
{
	struct daemon	*d = arg;
	struct db	*db = NULL;
	struct runconf	*rc;
	struct pollfd	 pfd;
	unsigned	 gen = 0;
	char		 err[512];
	bool		 stop = false;

	pfd.fd = d->fold_stopfd;
	pfd.events = POLLIN;
	while (!stop) {
		if (poll(&pfd, 1, 500) > 0)
			stop = true;
		rc = runconf_get(d);
		if (store_connect(d, rc, &db, &gen, err, sizeof(err)) == 0 &&
		    db_rollup_drain(db, err, sizeof(err)) != 0) {
			log_warnx("rollups: %s", err);
			db_close(&db);
		}
		runconf_put(d, rc);
	}
	db_close(&db);
	return NULL;
}

static void
daemon_start_threads(struct daemon *d)
{
	unsigned	i;
	int		r;

	for (i = 0; i < d->set->workers; i++) {
		if ((r = pthread_create(&d->threads[i], NULL, worker_main,
		    d)) != 0)
			fatalx("pthread_create: %s", strerror(r));
		d->nthreads++;
	}
	if ((d->fold_stopfd = eventfd(0, EFD_CLOEXEC)) == -1)
		fatalx("eventfd: %s", strerror(errno));
	if ((r = pthread_create(&d->fold_thread, NULL, fold_main, d)) != 0)
		fatalx("pthread_create: %s", strerror(r));
	if (d->set->nmaildirs > 0) {
		if ((d->watch_stopfd = eventfd(0, EFD_CLOEXEC)) == -1)
			fatalx("eventfd: %s", strerror(errno));
		if ((r = pthread_create(&d->watch_thread, NULL, watch_main,
		    d)) != 0)
			fatalx("pthread_create: %s", strerror(r));
		d->watching = true;
	}
}

static void
daemon_stop_threads(struct daemon *d)
{
	uint64_t	one = 1;
	unsigned	i;

	pthread_mutex_lock(&d->mu);
	d->workers_stop = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	for (i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	/* after the deliveries: the folder's last round takes theirs */
	if (write(d->fold_stopfd, &one, sizeof(one)) == -1)
		log_warnx("eventfd: %s", strerror(errno));
	pthread_join(d->fold_thread, NULL);
	close(d->fold_stopfd);
	if (d->watching) {
		if (write(d->watch_stopfd, &one, sizeof(one)) == -1)
			log_warnx("eventfd: %s", strerror(errno));
		pthread_join(d->watch_thread, NULL);
		close(d->watch_stopfd);
	}
}

int
cmd_lmtp(int argc, char **argv)
{
	struct lmtp_settings	 set;
	struct cmd_env		 env;
	struct daemon		 d;
	struct epoll_event	 ev;
	struct passwd		*pw = NULL;
	struct db		*db = NULL;
	sigset_t		 mask;
	char			 err[1024];
	const char		*user;
	unsigned		 i;
	int			 r;

	memset(&env, 0, sizeof(env));
	if (lmtp_options(argc, argv, &set, &env) == -1) {
		lmtp_usage();
		return EXIT_USAGE;
	}
	log_init("dmarcd", set.syslog, set.verbose);
	memset(&d, 0, sizeof(d));
	d.set = &set;
	d.cb.rcpt = session_rcpt;
	d.cb.deliver = session_deliver;
	pthread_mutex_init(&d.mu, NULL);
	pthread_mutex_init(&d.open_mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	d.queue_tail = &d.queue;
	d.watch_stopfd = -1;
	if ((d.rc = runconf_load(env.conf_file, env.db_url, 1)) == NULL)
		return EXIT_CONFIG;
	if (lmtp_settings_apply(&set, &d.rc->env.conf) == -1) {
		runconf_unref(d.rc);
		free(set.listen_copy);
		free(set.recipients_copy);
		free(set.maildirs_copy);
		return EXIT_CONFIG;
	}
	if (gethostname(d.hostname, sizeof(d.hostname) - 1) == -1 ||
	    *d.hostname == '\0')
		snprintf(d.hostname, sizeof(d.hostname), "localhost");
	d.id_base = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);

	/* root binds, then becomes the configured user */
	if (geteuid() == 0) {
		user = set.user != NULL ? set.user : LMTP_DEFAULT_USER;
		if ((pw = getpwnam(user)) == NULL) {
			log_warnx("user %s does not exist: create it or give "
			    "--user", user);
			return EXIT_CONFIG;
		}
	}
	for (i = 0; i < set.nlisten; i++) {
		if (listen_on(&d, set.listen[i], &d.listeners[i], pw) == -1) {
			stop_listening(&d);
			return EXIT_CONFIG;
		}
		d.nlisteners++;
	}
	if (!set.foreground) {
		if (daemon(0, 0) == -1)
			fatalx("daemon: %s", strerror(errno));
		log_init("dmarcd", true, set.verbose);
	}
	drop_privileges(pw);

	agg_global_init();
	unpack_global_init();
	/* migrations and the embedded cluster now, not in the first
	 * delivery; a database that is down only means 451 until it is up */
	r = db_open(&d.rc->env.dbc, true, &db, err, sizeof(err));
	if (r == DB_EPERM) {
		log_warnx("%s", err);
		stop_listening(&d);
		return EXIT_FAIL;
	}
	if (r == DB_ETEMP)
		log_warnx("database unavailable, deliveries get 451 until it "
		    "is back: %s", err);
	db_close(&db);

	/* signals arrive through the loop; the threads never see them */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((d.ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (d.donefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatalx("epoll/signalfd/eventfd: %s", strerror(errno));
	d.sig_tag.kind = EV_SIGNAL;
	d.done_tag.kind = EV_DONE;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &d.sig_tag;
	epoll_ctl(d.ep, EPOLL_CTL_ADD, d.sigfd, &ev);
	ev.data.ptr = &d.done_tag;
	epoll_ctl(d.ep, EPOLL_CTL_ADD, d.donefd, &ev);
	for (i = 0; i < d.nlisteners; i++) {
		ev.data.ptr = &d.listeners[i].tag;
		if (epoll_ctl(d.ep, EPOLL_CTL_ADD, d.listeners[i].fd,
		    &ev) == -1)
			fatalx("epoll_ctl: %s", strerror(errno));
		log_info("listening on %s", d.listeners[i].name);
	}
	daemon_start_threads(&d);

	event_loop(&d);

	daemon_stop_threads(&d);
	log_info("stopped");
	stop_listening(&d);
	for (i = 0; i < d.nlisteners; i++)
		free(d.listeners[i].unix_path);
	close(d.ep);
	close(d.sigfd);
	close(d.donefd);
	runconf_unref(d.rc);
	unpack_global_deinit();
	free(set.listen_copy);
	free(set.recipients_copy);
	free(set.maildirs_copy);
	return EXIT_OK;
}

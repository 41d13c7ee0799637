/*
 * lmtp_session.c - `dmarcd lmtp`'s event loop: one thread, one epoll over
 * the listeners, every session, the signals and the delivery pool's done
 * queue.  ingest/lmtp.c speaks the protocol; here are the sockets around
 * it (conn_*), the accept, the timeouts, SIGHUP's reload and SIGTERM's
 * graceful stop.  An idle or slow client costs a descriptor and a session,
 * never a thread or a database connection.  A session answers nothing
 * after DATA until its delivery thread has committed (DESIGN.md
 * "Durability rule").
 *
 * Only this thread touches a session or a socket; the pool is reached
 * through d->queue and d->done under d->mu.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"
#include "lmtp_daemon.h"

#define LMTP_OUT_HIGH		(64 * 1024)	/* unsent replies: stop reading */
#define LMTP_SWEEP_MS		250	/* timeout checks */

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- sessions --------------------------------------------------------- */

int
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
enum lmtp_outcome
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
	j->start_us = metrics_now_us();
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
	lmtp_metrics_delivered(d, j, metrics_now_us() - j->start_us);
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
		 * What the database refused for good is in the quarantine
		 * (deliver_message); here not even its row could be written
		 * (schema, quarantine table).  That is ours, not the sender's,
		 * and bouncing a report loses it: both kinds answer 451 and
		 * the MTA's queue lifetime bounds the retries.
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
			lmtp_metrics_reply_busy(d);
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
		metrics_add(&d->metrics.sessions, 1);
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
reload(struct daemon *d)
{
	struct runconf	*rc, *old;

	if (runconf_load(&d->rc->env, d->rc->gen + 1, &rc) != 0) {
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

void
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

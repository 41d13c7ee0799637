/*
 * resolver.c - batches of reverse lookups on one c-ares channel, driven by
 * poll(2) here (the sockets come from c-ares' socket-state callback).  The
 * queries are built and the answers parsed here, not by ares_query() and
 * ares_parse_ptr_reply(): those reject a name that is not a host name, and
 * a PTR name holding "<script>" or bytes above 127 must be recorded, as
 * text, not dropped; parsing ourselves also gives the answer's TTL.  Every
 * byte of an answer is hostile: each length is checked against the
 * message, names against 255 bytes, compression pointers against a count.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ares.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resolver.h"

#define NAME_WIRE_MAX	255	/* bytes of a name on the wire (RFC 1035) */
#define NAME_JUMPS_MAX	64	/* compression pointers followed in a name */
#define SOCKS_MAX	64	/* sockets c-ares opens at once: one per
				 * server, TCP for truncated answers */
#define TRY_MS_MIN	20

#define T_A_		1
#define T_CNAME_	5
#define T_PTR_		12
#define T_AAAA_		28

enum phase {
	PH_IDLE,
	PH_PTR,		/* PTR query in flight */
	PH_FWD_WAIT,	/* PTR name known, forward query not sent yet */
	PH_FWD,		/* forward query in flight */
	PH_DONE,
};

struct lookup {
	struct resolver		*r;
	struct resolver_result	*res;
	enum phase		 phase;
	int			 family;
	uint8_t			 addr[16];
	uint8_t			 name[NAME_WIRE_MAX];	/* the PTR name, wire */
	size_t			 namelen;
	struct timespec		 deadline;
};

struct resolver {
	ares_channel	 ch;
	unsigned	 max_inflight, timeout, max_rate;
	struct pollfd	 fds[SOCKS_MAX];
	int		 nfds;
	double		 tokens, burst;
	struct timespec	 refilled;
	/* a run's lookups: the ones to start a forward query for */
	struct lookup	**fwd;
	size_t		 nfwd;
	size_t		 inflight, done;
	uint64_t	 queries;
	uint16_t	 next_id;
	const atomic_bool *stop;
};

static pthread_once_t	lib_once = PTHREAD_ONCE_INIT;
static int		lib_status;

static void
lib_init(void)
{
	lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

const char *
resolver_state_name(enum resolver_state s)
{
	switch (s) {
	case RESOLVER_OK:	return "ok";
	case RESOLVER_NXDOMAIN:	return "nxdomain";
	case RESOLVER_SERVFAIL:	return "servfail";
	case RESOLVER_REFUSED:	return "refused";
	case RESOLVER_TIMEOUT:	return "timeout";
	default:		return "error";
	}
}

/* c-ares opens, watches or closes a socket: kept in r->fds for poll. */
static void
sock_state(void *data, ares_socket_t s, int readable, int writable)
{
	struct resolver	*r = data;
	int		 i;

	for (i = 0; i < r->nfds; i++)
		if (r->fds[i].fd == s)
			break;
	if (!readable && !writable) {
		if (i < r->nfds)
			r->fds[i] = r->fds[--r->nfds];
		return;
	}
	if (i == r->nfds) {
		if (r->nfds == SOCKS_MAX)
			return;	/* c-ares' own timeouts still end it */
		r->nfds++;
	}
	r->fds[i].fd = s;
	r->fds[i].events = (readable ? POLLIN : 0) | (writable ? POLLOUT : 0);
	r->fds[i].revents = 0;
}

static int
servers_count(ares_channel ch)
{
	struct ares_addr_port_node	*list = NULL, *p;
	int				 n = 0;

	if (ares_get_servers_ports(ch, &list) != ARES_SUCCESS)
		return 1;
	for (p = list; p != NULL; p = p->next)
		n++;
	ares_free_data(list);
	return n > 0 ? n : 1;
}

int
resolver_new(const struct resolver_config *cfg, struct resolver **r_r,
    char *err, size_t errlen)
{
	struct ares_options	 o;
	struct resolver		*r;
	int			 st, ms, nserv;

	*r_r = NULL;
	pthread_once(&lib_once, lib_init);
	if (lib_status != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(lib_status));
		return -1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->max_inflight = cfg->max_inflight ? cfg->max_inflight : 1;
	r->timeout = cfg->timeout ? cfg->timeout : 1;
	r->max_rate = cfg->max_rate ? cfg->max_rate : 1;
	r->burst = r->max_rate < r->max_inflight ? r->max_rate :
	    r->max_inflight;
	r->tokens = r->burst;
	r->next_id = (uint16_t)arc4random();
	r->stop = cfg->stop;
	clock_gettime(CLOCK_MONOTONIC, &r->refilled);

	memset(&o, 0, sizeof(o));
	/*
	 * NOCHECKRESP: SERVFAIL and REFUSED reach ptr_cb as answers; left to
	 * c-ares, they end as ECONNREFUSED after trying the other servers,
	 * and the state could not tell them from a dead server.  The first
	 * server that answers decides.
	 */
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES |
	    ARES_FLAG_NOCHECKRESP;
	o.tries = 2;
	o.timeout = 1000;	/* set again once the servers are known */
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = r;
	st = ares_init_options(&r->ch, &o, ARES_OPT_FLAGS | ARES_OPT_TRIES |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_SOCK_STATE_CB);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(st));
		free(r);
		return -1;
	}
	if (cfg->servers != NULL && *cfg->servers != '\0' &&
	    (st = ares_set_servers_ports_csv(r->ch, cfg->servers)) !=
	    ARES_SUCCESS) {
		snprintf(err, errlen, "dns_servers: %s", ares_strerror(st));
		ares_destroy(r->ch);
		free(r);
		return -1;
	}
	/*
	 * The whole lookup (PTR, then the forward query) must end within
	 * timeout: half of it for each step; a step makes 2 tries of every
	 * server, the second round at twice the first's timeout (c-ares
	 * doubles it), so 3 * servers per-try timeouts in all.
	 */
	nserv = servers_count(r->ch);
	ms = (int)(r->timeout * 1000 / 2 / (3 * nserv));
	if (ms < TRY_MS_MIN)
		ms = TRY_MS_MIN;
	ares_destroy(r->ch);
	o.timeout = ms;
	st = ares_init_options(&r->ch, &o, ARES_OPT_FLAGS | ARES_OPT_TRIES |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_SOCK_STATE_CB);
	if (st == ARES_SUCCESS && cfg->servers != NULL &&
	    *cfg->servers != '\0')
		st = ares_set_servers_ports_csv(r->ch, cfg->servers);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(st));
		free(r);
		return -1;
	}
	*r_r = r;
	return 0;
}

void
resolver_free(struct resolver **r)
{
	if (*r == NULL)
		return;
	ares_destroy((*r)->ch);
	free(*r);
	*r = NULL;
}

/* The reverse name of an address, in wire form; its length. */
static size_t
reverse_name(int family, const uint8_t *a, uint8_t *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 n = 0;
	int			 i;
	char			 num[4];

	if (family == AF_INET) {
		for (i = 3; i >= 0; i--) {
			int l = snprintf(num, sizeof(num), "%u", a[i]);
			out[n++] = l;
			memcpy(out + n, num, l);
			n += l;
		}
		memcpy(out + n, "\007in-addr\004arpa", 14);	/* and root */
		return n + 14;
	}
	for (i = 15; i >= 0; i--) {
		out[n++] = 1;
		out[n++] = hex[a[i] & 0xf];
		out[n++] = 1;
		out[n++] = hex[a[i] >> 4];
	}
	memcpy(out + n, "\003ip6\004arpa", 10);	/* and the root */
	return n + 10;
}

/* A query for name (wire form, with its root label) into q; its length.
 * c-ares 1.18 matches answers by the ID of the buffer given ares_send(),
 * so each query in flight needs its own: a counter from a random start
 * (an answer is also checked against the question by c-ares). */
static size_t
query_build(uint16_t id, const uint8_t *name, size_t namelen, int type,
    uint8_t *q)
{
	memset(q, 0, 12);
	q[0] = id >> 8;
	q[1] = id & 0xff;
	q[2] = 0x01;		/* RD: the servers recurse */
	q[5] = 1;		/* one question */
	memcpy(q + 12, name, namelen);
	q[12 + namelen] = 0;	/* type, high byte */
	q[13 + namelen] = type;
	q[14 + namelen] = 0;
	q[15 + namelen] = 1;	/* IN */
	return 16 + namelen;
}

/*
 * Reads the name at *off in m[0..len): *off moves past it; the name, in
 * wire form with its root label, goes to out (NAME_WIRE_MAX bytes) when
 * out is not NULL.  Returns its length, or -1 when malformed.
 */
static int
name_read(const uint8_t *m, size_t len, size_t *off, uint8_t *out)
{
	size_t	p = *off, n = 0;
	int	jumps = 0;
	bool	jumped = false;

	for (;;) {
		unsigned	l;

		if (p >= len)
			return -1;
		l = m[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++jumps > NAME_JUMPS_MAX)
				return -1;
			if (!jumped)
				*off = p + 2;
			jumped = true;
			p = ((l & 0x3f) << 8) | m[p + 1];
			continue;
		}
		if ((l & 0xc0) != 0 || p + 1 + l > len ||
		    n + 1 + l > NAME_WIRE_MAX)
			return -1;
		if (out != NULL)
			memcpy(out + n, m + p, 1 + l);
		n += 1 + l;
		p += 1 + l;
		if (l == 0)
			break;
	}
	if (!jumped)
		*off = p;
	return (int)n;
}

/* The presentation form of a wire name (see RESOLVER_PTR_MAX). */
static void
name_text(const uint8_t *w, size_t n, char *out)
{
	size_t	i = 0, o = 0;

	while (i < n && w[i] != 0) {
		unsigned l = w[i++];

		if (o > 0)
			out[o++] = '.';
		for (; l > 0 && i < n; l--, i++) {
			uint8_t c = w[i];

			if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '.') {
				if (o + 4 > RESOLVER_PTR_MAX)
					goto out;
				o += snprintf(out + o, 5, "\\%03u", c);
			} else {
				if (o + 1 > RESOLVER_PTR_MAX)
					goto out;
				out[o++] = c;
			}
		}
	}
 out:
	out[o] = '\0';
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

struct answer {
	int		 rcode;
	bool		 found;		/* a PTR, or the address */
	uint8_t		 name[NAME_WIRE_MAX];
	size_t		 namelen;
	uint32_t	 ttl;
};

/*
 * Parses an answer to a query of type (PTR: its first PTR name; A, AAAA:
 * whether addr is among them).  Returns 0, or -1 when malformed.
 */
static int
answer_parse(const uint8_t *m, size_t len, int type, const uint8_t *addr,
    size_t alen, struct answer *a)
{
	size_t		 off = 12;
	unsigned	 qd, an, i;

	memset(a, 0, sizeof(*a));
	a->ttl = UINT32_MAX;
	if (len < 12 || !(m[2] & 0x80))
		return -1;
	a->rcode = m[3] & 0x0f;
	qd = get16(m + 4);
	an = get16(m + 6);
	for (i = 0; i < qd; i++) {
		if (name_read(m, len, &off, NULL) == -1 || off + 4 > len)
			return -1;
		off += 4;
	}
	for (i = 0; i < an; i++) {
		unsigned	 rtype, rdlen;
		uint32_t	 ttl;
		size_t		 rd;
		int		 l;

		if (name_read(m, len, &off, NULL) == -1 || off + 10 > len)
			return -1;
		rtype = get16(m + off);
		ttl = (uint32_t)get16(m + off + 4) << 16 | get16(m + off + 6);
		rdlen = get16(m + off + 8);
		rd = off + 10;
		if (rd + rdlen > len)
			return -1;
		off = rd + rdlen;
		if (get16(m + rd - 8) != 1)	/* class IN only */
			continue;
		if (rtype == T_CNAME_ && ttl < a->ttl)
			a->ttl = ttl;
		if (rtype != (unsigned)type || a->found)
			continue;
		if (type == T_PTR_) {
			size_t p = rd;

			if ((l = name_read(m, len, &p, a->name)) == -1 ||
			    p != rd + rdlen)
				return -1;
			if (l <= 1)	/* the root: no name */
				continue;
			a->namelen = l;
			a->found = true;
			if (ttl < a->ttl)
				a->ttl = ttl;
		} else if (rdlen == alen && memcmp(m + rd, addr, alen) == 0)
			a->found = true;
	}
	if (a->ttl == UINT32_MAX)
		a->ttl = 0;
	return 0;
}

static enum resolver_state
status_state(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		return RESOLVER_NXDOMAIN;
	case ARES_ESERVFAIL:
		return RESOLVER_SERVFAIL;
	case ARES_EREFUSED:
		return RESOLVER_REFUSED;
	case ARES_ETIMEOUT:
	case ARES_ECANCELLED:
		return RESOLVER_TIMEOUT;
	case ARES_ECONNREFUSED:		/* every server refused (ICMP) */
	default:
		return RESOLVER_ERROR;
	}
}

static void
lookup_end(struct lookup *l)
{
	l->phase = PH_DONE;
	l->r->inflight--;
	l->r->done++;
}

static void
fwd_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct lookup	*l = arg;
	struct answer	 a;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || l->phase != PH_FWD)
		return;
	/* no answer leaves the name unverified: it is not confirmed */
	if (status == ARES_SUCCESS && abuf != NULL && answer_parse(abuf, alen,
	    l->family == AF_INET ? T_A_ : T_AAAA_, l->addr,
	    l->family == AF_INET ? 4 : 16, &a) == 0 && a.rcode == 0)
		l->res->verified = a.found;
	lookup_end(l);
}

static void
ptr_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct lookup	*l = arg;
	struct answer	 a;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || l->phase != PH_PTR)
		return;
	if (status != ARES_SUCCESS || abuf == NULL) {
		l->res->state = status_state(status);
		lookup_end(l);
		return;
	}
	if (answer_parse(abuf, alen, T_PTR_, NULL, 0, &a) == -1) {
		l->res->state = RESOLVER_ERROR;
		lookup_end(l);
		return;
	}
	switch (a.rcode) {
	case 0:
		l->res->state = a.found ? RESOLVER_OK : RESOLVER_NXDOMAIN;
		break;
	case 2:
		l->res->state = RESOLVER_SERVFAIL;
		break;
	case 3:
		l->res->state = RESOLVER_NXDOMAIN;
		break;
	case 5:
		l->res->state = RESOLVER_REFUSED;
		break;
	default:
		l->res->state = RESOLVER_ERROR;
		break;
	}
	if (l->res->state != RESOLVER_OK) {
		lookup_end(l);
		return;
	}
	name_text(a.name, a.namelen, l->res->ptr);
	l->res->ttl = a.ttl;
	memcpy(l->name, a.name, a.namelen);
	l->namelen = a.namelen;
	l->phase = PH_FWD_WAIT;
	l->r->fwd[l->r->nfwd++] = l;
}

static double
ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (a->tv_sec - b->tv_sec) + (a->tv_nsec - b->tv_nsec) / 1e9;
}

/* Token bucket: max_rate a second, at most burst saved up. */
static void
tokens_refill(struct resolver *r, const struct timespec *now)
{
	r->tokens += ts_diff(now, &r->refilled) * r->max_rate;
	if (r->tokens > r->burst)
		r->tokens = r->burst;
	r->refilled = *now;
}

static void
send_query(struct lookup *l, const uint8_t *name, size_t namelen, int type,
    ares_callback cb)
{
	uint8_t	q[16 + NAME_WIRE_MAX];
	size_t	qlen;

	qlen = query_build(l->r->next_id++, name, namelen, type, q);
	l->r->tokens -= 1;
	l->r->queries++;
	ares_send(l->r->ch, q, (int)qlen, cb, l);
}

static void
lookup_start(struct lookup *l, const struct timespec *now)
{
	uint8_t	name[NAME_WIRE_MAX];
	size_t	n;

	l->r->inflight++;
	l->deadline = *now;
	l->deadline.tv_sec += l->r->timeout;
	if (inet_pton(AF_INET, l->res->ptr, l->addr) == 1)
		l->family = AF_INET;
	else if (inet_pton(AF_INET6, l->res->ptr, l->addr) == 1)
		l->family = AF_INET6;
	else {
		l->res->ptr[0] = '\0';
		l->res->state = RESOLVER_ERROR;
		lookup_end(l);
		return;
	}
	l->res->ptr[0] = '\0';
	n = reverse_name(l->family, l->addr, name);
	l->phase = PH_PTR;
	send_query(l, name, n, T_PTR_, ptr_cb);
}

/* Milliseconds poll may sleep: until c-ares' next timeout, or the next
 * token when a query waits for one. */
static int
wait_ms(struct resolver *r, bool waiting)
{
	struct timeval	 max = { 1, 0 }, tv, *t;
	int		 ms;

	t = ares_timeout(r->ch, &max, &tv);
	ms = (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
	if (waiting && r->tokens < 1) {
		int need = (int)((1 - r->tokens) * 1000 / r->max_rate) + 1;

		if (need < ms)
			ms = need;
	}
	return ms;
}

uint64_t
resolver_run(struct resolver *r, const char *const *ips, size_t n,
    struct resolver_result *res, void (*progress)(void *, size_t), void *arg,
    bool *stopped_r)
{
	struct lookup	*ls;
	struct pollfd	 fds[SOCKS_MAX];
	struct timespec	 now, last_start, told;
	size_t		 next = 0, i;
	int		 nfds, k;

	if (stopped_r != NULL)
		*stopped_r = false;
	if (n == 0)
		return 0;
	if ((ls = calloc(n, sizeof(*ls))) == NULL ||
	    (r->fwd = calloc(n, sizeof(*r->fwd))) == NULL) {
		free(ls);
		for (i = 0; i < n; i++)
			res[i].state = RESOLVER_ERROR;
		return 0;
	}
	r->nfwd = r->inflight = r->done = 0;
	r->queries = 0;
	for (i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		ls[i].r = r;
		ls[i].res = &res[i];
		/* the address rides in ptr until the lookup starts */
		snprintf(res[i].ptr, sizeof(res[i].ptr), "%s", ips[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	last_start = told = now;
	while (r->done < n) {
		if (r->stop != NULL && atomic_load(r->stop)) {
			if (stopped_r != NULL)
				*stopped_r = true;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		tokens_refill(r, &now);
		/* names already found first: they end lookups */
		while (r->nfwd > 0 && r->tokens >= 1) {
			struct lookup *l = r->fwd[--r->nfwd];

			l->phase = PH_FWD;
			send_query(l, l->name, l->namelen, l->family ==
			    AF_INET ? T_A_ : T_AAAA_, fwd_cb);
		}
		while (next < n && r->inflight < r->max_inflight &&
		    r->tokens >= 1) {
			lookup_start(&ls[next++], &now);
			last_start = now;
		}
		if (r->done == n)
			break;
		/*
		 * c-ares' timeouts end every query within the deadline; a
		 * forward query waiting for a token can outlive it, so the
		 * deadline is also kept here: past the last lookup's, every
		 * query is cancelled (a PTR counts as a timeout, a forward
		 * query leaves its name unverified).
		 */
		if (ts_diff(&now, &last_start) > r->timeout + 0.5 &&
		    next == n) {
			ares_cancel(r->ch);
			for (i = 0; i < n; i++)
				if (ls[i].phase == PH_FWD_WAIT)
					lookup_end(&ls[i]);
			r->nfwd = 0;
			continue;
		}
		nfds = r->nfds;
		memcpy(fds, r->fds, nfds * sizeof(*fds));
		k = poll(fds, nfds, wait_ms(r, r->nfwd > 0 || next < n));
		if (k == -1 && errno != EINTR)
			break;
		for (i = 0; k > 0 && i < (size_t)nfds; i++) {
			if (fds[i].revents == 0)
				continue;
			ares_process_fd(r->ch, fds[i].revents &
			    (POLLIN | POLLERR | POLLHUP) ? fds[i].fd :
			    ARES_SOCKET_BAD, fds[i].revents & POLLOUT ?
			    fds[i].fd : ARES_SOCKET_BAD);
		}
		ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		if (progress != NULL && ts_diff(&now, &told) >= 0.5) {
			progress(arg, r->done);
			told = now;
		}
	}
	if (r->done < n) {	/* stopped, or poll failed */
		ares_cancel(r->ch);	/* PTRs in flight end as timeouts */
		for (i = 0; i < n; i++)
			if (ls[i].phase == PH_IDLE)
				ls[i].res->state = RESOLVER_ERROR;
	}
	free(r->fwd);
	r->fwd = NULL;
	free(ls);
	return r->queries;
}

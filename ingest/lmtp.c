/*
 * lmtp.c - the LMTP session state machine (see lmtp.h).  Commands are
 * gathered into a capped line buffer; the message is copied span by span
 * (memchr to the next LF), so a 50 MB DATA costs no per-byte calls.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib.h"
#include "lmtp.h"

#define LMTP_MESSAGE_DEFAULT	(50 << 20)
#define LMTP_ERRORS_DEFAULT	20
#define LMTP_OUTPUT_DEFAULT	(1 << 20)
#define LMTP_TEXT_MAX		200	/* bytes of a deliver callback text */
#define LMTP_KEEP_BUF		(1 << 20)	/* message buffer kept between
						 * transactions */

enum data_state {
	DATA_BOL,	/* at the start of a line */
	DATA_MID,	/* inside a line */
	DATA_DOT,	/* after a '.' that started a line */
	DATA_DOTCR,	/* after ".\r" at the start of a line */
};

struct lmtp_session {
	struct lmtp_limits		 lim;
	const struct lmtp_callbacks	*cb;
	void				*ctx;
	enum lmtp_phase			 phase;
	char				*hostname;
	unsigned			 errors;

	/* the command line being read */
	struct buf			 line;
	bool				 line_started;
	bool				 line_too_long;

	/* the transaction */
	char				*lhlo;
	char				*sender;	/* NULL before MAIL */
	char				**rcpts;
	unsigned			 nrcpts;

	/* DATA */
	enum data_state			 dstate;
	struct buf			 msg;
	bool				 too_large;

	struct buf			 out;
	size_t				 out_off;	/* bytes already sent */
};

struct lmtp_command {
	const char	*verb;
	void		(*fn)(struct lmtp_session *, char *);
};

void
lmtp_limits_default(struct lmtp_limits *l)
{
	l->max_line = LMTP_LINE_DEFAULT;
	l->max_message = LMTP_MESSAGE_DEFAULT;
	l->max_rcpts = LMTP_RCPTS_DEFAULT;
	l->max_errors = LMTP_ERRORS_DEFAULT;
	l->max_output = LMTP_OUTPUT_DEFAULT;
}

/* Appends one reply line; a client that never reads its replies loses its
 * session rather than our memory. */
static void __attribute__((format(printf, 2, 3)))
lmtp_reply(struct lmtp_session *s, const char *fmt, ...)
{
	va_list	ap;
	char	line[1024];
	int	n;

	if (s->phase == LMTP_PHASE_CLOSED)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 3)
		n = sizeof(line) - 3;
	/* the last line of a reply ("250 ", not "250-") for the caller's
	 * counts */
	if (s->cb->reply != NULL && n >= 4 && line[3] == ' ' &&
	    line[0] >= '2' && line[0] <= '5')
		s->cb->reply(s->ctx, (unsigned)(line[0] - '0') * 100 +
		    (unsigned)(line[1] - '0') * 10 + (unsigned)(line[2] - '0'));
	line[n++] = '\r';
	line[n++] = '\n';
	if (buf_add(&s->out, line, n) == -1)
		s->phase = LMTP_PHASE_CLOSED;
}

/* Counts a client error; too many end the session (RFC 5321 4.1.4 lets a
 * server close on a client that keeps failing). */
static void
lmtp_error(struct lmtp_session *s)
{
	if (++s->errors >= s->lim.max_errors) {
		lmtp_reply(s, "421 4.7.0 %s Too many errors, closing",
		    s->hostname);
		s->phase = LMTP_PHASE_CLOSED;
	}
}

static void
lmtp_txn_reset(struct lmtp_session *s)
{
	unsigned	i;

	free(s->sender);
	s->sender = NULL;
	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	s->nrcpts = 0;
	/* a small buffer is kept for the next message, a big one given back */
	if (s->msg.size > LMTP_KEEP_BUF)
		buf_free(&s->msg);
	buf_reset(&s->msg);
	s->too_large = false;
}

struct lmtp_session *
lmtp_session_new(const struct lmtp_limits *lim,
    const struct lmtp_callbacks *cb, void *ctx, const char *hostname)
{
	struct lmtp_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatalx("out of memory");
	s->lim = *lim;
	if (s->lim.max_line < 64)
		s->lim.max_line = 64;
	if (s->lim.max_rcpts == 0)
		s->lim.max_rcpts = 1;
	if (s->lim.max_errors == 0)
		s->lim.max_errors = 1;
	if (s->lim.max_output < 4096)
		s->lim.max_output = 4096;
	s->cb = cb;
	s->ctx = ctx;
	s->hostname = xstrdup(hostname);
	s->phase = LMTP_PHASE_COMMAND;
	buf_init(&s->line, s->lim.max_line);
	buf_init(&s->msg, s->lim.max_message);
	buf_init(&s->out, s->lim.max_output);
	if ((s->rcpts = calloc(s->lim.max_rcpts, sizeof(*s->rcpts))) == NULL)
		fatalx("out of memory");
	lmtp_reply(s, "220 %s LMTP dmarcd ready", s->hostname);
	return s;
}

void
lmtp_session_free(struct lmtp_session **sp)
{
	struct lmtp_session	*s = *sp;

	if (s == NULL)
		return;
	lmtp_txn_reset(s);
	buf_free(&s->msg);
	buf_free(&s->line);
	buf_free(&s->out);
	free(s->rcpts);
	free(s->lhlo);
	free(s->hostname);
	free(s);
	*sp = NULL;
}

/* Splits "<addr> params" after the FROM:/TO: keyword: addr is returned
 * without brackets (NUL-terminated in place), *params_r points past it.
 * NULL when the path is malformed. */
static char *
lmtp_parse_path(char *arg, const char *keyword, char **params_r)
{
	size_t	 kl = strlen(keyword);
	char	*p, *addr;
	bool	 quoted = false;

	if (strncasecmp(arg, keyword, kl) != 0)
		return NULL;
	p = arg + kl;
	while (*p == ' ')	/* "FROM: <a>" is common enough to allow */
		p++;
	if (*p != '<')
		return NULL;
	addr = ++p;
	for (; *p != '\0'; p++) {
		if (*p == '\\' && quoted && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '>' && !quoted)
			break;
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
	}
	if (*p != '>' || (size_t)(p - addr) > LMTP_ADDR_MAX)
		return NULL;
	*p++ = '\0';
	if (*p != '\0' && *p != ' ')
		return NULL;
	while (*p == ' ')
		p++;
	*params_r = p;
	return addr;
}

/* Next space-separated word of *pp, NUL-terminated in place. */
static char *
lmtp_next_word(char **pp)
{
	char	*p = *pp, *w;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return NULL;
	w = p;
	while (*p != '\0' && *p != ' ')
		p++;
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	return w;
}

static void
lmtp_lhlo(struct lmtp_session *s, char *arg)
{
	if (*arg == '\0' || strchr(arg, ' ') != NULL) {
		lmtp_reply(s, "501 5.5.4 Syntax: LHLO hostname");
		lmtp_error(s);
		return;
	}
	lmtp_txn_reset(s);
	free(s->lhlo);
	s->lhlo = xstrdup(arg);
	lmtp_reply(s, "250-%s", s->hostname);
	lmtp_reply(s, "250-PIPELINING");
	lmtp_reply(s, "250-ENHANCEDSTATUSCODES");
	lmtp_reply(s, "250-8BITMIME");
	lmtp_reply(s, "250 SIZE %zu", s->lim.max_message);
}

static void
lmtp_helo(struct lmtp_session *s, char *arg)
{
	(void)arg;
	lmtp_reply(s, "500 5.5.1 This is LMTP: say LHLO");
	lmtp_error(s);
}

static void
lmtp_mail(struct lmtp_session *s, char *arg)
{
	char		*addr, *params, *w, *v;
	int64_t		 size;

	if (s->lhlo == NULL) {
		lmtp_reply(s, "503 5.5.1 Say LHLO first");
		lmtp_error(s);
		return;
	}
	if (s->sender != NULL) {
		lmtp_reply(s, "503 5.5.1 Sender already given");
		lmtp_error(s);
		return;
	}
	if ((addr = lmtp_parse_path(arg, "FROM:", &params)) == NULL) {
		lmtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		lmtp_error(s);
		return;
	}
	while ((w = lmtp_next_word(&params)) != NULL) {
		if ((v = strchr(w, '=')) != NULL)
			*v++ = '\0';
		if (strcasecmp(w, "SIZE") == 0 && v != NULL) {
			if (parse_int64(v, 0, INT64_MAX, &size) == -1) {
				lmtp_reply(s, "501 5.5.4 Bad SIZE parameter");
				lmtp_error(s);
				return;
			}
			if ((uint64_t)size > s->lim.max_message) {
				lmtp_reply(s, "552 5.3.4 Message size exceeds "
				    "the limit of %zu bytes",
				    s->lim.max_message);
				return;
			}
		} else if (strcasecmp(w, "BODY") == 0 && v != NULL &&
		    (strcasecmp(v, "7BIT") == 0 ||
		    strcasecmp(v, "8BITMIME") == 0))
			;
		else {
			lmtp_reply(s, "555 5.5.4 Unsupported parameter");
			lmtp_error(s);
			return;
		}
	}
	s->sender = xstrdup(addr);
	lmtp_reply(s, "250 2.1.0 Sender ok");
}

static void
lmtp_rcpt(struct lmtp_session *s, char *arg)
{
	char	*addr, *params;

	if (s->sender == NULL) {
		lmtp_reply(s, "503 5.5.1 Say MAIL first");
		lmtp_error(s);
		return;
	}
	if ((addr = lmtp_parse_path(arg, "TO:", &params)) == NULL ||
	    *addr == '\0') {
		lmtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		lmtp_error(s);
		return;
	}
	if (*params != '\0') {
		lmtp_reply(s, "555 5.5.4 Unsupported parameter");
		lmtp_error(s);
		return;
	}
	if (s->nrcpts >= s->lim.max_rcpts) {
		lmtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (s->cb->rcpt != NULL && s->cb->rcpt(s->ctx, addr) != 0) {
		lmtp_reply(s, "550 5.1.1 <%s> Unknown recipient", addr);
		return;
	}
	s->rcpts[s->nrcpts++] = xstrdup(addr);
	lmtp_reply(s, "250 2.1.5 <%s> Recipient ok", addr);
}

static void
lmtp_data(struct lmtp_session *s, char *arg)
{
	if (*arg != '\0') {
		lmtp_reply(s, "501 5.5.4 Syntax: DATA");
		lmtp_error(s);
		return;
	}
	/* RFC 2033 4.2: 503 when no recipient was accepted */
	if (s->sender == NULL || s->nrcpts == 0) {
		lmtp_reply(s, "503 5.5.1 No valid recipients");
		lmtp_error(s);
		return;
	}
	s->phase = LMTP_PHASE_DATA;
	s->dstate = DATA_BOL;
	lmtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
lmtp_rset(struct lmtp_session *s, char *arg)
{
	(void)arg;
	lmtp_txn_reset(s);
	lmtp_reply(s, "250 2.0.0 Ok");
}

static void
lmtp_noop(struct lmtp_session *s, char *arg)
{
	(void)arg;
	lmtp_reply(s, "250 2.0.0 Ok");
}

static void
lmtp_vrfy(struct lmtp_session *s, char *arg)
{
	(void)arg;
	lmtp_reply(s, "252 2.5.0 Cannot verify, but will accept");
}

static void
lmtp_quit(struct lmtp_session *s, char *arg)
{
	(void)arg;
	lmtp_reply(s, "221 2.0.0 %s Bye", s->hostname);
	s->phase = LMTP_PHASE_CLOSED;
}

static void
lmtp_unimplemented(struct lmtp_session *s, char *arg)
{
	(void)arg;
	lmtp_reply(s, "502 5.5.1 Command not implemented");
	lmtp_error(s);
}

static const struct lmtp_command lmtp_commands[] = {
	{ "LHLO", lmtp_lhlo },
	{ "MAIL", lmtp_mail },
	{ "RCPT", lmtp_rcpt },
	{ "DATA", lmtp_data },
	{ "RSET", lmtp_rset },
	{ "NOOP", lmtp_noop },
	{ "QUIT", lmtp_quit },
	{ "VRFY", lmtp_vrfy },
	{ "HELO", lmtp_helo },
	{ "EHLO", lmtp_helo },
	{ "EXPN", lmtp_unimplemented },
	{ "HELP", lmtp_unimplemented },
	{ "BDAT", lmtp_unimplemented },
	{ "STARTTLS", lmtp_unimplemented },
	{ "AUTH", lmtp_unimplemented },
};

/* One complete command line, CR LF already taken off. */
static void
lmtp_command(struct lmtp_session *s, char *line, size_t len)
{
	char	*arg;
	size_t	 vl, i;

	if (memchr(line, '\0', len) != NULL) {
		lmtp_reply(s, "500 5.5.2 Syntax error: NUL byte");
		lmtp_error(s);
		return;
	}
	vl = strcspn(line, " ");
	arg = line + vl;
	if (*arg == ' ')
		*arg++ = '\0';
	for (i = 0; i < nitems(lmtp_commands); i++)
		if (strcasecmp(line, lmtp_commands[i].verb) == 0) {
			lmtp_commands[i].fn(s, arg);
			return;
		}
	lmtp_reply(s, "500 5.5.1 Unknown command");
	lmtp_error(s);
}

/* Takes command bytes up to and including one LF. */
static size_t
lmtp_command_input(struct lmtp_session *s, const char *p, size_t len)
{
	const char	*nl;
	size_t		 n, l;

	nl = memchr(p, '\n', len);
	n = nl != NULL ? (size_t)(nl - p) + 1 : len;
	s->line_started = true;
	if (!s->line_too_long && buf_add(&s->line, p, n) == -1) {
		/* the rest of the line is read and dropped */
		s->line_too_long = true;
		buf_reset(&s->line);
	}
	if (nl == NULL)
		return n;
	s->line_started = false;
	if (s->line_too_long) {
		s->line_too_long = false;
		lmtp_reply(s, "500 5.5.2 Line too long");
		lmtp_error(s);
		return n;
	}
	l = s->line.len - 1;
	if (l > 0 && s->line.data[l - 1] == '\r')
		l--;
	s->line.data[l] = '\0';
	lmtp_command(s, s->line.data, l);
	buf_reset(&s->line);
	return n;
}

/* Keeps message bytes while under max_message; past it, only counts that
 * the message was too large, so the client can still finish DATA. */
static void
lmtp_data_add(struct lmtp_session *s, const char *p, size_t n)
{
	if (s->too_large)
		return;
	if (buf_add(&s->msg, p, n) == -1) {
		s->too_large = true;
		buf_free(&s->msg);
	}
}

/* Copies text into dst, printable ASCII only, so a deliver callback's
 * words cannot break the reply line. */
static void
lmtp_clean_text(char *dst, size_t dstlen, const char *text)
{
	size_t	i;

	for (i = 0; text != NULL && text[i] != '\0' && i + 1 < dstlen; i++)
		dst[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
	dst[i] = '\0';
}

/* One reply per accepted recipient, all with the same outcome. */
static void
lmtp_data_replies(struct lmtp_session *s, enum lmtp_outcome outcome,
    const char *text)
{
	const char	*code;
	char		 clean[LMTP_TEXT_MAX];
	unsigned	 i;

	switch (outcome) {
	case LMTP_STORED:
		code = "250 2.0.0";
		break;
	case LMTP_PERMFAIL:
		code = "554 5.3.0";
		break;
	default:
		code = "451 4.3.0";
		break;
	}
	lmtp_clean_text(clean, sizeof(clean), text);
	if (*clean == '\0')
		snprintf(clean, sizeof(clean), "%s",
		    outcome == LMTP_STORED ? "Delivered" :
		    outcome == LMTP_PERMFAIL ? "Delivery failed" :
		    "Temporary failure, try again later");
	for (i = 0; i < s->nrcpts; i++)
		lmtp_reply(s, "%s <%s> %s", code, s->rcpts[i], clean);
}

static void
lmtp_data_end(struct lmtp_session *s)
{
	struct lmtp_message	 m;
	enum lmtp_outcome	 outcome;
	const char		*text = NULL;
	unsigned		 i;

	if (s->too_large) {
		for (i = 0; i < s->nrcpts; i++)
			lmtp_reply(s, "552 5.3.4 <%s> Message exceeds the "
			    "size limit of %zu bytes", s->rcpts[i],
			    s->lim.max_message);
		lmtp_txn_reset(s);
		s->phase = LMTP_PHASE_COMMAND;
		return;
	}
	if (buf_add(&s->msg, "", 0) == -1) {	/* NUL-terminated if empty */
		s->too_large = true;
		lmtp_data_end(s);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.data = s->msg.data;
	m.len = s->msg.len;
	m.lhlo = s->lhlo;
	m.sender = s->sender;
	m.rcpts = (const char *const *)s->rcpts;
	m.nrcpts = s->nrcpts;
	s->phase = LMTP_PHASE_DELIVERING;
	outcome = s->cb->deliver(s->ctx, &m, &text);
	if (outcome != LMTP_PENDING)
		lmtp_session_delivered(s, outcome, text);
}

/* Takes DATA bytes, up to the end of the final "." line. */
static size_t
lmtp_data_input(struct lmtp_session *s, const char *p, size_t len)
{
	const char	*nl;
	size_t		 i = 0, n;

	while (i < len) {
		switch (s->dstate) {
		case DATA_BOL:
			if (p[i] == '.') {
				s->dstate = DATA_DOT;
				i++;
				break;
			}
			s->dstate = DATA_MID;
			/* FALLTHROUGH */
		case DATA_MID:
			nl = memchr(p + i, '\n', len - i);
			n = nl != NULL ? (size_t)(nl - (p + i)) + 1 : len - i;
			lmtp_data_add(s, p + i, n);
			i += n;
			if (nl != NULL)
				s->dstate = DATA_BOL;
			break;
		case DATA_DOT:
			if (p[i] == '\n') {
				lmtp_data_end(s);
				return i + 1;
			}
			if (p[i] == '\r') {
				s->dstate = DATA_DOTCR;
				i++;
				break;
			}
			/* a stuffed dot: dropped, the rest is the line */
			s->dstate = DATA_MID;
			break;
		case DATA_DOTCR:
			if (p[i] == '\n') {
				lmtp_data_end(s);
				return i + 1;
			}
			/* ".\r" then more: the dot was stuffing */
			lmtp_data_add(s, "\r", 1);
			s->dstate = DATA_MID;
			break;
		}
	}
	return i;
}

size_t
lmtp_session_input(struct lmtp_session *s, const void *data, size_t len)
{
	const char	*p = data;
	size_t		 used = 0;

	while (used < len) {
		if (s->phase == LMTP_PHASE_COMMAND)
			used += lmtp_command_input(s, p + used, len - used);
		else if (s->phase == LMTP_PHASE_DATA)
			used += lmtp_data_input(s, p + used, len - used);
		else
			break;
	}
	return used;
}

void
lmtp_session_delivered(struct lmtp_session *s, enum lmtp_outcome outcome,
    const char *text)
{
	if (s->phase != LMTP_PHASE_DELIVERING)
		return;
	if (outcome == LMTP_PENDING)
		outcome = LMTP_TEMPFAIL;
	s->phase = LMTP_PHASE_COMMAND;
	lmtp_data_replies(s, outcome, text);
	lmtp_txn_reset(s);
}

const char *
lmtp_session_output(const struct lmtp_session *s, size_t *len_r)
{
	*len_r = s->out.len - s->out_off;
	return *len_r > 0 ? s->out.data + s->out_off : NULL;
}

void
lmtp_session_output_consume(struct lmtp_session *s, size_t n)
{
	if (n > s->out.len - s->out_off)
		n = s->out.len - s->out_off;
	s->out_off += n;
	if (s->out_off == s->out.len) {
		s->out_off = 0;
		buf_reset(&s->out);
	}
}

enum lmtp_phase
lmtp_session_phase(const struct lmtp_session *s)
{
	return s->phase;
}

bool
lmtp_session_partial_line(const struct lmtp_session *s)
{
	return s->phase == LMTP_PHASE_COMMAND && s->line_started;
}

bool
lmtp_session_in_transaction(const struct lmtp_session *s)
{
	return s->sender != NULL || s->phase == LMTP_PHASE_DATA ||
	    s->phase == LMTP_PHASE_DELIVERING;
}

void
lmtp_session_close(struct lmtp_session *s, const char *reply)
{
	if (s->phase == LMTP_PHASE_DELIVERING)
		return;
	lmtp_reply(s, "%s", reply);
	s->phase = LMTP_PHASE_CLOSED;
}

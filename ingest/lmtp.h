/*
 * lmtp.h - the LMTP protocol (RFC 2033, and the parts of RFC 5321 it leans
 * on) as a byte-driven session: bytes in, reply lines out.
 *
 * Nothing here knows about sockets, threads or the database.  The caller
 * feeds whatever it read, in pieces of any size, and sends whatever output
 * is pending.  A complete message goes to the deliver callback; its outcome
 * becomes one reply per accepted recipient (RFC 2033 4.2), all the same,
 * since the message is stored once for all of them.  The callback may
 * answer LMTP_PENDING and give the outcome later (lmtp_session_delivered),
 * so an event loop can store messages on other threads; the session then
 * takes no input until it has the outcome.
 *
 * Accepted: LHLO, MAIL (SIZE=, BODY=7BIT|8BITMIME), RCPT, DATA, RSET, NOOP,
 * QUIT, VRFY (252); PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME and SIZE are
 * announced.  Lines end in CRLF or a bare LF.  The message is kept as
 * received, dot-stuffing undone.
 */
#ifndef DMARCD_LMTP_H
#define DMARCD_LMTP_H

#include <stdbool.h>
#include <stddef.h>

#define LMTP_ADDR_MAX	256	/* bytes of a path, RFC 5321 4.5.3.1.3 */

#define LMTP_LINE_DEFAULT	1000	/* RFC 5321 4.5.3.1.6 text line */
#define LMTP_RCPTS_DEFAULT	100	/* RFC 5321 4.5.3.1.8 minimum */

struct lmtp_limits {
	size_t		max_line;	/* command line bytes, CRLF included;
					 * longer: 500 5.5.2 */
	size_t		max_message;	/* message bytes (SIZE); larger: read
					 * to the end, then 552 5.3.4 */
	unsigned	max_rcpts;	/* per transaction; more: 452 4.5.3 */
	unsigned	max_errors;	/* bad commands before 421 and close */
	size_t		max_output;	/* reply bytes not taken by the caller
					 * before the session gives up */
};

/* Defaults: 1000-byte lines, 50 MiB messages, 100 recipients, 20 errors. */
void	lmtp_limits_default(struct lmtp_limits *l);

enum lmtp_outcome {
	LMTP_STORED,	/* committed: 250 2.0.0 */
	LMTP_TEMPFAIL,	/* 451 4.3.0: the client keeps it and retries */
	LMTP_PERMFAIL,	/* 554 5.3.0: refused for good */
	LMTP_PENDING,	/* deliver only: see lmtp_session_delivered() */
};

/* A complete message; valid during the deliver call and, when that says
 * LMTP_PENDING, until lmtp_session_delivered(). */
struct lmtp_message {
	const char		*data;	/* NUL-terminated past len */
	size_t			 len;
	const char		*lhlo;	/* the client's LHLO argument */
	const char		*sender; /* MAIL FROM address, "" for <> */
	const char *const	*rcpts;	/* accepted recipients, without <> */
	unsigned		 nrcpts;
};

struct lmtp_callbacks {
	/* May addr (without <>) receive mail?  0 yes, -1 550 5.1.1.
	 * NULL: everybody may. */
	int	(*rcpt)(void *ctx, const char *addr);
	/* A message is complete.  *text_r (may stay NULL) is said after the
	 * enhanced code in every recipient's reply; the session copies it
	 * and replaces anything but printable ASCII. */
	enum lmtp_outcome (*deliver)(void *ctx, const struct lmtp_message *msg,
	    const char **text_r);
	/* A reply was queued: its three-digit code, once per reply (a
	 * multi-line one counts once).  NULL: not told. */
	void	(*reply)(void *ctx, unsigned code);
};

/* Where a session is, for the caller's timeouts and shutdown. */
enum lmtp_phase {
	LMTP_PHASE_COMMAND,	/* reading commands */
	LMTP_PHASE_DATA,	/* reading a message after 354 */
	LMTP_PHASE_DELIVERING,	/* waiting for lmtp_session_delivered() */
	LMTP_PHASE_CLOSED,	/* send what is pending, then close */
};

struct lmtp_session;

/* A new session with its 220 greeting pending.  hostname names this
 * server in replies.  Never fails (aborts when out of memory). */
struct lmtp_session *lmtp_session_new(const struct lmtp_limits *lim,
	    const struct lmtp_callbacks *cb, void *ctx, const char *hostname);
/* Frees the session and sets *sp to NULL; NULL is fine.  A pending
 * delivery's message is freed with it: finish the delivery first. */
void	lmtp_session_free(struct lmtp_session **sp);

/* Takes up to len bytes and returns how many it took: fewer than len only
 * when the session is delivering or closed.  Feed the rest again after
 * lmtp_session_delivered(). */
size_t	lmtp_session_input(struct lmtp_session *s, const void *data,
	    size_t len);
/* The outcome of the delivery the deliver callback left LMTP_PENDING
 * (outcome and text as that callback's).  Replies, and makes the session
 * ready for input again. */
void	lmtp_session_delivered(struct lmtp_session *s,
	    enum lmtp_outcome outcome, const char *text);

/* Reply bytes waiting to be sent (*len_r of them; NULL when none). */
const char *lmtp_session_output(const struct lmtp_session *s, size_t *len_r);
/* n bytes of the output were sent. */
void	lmtp_session_output_consume(struct lmtp_session *s, size_t n);

enum lmtp_phase lmtp_session_phase(const struct lmtp_session *s);
/* True while a command line has begun but not ended (slow-client timer). */
bool	lmtp_session_partial_line(const struct lmtp_session *s);
/* True between MAIL and the end of its delivery: a graceful shutdown lets
 * it finish. */
bool	lmtp_session_in_transaction(const struct lmtp_session *s);
/* Ends the session with one last reply ("421 4.4.2 timeout"), which must
 * be a whole reply line without CRLF.  Not while delivering. */
void	lmtp_session_close(struct lmtp_session *s, const char *reply);

#endif

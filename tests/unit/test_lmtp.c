/*
 * test_lmtp.c - the LMTP session (ingest/lmtp.c): every script is run
 * whole and in pieces of 1, 2, 3 and 7 bytes, and must give the same
 * replies and the same delivered messages each way.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "lmtp.h"
#include "tap.h"

#define CAP	(1 << 20)

struct harness {
	enum lmtp_outcome	 outcome;	/* what deliver answers */
	const char		*text;
	bool			 pending;	/* answer LMTP_PENDING first */
	const char		*allow;		/* the only recipient, or NULL */
	struct buf		 out;		/* every reply */
	struct buf		 msgs;		/* delivered messages, "|"-joined
						 * "sender>rcpt,rcpt:data" */
	unsigned		 ndeliver;
	struct buf		 codes;		/* told the reply callback */
};

static int
h_rcpt(void *ctx, const char *addr)
{
	struct harness	*h = ctx;

	return h->allow == NULL || strcmp(addr, h->allow) == 0 ? 0 : -1;
}

static enum lmtp_outcome
h_deliver(void *ctx, const struct lmtp_message *m, const char **text_r)
{
	struct harness	*h = ctx;
	unsigned	 i;

	h->ndeliver++;
	buf_printf(&h->msgs, "%s%s>", h->msgs.len ? "|" : "", m->sender);
	for (i = 0; i < m->nrcpts; i++)
		buf_printf(&h->msgs, "%s%s", i ? "," : "", m->rcpts[i]);
	buf_addc(&h->msgs, ':');
	buf_add(&h->msgs, m->data, m->len);
	if (m->data[m->len] != '\0')
		buf_adds(&h->msgs, "[not terminated]");
	*text_r = h->text;
	return h->pending ? LMTP_PENDING : h->outcome;
}

static void
h_reply(void *ctx, unsigned code)
{
	struct harness	*h = ctx;

	buf_printf(&h->codes, "%u ", code);
}

static const struct lmtp_callbacks h_cb = { h_rcpt, h_deliver, h_reply };

/* The codes the reply callback should have been told: the last line of
 * each reply in out ("250 ", not "250-"). */
static void
h_codes_of(const char *out, struct buf *want)
{
	const char	*p, *nl;

	for (p = out; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 :
	    NULL) {
		nl = strchr(p, '\n');
		if (strlen(p) >= 4 && p[3] == ' ')
			buf_printf(want, "%.3s ", p);
	}
}

static void
h_drain(struct harness *h, struct lmtp_session *s)
{
	const char	*p;
	size_t		 n;

	if ((p = lmtp_session_output(s, &n)) != NULL) {
		buf_add(&h->out, p, n);
		lmtp_session_output_consume(s, n);
	}
}

/* Feeds in in pieces of chunk bytes (0: whole), answering a pending
 * delivery as soon as it shows up, like an event loop would. */
static struct lmtp_session *
h_run(struct harness *h, const struct lmtp_limits *lim, const char *in,
    size_t len, size_t chunk)
{
	struct lmtp_session	*s;
	size_t			 pos = 0, n, used;

	buf_init(&h->out, CAP);
	buf_init(&h->msgs, CAP);
	buf_init(&h->codes, CAP);
	h->ndeliver = 0;
	s = lmtp_session_new(lim, &h_cb, h, "mx.test");
	while (pos < len) {
		n = chunk == 0 || chunk > len - pos ? len - pos : chunk;
		used = lmtp_session_input(s, in + pos, n);
		pos += used;
		h_drain(h, s);
		if (lmtp_session_phase(s) == LMTP_PHASE_DELIVERING) {
			lmtp_session_delivered(s, h->outcome, h->text);
			h_drain(h, s);
		} else if (used < n)
			break;
	}
	return s;
}

/* Runs the script every way; checks the replies (and the messages when
 * want_msgs is not NULL) are the same each time. */
static void
script(const char *name, const struct lmtp_limits *limp, struct harness *h,
    const char *in, const char *want_out, const char *want_msgs)
{
	static const size_t	 chunks[] = { 0, 1, 2, 3, 7 };
	struct lmtp_limits	 lim;
	struct lmtp_session	*s;
	struct buf		 codes;
	size_t			 i;
	char			 label[200], clabel[240];

	if (limp == NULL)
		lmtp_limits_default(&lim);
	else
		lim = *limp;
	for (i = 0; i < nitems(chunks); i++) {
		s = h_run(h, &lim, in, strlen(in), chunks[i]);
		if (chunks[i] == 0)
			snprintf(label, sizeof(label), "%s (whole)", name);
		else
			snprintf(label, sizeof(label), "%s (%zu by %zu)", name,
			    chunks[i], chunks[i]);
		is_str(h->out.data ? h->out.data : "", want_out, label);
		buf_init(&codes, CAP);
		h_codes_of(h->out.data, &codes);
		buf_addc(&codes, '\0');
		buf_addc(&h->codes, '\0');
		snprintf(clabel, sizeof(clabel), "%s: reply callback", label);
		is_str(h->codes.data, codes.data, clabel);
		buf_free(&codes);
		if (want_msgs != NULL)
			is_str(h->msgs.data ? h->msgs.data : "", want_msgs,
			    label);
		lmtp_session_free(&s);
		buf_free(&h->out);
		buf_free(&h->msgs);
		buf_free(&h->codes);
	}
}

#define GREET	"220 mx.test LMTP dmarcd ready\r\n"
#define LHLO_R	"250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n" \
		"250-8BITMIME\r\n250 SIZE 52428800\r\n"

static void
test_basic(void)
{
	struct harness	h = { .outcome = LMTP_STORED, .text = "3 reports" };

	script("one transaction, CRLF", NULL, &h,
	    "LHLO mta.example\r\n"
	    "MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME\r\n"
	    "RCPT TO:<dmarc@example.org>\r\n"
	    "RCPT TO:<rua@example.org>\r\n"
	    "DATA\r\n"
	    "Subject: x\r\n\r\n..dot\r\n.\r\n",
	    GREET LHLO_R
	    "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <dmarc@example.org> Recipient ok\r\n"
	    "250 2.1.5 <rua@example.org> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <dmarc@example.org> 3 reports\r\n"
	    "250 2.0.0 <rua@example.org> 3 reports\r\n",
	    "a@b.example>dmarc@example.org,rua@example.org:"
	    "Subject: x\r\n\r\n.dot\r\n");

	script("bare LF client, lower case verbs", NULL, &h,
	    "lhlo mta\nmail from:<>\nrcpt to:<x@y>\ndata\n"
	    "a\n..\n...x\n.\nquit\n",
	    GREET LHLO_R
	    "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <x@y> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <x@y> 3 reports\r\n"
	    "221 2.0.0 mx.test Bye\r\n",
	    ">x@y:a\n.\n..x\n");

	script("dot edge cases: stuffed, .\\r then data, empty message", NULL,
	    &h,
	    "LHLO m\r\nMAIL FROM:<s>\r\nRCPT TO:<r>\r\nDATA\r\n"
	    "..\r\n.\rx\r\nend\r\n.\r\n"
	    "MAIL FROM:<s>\r\nRCPT TO:<r>\r\nDATA\r\n.\r\n",
	    GREET LHLO_R
	    "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <r> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <r> 3 reports\r\n"
	    "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <r> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <r> 3 reports\r\n",
	    "s>r:.\r\n\rx\r\nend\r\n|s>r:");
}

static void
test_pipelining(void)
{
	struct harness	h = { .outcome = LMTP_STORED };
	const char	*in =
	    "LHLO m\r\n"
	    "MAIL FROM:<s1>\r\nRCPT TO:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\n"
	    "DATA\r\none\r\n.\r\n"
	    "MAIL FROM:<s2>\r\nRCPT TO:<d>\r\nRCPT TO:<e>\r\nDATA\r\n"
	    "two\r\n.\r\nQUIT\r\nNOOP\r\n";
	const char	*want = GREET LHLO_R
	    "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <a> Recipient ok\r\n"
	    "250 2.1.5 <b> Recipient ok\r\n"
	    "250 2.1.5 <c> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <a> Delivered\r\n"
	    "250 2.0.0 <b> Delivered\r\n"
	    "250 2.0.0 <c> Delivered\r\n"
	    "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <d> Recipient ok\r\n"
	    "250 2.1.5 <e> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <d> Delivered\r\n"
	    "250 2.0.0 <e> Delivered\r\n"
	    "221 2.0.0 mx.test Bye\r\n";

	script("pipelined: one reply per recipient", NULL, &h, in, want,
	    "s1>a,b,c:one\r\n|s2>d,e:two\r\n");
	h.pending = true;
	script("pipelined, delivery answered later", NULL, &h, in, want,
	    "s1>a,b,c:one\r\n|s2>d,e:two\r\n");
}

static void
test_outcomes(void)
{
	struct harness	h = { .outcome = LMTP_TEMPFAIL,
	    .text = "database\r\nunavailable" };
	const char	*in = "LHLO m\r\nMAIL FROM:<s>\r\nRCPT TO:<a>\r\n"
	    "RCPT TO:<b>\r\nDATA\r\nx\r\n.\r\n";
	const char	*head = GREET LHLO_R "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <a> Recipient ok\r\n250 2.1.5 <b> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n";
	char		 want[2048];

	snprintf(want, sizeof(want), "%s%s", head,
	    "451 4.3.0 <a> database??unavailable\r\n"
	    "451 4.3.0 <b> database??unavailable\r\n");
	script("temporary failure for every recipient, text cleaned", NULL,
	    &h, in, want, NULL);
	h.outcome = LMTP_PERMFAIL;
	h.text = NULL;
	snprintf(want, sizeof(want), "%s%s", head,
	    "554 5.3.0 <a> Delivery failed\r\n"
	    "554 5.3.0 <b> Delivery failed\r\n");
	script("permanent failure for every recipient", NULL, &h, in, want,
	    NULL);
}

static void
test_size(void)
{
	struct harness		h = { .outcome = LMTP_STORED };
	struct lmtp_limits	lim;

	lmtp_limits_default(&lim);
	lim.max_message = 10;
	script("SIZE above the limit refused at MAIL", &lim, &h,
	    "LHLO m\r\nMAIL FROM:<s> SIZE=11\r\nMAIL FROM:<s> SIZE=x\r\n"
	    "MAIL FROM:<s> SIZE=10\r\n",
	    GREET "250-mx.test\r\n250-PIPELINING\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE 10\r\n"
	    "552 5.3.4 Message size exceeds the limit of 10 bytes\r\n"
	    "501 5.5.4 Bad SIZE parameter\r\n"
	    "250 2.1.0 Sender ok\r\n", "");
	script("DATA past the limit: read to the end, 552 each, then on",
	    &lim, &h,
	    "LHLO m\r\nMAIL FROM:<s>\r\nRCPT TO:<a>\r\nRCPT TO:<b>\r\n"
	    "DATA\r\n0123456789\r\n.\r\nNOOP\r\n"
	    "MAIL FROM:<s>\r\nRCPT TO:<a>\r\nDATA\r\n0123456\r\n.\r\n",
	    GREET "250-mx.test\r\n250-PIPELINING\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE 10\r\n"
	    "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <a> Recipient ok\r\n250 2.1.5 <b> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "552 5.3.4 <a> Message exceeds the size limit of 10 bytes\r\n"
	    "552 5.3.4 <b> Message exceeds the size limit of 10 bytes\r\n"
	    "250 2.0.0 Ok\r\n"
	    "250 2.1.0 Sender ok\r\n250 2.1.5 <a> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <a> Delivered\r\n",
	    "s>a:0123456\r\n");
}

static void
test_errors(void)
{
	struct harness		h = { .outcome = LMTP_STORED,
	    .allow = "dmarc@example.org" };
	struct lmtp_limits	lim;
	char			in[4096];

	script("sequence errors", NULL, &h,
	    "HELO m\r\nEHLO m\r\nMAIL FROM:<s>\r\nLHLO\r\nLHLO m\r\n"
	    "RCPT TO:<dmarc@example.org>\r\nDATA\r\nMAIL FROM:<s>\r\n"
	    "MAIL FROM:<s>\r\nDATA\r\nDATA x\r\nBOGUS\r\nEXPN x\r\n\r\n"
	    "VRFY x\r\nRSET\r\nNOOP\r\n",
	    GREET
	    "500 5.5.1 This is LMTP: say LHLO\r\n"
	    "500 5.5.1 This is LMTP: say LHLO\r\n"
	    "503 5.5.1 Say LHLO first\r\n"
	    "501 5.5.4 Syntax: LHLO hostname\r\n"
	    LHLO_R
	    "503 5.5.1 Say MAIL first\r\n"
	    "503 5.5.1 No valid recipients\r\n"
	    "250 2.1.0 Sender ok\r\n"
	    "503 5.5.1 Sender already given\r\n"
	    "503 5.5.1 No valid recipients\r\n"
	    "501 5.5.4 Syntax: DATA\r\n"
	    "500 5.5.1 Unknown command\r\n"
	    "502 5.5.1 Command not implemented\r\n"
	    "500 5.5.1 Unknown command\r\n"
	    "252 2.5.0 Cannot verify, but will accept\r\n"
	    "250 2.0.0 Ok\r\n"
	    "250 2.0.0 Ok\r\n", "");

	script("syntax: paths and parameters", NULL, &h,
	    "LHLO m\r\nMAIL FROM:a@b\r\nMAIL FROM:<a@b\r\nMAIL TO:<a>\r\n"
	    "MAIL FROM:<a> FOO=1\r\nMAIL FROM:<a>x\r\n"
	    "MAIL FROM: <\"q>\\\"\"@b> BODY=7BIT\r\n"
	    "RCPT TO:<>\r\nRCPT TO:<dmarc@example.org> NOTIFY=NEVER\r\n"
	    "RCPT TO:<other@example.org>\r\nRCPT TO:<dmarc@example.org>\r\n"
	    "DATA\r\nx\r\n.\r\n",
	    GREET LHLO_R
	    "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
	    "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
	    "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
	    "555 5.5.4 Unsupported parameter\r\n"
	    "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
	    "250 2.1.0 Sender ok\r\n"
	    "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
	    "555 5.5.4 Unsupported parameter\r\n"
	    "550 5.1.1 <other@example.org> Unknown recipient\r\n"
	    "250 2.1.5 <dmarc@example.org> Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <dmarc@example.org> Delivered\r\n",
	    "\"q>\\\"\"@b>dmarc@example.org:x\r\n");

	script("NUL byte in a command", NULL, &h, "NOOP\r\n", GREET
	    "250 2.0.0 Ok\r\n", "");
	{
		/* a NUL cannot go through script()'s strings */
		struct lmtp_limits	 l;
		struct lmtp_session	*s;

		lmtp_limits_default(&l);
		s = h_run(&h, &l, "NO\0OP\r\nNOOP\r\n", 13, 0);
		is_str(h.out.data, GREET "500 5.5.2 Syntax error: NUL byte\r\n"
		    "250 2.0.0 Ok\r\n", "NUL byte refused, session goes on");
		lmtp_session_free(&s);
		buf_free(&h.out);
		buf_free(&h.msgs);
		buf_free(&h.codes);
	}

	lmtp_limits_default(&lim);
	lim.max_line = 64;
	snprintf(in, sizeof(in), "NOOP %.*s\r\nNOOP %.*s\r\nNOOP\r\n",
	    57, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    58, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	script("line too long: 500 5.5.2, the next line is fine", &lim, &h, in,
	    GREET "250 2.0.0 Ok\r\n500 5.5.2 Line too long\r\n"
	    "250 2.0.0 Ok\r\n", "");

	lmtp_limits_default(&lim);
	lim.max_rcpts = 2;
	h.allow = NULL;
	script("too many recipients: 452, the others delivered", &lim, &h,
	    "LHLO m\r\nMAIL FROM:<s>\r\nRCPT TO:<a>\r\nRCPT TO:<b>\r\n"
	    "RCPT TO:<c>\r\nDATA\r\nx\r\n.\r\n",
	    GREET LHLO_R "250 2.1.0 Sender ok\r\n"
	    "250 2.1.5 <a> Recipient ok\r\n250 2.1.5 <b> Recipient ok\r\n"
	    "452 4.5.3 Too many recipients\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 <a> Delivered\r\n250 2.0.0 <b> Delivered\r\n",
	    "s>a,b:x\r\n");

	lmtp_limits_default(&lim);
	lim.max_errors = 3;
	script("too many errors: 421 and closed, the rest unread", &lim, &h,
	    "X\r\nY\r\nZ\r\nNOOP\r\n",
	    GREET "500 5.5.1 Unknown command\r\n"
	    "500 5.5.1 Unknown command\r\n500 5.5.1 Unknown command\r\n"
	    "421 4.7.0 mx.test Too many errors, closing\r\n", "");
}

static void
test_state(void)
{
	struct harness		 h = { .outcome = LMTP_STORED, .pending = true };
	struct lmtp_limits	 lim;
	struct lmtp_session	*s;
	const char		*in = "LHLO m\r\nMAIL FROM:<s>\r\nRCPT TO:<r>\r\n"
	    "DATA\r\nbody\r\n.\r\nNOOP\r\n";
	const char		*p;
	size_t			 used, n;

	lmtp_limits_default(&lim);
	buf_init(&h.out, CAP);
	buf_init(&h.msgs, CAP);
	s = lmtp_session_new(&lim, &h_cb, &h, "mx.test");
	ok(!lmtp_session_partial_line(s), "no partial line at the start");
	used = lmtp_session_input(s, "NO", 2);
	ok(used == 2 && lmtp_session_partial_line(s), "partial line seen");
	used = lmtp_session_input(s, "OP\r\n", 4);
	ok(!lmtp_session_partial_line(s), "partial line ended");
	ok(!lmtp_session_in_transaction(s), "not in a transaction");
	used = lmtp_session_input(s, in, strlen(in));
	ok(used == strlen(in) - strlen("NOOP\r\n"),
	    "input stops after the final dot while delivering");
	is_int(lmtp_session_phase(s), LMTP_PHASE_DELIVERING, "delivering");
	ok(lmtp_session_in_transaction(s), "in a transaction");
	is_int(lmtp_session_input(s, "NOOP\r\n", 6), 0,
	    "no input taken while delivering");
	lmtp_session_close(s, "421 4.3.2 shutting down");
	is_int(lmtp_session_phase(s), LMTP_PHASE_DELIVERING,
	    "close refused while delivering");
	p = lmtp_session_output(s, &n);
	ok(p != NULL && strstr(p, "354 ") != NULL &&
	    strstr(p, "250 2.0.0 <r>") == NULL, "no data reply yet");
	lmtp_session_output_consume(s, n);
	lmtp_session_delivered(s, LMTP_TEMPFAIL, "later");
	p = lmtp_session_output(s, &n);
	is_str(p, "451 4.3.0 <r> later\r\n", "the reply comes with the outcome");
	lmtp_session_output_consume(s, n);
	ok(lmtp_session_output(s, &n) == NULL && n == 0, "output drained");
	is_int(lmtp_session_input(s, "NOOP\r\n", 6), 6, "input again");
	lmtp_session_close(s, "421 4.4.2 mx.test timeout");
	p = lmtp_session_output(s, &n);
	is_str(p, "250 2.0.0 Ok\r\n421 4.4.2 mx.test timeout\r\n",
	    "closing reply");
	is_int(lmtp_session_phase(s), LMTP_PHASE_CLOSED, "closed");
	is_int(lmtp_session_input(s, "NOOP\r\n", 6), 0, "closed takes nothing");
	lmtp_session_free(&s);
	ok(s == NULL, "free NULLs");
	lmtp_session_free(&s);

	/* a client that never reads its replies */
	lim.max_output = 4096;
	s = lmtp_session_new(&lim, &h_cb, &h, "mx.test");
	for (n = 0; n < 1000 && lmtp_session_phase(s) != LMTP_PHASE_CLOSED;
	    n++)
		lmtp_session_input(s, "NOOP\r\n", 6);
	ok(lmtp_session_phase(s) == LMTP_PHASE_CLOSED && n < 1000,
	    "unread replies past max_output close the session");
	lmtp_session_free(&s);
	buf_free(&h.out);
	buf_free(&h.msgs);
}

/* A big message in one piece and in uneven pieces: same bytes out. */
static void
test_big(void)
{
	struct harness		 h = { .outcome = LMTP_STORED };
	struct lmtp_limits	 lim;
	struct lmtp_session	*s;
	struct buf		 in, want;
	size_t			 i, pos, n;

	lmtp_limits_default(&lim);
	buf_init(&in, 8 << 20);
	buf_init(&want, 8 << 20);
	buf_adds(&in, "LHLO m\r\nMAIL FROM:<s>\r\nRCPT TO:<r>\r\nDATA\r\n");
	buf_adds(&want, "s>r:");
	for (i = 0; i < 20000; i++) {
		buf_printf(&in, "%sline %zu with some text\r\n",
		    i % 7 == 0 ? ".." : "", i);
		buf_printf(&want, "%sline %zu with some text\r\n",
		    i % 7 == 0 ? "." : "", i);
	}
	buf_adds(&in, ".\r\n");
	s = h_run(&h, &lim, in.data, in.len, 0);
	ok(h.msgs.len == want.len && memcmp(h.msgs.data, want.data,
	    want.len) == 0, "20000 lines whole: unstuffed bytes equal");
	lmtp_session_free(&s);
	buf_free(&h.out);
	buf_free(&h.msgs);
	buf_init(&h.out, CAP);
	buf_init(&h.msgs, CAP * 4);
	s = lmtp_session_new(&lim, &h_cb, &h, "mx.test");
	for (pos = 0, n = 1; pos < in.len; pos += n, n = n * 7 % 4093 + 1) {
		if (n > in.len - pos)
			n = in.len - pos;
		lmtp_session_input(s, in.data + pos, n);
		h_drain(&h, s);
	}
	ok(h.msgs.len == want.len && memcmp(h.msgs.data, want.data,
	    want.len) == 0, "20000 lines in uneven pieces: same bytes");
	ok(strstr(h.out.data, "250 2.0.0 <r> Delivered\r\n") != NULL,
	    "delivered");
	lmtp_session_free(&s);
	buf_free(&h.out);
	buf_free(&h.msgs);
	buf_free(&h.codes);
	buf_free(&in);
	buf_free(&want);
}

int
main(void)
{
	log_init("test_lmtp", false, 0);
	test_basic();
	test_pipelining();
	test_outcomes();
	test_size();
	test_errors();
	test_state();
	test_big();
	return done_testing();
}

/*
 * fuzz_lmtp.c - libFuzzer target: an LMTP session fed the input whole and
 * again in pieces whose sizes come from the first byte, with deliveries
 * answered at once or later.  Both runs must give the same replies, and
 * every reply must be a well-formed "NNN" line.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "lmtp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	unsigned	mode;
	unsigned	n;
};

static int
fuzz_rcpt(void *ctx, const char *addr)
{
	(void)ctx;
	return addr[0] == 'x' ? -1 : 0;
}

static enum lmtp_outcome
fuzz_deliver(void *ctx, const struct lmtp_message *m, const char **text_r)
{
	struct fuzz_ctx	*f = ctx;

	if (m->data[m->len] != '\0' || m->nrcpts == 0 || m->sender == NULL)
		abort();
	*text_r = "x\r\ny";
	f->n++;
	if (f->mode & 1)
		return LMTP_PENDING;
	return (enum lmtp_outcome)(f->n % 3);
}

static const struct lmtp_callbacks fuzz_cb = { fuzz_rcpt, fuzz_deliver, NULL };

/* Runs the whole input through one session; replies go to out. */
static void
fuzz_run(const uint8_t *data, size_t size, size_t chunk, unsigned mode,
    struct buf *out)
{
	struct lmtp_limits	 lim;
	struct lmtp_session	*s;
	struct fuzz_ctx		 f = { mode, 0 };
	const char		*p;
	size_t			 pos = 0, n, used, olen;

	lmtp_limits_default(&lim);
	lim.max_line = 80;
	lim.max_message = 2048;
	lim.max_rcpts = 4;
	lim.max_errors = 50;
	s = lmtp_session_new(&lim, &fuzz_cb, &f, "fuzz");
	while (pos < size) {
		n = chunk > size - pos ? size - pos : chunk;
		used = lmtp_session_input(s, data + pos, n);
		pos += used;
		if ((p = lmtp_session_output(s, &olen)) != NULL) {
			buf_add(out, p, olen);
			lmtp_session_output_consume(s, olen);
		}
		if (lmtp_session_phase(s) == LMTP_PHASE_DELIVERING) {
			f.n++;
			lmtp_session_delivered(s,
			    (enum lmtp_outcome)(f.n % 3), "later");
		} else if (used < n && lmtp_session_phase(s) !=
		    LMTP_PHASE_CLOSED)
			abort();	/* input refused for no reason */
		else if (lmtp_session_phase(s) == LMTP_PHASE_CLOSED)
			break;
	}
	if (lmtp_session_phase(s) != LMTP_PHASE_CLOSED)
		lmtp_session_close(s, "421 4.4.2 end");
	if ((p = lmtp_session_output(s, &olen)) != NULL)
		buf_add(out, p, olen);
	lmtp_session_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 a, b;
	const char	*p, *eol;
	unsigned	 mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	buf_init(&a, 1 << 24);
	buf_init(&b, 1 << 24);
	fuzz_run(data, size, size ? size : 1, mode & 1, &a);
	fuzz_run(data, size, (mode >> 1) % 13 + 1, mode & 1, &b);
	if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	for (p = a.data; p != NULL && p < a.data + a.len; p = eol + 1) {
		if ((eol = memchr(p, '\n', a.data + a.len - p)) == NULL ||
		    eol - p < 5 || eol[-1] != '\r' ||
		    p[0] < '2' || p[0] > '5' || (p[3] != ' ' && p[3] != '-') ||
		    memchr(p, '\r', eol - p - 1) != NULL)
			abort();
	}
	buf_free(&a);
	buf_free(&b);
	return 0;
}

/*
 * test_source.c - input sources: files, directory trees, mbox (mboxrd,
 * mboxo, CRLF), Maildir and its durability contract, stdin, progress.
 * Every input is built in a mkdtemp directory at test time.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "source.h"
#include "tap.h"

static char	tmp[PATH_MAX];

/* tmp + "/" + printf(fmt); a static buffer per call (rotating). */
static const char * __attribute__((format(printf, 1, 2)))
at(const char *fmt, ...)
{
	static char	bufs[8][PATH_MAX];
	static int	n;
	va_list		ap;
	char		*b = bufs[n++ % 8];
	size_t		l;

	l = strlen(tmp);
	memcpy(b, tmp, l);
	b[l++] = '/';
	va_start(ap, fmt);
	vsnprintf(b + l, PATH_MAX - l, fmt, ap);
	va_end(ap);
	return b;
}

static void
spew(const char *path, const void *data, size_t len)
{
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, data, len) != (ssize_t)len || close(fd) == -1) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void
spews(const char *path, const char *s)
{
	spew(path, s, strlen(s));
}

static void
mkd(const char *path)
{
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "mkdir %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static bool
exists(const char *path)
{
	struct stat	st;

	return lstat(path, &st) == 0;
}

static void
maildir_make(const char *path)
{
	char	p[PATH_MAX];

	mkd(path);
	snprintf(p, sizeof(p), "%s/cur", path);
	mkd(p);
	snprintf(p, sizeof(p), "%s/new", path);
	mkd(p);
	snprintf(p, sizeof(p), "%s/tmp", path);
	mkd(p);
}

/* Origins (relative to tmp) and contents of everything src hands out, as
 * "origin=data;" or "origin=!error;"; calls done when done_all. */
static char *
drain(struct source *src, bool done_all)
{
	const struct source_msg	*m;
	struct buf		 out;
	char			 err[256];
	size_t			 tl = strlen(tmp);
	int			 r;

	buf_init(&out, 1 << 20);
	buf_adds(&out, "");
	while ((r = source_next(src, &m, err, sizeof(err))) == 1) {
		buf_adds(&out, strncmp(m->origin, tmp, tl) == 0 ?
		    m->origin + tl + 1 : m->origin);
		buf_adds(&out, "=");
		if (m->error != NULL)
			buf_printf(&out, "!%s", m->error);
		else
			buf_add(&out, m->data, m->len);
		buf_adds(&out, ";");
		if (done_all && source_done(src, m, err, sizeof(err)) == -1)
			buf_printf(&out, "done failed: %s;", err);
	}
	if (r == -1)
		buf_printf(&out, "next failed: %s;", err);
	return buf_take(&out);
}

/* Opens path, drains it, frees it; returns what drain returns. */
static char *
drain_path(const char *path, const struct source_limits *lim, bool done_all)
{
	struct source	*src;
	char		 err[256], *s;

	if (source_open(path, lim, &src, err, sizeof(err)) == -1) {
		diag("open %s: %s", path, err);
		return strdup("open failed");
	}
	s = drain(src, done_all);
	source_free(&src);
	return s;
}

static void
test_file(const struct source_limits *lim)
{
	struct source_estimate	 e;
	struct source		*src;
	const struct source_msg	*m;
	char			 err[256];

	spews(at("one.eml"), "Subject: hi\n\nbody\n");
	ok(source_open(at("one.eml"), lim, &src, err, sizeof(err)) == 0,
	    "file: open");
	is_str(source_kind(src), "file", "file: kind");
	ok(source_estimate(src, &e, err, sizeof(err)) == 0 &&
	    e.messages == 1 && e.bytes == 18 && e.exact, "file: estimate");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "file: one message");
	is_int(m->len, 18, "file: length");
	ok(memcmp(m->data, "Subject: hi\n\nbody\n", 18) == 0, "file: bytes");
	is_str(m->origin, at("one.eml"), "file: origin is the path");
	ok(m->error == NULL && m->mbox_index == 0, "file: no error, no mbox");
	is_int(source_done(src, m, err, sizeof(err)), 0,
	    "file: done is a no-op");
	is_int(source_next(src, &m, err, sizeof(err)), 0, "file: then end");
	is_int(source_next(src, &m, err, sizeof(err)), 0, "file: still end");
	source_free(&src);
	ok(src == NULL, "file: free NULLs the pointer");
	source_free(&src);

	ok(source_open(at("missing.xml"), lim, &src, err, sizeof(err)) == -1 &&
	    strstr(err, "No such file") != NULL && src == NULL,
	    "file: missing path is an error with a reason");
}

static void
test_dir(const struct source_limits *lim)
{
	struct source_estimate	 e;
	struct source		*src;
	char			 err[256], *s;

	mkd(at("d"));
	mkd(at("d/sub"));
	mkd(at("d/sub/deeper"));
	mkd(at("d/empty"));
	mkd(at("d/.hdir"));
	spews(at("d/b.xml"), "B");
	spews(at("d/a.eml"), "A");
	spews(at("d/Z.gz"), "Z");
	spews(at("d/sub/c.zip"), "C");
	spews(at("d/sub/deeper/e"), "E");
	spews(at("d/sub0"), "S0");
	spews(at("d/.hidden"), "H");
	spews(at("d/.hdir/x"), "X");
	spews(at("d/zero"), "");
	spews(at("outside"), "O");
	ok(symlink("a.eml", at("d/link.eml")) == 0, "dir: file symlink made");
	ok(symlink("../outside", at("d/out")) == 0, "dir: symlink out made");
	ok(symlink("sub", at("d/sublink")) == 0, "dir: dir symlink made");
	ok(mkfifo(at("d/fifo"), 0644) == 0, "dir: fifo made");
	spews(at("d/m.mbox"), "From a\nM1\n\nFrom b\nM2\n");
	maildir_make(at("d/md"));
	spews(at("d/md/new/1.x"), "MD");

	ok(source_open(at("d"), lim, &src, err, sizeof(err)) == 0,
	    "dir: open");
	is_str(source_kind(src), "directory", "dir: kind");
	ok(source_estimate(src, &e, err, sizeof(err)) == 0, "dir: estimate");
	is_int(e.messages, 9, "dir: estimate counts files (empty ones "
	    "too) and Maildir messages, no hidden, links");
	is_int(e.bytes, 1 + 1 + 1 + 21 + 2 + 1 + 1 + 2, "dir: estimate bytes");
	s = drain(src, true);
	is_str(s, "d/Z.gz=Z;d/a.eml=A;d/b.xml=B;d/m.mbox:#1=M1\n;"
	    "d/m.mbox:#2=M2\n;d/md/new/1.x=MD;d/sub/c.zip=C;"
	    "d/sub/deeper/e=E;d/sub0=S0;d/zero=;",
	    "dir: sorted depth first, hidden, links, fifo skipped, empty "
	    "handed out (to be quarantined); "
	    "mbox split; Maildir inside read as one");
	free(s);
	source_free(&src);
	ok(exists(at("d/md/cur/1.x:2,S")) && !exists(at("d/md/new/1.x")),
	    "dir: done reaches the Maildir inside the tree");

	mkd(at("emptydir"));
	s = drain_path(at("emptydir"), lim, false);
	is_str(s, "", "dir: empty directory, no messages");
	free(s);

	/* Vanishing between listing and reading. */
	mkd(at("v"));
	spews(at("v/1"), "one");
	spews(at("v/2"), "two");
	spews(at("v/3"), "three");
	ok(source_open(at("v"), lim, &src, err, sizeof(err)) == 0,
	    "dir vanish: open");
	unlink(at("v/1"));
	unlink(at("v/3"));
	s = drain(src, false);
	is_str(s, "v/2=two;", "dir vanish: gone files skipped quietly");
	free(s);
	source_free(&src);
}

static void
test_mbox(const struct source_limits *lim)
{
	static const char mbox[] =
	    "From alice@example.org Mon Jan  1 00:00:00 2024\n"
	    "Subject: one\n"
	    "\n"
	    ">From the start\n"
	    ">>From quoted\n"
	    "> From not an escape\n"
	    ">Fromage\n"
	    "\n"
	    "From bob@example.org Tue Jan  2 00:00:00 2024\n"
	    "Subject: two\n"
	    "\n"
	    "body From here\n";
	static const char crlf[] =
	    "From a\r\nS: 1\r\n\r\n>From x\r\n\r\n"
	    "From b\r\nS: 2\r\n\r\nbody\r\n\r\n";
	struct source_estimate	 e;
	struct source		*src;
	const struct source_msg	*m;
	char			 err[256], *s;

	spews(at("box.mbox"), mbox);
	ok(source_open(at("box.mbox"), lim, &src, err, sizeof(err)) == 0,
	    "mbox: open");
	is_str(source_kind(src), "mbox", "mbox: detected by \"From \"");
	ok(source_estimate(src, &e, err, sizeof(err)) == 0 && !e.exact &&
	    e.bytes == sizeof(mbox) - 1, "mbox: estimate is size, not exact");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "mbox: first");
	is_str(m->data, "Subject: one\n\nFrom the start\n>From quoted\n"
	    "> From not an escape\n>Fromage\n",
	    "mbox: mboxrd unescape, separator blank line dropped");
	is_int(m->len, strlen(m->data), "mbox: length matches");
	is_str(m->origin, at("box.mbox:#1"), "mbox: origin path:#1");
	is_str(m->path, at("box.mbox"), "mbox: path without the number");
	ok(m->mbox_offset == 0 && m->mbox_index == 1, "mbox: identity of #1");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "mbox: second");
	is_str(m->data, "Subject: two\n\nbody From here\n",
	    "mbox: last message, From inside a line kept");
	is_int(m->mbox_offset, strstr(mbox, "From bob") - mbox,
	    "mbox: offset of #2 is its From line");
	is_int(m->mbox_index, 2, "mbox: index of #2");
	is_int(source_next(src, &m, err, sizeof(err)), 0, "mbox: end");
	source_free(&src);

	spews(at("crlf.mbox"), crlf);
	s = drain_path(at("crlf.mbox"), lim, false);
	is_str(s, "crlf.mbox:#1=S: 1\r\n\r\nFrom x\r\n;"
	    "crlf.mbox:#2=S: 2\r\n\r\nbody\r\n;",
	    "mbox: CRLF line ends, escapes and separators");
	free(s);

	spews(at("empty.mbox"), "");
	s = drain_path(at("empty.mbox"), lim, false);
	is_str(s, "empty.mbox=;", "mbox: empty file, one empty message "
	    "(kept, not dropped)");
	free(s);

	spews(at("bare.mbox"), "From x\n");
	s = drain_path(at("bare.mbox"), lim, false);
	is_str(s, "bare.mbox:#1=;", "mbox: a From line alone is an empty "
	    "message, handed out");
	free(s);

	spews(at("noeol.mbox"), "From x\nA\n\nFrom y\nB");
	s = drain_path(at("noeol.mbox"), lim, false);
	is_str(s, "noeol.mbox:#1=A\n;noeol.mbox:#2=B;",
	    "mbox: no newline at the end");
	free(s);
}

/* mboxrd-escapes msg onto out: '>' before every line matching ^>*From . */
static void
mboxrd_escape(struct buf *out, const char *msg, size_t len)
{
	size_t	i = 0, j;

	while (i < len) {
		for (j = i; j < len && msg[j] == '>'; j++)
			;
		if (len - j >= 5 && memcmp(msg + j, "From ", 5) == 0)
			buf_addc(out, '>');
		for (j = i; j < len && msg[j] != '\n'; j++)
			;
		if (j < len)
			j++;
		buf_add(out, msg + i, j - i);
		i = j;
	}
}

/* Messages with long lines and escapes, so they straddle read buffers. */
static void
test_mbox_random(const struct source_limits *lim)
{
	enum { N = 120 };
	static char	*msgs[N];
	static size_t	 lens[N];
	struct source	*src;
	const struct source_msg *m;
	struct buf	 file, b;
	char		 err[256];
	unsigned	 seed = 12345, i, k, bad = 0, n = 0;
	size_t		 line, j;
	int		 r;

	buf_init(&file, 64 << 20);
	for (i = 0; i < N; i++) {
		buf_init(&b, 8 << 20);
		buf_printf(&b, "Subject: %u\n\n", i);
		for (k = 0; k < 1 + (unsigned)(rand_r(&seed) % 40); k++) {
			switch (rand_r(&seed) % 6) {
			case 0:
				buf_adds(&b, "From me\n");
				break;
			case 1:
				buf_adds(&b, ">>From you\n");
				break;
			case 2:
				buf_adds(&b, "\n");
				break;
			default:
				line = rand_r(&seed) % (k == 3 ? 150000 : 300);
				for (j = 0; j < line; j++)
					buf_addc(&b, "ab>F \r"[rand_r(&seed) %
					    6]);
				buf_addc(&b, '\n');
			}
		}
		lens[i] = b.len;
		msgs[i] = buf_take(&b);
		/* Offset From lines at odd positions. */
		buf_printf(&file, "From sender%u %.*s\n", i,
		    (int)(rand_r(&seed) % 500), "Thu Jan  1 00:00:00 1970 "
		    "Thu Jan  1 00:00:00 1970 Thu Jan  1 00:00:00 1970 "
		    "Thu Jan  1 00:00:00 1970 Thu Jan  1 00:00:00 1970 ");
		mboxrd_escape(&file, msgs[i], lens[i]);
		buf_addc(&file, '\n');
	}
	spew(at("random.mbox"), file.data, file.len);
	buf_free(&file);

	ok(source_open(at("random.mbox"), lim, &src, err, sizeof(err)) == 0,
	    "mbox random: open");
	while ((r = source_next(src, &m, err, sizeof(err))) == 1) {
		if (n >= N || m->error != NULL || m->len != lens[n] ||
		    memcmp(m->data, msgs[n], m->len) != 0) {
			if (bad++ == 0)
				diag("message %u differs (len %zu want %zu)",
				    n, m->len, n < N ? lens[n] : 0);
		}
		n++;
	}
	is_int(r, 0, "mbox random: ends cleanly");
	is_int(n, N, "mbox random: every message found");
	is_int(bad, 0, "mbox random: every message round-trips");
	source_free(&src);
	for (i = 0; i < N; i++)
		free(msgs[i]);
}

static void
test_maildir(const struct source_limits *lim)
{
	struct source_estimate	 e;
	struct source		*src;
	const struct source_msg	*m;
	char			 err[256], *s;

	maildir_make(at("M"));
	spews(at("M/new/1000.A.host"), "a");
	spews(at("M/new/1001.B.host"), "b");
	spews(at("M/new/.hidden"), "h");
	spews(at("M/cur/0999.C.host:2,F"), "c");
	spews(at("M/cur/0998.D.host:2,S"), "d");
	spews(at("M/cur/0997.E.host:2,TR"), "e");
	spews(at("M/cur/0996.G.host"), "g");
	spews(at("M/tmp/2000.T.host"), "t");

	ok(source_open(at("M"), lim, &src, err, sizeof(err)) == 0,
	    "maildir: open");
	is_str(source_kind(src), "maildir", "maildir: detected");
	ok(source_estimate(src, &e, err, sizeof(err)) == 0 &&
	    e.messages == 5 && e.bytes == 5 && e.exact,
	    "maildir: estimate new/ and unseen cur/");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "maildir: first");
	is_str(m->origin, at("M/new/1000.A.host"), "maildir: new/ first, "
	    "sorted");
	ok(m->len == 1 && m->data[0] == 'a', "maildir: bytes");
	ok(exists(at("M/new/1000.A.host")), "maildir: still in new/ before "
	    "done");
	is_int(source_done(src, m, err, sizeof(err)), 0,
	    "maildir: done");
	ok(!exists(at("M/new/1000.A.host")) &&
	    exists(at("M/cur/1000.A.host:2,S")),
	    "maildir: done moves new/NAME to cur/NAME:2,S");
	is_int(source_done(src, m, err, sizeof(err)), -1,
	    "maildir: done twice is refused");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "maildir: second");
	is_str(m->origin, at("M/new/1001.B.host"), "maildir: second is B");
	/* The caller dies here: no done. */
	source_free(&src);
	ok(exists(at("M/new/1001.B.host")), "maildir: un-done message stays "
	    "in new/");

	ok(source_open(at("M"), lim, &src, err, sizeof(err)) == 0,
	    "maildir resume: open again");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "maildir resume: "
	    "first");
	is_str(m->origin, at("M/new/1001.B.host"), "maildir resume: the "
	    "un-done message comes back first");
	source_free(&src);

	s = drain_path(at("M"), lim, true);
	is_str(s, "M/new/1001.B.host=b;M/cur/0996.G.host=g;"
	    "M/cur/0997.E.host:2,TR=e;M/cur/0999.C.host:2,F=c;",
	    "maildir: new/ then cur/ without S, sorted; seen, hidden, tmp/ "
	    "skipped");
	free(s);
	ok(exists(at("M/cur/1001.B.host:2,S")), "maildir: B moved");
	ok(exists(at("M/cur/0999.C.host:2,FS")), "maildir: :2,F -> :2,FS");
	ok(exists(at("M/cur/0997.E.host:2,RST")), "maildir: :2,TR -> :2,RST "
	    "(sorted)");
	ok(exists(at("M/cur/0996.G.host:2,S")), "maildir: no info -> :2,S");
	ok(exists(at("M/cur/0998.D.host:2,S")) &&
	    !exists(at("M/cur/0998.D.host:2,S:2,S")), "maildir: seen one "
	    "untouched");
	ok(exists(at("M/tmp/2000.T.host")), "maildir: tmp/ untouched");

	s = drain_path(at("M"), lim, false);
	is_str(s, "", "maildir: nothing left after a full run");
	free(s);

	maildir_make(at("E"));
	ok(source_open(at("E"), lim, &src, err, sizeof(err)) == 0 &&
	    source_estimate(src, &e, err, sizeof(err)) == 0 &&
	    e.messages == 0 && e.bytes == 0, "maildir empty: estimate 0");
	s = drain(src, false);
	is_str(s, "", "maildir empty: no messages");
	free(s);
	source_free(&src);

	/* Another process takes messages between listing and reading, and
	 * between reading and done. */
	maildir_make(at("V"));
	spews(at("V/new/1"), "1");
	spews(at("V/new/2"), "2");
	spews(at("V/new/3"), "3");
	spews(at("V/new/4"), "");
	ok(source_open(at("V"), lim, &src, err, sizeof(err)) == 0,
	    "maildir vanish: open");
	ok(rename(at("V/new/1"), at("V/cur/1:2,S")) == 0, "maildir vanish: "
	    "another process took 1");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "maildir vanish: "
	    "next");
	is_str(m->origin, at("V/new/2"), "maildir vanish: 1 skipped quietly");
	ok(rename(at("V/new/2"), at("V/cur/2:2,S")) == 0, "maildir vanish: "
	    "another process took 2 while we stored it");
	is_int(source_done(src, m, err, sizeof(err)), 0,
	    "maildir vanish: done on a vanished message is fine");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "maildir vanish: 3");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "maildir vanish: 4");
	ok(m->error == NULL && m->len == 0 && m->data != NULL,
	    "maildir: an empty message file is handed out (so it can leave)");
	is_int(source_done(src, m, err, sizeof(err)), 0,
	    "maildir: done on the empty one");
	ok(exists(at("V/cur/4:2,S")), "maildir: empty one moved");
	source_free(&src);
	ok(exists(at("V/new/3")), "maildir vanish: 3 (not done) stays");
}

/* Group commit: several messages outstanding, done after the "commit",
 * also once the directory walk has freed the Maildir they came from. */
static void
test_hold(const struct source_limits *lim)
{
	struct source		*src;
	const struct source_msg	*m;
	struct source_pending	*p[4] = { NULL };
	char			 err[256];
	int			 n = 0;

	mkd(at("H"));
	maildir_make(at("H/md"));
	spews(at("H/md/new/1.a"), "1");
	spews(at("H/md/new/2.b"), "2");
	spews(at("H/md/new/3.c:2,F"), "3");
	spews(at("H/z.xml"), "z");
	ok(source_open(at("H"), lim, &src, err, sizeof(err)) == 0,
	    "hold: open tree");
	while (n < 4 && source_next(src, &m, err, sizeof(err)) == 1) {
		if (source_hold(src, m, &p[n], err, sizeof(err)) == -1)
			diag("hold: %s", err);
		n++;
	}
	is_int(n, 4, "hold: four messages handed out, none done");
	ok(p[0] != NULL && p[1] != NULL && p[2] != NULL && p[3] != NULL,
	    "hold: a handle for each (the file's too)");
	ok(exists(at("H/md/new/1.a")) && exists(at("H/md/new/2.b")) &&
	    exists(at("H/md/new/3.c:2,F")), "hold: all still in new/ "
	    "before the commit");
	is_int(source_next(src, &m, err, sizeof(err)), 0, "hold: end");
	source_free(&src);
	/* the batch is dropped for message 2: it stays */
	source_pending_free(&p[1]);
	ok(p[1] == NULL, "hold: free NULLs the handle");
	is_int(source_pending_done(&p[0], err, sizeof(err)), 0,
	    "hold: done after the source is freed");
	is_int(source_pending_done(&p[2], err, sizeof(err)), 0,
	    "hold: done, flags kept");
	is_int(source_pending_done(&p[3], err, sizeof(err)), 0,
	    "hold: done on a plain file is a no-op");
	ok(p[0] == NULL && p[2] == NULL && p[3] == NULL,
	    "hold: done frees the handles");
	ok(!exists(at("H/md/new/1.a")) && exists(at("H/md/cur/1.a:2,S")),
	    "hold: 1 moved to cur/ with S");
	ok(exists(at("H/md/new/2.b")), "hold: 2 (dropped) stays in new/");
	ok(exists(at("H/md/cur/3.c:2,FS")), "hold: 3 moved, F kept");
	ok(exists(at("H/z.xml")), "hold: the plain file is untouched");

	/* a handle whose message is gone (another dmarcd took it) */
	ok(source_open(at("H/md"), lim, &src, err, sizeof(err)) == 0 &&
	    source_next(src, &m, err, sizeof(err)) == 1 &&
	    source_hold(src, m, &p[0], err, sizeof(err)) == 0,
	    "hold: take 2 again");
	is_int(source_done(src, m, err, sizeof(err)), -1,
	    "hold: source_done after hold is refused (the handle has it)");
	unlink(at("H/md/new/2.b"));
	is_int(source_pending_done(&p[0], err, sizeof(err)), 0,
	    "hold: done on a vanished message is fine");
	source_free(&src);
}

static void
test_oversize(void)
{
	struct source_limits	 lim = { 10 };
	struct source		*src;
	const struct source_msg	*m;
	char			 err[256], *s;

	spews(at("big.xml"), "0123456789ABCDEFGHIJ");
	ok(source_open(at("big.xml"), &lim, &src, err, sizeof(err)) == 0,
	    "oversize: open");
	is_int(source_next(src, &m, err, sizeof(err)), 1, "oversize: handed "
	    "out, not skipped");
	ok(m->error != NULL && m->data == NULL && !m->temporary,
	    "oversize: an error item, permanent");
	is_str(m->error, "message of 20 bytes is larger than "
	    "max_message_size (10)", "oversize: the reason says why");
	is_int(m->len, 20, "oversize: the size seen");
	source_free(&src);

	spews(at("exact.xml"), "0123456789");
	s = drain_path(at("exact.xml"), &lim, false);
	is_str(s, "exact.xml=0123456789;", "oversize: exactly the cap is fine");
	free(s);

	spews(at("big.mbox"), "From a\nsmall\n\nFrom b\n0123456789ABCDEF\n\n"
	    "From c\nsmall too\n");
	s = drain_path(at("big.mbox"), &lim, false);
	is_str(s, "big.mbox:#1=small\n;big.mbox:#2=!message of 18 bytes is "
	    "larger than max_message_size (10);big.mbox:#3=small too\n;",
	    "oversize: in an mbox, only that message, the rest go on");
	free(s);

	maildir_make(at("B"));
	spews(at("B/new/1"), "0123456789ABCDEF");
	s = drain_path(at("B"), &lim, true);
	is_str(s, "B/new/1=!message of 16 bytes is larger than "
	    "max_message_size (10);", "oversize: Maildir error item");
	free(s);
	ok(exists(at("B/cur/1:2,S")), "oversize: done after recording it "
	    "moves it");
}

/* Runs source "-" on what a child process writes into a pipe. */
static char *
drain_stdin(const char *data, size_t len, unsigned repeat,
    const struct source_limits *lim, const char **kind_r)
{
	struct source_estimate e;
	struct source	*src;
	char		 err[256], *s = NULL;
	int		 p[2], saved;
	unsigned	 i;
	pid_t		 pid;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		return strdup("fork failed");
	if (pid == 0) {
		close(p[0]);
		for (i = 0; i < repeat; i++)
			if (write(p[1], data, len) != (ssize_t)len)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	saved = dup(STDIN_FILENO);
	dup2(p[0], STDIN_FILENO);
	close(p[0]);
	/* As `dmarcd ingest` does: open once for the estimate, free. */
	if (source_open("-", lim, &src, err, sizeof(err)) == 0) {
		source_estimate(src, &e, err, sizeof(err));
		source_free(&src);
	}
	if (source_open("-", lim, &src, err, sizeof(err)) == 0) {
		s = drain(src, false);
		*kind_r = source_kind(src);
		source_free(&src);
	}
	dup2(saved, STDIN_FILENO);
	close(saved);
	waitpid(pid, NULL, 0);
	return s != NULL ? s : strdup("open failed");
}

static void
test_stdin(const struct source_limits *lim)
{
	static const char one[] = "From x\nmsg\n\n";
	struct source_limits	 small = { 100 };
	const char		*kind = NULL;
	char			*s, *last;

	s = drain_stdin("<feedback/>", 11, 1, lim, &kind);
	is_str(s, "<stdin>=<feedback/>;", "stdin: one message from a pipe, "
	    "none of it eaten by an open for the estimate");
	is_str(kind, "stdin", "stdin: kind");
	free(s);

	s = drain_stdin(one, sizeof(one) - 1, 20000, lim, &kind);
	is_str(kind, "mbox", "stdin: an mbox when it starts with From");
	last = strrchr(s, '<');
	is_str(last, "<stdin>:#20000=msg\n;", "stdin: 20000 messages through "
	    "a pipe");
	is_int(strlen(s), 20000 * strlen("<stdin>:#=msg\n;") + 9 * 1 +
	    90 * 2 + 900 * 3 + 9000 * 4 + 10001 * 5,
	    "stdin: all of them, in order");
	free(s);

	s = drain_stdin("x", 1, 300, &small, &kind);
	is_str(s, "<stdin>=!message of 300 bytes is larger than "
	    "max_message_size (100);", "stdin: oversize pipe drained and "
	    "measured");
	free(s);

	s = drain_stdin("", 0, 1, lim, &kind);
	is_str(s, "<stdin>=;", "stdin: empty, one empty message (kept, not "
	    "dropped)");
	free(s);
}

static long
maxrss_kb(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* A 48 MiB mbox streams with flat memory. */
static void
test_mbox_large(const struct source_limits *lim)
{
	struct source		*src;
	const struct source_msg	*m;
	char			 err[256], chunk[4096];
	long			 before;
	unsigned		 i, n = 0;
	int			 fd, r;

	memset(chunk, 'x', sizeof(chunk));
	memcpy(chunk, "From big\nSubject: x\n\n", 21);
	chunk[sizeof(chunk) - 1] = '\n';
	if ((fd = open(at("large.mbox"), O_WRONLY | O_CREAT | O_TRUNC,
	    0644)) == -1)
		return;
	for (i = 0; i < 12288; i++)
		if (write(fd, chunk, sizeof(chunk)) != sizeof(chunk))
			break;
	close(fd);
	before = maxrss_kb();
	ok(source_open(at("large.mbox"), lim, &src, err, sizeof(err)) == 0,
	    "large mbox: open");
	while ((r = source_next(src, &m, err, sizeof(err))) == 1)
		n++;
	source_free(&src);
	is_int(n, 12288, "large mbox: 12288 messages");
	ok(maxrss_kb() - before < 8 * 1024, "large mbox: 48 MiB read, peak "
	    "memory grew %ld KiB (< 8 MiB)", maxrss_kb() - before);
	unlink(at("large.mbox"));
}

static void
test_progress(void)
{
	struct source_estimate	 e = { 10, 1000, true };
	struct progress		 p;
	FILE			*fp;
	char			 line[256];
	size_t			 n;

	if ((fp = tmpfile()) == NULL)
		return;
	progress_init(&p, fp, &e);
	ok(!p.enabled, "progress: off when not a terminal");
	progress_update(&p, 1, 1, 100);
	progress_end(&p);
	is_int(ftell(fp), 0, "progress: prints nothing when off");

	p.enabled = true;	/* as if fp were a tty */
	progress_update(&p, 3, 2, 300);
	progress_update(&p, 4, 3, 400);	/* too soon: not drawn */
	progress_end(&p);
	rewind(fp);
	n = fread(line, 1, sizeof(line) - 1, fp);
	line[n] = '\0';
	ok(strncmp(line, "\r3/10 msgs, 2 reports, ", 23) == 0,
	    "progress: counts and total");
	ok(strstr(line, "msg/s, ETA ") != NULL, "progress: rate and ETA");
	ok(strstr(line, "\r4/") == NULL, "progress: at most every %d ms",
	    PROGRESS_INTERVAL_MS);
	ok(n >= 4 && strcmp(line + n - 4, "\r\033[K") == 0,
	    "progress: end clears the line");
	fclose(fp);
}

static void
cleanup(const char *dir)
{
	pid_t	pid;

	/* rm -r of our own mkdtemp directory. */
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(1);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int
main(void)
{
	struct source_limits	lim;
	const char		*t = getenv("TMPDIR");

	snprintf(tmp, sizeof(tmp), "%s/test_source.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmp) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	source_limits_default(&lim);
	test_file(&lim);
	test_dir(&lim);
	test_mbox(&lim);
	test_mbox_random(&lim);
	test_maildir(&lim);
	test_hold(&lim);
	test_oversize();
	test_stdin(&lim);
	test_mbox_large(&lim);
	test_progress();
	cleanup(tmp);
	return done_testing();
}

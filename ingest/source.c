/*
 * source.c - input sources for `dmarcd ingest` and lmtp's Maildir watcher
 * (see source.h): files, stdin, mbox, Maildir and directory trees behind one
 * struct of function pointers, and the progress line.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"
#include "source.h"

#define SOURCE_READ_SIZE	(64 * 1024)	/* read buffer of a source */
#define SOURCE_KEEP_BUF		(1024 * 1024)	/* larger message buffers are
						 * freed, not kept for the next */
#define MBOX_LOOKAHEAD		256	/* bytes seen at a line start, enough
					 * for ">>>>From " escapes */
#define SOURCE_MAX_MESSAGE	(50 << 20)

/* A buffered reader that knows the input offset, for mbox identities. */
struct reader {
	int		 fd;
	char		*buf;	/* SOURCE_READ_SIZE bytes */
	size_t		 pos;
	size_t		 len;
	bool		 eof;
	uint64_t	 off;	/* input offset of buf[pos] */
};

/* One directory of a tree walk: its sorted names and where we are. */
struct dir_level {
	char		 *path;
	char		**names;
	size_t		  n;
	size_t		  i;
};

struct source_ops {
	const char	*name;
	int		(*next)(struct source *, const struct source_msg **,
			    char *, size_t);
	int		(*done)(struct source *, const struct source_msg *,
			    char *, size_t);
	int		(*estimate)(struct source *, struct source_estimate *,
			    char *, size_t);
	void		(*free)(struct source *);
	/* NULL: done does nothing, so a pending message needs nothing */
	int		(*hold)(struct source *, const struct source_msg *,
			    struct source_pending **, char *, size_t);
};

/* What done will do for a message handed out earlier: a Maildir rename
 * (from, to; to_rel for messages), or nothing (from NULL). */
struct source_pending {
	char	*from;
	char	*to;
	char	*to_rel;
};

struct source {
	const struct source_ops	*ops;
	char			*path;		/* as given; "<stdin>" */
	struct source_limits	 lim;
	struct source_msg	 msg;		/* the one handed out */
	struct buf		 data;		/* its bytes */
	char			*origin;	/* its origin, when built */
	char			 error[256];	/* its error, for error items */

	/* file, stdin, mbox */
	struct reader		 rd;
	bool			 own_fd;
	bool			 regular;	/* size is known */
	uint64_t		 size;
	bool			 finished;
	uint64_t		 mbox_n;

	/* maildir: "new/NAME" then "cur/NAME" */
	char			**names;
	size_t			  n_names;
	size_t			  i_names;
	const char		 *cur_name;	/* handed out, not yet done */

	/* directory */
	struct dir_level	*levels;
	size_t			 depth;
	size_t			 levels_size;
	struct source		*child;		/* file, mbox or Maildir */
};

static int	stream_open(const char *, int, bool,
		    const struct source_limits *, struct source **, char *,
		    size_t);
static int	maildir_open(const char *, const struct source_limits *,
		    struct source **, char *, size_t);

void
source_limits_default(struct source_limits *l)
{
	l->max_message_size = SOURCE_MAX_MESSAGE;
}

/* "a" + "/" + "b", or NULL when out of memory. */
static char *
path_join(const char *a, const char *b)
{
	char	*p;

	if (asprintf(&p, "%s/%s", a, b) == -1)
		return NULL;
	return p;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
names_free(char **names, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The flags of a Maildir name ("X:2,FS" -> "FS"), NULL without ":2,". */
static const char *
maildir_flags(const char *name)
{
	const char	*c = strrchr(name, ':');

	if (c != NULL && c[1] == '2' && c[2] == ',')
		return c + 3;
	return NULL;
}

static bool
maildir_seen(const char *name)
{
	const char	*f = maildir_flags(name);

	return f != NULL && strchr(f, 'S') != NULL;
}

/*
 * The names in directory path, sorted bytewise so every run walks the same
 * order; names starting with '.' are skipped (".", "..", hidden files,
 * Maildir++ folders), and with skip_seen so are Maildir names flagged S.
 * Returns 0, or -1 with errno set.
 */
static int
list_dir(const char *path, bool skip_seen, char ***names_r, size_t *n_r)
{
	DIR		 *d;
	struct dirent	 *de;
	char		**names = NULL, **nn;
	size_t		  n = 0, size = 0;
	int		  save;

	if ((d = opendir(path)) == NULL)
		return -1;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				goto fail;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (skip_seen && maildir_seen(de->d_name))
			continue;
		if (n == size) {
			size = size ? size * 2 : 64;
			if ((nn = reallocarray(names, size,
			    sizeof(*names))) == NULL)
				goto fail;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	*names_r = names;
	*n_r = n;
	return 0;
fail:
	save = errno;
	closedir(d);
	names_free(names, n);
	errno = save;
	return -1;
}

/* A directory holding cur/, new/ and tmp/ is a Maildir. */
static bool
is_maildir(const char *path)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	struct stat	 st;
	char		*p;
	size_t		 i;
	int		 r;

	for (i = 0; i < nitems(subs); i++) {
		if ((p = path_join(path, subs[i])) == NULL)
			return false;
		r = stat(p, &st);
		free(p);
		if (r == -1 || !S_ISDIR(st.st_mode))
			return false;
	}
	return true;
}

static void
reader_init(struct reader *r, int fd)
{
	r->fd = fd;
	r->pos = r->len = 0;
	r->eof = false;
	r->off = 0;
}

/*
 * Makes want (<= SOURCE_READ_SIZE) bytes available at buf[pos] unless the
 * input ends first.  Returns 0, or -1 with errno set.
 */
static int
reader_fill(struct reader *r, size_t want)
{
	ssize_t	n;

	while (r->len - r->pos < want && !r->eof) {
		/* Only the short tail moves: we fill when it is < want. */
		if (r->pos > 0) {
			memmove(r->buf, r->buf + r->pos, r->len - r->pos);
			r->len -= r->pos;
			r->pos = 0;
		}
		n = read(r->fd, r->buf + r->len, SOURCE_READ_SIZE - r->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			r->eof = true;
		r->len += n;
	}
	return 0;
}

static void
reader_skip(struct reader *r, size_t n)
{
	r->pos += n;
	r->off += n;
}

static struct source *
source_new(const struct source_ops *ops, const char *path,
    const struct source_limits *lim)
{
	struct source	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->ops = ops;
	s->lim = *lim;
	s->rd.fd = -1;
	buf_init(&s->data, lim->max_message_size);
	if ((s->path = strdup(path)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

/* Starts a new current message. */
static void
msg_begin(struct source *s)
{
	memset(&s->msg, 0, sizeof(s->msg));
	s->msg.path = s->msg.origin = s->path;
	/* One big message must not pin its memory for the rest of the run. */
	if (s->data.size > SOURCE_KEEP_BUF)
		buf_free(&s->data);
	buf_reset(&s->data);
}

/* Makes the current message an error item. */
static void __attribute__((format(printf, 3, 4)))
msg_error(struct source *s, bool temporary, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
	s->msg.error = s->error;
	s->msg.temporary = temporary;
	s->msg.data = NULL;
}

static void
msg_too_large(struct source *s, uint64_t size)
{
	msg_error(s, false, "message of %" PRIu64 " bytes is larger than "
	    "max_message_size (%zu)", size, s->lim.max_message_size);
	s->msg.len = size > SIZE_MAX ? SIZE_MAX : (size_t)size;
	buf_free(&s->data);
}

static void
msg_set_data(struct source *s)
{
	s->msg.data = s->data.data != NULL ? s->data.data : "";
	s->msg.len = s->data.len;
}

/* Reads the rest of s->rd as the current message, or an error item. */
static void
msg_load(struct source *s)
{
	struct reader	*r = &s->rd;
	uint64_t	 total = 0;
	size_t		 n;
	bool		 over = false;

	/* Say so before reading what we would throw away. */
	if (s->regular && s->size > s->lim.max_message_size) {
		msg_too_large(s, s->size);
		return;
	}
	for (;;) {
		if ((n = r->len - r->pos) > 0) {
			total += n;
			if (!over && buf_add(&s->data, r->buf + r->pos, n) == -1) {
				if (errno != EFBIG) {
					msg_error(s, true, "out of memory");
					return;
				}
				/* A pipe or a growing file: drain it, so the
				 * writer sees no EPIPE and we can say how big. */
				over = true;
				buf_free(&s->data);
			}
			reader_skip(r, n);
		}
		if (r->eof)
			break;
		if (reader_fill(r, 1) == -1) {
			msg_error(s, true, "read error: %s", strerror(errno));
			return;
		}
	}
	if (over)
		msg_too_large(s, total);
	else
		msg_set_data(s);
}

/* --- file and stdin: one message ---------------------------------------- */

static int
file_next(struct source *s, const struct source_msg **msg_r, char *err,
    size_t errlen)
{
	if (s->finished)
		return 0;
	s->finished = true;
	msg_begin(s);
	msg_load(s);
	/* An empty file is handed out too (0 bytes), so the caller keeps it
	 * in quarantine ("input is empty") like any other non-report: what
	 * the user gave us is never dropped silently. */
	*msg_r = &s->msg;
	return 1;
}

static int
file_done(struct source *s, const struct source_msg *msg, char *err,
    size_t errlen)
{
	return 0;
}

static int
file_estimate(struct source *s, struct source_estimate *e, char *err,
    size_t errlen)
{
	e->messages = 1;	/* an empty file too: it is handed out */
	e->bytes = s->regular ? s->size : 0;
	e->exact = s->regular && s->ops->next == file_next;
	return 0;
}

static void
file_free(struct source *s)
{
	if (s->own_fd && s->rd.fd != -1)
		close(s->rd.fd);
}

static const struct source_ops file_ops = {
	"file", file_next, file_done, file_estimate, file_free, NULL
};

static const struct source_ops stdin_blob_ops = {
	"stdin", file_next, file_done, file_estimate, file_free, NULL
};

/* --- mbox: mboxrd and mboxo, streamed ------------------------------------ */

/* Skips the rest of the current line, however long. */
static int
mbox_skip_line(struct reader *r)
{
	char	*nl;

	for (;;) {
		if (reader_fill(r, 1) == -1)
			return -1;
		if (r->pos == r->len)
			return 0;
		nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		if (nl != NULL) {
			reader_skip(r, nl - (r->buf + r->pos) + 1);
			return 0;
		}
		reader_skip(r, r->len - r->pos);
	}
}

/*
 * Hands out the message after the "From " line we are at.  It ends at the
 * next line starting "From " (mboxo writers escape such body lines as
 * mboxrd ones do, so the split is the same); one '>' comes off lines
 * matching ^>+From (mboxrd), which also turns mboxo's ">From " back.
 */
static int
mbox_next(struct source *s, const struct source_msg **msg_r, char *err,
    size_t errlen)
{
	struct reader	*r = &s->rd;
	const char	*p, *q, *nl, *d;
	uint64_t	 total = 0;
	size_t		 avail, n;
	bool		 bol = true, over = false;

	if (s->finished)
		return 0;
	msg_begin(s);
	s->msg.mbox_offset = r->off;
	s->msg.mbox_index = ++s->mbox_n;
	if (mbox_skip_line(r) == -1)
		goto readerr;
	for (;;) {
		if (reader_fill(r, bol ? MBOX_LOOKAHEAD : 1) == -1)
			goto readerr;
		p = r->buf + r->pos;
		if ((avail = r->len - r->pos) == 0) {
			s->finished = true;
			break;
		}
		if (bol && avail >= 5 && memcmp(p, "From ", 5) == 0)
			break;
		if (bol && *p == '>') {
			for (q = p; q < p + avail && *q == '>'; q++)
				;
			if ((size_t)(p + avail - q) >= 5 &&
			    memcmp(q, "From ", 5) == 0) {
				reader_skip(r, 1);
				p++;
				avail--;
			}
		}
		nl = memchr(p, '\n', avail);
		n = nl != NULL ? (size_t)(nl - p) + 1 : avail;
		total += n;
		if (!over && buf_add(&s->data, p, n) == -1) {
			if (errno != EFBIG) {
				snprintf(err, errlen, "%s: out of memory",
				    s->path);
				return -1;
			}
			over = true;
			buf_free(&s->data);
		}
		reader_skip(r, n);
		bol = nl != NULL;
	}

	free(s->origin);
	if (asprintf(&s->origin, "%s:#%" PRIu64, s->path, s->mbox_n) == -1) {
		s->origin = NULL;
		snprintf(err, errlen, "%s: out of memory", s->path);
		return -1;
	}
	s->msg.origin = s->origin;
	if (over) {
		msg_too_large(s, total);
	} else {
		/* The blank line before the next "From " is the separator. */
		d = s->data.data;
		n = s->data.len;
		if (n >= 4 && memcmp(d + n - 4, "\r\n\r\n", 4) == 0)
			n -= 2;
		else if (n >= 2 && memcmp(d + n - 2, "\n\n", 2) == 0)
			n -= 1;
		else if ((n == 1 && d[0] == '\n') ||
		    (n == 2 && memcmp(d, "\r\n", 2) == 0))
			n = 0;
		if (n < s->data.len) {
			s->data.len = n;
			s->data.data[n] = '\0';	/* as buf keeps it */
		}
		msg_set_data(s);
	}
	*msg_r = &s->msg;
	return 1;
readerr:
	snprintf(err, errlen, "%s: read error at byte %" PRIu64 ": %s",
	    s->path, r->off, strerror(errno));
	return -1;
}

static const struct source_ops mbox_ops = {
	"mbox", mbox_next, file_done, file_estimate, file_free, NULL
};

/* An mbox or a single message, by the first bytes.  0, or -1 with errno. */
static int
stream_sniff(struct source *s)
{
	if (reader_fill(&s->rd, 5) == -1)
		return -1;
	if (s->rd.len - s->rd.pos >= 5 &&
	    memcmp(s->rd.buf + s->rd.pos, "From ", 5) == 0)
		s->ops = &mbox_ops;
	else if (!s->own_fd)
		s->ops = &stdin_blob_ops;
	return 0;
}

/*
 * stdin is first read here, not in source_open(): a source opened only for
 * source_estimate() and freed must not eat bytes the real run needs.
 */
static int
stdin_next(struct source *s, const struct source_msg **msg_r, char *err,
    size_t errlen)
{
	if (stream_sniff(s) == -1) {
		snprintf(err, errlen, "%s: read error: %s", s->path,
		    strerror(errno));
		return -1;
	}
	return s->ops->next(s, msg_r, err, errlen);
}

static const struct source_ops stdin_ops = {
	"stdin", stdin_next, file_done, file_estimate, file_free, NULL
};

/*
 * Wraps fd (closed by the source when own_fd) and tells an mbox from a
 * single message by its first bytes.  Returns 0 or -1 with a reason.
 */
static int
stream_open(const char *path, int fd, bool own_fd,
    const struct source_limits *lim, struct source **src_r, char *err,
    size_t errlen)
{
	struct source	*s;
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	s = source_new(own_fd ? &file_ops : &stdin_ops,
	    own_fd ? path : "<stdin>", lim);
	if (s == NULL || (s->rd.buf = malloc(SOURCE_READ_SIZE)) == NULL) {
		source_free(&s);
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	s->own_fd = own_fd;
	s->regular = S_ISREG(st.st_mode);
	s->size = s->regular ? (uint64_t)st.st_size : 0;
	reader_init(&s->rd, fd);
	if (own_fd && stream_sniff(s) == -1) {
		snprintf(err, errlen, "%s: read error: %s", path,
		    strerror(errno));
		s->own_fd = false;
		source_free(&s);
		goto fail;
	}
	*src_r = s;
	return 0;
fail:
	if (own_fd)
		close(fd);
	return -1;
}

/* --- Maildir -------------------------------------------------------------- */

/*
 * Lists sub ("new" or "cur") of the Maildir into s->names as "sub/NAME";
 * from cur/ only what lacks the S flag: those an MUA moved there unread.
 */
static int
maildir_list(struct source *s, const char *sub, char *err, size_t errlen)
{
	char	**names, **nn, *dir;
	size_t	  n, i;
	int	  r;

	if ((dir = path_join(s->path, sub)) == NULL)
		goto nomem;
	r = list_dir(dir, strcmp(sub, "cur") == 0, &names, &n);
	free(dir);
	if (r == -1) {
		snprintf(err, errlen, "%s/%s: %s", s->path, sub,
		    strerror(errno));
		return -1;
	}
	if (n == 0)
		return 0;
	if ((nn = reallocarray(s->names, s->n_names + n,
	    sizeof(*nn))) == NULL) {
		names_free(names, n);
		goto nomem;
	}
	s->names = nn;
	for (i = 0; i < n; i++) {
		if ((s->names[s->n_names] = path_join(sub, names[i])) == NULL) {
			names_free(names, n);
			goto nomem;
		}
		s->n_names++;
	}
	names_free(names, n);
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", s->path);
	return -1;
}

static int
maildir_next(struct source *s, const struct source_msg **msg_r, char *err,
    size_t errlen)
{
	struct stat	 st;
	const char	*rel;
	int		 fd;

	s->cur_name = NULL;
	while (s->i_names < s->n_names) {
		rel = s->names[s->i_names++];
		msg_begin(s);
		free(s->origin);
		if ((s->origin = path_join(s->path, rel)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", s->path);
			return -1;
		}
		s->msg.path = s->msg.origin = s->origin;
		fd = open(s->origin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
		    O_NONBLOCK);
		if (fd == -1) {
			/* Gone: another dmarcd (or an MUA) took it. */
			if (errno == ENOENT || errno == ELOOP)
				continue;
			msg_error(s, true, "cannot open: %s", strerror(errno));
		} else if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		} else {
			reader_init(&s->rd, fd);
			s->regular = true;
			s->size = st.st_size;
			msg_load(s);
			close(fd);
			s->rd.fd = -1;
		}
		s->cur_name = rel;
		*msg_r = &s->msg;
		return 1;
	}
	return 0;
}

/*
 * new/NAME or cur/NAME -> cur/NAME:2,<flags>S, flags kept and in ASCII
 * order as the Maildir spec asks.  A name whose info is not ":2," is kept
 * whole, so nothing is lost.
 */
static char *
maildir_seen_name(const char *rel)
{
	const char	*name, *flags, *f;
	char		 set[128] = { 0 }, out[129], *p;
	size_t		 baselen, i, k = 0;

	name = strchr(rel, '/') + 1;
	flags = maildir_flags(name);
	baselen = flags != NULL ? (size_t)(flags - 3 - name) : strlen(name);
	for (f = flags; f != NULL && *f != '\0'; f++)
		if (*f > ' ' && *f < 127 && *f != '/')
			set[(unsigned char)*f] = 1;
	set['S'] = 1;
	for (i = 0; i < sizeof(set); i++)
		if (set[i])
			out[k++] = (char)i;
	out[k] = '\0';
	if (asprintf(&p, "cur/%.*s:2,%s", (int)baselen, name, out) == -1)
		return NULL;
	return p;
}

/*
 * The caller committed the message: only now may it leave new/ (the
 * rename itself is source_pending_done's).
 */
static int
maildir_done(struct source *s, const struct source_msg *msg, char *err,
    size_t errlen)
{
	struct source_pending	*p;

	if (s->ops->hold(s, msg, &p, err, errlen) == -1)
		return -1;
	return source_pending_done(&p, err, errlen);
}

/* The rename maildir_done would do, copied out of the current message. */
static int
maildir_hold(struct source *s, const struct source_msg *msg,
    struct source_pending **p_r, char *err, size_t errlen)
{
	struct source_pending	*p;

	if (msg != &s->msg || s->cur_name == NULL) {
		snprintf(err, errlen, "%s: source_done on a message that is "
		    "not the current one", s->path);
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->to_rel = maildir_seen_name(s->cur_name)) == NULL ||
	    (p->from = path_join(s->path, s->cur_name)) == NULL ||
	    (p->to = path_join(s->path, p->to_rel)) == NULL) {
		source_pending_free(&p);
		snprintf(err, errlen, "%s: out of memory", s->path);
		return -1;
	}
	s->cur_name = NULL;
	*p_r = p;
	return 0;
}

/* Counts and sizes the messages source_open would list in a Maildir. */
static int
maildir_count(const char *path, struct source_estimate *e)
{
	static const char *const subs[] = { "new", "cur" };
	struct stat	  st;
	char		**names, *dir, *p;
	size_t		  n, i, k;

	for (k = 0; k < nitems(subs); k++) {
		if ((dir = path_join(path, subs[k])) == NULL)
			return -1;
		if (list_dir(dir, k == 1, &names, &n) == -1) {
			free(dir);
			return -1;
		}
		for (i = 0; i < n; i++) {
			if ((p = path_join(dir, names[i])) == NULL)
				continue;
			if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
				e->messages++;
				e->bytes += st.st_size;
			}
			free(p);
		}
		names_free(names, n);
		free(dir);
	}
	return 0;
}

static int
maildir_estimate(struct source *s, struct source_estimate *e, char *err,
    size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->exact = true;
	if (maildir_count(s->path, e) == -1) {
		snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
maildir_free(struct source *s)
{
	names_free(s->names, s->n_names);
}

static const struct source_ops maildir_ops = {
	"maildir", maildir_next, maildir_done, maildir_estimate, maildir_free,
	maildir_hold
};

static int
maildir_open(const char *path, const struct source_limits *lim,
    struct source **src_r, char *err, size_t errlen)
{
	struct source	*s;

	if ((s = source_new(&maildir_ops, path, lim)) == NULL ||
	    (s->rd.buf = malloc(SOURCE_READ_SIZE)) == NULL) {
		source_free(&s);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	/* new/ first: that is where deliveries wait; then cur/ unseen. */
	if (maildir_list(s, "new", err, errlen) == -1 ||
	    maildir_list(s, "cur", err, errlen) == -1) {
		source_free(&s);
		return -1;
	}
	*src_r = s;
	return 0;
}

/* --- directory trees ------------------------------------------------------ */

static int
dir_push(struct source *s, const char *path)
{
	struct dir_level	*lv;
	char			**names;
	size_t			  n;

	if (s->depth == s->levels_size) {
		lv = reallocarray(s->levels, s->levels_size + 8, sizeof(*lv));
		if (lv == NULL)
			return -1;
		s->levels = lv;
		s->levels_size += 8;
	}
	if (list_dir(path, false, &names, &n) == -1)
		return -1;
	lv = &s->levels[s->depth];
	if ((lv->path = strdup(path)) == NULL) {
		names_free(names, n);
		return -1;
	}
	lv->names = names;
	lv->n = n;
	lv->i = 0;
	s->depth++;
	return 0;
}

static void
dir_pop(struct source *s)
{
	struct dir_level	*lv = &s->levels[--s->depth];

	free(lv->path);
	names_free(lv->names, lv->n);
}

/* Hands out the error item for path (taken), in place of a message. */
static int
dir_error(struct source *s, char *path, const struct source_msg **msg_r,
    const char *what, const char *why)
{
	msg_begin(s);
	free(s->origin);
	s->origin = path;
	s->msg.path = s->msg.origin = path;
	msg_error(s, true, "%s: %s", what, why);
	*msg_r = &s->msg;
	return 1;
}

/*
 * Depth first, each directory's names sorted; every regular file becomes a
 * file or mbox source of its own, every Maildir a Maildir source.  What
 * cannot be read becomes an error item and the walk goes on.
 */
static int
dir_next(struct source *s, const struct source_msg **msg_r, char *err,
    size_t errlen)
{
	struct dir_level	*lv;
	struct stat		 st;
	char			 cerr[256], *p;
	int			 r, fd;

	for (;;) {
		if (s->child != NULL) {
			r = s->child->ops->next(s->child, msg_r, cerr,
			    sizeof(cerr));
			if (r == 1)
				return 1;
			if (r == -1) {
				/* That file, not the walk, is broken. */
				p = strdup(s->child->path);
				source_free(&s->child);
				if (p == NULL)
					goto nomem;
				return dir_error(s, p, msg_r, "cannot read",
				    cerr);
			}
			source_free(&s->child);
		}
		if (s->depth == 0)
			return 0;
		lv = &s->levels[s->depth - 1];
		if (lv->i == lv->n) {
			dir_pop(s);
			continue;
		}
		if ((p = path_join(lv->path, lv->names[lv->i++])) == NULL)
			goto nomem;
		if (lstat(p, &st) == -1) {
			if (errno == ENOENT) {
				free(p);
				continue;
			}
			return dir_error(s, p, msg_r, "cannot stat",
			    strerror(errno));
		}
		if (S_ISDIR(st.st_mode) && is_maildir(p)) {
			if (maildir_open(p, &s->lim, &s->child, cerr,
			    sizeof(cerr)) == -1)
				return dir_error(s, p, msg_r, "cannot read "
				    "Maildir", cerr);
		} else if (S_ISDIR(st.st_mode)) {
			if (dir_push(s, p) == -1 && errno != ENOENT)
				return dir_error(s, p, msg_r, "cannot read "
				    "directory", strerror(errno));
		} else if (S_ISREG(st.st_mode)) {
			/* O_NOFOLLOW, O_NONBLOCK: it may have been swapped
			 * for a link or a FIFO since the lstat. */
			fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
			    O_NONBLOCK);
			if (fd == -1 && errno != ENOENT && errno != ELOOP)
				return dir_error(s, p, msg_r, "cannot open",
				    strerror(errno));
			if (fd != -1 && (fstat(fd, &st) == -1 ||
			    !S_ISREG(st.st_mode))) {
				close(fd);
				fd = -1;
			}
			if (fd != -1 && stream_open(p, fd, true, &s->lim,
			    &s->child, cerr, sizeof(cerr)) == -1)
				return dir_error(s, p, msg_r, "cannot read",
				    cerr);
		}
		/* Symbolic links and special files: never followed. */
		free(p);
	}
nomem:
	snprintf(err, errlen, "%s: out of memory", s->path);
	return -1;
}

static int
dir_done(struct source *s, const struct source_msg *msg, char *err,
    size_t errlen)
{
	if (s->child != NULL && msg == &s->child->msg)
		return s->child->ops->done(s->child, msg, err, errlen);
	return 0;
}

static int
dir_hold(struct source *s, const struct source_msg *msg,
    struct source_pending **p_r, char *err, size_t errlen)
{
	return source_hold(s->child != NULL && msg == &s->child->msg ?
	    s->child : NULL, msg, p_r, err, errlen);
}

/* Counts the tree below path as dir_next would walk it; best effort. */
static void
dir_count(const char *path, struct source_estimate *e)
{
	struct stat	  st;
	char		**names, *p;
	size_t		  n, i;

	if (list_dir(path, false, &names, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if ((p = path_join(path, names[i])) == NULL)
			continue;
		if (lstat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode) && is_maildir(p))
				(void)maildir_count(p, e);
			else if (S_ISDIR(st.st_mode))
				dir_count(p, e);
			else if (S_ISREG(st.st_mode)) {
				e->messages++;
				e->bytes += st.st_size;
			}
		}
		free(p);
	}
	names_free(names, n);
}

static int
dir_estimate(struct source *s, struct source_estimate *e, char *err,
    size_t errlen)
{
	memset(e, 0, sizeof(*e));
	/* An mbox in the tree counts as one: we do not open files here. */
	e->exact = true;
	dir_count(s->path, e);
	return 0;
}

static void
dir_free(struct source *s)
{
	source_free(&s->child);
	while (s->depth > 0)
		dir_pop(s);
	free(s->levels);
}

static const struct source_ops dir_ops = {
	"directory", dir_next, dir_done, dir_estimate, dir_free, dir_hold
};

static int
dir_open(const char *path, const struct source_limits *lim,
    struct source **src_r, char *err, size_t errlen)
{
	struct source	*s;

	if ((s = source_new(&dir_ops, path, lim)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (dir_push(s, path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		source_free(&s);
		return -1;
	}
	*src_r = s;
	return 0;
}

/* --- the interface ------------------------------------------------------- */

int
source_open(const char *path, const struct source_limits *lim,
    struct source **src_r, char *err, size_t errlen)
{
	struct stat	st;
	int		fd;

	*src_r = NULL;
	if (strcmp(path, "-") == 0)
		return stream_open(path, STDIN_FILENO, false, lim, src_r, err,
		    errlen);
	/* A path given by the user is followed even if it is a link. */
	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return is_maildir(path) ?
		    maildir_open(path, lim, src_r, err, errlen) :
		    dir_open(path, lim, src_r, err, errlen);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return stream_open(path, fd, true, lim, src_r, err, errlen);
}

int
source_next(struct source *src, const struct source_msg **msg_r, char *err,
    size_t errlen)
{
	*msg_r = NULL;
	return src->ops->next(src, msg_r, err, errlen);
}

int
source_done(struct source *src, const struct source_msg *msg, char *err,
    size_t errlen)
{
	return src->ops->done(src, msg, err, errlen);
}

int
source_hold(struct source *src, const struct source_msg *msg,
    struct source_pending **pending_r, char *err, size_t errlen)
{
	struct source_pending	*p;

	*pending_r = NULL;
	if (src != NULL && src->ops->hold != NULL)
		return src->ops->hold(src, msg, pending_r, err, errlen);
	/* nothing to do at done time; still a handle, so callers need not
	 * tell sources apart */
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*pending_r = p;
	return 0;
}

int
source_pending_done(struct source_pending **pp, char *err, size_t errlen)
{
	struct source_pending	*p = *pp;
	int			 r = 0;

	if (p == NULL)
		return 0;
	/* No fsync: a rename lost in a crash only means the message is
	 * ingested again, and dedup makes that harmless. */
	if (p->from != NULL && rename(p->from, p->to) == -1 &&
	    errno != ENOENT) {
		snprintf(err, errlen, "cannot move %s to %s: %s", p->from,
		    p->to_rel, strerror(errno));
		r = -1;
	}
	source_pending_free(pp);
	return r;
}

void
source_pending_free(struct source_pending **pp)
{
	struct source_pending	*p = *pp;

	if (p == NULL)
		return;
	free(p->from);
	free(p->to);
	free(p->to_rel);
	free(p);
	*pp = NULL;
}

int
source_estimate(struct source *src, struct source_estimate *est_r,
    char *err, size_t errlen)
{
	memset(est_r, 0, sizeof(*est_r));
	return src->ops->estimate(src, est_r, err, errlen);
}

const char *
source_kind(const struct source *src)
{
	return src->ops->name;
}

void
source_free(struct source **srcp)
{
	struct source	*s = *srcp;

	if (s == NULL)
		return;
	s->ops->free(s);
	free(s->rd.buf);
	buf_free(&s->data);
	free(s->origin);
	free(s->path);
	free(s);
	*srcp = NULL;
}

/* --- progress line ------------------------------------------------------- */

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
progress_init(struct progress *p, FILE *fp, const struct source_estimate *est)
{
	memset(p, 0, sizeof(*p));
	p->fp = fp;
	p->enabled = fp != NULL && isatty(fileno(fp));
	if (est != NULL) {
		p->total_messages = est->messages;
		p->total_bytes = est->bytes;
		p->exact = est->exact;
	}
	p->start_ms = now_ms();
}

void
progress_update(struct progress *p, uint64_t messages, uint64_t reports,
    uint64_t bytes)
{
	char		 total[32] = "", eta[32] = "";
	uint64_t	 now, elapsed, left = 0;
	bool		 have_eta = false;

	if (!p->enabled)
		return;
	now = now_ms();
	if (p->shown && now - p->last_ms < PROGRESS_INTERVAL_MS)
		return;
	p->last_ms = now;
	if ((elapsed = now - p->start_ms) == 0)
		elapsed = 1;
	/* Bytes predict best when message sizes vary, and they stay right
	 * when an mbox hides how many messages there are. */
	if (p->total_bytes > 0 && bytes > 0 && bytes <= p->total_bytes) {
		left = (uint64_t)((double)elapsed *
		    (p->total_bytes - bytes) / bytes / 1000);
		have_eta = true;
	} else if (p->exact && messages > 0 &&
	    messages <= p->total_messages) {
		left = (uint64_t)((double)elapsed *
		    (p->total_messages - messages) / messages / 1000);
		have_eta = true;
	}
	if (have_eta && left >= 3600)
		snprintf(eta, sizeof(eta), ", ETA %" PRIu64 ":%02u:%02u",
		    left / 3600, (unsigned)(left / 60 % 60),
		    (unsigned)(left % 60));
	else if (have_eta)
		snprintf(eta, sizeof(eta), ", ETA %u:%02u",
		    (unsigned)(left / 60), (unsigned)(left % 60));
	if (p->total_messages > 0)
		snprintf(total, sizeof(total), "/%s%" PRIu64,
		    p->exact ? "" : "~", p->total_messages);
	fprintf(p->fp, "\r%" PRIu64 "%s msgs, %" PRIu64 " reports, "
	    "%.1f msg/s%s\033[K", messages, total, reports,
	    messages * 1000.0 / elapsed, eta);
	fflush(p->fp);
	p->shown = true;
}

void
progress_end(struct progress *p)
{
	if (p->enabled && p->shown) {
		fputs("\r\033[K", p->fp);
		fflush(p->fp);
	}
	p->shown = false;
}

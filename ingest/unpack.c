/*
 * unpack.c - find every report in a blob: sniff the top level (gzip, zip,
 * XML, JSON, or an RFC 5322 message), walk MIME parts with GMime, open
 * archives with libarchive (zip, gzip: nothing else is enabled), and hand
 * each candidate out as a pull stream with caps on size, ratio and depth.
 *
 * Streams nest: an archive reads its compressed bytes from a parent stream
 * (the input, a decoded MIME part, or an entry of an enclosing archive)
 * block by block, so decompressed data is never held whole in memory.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <gmime/gmime.h>

#include "lib.h"
#include "unpack.h"
#include "forensic.h"

#define UNPACK_BLOCK		(16 * 1024)	/* bytes fed to libarchive at once */
#define UNPACK_PEEK		512		/* bytes sniffed from a stream */
#define UNPACK_RATIO_AFTER	(1 << 20)	/* ratio checked past this output */
#define UNPACK_MIME_DEPTH	64		/* multipart nesting walked */
#define UNPACK_SNIFF		4096		/* bytes searched for report marks */
#define UNPACK_NAME		512		/* item name, truncated past this */
#define UNPACK_ERR		256
#define UNPACK_PARTS		200		/* part list in the "why" reason */
#define UNPACK_BOUNDARIES	512		/* multiparts GMime may parse */

struct unpack_arc;

/* A pull stream: bytes in memory, or the current entry of an archive. */
struct unpack_stream {
	const unsigned char		*mem;
	size_t				 mem_len, mem_pos;
	int				 fd;	/* >= 0: a bare document read
						 * from this descriptor */
	struct unpack_arc		*arc;	/* NULL: memory or fd */
	unsigned char			 peek[UNPACK_PEEK];
	size_t				 peek_len, peek_pos;
	uint64_t			 out;	/* bytes served so far */
	bool				 eof, failed;
	char				 error[UNPACK_ERR];
	const struct unpack_limits	*lim;
};

/* One open archive layer, reading compressed bytes from its parent. */
struct unpack_arc {
	struct archive		*a;
	struct unpack_stream	*parent;
	bool			 zip;
	uint64_t		 in, out;	/* compressed in, decompressed out */
	unsigned char		*block;		/* copy of a non-memory parent's bytes */
};

struct unpack_item {
	struct unpack_stream	*s;
	const char		*name;
	enum unpack_kind	 kind;
	GMimeMessage		*message;
};

/* The state of one unpack_bytes call. */
struct unpack_walk {
	const struct unpack_limits	*lim;
	unpack_cb			 cb;
	void				*ctx;
	int				 items;
	bool				 stop;		/* callback said stop */
	const char			*cb_error;
	unsigned			 leaves;	/* MIME leaf parts seen */
	bool				 too_many_parts;
	bool				 too_deep;
	const unsigned char		*top;		/* the input, for ARF */
	size_t				 top_len;
	GMimeMessage			*top_msg;
	char				 parts[UNPACK_PARTS];
};

static void	walk_stream(struct unpack_walk *, struct unpack_stream *,
		    const char *, unsigned);
static void	walk_object(struct unpack_walk *, GMimeObject *,
		    GMimeMessage *, unsigned, unsigned);

void
unpack_limits_default(struct unpack_limits *l)
{
	l->max_message_size = UNPACK_DEFAULT_MESSAGE_SIZE;
	l->max_attachments = UNPACK_DEFAULT_ATTACHMENTS;
	l->max_archive_entries = UNPACK_DEFAULT_ARCHIVE_ENTRIES;
	l->max_report_size = UNPACK_DEFAULT_REPORT_SIZE;
	l->max_ratio = UNPACK_DEFAULT_RATIO;
	l->max_depth = UNPACK_DEFAULT_DEPTH;
}

const char *
unpack_kind_name(enum unpack_kind k)
{
	switch (k) {
	case UNPACK_AGGREGATE:
		return "aggregate";
	case UNPACK_TLSRPT:
		return "tlsrpt";
	case UNPACK_FORENSIC:
		return "forensic";
	default:
		return "unknown";
	}
}

/* Copies a, sep and b into dst, truncating; never overflows. */
static void
name_join(char *dst, size_t dstlen, const char *a, const char *sep,
    const char *b)
{
	size_t	 n = 0;
	const char *parts[3] = { a, sep, b };
	size_t	 i, l;

	for (i = 0; i < 3 && n + 1 < dstlen; i++) {
		l = strlen(parts[i]);
		if (l > dstlen - 1 - n)
			l = dstlen - 1 - n;
		memcpy(dst + n, parts[i], l);
		n += l;
	}
	dst[n] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
stream_fail(struct unpack_stream *s, const char *fmt, ...)
{
	va_list	ap;

	if (s->failed)
		return;
	s->failed = true;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
}

static void
stream_init_mem(struct unpack_stream *s, const void *data, size_t len,
    const struct unpack_limits *lim)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->mem = data;
	s->mem_len = len;
	s->lim = lim;
}

/* A stream that fails on the first read, for a candidate we cannot open. */
static void
stream_init_error(struct unpack_stream *s, const char *reason,
    const struct unpack_limits *lim)
{
	stream_init_mem(s, NULL, 0, lim);
	stream_fail(s, "%s", reason);
}

/* Why libarchive gave up, phrased for an operator. */
static void
arc_fail(struct unpack_arc *arc, struct unpack_stream *s)
{
	const char	*msg = archive_error_string(arc->a);

	if (arc->parent->failed) {
		stream_fail(s, "%s", arc->parent->error);
		return;
	}
	if (msg == NULL)
		msg = "unknown error";
	if (arc->zip)
		stream_fail(s, "corrupt zip: %s", msg);
	else if (archive_filter_code(arc->a, 0) == ARCHIVE_FILTER_GZIP &&
	    strcmp(msg, "Unrecognized archive format") == 0)
		/* a sound gzip stream of nothing: the raw format has no
		 * byte to recognise */
		stream_fail(s, "empty gzip stream: it holds no report");
	else if (strcasestr(msg, "truncat") != NULL ||
	    strcasestr(msg, "premature") != NULL)
		stream_fail(s, "truncated gzip stream");
	else
		stream_fail(s, "corrupt gzip stream: %s", msg);
}

/* Reads from the source, past the peeked bytes, applying the caps. */
static ssize_t
stream_fill(struct unpack_stream *s, void *buf, size_t len)
{
	struct unpack_arc	*arc = s->arc;
	const struct unpack_limits *lim = s->lim;
	la_ssize_t		 n;

	if (s->failed)
		return -1;
	if (s->eof || len == 0)
		return 0;
	if (arc == NULL && s->fd >= 0) {
		do
			n = read(s->fd, buf, len);
		while (n == -1 && errno == EINTR);
		if (n == -1) {
			stream_fail(s, "read error: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			s->eof = true;
		s->out += n;
		if (s->out > lim->max_report_size) {
			stream_fail(s, "report larger than max_report_size "
			    "(%llu bytes)", (unsigned long long)lim->max_report_size);
			return -1;
		}
		return n;
	}
	if (arc == NULL) {
		n = s->mem_len - s->mem_pos < len ?
		    (la_ssize_t)(s->mem_len - s->mem_pos) : (la_ssize_t)len;
		if (n > 0)
			memcpy(buf, s->mem + s->mem_pos, n);
		s->mem_pos += n;
		if (n == 0)
			s->eof = true;
		return n;
	}
	n = archive_read_data(arc->a, buf, len);
	if (n < 0) {
		arc_fail(arc, s);
		return -1;
	}
	if (n == 0) {
		s->eof = true;
		return 0;
	}
	arc->out += n;
	s->out += n;
	if (s->out > lim->max_report_size) {
		stream_fail(s, "report larger than max_report_size (%llu bytes)",
		    (unsigned long long)lim->max_report_size);
		return -1;
	}
	if (arc->out > UNPACK_RATIO_AFTER &&
	    arc->out / (arc->in ? arc->in : 1) >= lim->max_ratio) {
		stream_fail(s, "compression ratio above max_ratio (%u:1): "
		    "decompression bomb?", lim->max_ratio);
		return -1;
	}
	return n;
}

/* Reads up to UNPACK_PEEK bytes ahead, to be served again; 0 or -1. */
static int
stream_peek(struct unpack_stream *s, const unsigned char **p_r, size_t *len_r)
{
	ssize_t	n;

	if (s->arc == NULL) {
		*p_r = s->mem + s->mem_pos;
		*len_r = s->mem_len - s->mem_pos;
		return s->failed ? -1 : 0;
	}
	while (s->peek_len < sizeof(s->peek)) {
		n = stream_fill(s, s->peek + s->peek_len,
		    sizeof(s->peek) - s->peek_len);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		s->peek_len += n;
	}
	*p_r = s->peek;
	*len_r = s->peek_len;
	return 0;
}

static ssize_t
stream_read(struct unpack_stream *s, void *buf, size_t len)
{
	size_t	n;

	if (s->failed)
		return -1;
	if (s->peek_pos < s->peek_len) {
		n = s->peek_len - s->peek_pos;
		if (n > len)
			n = len;
		memcpy(buf, s->peek + s->peek_pos, n);
		s->peek_pos += n;
		return n;
	}
	return stream_fill(s, buf, len);
}

ssize_t
unpack_item_read(void *item, void *buf, size_t len)
{
	struct unpack_item	*it = item;

	return stream_read(it->s, buf, len);
}

const char *
unpack_item_error(void *item)
{
	struct unpack_item	*it = item;

	return it->s->failed ? it->s->error : "no error";
}

const char *
unpack_item_name(const struct unpack_item *item)
{
	return item->name;
}

enum unpack_kind
unpack_item_kind(const struct unpack_item *item)
{
	return item->kind;
}

void *
unpack_item_message(const struct unpack_item *item)
{
	return item->message;
}

/* Skips a UTF-8 byte order mark and white space. */
static size_t
skip_bom_space(const unsigned char *p, size_t len)
{
	size_t	i = 0;

	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
	    p[i] == '\n'))
		i++;
	return i;
}

/*
 * What the sniffers read of p: the bytes themselves, or, for UTF-16 text
 * (a byte order mark FF FE or FE FF, or none but a document starting
 * "<\0" or "\0<"), its first characters decoded into buf (bufsize bytes)
 * with those outside ASCII as '?'.  libxml2 reads the document itself in
 * whichever encoding it is; the sniffers only look for '<', '{' and their
 * ASCII marks.
 */
static const unsigned char *
sniff_view(const unsigned char *p, size_t len, unsigned char *buf,
    size_t bufsize, size_t *len_r)
{
	size_t	i, n = 0;
	int	lo;

	if (len >= 2 && p[0] == 0xff && p[1] == 0xfe) {
		lo = 0;
		i = 2;
	} else if (len >= 2 && p[0] == 0xfe && p[1] == 0xff) {
		lo = 1;
		i = 2;
	} else if (len >= 2 && p[0] == '<' && p[1] == 0) {
		lo = 0;
		i = 0;
	} else if (len >= 2 && p[0] == 0 && p[1] == '<') {
		lo = 1;
		i = 0;
	} else {
		*len_r = len;
		return p;
	}
	for (; i + 1 < len && n < bufsize; i += 2)
		buf[n++] = p[i + 1 - lo] == 0 && p[i + lo] < 0x80 ?
		    p[i + lo] : '?';
	*len_r = n;
	return buf;
}

/* The first character that is not a UTF-8 mark or white space, in any
 * encoding sniff_view reads; 0 when none. */
static int
first_char(const unsigned char *p, size_t len)
{
	unsigned char	 buf[64];
	const unsigned char *v;
	size_t		 vl, i;

	v = sniff_view(p, len, buf, sizeof(buf), &vl);
	i = skip_bom_space(v, vl);
	return i < vl ? v[i] : 0;
}

static bool
is_gzip(const unsigned char *p, size_t len)
{
	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Local file header, empty archive, or the spanning marker. */
static bool
is_zip(const unsigned char *p, size_t len)
{
	return len >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6) ||
	    (p[2] == 7 && p[3] == 8));
}

static enum unpack_kind
kind_of_bytes(const unsigned char *p, size_t len)
{
	int	c = first_char(p, len);

	if (c == '<')
		return UNPACK_AGGREGATE;
	if (c == '{')
		return UNPACK_TLSRPT;
	return UNPACK_UNKNOWN;
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t	ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

/* A guess from the name when the bytes could not be read. */
static enum unpack_kind
kind_of_name(const char *name)
{
	if (has_suffix(name, ".xml") || has_suffix(name, ".xml.gz"))
		return UNPACK_AGGREGATE;
	if (has_suffix(name, ".json") || has_suffix(name, ".json.gz"))
		return UNPACK_TLSRPT;
	return UNPACK_UNKNOWN;
}

/* Hands one item to the callback. */
static void
emit(struct unpack_walk *w, struct unpack_stream *s, const char *name,
    enum unpack_kind kind, GMimeMessage *msg)
{
	struct unpack_item	 item;
	const char		*error = NULL;

	if (w->stop)
		return;
	item.s = s;
	item.name = name;
	item.kind = kind;
	item.message = msg;
	w->items++;
	if (w->cb(w->ctx, &item, &error) == -1) {
		w->stop = true;
		w->cb_error = error ? error : "stopped by the caller";
	}
}

static void
emit_error(struct unpack_walk *w, const char *name, enum unpack_kind kind,
    const char *reason)
{
	struct unpack_stream	s;

	stream_init_error(&s, reason, w->lim);
	emit(w, &s, name, kind, NULL);
}

static la_ssize_t
arc_read_cb(struct archive *a, void *client, const void **buf_r)
{
	struct unpack_arc	*arc = client;
	struct unpack_stream	*p = arc->parent;
	ssize_t			 n;

	if (p->arc == NULL) {
		/* Memory: hand out in place, a block at a time for the ratio. */
		n = p->mem_len - p->mem_pos;
		if (n > UNPACK_BLOCK)
			n = UNPACK_BLOCK;
		*buf_r = p->mem + p->mem_pos;
		p->mem_pos += n;
	} else {
		n = stream_read(p, arc->block, UNPACK_BLOCK);
		if (n < 0) {
			archive_set_error(a, EIO, "%s", p->error);
			return -1;
		}
		*buf_r = arc->block;
	}
	arc->in += n;
	return n;
}

/* Seeking, for a parent in memory only: lets zip read its directory. */
static la_int64_t
arc_seek_cb(struct archive *a, void *client, la_int64_t off, int whence)
{
	struct unpack_arc	*arc = client;
	struct unpack_stream	*p = arc->parent;
	la_int64_t		 base;

	(void)a;
	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = p->mem_pos;
		break;
	case SEEK_END:
		base = p->mem_len;
		break;
	default:
		return ARCHIVE_FATAL;
	}
	if (off < -base || off > (la_int64_t)p->mem_len - base)
		return ARCHIVE_FATAL;
	p->mem_pos = base + off;
	return p->mem_pos;
}

/* Entries a zip carries that are never reports. */
static bool
zip_entry_skipped(struct archive_entry *e, const char *path)
{
	const char	*base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return archive_entry_filetype(e) != AE_IFREG || *base == '\0' ||
	    strncmp(path, "__MACOSX/", 9) == 0 ||
	    strstr(path, "/__MACOSX/") != NULL || strncmp(base, "._", 2) == 0;
}

/* Reads an entry to its end through the caps, so libarchive never has to
 * skip (decompress) a long entry uncounted; -1 when it could not. */
static int
stream_drain(struct unpack_stream *s)
{
	unsigned char	buf[UNPACK_BLOCK];
	ssize_t		n;

	while ((n = stream_read(s, buf, sizeof(buf))) > 0)
		;
	return n == 0 ? 0 : -1;
}

/* Opens a zip or gzip layer over parent and walks its entries. */
static void
walk_archive(struct unpack_walk *w, struct unpack_stream *parent,
    const char *name, bool zip, unsigned depth)
{
	struct unpack_arc	 arc;
	struct unpack_stream	 child;
	struct archive_entry	*e;
	const char		*path;
	char			 cname[UNPACK_NAME], reason[UNPACK_ERR];
	unsigned		 entries = 0;
	int			 r;

	memset(&arc, 0, sizeof(arc));
	arc.parent = parent;
	arc.zip = zip;
	arc.a = archive_read_new();
	if (arc.a == NULL) {
		emit_error(w, name, kind_of_name(name), "out of memory");
		return;
	}
	if (zip) {
		archive_read_support_format_zip(arc.a);
	} else {
		archive_read_support_filter_gzip(arc.a);
		archive_read_support_format_raw(arc.a);
	}
	if (parent->arc != NULL &&
	    (arc.block = malloc(UNPACK_BLOCK)) == NULL) {
		archive_read_free(arc.a);
		emit_error(w, name, kind_of_name(name), "out of memory");
		return;
	}
	archive_read_set_read_callback(arc.a, arc_read_cb);
	if (parent->arc == NULL)
		archive_read_set_seek_callback(arc.a, arc_seek_cb);
	archive_read_set_callback_data(arc.a, &arc);
	if (archive_read_open1(arc.a) != ARCHIVE_OK) {
		stream_init_mem(&child, NULL, 0, w->lim);
		arc_fail(&arc, &child);
		emit(w, &child, name, kind_of_name(name), NULL);
		goto out;
	}
	if (!zip && archive_filter_code(arc.a, 0) != ARCHIVE_FILTER_GZIP) {
		/* Without this the raw format would serve the bytes as is. */
		emit_error(w, name, kind_of_name(name),
		    "corrupt gzip stream: bad header");
		goto out;
	}
	if (!zip) {
		/* libarchive stacks a gzip filter per gzip layer by itself
		 * (gzip in gzip): each counts as one level of nesting. */
		depth += archive_filter_count(arc.a) - 2;
		if (depth > w->lim->max_depth) {
			snprintf(reason, sizeof(reason), "nesting deeper than "
			    "max_depth (%u)", w->lim->max_depth);
			emit_error(w, name, kind_of_name(name), reason);
			goto out;
		}
	}
	while (!w->stop) {
		r = archive_read_next_header(arc.a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			stream_init_mem(&child, NULL, 0, w->lim);
			arc_fail(&arc, &child);
			emit(w, &child, name, kind_of_name(name), NULL);
			break;
		}
		if (++entries > w->lim->max_archive_entries) {
			snprintf(reason, sizeof(reason), "archive has more "
			    "than max_archive_entries (%u) entries",
			    w->lim->max_archive_entries);
			emit_error(w, name, UNPACK_UNKNOWN, reason);
			break;
		}
		memset(&child, 0, sizeof(child));
		child.arc = &arc;
		child.lim = w->lim;
		if (zip) {
			path = archive_entry_pathname(e);
			if (path == NULL)
				path = "?";
			name_join(cname, sizeof(cname), name, "/", path);
			if (zip_entry_skipped(e, path)) {
				if (stream_drain(&child) == -1)
					break;
				continue;
			}
		} else
			name_join(cname, sizeof(cname), name, "", "");
		walk_stream(w, &child, cname, depth);
		/* Whatever the consumer left is read through the caps; a
		 * failure leaves the archive's position unknown: stop. */
		if (child.failed || (zip && stream_drain(&child) == -1))
			break;
		if (!zip)
			break;
	}
out:
	archive_read_free(arc.a);
	free(arc.block);
}

/* Sniffs a stream and walks it: an archive layer or one item. */
static void
walk_stream(struct unpack_walk *w, struct unpack_stream *s, const char *name,
    unsigned depth)
{
	const unsigned char	*p;
	size_t			 len;
	char			 reason[UNPACK_ERR];

	if (stream_peek(s, &p, &len) == -1) {
		emit(w, s, name, kind_of_name(name), NULL);
		return;
	}
	if (is_gzip(p, len) || is_zip(p, len)) {
		if (depth >= w->lim->max_depth) {
			snprintf(reason, sizeof(reason), "nesting deeper than "
			    "max_depth (%u)", w->lim->max_depth);
			emit_error(w, name, kind_of_name(name), reason);
			return;
		}
		walk_archive(w, s, name, is_zip(p, len), depth + 1);
		return;
	}
	emit(w, s, name, kind_of_bytes(p, len), NULL);
}

static bool
mem_has(const unsigned char *p, size_t len, const char *needle)
{
	return memmem(p, len, needle, strlen(needle)) != NULL;
}

/* Whether decoded text is an XML aggregate or a JSON TLS report. */
static bool
looks_like_report(const unsigned char *p, size_t len)
{
	unsigned char	 buf[UNPACK_SNIFF];
	size_t		 i;

	p = sniff_view(p, len, buf, sizeof(buf), &len);
	i = skip_bom_space(p, len);
	p += i;
	len -= i;
	if (len > UNPACK_SNIFF)
		len = UNPACK_SNIFF;
	if (len > 0 && p[0] == '<')
		return mem_has(p, len, "<feedback") ||
		    mem_has(p, len, ":feedback");
	if (len > 0 && p[0] == '{')
		return mem_has(p, len, "\"policies\"") ||
		    mem_has(p, len, "\"organization-name\"");
	return false;
}

static bool
name_is_report(const char *name)
{
	static const char *const ext[] = {
		".xml", ".zip", ".gz", ".gzip", ".json",
	};
	size_t	i;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (has_suffix(name, ext[i]))
			return true;
	return false;
}

static bool
type_is_report(const char *type)
{
	static const char *const types[] = {
		"application/zip", "application/x-zip",
		"application/x-zip-compressed", "application/zip-compressed",
		"application/gzip", "application/x-gzip",
		"application/x-gzip-compressed", "application/gzip-compressed",
		"application/xml", "text/xml", "application/json",
		"application/tlsrpt+json", "application/tlsrpt+gzip",
	};
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(type, types[i]) == 0)
			return true;
	return false;
}

/* For a part labelled as an archive whose bytes are not one (nor XML or
 * JSON), why it cannot be opened; else NULL. */
static const char *
label_archive(const char *type, const char *fname)
{
	if ((fname && (has_suffix(fname, ".gz") || has_suffix(fname, ".gzip")))
	    || strcasestr(type, "gzip"))
		return "corrupt gzip stream: no gzip header";
	if ((fname && has_suffix(fname, ".zip")) || strcasestr(type, "zip"))
		return "corrupt zip: not a zip archive (no PK signature)";
	return NULL;
}

static void
parts_add(struct unpack_walk *w, const char *type)
{
	size_t	n = strlen(w->parts);

	if (n + 3 >= sizeof(w->parts) - 4)
		return;
	if (n + 2 + strlen(type) >= sizeof(w->parts) - 4) {
		memcpy(w->parts + n, ", ...", 6);
		return;
	}
	snprintf(w->parts + n, sizeof(w->parts) - n, "%s%s", n ? ", " : "",
	    type);
}

/* Hands out the whole message that carries a feedback report. */
static void
emit_forensic(struct unpack_walk *w, GMimeMessage *msg)
{
	struct unpack_stream	 s;
	GMimeStream		*ms;
	GByteArray		*ba;

	if (msg == w->top_msg) {
		stream_init_mem(&s, w->top, w->top_len, w->lim);
		emit(w, &s, "feedback-report", UNPACK_FORENSIC, msg);
		return;
	}
	ms = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(GMIME_OBJECT(msg), NULL, ms);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	stream_init_mem(&s, ba->data, ba->len, w->lim);
	emit(w, &s, "feedback-report", UNPACK_FORENSIC, msg);
	g_object_unref(ms);
}

/* Whether a multipart is an ARF report (RFC 5965/6591), labelled or not. */
static bool
multipart_is_arf(GMimeMultipart *mp)
{
	GMimeContentType	*ct;
	const char		*rt;
	int			 i, n;

	ct = g_mime_object_get_content_type(GMIME_OBJECT(mp));
	if (g_mime_content_type_is_type(ct, "multipart", "report") &&
	    (rt = g_mime_content_type_get_parameter(ct, "report-type")) &&
	    strcasecmp(rt, "feedback-report") == 0)
		return true;
	n = g_mime_multipart_get_count(mp);
	for (i = 0; i < n; i++) {
		ct = g_mime_object_get_content_type(
		    g_mime_multipart_get_part(mp, i));
		if (ct && g_mime_content_type_is_type(ct, "message",
		    "feedback-report"))
			return true;
	}
	return false;
}

/* Examines one leaf part: decodes it and hands it out if it is a
 * candidate by its bytes, its name or its label. */
static void
walk_part(struct unpack_walk *w, GMimePart *part, GMimeMessage *msg,
    unsigned depth)
{
	GMimeContentType	*ct;
	GMimeDataWrapper	*dw;
	GMimeStream		*ms;
	GByteArray		*ba;
	struct unpack_stream	 s;
	const char		*fname, *label;
	char			*type, name[UNPACK_NAME];
	bool			 cand;

	if (++w->leaves > w->lim->max_attachments) {
		w->too_many_parts = true;
		return;
	}
	ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	type = ct ? g_mime_content_type_get_mime_type(ct) :
	    g_strdup("text/plain");
	parts_add(w, type);
	if (ct && g_mime_content_type_is_type(ct, "message",
	    "feedback-report")) {
		g_free(type);
		emit_forensic(w, msg);
		return;
	}
	ms = g_mime_stream_mem_new();
	if ((dw = g_mime_part_get_content(part)) != NULL)
		g_mime_data_wrapper_write_to_stream(dw, ms);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	fname = g_mime_part_get_filename(part);
	cand = is_gzip(ba->data, ba->len) || is_zip(ba->data, ba->len) ||
	    (fname && name_is_report(fname)) || type_is_report(type) ||
	    looks_like_report(ba->data, ba->len);
	if (cand) {
		name_join(name, sizeof(name), fname ? fname : type, "", "");
		stream_init_mem(&s, ba->data, ba->len, w->lim);
		if (!is_gzip(ba->data, ba->len) && !is_zip(ba->data, ba->len) &&
		    kind_of_bytes(ba->data, ba->len) == UNPACK_UNKNOWN &&
		    (label = label_archive(type, fname)) != NULL)
			stream_fail(&s, "%s", label);
		walk_stream(w, &s, name, depth);
	} else if (strcmp(type, "text/plain") == 0 &&
	    arf_text_is_report(ba->data, ba->len)) {
		/* A failure report some MTAs (Exim) send as plain text. */
		emit_forensic(w, msg);
	}
	g_object_unref(ms);
	g_free(type);
}

static void
walk_object(struct unpack_walk *w, GMimeObject *o, GMimeMessage *msg,
    unsigned depth, unsigned mime_depth)
{
	GMimeMessage	*inner;
	GMimeMultipart	*mp;
	int		 i, n;

	if (o == NULL || w->stop || w->too_many_parts)
		return;
	if (GMIME_IS_MULTIPART(o)) {
		mp = GMIME_MULTIPART(o);
		if (multipart_is_arf(mp)) {
			emit_forensic(w, msg);
			return;
		}
		if (mime_depth >= UNPACK_MIME_DEPTH) {
			w->too_deep = true;
			return;
		}
		n = g_mime_multipart_get_count(mp);
		for (i = 0; i < n && !w->stop && !w->too_many_parts; i++)
			walk_object(w, g_mime_multipart_get_part(mp, i), msg,
			    depth, mime_depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (inner == NULL)
			return;
		if (depth >= w->lim->max_depth) {
			w->too_deep = true;
			return;
		}
		parts_add(w, "message/rfc822");
		walk_object(w, g_mime_message_get_mime_part(inner), inner,
		    depth + 1, mime_depth + 1);
	} else if (GMIME_IS_PART(o))
		walk_part(w, GMIME_PART(o), msg, depth);
}

/* Whether the input starts like an RFC 5322 header (or an mbox line). */
static bool
looks_like_message(const unsigned char *p, size_t len)
{
	size_t	i;

	if (len >= 5 && memcmp(p, "From ", 5) == 0)
		return true;
	for (i = 0; i < len && p[i] > ' ' && p[i] < 127 && p[i] != ':'; i++)
		;
	while (i > 0 && i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i > 0 && i < len && p[i] == ':';
}

/* Counts "boundary=" parameters: GMime's parser slows down sharply (and
 * grows) on thousands of nested multiparts, so refuse those first. */
static unsigned
count_boundaries(const unsigned char *p, size_t len)
{
	unsigned	n = 0;
	size_t		i;

	for (i = 0; i + 9 <= len; i++)
		if ((p[i] | 0x20) == 'b' && strncasecmp((const char *)p + i,
		    "boundary=", 9) == 0)
			n++;
	return n;
}

static void
walk_email(struct unpack_walk *w, const unsigned char *data, size_t len,
    char *err, size_t errlen)
{
	GMimeStream	*st;
	GMimeParser	*parser;
	GMimeMessage	*msg;

	if (count_boundaries(data, len) > UNPACK_BOUNDARIES) {
		snprintf(err, errlen, "not examined: more than %u MIME "
		    "multipart boundaries", UNPACK_BOUNDARIES);
		return;
	}
	st = g_mime_stream_mem_new_with_buffer((const char *)data, len);
	parser = g_mime_parser_new_with_stream(st);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	if (msg == NULL) {
		snprintf(err, errlen, "not a report: cannot parse as an email");
		g_object_unref(st);
		return;
	}
	w->top_msg = msg;
	walk_object(w, g_mime_message_get_mime_part(msg), msg, 0, 0);
	if (w->items == 0) {
		if (w->too_many_parts)
			snprintf(err, errlen, "no report among the first "
			    "max_attachments (%u) MIME parts (parts: %s)",
			    w->lim->max_attachments, w->parts);
		else
			snprintf(err, errlen, "no attachment that looks like "
			    "a report (parts: %s)%s",
			    w->parts[0] ? w->parts : "none",
			    w->too_deep ? "; nesting deeper than max_depth "
			    "not examined" : "");
	}
	g_object_unref(msg);
	g_object_unref(st);
}

static const char *
base_name(const char *name)
{
	const char	*s;

	if (name == NULL || *name == '\0')
		return "input";
	s = strrchr(name, '/');
	return s && s[1] ? s + 1 : name;
}

int
unpack_bytes(const void *data, size_t len, const char *name,
    const struct unpack_limits *lim, unpack_cb cb, void *ctx,
    char *err, size_t errlen)
{
	struct unpack_walk	 w;
	struct unpack_stream	 s;
	const unsigned char	*p = data;
	char			 bname[UNPACK_NAME];
	size_t			 i;
	int			 c;

	if (errlen > 0)
		err[0] = '\0';
	memset(&w, 0, sizeof(w));
	w.lim = lim;
	w.cb = cb;
	w.ctx = ctx;
	w.top = p;
	w.top_len = len;
	name_join(bname, sizeof(bname), base_name(name), "", "");
	if (len == 0) {
		snprintf(err, errlen, "input is empty");
		return 0;
	}
	if (len > lim->max_message_size) {
		snprintf(err, errlen, "message larger than max_message_size "
		    "(%zu bytes)", lim->max_message_size);
		return 0;
	}
	i = skip_bom_space(p, len);
	c = first_char(p, len);
	if (is_gzip(p, len) || is_zip(p, len) || c == '<' || c == '{') {
		stream_init_mem(&s, p, len, lim);
		walk_stream(&w, &s, bname, 0);
		if (w.items == 0)
			snprintf(err, errlen, "no report in the archive "
			    "(only directories or metadata entries)");
	} else if (looks_like_message(p, len))
		walk_email(&w, p, len, err, errlen);
	else if (i == len)
		snprintf(err, errlen, "input is empty (white space only)");
	else
		snprintf(err, errlen, "not a report: unrecognised content");
	if (w.stop) {
		snprintf(err, errlen, "%s", w.cb_error);
		return -1;
	}
	return w.items;
}

int
unpack_fd(int fd, const char *name, const struct unpack_limits *lim,
    unpack_cb cb, void *ctx, char *err, size_t errlen)
{
	struct unpack_walk	 w;
	struct unpack_stream	 s;
	struct buf		 all;
	unsigned char		 head[UNPACK_PEEK], chunk[UNPACK_BLOCK];
	char			 bname[UNPACK_NAME];
	size_t			 hl = 0;
	ssize_t			 n;
	int			 c, rc;

	while (hl < sizeof(head)) {
		n = read(fd, head + hl, sizeof(head) - hl);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "read error: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		hl += n;
	}
	c = first_char(head, hl);
	if (!is_gzip(head, hl) && !is_zip(head, hl) && (c == '<' || c == '{')) {
		/* A bare document: stream it, never hold it whole. */
		if (errlen > 0)
			err[0] = '\0';
		memset(&w, 0, sizeof(w));
		w.lim = lim;
		w.cb = cb;
		w.ctx = ctx;
		name_join(bname, sizeof(bname), base_name(name), "", "");
		stream_init_mem(&s, NULL, 0, lim);
		s.fd = fd;
		memcpy(s.peek, head, hl);
		s.peek_len = hl;
		s.out = hl;
		emit(&w, &s, bname, kind_of_bytes(head, hl), NULL);
		if (w.stop) {
			snprintf(err, errlen, "%s", w.cb_error);
			return -1;
		}
		return w.items;
	}
	/* Anything else (an email, an archive) is read whole, capped. */
	buf_init(&all, lim->max_message_size);
	if (buf_add(&all, head, hl) == -1)
		goto too_large;
	while (hl == sizeof(head)) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "read error: %s", strerror(errno));
			buf_free(&all);
			return -1;
		}
		if (n == 0)
			break;
		if (buf_add(&all, chunk, n) == -1)
			goto too_large;
	}
	rc = unpack_bytes(all.data, all.len, name, lim, cb, ctx, err, errlen);
	buf_free(&all);
	return rc;
too_large:
	buf_free(&all);
	snprintf(err, errlen, "message larger than max_message_size (%zu bytes)",
	    lim->max_message_size);
	return 0;
}

void
unpack_global_init(void)
{
	g_mime_init();
}

void
unpack_global_deinit(void)
{
	g_mime_shutdown();
}

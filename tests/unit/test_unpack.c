/*
 * test_unpack.c - the unpacker on emails (fixtures in tests/data/unpack/)
 * and on zips and gzips built here with libarchive's write API, so no
 * binary blob is committed.  Every input is also read one byte at a time.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>
#include <glib.h>

#include "lib.h"
#include "unpack.h"
#include "tap.h"

#define MAXITEMS	16
#define KEEP		(1 << 20)	/* bytes of an item kept for checks */

struct got {
	int		 n;
	size_t		 chunk;		/* read size: 1 or 64 KiB */
	char		 name[MAXITEMS][512];
	enum unpack_kind kind[MAXITEMS];
	struct buf	 data[MAXITEMS];
	uint64_t	 total[MAXITEMS];
	bool		 failed[MAXITEMS];
	char		 error[MAXITEMS][256];
};

static const char *srcdir;
static int stop_at;		/* collect() returns -1 at this item */

static int
collect(void *ctx, struct unpack_item *item, const char **error_r)
{
	struct got	*g = ctx;
	unsigned char	 buf[65536];
	ssize_t		 n;
	int		 i = g->n++;

	if (stop_at && g->n == stop_at) {
		*error_r = "stopped by test";
		return -1;
	}
	if (i >= MAXITEMS)
		return 0;
	snprintf(g->name[i], sizeof(g->name[i]), "%s",
	    unpack_item_name(item));
	g->kind[i] = unpack_item_kind(item);
	buf_init(&g->data[i], KEEP);
	while ((n = unpack_item_read(item, buf, g->chunk)) > 0) {
		g->total[i] += n;
		if (g->data[i].len + n <= KEEP)
			buf_add(&g->data[i], buf, n);
	}
	if (n < 0) {
		g->failed[i] = true;
		snprintf(g->error[i], sizeof(g->error[i]), "%s",
		    unpack_item_error(item));
	}
	return 0;
}

static void
got_free(struct got *g)
{
	int	i;

	for (i = 0; i < g->n && i < MAXITEMS; i++)
		buf_free(&g->data[i]);
}

static int
run(const void *p, size_t len, const struct unpack_limits *lim, size_t chunk,
    struct got *g, char *err, size_t errlen)
{
	struct unpack_limits	def;

	if (lim == NULL) {
		unpack_limits_default(&def);
		lim = &def;
	}
	memset(g, 0, sizeof(*g));
	g->chunk = chunk;
	return unpack_bytes(p, len, "test/input", lim, collect, g, err,
	    errlen);
}

static bool
item_is(const struct got *g, int i, const void *want, size_t len)
{
	return i < g->n && !g->failed[i] && g->data[i].len == len &&
	    (len == 0 || memcmp(g->data[i].data, want, len) == 0);
}

static char *
slurp(const char *file, size_t *len_r)
{
	char		 path[1024], err[256];
	struct buf	 b;

	snprintf(path, sizeof(path), "%s/data/unpack/%s", srcdir, file);
	if (read_file_capped(path, 1 << 20, &b, err, sizeof(err)) == -1) {
		diag("%s", err);
		*len_r = 0;
		return NULL;
	}
	*len_r = b.len;
	return buf_take(&b);
}

/* Output of a libarchive writer: a buffer big enough for our inputs. */
struct out {
	unsigned char	*p;
	size_t		 len, size;
};

static void
out_init(struct out *o, size_t size)
{
	o->p = malloc(size);
	o->size = size;
	o->len = 0;
}

/* gzip of data (one member), appended to o. */
static void
mk_gzip(struct out *o, const void *data, size_t len)
{
	struct archive		*a = archive_write_new();
	struct archive_entry	*e = archive_entry_new();
	size_t			 used = 0;

	archive_write_add_filter_gzip(a);
	archive_write_set_format_raw(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open_memory(a, o->p + o->len, o->size - o->len, &used);
	archive_entry_set_pathname(e, "data");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, len);
	archive_write_header(a, e);
	archive_write_data(a, data, len);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	o->len += used;
}

struct zent {
	const char	*name;		/* ending in '/' for a directory */
	const void	*data;
	size_t		 len;
};

static void
mk_zip(struct out *o, const struct zent *z, size_t n)
{
	struct archive		*a = archive_write_new();
	struct archive_entry	*e;
	size_t			 i, used = 0;

	archive_write_set_format_zip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open_memory(a, o->p, o->size, &used);
	for (i = 0; i < n; i++) {
		e = archive_entry_new();
		archive_entry_set_pathname(e, z[i].name);
		if (z[i].name[strlen(z[i].name) - 1] == '/') {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			archive_write_header(a, e);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, z[i].len);
			archive_write_header(a, e);
			archive_write_data(a, z[i].data, z[i].len);
		}
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	o->len = used;
}

/* An email with one base64 attachment. */
static char *
mk_mail(const char *type, const char *fname, const void *data, size_t len)
{
	struct buf	 b;
	gchar		*b64 = g_base64_encode(data, len);
	size_t		 i, n = strlen(b64);

	buf_init(&b, 16 << 20);
	buf_printf(&b, "From: r@unpack.test\r\nTo: d@example.org\r\n"
	    "Subject: Report\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
	    "--zz\r\nContent-Type: text/plain\r\n\r\nReport attached.\r\n"
	    "--zz\r\nContent-Type: %s\r\n", type);
	if (fname)
		buf_printf(&b, "Content-Disposition: attachment; "
		    "filename=\"%s\"\r\n", fname);
	buf_printf(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
	for (i = 0; i < n; i += 76) {
		buf_add(&b, b64 + i, n - i < 76 ? n - i : 76);
		buf_adds(&b, "\r\n");
	}
	buf_adds(&b, "--zz--\r\n");
	g_free(b64);
	return buf_take(&b);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *xml;		/* tests/data/unpack/report.xml */
static size_t xml_len;

/* Runs p whole-chunk and byte by byte; both must give identical items. */
static int
run_both(const char *what, const void *p, size_t len,
    const struct unpack_limits *lim, struct got *g, char *err, size_t errlen)
{
	struct got	*g1 = calloc(1, sizeof(*g1));
	char		 err1[512];
	int		 n, n1, i;
	bool		 same;

	n = run(p, len, lim, 65536, g, err, errlen);
	n1 = run(p, len, lim, 1, g1, err1, sizeof(err1));
	same = n == n1 && strcmp(err, err1) == 0;
	for (i = 0; same && i < n && i < MAXITEMS; i++)
		same = g->kind[i] == g1->kind[i] &&
		    g->failed[i] == g1->failed[i] &&
		    g->total[i] == g1->total[i] &&
		    g->data[i].len == g1->data[i].len &&
		    (g->data[i].len == 0 || memcmp(g->data[i].data,
		    g1->data[i].data, g->data[i].len) == 0);
	ok(same, "%s: reading 1 byte at a time gives the same items", what);
	got_free(g1);
	free(g1);
	return n;
}

static void
test_fixtures(void)
{
	const char	*qp_text = "unpack.test \xe2\x9c\x93 long line padding "
	    "to force a soft line break";
	struct got	 g;
	char		 err[512], *p;
	size_t		 len;
	int		 n;

	p = slurp("report.xml", &len);
	n = run_both("bare xml", p, len, NULL, &g, err, sizeof(err));
	is_int(n, 1, "bare xml: one item");
	is_int(g.kind[0], UNPACK_AGGREGATE, "bare xml: aggregate");
	is_str(g.name[0], "input", "bare xml: named after the input");
	ok(item_is(&g, 0, xml, xml_len), "bare xml: bytes as given");
	got_free(&g);
	free(p);

	p = slurp("single-base64.eml", &len);
	n = run_both("single-part base64", p, len, NULL, &g, err, sizeof(err));
	is_int(n, 1, "single-part base64: one item");
	is_int(g.kind[0], UNPACK_AGGREGATE, "single-part base64: aggregate");
	is_str(g.name[0], "unpack.test!example.org!1700000000!1700086399.xml",
	    "single-part base64: named after the attachment");
	ok(item_is(&g, 0, xml, xml_len), "single-part base64: decoded");
	got_free(&g);
	free(p);

	p = slurp("multipart-qp.eml", &len);
	n = run_both("multipart qp", p, len, NULL, &g, err, sizeof(err));
	is_int(n, 1, "multipart quoted-printable: one item (text body left)");
	ok(n == 1 && memmem(g.data[0].data, g.data[0].len, qp_text,
	    strlen(qp_text)) != NULL && g.data[0].len > 11 &&
	    memcmp(g.data[0].data + g.data[0].len - 12, "</feedback>\n",
	    12) == 0, "multipart quoted-printable: decoded, soft breaks joined");
	got_free(&g);
	free(p);

	p = slurp("text-plain-report.eml", &len);
	n = run_both("text/plain report", p, len, NULL, &g, err, sizeof(err));
	is_int(n, 1, "text parts: only the one holding a report (not the "
	    "prose, not the html)");
	ok(item_is(&g, 0, xml, xml_len), "text parts: the report's bytes");
	got_free(&g);
	free(p);

	p = slurp("rfc822-nested.eml", &len);
	n = run_both("message/rfc822", p, len, NULL, &g, err, sizeof(err));
	is_int(n, 1, "message/rfc822: the attachment of the inner message");
	ok(item_is(&g, 0, xml, xml_len), "message/rfc822: its bytes");
	got_free(&g);
	free(p);

	p = slurp("no-report.eml", &len);
	n = run(p, len, NULL, 65536, &g, err, sizeof(err));
	is_int(n, 0, "no report: no item");
	is_str(err, "no attachment that looks like a report (parts: "
	    "text/plain, image/png)", "no report: the reason lists the parts");
	got_free(&g);
	free(p);

	p = slurp("arf.eml", &len);
	n = run_both("arf", p, len, NULL, &g, err, sizeof(err));
	is_int(n, 1, "ARF: one item, the returned message not descended");
	is_int(g.kind[0], UNPACK_FORENSIC, "ARF: forensic");
	ok(item_is(&g, 0, p, len), "ARF: the whole message");
	got_free(&g);
	free(p);

	p = slurp("tlsrpt-bare.json", &len);
	n = run_both("json", p, len, NULL, &g, err, sizeof(err));
	is_int(n, 1, "JSON: one item");
	is_int(g.kind[0], UNPACK_TLSRPT, "JSON: tlsrpt");
	got_free(&g);
	free(p);

	p = slurp("tlsrpt.eml", &len);
	n = run_both("tlsrpt email", p, len, NULL, &g, err, sizeof(err));
	is_int(n, 1, "TLS-RPT email: one item");
	is_int(g.kind[0], UNPACK_TLSRPT, "TLS-RPT email: tlsrpt");
	got_free(&g);
	free(p);
}

/* Attachments whatever their labels say. */
static void
test_labels(void)
{
	static const struct {
		const char	*what, *type, *fname;
		bool		 zip;
	} cases[] = {
		{ "zip as octet-stream, no name (magic only)",
		    "application/octet-stream", NULL, true },
		{ "zip as application/x-zip-compressed",
		    "application/x-zip-compressed", "r.zip", true },
		{ "gzip labelled application/zip", "application/zip",
		    "r.zip", false },
		{ "zip labelled text/plain, name only (yahoo)", "text/plain",
		    "yahoo.com!example.org!1!2.zip", true },
		{ "gzip as application/gzip, no name", "application/gzip",
		    NULL, false },
		{ "gzip as application/x-gzip", "application/x-gzip",
		    "r.xml.gz", false },
	};
	struct zent	 z[] = { { "report.xml", xml, xml_len } };
	struct out	 o;
	struct got	 g;
	char		 err[512], *mail, what[200];
	size_t		 i;
	int		 n;

	out_init(&o, 1 << 20);
	for (i = 0; i < nitems(cases); i++) {
		o.len = 0;
		if (cases[i].zip)
			mk_zip(&o, z, 1);
		else
			mk_gzip(&o, xml, xml_len);
		mail = mk_mail(cases[i].type, cases[i].fname, o.p, o.len);
		n = run_both(cases[i].what, mail, strlen(mail), NULL, &g, err,
		    sizeof(err));
		snprintf(what, sizeof(what), "%s: one aggregate item",
		    cases[i].what);
		ok(n == 1 && g.kind[0] == UNPACK_AGGREGATE &&
		    item_is(&g, 0, xml, xml_len), "%s", what);
		if (n != 1)
			diag("%d items: %s %s", n, err, g.error[0]);
		got_free(&g);
		free(mail);
	}

	/* Name only: octet-stream, XML that does not look like a report. */
	mail = mk_mail("application/octet-stream", "x.xml", "<x/>", 4);
	n = run(mail, strlen(mail), NULL, 65536, &g, err, sizeof(err));
	ok(n == 1 && item_is(&g, 0, "<x/>", 4) &&
	    g.kind[0] == UNPACK_AGGREGATE, "detected by its name only");
	got_free(&g);
	free(mail);

	/* Labelled zip, bytes of nothing: a candidate that fails. */
	mail = mk_mail("application/zip", "r.zip", "\x01\x02garbage", 9);
	n = run(mail, strlen(mail), NULL, 65536, &g, err, sizeof(err));
	ok(n == 1 && g.failed[0] && strncmp(g.error[0], "corrupt zip: ",
	    13) == 0, "labelled zip without a zip inside: an error item");
	got_free(&g);
	free(mail);
	free(o.p);
}

static void
test_archives(void)
{
	static const char mac[] = "\0\5\26\7 not a report";
	const char	*two = "<feedback>2</feedback>\n";
	struct zent	 z[] = {
		{ "reports/", NULL, 0 },
		{ "reports/a.xml", xml, xml_len },
		{ "__MACOSX/reports/._a.xml", mac, sizeof(mac) },
		{ "reports/._b.xml", mac, sizeof(mac) },
		{ "reports/b.xml", two, strlen(two) },
	};
	struct out	 o, o2;
	struct got	 g;
	char		 err[512];
	int		 n, i;

	out_init(&o, 1 << 20);
	out_init(&o2, 1 << 20);

	mk_zip(&o, z, nitems(z));
	n = run_both("zip", o.p, o.len, NULL, &g, err, sizeof(err));
	is_int(n, 2, "zip: two reports; directory, __MACOSX, ._ skipped");
	ok(item_is(&g, 0, xml, xml_len) && item_is(&g, 1, two, strlen(two)),
	    "zip: both reports' bytes");
	is_str(g.name[1], "input/reports/b.xml", "zip: entry named by path");
	got_free(&g);

	/* Too many entries: the first ones, then an error item. */
	{
		struct zent		many[5];
		struct unpack_limits	lim;

		for (i = 0; i < 5; i++)
			many[i] = (struct zent){ "r.xml", xml, xml_len };
		unpack_limits_default(&lim);
		lim.max_archive_entries = 3;
		mk_zip(&o, many, 5);
		n = run(o.p, o.len, &lim, 65536, &g, err, sizeof(err));
		is_int(n, 4, "too many entries: 3 reports and an error item");
		is_str(g.error[3], "archive has more than max_archive_entries "
		    "(3) entries", "too many entries: the reason");
		got_free(&g);
	}

	/* Corrupt zip: the deflate data damaged. */
	{
		struct zent big = { "report.xml", NULL, 0 };
		struct buf  b;

		buf_init(&b, 1 << 20);
		for (i = 0; i < 200; i++)
			buf_printf(&b, "<record><ip>192.0.2.%d</ip></record>\n",
			    i);
		big.data = b.data;
		big.len = b.len;
		mk_zip(&o, &big, 1);
		for (i = 60; i < 90; i++)
			o.p[i] ^= 0x55;
		n = run(o.p, o.len, NULL, 65536, &g, err, sizeof(err));
		ok(n == 1 && g.failed[0] && strncmp(g.error[0], "corrupt zip: ",
		    13) == 0, "corrupt zip: an item that fails");
		diag("corrupt zip: %s", g.error[0]);
		got_free(&g);

		/* Truncated zip. */
		mk_zip(&o, &big, 1);
		n = run(o.p, o.len / 2, NULL, 65536, &g, err, sizeof(err));
		ok(n == 1 && g.failed[0] && strncmp(g.error[0], "corrupt zip: ",
		    13) == 0, "truncated zip: an item that fails");
		diag("truncated zip: %s", g.error[0]);
		got_free(&g);

		/* Truncated gzip. */
		o.len = 0;
		mk_gzip(&o, b.data, b.len);
		n = run(o.p, o.len / 2, NULL, 65536, &g, err, sizeof(err));
		ok(n == 1 && g.failed[0], "truncated gzip: an item that fails");
		is_str(g.error[0], "truncated gzip stream",
		    "truncated gzip: the reason");
		got_free(&g);
		buf_free(&b);
	}

	/* UTF-16 documents, with a byte order mark or without: reports
	 * (libxml2 reads them; the sniffers must let them through) */
	{
		static const char doc[] = "<?xml version=\"1.0\"?><feedback>"
		    "</feedback>";
		unsigned char	 u[2 + 2 * sizeof(doc)];
		size_t		 k, m;
		int		 be;

		for (be = 0; be < 2; be++) {
			m = 0;
			u[m++] = be ? 0xfe : 0xff;
			u[m++] = be ? 0xff : 0xfe;
			for (k = 0; k < sizeof(doc) - 1; k++) {
				u[m++] = be ? 0 : (unsigned char)doc[k];
				u[m++] = be ? (unsigned char)doc[k] : 0;
			}
			n = run(u, m, NULL, 65536, &g, err, sizeof(err));
			ok(n == 1 && !g.failed[0] &&
			    g.kind[0] == UNPACK_AGGREGATE, be ?
			    "UTF-16BE with a mark: an aggregate report" :
			    "UTF-16LE with a mark: an aggregate report");
			got_free(&g);
			n = run(u + 2, m - 2, NULL, 65536, &g, err,
			    sizeof(err));
			ok(n == 1 && !g.failed[0] &&
			    g.kind[0] == UNPACK_AGGREGATE, be ?
			    "UTF-16BE without a mark: an aggregate report" :
			    "UTF-16LE without a mark: an aggregate report");
			got_free(&g);
		}
	}

	/* A sound gzip stream of no bytes. */
	o.len = 0;
	mk_gzip(&o, "", 0);
	n = run(o.p, o.len, NULL, 65536, &g, err, sizeof(err));
	ok(n == 1 && g.failed[0], "empty gzip: an item that fails");
	is_str(g.failed[0] ? g.error[0] : "", "empty gzip stream: it holds no "
	    "report", "empty gzip: the reason says so");
	got_free(&g);

	/* A zip of nothing but a directory. */
	mk_zip(&o, z, 1);
	n = run(o.p, o.len, NULL, 65536, &g, err, sizeof(err));
	ok(n == 0 && strstr(err, "no report") != NULL,
	    "zip of a directory only: no item, a reason");
	got_free(&g);

	/* gzip; trailing garbage after it. */
	o.len = 0;
	mk_gzip(&o, xml, xml_len);
	n = run_both("gzip", o.p, o.len, NULL, &g, err, sizeof(err));
	ok(n == 1 && item_is(&g, 0, xml, xml_len), "gzip: the report");
	got_free(&g);
	memcpy(o.p + o.len, "\r\n-- \r\ngarbage from a gateway\r\n", 31);
	n = run_both("gzip + garbage", o.p, o.len + 31, NULL, &g, err,
	    sizeof(err));
	ok(n == 1 && item_is(&g, 0, xml, xml_len),
	    "gzip with trailing garbage: the report intact");
	if (n == 1 && g.failed[0])
		diag("%s", g.error[0]);
	got_free(&g);

	/* gzip in gzip, zip in gzip, gzip in zip. */
	o.len = 0;
	mk_gzip(&o, xml, xml_len);
	o2.len = 0;
	mk_gzip(&o2, o.p, o.len);
	n = run_both("gzip in gzip", o2.p, o2.len, NULL, &g, err, sizeof(err));
	ok(n == 1 && item_is(&g, 0, xml, xml_len), "gzip in gzip: the report");
	got_free(&g);

	mk_zip(&o, z, nitems(z));
	o2.len = 0;
	mk_gzip(&o2, o.p, o.len);
	n = run_both("zip in gzip", o2.p, o2.len, NULL, &g, err, sizeof(err));
	ok(n == 2 && item_is(&g, 0, xml, xml_len) &&
	    item_is(&g, 1, two, strlen(two)), "zip in gzip: both reports");
	got_free(&g);

	{
		struct zent gz = { "r.xml.gz", NULL, 0 };

		o.len = 0;
		mk_gzip(&o, xml, xml_len);
		gz.data = o.p;
		gz.len = o.len;
		mk_zip(&o2, &gz, 1);
		n = run_both("gzip in zip", o2.p, o2.len, NULL, &g, err,
		    sizeof(err));
		ok(n == 1 && item_is(&g, 0, xml, xml_len),
		    "gzip in zip: the report");
		got_free(&g);
	}

	/* Too deep: six gzips around the report, max_depth 4. */
	o.len = 0;
	mk_gzip(&o, xml, xml_len);
	for (i = 0; i < 5; i++) {
		o2.len = 0;
		mk_gzip(&o2, o.p, o.len);
		memcpy(o.p, o2.p, o2.len);
		o.len = o2.len;
	}
	n = run(o.p, o.len, NULL, 65536, &g, err, sizeof(err));
	ok(n == 1 && g.failed[0], "too deep: an item that fails");
	is_str(g.error[0], "nesting deeper than max_depth (4)",
	    "too deep: the reason");
	got_free(&g);

	free(o.p);
	free(o2.p);
}

static void
test_caps(void)
{
	struct unpack_limits	 lim;
	struct buf		 line;
	struct out		 o;
	struct got		 g;
	char			 err[512], *mail;
	double			 t;
	int			 n, i;

	/* A bomb: 200 MiB of one XML line, as 200 gzip members of 1 MiB. */
	buf_init(&line, 2 << 20);
	buf_adds(&line, "<?xml version=\"1.0\"?>\n<feedback>\n");
	while (line.len < (1 << 20) - 64)
		buf_adds(&line, "<record><row><source_ip>192.0.2.1</source_ip>"
		    "</row></record>\n");
	out_init(&o, 4 << 20);
	mk_gzip(&o, line.data, line.len);
	{
		size_t member = o.len;

		for (i = 1; i < 200; i++) {
			memcpy(o.p + o.len, o.p, member);
			o.len += member;
		}
	}
	diag("bomb: %zu bytes of gzip", o.len);
	mail = mk_mail("application/gzip", "bomb.xml.gz", o.p, o.len);
	t = now();
	n = run(mail, strlen(mail), NULL, 65536, &g, err, sizeof(err));
	t = now() - t;
	ok(n == 1 && g.failed[0], "bomb: refused");
	is_str(g.error[0], "compression ratio above max_ratio (100:1): "
	    "decompression bomb?", "bomb: the reason names the cap");
	ok(g.total[0] < (16 << 20), "bomb: stopped early (%llu bytes out)",
	    (unsigned long long)g.total[0]);
	ok(t < 5.0, "bomb: refused quickly (%.3f s)", t);
	got_free(&g);
	free(mail);

	/* max_report_size on a report of ordinary ratio. */
	unpack_limits_default(&lim);
	lim.max_report_size = 10000;
	o.len = 0;
	mk_gzip(&o, line.data, 20000);
	n = run(o.p, o.len, &lim, 65536, &g, err, sizeof(err));
	ok(n == 1 && g.failed[0], "max_report_size: refused");
	is_str(g.error[0], "report larger than max_report_size (10000 bytes)",
	    "max_report_size: the reason");
	got_free(&g);
	buf_free(&line);

	/* max_message_size. */
	unpack_limits_default(&lim);
	lim.max_message_size = 100;
	n = run(xml, xml_len, &lim, 65536, &g, err, sizeof(err));
	is_int(n, 0, "max_message_size: no item");
	is_str(err, "message larger than max_message_size (100 bytes)",
	    "max_message_size: the reason");
	got_free(&g);

	/* max_attachments. */
	unpack_limits_default(&lim);
	lim.max_attachments = 1;
	mail = mk_mail("application/xml", "r.xml", xml, xml_len);
	n = run(mail, strlen(mail), &lim, 65536, &g, err, sizeof(err));
	is_int(n, 0, "max_attachments: the report past the cap not examined");
	ok(strstr(err, "max_attachments (1)") != NULL,
	    "max_attachments: the reason names the cap");
	got_free(&g);
	lim.max_attachments = 2;
	n = run(mail, strlen(mail), &lim, 65536, &g, err, sizeof(err));
	is_int(n, 1, "max_attachments: found within the cap");
	got_free(&g);

	/* The callback stops the walk. */
	stop_at = 1;
	n = run(mail, strlen(mail), NULL, 65536, &g, err, sizeof(err));
	stop_at = 0;
	is_int(n, -1, "callback stop: -1");
	is_str(err, "stopped by test", "callback stop: its reason");
	free(mail);
	free(o.p);
}

static void
test_sniff(void)
{
	struct got	 g;
	char		 err[512];
	int		 n;

	n = run("", 0, NULL, 65536, &g, err, sizeof(err));
	is_int(n, 0, "empty: no item");
	is_str(err, "input is empty", "empty: the reason");
	n = run("\x7f\x45LF binary", 10, NULL, 65536, &g, err, sizeof(err));
	is_int(n, 0, "binary: no item");
	is_str(err, "not a report: unrecognised content", "binary: reason");
	n = run("\xef\xbb\xbf \n<feedback/>", 17, NULL, 65536, &g, err,
	    sizeof(err));
	ok(n == 1 && g.kind[0] == UNPACK_AGGREGATE,
	    "BOM and white space before XML: aggregate");
	got_free(&g);
	is_str(unpack_kind_name(UNPACK_FORENSIC), "forensic", "kind names");

	/* Thousands of nested multiparts: refused before GMime parses. */
	{
		struct buf	b;
		int		i;

		buf_init(&b, 1 << 20);
		buf_adds(&b, "From: a@b\nMIME-Version: 1.0\n");
		for (i = 0; i < 600; i++)
			buf_printf(&b, "Content-Type: multipart/mixed; "
			    "boundary=\"b%d\"\n\n--b%d\n", i, i);
		n = run(b.data, b.len, NULL, 65536, &g, err, sizeof(err));
		ok(n == 0 && strstr(err, "boundaries") != NULL,
		    "600 nested multiparts: refused with a reason");
		buf_free(&b);
	}
}

int
main(void)
{
	char	path[1024];
	size_t	len;

	srcdir = getenv("TESTS_SRCDIR");
	if (srcdir == NULL)
		srcdir = "../tests";
	unpack_global_init();
	snprintf(path, sizeof(path), "report.xml");
	xml = slurp(path, &len);
	xml_len = len;
	if (xml == NULL) {
		printf("1..0 # SKIP fixtures not found (set TESTS_SRCDIR)\n");
		return 0;
	}
	test_fixtures();
	test_labels();
	test_archives();
	test_caps();
	test_sniff();
	free(xml);
	unpack_global_deinit();
	return done_testing();
}

/*
 * static.c - the app's files, read into memory at start-up with their gzip,
 * ETag and Last-Modified.  A request only looks a path up in that table: it
 * never reaches the file system, so "..", encoded dots, absolute paths and
 * symlinks pointing out of static/ cannot be followed.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "httpd.h"

#ifndef DMARCD_STATIC_DIR
#define DMARCD_STATIC_DIR	"/usr/local/share/dmarcd/static"
#endif
#define STATIC_PREFIX	"/static/"
#define VENDOR_PREFIX	"/static/vendor/"

/* Files taken from the vendor directory (Debian's libjs-chart.js). */
static const char *const vendor_files[] = {
	"chart.min.js",
};

static const struct {
	const char	*ext;
	const char	*type;
	bool		 text;	/* worth compressing */
} static_types[] = {
	{ ".html", "text/html; charset=utf-8", true },
	{ ".js", "text/javascript; charset=utf-8", true },
	{ ".css", "text/css; charset=utf-8", true },
	{ ".svg", "image/svg+xml", true },
	{ ".json", "application/json", true },
	{ ".txt", "text/plain; charset=utf-8", true },
	{ ".png", "image/png", false },
	{ ".ico", "image/x-icon", false },
	{ ".woff2", "font/woff2", false },
};

int
httpd_gzip(const void *data, size_t len, struct buf *out)
{
	z_stream	z;
	char		chunk[16384];
	int		zr;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR ||
		    buf_add(out, chunk, sizeof(chunk) - z.avail_out) != 0) {
			deflateEnd(&z);
			return -1;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

int
httpd_gunzip(const void *data, size_t len, struct buf *out)
{
	z_stream	z;
	char		chunk[16384];
	int		zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if ((zr != Z_OK && zr != Z_STREAM_END) ||
		    buf_add(out, chunk, sizeof(chunk) - z.avail_out) != 0) {
			inflateEnd(&z);
			return -1;
		}
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	return 0;
}

static const char *
static_type(const char *name, bool *text_r)
{
	size_t	i, n = strlen(name), e;

	for (i = 0; i < nitems(static_types); i++) {
		e = strlen(static_types[i].ext);
		if (n > e && strcmp(name + n - e, static_types[i].ext) == 0) {
			*text_r = static_types[i].text;
			return static_types[i].type;
		}
	}
	return NULL;
}

/* Reads one regular file opened relative to dirfd into the table. */
static int
static_add(struct httpd *h, int dirfd, const char *name, const char *prefix,
    bool follow, bool immutable, char *err, size_t errlen)
{
	struct httpd_file	*f;
	struct stat		 st;
	struct buf		 b, gz;
	struct tm		 tm;
	const char		*type;
	uint64_t		 hash = 1469598103934665603ULL;
	size_t			 i;
	ssize_t			 n;
	bool			 text;
	char			 chunk[65536];
	int			 fd;

	if (name[0] == '.' || (type = static_type(name, &text)) == NULL)
		return 0;	/* not served: hidden or unknown type */
	if (h->nfiles == nitems(h->files)) {
		snprintf(err, errlen, "static: more than %zu files",
		    nitems(h->files));
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC |
	    (follow ? 0 : O_NOFOLLOW));
	if (fd == -1) {
		if (errno == ELOOP)
			return 0;	/* a symlink in static/: skipped */
		snprintf(err, errlen, "static: %s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	buf_init(&b, HTTPD_STATIC_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&b, chunk, (size_t)n) != 0) {
			snprintf(err, errlen, "static: %s: larger than %d "
			    "bytes", name, HTTPD_STATIC_MAX);
			close(fd);
			buf_free(&b);
			return -1;
		}
	close(fd);
	f = &h->files[h->nfiles];
	memset(f, 0, sizeof(*f));
	if (asprintf(&f->path, "%s%s", prefix, name) == -1) {
		buf_free(&b);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f->type = type;
	f->len = b.len;
	f->data = b.len > 0 ? buf_take(&b) : strdup("");
	for (i = 0; i < f->len; i++)
		hash = (hash ^ (unsigned char)f->data[i]) * 1099511628211ULL;
	snprintf(f->etag, sizeof(f->etag), "\"%016llx\"",
	    (unsigned long long)hash);
	gmtime_r(&st.st_mtime, &tm);
	strftime(f->last_modified, sizeof(f->last_modified),
	    "%a, %d %b %Y %H:%M:%S GMT", &tm);
	f->immutable = immutable;
	if (text && f->len >= HTTPD_GZIP_MIN) {
		buf_init(&gz, HTTPD_STATIC_MAX);
		if (httpd_gzip(f->data, f->len, &gz) == 0 && gz.len < f->len) {
			f->gzlen = gz.len;
			f->gz = buf_take(&gz);
		} else
			buf_free(&gz);
	}
	h->nfiles++;
	return 0;
}

/*
 * A binary in a configured build tree (config.status beside it) serves the
 * static/ of the source tree its Makefile names, so `build/dmarcd serve`
 * works before `make install`.  Nothing is compiled in: an installed binary
 * has no Makefile beside it and keeps the pkgdatadir.  Linux only
 * (/proc/self/exe); elsewhere the installed directory is the default.
 */
static int
static_build_tree(char *buf, size_t len)
{
	FILE	*fp;
	char	 exe[PATH_MAX], path[PATH_MAX + 32], line[PATH_MAX + 32];
	char	*slash, *v;
	ssize_t	 n;
	size_t	 l;
	int	 found = -1;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/config.status", exe);
	if (access(path, F_OK) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/Makefile", exe);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "abs_top_srcdir = ", 17) != 0)
			continue;
		v = line + 17;
		l = strcspn(v, "\n");
		v[l] = '\0';
		if (v[0] == '/' && (size_t)snprintf(buf, len, "%s/static",
		    v) < len)
			found = 0;
		break;
	}
	fclose(fp);
	if (found != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/index.html", buf);
	return access(path, R_OK) == 0 ? 0 : -1;
}

const char *
httpd_static_default(char *buf, size_t len)
{
	if (static_build_tree(buf, len) == 0)
		return buf;
	return DMARCD_STATIC_DIR;
}

int
httpd_static_load(struct httpd *h, char *err, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 i;
	int		 dfd, rc = 0;

	if ((d = opendir(h->cfg.static_dir)) == NULL) {
		snprintf(err, errlen, "static directory %s: %s",
		    h->cfg.static_dir, strerror(errno));
		return -1;
	}
	dfd = dirfd(d);
	while (rc == 0 && (de = readdir(d)) != NULL)
		rc = static_add(h, dfd, de->d_name, STATIC_PREFIX, false,
		    false, err, errlen);
	closedir(d);
	if (rc != 0)
		return -1;
	if (httpd_static_find(h, STATIC_PREFIX "index.html", NULL) == NULL) {
		snprintf(err, errlen, "static directory %s: no index.html",
		    h->cfg.static_dir);
		return -1;
	}
	/* Vendor files may be symlinks (Debian's are): the directory is
	 * configured by the administrator, and only named files are read. */
	if ((dfd = open(h->cfg.vendor_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "vendor directory %s: %s (install "
		    "libjs-chart.js)", h->cfg.vendor_dir, strerror(errno));
		return -1;
	}
	for (i = 0; rc == 0 && i < nitems(vendor_files); i++)
		rc = static_add(h, dfd, vendor_files[i], VENDOR_PREFIX, true,
		    true, err, errlen);
	close(dfd);
	if (rc == 0 && httpd_static_find(h, VENDOR_PREFIX "chart.min.js",
	    NULL) == NULL) {
		snprintf(err, errlen, "%s/chart.min.js: missing",
		    h->cfg.vendor_dir);
		rc = -1;
	}
	return rc;
}

void
httpd_static_free(struct httpd *h)
{
	size_t	i;

	for (i = 0; i < h->nfiles; i++) {
		free(h->files[i].path);
		free(h->files[i].data);
		free(h->files[i].gz);
	}
	h->nfiles = 0;
}

const struct httpd_file *
httpd_static_find(const struct httpd *h, const char *path, bool *bad_r)
{
	size_t	i;

	if (bad_r != NULL)
		*bad_r = false;
	/* libmicrohttpd has decoded %XX already: "%2e%2e" arrives as "..". */
	if (path[0] != '/' || strstr(path, "..") != NULL ||
	    strstr(path, "//") != NULL || strspn(path, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") != strlen(path)) {
		if (bad_r != NULL)
			*bad_r = true;
		return NULL;
	}
	if (strcmp(path, "/index.html") == 0)
		path = STATIC_PREFIX "index.html";
	for (i = 0; i < h->nfiles; i++)
		if (strcmp(h->files[i].path, path) == 0)
			return &h->files[i];
	return NULL;
}

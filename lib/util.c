/* util.c - file reading and string helpers. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

int
read_file_capped(const char *path, size_t cap, struct buf *out,
    char *err, size_t errlen)
{
	char	 chunk[65536];
	ssize_t	 n;
	int	 fd;

	buf_init(out, cap);
	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "read error: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (buf_add(out, chunk, n) == -1) {
			snprintf(err, errlen,
			    "input larger than max_message_size (%zu bytes)", cap);
			goto fail;
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return 0;
fail:
	if (fd != STDIN_FILENO)
		close(fd);
	buf_free(out);
	return -1;
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	    c == '\v';
}

char *
str_trim(char *s)
{
	char	*e;

	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		*--e = '\0';
	return s;
}

void
str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

int
parse_int64(const char *s, int64_t min, int64_t max, int64_t *v_r)
{
	char		*end;
	long long	 v;

	while (is_space(*s))
		s++;
	if (*s == '\0' || !((*s >= '0' && *s <= '9') || *s == '-' || *s == '+'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	while (is_space(*end))
		end++;
	if (*end != '\0' || v < min || v > max)
		return -1;
	*v_r = v;
	return 0;
}

void
str_domain_norm(char *s)
{
	size_t	n;

	if (s == NULL)
		return;
	str_lower(s);
	n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

bool
domain_pattern_ok(const char *p)
{
	const unsigned char	*c;
	size_t			 n = strlen(p);

	if (strcmp(p, "*") == 0)
		return true;
	if (p[0] == '*' && p[1] == '.')
		p += 2, n -= 2;
	if (n == 0 || n > 253 || p[0] == '.' || p[n - 1] == '.' ||
	    strstr(p, "..") != NULL)
		return false;
	/* what a stored domain may be: no white space, no wildcard left,
	 * nothing str_domain_norm would change */
	for (c = (const unsigned char *)p; *c != '\0'; c++)
		if (*c <= 0x20 || *c == 0x7f || *c == '*' || *c == ',' ||
		    *c == ':' || (*c >= 'A' && *c <= 'Z'))
			return false;
	return true;
}

bool
domain_pattern_match(const char *p, const char *domain)
{
	size_t	pn, dn;

	if (strcmp(p, "*") == 0)
		return true;
	if (p[0] != '*')
		return strcmp(p, domain) == 0;
	/* "*.d": a name ending in ".d", longer than it */
	pn = strlen(p + 1);
	dn = strlen(domain);
	return dn > pn && strcmp(domain + dn - pn, p + 1) == 0;
}

size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char	c = s[0];
	size_t		len, i;
	unsigned int	cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

double
now_seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

char *
xstrdup(const char *s)
{
	char	*c;

	if (s == NULL)
		return NULL;
	if ((c = strdup(s)) == NULL)
		fatalx("out of memory");
	return c;
}

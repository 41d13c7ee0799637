/* json.c - the one JSON encoder: strings escaped per RFC 8259, invalid UTF-8
 * replaced by U+FFFD so output is always valid JSON. */
#include "config.h"

#include <string.h>

#include "lib.h"

static const char hex[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
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

int
json_strn(struct buf *b, const char *str, size_t n)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i = 0, run = 0, l;
	char			 esc[6];

	if (buf_addc(b, '"') == -1)
		return -1;
	while (i < n) {
		unsigned char c = s[i];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80 && (l = utf8_seq(s + i, n - i)) > 0) {
			i += l;
			continue;
		}
		if (buf_add(b, s + run, i - run) == -1)
			return -1;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			if (buf_add(b, esc, 2) == -1)
				return -1;
		} else if (c == '\n') {
			if (buf_add(b, "\\n", 2) == -1)
				return -1;
		} else if (c == '\t') {
			if (buf_add(b, "\\t", 2) == -1)
				return -1;
		} else if (c == '\r') {
			if (buf_add(b, "\\r", 2) == -1)
				return -1;
		} else if (c < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			if (buf_add(b, esc, 6) == -1)
				return -1;
		} else if (buf_add(b, "\\ufffd", 6) == -1)	/* bad UTF-8 */
			return -1;
		i++;
		run = i;
	}
	if (buf_add(b, s + run, i - run) == -1)
		return -1;
	return buf_addc(b, '"');
}

int
json_str(struct buf *b, const char *s)
{
	if (s == NULL)
		return buf_add(b, "null", 4);
	return json_strn(b, s, strlen(s));
}

int
json_int(struct buf *b, long long v)
{
	char			 tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long	 u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;

	do {
		*--p = '0' + u % 10;
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return buf_add(b, p, tmp + sizeof(tmp) - p);
}

int
json_uint(struct buf *b, unsigned long long u)
{
	char	tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = '0' + u % 10;
		u /= 10;
	} while (u);
	return buf_add(b, p, tmp + sizeof(tmp) - p);
}

int
json_key(struct buf *b, const char *key, bool first)
{
	if (!first && buf_addc(b, ',') == -1)
		return -1;
	if (json_str(b, key) == -1)
		return -1;
	return buf_addc(b, ':');
}

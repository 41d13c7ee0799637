/* json.c - the one JSON encoder: strings escaped per RFC 8259, invalid UTF-8
 * replaced by U+FFFD so output is always valid JSON. */
#include "config.h"

#include <string.h>

#include "lib.h"

static const char hex[] = "0123456789abcdef";

/* Bytes copied as they are: printable ASCII but '"' and '\\'. */
static const unsigned char json_plain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x10 */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x30 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x50 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x70 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x80 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x90 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xa0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xb0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xc0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xd0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xe0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0xf0 */
};


/* The general case: escapes, UTF-8 checked byte by byte. */
static int
json_strn_slow(struct buf *b, const unsigned char *s, size_t n)
{
	size_t			 i = 0, run = 0, l;
	char			 esc[6];

	if (buf_addc(b, '"') == -1)
		return -1;
	while (i < n) {
		unsigned char c = s[i];

		if (json_plain[c]) {
			i++;
			continue;
		}
		if (c >= 0x80 && (l = utf8_len(s + i, n - i)) > 0) {
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

/*
 * Most strings are short plain ASCII (addresses, domains, results): those
 * are quoted on the stack and appended in one go.
 */
int
json_strn(struct buf *b, const char *str, size_t n)
{
	const unsigned char	*s = (const unsigned char *)str;
	char			 tmp[256];
	size_t			 i;

	if (n > sizeof(tmp) - 2)
		return json_strn_slow(b, s, n);
	for (i = 0; i < n; i++)
		if (!json_plain[s[i]])
			return json_strn_slow(b, s, n);
	tmp[0] = '"';
	memcpy(tmp + 1, s, n);
	tmp[n + 1] = '"';
	return buf_add(b, tmp, n + 2);
}

int
json_str(struct buf *b, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	char			 tmp[256];
	size_t			 i;

	if (s == NULL)
		return buf_add(b, "null", 4);
	/* One pass: copy while the bytes are plain and the end is near. */
	tmp[0] = '"';
	for (i = 0; i < sizeof(tmp) - 2; i++) {
		if (s[i] == '\0') {
			tmp[i + 1] = '"';
			return buf_add(b, tmp, i + 2);
		}
		if (!json_plain[s[i]])
			break;
		tmp[i + 1] = (char)s[i];
	}
	return json_strn_slow(b, s, strlen(str));
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

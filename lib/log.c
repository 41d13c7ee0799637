/* log.c - escaped logging to stderr or syslog. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "lib.h"

static bool	 log_syslog;
static int	 log_verbose;
static const char *log_ident = "dmarcd";

void
log_init(const char *ident, bool use_syslog, int verbose)
{
	log_ident = ident;
	log_syslog = use_syslog;
	log_verbose = verbose;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
str_escape(char *dst, size_t dstlen, const char *src, size_t n)
{
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 o = 0, i;
	static const char	 hex[] = "0123456789abcdef";

	if (dstlen == 0)
		return;
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		char tmp[5];
		size_t tl;

		if (c == '\\') {
			tmp[0] = tmp[1] = '\\';
			tl = 2;
		} else if (c >= 0x20 && c != 0x7f && c < 0x80) {
			tmp[0] = c;
			tl = 1;
		} else if (c >= 0x80) {
			/* keep valid UTF-8 readable, escape the rest */
			size_t l = utf8_len(s + i, n - i);

			if (l) {
				if (o + l + 4 >= dstlen)
					break;
				memcpy(dst + o, s + i, l);
				o += l;
				i += l - 1;
				continue;
			}
			tmp[0] = '\\'; tmp[1] = 'x';
			tmp[2] = hex[c >> 4]; tmp[3] = hex[c & 15];
			tl = 4;
		} else {
			tmp[0] = '\\'; tmp[1] = 'x';
			tmp[2] = hex[c >> 4]; tmp[3] = hex[c & 15];
			tl = 4;
		}
		if (o + tl + 4 >= dstlen)
			break;
		memcpy(dst + o, tmp, tl);
		o += tl;
	}
	if (i < n && dstlen >= 4) {
		if (o > dstlen - 4)
			o = dstlen - 4;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o < dstlen ? o : dstlen - 1] = '\0';
}

static void
log_v(int pri, const char *fmt, va_list ap)
{
	char	raw[2048], esc[4096];
	int	n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	str_escape(esc, sizeof(esc), raw,
	    (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1);
	if (log_syslog)
		syslog(pri, "%s", esc);
	else
		fprintf(stderr, "%s: %s\n", log_ident, esc);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_v(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 1 && !log_syslog)
		return;
	va_start(ap, fmt);
	log_v(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	log_v(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_v(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

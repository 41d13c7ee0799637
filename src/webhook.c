/*
 * webhook.c - the alerts' webhook: one JSON POST through libcurl.  Only
 * http and https, never a redirect (a 3xx is a failure: the operator
 * names the endpoint, a server does not move it elsewhere), a timeout for
 * the whole exchange, and the answer read and dropped within a cap.  The
 * URL may hold a secret (a token in its path): it is never logged.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "alerts.h"

struct reply {
	size_t	len;
};

/* The answer's body is not used; more than the cap ends the transfer. */
static size_t
webhook_discard(char *p, size_t size, size_t n, void *arg)
{
	struct reply	*r = arg;

	(void)p;
	r->len += size * n;
	return r->len > WEBHOOK_REPLY_CAP ? 0 : size * n;
}

bool
webhook_url_ok(const char *url)
{
	return url != NULL && (strncasecmp(url, "http://", 7) == 0 ||
	    strncasecmp(url, "https://", 8) == 0) && strpbrk(url, " \t\r\n")
	    == NULL && url[strcspn(url, ":") + 3] != '\0';
}

int
webhook_post(const char *url, const char *body, size_t len,
    unsigned timeout, char *err, size_t errlen)
{
	static bool		 inited;
	CURL			*h;
	CURLcode		 cc;
	struct curl_slist	*hdr = NULL;
	struct reply		 reply;
	char			 ebuf[CURL_ERROR_SIZE];
	long			 status = 0;
	int			 rc = -1;

	if (!webhook_url_ok(url)) {
		snprintf(err, errlen, "webhook: alert_webhook is not an "
		    "http:// or https:// URL");
		return -1;
	}
	if (!inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, errlen, "webhook: libcurl init failed");
			return DB_ETEMP;
		}
		inited = true;
	}
	if ((h = curl_easy_init()) == NULL ||
	    (hdr = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL)
		fatalx("out of memory");
	memset(&reply, 0, sizeof(reply));
	*ebuf = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85: the _STR forms */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)timeout);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "dmarcd/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, webhook_discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);

	if ((cc = curl_easy_perform(h)) != CURLE_OK &&
	    !(cc == CURLE_WRITE_ERROR && reply.len > WEBHOOK_REPLY_CAP)) {
		snprintf(err, errlen, "webhook: %s", *ebuf != '\0' ? ebuf :
		    curl_easy_strerror(cc));
		rc = cc == CURLE_UNSUPPORTED_PROTOCOL ||
		    cc == CURLE_URL_MALFORMAT ? -1 : DB_ETEMP;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		rc = 0;
	else {
		snprintf(err, errlen, "webhook: HTTP status %ld%s", status,
		    status >= 300 && status < 400 ?
		    " (redirects are not followed)" : "");
		rc = status >= 500 || status == 429 || status == 408 ?
		    DB_ETEMP : -1;
	}
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return rc;
}

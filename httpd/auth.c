/*
 * auth.c - HTTP basic authentication against a users file of
 * "name:hash" lines, hashes from crypt(3) (yescrypt "$y$" or sha512-crypt
 * "$6$"; make one with `mkpasswd -m yescrypt`).  libcrypt is used because
 * it is the system's maintained password hashing (libcrypt-dev).
 */
#include "config.h"

#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* Hash methods accepted: slow, salted ones only. */
static bool
auth_hash_ok(const char *hash)
{
	return (strncmp(hash, "$y$", 3) == 0 || strncmp(hash, "$6$", 3) == 0 ||
	    strncmp(hash, "$gy$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0) &&
	    crypt_checksalt(hash) == CRYPT_SALT_OK;
}

int
httpd_auth_load(struct httpd *h, char *err, size_t errlen)
{
	const char	*path = h->cfg.users_file;
	struct stat	 st;
	struct buf	 b;
	char		*line, *next, *colon, *rights;
	unsigned	 lineno = 0;
	bool		 senders;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & S_IRWXO) {
		snprintf(err, errlen, "%s: readable by others; chmod o-rwx",
		    path);
		return -1;
	}
	buf_init(&b, HTTPD_USERS_FILE_MAX);
	if (read_file_capped(path, HTTPD_USERS_FILE_MAX, &b, err,
	    errlen) != 0 || buf_addc(&b, '\0') != 0) {
		buf_free(&b);
		if (*err == '\0')
			snprintf(err, errlen, "%s: too large", path);
		return -1;
	}
	for (line = b.data; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = str_trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		/* name:hash[:rights]; a crypt hash has no colon */
		rights = NULL;
		if ((colon = strchr(line, ':')) != NULL &&
		    (rights = strchr(colon + 1, ':')) != NULL)
			*rights++ = '\0';
		if (colon == NULL || colon == line ||
		    !auth_hash_ok(colon + 1)) {
			snprintf(err, errlen, "%s:%u: expected name:hash with "
			    "a yescrypt or sha512-crypt hash", path, lineno);
			goto fail;
		}
		senders = false;
		if (rights != NULL) {
			if (strcmp(str_trim(rights), "senders") != 0) {
				snprintf(err, errlen, "%s:%u: the only right "
				    "is \"senders\" (name:hash:senders)", path,
				    lineno);
				goto fail;
			}
			senders = true;
		}
		if (h->nusers == nitems(h->users)) {
			snprintf(err, errlen, "%s:%u: more than %zu users",
			    path, lineno, nitems(h->users));
			goto fail;
		}
		*colon = '\0';
		h->users[h->nusers].name = strdup(line);
		h->users[h->nusers].hash = strdup(colon + 1);
		h->users[h->nusers].senders = senders;
		h->nusers++;
	}
	if (h->nusers == 0) {
		snprintf(err, errlen, "%s: no users", path);
		goto fail;
	}
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	return 0;
fail:
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	httpd_auth_free(h);
	return -1;
}

void
httpd_auth_free(struct httpd *h)
{
	size_t	i;

	for (i = 0; i < h->nusers; i++) {
		free(h->users[i].name);
		free(h->users[i].hash);
	}
	h->nusers = 0;
}

const struct httpd_user *
httpd_auth_check(const struct httpd *h, const char *name,
    const char *password)
{
	struct crypt_data	*cd;
	const char		*out;
	const char		*hash = NULL;
	const struct httpd_user	*user = NULL;
	size_t			 i, n;
	unsigned char		 diff = 0;
	bool			 ok;

	for (i = 0; i < h->nusers; i++)
		if (strcmp(h->users[i].name, name) == 0) {
			hash = h->users[i].hash;
			user = &h->users[i];
		}
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return NULL;
	/* An unknown user costs the same time as a known one. */
	out = crypt_r(password, hash != NULL ? hash : h->users[0].hash, cd);
	if (out == NULL || out[0] == '*' || hash == NULL) {
		free(cd);
		return NULL;
	}
	n = strlen(hash);
	ok = strlen(out) == n;
	for (i = 0; ok && i < n; i++)
		diff |= (unsigned char)(out[i] ^ hash[i]);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok && diff == 0 ? user : NULL;
}

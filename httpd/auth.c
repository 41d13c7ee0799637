/*
 * auth.c - HTTP basic authentication against a users file of
 * "name:hash" lines, hashes from crypt(3) (yescrypt "$y$" or sha512-crypt
 * "$6$"; make one with `mkpasswd -m yescrypt`), a right ("senders") and
 * the domains the user may see.  libcrypt is used because
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

/* The domain list of a users file line: patterns (domain_pattern_ok)
 * separated by commas or spaces; "*" among them, or none: every domain. */
static int
auth_domains(struct httpd_user *u, char *list, const char *path,
    unsigned lineno, char *err, size_t errlen)
{
	char	*p, *last;
	bool	 all = false;

	for (p = strtok_r(list, ", \t", &last); p != NULL;
	    p = strtok_r(NULL, ", \t", &last)) {
		if (!domain_pattern_ok(p)) {
			snprintf(err, errlen, "%s:%u: not a domain pattern "
			    "(example.com, *.example.com or *, lower case): "
			    "%.80s", path, lineno, p);
			return -1;
		}
		if (strcmp(p, "*") == 0) {
			all = true;
			continue;
		}
		if (u->ndomains == HTTPD_USER_DOMAINS_MAX) {
			snprintf(err, errlen, "%s:%u: more than %d domain "
			    "patterns", path, lineno, HTTPD_USER_DOMAINS_MAX);
			return -1;
		}
		if (u->domains == NULL && (u->domains = calloc(
		    HTTPD_USER_DOMAINS_MAX, sizeof(*u->domains))) == NULL)
			fatalx("out of memory");
		u->domains[u->ndomains++] = xstrdup(p);
	}
	if (all || u->ndomains == 0) {
		httpd_user_free_domains(u);
		if (!all) {
			snprintf(err, errlen, "%s:%u: an empty domain list "
			    "(leave the field out, or \"*\", for every domain)",
			    path, lineno);
			return -1;
		}
	}
	return 0;
}

void
httpd_user_free_domains(struct httpd_user *u)
{
	size_t	i;

	for (i = 0; i < u->ndomains; i++)
		free(u->domains[i]);
	free(u->domains);
	u->domains = NULL;
	u->ndomains = 0;
}

bool
httpd_user_sees(const struct httpd_user *u, const char *domain)
{
	size_t	i;

	if (u == NULL || u->domains == NULL)
		return true;
	for (i = 0; i < u->ndomains; i++)
		if (domain_pattern_match(u->domains[i], domain))
			return true;
	return false;
}

int
httpd_users_load(const char *path, struct httpd_user *users, size_t max,
    size_t *n_r, char *err, size_t errlen)
{
	struct stat	 st;
	struct buf	 b;
	char		*line, *next, *colon, *rights, *domains;
	unsigned	 lineno = 0;
	size_t		 n = 0;
	bool		 senders;

	*n_r = 0;
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
		/* name:hash[:rights[:domains]]; a crypt hash has no colon */
		rights = domains = NULL;
		if ((colon = strchr(line, ':')) != NULL &&
		    (rights = strchr(colon + 1, ':')) != NULL) {
			*rights++ = '\0';
			if ((domains = strchr(rights, ':')) != NULL)
				*domains++ = '\0';
		}
		if (colon == NULL || colon == line ||
		    !auth_hash_ok(colon + 1)) {
			snprintf(err, errlen, "%s:%u: expected name:hash with "
			    "a yescrypt or sha512-crypt hash", path, lineno);
			goto fail;
		}
		senders = false;
		if (rights != NULL && *str_trim(rights) != '\0') {
			if (strcmp(str_trim(rights), "senders") != 0) {
				snprintf(err, errlen, "%s:%u: the only right "
				    "is \"senders\" (name:hash:senders)", path,
				    lineno);
				goto fail;
			}
			senders = true;
		}
		if (n == max) {
			snprintf(err, errlen, "%s:%u: more than %zu users",
			    path, lineno, max);
			goto fail;
		}
		*colon = '\0';
		memset(&users[n], 0, sizeof(users[n]));
		users[n].name = xstrdup(line);
		users[n].hash = xstrdup(colon + 1);
		users[n].senders = senders;
		n++;
		if (domains != NULL && auth_domains(&users[n - 1], domains,
		    path, lineno, err, errlen) != 0)
			goto fail;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no users", path);
		goto fail;
	}
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	*n_r = n;
	return 0;
fail:
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	httpd_users_free(users, n);
	return -1;
}

void
httpd_users_free(struct httpd_user *users, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(users[i].name);
		free(users[i].hash);
		httpd_user_free_domains(&users[i]);
	}
}

int
httpd_auth_load(struct httpd *h, char *err, size_t errlen)
{
	return httpd_users_load(h->cfg.users_file, h->users, nitems(h->users),
	    &h->nusers, err, errlen);
}

void
httpd_auth_free(struct httpd *h)
{
	httpd_users_free(h->users, h->nusers);
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

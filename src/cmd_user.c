/*
 * cmd_user.c - `--user NAME` of summary, export, sources and simulate:
 * what a user of the users file (http_users) sees on the dashboard, and
 * no more: their domain patterns resolved against the database
 * (db_user_domains).
 */
#include "config.h"

#include <string.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "httpd.h"

int
cmd_user_domains(const struct cmd_env *env, struct db *db, const char *cmd,
    const char *name, const char *domain, struct buf *out,
    const char **domains_r)
{
	struct httpd_user	 users[HTTPD_USERS_MAX];
	const struct httpd_user	*u = NULL;
	const char		*path = env->conf.http_users;
	char			 err[1024], d[256];
	size_t			 n, i;
	int			 rc = EXIT_OK;

	*domains_r = NULL;
	if (path == NULL || *path == '\0') {
		log_warnx("%s: --user needs http_users (the dashboard's users "
		    "file)", cmd);
		return EXIT_USAGE;
	}
	if (httpd_users_load(path, users, nitems(users), &n, err,
	    sizeof(err)) != 0) {
		log_warnx("%s: %s", cmd, err);
		return EXIT_USAGE;
	}
	for (i = 0; i < n; i++)
		if (strcmp(users[i].name, name) == 0)
			u = &users[i];
	if (u == NULL) {
		str_escape(d, sizeof(d), name, strlen(name));
		log_warnx("%s: --user: no user %s in %s", cmd, d, path);
		rc = EXIT_USAGE;
		goto done;
	}
	if (u->domains == NULL)
		goto done;		/* every domain */
	if (domain != NULL) {
		snprintf(d, sizeof(d), "%s", domain);
		str_domain_norm(d);
		if (!httpd_user_sees(u, d)) {
			str_escape(d, sizeof(d), domain, strlen(domain));
			log_warnx("%s: --domain %s: not a domain of user %s",
			    cmd, d, u->name);
			rc = EXIT_USAGE;
			goto done;
		}
	}
	if ((rc = db_user_domains(db, (const char *const *)u->domains,
	    u->ndomains, out, err, sizeof(err))) != 0) {
		log_warnx("%s: %s", cmd, err);
		rc = rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
		goto done;
	}
	*domains_r = out->data;
done:
	httpd_users_free(users, n);
	return rc;
}

/*
 * cmd_summary.c - `dmarcd summary [--period Nd | --since DATE --until DATE]
 * [--domain D] [--user NAME] [--to ADDR] [--send] [--format mime|text|html]`:
 * the summary of a period (of the domains the users file's NAME sees),
 * printed as a MIME message or mailed through sendmail.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "lib.h"
#include "conf.h"
#include "dmarcd.h"
#include "summary.h"

#define SUMMARY_DEFAULT_PERIOD	"7d"
/* Printing needs a To:; an empty group says nobody was named. */
#define SUMMARY_NOBODY		"undisclosed-recipients:;"

enum summary_format {
	FORMAT_MIME,
	FORMAT_TEXT,
	FORMAT_HTML,
};

static void
summary_usage(void)
{
	fprintf(stderr, "usage: dmarcd summary [-f FILE] [--db URL] "
	    "[--period Nd | --since YYYY-MM-DD --until YYYY-MM-DD]\n"
	    "       [--domain D] [--user NAME] [--to ADDR] [--send] "
	    "[--format mime|text|html]\n");
}

/* Prints or sends s; returns an exit status. */
static int
summary_output(const struct summary *s, const struct summary_mail *m,
    enum summary_format fmt, bool send)
{
	struct buf	 out;
	char		 err[1024], *msg = NULL;
	size_t		 len;
	int		 rc;

	if (fmt != FORMAT_MIME) {
		buf_init(&out, SUMMARY_TEXT_CAP);
		rc = fmt == FORMAT_TEXT ? summary_render_text(s, &out) :
		    summary_render_html(s, &out);
		if (rc == 0 && out.len > 0)
			fwrite(out.data, 1, out.len, stdout);
		buf_free(&out);
		if (rc != 0) {
			log_warnx("summary: longer than %d bytes",
			    SUMMARY_TEXT_CAP);
			return EXIT_FAIL;
		}
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_TEMPFAIL;
	}
	if (summary_message(s, m, &msg, &len, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EXIT_CONFIG;
	}
	if (!send) {
		fwrite(msg, 1, len, stdout);
		free(msg);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_TEMPFAIL;
	}
	rc = summary_sendmail(m, msg, len, err, sizeof(err));
	free(msg);
	if (rc != 0) {
		log_warnx("%s", err);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	return EXIT_OK;
}

int
cmd_summary(int argc, char **argv)
{
	static const struct option own[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "period", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "domain", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'U' },
		{ "send", no_argument, NULL, 'S' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	struct option		 longopts[16];
	struct cmd_env		 env;
	struct summary_opts	 o;
	struct summary_mail	 m;
	struct summary		*s = NULL;
	struct db		*db = NULL;
	enum summary_format	 fmt = FORMAT_MIME;
	const char		*period = NULL, *since = NULL, *until = NULL;
	const char		*user = NULL;
	struct buf		 ub;
	char			 err[1024], from[300];
	bool			 send = false;
	int			 ch, rc;

	memset(&env, 0, sizeof(env));
	memset(&o, 0, sizeof(o));
	conf_longopts("summary", own, longopts, nitems(longopts));
	while ((ch = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			period = optarg;
			break;
		case 's':
			since = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'd':
			o.domain = optarg;
			break;
		case 'U':
			user = optarg;
			break;
		case 'S':
			send = true;
			break;
		case 'F':
			if (strcmp(optarg, "mime") == 0)
				fmt = FORMAT_MIME;
			else if (strcmp(optarg, "text") == 0)
				fmt = FORMAT_TEXT;
			else if (strcmp(optarg, "html") == 0)
				fmt = FORMAT_HTML;
			else {
				summary_usage();
				return EXIT_USAGE;
			}
			break;
		default:
			if (cmd_common_opt(&env, ch, optarg) == -1) {
				summary_usage();
				return EXIT_USAGE;
			}
		}
	}
	if (optind != argc || (period != NULL && (since || until)) ||
	    (since == NULL) != (until == NULL) ||
	    (send && fmt != FORMAT_MIME)) {
		summary_usage();
		return EXIT_USAGE;
	}
	if (since != NULL) {
		if (summary_parse_date(since, &o.since) == -1 ||
		    summary_parse_date(until, &o.until) == -1 ||
		    o.until <= o.since) {
			log_warnx("summary: --since and --until take "
			    "YYYY-MM-DD, since before until (until excluded)");
			return EXIT_USAGE;
		}
	} else if (summary_period_days(period ? period :
	    SUMMARY_DEFAULT_PERIOD, time(NULL), &o, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}

	if ((rc = cmd_env_load(&env)) != 0)
		return rc;
	memset(&m, 0, sizeof(m));
	if (env.conf.summary_from != NULL && *env.conf.summary_from != '\0')
		m.from = env.conf.summary_from;
	else {
		mail_default_from(from, sizeof(from));
		m.from = from;
	}
	m.to = env.conf.summary_to;	/* --to's, else the file's */
	if (!send && (m.to == NULL || *m.to == '\0'))
		m.to = SUMMARY_NOBODY;
	m.sendmail = env.conf.sendmail_path;
	if (send && (m.to == NULL || *m.to == '\0')) {
		log_warnx("summary: --send needs --to or summary_to");
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}

	if (env.conf.http_public_url != NULL &&
	    *env.conf.http_public_url != '\0' &&
	    !summary_url_ok(env.conf.http_public_url)) {
		log_warnx("http_public_url: expected an http:// or https:// URL "
		    "of at most %d bytes without blanks, quotes or angle "
		    "brackets", SUMMARY_URL_MAX);
		cmd_env_free(&env);
		return EXIT_CONFIG;
	}
	if ((rc = cmd_env_open(&env, &db)) != 0) {
		cmd_env_free(&env);
		return rc;
	}
	buf_init(&ub, DB_USER_DOMAINS_MAX);
	if (user != NULL && (rc = cmd_user_domains(&env, db, "summary", user,
	    o.domain, &ub, &o.domains)) != 0) {
		buf_free(&ub);
		db_close(&db);
		cmd_env_free(&env);
		return rc;
	}
	rc = summary_collect(db, &o, &s, err, sizeof(err));
	if (rc == 0 && env.conf.http_public_url != NULL &&
	    *env.conf.http_public_url != '\0')
		s->public_url = env.conf.http_public_url;
	db_close(&db);
	if (rc != 0) {
		log_warnx("%s", err);
		buf_free(&ub);
		cmd_env_free(&env);
		return rc == DB_ETEMP ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	g_mime_init();
	rc = summary_output(s, &m, fmt, send);
	g_mime_shutdown();
	summary_free(&s);
	buf_free(&ub);
	cmd_env_free(&env);
	return rc;
}

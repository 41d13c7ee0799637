/*
 * cmd_lmtp.c - `dmarcd lmtp`: its options and settings, and main, which
 * binds the listeners, drops privileges, starts the threads and runs the
 * event loop.  The daemon's parts are files of their own (lmtp_daemon.h):
 * lmtp_listen.c (listeners, privilege drop), lmtp_session.c (the event
 * loop and the sessions), lmtp_pool.c (the delivery threads),
 * lmtp_watch.c (the Maildir watcher) and rollup_folder.c (the rollups).
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"
#include "lmtp.h"
#include "conf.h"
#include "dmarcd.h"
#include "lmtp_daemon.h"

#define LMTP_DEFAULT_LISTEN	"unix:/run/dmarcd/lmtp.sock"
#define LMTP_DEFAULT_USER	"dmarcd"

#define LMTP_UNSET	UINT_MAX	/* not given on the command line */
#define LMTP_UNSET_MODE	((mode_t)-1)

static void
lmtp_usage(void)
{
	fprintf(stderr, "usage: dmarcd lmtp [-v] [-f FILE] [--db URL] "
	    "[--listen unix:PATH|HOST:PORT]...\n"
	    "\t[--foreground] [--syslog] [--user USER] [--socket-mode MODE]\n"
	    "\t[--max-sessions N] [--workers N] [--max-recipients N] "
	    "[--max-line N]\n"
	    "\t[--idle-timeout S] [--command-timeout S] [--data-timeout S]\n"
	    "\t[--session-timeout S] [--shutdown-timeout S]\n"
	    "\t[--recipient ADDR]... [--maildir PATH]...\n");
}

/* A numeric option, under the bounds of its dmarcd.conf setting. */
static int
opt_uint(const char *name, const char *setting, const char *v, unsigned *out)
{
	uint64_t	n;
	char		why[256];

	if (conf_parse_number(setting, v, &n, why, sizeof(why)) == -1) {
		log_warnx("--%s: %s", name, why);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

enum {
	O_LISTEN = 256, O_FOREGROUND, O_SYSLOG, O_USER, O_MODE, O_SESSIONS,
	O_WORKERS, O_IDLE, O_COMMAND, O_DATA, O_SESSION, O_SHUTDOWN,
	O_RCPTS, O_LINE, O_RECIPIENT, O_MAILDIR,
};

/* Parses argv into set and env; -1 on a usage error. */
static int
lmtp_options(int argc, char **argv, struct lmtp_settings *set,
    struct cmd_env *env)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "foreground", no_argument, NULL, O_FOREGROUND },
		{ "syslog", no_argument, NULL, O_SYSLOG },
		{ "user", required_argument, NULL, O_USER },
		{ "socket-mode", required_argument, NULL, O_MODE },
		{ "max-sessions", required_argument, NULL, O_SESSIONS },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "command-timeout", required_argument, NULL, O_COMMAND },
		{ "data-timeout", required_argument, NULL, O_DATA },
		{ "session-timeout", required_argument, NULL, O_SESSION },
		{ "shutdown-timeout", required_argument, NULL, O_SHUTDOWN },
		{ "max-recipients", required_argument, NULL, O_RCPTS },
		{ "max-line", required_argument, NULL, O_LINE },
		{ "recipient", required_argument, NULL, O_RECIPIENT },
		{ "maildir", required_argument, NULL, O_MAILDIR },
		{ NULL, 0, NULL, 0 },
	};
	unsigned	 u = 0;
	char		*end;
	int		 ch, r = 0;

	memset(set, 0, sizeof(*set));
	/* Unset until lmtp_settings_apply: the command line wins over
	 * dmarcd.conf, which wins over the defaults. */
	set->socket_mode = LMTP_UNSET_MODE;
	set->max_sessions = set->workers = set->idle_timeout =
	    set->command_timeout = set->data_timeout = set->session_timeout =
	    set->shutdown_timeout = set->max_rcpts = LMTP_UNSET;
	set->max_line = LMTP_UNSET;
	while ((ch = getopt_long(argc, argv, "f:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			set->verbose++;
			break;
		case O_LISTEN:
			if (set->nlisten == LMTP_LISTEN_MAX)
				r = -1;
			else
				set->listen[set->nlisten++] = optarg;
			break;
		case O_FOREGROUND:
			set->foreground = true;
			break;
		case O_SYSLOG:
			set->syslog = true;
			break;
		case O_USER:
			set->user = optarg;
			break;
		case O_MODE:
			set->socket_mode = strtoul(optarg, &end, 8);
			if (*end != '\0' || set->socket_mode > 0777)
				r = -1;
			break;
		case O_SESSIONS:
			r |= opt_uint("max-sessions", "lmtp_max_sessions",
			    optarg, &set->max_sessions);
			break;
		case O_WORKERS:
			r |= opt_uint("workers", "lmtp_workers", optarg,
			    &set->workers);
			break;
		case O_IDLE:
			r |= opt_uint("idle-timeout", "lmtp_idle_timeout",
			    optarg, &set->idle_timeout);
			break;
		case O_COMMAND:
			r |= opt_uint("command-timeout", "lmtp_command_timeout",
			    optarg, &set->command_timeout);
			break;
		case O_DATA:
			r |= opt_uint("data-timeout", "lmtp_data_timeout",
			    optarg, &set->data_timeout);
			break;
		case O_SESSION:
			r |= opt_uint("session-timeout", "lmtp_session_timeout",
			    optarg, &set->session_timeout);
			break;
		case O_SHUTDOWN:
			r |= opt_uint("shutdown-timeout",
			    "lmtp_shutdown_timeout", optarg, &set->shutdown_timeout);
			break;
		case O_RCPTS:
			r |= opt_uint("max-recipients", "lmtp_max_recipients",
			    optarg, &set->max_rcpts);
			break;
		case O_LINE:
			r |= opt_uint("max-line", "lmtp_max_line", optarg,
			    &u);
			set->max_line = u;
			break;
		case O_RECIPIENT:
			if (set->nrecipients == LMTP_LIST_MAX)
				r = -1;
			else
				set->recipients[set->nrecipients++] = optarg;
			break;
		case O_MAILDIR:
			if (set->nmaildirs == LMTP_LIST_MAX)
				r = -1;
			else
				set->maildirs[set->nmaildirs++] = optarg;
			break;
		default:
			if (cmd_common_opt(env, ch, optarg) == -1)
				r = -1;
			break;
		}
	}
	if (optind != argc)
		r = -1;
	return r;
}

/* One numeric setting: the command line's, else the file's, else def. */
static void
setting_pick(unsigned *v, uint64_t file, unsigned def)
{
	if (*v == LMTP_UNSET)
		*v = file != 0 ? (unsigned)file : def;
}

/* A list setting, when the command line gave none; -1 when too long. */
static int
setting_list(const char **items, unsigned *n, unsigned max, const char *file,
    char **copy_r, const char *name)
{
	int	k;

	if (*n > 0)
		return 0;
	if ((k = conf_list(file, items, max, copy_r)) == -1) {
		log_warnx("%s: more than %u items", name, max);
		return -1;
	}
	*n = k;
	return 0;
}

/* Completes set from dmarcd.conf and the defaults; -1 on a bad value. */
static int
lmtp_settings_apply(struct lmtp_settings *set, const struct conf *c)
{
	unsigned	line = (unsigned)set->max_line;
	char		*end;

	if (set->socket_mode == LMTP_UNSET_MODE) {
		set->socket_mode = 0660;
		if (c->lmtp_socket_mode != NULL) {
			set->socket_mode = strtoul(c->lmtp_socket_mode, &end, 8);
			if (*end != '\0' || set->socket_mode > 0777) {
				log_warnx("lmtp_socket_mode: not an octal mode: "
				    "%s", c->lmtp_socket_mode);
				return -1;
			}
		}
	}
	if (set->user == NULL)
		set->user = c->lmtp_user;
	setting_pick(&set->max_sessions, c->lmtp_max_sessions, 100);
	setting_pick(&set->workers, c->lmtp_workers, 4);
	/* RFC 5321 4.5.3.2.7: five minutes between commands */
	setting_pick(&set->idle_timeout, c->lmtp_idle_timeout, 300);
	setting_pick(&set->command_timeout, c->lmtp_command_timeout, 300);
	setting_pick(&set->data_timeout, c->lmtp_data_timeout, 600);
	setting_pick(&set->session_timeout, c->lmtp_session_timeout, 3600);
	setting_pick(&set->shutdown_timeout, c->lmtp_shutdown_timeout, 30);
	setting_pick(&set->max_rcpts, c->lmtp_max_recipients, 100);
	setting_pick(&line, c->lmtp_max_line, 1000);
	set->max_line = line;
	if (setting_list(set->listen, &set->nlisten, LMTP_LISTEN_MAX,
	    c->lmtp_listen, &set->listen_copy, "lmtp_listen") == -1 ||
	    setting_list(set->recipients, &set->nrecipients, LMTP_LIST_MAX,
	    c->lmtp_recipients, &set->recipients_copy, "lmtp_recipients") == -1 ||
	    setting_list(set->maildirs, &set->nmaildirs, LMTP_LIST_MAX,
	    c->watch_maildirs, &set->maildirs_copy, "watch_maildirs") == -1)
		return -1;
	if (set->nlisten == 0)
		set->listen[set->nlisten++] = LMTP_DEFAULT_LISTEN;
	return 0;
}

/* What cmd_lmtp holds before it serves, let go on a start that failed. */
static void
lmtp_undo(struct daemon *d, struct lmtp_settings *set)
{
	runconf_unref(d->rc);
	d->rc = NULL;
	free(set->listen_copy);
	free(set->recipients_copy);
	free(set->maildirs_copy);
}

int
cmd_lmtp(int argc, char **argv)
{
	struct lmtp_settings	 set;
	struct cmd_env		 env;
	struct daemon		 d;
	struct epoll_event	 ev;
	struct passwd		*pw = NULL;
	struct db		*db = NULL;
	sigset_t		 mask;
	char			 err[1024];
	const char		*user;
	unsigned		 i;
	int			 r;

	memset(&env, 0, sizeof(env));
	if (lmtp_options(argc, argv, &set, &env) == -1) {
		lmtp_usage();
		return EXIT_USAGE;
	}
	log_init("dmarcd", set.syslog, set.verbose);
	memset(&d, 0, sizeof(d));
	d.set = &set;
	d.cb.rcpt = session_rcpt;
	d.cb.deliver = session_deliver;
	pthread_mutex_init(&d.mu, NULL);
	pthread_mutex_init(&d.open_mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	d.queue_tail = &d.queue;
	d.watch_stopfd = -1;
	if ((d.rc = runconf_load(env.conf_file, env.db_url, 1)) == NULL)
		return EXIT_CONFIG;
	if (lmtp_settings_apply(&set, &d.rc->env.conf) == -1) {
		lmtp_undo(&d, &set);
		return EXIT_CONFIG;
	}
	if (gethostname(d.hostname, sizeof(d.hostname) - 1) == -1 ||
	    *d.hostname == '\0')
		snprintf(d.hostname, sizeof(d.hostname), "localhost");
	d.id_base = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);

	/* root binds, then becomes the configured user */
	if (geteuid() == 0) {
		user = set.user != NULL ? set.user : LMTP_DEFAULT_USER;
		if ((pw = getpwnam(user)) == NULL) {
			log_warnx("user %s does not exist: create it or give "
			    "--user", user);
			lmtp_undo(&d, &set);
			return EXIT_CONFIG;
		}
	}
	for (i = 0; i < set.nlisten; i++) {
		if (listen_on(&d, set.listen[i], &d.listeners[i], pw) == -1) {
			stop_listening(&d);
			lmtp_undo(&d, &set);
			return EXIT_CONFIG;
		}
		d.nlisteners++;
	}
	if (!set.foreground) {
		if (daemon(0, 0) == -1)
			fatalx("daemon: %s", strerror(errno));
		log_init("dmarcd", true, set.verbose);
	}
	drop_privileges(pw);

	agg_global_init();
	unpack_global_init();
	/* migrations and the embedded cluster now, not in the first
	 * delivery; a database that is down only means 451 until it is up */
	r = db_open(&d.rc->env.dbc, true, &db, err, sizeof(err));
	if (r == DB_EPERM) {
		log_warnx("%s", err);
		stop_listening(&d);
		return EXIT_FAIL;
	}
	if (r == DB_ETEMP)
		log_warnx("database unavailable, deliveries get 451 until it "
		    "is back: %s", err);
	db_close(&db);

	/* signals arrive through the loop; the threads never see them */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((d.ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (d.donefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatalx("epoll/signalfd/eventfd: %s", strerror(errno));
	d.sig_tag.kind = EV_SIGNAL;
	d.done_tag.kind = EV_DONE;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &d.sig_tag;
	epoll_ctl(d.ep, EPOLL_CTL_ADD, d.sigfd, &ev);
	ev.data.ptr = &d.done_tag;
	epoll_ctl(d.ep, EPOLL_CTL_ADD, d.donefd, &ev);
	for (i = 0; i < d.nlisteners; i++) {
		ev.data.ptr = &d.listeners[i].tag;
		if (epoll_ctl(d.ep, EPOLL_CTL_ADD, d.listeners[i].fd,
		    &ev) == -1)
			fatalx("epoll_ctl: %s", strerror(errno));
		log_info("listening on %s", d.listeners[i].name);
	}
	daemon_start_threads(&d);

	event_loop(&d);

	daemon_stop_threads(&d);
	log_info("stopped");
	stop_listening(&d);
	for (i = 0; i < d.nlisteners; i++)
		free(d.listeners[i].unix_path);
	close(d.ep);
	close(d.sigfd);
	close(d.donefd);
	runconf_unref(d.rc);
	unpack_global_deinit();
	free(set.listen_copy);
	free(set.recipients_copy);
	free(set.maildirs_copy);
	return EXIT_OK;
}

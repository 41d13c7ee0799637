/*
 * cmd_lmtp.c - `dmarcd lmtp`: its options and settings, and main, which
 * binds the listeners, drops privileges, starts the threads and runs the
 * event loop.  The daemon's parts are files of their own (lmtp_daemon.h):
 * lmtp_listen.c (listeners, privilege drop), lmtp_session.c (the event
 * loop and the sessions), lmtp_pool.c (the delivery threads),
 * lmtp_watch.c (the Maildir watcher), rollup_folder.c (the rollups) and
 * lmtp_metrics.c (the counters and their /metrics listener).
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"
#include "lmtp.h"
#include "conf.h"
#include "dmarcd.h"
#include "lmtp_daemon.h"

static void
lmtp_usage(void)
{
	fprintf(stderr, "usage: dmarcd lmtp [-v] [-f FILE] [--db URL] "
	    "[--listen unix:PATH|HOST:PORT]...\n"
	    "\t[--foreground] [--syslog] [OPTION]...\n"
	    "(dmarcd lmtp --help lists the options)\n");
}

enum { O_FOREGROUND = 256, O_SYSLOG };

/* Parses argv into set and env (the settings' options go to env, for
 * cmd_env_load); -1 on a usage error. */
static int
lmtp_options(int argc, char **argv, struct lmtp_settings *set,
    struct cmd_env *env)
{
	static const struct option own[] = {
		{ "db", required_argument, NULL, 'D' },
		{ "foreground", no_argument, NULL, O_FOREGROUND },
		{ "syslog", no_argument, NULL, O_SYSLOG },
		{ NULL, 0, NULL, 0 },
	};
	struct option	longopts[32];
	int		ch, r = 0;

	memset(set, 0, sizeof(*set));
	conf_longopts("lmtp", own, longopts, nitems(longopts));
	while ((ch = getopt_long(argc, argv, "f:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			set->verbose++;
			break;
		case O_FOREGROUND:
			set->foreground = true;
			break;
		case O_SYSLOG:
			set->syslog = true;
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

/* A list setting: the command line's items, else the file's.  Returns 0,
 * or the exit status when there are too many (a usage error when the
 * command line gave them). */
static int
setting_list(const struct cmd_env *env, const char *name, const char *file,
    const char **items, unsigned *n, unsigned max, char **copy_r)
{
	int	k;

	if ((k = conf_arg_list(env, name, items, max)) == -1) {
		log_warnx("%s: more than %u on the command line", name, max);
		return EXIT_USAGE;
	}
	if (k == 0 && (k = conf_list(file, items, max, copy_r)) == -1) {
		log_warnx("%s: more than %u items", name, max);
		return EXIT_CONFIG;
	}
	*n = k;
	return 0;
}

/* Completes set from the settings (the command line's over the file's,
 * over the defaults: cmd_env_load); 0, else the exit status. */
static int
lmtp_settings_apply(struct lmtp_settings *set, const struct cmd_env *env)
{
	const struct conf	*c = &env->conf;
	int			 rc;

	/* copied, not read from the runconf: a SIGHUP does not change what
	 * the listeners and the event loop were started with */
	set->socket_mode = c->lmtp_socket_mode;
	set->user = c->lmtp_user;
	set->max_sessions = c->lmtp_max_sessions;
	set->workers = c->lmtp_workers;
	set->idle_timeout = c->lmtp_idle_timeout;
	set->command_timeout = c->lmtp_command_timeout;
	set->data_timeout = c->lmtp_data_timeout;
	set->session_timeout = c->lmtp_session_timeout;
	set->shutdown_timeout = c->lmtp_shutdown_timeout;
	set->max_rcpts = c->lmtp_max_recipients;
	set->max_line = c->lmtp_max_line;
	set->metrics_listen = c->lmtp_metrics_listen;
	if ((rc = setting_list(env, "lmtp_listen", c->lmtp_listen,
	    set->listen, &set->nlisten, LMTP_LISTEN_MAX,
	    &set->listen_copy)) != 0 ||
	    (rc = setting_list(env, "lmtp_recipients", c->lmtp_recipients,
	    set->recipients, &set->nrecipients, LMTP_LIST_MAX,
	    &set->recipients_copy)) != 0 ||
	    (rc = setting_list(env, "watch_maildirs", c->watch_maildirs,
	    set->maildirs, &set->nmaildirs, LMTP_LIST_MAX,
	    &set->maildirs_copy)) != 0)
		return rc;
	if (set->nlisten == 0) {
		log_warnx("lmtp_listen: nothing to listen on");
		return EXIT_CONFIG;
	}
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
	d.cb.reply = lmtp_metrics_reply;
	lmtp_metrics_init(&d.metrics);
	pthread_mutex_init(&d.mu, NULL);
	pthread_mutex_init(&d.open_mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	d.queue_tail = &d.queue;
	d.watch_stopfd = -1;
	if ((r = runconf_load(&env, 1, &d.rc)) != 0)
		return r;
	if ((r = lmtp_settings_apply(&set, &d.rc->env)) != 0) {
		lmtp_undo(&d, &set);
		return r;
	}
	if (gethostname(d.hostname, sizeof(d.hostname) - 1) == -1 ||
	    *d.hostname == '\0')
		snprintf(d.hostname, sizeof(d.hostname), "localhost");
	d.id_base = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);

	/* root binds, then becomes the configured user */
	if (geteuid() == 0) {
		user = set.user;
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
	if (lmtp_metrics_bind(&d) == -1) {
		stop_listening(&d);
		lmtp_undo(&d, &set);
		return EXIT_CONFIG;
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
	lmtp_metrics_start(&d);

	event_loop(&d);

	lmtp_metrics_stop(&d);
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

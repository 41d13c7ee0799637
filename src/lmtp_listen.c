/*
 * lmtp_listen.c - `dmarcd lmtp`'s listeners and privilege drop: binds
 * every --listen address (unix sockets with their mode, owner and missing
 * directory; TCP), closes them at shutdown, and becomes the configured user
 * once they are bound.  Runs at start-up and in the event loop's thread;
 * touches only d->listeners and d->set.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <sys/epoll.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "lmtp_daemon.h"

void
stop_listening(struct daemon *d)
{
	unsigned	i;

	for (i = 0; i < d->nlisteners; i++) {
		if (d->listeners[i].fd == -1)
			continue;
		epoll_ctl(d->ep, EPOLL_CTL_DEL, d->listeners[i].fd, NULL);
		close(d->listeners[i].fd);
		d->listeners[i].fd = -1;
		if (d->listeners[i].unix_path != NULL)
			unlink(d->listeners[i].unix_path);
	}
}

/* Creates a unix socket's missing directory (one level, like systemd's
 * RuntimeDirectory), handed to the user the daemon becomes, so that a
 * plain `dmarcd lmtp` works on a fresh /run. */
static int
lmtp_socket_dir(const char *path, const struct passwd *pw)
{
	char	dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750) == -1)
		return errno == EEXIST ? 0 : -1;
	if (pw != NULL && chown(dir, pw->pw_uid, pw->pw_gid) == -1)
		return -1;
	return 0;
}

/* Binds one --listen address: "unix:PATH", "/PATH", "HOST:PORT",
 * "[V6]:PORT" or "PORT" (loopback). */
int
listen_on(struct daemon *d, const char *spec, struct listener *l,
    const struct passwd *pw)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_un	 sun;
	struct stat		 sb;
	char			 host[256];
	const char		*path = NULL, *port;
	char			*end;
	int			 fd = -1, one = 1, r;

	memset(l, 0, sizeof(*l));
	l->tag.kind = EV_LISTENER;
	l->fd = -1;
	snprintf(l->name, sizeof(l->name), "%s", spec);
	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (spec[0] == '/')
		path = spec;
	if (path != NULL) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof(sun.sun_path)) {
			log_warnx("%s: socket path too long", spec);
			return -1;
		}
		strcpy(sun.sun_path, path);
		if (lmtp_socket_dir(path, pw) == -1) {
			log_warnx("%s: cannot create its directory: %s", spec,
			    strerror(errno));
			return -1;
		}
		if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
			log_warnx("%s: exists and is not a socket", spec);
			return -1;
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			goto fail;
		/* a socket left by a dead daemon is removed; a live one is
		 * not taken over */
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
		    errno == EAGAIN) {
			log_warnx("%s: another server is listening there",
			    spec);
			close(fd);
			return -1;
		}
		close(fd);
		unlink(path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1 ||
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    chmod(path, d->set->socket_mode) == -1 ||
		    (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) == -1) ||
		    listen(fd, 128) == -1)
			goto fail;
		if ((l->unix_path = strdup(path)) == NULL)
			fatalx("out of memory");
		l->fd = fd;
		return 0;
	}

	if (spec[0] == '[') {
		snprintf(host, sizeof(host), "%s", spec + 1);
		if ((end = strstr(host, "]:")) == NULL) {
			log_warnx("%s: expected [ADDRESS]:PORT", spec);
			return -1;
		}
		*end = '\0';
		port = end + 2;
	} else if ((port = strrchr(spec, ':')) != NULL) {
		snprintf(host, sizeof(host), "%.*s", (int)(port - spec), spec);
		port++;
	} else {
		snprintf(host, sizeof(host), "127.0.0.1");
		port = spec;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0) {
		log_warnx("%s: %s", spec, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		goto fail;
	l->fd = fd;
	return 0;
fail:
	log_warnx("%s: %s", spec, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

void
drop_privileges(const struct passwd *pw)
{
	if (pw == NULL)
		return;
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatalx("cannot become %s: %s", pw->pw_name, strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) != -1)
		fatalx("could regain root after dropping it");
	log_info("running as %s", pw->pw_name);
}


/*
 * summary_mail.c - the summary as a mail (GMime): multipart/alternative,
 * text first and HTML last (the last is the preferred one), each 7bit when
 * it can be and quoted-printable when not, and its hand-over to the
 * system's sendmail.
 *
 * Header injection: the Subject holds report data (domain names) but only
 * after str_escape() removed every control character, and GMime encodes
 * the rest; addresses come from the operator and are parsed by GMime.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "summary.h"

#define MAIL_MAX_RCPTS		100	/* recipients of one summary */
#define MAIL_ADDR_MAX		998	/* bytes of one address */
#define SENDMAIL_EX_TEMPFAIL	75	/* EX_TEMPFAIL */

/* Parses an operator's address list, the setting named setting, into
 * mailboxes (groups flattened); NULL when it holds none or one that could
 * pass as an option. */
static InternetAddressList *
mail_addresses(const char *s, char *err, size_t errlen, const char *setting)
{
	InternetAddressList	*l;
	InternetAddress		*a;
	const char		*addr;
	int			 i, n;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "%s is not set (in dmarcd.conf%s)",
		    setting, strcmp(setting, "summary_to") == 0 ?
		    ", or use --to" : "");
		return NULL;
	}
	if ((l = internet_address_list_parse(NULL, s)) == NULL ||
	    (n = internet_address_list_length(l)) == 0) {
		if (l != NULL)
			g_object_unref(l);
		snprintf(err, errlen, "%s: no valid address", setting);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		a = internet_address_list_get_address(l, i);
		if (!INTERNET_ADDRESS_IS_MAILBOX(a))
			continue;
		addr = internet_address_mailbox_get_idn_addr(
		    INTERNET_ADDRESS_MAILBOX(a));
		if (addr == NULL || *addr == '\0' || *addr == '-' ||
		    strchr(addr, '@') == NULL ||
		    strlen(addr) > MAIL_ADDR_MAX ||
		    strpbrk(addr, "\r\n\t ") != NULL) {
			g_object_unref(l);
			snprintf(err, errlen, "%s: a bad address (none may "
			    "start with '-' or hold blanks)", setting);
			return NULL;
		}
	}
	return l;
}

/* Appends the mailboxes of l (groups flattened) to argv from *n. */
static int
mail_rcpts(InternetAddressList *l, const char **argv, size_t *n,
    size_t max)
{
	InternetAddress	*a;
	int		 i;

	for (i = 0; i < internet_address_list_length(l); i++) {
		a = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(a)) {
			if (mail_rcpts(internet_address_group_get_members(
			    INTERNET_ADDRESS_GROUP(a)), argv, n, max) == -1)
				return -1;
			continue;
		}
		if (*n >= max)
			return -1;
		argv[(*n)++] = internet_address_mailbox_get_idn_addr(
		    INTERNET_ADDRESS_MAILBOX(a));
	}
	return 0;
}

static GMimeObject *
mail_text_part(const char *subtype, const char *text)
{
	GMimeTextPart	*tp;

	tp = g_mime_text_part_new_with_subtype(subtype);
	g_mime_text_part_set_text(tp, text);
	/* 7bit when it can (readable raw, in a terminal), else
	 * quoted-printable: any line length, any byte, through any relay */
	g_mime_part_set_content_encoding(GMIME_PART(tp),
	    g_mime_part_get_best_content_encoding(GMIME_PART(tp),
	    GMIME_ENCODING_CONSTRAINT_7BIT));
	return GMIME_OBJECT(tp);
}

void
mail_default_from(char *buf, size_t len)
{
	char	host[256];

	if (gethostname(host, sizeof(host)) == -1 || *host == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "dmarcd@%s", host);
}

void
mail_headers(GMimeMessage *msg, InternetAddressList *from)
{
	InternetAddress	*first;
	GDateTime	*now;
	const char	*fqdn = NULL, *at;
	char		*id;

	now = g_date_time_new_now_local();
	g_mime_message_set_date(msg, now);
	g_date_time_unref(now);
	/* the Message-ID names the sender's domain, not this host's */
	first = internet_address_list_length(from) > 0 ?
	    internet_address_list_get_address(from, 0) : NULL;
	if (first != NULL && INTERNET_ADDRESS_IS_MAILBOX(first) &&
	    (at = strrchr(internet_address_mailbox_get_idn_addr(
	    INTERNET_ADDRESS_MAILBOX(first)), '@')) != NULL)
		fqdn = at + 1;
	id = g_mime_utils_generate_message_id(fqdn);
	g_mime_message_set_message_id(msg, id);
	g_free(id);
	/* RFC 3834: no vacation replies, no bounces of bounces */
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted",
	    "auto-generated", NULL);
	g_mime_object_set_header(GMIME_OBJECT(msg), "MIME-Version", "1.0",
	    NULL);
}

int
mail_bytes(GMimeMessage *msg, char **msg_r, size_t *len_r, char *err,
    size_t errlen)
{
	GMimeStream	*mem;
	GByteArray	*bytes;
	int		 rc = -1;

	mem = g_mime_stream_mem_new();
	if (g_mime_object_write_to_stream(GMIME_OBJECT(msg), NULL, mem) == -1)
		snprintf(err, errlen, "mail: cannot write the message");
	else {
		bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		if ((*msg_r = malloc(bytes->len + 1)) == NULL)
			fatalx("out of memory");
		memcpy(*msg_r, bytes->data, bytes->len);
		(*msg_r)[bytes->len] = '\0';
		*len_r = bytes->len;
		rc = 0;
	}
	g_object_unref(mem);
	return rc;
}

int
summary_message(const struct summary *s, const struct summary_mail *m,
    char **msg_r, size_t *len_r, char *err, size_t errlen)
{
	InternetAddressList	*from, *to;
	GMimeMessage		*msg;
	GMimeMultipart		*alt;
	GMimeObject		*part;
	struct buf		 text, html, subject;
	int			 rc = -1;

	if ((from = mail_addresses(m->from, err, errlen, "summary_from")) ==
	    NULL)
		return -1;
	if ((to = mail_addresses(m->to, err, errlen, m->to_setting != NULL ?
	    m->to_setting : "summary_to")) == NULL) {
		g_object_unref(from);
		return -1;
	}
	buf_init(&text, SUMMARY_TEXT_CAP);
	buf_init(&html, SUMMARY_TEXT_CAP);
	buf_init(&subject, 4096);
	if (summary_render_text(s, &text) == -1 ||
	    summary_render_html(s, &html) == -1 ||
	    summary_subject(s, &subject) == -1) {
		snprintf(err, errlen, "summary: longer than %d bytes",
		    SUMMARY_TEXT_CAP);
		goto out;
	}

	msg = g_mime_message_new(TRUE);
	internet_address_list_append(g_mime_message_get_addresses(msg,
	    GMIME_ADDRESS_TYPE_FROM), from);
	internet_address_list_append(g_mime_message_get_addresses(msg,
	    GMIME_ADDRESS_TYPE_TO), to);
	g_mime_message_set_subject(msg, subject.data, "utf-8");
	mail_headers(msg, from);

	alt = g_mime_multipart_new_with_subtype("alternative");
	part = mail_text_part("plain", text.data);
	g_mime_multipart_add(alt, part);
	g_object_unref(part);
	part = mail_text_part("html", html.data);
	g_mime_multipart_add(alt, part);
	g_object_unref(part);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(alt));
	g_object_unref(alt);

	rc = mail_bytes(msg, msg_r, len_r, err, errlen);
	g_object_unref(msg);
out:
	g_object_unref(from);
	g_object_unref(to);
	buf_free(&text);
	buf_free(&html);
	buf_free(&subject);
	return rc;
}

/* Writes all of p to fd; -1 with errno. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
summary_sendmail(const struct summary_mail *m, const char *msg, size_t len,
    char *err, size_t errlen)
{
	InternetAddressList	*to;
	struct sigaction	 ign, old;
	const char		*argv[MAIL_MAX_RCPTS + 4];
	size_t			 argc = 0;
	pid_t			 pid;
	int			 fds[2], status, rc = -1, werr = 0;

	if ((to = mail_addresses(m->to, err, errlen, m->to_setting != NULL ?
	    m->to_setting : "summary_to")) == NULL)
		return -1;
	/* explicit recipients rather than -t: only the To: we were given,
	 * and none of them can be read as an option (mail_addresses) */
	argv[argc++] = m->sendmail;
	argv[argc++] = "-i";
	if (mail_rcpts(to, argv, &argc, MAIL_MAX_RCPTS + 2) == -1) {
		snprintf(err, errlen, "summary: more than %d recipients",
		    MAIL_MAX_RCPTS);
		goto out;
	}
	argv[argc] = NULL;
	if (pipe(fds) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	if (pid == 0) {
		if (dup2(fds[0], STDIN_FILENO) == -1)
			_exit(127);
		close(fds[0]);
		close(fds[1]);
		execv(m->sendmail, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(fds[0]);
	/* a sendmail that dies early must give EPIPE, not kill us */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	if (write_all(fds[1], msg, len) == -1)
		werr = errno;
	close(fds[1]);
	sigaction(SIGPIPE, &old, NULL);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			goto out;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && werr == 0)
		rc = 0;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		snprintf(err, errlen, "%s: cannot run it", m->sendmail);
	else if (WIFEXITED(status)) {
		snprintf(err, errlen, "%s exited with status %d%s%s",
		    m->sendmail, WEXITSTATUS(status), werr ? "; write: " : "",
		    werr ? strerror(werr) : "");
		if (WEXITSTATUS(status) == SENDMAIL_EX_TEMPFAIL)
			rc = DB_ETEMP;
	} else
		snprintf(err, errlen, "%s killed by signal %d", m->sendmail,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
	g_object_unref(to);
	return rc;
}

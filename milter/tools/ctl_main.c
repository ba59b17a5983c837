/*
 * ctl_main.c - authmilterctl: ask the running daemon over its control
 * socket (status, keys, domain, reload, check) and print the answer.
 *
 * The socket is -s's, else the conf's control_socket (its global part
 * only: included files are not read). One request line out, the answer
 * in ("ok" or "error", then the text), printed to stdout or stderr.
 * Exit: 0 ok, 1 the command failed (or a usage error), 2 no connection.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "policy/config.h"

#define CTL_DEFAULT_CONF SYSCONFDIR "/authmilter/authmilter.conf"
#define CTL_MAX_REQUEST 1024	/* the daemon's limit, newline included */
#define CTL_WAIT_SECONDS 30	/* an answer must come within (reload: more) */
#define CTL_RELOAD_SECONDS 330	/* the daemon waits 300 s for a reload */

/* ctl_usage - print usage and exit */
static void
ctl_usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: authmilterctl [-s SOCKET | -c FILE] COMMAND [ARG...]\n"
	    "  status [--json]                         the daemon's state\n"
	    "  keys [--state S] [--domain D] [--json]  every key and its DNS "
	    "state\n"
	    "  domain D                                D's configuration and "
	    "keys, which sign now\n"
	    "  reload                                  reload, print the "
	    "outcome\n"
	    "  check D                                 look D's key records up "
	    "again now\n"
	    "  -s SOCKET  the control socket (default: the conf's "
	    "control_socket)\n"
	    "  -c FILE    the configuration (default %s)\n", CTL_DEFAULT_CONF);
	exit(status);
}

/* ctl_socket_lines - the lines of conf text (changed) that set socket or control_socket, into out */
static void
ctl_socket_lines(char *text, struct buf *out)
{
	static const char *const names[] = { "socket", "control_socket" };
	char *line, *save = NULL, *p;
	size_t i, n;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		p = line + strspn(line, " \t");
		for (i = 0; i < 2; i++) {
			n = strlen(names[i]);
			if (strncmp(p, names[i], n) == 0
			    && p[n + strspn(p + n, " \t")] == '=')
				buf_printf(out, "%s\n", p);
		}
	}
}

/*
 * ctl_socket_from_conf - the control socket named by the conf at path
 * into sock; 0, 1 when it is off (none), -1 when the conf cannot be read
 * (why in err; sock is then the default's)
 */
static int
ctl_socket_from_conf(const char *path, char *sock, size_t len, char *err,
    size_t errlen)
{
	struct config_problems probs = { NULL, 0, 0 };
	struct config *c;
	int rc;

	struct buf text = BUF_INIT, mine = BUF_INIT;

	/* only socket and control_socket: an error elsewhere (the conf being
	 * edited) must not hide the socket of the daemon running */
	if (config_file_read(path, 0, &text, err, errlen) == 0) {
		buf_putc(&text, '\0');
		ctl_socket_lines(text.data, &mine);
		c = config_load_from(path, buf_cstr(&mine), NULL,
		    CONFIG_SKIP_KEYS | CONFIG_SKIP_INCLUDES, &probs, err, errlen);
	} else
		c = NULL;
	config_problems_free(&probs);
	buf_free(&text);
	buf_free(&mine);
	if (c == NULL) {
		(void)snprintf(sock, len, "%s/authmilter-control.sock",
		    CONFIG_CONTROL_DIR);
		return -1;
	}
	rc = config_control_path(c, sock, len);
	if (rc < 0)
		(void)snprintf(err, errlen, "%s: control_socket too long", path);
	config_free(c);
	return rc;
}

/* ctl_request - the words joined into one line; 0, or -1 (said on stderr) */
static int
ctl_request(char **argv, int argc, struct buf *line)
{
	const unsigned char *p;
	int i;

	for (i = 0; i < argc; i++) {
		for (p = (const unsigned char *)argv[i]; *p != '\0'; p++)
			if (*p <= ' ' || *p == 0x7f) {
				fprintf(stderr, "authmilterctl: argument \"%s\": "
				    "blanks and control characters cannot be "
				    "sent\n", argv[i]);
				return -1;
			}
		if (argv[i][0] == '\0') {
			fprintf(stderr, "authmilterctl: empty argument\n");
			return -1;
		}
		buf_printf(line, "%s%s", i ? " " : "", argv[i]);
	}
	buf_putc(line, '\n');
	if (line->len > CTL_MAX_REQUEST) {
		fprintf(stderr, "authmilterctl: request longer than %d bytes\n",
		    CTL_MAX_REQUEST);
		return -1;
	}
	return 0;
}

/* ctl_connect - a connection to the unix socket path; the fd, or -1 (errno) */
static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ctl_exchange - send line, read the whole answer into ans (until the daemon closes); 0 or -1 (said on stderr) */
static int
ctl_exchange(int fd, const struct buf *line, int seconds, struct buf *ans)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char chunk[8192];
	size_t off = 0;
	ssize_t n;
	time_t end = time(NULL) + seconds;
	int left;

	while (off < line->len) {
		n = send(fd, line->data + off, line->len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			break;		/* it answered already (a refusal): read it */
		if (n < 0) {
			fprintf(stderr, "authmilterctl: cannot send the request: "
			    "%s\n", strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	(void)shutdown(fd, SHUT_WR);	/* the request is complete */
	for (;;) {
		left = (int)(end - time(NULL));
		if (left <= 0 || poll(&pfd, 1, left * 1000) == 0) {
			fprintf(stderr, "authmilterctl: no answer within %d s\n",
			    seconds);
			return -1;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET && ans->len > 0)
			return 0;	/* closed with our request unread: the answer is in */
		if (n < 0) {
			fprintf(stderr, "authmilterctl: cannot read the answer: "
			    "%s\n", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		buf_append(ans, chunk, (size_t)n);
	}
}

/* ctl_print - the answer's body to stdout (ok) or stderr; the exit status */
static int
ctl_print(const struct buf *ans)
{
	const char *text = buf_cstr(ans);

	if (strncmp(text, "ok\n", 3) == 0) {
		fputs(text + 3, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (strncmp(text, "error\n", 6) == 0) {
		fprintf(stderr, "authmilterctl: %s", text + 6);
		if (ans->len > 6 && text[ans->len - 1] != '\n')
			fputc('\n', stderr);
		return 1;
	}
	fprintf(stderr, "authmilterctl: unexpected answer from the daemon%s\n",
	    ans->len == 0 ? " (none: it closed the connection)" : "");
	return 1;
}

int
main(int argc, char **argv)
{
	const char *conf = CTL_DEFAULT_CONF, *sock_opt = NULL;
	struct buf line = BUF_INIT, ans = BUF_INIT;
	char sock[PATH_MAX], err[1024] = "";
	int ch, fd, rc, conf_rc = 0, wait = CTL_WAIT_SECONDS;

	while ((ch = getopt(argc, argv, "+c:s:hV")) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 's': sock_opt = optarg; break;
		case 'V': printf("authmilterctl %s\n", PACKAGE_VERSION); return 0;
		case 'h': ctl_usage(0); break;
		default: ctl_usage(1);
		}
	}
	if (optind == argc)
		ctl_usage(1);
	log_init(LOG_DEST_STDERR, LOG_DAEMON, LOG_ERR);
	if (ctl_request(argv + optind, argc - optind, &line) != 0) {
		buf_free(&line);
		return 1;
	}
	if (strcmp(argv[optind], "reload") == 0 || strcmp(argv[optind], "check")
	    == 0)
		wait = CTL_RELOAD_SECONDS;
	if (sock_opt != NULL)
		(void)snprintf(sock, sizeof(sock), "%s", sock_opt);
	else if ((conf_rc = ctl_socket_from_conf(conf, sock, sizeof(sock), err,
	    sizeof(err))) == 1) {
		fprintf(stderr, "authmilterctl: the control socket is off "
		    "(control_socket = none in %s)\n", conf);
		buf_free(&line);
		return 2;
	}
	if ((fd = ctl_connect(sock)) < 0) {
		fprintf(stderr, "authmilterctl: cannot connect to %s: %s%s\n", sock,
		    strerror(errno), errno == EACCES ? " (root and the daemon's "
		    "group only)" : errno == ENOENT || errno == ECONNREFUSED
		    ? " (is authmilter running?)" : "");
		if (conf_rc < 0)
			fprintf(stderr, "authmilterctl: (the default socket: %s)\n",
			    err);
		buf_free(&line);
		return 2;
	}
	rc = ctl_exchange(fd, &line, wait, &ans) == 0 ? ctl_print(&ans) : 1;
	close(fd);
	buf_free(&line);
	buf_free(&ans);
	return rc;
}

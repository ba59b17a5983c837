/*
 * nullmilter.c - the smallest milter that does the protocol's work and
 * nothing else: the floor of what any milter costs per message.
 *
 * It negotiates what authmilter asks a verifying connection for (headers
 * and body without replies, leading spaces kept, no DATA or unknown
 * commands), reads every packet and answers end of message with accept.
 * One thread per connection, blocking reads into one buffer per thread;
 * nothing shared after start-up. Used by contrib/bench.sh for the
 * "ceiling" row of the inbound part.
 *
 * usage: nullmilter inet:PORT@127.0.0.1 | unix:PATH
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#define NM_MAX_PKT	(1u << 20)	/* more than a body chunk */

/* What a verifying authmilter connection asks for (callbacks.c). */
#define NM_PROT	(SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_BODY | \
	SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_EOH | SMFIP_NR_MAIL | \
	SMFIP_NR_RCPT | SMFIP_NOUNKNOWN | SMFIP_NODATA)
#define NM_ACTS	0x11		/* SMFIF_ADDHDRS | SMFIF_CHGHDRS (mfapi.h) */

/* nm_read - exactly n bytes; 0 done, -1 closed or error */
static int
nm_read(int fd, void *buf, size_t n)
{
	size_t off = 0;
	ssize_t got;

	while (off < n) {
		got = read(fd, (char *)buf + off, n - off);
		if (got > 0)
			off += (size_t)got;
		else if (got < 0 && errno == EINTR)
			continue;
		else
			return -1;
	}
	return 0;
}

/* nm_reply - one packet: command cmd with n bytes of data */
static int
nm_reply(int fd, char cmd, const void *data, size_t n)
{
	char pkt[64];
	uint32_t len = htonl((uint32_t)n + 1);

	if (n + 5 > sizeof(pkt))
		return -1;
	memcpy(pkt, &len, 4);
	pkt[4] = cmd;
	memcpy(pkt + 5, data, n);
	return write(fd, pkt, n + 5) == (ssize_t)(n + 5) ? 0 : -1;
}

/* nm_session - thread: serve one MTA connection until it quits */
static void *
nm_session(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint32_t len, neg[3];
	char *buf = malloc(NM_MAX_PKT);

	while (buf != NULL) {
		if (nm_read(fd, &len, 4) < 0)
			break;
		len = ntohl(len);
		if (len == 0 || len > NM_MAX_PKT || nm_read(fd, buf, len) < 0)
			break;
		switch (buf[0]) {
		case SMFIC_OPTNEG:
			neg[0] = htonl(SMFI_PROT_VERSION);
			neg[1] = htonl(NM_ACTS);
			neg[2] = htonl(NM_PROT);
			if (nm_reply(fd, SMFIC_OPTNEG, neg, sizeof(neg)) < 0)
				goto done;
			break;
		case SMFIC_BODYEOB:
			if (nm_reply(fd, SMFIR_ACCEPT, NULL, 0) < 0)
				goto done;
			break;
		case SMFIC_QUIT:
			goto done;
		case SMFIC_MACRO:
		case SMFIC_ABORT:
		case SMFIC_HEADER:
		case SMFIC_BODY:
		case SMFIC_CONNECT:
		case SMFIC_HELO:
		case SMFIC_MAIL:
		case SMFIC_RCPT:
		case SMFIC_EOH:
		case SMFIC_QUIT_NC:
			break;	/* no reply: negotiated away */
		default:	/* anything else gets a plain continue */
			if (nm_reply(fd, SMFIR_CONTINUE, NULL, 0) < 0)
				goto done;
			break;
		}
	}
done:
	free(buf);
	close(fd);
	return NULL;
}

/* nm_listen - a listening socket for SPEC, or exit */
static int
nm_listen(const char *spec)
{
	struct sockaddr_un sun;
	struct sockaddr_in sin;
	int fd, one = 1;

	if (strncmp(spec, "unix:", 5) == 0) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(spec + 5) >= sizeof(sun.sun_path))
			goto bad;
		memcpy(sun.sun_path, spec + 5, strlen(spec + 5) + 1);
		unlink(sun.sun_path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			goto fail;
	} else if (strncmp(spec, "inet:", 5) == 0) {
		const char *at = strchr(spec, '@');

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)atoi(spec + 5));
		if (inet_pton(AF_INET, at != NULL ? at + 1 : "127.0.0.1",
		    &sin.sin_addr) != 1)
			goto bad;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			goto fail;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			goto fail;
	} else
		goto bad;
	if (listen(fd, 1024) < 0)
		goto fail;
	return fd;
bad:
	fprintf(stderr, "nullmilter: want inet:PORT@ADDR or unix:PATH, not %s\n",
	    spec);
	exit(2);
fail:
	perror("nullmilter");
	exit(1);
}

/* nm_term - SIGTERM: a clean exit */
static void
nm_term(int sig)
{
	(void)sig;
	_exit(0);
}

int
main(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_t t;
	int lfd, fd, one = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: nullmilter inet:PORT@ADDR|unix:PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, nm_term);
	lfd = nm_listen(argv[1]);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("nullmilter: accept");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, &attr, nm_session,
		    (void *)(intptr_t)fd) != 0)
			close(fd);
	}
}

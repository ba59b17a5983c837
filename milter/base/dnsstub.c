/*
 * dnsstub.c - the key checks' stub resolver (dnsstub.h): UDP queries to
 * the forwarders, one reader thread, answers parsed here.
 *
 * Threading: every field below lock is shared between the callers and
 * the reader thread; the sockets and the server list are read-only after
 * dnsstub_new.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/dnsstub.h"
#include "base/log.h"
#include "base/xalloc.h"

#define DNSSTUB_SOCKS 4		/* sockets (source ports) per address family */
#define DNSSTUB_MAX_SERVERS 8	/* forwarders used */
#define DNSSTUB_STRIKES 3	/* unanswered queries in a row: next server */
#define DNSSTUB_EDNS 1232	/* the UDP answer size we offer (EDNS0) */
#define DNSSTUB_BATCH 32	/* datagrams a recvmmsg */
#define DNSSTUB_MAX_CNAMES 8	/* CNAME hops followed in an answer */
#define DNSSTUB_POINTERS 64	/* compression pointers followed in a name */
#define DNS_T_CNAME 5
#define DNS_T_OPT 41

enum dnsstub_state {
	DNSSTUB_WAIT,		/* sent, no answer yet */
	DNSSTUB_DONE,		/* answered: r holds it */
	DNSSTUB_FALLBACK,	/* truncated: asked again through fb */
};

struct dnsstub_query {
	struct dnsstub *s;
	uint16_t id;
	int sock;			/* index in s->fd */
	int server;			/* index in s->srv */
	unsigned char qname[256];	/* the name, wire form, lower case */
	size_t qlen;
	char name[256];			/* as asked (for the fallback) */
	int rrtype;
	void (*notify)(void *);
	void *arg;
	enum dnsstub_state state;	/* s->lock */
	struct dns_result r;		/* DONE: the answer (s->lock) */
	struct dns_query *fb;		/* FALLBACK: the fallback's query */
	struct timespec sent;
};

struct dnsstub {
	int fd[2 * DNSSTUB_SOCKS];	/* DNSSTUB_SOCKS per family used */
	int fam[2 * DNSSTUB_SOCKS];	/* each one's family */
	int nfd;
	struct sockaddr_storage srv[DNSSTUB_MAX_SERVERS];
	socklen_t srvlen[DNSSTUB_MAX_SERVERS];
	int nsrv;
	int timeout_ms;
	struct dns *fallback;		/* borrowed, may be NULL */
	int wake[2];			/* a byte: the reader thread stops */
	pthread_t tid;
	pthread_mutex_t lock;		/* guards what follows */
	struct dnsstub_query **slot;	/* by ID: 65,536 */
	int cur;			/* the server asked now */
	int strikes;			/* its unanswered queries in a row */
	uint64_t rnd;			/* xorshift state for IDs and sockets */
};

/* dnsstub_random - the next pseudo-random number (s->lock) */
static uint64_t
dnsstub_random(struct dnsstub *s)
{
	uint64_t x = s->rnd;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rnd = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* dnsstub_wire - name in wire form, lower case, into out (256 bytes); its length, or 0 if it is no DNS name */
static size_t
dnsstub_wire(const char *name, unsigned char *out)
{
	size_t n = 0, lab;
	const char *p = name, *dot;

	if (*p == '\0' || strcmp(p, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	while (*p != '\0') {
		dot = strchr(p, '.');
		lab = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (lab == 0 || lab > 63 || n + lab + 2 > 255)
			return 0;
		out[n++] = (unsigned char)lab;
		for (; lab > 0; lab--, p++) {
			unsigned char c = (unsigned char)*p;

			out[n++] = c >= 'A' && c <= 'Z' ? c + 32 : c;
		}
		if (*p == '.')
			p++;
	}
	out[n++] = 0;
	return n;
}

/*
 * dnsstub_name - the name at *off of pkt, decompressed, in wire form and
 * lower case, into out (256 bytes); *off moves past it. Its length, or 0
 * if it is malformed.
 */
static size_t
dnsstub_name(const unsigned char *pkt, size_t len, size_t *off,
    unsigned char *out)
{
	size_t p = *off, n = 0, lab, i;
	int jumps = 0, jumped = 0;

	for (;;) {
		if (p >= len)
			return 0;
		lab = pkt[p];
		if ((lab & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++jumps > DNSSTUB_POINTERS)
				return 0;
			if (!jumped)
				*off = p + 2;
			jumped = 1;
			p = (lab & 0x3f) << 8 | pkt[p + 1];
			continue;
		}
		if ((lab & 0xc0) != 0)
			return 0;	/* extended label types */
		if (lab == 0)
			break;
		if (p + 1 + lab > len || n + lab + 2 > 255)
			return 0;
		out[n++] = (unsigned char)lab;
		for (i = 0; i < lab; i++) {
			unsigned char c = pkt[p + 1 + i];

			out[n++] = c >= 'A' && c <= 'Z' ? c + 32 : c;
		}
		p += 1 + lab;
	}
	out[n++] = 0;
	if (!jumped)
		*off = p + 1;
	return n;
}

/* dnsstub_get16 - a big-endian 16-bit number */
static unsigned int
dnsstub_get16(const unsigned char *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

/* One resource record of the answer section, located. */
struct dnsstub_rr {
	unsigned char owner[256];
	size_t ownerlen;
	unsigned int type, class;
	unsigned long ttl;
	size_t rdata, rdlen;		/* offset and length in the packet */
};

/* dnsstub_rrs - locate the first n records at *off; 0 or -1 if malformed */
static int
dnsstub_rrs(const unsigned char *pkt, size_t len, size_t *off,
    struct dnsstub_rr *rr, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		rr[i].ownerlen = dnsstub_name(pkt, len, off, rr[i].owner);
		if (rr[i].ownerlen == 0 || *off + 10 > len)
			return -1;
		rr[i].type = dnsstub_get16(pkt + *off);
		rr[i].class = dnsstub_get16(pkt + *off + 2);
		rr[i].ttl = (unsigned long)dnsstub_get16(pkt + *off + 4) << 16
		    | dnsstub_get16(pkt + *off + 6);
		rr[i].rdlen = dnsstub_get16(pkt + *off + 8);
		rr[i].rdata = *off + 10;
		*off += 10 + rr[i].rdlen;
		if (*off > len)
			return -1;
	}
	return 0;
}

int
dnsstub_parse(const unsigned char *pkt, size_t len, const char *name,
    int rrtype, struct dns_result *r, int *tc)
{
	unsigned char want[256], qn[256], target[256];
	size_t wantlen, qnlen, targetlen, off = 12, i, an, n = 0;
	struct dnsstub_rr *rr = NULL;
	unsigned int flags, hops;
	unsigned long ttl = 0;
	int changed, rc = -1;

	*tc = 0;
	if (len < 12 || (wantlen = dnsstub_wire(name, want)) == 0)
		return -1;
	flags = dnsstub_get16(pkt + 2);
	if (!(flags & 0x8000) || (flags & 0x7800) != 0
	    || dnsstub_get16(pkt + 4) != 1)
		return -1;		/* no answer, another opcode */
	qnlen = dnsstub_name(pkt, len, &off, qn);
	if (qnlen != wantlen || memcmp(qn, want, wantlen) != 0 || off + 4 > len
	    || dnsstub_get16(pkt + off) != (unsigned int)rrtype
	    || dnsstub_get16(pkt + off + 2) != 1)
		return -1;		/* another question */
	off += 4;
	memset(r, 0, sizeof(*r));
	r->rcode = (int)(flags & 0x0f);
	if (flags & 0x0200) {
		*tc = 1;
		r->status = DNS_TEMPFAIL;
		return 0;
	}
	an = dnsstub_get16(pkt + 6);
	if (an > 0) {
		rr = xcalloc(an, sizeof(*rr));
		if (dnsstub_rrs(pkt, len, &off, rr, an) != 0)
			goto out;
	}
	/* the CNAME chain from the name asked, in any order */
	memcpy(target, want, wantlen);
	targetlen = wantlen;
	for (hops = 0, changed = 1; changed && hops < DNSSTUB_MAX_CNAMES;) {
		changed = 0;
		for (i = 0; i < an; i++) {
			size_t at = rr[i].rdata;

			if (rr[i].type != DNS_T_CNAME || rr[i].class != 1
			    || rr[i].ownerlen != targetlen
			    || memcmp(rr[i].owner, target, targetlen) != 0
			    || (unsigned int)rrtype == DNS_T_CNAME)
				continue;
			targetlen = dnsstub_name(pkt, rr[i].rdata + rr[i].rdlen,
			    &at, target);
			if (targetlen == 0)
				goto out;
			hops++;
			changed = 1;
			break;
		}
	}
	r->data = xcalloc(an ? an : 1, sizeof(*r->data));
	r->len = xcalloc(an ? an : 1, sizeof(*r->len));
	for (i = 0; i < an; i++) {
		if (rr[i].type != (unsigned int)rrtype || rr[i].class != 1
		    || rr[i].ownerlen != targetlen
		    || memcmp(rr[i].owner, target, targetlen) != 0)
			continue;
		r->data[n] = xmalloc(rr[i].rdlen ? rr[i].rdlen : 1);
		memcpy(r->data[n], pkt + rr[i].rdata, rr[i].rdlen);
		r->len[n] = rr[i].rdlen;
		if (n == 0 || rr[i].ttl < ttl)
			ttl = rr[i].ttl;
		n++;
	}
	r->n = n;
	r->ttl = ttl > 0x7fffffffUL ? 0x7fffffff : (int)ttl;
	if (r->rcode == 3)
		r->status = DNS_NXDOMAIN;
	else if (r->rcode != 0)
		r->status = DNS_TEMPFAIL;	/* SERVFAIL, REFUSED, ... */
	else
		r->status = n > 0 ? DNS_OK : DNS_NODATA;
	r->packet = xmalloc(len);
	memcpy(r->packet, pkt, len);
	r->packet_len = len;
	rc = 0;
out:
	if (rc != 0)
		dns_result_free(r);
	free(rr);
	return rc;
}

/* dnsstub_same_addr - is from the address of server i? */
static int
dnsstub_same_addr(const struct dnsstub *s, int i,
    const struct sockaddr_storage *from, socklen_t fromlen)
{
	const struct sockaddr_storage *a = &s->srv[i];

	if (from->ss_family != a->ss_family || fromlen < s->srvlen[i])
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)from;

		return x->sin_port == y->sin_port
		    && x->sin_addr.s_addr == y->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)from;

		return x->sin6_port == y->sin6_port
		    && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
}

/* dnsstub_fb_notify - the fallback's answer is in: pass it on */
static void
dnsstub_fb_notify(void *arg)
{
	struct dnsstub_query *q = arg;

	q->notify(q->arg);
}

/* dnsstub_got - one datagram on socket sock: the answer of a query waiting for it, or nothing */
static void
dnsstub_got(struct dnsstub *s, int sock, const unsigned char *pkt, size_t len,
    const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct dnsstub_query *q;
	enum dns_status st;
	int tc;

	if (len < 12)
		return;
	pthread_mutex_lock(&s->lock);
	q = s->slot[dnsstub_get16(pkt)];
	if (q == NULL || q->sock != sock
	    || !dnsstub_same_addr(s, q->server, from, fromlen)
	    || dnsstub_parse(pkt, len, q->name, q->rrtype, &q->r, &tc) != 0) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->slot[q->id] = NULL;
	if (q->server == s->cur)
		s->strikes = 0;
	if (tc && s->fallback != NULL) {
		dns_result_free(&q->r);
		q->fb = dns_query_start(s->fallback, q->name, q->rrtype,
		    dnsstub_fb_notify, q, &st);
		if (q->fb != NULL) {
			q->state = DNSSTUB_FALLBACK;
			pthread_mutex_unlock(&s->lock);
			return;
		}
		q->r.status = st;
	}
	q->state = DNSSTUB_DONE;
	q->notify(q->arg);
	pthread_mutex_unlock(&s->lock);
}

/* dnsstub_reader - the thread: read every socket's datagrams until told to stop */
static void *
dnsstub_reader(void *arg)
{
	struct dnsstub *s = arg;
	struct pollfd pfd[2 * DNSSTUB_SOCKS + 1];
	static const size_t bufsz = 4096;	/* past DNSSTUB_EDNS: cut, ignored */
	unsigned char *bufs = xmalloc(DNSSTUB_BATCH * bufsz);
	struct sockaddr_storage from[DNSSTUB_BATCH];
	struct mmsghdr mm[DNSSTUB_BATCH];
	struct iovec iov[DNSSTUB_BATCH];
	int i, j, got;

	for (i = 0; i < s->nfd; i++) {
		pfd[i].fd = s->fd[i];
		pfd[i].events = POLLIN;
	}
	pfd[s->nfd].fd = s->wake[0];
	pfd[s->nfd].events = POLLIN;
	for (;;) {
		if (poll(pfd, (nfds_t)s->nfd + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[s->nfd].revents != 0)
			break;
		for (i = 0; i < s->nfd; i++) {
			if (pfd[i].revents == 0)
				continue;
			do {
				for (j = 0; j < DNSSTUB_BATCH; j++) {
					iov[j].iov_base = bufs + (size_t)j * bufsz;
					iov[j].iov_len = bufsz;
					memset(&mm[j], 0, sizeof(mm[j]));
					mm[j].msg_hdr.msg_iov = &iov[j];
					mm[j].msg_hdr.msg_iovlen = 1;
					mm[j].msg_hdr.msg_name = &from[j];
					mm[j].msg_hdr.msg_namelen = sizeof(from[j]);
				}
				got = recvmmsg(s->fd[i], mm, DNSSTUB_BATCH,
				    MSG_DONTWAIT, NULL);
				for (j = 0; j < got; j++)
					dnsstub_got(s, i, iov[j].iov_base,
					    mm[j].msg_len, &from[j],
					    mm[j].msg_hdr.msg_namelen);
			} while (got == DNSSTUB_BATCH);
		}
	}
	free(bufs);
	return NULL;
}

/* dnsstub_server - parse "IP[@port]" into s->srv[s->nsrv]; 0 or -1 */
static int
dnsstub_server(struct dnsstub *s, const char *text)
{
	char host[INET6_ADDRSTRLEN + 1], *at, *end;
	struct sockaddr_in *v4 = (void *)&s->srv[s->nsrv];
	struct sockaddr_in6 *v6 = (void *)&s->srv[s->nsrv];
	unsigned long port = 53;

	if (strlen(text) >= sizeof(host))
		return -1;
	(void)snprintf(host, sizeof(host), "%s", text);
	if ((at = strchr(host, '@')) != NULL) {
		*at = '\0';
		errno = 0;
		port = strtoul(at + 1, &end, 10);
		if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
			return -1;
	}
	memset(&s->srv[s->nsrv], 0, sizeof(s->srv[s->nsrv]));
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		s->srvlen[s->nsrv] = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		s->srvlen[s->nsrv] = sizeof(*v6);
	} else
		return -1;
	s->nsrv++;
	return 0;
}

/* dnsstub_sockets - DNSSTUB_SOCKS sockets for family fam, each on a port of its own; 0 or -1 */
static int
dnsstub_sockets(struct dnsstub *s, int fam)
{
	struct sockaddr_storage any;
	int i, fd;

	for (i = 0; i < s->nfd; i++)
		if (s->fam[i] == fam)
			return 0;
	memset(&any, 0, sizeof(any));
	any.ss_family = (sa_family_t)fam;
	for (i = 0; i < DNSSTUB_SOCKS; i++) {
		fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (bind(fd, (struct sockaddr *)&any, fam == AF_INET
		    ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6))
		    != 0) {
			close(fd);
			return -1;
		}
		s->fam[s->nfd] = fam;
		s->fd[s->nfd++] = fd;
	}
	return 0;
}

struct dnsstub *
dnsstub_new(const char *const *servers, size_t nservers, int timeout_ms,
    struct dns *fallback, char *err, size_t errlen)
{
	struct dnsstub *s = xcalloc(1, sizeof(*s));
	char eb[128];
	size_t i;
	int rc;

	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	s->fallback = fallback;
	if (nservers == 0) {
		(void)snprintf(err, errlen, "no DNS servers to ask");
		goto fail;
	}
	for (i = 0; i < nservers && s->nsrv < DNSSTUB_MAX_SERVERS; i++)
		if (dnsstub_server(s, servers[i]) != 0) {
			(void)snprintf(err, errlen, "DNS server \"%s\" is no IP "
			    "address, optionally @port", servers[i]);
			goto fail;
		}
	for (i = 0; i < (size_t)s->nsrv; i++)
		if (dnsstub_sockets(s, s->srv[i].ss_family) != 0) {
			(void)snprintf(err, errlen, "DNS socket: %s",
			    log_errstr(errno, eb, sizeof(eb)));
			goto fail;
		}
	if (getrandom(&s->rnd, sizeof(s->rnd), 0) != sizeof(s->rnd))
		s->rnd = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s;
	s->rnd |= 1;
	s->slot = xcalloc(65536, sizeof(*s->slot));
	if (pipe2(s->wake, O_CLOEXEC) != 0) {
		(void)snprintf(err, errlen, "pipe: %s",
		    log_errstr(errno, eb, sizeof(eb)));
		goto fail;
	}
	if ((rc = pthread_create(&s->tid, NULL, dnsstub_reader, s)) != 0) {
		(void)snprintf(err, errlen, "cannot start the DNS reader "
		    "thread: %s", log_errstr(rc, eb, sizeof(eb)));
		goto fail;
	}
	return s;
fail:
	for (i = 0; i < (size_t)s->nfd; i++)
		close(s->fd[i]);
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	free(s->slot);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

void
dnsstub_free(struct dnsstub *s)
{
	int i;

	if (s == NULL)
		return;
	(void)!write(s->wake[1], "x", 1);
	pthread_join(s->tid, NULL);
	for (i = 0; i < s->nfd; i++)
		close(s->fd[i]);
	close(s->wake[0]);
	close(s->wake[1]);
	free(s->slot);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct dnsstub_query *
dnsstub_query_start(struct dnsstub *s, const char *name, int rrtype,
    void (*notify)(void *), void *arg, enum dns_status *status)
{
	struct dnsstub_query *q;
	unsigned char pkt[12 + 256 + 4 + 11];
	size_t n;
	uint64_t rnd;
	int i;

	if (strlen(name) >= sizeof(q->name)) {
		*status = DNS_ERROR;
		return NULL;
	}
	q = xcalloc(1, sizeof(*q));
	if ((q->qlen = dnsstub_wire(name, q->qname)) == 0) {
		free(q);
		*status = DNS_ERROR;
		return NULL;
	}
	(void)snprintf(q->name, sizeof(q->name), "%s", name);
	q->s = s;
	q->rrtype = rrtype;
	q->notify = notify;
	q->arg = arg;
	q->state = DNSSTUB_WAIT;
	pthread_mutex_lock(&s->lock);
	rnd = dnsstub_random(s);
	q->id = (uint16_t)rnd;
	for (i = 0; i < 65536 && s->slot[q->id] != NULL; i++)
		q->id++;
	if (i == 65536) {
		pthread_mutex_unlock(&s->lock);
		free(q);
		*status = DNS_TEMPFAIL;
		return NULL;
	}
	q->server = s->cur;
	/* a socket of the server's family, picked at random */
	for (i = (int)((rnd >> 16) % (uint64_t)s->nfd);
	    s->fam[i] != s->srv[q->server].ss_family; i = (i + 1) % s->nfd)
		;
	q->sock = i;
	memset(pkt, 0, 12);
	pkt[0] = (unsigned char)(q->id >> 8);
	pkt[1] = (unsigned char)q->id;
	pkt[2] = 0x01;			/* RD */
	pkt[5] = 1;			/* one question */
	pkt[11] = 1;			/* one additional: OPT */
	memcpy(pkt + 12, q->qname, q->qlen);
	n = 12 + q->qlen;
	pkt[n++] = (unsigned char)(rrtype >> 8);
	pkt[n++] = (unsigned char)rrtype;
	pkt[n++] = 0;
	pkt[n++] = 1;			/* IN */
	pkt[n++] = 0;			/* OPT: root owner */
	pkt[n++] = 0;
	pkt[n++] = DNS_T_OPT;
	pkt[n++] = DNSSTUB_EDNS >> 8;
	pkt[n++] = DNSSTUB_EDNS & 0xff;
	memset(pkt + n, 0, 6);		/* extended rcode, version, flags, rdlen */
	n += 6;
	clock_gettime(CLOCK_MONOTONIC, &q->sent);
	/* sent under the lock: its answer (on loopback, at once) finds it in
	 * its slot, and a query that could not be sent was never in one */
	if (sendto(s->fd[q->sock], pkt, n, 0, (struct sockaddr *)&s->srv[q->server],
	    s->srvlen[q->server]) != (ssize_t)n) {
		pthread_mutex_unlock(&s->lock);
		free(q);
		*status = DNS_TEMPFAIL;
		return NULL;
	}
	s->slot[q->id] = q;
	pthread_mutex_unlock(&s->lock);
	*status = DNS_OK;
	return q;
}

enum dns_status
dnsstub_query_finish(struct dnsstub_query *q, struct dns_result *r)
{
	struct dnsstub *s = q->s;
	struct dns_query *fb = NULL;
	struct timespec now;
	long long ms;

	pthread_mutex_lock(&s->lock);
	if (s->slot[q->id] == q)
		s->slot[q->id] = NULL;	/* no answer: cancelled */
	if (q->state == DNSSTUB_WAIT) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (long long)(now.tv_sec - q->sent.tv_sec) * 1000
		    + (now.tv_nsec - q->sent.tv_nsec) / 1000000;
		if (ms >= s->timeout_ms && q->server == s->cur
		    && ++s->strikes >= DNSSTUB_STRIKES) {
			log_info(NULL, "dns: key checks: no answers from the "
			    "server in use, trying the next one");
			s->cur = (s->cur + 1) % s->nsrv;
			s->strikes = 0;
		}
	}
	if (q->state == DNSSTUB_FALLBACK)
		fb = q->fb;
	pthread_mutex_unlock(&s->lock);
	if (fb != NULL) {
		/* finished first: its notify (dnsstub_fb_notify) reads q */
		(void)dns_query_finish(fb, r);
		free(q);
		return r->status;
	}
	if (q->state == DNSSTUB_DONE)
		*r = q->r;
	else {
		memset(r, 0, sizeof(*r));
		r->status = DNS_TEMPFAIL;
	}
	free(q);
	return r->status;
}

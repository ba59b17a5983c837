/*
 * test_dnsstub.c - the key checks' stub resolver: answers parsed (CNAME
 * chains in any order, case, rcodes, truncation) and hostile packets
 * refused (compression loops, pointers out of the packet, records cut
 * short, another question); and the stub itself against a responder
 * thread on a loopback UDP socket: an answer from the wrong ID or address
 * is not taken, the right one is, an unanswered query times out as
 * tempfail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/dnsstub.h"

#define T_TXT 16
#define T_CNAME 5

/* A packet under construction. */
struct pkt {
	unsigned char b[4096];
	size_t n;
};

static void
put16(struct pkt *p, unsigned int v)
{
	p->b[p->n++] = (unsigned char)(v >> 8);
	p->b[p->n++] = (unsigned char)v;
}

/* putname - a dotted name, uncompressed */
static void
putname(struct pkt *p, const char *name)
{
	const char *dot;
	size_t l;

	while (*name != '\0') {
		dot = strchr(name, '.');
		l = dot ? (size_t)(dot - name) : strlen(name);
		p->b[p->n++] = (unsigned char)l;
		memcpy(p->b + p->n, name, l);
		p->n += l;
		name += l + (dot != NULL);
	}
	p->b[p->n++] = 0;
}

/* head - header (id 0x1234, QR, RD, RA, flags | rcode) and the question */
static void
head(struct pkt *p, unsigned int flags, unsigned int an, const char *qname,
    unsigned int qtype)
{
	p->n = 0;
	put16(p, 0x1234);
	put16(p, 0x8180 | flags);
	put16(p, 1);
	put16(p, an);
	put16(p, 0);
	put16(p, 0);
	putname(p, qname);
	put16(p, qtype);
	put16(p, 1);
}

/* rr_txt - a TXT record (owner as a pointer to the question if NULL) holding text */
static void
rr_txt(struct pkt *p, const char *owner, unsigned long ttl, const char *text)
{
	size_t l = strlen(text);

	if (owner == NULL)
		put16(p, 0xc00c);
	else
		putname(p, owner);
	put16(p, T_TXT);
	put16(p, 1);
	put16(p, (unsigned int)(ttl >> 16));
	put16(p, (unsigned int)ttl);
	put16(p, (unsigned int)l + 1);
	p->b[p->n++] = (unsigned char)l;
	memcpy(p->b + p->n, text, l);
	p->n += l;
}

/* rr_cname - a CNAME record owner -> target */
static void
rr_cname(struct pkt *p, const char *owner, const char *target)
{
	size_t at;

	putname(p, owner);
	put16(p, T_CNAME);
	put16(p, 1);
	put16(p, 0);
	put16(p, 300);
	at = p->n;
	put16(p, 0);
	putname(p, target);
	p->b[at] = (unsigned char)((p->n - at - 2) >> 8);
	p->b[at + 1] = (unsigned char)(p->n - at - 2);
}

/* txt0 - record i of r as text */
static const char *
txt(const struct dns_result *r, size_t i, struct buf *b)
{
	assert_int_equal(dns_txt(r, i, b), 0);
	return buf_cstr(b);
}

/* dnsstub_answers_parsed - records, CNAME chains out of order, case, TTL, rcodes, truncation */
static void
dnsstub_answers_parsed(void **state)
{
	static const char q[] = "s1._domainkey.example.com";
	struct buf b = BUF_INIT;
	struct dns_result r;
	struct pkt p;
	int tc;

	(void)state;
	head(&p, 0, 2, q, T_TXT);
	rr_txt(&p, NULL, 300, "v=DKIM1; p=one");
	rr_txt(&p, "S1._DomainKey.Example.COM", 60, "v=DKIM1; p=two");
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), 0);
	assert_int_equal(tc, 0);
	assert_int_equal(r.status, DNS_OK);
	assert_int_equal(r.n, 2);
	assert_string_equal(txt(&r, 0, &b), "v=DKIM1; p=one");
	assert_string_equal(txt(&r, 1, &b), "v=DKIM1; p=two");
	assert_int_equal(r.ttl, 60);
	dns_result_free(&r);

	/* the chain q -> a -> b, listed b's record first, then b <- a, a <- q;
	 * a record of another owner is not taken */
	head(&p, 0, 5, q, T_TXT);
	rr_txt(&p, "b.esp.example", 300, "v=DKIM1; p=esp");
	rr_txt(&p, "other.example", 300, "v=DKIM1; p=no");
	rr_cname(&p, "a.esp.example", "b.esp.example");
	rr_cname(&p, q, "a.esp.example");
	rr_txt(&p, NULL, 300, "v=DKIM1; p=not-at-the-end");
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), 0);
	assert_int_equal(r.status, DNS_OK);
	assert_int_equal(r.n, 1);
	assert_string_equal(txt(&r, 0, &b), "v=DKIM1; p=esp");
	dns_result_free(&r);

	head(&p, 3, 0, q, T_TXT);
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), 0);
	assert_int_equal(r.status, DNS_NXDOMAIN);
	dns_result_free(&r);
	head(&p, 0, 0, q, T_TXT);
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), 0);
	assert_int_equal(r.status, DNS_NODATA);
	dns_result_free(&r);
	head(&p, 2, 0, q, T_TXT);	/* SERVFAIL */
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), 0);
	assert_int_equal(r.status, DNS_TEMPFAIL);
	dns_result_free(&r);
	head(&p, 5, 0, q, T_TXT);	/* REFUSED */
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), 0);
	assert_int_equal(r.status, DNS_TEMPFAIL);
	dns_result_free(&r);
	head(&p, 0x0200, 0, q, T_TXT);	/* TC: asked again elsewhere */
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), 0);
	assert_int_equal(tc, 1);
	assert_int_equal(r.status, DNS_TEMPFAIL);
	dns_result_free(&r);
	buf_free(&b);
}

/* dnsstub_hostile_packets_refused - none of these is taken as an answer, none crashes */
static void
dnsstub_hostile_packets_refused(void **state)
{
	static const char q[] = "s1._domainkey.example.com";
	struct dns_result r;
	struct pkt p;
	size_t cut;
	int tc;

	(void)state;
	/* another question, another type, a query (QR clear) */
	head(&p, 0, 0, "s2._domainkey.example.com", T_TXT);
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), -1);
	head(&p, 0, 0, q, 1);
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), -1);
	head(&p, 0, 0, q, T_TXT);
	p.b[2] &= 0x7f;
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), -1);
	/* an answer whose owner points at itself (a compression loop) */
	head(&p, 0, 1, q, T_TXT);
	put16(&p, 0xc000 | (unsigned int)p.n);
	put16(&p, T_TXT);
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), -1);
	/* a pointer past the end */
	head(&p, 0, 1, q, T_TXT);
	put16(&p, 0xcfff);
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), -1);
	/* a record whose rdata runs past the end, at every cut */
	head(&p, 0, 1, q, T_TXT);
	rr_txt(&p, NULL, 300, "v=DKIM1; p=abc");
	for (cut = 12; cut < p.n; cut++)
		assert_int_equal(dnsstub_parse(p.b, cut, q, T_TXT, &r, &tc), -1);
	/* more answers announced than there are */
	head(&p, 0, 3, q, T_TXT);
	rr_txt(&p, NULL, 300, "v=DKIM1; p=abc");
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), -1);
	/* a CNAME loop q -> q: no records, no hang */
	head(&p, 0, 1, q, T_TXT);
	rr_cname(&p, q, q);
	assert_int_equal(dnsstub_parse(p.b, p.n, q, T_TXT, &r, &tc), 0);
	assert_int_equal(r.status, DNS_NODATA);
	dns_result_free(&r);
	/* no name at all */
	assert_int_equal(dnsstub_parse(p.b, 5, q, T_TXT, &r, &tc), -1);
}

/* The responder: answers each query per its mode. */
enum mode { ANSWER, WRONG_ID_FIRST, SILENT };
static struct responder {
	int fd;
	int port;
	enum mode mode;
	int stop;
	int queries;
} rs;

/* responder - read queries, answer "v=DKIM1; p=ok" (after a wrong-ID one, if asked) */
static void *
responder(void *arg)
{
	unsigned char in[1500];
	struct sockaddr_in from;
	socklen_t fl;
	struct pollfd pfd;
	struct pkt p;
	ssize_t n;
	size_t qend;

	(void)arg;
	pfd.fd = rs.fd;
	pfd.events = POLLIN;
	while (!__atomic_load_n(&rs.stop, __ATOMIC_ACQUIRE)) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fl = sizeof(from);
		n = recvfrom(rs.fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
		if (n < 17)
			continue;
		__atomic_add_fetch(&rs.queries, 1, __ATOMIC_ACQ_REL);
		if (rs.mode == SILENT)
			continue;
		/* the question as asked: up to the end of QTYPE/QCLASS */
		for (qend = 12; qend < (size_t)n && in[qend] != 0; qend += in[qend] + 1)
			;
		qend += 5;
		memcpy(p.b, in, qend);
		p.n = qend;
		p.b[2] = 0x81;
		p.b[3] = 0x80;
		p.b[7] = 1;		/* one answer */
		p.b[11] = 0;		/* no OPT back */
		rr_txt(&p, NULL, 300, "v=DKIM1; p=ok");
		if (rs.mode == WRONG_ID_FIRST) {
			p.b[1] ^= 0x55;
			(void)sendto(rs.fd, p.b, p.n, 0, (struct sockaddr *)&from, fl);
			p.b[1] ^= 0x55;
		}
		(void)sendto(rs.fd, p.b, p.n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static pthread_mutex_t note_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t note_cv = PTHREAD_COND_INITIALIZER;
static int noted;

static void
note(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&note_lock);
	noted++;
	pthread_cond_signal(&note_cv);
	pthread_mutex_unlock(&note_lock);
}

/* wait_noted - up to ms for the notify; 1 if it came */
static int
wait_noted(int ms)
{
	struct timespec until;
	int got;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&note_lock);
	while (noted == 0 && pthread_cond_timedwait(&note_cv, &note_lock,
	    &until) == 0)
		;
	got = noted;
	noted = 0;
	pthread_mutex_unlock(&note_lock);
	return got > 0;
}

/* dnsstub_asks_and_takes_only_its_answer - a round trip; a wrong ID ignored; silence is tempfail */
static void
dnsstub_asks_and_takes_only_its_answer(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	char server[64], err[256];
	const char *servers[1] = { server };
	const char *bad[1] = { "ns.example.com" };
	struct dnsstub_query *q;
	struct buf b = BUF_INIT;
	struct dns_result r;
	struct dnsstub *s;
	enum dns_status st;
	pthread_t tid;
	enum mode m;

	(void)state;
	assert_null(dnsstub_new(bad, 1, 1000, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no IP address"));
	rs.fd = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(rs.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(rs.fd, (struct sockaddr *)&a, &al), 0);
	(void)snprintf(server, sizeof(server), "127.0.0.1@%d", ntohs(a.sin_port));
	assert_int_equal(pthread_create(&tid, NULL, responder, NULL), 0);
	s = dnsstub_new(servers, 1, 300, NULL, err, sizeof(err));
	assert_non_null(s);
	for (m = ANSWER; m <= WRONG_ID_FIRST; m++) {
		rs.mode = m;
		q = dnsstub_query_start(s, "s1._domainkey.example.com", T_TXT,
		    note, NULL, &st);
		assert_non_null(q);
		assert_true(wait_noted(5000));
		assert_int_equal(dnsstub_query_finish(q, &r), DNS_OK);
		assert_int_equal(r.n, 1);
		assert_int_equal(dns_txt(&r, 0, &b), 0);
		assert_string_equal(buf_cstr(&b), "v=DKIM1; p=ok");
		dns_result_free(&r);
	}
	rs.mode = SILENT;
	q = dnsstub_query_start(s, "s2._domainkey.example.com", T_TXT, note,
	    NULL, &st);
	assert_non_null(q);
	assert_false(wait_noted(400));
	assert_int_equal(dnsstub_query_finish(q, &r), DNS_TEMPFAIL);
	assert_int_equal(r.n, 0);
	/* a name that is no DNS name is refused at once */
	assert_null(dnsstub_query_start(s, "a..b", T_TXT, note, NULL, &st));
	assert_int_equal(st, DNS_ERROR);
	dnsstub_free(s);
	__atomic_store_n(&rs.stop, 1, __ATOMIC_RELEASE);
	pthread_join(tid, NULL);
	close(rs.fd);
	assert_int_equal(rs.queries, 3);
	buf_free(&b);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(dnsstub_answers_parsed),
		cmocka_unit_test(dnsstub_hostile_packets_refused),
		cmocka_unit_test(dnsstub_asks_and_takes_only_its_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_spf_eval.c - the built-in RFC 7208 evaluator (spf_eval*.c) over a
 * fake DNS zone: record syntax, macro expansion, check_host() results
 * and the processing limits, and spf_check through the lookup seam of
 * spf.c (comments, the HELO identity, the budget shared by a message).
 *
 * The RFC 7208 test suite itself runs through the daemon in
 * test/integration/test_spf_suite.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/dns.h"
#include "auth/spf.h"
#include "auth/spf_eval.h"
#include "auth/spf_eval_macro.h"
#include "auth/spf_eval_record.h"

#define FAKE_TIMEOUT	(-1)	/* type of a zone entry: every query of the name tempfails */

/* One record of the fake zone: data as text (TXT), address, "PREF NAME" (MX), name (PTR). */
struct fake_rr {
	const char *name;
	int type;
	const char *data;
	size_t len;		/* TXT with NULs: its length; 0: strlen */
};

static const struct fake_rr zone[] = {
	/* results */
	{ "pass.example", SPF_EVAL_RR_TXT, "v=spf1 ip4:192.0.2.1 -all", 0 },
	{ "pass.example", SPF_EVAL_RR_TXT, "google-site-verification=x", 0 },
	{ "soft.example", SPF_EVAL_RR_TXT, "v=spf1 ip4:192.0.2.1 ~all", 0 },
	{ "neutral.example", SPF_EVAL_RR_TXT, "v=spf1 ip4:192.0.2.1", 0 },
	{ "upper.example", SPF_EVAL_RR_TXT, "V=SpF1  IP4:192.0.2.1  -ALL ", 0 },
	{ "norec.example", SPF_EVAL_RR_TXT, "v=spf10 +all", 0 },
	{ "norec.example", SPF_EVAL_RR_A, "192.0.2.1", 0 },
	{ "two.example", SPF_EVAL_RR_TXT, "v=spf1 -all", 0 },
	{ "two.example", SPF_EVAL_RR_TXT, "v=spf1 +all", 0 },
	{ "bad.example", SPF_EVAL_RR_TXT, "v=spf1 ip4:192.0.2.300 -all", 0 },
	{ "longoctet.example", SPF_EVAL_RR_TXT, "v=spf1 ip4:192.0.2.01111111111111111111 -all", 0 },
	{ "nul.example", SPF_EVAL_RR_TXT, "v=spf1 a:x.example\0 -all", 25 },
	{ "empty.example", SPF_EVAL_RR_TXT, "v=spf1", 0 },
	{ "txtslow.example", FAKE_TIMEOUT, NULL, 0 },
	/* CIDR lengths of 0 (libspf2 does not compile these) */
	{ "ip40.example", SPF_EVAL_RR_TXT, "v=spf1 ip4:198.51.100.1/0 -all", 0 },
	{ "ip60.example", SPF_EVAL_RR_TXT, "v=spf1 ip6:2001:db8::/0 -all", 0 },
	{ "a0.example", SPF_EVAL_RR_TXT, "v=spf1 a/0 -all", 0 },
	{ "a0.example", SPF_EVAL_RR_A, "198.51.100.1", 0 },
	{ "mx0.example", SPF_EVAL_RR_TXT, "v=spf1 mx//0 -all", 0 },
	{ "mx0.example", SPF_EVAL_RR_MX, "10 host6.example", 0 },
	{ "host6.example", SPF_EVAL_RR_AAAA, "2001:db8:ffff::1", 0 },
	{ "dual.example", SPF_EVAL_RR_TXT, "v=spf1 a:h.example/24//64 -all", 0 },
	{ "h.example", SPF_EVAL_RR_A, "192.0.2.200", 0 },
	{ "h.example", SPF_EVAL_RR_AAAA, "2001:db8:1::ffff", 0 },
	/* a, mx, exists, ptr */
	{ "a.example", SPF_EVAL_RR_TXT, "v=spf1 a -all", 0 },
	{ "a.example", SPF_EVAL_RR_A, "198.51.100.9", 0 },
	{ "a.example", SPF_EVAL_RR_A, "192.0.2.1", 0 },
	{ "aslow.example", SPF_EVAL_RR_TXT, "v=spf1 a:txtslow.example -all", 0 },
	{ "mx.example", SPF_EVAL_RR_TXT, "v=spf1 mx -all", 0 },
	{ "mx.example", SPF_EVAL_RR_MX, "0 .", 0 },
	{ "mx.example", SPF_EVAL_RR_MX, "10 a.example", 0 },
	{ "mximplicit.example", SPF_EVAL_RR_TXT, "v=spf1 mx -all", 0 },
	{ "mximplicit.example", SPF_EVAL_RR_A, "192.0.2.1", 0 },
	{ "exists.example", SPF_EVAL_RR_TXT,
	  "v=spf1 exists:%{ir}.%{l1r-}.%{d2}.bl.example -all", 0 },
	{ "1.2.0.192.bad.exists.example.bl.example", SPF_EVAL_RR_A, "127.0.0.2", 0 },
	{ "ptr.example", SPF_EVAL_RR_TXT, "v=spf1 ptr:ptr.example -all", 0 },
	{ "ptrq.example", SPF_EVAL_RR_TXT, "v=spf1 ptr:ptr.example ?all", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p1.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p2.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p3.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p4.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p5.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p6.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p7.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p8.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p9.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p10.ptr.example", 0 },
	{ "9.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "p11.ptr.example", 0 },
	{ "p11.ptr.example", SPF_EVAL_RR_A, "192.0.2.9", 0 },
	{ "8.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "slow.ptr.example", 0 },
	{ "8.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "good.ptr.example", 0 },
	{ "slow.ptr.example", FAKE_TIMEOUT, NULL, 0 },
	{ "good.ptr.example", SPF_EVAL_RR_A, "192.0.2.8", 0 },
	{ "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	  SPF_EVAL_RR_PTR, "v6.ptr.example", 0 },
	{ "v6.ptr.example", SPF_EVAL_RR_AAAA, "2001:db8::1", 0 },
	{ "pmac.example", SPF_EVAL_RR_TXT, "v=spf1 exists:%{p}.ok.example -all", 0 },
	{ "7.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "other.example", 0 },
	{ "7.2.0.192.in-addr.arpa", SPF_EVAL_RR_PTR, "mx.pmac.example", 0 },
	{ "other.example", SPF_EVAL_RR_A, "192.0.2.7", 0 },
	{ "mx.pmac.example", SPF_EVAL_RR_A, "192.0.2.7", 0 },
	{ "mx.pmac.example.ok.example", SPF_EVAL_RR_A, "127.0.0.2", 0 },
	/* include and redirect */
	{ "inc.example", SPF_EVAL_RR_TXT, "v=spf1 include:pass.example -all", 0 },
	{ "incneutral.example", SPF_EVAL_RR_TXT,
	  "v=spf1 include:neutral.example ~all", 0 },
	{ "incnone.example", SPF_EVAL_RR_TXT, "v=spf1 include:none.example +all", 0 },
	{ "inctemp.example", SPF_EVAL_RR_TXT, "v=spf1 include:txtslow.example +all", 0 },
	{ "incperm.example", SPF_EVAL_RR_TXT, "v=spf1 include:bad.example +all", 0 },
	{ "incmacro.example", SPF_EVAL_RR_TXT, "v=spf1 include:%{d1}.pass.example. -all", 0 },
	{ "example.pass.example", SPF_EVAL_RR_TXT, "v=spf1 ip4:192.0.2.1 -all", 0 },
	{ "redir.example", SPF_EVAL_RR_TXT, "v=spf1 redirect=soft.example", 0 },
	{ "redirlate.example", SPF_EVAL_RR_TXT,
	  "v=spf1 redirect=soft.example ip4:192.0.2.2", 0 },
	{ "redirall.example", SPF_EVAL_RR_TXT, "v=spf1 redirect=pass.example ?all", 0 },
	{ "redirnone.example", SPF_EVAL_RR_TXT, "v=spf1 redirect=none.example", 0 },
	{ "redirloop.example", SPF_EVAL_RR_TXT, "v=spf1 redirect=redirloop.example", 0 },
	{ "exp.example", SPF_EVAL_RR_TXT, "v=spf1 -all exp=txtslow.example", 0 },
	/* limits */
	{ "lim10.example", SPF_EVAL_RR_TXT, "v=spf1 a:h.example a:h.example "
	  "a:h.example a:h.example a:h.example a:h.example a:h.example "
	  "a:h.example a:h.example a:h.example ip4:192.0.2.1 -all", 0 },
	{ "lim11.example", SPF_EVAL_RR_TXT, "v=spf1 a:h.example a:h.example "
	  "a:h.example a:h.example a:h.example a:h.example a:h.example "
	  "a:h.example a:h.example a:h.example a:h.example ip4:192.0.2.1 -all", 0 },
	{ "nest.example", SPF_EVAL_RR_TXT, "v=spf1 include:nest9.example "
	  "a:h.example ip4:192.0.2.1 -all", 0 },
	{ "nest9.example", SPF_EVAL_RR_TXT, "v=spf1 a:h.example a:h.example "
	  "a:h.example a:h.example a:h.example a:h.example a:h.example "
	  "a:h.example a:h.example", 0 },
	{ "void2.example", SPF_EVAL_RR_TXT, "v=spf1 a:nx1.example mx:nx2.example "
	  "ip4:192.0.2.1 -all", 0 },
	{ "void3.example", SPF_EVAL_RR_TXT, "v=spf1 a:nx1.example mx:nx2.example "
	  "exists:nx3.example ip4:192.0.2.1 -all", 0 },
	{ "mx10.example", SPF_EVAL_RR_TXT, "v=spf1 mx -all", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "1 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "2 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "3 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "4 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "5 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "6 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "7 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "8 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "9 h.example", 0 },
	{ "mx10.example", SPF_EVAL_RR_MX, "10 a.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_TXT, "v=spf1 mx -all", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "1 a.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "2 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "3 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "4 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "5 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "6 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "7 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "8 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "9 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "10 h.example", 0 },
	{ "mx11.example", SPF_EVAL_RR_MX, "11 h.example", 0 },
	/* for spf_check */
	{ "helo.example", SPF_EVAL_RR_TXT, "v=spf1 a -all", 0 },
	{ "helo.example", SPF_EVAL_RR_A, "192.0.2.1", 0 },
	{ "slow.example", SPF_EVAL_RR_TXT, "v=spf1 a:h.example a:h.example "
	  "a:h.example a:h.example a:h.example -all", 0 },
};

/* The fake resolver: the zone, and what it was asked. */
struct fake {
	int queries;			/* lookups made */
	int sleep_ms;			/* each lookup takes this long */
	char last[256];			/* last name asked for */
};

/* fake_wire - name as an uncompressed wire name into out; its length */
static size_t
fake_wire(const char *name, unsigned char *out)
{
	size_t o = 0, n;
	const char *dot;

	while (*name != '\0' && strcmp(name, ".") != 0) {
		dot = strchr(name, '.');
		n = dot != NULL ? (size_t)(dot - name) : strlen(name);
		out[o++] = (unsigned char)n;
		memcpy(out + o, name, n);
		o += n;
		name += n + (dot != NULL);
	}
	out[o++] = 0;
	return o;
}

/* fake_rdata - the wire rdata of rr into out; its length */
static size_t
fake_rdata(const struct fake_rr *rr, unsigned char *out)
{
	size_t len, o = 0, n;
	const char *sp;

	switch (rr->type) {
	case SPF_EVAL_RR_A:
		assert_int_equal(inet_pton(AF_INET, rr->data, out), 1);
		return 4;
	case SPF_EVAL_RR_AAAA:
		assert_int_equal(inet_pton(AF_INET6, rr->data, out), 1);
		return 16;
	case SPF_EVAL_RR_MX:
		n = (size_t)atoi(rr->data);
		out[0] = (unsigned char)(n >> 8);
		out[1] = (unsigned char)n;
		sp = strchr(rr->data, ' ');
		return 2 + fake_wire(sp + 1, out + 2);
	case SPF_EVAL_RR_PTR:
		return fake_wire(rr->data, out);
	default:		/* TXT: character-strings of at most 255 */
		len = rr->len > 0 ? rr->len : strlen(rr->data);
		do {
			n = len > 255 ? 255 : len;
			out[o++] = (unsigned char)n;
			memcpy(out + o, rr->data, n);
			o += n;
			len -= n;
		} while (len > 0);
		return o;
	}
}

/* fake_huge - a TXT answer holding one SPF record of 9,806 octets */
static enum dns_status
fake_huge(struct dns_result *r)
{
	struct fake_rr rr = { "huge.example", SPF_EVAL_RR_TXT, NULL, 0 };
	struct buf b = BUF_INIT;
	unsigned char *wire;
	int i;

	buf_puts(&b, "v=spf1");
	for (i = 0; i < 700; i++)
		buf_puts(&b, " ip4:192.0.2.1");
	rr.data = b.data;
	wire = malloc(b.len + b.len / 255 + 1);
	memset(r, 0, sizeof(*r));
	r->n = 1;
	r->data = calloc(1, sizeof(*r->data));
	r->len = calloc(1, sizeof(*r->len));
	r->len[0] = fake_rdata(&rr, wire);
	r->data[0] = wire;
	buf_free(&b);
	return r->status = DNS_OK;
}

/* fake_lookup - answer from the zone; a name absent is NXDOMAIN */
static enum dns_status
fake_lookup(void *arg, const char *name, int rrtype, int timeout_ms,
    struct dns_result *r)
{
	struct fake *f = arg;
	unsigned char buf[4096];
	size_t i, n = 0;
	int exists = 0, slow = 0;

	(void)timeout_ms;
	f->queries++;
	if (strcmp(name, "huge.example") == 0 && rrtype == SPF_EVAL_RR_TXT)
		return fake_huge(r);
	snprintf(f->last, sizeof(f->last), "%s", name);
	if (f->sleep_ms > 0)
		usleep((useconds_t)f->sleep_ms * 1000);
	memset(r, 0, sizeof(*r));
	for (i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (strcasecmp(zone[i].name, name) != 0)
			continue;
		exists = 1;
		slow |= zone[i].type == FAKE_TIMEOUT;
		n += zone[i].type == rrtype;
	}
	if (slow)
		return r->status = DNS_TEMPFAIL;
	if (n == 0)
		return r->status = exists ? DNS_NODATA : DNS_NXDOMAIN;
	r->data = calloc(n, sizeof(*r->data));
	r->len = calloc(n, sizeof(*r->len));
	for (i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (strcasecmp(zone[i].name, name) != 0 || zone[i].type != rrtype)
			continue;
		r->len[r->n] = fake_rdata(&zone[i], buf);
		r->data[r->n] = malloc(r->len[r->n]);
		memcpy(r->data[r->n], buf, r->len[r->n]);
		r->n++;
	}
	return r->status = DNS_OK;
}

/* ---------------------------------------------------------------- syntax */

struct syntax_case {
	const char *record;
	int ok;			/* 1: valid */
	const char *why;	/* a part of the reason, when not */
};

static const struct syntax_case syntax_cases[] = {
	{ "v=spf1", 1, NULL },
	{ "v=spf1 ", 1, NULL },
	{ "V=SPF1 +ALL", 1, NULL },
	{ "v=spf1  a   mx  -all  ", 1, NULL },
	{ "v=spf1 ip4:0.0.0.0/0 ip6:::/0 a/0 mx//0 a/24//64 -all", 1, NULL },
	{ "v=spf1 a:foo:bar/baz.example.com mx:foo.example.com/24", 1, NULL },
	{ "v=spf1 a:foo.example.xn--zckzah -all", 1, NULL },
	{ "v=spf1 include:o.spf.example.com. ~all", 1, NULL },
	{ "v=spf1 exists:%{i}.%{l2r-}.user.%{d2} -all", 1, NULL },
	{ "v=spf1 a:%{H} -all", 1, NULL },
	{ "v=spf1 ptr ptr:example.com ?all", 1, NULL },
	{ "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", 1, NULL },
	{ "v=spf1 default=+ foo=", 1, NULL },
	{ "v=spf1 ip4:1.2.3.4 redirect=t2.example.com", 1, NULL },
	{ "v=spf1 -all exp=%{d}.explain.example", 1, NULL },
	{ "v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all", 1, NULL },
	{ "v=spf1 ip4:192.0.2.300 -all", 0, "ip4:192.0.2.300" },
	{ "v=spf1 ip4:1.2.3.4/032", 0, "CIDR" },
	{ "v=spf1 ip4:1.2.3.4/33", 0, "CIDR" },
	{ "v=spf1 ip4:01.2.3.4", 0, "bad ip4" },
	{ "v=spf1 ip4:1.2.3", 0, "bad ip4" },
	{ "v=spf1 ip4:1.2.3.4:8080", 0, "bad ip4" },
	{ "v=spf1 ip4:1.2.3.4//32", 0, "CIDR" },
	{ "v=spf1 ip4", 0, "no network" },
	{ "v=spf1 ip6::CAFE::BABE", 0, "bad ip6" },
	{ "v=spf1 ip6:::1.1.1.1/129", 0, "CIDR" },
	{ "v=spf1 ip6:::1.1.1.1//33", 0, "CIDR" },
	{ "v=spf1 a/33 -all", 0, "ip4 CIDR" },
	{ "v=spf1 a//129 -all", 0, "ip6 CIDR" },
	{ "v=spf1 a/24/64 -all", 0, "ip4 CIDR" },
	{ "v=spf1 a:foo.1", 0, "top-level label" },
	{ "v=spf1 a:museum", 0, "top-level label" },
	{ "v=spf1 a:museum.", 0, "top-level label" },
	{ "v=spf1 a:example.-com", 0, "top-level label" },
	{ "v=spf1 a:example.com:8080", 0, "top-level label" },
	{ "v=spf1 a:", 0, "empty domain-spec" },
	{ "v=spf1 include", 0, "no domain-spec" },
	{ "v=spf1 include:ip5.example.com/24", 0, "top-level label" },
	{ "v=spf1 exists:mail.example.com/24", 0, "top-level label" },
	{ "v=spf1 ptr/0 -all", 0, "junk" },
	{ "v=spf1 -all.", 0, "junk after" },
	{ "v=spf1 -all:foobar", 0, "junk after" },
	{ "v=spf1 ax -all", 0, "unknown mechanism" },
	{ "v=spf1 redirect:t2.example.com", 0, "unknown mechanism" },
	{ "v=spf1 1up=foo", 0, "unknown mechanism" },
	{ "v=spf1 =all", 0, "unknown mechanism" },
	{ "v=spf1 moo.cow/far_out=man:dog/cat", 0, "unknown mechanism" },
	{ "v=spf1 redirect=a.example redirect=b.example", 0, "redirect= given twice" },
	{ "v=spf1 exp=a.example -all exp=b.example", 0, "exp= given twice" },
	{ "v=spf1 exp= -all", 0, "empty domain-spec" },
	{ "v=spf1 redirect=-all", 0, "top-level label" },
	{ "v=spf1 -all foo=%abc", 0, "'%' not followed" },
	{ "v=spf1 exists:%(ir).sbl.example.com", 0, "'%' not followed" },
	{ "v=spf1 exists:foo%", 0, "'%' at the end" },
	{ "v=spf1 a:%{a}.example.com", 0, "unknown macro letter" },
	{ "v=spf1 -all exp=%{r}.example.com", 0, "explanation text only" },
	{ "v=spf1 a:%{c}.example.com", 0, "explanation text only" },
	{ "v=spf1 a:%{d0}.example.com", 0, "0 parts" },
	{ "v=spf1 a:%{d2x}.example.com", 0, "malformed macro" },
	{ "v=spf1 a:ctrl.example.com\rptr -all", 0, "0x0d" },
	{ "v=spf1 ip4:192.0.2.5\n include:x.example ~all", 0, "0x0a" },
	{ "v=spf1 a:\xef\xbb\xbfgarbage.example.net -all", 0, "0xef" },
	{ "v=spf1 a\t-all", 0, "0x09" },
	{ "v=spf1\ta -all", 0, "not an SPF record" },
};

/* spf_eval_record_checks_syntax - the syntax table through spf_eval_record_check */
static void
spf_eval_record_checks_syntax(void **state)
{
	struct spf_eval_record_info info;
	char why[SPF_EVAL_WHY_MAX];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(syntax_cases) / sizeof(syntax_cases[0]); i++) {
		const struct syntax_case *c = &syntax_cases[i];

		why[0] = '\0';
		rc = spf_eval_record_check(c->record, strlen(c->record), &info,
		    why, sizeof(why));
		if ((rc == 0) != c->ok)
			fail_msg("\"%s\": %s (%s)", c->record, rc == 0 ?
			    "accepted" : "refused", why);
		if (!c->ok && strstr(why, c->why) == NULL)
			fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", c->record,
			    why, c->why);
	}
}

/* spf_eval_record_bounds_size - over 4096 octets or 512 terms is refused */
static void
spf_eval_record_bounds_size(void **state)
{
	struct spf_eval_record_info info;
	struct buf b = BUF_INIT;
	char why[SPF_EVAL_WHY_MAX];
	int i;

	(void)state;
	buf_puts(&b, "v=spf1");
	for (i = 0; i < 512; i++)
		buf_puts(&b, " a");
	assert_int_equal(spf_eval_record_check(b.data, b.len, &info, why,
	    sizeof(why)), 0);
	assert_int_equal(info.nterms, 512);
	buf_puts(&b, " a");
	assert_int_equal(spf_eval_record_check(b.data, b.len, &info, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "more than 512 terms"));
	buf_reset(&b);
	buf_puts(&b, "v=spf1 ");
	while (b.len <= SPF_EVAL_RECORD_MAX)
		buf_puts(&b, "ip4:192.0.2.1 ");
	assert_int_equal(spf_eval_record_check(b.data, b.len, &info, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "octets, over 4096"));
	buf_free(&b);
}

/* spf_eval_record_selects_version - only "v=spf1" then a space or the end */
static void
spf_eval_record_selects_version(void **state)
{
	(void)state;
	assert_true(spf_eval_record_is_spf("v=spf1", 6));
	assert_true(spf_eval_record_is_spf("V=Spf1 -all", 11));
	assert_false(spf_eval_record_is_spf("v=spf10", 7));
	assert_false(spf_eval_record_is_spf("v=spf1mx", 8));
	assert_false(spf_eval_record_is_spf(" v=spf1", 7));
	assert_false(spf_eval_record_is_spf("v=spf", 5));
}

/* ---------------------------------------------------------------- macros */

struct macro_case {
	const char *spec;
	const char *want;	/* expansion; NULL: refused by the check */
};

/* RFC 7208 7.4's examples and more, for strong-bad@email.example.com */
static const struct macro_case macro_cases[] = {
	{ "%{s}", "strong-bad@email.example.com" },
	{ "%{o}", "email.example.com" },
	{ "%{d}", "email.example.com" },
	{ "%{d4}", "email.example.com" },
	{ "%{d3}", "email.example.com" },
	{ "%{d2}", "example.com" },
	{ "%{d1}", "com" },
	{ "%{dr}", "com.example.email" },
	{ "%{d2r}", "example.email" },
	{ "%{l}", "strong-bad" },
	{ "%{l-}", "strong.bad" },
	{ "%{lr}", "strong-bad" },
	{ "%{lr-}", "bad.strong" },
	{ "%{l1r-}", "strong" },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ "%{d2}.trusted-domains.example.net",
	  "example.com.trusted-domains.example.net" },
	{ "%{h}.x.example", "mx.example.org.x.example" },
	{ "%{p}.x.example", "ptr.email.example.com.x.example" },
	{ "%{l2r+-}.user.%{d2}", "bad.strong.user.example.com" },
	{ "%{d999999}.x.example", "email.example.com.x.example" },
	{ "%{L}.x.example", "strong-bad.x.example" },
	{ "%{S}.x.example", "strong-bad%40email.example.com.x.example" },
	{ "macro%%percent%_%_space%-url-space.example.com",
	  "macro%percent  space%20url-space.example.com" },
	{ "o.spf.example.com.", "o.spf.example.com" },
	{ "%{d}.", NULL },
	{ "%{d0}.example.com", NULL },
	{ "%{t}.example.com", NULL },
	{ "%{x}.example.com", NULL },
	{ "%{d", NULL },
	{ "%{d}x", NULL },
	{ "a.b%", NULL },
	{ "", NULL },
};

/* test_ptr_name - a %{p} that always finds one name */
static const char *
test_ptr_name(void *arg, const char *domain)
{
	(void)arg;
	(void)domain;
	return "ptr.email.example.com";
}

/* test_env - the RFC 7208 7.4 example environment */
static void
test_env(struct spf_eval_macro_env *env, unsigned char *addr)
{
	memset(env, 0, sizeof(*env));
	env->sender = "strong-bad@email.example.com";
	env->local = "strong-bad";
	env->sender_domain = "email.example.com";
	env->domain = "email.example.com";
	env->helo = "mx.example.org";
	env->family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.3", addr), 1);
	env->addr = addr;
	env->ptr_name = test_ptr_name;
}

/* spf_eval_macro_expands_rfc_examples - the macro table, checked then expanded */
static void
spf_eval_macro_expands_rfc_examples(void **state)
{
	struct spf_eval_macro_env env;
	struct buf out = BUF_INIT;
	unsigned char addr[16];
	char why[SPF_EVAL_WHY_MAX];
	size_t i;
	int rc;

	(void)state;
	test_env(&env, addr);
	for (i = 0; i < sizeof(macro_cases) / sizeof(macro_cases[0]); i++) {
		const struct macro_case *c = &macro_cases[i];

		rc = spf_eval_macro_check(c->spec, strlen(c->spec),
		    SPF_EVAL_MACRO_DOMAIN, why, sizeof(why));
		if ((rc == 0) != (c->want != NULL))
			fail_msg("\"%s\": %s (%s)", c->spec, rc == 0 ? "accepted"
			    : "refused", why);
		if (c->want == NULL)
			continue;
		assert_int_equal(spf_eval_macro_expand(c->spec, strlen(c->spec),
		    &env, &out), 0);
		if (strcmp(buf_cstr(&out), c->want) != 0)
			fail_msg("\"%s\" gave \"%s\", want \"%s\"", c->spec,
			    buf_cstr(&out), c->want);
	}
	buf_free(&out);
}

/* spf_eval_macro_escapes_uppercase - uppercase letters are URL-escaped */
static void
spf_eval_macro_escapes_uppercase(void **state)
{
	struct spf_eval_macro_env env;
	struct buf out = BUF_INIT;
	unsigned char addr[16];

	(void)state;
	test_env(&env, addr);
	env.local = "~jack&jill=up-a_b3.c";
	assert_int_equal(spf_eval_macro_expand("x%{L}", 5, &env, &out), 0);
	assert_string_equal(buf_cstr(&out), "x~jack%26jill%3Dup-a_b3.c");
	env.local = "a b/c";
	assert_int_equal(spf_eval_macro_expand("%{L}.%{l}", 9, &env, &out), 0);
	assert_string_equal(buf_cstr(&out), "a%20b%2Fc.a b/c");
	buf_free(&out);
}

/* spf_eval_macro_empty_expansion - a macro that expands to nothing gives "" */
static void
spf_eval_macro_empty_expansion(void **state)
{
	struct spf_eval_macro_env env;
	struct buf out = BUF_INIT;
	unsigned char addr[16];

	(void)state;
	test_env(&env, addr);
	env.local = "dotted.";
	assert_int_equal(spf_eval_macro_expand("%{l1}", 5, &env, &out), 0);
	assert_non_null(out.data);
	assert_string_equal(buf_cstr(&out), "");
	assert_int_equal(out.len, 0);
	env.local = "";
	assert_int_equal(spf_eval_macro_expand("%{l}", 4, &env, &out), 0);
	assert_string_equal(buf_cstr(&out), "");
	buf_free(&out);
	env.local = "x.";
	assert_int_equal(spf_eval_macro_expand("%{lr}.", 6, &env, &out), 0);
	assert_string_equal(buf_cstr(&out), ".x");
	buf_free(&out);
}

/* spf_eval_macro_ipv6_nibbles - %{i} of an IPv6 client is 32 dotted nibbles */
static void
spf_eval_macro_ipv6_nibbles(void **state)
{
	struct spf_eval_macro_env env;
	struct buf out = BUF_INIT;
	unsigned char addr[16];

	(void)state;
	test_env(&env, addr);
	env.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::cb01", addr), 1);
	assert_int_equal(spf_eval_macro_expand("%{ir}.%{v}._spf.%{d2}", 21, &env,
	    &out), 0);
	assert_string_equal(buf_cstr(&out), "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
	buf_free(&out);
}

/* spf_eval_macro_truncates_left - over 253 octets, whole labels go on the left */
static void
spf_eval_macro_truncates_left(void **state)
{
	struct spf_eval_macro_env env;
	struct buf spec = BUF_INIT, out = BUF_INIT;
	unsigned char addr[16];
	int i;

	(void)state;
	test_env(&env, addr);
	/* 20 x "email.example.com." (18) = 360, then "x.example" */
	for (i = 0; i < 20; i++)
		buf_puts(&spec, "%{d}.");
	buf_puts(&spec, "x.example");
	assert_int_equal(spf_eval_macro_expand(spec.data, spec.len, &env, &out), 0);
	assert_true(out.len <= 253);
	assert_true(out.len > 253 - 64);
	assert_string_equal(buf_cstr(&out) + out.len - 27,
	    "email.example.com.x.example");
	assert_true(strncmp(buf_cstr(&out), "example.com.", 12) == 0 ||
	    strncmp(buf_cstr(&out), "email.", 6) == 0 ||
	    strncmp(buf_cstr(&out), "com.", 4) == 0);
	/* a huge expansion keeps a bounded buffer and the same end */
	buf_reset(&spec);
	for (i = 0; i < 2000; i++)
		buf_puts(&spec, "%{S}.");
	buf_puts(&spec, "end.example");
	assert_int_equal(spf_eval_macro_expand(spec.data, spec.len, &env, &out), 0);
	assert_true(out.len <= 253);
	assert_true(out.cap < 8192);
	assert_string_equal(buf_cstr(&out) + out.len - 12, ".end.example");
	buf_free(&spec);
	buf_free(&out);
}

/* ---------------------------------------------------------------- check_host */

struct eval_case {
	const char *name;		/* the behaviour */
	const char *ip;			/* client */
	const char *sender;		/* local@domain; the domain is checked */
	enum spf_res want;
	enum spf_eval_stop stop;	/* the limit that must stop it */
	int queries;			/* DNS queries expected; -1: any */
	const char *why;		/* part of the detail; NULL: any */
};

static const struct eval_case eval_cases[] = {
	{ "ip4 matches", "192.0.2.1", "u@pass.example", SPF_RES_PASS, 0, 1, NULL },
	{ "-all fails", "192.0.2.2", "u@pass.example", SPF_RES_FAIL, 0, 1, NULL },
	{ "~all softfails", "192.0.2.2", "u@soft.example", SPF_RES_SOFTFAIL, 0, 1, NULL },
	{ "no match is neutral", "192.0.2.2", "u@neutral.example", SPF_RES_NEUTRAL, 0, 1, NULL },
	{ "empty record is neutral", "192.0.2.2", "u@empty.example", SPF_RES_NEUTRAL, 0, 1, NULL },
	{ "names and version in any case, extra spaces", "192.0.2.1", "u@upper.example", SPF_RES_PASS, 0, 1, NULL },
	{ "no SPF record is none", "192.0.2.1", "u@norec.example", SPF_RES_NONE, 0, 1, NULL },
	{ "NXDOMAIN is none", "192.0.2.1", "u@none.example", SPF_RES_NONE, 0, 1, NULL },
	{ "two records are permerror", "192.0.2.1", "u@two.example", SPF_RES_PERMERROR, 0, 1, "2 SPF records" },
	{ "syntax error is permerror", "192.0.2.1", "u@bad.example", SPF_RES_PERMERROR, 0, 1, "ip4:192.0.2.300" },
	{ "a long octet is permerror, no overflow (fuzz)", "192.0.2.1", "u@longoctet.example", SPF_RES_PERMERROR, 0, 1, "ip4:192.0.2.0111" },
	{ "NUL in a record is permerror", "192.0.2.1", "u@nul.example", SPF_RES_PERMERROR, 0, 1, "0x00" },
	{ "record over 4096 octets is permerror", "192.0.2.1", "u@huge.example", SPF_RES_PERMERROR, 0, 1, "9806 octets, over 4096" },
	{ "record lookup timeout is temperror", "192.0.2.1", "u@txtslow.example", SPF_RES_TEMPERROR, 0, 1, "txtslow.example" },
	{ "ip4 /0 matches any IPv4", "203.0.113.5", "u@ip40.example", SPF_RES_PASS, 0, 1, NULL },
	{ "ip6 /0 matches any IPv6", "2001:db8:5::5", "u@ip60.example", SPF_RES_PASS, 0, 1, NULL },
	{ "ip6 /0 does not match IPv4", "192.0.2.1", "u@ip60.example", SPF_RES_FAIL, 0, 1, NULL },
	{ "a/0 matches when an A exists", "203.0.113.5", "u@a0.example", SPF_RES_PASS, 0, 2, NULL },
	{ "mx//0 matches when an MX host has an AAAA", "2001:db8:7::7", "u@mx0.example", SPF_RES_PASS, 0, 3, NULL },
	{ "dual CIDR /24 for IPv4", "192.0.2.77", "u@dual.example", SPF_RES_PASS, 0, 2, NULL },
	{ "dual CIDR //64 for IPv6", "2001:db8:1::1234", "u@dual.example", SPF_RES_PASS, 0, 2, NULL },
	{ "dual CIDR //64 excludes others", "2001:db8:2::1", "u@dual.example", SPF_RES_FAIL, 0, 2, NULL },
	{ "a matches any address", "192.0.2.1", "u@a.example", SPF_RES_PASS, 0, 2, NULL },
	{ "a with an A timeout is temperror", "192.0.2.1", "u@aslow.example", SPF_RES_TEMPERROR, 0, 2, "addresses of txtslow.example" },
	{ "mx skips a null MX", "192.0.2.1", "u@mx.example", SPF_RES_PASS, 0, 3, NULL },
	{ "mx does not fall back to A", "192.0.2.1", "u@mximplicit.example", SPF_RES_FAIL, 0, 2, NULL },
	{ "exists with transformers", "192.0.2.1", "bad-strong@exists.example", SPF_RES_PASS, 0, 2, NULL },
	{ "exists without the name", "192.0.2.2", "bad-strong@exists.example", SPF_RES_FAIL, 0, 2, NULL },
	{ "ptr of the 11th name is ignored", "192.0.2.9", "u@ptr.example", SPF_RES_FAIL, 0, 12, NULL },
	{ "ptr of the 11th name is ignored (?all)", "192.0.2.9", "u@ptrq.example", SPF_RES_NEUTRAL, 0, 12, NULL },
	{ "ptr skips a name whose A times out", "192.0.2.8", "u@ptr.example", SPF_RES_PASS, 0, 4, NULL },
	{ "ptr of an IPv6 client", "2001:db8::1", "u@ptr.example", SPF_RES_PASS, 0, 3, NULL },
	{ "ptr without a PTR record", "192.0.2.6", "u@ptr.example", SPF_RES_FAIL, 0, 2, NULL },
	{ "%{p} prefers a name in the domain", "192.0.2.7", "u@pmac.example", SPF_RES_PASS, 0, 5, NULL },
	{ "include pass matches", "192.0.2.1", "u@inc.example", SPF_RES_PASS, 0, 2, NULL },
	{ "include fail does not match", "192.0.2.2", "u@inc.example", SPF_RES_FAIL, 0, 2, NULL },
	{ "include neutral does not match", "192.0.2.2", "u@incneutral.example", SPF_RES_SOFTFAIL, 0, 2, NULL },
	{ "include of no record is permerror", "192.0.2.1", "u@incnone.example", SPF_RES_PERMERROR, 0, 2, "no SPF record" },
	{ "include temperror is temperror", "192.0.2.1", "u@inctemp.example", SPF_RES_TEMPERROR, 0, 2, NULL },
	{ "include permerror is permerror", "192.0.2.1", "u@incperm.example", SPF_RES_PERMERROR, 0, 2, "record of bad.example" },
	{ "include target with macros and a trailing dot", "192.0.2.1", "u@incmacro.example", SPF_RES_PASS, 0, 2, NULL },
	{ "redirect gives the target's result", "192.0.2.2", "u@redir.example", SPF_RES_SOFTFAIL, 0, 2, NULL },
	{ "redirect applies after every mechanism", "192.0.2.3", "u@redirlate.example", SPF_RES_SOFTFAIL, 0, 2, NULL },
	{ "mechanisms after a redirect are evaluated first", "192.0.2.2", "u@redirlate.example", SPF_RES_PASS, 0, 1, NULL },
	{ "redirect is ignored with all", "192.0.2.1", "u@redirall.example", SPF_RES_NEUTRAL, 0, 1, NULL },
	{ "redirect to no record is permerror", "192.0.2.1", "u@redirnone.example", SPF_RES_PERMERROR, 0, 2, "no SPF record" },
	{ "redirect loop stops at the term limit", "192.0.2.1", "u@redirloop.example", SPF_RES_PERMERROR, SPF_EVAL_STOP_TERMS, 11, NULL },
	{ "exp= is never looked up", "192.0.2.2", "u@exp.example", SPF_RES_FAIL, 0, 1, NULL },
	{ "10 DNS terms are fine", "192.0.2.1", "u@lim10.example", SPF_RES_PASS, 0, 11, NULL },
	{ "11 DNS terms are permerror", "192.0.2.1", "u@lim11.example", SPF_RES_PERMERROR, SPF_EVAL_STOP_TERMS, 11, NULL },
	{ "terms count across include", "192.0.2.1", "u@nest.example", SPF_RES_PERMERROR, SPF_EVAL_STOP_TERMS, 11, NULL },
	{ "2 void lookups are fine", "192.0.2.1", "u@void2.example", SPF_RES_PASS, 0, 3, NULL },
	{ "3 void lookups are permerror", "192.0.2.1", "u@void3.example", SPF_RES_PERMERROR, SPF_EVAL_STOP_VOID, 4, NULL },
	{ "10 MX names are fine", "192.0.2.1", "u@mx10.example", SPF_RES_PASS, 0, 12, NULL },
	{ "11 MX names are permerror", "192.0.2.1", "u@mx11.example", SPF_RES_PERMERROR, SPF_EVAL_STOP_MXNAMES, 2, NULL },
};

/* test_options - fake DNS, default limits, a deadline 10 s away */
static void
test_options(struct spf_eval_options *opt, struct fake *f)
{
	memset(opt, 0, sizeof(*opt));
	memset(f, 0, sizeof(*f));
	opt->lookup = fake_lookup;
	opt->lookup_arg = f;
	clock_gettime(CLOCK_MONOTONIC, &opt->deadline);
	opt->deadline.tv_sec += 10;
}

/* test_request - a request for client ip and sender (the domain after '@') */
static void
test_request(struct spf_eval_request *req, const char *ip, const char *sender)
{
	memset(req, 0, sizeof(*req));
	if (inet_pton(AF_INET, ip, req->addr) == 1)
		req->family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, ip, req->addr), 1);
		req->family = AF_INET6;
	}
	req->sender = sender;
	req->domain = strchr(sender, '@') + 1;
	req->helo = "helo.example";
}

/* spf_eval_check_results - the check_host() table over the fake zone */
static void
spf_eval_check_results(void **state)
{
	struct spf_eval_options opt;
	struct spf_eval_request req;
	struct spf_eval_result r;
	struct fake f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
		const struct eval_case *c = &eval_cases[i];

		test_options(&opt, &f);
		test_request(&req, c->ip, c->sender);
		spf_eval_check(&opt, &req, &r);
		if (r.res != c->want || r.stop != c->stop)
			fail_msg("%s: %s (stop %s, %s), want %s (stop %s)", c->name,
			    spf_res_name(r.res), spf_eval_stop_name(r.stop), r.why,
			    spf_res_name(c->want), spf_eval_stop_name(c->stop));
		if (c->queries >= 0 && r.queries != c->queries)
			fail_msg("%s: %d queries, want %d", c->name, r.queries,
			    c->queries);
		if (r.queries != f.queries)
			fail_msg("%s: counted %d queries, made %d", c->name,
			    r.queries, f.queries);
		if (c->why != NULL && strstr(r.why, c->why) == NULL)
			fail_msg("%s: detail \"%s\" lacks \"%s\"", c->name, r.why,
			    c->why);
	}
}

/* spf_eval_void_limit_configurable - max_void -1 lifts the limit, 3 allows 3 */
static void
spf_eval_void_limit_configurable(void **state)
{
	struct spf_eval_options opt;
	struct spf_eval_request req;
	struct spf_eval_result r;
	struct fake f;

	(void)state;
	test_options(&opt, &f);
	opt.max_void = -1;
	test_request(&req, "192.0.2.1", "u@void3.example");
	spf_eval_check(&opt, &req, &r);
	assert_int_equal(r.res, SPF_RES_PASS);
	assert_int_equal(r.voids, 3);
	test_options(&opt, &f);
	opt.max_terms = 11;
	test_request(&req, "192.0.2.1", "u@lim11.example");
	spf_eval_check(&opt, &req, &r);
	assert_int_equal(r.res, SPF_RES_PASS);
}

/* spf_eval_deadline_passed_is_temperror - nothing is asked after the deadline */
static void
spf_eval_deadline_passed_is_temperror(void **state)
{
	struct spf_eval_options opt;
	struct spf_eval_request req;
	struct spf_eval_result r;
	struct fake f;

	(void)state;
	test_options(&opt, &f);
	opt.deadline.tv_sec -= 11;
	test_request(&req, "192.0.2.1", "u@pass.example");
	spf_eval_check(&opt, &req, &r);
	assert_int_equal(r.res, SPF_RES_TEMPERROR);
	assert_int_equal(r.stop, SPF_EVAL_STOP_BUDGET);
	assert_int_equal(f.queries, 0);
}

/* ---------------------------------------------------------------- spf_check */

/* checker - spf_check's checker over the fake zone */
static struct spf *
checker(struct fake *f, int budget_ms)
{
	struct spf_options o;
	struct spf *s;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.receiver = "mx.test.example";
	o.time_budget_ms = budget_ms;
	o.check_helo = 1;
	o.lookup = fake_lookup;
	o.lookup_arg = f;
	s = spf_new(NULL, &o, err, sizeof(err));
	if (s == NULL)
		fail_msg("spf_new: %s", err);
	return s;
}

/* spf_check_builtin_is_default - results and comments through spf.c */
static void
spf_check_builtin_is_default(void **state)
{
	struct fake f;
	struct spf *s;
	struct spf_result r;
	struct buf h = BUF_INIT;

	(void)state;
	memset(&f, 0, sizeof(f));
	s = checker(&f, 0);
	spf_check(s, "Q1", "192.0.2.1", "<u@pass.example>", "helo.example", &r);
	assert_int_equal(r.mailfrom.res, SPF_RES_PASS);
	assert_int_equal(r.helo.res, SPF_RES_PASS);
	assert_string_equal(r.mailfrom.comment, "domain of u@pass.example "
	    "designates 192.0.2.1 as permitted sender");
	spf_received_header(s, &r, &h);
	assert_non_null(strstr(buf_cstr(&h), "pass (mx.test.example: domain of "
	    "u@pass.example designates 192.0.2.1 as permitted sender) "));
	spf_check(s, "Q2", "192.0.2.1", "<u@bad.example>", "helo.example", &r);
	assert_int_equal(r.mailfrom.res, SPF_RES_PERMERROR);
	assert_non_null(strstr(r.mailfrom.comment, "permanent error in the SPF "
	    "record of bad.example: bad ip4 network in \"ip4:192.0.2.300\""));
	spf_check(s, "Q3", "192.0.2.1", "<u@lim11.example>", "helo.example", &r);
	assert_string_equal(r.mailfrom.comment, "SPF record of lim11.example "
	    "needs more than 10 DNS-querying terms");
	spf_check(s, "Q4", "192.0.2.1", "<>", "helo.example", &r);
	assert_string_equal(r.mailfrom.identity, "postmaster@helo.example");
	assert_int_equal(r.mailfrom.res, SPF_RES_PASS);
	spf_check(s, "Q5", "::ffff:192.0.2.1", "u@ip40.example", "x", &r);
	assert_int_equal(r.mailfrom.res, SPF_RES_PASS);
	assert_int_equal(r.helo.res, SPF_RES_NONE);
	buf_free(&h);
	spf_free(s);
}

/* spf_check_shares_budget - MAIL FROM spends the budget: HELO is not evaluated */
static void
spf_check_shares_budget(void **state)
{
	struct fake f;
	struct spf *s;
	struct spf_result r;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.sleep_ms = 30;
	s = checker(&f, 100);
	spf_check(s, "Q1", "192.0.2.1", "u@slow.example", "helo.example", &r);
	assert_int_equal(r.mailfrom.res, SPF_RES_TEMPERROR);
	assert_non_null(strstr(r.mailfrom.comment, "took over 100 ms"));
	assert_int_equal(r.helo.res, SPF_RES_TEMPERROR);
	assert_non_null(strstr(r.helo.comment, "not evaluated"));
	assert_true(f.queries <= 5);
	spf_free(s);
}

/* spf_new_checks_engine - libspf2 needs the resolver; unknown engines fail */
static void
spf_new_checks_engine(void **state)
{
	struct spf_options o;
	char err[256];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.engine = SPF_ENGINE_LIBSPF2;
	o.lookup = fake_lookup;
	assert_null(spf_new(NULL, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "no resolver"));
	o.engine = (enum spf_engine)7;
	assert_null(spf_new(NULL, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown engine"));
	o.engine = SPF_ENGINE_BUILTIN;
	o.lookup = NULL;
	assert_null(spf_new(NULL, &o, err, sizeof(err)));
	assert_string_equal(spf_engine_name(SPF_ENGINE_BUILTIN), "builtin");
	assert_string_equal(spf_engine_name(SPF_ENGINE_LIBSPF2), "libspf2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spf_eval_record_checks_syntax),
		cmocka_unit_test(spf_eval_record_bounds_size),
		cmocka_unit_test(spf_eval_record_selects_version),
		cmocka_unit_test(spf_eval_macro_expands_rfc_examples),
		cmocka_unit_test(spf_eval_macro_escapes_uppercase),
		cmocka_unit_test(spf_eval_macro_empty_expansion),
		cmocka_unit_test(spf_eval_macro_ipv6_nibbles),
		cmocka_unit_test(spf_eval_macro_truncates_left),
		cmocka_unit_test(spf_eval_check_results),
		cmocka_unit_test(spf_eval_void_limit_configurable),
		cmocka_unit_test(spf_eval_deadline_passed_is_temperror),
		cmocka_unit_test(spf_check_builtin_is_default),
		cmocka_unit_test(spf_check_shares_budget),
		cmocka_unit_test(spf_new_checks_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

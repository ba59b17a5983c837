/*
 * dkim_odkim.c - DKIM verification with libopendkim (dkim_verifier =
 * libopendkim), key lookups through our resolver, per-signature RFC 8601
 * results. Kept as a selectable engine and as the tests' oracle for the
 * builtin verifier (dkim_msg.c); dkim_verify.c dispatches to it.
 *
 * Key lookups: libopendkim asks its query-start callback for a TXT record
 * and then its wait-reply callback for the answer, as a wire-format DNS
 * packet that it parses itself. dkim_odkim_dns_start resolves synchronously
 * through dns_resolve and writes a packet built from the result (status,
 * records) into libopendkim's buffer, so the answer never depends on how
 * big the resolver's own packet was (RRSIGs, CNAME chains). Timeouts and
 * SERVFAIL become a wait-reply error, which libopendkim reports as a
 * key-lookup failure (temperror); NXDOMAIN and NODATA become an answer
 * without records (no key: permerror). Never hand libopendkim a "success"
 * without a well-formed packet: it would parse its uninitialized buffer.
 *
 * Signature processing is delayed to end of message
 * (DKIM_LIBFLAGS_DELAYSIGPROC): our final callback processes the
 * signatures one by one, so that the time budget can stop the lookups.
 *
 * Threading: struct dkim_odkim_lib is read-only after dkim_odkim_lib_new; the
 * callbacks find the message through the DKIM handle's user context.
 * Nothing static is written.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <opendkim/dkim.h>

#include "base/buf.h"
#include "base/clock.h"
#include "auth/dkim_keycache.h"
#include "auth/dkim_odkim.h"
#include "auth/dkim_verify.h"
#include "base/dns.h"
#include "base/log.h"
#include "auth/sign.h"
#include "base/xalloc.h"

#define DKIM_ODKIM_QID_MAX	64	/* queue id kept for logging, with its NUL */

/* Why we set a signature aside ourselves, before libopendkim judged it. */
enum dkim_odkim_mark {
	DKIM_ODKIM_MARK_NONE,
	DKIM_ODKIM_MARK_SHA1,	/* rsa-sha1: fail without a lookup */
	DKIM_ODKIM_MARK_BADNAME,	/* s._domainkey.d is no DNS name */
	DKIM_ODKIM_MARK_BUDGET,	/* time budget spent before its lookup */
	DKIM_ODKIM_MARK_ERROR,	/* libopendkim could not process it */
};

struct dkim_odkim_lib {
	DKIM_LIB *dkim;			/* libopendkim instance */
	struct dns *dns;		/* resolver (borrowed) */
	int timeout_ms;			/* per lookup; 0: resolver default */
	int dnssec;			/* resolver validates */
	unsigned int max_sigs;		/* signatures verified per message */
	unsigned int min_rsa_bits;	/* shorter RSA keys fail */
	int budget_ms;			/* lookups per message; <= 0: none */
};

struct dkim_odkim {
	struct dkim_odkim_lib *lib;		/* verifier (borrowed) */
	DKIM *dkim;			/* libopendkim handle; NULL if refused */
	char qid[DKIM_ODKIM_QID_MAX];	/* for log lines */
	struct buf hdr;			/* scratch: one header field */
	size_t nsigfields;		/* DKIM-Signature fields seen */
	size_t nfed;			/* of them handed to libopendkim */
	int failed;			/* libopendkim failed: temperror all */
	int eoh_done;			/* dkim_odkim_eoh called */
	int nosig;			/* libopendkim found nothing to verify */
	enum dkim_odkim_mark *mark;		/* per signature in libopendkim's list */
	int nmark;			/* entries in mark */
	size_t bodylen;			/* body bytes given to libopendkim */
	unsigned char tail[2];		/* the last two of them */
	struct sign_body *clen_simple;	/* canonical body length, simple; owned */
	struct sign_body *clen_relaxed;	/* and relaxed; both NULL unless
					 * need_clen (made at the end of the
					 * header, where l= may be seen) */
	int need_clen;			/* a signature has l=: count the body */
};

/* ------------------------------------------------------------ DNS */

/* A finished key lookup: what dkim_odkim_dns_waitreply reports. */
struct dkim_odkim_query {
	enum dns_status status;		/* resolver outcome */
	size_t len;			/* packet bytes written to the buffer */
	int dnssec;			/* DKIM_DNSSEC_* */
};

/* dkim_odkim_put16 - store a 16-bit value in network order */
static unsigned char *
dkim_odkim_put16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
	return p + 2;
}

/* dkim_odkim_wire_name - encode name as DNS labels into p; bytes or 0 if invalid */
static size_t
dkim_odkim_wire_name(const char *name, unsigned char *p, size_t room)
{
	size_t n = 0, lab;
	const char *dot;

	while (*name != '\0') {
		dot = strchr(name, '.');
		lab = dot != NULL ? (size_t)(dot - name) : strlen(name);
		if (lab == 0 || lab > 63 || n + 1 + lab + 1 > room)
			return 0;
		p[n++] = (unsigned char)lab;
		memcpy(p + n, name, lab);
		n += lab;
		name += lab;
		if (*name == '.')
			name++;
	}
	if (n + 1 > room || n + 1 > 255)
		return 0;
	p[n++] = 0;
	return n;
}

/*
 * dkim_odkim_packet - a DNS answer to name/type holding rcode and the records
 * of r, written to buf; its length, or 0 when it does not fit or the name
 * cannot be encoded.
 */
static size_t
dkim_odkim_packet(const char *name, int type, int rcode,
    const struct dns_result *r, unsigned char *buf, size_t buflen)
{
	unsigned char *p = buf, *end = buf + buflen;
	size_t nl, i, n = r != NULL ? r->n : 0;

	if (buflen < 12 || n > 0xffff)
		return 0;
	p = dkim_odkim_put16(p, 0);				/* id */
	*p++ = 0x81;					/* QR, RD */
	*p++ = (unsigned char)(0x80 | (rcode & 0x0f));	/* RA, rcode */
	p = dkim_odkim_put16(p, 1);				/* qdcount */
	p = dkim_odkim_put16(p, (unsigned int)n);		/* ancount */
	p = dkim_odkim_put16(p, 0);				/* nscount */
	p = dkim_odkim_put16(p, 0);				/* arcount */
	nl = dkim_odkim_wire_name(name, p, (size_t)(end - p));
	if (nl == 0 || (size_t)(end - p) < nl + 4)
		return 0;
	p += nl;
	p = dkim_odkim_put16(p, (unsigned int)type);
	p = dkim_odkim_put16(p, 1);				/* class IN */
	for (i = 0; i < n; i++) {
		if (r->len[i] > 0xffff || (size_t)(end - p) < 12 + r->len[i])
			return 0;
		p = dkim_odkim_put16(p, 0xc00c);		/* the question's name */
		p = dkim_odkim_put16(p, (unsigned int)type);
		p = dkim_odkim_put16(p, 1);
		p = dkim_odkim_put16(p, (unsigned int)(r->ttl > 0 ? r->ttl : 0) >> 16);
		p = dkim_odkim_put16(p, (unsigned int)(r->ttl > 0 ? r->ttl : 0) & 0xffff);
		p = dkim_odkim_put16(p, (unsigned int)r->len[i]);
		memcpy(p, r->data[i], r->len[i]);
		p += r->len[i];
	}
	return (size_t)(p - buf);
}

/*
 * dkim_odkim_oversized - an answer larger than libopendkim's buffer is a key
 * record no verifier can use: it is answered with a record that is not a
 * tag-list, so the signature gets permerror (a malformed key), not
 * temperror (retrying never helps). Returns the packet length, 0 if even
 * that does not fit.
 */
static size_t
dkim_odkim_oversized(const char *name, int type, unsigned char *buf, size_t buflen)
{
	static const unsigned char rdata[] = "\010oversize";
	unsigned char *data = (unsigned char *)rdata;
	size_t len = sizeof(rdata) - 1;
	struct dns_result fake;

	memset(&fake, 0, sizeof(fake));
	fake.n = 1;
	fake.data = &data;
	fake.len = &len;
	log_warn(NULL, "dkim: key record at %s is larger than %zu bytes: "
	    "treated as malformed", name, buflen);
	return dkim_odkim_packet(name, type, 0, &fake, buf, buflen);
}

/* dkim_odkim_dns_start - libopendkim's query start: resolve now, keep the answer */
static int
dkim_odkim_dns_start(void *srv, int type, unsigned char *query, unsigned char *buf,
    size_t buflen, void **qh)
{
	struct dkim_odkim_lib *lib = srv;
	struct dkim_odkim_query *q = xcalloc(1, sizeof(*q));
	struct dns_result r;

	q->status = dns_resolve(lib->dns, (const char *)query, type,
	    lib->timeout_ms, &r);
	q->dnssec = r.secure ? DKIM_DNSSEC_SECURE
	    : lib->dnssec ? DKIM_DNSSEC_INSECURE : DKIM_DNSSEC_UNKNOWN;
	switch (q->status) {
	case DNS_OK:
		q->len = dkim_odkim_packet((const char *)query, type, 0, &r, buf,
		    buflen);
		break;
	case DNS_NXDOMAIN:
		q->len = dkim_odkim_packet((const char *)query, type, 3, NULL, buf,
		    buflen);
		break;
	case DNS_NODATA:
		q->len = dkim_odkim_packet((const char *)query, type, 0, NULL, buf,
		    buflen);
		break;
	default:
		break;		/* TEMPFAIL, BOGUS, ERROR: no answer */
	}
	if (q->len == 0 && q->status == DNS_OK)
		q->len = dkim_odkim_oversized((const char *)query, type, buf, buflen);
	if (q->len == 0 && (q->status == DNS_OK || q->status == DNS_NXDOMAIN ||
	    q->status == DNS_NODATA)) {
		log_warn(NULL, "dkim: answer for %s does not fit %zu bytes",
		    (const char *)query, buflen);
		q->status = DNS_ERROR;
	}
	dns_result_free(&r);
	*qh = q;
	return 0;
}

/* dkim_odkim_dns_waitreply - libopendkim's wait: the answer is already there */
static int
dkim_odkim_dns_waitreply(void *srv, void *qh, struct timeval *to, size_t *bytes,
    int *error, int *dnssec)
{
	struct dkim_odkim_query *q = qh;

	(void)srv;
	(void)to;
	if (q->len == 0) {
		if (error != NULL)
			*error = (int)q->status;
		/* Timeouts and lookup failures alike: libopendkim makes
		 * both a key-lookup failure (temperror). */
		return DKIM_DNS_ERROR;
	}
	if (bytes != NULL)
		*bytes = q->len;
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = q->dnssec;
	return DKIM_DNS_SUCCESS;
}

/* dkim_odkim_statstr - libopendkim's text for a status, never NULL */
static const char *
dkim_odkim_statstr(DKIM_STAT st)
{
	const char *s = dkim_getresultstr(st);

	return s != NULL ? s : "unknown status";
}

/* dkim_odkim_dns_cancel - libopendkim is done with a query (called once for each) */
static int
dkim_odkim_dns_cancel(void *srv, void *qh)
{
	(void)srv;
	free(qh);
	return DKIM_DNS_SUCCESS;
}

/* dkim_odkim_keyname_ok - is s._domainkey.d a name DNS can carry? */
static int
dkim_odkim_keyname_ok(const char *sel, const char *dom)
{
	char name[300];
	unsigned char wire[256];
	int n;

	if (sel == NULL || dom == NULL)
		return 0;
	n = snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom);
	if (n < 0 || (size_t)n >= sizeof(name) || n > 253)
		return 0;
	return dkim_odkim_wire_name(name, wire, sizeof(wire)) > 0;
}

/* dkim_odkim_prescreen - after the header: set rsa-sha1 aside (no lookup) */
static DKIM_CBSTAT
dkim_odkim_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	struct dkim_odkim *v = dkim_get_user_context(dkim);
	dkim_alg_t alg;
	int i;

	if (v == NULL || nsigs <= 0)
		return DKIM_CBSTAT_CONTINUE;
	free(v->mark);
	v->mark = xcalloc((size_t)nsigs, sizeof(*v->mark));
	v->nmark = nsigs;
	for (i = 0; i < nsigs; i++) {
		/* Before the tags are parsed the algorithm reads as 0, which
		 * is rsa-sha1: only a signature without errors counts. */
		if (dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN)
			continue;
		if (dkim_sig_getsignalg(sigs[i], &alg) == DKIM_STAT_OK &&
		    alg == DKIM_SIGN_RSASHA1) {
			v->mark[i] = DKIM_ODKIM_MARK_SHA1;
			dkim_sig_ignore(sigs[i]);
		} else if (!dkim_odkim_keyname_ok(
		    (const char *)dkim_sig_getselector(sigs[i]),
		    (const char *)dkim_sig_getdomain(sigs[i]))) {
			v->mark[i] = DKIM_ODKIM_MARK_BADNAME;
			dkim_sig_ignore(sigs[i]);
		}
	}
	return DKIM_CBSTAT_CONTINUE;
}

/* dkim_odkim_final - at end of message: process each signature, within budget */
static DKIM_CBSTAT
dkim_odkim_final(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	struct dkim_odkim *v = dkim_get_user_context(dkim);
	struct timespec t0;
	DKIM_STAT st;
	int i;

	if (v == NULL)
		return DKIM_CBSTAT_CONTINUE;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nsigs && i < v->nmark; i++) {
		if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE) != 0 ||
		    dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN)
			continue;
		if (v->lib->budget_ms > 0 &&
		    clock_ms_since(&t0) >= v->lib->budget_ms) {
			v->mark[i] = DKIM_ODKIM_MARK_BUDGET;
			dkim_sig_ignore(sigs[i]);
			continue;
		}
		st = dkim_sig_process(dkim, sigs[i]);
		if (st != DKIM_STAT_OK) {
			const char *e = dkim_geterror(dkim);

			log_warn(v->qid, "dkim: signature %d: %s%s%s", i + 1,
			    dkim_odkim_statstr(st), e != NULL ? ": " : "",
			    e != NULL ? e : "");
			v->mark[i] = DKIM_ODKIM_MARK_ERROR;
			dkim_sig_ignore(sigs[i]);
		}
	}
	return DKIM_CBSTAT_CONTINUE;
}

/* ------------------------------------------------------------ library */

/* dkim_odkim_lib_new - a verifier for one snapshot */
struct dkim_odkim_lib *
dkim_odkim_lib_new(const struct dkim_verify_options *opt, char *err, size_t errlen)
{
	struct dkim_odkim_lib *lib;
	unsigned int flags, bits;

	if (opt == NULL || opt->dns == NULL) {
		(void)snprintf(err, errlen, "DKIM verifier: no resolver");
		return NULL;
	}
	lib = xcalloc(1, sizeof(*lib));
	lib->dns = opt->dns;
	lib->timeout_ms = opt->dns_timeout_ms > 0 ? opt->dns_timeout_ms : 0;
	lib->dnssec = opt->dnssec != 0;
	lib->max_sigs = opt->max_signatures > 0 ? opt->max_signatures
	    : DKIM_VERIFY_DEFAULT_MAX_SIGS;
	lib->min_rsa_bits = opt->min_rsa_bits > 0 ? opt->min_rsa_bits
	    : DKIM_VERIFY_DEFAULT_RSA_BITS;
	lib->budget_ms = opt->time_budget_ms == 0 ? DKIM_VERIFY_DEFAULT_BUDGET_MS
	    : opt->time_budget_ms;
	dkim_keycache_link();	/* its d2i_PUBKEY_bio decodes each key once */
	lib->dkim = dkim_init(NULL, NULL);
	if (lib->dkim == NULL) {
		(void)snprintf(err, errlen, "DKIM verifier: dkim_init failed");
		free(lib);
		return NULL;
	}
	if (!dkim_libfeature(lib->dkim, DKIM_FEATURE_SHA256) ||
	    !dkim_libfeature(lib->dkim, DKIM_FEATURE_ED25519))
		log_warn(NULL, "dkim: libopendkim lacks %s",
		    sign_alg_name(dkim_libfeature(lib->dkim, DKIM_FEATURE_SHA256)
		    ? SIGN_ALG_ED25519_SHA256 : SIGN_ALG_RSA_SHA256));
	/*
	 * BADSIGHANDLES: a malformed signature stays in the list with its
	 * error (neutral), instead of vanishing (which would read "none").
	 * DELAYSIGPROC: lookups happen in dkim_odkim_final, under the budget.
	 */
	flags = DKIM_LIBFLAGS_BADSIGHANDLES | DKIM_LIBFLAGS_DELAYSIGPROC;
	bits = lib->min_rsa_bits;
	if (dkim_options(lib->dkim, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof(flags)) != DKIM_STAT_OK ||
	    dkim_options(lib->dkim, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &bits,
	    sizeof(bits)) != DKIM_STAT_OK ||
	    dkim_set_prescreen(lib->dkim, dkim_odkim_prescreen) != DKIM_STAT_OK ||
	    dkim_set_final(lib->dkim, dkim_odkim_final) != DKIM_STAT_OK) {
		(void)snprintf(err, errlen, "DKIM verifier: cannot set libopendkim options");
		dkim_odkim_lib_free(lib);
		return NULL;
	}
	/*
	 * Our resolver instead of libc's. libopendkim would call its default
	 * init (res_ninit) only without a service handle, but its default
	 * close (res_nclose + free) runs on whatever handle is set when
	 * dkim_close() comes: both go.
	 */
	dkim_dns_set_init(lib->dkim, NULL);
	dkim_dns_set_close(lib->dkim, NULL);
	dkim_dns_set_query_service(lib->dkim, lib);
	dkim_dns_set_query_start(lib->dkim, dkim_odkim_dns_start);
	dkim_dns_set_query_waitreply(lib->dkim, dkim_odkim_dns_waitreply);
	dkim_dns_set_query_cancel(lib->dkim, dkim_odkim_dns_cancel);
	return lib;
}

/* dkim_odkim_lib_free - release a verifier */
void
dkim_odkim_lib_free(struct dkim_odkim_lib *lib)
{
	if (lib == NULL)
		return;
	if (lib->dkim != NULL)
		dkim_close(lib->dkim);
	free(lib);
}

/* ------------------------------------------------------------ message */

/* dkim_odkim_fail - libopendkim failed on this message: temperror from now on */
static void
dkim_odkim_fail(struct dkim_odkim *v, const char *where, DKIM_STAT st)
{
	const char *e = v->dkim != NULL ? dkim_geterror(v->dkim) : NULL;

	if (!v->failed)
		log_warn(v->qid, "dkim: %s: %s%s%s", where, dkim_odkim_statstr(st),
		    e != NULL ? ": " : "", e != NULL ? e : "");
	v->failed = 1;
}

/* dkim_odkim_begin - start verifying one message */
struct dkim_odkim *
dkim_odkim_begin(struct dkim_odkim_lib *lib, const char *qid)
{
	struct dkim_odkim *v = xcalloc(1, sizeof(*v));
	DKIM_STAT st = DKIM_STAT_INTERNAL;

	v->lib = lib;
	(void)snprintf(v->qid, sizeof(v->qid), "%s", qid != NULL ? qid : "");
	buf_init(&v->hdr);
	v->dkim = dkim_verify(lib->dkim, (const unsigned char *)
	    (qid != NULL && qid[0] != '\0' ? qid : "-"), NULL, &st);
	if (v->dkim == NULL)
		dkim_odkim_fail(v, "dkim_verify", st);
	else
		dkim_set_user_context(v->dkim, v);
	return v;
}

/* dkim_odkim_has_l_tag - might this DKIM-Signature value carry an l= tag? (never misses one) */
static int
dkim_odkim_has_l_tag(const char *value)
{
	const char *p = value;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == 'l') {
			p++;
			while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
				p++;
			if (*p == '=')
				return 1;
		}
		if ((p = strchr(p, ';')) == NULL)
			return 0;
		p++;
	}
}

/* dkim_odkim_header - one header field */
void
dkim_odkim_header(struct dkim_odkim *v, const char *name, const char *value)
{
	const char *p;
	DKIM_STAT st;
	size_t len;

	len = strlen(name);
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;		/* "DKIM-Signature :" counts too (libopendkim) */
	if (len == 14 && strncasecmp(name, "DKIM-Signature", 14) == 0) {
		/* Fields past the cap never reach libopendkim: each
		 * distinct l= or c= would cost one more body hash. */
		if (++v->nsigfields > v->lib->max_sigs)
			return;
		v->nfed++;
		if (dkim_odkim_has_l_tag(value))
			v->need_clen = 1;
	}
	if (v->dkim == NULL || v->failed || v->eoh_done)
		return;
	/* "Name:value" with CRLF folds, no CRLF at the end. */
	buf_reset(&v->hdr);
	buf_puts(&v->hdr, name);
	buf_putc(&v->hdr, ':');
	len = strlen(value);
	while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r'))
		len--;
	for (p = value; p < value + len; p++) {
		if (*p == '\n' && (p == value || p[-1] != '\r'))
			buf_putc(&v->hdr, '\r');
		buf_putc(&v->hdr, *p);
	}
	st = dkim_header(v->dkim, (unsigned char *)v->hdr.data, v->hdr.len);
	if (st == DKIM_STAT_SYNTAX) {
		/* A bad field name (dropped), or a malformed DKIM-Signature
		 * (kept, and reported neutral). */
		log_debug(v->qid, "dkim: header %.40s: %s", name,
		    dkim_geterror(v->dkim) != NULL ? dkim_geterror(v->dkim)
		    : "syntax error");
	} else if (st != DKIM_STAT_OK) {
		dkim_odkim_fail(v, "dkim_header", st);
	}
}

/* dkim_odkim_eoh - end of the header */
void
dkim_odkim_eoh(struct dkim_odkim *v)
{
	DKIM_STAT st;

	if (v->eoh_done)
		return;
	v->eoh_done = 1;
	if (v->need_clen) {
		v->clen_simple = sign_body_count_new(SIGN_CANON_SIMPLE);
		v->clen_relaxed = sign_body_count_new(SIGN_CANON_RELAXED);
	}
	if (v->dkim == NULL || v->failed)
		return;
	st = dkim_eoh(v->dkim);
	if (st == DKIM_STAT_NOSIG)
		v->nosig = 1;
	else if (st != DKIM_STAT_OK)
		dkim_odkim_fail(v, "dkim_eoh", st);
}

/* dkim_odkim_body - one body chunk */
void
dkim_odkim_body(struct dkim_odkim *v, const unsigned char *data, size_t len)
{
	DKIM_STAT st;

	if (!v->eoh_done)
		dkim_odkim_eoh(v);
	if (v->dkim == NULL || v->failed || v->nosig || len == 0)
		return;
	if (v->clen_simple != NULL) {	/* only l= needs the canonical length */
		(void)sign_body_update(v->clen_simple, data, len);
		(void)sign_body_update(v->clen_relaxed, data, len);
	}
	v->tail[0] = len > 1 ? data[len - 2] : v->tail[1];
	v->tail[1] = data[len - 1];
	v->bodylen += len;
	/* libopendkim only reads the chunk; its prototype lacks const. */
	st = dkim_body(v->dkim, (unsigned char *)(uintptr_t)data, len);
	if (st != DKIM_STAT_OK)
		dkim_odkim_fail(v, "dkim_body", st);
}

/* ------------------------------------------------------------ results */

/* dkim_odkim_copy - copy a tag value as printable ASCII; -1 when it does not fit */
static int
dkim_odkim_copy(char *dst, size_t dstlen, const unsigned char *src)
{
	size_t i;

	dst[0] = '\0';
	if (src == NULL)
		return 0;
	for (i = 0; src[i] != '\0'; i++) {
		if (i + 1 >= dstlen) {
			dst[0] = '\0';
			return -1;
		}
		dst[i] = src[i] > 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	}
	dst[i] = '\0';
	return 0;
}

/* dkim_odkim_set - set the result and its reason */
static void
dkim_odkim_set(struct dkim_verify_sig *s, enum dkim_verify_res res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
dkim_odkim_set(struct dkim_verify_sig *s, enum dkim_verify_res res, const char *fmt, ...)
{
	va_list ap;

	s->res = res;
	va_start(ap, fmt);
	/* Truncation is harmless: the reason is a comment. */
	if (vsnprintf(s->reason, sizeof(s->reason), fmt, ap) < 0)
		s->reason[0] = '\0';
	va_end(ap);
}

/* dkim_odkim_errstr - libopendkim's text for a signature error */
static const char *
dkim_odkim_errstr(int err)
{
	const char *s = dkim_sig_geterrorstr(err);

	return s != NULL ? s : "unknown error";
}

/* dkim_odkim_judge_error - the verdict on a signature libopendkim flagged */
static void
dkim_odkim_judge_error(struct dkim_verify_sig *s, int err, DKIM_SIGINFO *sig)
{
	switch (err) {
	case DKIM_SIGERROR_BADSIG:
		if (dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH)
			dkim_odkim_set(s, DKIM_VERIFY_FAIL, "body hash mismatch");
		else
			dkim_odkim_set(s, DKIM_VERIFY_FAIL, "signature did not verify");
		break;
	case DKIM_SIGERROR_KEYREVOKED:
		/* RFC 6376 3.6.1: an empty p= is a failed signature check. */
		dkim_odkim_set(s, DKIM_VERIFY_FAIL, "key revoked");
		break;
	case DKIM_SIGERROR_KEYTOOSMALL:
		dkim_odkim_set(s, DKIM_VERIFY_FAIL, "key too short (%u bits)", s->keybits);
		break;
	case DKIM_SIGERROR_EXPIRED:
	case DKIM_SIGERROR_FUTURE:
	case DKIM_SIGERROR_TOOLARGE_L:
		dkim_odkim_set(s, DKIM_VERIFY_FAIL, "%s", dkim_odkim_errstr(err));
		break;
	case DKIM_SIGERROR_NOKEY:
		dkim_odkim_set(s, DKIM_VERIFY_PERMERROR, "no key");
		break;
	case DKIM_SIGERROR_KEYFAIL:
		dkim_odkim_set(s, DKIM_VERIFY_TEMPERROR, "key lookup failed");
		break;
	case DKIM_SIGERROR_DNSSYNTAX:
	case DKIM_SIGERROR_MULTIREPLY:
	case DKIM_SIGERROR_KEYVERSION:
	case DKIM_SIGERROR_KEYUNKNOWNHASH:
	case DKIM_SIGERROR_KEYHASHMISMATCH:
	case DKIM_SIGERROR_NOTEMAILKEY:
	case DKIM_SIGERROR_KEYTYPEMISSING:
	case DKIM_SIGERROR_KEYTYPEUNKNOWN:
	case DKIM_SIGERROR_KEYDECODE:
	case DKIM_SIGERROR_SUBDOMAIN:
		dkim_odkim_set(s, DKIM_VERIFY_PERMERROR, "bad key: %s", dkim_odkim_errstr(err));
		break;
	default:
		dkim_odkim_set(s, DKIM_VERIFY_NEUTRAL, "malformed signature: %s",
		    dkim_odkim_errstr(err));
		break;
	}
}

/* dkim_odkim_judge - the verdict on signature i */
static void
dkim_odkim_judge(struct dkim_odkim *v, DKIM_SIGINFO *sig, int i, struct dkim_verify_sig *s)
{
	enum dkim_odkim_mark mark = i < v->nmark ? v->mark[i] : DKIM_ODKIM_MARK_NONE;
	unsigned int flags = dkim_sig_getflags(sig);
	int err = dkim_sig_geterror(sig);
	dkim_canon_t hc, bc;
	dkim_alg_t alg;
	ssize_t signlen = -1;
	unsigned long long clen;

	switch (mark) {
	case DKIM_ODKIM_MARK_SHA1:
		dkim_odkim_set(s, DKIM_VERIFY_FAIL, "rsa-sha1 not accepted (RFC 8301)");
		return;
	case DKIM_ODKIM_MARK_BADNAME:
		dkim_odkim_set(s, DKIM_VERIFY_PERMERROR, "invalid key name");
		return;
	case DKIM_ODKIM_MARK_BUDGET:
		dkim_odkim_set(s, DKIM_VERIFY_TEMPERROR, "DNS time budget exhausted");
		return;
	case DKIM_ODKIM_MARK_ERROR:
		dkim_odkim_set(s, DKIM_VERIFY_TEMPERROR, "verifier error");
		return;
	case DKIM_ODKIM_MARK_NONE:
		break;
	}
	if (err != DKIM_SIGERROR_UNKNOWN && err != DKIM_SIGERROR_OK) {
		dkim_odkim_judge_error(s, err, sig);
		return;
	}
	if ((flags & DKIM_SIGFLAG_PROCESSED) == 0) {
		dkim_odkim_set(s, DKIM_VERIFY_TEMPERROR, "not processed");
		return;
	}
	if ((flags & DKIM_SIGFLAG_PASSED) == 0) {
		dkim_odkim_set(s, DKIM_VERIFY_FAIL, "signature did not verify");
		return;
	}
	if (dkim_sig_getbh(sig) != DKIM_SIGBH_MATCH) {
		dkim_odkim_set(s, DKIM_VERIFY_FAIL, "body hash mismatch");
		return;
	}
	if (dkim_sig_getsignalg(sig, &alg) == DKIM_STAT_OK &&
	    alg != DKIM_SIGN_ED25519SHA256 && s->keybits < v->lib->min_rsa_bits) {
		dkim_odkim_set(s, DKIM_VERIFY_FAIL, "key too short (%u bits)", s->keybits);
		return;
	}
	if (v->clen_simple != NULL && dkim_sig_getcanonlen(v->dkim, sig, NULL,
	    NULL, &signlen) == DKIM_STAT_OK && signlen >= 0 &&
	    dkim_sig_getcanons(sig, &hc, &bc) == DKIM_STAT_OK) {
		clen = sign_body_length(bc == DKIM_CANON_RELAXED ?
		    v->clen_relaxed : v->clen_simple);
		if (clen > (unsigned long long)signlen) {
			s->unsigned_bytes = (size_t)(clen -
			    (unsigned long long)signlen);
			dkim_odkim_set(s, DKIM_VERIFY_POLICY, "l= leaves %zu bytes unsigned",
			    s->unsigned_bytes);
			return;
		}
	}
	s->testing = (flags & DKIM_SIGFLAG_TESTKEY) != 0;
	dkim_odkim_set(s, DKIM_VERIFY_PASS, "%s", s->testing ? "key in testing mode (t=y)" : "");
}

/* dkim_odkim_describe - the tags, key size and DNSSEC state of signature sig */
static void
dkim_odkim_describe(DKIM_SIGINFO *sig, struct dkim_verify_sig *s, struct buf *bval)
{
	const unsigned char *p;
	unsigned int bits = 0;

	p = dkim_sig_getdomain(sig);
	if (dkim_odkim_copy(s->domain, sizeof(s->domain),
	    p != NULL ? p : dkim_sig_gettagvalue(sig, 0, (u_char *)"d")) < 0)
		dkim_odkim_set(s, DKIM_VERIFY_NEUTRAL, "malformed signature: d= too long");
	p = dkim_sig_getselector(sig);
	if (dkim_odkim_copy(s->selector, sizeof(s->selector),
	    p != NULL ? p : dkim_sig_gettagvalue(sig, 0, (u_char *)"s")) < 0)
		dkim_odkim_set(s, DKIM_VERIFY_NEUTRAL, "malformed signature: s= too long");
	(void)dkim_odkim_copy(s->algorithm, sizeof(s->algorithm),
	    dkim_sig_gettagvalue(sig, 0, (u_char *)"a"));
	if (dkim_odkim_copy(s->identity, sizeof(s->identity),
	    dkim_sig_gettagvalue(sig, 0, (u_char *)"i")) < 0)
		dkim_odkim_set(s, DKIM_VERIFY_NEUTRAL, "malformed signature: i= too long");
	/* b= may be folded: keep its base64 characters only. */
	buf_reset(bval);
	p = dkim_sig_gettagvalue(sig, 0, (u_char *)"b");
	for (; p != NULL && *p != '\0'; p++)
		if (isalnum(*p) || *p == '+' || *p == '/' || *p == '=')
			buf_putc(bval, *p);
	if (strcasecmp(s->algorithm,
	    sign_alg_name(SIGN_ALG_ED25519_SHA256)) == 0) {
		/* libopendkim reports 0 bits (or, in later versions, the
		 * signature's 512): an Ed25519 key that was decoded and
		 * tried has 256. */
		if ((dkim_sig_getflags(sig) & DKIM_SIGFLAG_PASSED) != 0 ||
		    dkim_sig_geterror(sig) == DKIM_SIGERROR_BADSIG)
			s->keybits = 256;
	} else if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) {
		s->keybits = bits;
	}
	switch (dkim_sig_getdnssec(sig)) {
	case DKIM_DNSSEC_SECURE:
		s->dnssec = DKIM_VERIFY_DNSSEC_SECURE;
		break;
	case DKIM_DNSSEC_INSECURE:
		s->dnssec = DKIM_VERIFY_DNSSEC_INSECURE;
		break;
	default:
		s->dnssec = DKIM_VERIFY_DNSSEC_UNKNOWN;
		break;
	}
}

/* dkim_odkim_eom - finish: look up keys, verify, report */
int
dkim_odkim_eom(struct dkim_odkim *v, struct dkim_verify_results *out)
{
	DKIM_SIGINFO **sigs = NULL;
	struct buf *bvals;
	DKIM_STAT st;
	int nsigs = 0;
	size_t i;
	struct dkim_verify_sig *s;

	memset(out, 0, sizeof(*out));
	out->total = v->nsigfields;
	if (!v->eoh_done)
		dkim_odkim_eoh(v);
	if (v->nfed == 0)
		return 0;			/* unsigned: dkim=none */
	/* RFC 6376 3.4.3, 3.4.4: a body not ending in CRLF gets one;
	 * libopendkim would fail the whole message instead. */
	if (v->bodylen > 0 && (v->tail[0] != '\r' || v->tail[1] != '\n'))
		dkim_odkim_body(v, (const unsigned char *)"\r\n", 2);
	if (v->clen_simple != NULL) {	/* the lengths are complete */
		(void)sign_body_final(v->clen_simple, NULL);
		(void)sign_body_final(v->clen_relaxed, NULL);
	}
	if (!v->failed) {
		st = dkim_eom(v->dkim, NULL);
		switch (st) {
		case DKIM_STAT_OK: case DKIM_STAT_BADSIG: case DKIM_STAT_NOSIG:
		case DKIM_STAT_NOKEY: case DKIM_STAT_KEYFAIL:
		case DKIM_STAT_REVOKED: case DKIM_STAT_CANTVRFY:
			break;			/* verdicts are per signature */
		default:
			dkim_odkim_fail(v, "dkim_eom", st);
			break;
		}
	}
	if (v->dkim != NULL &&
	    dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	/* libopendkim lists each field it got (malformed ones too). */
	out->n = sigs != NULL && nsigs > 0 ? (size_t)nsigs : 0;
	if (v->failed && out->n == 0)
		out->n = v->nfed;
	if (out->n > v->lib->max_sigs)
		out->n = v->lib->max_sigs;
	if (out->n == 0)
		return 0;
	out->sig = xcalloc(out->n, sizeof(*out->sig));
	bvals = xcalloc(out->n, sizeof(*bvals));
	for (i = 0; i < out->n; i++) {
		s = &out->sig[i];
		s->res = DKIM_VERIFY_TEMPERROR;	/* never pass by default */
		if (sigs != NULL && i < (size_t)nsigs) {
			dkim_odkim_describe(sigs[i], s, &bvals[i]);
			if (s->reason[0] == '\0' && !v->failed)
				dkim_odkim_judge(v, sigs[i], (int)i, s);
		}
		if (v->failed)
			dkim_odkim_set(s, DKIM_VERIFY_TEMPERROR, "verifier error");
		log_debug(v->qid, "dkim: d=%s s=%s a=%s b=%.12s bits=%u "
		    "dnssec=%s: %s%s%s", s->domain, s->selector, s->algorithm,
		    bvals[i].data != NULL ? bvals[i].data : "", s->keybits,
		    dkim_verify_dnssec_name(s->dnssec), dkim_verify_res_name(s->res),
		    s->reason[0] != '\0' ? " - " : "", s->reason);
	}
	for (i = 0; i < out->n; i++)
		out->sig[i].b = buf_steal(&bvals[i]);
	free(bvals);
	return v->failed ? -1 : 0;
}

/* dkim_odkim_free - end the message */
void
dkim_odkim_free(struct dkim_odkim *v)
{
	if (v == NULL)
		return;
	if (v->dkim != NULL)
		dkim_free(v->dkim);
	free(v->mark);
	sign_body_free(v->clen_simple);
	sign_body_free(v->clen_relaxed);
	buf_free(&v->hdr);
	free(v);
}

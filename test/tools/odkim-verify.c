/*
 * odkim-verify.c - verify every DKIM-Signature of a message with libopendkim.
 *
 * Usage: odkim-verify KEYFILE < message
 *
 * A second, independent verifier for the integration tests. KEYFILE holds
 * lines "selector._domainkey.domain TXT-record-content" (libopendkim's file
 * query method, no DNS). The message may use LF or CRLF line endings; it is
 * fed to libopendkim with CRLF. One line per signature is printed:
 *   d=DOMAIN s=SELECTOR result=pass
 *   d=DOMAIN s=SELECTOR result=fail error="..."
 * Exit 0 only if there is at least one signature and all pass; 1 if not;
 * 2 on usage or internal errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opendkim/dkim.h>

#define ODKIM_MAX_MSG	(64UL * 1024 * 1024)	/* refuse bigger input */

/* Growable byte string, local to this tool (it does not link the milter). */
struct ovbuf {
	unsigned char *data;	/* contents */
	size_t len;		/* bytes used */
	size_t cap;		/* bytes allocated */
};

/* odkim_die - report a fatal error and exit 2 */
static void
odkim_die(const char *what)
{
	fprintf(stderr, "odkim-verify: %s\n", what);
	exit(2);
}

/* odkim_put - append n bytes, growing the buffer */
static void
odkim_put(struct ovbuf *b, const void *p, size_t n)
{
	size_t cap;

	if (n > ODKIM_MAX_MSG || b->len > ODKIM_MAX_MSG - n)
		odkim_die("message too large");
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
			odkim_die("out of memory");
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* odkim_read_crlf - read stdin whole, every line ending made CRLF */
static void
odkim_read_crlf(struct ovbuf *msg)
{
	unsigned char chunk[8192];
	size_t n, i;
	int prev = 0;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		for (i = 0; i < n; i++) {
			if (chunk[i] == '\n' && prev != '\r')
				odkim_put(msg, "\r", 1);
			odkim_put(msg, &chunk[i], 1);
			prev = chunk[i];
		}
	}
	if (ferror(stdin))
		odkim_die("read error on stdin");
}

/* odkim_line_end - offset just past the CRLF that ends the line at off */
static size_t
odkim_line_end(const struct ovbuf *msg, size_t off)
{
	while (off + 1 < msg->len && !(msg->data[off] == '\r' &&
	    msg->data[off + 1] == '\n'))
		off++;
	return off + 1 < msg->len ? off + 2 : msg->len;
}

/* odkim_feed_headers - one dkim_header per field; returns body offset */
static size_t
odkim_feed_headers(DKIM *d, const struct ovbuf *msg)
{
	size_t off = 0, start, end;

	/* An mbox "From " line is not a header. */
	if (msg->len > 5 && memcmp(msg->data, "From ", 5) == 0)
		off = odkim_line_end(msg, 0);
	while (off < msg->len) {
		if (msg->data[off] == '\r' && off + 1 < msg->len &&
		    msg->data[off + 1] == '\n')
			return off + 2;			/* empty line: body */
		start = off;
		end = odkim_line_end(msg, off);
		/* Continuation lines start with WSP. */
		while (end < msg->len && (msg->data[end] == ' ' ||
		    msg->data[end] == '\t'))
			end = odkim_line_end(msg, end);
		off = end;
		if (end >= start + 2 && msg->data[end - 1] == '\n')
			end -= 2;			/* without its CRLF */
		if (dkim_header(d, msg->data + start, end - start) != DKIM_STAT_OK)
			fprintf(stderr, "odkim-verify: header rejected: %s\n",
			    dkim_geterror(d));
	}
	return msg->len;
}

/* odkim_result - "pass", or "fail" with a reason; 1 if it passed */
static int
odkim_result(DKIM_SIGINFO *sig, const char **why)
{
	unsigned int flags = dkim_sig_getflags(sig);
	int err = dkim_sig_geterror(sig);

	*why = NULL;
	if (DKIM_SIG_CHECK(sig))
		return 1;
	/* libopendkim reports a body hash mismatch as a bad signature. */
	if ((flags & DKIM_SIGFLAG_PROCESSED) != 0 &&
	    dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH)
		*why = "body hash mismatch";
	else if (err != DKIM_SIGERROR_OK)
		*why = dkim_sig_geterrorstr(err);
	else if ((flags & DKIM_SIGFLAG_PROCESSED) == 0)
		*why = "not processed";
	else
		*why = "signature did not verify";
	return 0;
}

/* odkim_report - print one line per signature; count the passes */
static int
odkim_report(DKIM *d, int *npass)
{
	DKIM_SIGINFO **sigs = NULL;
	const char *why, *dom, *sel;
	int nsigs = 0, i;

	*npass = 0;
	if (dkim_getsiglist(d, &sigs, &nsigs) != DKIM_STAT_OK)
		return 0;
	for (i = 0; i < nsigs; i++) {
		dom = (const char *)dkim_sig_getdomain(sigs[i]);
		sel = (const char *)dkim_sig_getselector(sigs[i]);
		if (odkim_result(sigs[i], &why)) {
			(*npass)++;
			printf("d=%s s=%s result=pass\n", dom ? dom : "?",
			    sel ? sel : "?");
		} else {
			printf("d=%s s=%s result=fail error=\"%s\"\n",
			    dom ? dom : "?", sel ? sel : "?", why ? why : "?");
		}
	}
	return nsigs;
}

int
main(int argc, char **argv)
{
	dkim_query_t qm = DKIM_QUERY_FILE;
	struct ovbuf msg = { NULL, 0, 0 };
	DKIM_LIB *lib;
	DKIM_STAT st;
	DKIM *d;
	size_t body;
	int nsigs, npass;

	if (argc != 2) {
		fprintf(stderr, "usage: odkim-verify KEYFILE < message\n");
		return 2;
	}
	odkim_read_crlf(&msg);
	if ((lib = dkim_init(NULL, NULL)) == NULL)
		odkim_die("dkim_init failed");
	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qm,
	    sizeof(qm)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, argv[1],
	    strlen(argv[1])) != DKIM_STAT_OK)
		odkim_die("cannot set the file query method");
	d = dkim_verify(lib, (const unsigned char *)"odkim-verify", NULL, &st);
	if (d == NULL)
		odkim_die(dkim_getresultstr(st));
	body = odkim_feed_headers(d, &msg);
	/* Go on after other eoh errors: the report shows each signature. */
	st = dkim_eoh(d);
	if (st != DKIM_STAT_NOSIG) {
		if (body < msg.len)
			(void)dkim_body(d, msg.data + body, msg.len - body);
		(void)dkim_eom(d, NULL);
	}
	nsigs = odkim_report(d, &npass);
	if (nsigs == 0)
		fprintf(stderr, "odkim-verify: no DKIM-Signature (%s)\n",
		    dkim_getresultstr(st));
	dkim_free(d);
	dkim_close(lib);
	free(msg.data);
	return nsigs > 0 && npass == nsigs ? 0 : 1;
}

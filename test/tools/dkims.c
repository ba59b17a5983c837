/*
 * dkims.c - sign one message with authmilter's signer (sign.c), for the
 * verifier tests: the message comes in on stdin (LF or CRLF line ends),
 * goes out on stdout with a DKIM-Signature field on top (LF line ends).
 *
 *   dkims -d domain -s selector -k key.pem [-c hcanon/bcanon]
 *         [-h from:to:subject] [-o from:subject] [-t timestamp] [-x ttl]
 *         [-i identity] < message > signed
 *
 * -h names the fields to sign (each as often as present), -o the ones to
 * over-sign (listed once more than present); -t sets t= (0: none), -x
 * sets x= = t= + ttl. Exit 0, 1 when the signer refuses, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/buf.h"
#include "auth/sign.h"
#include "base/xalloc.h"

#define DKIMS_MAX_NAMES	64

/* usage - explain and exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: dkims -d domain -s selector -k key.pem "
	    "[-c hc/bc] [-h names] [-o names] [-t time] [-x ttl] [-i identity] "
	    "< message\n");
	exit(2);
}

/* split - colon-separated names into v (at most DKIMS_MAX_NAMES); their count */
static size_t
split(char *s, const char **v)
{
	size_t n = 0;
	char *tok, *save = NULL;

	for (tok = strtok_r(s, ":", &save); tok != NULL && n < DKIMS_MAX_NAMES;
	    tok = strtok_r(NULL, ":", &save))
		v[n++] = tok;
	return n;
}

/* read_all - stdin into b, every line end made CRLF */
static void
read_all(struct buf *b)
{
	int c, prev = 0;

	while ((c = getchar()) != EOF) {
		if (c == '\n' && prev != '\r')
			buf_putc(b, '\r');
		buf_putc(b, c);
		prev = c;
	}
}

/* parse_header - the fields of msg (CRLF) into h (folds as "\n"), in place; the body offset */
static size_t
parse_header(char *msg, size_t len, struct sign_header *h, size_t *nh,
    size_t max)
{
	size_t i = 0, end, n;
	char *colon, *line, *vend = NULL;	/* the NUL ending the last value */

	*nh = 0;
	while (i < len) {
		line = msg + i;
		end = i;
		while (end + 1 < len && !(msg[end] == '\r' && msg[end + 1] == '\n'))
			end++;
		if (end + 1 >= len)
			end = len;		/* no CRLF at the end */
		if (end == i)
			return i + 2 <= len ? i + 2 : len;	/* the empty line */
		n = end - i;
		if ((line[0] == ' ' || line[0] == '\t') && vend != NULL) {
			/* a fold: "\n" and the line join the value, which
			 * never outruns the bytes it was read from */
			*vend = '\n';
			memmove(vend + 1, line, n);
			vend += 1 + n;
			*vend = '\0';
		} else if ((colon = memchr(line, ':', n)) != NULL && *nh < max) {
			*colon = '\0';
			h[*nh].name = line;
			h[*nh].value = colon + 1;
			(*nh)++;
			vend = line + n;
			*vend = '\0';
		} else {
			vend = NULL;
		}
		i = end + 2;
	}
	return len;
}

int
main(int argc, char **argv)
{
	const char *domain = NULL, *selector = NULL, *keyfile = NULL;
	const char *names[DKIMS_MAX_NAMES], *over[DKIMS_MAX_NAMES];
	char hdefault[] = "from:to:subject:date", *hl = hdefault, *ol = NULL;
	char *canon = NULL, *slash, err[256];
	struct sign_header hdrs[256];
	struct sign_request r;
	struct sign_body *sb;
	unsigned char bh[SIGN_HASH_LEN];
	struct buf msg = BUF_INIT, out = BUF_INIT;
	size_t nh, body, k;
	EVP_PKEY *key;
	FILE *f;
	int c;

	memset(&r, 0, sizeof(r));
	r.hcanon = r.bcanon = SIGN_CANON_RELAXED;
	while ((c = getopt(argc, argv, "d:s:k:c:h:o:t:x:i:")) != -1) {
		switch (c) {
		case 'd': domain = optarg; break;
		case 's': selector = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'c': canon = optarg; break;
		case 'h': hl = optarg; break;
		case 'o': ol = optarg; break;
		case 't': r.timestamp = (time_t)atoll(optarg); break;
		case 'x': r.ttl = atol(optarg); break;
		case 'i': r.identity = optarg; break;
		default: usage();
		}
	}
	if (domain == NULL || selector == NULL || keyfile == NULL || optind != argc)
		usage();
	if (canon != NULL) {
		slash = strchr(canon, '/');
		if (slash != NULL)
			*slash++ = '\0';
		if (sign_canon_parse(canon) < 0 ||
		    (slash != NULL && sign_canon_parse(slash) < 0))
			usage();
		r.hcanon = (enum sign_canon)sign_canon_parse(canon);
		r.bcanon = slash != NULL ? (enum sign_canon)sign_canon_parse(slash)
		    : SIGN_CANON_SIMPLE;
	}
	if ((f = fopen(keyfile, "r")) == NULL ||
	    (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "dkims: cannot read %s\n", keyfile);
		return 1;
	}
	fclose(f);
	r.domain = domain;
	r.selector = selector;
	r.key = key;
	r.alg = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519
	    ? SIGN_ALG_ED25519_SHA256 : SIGN_ALG_RSA_SHA256;
	r.headers = names;
	r.nheaders = split(hl, names);
	r.oversign = over;
	r.noversign = ol != NULL ? split(ol, over) : 0;
	read_all(&msg);
	body = parse_header(msg.data != NULL ? msg.data : xstrdup(""), msg.len,
	    hdrs, &nh, sizeof(hdrs) / sizeof(hdrs[0]));
	if ((sb = sign_body_new(r.bcanon)) == NULL ||
	    sign_body_update(sb, (const unsigned char *)msg.data + body,
	    msg.len - body) != 0 || sign_body_final(sb, bh) != 0) {
		fprintf(stderr, "dkims: body hash failed\n");
		return 1;
	}
	sign_body_free(sb);
	if (sign_header_value(&r, hdrs, nh, bh, &out, err, sizeof(err)) != 0) {
		fprintf(stderr, "dkims: %s\n", err);
		return 1;
	}
	printf("%s:%s\n", SIGN_HDR_NAME, buf_cstr(&out));
	for (k = 0; k < nh; k++) {
		const char *p;

		printf("%s:", hdrs[k].name);
		for (p = hdrs[k].value; *p != '\0'; p++)
			if (*p != '\r')
				putchar(*p);
		putchar('\n');
	}
	putchar('\n');
	for (k = body; k < msg.len; k++)
		if (msg.data[k] != '\r' || k + 1 >= msg.len || msg.data[k + 1] != '\n')
			putchar(msg.data[k]);
	EVP_PKEY_free(key);
	buf_free(&out);
	buf_free(&msg);
	return 0;
}

/*
 * nullmilter.c - the smallest milter that does the protocol's work and
 * nothing else: the floor of what any milter costs per message.
 *
 * It negotiates what authmilter asks a verifying connection for (headers
 * and body without replies, leading spaces kept, no DATA or unknown
 * commands), reads every packet and answers end of message with accept.
 *
 * With -k KEYFILE (a PEM RSA or Ed25519 private key) it also does the
 * least any signing milter must do: SHA-256 over the body bytes as they
 * arrive, then at end of message one signature over a ~300-byte
 * header-like string holding that hash, inserted as a DKIM-Signature
 * header before the accept. The header is not a valid DKIM signature (no
 * canonicalization, made-up signed data): it is the cost floor of
 * signing, not a signer.
 *
 * One thread per connection, blocking reads into one buffer per thread;
 * nothing shared after start-up but the key, which is only read (each
 * signature has its own context). Used by contrib/bench.sh for the
 * "ceiling" row of the inbound part and the "null milter" rows through
 * Postfix.
 *
 * usage: nullmilter [-k KEYFILE] inet:PORT@127.0.0.1 | unix:PATH
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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <libmilter/mfdef.h>

#define NM_MAX_PKT	(1u << 20)	/* more than a body chunk */

/* What a verifying authmilter connection asks for (callbacks.c). */
#define NM_PROT	(SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_BODY | \
	SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_EOH | SMFIP_NR_MAIL | \
	SMFIP_NR_RCPT | SMFIP_NOUNKNOWN | SMFIP_NODATA)
#define NM_ACTS	0x11		/* SMFIF_ADDHDRS | SMFIF_CHGHDRS (mfapi.h) */

#define NM_MAX_SIG	1024		/* RSA-8192 */
#define NM_MAX_B64	(4 * ((NM_MAX_SIG + 2) / 3) + 1)

/*
 * What is signed: headers as a relaxed signer would feed them, the
 * DKIM-Signature value last with an empty b=; about 300 bytes, as for a
 * typical message. The leading space of the value: see milter/auth/sign.h.
 */
#define NM_SIG_VALUE	" v=1; a=%s; c=relaxed/relaxed; d=example.com;" \
	" s=floor;\n\th=from:to:subject:date:message-id;\n\tbh=%s;\n\tb=%s"
#define NM_SIGNED	"from:Sender <sender@example.com>\r\n" \
	"to:bob@dest.test.example\r\n" \
	"subject:nullmilter floor\r\n" \
	"date:Mon, 7 Dec 2026 21:00:00 +0000\r\n" \
	"message-id:<floor.0001@example.com>\r\n" \
	"dkim-signature:v=1; a=%s; c=relaxed/relaxed; d=example.com; s=floor;" \
	" h=from:to:subject:date:message-id; bh=%s; b="

/* Set in main before any thread starts, then only read. */
static EVP_PKEY *nm_key;	/* owned; NULL: no signing */
static const char *nm_alg;	/* borrowed: a= tag for nm_key */

/* One connection's signing state (only with -k). */
struct nm_sign {
	EVP_MD_CTX *body;	/* owned: SHA-256 of this message's body */
};

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

/* nm_insheader - SMFIR_INSHEADER at index 0: NAME, VALUE */
static int
nm_insheader(int fd, const char *name, const char *value)
{
	char pkt[2048];
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
	size_t n = 4 + nl + vl;
	uint32_t len = htonl((uint32_t)n + 1), idx = htonl(0);

	if (n + 5 > sizeof(pkt))
		return -1;
	memcpy(pkt, &len, 4);
	pkt[4] = SMFIR_INSHEADER;
	memcpy(pkt + 5, &idx, 4);
	memcpy(pkt + 9, name, nl);
	memcpy(pkt + 9 + nl, value, vl);
	return write(fd, pkt, n + 5) == (ssize_t)(n + 5) ? 0 : -1;
}

/* nm_sign_msg - the body hash, one signature, the header's value */
static int
nm_sign_msg(struct nm_sign *sg, char *value, size_t vsize)
{
	unsigned char bh[EVP_MAX_MD_SIZE], sig[NM_MAX_SIG];
	unsigned char md[EVP_MAX_MD_SIZE];
	char bh64[EVP_MAX_MD_SIZE * 2], sig64[NM_MAX_B64], data[512];
	const unsigned char *in = (const unsigned char *)data;
	unsigned int bhlen = 0, mdlen = 0;
	size_t siglen = sizeof(sig), inlen;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx = NULL;
	int n, ok;

	if (EVP_DigestFinal_ex(sg->body, bh, &bhlen) != 1 ||
	    EVP_DigestInit_ex(sg->body, EVP_sha256(), NULL) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)bh64, bh, (int)bhlen);
	n = snprintf(data, sizeof(data), NM_SIGNED, nm_alg, bh64);
	if (n < 0 || (size_t)n >= sizeof(data) ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	inlen = (size_t)n;
	/* As milter/auth/sign.c: RSA PKCS#1 v1.5 over SHA-256 of the data;
	 * Ed25519 signs the data's SHA-256 (RFC 8463 3). */
	if (EVP_PKEY_get_base_id(nm_key) == EVP_PKEY_RSA)
		ok = EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL,
		    nm_key) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
	else {
		ok = EVP_Digest(data, inlen, md, &mdlen, EVP_sha256(),
		    NULL) == 1 &&
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, nm_key) == 1;
		in = md;
		inlen = mdlen;
	}
	ok = ok && EVP_DigestSign(ctx, sig, &siglen, in, inlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	EVP_EncodeBlock((unsigned char *)sig64, sig, (int)siglen);
	n = snprintf(value, vsize, NM_SIG_VALUE, nm_alg, bh64, sig64);
	return n < 0 || (size_t)n >= vsize ? -1 : 0;
}

/* nm_eom - end of message: with a key, the signature header, then accept */
static int
nm_eom(int fd, struct nm_sign *sg)
{
	char value[256 + NM_MAX_B64];

	if (sg->body != NULL) {
		if (nm_sign_msg(sg, value, sizeof(value)) < 0) {
			/* say so and refuse: a floor row must not pass
			 * unsigned mail as if it had signed it */
			fprintf(stderr, "nullmilter: signing failed\n");
			ERR_print_errors_fp(stderr);
			return nm_reply(fd, SMFIR_TEMPFAIL, NULL, 0);
		}
		if (nm_insheader(fd, "DKIM-Signature", value) < 0)
			return -1;
	}
	return nm_reply(fd, SMFIR_ACCEPT, NULL, 0);
}

/* nm_session - thread: serve one MTA connection until it quits */
static void *
nm_session(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint32_t len, neg[3];
	char *buf = malloc(NM_MAX_PKT);
	struct nm_sign sg = { NULL };

	if (nm_key != NULL && ((sg.body = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(sg.body, EVP_sha256(), NULL) != 1))
		goto done;
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
			/* may carry a last chunk (Sendmail; Postfix does not) */
			if (sg.body != NULL && len > 1 &&
			    EVP_DigestUpdate(sg.body, buf + 1, len - 1) != 1)
				goto done;
			if (nm_eom(fd, &sg) < 0)
				goto done;
			break;
		case SMFIC_BODY:
			if (sg.body != NULL &&
			    EVP_DigestUpdate(sg.body, buf + 1, len - 1) != 1)
				goto done;
			break;
		case SMFIC_MAIL:
			/* a new message: drop what an aborted one hashed */
			if (sg.body != NULL &&
			    EVP_DigestInit_ex(sg.body, EVP_sha256(), NULL) != 1)
				goto done;
			break;
		case SMFIC_QUIT:
			goto done;
		case SMFIC_MACRO:
		case SMFIC_ABORT:
		case SMFIC_HEADER:
		case SMFIC_CONNECT:
		case SMFIC_HELO:
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
	EVP_MD_CTX_free(sg.body);
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

/* nm_load_key - the signing key from PATH (PEM), or exit */
static void
nm_load_key(const char *path)
{
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	nm_key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (nm_key == NULL) {
		fprintf(stderr, "nullmilter: no private key in %s\n", path);
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	switch (EVP_PKEY_get_base_id(nm_key)) {
	case EVP_PKEY_RSA:
		nm_alg = "rsa-sha256";
		break;
	case EVP_PKEY_ED25519:
		nm_alg = "ed25519-sha256";
		break;
	default:
		fprintf(stderr, "nullmilter: %s: not RSA or Ed25519\n", path);
		exit(1);
	}
	if (EVP_PKEY_get_size(nm_key) > NM_MAX_SIG) {
		fprintf(stderr, "nullmilter: %s: key too large\n", path);
		exit(1);
	}
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
	int lfd, fd, ch, one = 1;

	while ((ch = getopt(argc, argv, "k:")) != -1) {
		switch (ch) {
		case 'k':
			nm_load_key(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, nm_term);
	lfd = nm_listen(argv[optind]);
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
usage:
	fprintf(stderr,
	    "usage: nullmilter [-k KEYFILE] inet:PORT@ADDR|unix:PATH\n");
	return 2;
}

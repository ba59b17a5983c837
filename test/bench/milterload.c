/*
 * milterload.c - MTA side of the Sendmail milter protocol (version 6), for
 * load tests and protocol-level integration tests.
 *
 * Speaks to a milter the way Postfix does: option negotiation, macros
 * before each step, steps the milter declined are skipped, steps without a
 * reply are pipelined, body in chunks of at most 64 KB, modifications read
 * before the final reply at end of message. With -o it writes each message
 * as it would leave the MTA, so tests can verify what the milter added.
 *
 * Threading: one pthread per milter connection. Threads share only the
 * options and the message template, both read-only once threads start;
 * each thread writes its own struct conn, which main() reads after join.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define MAX_RCPTS	32		/* -r may be given this often */
#define MAX_CONNS	4096		/* upper bound for -c */
#define MAX_PKT		(16u << 20)	/* largest packet we accept from a milter */
#define BODY_CHUNK	65535		/* MILTER_CHUNK_SIZE */
#define LINE_LEN	76		/* generated body line, without CRLF */

/* Protocol steps and modifications we understand, offered in OPTNEG. */
#define OUR_ACTS	SMFI_CURR_ACTS
#define OUR_PROT	SMFI_CURR_PROT

enum verdict {
	V_CONTINUE,	/* go on with the next step */
	V_ACCEPT,	/* message (or connection) accepted, skip the rest */
	V_REJECT,	/* 5xx */
	V_TEMPFAIL,	/* 4xx */
	V_DISCARD,	/* accept and drop */
	V_SKIP,		/* stop sending body chunks */
	V_SHUTDOWN,	/* milter gave up on the connection */
	V_ERROR		/* protocol error, timeout or disconnect; already counted */
};

enum err { E_PROTO, E_TIMEOUT, E_DISCONNECT, E_CONNECT, E_IO, E_COUNT };
static const char *const err_names[E_COUNT] = {
	"protocol", "timeout", "disconnect", "connect", "io"
};

enum mod {
	M_ADDHEADER, M_INSHEADER, M_CHGHEADER, M_CHGFROM, M_ADDRCPT,
	M_ADDRCPT_PAR, M_DELRCPT, M_REPLBODY, M_QUARANTINE, M_PROGRESS, M_COUNT
};
static const char *const mod_names[M_COUNT] = {
	"addheader", "insheader", "chgheader", "chgfrom", "addrcpt",
	"addrcpt_par", "delrcpt", "replbody", "quarantine", "progress"
};

struct opts {
	const char *sock;		/* -S as given */
	struct sockaddr_storage addr;	/* resolved milter address */
	socklen_t addrlen;		/* its length */
	unsigned conns;			/* -c connections */
	unsigned msgs;			/* -m messages per connection */
	size_t size;			/* -s body bytes of generated messages */
	int multipart;			/* -s multipart */
	const char *authuser;		/* -a {auth_authen}, NULL: not sent */
	const char *clientip;		/* -i address in SMFIC_CONNECT */
	int clientfam;			/* SMFIA_INET, SMFIA_INET6 or SMFIA_UNIX */
	char mailfrom[512];		/* -f envelope sender */
	const char *rcpts[MAX_RCPTS];	/* -r envelope recipients */
	unsigned nrcpts;		/* how many */
	const char *fromdomain;		/* -F domain of the From: header */
	const char *daemon;		/* -d {daemon_name} */
	const char *msgfile;		/* -M message file, NULL: generate */
	const char *outdir;		/* -o output directory, NULL: none */
	double tlimit;			/* -t overall seconds */
	double treply;			/* -T seconds per reply */
	int quiet;			/* -q no human report */
	int json;			/* -j JSON line */
	int verbose;			/* -v replies and modifications on stderr */
	int quickack;			/* -Q TCP_QUICKACK: defeat milter-side Nagle */
	long expect_signed;		/* -e, -1 when not given */
};

/* gbuf - growable byte buffer, always NUL-terminated once allocated */
struct gbuf {
	char *data;			/* bytes */
	size_t len;			/* used */
	size_t cap;			/* allocated */
};

struct hdr {
	char *name;			/* field name */
	char *value;			/* text after the colon: leading space, LF folds */
};

struct hlist {
	struct hdr *v;			/* headers in message order */
	size_t n;			/* count */
	size_t cap;			/* allocated slots */
};

struct tmpl {
	struct hlist hdrs;		/* -M headers; empty when generating */
	char *body;			/* CRLF body shared by every message */
	size_t bodylen;			/* its length */
	char token[17];			/* run-unique hex for Message-ID */
	double start;			/* monotonic start of the run */
};

struct stats {
	unsigned long sent, completed, accepted, rejected, tempfailed;
	unsigned long discarded, quarantined, signedmsgs, unsent;
	unsigned long err[E_COUNT];	/* errors by kind */
	unsigned long mod[M_COUNT];	/* modifications by kind */
};

struct conn {
	unsigned id;			/* 1-based connection number */
	pthread_t thread;		/* its thread */
	int started;			/* thread was created */
	int fd;				/* milter socket, -1 when closed */
	uint32_t prot;			/* protocol flags the milter chose */
	struct gbuf out;		/* queued packets not yet written */
	struct gbuf in;			/* bytes read, from inoff on unconsumed */
	size_t inoff;			/* start of unconsumed input */
	struct stats st;		/* this connection's counters */
	double *lat;			/* latency per completed message, ms */
	size_t nlat;			/* entries used */
};

struct msg {
	unsigned idx;			/* 1-based message number */
	char qid[32];			/* macro i */
	struct hlist hdrs;		/* headers, with -o after modifications */
	char *envfrom;			/* envelope sender, after CHGFROM */
	struct gbuf newbody;		/* SMFIR_REPLBODY data */
	int replbody;			/* newbody replaces the body */
	int signedmsg;			/* a DKIM-Signature was added */
	int quarantined;		/* SMFIR_QUARANTINE seen */
	int at_eob;			/* the milter saw the whole message */
};

static struct opts opt;
static struct tmpl tmpl;

/* fatal - print a message and exit; start-up only */
static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("milterload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* cwarn - print a message tagged with the connection and message */
static void __attribute__((format(printf, 3, 4)))
cwarn(const struct conn *c, const struct msg *m, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "milterload: conn %u msg %u: ",
	    c->id, m != NULL ? m->idx : 0);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);	/* one stdio call: lines stay whole */
}

/* xmalloc - malloc or die */
static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

/* xstrdup - strdup or die */
static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

/* now_mono - monotonic clock in seconds */
static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* gb_reserve - make room for n more bytes plus a NUL */
static void
gb_reserve(struct gbuf *b, size_t n)
{
	size_t cap;

	if (n > SIZE_MAX / 2 - b->len)
		fatal("buffer size overflow");
	if (b->len + n + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	b->data = realloc(b->data, cap);
	if (b->data == NULL)
		fatal("out of memory");
	b->cap = cap;
}

/* gb_add - append n bytes */
static void
gb_add(struct gbuf *b, const void *p, size_t n)
{
	gb_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* gb_str0 - append a C string with its NUL, as the protocol wants */
static void
gb_str0(struct gbuf *b, const char *s)
{
	gb_add(b, s, strlen(s) + 1);
}

/* gb_puts - append a C string without its NUL */
static void
gb_puts(struct gbuf *b, const char *s)
{
	gb_add(b, s, strlen(s));
}

/* gb_free - release a buffer */
static void
gb_free(struct gbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* hl_insert - insert a header (copies of name and value) at index at */
static void
hl_insert(struct hlist *l, size_t at, const char *name, const char *value)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (l->v == NULL)
			fatal("out of memory");
	}
	if (at > l->n)
		at = l->n;
	memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof(*l->v));
	l->v[at].name = xstrdup(name);
	l->v[at].value = xstrdup(value);
	l->n++;
}

/* hl_clear - free all headers, keep the slots */
static void
hl_clear(struct hlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	l->n = 0;
}

/* parse_size - "1024", "10k", "1m", "20m": bytes, or (size_t)-1 */
static size_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return (size_t)-1;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end != '\0' || v > (1ULL << 30))
		return (size_t)-1;
	return (size_t)v;
}

/* parse_uint - decimal in [lo, hi] or die naming the option */
static unsigned long
parse_uint(const char *s, unsigned long lo, unsigned long hi, int optc)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		fatal("-%c: want a number from %lu to %lu, not \"%s\"",
		    optc, lo, hi, s);
	return v;
}

/* addr_is_loopback - the milter address is in 127.0.0.0/8 or ::1 */
static int
addr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		    s6->sin6_addr.s6_addr[12] == 127);
	return 0;
}

/* sock_parse - resolve -S unix:PATH, inet:PORT@HOST, inet6:PORT@HOST */
static void
sock_parse(const char *spec)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&opt.addr;
	struct addrinfo hints, *res;
	char host[256], port[16];
	const char *rest, *at;
	size_t n;
	int rc;

	memset(&opt.addr, 0, sizeof(opt.addr));
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		rest = strchr(spec, ':') + 1;
		if (strlen(rest) >= sizeof(sun->sun_path) || *rest == '\0')
			fatal("-S %s: bad socket path", spec);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, rest, strlen(rest) + 1);
		opt.addrlen = sizeof(*sun);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	if (strncmp(spec, "inet:", 5) == 0) {
		hints.ai_family = AF_INET;
		rest = spec + 5;
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		hints.ai_family = AF_INET6;
		rest = spec + 6;
	} else
		fatal("-S %s: want unix:PATH, inet:PORT@HOST or inet6:PORT@HOST",
		    spec);
	at = strchr(rest, '@');
	n = at ? (size_t)(at - rest) : strlen(rest);
	if (n == 0 || n >= sizeof(port))
		fatal("-S %s: bad port", spec);
	memcpy(port, rest, n);
	port[n] = '\0';
	rest = at ? at + 1 : (hints.ai_family == AF_INET ? "127.0.0.1" : "::1");
	if (*rest == '[')
		rest++;
	n = strcspn(rest, "]");
	if (n == 0 || n >= sizeof(host))
		fatal("-S %s: bad host", spec);
	memcpy(host, rest, n);
	host[n] = '\0';
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		fatal("-S %s: %s", spec, gai_strerror(rc));
	if (!addr_is_loopback(res->ai_addr)) {
		freeaddrinfo(res);
		fatal("-S %s: refusing a non-loopback address (only 127.0.0.0/8 "
		    "and ::1)", spec);
	}
	memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
	opt.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* rnd_next - xorshift64; deterministic filler so bodies are reproducible */
static uint64_t
rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* text_line - append n printable characters: words, no edge spaces */
static void
text_line(struct gbuf *b, size_t n, uint64_t *seed)
{
	static const char letters[] = "etaoinshrdlucmfwypvbgkqjxz";
	size_t i;
	int prev = ' ';

	gb_reserve(b, n);
	for (i = 0; i < n; i++) {
		uint64_t r = rnd_next(seed);
		int ch;

		if (i > 0 && i + 1 < n && prev != ' ' && r % 6 == 0)
			ch = ' ';
		else
			ch = letters[(r >> 8) % 26];
		b->data[b->len++] = (char)ch;
		prev = ch;
	}
	b->data[b->len] = '\0';
}

/* gen_text - append about size bytes of CRLF-terminated text lines */
static void
gen_text(struct gbuf *b, size_t size, uint64_t *seed)
{
	size_t left = size;

	while (left >= LINE_LEN + 2) {
		text_line(b, LINE_LEN, seed);
		gb_add(b, "\r\n", 2);
		left -= LINE_LEN + 2;
	}
	if (left > 2)
		text_line(b, left - 2, seed);
	if (left > 0)
		gb_add(b, "\r\n", 2);
}

/* gen_multipart - a mixed message: text and HTML alternatives, a PDF */
static void
gen_multipart(struct gbuf *b)
{
	unsigned char raw[22 * 1024];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	char *b64;
	size_t i, n;
	int len;

	gb_puts(b, "This is a multi-part message in MIME format.\r\n\r\n");
	gb_puts(b, "--=_ml_mixed\r\nContent-Type: multipart/alternative; "
	    "boundary=\"=_ml_alt\"\r\n\r\n");
	gb_puts(b, "--=_ml_alt\r\nContent-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n");
	gen_text(b, 4000, &seed);
	gb_puts(b, "\r\n--=_ml_alt\r\nContent-Type: text/html; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n<html><body>\r\n");
	for (i = 0; i < 60; i++) {
		gb_puts(b, "<p>");
		text_line(b, 60, &seed);
		gb_puts(b, "</p>\r\n");
	}
	gb_puts(b, "</body></html>\r\n\r\n--=_ml_alt--\r\n\r\n");
	gb_puts(b, "--=_ml_mixed\r\nContent-Type: application/pdf; "
	    "name=\"report.pdf\"\r\nContent-Disposition: attachment; "
	    "filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(rnd_next(&seed) >> 24);
	b64 = xmalloc(4 * ((sizeof(raw) + 2) / 3) + 1);
	len = EVP_EncodeBlock((unsigned char *)b64, raw, (int)sizeof(raw));
	for (i = 0; i < (size_t)len; i += n) {
		n = (size_t)len - i < LINE_LEN ? (size_t)len - i : LINE_LEN;
		gb_add(b, b64 + i, n);
		gb_puts(b, "\r\n");
	}
	free(b64);
	gb_puts(b, "\r\n--=_ml_mixed--\r\n");
}

/* tmpl_load - read -M: headers into tmpl.hdrs, body as CRLF lines */
static void
tmpl_load(const char *path)
{
	struct gbuf file = { 0 }, body = { 0 }, val = { 0 };
	char chunk[65536], name[256], *p, *end, *eol;
	int inhdr = 1, havehdr = 0;
	size_t n, linelen;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL)
		fatal("-M %s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		gb_add(&file, chunk, n);
	if (ferror(fp))
		fatal("-M %s: read error", path);
	fclose(fp);
	gb_reserve(&file, 0);
	for (p = file.data, end = file.data + file.len; p < end; p = eol + 1) {
		eol = memchr(p, '\n', end - p);
		if (eol == NULL)
			eol = end;
		linelen = eol - p;
		if (linelen > 0 && p[linelen - 1] == '\r')
			linelen--;
		if (!inhdr) {
			gb_add(&body, p, linelen);
			gb_add(&body, "\r\n", 2);
			continue;
		}
		if (linelen == 0 || (*p == ' ' || *p == '\t')) {
			if (linelen > 0 && havehdr) {
				gb_add(&val, "\n", 1);	/* fold as Postfix sends it */
				gb_add(&val, p, linelen);
				continue;
			}
			if (linelen > 0)
				fatal("-M %s: continuation line before any header",
				    path);
			inhdr = 0;
		}
		if (havehdr) {
			gb_reserve(&val, 0);
			hl_insert(&tmpl.hdrs, tmpl.hdrs.n, name, val.data);
			havehdr = 0;
		}
		if (!inhdr)
			continue;
		n = strcspn(p, ":\n");
		if (n >= linelen || n == 0 || n >= sizeof(name))
			fatal("-M %s: header line without a name and colon", path);
		memcpy(name, p, n);
		while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
			n--;
		name[n] = '\0';
		val.len = 0;
		n = strcspn(p, ":") + 1;
		gb_add(&val, p + n, linelen - n);
		havehdr = 1;
	}
	if (havehdr) {
		gb_reserve(&val, 0);
		hl_insert(&tmpl.hdrs, tmpl.hdrs.n, name, val.data);
	}
	if (tmpl.hdrs.n == 0)
		fatal("-M %s: no headers", path);
	gb_reserve(&body, 0);
	tmpl.body = body.data;
	tmpl.bodylen = body.len;
	gb_free(&file);
	gb_free(&val);
}

/* tmpl_init - build the shared body and the run token */
static void
tmpl_init(void)
{
	struct gbuf body = { 0 };
	unsigned char rnd[8];
	uint64_t seed = 0x2545f4914f6cdd1dULL;
	size_t i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		fatal("RAND_bytes failed");
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(tmpl.token + 2 * i, 3, "%02x", rnd[i]);
	if (opt.msgfile != NULL) {
		tmpl_load(opt.msgfile);
		return;
	}
	if (opt.multipart)
		gen_multipart(&body);
	else
		gen_text(&body, opt.size, &seed);
	gb_reserve(&body, 0);
	tmpl.body = body.data;
	tmpl.bodylen = body.len;
}

/* msg_init - headers and envelope for message idx of connection c */
static void
msg_init(const struct conn *c, struct msg *m, unsigned idx)
{
	char v[512], date[64];
	struct tm tm;
	time_t t;
	size_t i;

	m->idx = idx;
	snprintf(m->qid, sizeof(m->qid), "%04X%c%06X", c->id, 'Q', idx);
	hl_clear(&m->hdrs);
	free(m->envfrom);
	m->envfrom = xstrdup(opt.mailfrom);
	m->newbody.len = 0;
	m->replbody = m->signedmsg = m->quarantined = m->at_eob = 0;
	if (tmpl.hdrs.n > 0) {
		for (i = 0; i < tmpl.hdrs.n; i++)
			hl_insert(&m->hdrs, i, tmpl.hdrs.v[i].name,
			    tmpl.hdrs.v[i].value);
		return;
	}
	t = time(NULL);
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), " %a, %d %b %Y %H:%M:%S %z", &tm);
	snprintf(v, sizeof(v), " Load Sender <sender@%s>", opt.fromdomain);
	hl_insert(&m->hdrs, m->hdrs.n, "From", v);
	snprintf(v, sizeof(v), " <%s>", opt.rcpts[0]);
	hl_insert(&m->hdrs, m->hdrs.n, "To", v);
	snprintf(v, sizeof(v), " milterload message %u-%u", c->id, idx);
	hl_insert(&m->hdrs, m->hdrs.n, "Subject", v);
	hl_insert(&m->hdrs, m->hdrs.n, "Date", date);
	snprintf(v, sizeof(v), " <ml.%s.%u.%u@%s>", tmpl.token, c->id, idx,
	    opt.fromdomain);
	hl_insert(&m->hdrs, m->hdrs.n, "Message-ID", v);
	hl_insert(&m->hdrs, m->hdrs.n, "MIME-Version", " 1.0");
	if (opt.multipart)
		hl_insert(&m->hdrs, m->hdrs.n, "Content-Type",
		    " multipart/mixed;\n\tboundary=\"=_ml_mixed\"");
	else {
		hl_insert(&m->hdrs, m->hdrs.n, "Content-Type",
		    " text/plain; charset=us-ascii");
		hl_insert(&m->hdrs, m->hdrs.n, "Content-Transfer-Encoding",
		    " 7bit");
	}
}

/* conn_fail - count an error and close the connection */
static enum verdict
conn_fail(struct conn *c, const struct msg *m, enum err e, const char *what)
{
	c->st.err[e]++;
	cwarn(c, m, "%s: %s", err_names[e], what);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	return V_ERROR;
}

/* io_wait - poll for ev until limit; 1 ready, 0 timed out, -1 error */
static int
io_wait(int fd, short ev, double limit)
{
	struct pollfd pfd;
	double left;
	int rc;

	for (;;) {
		left = limit - now_mono();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* conn_flush - write all queued packets */
static int
conn_flush(struct conn *c, const struct msg *m)
{
	size_t off = 0;
	ssize_t n;
	int rc;

	while (off < c->out.len) {
		n = send(c->fd, c->out.data + off, c->out.len - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			conn_fail(c, m, E_DISCONNECT, strerror(errno));
			return -1;
		}
		rc = io_wait(c->fd, POLLOUT, now_mono() + opt.treply);
		if (rc <= 0) {
			conn_fail(c, m, rc == 0 ? E_TIMEOUT : E_IO,
			    "writing to the milter");
			return -1;
		}
	}
	c->out.len = 0;
	return 0;
}

/* pkt_begin - start a packet in the output queue; returns its offset */
static size_t
pkt_begin(struct conn *c, int cmd)
{
	size_t at = c->out.len;
	char hdr[5] = { 0, 0, 0, 0, (char)cmd };

	gb_add(&c->out, hdr, sizeof(hdr));
	return at;
}

/* pkt_end - fill in the length of the packet started at at */
static void
pkt_end(struct conn *c, size_t at)
{
	uint32_t n = htonl((uint32_t)(c->out.len - at - 4));

	memcpy(c->out.data + at, &n, 4);
}

/* pkt_read - next packet from the milter; data valid until the next call */
static int
pkt_read(struct conn *c, const struct msg *m, int *cmd, const char **data,
    size_t *len)
{
	uint32_t n;
	ssize_t got;
	size_t have, need = 5;
	int rc;

	for (;;) {
		have = c->in.len - c->inoff;
		if (have >= 4) {
			memcpy(&n, c->in.data + c->inoff, 4);
			n = ntohl(n);
			if (n == 0 || n > MAX_PKT) {
				conn_fail(c, m, E_PROTO, "bad packet length");
				return -1;
			}
			need = (size_t)n + 4;
		}
		if (have >= need)
			break;
		if (c->inoff > 0) {	/* keep the unread part at the front */
			memmove(c->in.data, c->in.data + c->inoff, have);
			c->in.len = have;
			c->inoff = 0;
		}
		gb_reserve(&c->in, need > 65536 ? need : 65536);
		rc = io_wait(c->fd, POLLIN, now_mono() + opt.treply);
		if (rc <= 0) {
			conn_fail(c, m, rc == 0 ? E_TIMEOUT : E_IO,
			    "waiting for a reply");
			return -1;
		}
		got = recv(c->fd, c->in.data + c->in.len,
		    c->in.cap - c->in.len - 1, MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_fail(c, m, E_DISCONNECT, got == 0 ?
			    "milter closed the connection" : strerror(errno));
			return -1;
		}
		if (got > 0)
			c->in.len += (size_t)got;
		if (opt.quickack && opt.addr.ss_family != AF_UNIX) {
			int one = 1;	/* re-armed after each read: see -Q */

			setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one,
			    sizeof(one));
		}
	}
	*cmd = (unsigned char)c->in.data[c->inoff + 4];
	*data = c->in.data + c->inoff + 5;
	*len = need - 5;
	c->inoff += need;
	if (c->inoff == c->in.len)
		c->inoff = c->in.len = 0;
	return 0;
}

/* get_str - take a NUL-terminated string from a packet; NULL if none */
static const char *
get_str(const char **p, size_t *left)
{
	const char *s = *p, *nul = memchr(s, '\0', *left);

	if (nul == NULL)
		return NULL;
	*left -= (size_t)(nul - s) + 1;
	*p = nul + 1;
	return s;
}

/* get_u32 - take a network-order 32-bit number from a packet */
static int
get_u32(const char **p, size_t *left, uint32_t *v)
{
	if (*left < 4)
		return -1;
	memcpy(v, *p, 4);
	*v = ntohl(*v);
	*p += 4;
	*left -= 4;
	return 0;
}

/* out_value - a milter header value as the MTA writes it after "Name:" */
static char *
out_value(const struct conn *c, const char *v)
{
	size_t n = strlen(v);
	char *s;

	if (c->prot & SMFIP_HDR_LEADSPC)
		return xstrdup(v);	/* the milter supplied its own space */
	s = xmalloc(n + 2);
	s[0] = ' ';
	memcpy(s + 1, v, n + 1);
	return s;
}

/* apply_chgheader - change, add or (empty value) delete a header */
static void
apply_chgheader(const struct conn *c, struct msg *m, uint32_t idx,
    const char *name, const char *value)
{
	size_t i;
	uint32_t seen = 0;

	if (idx == 0)
		idx = 1;
	for (i = 0; i < m->hdrs.n; i++) {
		if (strcasecmp(m->hdrs.v[i].name, name) != 0 || ++seen < idx)
			continue;
		free(m->hdrs.v[i].value);
		if (*value == '\0') {
			free(m->hdrs.v[i].name);
			memmove(m->hdrs.v + i, m->hdrs.v + i + 1,
			    (m->hdrs.n - i - 1) * sizeof(*m->hdrs.v));
			m->hdrs.n--;
		} else
			m->hdrs.v[i].value = out_value(c, value);
		return;
	}
	if (*value != '\0') {
		char *v = out_value(c, value);

		hl_insert(&m->hdrs, m->hdrs.n, name, v);
		free(v);
	}
}

/* apply_mod - record one modification action; -1 if malformed */
static int
apply_mod(struct conn *c, struct msg *m, int cmd, const char *p, size_t left)
{
	const char *name = NULL, *value = NULL;
	uint32_t idx = 0;
	char *v;
	enum mod kind;

	switch (cmd) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		kind = cmd == SMFIR_ADDHEADER ? M_ADDHEADER :
		    cmd == SMFIR_INSHEADER ? M_INSHEADER : M_CHGHEADER;
		if ((cmd != SMFIR_ADDHEADER && get_u32(&p, &left, &idx) < 0) ||
		    (name = get_str(&p, &left)) == NULL ||
		    (value = get_str(&p, &left)) == NULL)
			return -1;
		if (kind != M_CHGHEADER &&
		    strcasecmp(name, "DKIM-Signature") == 0)
			m->signedmsg = 1;
		if (opt.outdir == NULL)
			break;
		if (kind == M_CHGHEADER) {
			apply_chgheader(c, m, idx, name, value);
			break;
		}
		v = out_value(c, value);
		hl_insert(&m->hdrs, kind == M_ADDHEADER ? m->hdrs.n : idx,
		    name, v);
		free(v);
		break;
	case SMFIR_CHGFROM:
		kind = M_CHGFROM;
		if ((name = get_str(&p, &left)) == NULL)
			return -1;
		free(m->envfrom);
		m->envfrom = xstrdup(name);
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_QUARANTINE:
		kind = cmd == SMFIR_ADDRCPT ? M_ADDRCPT :
		    cmd == SMFIR_DELRCPT ? M_DELRCPT : M_QUARANTINE;
		if ((name = get_str(&p, &left)) == NULL)
			return -1;
		if (kind == M_QUARANTINE)
			m->quarantined = 1;
		break;
	case SMFIR_ADDRCPT_PAR:
		kind = M_ADDRCPT_PAR;
		if ((name = get_str(&p, &left)) == NULL)
			return -1;
		break;
	case SMFIR_REPLBODY:
		kind = M_REPLBODY;
		m->replbody = 1;
		if (opt.outdir != NULL)
			gb_add(&m->newbody, p, left);
		name = "(body)";
		break;
	default:
		return -1;
	}
	c->st.mod[kind]++;
	if (opt.verbose)
		cwarn(c, m, "%s %u %s%s%s", mod_names[kind], idx, name,
		    value ? ":" : "", value ? value : "");
	return 0;
}

/* reply_wait - read packets until the final reply for step cmd */
static enum verdict
reply_wait(struct conn *c, struct msg *m, int step)
{
	const char *data;
	size_t len;
	int cmd;

	if (conn_flush(c, m) < 0)
		return V_ERROR;
	for (;;) {
		if (pkt_read(c, m, &cmd, &data, &len) < 0)
			return V_ERROR;
		if (opt.verbose && cmd != SMFIR_PROGRESS && strchr("cartdsy4f",
		    cmd) != NULL)
			cwarn(c, m, "reply '%c' to '%c'%s%.*s", cmd, step,
			    len ? " " : "", (int)(len ? len - 1 : 0), data);
		switch (cmd) {
		case SMFIR_CONTINUE:
			return V_CONTINUE;
		case SMFIR_ACCEPT:
			return V_ACCEPT;
		case SMFIR_REJECT:
			return V_REJECT;
		case SMFIR_TEMPFAIL:
			return V_TEMPFAIL;
		case SMFIR_DISCARD:
			return V_DISCARD;
		case SMFIR_SHUTDOWN:
		case SMFIR_CONN_FAIL:
			return V_SHUTDOWN;
		case SMFIR_SKIP:
			if (step != SMFIC_BODY)
				return conn_fail(c, m, E_PROTO, "skip outside body");
			return V_SKIP;
		case SMFIR_REPLYCODE:
			if (len >= 4 && (data[0] == '4' || data[0] == '5') &&
			    data[len - 1] == '\0')
				return data[0] == '4' ? V_TEMPFAIL : V_REJECT;
			return conn_fail(c, m, E_PROTO, "bad reply code");
		case SMFIR_PROGRESS:
			c->st.mod[M_PROGRESS]++;
			continue;
		default:
			break;
		}
		if (step != SMFIC_BODYEOB) {
			char why[64];

			snprintf(why, sizeof(why), "reply '%c' to step '%c'",
			    cmd, step);
			return conn_fail(c, m, E_PROTO, why);
		}
		if (apply_mod(c, m, cmd, data, len) < 0) {
			char why[64];

			snprintf(why, sizeof(why), "bad or unknown action '%c'",
			    cmd);
			return conn_fail(c, m, E_PROTO, why);
		}
	}
}

/* step_send - finish a step: wait for its reply unless told not to */
static enum verdict
step_send(struct conn *c, struct msg *m, int step, uint32_t noreply)
{
	if (c->prot & noreply) {
		if (c->out.len >= 256 * 1024 && conn_flush(c, m) < 0)
			return V_ERROR;
		return V_CONTINUE;
	}
	return reply_wait(c, m, step);
}

/* send_macros - SMFIC_MACRO for a step; pairs name, value; NULL value skips */
static void
send_macros(struct conn *c, int step, const char *const *kv, size_t n)
{
	size_t at, i;
	char s[2] = { (char)step, 0 };

	at = pkt_begin(c, SMFIC_MACRO);
	gb_add(&c->out, s, 1);
	for (i = 0; i + 1 < n; i += 2) {
		if (kv[i + 1] == NULL)
			continue;
		gb_str0(&c->out, kv[i]);
		gb_str0(&c->out, kv[i + 1]);
	}
	pkt_end(c, at);
}

/* send_str - a packet whose data is one or two C strings */
static void
send_str(struct conn *c, int cmd, const char *a, const char *b)
{
	size_t at = pkt_begin(c, cmd);

	if (a != NULL)
		gb_str0(&c->out, a);
	if (b != NULL)
		gb_str0(&c->out, b);
	pkt_end(c, at);
}

/* addr_arg - an address in angle brackets, as Postfix passes it */
static void
addr_arg(char *out, size_t size, const char *addr)
{
	if (*addr == '<')
		snprintf(out, size, "%s", addr);
	else
		snprintf(out, size, "<%s>", addr);
}

/* msg_headers - send the headers, then EOH */
static enum verdict
msg_headers(struct conn *c, struct msg *m)
{
	const char *v, *mi[] = { "i", m->qid };
	enum verdict vd;
	size_t i;

	if (!(c->prot & SMFIP_NOHDRS)) {
		for (i = 0; i < m->hdrs.n; i++) {
			v = m->hdrs.v[i].value;
			if (!(c->prot & SMFIP_HDR_LEADSPC))
				v += strspn(v, " \t");
			send_str(c, SMFIC_HEADER, m->hdrs.v[i].name, v);
			vd = step_send(c, m, SMFIC_HEADER, SMFIP_NR_HDR);
			if (vd != V_CONTINUE)
				return vd;
		}
	}
	if (c->prot & SMFIP_NOEOH)
		return V_CONTINUE;
	send_macros(c, SMFIC_EOH, mi, 2);
	send_str(c, SMFIC_EOH, NULL, NULL);
	return step_send(c, m, SMFIC_EOH, SMFIP_NR_EOH);
}

/* msg_body - send the body in chunks, then end of message */
static enum verdict
msg_body(struct conn *c, struct msg *m)
{
	const char *mi[] = { "i", m->qid };
	enum verdict vd;
	size_t off, n, at;

	for (off = 0; !(c->prot & SMFIP_NOBODY) && off < tmpl.bodylen; off += n) {
		n = tmpl.bodylen - off < BODY_CHUNK ? tmpl.bodylen - off :
		    BODY_CHUNK;
		at = pkt_begin(c, SMFIC_BODY);
		gb_add(&c->out, tmpl.body + off, n);
		pkt_end(c, at);
		vd = step_send(c, m, SMFIC_BODY, SMFIP_NR_BODY);
		if (vd == V_SKIP)
			break;
		if (vd != V_CONTINUE)
			return vd;
	}
	send_macros(c, SMFIC_BODYEOB, mi, 2);
	send_str(c, SMFIC_BODYEOB, NULL, NULL);
	vd = reply_wait(c, m, SMFIC_BODYEOB);
	if (vd != V_ERROR)
		m->at_eob = 1;
	return vd == V_CONTINUE ? V_ACCEPT : vd;
}

/* msg_run - one transaction from MAIL FROM to the end-of-message reply */
static enum verdict
msg_run(struct conn *c, struct msg *m)
{
	char arg[600];
	const char *mm[] = {
		"i", m->qid, "{auth_type}", opt.authuser ? "PLAIN" : NULL,
		"{auth_authen}", opt.authuser, "{mail_addr}", opt.mailfrom,
	};
	const char *mr[] = { "i", m->qid, "{rcpt_addr}", NULL };
	const char *mi[] = { "i", m->qid };
	enum verdict vd, last = V_REJECT;
	unsigned i, ok = 0;

	if (!(c->prot & SMFIP_NOMAIL)) {
		send_macros(c, SMFIC_MAIL, mm, 8);
		addr_arg(arg, sizeof(arg), opt.mailfrom);
		send_str(c, SMFIC_MAIL, arg, NULL);
		if ((vd = step_send(c, m, SMFIC_MAIL, SMFIP_NR_MAIL)) != V_CONTINUE)
			return vd;
	}
	for (i = 0; i < opt.nrcpts; i++) {
		if (c->prot & SMFIP_NORCPT) {
			ok = opt.nrcpts;
			break;
		}
		mr[3] = opt.rcpts[i];
		send_macros(c, SMFIC_RCPT, mr, 4);
		addr_arg(arg, sizeof(arg), opt.rcpts[i]);
		send_str(c, SMFIC_RCPT, arg, NULL);
		vd = step_send(c, m, SMFIC_RCPT, SMFIP_NR_RCPT);
		if (vd == V_CONTINUE)
			ok++;
		else if (vd == V_REJECT || vd == V_TEMPFAIL)
			last = vd;	/* this recipient only */
		else
			return vd;
	}
	if (ok == 0)
		return last;
	if (!(c->prot & SMFIP_NODATA)) {
		send_macros(c, SMFIC_DATA, mi, 2);
		send_str(c, SMFIC_DATA, NULL, NULL);
		if ((vd = step_send(c, m, SMFIC_DATA, SMFIP_NR_DATA)) != V_CONTINUE)
			return vd;
	}
	if ((vd = msg_headers(c, m)) != V_CONTINUE)
		return vd;
	return msg_body(c, m);
}

/* out_crlf - write text with CRLF (and the odd lone CR) turned into LF */
static void
out_crlf(FILE *fp, const char *p, size_t n)
{
	const char *cr;

	while (n > 0 && (cr = memchr(p, '\r', n)) != NULL) {
		fwrite(p, 1, (size_t)(cr - p), fp);
		if ((size_t)(cr - p) + 1 == n || cr[1] != '\n')
			fputc('\n', fp);
		n -= (size_t)(cr - p) + 1;
		p = cr + 1;
	}
	fwrite(p, 1, n, fp);
}

/* out_write - the message as it leaves the MTA, to DIR/<conn>-<msg>.eml */
static int
out_write(struct conn *c, struct msg *m)
{
	char path[PATH_MAX], arg[600];
	size_t i;
	FILE *fp;
	int n;

	n = snprintf(path, sizeof(path), "%s/%u-%u.eml", opt.outdir, c->id,
	    m->idx);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (fp = fopen(path, "w")) == NULL) {
		c->st.err[E_IO]++;
		cwarn(c, m, "io: cannot create %s", path);
		return -1;
	}
	addr_arg(arg, sizeof(arg), m->envfrom);
	fprintf(fp, "X-Envelope-From: %s\n", arg);
	for (i = 0; i < m->hdrs.n; i++) {
		fprintf(fp, "%s:", m->hdrs.v[i].name);
		out_crlf(fp, m->hdrs.v[i].value, strlen(m->hdrs.v[i].value));
		fputc('\n', fp);
	}
	fputc('\n', fp);
	if (m->replbody)
		out_crlf(fp, m->newbody.data, m->newbody.len);
	else
		out_crlf(fp, tmpl.body, tmpl.bodylen);
	if (ferror(fp) | fclose(fp)) {
		c->st.err[E_IO]++;
		cwarn(c, m, "io: write error on %s", path);
		return -1;
	}
	return 0;
}

/* msg_account - count a finished message; write it out if accepted */
static void
msg_account(struct conn *c, struct msg *m, enum verdict vd, double t0)
{
	c->st.completed++;
	switch (vd) {
	case V_ACCEPT:
		c->st.accepted++;
		c->st.signedmsgs += m->signedmsg;
		c->st.quarantined += m->quarantined;
		if (opt.outdir != NULL)
			out_write(c, m);
		break;
	case V_REJECT:
		c->st.rejected++;
		break;
	case V_DISCARD:
		c->st.discarded++;
		break;
	default:
		c->st.tempfailed++;
		break;
	}
	if (t0 > 0)
		c->lat[c->nlat++] = (now_mono() - t0) * 1000;
}

/* conn_open - connect, negotiate options; V_CONTINUE when ready */
static enum verdict
conn_open(struct conn *c)
{
	uint32_t v[3], ver, acts, prot;
	const char *data;
	size_t len, at;
	int cmd, one = 1;

	c->fd = socket(opt.addr.ss_family, SOCK_STREAM, 0);
	if (c->fd < 0)
		return conn_fail(c, NULL, E_CONNECT, strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&opt.addr, opt.addrlen) < 0)
		return conn_fail(c, NULL, E_CONNECT, strerror(errno));
	if (opt.addr.ss_family != AF_UNIX)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	v[0] = htonl(SMFI_PROT_VERSION);
	v[1] = htonl(OUR_ACTS);
	v[2] = htonl(OUR_PROT);
	at = pkt_begin(c, SMFIC_OPTNEG);
	gb_add(&c->out, v, sizeof(v));
	pkt_end(c, at);
	if (conn_flush(c, NULL) < 0 || pkt_read(c, NULL, &cmd, &data, &len) < 0)
		return V_ERROR;
	if (cmd != SMFIC_OPTNEG || len < 12)
		return conn_fail(c, NULL, E_PROTO, "bad option negotiation reply");
	get_u32(&data, &len, &ver);
	get_u32(&data, &len, &acts);
	get_u32(&data, &len, &prot);
	if (ver < 2 || ver > SMFI_PROT_VERSION)
		return conn_fail(c, NULL, E_PROTO, "unsupported milter version");
	if ((prot & ~(uint32_t)OUR_PROT) || (acts & ~(uint32_t)OUR_ACTS))
		cwarn(c, NULL, "milter asks for unoffered actions 0x%x or "
		    "protocol 0x%x; ignored", acts & ~(uint32_t)OUR_ACTS,
		    prot & ~(uint32_t)OUR_PROT);
	c->prot = prot & OUR_PROT;
	if (opt.verbose)
		cwarn(c, NULL, "negotiated version %u actions 0x%x protocol 0x%x",
		    ver, acts, prot);
	return V_CONTINUE;
}

/* conn_greet - SMFIC_CONNECT and SMFIC_HELO with their macros */
static enum verdict
conn_greet(struct conn *c)
{
	char host[80], client[128];
	const char *mc[] = {
		"j", "mx.milterload.test", "{daemon_name}", opt.daemon,
		"{daemon_addr}", "127.0.0.1", "v", "milterload 1.0",
		"_", client, "{client_addr}", opt.clientip,
		"{client_name}", host,
	};
	uint16_t port = htons((uint16_t)(10000 + c->id % 50000));
	enum verdict vd;
	size_t at;

	if (opt.clientfam == SMFIA_UNIX)
		snprintf(host, sizeof(host), "localhost");
	else
		snprintf(host, sizeof(host), "[%s]", opt.clientip);
	snprintf(client, sizeof(client), "%s [%s]", host, opt.clientip);
	if (!(c->prot & SMFIP_NOCONNECT)) {
		char fam[1] = { (char)opt.clientfam };

		send_macros(c, SMFIC_CONNECT, mc, 14);
		at = pkt_begin(c, SMFIC_CONNECT);
		gb_str0(&c->out, host);
		gb_add(&c->out, fam, 1);
		gb_add(&c->out, &port, 2);
		gb_str0(&c->out, opt.clientip);
		pkt_end(c, at);
		vd = step_send(c, NULL, SMFIC_CONNECT, SMFIP_NR_CONN);
		if (vd != V_CONTINUE)
			return vd;
	}
	if (c->prot & SMFIP_NOHELO)
		return V_CONTINUE;
	send_str(c, SMFIC_HELO, "client.milterload.test", NULL);
	return step_send(c, NULL, SMFIC_HELO, SMFIP_NR_HELO);
}

/* conn_main - thread: one milter connection, opt.msgs messages */
static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct msg m;
	enum verdict cv, vd;
	double deadline = tmpl.start + opt.tlimit, t0;
	unsigned i;

	memset(&m, 0, sizeof(m));
	cv = conn_open(c);
	if (cv == V_CONTINUE)
		cv = conn_greet(c);
	for (i = 1; i <= opt.msgs && cv != V_ERROR && cv != V_SHUTDOWN; i++) {
		if (now_mono() >= deadline)
			break;
		msg_init(c, &m, i);
		c->st.sent++;
		if (cv != V_CONTINUE) {		/* decided for the session */
			msg_account(c, &m, cv, 0);
			continue;
		}
		t0 = now_mono();
		vd = msg_run(c, &m);
		if (vd == V_ERROR)
			break;
		if (!m.at_eob)	/* tell the milter this transaction is over */
			send_str(c, SMFIC_ABORT, NULL, NULL);
		msg_account(c, &m, vd, t0);
		if (vd == V_SHUTDOWN)
			break;
	}
	c->st.unsent = opt.msgs - c->st.sent;
	if (c->fd >= 0) {
		send_str(c, SMFIC_QUIT, NULL, NULL);
		if (conn_flush(c, NULL) == 0) {
			close(c->fd);
			c->fd = -1;
		}
	}
	hl_clear(&m.hdrs);
	free(m.hdrs.v);
	free(m.envfrom);
	gb_free(&m.newbody);
	gb_free(&c->out);
	gb_free(&c->in);
	return NULL;
}

/* cmp_double - qsort order for latencies */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* pctl - nearest-rank percentile of sorted v */
static double
pctl(const double *v, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(q * n);
	if ((double)k < q * n)
		k++;
	return v[k > 0 ? k - 1 : 0];
}

/* report - sum the connections, print, and pick the exit status */
static int
report(struct conn *cs, double elapsed)
{
	struct stats t;
	double *lat, p50, p99, max, rate;
	size_t nlat = 0, i, k;
	unsigned long errs = 0;
	int rc;

	memset(&t, 0, sizeof(t));
	lat = xmalloc(sizeof(double) * ((size_t)opt.conns * opt.msgs + 1));
	for (i = 0; i < opt.conns; i++) {
		struct stats *s = &cs[i].st;

		t.sent += s->sent;
		t.completed += s->completed;
		t.accepted += s->accepted;
		t.rejected += s->rejected;
		t.tempfailed += s->tempfailed;
		t.discarded += s->discarded;
		t.quarantined += s->quarantined;
		t.signedmsgs += s->signedmsgs;
		t.unsent += s->unsent;
		for (k = 0; k < E_COUNT; k++)
			t.err[k] += s->err[k];
		for (k = 0; k < M_COUNT; k++)
			t.mod[k] += s->mod[k];
		memcpy(lat + nlat, cs[i].lat, cs[i].nlat * sizeof(double));
		nlat += cs[i].nlat;
	}
	for (k = 0; k < E_COUNT; k++)
		errs += t.err[k];
	qsort(lat, nlat, sizeof(double), cmp_double);
	p50 = pctl(lat, nlat, 0.50);
	p99 = pctl(lat, nlat, 0.99);
	max = nlat ? lat[nlat - 1] : 0;
	rate = elapsed > 0 ? t.completed / elapsed : 0;
	free(lat);
	if (!opt.quiet) {
		printf("milterload: %s, %u connection(s) x %u message(s), body %zu "
		    "bytes\n", opt.sock, opt.conns, opt.msgs, tmpl.bodylen);
		printf("sent %lu completed %lu accepted %lu rejected %lu "
		    "tempfailed %lu discarded %lu quarantined %lu unsent %lu\n",
		    t.sent, t.completed, t.accepted, t.rejected, t.tempfailed,
		    t.discarded, t.quarantined, t.unsent);
		printf("errors %lu (", errs);
		for (k = 0; k < E_COUNT; k++)
			printf("%s%s %lu", k ? " " : "", err_names[k], t.err[k]);
		printf(")\nmods");
		for (k = 0; k < M_COUNT; k++)
			printf(" %s %lu", mod_names[k], t.mod[k]);
		printf("\nsigned %lu\nelapsed %.3f s, %.1f msg/s\n"
		    "latency ms p50 %.3f p99 %.3f max %.3f\n", t.signedmsgs,
		    elapsed, rate, p50, p99, max);
	}
	if (opt.json) {
		printf("{\"sent\":%lu,\"completed\":%lu,\"accepted\":%lu,"
		    "\"rejected\":%lu,\"tempfailed\":%lu,\"discarded\":%lu,"
		    "\"quarantined\":%lu,\"unsent\":%lu,\"errors\":%lu,",
		    t.sent, t.completed, t.accepted, t.rejected, t.tempfailed,
		    t.discarded, t.quarantined, t.unsent, errs);
		for (k = 0; k < E_COUNT; k++)
			printf("\"err_%s\":%lu,", err_names[k], t.err[k]);
		for (k = 0; k < M_COUNT; k++)
			printf("\"%s\":%lu,", mod_names[k], t.mod[k]);
		printf("\"signed\":%lu,\"elapsed_s\":%.3f,\"msgs_per_s\":%.1f,"
		    "\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,\"lat_max_ms\":%.3f}\n",
		    t.signedmsgs, elapsed, rate, p50, p99, max);
	}
	fflush(stdout);
	rc = errs == 0 ? 0 : 1;
	if (opt.expect_signed >= 0 && t.signedmsgs < (unsigned long)opt.expect_signed) {
		fprintf(stderr, "milterload: expected at least %ld signed, got "
		    "%lu\n", opt.expect_signed, t.signedmsgs);
		rc = 1;
	}
	return rc;
}

/* usage - print the synopsis and exit */
static void __attribute__((noreturn))
usage(void)
{
	fputs("usage: milterload -S unix:PATH|inet:PORT@HOST|inet6:PORT@[::1]\n"
	    "    [-c conns] [-m msgs/conn] [-s size|multipart] [-a authuser]\n"
	    "    [-i clientip] [-f mailfrom] [-r rcpt]... [-F fromdomain]\n"
	    "    [-d daemon_name] [-M msgfile] [-o outdir] [-t seconds]\n"
	    "    [-T reply-seconds] [-e min-signed] [-q] [-j] [-v] [-Q]\n", stderr);
	exit(2);
}

/* opts_parse - command line into opt */
static void
opts_parse(int argc, char **argv)
{
	struct in6_addr a6;
	const char *mailfrom = NULL;
	int ch;

	opt.conns = opt.msgs = 1;
	opt.size = 1024;
	opt.clientip = "127.0.0.1";
	opt.fromdomain = "example.com";
	opt.daemon = "milterload";
	opt.tlimit = 120;
	opt.treply = 30;
	opt.expect_signed = -1;
	while ((ch = getopt(argc, argv, "S:c:m:s:a:i:f:r:F:d:M:o:t:T:e:qjvQ")) != -1) {
		switch (ch) {
		case 'S': opt.sock = optarg; break;
		case 'c': opt.conns = parse_uint(optarg, 1, MAX_CONNS, ch); break;
		case 'm': opt.msgs = parse_uint(optarg, 1, 10000000, ch); break;
		case 's':
			if (strcmp(optarg, "multipart") == 0)
				opt.multipart = 1;
			else if ((opt.size = parse_size(optarg)) == (size_t)-1)
				fatal("-s %s: want bytes, NNk, NNm or multipart",
				    optarg);
			break;
		case 'a': opt.authuser = optarg; break;
		case 'i': opt.clientip = optarg; break;
		case 'f': mailfrom = optarg; break;
		case 'r':
			if (opt.nrcpts == MAX_RCPTS)
				fatal("-r: at most %d recipients", MAX_RCPTS);
			opt.rcpts[opt.nrcpts++] = optarg;
			break;
		case 'F': opt.fromdomain = optarg; break;
		case 'd': opt.daemon = optarg; break;
		case 'M': opt.msgfile = optarg; break;
		case 'o': opt.outdir = optarg; break;
		case 't': opt.tlimit = parse_uint(optarg, 1, 86400, ch); break;
		case 'T': opt.treply = parse_uint(optarg, 1, 3600, ch); break;
		case 'e': opt.expect_signed = (long)parse_uint(optarg, 0,
		    LONG_MAX, ch); break;
		case 'q': opt.quiet = 1; break;
		case 'j': opt.json = 1; break;
		case 'v': opt.verbose = 1; break;
		case 'Q': opt.quickack = 1; break;
		default: usage();
		}
	}
	if (optind != argc || opt.sock == NULL)
		usage();
	sock_parse(opt.sock);
	if (strncmp(opt.clientip, "unix:", 5) == 0) {
		opt.clientfam = SMFIA_UNIX;
		opt.clientip += 5;
	} else if (inet_pton(AF_INET, opt.clientip, &a6) == 1)
		opt.clientfam = SMFIA_INET;
	else if (inet_pton(AF_INET6, opt.clientip, &a6) == 1)
		opt.clientfam = SMFIA_INET6;
	else
		fatal("-i %s: not an IPv4 or IPv6 address (or unix:PATH)",
		    opt.clientip);
	if (opt.nrcpts == 0)
		opt.rcpts[opt.nrcpts++] = "rcpt@example.net";
	if (mailfrom == NULL)
		snprintf(opt.mailfrom, sizeof(opt.mailfrom), "sender@%s",
		    opt.fromdomain);
	else if ((size_t)snprintf(opt.mailfrom, sizeof(opt.mailfrom), "%s",
	    mailfrom) >= sizeof(opt.mailfrom))
		fatal("-f: address too long");
	if (opt.outdir != NULL && access(opt.outdir, W_OK) < 0)
		fatal("-o %s: %s", opt.outdir, strerror(errno));
}

int
main(int argc, char **argv)
{
	struct conn *cs;
	unsigned i;
	int rc;

	opts_parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	tmpl_init();
	cs = calloc(opt.conns, sizeof(*cs));
	if (cs == NULL)
		fatal("out of memory");
	tmpl.start = now_mono();
	for (i = 0; i < opt.conns; i++) {
		cs[i].id = i + 1;
		cs[i].fd = -1;
		cs[i].lat = xmalloc(sizeof(double) * opt.msgs);
		rc = pthread_create(&cs[i].thread, NULL, conn_main, &cs[i]);
		if (rc != 0) {
			cs[i].st.err[E_CONNECT]++;
			cs[i].st.unsent = opt.msgs;
			fprintf(stderr, "milterload: conn %u: pthread_create: %s\n",
			    i + 1, strerror(rc));
			continue;
		}
		cs[i].started = 1;
	}
	for (i = 0; i < opt.conns; i++)
		if (cs[i].started)
			pthread_join(cs[i].thread, NULL);
	rc = report(cs, now_mono() - tmpl.start);
	for (i = 0; i < opt.conns; i++)
		free(cs[i].lat);
	free(cs);
	hl_clear(&tmpl.hdrs);
	free(tmpl.hdrs.v);
	free(tmpl.body);
	return rc;
}

/*
 * milterload_msg.c - the messages milterload sends, and how they leave.
 *
 * The body (generated or from -M) is built once before threads start and
 * shared read-only; each thread builds its own headers per message. With
 * -o, msg_write() writes a message after the milter's modifications.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "milterload.h"

#define LINE_LEN	76		/* generated body line, without CRLF */

/* gb_reserve - make room for n more bytes plus a NUL */
void
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
void
gb_add(struct gbuf *b, const void *p, size_t n)
{
	gb_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* gb_str0 - append a C string with its NUL, as the protocol wants */
void
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
void
gb_free(struct gbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* hl_insert - insert a header (copies of name and value) at index at */
void
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
void
hl_clear(struct hlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	l->n = 0;
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
void
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

/* msg_domain - the From domain of message idx of connection c: with -n,
 * the connections take turns over dK.DOMAIN */
void
msg_domain(const struct conn *c, unsigned idx, char *dom, size_t size)
{
	if (opt.ndomains > 0)
		(void)snprintf(dom, size, "d%u.%s", (idx * opt.conns + c->id) %
		    opt.ndomains, opt.fromdomain);
	else
		(void)snprintf(dom, size, "%s", opt.fromdomain);
}

/* msg_std_headers - append the generated headers, From domain dom */
void
msg_std_headers(struct hlist *l, const char *dom, const char *mid,
    const char *date)
{
	char v[512];

	(void)snprintf(v, sizeof(v), " Load Sender <sender@%s>", dom);
	hl_insert(l, l->n, "From", v);
	(void)snprintf(v, sizeof(v), " <%s>", opt.rcpts[0]);
	hl_insert(l, l->n, "To", v);
	(void)snprintf(v, sizeof(v), " milterload message %s", mid);
	hl_insert(l, l->n, "Subject", v);
	hl_insert(l, l->n, "Date", date);
	(void)snprintf(v, sizeof(v), " <ml.%s.%s@%s>", tmpl.token, mid, dom);
	hl_insert(l, l->n, "Message-ID", v);
	hl_insert(l, l->n, "MIME-Version", " 1.0");
	if (opt.multipart)
		hl_insert(l, l->n, "Content-Type",
		    " multipart/mixed;\n\tboundary=\"=_ml_mixed\"");
	else {
		hl_insert(l, l->n, "Content-Type",
		    " text/plain; charset=us-ascii");
		hl_insert(l, l->n, "Content-Transfer-Encoding", " 7bit");
	}
}

/* msg_init - headers and envelope for message idx of connection c */
void
msg_init(const struct conn *c, struct msg *m, unsigned idx)
{
	char date[64], dom[256], mid[64];
	const struct hlist *from = &tmpl.hdrs;
	struct tm tm;
	time_t t;
	size_t i;

	m->idx = idx;
	snprintf(m->qid, sizeof(m->qid), "%04X%c%06X", c->id, 'Q', idx);
	hl_clear(&m->hdrs);
	free(m->envfrom);
	m->newbody.len = 0;
	m->replbody = m->signedmsg = m->quarantined = m->at_eob = 0;
	m->ar_dkim_pass = m->ar_dkim_other = 0;
	m->ar_spf_pass = m->ar_dmarc_pass = 0;
	if (tmpl.npool > 0) {	/* pre-signed: entry K for domain dK */
		const struct presig *ps = &tmpl.pool[opt.ndomains > 0 ?
		    (idx * opt.conns + c->id) % opt.ndomains : 0];

		from = &ps->hdrs;
		m->envfrom = xstrdup(ps->envfrom);
	} else
		m->envfrom = xstrdup(opt.mailfrom);
	if (from->n > 0) {
		for (i = 0; i < from->n; i++)
			hl_insert(&m->hdrs, i, from->v[i].name, from->v[i].value);
		return;
	}
	t = time(NULL);
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), " %a, %d %b %Y %H:%M:%S %z", &tm);
	msg_domain(c, idx, dom, sizeof(dom));
	(void)snprintf(mid, sizeof(mid), "%u-%u", c->id, idx);
	msg_std_headers(&m->hdrs, dom, mid, date);
}

/* msg_addr - an address in angle brackets, as Postfix passes it */
void
msg_addr(char *out, size_t size, const char *addr)
{
	if (*addr == '<')
		snprintf(out, size, "%s", addr);
	else
		snprintf(out, size, "<%s>", addr);
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

/* msg_write - the message as it leaves the MTA, to DIR/<conn>-<msg>.eml */
int
msg_write(struct conn *c, struct msg *m)
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
	msg_addr(arg, sizeof(arg), m->envfrom);
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

/* msg_free - release a message's storage */
void
msg_free(struct msg *m)
{
	hl_clear(&m->hdrs);
	free(m->hdrs.v);
	free(m->envfrom);
	gb_free(&m->newbody);
	memset(m, 0, sizeof(*m));
}

/* tmpl_free - release the template */
void
tmpl_free(void)
{
	hl_clear(&tmpl.hdrs);
	free(tmpl.hdrs.v);
	free(tmpl.body);
}

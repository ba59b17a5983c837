/*
 * privsep.c - a root helper process that reads the conf and its key files.
 *
 * The daemon's first request, sent while it is still root and before it
 * serves, is 'A' (4-byte length, a flags byte, NUL-terminated paths): the
 * key files of its first snapshot, the only ones the helper sends until
 * its first 'L'; they are read after the start (keyload.c) with 'N'
 * requests, whose answers carry an 'S' record before each file.
 * Wire format over a socketpair, helper to daemon, after a one-byte 'L'
 * request: records of
 *     type (1 byte) | path length (4, big-endian) | data length (4) | path | data
 * type 'C' conf text (main or included file), 'c' its error text, 'G' the
 * files an include pattern matched (NUL-terminated names, path = the
 * pattern), 'g' its error text, 'S' a key file's identity (struct
 * key_ident, five 8-byte big-endian numbers; none when stat fails), 'K'
 * key or secret bytes, 'X' its error text, 'F' fatal error (the conf
 * cannot be trusted, data = message), 'E' end. The first answer carries
 * the conf, the include lists, an 'S' per key file and the bounce secrets'
 * bytes; the daemon then asks, with one 'N' request (4-byte length and
 * NUL-terminated paths), for the bytes of the key files whose identity it
 * does not already hold, and the helper answers with their 'K' or 'X'
 * records and 'E'. It sends only files its own last parse named as keys.
 * 'I' records carry the included files' identities: the helper parses
 * again only the files that changed since its own last parse (and sends
 * only their texts), the daemon only those its running snapshot does not
 * hold unchanged; a text the daemon needs but the first answer lacked is
 * asked for with a 'T' request (4-byte length, the NUL-terminated path),
 * answered with its 'C' or 'c' record and 'E'.
 * The helper parses the conf through a source that records what each
 * read and each include pattern gave; the daemon parses it again through a
 * source that replays those records, so both see the same files. Only one
 * request is in flight at a time (reloads are serialized by the main
 * thread). The helper writes a load's answer a chunk at a time while it
 * parses, and the daemon's parse reads it as it asks for its records
 * (privsep_lookup): at 100,000 files the two parses run side by side
 * instead of one after the other. The daemon reads that answer to its
 * 'E' before it sends an 'N' or 'T'.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "auth/keys.h"
#include "base/log.h"
#include "daemon/privsep.h"
#include "daemon/privsep_wire.h"
#include "policy/keyload.h"
#include "base/secret.h"
#include "base/xalloc.h"

#define PRIVSEP_RBUF (256u * 1024)	/* the daemon's read buffer */

struct privsep {
	int fd;			/* our end of the socketpair */
	unsigned char *rbuf;	/* bytes read ahead (PRIVSEP_RBUF; wiped after
				 * each answer: they may hold keys) */
	size_t rpos, rlen;	/* unread part: rbuf[rpos..rlen) */
	int broken;		/* a request failed midway: the stream is lost */
	pid_t pid;		/* the helper */
	char *conf_path;	/* file the helper reads */
};

/* Records of one kind received for one reload. */
struct privsep_rec {
	size_t path;		/* its path's offset in the arena (NUL-ended) */
	size_t data;		/* its bytes' offset (NUL-ended too) */
	size_t len;		/* how many bytes */
	int ok;			/* 1: bytes, 0: error text */
};
struct privsep_bundle {
	struct buf arena;	/* the records' paths and bytes, one after the
				 * other: 200,000 records a reload, not
				 * 400,000 allocations */
	struct privsep_rec *v;	/* key or conf paths, include patterns */
	size_t n;
	size_t cap;		/* room in v */
	size_t next;		/* where the next lookup starts: the parse asks
				 * in the order the helper's parse read */
};

/* What the daemon received for one reload, by kind. A load's answer is
 * read as the parse asks for it (privsep_lookup): the reader writes it
 * while it parses, and the two parses go along together. */
struct privsep_received {
	struct privsep *ps;		/* where a fetch goes */
	int ended;			/* the load's answer was read to its 'E'
					 * (or the stream broke) */
	int broken;			/* the stream broke midway */
	char *fatal;			/* an 'F' record's message, or NULL */
	struct buf path, data;		/* the record being read (privsep_pull;
					 * wiped: it may be a secret) */
	struct privsep_bundle idents;	/* 'S' */
	struct privsep_bundle cidents;	/* 'I' */
	struct privsep_bundle keys;	/* 'K' and 'X' */
	struct privsep_bundle confs;	/* 'C' and 'c' */
	struct privsep_bundle globs;	/* 'G' and 'g' */
};

/* privsep_write_all - write everything or fail */
int
privsep_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* privsep_read_all - read exactly n bytes or fail */
int
privsep_read_all(int fd, void *p, size_t n)
{
	char *c = p;
	ssize_t r;

	while (n > 0) {
		r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * privsep_conf_trusted - 0 if the conf file can steer root: it and every
 * directory above it owned by root and writable by nobody else (else a
 * daemon turned hostile, as its user, could rewrite it to list any file as
 * a key); the file is then read by name, which nobody else can redirect
 */
int
privsep_conf_trusted(const char *conf_path, char *err, size_t errlen)
{
	char subject[PATH_MAX + 32];
	struct stat st;
	int fd;

	(void)snprintf(subject, sizeof(subject), "configuration file %s",
	    conf_path);
	fd = secret_open_trusted(conf_path, SECRET_ALLOW_SYMLINK, subject, &st,
	    err, errlen);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* privsep_start - fork the reader */
/* privsep_send_allowed - the 'A' request: c's key files (while root, before serving) */
static int
privsep_send_allowed(int fd, const struct config *c)
{
	struct buf req = BUF_INIT;
	unsigned char h[5], flags = (unsigned char)config_secret_flags(c);
	uint32_t len;
	size_t i, j;
	int rc;

	buf_append(&req, &flags, 1);
	for (i = 0; i < c->ndomains; i++)
		for (j = 0; j < c->domains[i].nkeys; j++)
			buf_append(&req, c->domains[i].keys[j].path,
			    strlen(c->domains[i].keys[j].path) + 1);
	len = (uint32_t)req.len;
	h[0] = 'A';
	h[1] = len >> 24; h[2] = len >> 16; h[3] = len >> 8; h[4] = len;
	rc = req.len > PRIVSEP_MAX_RECORD
	    || privsep_write_all(fd, h, sizeof(h)) != 0
	    || privsep_write_all(fd, req.data, req.len) != 0 ? -1 : 0;
	buf_free(&req);
	return rc;
}

struct privsep *
privsep_start(const char *conf_path, const struct config *c, char *err,
    size_t errlen)
{
	char *const argv[] = { (char *)"authmilter", (char *)PRIVSEP_READER_ARG,
	    (char *)conf_path, NULL };
	struct privsep *ps;
	char eb[128];
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		(void)snprintf(err, errlen, "socketpair: %s", log_errstr(errno, eb, sizeof(eb)));
		return NULL;
	}
	pid = fork();
	if (pid < 0) {
		(void)snprintf(err, errlen, "fork: %s", log_errstr(errno, eb, sizeof(eb)));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		/*
		 * A fresh image, not a copy of ours: the reader would otherwise
		 * share every page of the loaded configuration with the daemon,
		 * and each page either of them then writes (a key's reference
		 * count at the first reload) is copied: hundreds of MB and
		 * seconds at 100,000 domains.
		 */
		close(sv[0]);
		if (sv[1] == PRIVSEP_READER_FD	/* kept across the exec */
		    ? fcntl(sv[1], F_SETFD, 0) == 0
		    : dup2(sv[1], PRIVSEP_READER_FD) == PRIVSEP_READER_FD)
			execv("/proc/self/exe", argv);
		privsep_reader_serve(sv[1], conf_path);	/* no exec: this image */
		_exit(0);
	}
	close(sv[1]);
	if (privsep_send_allowed(sv[0], c) != 0) {
		(void)snprintf(err, errlen, "cannot send the key files to the "
		    "key reader");
		close(sv[0]);
		waitpid(pid, NULL, 0);
		return NULL;
	}
	ps = xcalloc(1, sizeof(*ps));
	ps->fd = sv[0];
	ps->pid = pid;
	ps->conf_path = xstrdup(conf_path);
	ps->rbuf = xmalloc(PRIVSEP_RBUF);
	return ps;
}

/* privsep_read_buffered - n bytes from the helper through ps's read buffer (a record is not a syscall: 100,000 keys); 0 or -1 */
static int
privsep_read_buffered(struct privsep *ps, void *p, size_t n)
{
	unsigned char *c = p;
	size_t take;
	ssize_t r;

	while (n > 0) {
		if (ps->rpos == ps->rlen) {
			if (n >= PRIVSEP_RBUF)	/* a large record: straight in */
				return privsep_read_all(ps->fd, c, n);
			ps->rpos = ps->rlen = 0;
			r = read(ps->fd, ps->rbuf, PRIVSEP_RBUF);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			ps->rlen = (size_t)r;
		}
		take = ps->rlen - ps->rpos < n ? ps->rlen - ps->rpos : n;
		memcpy(c, ps->rbuf + ps->rpos, take);
		ps->rpos += take;
		c += take;
		n -= take;
	}
	return 0;
}

/* privsep_get - read one record; 0, or -1 on a broken helper */
static int
privsep_get(struct privsep *ps, char *type, struct buf *path,
    struct buf *data)
{
	unsigned char h[9];
	uint32_t pl, dl;

	if (privsep_read_buffered(ps, h, sizeof(h)) != 0)
		return -1;
	*type = (char)h[0];
	pl = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
	dl = (uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
	if (pl > 4096 || dl > PRIVSEP_MAX_RECORD)
		return -1;
	buf_reset(path);
	buf_reset(data);
	buf_reserve(path, pl);
	buf_reserve(data, dl);
	if (privsep_read_buffered(ps, path->data, pl) != 0
	    || privsep_read_buffered(ps, data->data, dl) != 0)
		return -1;
	path->len = pl;
	path->data[pl] = '\0';
	data->len = dl;
	data->data[dl] = '\0';
	return 0;
}

/* privsep_bundle_find - the record for path, or NULL; searched from where the last one was found (100,000 keys) */
static const struct privsep_rec *
privsep_bundle_find(struct privsep_bundle *b, const char *path)
{
	size_t i, k;

	for (k = 0; k < b->n; k++) {
		i = (b->next + k) % b->n;
		if (strcmp(b->arena.data + b->v[i].path, path) == 0) {
			b->next = i + 1;
			return &b->v[i];
		}
	}
	return NULL;
}

static int privsep_pull(struct privsep_received *r, struct privsep_bundle **b);

/*
 * privsep_lookup - the record for path in b, reading on in the load's
 * answer while it is not there yet; NULL once the whole answer was read
 * without it. The parse asks in the order the reader's parse wrote:
 * mostly the record asked for is the next one read, and a miss costs no
 * scan of what came before.
 */
static const struct privsep_rec *
privsep_lookup(struct privsep_received *r, struct privsep_bundle *b,
    const char *path)
{
	const struct privsep_rec *e;
	struct privsep_bundle *got;

	/* the same path again (a changed key's identity, asked twice) */
	if (b->next > 0 && b->next <= b->n
	    && strcmp(b->arena.data + b->v[b->next - 1].path, path) == 0)
		return &b->v[b->next - 1];
	if ((b->next < b->n || r->ended)
	    && (e = privsep_bundle_find(b, path)) != NULL)
		return e;
	while (!r->ended) {
		if (privsep_pull(r, &got) != 0 || got != b)
			continue;
		e = &b->v[b->n - 1];
		if (strcmp(b->arena.data + e->path, path) == 0) {
			b->next = b->n;
			return e;
		}
	}
	return privsep_bundle_find(b, path);	/* read out of order */
}

/* privsep_replay - the bytes recorded for path into out, or -1 with the recorded error */
static int
privsep_replay(struct privsep_received *r, struct privsep_bundle *b,
    const char *what, const char *path, struct buf *out, char *err,
    size_t errlen)
{
	const struct privsep_rec *e;

	if ((e = privsep_lookup(r, b, path)) == NULL) {
		(void)snprintf(err, errlen, "%s %s: not sent by the key reader",
		    what, path);
		return -1;
	}
	if (!e->ok) {
		(void)snprintf(err, errlen, "%s", b->arena.data + e->data);
		return -1;
	}
	buf_reset(out);
	buf_append(out, b->arena.data + e->data, e->len);
	return 0;
}

/* privsep_bundle_read - the read_secret of the daemon's source */
static int
privsep_bundle_read(void *arg, const char *path, const char *what,
    size_t max, int flags, struct buf *pem, char *err, size_t errlen)
{
	struct privsep_received *r = arg;

	(void)max;			/* applied by the helper, */
	(void)flags;			/* as are the flags */
	return privsep_replay(r, &r->keys, what, path, pem, err, errlen);
}

static char privsep_receive(struct privsep *ps, struct privsep_received *r,
    char *err, size_t errlen);
static void privsep_drain(struct privsep_received *r);

static int privsep_decode_id(const void *data, size_t len,
    struct key_ident *id);

/* privsep_get_id - the identity recorded for path in b; 0, or -1 if none */
static int
privsep_get_id(struct privsep_received *r, struct privsep_bundle *b,
    const char *path, struct key_ident *id)
{
	const struct privsep_rec *e = privsep_lookup(r, b, path);

	return e == NULL ? -1 : privsep_decode_id(b->arena.data + e->data,
	    e->len, id);
}

/* privsep_decode_id - an identity record's data (five 8-byte big-endian numbers); 0 or -1 */
static int
privsep_decode_id(const void *data, size_t len, struct key_ident *id)
{
	unsigned long long v[5] = { 0 };
	const unsigned char *p = data;
	size_t i, j;

	if (len != 40)
		return -1;
	for (i = 0; i < 5; i++)
		for (j = 0; j < 8; j++)
			v[i] = v[i] << 8 | p[i * 8 + j];
	id->dev = v[0];
	id->ino = v[1];
	id->size = v[2];
	id->mtime_ns = (long long)v[3];
	id->ctime_ns = (long long)v[4];
	return 0;
}

/* privsep_bundle_stat - the stat_key of the daemon's source: the identity the helper sent */
static int
privsep_bundle_stat(void *arg, const char *path, int follow,
    struct key_ident *id)
{
	struct privsep_received *r = arg;

	(void)follow;			/* applied by the helper */
	return privsep_get_id(r, &r->idents, path, id);
}

/* privsep_bundle_stat_conf - the stat_conf of the daemon's source: the identity the helper sent ('I') */
static int
privsep_bundle_stat_conf(void *arg, const char *path, struct key_ident *id)
{
	struct privsep_received *r = arg;

	return privsep_get_id(r, &r->cidents, path, id);
}

/* privsep_bundle_fetch - the fetch of the daemon's source: one 'N' request for the key files to read */
static int
privsep_bundle_fetch(void *arg, const char *const *paths, size_t n,
    char *err, size_t errlen)
{
	struct privsep_received *r = arg;
	struct buf req = BUF_INIT;
	uint32_t len;
	unsigned char h[5];
	size_t i;
	char type;

	privsep_drain(r);	/* the load's answer first: one request at a time */
	if (r->broken) {
		(void)snprintf(err, errlen, "key reader process failed");
		return -1;
	}
	for (i = 0; i < n; i++)
		buf_append(&req, paths[i], strlen(paths[i]) + 1);
	len = (uint32_t)req.len;
	h[0] = 'N';
	h[1] = len >> 24; h[2] = len >> 16; h[3] = len >> 8; h[4] = len;
	if (req.len > PRIVSEP_MAX_RECORD
	    || privsep_write_all(r->ps->fd, h, sizeof(h)) != 0
	    || privsep_write_all(r->ps->fd, req.data ? req.data : "", req.len) != 0) {
		buf_free(&req);
		r->ps->broken = 1;
		(void)snprintf(err, errlen, "key reader process is gone");
		return -1;
	}
	buf_free(&req);
	type = privsep_receive(r->ps, r, err, errlen);
	if (type != 'E') {
		if (type != 'F') {
			r->ps->broken = 1;
			(void)snprintf(err, errlen, "key reader process failed");
		}
		return -1;
	}
	return 0;
}

/* privsep_fetch_conf - one 'T' request: the text of an included file the first answer did not carry; 0 or -1 with err */
static int
privsep_fetch_conf(struct privsep_received *r, const char *path, char *err,
    size_t errlen)
{
	uint32_t len = (uint32_t)strlen(path) + 1;
	unsigned char h[5];
	char type;

	privsep_drain(r);
	if (r->broken) {
		(void)snprintf(err, errlen, "key reader process failed");
		return -1;
	}
	h[0] = 'T';
	h[1] = len >> 24; h[2] = len >> 16; h[3] = len >> 8; h[4] = len;
	if (privsep_write_all(r->ps->fd, h, sizeof(h)) != 0
	    || privsep_write_all(r->ps->fd, path, len) != 0) {
		r->ps->broken = 1;
		(void)snprintf(err, errlen, "key reader process is gone");
		return -1;
	}
	type = privsep_receive(r->ps, r, err, errlen);
	if (type != 'E') {
		r->ps->broken = 1;
		(void)snprintf(err, errlen, "key reader process failed");
		return -1;
	}
	return 0;
}

/* privsep_bundle_conf - the read_conf of the daemon's source */
static int
privsep_bundle_conf(void *arg, const char *path, int included,
    struct buf *text, char *err, size_t errlen)
{
	struct privsep_received *r = arg;

	(void)included;			/* checked by the helper */
	/* a file the helper reused from its own last parse, which this
	 * daemon's running snapshot does not hold unchanged: ask for it */
	if (privsep_lookup(r, &r->confs, path) == NULL
	    && privsep_fetch_conf(r, path, err, errlen) != 0)
		return -1;
	return privsep_replay(r, &r->confs, "configuration file", path, text,
	    err, errlen);
}

/* privsep_bundle_glob - the glob of the daemon's source */
static int
privsep_bundle_glob(void *arg, const char *pattern,
    struct config_words *files, char *err, size_t errlen)
{
	struct privsep_received *r = arg;
	struct buf names = BUF_INIT;
	const char *q, *end;

	files->v = NULL;
	files->n = 0;
	files->packed = 0;
	if (privsep_replay(r, &r->globs, "include", pattern, &names, err,
	    errlen) != 0) {
		buf_free(&names);
		return -1;
	}
	for (q = buf_cstr(&names), end = q + names.len; q < end;
	    q += strlen(q) + 1) {
		files->v = xreallocarray(files->v, files->n + 1, sizeof(*files->v));
		files->v[files->n++] = xstrdup(q);
	}
	buf_free(&names);
	return 0;
}

/* privsep_bundle_free - wipe and free received bytes */
static void
privsep_bundle_free(struct privsep_bundle *b)
{
	if (b->arena.data != NULL)
		OPENSSL_cleanse(b->arena.data, b->arena.len);
	buf_free(&b->arena);
	free(b->v);
}

/* privsep_arena_room - room for n more bytes in a, the old bytes wiped when it moves (secrets among them) */
static void
privsep_arena_room(struct buf *a, size_t n)
{
	size_t cap;
	char *p;

	if (a->len + n + 1 <= a->cap)
		return;
	cap = a->cap ? a->cap : 4096;
	while (cap < a->len + n + 1)
		cap *= 2;
	p = xmalloc(cap);
	if (a->data != NULL) {
		memcpy(p, a->data, a->len);
		OPENSSL_cleanse(a->data, a->len);
		free(a->data);
	}
	a->data = p;
	a->cap = cap;
}

/* privsep_bundle_add - keep one received record */
static void
privsep_bundle_add(struct privsep_bundle *b, const struct buf *path,
    const struct buf *data, int ok)
{
	struct privsep_rec *e;

	if (b->n == b->cap) {	/* doubling: 100,000 records a reload */
		b->cap = b->cap ? 2 * b->cap : 64;
		b->v = xreallocarray(b->v, b->cap, sizeof(*b->v));
	}
	privsep_arena_room(&b->arena, path->len + data->len + 2);
	e = &b->v[b->n++];
	e->path = b->arena.len;
	buf_append(&b->arena, path->data ? path->data : "", path->len);
	buf_putc(&b->arena, '\0');
	e->data = b->arena.len;
	e->len = data->len;
	buf_append(&b->arena, data->data ? data->data : "", data->len);
	buf_putc(&b->arena, '\0');
	e->ok = ok;
}

/* privsep_bundle_of - the bundle a record of type goes to, or NULL */
static struct privsep_bundle *
privsep_bundle_of(struct privsep_received *r, char type, int *ok)
{
	*ok = type == 'K' || type == 'S' || type == 'I' || type == 'C'
	    || type == 'G';
	switch (type) {
	case 'K': case 'X':
		return &r->keys;
	case 'S':
		return &r->idents;
	case 'I':
		return &r->cidents;
	case 'C': case 'c':
		return &r->confs;
	case 'G': case 'g':
		return &r->globs;
	}
	return NULL;
}

/* privsep_receive - read records up to 'E'; the last type read ('F' with its message in err) */
static char
privsep_receive(struct privsep *ps, struct privsep_received *r, char *err,
    size_t errlen)
{
	struct buf path = BUF_INIT, data = BUF_INIT;
	struct privsep_bundle *b;
	char type = 0, fatal = 0;
	int ok;

	while (privsep_get(ps, &type, &path, &data) == 0 && type != 'E') {
		if (type == 'F') {	/* read on to 'E': the stream stays in step */
			(void)snprintf(err, errlen, "%s", buf_cstr(&data));
			fatal = 1;
			continue;
		}
		if ((b = privsep_bundle_of(r, type, &ok)) != NULL)
			privsep_bundle_add(b, &path, &data, ok);
	}
	if (data.data != NULL)
		OPENSSL_cleanse(data.data, data.cap);
	OPENSSL_cleanse(ps->rbuf, PRIVSEP_RBUF);
	ps->rpos = ps->rlen = 0;
	buf_free(&path);
	buf_free(&data);
	return type == 'E' && fatal ? 'F' : type;
}

/*
 * privsep_pull - read one more record of the load's answer into its
 * bundle (*b: which one, or NULL); -1 and r->ended at its 'E' or when the
 * stream broke (r->broken, ps->broken)
 */
static int
privsep_pull(struct privsep_received *r, struct privsep_bundle **b)
{
	struct buf *path = &r->path, *data = &r->data;
	char type;
	int ok, rc = 0;

	*b = NULL;
	if (r->ended)
		return -1;
	if (privsep_get(r->ps, &type, path, data) != 0) {
		r->broken = r->ps->broken = 1;
		r->ended = 1;
		rc = -1;
	} else if (type == 'E') {
		r->ended = 1;
		rc = -1;
	} else if (type == 'F') {
		if (r->fatal == NULL)
			r->fatal = xstrdup(buf_cstr(data));
	} else if ((*b = privsep_bundle_of(r, type, &ok)) != NULL)
		privsep_bundle_add(*b, path, data, ok);
	if (data->data != NULL)
		OPENSSL_cleanse(data->data, data->len);
	if (r->ended) {		/* read ahead of it: nothing (one request at a
				 * time); what was read may hold keys */
		OPENSSL_cleanse(r->ps->rbuf, PRIVSEP_RBUF);
		r->ps->rpos = r->ps->rlen = 0;
	}
	return rc;
}

/* privsep_drain - read the load's answer to its end */
static void
privsep_drain(struct privsep_received *r)
{
	struct privsep_bundle *b;

	while (!r->ended)
		(void)privsep_pull(r, &b);
}

/* privsep_load - build a new snapshot through the reader, reading its answer while parsing */
struct config *
privsep_load(struct privsep *ps, const struct config *prev,
    struct config_problems *probs, char *err, size_t errlen)
{
	struct privsep_received r;
	struct config_source src = { .read_secret = privsep_bundle_read,
	    .read_conf = privsep_bundle_conf, .glob = privsep_bundle_glob,
	    .stat_key = privsep_bundle_stat, .fetch = privsep_bundle_fetch,
	    .stat_conf = privsep_bundle_stat_conf,
	    .arg = &r, .prev = prev };
	struct privsep_bundle *b;
	struct config *c = NULL;

	memset(&r, 0, sizeof(r));
	r.ps = ps;
	if (ps->broken || privsep_write_all(ps->fd, "L", 1) != 0) {
		(void)snprintf(err, errlen, "key reader process is gone");
		return NULL;
	}
	/* an untrusted conf: an 'F' record first, and nothing to parse */
	(void)privsep_pull(&r, &b);
	if (r.fatal == NULL && !r.broken)
		c = config_load_from(ps->conf_path, NULL, &src, 0, probs, err,
		    errlen);
	privsep_drain(&r);
	if (r.broken || r.fatal != NULL) {
		if (r.broken)
			(void)snprintf(err, errlen, "key reader process failed");
		else
			(void)snprintf(err, errlen, "%s", r.fatal);
		config_free(c);
		c = NULL;
	}
	free(r.fatal);
	if (r.data.data != NULL)
		OPENSSL_cleanse(r.data.data, r.data.cap);
	buf_free(&r.data);
	buf_free(&r.path);
	privsep_bundle_free(&r.idents);
	privsep_bundle_free(&r.cidents);
	privsep_bundle_free(&r.keys);
	privsep_bundle_free(&r.confs);
	privsep_bundle_free(&r.globs);
	return c;
}

/* privsep_fetch_keys - keyload's source: one 'N' request, each file's answer in order */
int
privsep_fetch_keys(void *arg, const char *const *paths, size_t n,
    keyload_got_fn *got, void *garg, char *err, size_t errlen)
{
	struct privsep *ps = arg;
	struct buf req = BUF_INIT, path = BUF_INIT, data = BUF_INIT, idpath = BUF_INIT;
	struct key_ident id;
	unsigned char h[5];
	uint32_t len;
	size_t i, got_n = 0;
	char type = 0;
	int has_id = 0, rc = -1;

	for (i = 0; i < n; i++)
		buf_append(&req, paths[i], strlen(paths[i]) + 1);
	len = (uint32_t)req.len;
	h[0] = 'N';
	h[1] = len >> 24; h[2] = len >> 16; h[3] = len >> 8; h[4] = len;
	if (ps->broken || req.len > PRIVSEP_MAX_RECORD
	    || privsep_write_all(ps->fd, h, sizeof(h)) != 0
	    || privsep_write_all(ps->fd, req.data ? req.data : "", req.len) != 0) {
		ps->broken = 1;
		(void)snprintf(err, errlen, "key reader process is gone");
		goto out;
	}
	while (privsep_get(ps, &type, &path, &data) == 0 && type != 'E') {
		if (type == 'S') {
			has_id = privsep_decode_id(data.data, data.len, &id) == 0;
			buf_reset(&idpath);
			buf_append(&idpath, path.data, path.len);
		} else if ((type == 'K' || type == 'X') && got_n < n) {
			got(garg, got_n++, type == 'K', buf_cstr(&data), data.len,
			    has_id && strcmp(buf_cstr(&idpath), buf_cstr(&path)) == 0
			    ? &id : NULL);
			has_id = 0;
		}
		if (data.data != NULL)
			OPENSSL_cleanse(data.data, data.len);
	}
	if (type != 'E') {
		ps->broken = 1;
		(void)snprintf(err, errlen, "key reader process failed");
		goto out;
	}
	rc = 0;
out:
	if (data.data != NULL)
		OPENSSL_cleanse(data.data, data.cap);
	OPENSSL_cleanse(ps->rbuf, PRIVSEP_RBUF);
	ps->rpos = ps->rlen = 0;
	buf_free(&req);
	buf_free(&path);
	buf_free(&data);
	buf_free(&idpath);
	return rc;
}

/* privsep_stop - end the reader */
void
privsep_stop(struct privsep *ps)
{
	if (ps == NULL)
		return;
	close(ps->fd);
	waitpid(ps->pid, NULL, 0);
	free(ps->conf_path);
	free(ps->rbuf);
	free(ps);
}

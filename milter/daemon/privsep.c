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
 * thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "auth/keys.h"
#include "base/log.h"
#include "daemon/privsep.h"
#include "policy/keyload.h"
#include "base/secret.h"
#include "base/xalloc.h"

#define PRIVSEP_MAX_RECORD (32u * 1024 * 1024)

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

/* What the daemon received for one reload, by kind. */
struct privsep_received {
	struct privsep *ps;		/* where a fetch goes */
	struct privsep_bundle idents;	/* 'S' */
	struct privsep_bundle cidents;	/* 'I' */
	struct privsep_bundle keys;	/* 'K' and 'X' */
	struct privsep_bundle confs;	/* 'C' and 'c' */
	struct privsep_bundle globs;	/* 'G' and 'g' */
};

/* privsep_write_all - write everything or fail */
static int
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
static int
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

/* privsep_put - append one record to out */
static void
privsep_put(struct buf *out, char type, const char *path, const void *data,
    size_t len)
{
	unsigned char h[9];
	uint32_t pl = (uint32_t)strlen(path), dl = (uint32_t)len;

	h[0] = (unsigned char)type;
	h[1] = pl >> 24; h[2] = pl >> 16; h[3] = pl >> 8; h[4] = pl;
	h[5] = dl >> 24; h[6] = dl >> 16; h[7] = dl >> 8; h[8] = dl;
	buf_append(out, h, sizeof(h));
	buf_append(out, path, pl);
	buf_append(out, data, len);
}

/* privsep_put_file - a 'K' record with a file's checked bytes, or an 'X' record saying why not */
static void
privsep_put_file(struct buf *out, const char *path, const char *what,
    size_t max, int flags, struct buf *pem)
{
	char err[1024];

	if (secret_read(path, what, max, flags, pem, err, sizeof(err)) == 0)
		privsep_put(out, 'K', path, buf_cstr(pem), pem->len);
	else
		privsep_put(out, 'X', path, err, strlen(err));
	if (pem->data != NULL)
		OPENSSL_cleanse(pem->data, pem->len);
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

/* privsep_record_conf - the helper's read_conf: read as config_file_read does, and record it */
static int
privsep_record_conf(void *arg, const char *path, int included,
    struct buf *text, char *err, size_t errlen)
{
	struct buf *out = arg;

	if (config_file_read(path, included, text, err, errlen) != 0) {
		privsep_put(out, 'c', path, err, strlen(err));
		return -1;
	}
	privsep_put(out, 'C', path, text->data ? text->data : "", text->len);
	return 0;
}

/* privsep_record_glob - the helper's glob: list as config_file_glob does, and record it */
static int
privsep_record_glob(void *arg, const char *pattern,
    struct config_words *files, char *err, size_t errlen)
{
	struct buf *out = arg, names = BUF_INIT;
	size_t i;

	if (config_file_glob(pattern, files, err, errlen) != 0) {
		privsep_put(out, 'g', pattern, err, strlen(err));
		return -1;
	}
	for (i = 0; i < files->n; i++)
		buf_append(&names, files->v[i], strlen(files->v[i]) + 1);
	privsep_put(out, 'G', pattern, names.data ? names.data : "", names.len);
	buf_free(&names);
	return 0;
}

/* The helper's last parse (no keys): the files it may send again, and
 * what the next parse reuses. */
static struct config *privsep_prev;
static size_t privsep_last_len;		/* the last load answer's size */

/* The key files the helper's last parse named, sorted: the only ones it
 * sends (made at the first 'N' request after the parse: most reloads
 * ask for one key, or none). */
static struct config_words privsep_allowed;
static int privsep_allowed_made;	/* privsep_allowed is of privsep_prev */
static int privsep_allowed_flags;	/* secret_read flags of that parse */

/* privsep_allowed_reset - a new parse: the list is to be made again */
static void
privsep_allowed_reset(void)
{
	size_t i;

	for (i = 0; i < privsep_allowed.n; i++)
		free(privsep_allowed.v[i]);
	free(privsep_allowed.v);
	privsep_allowed.v = NULL;
	privsep_allowed.n = 0;
	privsep_allowed_made = 0;
}

static int privsep_cmp_str(const void *a, const void *b);

/* privsep_allowed_make - the sorted key paths of privsep_prev, once a parse */
static void
privsep_allowed_make(void)
{
	struct config_words *w = &privsep_allowed;
	const struct config *c = privsep_prev;
	size_t i, j, n = 0;

	if (privsep_allowed_made || c == NULL)
		return;
	for (i = 0; i < c->ndomains; i++)
		n += c->domains[i].nkeys;
	w->v = xcalloc(n + 1, sizeof(*w->v));
	for (i = 0; i < c->ndomains; i++)
		for (j = 0; j < c->domains[i].nkeys; j++)
			w->v[w->n++] = xstrdup(c->domains[i].keys[j].path);
	qsort(w->v, w->n, sizeof(*w->v), privsep_cmp_str);
	privsep_allowed_made = 1;
}

/* privsep_cmp_str - strcmp for qsort and bsearch of string pointers */
static int
privsep_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* privsep_put_id - a record of type with an identity as its data (five 8-byte big-endian numbers) */
static void
privsep_put_id(struct buf *out, char type, const char *path,
    const struct key_ident *id)
{
	unsigned long long v[5];
	unsigned char b[40];
	size_t i, j;

	v[0] = id->dev;
	v[1] = id->ino;
	v[2] = id->size;
	v[3] = (unsigned long long)id->mtime_ns;
	v[4] = (unsigned long long)id->ctime_ns;
	for (i = 0; i < 5; i++)
		for (j = 0; j < 8; j++)
			b[i * 8 + j] = (unsigned char)(v[i] >> (56 - 8 * j));
	privsep_put(out, type, path, b, sizeof(b));
}

/* privsep_put_ident - an 'S' record with path's identity (nothing when stat fails: the daemon asks for the bytes, whose read says why) */
static void
privsep_put_ident(struct buf *out, const char *path, int follow)
{
	struct key_ident id;

	if (keys_ident_stat(path, follow, &id) == 0)
		privsep_put_id(out, 'S', path, &id);
}

/* privsep_record_stat_conf - the helper's stat_conf: stat, and record it ('I') */
static int
privsep_record_stat_conf(void *arg, const char *path, struct key_ident *id)
{
	if (keys_ident_stat(path, 1, id) != 0)
		return -1;
	privsep_put_id(arg, 'I', path, id);
	return 0;
}

/* privsep_put_keys - an 'S' record per key file c names (remembered as the files that may be asked for), the secrets' bytes */
static void
privsep_put_keys(struct buf *out, const struct config *c)
{
	struct buf pem = BUF_INIT;
	size_t i, j;
	int flags = config_secret_flags(c);

	privsep_allowed_reset();
	privsep_allowed_flags = flags;
	for (i = 0; i < c->ndomains; i++)
		for (j = 0; j < c->domains[i].nkeys; j++)
			privsep_put_ident(out, c->domains[i].keys[j].path,
			    (flags & SECRET_ALLOW_SYMLINK) != 0);
	for (i = 0; i < c->bounce_secret.n; i++)
		privsep_put_file(out, c->bounce_secret.v[i], BOUNCE_SECRET_WHAT,
		    BOUNCE_SECRET_FILE_MAX, flags, &pem);
	buf_free(&pem);
}

/* privsep_serve_conf - answer a 'T' request: an included file of the last parse, read again ('C' or 'c') */
static void
privsep_serve_conf(int fd)
{
	unsigned char h[4];
	uint32_t len;
	struct buf name = BUF_INIT, out = BUF_INIT, text = BUF_INIT;
	char err[1024];
	size_t i;
	int known = 0;

	if (privsep_read_all(fd, h, sizeof(h)) != 0)
		_exit(0);
	len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (len == 0 || len > PATH_MAX + 1)
		_exit(0);
	buf_reserve(&name, len);
	if (privsep_read_all(fd, name.data, len) != 0)
		_exit(0);
	name.data[len - 1] = '\0';
	for (i = 1; privsep_prev != NULL && i < privsep_prev->files.n; i++)
		if (strcmp(privsep_prev->files.v[i], name.data) == 0) {
			known = 1;
			break;
		}
	if (!known) {
		(void)snprintf(err, sizeof(err), "%s: not an included file of the "
		    "configuration", name.data);
		privsep_put(&out, 'c', name.data, err, strlen(err));
	} else
		(void)privsep_record_conf(&out, name.data, 1, &text, err,
		    sizeof(err));
	privsep_put(&out, 'E', "", "", 0);
	if (privsep_write_all(fd, out.data, out.len) != 0)
		_exit(0);
	buf_free(&out);
	buf_free(&text);
	buf_free(&name);
}

/* privsep_serve_keys - answer an 'N' request: the bytes of the key files named, those of the last parse only */
static void
privsep_serve_keys(int fd)
{
	unsigned char h[4];
	uint32_t len;
	struct buf names = BUF_INIT, out = BUF_INIT, pem = BUF_INIT;
	const char *q, *end;

	if (privsep_read_all(fd, h, sizeof(h)) != 0)
		_exit(0);
	len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (len > PRIVSEP_MAX_RECORD)
		_exit(0);
	buf_reserve(&names, len);
	if (privsep_read_all(fd, names.data, len) != 0)
		_exit(0);
	names.len = len;
	names.data[len] = '\0';
	privsep_allowed_make();
	secret_cache_begin();
	for (q = names.data, end = q + len; q < end; q += strlen(q) + 1) {
		if (bsearch(&q, privsep_allowed.v, privsep_allowed.n,
		    sizeof(*privsep_allowed.v), privsep_cmp_str) == NULL) {
			static const char no[] = "not a key file of the "
			    "configuration";

			privsep_put(&out, 'X', q, no, sizeof(no) - 1);
			continue;
		}
		/* its identity first: a key read after the start is shared
		 * by the next reload as one read with it */
		privsep_put_ident(&out, q,
		    (privsep_allowed_flags & SECRET_ALLOW_SYMLINK) != 0);
		privsep_put_file(&out, q, KEYS_FILE_WHAT, KEYS_MAX_PEM,
		    privsep_allowed_flags, &pem);
	}
	secret_cache_end();
	privsep_put(&out, 'E', "", "", 0);
	if (privsep_write_all(fd, out.data, out.len) != 0)
		_exit(0);
	OPENSSL_cleanse(out.data, out.cap);
	buf_free(&out);
	buf_free(&pem);
	buf_free(&names);
}

/*
 * privsep_serve_one - answer one load request: the conf files and include
 * lists as read, then the keys of the blocks that parsed (a conf with a
 * fatal error gets none: the daemon's own parse fails the same way)
 */
static void
privsep_serve_one(int fd, const char *conf_path)
{
	struct buf out = BUF_INIT;
	struct config_source src = { .read_conf = privsep_record_conf,
	    .glob = privsep_record_glob, .stat_conf = privsep_record_stat_conf,
	    .arg = &out, .prev = privsep_prev };
	struct config *c, *old = NULL;
	char err[1024];

	/* the last answer's size and a margin: at 100,000 domains the answer
	 * is some 20 MB, grown by doubling it was copied five times over */
	if (privsep_last_len > 0)
		buf_reserve(&out, privsep_last_len + privsep_last_len / 8);
	if (privsep_conf_trusted(conf_path, err, sizeof(err)) != 0) {
		privsep_put(&out, 'F', "", err, strlen(err));
	} else {
		/* its own last parse is its prev: unchanged files are not read */
		c = config_load_from(conf_path, NULL, &src, CONFIG_SKIP_KEYS, NULL,
		    err, sizeof(err));
		if (c != NULL) {
			privsep_put_keys(&out, c);
			old = privsep_prev;
			privsep_prev = c;
		}
	}
	privsep_put(&out, 'E', "", "", 0);
	if (privsep_write_all(fd, out.data, out.len) != 0)
		_exit(0);
	config_free(old);	/* once the daemon has its answer */
	/* 100,000 blocks freed: give the pages back rather than keep the
	 * high-water mark of two parses for the helper's whole life */
	if (old != NULL)
		(void)malloc_trim(0);
	/* what was written: the bounce secrets' bytes are in it (the rest of
	 * the capacity was never touched) */
	OPENSSL_cleanse(out.data, out.len);
	privsep_last_len = out.len;
	buf_free(&out);
}

/*
 * The reader's own first parse, made at a low priority on a thread of its
 * own while it already serves the start's key files (the 'A' list): the
 * first reload reuses it.
 */
static pthread_t privsep_pre_tid;
static int privsep_pre_running;		/* the thread was started, not joined */
static struct config *privsep_pre;	/* its result (the thread's until joined) */
static const char *privsep_pre_path;

/* privsep_pre_main - the thread: parse, niced (the daemon serves meanwhile) */
static void *
privsep_pre_main(void *arg)
{
	char err[1024];

	(void)arg;
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	if (privsep_conf_trusted(privsep_pre_path, err, sizeof(err)) == 0)
		privsep_pre = config_load_from(privsep_pre_path, NULL, NULL,
		    CONFIG_SKIP_KEYS, NULL, err, sizeof(err));
	OPENSSL_thread_stop();
	return NULL;
}

/* privsep_pre_join - the first parse, once done, as the last one */
static void
privsep_pre_join(void)
{
	if (!privsep_pre_running)
		return;
	pthread_join(privsep_pre_tid, NULL);
	privsep_pre_running = 0;
	if (privsep_prev == NULL) {
		privsep_prev = privsep_pre;
		privsep_pre = NULL;
	}
	config_free(privsep_pre);
	privsep_pre = NULL;
}

/*
 * privsep_serve_allowed - the 'A' request, the first only: the key files
 * of the daemon's first snapshot, sent while it was still root and before
 * it served (as trustworthy as a parse of our own), so that they are read
 * at once; a flags byte, then NUL-terminated paths
 */
static void
privsep_serve_allowed(int fd)
{
	unsigned char h[4];
	uint32_t len;
	struct buf names = BUF_INIT;
	const char *q, *end;

	if (privsep_read_all(fd, h, sizeof(h)) != 0)
		_exit(0);
	len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (len == 0 || len > PRIVSEP_MAX_RECORD)
		_exit(0);
	buf_reserve(&names, len);
	if (privsep_read_all(fd, names.data, len) != 0)
		_exit(0);
	names.data[len] = '\0';
	privsep_allowed_reset();
	privsep_allowed_flags = (unsigned char)names.data[0];
	for (q = names.data + 1, end = names.data + len; q < end;
	    q += strlen(q) + 1) {
		privsep_allowed.v = xreallocarray(privsep_allowed.v,
		    privsep_allowed.n + 1, sizeof(*privsep_allowed.v));
		privsep_allowed.v[privsep_allowed.n++] = xstrdup(q);
	}
	qsort(privsep_allowed.v, privsep_allowed.n, sizeof(*privsep_allowed.v),
	    privsep_cmp_str);
	privsep_allowed_made = 1;
	buf_free(&names);
}

/* privsep_child - the helper's loop */
static void
privsep_child(int fd, const char *conf_path)
{
	char req;
	int i, first = 1;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (i = 3; i < 1024; i++)	/* keep no milter socket */
		if (i != fd)
			close(i);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	for (;;) {
		if (privsep_read_all(fd, &req, 1) != 0)
			_exit(0);
		if (req == 'A' && !first)
			_exit(0);	/* the start's list only: not to be widened */
		first = 0;
		if (req == 'A')
			privsep_serve_allowed(fd);
		else if (req == 'L') {
			privsep_pre_join();
			privsep_serve_one(fd, conf_path);
		}
		else if (req == 'N')
			privsep_serve_keys(fd);
		else if (req == 'T')
			privsep_serve_conf(fd);
	}
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
		privsep_child(sv[1], conf_path);	/* no exec: this image */
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

/* privsep_reader_main - the reader, exec'ed: serve, and parse the conf meanwhile on a niced thread (the first reload reuses it) */
int
privsep_reader_main(const char *conf_path)
{
	sigset_t none;
	char err[1024];

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);	/* the daemon's mask came along */
	prctl(PR_SET_NAME, "authmilter");	/* not "exe", from /proc/self/exe */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;			/* the daemon is already gone */
	privsep_pre_path = conf_path;
	privsep_pre_running = pthread_create(&privsep_pre_tid, NULL,
	    privsep_pre_main, NULL) == 0;
	if (!privsep_pre_running && privsep_conf_trusted(conf_path, err,
	    sizeof(err)) == 0)
		privsep_prev = config_load_from(conf_path, NULL, NULL,
		    CONFIG_SKIP_KEYS, NULL, err, sizeof(err));
	privsep_child(PRIVSEP_READER_FD, conf_path);
	return 0;
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

/* privsep_replay - the bytes recorded for path into out, or -1 with the recorded error */
static int
privsep_replay(struct privsep_bundle *b, const char *what,
    const char *path, struct buf *out, char *err, size_t errlen)
{
	const struct privsep_rec *e;

	if ((e = privsep_bundle_find(b, path)) == NULL) {
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
	return privsep_replay(&r->keys, what, path, pem, err, errlen);
}

static char privsep_receive(struct privsep *ps, struct privsep_received *r,
    char *err, size_t errlen);

static int privsep_decode_id(const void *data, size_t len,
    struct key_ident *id);

/* privsep_get_id - the identity recorded for path in b; 0, or -1 if none */
static int
privsep_get_id(struct privsep_bundle *b, const char *path,
    struct key_ident *id)
{
	const struct privsep_rec *e = privsep_bundle_find(b, path);

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
	return privsep_get_id(&r->idents, path, id);
}

/* privsep_bundle_stat_conf - the stat_conf of the daemon's source: the identity the helper sent ('I') */
static int
privsep_bundle_stat_conf(void *arg, const char *path, struct key_ident *id)
{
	struct privsep_received *r = arg;

	return privsep_get_id(&r->cidents, path, id);
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
	if (privsep_bundle_find(&r->confs, path) == NULL
	    && privsep_fetch_conf(r, path, err, errlen) != 0)
		return -1;
	return privsep_replay(&r->confs, "configuration file", path, text, err,
	    errlen);
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
	if (privsep_replay(&r->globs, "include", pattern, &names, err,
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

/* privsep_receive - read records up to 'E'; the last type read ('F' with its message in err) */
static char
privsep_receive(struct privsep *ps, struct privsep_received *r, char *err,
    size_t errlen)
{
	struct buf path = BUF_INIT, data = BUF_INIT;
	char type = 0, fatal = 0;

	while (privsep_get(ps, &type, &path, &data) == 0 && type != 'E') {
		if (type == 'F') {	/* read on to 'E': the stream stays in step */
			(void)snprintf(err, errlen, "%s", buf_cstr(&data));
			fatal = 1;
			continue;
		}
		if (type == 'K' || type == 'X')
			privsep_bundle_add(&r->keys, &path, &data, type == 'K');
		else if (type == 'S')
			privsep_bundle_add(&r->idents, &path, &data, 1);
		else if (type == 'I')
			privsep_bundle_add(&r->cidents, &path, &data, 1);
		else if (type == 'C' || type == 'c')
			privsep_bundle_add(&r->confs, &path, &data, type == 'C');
		else if (type == 'G' || type == 'g')
			privsep_bundle_add(&r->globs, &path, &data, type == 'G');
	}
	if (data.data != NULL)
		OPENSSL_cleanse(data.data, data.cap);
	OPENSSL_cleanse(ps->rbuf, PRIVSEP_RBUF);
	ps->rpos = ps->rlen = 0;
	buf_free(&path);
	buf_free(&data);
	return type == 'E' && fatal ? 'F' : type;
}

/* privsep_load - build a new snapshot through the reader */
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
	struct config *c = NULL;
	char type;

	memset(&r, 0, sizeof(r));
	r.ps = ps;
	if (ps->broken || privsep_write_all(ps->fd, "L", 1) != 0) {
		(void)snprintf(err, errlen, "key reader process is gone");
		return NULL;
	}
	type = privsep_receive(ps, &r, err, errlen);
	if (type == 'E')
		c = config_load_from(ps->conf_path, NULL, &src, 0, probs, err,
		    errlen);
	else if (type != 'F') {
		ps->broken = 1;
		(void)snprintf(err, errlen, "key reader process failed");
	}
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

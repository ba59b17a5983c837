/*
 * privsep_reader.c - the root key reader process: it parses the conf (a
 * source that records every file read and include pattern matched) and
 * answers the daemon's requests with records of the wire format that
 * privsep.c describes: 'A' the start's key files, 'L' a load (the conf
 * again, reusing what did not change since its own last parse), 'N' key
 * files' bytes, 'T' an included file's text.
 *
 * Threading: one thread serves the requests, one at a time; at start a
 * second, niced thread makes the first parse (privsep_pre_*), joined
 * before the first 'L'. The statics below are the serving thread's.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "auth/keys.h"
#include "base/log.h"
#include "daemon/privsep.h"
#include "daemon/privsep_wire.h"
#include "base/secret.h"
#include "base/xalloc.h"

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
 * An answer written while it is made, a chunk at a time: the daemon's
 * parse of a load follows the reader's a chunk behind instead of waiting
 * for the whole answer (some 20 MB at 100,000 domains).
 */
#define PRIVSEP_CHUNK (64u * 1024)
struct privsep_out {
	struct buf b;		/* what is not written yet */
	int fd;			/* to the daemon */
};

/* privsep_out_flush - write what o holds once it is min bytes or more (0: all of it), wiped after (secrets among it); the daemon gone: exit */
static void
privsep_out_flush(struct privsep_out *o, size_t min)
{
	if (o->b.len == 0 || o->b.len < min)
		return;
	if (privsep_write_all(o->fd, o->b.data, o->b.len) != 0)
		_exit(0);
	OPENSSL_cleanse(o->b.data, o->b.len);
	buf_reset(&o->b);
}

/* privsep_record_conf - the helper's read_conf: read as config_file_read does, and record it */
static int
privsep_record_conf(void *arg, const char *path, int included,
    struct buf *text, char *err, size_t errlen)
{
	struct privsep_out *o = arg;
	int rc = 0;

	if (config_file_read(path, included, text, err, errlen) != 0) {
		privsep_put(&o->b, 'c', path, err, strlen(err));
		rc = -1;
	} else
		privsep_put(&o->b, 'C', path, text->data ? text->data : "",
		    text->len);
	privsep_out_flush(o, PRIVSEP_CHUNK);
	return rc;
}

static void privsep_conf_ahead_start(const struct config_words *files);

/* privsep_record_glob - the helper's glob: list as config_file_glob does, and record it */
static int
privsep_record_glob(void *arg, const char *pattern,
    struct config_words *files, char *err, size_t errlen)
{
	struct privsep_out *o = arg;
	struct buf names = BUF_INIT;
	size_t i;

	if (config_file_glob(pattern, files, err, errlen) != 0) {
		privsep_put(&o->b, 'g', pattern, err, strlen(err));
		privsep_out_flush(o, PRIVSEP_CHUNK);
		return -1;
	}
	for (i = 0; i < files->n; i++)
		buf_append(&names, files->v[i], strlen(files->v[i]) + 1);
	privsep_put(&o->b, 'G', pattern, names.data ? names.data : "",
	    names.len);
	buf_free(&names);
	privsep_out_flush(o, PRIVSEP_CHUNK);
	privsep_conf_ahead_start(files);
	return 0;
}

/* The helper's last parse (no keys): the files it may send again, and
 * what the next parse reuses. */
static struct config *privsep_prev;

/*
 * Identities taken ahead of the parse that asks for them, by a thread
 * each (stat is a third of a reload's time at 100,000 files): the files
 * the last include pattern matched, and the key files of the last parse
 * (most of them the next parse's too).
 */
static struct keys_statahead *privsep_conf_ahead, *privsep_key_ahead;
static struct buf privsep_conf_names;	/* privsep_conf_ahead's paths */
static const char **privsep_conf_paths;
static const char **privsep_key_paths;	/* privsep_prev's strings */

/* privsep_ahead_end - stop both, forget their lists */
static void
privsep_ahead_end(void)
{
	keys_statahead_end(privsep_conf_ahead);
	keys_statahead_end(privsep_key_ahead);
	privsep_conf_ahead = privsep_key_ahead = NULL;
	buf_free(&privsep_conf_names);
	free(privsep_conf_paths);
	free(privsep_key_paths);
	privsep_conf_paths = privsep_key_paths = NULL;
}

/* privsep_conf_ahead_start - the identities of the files an include matched */
static void
privsep_conf_ahead_start(const struct config_words *files)
{
	size_t i, *off;

	keys_statahead_end(privsep_conf_ahead);
	buf_free(&privsep_conf_names);
	free(privsep_conf_paths);
	off = xcalloc(files->n + 1, sizeof(*off));
	for (i = 0; i < files->n; i++) {
		off[i] = privsep_conf_names.len;
		buf_append(&privsep_conf_names, files->v[i],
		    strlen(files->v[i]) + 1);
	}
	privsep_conf_paths = xcalloc(files->n + 1, sizeof(*privsep_conf_paths));
	for (i = 0; i < files->n; i++)
		privsep_conf_paths[i] = privsep_conf_names.data + off[i];
	free(off);
	privsep_conf_ahead = keys_statahead_start(privsep_conf_paths, files->n,
	    1, 0);
}

/* privsep_key_ahead_start - the identities of the key files of the last parse, in its order (privsep_put_keys's) */
static void
privsep_key_ahead_start(void)
{
	const struct config *c = privsep_prev;
	size_t i, j, n = 0;

	if (c == NULL)
		return;
	for (i = 0; i < c->ndomains; i++)
		n += c->domains[i].nkeys;
	privsep_key_paths = xcalloc(n + 1, sizeof(*privsep_key_paths));
	for (n = 0, i = 0; i < c->ndomains; i++)
		for (j = 0; j < c->domains[i].nkeys; j++)
			privsep_key_paths[n++] = c->domains[i].keys[j].path;
	/* niced: wanted only once the parse is over, it takes what the
	 * parses (the daemon's too) leave of the CPU */
	privsep_key_ahead = keys_statahead_start(privsep_key_paths, n,
	    (config_secret_flags(c) & SECRET_ALLOW_SYMLINK) != 0, 10);
}


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
	struct privsep_out *o = arg;

	if (keys_statahead_get(privsep_conf_ahead, path, 1, id) != 0)
		return -1;
	privsep_put_id(&o->b, 'I', path, id);
	privsep_out_flush(o, PRIVSEP_CHUNK);
	return 0;
}

/* privsep_put_keys - an 'S' record per key file c names (remembered as the files that may be asked for), the secrets' bytes */
static void
privsep_put_keys(struct privsep_out *o, const struct config *c)
{
	struct buf pem = BUF_INIT;
	struct key_ident id;
	size_t i, j;
	int flags = config_secret_flags(c),
	    follow = (flags & SECRET_ALLOW_SYMLINK) != 0;

	privsep_allowed_reset();
	privsep_allowed_flags = flags;
	for (i = 0; i < c->ndomains; i++) {
		/* none when stat fails: the daemon asks for the bytes,
		 * whose read says why */
		for (j = 0; j < c->domains[i].nkeys; j++)
			if (keys_statahead_get(privsep_key_ahead,
			    c->domains[i].keys[j].path, follow, &id) == 0)
				privsep_put_id(&o->b, 'S',
				    c->domains[i].keys[j].path, &id);
		privsep_out_flush(o, PRIVSEP_CHUNK);
	}
	for (i = 0; i < c->bounce_secret.n; i++) {
		privsep_put_file(&o->b, c->bounce_secret.v[i],
		    BOUNCE_SECRET_WHAT, BOUNCE_SECRET_FILE_MAX, flags, &pem);
		privsep_out_flush(o, PRIVSEP_CHUNK);
	}
	buf_free(&pem);
}

/* privsep_serve_conf - answer a 'T' request: an included file of the last parse, read again ('C' or 'c') */
static void
privsep_serve_conf(int fd)
{
	unsigned char h[4];
	uint32_t len;
	struct buf name = BUF_INIT, text = BUF_INIT;
	struct privsep_out o = { BUF_INIT, fd };
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
		privsep_put(&o.b, 'c', name.data, err, strlen(err));
	} else
		(void)privsep_record_conf(&o, name.data, 1, &text, err,
		    sizeof(err));
	privsep_put(&o.b, 'E', "", "", 0);
	privsep_out_flush(&o, 0);
	buf_free(&o.b);
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
 * fatal error gets none: the daemon's own parse fails the same way);
 * written a chunk at a time while the parse goes on
 */
static void
privsep_serve_one(int fd, const char *conf_path)
{
	struct privsep_out o = { BUF_INIT, fd };
	struct config_source src = { .read_conf = privsep_record_conf,
	    .glob = privsep_record_glob, .stat_conf = privsep_record_stat_conf,
	    .arg = &o, .prev = privsep_prev };
	struct config *c, *old = NULL;
	char err[1024];

	buf_reserve(&o.b, PRIVSEP_CHUNK + 4096);
	if (privsep_conf_trusted(conf_path, err, sizeof(err)) != 0) {
		privsep_put(&o.b, 'F', "", err, strlen(err));
	} else {
		privsep_key_ahead_start();
		/* its own last parse is its prev: unchanged files are not read */
		c = config_load_from(conf_path, NULL, &src, CONFIG_SKIP_KEYS, NULL,
		    err, sizeof(err));
		if (c != NULL) {
			privsep_put_keys(&o, c);
			old = privsep_prev;
			privsep_prev = c;
		}
	}
	privsep_put(&o.b, 'E', "", "", 0);
	privsep_out_flush(&o, 0);	/* wiped too: the bounce secrets */
	buf_free(&o.b);
	privsep_ahead_end();	/* before privsep_prev's strings go */
	config_free(old);	/* once the daemon has its answer */
	/* 100,000 blocks freed: give the pages back rather than keep the
	 * high-water mark of two parses for the helper's whole life */
	if (old != NULL)
		(void)malloc_trim(0);
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

/* privsep_reader_serve - the helper's loop */
void
privsep_reader_serve(int fd, const char *conf_path)
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
	privsep_reader_serve(PRIVSEP_READER_FD, conf_path);
	return 0;
}


/*
 * secret.c - the one reader of files that hold secrets (DKIM private keys,
 * bounce secrets), and the trusted-path opener under it.
 *
 * The opener is used for every file the daemon touches as root (conf, key
 * and secret files, pid file and socket directories): a path is walked from
 * "/" by directory descriptors, never by name again, and refused when a user
 * other than root could change what it leads to. The reader adds the rules
 * of a secret: a regular file, readable by nobody but its owner (or its
 * group when allowed), no larger than its caller says.
 *
 * Runs before privileges are dropped (daemon, privileged reader) or as the
 * operator (tools). Any thread may call it. Its one shared state is the
 * directory cache (under a mutex): between secret_cache_begin and
 * secret_cache_end (one load of the conf and its keys) the directories a
 * walk trusted are kept open, and a later walk starts from the deepest one
 * its path names, so 100,000 key files under one key_dir cost two
 * components each, not the whole path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/xalloc.h"

/* secret_who - "nobody (uid 65534)", for messages */
static void
secret_who(uid_t uid, char *out, size_t outlen)
{
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != NULL)
		(void)snprintf(out, outlen, "%s (uid %lu)", res->pw_name,
		    (unsigned long)uid);
	else
		(void)snprintf(out, outlen, "uid %lu", (unsigned long)uid);
}

/*
 * secret_trust - 0 when st, of name on subject's path, can be trusted: owned
 * by root (or by us when we are not root) and writable by nobody else,
 * except a root-owned sticky directory such as /tmp, where nobody can
 * rename or remove an entry of another owner; else -1 with err saying what
 * to do
 */
static int
secret_trust(const struct stat *st, const char *subject, const char *name,
    char *err, size_t errlen)
{
	const char *kind = S_ISDIR(st->st_mode) ? "directory " : "";
	uid_t me = st->st_uid != 0 ? geteuid() : 0;	/* root's: no syscall */
	char who[160];

	if (st->st_uid != 0 && st->st_uid != me) {
		secret_who(st->st_uid, who, sizeof(who));
		(void)snprintf(err, errlen, "%s: %s%s is owned by %s, not root%s: "
		    "chown root %s (another owner could steer what authmilter "
		    "reads or writes as root)", subject, kind, name, who,
		    me != 0 ? " or the user authmilter runs as" : "", name);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 && !(S_ISDIR(st->st_mode)
	    && (st->st_mode & S_ISVTX) != 0 && st->st_uid == 0)) {
		(void)snprintf(err, errlen, "%s: %s%s has mode %04o, writable by "
		    "%s: chmod go-w %s", subject, kind, name,
		    (unsigned)(st->st_mode & 07777),
		    (st->st_mode & S_IWOTH) ? "everyone" : "its group", name);
		return -1;
	}
	return 0;
}

#define SECRET_MAX_LINKS 32	/* symbolic links one walk follows */
#define SECRET_WALK_CREATE 0x100	/* a walk's flag: make a missing last directory */
#define SECRET_WALK_READ 0x200	/* a walk's flag: open the last component to read */

/* A path walked from "/" one component at a time, each directory trusted. */
struct secret_walk {
	const char *subject;	/* "key file /k/a.pem": starts every error; borrowed */
	int flags;		/* SECRET_ALLOW_SYMLINK, SECRET_WALK_* */
	int dfd;		/* the directory reached (O_PATH); owned unless cached */
	int cached;		/* the cache entry dfd is lent by, or -1 */
	int readable;		/* the walk's result was opened to read */
	struct buf at;		/* its path, for messages ("" for /) */
	struct buf rest;	/* what is left to walk */
	size_t pos;		/* where in rest */
	int links;		/* symbolic links followed */
	char name[NAME_MAX + 1];	/* the component taken last */
};

#define SECRET_CACHE_MAX 64	/* trusted directories kept during a load */

/* A directory trusted by a walk of this load. */
struct secret_cache_ent {
	char *path;		/* its path from "/", no trailing slash ("" for /) */
	size_t len;
	int fd;			/* O_PATH */
	unsigned long used;	/* the last walk that started from it */
	int refs;		/* walks standing on fd now: not evicted */
};

/*
 * Each thread's own: a load's walks run in one thread (or its helpers
 * begin their own), and a cache shared between two threads' loads let
 * the end of one close a directory the other's walk stood on (the key
 * reader serving keys while it parses the conf on a thread: EBADF).
 */
static __thread struct secret_cache_ent secret_cache[SECRET_CACHE_MAX];
static __thread size_t secret_cache_n;		/* entries in use */
static __thread int secret_cache_depth;		/* begin calls not ended */
static __thread unsigned long secret_cache_clock;	/* walks */

/* secret_cache_begin - keep trusted directories from now on (nests) */
void
secret_cache_begin(void)
{
	secret_cache_depth++;
}

/* secret_cache_end - the load is over: forget them all (at the outermost end) */
void
secret_cache_end(void)
{
	size_t i;

	if (secret_cache_depth > 0 && --secret_cache_depth == 0) {
		for (i = 0; i < secret_cache_n; i++) {
			close(secret_cache[i].fd);
			free(secret_cache[i].path);
		}
		secret_cache_n = 0;
	}
}

/*
 * secret_cache_find - the fd of the deepest cached directory path is under,
 * lent (secret_cache_release(*idx) gives it back: no dup, no close), its
 * path length in *len; -1 if none
 */
static int
secret_cache_find(const char *path, size_t *len, int *idx)
{
	struct secret_cache_ent *best = NULL, *e;
	size_t i;
	int fd = -1;

	for (i = 0; secret_cache_depth > 0 && i < secret_cache_n; i++) {
		e = &secret_cache[i];
		if ((best == NULL || e->len > best->len)
		    && strncmp(path, e->path, e->len) == 0 && path[e->len] == '/')
			best = e;
	}
	if (best != NULL) {
		fd = best->fd;
		best->refs++;
		best->used = ++secret_cache_clock;
		*len = best->len;
		*idx = (int)(best - secret_cache);
	}
	return fd;
}

/*
 * secret_cache_keep - let the cache own fd, the trusted directory under
 * path, lent at once to the walk that opened it; its index, or -1 when the
 * cache is off, holds path already or has no entry free (the caller still
 * owns fd). Evicts the least used entry no walk stands on.
 */
static int
secret_cache_keep(const char *path, int fd)
{
	struct secret_cache_ent *e = NULL;
	size_t i, len = strlen(path);
	int idx = -1;

	for (i = 0; secret_cache_depth > 0 && i < secret_cache_n; i++)
		if (secret_cache[i].len == len
		    && memcmp(secret_cache[i].path, path, len) == 0)
			goto out;
	if (secret_cache_depth == 0)
		goto out;
	if (secret_cache_n < SECRET_CACHE_MAX)
		e = &secret_cache[secret_cache_n++];
	else {
		for (i = 0; i < secret_cache_n; i++)
			if (secret_cache[i].refs == 0 && (e == NULL
			    || secret_cache[i].used < e->used))
				e = &secret_cache[i];
		if (e == NULL)
			goto out;
		close(e->fd);
		free(e->path);
	}
	e->path = xstrdup(path);
	e->len = len;
	e->fd = fd;
	e->refs = 1;
	e->used = ++secret_cache_clock;
	idx = (int)(e - secret_cache);
out:
	return idx;
}

/* secret_cache_release - a walk no longer stands on the entry idx */
static void
secret_cache_release(int idx)
{
	secret_cache[idx].refs--;
}

/* secret_walk_leave - let go of the directory reached (closed, or given back to the cache) */
static void
secret_walk_leave(struct secret_walk *w)
{
	if (w->dfd >= 0 && w->cached >= 0)
		secret_cache_release(w->cached);
	else if (w->dfd >= 0)
		close(w->dfd);
	w->dfd = -1;
	w->cached = -1;
}

/* secret_walk_root - start again at "/" */
static int
secret_walk_root(struct secret_walk *w, char *err, size_t errlen)
{
	struct stat st;
	char eb[128];

	secret_walk_leave(w);
	buf_reset(&w->at);
	w->dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->dfd < 0 || fstat(w->dfd, &st) != 0) {
		(void)snprintf(err, errlen, "cannot open %s: /: %s", w->subject,
		    log_errstr(errno, eb, sizeof(eb)));
		return -1;
	}
	return secret_trust(&st, w->subject, "/", err, errlen);
}

/* secret_walk_begin - set up a walk of path (relative: from the working directory) */
static int
secret_walk_begin(struct secret_walk *w, const char *path, const char *subject,
    int flags, char *err, size_t errlen)
{
	char cwd[PATH_MAX], eb[128];
	size_t len;

	memset(w, 0, sizeof(*w));
	w->subject = subject;
	w->flags = flags;
	w->dfd = -1;
	w->cached = -1;
	if (path[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			(void)snprintf(err, errlen, "cannot open %s: working "
			    "directory: %s", subject, log_errstr(errno, eb,
			    sizeof(eb)));
			return -1;
		}
		buf_puts(&w->rest, cwd);
		buf_putc(&w->rest, '/');
	}
	buf_puts(&w->rest, path);
	/* from the deepest directory of this load already trusted, if any */
	if ((w->dfd = secret_cache_find(buf_cstr(&w->rest), &len,
	    &w->cached)) >= 0) {
		buf_append(&w->at, buf_cstr(&w->rest), len);
		w->pos = len;
		return 0;
	}
	return secret_walk_root(w, err, errlen);
}

/* secret_walk_end - release a walk */
static void
secret_walk_end(struct secret_walk *w)
{
	secret_walk_leave(w);
	buf_free(&w->at);
	buf_free(&w->rest);
}

/*
 * secret_walk_take - the next component into w->name, skipping "" and ".";
 * 0 (*last set when nothing follows), -1 when none is left, -2 when too long
 */
static int
secret_walk_take(struct secret_walk *w, int *last)
{
	const char *p = buf_cstr(&w->rest) + w->pos, *e;

	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return -1;
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) >= sizeof(w->name))
			return -2;
		memcpy(w->name, p, (size_t)(e - p));
		w->name[e - p] = '\0';
		p = e;
		if (strcmp(w->name, ".") != 0)
			break;
	}
	w->pos = (size_t)(p - buf_cstr(&w->rest));
	while (*p == '/' || (p[0] == '.' && (p[1] == '/' || p[1] == '\0')))
		p++;
	*last = *p == '\0';
	return 0;
}

/* secret_walk_link - go on along the target of the symbolic link lfd */
static int
secret_walk_link(struct secret_walk *w, int lfd, char *err, size_t errlen)
{
	struct buf next = BUF_INIT;
	char target[PATH_MAX], eb[128];
	ssize_t n;

	n = readlinkat(lfd, "", target, sizeof(target) - 1);
	if (n <= 0 || (size_t)n >= sizeof(target) - 1
	    || ++w->links > SECRET_MAX_LINKS) {
		(void)snprintf(err, errlen, "cannot open %s: %s/%s: %s",
		    w->subject, buf_cstr(&w->at), w->name, n < 0 ?
		    log_errstr(errno, eb, sizeof(eb)) : "bad or too many "
		    "symbolic links");
		return -1;
	}
	target[n] = '\0';
	buf_puts(&next, target);
	buf_putc(&next, '/');
	buf_puts(&next, buf_cstr(&w->rest) + w->pos);
	buf_free(&w->rest);
	w->rest = next;
	w->pos = 0;
	/* the link sits in a trusted directory: nobody else can retarget it */
	return target[0] == '/' ? secret_walk_root(w, err, errlen) : 0;
}

/*
 * secret_walk_open - open the component taken (O_PATH, no link followed),
 * making a missing last directory if asked. With SECRET_WALK_READ the last
 * one is opened to read at once (w->readable), which saves an open, a
 * stat and a close a file (100,000 included files and as many keys at a
 * start): a symbolic link (ELOOP) or anything else refused falls back to
 * O_PATH. Nothing opened this way can act on the open: O_NONBLOCK, and
 * the directory is trusted, so only root could have put a device there.
 */
static int
secret_walk_open(struct secret_walk *w, int last, struct stat *st)
{
	int fd;

	if (last && (w->flags & SECRET_WALK_READ)) {
		fd = openat(w->dfd, w->name, O_RDONLY | O_NOFOLLOW | O_NOCTTY
		    | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, st) == 0) {
			w->readable = 1;
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	fd = openat(w->dfd, w->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && last && (w->flags & SECRET_WALK_CREATE)
	    && (mkdirat(w->dfd, w->name, 0755) == 0 || errno == EEXIST))
		fd = openat(w->dfd, w->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, st) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* secret_walk_enter - make fd, the trusted directory w->name, the one reached (and cached) */
static void
secret_walk_enter(struct secret_walk *w, int fd)
{
	char *slash;

	secret_walk_leave(w);
	w->dfd = fd;
	if (strcmp(w->name, "..") != 0) {
		buf_putc(&w->at, '/');
		buf_puts(&w->at, w->name);
	} else if ((slash = strrchr(buf_cstr(&w->at), '/')) != NULL) {
		w->at.len = (size_t)(slash - w->at.data);	/* "/a/b/.." is "/a" */
		w->at.data[w->at.len] = '\0';
	}
	w->cached = secret_cache_keep(buf_cstr(&w->at), fd);
}

/*
 * secret_walk_run - walk what is left; the O_PATH fd of the last component
 * (its stat in *st, its directory w->dfd, its name w->name), or -1 with err
 */
static int
secret_walk_run(struct secret_walk *w, struct stat *st, char *err, size_t errlen)
{
	char path[PATH_MAX + NAME_MAX + 2], eb[128];
	int fd, last, rc;

	while ((rc = secret_walk_take(w, &last)) == 0) {
		(void)snprintf(path, sizeof(path), "%s/%s", buf_cstr(&w->at),
		    w->name);
		if ((fd = secret_walk_open(w, last, st)) < 0) {
			(void)snprintf(err, errlen, "cannot open %s: %s: %s",
			    w->subject, path, log_errstr(errno, eb, sizeof(eb)));
			return -1;
		}
		if (S_ISLNK(st->st_mode) && (!last
		    || (w->flags & SECRET_ALLOW_SYMLINK))) {
			rc = secret_walk_link(w, fd, err, errlen);
			close(fd);
			if (rc != 0)
				return -1;
			continue;
		}
		if (last)
			return fd;
		if (!S_ISDIR(st->st_mode) || secret_trust(st, w->subject, path,
		    err, errlen) != 0) {
			if (!S_ISDIR(st->st_mode))
				(void)snprintf(err, errlen, "cannot open %s: %s is "
				    "not a directory", w->subject, path);
			close(fd);
			return -1;
		}
		secret_walk_enter(w, fd);
	}
	(void)snprintf(err, errlen, "cannot open %s: %s", w->subject, rc == -2 ?
	    "a path component is too long" : "the path names no file");
	return -1;
}

/* secret_open_trusted - open a file whose every directory and owner are trusted */
int
secret_open_trusted(const char *path, int flags, const char *subject,
    struct stat *st, char *err, size_t errlen)
{
	char real[PATH_MAX + NAME_MAX + 2], eb[128];
	struct secret_walk w;
	struct stat rst;
	int fd = -1;

	if (secret_walk_begin(&w, path, subject, (flags & SECRET_ALLOW_SYMLINK)
	    | SECRET_WALK_READ, err, errlen) != 0
	    || (fd = secret_walk_run(&w, st, err, errlen)) < 0)
		goto fail;
	if (w.readable) {	/* opened to read by the walk: not a link */
		(void)snprintf(real, sizeof(real), "%s/%s", buf_cstr(&w.at),
		    w.name);
		if (!S_ISREG(st->st_mode))
			(void)snprintf(err, errlen, "%s is not a regular file",
			    subject);
		else if (secret_trust(st, subject, real, err, errlen) == 0)
			goto done;
		close(fd);
		fd = -1;
		goto fail;
	}
	close(fd);
	fd = -1;
	if (S_ISLNK(st->st_mode)) {
		(void)snprintf(err, errlen, "%s is a symbolic link: name the file "
		    "it points to (or set key_symlinks = allow)", subject);
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		(void)snprintf(err, errlen, "%s is not a regular file", subject);
		goto fail;
	}
	(void)snprintf(real, sizeof(real), "%s/%s", buf_cstr(&w.at), w.name);
	if (secret_trust(st, subject, real, err, errlen) != 0)
		goto fail;
	fd = openat(w.dfd, w.name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK
	    | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &rst) != 0 || rst.st_dev != st->st_dev
	    || rst.st_ino != st->st_ino) {
		(void)snprintf(err, errlen, "cannot open %s: %s", subject, fd < 0 ?
		    log_errstr(errno, eb, sizeof(eb)) : "it changed while opened");
		if (fd >= 0)
			close(fd);
		fd = -1;
		goto fail;
	}
	*st = rst;
	goto done;
fail:
	fd = -1;
done:
	secret_walk_end(&w);
	return fd;
}

/* secret_open_trusted_dir - open (or make) a directory whose path is trusted */
int
secret_open_trusted_dir(const char *path, int create, const char *subject,
    char *err, size_t errlen)
{
	char real[PATH_MAX + NAME_MAX + 2];
	struct secret_walk w;
	struct stat st;
	int fd = -1;

	if (secret_walk_begin(&w, path, subject, SECRET_ALLOW_SYMLINK
	    | (create ? SECRET_WALK_CREATE : 0), err, errlen) != 0)
		goto fail;
	if (buf_cstr(&w.rest)[strspn(buf_cstr(&w.rest), "/.")] == '\0') {
		fd = fcntl(w.dfd, F_DUPFD_CLOEXEC, 0);	/* "/" itself: checked */
		secret_walk_end(&w);
		return fd;
	}
	if ((fd = secret_walk_run(&w, &st, err, errlen)) < 0)
		goto fail;
	(void)snprintf(real, sizeof(real), "%s/%s", buf_cstr(&w.at), w.name);
	if (!S_ISDIR(st.st_mode)) {
		(void)snprintf(err, errlen, "%s: %s is not a directory", subject,
		    real);
		goto fail;
	}
	if (secret_trust(&st, subject, real, err, errlen) != 0)
		goto fail;
	secret_walk_end(&w);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	secret_walk_end(&w);
	return -1;
}

/* secret_open_checked - open a secret file through trusted directories and vet its mode and size */
static int
secret_open_checked(const char *path, const char *what, size_t max, int flags,
    char *err, size_t errlen)
{
	char subject[PATH_MAX + 32];
	struct stat st;
	int fd;

	(void)snprintf(subject, sizeof(subject), "%s %s", what, path);
	fd = secret_open_trusted(path, flags, subject, &st, err, errlen);
	if (fd < 0)
		return -1;
	if ((st.st_mode & S_IRWXO) != 0
	    || (!(flags & SECRET_ALLOW_GROUP) && (st.st_mode & S_IRWXG) != 0)) {
		(void)snprintf(err, errlen, "%s has mode %04o: a secret must not "
		    "be readable by %s (chmod 600%s)", subject,
		    (unsigned)(st.st_mode & 07777),
		    (st.st_mode & S_IRWXO) ? "others" : "its group",
		    (flags & SECRET_ALLOW_GROUP) ? ", or 640" : "");
		close(fd);
		return -1;
	}
	if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
		(void)snprintf(err, errlen, "%s is larger than %zu bytes", subject,
		    max);
		close(fd);
		return -1;
	}
	return fd;
}

/* secret_read - the permission-checked bytes of a secret file, in one allocation */
int
secret_read(const char *path, const char *what, size_t max, int flags,
    struct buf *out, char *err, size_t errlen)
{
	char ebuf[128];
	size_t want;
	ssize_t n = 0;
	int fd;

	/* what out held: bytes past its length were wiped when they were its
	 * length (every user of a secret wipes its length, not its capacity:
	 * 64 KB a key is 6% of a 100,000-key load) */
	if (out->data != NULL)
		OPENSSL_cleanse(out->data, out->len);
	buf_reset(out);
	if ((fd = secret_open_checked(path, what, max, flags, err, errlen)) < 0)
		return -1;
	/* One allocation up front: no stale copy of the secret is left behind. */
	buf_reserve(out, max + 1);
	for (;;) {
		want = max + 1 - out->len;
		n = read(fd, out->data + out->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		/* a short read of a regular file is its end: no read for 0 */
		if (n <= 0 || (out->len += (size_t)n) > max || (size_t)n < want)
			break;
	}
	close(fd);
	if (n < 0 || out->len > max) {
		(void)snprintf(err, errlen, "cannot read %s %s: %s", what, path,
		    n < 0 ? log_errstr(errno, ebuf, sizeof(ebuf)) : "too large");
		OPENSSL_cleanse(out->data, out->cap);
		buf_reset(out);
		return -1;
	}
	out->data[out->len] = '\0';
	return 0;
}

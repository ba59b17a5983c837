/*
 * keys.c - load DKIM private keys from PEM files and describe them.
 *
 * Runs while a configuration snapshot is built, as root, before privileges
 * are dropped. The loaded EVP_PKEY is read-only afterwards and may be used
 * by any number of signing threads.
 *
 * Also the one reader for key and secret bytes (keys_read_pem) and the
 * trusted-path opener under it, which the daemon uses for every file it
 * touches as root (conf, pid file and socket directories): a path is walked
 * from "/" by directory descriptors, never by name again, and refused when
 * a user other than root could change what it leads to.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "keys.h"
#include "log.h"
#include "xalloc.h"

/* keys_ssl_error - the most recent OpenSSL error as text */
static void
keys_ssl_error(char *out, size_t outlen)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(out, outlen, "not a PEM private key");
	else
		ERR_error_string_n(e, out, outlen);
	ERR_clear_error();
}

/* keys_who - "nobody (uid 65534)", for messages */
static void
keys_who(uid_t uid, char *out, size_t outlen)
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
 * keys_trust - 0 when st, of name on subject's path, can be trusted: owned
 * by root (or by us when we are not root) and writable by nobody else,
 * except a root-owned sticky directory such as /tmp, where nobody can
 * rename or remove an entry of another owner; else -1 with err saying what
 * to do
 */
static int
keys_trust(const struct stat *st, const char *subject, const char *name,
    char *err, size_t errlen)
{
	const char *kind = S_ISDIR(st->st_mode) ? "directory " : "";
	uid_t me = geteuid();
	char who[160];

	if (st->st_uid != 0 && st->st_uid != me) {
		keys_who(st->st_uid, who, sizeof(who));
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

#define KEYS_MAX_LINKS 32	/* symbolic links one walk follows */
#define KEYS_WALK_CREATE 0x100	/* a walk's flag: make a missing last directory */

/* A path walked from "/" one component at a time, each directory trusted. */
struct keys_walk {
	const char *subject;	/* "key file /k/a.pem": starts every error; borrowed */
	int flags;		/* KEYS_ALLOW_SYMLINK, KEYS_WALK_CREATE */
	int dfd;		/* the directory reached (O_PATH); owned */
	struct buf at;		/* its path, for messages ("" for /) */
	struct buf rest;	/* what is left to walk */
	size_t pos;		/* where in rest */
	int links;		/* symbolic links followed */
	char name[NAME_MAX + 1];	/* the component taken last */
};

/* keys_walk_root - start again at "/" */
static int
keys_walk_root(struct keys_walk *w, char *err, size_t errlen)
{
	struct stat st;
	char eb[128];

	if (w->dfd >= 0)
		close(w->dfd);
	buf_reset(&w->at);
	w->dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->dfd < 0 || fstat(w->dfd, &st) != 0) {
		(void)snprintf(err, errlen, "cannot open %s: /: %s", w->subject,
		    log_errstr(errno, eb, sizeof(eb)));
		return -1;
	}
	return keys_trust(&st, w->subject, "/", err, errlen);
}

/* keys_walk_begin - set up a walk of path (relative: from the working directory) */
static int
keys_walk_begin(struct keys_walk *w, const char *path, const char *subject,
    int flags, char *err, size_t errlen)
{
	char cwd[PATH_MAX], eb[128];

	memset(w, 0, sizeof(*w));
	w->subject = subject;
	w->flags = flags;
	w->dfd = -1;
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
	return keys_walk_root(w, err, errlen);
}

/* keys_walk_end - release a walk */
static void
keys_walk_end(struct keys_walk *w)
{
	if (w->dfd >= 0)
		close(w->dfd);
	w->dfd = -1;
	buf_free(&w->at);
	buf_free(&w->rest);
}

/*
 * keys_walk_take - the next component into w->name, skipping "" and ".";
 * 0 (*last set when nothing follows), -1 when none is left, -2 when too long
 */
static int
keys_walk_take(struct keys_walk *w, int *last)
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

/* keys_walk_link - go on along the target of the symbolic link lfd */
static int
keys_walk_link(struct keys_walk *w, int lfd, char *err, size_t errlen)
{
	struct buf next = BUF_INIT;
	char target[PATH_MAX], eb[128];
	ssize_t n;

	n = readlinkat(lfd, "", target, sizeof(target) - 1);
	if (n <= 0 || (size_t)n >= sizeof(target) - 1
	    || ++w->links > KEYS_MAX_LINKS) {
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
	return target[0] == '/' ? keys_walk_root(w, err, errlen) : 0;
}

/* keys_walk_open - open the component taken (O_PATH, no link followed), making a missing last directory if asked */
static int
keys_walk_open(struct keys_walk *w, int last, struct stat *st)
{
	int fd;

	fd = openat(w->dfd, w->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && last && (w->flags & KEYS_WALK_CREATE)
	    && (mkdirat(w->dfd, w->name, 0755) == 0 || errno == EEXIST))
		fd = openat(w->dfd, w->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, st) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* keys_walk_enter - make fd, the directory w->name, the one reached */
static void
keys_walk_enter(struct keys_walk *w, int fd)
{
	char *slash;

	close(w->dfd);
	w->dfd = fd;
	if (strcmp(w->name, "..") != 0) {
		buf_putc(&w->at, '/');
		buf_puts(&w->at, w->name);
	} else if ((slash = strrchr(buf_cstr(&w->at), '/')) != NULL) {
		w->at.len = (size_t)(slash - w->at.data);	/* "/a/b/.." is "/a" */
		w->at.data[w->at.len] = '\0';
	}
}

/*
 * keys_walk_run - walk what is left; the O_PATH fd of the last component
 * (its stat in *st, its directory w->dfd, its name w->name), or -1 with err
 */
static int
keys_walk_run(struct keys_walk *w, struct stat *st, char *err, size_t errlen)
{
	char path[PATH_MAX + NAME_MAX + 2], eb[128];
	int fd, last, rc;

	while ((rc = keys_walk_take(w, &last)) == 0) {
		(void)snprintf(path, sizeof(path), "%s/%s", buf_cstr(&w->at),
		    w->name);
		if ((fd = keys_walk_open(w, last, st)) < 0) {
			(void)snprintf(err, errlen, "cannot open %s: %s: %s",
			    w->subject, path, log_errstr(errno, eb, sizeof(eb)));
			return -1;
		}
		if (S_ISLNK(st->st_mode) && (!last
		    || (w->flags & KEYS_ALLOW_SYMLINK))) {
			rc = keys_walk_link(w, fd, err, errlen);
			close(fd);
			if (rc != 0)
				return -1;
			continue;
		}
		if (last)
			return fd;
		if (!S_ISDIR(st->st_mode) || keys_trust(st, w->subject, path,
		    err, errlen) != 0) {
			if (!S_ISDIR(st->st_mode))
				(void)snprintf(err, errlen, "cannot open %s: %s is "
				    "not a directory", w->subject, path);
			close(fd);
			return -1;
		}
		keys_walk_enter(w, fd);
	}
	(void)snprintf(err, errlen, "cannot open %s: %s", w->subject, rc == -2 ?
	    "a path component is too long" : "the path names no file");
	return -1;
}

/* keys_open_trusted - open a file whose every directory and owner are trusted */
int
keys_open_trusted(const char *path, int flags, const char *subject,
    struct stat *st, char *err, size_t errlen)
{
	char real[PATH_MAX + NAME_MAX + 2], eb[128];
	struct keys_walk w;
	struct stat rst;
	int fd = -1;

	if (keys_walk_begin(&w, path, subject, flags & KEYS_ALLOW_SYMLINK, err,
	    errlen) != 0 || (fd = keys_walk_run(&w, st, err, errlen)) < 0)
		goto fail;
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
	if (keys_trust(st, subject, real, err, errlen) != 0)
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
fail:
	keys_walk_end(&w);
	return fd;
}

/* keys_open_trusted_dir - open (or make) a directory whose path is trusted */
int
keys_open_trusted_dir(const char *path, int create, const char *subject,
    char *err, size_t errlen)
{
	char real[PATH_MAX + NAME_MAX + 2];
	struct keys_walk w;
	struct stat st;
	int fd = -1;

	if (keys_walk_begin(&w, path, subject, KEYS_ALLOW_SYMLINK
	    | (create ? KEYS_WALK_CREATE : 0), err, errlen) != 0)
		goto fail;
	if (buf_cstr(&w.rest)[strspn(buf_cstr(&w.rest), "/.")] == '\0') {
		fd = fcntl(w.dfd, F_DUPFD_CLOEXEC, 0);	/* "/" itself: checked */
		keys_walk_end(&w);
		return fd;
	}
	if ((fd = keys_walk_run(&w, &st, err, errlen)) < 0)
		goto fail;
	(void)snprintf(real, sizeof(real), "%s/%s", buf_cstr(&w.at), w.name);
	if (!S_ISDIR(st.st_mode)) {
		(void)snprintf(err, errlen, "%s: %s is not a directory", subject,
		    real);
		goto fail;
	}
	if (keys_trust(&st, subject, real, err, errlen) != 0)
		goto fail;
	keys_walk_end(&w);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	keys_walk_end(&w);
	return -1;
}

/* keys_open_checked - open a key file through trusted directories and vet its type and permissions */
static int
keys_open_checked(const char *path, int flags, char *err, size_t errlen)
{
	char subject[PATH_MAX + 16];
	struct stat st;
	int fd;

	(void)snprintf(subject, sizeof(subject), "key file %s", path);
	fd = keys_open_trusted(path, flags, subject, &st, err, errlen);
	if (fd < 0)
		return -1;
	if ((st.st_mode & S_IRWXO) != 0
	    || (!(flags & KEYS_ALLOW_GROUP) && (st.st_mode & S_IRWXG) != 0)) {
		snprintf(err, errlen, "key file %s has mode %04o: a private key "
		    "must not be readable by %s (chmod 600%s)", path,
		    (unsigned)(st.st_mode & 07777),
		    (st.st_mode & S_IRWXO) ? "others" : "its group",
		    (flags & KEYS_ALLOW_GROUP) ? ", or 640" : "");
		close(fd);
		return -1;
	}
	if (st.st_size > KEYS_MAX_PEM) {
		snprintf(err, errlen, "key file %s is larger than %d bytes", path,
		    KEYS_MAX_PEM);
		close(fd);
		return -1;
	}
	return fd;
}

/* keys_read_pem - read a key file's bytes after the permission checks */
int
keys_read_pem(const char *path, int flags, struct buf *pem, char *err,
    size_t errlen)
{
	char chunk[4096], ebuf[128];
	ssize_t n;
	int fd;

	fd = keys_open_checked(path, flags, err, errlen);
	if (fd < 0)
		return -1;
	buf_reset(pem);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || pem->len + (size_t)n > KEYS_MAX_PEM) {
			snprintf(err, errlen, "cannot read key file %s: %s", path,
			    n < 0 ? log_errstr(errno, ebuf, sizeof(ebuf)) : "too large");
			close(fd);
			return -1;
		}
		buf_append(pem, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

/* keys_parse_pem - turn PEM bytes into k->pkey, k->type, k->bits */
int
keys_parse_pem(struct key *k, const char *pem, size_t len, char *err,
    size_t errlen)
{
	char ebuf[256];
	EVP_PKEY *pkey;
	BIO *bio;
	int id;

	bio = BIO_new_mem_buf(pem, (int)len);
	pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (pkey == NULL) {
		keys_ssl_error(ebuf, sizeof(ebuf));
		snprintf(err, errlen, "cannot load key file %s: %s", k->path, ebuf);
		return -1;
	}
	id = EVP_PKEY_get_base_id(pkey);
	if (id == EVP_PKEY_RSA) {
		k->type = KEY_RSA;
		k->bits = EVP_PKEY_get_bits(pkey);
		if (k->bits < 1024) {
			snprintf(err, errlen, "key file %s: RSA key of %d bits is "
			    "too short (RFC 8301: at least 1024)", k->path, k->bits);
			EVP_PKEY_free(pkey);
			return -1;
		}
	} else if (id == EVP_PKEY_ED25519) {
		k->type = KEY_ED25519;
		k->bits = 256;
	} else {
		snprintf(err, errlen, "key file %s: neither an RSA nor an "
		    "Ed25519 key", k->path);
		EVP_PKEY_free(pkey);
		return -1;
	}
	k->pkey = pkey;
	return 0;
}

/* keys_load_file - read and vet one PEM private key */
int
keys_load_file(struct key *k, int flags, char *err, size_t errlen)
{
	struct buf pem = BUF_INIT;
	int rc;

	rc = keys_read_pem(k->path, flags, &pem, err, errlen);
	if (rc == 0)
		rc = keys_parse_pem(k, buf_cstr(&pem), pem.len, err, errlen);
	OPENSSL_cleanse(pem.data, pem.cap);
	buf_free(&pem);
	return rc;
}

/* keys_free - release a key's fields */
void
keys_free(struct key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->selector);
	free(k->path);
	k->pkey = NULL;
	k->selector = NULL;
	k->path = NULL;
}

/* keys_type_name - "rsa" or "ed25519" */
const char *
keys_type_name(enum key_type t)
{
	return t == KEY_ED25519 ? "ed25519" : "rsa";
}

/* keys_b64 - base64 of a byte string, malloc'd */
static char *
keys_b64(const unsigned char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* keys_public_b64 - the p= value for a key's DNS record */
char *
keys_public_b64(EVP_PKEY *pkey)
{
	unsigned char raw[64], *der = NULL;
	size_t rawlen = sizeof(raw);
	char *out;
	int n;

	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1)
			return NULL;
		return keys_b64(raw, rawlen);
	}
	n = i2d_PUBKEY(pkey, &der);
	if (n <= 0)
		return NULL;
	out = keys_b64(der, (size_t)n);
	OPENSSL_free(der);
	return out;
}


static const char *const keys_pub_names[] = {
	"unchecked", "published", "missing", "truncated", "mismatched",
	"revoked", "unknown",
};

/* keys_pub_name - name of a publication state */
const char *
keys_pub_name(enum key_pub p)
{
	return (unsigned)p < sizeof(keys_pub_names) / sizeof(keys_pub_names[0]) ?
	    keys_pub_names[p] : "?";
}

/* keys_pub_get - the publication state */
enum key_pub
keys_pub_get(const struct key *k)
{
	return (enum key_pub)__atomic_load_n(&k->pub, __ATOMIC_RELAXED);
}

/* keys_pub_set - record a check result; UNKNOWN keeps a definite state */
void
keys_pub_set(struct key *k, enum key_pub p)
{
	if (p == KEY_PUB_UNKNOWN && keys_pub_get(k) != KEY_PUB_UNCHECKED)
		return;
	__atomic_store_n(&k->pub, (int)p, __ATOMIC_RELAXED);
}

/* keys_in_window - is now within the key's not_before/not_after? */
static int
keys_in_window(const struct key *k, time_t now)
{
	return (k->not_before == 0 || now >= k->not_before)
	    && (k->not_after == 0 || now < k->not_after);
}

/* keys_select - the key to sign with */
const struct key *
keys_select(const struct key *keys, size_t n, enum key_type t, time_t now,
    int unpublished_sign, char *why, size_t whylen)
{
	const struct key *first = NULL;
	size_t i, used = 0;
	enum key_pub p;
	int w;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	for (i = 0; i < n; i++) {
		if (keys[i].type != t || keys[i].pkey == NULL
		    || !keys_in_window(&keys[i], now))
			continue;
		if (first == NULL)
			first = &keys[i];
		p = keys_pub_get(&keys[i]);
		if (p == KEY_PUB_PUBLISHED || p == KEY_PUB_UNCHECKED
		    || p == KEY_PUB_UNKNOWN)
			return &keys[i];
		if (why != NULL && used < whylen) {
			w = snprintf(why + used, whylen - used, "%sselector %s "
			    "skipped: record %s", used ? "; " : "",
			    keys[i].selector, keys_pub_name(p));
			if (w > 0)
				used += (size_t)w < whylen - used ? (size_t)w : whylen - used - 1;
		}
	}
	return unpublished_sign ? first : NULL;
}

/* keys_parse_time - ISO date or date-time, UTC */
time_t
keys_parse_time(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL)
		return -1;
	if (*end == 'T' || *end == ' ') {
		const char *e2 = strptime(end + 1, "%H:%M", &tm);

		if (e2 == NULL)
			return -1;
		end = e2;
		if (*end == ':' && (end = strptime(end + 1, "%S", &tm)) == NULL)
			return -1;
		if (*end == 'Z')
			end++;
	}
	if (*end != '\0' || tm.tm_year < 70)
		return -1;
	return timegm(&tm);
}

/*
 * keystate.c - read and write the key states file (format: keystate.h).
 *
 * Runs in the key checker thread only; owns nothing between calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "policy/keystate.h"

#define KEYSTATE_MAGIC "authmilter-keystates 1"

/* One line of the file, its words pointing into the file's text. */
struct keystate_entry {
	const char *domain;
	const char *selector;
	const char *fp;
	enum key_pub state;
};

/* keystate_fingerprint - hex of the first 16 bytes of SHA-256(SPKI) */
int
keystate_fingerprint(const struct key *k, char out[33])
{
	unsigned char md[32];
	unsigned int i;

	if (k->pkey == NULL || keys_digests(k->pkey, md, NULL) != 0)
		return -1;
	for (i = 0; i < 16; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* keystate_definite - is p a state worth keeping (a DNS verdict)? */
static int
keystate_definite(enum key_pub p)
{
	return p != KEY_PUB_UNCHECKED && p != KEY_PUB_UNKNOWN;
}

/* keystate_path - dir/name into out; 0, or -1 with err if it does not fit */
static int
keystate_path(char *out, size_t outlen, const char *dir, const char *name,
    char *err, size_t errlen)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen) {
		(void)snprintf(err, errlen, "state_dir %s: path too long", dir);
		return -1;
	}
	return 0;
}

/* keystate_text - the file's lines for c's definite states into out; how many keys */
static long
keystate_text(const struct config *c, struct buf *out)
{
	const struct key *k;
	enum key_pub p;
	char fp[33];
	long n = 0;
	size_t i, j;

	buf_puts(out, KEYSTATE_MAGIC "\n");
	for (i = 0; i < c->ndomains; i++) {
		for (j = 0; j < c->domains[i].nkeys; j++) {
			k = &c->domains[i].keys[j];
			p = keys_pub_get(k);
			if (!keystate_definite(p) || keystate_fingerprint(k, fp) != 0)
				continue;
			buf_printf(out, "%s %s %s %s\n", c->domains[i].name,
			    k->selector, fp, keys_pub_name(p));
			n++;
		}
	}
	buf_printf(out, "end %ld\n", n);
	return n;
}

/* keystate_save - write the definite states atomically */
long
keystate_save(const struct config *c, const char *dir, char *err,
    size_t errlen)
{
	char path[4096], tmp[4096], eb[128];
	struct buf text = BUF_INIT;
	long n = -1;
	int fd = -1, saved = 0;

	if (keystate_path(path, sizeof(path), dir, KEYSTATE_FILE, err, errlen) != 0
	    || keystate_path(tmp, sizeof(tmp), dir, KEYSTATE_FILE ".tmp", err,
	    errlen) != 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd < 0) {
		(void)snprintf(err, errlen, "cannot write %s: %s", tmp,
		    log_errstr(errno, eb, sizeof(eb)));
		goto out;
	}
	n = keystate_text(c, &text);
	errno = 0;	/* a short write sets none */
	if (write(fd, text.data, text.len) != (ssize_t)text.len || fsync(fd) != 0)
		saved = errno != 0 ? errno : EIO;
	if (close(fd) != 0 && saved == 0)
		saved = errno;
	fd = -1;
	if (saved != 0) {
		(void)snprintf(err, errlen, "cannot write %s: %s", tmp,
		    log_errstr(saved, eb, sizeof(eb)));
		(void)unlink(tmp);
		n = -1;
		goto out;
	}
	if (rename(tmp, path) != 0) {
		(void)snprintf(err, errlen, "cannot rename %s to %s: %s", tmp,
		    path, log_errstr(errno, eb, sizeof(eb)));
		(void)unlink(tmp);
		n = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	buf_free(&text);
	return n;
}

/* keystate_state - the definite state named s, or KEY_PUB_UNCHECKED */
static enum key_pub
keystate_state(const char *s)
{
	int p;

	for (p = KEY_PUB_PUBLISHED; p <= KEY_PUB_REVOKED; p++)
		if (strcmp(s, keys_pub_name((enum key_pub)p)) == 0)
			return (enum key_pub)p;
	return KEY_PUB_UNCHECKED;
}

/* keystate_read - the file's text into out; 1, 0 if there is none, -1 with err */
static int
keystate_read(const char *path, struct buf *out, char *err, size_t errlen)
{
	char chunk[65536], eb[128];
	struct stat st;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) != 0) {
		(void)snprintf(err, errlen, "cannot read %s: %s", path,
		    log_errstr(errno, eb, sizeof(eb)));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > KEYSTATE_MAX_BYTES) {
		(void)snprintf(err, errlen, "%s: not a plain file of at most %ld "
		    "bytes", path, KEYSTATE_MAX_BYTES);
		close(fd);
		return -1;
	}
	while ((r = read(fd, chunk, sizeof(chunk))) > 0
	    && out->len + (size_t)r <= (size_t)KEYSTATE_MAX_BYTES)
		buf_append(out, chunk, (size_t)r);
	if (r != 0) {
		(void)snprintf(err, errlen, "cannot read %s: %s", path, r < 0
		    ? log_errstr(errno, eb, sizeof(eb)) : "grew too large");
		close(fd);
		return -1;
	}
	close(fd);
	return 1;
}

/* keystate_line - one key line into e (words cut in place); 0 or -1 */
static int
keystate_line(char *line, struct keystate_entry *e)
{
	char *w[5], *save = NULL;
	int n = 0;

	for (w[n] = strtok_r(line, " ", &save); w[n] != NULL && n < 4;
	    w[++n] = strtok_r(NULL, " ", &save))
		;
	if (n != 4 || w[4] != NULL || strlen(w[2]) != 32
	    || strspn(w[2], "0123456789abcdef") != 32)
		return -1;
	e->domain = w[0];
	e->selector = w[1];
	e->fp = w[2];
	e->state = keystate_state(w[3]);
	return e->state == KEY_PUB_UNCHECKED ? -1 : 0;
}

/*
 * keystate_parse - the entries of a whole file's text (cut in place);
 * their number, or -1 with err naming the first bad line
 */
static long
keystate_parse(char *text, const char *path, struct keystate_entry **out,
    char *err, size_t errlen)
{
	struct keystate_entry *e = NULL;
	char *line, *nl = NULL, *end;
	long n = 0, cap = 0, lineno = 1, count;

	if (strncmp(text, KEYSTATE_MAGIC "\n", sizeof(KEYSTATE_MAGIC)) != 0) {
		(void)snprintf(err, errlen, "%s:1: not a key states file", path);
		return -1;
	}
	for (line = text + sizeof(KEYSTATE_MAGIC); *line != '\0'; line = nl + 1) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL)
			break;		/* a last line without its newline: cut */
		*nl = '\0';
		if (strncmp(line, "end ", 4) == 0) {
			count = strtol(line + 4, &end, 10);
			if (*end != '\0' || count != n || nl[1] != '\0')
				break;
			*out = e;
			return n;
		}
		if (n == cap)
			e = xreallocarray(e, (size_t)(cap = cap ? 2 * cap : 256),
			    sizeof(*e));
		if (keystate_line(line, &e[n]) != 0)
			break;
		n++;
	}
	(void)snprintf(err, errlen, "%s:%ld: %s", path, lineno,
	    *line == '\0' || nl == NULL ? "no end line: the file is cut short"
	    : "not a key line or a matching end line");
	free(e);
	return -1;
}

/* keystate_apply - e's state into the same key of c if it is unchecked; 1 if done */
static int
keystate_apply(struct config *c, const struct keystate_entry *e)
{
	const struct config_domain *od = config_find_domain(c, e->domain);
	struct key *k;
	char fp[33];
	size_t j;

	if (od == NULL)
		return 0;
	for (j = 0; j < od->nkeys; j++) {
		k = &c->domains[od - c->domains].keys[j];
		if (strcmp(k->selector, e->selector) != 0
		    || keys_pub_get(k) != KEY_PUB_UNCHECKED
		    || keystate_fingerprint(k, fp) != 0 || strcmp(fp, e->fp) != 0)
			continue;
		keys_pub_set(k, e->state);
		return 1;
	}
	return 0;
}

/* keystate_load - restore the states of the file into c's unchecked keys */
long
keystate_load(struct config *c, const char *dir, char *err, size_t errlen)
{
	struct keystate_entry *e = NULL;
	struct buf text = BUF_INIT;
	char path[4096];
	long n, i, restored = -1;
	int rc;

	if (keystate_path(path, sizeof(path), dir, KEYSTATE_FILE, err, errlen) != 0)
		return -1;
	if ((rc = keystate_read(path, &text, err, errlen)) <= 0) {
		restored = rc;
		goto out;
	}
	if (text.len == 0 || memchr(text.data, '\0', text.len) != NULL) {
		(void)snprintf(err, errlen, "%s: empty or holds a NUL byte", path);
		goto out;
	}
	if ((n = keystate_parse(text.data, path, &e, err, errlen)) < 0)
		goto out;
	for (i = 0, restored = 0; i < n; i++)
		restored += keystate_apply(c, &e[i]);
out:
	free(e);
	buf_free(&text);
	return restored;
}

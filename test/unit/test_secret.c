/*
 * test_secret.c - the one secret-file reader: what it loads, what it
 * refuses and how it names the file in its errors.
 *
 * Each row makes one file (or directory, or link) in a fresh directory
 * under /tmp and reads it with the row's name, size limit and flags. The
 * trusted-path walk itself (directories other users control) is tabled in
 * test_keys.c; here the rules a secret adds on top of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/secret.h"
#include "testutil.h"

/* What a row puts at the path. */
enum secret_shape {
	SHAPE_FILE,		/* a regular file of len bytes 'k' */
	SHAPE_MISSING,		/* nothing */
	SHAPE_DIR,		/* a directory */
	SHAPE_LINK,		/* a symbolic link to a 0600 file of len bytes */
	SHAPE_FIFO,		/* a named pipe */
	SHAPE_NOBODY,		/* a 0600 file owned by nobody (root only) */
};

/* One read and what the reader must answer. */
struct secret_case {
	const char *name;	/* what the row shows */
	enum secret_shape shape;
	size_t len;		/* bytes in the file */
	mode_t mode;		/* its mode */
	const char *what;	/* the name passed to secret_read */
	size_t max;		/* the limit passed */
	int flags;		/* SECRET_ALLOW_* */
	const char *want;	/* substring of the error; NULL: len bytes read */
};

static const struct secret_case secret_cases[] = {
	{ "a 0600 file loads", SHAPE_FILE, 32, 0600, "bounce secret", 1026, 0,
	  NULL },
	{ "a 0400 file loads", SHAPE_FILE, 16, 0400, "key file", 65536, 0, NULL },
	{ "an empty file loads (the caller judges its length)", SHAPE_FILE, 0,
	  0600, "bounce secret", 1026, 0, NULL },
	{ "exactly the limit loads", SHAPE_FILE, 1026, 0600, "bounce secret",
	  1026, 0, NULL },
	{ "one byte over the limit: refused, the limit said", SHAPE_FILE, 1027,
	  0600, "bounce secret", 1026, 0, "is larger than 1026 bytes" },
	{ "the limit is the caller's: 2000 bytes fit a key file", SHAPE_FILE,
	  2000, 0600, "key file", 65536, 0, NULL },
	{ "group-readable: refused by default", SHAPE_FILE, 32, 0640,
	  "bounce secret", 1026, 0, "must not be readable by its group "
	  "(chmod 600)" },
	{ "group-readable: allowed with SECRET_ALLOW_GROUP", SHAPE_FILE, 32,
	  0640, "key file", 65536, SECRET_ALLOW_GROUP, NULL },
	{ "group-writable: refused even with SECRET_ALLOW_GROUP", SHAPE_FILE, 32,
	  0660, "key file", 65536, SECRET_ALLOW_GROUP, "writable by its group" },
	{ "readable by others: refused even with SECRET_ALLOW_GROUP", SHAPE_FILE,
	  32, 0604, "bounce secret", 1026, SECRET_ALLOW_GROUP,
	  "must not be readable by others (chmod 600, or 640)" },
	{ "missing: cannot open, named", SHAPE_MISSING, 0, 0, "bounce secret",
	  1026, 0, "cannot open bounce secret " },
	{ "a directory is not a regular file", SHAPE_DIR, 0, 0700, "key file",
	  65536, 0, "is not a regular file" },
	{ "a fifo is not a regular file (and is never opened to block)",
	  SHAPE_FIFO, 0, 0600, "bounce secret", 1026, 0, "is not a regular file" },
	{ "a symbolic link: refused by default", SHAPE_LINK, 32, 0600,
	  "bounce secret", 1026, 0, "is a symbolic link" },
	{ "a symbolic link: followed with SECRET_ALLOW_SYMLINK", SHAPE_LINK, 32,
	  0600, "bounce secret", 1026, SECRET_ALLOW_SYMLINK, NULL },
	{ "owned by another user: refused", SHAPE_NOBODY, 32, 0600,
	  "bounce secret", 1026, 0, "is owned by nobody" },
};

/* make_file - a file of len bytes 'k' with mode at path; 0 or -1 */
static int
make_file(const char *path, size_t len, mode_t mode)
{
	char chunk[512];
	size_t n;
	int fd;

	memset(chunk, 'k', sizeof(chunk));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	for (; len > 0; len -= n) {
		n = len < sizeof(chunk) ? len : sizeof(chunk);
		if (write(fd, chunk, n) != (ssize_t)n) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return chmod(path, mode);
}

/* make_shape - put row t's shape at path (i numbers the row); 0 or -1 */
static int
make_shape(const struct secret_case *t, const char *path, uid_t nobody)
{
	char target[700];

	switch (t->shape) {
	case SHAPE_FILE:
		return make_file(path, t->len, t->mode);
	case SHAPE_MISSING:
		return 0;
	case SHAPE_DIR:
		return mkdir(path, t->mode);
	case SHAPE_FIFO:
		return mkfifo(path, t->mode);
	case SHAPE_LINK:
		snprintf(target, sizeof(target), "%s.target", path);
		if (make_file(target, t->len, t->mode) != 0)
			return -1;
		return symlink(strrchr(target, '/') + 1, path);
	case SHAPE_NOBODY:
		if (make_file(path, t->len, t->mode) != 0)
			return -1;
		return chown(path, nobody, 0);
	}
	return -1;
}

/* secret_read_follows_the_table - each row loads or is refused as it says, naming the file */
static void
secret_read_follows_the_table(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = geteuid() == 0 && pw != NULL ? pw->pw_uid : 0;
	struct buf out = BUF_INIT;
	char path[600], err[1024], subject[700];
	char *d = testutil_tmpdir();
	size_t i;
	int rc;

	(void)state;
	assert_non_null(d);
	for (i = 0; i < sizeof(secret_cases) / sizeof(secret_cases[0]); i++) {
		const struct secret_case *t = &secret_cases[i];

		if (t->shape == SHAPE_NOBODY && nobody == 0)
			continue;	/* cannot give a file away */
		snprintf(path, sizeof(path), "%s/s%zu", d, i);
		if (make_shape(t, path, nobody) != 0)
			fail_msg("case \"%s\": cannot make the file", t->name);
		buf_reset(&out);
		buf_puts(&out, "stale bytes from an earlier read");
		err[0] = '\0';
		rc = secret_read(path, t->what, t->max, t->flags, &out, err,
		    sizeof(err));
		if (t->want == NULL && (rc != 0 || out.len != t->len
		    || out.data[out.len] != '\0'
		    || (t->len > 0 && out.data[t->len - 1] != 'k')))
			fail_msg("case \"%s\": rc %d, %zu bytes: %s", t->name, rc,
			    out.len, err);
		if (t->want == NULL)
			continue;
		snprintf(subject, sizeof(subject), "%s %s", t->what, path);
		if (rc == 0 || strstr(err, t->want) == NULL)
			fail_msg("case \"%s\": got %s \"%s\", wanted \"%s\"",
			    t->name, rc == 0 ? "the bytes," : "error", err, t->want);
		if (strstr(err, subject) == NULL)
			fail_msg("case \"%s\": error does not say \"%s\": %s",
			    t->name, subject, err);
		if (out.len != 0)
			fail_msg("case \"%s\": %zu bytes left after a refusal",
			    t->name, out.len);
	}
	buf_free(&out);
	testutil_rmtree(d);
	free(d);
}

/* secret_read_names_the_kind_of_file - the same refusal says "key file" or "bounce secret" */
static void
secret_read_names_the_kind_of_file(void **state)
{
	static const char *const whats[] = { "key file", "bounce secret" };
	struct buf out = BUF_INIT;
	char path[600], err[1024], want[700];
	char *d = testutil_tmpdir();
	size_t i;

	(void)state;
	assert_non_null(d);
	snprintf(path, sizeof(path), "%s/open", d);
	assert_int_equal(make_file(path, 32, 0644), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(secret_read(path, whats[i], 1026, 0, &out, err,
		    sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s %s has mode 0644", whats[i], path);
		if (strstr(err, want) == NULL)
			fail_msg("wanted \"%s\" in: %s", want, err);
		assert_null(strstr(err, whats[1 - i]));
	}
	buf_free(&out);
	testutil_rmtree(d);
	free(d);
}

/* secret_cache_starts_walks_in_trusted_dirs - during a load the walk starts from a kept directory; a directory made untrusted is seen by the next load, and a file's own checks are never skipped */
static void
secret_cache_starts_walks_in_trusted_dirs(void **state)
{
	struct buf out = BUF_INIT;
	char a[600], b[600], fa[700], fb[700], err[1024];
	char *d = testutil_tmpdir();

	(void)state;
	assert_non_null(d);
	snprintf(a, sizeof(a), "%s/keys/a", d);
	snprintf(b, sizeof(b), "%s/keys/b", d);
	snprintf(fa, sizeof(fa), "%s/s1.pem", a);
	snprintf(fb, sizeof(fb), "%s/s1.pem", b);
	snprintf(err, sizeof(err), "%s/keys", d);
	assert_int_equal(mkdir(err, 0755), 0);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	assert_int_equal(make_file(fa, 32, 0600), 0);
	assert_int_equal(make_file(fb, 32, 0644), 0);
	secret_cache_begin();
	assert_int_equal(secret_read(fa, "key file", 100, 0, &out, err,
	    sizeof(err)), 0);
	/* b's walk starts in the kept keys/: its file's mode is still checked */
	assert_int_equal(secret_read(fb, "key file", 100, 0, &out, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "has mode 0644"));
	assert_int_equal(chmod(fb, 0600), 0);
	assert_int_equal(secret_read(fb, "key file", 100, 0, &out, err,
	    sizeof(err)), 0);
	secret_cache_end();
	/* keys/ made writable by all: the next load walks it again and refuses */
	snprintf(err, sizeof(err), "%s/keys", d);
	assert_int_equal(chmod(err, 0777), 0);
	secret_cache_begin();
	assert_int_equal(secret_read(fa, "key file", 100, 0, &out, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "writable"));
	secret_cache_end();
	buf_free(&out);
	testutil_rmtree(d);
	free(d);
}

/* count_fds - descriptors open in this process */
static int
count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n - 1;	/* opendir's own */
}

#define CACHE_DIRS 150		/* more than the cache holds: entries evicted */
#define CACHE_THREADS 4

/* What one reading thread of the eviction test does. */
struct cache_reader {
	const char *root;
	int first;		/* the directory it starts at */
	int bad;		/* reads that failed or read wrong bytes */
	int base;		/* descriptors open before the test */
	int kept;		/* its load kept directories open */
	int bare;		/* walks outside any load of its own */
};

/* cache_reader_run - read every directory's file, from first on */
static void *
cache_reader_run(void *arg)
{
	struct cache_reader *r = arg;
	struct buf out = BUF_INIT;
	char path[700], err[1024];
	int i, k, round;

	/* loads that begin and end while the other threads' are under way
	 * (the key reader's two threads): none may close what another's
	 * walk stands on */
	for (round = 0; round < 3; round++) {
		if (!r->bare)
			secret_cache_begin();
		for (i = 0; i < CACHE_DIRS; i++) {
			k = (r->first + i + round) % CACHE_DIRS;
			snprintf(path, sizeof(path), "%s/keys/d%d/s1.pem", r->root,
			    k);
			if (secret_read(path, "key file", 100, 0, &out, err,
			    sizeof(err)) != 0 || out.len != (size_t)(k % 50 + 1))
				r->bad++;
		}
		if (count_fds() > r->base || r->bare)
			r->kept = 1;
		if (!r->bare)
			secret_cache_end();
	}
	buf_free(&out);
	return NULL;
}

/* secret_cache_lends_and_evicts - loads on several threads at once, each through more directories than the cache keeps, beginning and ending while the others run: every read right, and the loads' ends leave no descriptor open */
static void
secret_cache_lends_and_evicts(void **state)
{
	struct cache_reader r[CACHE_THREADS];
	pthread_t t[CACHE_THREADS];
	char path[700];
	char *d = testutil_tmpdir();
	int i, fds;

	(void)state;
	assert_non_null(d);
	snprintf(path, sizeof(path), "%s/keys", d);
	assert_int_equal(mkdir(path, 0755), 0);
	for (i = 0; i < CACHE_DIRS; i++) {
		snprintf(path, sizeof(path), "%s/keys/d%d", d, i);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/keys/d%d/s1.pem", d, i);
		assert_int_equal(make_file(path, (size_t)(i % 50 + 1), 0600), 0);
	}
	fds = count_fds();
	for (i = 0; i < CACHE_THREADS; i++) {
		r[i].root = d;
		r[i].first = i * CACHE_DIRS / CACHE_THREADS;
		r[i].bad = 0;
		r[i].base = fds;
		r[i].kept = 0;
		r[i].bare = i == 0;	/* a walk with no load of its own */
		assert_int_equal(pthread_create(&t[i], NULL, cache_reader_run,
		    &r[i]), 0);
	}
	for (i = 0; i < CACHE_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].bad, 0);
		assert_true(r[i].kept);		/* directories kept */
	}
	assert_int_equal(count_fds(), fds);	/* and all let go */
	testutil_rmtree(d);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secret_read_follows_the_table),
		cmocka_unit_test(secret_read_names_the_kind_of_file),
		cmocka_unit_test(secret_cache_starts_walks_in_trusted_dirs),
		cmocka_unit_test(secret_cache_lends_and_evicts),
	};

	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}

/*
 * test_keys.c - key selection: preference order, publication states,
 * not_before/not_after windows, the unpublished_keys policy; key loading.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/bn.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "policy/config.h"
#include "auth/keys.h"
#include "base/log.h"
#include "base/secret.h"
#include "auth/sign.h"
#include "base/sslerr.h"
#include "testutil.h"

#define T0 1796083200	/* 2026-12-01T00:00:00Z */

static EVP_PKEY *rsa, *ed;	/* shared test keys */

/* setup - two keys */
static int
setup(void **state)
{
	(void)state;
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return rsa && ed ? 0 : -1;
}

/* teardown - free them */
static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	return 0;
}

struct sel_key {
	const char *sel;
	enum key_type type;
	enum key_pub pub;
	time_t nb, na;
};

struct sel_case {
	const char *name;
	struct sel_key keys[4];	/* at most 4 */
	size_t n;
	enum key_type want_type;
	time_t now;
	int unpublished_sign;
	const char *want;	/* selector, NULL: none */
	const char *why;	/* substring of why, NULL: why empty */
};

static const struct sel_case cases[] = {
	{ "first published wins", { { "a", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "a", NULL },
	{ "unchecked counts as usable", { { "a", KEY_RSA, KEY_PUB_UNCHECKED, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "a", NULL },
	{ "truncated 2048 falls back to 1024", { { "s2048", KEY_RSA, KEY_PUB_TRUNCATED, 0, 0 },
	  { "s1024", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "s1024",
	  "selector s2048 skipped: record truncated" },
	{ "missing skipped", { { "a", KEY_RSA, KEY_PUB_MISSING, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "b", "missing" },
	{ "mismatched skipped", { { "a", KEY_RSA, KEY_PUB_MISMATCHED, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "b", "mismatched" },
	{ "revoked skipped", { { "a", KEY_RSA, KEY_PUB_REVOKED, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "b", "revoked" },
	{ "none published, policy sign: first", { { "a", KEY_RSA, KEY_PUB_MISSING, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_TRUNCATED, 0, 0 } }, 2, KEY_RSA, T0, 1, "a", "missing" },
	{ "none published, policy skip: none", { { "a", KEY_RSA, KEY_PUB_MISSING, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_TRUNCATED, 0, 0 } }, 2, KEY_RSA, T0, 0, NULL, "truncated" },
	{ "type filter: ed25519", { { "r", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 },
	  { "e", KEY_ED25519, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_ED25519, T0, 1, "e", NULL },
	{ "no key of the type", { { "r", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 1,
	  KEY_ED25519, T0, 1, NULL, NULL },
	{ "not_before in the future: skipped", { { "new", KEY_RSA, KEY_PUB_PUBLISHED, T0 + 1, 0 },
	  { "old", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "old", NULL },
	{ "not_before reached: used", { { "new", KEY_RSA, KEY_PUB_PUBLISHED, T0, 0 },
	  { "old", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "new", NULL },
	{ "not_after passed: skipped", { { "old", KEY_RSA, KEY_PUB_PUBLISHED, 0, T0 },
	  { "new", KEY_RSA, KEY_PUB_PUBLISHED, 0, 0 } }, 2, KEY_RSA, T0, 1, "new", NULL },
	{ "out of window is never the fallback", { { "new", KEY_RSA, KEY_PUB_PUBLISHED, T0 + 86400, 0 },
	  { "old", KEY_RSA, KEY_PUB_MISSING, 0, 0 } }, 2, KEY_RSA, T0, 1, "old", "missing" },
	/* the last resort: a missing record before one known wrong */
	{ "none usable: a missing record before a mismatched one",
	  { { "a", KEY_RSA, KEY_PUB_MISMATCHED, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_MISSING, 0, 0 } }, 2, KEY_RSA, T0, 1, "b",
	  "selector a skipped: record mismatched; selector b skipped: record missing" },
	{ "none usable: a missing record before revoked and truncated ones",
	  { { "a", KEY_RSA, KEY_PUB_REVOKED, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_TRUNCATED, 0, 0 },
	  { "c", KEY_RSA, KEY_PUB_MISSING, 0, 0 } }, 3, KEY_RSA, T0, 1, "c", "revoked" },
	{ "all known wrong, policy sign: the first of them",
	  { { "a", KEY_RSA, KEY_PUB_MISMATCHED, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_REVOKED, 0, 0 } }, 2, KEY_RSA, T0, 1, "a", "revoked" },
	{ "a known-wrong key never before an unknown one",
	  { { "a", KEY_RSA, KEY_PUB_MISMATCHED, 0, 0 },
	  { "b", KEY_RSA, KEY_PUB_UNKNOWN, 0, 0 } }, 2, KEY_RSA, T0, 1, "b", "mismatched" },
};

/* keys_select_by_table - each case picks the expected selector */
static void
keys_select_by_table(void **state)
{
	struct key keys[4];
	const struct key *k;
	char why[512];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(keys, 0, sizeof(keys));
		for (j = 0; j < cases[i].n; j++) {
			keys[j].selector = (char *)cases[i].keys[j].sel;
			keys[j].type = cases[i].keys[j].type;
			keys[j].pkey = keys[j].type == KEY_RSA ? rsa : ed;
			keys[j].pub = (int)cases[i].keys[j].pub;
			keys[j].not_before = cases[i].keys[j].nb;
			keys[j].not_after = cases[i].keys[j].na;
		}
		k = keys_select(keys, cases[i].n, cases[i].want_type, cases[i].now,
		    cases[i].unpublished_sign, why, sizeof(why));
		if ((k == NULL) != (cases[i].want == NULL)
		    || (k != NULL && strcmp(k->selector, cases[i].want) != 0))
			fail_msg("case \"%s\": got %s", cases[i].name,
			    k ? k->selector : "(none)");
		if (cases[i].why == NULL ? why[0] != '\0'
		    : strstr(why, cases[i].why) == NULL)
			fail_msg("case \"%s\": why \"%s\"", cases[i].name, why);
	}
}

static char phase_log[4][512];	/* lines keys_phase_log wrote */
static size_t phase_nlog;

/* capture_line - keep a log line */
static void
capture_line(int level, const char *line)
{
	(void)level;
	if (phase_nlog < 4)
		snprintf(phase_log[phase_nlog], sizeof(phase_log[0]), "%s", line);
	phase_nlog++;
}

/*
 * keys_phase_changes_are_logged_once - a scheduled key coming into use,
 * an expiry ahead and an expiry are each logged once, however often the
 * key is looked at; a snapshot's first look logs only an expiry ahead
 */
static void
keys_phase_changes_are_logged_once(void **state)
{
	static const struct {
		time_t now;
		enum key_phase want;
		const char *line;	/* substring of the one new line; NULL: none */
	} steps[] = {
		{ T0 - 3600, KEY_PHASE_PENDING, NULL },	/* first look: quiet */
		{ T0 - 60, KEY_PHASE_PENDING, NULL },
		{ T0, KEY_PHASE_ACTIVE, "key s1 of example.com: scheduled key now in use" },
		{ T0 + 3600, KEY_PHASE_ACTIVE, NULL },
		{ T0 + 18 * 86400, KEY_PHASE_EXPIRING, "key s1 of example.com expires "
		  "at 2027-01-01T00:00Z (in 13 days)" },
		{ T0 + 19 * 86400, KEY_PHASE_EXPIRING, NULL },
		{ T0 + 31 * 86400, KEY_PHASE_EXPIRED, "key s1 of example.com expired at "
		  "2027-01-01T00:00Z: no longer used" },
		{ T0 + 40 * 86400, KEY_PHASE_EXPIRED, NULL },
	};
	struct key k, fresh;
	size_t i;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.selector = "s1";
	k.not_before = T0;
	k.not_after = T0 + 31 * 86400;	/* 2027-01-01 */
	log_set_syslog_hook(capture_line);
	log_init(LOG_DEST_SYSLOG, LOG_MAIL, LOG_DEBUG);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		phase_nlog = 0;
		assert_int_equal(keys_phase_log(&k, "example.com", steps[i].now,
		    14 * 86400, NULL), steps[i].want);
		if (phase_nlog != (steps[i].line != NULL) || (steps[i].line != NULL
		    && strstr(phase_log[0], steps[i].line) == NULL))
			fail_msg("step %zu: %zu new lines, first \"%s\"", i,
			    phase_nlog, phase_nlog ? phase_log[0] : "");
	}
	/* a new snapshot's first look at a key expiring soon warns */
	fresh = k;
	fresh.phase = KEY_PHASE_UNSEEN;
	phase_nlog = 0;
	keys_phase_log(&fresh, "example.com", T0 + 20 * 86400, 14 * 86400, NULL);
	assert_int_equal(phase_nlog, 1);
	assert_non_null(strstr(phase_log[0], "expires at"));
	/* lead 0: no warning ahead */
	assert_int_equal(keys_phase(&k, T0 + 30 * 86400, 0), KEY_PHASE_ACTIVE);
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_INFO);
	log_set_syslog_hook(NULL);
}

/* keys_pub_set_keeps_definite_state_on_unknown - a DNS timeout changes nothing */
static void
keys_pub_set_keeps_definite_state_on_unknown(void **state)
{
	struct key k;

	(void)state;
	memset(&k, 0, sizeof(k));
	keys_pub_set(&k, KEY_PUB_UNKNOWN);
	assert_int_equal(keys_pub_get(&k), KEY_PUB_UNKNOWN);
	keys_pub_set(&k, KEY_PUB_TRUNCATED);
	keys_pub_set(&k, KEY_PUB_UNKNOWN);
	assert_int_equal(keys_pub_get(&k), KEY_PUB_TRUNCATED);
	keys_pub_set(&k, KEY_PUB_PUBLISHED);
	assert_int_equal(keys_pub_get(&k), KEY_PUB_PUBLISHED);
}

/* keys_parse_time_formats - dates and date-times, UTC; garbage refused */
static void
keys_parse_time_formats(void **state)
{
	(void)state;
	assert_int_equal(keys_parse_time("2026-12-01"), T0);
	assert_int_equal(keys_parse_time("2026-12-01T00:00Z"), T0);
	assert_int_equal(keys_parse_time("2026-12-01T08:30"), T0 + 8 * 3600 + 1800);
	assert_int_equal(keys_parse_time("2026-12-01T08:30:15Z"), T0 + 8 * 3600 + 1815);
	assert_int_equal(keys_parse_time("2026-13-01"), -1);
	assert_int_equal(keys_parse_time("2026-12-01x"), -1);
	assert_int_equal(keys_parse_time("tomorrow"), -1);
	assert_int_equal(keys_parse_time(""), -1);
}

/* bad_key_line - text loads without its one block, and an error holds want */
static void
bad_key_line(const char *text, const char *want)
{
	struct config_problems probs = { NULL, 0, 0 };
	struct config *c;
	char err[512];

	c = config_load_from("t.conf", text, NULL, 0, &probs, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->ndomains, 0);
	assert_int_equal(probs.n, 1);
	if (strstr(probs.v[0].text, want) == NULL)
		fail_msg("error \"%s\", wanted \"%s\"", probs.v[0].text, want);
	config_problems_free(&probs);
	config_free(c);
}

/* keys_conf_window_attributes - key lines carry not_before/not_after */
static void
keys_conf_window_attributes(void **state)
{
	char *dir = testutil_tmpdir(), key[512], text[2048], err[512];
	struct config *c;

	(void)state;
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	assert_int_equal(testutil_write_key(key, "ED25519", 0, 0600), 0);
	snprintf(text, sizeof(text), "domain a.example {\n"
	    "key = new %s not_before=2026-12-01\n"
	    "key = old %s not_after=2026-12-01T00:00Z\n}\n", key, key);
	c = config_load_string(text, "t.conf", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->domains[0].keys[0].not_before, T0);
	assert_int_equal(c->domains[0].keys[1].not_after, T0);
	config_free(c);
	/* a bad attribute leaves its block out, with the error */
	snprintf(text, sizeof(text), "domain a.example {\nkey = k %s not_before=soon\n}\n", key);
	bad_key_line(text, "t.conf:2: key: \"not_before=soon\"");
	snprintf(text, sizeof(text), "domain a.example {\nkey = k %s colour=red\n}\n", key);
	bad_key_line(text, "t.conf:2: key:");
	snprintf(text, sizeof(text), "domain a.example {\nkey = k %s not_before=2027-01-01 "
	    "not_after=2026-01-01\n}\n", key);
	bad_key_line(text, "not_after is not after not_before");
	testutil_rmtree(dir);
	free(dir);
}

/* keys_statahead_gives_what_stat_gives - identities taken ahead equal a stat of each, asked in order, out of it, or with the other follow; a missing file fails */
static void
keys_statahead_gives_what_stat_gives(void **state)
{
	char *dir = testutil_tmpdir(), path[40][512], again[512];
	const char *paths[41];
	struct keys_statahead *s;
	struct key_ident a, b;
	size_t i, n = 40;

	(void)state;
	for (i = 0; i < n; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/f%zu", dir, i);
		if (i != 7)	/* f7 does not exist */
			assert_int_equal(testutil_write_file(path[i], "x"), 0);
		paths[i] = path[i];
	}
	snprintf(again, sizeof(again), "%s/f3", dir);	/* f3 once more, out of order */
	/* in order, each one at a time: either taken already or stat'ed */
	s = keys_statahead_start(paths, n, 1, 0);
	for (i = 0; i < n; i++) {
		if (i == 7) {
			assert_int_equal(keys_statahead_get(s, paths[i], 1, &a), -1);
			continue;
		}
		assert_int_equal(keys_statahead_get(s, paths[i], 1, &a), 0);
		assert_int_equal(keys_ident_stat(paths[i], 1, &b), 0);
		assert_int_equal(keys_ident_cmp(&a, &b), 0);
	}
	keys_statahead_end(s);
	/* out of its order, and with the other follow: stat'ed on the spot */
	s = keys_statahead_start(paths, n, 1, 0);
	assert_int_equal(keys_statahead_get(s, paths[5], 1, &a), 0);
	assert_int_equal(keys_ident_stat(paths[5], 1, &b), 0);
	assert_int_equal(keys_ident_cmp(&a, &b), 0);
	assert_int_equal(keys_statahead_get(s, paths[0], 0, &a), 0);
	assert_int_equal(keys_ident_stat(paths[0], 0, &b), 0);
	assert_int_equal(keys_ident_cmp(&a, &b), 0);
	assert_int_equal(keys_statahead_get(s, again, 1, &a), 0);
	assert_int_equal(keys_ident_stat(path[3], 1, &b), 0);
	assert_int_equal(keys_ident_cmp(&a, &b), 0);
	keys_statahead_end(s);	/* stopped before its end */
	/* none at all, and an empty list */
	assert_int_equal(keys_statahead_get(NULL, paths[1], 1, &a), 0);
	s = keys_statahead_start(paths, 0, 1, 0);
	assert_int_equal(keys_statahead_get(s, paths[1], 1, &a), 0);
	keys_statahead_end(s);
	keys_statahead_end(NULL);
	testutil_rmtree(dir);
	free(dir);
}

/* keys_parse_pem_rejects_short_rsa - RFC 8301: no RSA key under 1024 bits */
static void
keys_parse_pem_rejects_short_rsa(void **state)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	struct key k;
	char *pem = NULL, err[256];
	size_t len = 0;
	FILE *fp = open_memstream(&pem, &len);

	(void)state;
	assert_non_null(small);
	PEM_write_PrivateKey(fp, small, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	memset(&k, 0, sizeof(k));
	k.path = (char *)"small.pem";
	assert_int_equal(keys_parse_pem(&k, pem, len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "512 bits is too short"));
	assert_int_equal(keys_parse_pem(&k, "garbage", 7, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot load key file small.pem"));
	free(pem);
	EVP_PKEY_free(small);
}

/* sslerr_take_drains_the_queue - OpenSSL's reason as text, nothing left queued for the next call */
static void
sslerr_take_drains_the_queue(void **state)
{
	static const char bad[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
	    "-----END PRIVATE KEY-----\n";
	struct key k;
	char buf[256], err[512];
	BIO *bio;

	(void)state;
	ERR_clear_error();
	assert_string_equal(sslerr_take("nothing queued", buf, sizeof(buf)),
	    "nothing queued");
	assert_string_equal(sslerr_take(NULL, buf, sizeof(buf)), "");
	/* two failures queued: the text is of one, and both are gone */
	bio = BIO_new_file("/nonexistent/authmilter-test", "r");
	assert_null(bio);
	bio = BIO_new_file("/nonexistent/authmilter-test-2", "r");
	assert_null(bio);
	assert_true(ERR_peek_error() != 0);
	(void)sslerr_take("nothing queued", buf, sizeof(buf));
	assert_string_not_equal(buf, "nothing queued");
	assert_non_null(strstr(buf, "error:"));
	assert_int_equal(ERR_peek_error(), 0);
	/* a key that does not parse says why and leaves the queue empty */
	memset(&k, 0, sizeof(k));
	k.path = (char *)"garbage.pem";
	assert_int_equal(keys_parse_pem(&k, bad, strlen(bad), err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "cannot load key file garbage.pem: "));
	assert_int_equal(ERR_peek_error(), 0);
}

/* sign_alg_name_spells_the_a_tag - the one spelling of the algorithm names */
static void
sign_alg_name_spells_the_a_tag(void **state)
{
	(void)state;
	assert_string_equal(sign_alg_name(SIGN_ALG_RSA_SHA256), "rsa-sha256");
	assert_string_equal(sign_alg_name(SIGN_ALG_ED25519_SHA256),
	    "ed25519-sha256");
}

/* A key path and what the trusted reader must say about it. */
struct trust_case {
	const char *name;	/* what the path shows */
	const char *path;	/* under the test directory */
	int flags;		/* SECRET_ALLOW_* */
	int needs_root;		/* chowns to nobody: root only */
	const char *want;	/* substring of the error, NULL: the key loads */
};

static const struct trust_case trust_cases[] = {
	{ "root-owned 0700 directory", "ok/k.pem", 0, 0, NULL },
	{ "the key path is a symbolic link", "ok/link.pem", 0, 0,
	  "is a symbolic link: name the file it points to" },
	{ "a symbolic link, key_symlinks = allow", "ok/link.pem",
	  SECRET_ALLOW_SYMLINK, 0, NULL },
	{ "a link into a directory the run-as user owns, allowed", "ok/tonobody.pem",
	  SECRET_ALLOW_SYMLINK, 1, "is owned by nobody" },
	{ "a directory on the way is a symbolic link", "dirlink/k.pem", 0, 0, NULL },
	{ "key directory owned by the run-as user", "nobody/k.pem", 0, 1,
	  "/nobody is owned by nobody" },
	{ "key directory writable by everyone", "open/k.pem", 0, 0,
	  "writable by everyone: chmod go-w" },
	{ "key directory writable by its group", "group/k.pem", 0, 0,
	  "writable by its group: chmod go-w" },
	/* root's only when root made it: a user's sticky directory is refused */
	{ "sticky root-owned directory, like /tmp", "sticky/k.pem", 0, 1, NULL },
	{ "sticky directory of another user", "nobodysticky/k.pem", 0, 1,
	  "is owned by nobody" },
	{ "key file owned by the run-as user", "ok/nobody.pem", 0, 1,
	  "is owned by nobody" },
	{ "a link in a directory the run-as user owns", "nobody/link/k.pem", 0, 1,
	  "is owned by nobody" },
	{ "a key that is a fifo", "ok/fifo", 0, 0, "is not a regular file" },
};

/* trust_tree - the directories and keys trust_cases walk through */
static int
trust_tree(const char *d, uid_t nobody)
{
	static const struct { const char *dir; mode_t mode; int own; } dirs[] = {
		{ "ok", 0700, 0 }, { "nobody", 0700, 1 }, { "open", 0777, 0 },
		{ "group", 0770, 0 }, { "sticky", 01777, 0 },
		{ "nobodysticky", 01777, 1 },
	};
	char p[600], q[700];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", d, dirs[i].dir);
		snprintf(q, sizeof(q), "%s/k.pem", p);
		if (mkdir(p, 0700) != 0 || testutil_write_key(q, "ED25519", 0, 0600)
		    != 0 || chmod(p, dirs[i].mode) != 0
		    || (dirs[i].own && nobody != 0 && chown(p, nobody, 0) != 0))
			return -1;
	}
	snprintf(p, sizeof(p), "%s/ok/nobody.pem", d);
	if (testutil_write_key(p, "ED25519", 0, 0600) != 0
	    || (nobody != 0 && chown(p, nobody, 0) != 0))
		return -1;
	snprintf(p, sizeof(p), "%s/ok/link.pem", d);
	snprintf(q, sizeof(q), "%s/ok/tonobody.pem", d);
	if (symlink("k.pem", p) != 0 || symlink("../nobody/k.pem", q) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/dirlink", d);
	snprintf(q, sizeof(q), "%s/nobody/link", d);
	if (symlink("ok", p) != 0 || symlink("../ok", q) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/ok/fifo", d);
	return mkfifo(p, 0600);
}

/* keys_reader_refuses_paths_another_user_controls - StrictModes-like checks, by table */
static void
keys_reader_refuses_paths_another_user_controls(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = geteuid() == 0 && pw != NULL ? pw->pw_uid : 0;
	struct buf pem = BUF_INIT;
	char path[600], err[1024];
	char *d = testutil_tmpdir();
	size_t i;
	int rc;

	(void)state;
	assert_non_null(d);
	assert_int_equal(trust_tree(d, nobody), 0);
	for (i = 0; i < sizeof(trust_cases) / sizeof(trust_cases[0]); i++) {
		const struct trust_case *t = &trust_cases[i];

		if (t->needs_root && nobody == 0)
			continue;	/* cannot give a file away */
		snprintf(path, sizeof(path), "%s/%s", d, t->path);
		err[0] = '\0';
		rc = secret_read(path, KEYS_FILE_WHAT, KEYS_MAX_PEM, t->flags, &pem,
		    err, sizeof(err));
		if (t->want == NULL && rc != 0)
			fail_msg("case \"%s\": refused: %s", t->name, err);
		if (getenv("TEST_VERBOSE") != NULL)
			print_message("%s: %s\n", t->name, rc == 0 ? "ok" : err);
		if (t->want != NULL && (rc == 0 || strstr(err, t->want) == NULL))
			fail_msg("case \"%s\": got %s \"%s\", wanted \"%s\"",
			    t->name, rc == 0 ? "the key," : "error", err, t->want);
		if (t->want != NULL && strstr(err, path) == NULL
		    && strstr(err, d) == NULL)
			fail_msg("case \"%s\": error names no file: %s", t->name,
			    err);
	}
	buf_free(&pem);
	testutil_rmtree(d);
	free(d);
}

/*
 * keys_spki_is_what_i2d_pubkey_gives - our DER SubjectPublicKeyInfo (made
 * without OpenSSL's encoder lookup) byte for byte against i2d_PUBKEY, for
 * RSA moduli of several sizes and exponents and for Ed25519
 */
static void
keys_spki_is_what_i2d_pubkey_gives(void **state)
{
	static const struct { const char *type; int bits; unsigned e; } kinds[] = {
		{ "RSA", 1024, 65537 }, { "RSA", 2048, 65537 }, { "RSA", 2048, 3 },
		{ "RSA", 3072, 65537 }, { "RSA", 4096, 65537 }, { "ED25519", 0, 0 },
	};
	struct buf der = BUF_INIT;
	unsigned char *ref;
	EVP_PKEY *pk;
	size_t i;
	int n, round;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		for (round = 0; round < 3; round++) {
			if (kinds[i].bits == 0)
				pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
			else {
				EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL,
				    "RSA", NULL);
				BIGNUM *e = BN_new();

				pk = NULL;
				assert_non_null(ctx);
				assert_true(BN_set_word(e, kinds[i].e));
				assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
				assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx,
				    kinds[i].bits), 1);
				assert_int_equal(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx,
				    e), 1);
				assert_int_equal(EVP_PKEY_keygen(ctx, &pk), 1);
				BN_free(e);
				EVP_PKEY_CTX_free(ctx);
			}
			assert_non_null(pk);
			ref = NULL;
			n = i2d_PUBKEY(pk, &ref);
			assert_true(n > 0);
			assert_int_equal(keys_spki(pk, &der), 0);
			if ((size_t)n != der.len || memcmp(ref, der.data, der.len) != 0)
				fail_msg("%s %d (e=%u): SPKI differs from i2d_PUBKEY's",
				    kinds[i].type, kinds[i].bits, kinds[i].e);
			OPENSSL_free(ref);
			EVP_PKEY_free(pk);
		}
	buf_free(&der);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_spki_is_what_i2d_pubkey_gives),
		cmocka_unit_test(keys_select_by_table),
		cmocka_unit_test(keys_pub_set_keeps_definite_state_on_unknown),
		cmocka_unit_test(keys_phase_changes_are_logged_once),
		cmocka_unit_test(keys_parse_time_formats),
		cmocka_unit_test(keys_conf_window_attributes),
		cmocka_unit_test(keys_parse_pem_rejects_short_rsa),
		cmocka_unit_test(sslerr_take_drains_the_queue),
		cmocka_unit_test(sign_alg_name_spells_the_a_tag),
		cmocka_unit_test(keys_reader_refuses_paths_another_user_controls),
		cmocka_unit_test(keys_statahead_gives_what_stat_gives),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_keycheck.c - the key-record comparison (a published TXT record
 * against our key: published, truncated, mismatched, revoked), and what
 * happens to publication states over time: the carry-over of verdicts
 * across a reload (same domain, selector and key only), and the checker
 * thread's rounds and prompt stop, table-driven. The thread's rounds are
 * injected (struct keycheck_ops): no DNS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "policy/config.h"
#include "policy/keycheck.h"
#include "auth/keys.h"
#include "testutil.h"

static char *dir;			/* holds ka.pem and kb.pem */

/* Which key a comparison row holds the record against. */
enum cmp_key {
	CMP_RSA,		/* RSA-1024 */
	CMP_ED,			/* Ed25519 */
	CMP_KEYS,
};

/*
 * One published record against one key. In the record template, @P@ is
 * the key's own p= value, @H@ its first half, @C@ all of it but the last
 * character, @O@ another key's p= of the same type, @Q@ the first half of
 * that, @S@ our p= with folding white space every 16 characters, @X@ our
 * p= with more after it.
 */
struct cmp_case {
	const char *name;
	enum cmp_key key;
	const char *record;
	enum key_pub want;
	const char *detail;		/* substring of the explanation */
};

static const struct cmp_case cmp_cases[] = {
	{ "exact record is published", CMP_RSA, "v=DKIM1; k=rsa; p=@P@",
	  KEY_PUB_PUBLISHED, "p= matches the 1024-bit key" },
	{ "v= and k= may be left out", CMP_RSA, "p=@P@", KEY_PUB_PUBLISHED,
	  "matches" },
	{ "white space around tags and values", CMP_RSA,
	  " v = DKIM1 ;\tk = rsa ; p = @P@ ; ", KEY_PUB_PUBLISHED, "matches" },
	{ "folding white space inside p=", CMP_RSA, "v=DKIM1; k=rsa; p=@S@",
	  KEY_PUB_PUBLISHED, "matches" },
	{ "k= is case-insensitive", CMP_RSA, "v=DKIM1; k=RSA; p=@P@",
	  KEY_PUB_PUBLISHED, "matches" },
	{ "other tags are ignored", CMP_RSA, "v=DKIM1; h=sha256; t=s; n=x; p=@P@",
	  KEY_PUB_PUBLISHED, "matches" },
	{ "the first p= counts", CMP_RSA, "v=DKIM1; p=@P@; p=@O@",
	  KEY_PUB_PUBLISHED, "matches" },
	{ "Ed25519 record is published", CMP_ED, "v=DKIM1; k=ed25519; p=@P@",
	  KEY_PUB_PUBLISHED, "p= matches the 256-bit key" },
	{ "half the key is truncated", CMP_RSA, "v=DKIM1; k=rsa; p=@H@",
	  KEY_PUB_TRUNCATED, "p= holds only the first" },
	{ "one character short is truncated", CMP_RSA, "v=DKIM1; k=rsa; p=@C@",
	  KEY_PUB_TRUNCATED, "the DNS host cut the record" },
	{ "Ed25519 cut short is truncated", CMP_ED, "v=DKIM1; k=ed25519; p=@H@",
	  KEY_PUB_TRUNCATED, "holds only the first" },
	{ "another key is mismatched", CMP_RSA, "v=DKIM1; k=rsa; p=@O@",
	  KEY_PUB_MISMATCHED, "p= is a different key" },
	{ "a cut-off prefix of another key is mismatched", CMP_RSA,
	  "v=DKIM1; k=rsa; p=@Q@", KEY_PUB_MISMATCHED, "different key" },
	{ "another Ed25519 key is mismatched", CMP_ED, "v=DKIM1; k=ed25519; p=@O@",
	  KEY_PUB_MISMATCHED, "different key" },
	{ "our key with more after it is mismatched", CMP_RSA,
	  "v=DKIM1; k=rsa; p=@X@", KEY_PUB_MISMATCHED, "different key" },
	{ "k= of the other type is mismatched", CMP_RSA,
	  "v=DKIM1; k=ed25519; p=@P@", KEY_PUB_MISMATCHED,
	  "record has k=ed25519, key is rsa" },
	{ "Ed25519 key under the default k=rsa is mismatched", CMP_ED,
	  "v=DKIM1; p=@P@", KEY_PUB_MISMATCHED, "record has k=rsa, key is ed25519" },
	{ "empty p= is revoked", CMP_RSA, "v=DKIM1; k=rsa; p=", KEY_PUB_REVOKED,
	  "key revoked" },
	{ "empty p= is revoked whatever k= says", CMP_ED, "v=DKIM1; k=rsa; p= ",
	  KEY_PUB_REVOKED, "key revoked" },
	{ "no p= is not a key record", CMP_RSA, "v=DKIM1; k=rsa",
	  KEY_PUB_MISMATCHED, "not a DKIM key record" },
	{ "another v= is not a key record", CMP_RSA, "v=DKIM2; p=@P@",
	  KEY_PUB_MISMATCHED, "not a DKIM key record" },
	{ "v= not first is not a key record", CMP_RSA, "k=rsa; v=DKIM1; p=@P@",
	  KEY_PUB_MISMATCHED, "not a DKIM key record" },
	{ "a tag without = is not a key record", CMP_RSA, "v=DKIM1; junk; p=@P@",
	  KEY_PUB_MISMATCHED, "not a DKIM key record" },
	{ "an SPF record is not a key record", CMP_RSA, "v=spf1 -all",
	  KEY_PUB_MISMATCHED, "not a DKIM key record" },
};

static struct key cmp_ours[CMP_KEYS], cmp_other[CMP_KEYS];	/* in memory */
static char *cmp_p[CMP_KEYS], *cmp_o[CMP_KEYS];	/* their p= values */

/* cmp_keys_new - our key and another of each type, and their p= values */
static int
cmp_keys_new(void)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		struct key *k = i == 0 ? cmp_ours : cmp_other;

		k[CMP_RSA].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
		k[CMP_RSA].type = KEY_RSA;
		k[CMP_RSA].bits = 1024;
		k[CMP_ED].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		k[CMP_ED].type = KEY_ED25519;
		k[CMP_ED].bits = 256;
		if (k[CMP_RSA].pkey == NULL || k[CMP_ED].pkey == NULL)
			return -1;
	}
	for (i = 0; i < CMP_KEYS; i++) {
		cmp_p[i] = keys_public_b64(cmp_ours[i].pkey);
		cmp_o[i] = keys_public_b64(cmp_other[i].pkey);
		if (cmp_p[i] == NULL || cmp_o[i] == NULL
		    || strcmp(cmp_p[i], cmp_o[i]) == 0)
			return -1;
	}
	return 0;
}

/* cmp_keys_free - release them */
static void
cmp_keys_free(void)
{
	size_t i;

	for (i = 0; i < CMP_KEYS; i++) {
		free(cmp_p[i]);
		free(cmp_o[i]);
		EVP_PKEY_free(cmp_ours[i].pkey);
		EVP_PKEY_free(cmp_other[i].pkey);
	}
}

/* setup - two Ed25519 key files, and the in-memory keys of the comparison rows */
static int
setup(void **state)
{
	char path[512];

	(void)state;
	if ((dir = testutil_tmpdir()) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/ka.pem", dir);
	if (testutil_write_key(path, "ED25519", 0, 0600) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/kb.pem", dir);
	if (testutil_write_key(path, "ED25519", 0, 0600) != 0)
		return -1;
	return cmp_keys_new();
}

/* teardown - remove them */
static int
teardown(void **state)
{
	(void)state;
	cmp_keys_free();
	testutil_rmtree(dir);
	free(dir);
	return 0;
}

/* cmp_fill - append one placeholder's text for our p= and the other key's */
static void
cmp_fill(struct buf *out, char what, const char *p, const char *o)
{
	size_t n = strlen(p), i;

	switch (what) {
	case 'P': buf_puts(out, p); break;
	case 'H': buf_append(out, p, n / 2); break;
	case 'C': buf_append(out, p, n - 1); break;
	case 'O': buf_puts(out, o); break;
	case 'Q': buf_append(out, o, strlen(o) / 2); break;
	case 'X': buf_puts(out, p); buf_puts(out, "AAAA"); break;
	default:	/* 'S': " " or "\t" every 16 characters */
		for (i = 0; i < n; i++) {
			if (i > 0 && i % 16 == 0)
				buf_putc(out, (i / 16) % 2 ? ' ' : '\t');
			buf_putc(out, p[i]);
		}
	}
}

/* cmp_record - the row's record with its placeholders filled in */
static void
cmp_record(struct buf *out, const char *tmpl, const char *p, const char *o)
{
	const char *at;

	buf_reset(out);
	while ((at = strchr(tmpl, '@')) != NULL && at[1] != '\0' && at[2] == '@') {
		buf_append(out, tmpl, (size_t)(at - tmpl));
		cmp_fill(out, at[1], p, o);
		tmpl = at + 3;
	}
	buf_puts(out, tmpl);
}

/* keycheck_compare_row - one record against its key (state: the row) */
static void
keycheck_compare_row(void **state)
{
	const struct cmp_case *c = *state;
	struct buf rec = BUF_INIT;
	char detail[640] = "";
	enum key_pub got;

	cmp_record(&rec, c->record, cmp_p[c->key], cmp_o[c->key]);
	got = keycheck_compare(&cmp_ours[c->key], buf_cstr(&rec), detail,
	    sizeof(detail));
	buf_free(&rec);
	if (got != c->want || strstr(detail, c->detail) == NULL)
		fail_msg("row \"%s\": %s (%s), want %s", c->name,
		    keys_pub_name(got), detail, keys_pub_name(c->want));
}

#define KC_MAXKEYS 2

/* One key line of a domain block and its state after that snapshot's check. */
struct carry_key {
	const char *selector;		/* NULL: no more keys */
	const char *file;		/* ka.pem or kb.pem */
	enum key_pub pub;
};

/* One snapshot: a single domain block. */
struct carry_snap {
	const char *domain;		/* NULL: no snapshot */
	struct carry_key keys[KC_MAXKEYS];
};

struct carry_case {
	const char *name;
	struct carry_snap old;		/* the running snapshot */
	struct carry_snap new;		/* the reloaded one, after its own check */
	enum key_pub want[KC_MAXKEYS];	/* new's states after the carry-over */
};

#define UNCH KEY_PUB_UNCHECKED
#define PUBL KEY_PUB_PUBLISHED
#define MISS KEY_PUB_MISSING
#define TRUN KEY_PUB_TRUNCATED
#define MISM KEY_PUB_MISMATCHED
#define REVK KEY_PUB_REVOKED
#define UNKN KEY_PUB_UNKNOWN

static const struct carry_case carry_cases[] = {
	{ "same_key_keeps_truncated",
	  { "example.com", { { "s1", "ka.pem", TRUN } } },
	  { "example.com", { { "s1", "ka.pem", UNKN } } }, { TRUN } },
	{ "same_key_keeps_missing",
	  { "example.com", { { "s1", "ka.pem", MISS } } },
	  { "example.com", { { "s1", "ka.pem", UNKN } } }, { MISS } },
	{ "same_key_keeps_published",
	  { "example.com", { { "s1", "ka.pem", PUBL } } },
	  { "example.com", { { "s1", "ka.pem", UNKN } } }, { PUBL } },
	{ "same_key_keeps_revoked",
	  { "example.com", { { "s1", "ka.pem", REVK } } },
	  { "example.com", { { "s1", "ka.pem", UNKN } } }, { REVK } },
	{ "changed_key_same_selector_not_carried",
	  { "example.com", { { "s1", "ka.pem", TRUN } } },
	  { "example.com", { { "s1", "kb.pem", UNKN } } }, { UNKN } },
	{ "new_selector_same_key_not_carried",
	  { "example.com", { { "s1", "ka.pem", MISM } } },
	  { "example.com", { { "s2", "ka.pem", UNKN } } }, { UNKN } },
	{ "other_domain_not_carried",
	  { "a.example", { { "s1", "ka.pem", MISS } } },
	  { "b.example", { { "s1", "ka.pem", UNKN } } }, { UNKN } },
	{ "definite_new_verdict_wins",
	  { "example.com", { { "s1", "ka.pem", MISS } } },
	  { "example.com", { { "s1", "ka.pem", PUBL } } }, { PUBL } },
	{ "unchecked_new_key_untouched",
	  { "example.com", { { "s1", "ka.pem", MISS } } },
	  { "example.com", { { "s1", "ka.pem", UNCH } } }, { UNCH } },
	{ "old_never_checked_not_carried",
	  { "example.com", { { "s1", "ka.pem", UNCH } } },
	  { "example.com", { { "s1", "ka.pem", UNKN } } }, { UNKN } },
	{ "old_unknown_not_carried",
	  { "example.com", { { "s1", "ka.pem", UNKN } } },
	  { "example.com", { { "s1", "ka.pem", UNKN } } }, { UNKN } },
	{ "no_running_snapshot_nothing_carried",
	  { NULL, { { NULL, NULL, UNCH } } },
	  { "example.com", { { "s1", "ka.pem", UNKN } } }, { UNKN } },
	{ "each_key_by_its_selector",
	  { "example.com", { { "s1", "ka.pem", TRUN }, { "s2", "kb.pem", PUBL } } },
	  { "example.com", { { "s2", "kb.pem", UNKN }, { "s1", "ka.pem", UNKN } } },
	  { PUBL, TRUN } },
	{ "selectors_swapped_between_keys_not_carried",
	  { "example.com", { { "s1", "ka.pem", TRUN }, { "s2", "kb.pem", PUBL } } },
	  { "example.com", { { "s1", "kb.pem", UNKN }, { "s2", "ka.pem", UNKN } } },
	  { UNKN, UNKN } },
	{ "only_the_unanswered_key_carried",
	  { "example.com", { { "s1", "ka.pem", TRUN }, { "s2", "kb.pem", MISS } } },
	  { "example.com", { { "s1", "ka.pem", UNKN }, { "s2", "kb.pem", PUBL } } },
	  { TRUN, PUBL } },
};

/* carry_load - the snapshot of s, its keys' states set; NULL: no domain */
static struct config *
carry_load(const struct carry_snap *s)
{
	char text[2048], err[512];
	struct config *c;
	size_t used, i;

	if (s->domain == NULL)
		return NULL;
	used = (size_t)snprintf(text, sizeof(text), "domain %s {\n", s->domain);
	for (i = 0; i < KC_MAXKEYS && s->keys[i].selector != NULL; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
		    "key = %s %s/%s\n", s->keys[i].selector, dir, s->keys[i].file);
	assert_true(used + 3 < sizeof(text));
	(void)snprintf(text + used, sizeof(text) - used, "}\n");
	c = config_load_string(text, "t.conf", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->ndomains, 1);
	assert_int_equal(c->domains[0].nkeys, i);
	for (i = 0; i < c->domains[0].nkeys; i++) {
		assert_int_equal(keys_pub_get(&c->domains[0].keys[i]), UNCH);
		keys_pub_set(&c->domains[0].keys[i], s->keys[i].pub);
		assert_int_equal(keys_pub_get(&c->domains[0].keys[i]),
		    s->keys[i].pub);
	}
	return c;
}

/* keycheck_carries_only_the_same_key - every carry-over case */
static void
keycheck_carries_only_the_same_key(void **state)
{
	const struct carry_case *t;
	struct config *old, *cur;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(carry_cases) / sizeof(carry_cases[0]); i++) {
		t = &carry_cases[i];
		old = carry_load(&t->old);
		cur = carry_load(&t->new);
		keycheck_carry_over(old, cur);
		for (j = 0; j < cur->domains[0].nkeys; j++)
			if (keys_pub_get(&cur->domains[0].keys[j]) != t->want[j])
				fail_msg("%s: key %zu is \"%s\", want \"%s\"", t->name,
				    j, keys_pub_name(keys_pub_get(
				    &cur->domains[0].keys[j])),
				    keys_pub_name(t->want[j]));
		/* the running snapshot is only read */
		for (j = 0; old != NULL && j < old->domains[0].nkeys; j++)
			assert_int_equal(keys_pub_get(&old->domains[0].keys[j]),
			    t->old.keys[j].pub);
		config_free(old);
		config_free(cur);
	}
}

/* What the injected rounds saw; written by the checker thread. */
struct thread_probe {
	long interval_ms;		/* what interval_ms answers */
	int asked;			/* interval_ms calls (atomic) */
	int checks;			/* check calls (atomic) */
};

/* probe_interval_ms - the injected interval */
static long
probe_interval_ms(void *arg)
{
	struct thread_probe *p = arg;

	__atomic_add_fetch(&p->asked, 1, __ATOMIC_RELAXED);
	return p->interval_ms;
}

/* probe_check - the injected round: count it */
static void
probe_check(void *arg)
{
	struct thread_probe *p = arg;

	__atomic_add_fetch(&p->checks, 1, __ATOMIC_RELAXED);
}

struct thread_case {
	const char *name;
	int running;			/* ops NULL: the running snapshot's */
	long interval_ms;		/* injected interval */
	long idle_ms;			/* injected idle wait (0: the default minute) */
	long run_ms;			/* time the thread runs at least */
	int min_checks, max_checks;	/* rounds expected by then */
	int min_asked;			/* interval questions expected by then */
};

static const struct thread_case thread_cases[] = {
	{ "checks_every_interval", 0, 20, 0, 200, 3, 1000, 3 },
	{ "first_round_waits_an_interval", 0, 1500, 0, 100, 0, 0, 1 },
	{ "hour_interval_not_waited_out_at_stop", 0, 3600000, 0, 100, 0, 0, 1 },
	{ "minute_idle_not_waited_out_at_stop", 0, 0, 0, 100, 0, 0, 1 },
	/* checks off: no round, but the interval is asked again (a reload may turn them on) */
	{ "interval_zero_means_checks_off", 0, 0, 10, 200, 0, 0, 3 },
	{ "negative_interval_means_checks_off", 0, -5, 10, 200, 0, 0, 3 },
	{ "running_snapshot_none_installed", 1, 0, 0, 100, 0, 0, 0 },
};

/* thread_ms_since - milliseconds from t0 on the monotonic clock */
static long
thread_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* thread_run_case - start, let it run, stop; check rounds and the stop delay */
static void
thread_run_case(const struct thread_case *t)
{
	struct thread_probe probe = { t->interval_ms, 0, 0 };
	struct keycheck_ops ops = { probe_interval_ms, probe_check, &probe,
	    t->idle_ms };
	struct keycheck_thread *kt;
	struct timespec t0;
	char err[256];
	int checks;

	kt = keycheck_start(t->running ? NULL : &ops, err, sizeof(err));
	if (kt == NULL)
		fail_msg("%s: %s", t->name, err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* at least run_ms; longer (up to 5 s) while rounds are still due */
	while (thread_ms_since(&t0) < t->run_ms || (thread_ms_since(&t0) < 5000
	    && (__atomic_load_n(&probe.checks, __ATOMIC_RELAXED) < t->min_checks
	    || __atomic_load_n(&probe.asked, __ATOMIC_RELAXED) < t->min_asked)))
		usleep(5000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	keycheck_stop(kt);
	if (thread_ms_since(&t0) > 1000)
		fail_msg("%s: stop took %ld ms", t->name, thread_ms_since(&t0));
	checks = __atomic_load_n(&probe.checks, __ATOMIC_RELAXED);
	if (checks < t->min_checks || checks > t->max_checks)
		fail_msg("%s: %d rounds, want %d..%d", t->name, checks,
		    t->min_checks, t->max_checks);
	if (__atomic_load_n(&probe.asked, __ATOMIC_RELAXED) < t->min_asked)
		fail_msg("%s: interval asked %d times, want %d or more", t->name,
		    probe.asked, t->min_asked);
	if (t->running && probe.asked != 0)
		fail_msg("%s: injected ops used", t->name);
	/* the thread is gone: nothing counts any more */
	usleep(t->interval_ms > 0 && t->interval_ms < 100 ? 3 * t->interval_ms
	    * 1000 : 0);
	assert_int_equal(__atomic_load_n(&probe.checks, __ATOMIC_RELAXED), checks);
}

/* keycheck_thread_rounds_and_prompt_stop - every thread case */
static void
keycheck_thread_rounds_and_prompt_stop(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(thread_cases) / sizeof(thread_cases[0]); i++)
		thread_run_case(&thread_cases[i]);
	keycheck_stop(NULL);	/* allowed, does nothing */
}

/* A key record, and the k= and p= keycheck_parse_p reads in 8 bytes. */
static const struct ktype_case {
	const char *record;
	const char *ktype;		/* as read into char[8] */
	const char *p;			/* NULL: not a key record */
} ktype_cases[] = {
	{ "v=DKIM1; p=AAAA", "rsa", "AAAA" },
	{ "v=DKIM1; k=ed25519; p=BB BB", "ed25519", "BBBB" },
	/* one byte too long: cut, and never read as "ed25519" */
	{ "v=DKIM1; k=ed25519x; p=CC", "ed25...", "CC" },
	{ "v=DKIM1; k=rsa-and-more; p=DD", "rsa-...", "DD" },
	{ "v=DKIM2; k=rsa; p=EE", "rsa", NULL },
};

/* keycheck_parse_p_cuts_a_long_key_type_visibly - k= that does not fit ends in "..." */
static void
keycheck_parse_p_cuts_a_long_key_type_visibly(void **state)
{
	char ktype[8], *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ktype_cases) / sizeof(ktype_cases[0]); i++) {
		const struct ktype_case *c = &ktype_cases[i];

		p = keycheck_parse_p(c->record, ktype, sizeof(ktype));
		if (strcmp(ktype, c->ktype) != 0)
			fail_msg("%s: k= read as \"%s\", wanted \"%s\"", c->record,
			    ktype, c->ktype);
		if ((p == NULL) != (c->p == NULL) || (p != NULL
		    && strcmp(p, c->p) != 0))
			fail_msg("%s: p= read as \"%s\", wanted \"%s\"", c->record,
			    p ? p : "(none)", c->p ? c->p : "(none)");
		free(p);
	}
}

int
main(void)
{
	enum { NCMP = sizeof(cmp_cases) / sizeof(cmp_cases[0]) };
	struct CMUnitTest tests[NCMP + 3];
	size_t i;

	/* one test per comparison row, named by the row, then the others */
	memset(tests, 0, sizeof(tests));
	for (i = 0; i < NCMP; i++) {
		tests[i].name = cmp_cases[i].name;
		tests[i].test_func = keycheck_compare_row;
		tests[i].initial_state = (void *)(uintptr_t)&cmp_cases[i];
	}
	tests[NCMP].name = "keycheck_carries_only_the_same_key";
	tests[NCMP].test_func = keycheck_carries_only_the_same_key;
	tests[NCMP + 1].name = "keycheck_thread_rounds_and_prompt_stop";
	tests[NCMP + 1].test_func = keycheck_thread_rounds_and_prompt_stop;
	tests[NCMP + 2].name = "keycheck_parse_p_cuts_a_long_key_type_visibly";
	tests[NCMP + 2].test_func = keycheck_parse_p_cuts_a_long_key_type_visibly;
	return _cmocka_run_group_tests("keycheck", tests, NCMP + 3, setup,
	    teardown);
}

/*
 * test_keycheck.c - the key-record comparison (a published TXT record
 * against our key: published, truncated, mismatched, revoked), and what
 * happens to publication states over time: the carry-over of verdicts
 * across a reload (same domain, selector and key only), the schedule
 * (keysched: a pass spread over the interval, the phase kept across a
 * reload), the states file (keystate: a round trip to the same keys only,
 * a damaged file ignored), and the checker thread: lookups bounded by
 * key_check_concurrency and key_check_rate, answers stored, saved and summed up, a prompt
 * stop with lookups in flight, checks off, a reload looking up only new
 * keys, the file restored and a bad one logged. The thread's DNS is a fake
 * resolver (struct keycheck_resolver) answered by a thread of the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "policy/config.h"
#include "policy/keycheck.h"
#include "policy/keysched.h"
#include "policy/keystate.h"
#include "base/dns.h"
#include "base/log.h"
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
	got = keyrecord_compare(&cmp_ours[c->key], buf_cstr(&rec), detail,
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
	{ "unchecked_new_key_takes_the_running_verdict",
	  { "example.com", { { "s1", "ka.pem", MISS } } },
	  { "example.com", { { "s1", "ka.pem", UNCH } } }, { MISS } },
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

/*
 * The fake resolver of the checker thread tests: queries wait in a list;
 * an answering thread answers the oldest every delay_ms (NXDOMAIN, so the
 * key becomes "missing"), or never (drop). It counts what is in flight.
 */
struct fake_q {
	void (*notify)(void *);		/* the checker's */
	void *narg;
	int answered;
	struct fake_q *next;		/* fake.pending, oldest first */
};

static struct fake {
	pthread_mutex_t lock;		/* guards everything below */
	struct fake_q *pending;		/* submitted, not finished */
	int inflight;			/* started, not finished */
	int max_inflight;		/* the most at once */
	int started;			/* lookups started */
	int finished;			/* lookups finished */
	int drop;			/* never answer */
	long delay_ms;			/* between two answers */
	int quit;			/* the answering thread ends */
} fake = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, 0, 0, 0, 0 };

/* fake_now_ms - the monotonic clock in ms */
static long long
fake_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* fake_start - a lookup submitted: queue it */
static void *
fake_start(void *arg, struct config *c, const char *name,
    void (*notify)(void *), void *narg)
{
	struct fake_q *q = calloc(1, sizeof(*q)), **pp;

	(void)arg;
	(void)c;
	(void)name;
	q->notify = notify;
	q->narg = narg;
	pthread_mutex_lock(&fake.lock);
	for (pp = &fake.pending; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = q;
	fake.started++;
	if (++fake.inflight > fake.max_inflight)
		fake.max_inflight = fake.inflight;
	pthread_mutex_unlock(&fake.lock);
	return q;
}

/* fake_finish - a lookup collected: NXDOMAIN if answered, else cancelled */
static enum dns_status
fake_finish(void *arg, void *qv, struct dns_result *r)
{
	struct fake_q *q = qv, **pp;

	(void)arg;
	pthread_mutex_lock(&fake.lock);
	for (pp = &fake.pending; *pp != NULL && *pp != q; pp = &(*pp)->next)
		;
	if (*pp == q)
		*pp = q->next;
	fake.inflight--;
	fake.finished++;
	pthread_mutex_unlock(&fake.lock);
	memset(r, 0, sizeof(*r));
	r->status = q->answered ? DNS_NXDOMAIN : DNS_TEMPFAIL;
	free(q);
	return r->status;
}

/* fake_answerer - answer the oldest unanswered lookup every delay_ms */
static void *
fake_answerer(void *arg)
{
	struct fake_q *q;
	int quit;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&fake.lock);
		quit = fake.quit;
		pthread_mutex_unlock(&fake.lock);
		if (quit)
			return NULL;
		usleep((useconds_t)fake.delay_ms * 1000);
		pthread_mutex_lock(&fake.lock);
		for (q = fake.pending; q != NULL && q->answered; q = q->next)
			;
		if (q != NULL && !fake.drop) {
			q->answered = 1;
			q->notify(q->narg);	/* under our lock, as dns.c does */
		}
		pthread_mutex_unlock(&fake.lock);
	}
}

static const struct keycheck_resolver fake_res = { fake_start, fake_finish, NULL };

/* Log lines captured through the syslog hook. */
static pthread_mutex_t logs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct buf logs = BUF_INIT;

/* logs_capture - the syslog hook: keep the line */
static void
logs_capture(int level, const char *line)
{
	(void)level;
	pthread_mutex_lock(&logs_lock);
	buf_puts(&logs, line);
	buf_putc(&logs, '\n');
	pthread_mutex_unlock(&logs_lock);
}

/* logs_have - a captured line holds text */
static int
logs_have(const char *text)
{
	int found;

	pthread_mutex_lock(&logs_lock);
	found = strstr(buf_cstr(&logs), text) != NULL;
	pthread_mutex_unlock(&logs_lock);
	return found;
}

/* state_conf - a snapshot of text with @ replaced by the key directory */
static struct config *
state_conf(const char *text)
{
	struct buf t = BUF_INIT;
	struct config *c;
	char err[512];

	for (; *text != '\0'; text++)
		if (*text == '@')
			buf_puts(&t, dir);
		else
			buf_putc(&t, *text);
	c = config_load_string(buf_cstr(&t), "t.conf", err, sizeof(err));
	buf_free(&t);
	if (c == NULL)
		fail_msg("%s", err);
	return c;
}

/*
 * fake_begin - reset the fake and install a snapshot: globals, ndomains
 * one-key blocks, then extra (@ in either: the key directory)
 */
static pthread_t
fake_begin(int drop, long delay_ms, int ndomains, const char *globals,
    const char *extra)
{
	struct buf text = BUF_INIT;
	pthread_t tid;
	int i;

	fake.pending = NULL;
	fake.inflight = fake.max_inflight = fake.started = fake.finished = 0;
	fake.drop = drop;
	fake.delay_ms = delay_ms;
	fake.quit = 0;
	buf_printf(&text, "%s\n", globals);
	for (i = 0; i < ndomains; i++)
		buf_printf(&text, "domain d%d.example {\nkey = s1 @/ka.pem\n}\n", i);
	buf_puts(&text, extra);
	config_install(state_conf(buf_cstr(&text)));
	buf_free(&text);
	pthread_mutex_lock(&logs_lock);
	buf_reset(&logs);
	pthread_mutex_unlock(&logs_lock);
	assert_int_equal(pthread_create(&tid, NULL, fake_answerer, NULL), 0);
	return tid;
}

/* fake_end - stop the answering thread, uninstall the snapshot */
static void
fake_end(pthread_t tid)
{
	pthread_mutex_lock(&fake.lock);
	fake.quit = 1;
	pthread_mutex_unlock(&fake.lock);
	pthread_join(tid, NULL);
	config_install(NULL);
}

/* fake_wait - wait up to ms for *counter (under fake.lock) to reach want */
static int
fake_wait(const int *counter, int want, long ms)
{
	long long until = fake_now_ms() + ms;
	int got;

	for (;;) {
		pthread_mutex_lock(&fake.lock);
		got = *counter;
		pthread_mutex_unlock(&fake.lock);
		if (got >= want || fake_now_ms() > until)
			return got >= want;
		usleep(2000);
	}
}

/* keys_in_state - how many keys of the installed snapshot are in state p */
static int
keys_in_state(enum key_pub p)
{
	struct config *c = config_acquire();
	size_t i, j;
	int n = 0;

	for (i = 0; c != NULL && i < c->ndomains; i++)
		for (j = 0; j < c->domains[i].nkeys; j++)
			n += keys_pub_get(&c->domains[i].keys[j]) == p;
	config_release(c);
	return n;
}

/* keycheck_lookups_bounded_by_concurrency - 40 keys, 4 at a time, all answered */
static void
keycheck_lookups_bounded_by_concurrency(void **state)
{
	struct keycheck_thread *kt;
	char err[256];
	pthread_t tid;

	(void)state;
	tid = fake_begin(0, 5, 40, "key_check_concurrency = 4\n"
	    "key_check_interval = 1h", "");
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_non_null(kt);
	if (!fake_wait(&fake.finished, 40, 5000))
		fail_msg("%d of 40 lookups finished", fake.finished);
	/* the pass is done: nothing more before the hour */
	usleep(100000);
	assert_int_equal(keys_in_state(KEY_PUB_MISSING), 40);
	keycheck_stop(kt);
	fake_end(tid);
	if (fake.max_inflight != 4)
		fail_msg("%d lookups in flight at most, want exactly 4",
		    fake.max_inflight);
	assert_int_equal(fake.started, 40);
	assert_int_equal(fake.inflight, 0);
}

/*
 * keycheck_lookups_bounded_by_rate - key_check_rate = 50: a tenth of a
 * second's worth (5) at once, then 50 a second, however fast the answers
 * come; all 40 answered in the end
 */
static void
keycheck_lookups_bounded_by_rate(void **state)
{
	struct keycheck_thread *kt;
	long long t0, ms;
	char err[256];
	pthread_t tid;
	int started, most;

	(void)state;
	tid = fake_begin(0, 1, 40, "key_check_concurrency = 64\n"
	    "key_check_rate = 50", "");
	t0 = fake_now_ms();
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_non_null(kt);
	assert_true(fake_wait(&fake.started, 5, 5000));
	usleep(300000);
	pthread_mutex_lock(&fake.lock);
	started = fake.started;
	pthread_mutex_unlock(&fake.lock);
	ms = fake_now_ms() - t0;
	most = 5 + (int)(ms * 50 / 1000) + 1;
	if (started > most)
		fail_msg("%d lookups started in %lld ms, want at most %d",
		    started, ms, most);
	if (!fake_wait(&fake.finished, 40, 10000))
		fail_msg("%d of 40 lookups finished", fake.finished);
	ms = fake_now_ms() - t0;
	keycheck_stop(kt);
	fake_end(tid);
	/* 35 after the first 5, at 50 a second: 0.7 s at least */
	if (ms < 650)
		fail_msg("40 lookups done in %lld ms at 50 a second", ms);
	assert_int_equal(fake.started, 40);
}

/* keycheck_states_set_saved_and_pass_logged - the answers land in the keys, the file; one summary line */
static void
keycheck_states_set_saved_and_pass_logged(void **state)
{
	struct keycheck_thread *kt;
	char err[256], globals[600], path[512], text[4096];
	pthread_t tid;
	FILE *f;
	size_t n;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/keystates", dir);
	(void)unlink(path);
	(void)snprintf(globals, sizeof(globals), "key_check_concurrency = 3\n"
	    "state_dir = %s", dir);
	tid = fake_begin(0, 1, 10, globals, "");
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_non_null(kt);
	fake_wait(&fake.finished, 10, 5000);
	usleep(100000);
	assert_int_equal(keys_in_state(KEY_PUB_MISSING), 10);
	/* saved when the pass ended, not only at stop */
	assert_non_null(f = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	keycheck_stop(kt);
	if (!logs_have("key check: pass done in") || !logs_have("10 keys, 0 "
	    "published, 10 missing"))
		fail_msg("no pass summary in:\n%s", buf_cstr(&logs));
	fake_end(tid);
	if (strstr(text, "\nd7.example s1 ") == NULL || strstr(text,
	    " missing\nend 10\n") == NULL)
		fail_msg("states file:\n%s", text);
}

/* keycheck_stop_prompt_mid_check - lookups never answered (30 s deadline): stop within 500 ms */
static void
keycheck_stop_prompt_mid_check(void **state)
{
	struct keycheck_thread *kt;
	long long t0;
	char err[256];
	pthread_t tid;

	(void)state;
	tid = fake_begin(1, 1, 20, "key_check_concurrency = 8\ndns_timeout = 30s",
	    "");
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_non_null(kt);
	assert_true(fake_wait(&fake.started, 8, 5000));
	t0 = fake_now_ms();
	keycheck_stop(kt);
	if (fake_now_ms() - t0 > 500)
		fail_msg("stop took %lld ms", fake_now_ms() - t0);
	assert_int_equal(fake.started, 8);
	assert_int_equal(fake.inflight, 0);	/* each one finished (cancelled) */
	assert_int_equal(keys_in_state(KEY_PUB_UNCHECKED), 20);
	fake_end(tid);
}

/* keycheck_off_looks_nothing_up - key_check = no: no lookup, keys stay unchecked */
static void
keycheck_off_looks_nothing_up(void **state)
{
	struct keycheck_thread *kt;
	char err[256];
	pthread_t tid;

	(void)state;
	tid = fake_begin(0, 1, 5, "key_check = no", "");
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_non_null(kt);
	usleep(200000);
	keycheck_stop(kt);
	assert_int_equal(fake.started, 0);
	assert_int_equal(keys_in_state(KEY_PUB_UNCHECKED), 5);
	fake_end(tid);
}

/* keycheck_reload_looks_up_only_new_keys - a new snapshot: only its keys without a published state */
static void
keycheck_reload_looks_up_only_new_keys(void **state)
{
	struct keycheck_thread *kt;
	struct config *c, *old;
	struct buf text = BUF_INIT;
	char err[256];
	pthread_t tid;
	size_t i;

	(void)state;
	tid = fake_begin(0, 1, 6, "", "");
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_non_null(kt);
	assert_true(fake_wait(&fake.finished, 6, 5000));
	/* the next snapshot: the same six keys, published, and two new */
	for (i = 0; i < 8; i++)
		buf_printf(&text, "domain d%zu.example {\nkey = s1 %s/ka.pem\n}\n",
		    i, dir);
	c = config_load_string(buf_cstr(&text), "t.conf", err, sizeof(err));
	buf_free(&text);
	assert_non_null(c);
	old = config_acquire();
	for (i = 0; i < old->ndomains; i++)
		keys_pub_set(&old->domains[i].keys[0], KEY_PUB_PUBLISHED);
	assert_int_equal(keycheck_carry_over(old, c), 6);
	config_release(old);
	config_install(c);
	keycheck_wake(kt);
	assert_true(fake_wait(&fake.finished, 8, 5000));
	usleep(100000);
	keycheck_stop(kt);
	assert_int_equal(fake.started, 8);	/* 6 at start, then the 2 new */
	assert_int_equal(keys_in_state(KEY_PUB_PUBLISHED), 6);
	assert_int_equal(keys_in_state(KEY_PUB_MISSING), 2);
	fake_end(tid);
}

/* key_of_domain - the first key of block name in the installed snapshot (pinned by the test's snapshot) */
static struct key *
key_of_domain(const char *name)
{
	struct config *c = config_acquire();
	const struct config_domain *d = config_find_domain(c, name);

	config_release(c);	/* installed until fake_end: stays alive */
	assert_non_null(d);
	return &d->keys[0];
}

/*
 * keycheck_recheck_looks_one_domain_up_again - authmilterctl check: only
 * that domain's key is looked up again and its new state is in when the
 * call returns; an unknown domain is refused, no answer times out, and a
 * cancel ends every wait at once
 */
static void
keycheck_recheck_looks_one_domain_up_again(void **state)
{
	struct keycheck_thread *kt;
	char err[256];
	pthread_t tid;
	long long t0;

	(void)state;
	tid = fake_begin(0, 1, 3, "", "");
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_non_null(kt);
	assert_true(fake_wait(&fake.finished, 3, 5000));
	keys_pub_set(key_of_domain("d1.example"), KEY_PUB_PUBLISHED);
	assert_int_equal(keycheck_recheck(kt, "d1.example", 5000, err,
	    sizeof(err)), 0);
	assert_int_equal(keys_pub_get(key_of_domain("d1.example")),
	    KEY_PUB_MISSING);
	assert_int_equal(fake.started, 4);	/* that key only */
	assert_int_equal(keycheck_recheck(kt, "nope.example", 5000, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no such domain"));
	pthread_mutex_lock(&fake.lock);
	fake.drop = 1;
	pthread_mutex_unlock(&fake.lock);
	t0 = fake_now_ms();
	assert_int_equal(keycheck_recheck(kt, "d0.example", 300, err,
	    sizeof(err)), 1);
	assert_true(fake_now_ms() - t0 < 3000);
	assert_non_null(strstr(err, "within 300 ms"));
	keycheck_recheck_cancel(kt);
	t0 = fake_now_ms();
	assert_int_equal(keycheck_recheck(kt, "d2.example", 5000, err,
	    sizeof(err)), -1);
	assert_true(fake_now_ms() - t0 < 1000);
	keycheck_stop(kt);
	fake_end(tid);
}

/* keysched_spreads_a_pass_over_the_interval - 10 keys, 1000 ms: one every 100 ms */
static void
keysched_spreads_a_pass_over_the_interval(void **state)
{
	struct keysched s;
	long long t;
	size_t i, got = 0;
	int per_window[30] = { 0 };

	(void)state;
	keysched_init(&s, 10, 1000, 0);
	assert_int_equal(keysched_wake(&s, 0), 1000);	/* first period: an interval on */
	for (t = 0; t < 3000; t++)
		while (keysched_next(&s, t, &i) == KEYSCHED_PERIODIC) {
			if (i != got % 10)
				fail_msg("key %zu at %lld ms, want %zu", i, t, got % 10);
			got++;
			per_window[t / 100]++;
		}
	assert_int_equal(got, 20);	/* two periods: 1000..1999, 2000..2999 */
	/* none in the first interval (the start-up pass's), then one per 100 ms */
	for (i = 0; i < 30; i++)
		if (per_window[i] != (i >= 10))
			fail_msg("%d keys came due in %zu00..%zu99 ms", per_window[i],
			    i, i);
	keysched_free(&s);
}

/* keysched_reset_keeps_the_phase - a reload mid-period does not start over */
static void
keysched_reset_keeps_the_phase(void **state)
{
	struct keysched s;
	size_t i;

	(void)state;
	keysched_init(&s, 10, 1000, 0);
	/* 55% into the first period (1000..2000), with 20 keys: 11 are done */
	keysched_reset(&s, 20, 1000, 1550);
	assert_int_equal(s.cursor, 11);
	assert_int_equal(keysched_due(&s, 11), 1550);
	assert_int_equal(keysched_next(&s, 1549, &i), KEYSCHED_NONE);
	assert_int_equal(keysched_next(&s, 1550, &i), KEYSCHED_PERIODIC);
	assert_int_equal(i, 11);
	/* three periods later, a quarter in */
	keysched_reset(&s, 4, 1000, 4250);
	assert_int_equal(s.period_start, 4000);
	assert_int_equal(s.cursor, 1);
	/* urgent first, then due retries, then the pass */
	keysched_retry(&s, 3, 4300);
	keysched_urgent(&s, 2);
	assert_int_equal(keysched_wake(&s, 4260), 4260);
	assert_int_equal(keysched_next(&s, 4260, &i), KEYSCHED_URGENT);
	assert_int_equal(i, 2);
	assert_int_equal(keysched_wake(&s, 4260), 4250);	/* key 1: due already */
	assert_int_equal(keysched_next(&s, 4260, &i), KEYSCHED_PERIODIC);
	assert_int_equal(i, 1);
	assert_int_equal(keysched_wake(&s, 4260), 4300);
	assert_int_equal(keysched_next(&s, 4300, &i), KEYSCHED_RETRY);
	assert_int_equal(i, 3);
	keysched_free(&s);
}

/* state_of - the state of domain's key sel in c */
static enum key_pub
state_of(const struct config *c, const char *domain, const char *sel)
{
	const struct config_domain *d = config_find_domain(c, domain);
	size_t j;

	for (j = 0; d != NULL && j < d->nkeys; j++)
		if (strcmp(d->keys[j].selector, sel) == 0)
			return keys_pub_get(&d->keys[j]);
	fail_msg("no key %s of %s", sel, domain);
	return KEY_PUB_UNCHECKED;
}

/* state_set - set the state of domain's key sel in c */
static void
state_set(struct config *c, const char *domain, const char *sel, enum key_pub p)
{
	size_t i, j;

	for (i = 0; i < c->ndomains; i++)
		for (j = 0; j < c->domains[i].nkeys; j++)
			if (strcmp(c->domains[i].name, domain) == 0
			    && strcmp(c->domains[i].keys[j].selector, sel) == 0)
				keys_pub_set(&c->domains[i].keys[j], p);
}

static const char state_saved_conf[] =
    "domain a.example {\nkey = s1 @/ka.pem\nkey = s2 @/kb.pem\n}\n"
    "domain b.example {\nkey = s1 @/ka.pem\n}\n"
    "domain c.example {\nkey = s1 @/kb.pem\n}\n";
/* the next start: a.example's s2 is another key now, d.example is new */
static const char state_loaded_conf[] =
    "domain a.example {\nkey = s1 @/ka.pem\nkey = s2 @/ka.pem\n}\n"
    "domain b.example {\nkey = s1 @/ka.pem\n}\n"
    "domain c.example {\nkey = s1 @/kb.pem\n}\n"
    "domain d.example {\nkey = s1 @/ka.pem\n}\n";

/* state_save_three - save a snapshot with three definite states and one unknown */
static void
state_save_three(void)
{
	struct config *c = state_conf(state_saved_conf);
	char err[512];

	state_set(c, "a.example", "s1", KEY_PUB_PUBLISHED);
	state_set(c, "a.example", "s2", KEY_PUB_TRUNCATED);
	state_set(c, "b.example", "s1", KEY_PUB_UNKNOWN);
	state_set(c, "c.example", "s1", KEY_PUB_REVOKED);
	if (keystate_save(c, dir, err, sizeof(err)) != 3)
		fail_msg("save: %s", err);
	config_free(c);
}

/* keystate_round_trip_same_keys_only - what was saved comes back to the same keys */
static void
keystate_round_trip_same_keys_only(void **state)
{
	struct config *c;
	char err[512], path[512];

	(void)state;
	state_save_three();
	(void)snprintf(path, sizeof(path), "%s/keystates.tmp", dir);
	assert_int_not_equal(access(path, F_OK), 0);	/* renamed away */
	c = state_conf(state_loaded_conf);
	state_set(c, "c.example", "s1", KEY_PUB_MISSING);	/* known: kept */
	if (keystate_load(c, dir, err, sizeof(err)) != 1)
		fail_msg("load: %s", err);
	assert_int_equal(state_of(c, "a.example", "s1"), KEY_PUB_PUBLISHED);
	assert_int_equal(state_of(c, "a.example", "s2"), KEY_PUB_UNCHECKED);
	assert_int_equal(state_of(c, "b.example", "s1"), KEY_PUB_UNCHECKED);
	assert_int_equal(state_of(c, "c.example", "s1"), KEY_PUB_MISSING);
	assert_int_equal(state_of(c, "d.example", "s1"), KEY_PUB_UNCHECKED);
	config_free(c);
	/* no file: nothing restored, no error */
	(void)snprintf(path, sizeof(path), "%s/keystates", dir);
	assert_int_equal(unlink(path), 0);
	c = state_conf(state_loaded_conf);
	assert_int_equal(keystate_load(c, dir, err, sizeof(err)), 0);
	config_free(c);
}

/* How a saved file is damaged: sed-like edits on its text. */
static const struct state_damage {
	const char *name;
	const char *find;		/* replaced by repl (NULL: cut the text at half) */
	const char *repl;
	const char *err;		/* substring of the error */
} state_damages[] = {
	{ "end line missing", "end 3\n", "", "cut short" },
	{ "cut in the middle", NULL, NULL, "cut short" },
	{ "end count wrong", "end 3\n", "end 4\n", "not a key line" },
	{ "unknown state", "published", "pubished", "not a key line" },
	{ "short fingerprint", " published", "published", "not a key line" },
	{ "other header", "authmilter-keystates 1", "authmilter-keystates 2",
	  "not a key states file" },
	{ "text after the end", "end 3\n", "end 3\nmore\n", "not a key line" },
	{ "empty", "", NULL, "empty" },
};

/* state_damage - the saved file damaged as d says */
static void
state_damage(const struct state_damage *d)
{
	char path[512], text[4096], *at;
	struct buf out = BUF_INIT;
	FILE *f;
	size_t n;

	(void)snprintf(path, sizeof(path), "%s/keystates", dir);
	assert_non_null(f = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (d->find == NULL)
		buf_append(&out, text, n / 2);
	else if (d->repl == NULL)
		;	/* empty */
	else {
		assert_non_null(at = strstr(text, d->find));
		buf_append(&out, text, (size_t)(at - text));
		buf_puts(&out, d->repl);
		buf_puts(&out, at + strlen(d->find));
	}
	assert_int_equal(testutil_write_file(path, buf_cstr(&out)), 0);
	buf_free(&out);
}

/* keystate_damaged_file_ignored - a cut or corrupt file restores nothing */
static void
keystate_damaged_file_ignored(void **state)
{
	struct config *c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(state_damages) / sizeof(state_damages[0]); i++) {
		state_save_three();
		state_damage(&state_damages[i]);
		c = state_conf(state_loaded_conf);
		err[0] = '\0';
		if (keystate_load(c, dir, err, sizeof(err)) != -1
		    || strstr(err, state_damages[i].err) == NULL)
			fail_msg("%s: loaded, or error \"%s\"", state_damages[i].name,
			    err);
		if (state_of(c, "a.example", "s1") != KEY_PUB_UNCHECKED
		    || state_of(c, "c.example", "s1") != KEY_PUB_UNCHECKED)
			fail_msg("%s: a state was restored", state_damages[i].name);
		config_free(c);
	}
}

/* keycheck_thread_restores_and_logs - the thread reads the file at start; a bad one is logged */
static void
keycheck_thread_restores_and_logs(void **state)
{
	struct keycheck_thread *kt;
	struct config *c;
	char err[512], globals[600];
	pthread_t tid;

	(void)state;
	(void)snprintf(globals, sizeof(globals), "state_dir = %s\n"
	    "key_check_concurrency = 2\ndns_timeout = 1s", dir);
	/* a damaged file: ignored, with a line that says why */
	state_save_three();
	state_damage(&state_damages[0]);
	tid = fake_begin(1, 1, 0, globals, state_loaded_conf);
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_true(fake_wait(&fake.started, 2, 5000));
	keycheck_stop(kt);
	fake_end(tid);
	if (!logs_have("key states file ignored: ") || !logs_have("cut short"))
		fail_msg("not logged:\n%s", buf_cstr(&logs));
	/* a whole file: restored before any answer, kept while DNS says nothing */
	state_save_three();
	tid = fake_begin(1, 1, 0, globals, state_loaded_conf);
	kt = keycheck_start(&fake_res, err, sizeof(err));
	assert_true(fake_wait(&fake.started, 2, 5000));
	if (!logs_have("key states: 2 restored from "))
		fail_msg("not logged:\n%s", buf_cstr(&logs));
	usleep(1300000);	/* past the first lookups' deadline */
	assert_true(fake_wait(&fake.finished, 2, 5000));
	c = config_acquire();
	assert_int_equal(state_of(c, "a.example", "s1"), KEY_PUB_PUBLISHED);
	assert_int_equal(state_of(c, "c.example", "s1"), KEY_PUB_REVOKED);
	assert_int_equal(state_of(c, "a.example", "s2"), KEY_PUB_UNKNOWN);
	config_release(c);
	keycheck_stop(kt);
	fake_end(tid);
}

/* A key record, and the k= and p= keyrecord_parse_p reads in 8 bytes. */
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

		p = keyrecord_parse_p(c->record, ktype, sizeof(ktype));
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

static const struct CMUnitTest other_tests[] = {
	cmocka_unit_test(keycheck_carries_only_the_same_key),
	cmocka_unit_test(keycheck_parse_p_cuts_a_long_key_type_visibly),
	cmocka_unit_test(keysched_spreads_a_pass_over_the_interval),
	cmocka_unit_test(keysched_reset_keeps_the_phase),
	cmocka_unit_test(keystate_round_trip_same_keys_only),
	cmocka_unit_test(keystate_damaged_file_ignored),
	cmocka_unit_test(keycheck_lookups_bounded_by_concurrency),
	cmocka_unit_test(keycheck_lookups_bounded_by_rate),
	cmocka_unit_test(keycheck_states_set_saved_and_pass_logged),
	cmocka_unit_test(keycheck_stop_prompt_mid_check),
	cmocka_unit_test(keycheck_off_looks_nothing_up),
	cmocka_unit_test(keycheck_reload_looks_up_only_new_keys),
	cmocka_unit_test(keycheck_recheck_looks_one_domain_up_again),
	cmocka_unit_test(keycheck_thread_restores_and_logs),
};

int
main(void)
{
	enum {
		NCMP = sizeof(cmp_cases) / sizeof(cmp_cases[0]),
		NOTHER = sizeof(other_tests) / sizeof(other_tests[0]),
	};
	struct CMUnitTest tests[NCMP + NOTHER];
	size_t i;

	/* the checker thread's lines come through the hook */
	log_set_syslog_hook(logs_capture);
	log_init(LOG_DEST_SYSLOG, LOG_MAIL, LOG_DEBUG);
	/* one test per comparison row, named by the row, then the others */
	memset(tests, 0, sizeof(tests));
	for (i = 0; i < NCMP; i++) {
		tests[i].name = cmp_cases[i].name;
		tests[i].test_func = keycheck_compare_row;
		tests[i].initial_state = (void *)(uintptr_t)&cmp_cases[i];
	}
	for (i = 0; i < NOTHER; i++)
		tests[NCMP + i] = other_tests[i];
	return _cmocka_run_group_tests("keycheck", tests, NCMP + NOTHER, setup,
	    teardown);
}

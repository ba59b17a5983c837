/*
 * keycheck.c - compare each key's DNS record with the private key.
 *
 * Runs in the reload path (before a snapshot is installed) and in the
 * periodic checker thread; it writes only the keys' atomic states. Also
 * the carry-over of states across a reload and that checker thread (its
 * mutex and condition variable belong to its struct keycheck_thread).
 */
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/buf.h"
#include "policy/keycheck.h"
#include "base/log.h"
#include "policy/runtime.h"
#include "base/xalloc.h"

/* The checker thread and what it shares with keycheck_stop. */
struct keycheck_thread {
	pthread_t tid;			/* the thread */
	struct keycheck_ops ops;	/* copied at start; ops.arg borrowed */
	pthread_mutex_t lock;		/* guards stop */
	pthread_cond_t wake;		/* signalled by keycheck_stop */
	int stop;			/* set once by keycheck_stop */
};

/* keycheck_trim - strip white space at both ends, in place */
static char *
keycheck_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
	    || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/*
 * keycheck_ktype - a k= value into ktype; one too long is cut and ends in
 * "...", so that it never reads as a key type and the cut shows
 */
static void
keycheck_ktype(char *ktype, size_t ktypelen, const char *val)
{
	if ((size_t)snprintf(ktype, ktypelen, "%s", val) >= ktypelen
	    && ktypelen > 3)
		memcpy(ktype + ktypelen - 4, "...", 4);
}

/* keycheck_parse_p - p= of a DKIM key record (RFC 6376 3.6.1) */
char *
keycheck_parse_p(const char *record, char *ktype, size_t ktypelen)
{
	char *copy = xstrdup(record), *save = NULL, *tag, *eq, *name, *val;
	char *p = NULL;
	int first = 1, bad = 0;

	keycheck_ktype(ktype, ktypelen, "rsa");
	for (tag = strtok_r(copy, ";", &save); tag != NULL && !bad;
	    tag = strtok_r(NULL, ";", &save), first = 0) {
		if ((eq = strchr(tag, '=')) == NULL) {
			bad = *keycheck_trim(tag) != '\0';
			continue;
		}
		*eq = '\0';
		name = keycheck_trim(tag);
		val = keycheck_trim(eq + 1);
		if (strcmp(name, "v") == 0)
			bad = !first || strcmp(val, "DKIM1") != 0;
		else if (strcmp(name, "k") == 0)
			keycheck_ktype(ktype, ktypelen, val);
		else if (strcmp(name, "p") == 0 && p == NULL) {
			char *o;

			p = xstrdup(val);
			for (o = p; *val != '\0'; val++)
				if (!isspace((unsigned char)*val))
					*o++ = *val;
			*o = '\0';
		}
	}
	free(copy);
	if (bad) {
		free(p);
		return NULL;
	}
	return p;
}

/* keycheck_compare - state of one record against one key */
enum key_pub
keycheck_compare(const struct key *k, const char *record, char *detail,
    size_t detaillen)
{
	char ktype[32], *p, *want;
	enum key_pub st;
	size_t plen, wlen;

	p = keycheck_parse_p(record, ktype, sizeof(ktype));
	if (p == NULL) {
		(void)snprintf(detail, detaillen, "not a DKIM key record (no p= or bad v=)");
		return KEY_PUB_MISMATCHED;
	}
	want = keys_public_b64(k->pkey);
	plen = strlen(p);
	wlen = want ? strlen(want) : 0;
	if (plen == 0) {
		st = KEY_PUB_REVOKED;
		(void)snprintf(detail, detaillen, "p= is empty: key revoked");
	} else if (strcasecmp(ktype, keys_type_name(k->type)) != 0) {
		st = KEY_PUB_MISMATCHED;
		(void)snprintf(detail, detaillen, "record has k=%s, key is %s", ktype,
		    keys_type_name(k->type));
	} else if (want != NULL && strcmp(p, want) == 0) {
		st = KEY_PUB_PUBLISHED;
		(void)snprintf(detail, detaillen, "p= matches the %d-bit key", k->bits);
	} else if (want != NULL && plen < wlen && strncmp(p, want, plen) == 0) {
		st = KEY_PUB_TRUNCATED;
		(void)snprintf(detail, detaillen, "p= holds only the first %zu of %zu "
		    "characters: the DNS host cut the record", plen, wlen);
	} else {
		st = KEY_PUB_MISMATCHED;
		(void)snprintf(detail, detaillen, "p= is a different key");
	}
	free(p);
	free(want);
	return st;
}

/* keycheck_shape - record length and character-string sizes of TXT rdata */
static void
keycheck_shape(const unsigned char *rd, size_t len, struct keycheck_info *info)
{
	size_t i = 0, n;

	info->nstrings = 0;
	info->longest = 0;
	while (i < len) {
		n = rd[i];
		info->nstrings++;
		if (n > info->longest)
			info->longest = n;
		i += n + 1;
	}
}

/* keycheck_key - look one key up and compare */
enum key_pub
keycheck_key(struct dns *d, const char *domain, const struct key *k,
    struct keycheck_info *info)
{
	struct dns_result r;
	struct buf name = BUF_INIT, txt = BUF_INIT;
	enum key_pub st = KEY_PUB_MISSING, one;
	char detail[512];
	size_t i;

	memset(info, 0, sizeof(*info));
	buf_printf(&name, "%s._domainkey.%s", k->selector, domain);
	switch (dns_resolve(d, buf_cstr(&name), ns_t_txt, 0, &r)) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		(void)snprintf(info->detail, sizeof(info->detail), "%s: no TXT record",
		    buf_cstr(&name));
		goto out;
	default:
		st = KEY_PUB_UNKNOWN;
		(void)snprintf(info->detail, sizeof(info->detail), "%s: DNS %s",
		    buf_cstr(&name), dns_status_name(r.status));
		goto out;
	}
	(void)snprintf(info->detail, sizeof(info->detail), "%s: no DKIM record among "
	    "%zu TXT records", buf_cstr(&name), r.n);
	for (i = 0; i < r.n && st != KEY_PUB_PUBLISHED; i++) {
		if (dns_txt(&r, i, &txt) != 0)
			continue;
		one = keycheck_compare(k, buf_cstr(&txt), detail, sizeof(detail));
		/* the best verdict among several records wins */
		if (st == KEY_PUB_MISSING || one == KEY_PUB_PUBLISHED
		    || one == KEY_PUB_TRUNCATED) {
			st = one;
			info->record_len = txt.len;
			keycheck_shape(r.data[i], r.len[i], info);
			(void)snprintf(info->detail, sizeof(info->detail), "%s: %s",
			    buf_cstr(&name), detail);
		}
	}
out:
	dns_result_free(&r);
	buf_free(&name);
	buf_free(&txt);
	return st;
}

/* keycheck_config - check all keys, store states, log what matters */
int
keycheck_config(struct config *c, struct dns *d)
{
	struct keycheck_info info;
	struct key *k;
	enum key_pub st, old;
	size_t i, j;
	int problems = 0;

	for (i = 0; i < c->ndomains; i++) {
		for (j = 0; j < c->domains[i].nkeys; j++) {
			k = &c->domains[i].keys[j];
			old = keys_pub_get(k);
			st = keycheck_key(d, c->domains[i].name, k, &info);
			keys_pub_set(k, st);
			if (st != KEY_PUB_PUBLISHED)
				problems++;
			if (st == old)
				continue;
			if (st == KEY_PUB_UNKNOWN && old != KEY_PUB_UNCHECKED) {
				/* no answer: the known verdict stands; say so quietly */
				log_debug(NULL, "key %s of %s: %s; keeping \"%s\"",
				    k->selector, c->domains[i].name, info.detail,
				    keys_pub_name(old));
				continue;
			}
			log_msg(st == KEY_PUB_PUBLISHED ? LOG_INFO : LOG_WARNING, NULL,
			    "key %s of %s (%d bits): record %s (%s)", k->selector,
			    c->domains[i].name, k->bits, keys_pub_name(st), info.detail);
		}
	}
	return problems;
}

/* keycheck_carry_key - give k old's verdict if old is the same key with one */
static void
keycheck_carry_key(const struct config_domain *od, const char *domain,
    struct key *k)
{
	const struct key *ok;
	enum key_pub was;
	size_t m;

	for (m = 0; m < od->nkeys; m++) {
		ok = &od->keys[m];
		if (strcmp(ok->selector, k->selector) != 0)
			continue;
		was = keys_pub_get(ok);
		/* a new key file under the old selector: no verdict */
		if (was != KEY_PUB_UNCHECKED && was != KEY_PUB_UNKNOWN
		    && EVP_PKEY_eq(ok->pkey, k->pkey) == 1) {
			keys_pub_set(k, was);
			log_notice(NULL, "key %s of %s: no DNS answer; keeping "
			    "the running verdict: record %s", k->selector, domain,
			    keys_pub_name(was));
		}
		return;
	}
}

/* keycheck_carry_over - UNKNOWN keys of new_cfg take old_cfg's verdict */
void
keycheck_carry_over(const struct config *old_cfg, struct config *new_cfg)
{
	const struct config_domain *od;
	struct key *k;
	size_t i, j;

	for (i = 0; old_cfg != NULL && i < new_cfg->ndomains; i++) {
		od = config_find_domain(old_cfg, new_cfg->domains[i].name);
		for (j = 0; od != NULL && j < new_cfg->domains[i].nkeys; j++) {
			k = &new_cfg->domains[i].keys[j];
			if (keys_pub_get(k) == KEY_PUB_UNKNOWN)
				keycheck_carry_key(od, new_cfg->domains[i].name, k);
		}
	}
}

/* keycheck_running_interval_ms - the running snapshot's key_check_interval */
static long
keycheck_running_interval_ms(void *arg)
{
	struct config *c = config_acquire();
	long every = c != NULL ? c->key_check_interval : 0;

	(void)arg;
	config_release(c);
	return every > 0 ? every * 1000 : 0;
}

/* keycheck_running_check - check the running snapshot's keys */
static void
keycheck_running_check(void *arg)
{
	struct config *c = config_acquire();

	(void)arg;
	if (c != NULL && runtime_of(c) != NULL)
		keycheck_config(c, runtime_of(c)->dns);
	config_release(c);
}

/* keycheck_deadline - the CLOCK_REALTIME time ms from now */
static struct timespec
keycheck_deadline(long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return until;
}

/*
 * keycheck_thread_main - wait an interval (or a stop), run a round,
 * repeat; in a thread of its own so that a slow DNS never delays signal
 * handling or a reload
 */
static void *
keycheck_thread_main(void *arg)
{
	struct keycheck_thread *kt = arg;
	long idle = kt->ops.idle_ms > 0 ? kt->ops.idle_ms : KEYCHECK_IDLE_MS;
	struct timespec until;
	long every;
	int stop;

	for (;;) {
		every = kt->ops.interval_ms(kt->ops.arg);
		until = keycheck_deadline(every > 0 ? every : idle);
		pthread_mutex_lock(&kt->lock);
		/* 0: a spurious wake-up or a signal; ETIMEDOUT ends the wait */
		while (!kt->stop && pthread_cond_timedwait(&kt->wake, &kt->lock,
		    &until) == 0)
			;
		stop = kt->stop;
		pthread_mutex_unlock(&kt->lock);
		if (stop) {
			OPENSSL_thread_stop();	/* its per-thread state, now */
			return NULL;
		}
		if (every > 0)
			kt->ops.check(kt->ops.arg);
	}
}

/* keycheck_start - start the checker thread */
struct keycheck_thread *
keycheck_start(const struct keycheck_ops *ops, char *err, size_t errlen)
{
	static const struct keycheck_ops running = {
		keycheck_running_interval_ms, keycheck_running_check, NULL, 0
	};
	struct keycheck_thread *kt = xcalloc(1, sizeof(*kt));
	int rc;

	kt->ops = ops != NULL ? *ops : running;
	pthread_mutex_init(&kt->lock, NULL);
	pthread_cond_init(&kt->wake, NULL);
	if ((rc = pthread_create(&kt->tid, NULL, keycheck_thread_main, kt)) != 0) {
		errno = rc;
		(void)snprintf(err, errlen, "cannot start the key check thread: "
		    "%m");
		pthread_cond_destroy(&kt->wake);
		pthread_mutex_destroy(&kt->lock);
		free(kt);
		return NULL;
	}
	return kt;
}

/* keycheck_stop - end the checker thread and free it */
void
keycheck_stop(struct keycheck_thread *kt)
{
	if (kt == NULL)
		return;
	pthread_mutex_lock(&kt->lock);
	kt->stop = 1;
	pthread_cond_signal(&kt->wake);
	pthread_mutex_unlock(&kt->lock);
	pthread_join(kt->tid, NULL);
	pthread_cond_destroy(&kt->wake);
	pthread_mutex_destroy(&kt->lock);
	free(kt);
}

/*
 * config.c - parse authmilter.conf into an immutable, refcounted snapshot.
 *
 * Syntax: `name = value` lines, `#` starts a comment (at line start or
 * after whitespace), `domain NAME {` ... `}` blocks holding the options
 * a domain may override, and `include PATTERN` (config_file.c). Every error
 * names FILE:LINE and the reason. This file handles one statement at a
 * time, then checks the whole, loads the keys and leaves out the blocks
 * that failed; values are parsed in config_value.c, and blocks are found
 * (names in A-labels, subdomains) by config_lookup.c.
 *
 * Threading: config_load runs in one thread (start-up or the reload
 * thread). The current-snapshot pointer is guarded by a mutex; reference
 * counts are atomic, so connections pin and release from any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "base/buf.h"
#include "policy/config.h"
#include "policy/config_parse.h"
#include "policy/config_table.h"
#include "base/log.h"
#include "base/mailaddr.h"
#include "base/secret.h"
#include "auth/sign.h"
#include "base/xalloc.h"

_Static_assert(CONFIG_PARSE_MAX_OPTIONS >= 32, "room for the option table");

/* config_vreport - record one error (see config_report) */
static int
config_vreport(struct config_parse *p, struct config_domain *d,
    const char *fmt, va_list ap)
{
	struct config_problems *probs = p->probs;
	struct config_problem *e;
	char reason[512];
	struct buf text = BUF_INIT;

	(void)vsnprintf(reason, sizeof(reason), fmt, ap);
	if (p->name == NULL)
		buf_puts(&text, reason);
	else if (p->line > 0)
		buf_printf(&text, "%s:%d: %s", p->name, p->line, reason);
	else
		buf_printf(&text, "%s: %s", p->name, reason);
	probs->v = xreallocarray(probs->v, probs->n + 1, sizeof(*probs->v));
	e = &probs->v[probs->n++];
	e->text = buf_steal(&text);
	e->domain = d != NULL ? xstrdup(d->name) : NULL;
	e->fatal = d == NULL && !p->included;
	if (d != NULL)
		d->failed = 1;
	else if (p->included)
		p->file_failed = 1;
	else
		probs->nfatal++;
	return -1;
}

/* config_report - record an error that takes down d (NULL: the file or the load) */
int
config_report(struct config_parse *p, struct config_domain *d,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vreport(p, d, fmt, ap);
	va_end(ap);
	return -1;
}

/* config_error - record an error of the open block (or of the file, or the load, at top level) */
int
config_error(struct config_parse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vreport(p, p->dom, fmt, ap);
	va_end(ap);
	return -1;
}

/* config_problems_free - release an error list */
void
config_problems_free(struct config_problems *probs)
{
	size_t i;

	for (i = 0; i < probs->n; i++) {
		free(probs->v[i].text);
		free(probs->v[i].domain);
	}
	free(probs->v);
	memset(probs, 0, sizeof(*probs));
}

static void config_domain_free(struct config_domain *d);

/* config_set - parse value for option o into the storage at base */
static int
config_set(struct config_parse *p, const struct opt_def *o, char *base,
    const char *value)
{
	return config_types[o->type].set(p, o, base + o->offset, value);
}

/* config_row_base - where a global row is stored: the snapshot, or its block defaults */
static char *
config_row_base(struct config *c, const struct opt_def *o)
{
	return (o->scope & OPT_BLOCK) ? (char *)&c->defaults : (char *)c;
}

/* config_find_option - table row by name */
static const struct opt_def *
config_find_option(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < config_noptions; i++)
		if (strcmp(config_options[i].name, name) == 0) {
			*idx = i;
			return &config_options[i];
		}
	return NULL;
}

/* config_new_block - append a block named name, opened at the current line */
static struct config_domain *
config_new_block(struct config_parse *p, const char *name)
{
	struct config_domain *d;

	/* doubling: 100,000 blocks must not mean 100,000 copies of the array */
	if (p->c->ndomains == p->domains_cap) {
		p->domains_cap = p->domains_cap ? p->domains_cap * 2 : 16;
		p->c->domains = xreallocarray(p->c->domains, p->domains_cap,
		    sizeof(*p->c->domains));
	}
	d = &p->c->domains[p->c->ndomains++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->file = p->name;
	d->line = p->line;
	memset(p->dline, 0, sizeof(p->dline));
	return d;
}

/*
 * config_open_block - handle "domain NAME {". A block still open is closed
 * and fails; a bad name opens a failed block, so that its lines are not
 * taken for global ones.
 */
static void
config_open_block(struct config_parse *p, char *rest)
{
	char *name, *brace, *q;

	if (p->dom != NULL) {
		config_error(p, "domain blocks cannot nest (missing \"}\" for "
		    "domain %s?)", p->dom->name);
		p->dom = NULL;
	}
	name = rest + strspn(rest, " \t");
	brace = strchr(name, '{');
	if (brace == NULL || brace[1 + strspn(brace + 1, " \t")] != '\0') {
		config_error(p, "expected \"domain NAME {\"");
		return;
	}
	*brace = '\0';
	for (q = brace; q > name && (q[-1] == ' ' || q[-1] == '\t'); q--)
		q[-1] = '\0';
	for (q = name; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	p->dom = config_new_block(p, name);
	if (!mailaddr_domain_ok(name, strlen(name), MAILADDR_DOMAIN_UTF8))
		config_error(p, "\"%s\" is not a domain name", name);
}

/* config_option_line - handle "name = value" */
static void
config_option_line(struct config_parse *p, char *s)
{
	const struct opt_def *o;
	char *eq, *name, *value, *q;
	size_t idx;
	int *lines;

	eq = strchr(s, '=');
	if (eq == NULL) {
		config_error(p, "expected \"name = value\"");
		return;
	}
	*eq = '\0';
	name = s;
	for (q = eq; q > name && (q[-1] == ' ' || q[-1] == '\t'); q--)
		q[-1] = '\0';
	value = eq + 1 + strspn(eq + 1, " \t");
	if ((o = config_find_option(name, &idx)) == NULL)
		config_error(p, "unknown option \"%s\"", name);
	else if (p->dom != NULL && !(o->scope & OPT_BLOCK))
		config_error(p, "option \"%s\" is not allowed inside a domain "
		    "block", name);
	else if (p->dom == NULL && !(o->scope & OPT_GLOBAL))
		config_error(p, "option \"%s\" belongs inside a domain block",
		    name);
	else if (p->dom == NULL && p->included)
		config_error(p, "option \"%s\": an included file holds domain "
		    "blocks only (global options belong in %s)", name, p->c->path);
	else if (o->type != OPT_KEY && (lines = p->dom != NULL ? p->dline
	    : p->gline)[idx] != 0)
		config_error(p, "option \"%s\" set twice (first at line %d)",
		    name, lines[idx]);
	else if (p->dom != NULL) {
		p->dline[idx] = p->line;
		p->dom->set |= 1ull << idx;
		config_set(p, o, (char *)p->dom, value);
	} else {
		p->gline[idx] = p->line;
		config_set(p, o, config_row_base(p->c, o), value);
	}
}

/* config_keyword - s starts with word followed by a blank: the rest, else NULL */
static char *
config_keyword(char *s, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(s, word, n) != 0 || (s[n] != ' ' && s[n] != '\t'))
		return NULL;
	return s + n + strspn(s + n, " \t");
}

/* config_parse_line - one line of a file */
void
config_parse_line(struct config_parse *p, char *s)
{
	char *q, *rest;
	size_t n;

	for (q = s; *q != '\0'; q++)	/* comment: '#' at start or after blank */
		if (*q == '#' && (q == s || q[-1] == ' ' || q[-1] == '\t')) {
			*q = '\0';
			break;
		}
	s += strspn(s, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	if (n == 0)
		return;
	for (q = s; *q != '\0'; q++)
		if (iscntrl((unsigned char)*q) && *q != '\t') {
			config_error(p, "control character in line");
			return;
		}
	if (strcmp(s, "}") == 0) {
		if (p->dom == NULL)
			config_error(p, "\"}\" without an open domain block");
		p->dom = NULL;
	} else if ((rest = config_keyword(s, "domain")) != NULL)
		config_open_block(p, rest);
	else if ((rest = config_keyword(s, "include")) != NULL)
		config_file_include(p, rest);
	else
		config_option_line(p, s);
}

/* config_apply_defaults - parse every option's default into the snapshot */
static int
config_apply_defaults(struct config_parse *p)
{
	const struct opt_def *o;
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if (o->def == NULL || !(o->scope & OPT_GLOBAL))
			continue;
		if (config_set(p, o, config_row_base(p->c, o), o->def) != 0)
			return -1;
	}
	return 0;
}

/* config_inherit - copy unset per-domain options from the global defaults */
static void
config_inherit(struct config *c, struct config_domain *d)
{
	const struct opt_def *o;
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if ((o->scope & (OPT_GLOBAL | OPT_BLOCK)) != (OPT_GLOBAL | OPT_BLOCK)
		    || (d->set & (1ull << i)))
			continue;
		config_types[o->type].copy((char *)d + o->offset,
		    (const char *)&c->defaults + o->offset, o->size);
	}
}

/* config_cmp_ptr - the order of two blocks in the file (for ties) */
static int
config_cmp_ptr(const void *a, const void *b)
{
	const struct config_domain *x = *(const struct config_domain *const *)a;
	const struct config_domain *y = *(const struct config_domain *const *)b;

	return x < y ? -1 : x > y;
}

/* config_cmp_name - order blocks by name, then file order (for qsort) */
static int
config_cmp_name(const void *a, const void *b)
{
	int r = strcasecmp((*(const struct config_domain *const *)a)->name,
	    (*(const struct config_domain *const *)b)->name);

	return r != 0 ? r : config_cmp_ptr(a, b);
}

/* config_cmp_bounce - order blocks by bounce_domain, then file order (for qsort) */
static int
config_cmp_bounce(const void *a, const void *b)
{
	int r = strcasecmp(
	    (*(const struct config_domain *const *)a)->bounce_domain,
	    (*(const struct config_domain *const *)b)->bounce_domain);

	return r != 0 ? r : config_cmp_ptr(a, b);
}

/* config_index - sorted lookup tables of the blocks that did not fail */
static void
config_index(struct config *c)
{
	size_t i, n = 0;

	free(c->by_name);
	free(c->by_bounce);
	c->nbounce = 0;
	c->by_name = xcalloc(c->ndomains + 1, sizeof(*c->by_name));
	c->by_bounce = xcalloc(c->ndomains + 1, sizeof(*c->by_bounce));
	for (i = 0; i < c->ndomains; i++) {
		if (c->domains[i].failed)
			continue;
		c->by_name[n++] = &c->domains[i];
		if (c->domains[i].bounce_domain != NULL
		    && c->domains[i].bounce_domain[0] != '\0')
			c->by_bounce[c->nbounce++] = &c->domains[i];
	}
	qsort(c->by_name, n, sizeof(*c->by_name), config_cmp_name);
	qsort(c->by_bounce, c->nbounce, sizeof(*c->by_bounce), config_cmp_bounce);
}

/* config_at - point messages at a block's file and a line of it */
static void
config_at(struct config_parse *p, const struct config_domain *d, int line)
{
	p->name = d->file;
	p->line = line;
}

/* config_check_names - a second block for a name fails (sorted, not pairwise: 100,000 blocks) */
static void
config_check_names(struct config_parse *p)
{
	struct config *c = p->c;
	struct config_domain **v;
	size_t i;

	v = xcalloc(c->ndomains + 1, sizeof(*v));
	for (i = 0; i < c->ndomains; i++)
		v[i] = &c->domains[i];
	qsort(v, c->ndomains, sizeof(*v), config_cmp_name);
	for (i = 1; i < c->ndomains; i++)
		if (strcasecmp(v[i - 1]->name, v[i]->name) == 0) {
			config_at(p, v[i], v[i]->line);
			config_report(p, v[i], "domain %s: second block (first at "
			    "%s:%d)", v[i]->name, v[i - 1]->file, v[i - 1]->line);
		}
	free(v);
}

/* config_check_bounce - a bounce_domain a block before it took fails the later block */
static void
config_check_bounce(struct config_parse *p)
{
	struct config *c = p->c;
	const struct config_domain *first;
	size_t i;

	config_index(c);
	for (i = 1; i < c->nbounce; i++)
		if (strcasecmp(c->by_bounce[i - 1]->bounce_domain,
		    c->by_bounce[i]->bounce_domain) == 0) {
			first = c->by_bounce[i - 1];
			config_at(p, c->by_bounce[i], c->by_bounce[i]->line);
			config_report(p, (struct config_domain *)c->by_bounce[i],
			    "bounce_domain %s is used by domains %s and %s",
			    first->bounce_domain, first->name, c->by_bounce[i]->name);
		}
}

/* config_key_paths - the files of keys named by selector only: key_dir/DOMAIN/SELECTOR.pem */
static void
config_key_paths(struct config_parse *p, struct config_domain *d)
{
	const char *kd = p->c->key_dir;
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < d->nkeys; i++) {
		if (d->keys[i].path != NULL)
			continue;
		if (kd[0] == '\0') {
			config_at(p, d, d->keys[i].line);
			config_report(p, d, "key %s: no file named, and key_dir is "
			    "not set", d->keys[i].selector);
			continue;
		}
		buf_reset(&b);
		if (kd[0] != '/')
			buf_printf(&b, "%s/", p->main_dir);
		buf_printf(&b, "%s/%s/%s.pem", kd, d->name, d->keys[i].selector);
		d->keys[i].path = xstrdup(buf_cstr(&b));
	}
	buf_free(&b);
}

/* config_check_domain - one block's own checks once every file is read */
static void
config_check_domain(struct config_parse *p, struct config_domain *d)
{
	if (d->failed || d->reused)	/* reused: checked when first read */
		return;
	config_inherit(p->c, d);
	config_at(p, d, d->line);
	if (d->nkeys == 0) {
		config_report(p, d, "domain %s has no key", d->name);
		return;
	}
	if (d->bounce_domain != NULL && d->bounce_domain[0] != '\0'
	    && p->c->bounce_secret.n == 0) {
		config_report(p, d, "domain %s has a bounce_domain but no "
		    "bounce_secret is configured", d->name);
		return;
	}
	config_key_paths(p, d);
}

/* config_check_globals - the global part's cross-option checks, once the blocks are settled */
static void
config_check_globals(struct config_parse *p)
{
	struct config *c = p->c;
	char host[256];
	size_t i;

	p->name = c->path;
	p->line = 0;
	if (c->platform_domain[0] != '\0') {
		c->platform = config_find_domain(c, c->platform_domain);
		for (i = 0; c->platform == NULL && i < c->failed.n; i++)
			if (strcasecmp(c->failed.v[i], c->platform_domain) == 0)
				break;
		if (c->platform == NULL && i < c->failed.n)
			config_report(p, NULL, "platform_domain %s: its domain block "
			    "was left out for errors", c->platform_domain);
		else if (c->platform == NULL)
			config_report(p, NULL, "platform_domain %s has no domain "
			    "block with its keys", c->platform_domain);
	}
	if (c->user[0] != '\0') {
		struct passwd pw, *res = NULL;
		char pwbuf[4096];

		if (getpwnam_r(c->user, &pw, pwbuf, sizeof(pwbuf), &res) != 0
		    || res == NULL)
			config_report(p, NULL, "user \"%s\" does not exist", c->user);
	}
	if (c->authserv_id[0] == '\0') {
		if (gethostname(host, sizeof(host)) != 0)
			(void)snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		free(c->authserv_id);
		c->authserv_id = xstrdup(host);
	}
}

/* config_bounce_secret_index - the table row of bounce_secret */
static size_t
config_bounce_secret_index(void)
{
	size_t i = 0;

	config_find_option("bounce_secret", &i);
	return i;
}

/* config_secret_flags - secret_read flags from the options */
int
config_secret_flags(const struct config *c)
{
	return (c->allow_group_readable_keys ? SECRET_ALLOW_GROUP : 0)
	    | (c->key_symlinks == CONFIG_KEY_SYMLINKS_ALLOW ?
	    SECRET_ALLOW_SYMLINK : 0);
}

/* config_read_secret - the permission-checked bytes of a key or secret file */
static int
config_read_secret(const struct config_parse *p, const char *path,
    const char *what, size_t max, struct buf *pem, char *ebuf, size_t ebuflen)
{
	int flags = config_secret_flags(p->c);

	if (p->src != NULL && p->src->read_secret != NULL)
		return p->src->read_secret(p->src->arg, path, what, max, flags,
		    pem, ebuf, ebuflen);
	return secret_read(path, what, max, flags, pem, ebuf, ebuflen);
}

/* A key of the load and its block. */
struct config_keyref {
	struct config_domain *d;	/* NULL: a key of the running snapshot */
	struct key *k;
	size_t ord;			/* its place in the load */
	size_t leader;			/* ord of the first key of the load with
					 * the same file (itself if none) */
	int rc;				/* the leader's read: 0 or -1 */
	char *err;			/* the leader's error (owned) */
};

/* config_cmp_keyref - by file identity (unknown last), then the order of the load */
static int
config_cmp_keyref(const void *a, const void *b)
{
	const struct config_keyref *x = a, *y = b;
	int r;

	if (x->k->has_ident != y->k->has_ident)
		return x->k->has_ident ? -1 : 1;
	if (x->k->has_ident && (r = keys_ident_cmp(&x->k->ident,
	    &y->k->ident)) != 0)
		return r;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* config_prev_keys - the parsed keys of the running snapshot, sorted by identity */
static struct config_keyref *
config_prev_keys(const struct config *prev, size_t *np)
{
	struct config_keyref *v;
	size_t i, j, n = 0;

	*np = 0;
	if (prev == NULL)
		return NULL;
	for (i = 0; i < prev->ndomains; i++)
		n += prev->domains[i].nkeys;
	v = xcalloc(n + 1, sizeof(*v));
	n = 0;
	for (i = 0; i < prev->ndomains; i++)
		for (j = 0; j < prev->domains[i].nkeys; j++)
			if (prev->domains[i].keys[j].has_ident
			    && prev->domains[i].keys[j].pkey != NULL) {
				v[n].ord = n;
				v[n++].k = &prev->domains[i].keys[j];
			}
	qsort(v, n, sizeof(*v), config_cmp_keyref);
	*np = n;
	return v;
}

/* config_prev_find - a running key with identity id, or NULL */
static const struct key *
config_prev_find(const struct config_keyref *v, size_t n,
    const struct key_ident *id)
{
	size_t lo = 0, hi = n, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = keys_ident_cmp(&v[mid].k->ident, id);
		if (r == 0)
			return v[mid].k;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* config_stat_key - a key file's identity through the source; 0 or -1 */
static int
config_stat_key(const struct config_parse *p, const char *path,
    struct key_ident *id)
{
	int follow = p->c->key_symlinks == CONFIG_KEY_SYMLINKS_ALLOW;

	if (p->src != NULL && p->src->stat_key != NULL)
		return p->src->stat_key(p->src->arg, path, follow, id);
	return keys_ident_stat(path, follow, id);
}

/* config_read_key - read and parse one key file into k; 0, or -1 with ebuf */
static int
config_read_key(struct config_parse *p, struct keys_decoder *dec,
    struct key *k, struct buf *pem, char *ebuf, size_t ebuflen)
{
	int rc;

	rc = config_read_secret(p, k->path, KEYS_FILE_WHAT, KEYS_MAX_PEM, pem,
	    ebuf, ebuflen);
	if (rc == 0)
		rc = keys_parse_pem_with(dec, k, buf_cstr(pem), pem->len, ebuf,
		    ebuflen);
	if (pem->data != NULL)
		OPENSSL_cleanse(pem->data, pem->len);
	return rc;
}

/* config_key_leaders - each key's leader: the first key of the load reading the same file */
static void
config_key_leaders(struct config_keyref *need, size_t n)
{
	struct config_keyref *by_id = xcalloc(n + 1, sizeof(*by_id));
	size_t i, lead = 0;

	memcpy(by_id, need, n * sizeof(*need));
	qsort(by_id, n, sizeof(*by_id), config_cmp_keyref);
	for (i = 0; i < n; i++) {
		if (i == 0 || !by_id[i].k->has_ident
		    || keys_ident_cmp(&by_id[i].k->ident, &by_id[i - 1].k->ident))
			lead = by_id[i].ord;
		need[by_id[i].ord].leader = lead;
	}
	free(by_id);
}

#define CONFIG_KEY_THREADS_MAX 8	/* key readers at a start */
#define CONFIG_KEY_THREADS_MIN_KEYS 256	/* fewer keys: one thread */

/* Key files to read, shared by the reader threads of one load. */
struct config_keyjob {
	struct config_parse *p;		/* the load (its source and options: read only) */
	struct config_keyref *need;	/* the keys; each thread fills the leaders it takes */
	size_t n;
	size_t next;			/* the next index to take (atomic) */
};

/* config_keyjob_run - read and parse leaders until none is left (a thread, or the caller) */
static void *
config_keyjob_run(void *arg)
{
	struct config_keyjob *job = arg;
	struct keys_decoder *dec = keys_decoder_new();
	struct buf pem = BUF_INIT;
	char ebuf[512];
	size_t i;

	while ((i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED)) < job->n) {
		if (job->need[i].leader != i)
			continue;
		job->need[i].rc = config_read_key(job->p, dec, job->need[i].k,
		    &pem, ebuf, sizeof(ebuf));
		if (job->need[i].rc != 0)
			job->need[i].err = xstrdup(ebuf);
	}
	if (pem.data != NULL)
		OPENSSL_cleanse(pem.data, pem.len);
	buf_free(&pem);
	keys_decoder_free(dec);
	return NULL;
}

/* config_keyjob_thread - config_keyjob_run on a thread of its own */
static void *
config_keyjob_thread(void *arg)
{
	config_keyjob_run(arg);
	OPENSSL_thread_stop();	/* its per-thread state, now */
	return NULL;
}

/*
 * config_read_leaders - read and parse the leaders of need (the others
 * share them later), on up to CONFIG_KEY_THREADS_MAX threads when reading
 * files directly (a start: 100,000 files of 30 us CPU and a dozen
 * syscalls each); through a source's bytes (the key reader's) one thread
 */
static void
config_read_leaders(struct config_parse *p, struct config_keyref *need,
    size_t n)
{
	struct config_keyjob job = { p, need, n, 0 };
	pthread_t tid[CONFIG_KEY_THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t i, nt = 0, want;

	want = cpus > 1 ? (size_t)cpus : 1;
	if (want > CONFIG_KEY_THREADS_MAX)
		want = CONFIG_KEY_THREADS_MAX;
	if (n < CONFIG_KEY_THREADS_MIN_KEYS
	    || (p->src != NULL && p->src->read_secret != NULL))
		want = 1;
	for (i = 1; i < want; i++)	/* the caller is one of them */
		if (pthread_create(&tid[nt], NULL, config_keyjob_thread, &job) == 0)
			nt++;
	config_keyjob_run(&job);
	for (i = 0; i < nt; i++)
		pthread_join(tid[i], NULL);
}

/*
 * config_domain_keys - every block's keys: one stat each; a file the
 * running snapshot holds unchanged is shared, the others are read once
 * (a file named by several blocks too), in the order of the load, after
 * one fetch of them all
 */
static void
config_domain_keys(struct config_parse *p)
{
	struct config *c = p->c;
	struct config_keyref *prev, *need;
	struct key_ident was;
	const struct key *old;
	const char **paths;
	char ferr[512];
	size_t i, j, nprev, nneed = 0, npaths = 0, total = 0;
	struct key *k;

	prev = config_prev_keys(p->src != NULL ? p->src->prev : NULL, &nprev);
	for (i = 0; i < c->ndomains; i++)
		total += c->domains[i].failed ? 0 : c->domains[i].nkeys;
	need = xcalloc(total + 1, sizeof(*need));
	for (i = 0; i < c->ndomains; i++) {
		if (c->domains[i].failed)
			continue;
		for (j = 0; j < c->domains[i].nkeys; j++) {
			k = &c->domains[i].keys[j];
			if (k->pkey != NULL) {	/* a reused block's: still the file? */
				was = k->ident;
				k->has_ident = config_stat_key(p, k->path,
				    &k->ident) == 0;
				if (k->has_ident && keys_ident_cmp(&was,
				    &k->ident) == 0) {
					c->keys_reused++;
					continue;
				}
				EVP_PKEY_free(k->pkey);	/* changed: read anew */
				k->pkey = NULL;
				k->pub = KEY_PUB_UNCHECKED;
				k->phase = KEY_PHASE_UNSEEN;
			}
			k->has_ident = config_stat_key(p, k->path, &k->ident) == 0;
			old = k->has_ident ? config_prev_find(prev, nprev,
			    &k->ident) : NULL;
			if (old != NULL) {
				keys_share(k, old);
				c->keys_reused++;
				continue;
			}
			need[nneed].d = &c->domains[i];
			need[nneed].ord = nneed;
			need[nneed++].k = k;
		}
	}
	free(prev);
	config_key_leaders(need, nneed);
	paths = xcalloc(nneed + 1, sizeof(*paths));
	for (i = 0; i < nneed; i++)
		if (need[i].leader == i)
			paths[npaths++] = need[i].k->path;
	if (npaths > 0 && p->src != NULL && p->src->fetch != NULL
	    && p->src->fetch(p->src->arg, paths, npaths, ferr, sizeof(ferr)) != 0) {
		p->name = c->path;
		p->line = 0;
		config_report(p, NULL, "reading the key files: %s", ferr);
		nneed = 0;
	}
	free(paths);
	config_read_leaders(p, need, nneed);
	for (i = 0; i < nneed; i++) {
		k = need[i].k;
		if (need[i].leader == i) {
			if (need[i].rc == 0) {
				c->keys_read++;
				continue;
			}
		} else if (need[need[i].leader].rc == 0) {
			keys_share(k, need[need[i].leader].k);
			c->keys_reused++;
			continue;
		}
		config_at(p, need[i].d, k->line);
		config_report(p, need[i].d, "%s", need[need[i].leader].err);
	}
	for (i = 0; i < nneed; i++)
		free(need[i].err);
	free(need);
}

/* config_load_keys - every block's keys, and the bounce secrets (their errors are fatal) */
static void
config_load_keys(struct config_parse *p)
{
	struct buf pem = BUF_INIT;
	char ebuf[512];
	size_t i;
	int rc;

	config_domain_keys(p);
	p->name = p->c->path;
	for (i = 0; i < p->c->bounce_secret.n; i++) {
		const char *path = p->c->bounce_secret.v[i];

		rc = config_read_secret(p, path, BOUNCE_SECRET_WHAT,
		    BOUNCE_SECRET_FILE_MAX, &pem, ebuf, sizeof(ebuf));
		if (rc == 0)
			rc = bounce_secrets_add(&p->c->secrets, buf_cstr(&pem),
			    pem.len, path, ebuf, sizeof(ebuf));
		if (rc != 0) {
			p->line = p->gline[config_bounce_secret_index()];
			config_report(p, NULL, "bounce_secret: %s", ebuf);
		}
		if (pem.data != NULL)
			OPENSSL_cleanse(pem.data, pem.cap);
	}
	buf_free(&pem);
}

/* config_parse_begin - a new snapshot holding the defaults */
int
config_parse_begin(struct config_parse *p, const char *path,
    const struct config_source *src, int flags, struct config_problems *probs)
{
	const char *slash = strrchr(path, '/');

	memset(p, 0, sizeof(*p));
	p->src = src;
	p->flags = flags;
	p->probs = probs;
	p->fatal_before = probs->nfatal;
	p->c = xcalloc(1, sizeof(*p->c));
	p->c->refs = 1;
	p->c->path = xstrdup(path);
	bounce_secrets_init(&p->c->secrets);
	p->main_dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/")
	    : xstrndup(path, (size_t)(slash - path));
	p->dir = xstrdup(p->main_dir);
	p->name = config_file_note(p, path);
	return config_apply_defaults(p);
}

/* config_cmp_file_addr - two of c's file indices by the address of their stored name (qsort_r) */
static int
config_cmp_file_addr(const void *a, const void *b, void *arg)
{
	const struct config *c = arg;
	uintptr_t x = (uintptr_t)c->files.v[*(const size_t *)a];
	uintptr_t y = (uintptr_t)c->files.v[*(const size_t *)b];

	return x < y ? -1 : x > y;
}

/* config_file_failed - mark the file block d was read from as failed (a reload reads it again); by_addr: c's file indices by name address */
static void
config_file_failed(struct config *c, const size_t *by_addr,
    const struct config_domain *d)
{
	size_t lo = 0, hi = c->files.n, mid;
	uintptr_t want = (uintptr_t)d->file, at;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		at = (uintptr_t)c->files.v[by_addr[mid]];
		if (at == want) {
			c->finfo[by_addr[mid]].failed = 1;
			return;
		}
		if (at < want)
			lo = mid + 1;
		else
			hi = mid;
	}
}

/* config_leave_out - free the blocks that failed, keeping their names in c->failed */
static void
config_leave_out(struct config *c)
{
	struct config_words *w = &c->failed;
	size_t *by_addr = NULL;
	size_t i, n = 0;

	for (i = 0; i < c->ndomains; i++) {
		if (!c->domains[i].failed) {
			c->domains[n++] = c->domains[i];
			continue;
		}
		if (by_addr == NULL && c->finfo != NULL) {
			size_t f;

			by_addr = xcalloc(c->files.n + 1, sizeof(*by_addr));
			for (f = 0; f < c->files.n; f++)
				by_addr[f] = f;
			qsort_r(by_addr, c->files.n, sizeof(*by_addr),
			    config_cmp_file_addr, c);
		}
		if (by_addr != NULL)
			config_file_failed(c, by_addr, &c->domains[i]);
		w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
		w->v[w->n++] = xstrdup(c->domains[i].name);
		config_domain_free(&c->domains[i]);
	}
	c->ndomains = n;
	free(by_addr);
}

/* config_file_intern - the snapshot's copy of a file name, added if new */
static const char *
config_file_intern(struct config *c, const char *path)
{
	struct config_words *w = &c->files;
	size_t i;

	for (i = w->n; i-- > 0; )
		if (strcmp(w->v[i], path) == 0)
			return w->v[i];
	w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
	c->finfo = xreallocarray(c->finfo, w->n + 1, sizeof(*c->finfo));
	memset(&c->finfo[w->n], 0, sizeof(*c->finfo));
	c->finfo[w->n].failed = 1;	/* a kept block's file: it failed */
	w->v[w->n] = xstrdup(path);
	return w->v[w->n++];
}

/* config_domain_copy - a deep copy of the running block src into the empty dst, read from file (keys shared; without with_keys, for the key reader, only what its checks need) */
static void
config_domain_copy(struct config_domain *dst, const struct config_domain *src,
    const char *file, int with_keys)
{
	const struct opt_def *o;
	size_t i;

	*dst = *src;		/* the scalars; every pointer is replaced below */
	dst->name = xstrdup(src->name);
	dst->file = file;
	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if (!(o->scope & OPT_BLOCK) || config_types[o->type].copy == NULL)
			continue;
		/* the key reader (no keys) needs the name, the bounce domain
		 * (its checks must fail the blocks the daemon's fail) and the
		 * key paths only: 100,000 blocks of lists not copied */
		if (!with_keys && o->offset != offsetof(struct config_domain,
		    bounce_domain))
			memset((char *)dst + o->offset, 0, o->size);
		else
			config_types[o->type].copy((char *)dst + o->offset,
			    (const char *)src + o->offset, o->size);
	}
	dst->keys = xcalloc(src->nkeys + 1, sizeof(*dst->keys));
	for (i = 0; i < src->nkeys; i++) {
		struct key *k = &dst->keys[i];
		const struct key *sk = &src->keys[i];

		*k = *sk;
		k->selector = xstrdup(sk->selector);
		k->path = xstrdup(sk->path);
		k->pkey = NULL;
		if (with_keys)	/* not for a parse without keys (the key reader's) */
			keys_share(k, sk);
		keys_pub_set(k, keys_pub_get(sk));
	}
}

/* config_cmp_prev_file - two of the running snapshot's file indices by path (qsort_r) */
static int
config_cmp_prev_file(const void *a, const void *b, void *arg)
{
	const struct config *prev = arg;

	return strcmp(prev->files.v[*(const size_t *)a],
	    prev->files.v[*(const size_t *)b]);
}

/* config_cmp_block_file - two blocks by the file they were read from (its stored name), then by place */
static int
config_cmp_block_file(const void *a, const void *b)
{
	const struct config_domain *x = *(const struct config_domain *const *)a;
	const struct config_domain *y = *(const struct config_domain *const *)b;

	if (x->file != y->file)
		return (uintptr_t)x->file < (uintptr_t)y->file ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* config_prev_index - the running snapshot's files by path and blocks by file (once a load) */
static void
config_prev_index(struct config_parse *p, const struct config *prev)
{
	size_t i;

	if (p->prev_files != NULL)
		return;
	p->prev_files = xcalloc(prev->files.n + 1, sizeof(*p->prev_files));
	for (i = 0; i < prev->files.n; i++)
		p->prev_files[i] = i;
	qsort_r(p->prev_files, prev->files.n, sizeof(*p->prev_files),
	    config_cmp_prev_file, (void *)prev);
	p->prev_blocks = xcalloc(prev->ndomains + 1, sizeof(*p->prev_blocks));
	for (i = 0; i < prev->ndomains; i++)
		p->prev_blocks[i] = &prev->domains[i];
	p->prev_nblocks = prev->ndomains;
	qsort(p->prev_blocks, prev->ndomains, sizeof(*p->prev_blocks),
	    config_cmp_block_file);
}

/* config_reuse_file - copy an unchanged, error-free included file's blocks from the running snapshot */
int
config_reuse_file(struct config_parse *p, const char *path,
    const struct key_ident *id)
{
	const struct config *prev = p->src != NULL ? p->src->prev : NULL;
	const struct config_fileinfo *fi;
	const char *name, *file;
	size_t lo, hi, mid, j, first, n;
	int r;

	if (!p->reuse_ok || prev == NULL || prev->finfo == NULL)
		return 0;
	config_prev_index(p, prev);
	for (lo = 0, hi = prev->files.n; lo < hi; ) {
		mid = lo + (hi - lo) / 2;
		r = strcmp(prev->files.v[p->prev_files[mid]], path);
		if (r == 0)
			break;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= hi)
		return 0;
	j = p->prev_files[mid];
	fi = &prev->finfo[j];
	if (j == 0 || !fi->has_id || fi->failed || keys_ident_cmp(&fi->id, id))
		return 0;
	file = prev->files.v[j];
	/* its blocks: the run of prev_blocks read from file */
	for (lo = 0, hi = p->prev_nblocks; lo < hi; ) {
		mid = lo + (hi - lo) / 2;
		if ((uintptr_t)p->prev_blocks[mid]->file < (uintptr_t)file)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	for (n = 0; first + n < p->prev_nblocks
	    && p->prev_blocks[first + n]->file == file; n++)
		;
	name = config_file_note(p, path);
	p->c->finfo[p->c->files.n - 1].id = *id;
	p->c->finfo[p->c->files.n - 1].has_id = 1;
	p->c->files_reused++;
	for (j = 0; j < n; j++) {
		struct config_domain *d = config_new_block(p, "");

		free(d->name);
		config_domain_copy(d, p->prev_blocks[first + j], name,
		    !(p->flags & CONFIG_SKIP_KEYS));
		d->reused = 1;
	}
	return 1;
}

/*
 * config_keep_running - a block that failed keeps the running snapshot's
 * version, unless a block of this load took its name or bounce domain;
 * called after config_index, which it redoes when it kept any
 */
static void
config_keep_running(struct config *c, const struct config *prev)
{
	const struct config_domain *od, **keep;
	size_t i, n = 0;

	if (prev == NULL || c->failed.n == 0)
		return;
	keep = xcalloc(c->failed.n, sizeof(*keep));
	for (i = 0; i < c->failed.n; i++) {
		if (config_find_domain(c, c->failed.v[i]) != NULL
		    || (od = config_find_domain(prev, c->failed.v[i])) == NULL)
			continue;
		if (od->bounce_domain != NULL && od->bounce_domain[0] != '\0'
		    && config_find_bounce_domain(c, od->bounce_domain) != NULL)
			continue;
		keep[n++] = od;
	}
	if (n > 0) {
		c->domains = xreallocarray(c->domains, c->ndomains + n,
		    sizeof(*c->domains));
		c->kept.v = xreallocarray(c->kept.v, c->kept.n + n,
		    sizeof(*c->kept.v));
	}
	for (i = 0; i < n; i++) {
		config_domain_copy(&c->domains[c->ndomains++], keep[i],
		    config_file_intern(c, keep[i]->file), 1);
		c->kept.v[c->kept.n++] = xstrdup(keep[i]->name);
	}
	free(keep);
	if (n > 0)
		config_index(c);
}

/* config_parse_finish - validate, load keys, leave the failed blocks out */
struct config *
config_parse_finish(struct config_parse *p)
{
	struct config *c = p->c;
	size_t i;

	p->included = 0;
	p->dom = NULL;
	config_lookup_normalize(p);
	config_check_names(p);
	for (i = 0; i < c->ndomains; i++)
		config_check_domain(p, &c->domains[i]);
	config_check_bounce(p);
	if (!(p->flags & CONFIG_SKIP_KEYS))
		config_load_keys(p);
	config_leave_out(c);
	config_index(c);
	if (!(p->flags & CONFIG_SKIP_KEYS))
		config_keep_running(c, p->src != NULL ? p->src->prev : NULL);
	config_check_globals(p);
	free(p->dir);
	free(p->main_dir);
	free(p->prev_files);
	free(p->prev_blocks);
	p->prev_files = NULL;
	p->prev_blocks = NULL;
	p->dir = p->main_dir = NULL;
	p->c = NULL;
	if (p->probs->nfatal > p->fatal_before) {
		config_free(c);
		return NULL;
	}
	return c;
}

/* config_free_rows - free the option fields of a block (block) or a snapshot's global-only rows */
static void
config_free_rows(char *base, int block)
{
	const struct opt_def *o;
	size_t i;

	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if (!(o->scope & OPT_BLOCK) == !block
		    && config_types[o->type].free != NULL)
			config_types[o->type].free(base + o->offset);
	}
}

/* config_domain_free - release one block's fields */
static void
config_domain_free(struct config_domain *d)
{
	size_t i;

	config_free_rows((char *)d, 1);
	for (i = 0; i < d->nkeys; i++)	/* OPT_KEY rows own keys and nkeys */
		keys_free(&d->keys[i]);
	free(d->keys);
	free(d->name);
}

/* config_free - release a snapshot */
void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->rt_free != NULL)
		c->rt_free(c->rt);
	for (i = 0; i < c->ndomains; i++)
		config_domain_free(&c->domains[i]);
	free(c->domains);
	free(c->by_name);
	free(c->by_bounce);
	config_domain_free(&c->defaults);
	config_free_rows((char *)c, 0);
	config_free_words(&c->files);
	config_free_words(&c->failed);
	config_free_words(&c->kept);
	free(c->finfo);
	free(c->main_text);
	free(c->path);
	bounce_secrets_free(&c->secrets);
	free(c);
}

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *config_current;	/* guarded by config_lock */

/* config_install - make c current; release the previous snapshot */
void
config_install(struct config *c)
{
	struct config *old;

	pthread_mutex_lock(&config_lock);
	old = config_current;
	config_current = c;
	pthread_mutex_unlock(&config_lock);
	if (old != NULL)
		config_release(old);
}

/* config_acquire - pin the current snapshot */
struct config *
config_acquire(void)
{
	struct config *c;

	pthread_mutex_lock(&config_lock);
	c = config_current;
	if (c != NULL)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&config_lock);
	return c;
}

/* config_release - drop a pin */
void
config_release(struct config *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}

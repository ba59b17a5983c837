/*
 * config.c - parse authmilter.conf into an immutable, refcounted snapshot.
 *
 * Syntax: `name = value` lines, `#` starts a comment (at line start or
 * after whitespace), `domain NAME {` ... `}` blocks holding the options
 * a domain may override, and `include PATTERN` (config_file.c). Every error
 * names FILE:LINE and the reason. This file handles one statement at a
 * time, then checks the whole, has the keys loaded (config_keys.c) and
 * leaves out the blocks that failed, or keeps their running versions
 * (config_reuse.c, which also copies the blocks of unchanged included
 * files); values are parsed in config_value.c, and blocks are found
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
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "policy/config.h"
#include "policy/config_parse.h"
#include "policy/config_table.h"
#include "base/log.h"
#include "base/mailaddr.h"
#include "base/stats.h"
#include "base/strmap.h"
#include "base/xalloc.h"

_Static_assert(CONFIG_PARSE_MAX_OPTIONS >= 32, "room for the option table");
_Static_assert(sizeof(((struct config_domain *)0)->set) * 8
    >= CONFIG_PARSE_MAX_OPTIONS, "a set bit for every row of the table");

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
const struct opt_def *
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
struct config_domain *
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
		CONFIG_SET_ADD(p->dom->set, idx);
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
		    || CONFIG_SET_HAS(d->set, i))
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

/* config_cmp_name - order blocks by name, then file order (for qsort);
 * names are lower case (config_open_block, config_lookup_normalize), so
 * strcmp gives strcasecmp's order for less */
static int
config_cmp_name(const void *a, const void *b)
{
	int r = strcmp((*(const struct config_domain *const *)a)->name,
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

/* config_sort - qsort, unless v is in order already (blocks read from files named after their domains are: 100,000 of them, a reload after a reload) */
static void
config_sort(const struct config_domain **v, size_t n,
    int (*cmp)(const void *, const void *))
{
	size_t i;

	for (i = 1; i < n; i++)
		if (cmp(&v[i - 1], &v[i]) > 0)
			break;
	if (i < n)
		qsort(v, n, sizeof(*v), cmp);
}

/* config_index - sorted lookup tables of the blocks that did not fail */
void
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
	config_sort(c->by_name, n, config_cmp_name);
	config_sort(c->by_bounce, c->nbounce, config_cmp_bounce);
}

/* config_at - point messages at a block's file and a line of it */
void
config_at(struct config_parse *p, const struct config_domain *d, int line)
{
	p->name = d->file;
	p->line = line;
}

/* config_check_names - a second block for a name fails (a hash of the names, not pairwise and not sorted: 100,000 blocks) */
static void
config_check_names(struct config_parse *p)
{
	struct config *c = p->c;
	struct strmap seen;
	const struct config_domain *first;
	size_t i, *at;

	strmap_init(&seen, c->ndomains, 0);
	for (i = 0; i < c->ndomains; i++) {
		if ((at = strmap_put(&seen, c->domains[i].name, i)) == NULL)
			continue;
		first = &c->domains[*at];
		config_at(p, &c->domains[i], c->domains[i].line);
		config_report(p, &c->domains[i], "domain %s: second block (first "
		    "at %s:%d)", c->domains[i].name, first->file, first->line);
	}
	strmap_free(&seen);
}

/* config_check_bounce - a bounce_domain a block before it took fails the later block */
static void
config_check_bounce(struct config_parse *p)
{
	struct config *c = p->c;
	struct config_domain *d;
	const struct config_domain *first;
	struct strmap seen;
	size_t i, *at;

	strmap_init(&seen, 16, 1);
	for (i = 0; i < c->ndomains; i++) {
		d = &c->domains[i];
		if (d->failed || d->bounce_domain == NULL
		    || d->bounce_domain[0] == '\0'
		    || (at = strmap_put(&seen, d->bounce_domain, i)) == NULL)
			continue;
		first = &c->domains[*at];
		config_at(p, d, d->line);
		config_report(p, d, "bounce_domain %s is used by domains %s and %s",
		    first->bounce_domain, first->name, d->name);
	}
	strmap_free(&seen);
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

/* config_control_path - the control socket's file, "auto" resolved */
int
config_control_path(const struct config *c, char *path, size_t len)
{
	const char *v = c->control_socket, *sock = NULL, *name;
	size_t keep;
	int n;

	if (len > 0)
		path[0] = '\0';
	if (strcmp(v, "none") == 0)
		return 1;
	if (strcmp(v, "auto") != 0) {
		n = snprintf(path, len, "%s", v);
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
	if (strncmp(c->socket, "unix:", 5) == 0)
		sock = c->socket + 5;
	else if (strncmp(c->socket, "local:", 6) == 0)
		sock = c->socket + 6;
	if (sock == NULL)
		n = snprintf(path, len, "%s/authmilter-control.sock",
		    CONFIG_CONTROL_DIR);
	else {
		name = strrchr(sock, '/') != NULL ? strrchr(sock, '/') + 1 : sock;
		keep = strlen(sock);
		if (keep - (size_t)(name - sock) > 5
		    && strcmp(sock + keep - 5, ".sock") == 0)
			keep -= 5;
		n = snprintf(path, len, "%.*s-control.sock", (int)keep, sock);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* config_check_control - control_socket: none, auto or an absolute path, not the milter socket's */
static void
config_check_control(struct config_parse *p)
{
	struct config *c = p->c;
	char path[PATH_MAX];
	int rc;

	if (strcmp(c->control_socket, "") == 0) {
		free(c->control_socket);
		c->control_socket = xstrdup("none");	/* empty: none */
	}
	if (strcmp(c->control_socket, "none") != 0
	    && strcmp(c->control_socket, "auto") != 0
	    && c->control_socket[0] != '/') {
		config_report(p, NULL, "control_socket \"%s\" is not an "
		    "absolute path, auto or none", c->control_socket);
		return;
	}
	rc = config_control_path(c, path, sizeof(path));
	if (rc < 0)
		config_report(p, NULL, "control_socket: path too long");
	else if (rc == 0 && strchr(c->socket, ':') != NULL
	    && strcmp(strchr(c->socket, ':') + 1, path) == 0)
		config_report(p, NULL, "control_socket %s is the milter socket",
		    path);
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
	/* without the included files its block may be missing: not an error */
	if (c->platform_domain[0] != '\0' && !(p->flags & CONFIG_SKIP_INCLUDES)) {
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
	config_check_control(p);
	if (c->trust_anchor_file[0] != '\0'
	    && access(c->trust_anchor_file, R_OK) != 0)
		config_report(p, NULL, "trust_anchor_file %s: %s",
		    c->trust_anchor_file, log_errstr(errno, host, sizeof(host)));
	if (c->authserv_id[0] == '\0') {
		if (gethostname(host, sizeof(host)) != 0)
			(void)snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		free(c->authserv_id);
		c->authserv_id = xstrdup(host);
	}
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
	if (p->prev_files_made)
		strmap_free(&p->prev_files);
	p->prev_files_made = 0;
	p->prev_next = 0;
	free(p->prev_runs);
	p->prev_runs = NULL;
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

/*
 * Freeing a snapshot of 100,000 domains takes 0.1-0.2 s, and its
 * malloc_trim more. The last pin is often dropped by a worker, at a
 * message's MAIL FROM (state_msg_new) or a connection's end, and that
 * message would wait for it. A snapshot of CONFIG_TRIM_DOMAINS blocks or
 * more goes to the reaper thread instead, started when first needed. The
 * stop (config_install(NULL)) closes it: it frees what it was given and
 * ends, and snapshots are freed where they are released until a snapshot
 * is installed again (only tests do that).
 */
static pthread_mutex_t config_reap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t config_reap_cond = PTHREAD_COND_INITIALIZER;
static struct config *config_reap_list;	/* through reap_next; reap_lock */
static pthread_t config_reaper;
static int config_reaper_up;		/* started; reap_lock */
static int config_reap_closed;		/* the stop came; reap_lock */
static unsigned long config_reaped_n;	/* snapshots it freed; reap_lock */

/* config_reaper_main - thread: free the snapshots handed over, trim */
static void *
config_reaper_main(void *arg)
{
	struct config *c;

	(void)arg;
	pthread_mutex_lock(&config_reap_lock);
	for (;;) {
		while (config_reap_list == NULL && !config_reap_closed)
			pthread_cond_wait(&config_reap_cond, &config_reap_lock);
		if ((c = config_reap_list) == NULL)
			break;		/* closed, and nothing left */
		config_reap_list = c->reap_next;
		pthread_mutex_unlock(&config_reap_lock);
		config_free(c);
		(void)malloc_trim(0);
		pthread_mutex_lock(&config_reap_lock);
		config_reaped_n++;
	}
	pthread_mutex_unlock(&config_reap_lock);
	return NULL;
}

/* config_reap - hand c to the reaper; -1: free it here (closed, or no thread) */
static int
config_reap(struct config *c)
{
	int rc = 0;

	pthread_mutex_lock(&config_reap_lock);
	if (config_reap_closed)
		rc = -1;
	else if (!config_reaper_up) {
		/* signals stay blocked: the thread inherits the caller's mask,
		 * every thread's (main.c) */
		if (pthread_create(&config_reaper, NULL, config_reaper_main,
		    NULL) != 0)
			rc = -1;
		else
			config_reaper_up = 1;
	}
	if (rc == 0) {
		c->reap_next = config_reap_list;
		config_reap_list = c;
		pthread_cond_signal(&config_reap_cond);
	}
	pthread_mutex_unlock(&config_reap_lock);
	return rc;
}

/* config_reap_close - the stop: the reaper frees what it has, then ends */
static void
config_reap_close(void)
{
	pthread_t tid;
	int up;

	pthread_mutex_lock(&config_reap_lock);
	config_reap_closed = 1;
	up = config_reaper_up;
	tid = config_reaper;
	config_reaper_up = 0;
	pthread_cond_signal(&config_reap_cond);
	pthread_mutex_unlock(&config_reap_lock);
	if (up)
		(void)pthread_join(tid, NULL);
}

/* config_reaped - snapshots the reaper thread has freed */
unsigned long
config_reaped(void)
{
	unsigned long n;

	pthread_mutex_lock(&config_reap_lock);
	n = config_reaped_n;
	pthread_mutex_unlock(&config_reap_lock);
	return n;
}

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *config_current;	/* guarded by config_lock */
static unsigned long config_installs;	/* guarded by config_lock */

/* config_install - make c current (numbered, timed); release the previous snapshot */
void
config_install(struct config *c)
{
	struct config *old;
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&config_lock);
	old = config_current;
	config_current = c;
	if (c != NULL) {	/* before anyone else can pin it: plain writes */
		c->generation = ++config_installs;
		c->installed = (long long)now.tv_sec;
	}
	pthread_mutex_unlock(&config_lock);
	if (c != NULL) {
		stats_inc(STATS_GENERATION);	/* authmilter_config_generation */
		pthread_mutex_lock(&config_reap_lock);
		config_reap_closed = 0;		/* a test's install after a stop */
		pthread_mutex_unlock(&config_reap_lock);
	} else
		config_reap_close();	/* the stop: freed here from now on */
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
	size_t n;

	if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	n = c->ndomains;
	if (n >= CONFIG_TRIM_DOMAINS && config_reap(c) == 0)
		return;		/* off the message path */
	config_free(c);
	/*
	 * A reload's snapshot is built on a thread of its own, in a malloc
	 * arena glibc gives that thread; a freed snapshot's pages stay in
	 * its arena, and with one more arena in use at each reload (up to
	 * eight a core) the resident memory grew by some 30 MB a reload at
	 * 100,000 domains. Many blocks freed: give the free pages back.
	 */
	if (n >= CONFIG_TRIM_DOMAINS)
		(void)malloc_trim(0);
}

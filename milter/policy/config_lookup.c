/*
 * config_lookup.c - find a snapshot's domain blocks by name.
 *
 * At load, config_lookup_normalize brings every block name,
 * bounce_domain and platform_domain to the one form names are compared
 * in: lowercase A-labels (RFC 8616 wants d= and DNS names in A-labels, so
 * a block written in U-labels and a From domain written either way meet).
 * A name that is no valid IDN takes its block down, as any block error
 * does. config.c then sorts the blocks that loaded into two tables
 * (config_index); lookups are binary searches over them, and a From
 * domain of L labels costs at most L searches (subdomains), however many
 * blocks there are.
 *
 * Threading: normalize runs once, in the loader's thread, before the
 * snapshot is shared; lookups only read the tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mailaddr.h"
#include "base/xalloc.h"
#include "policy/config.h"
#include "policy/config_parse.h"

/* config_lookup_bsearch - binary search of a sorted table by a name field */
static const struct config_domain *
config_lookup_bsearch(const struct config_domain *const *v, size_t n,
    const char *key, int bounce)
{
	size_t lo = 0, hi = n, mid;
	int cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcasecmp(key, bounce ? v[mid]->bounce_domain : v[mid]->name);
		if (cmp == 0)
			return v[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* config_lookup_alabel - replace *name by its A-label form; 0, or -1 if it is no valid IDN */
static int
config_lookup_alabel(char **name)
{
	char a[MAILADDR_DOMAIN_MAX + 1];

	if (*name == NULL || (*name)[0] == '\0')
		return 0;
	if (mailaddr_domain_alabel(*name, a, sizeof(a)) != 0)
		return -1;
	if (strcmp(a, *name) != 0) {
		free(*name);
		*name = xstrdup(a);
	}
	return 0;
}

/* config_lookup_normalize - every block name, bounce_domain and platform_domain in A-labels */
void
config_lookup_normalize(struct config_parse *p)
{
	struct config *c = p->c;
	struct config_domain *d;
	size_t i;

	for (i = 0; i < c->ndomains; i++) {
		d = &c->domains[i];
		if (d->reused)
			continue;	/* normalized when first read */
		p->name = d->file;
		p->line = d->line;
		if (config_lookup_alabel(&d->name) != 0)
			config_report(p, d, "domain %s is not a valid "
			    "internationalized domain name (IDNA2008)", d->name);
		else if (config_lookup_alabel(&d->bounce_domain) != 0)
			config_report(p, d, "bounce_domain %s is not a valid "
			    "internationalized domain name (IDNA2008)",
			    d->bounce_domain);
	}
	p->name = NULL;
	p->line = 0;
	if (config_lookup_alabel(&c->platform_domain) != 0)
		config_report(p, NULL, "platform_domain %s is not a valid "
		    "internationalized domain name (IDNA2008)", c->platform_domain);
}

/* config_find_domain - the block named domain (any case, U- or A-labels) */
const struct config_domain *
config_find_domain(const struct config *c, const char *domain)
{
	char a[MAILADDR_DOMAIN_MAX + 1];

	if (domain == NULL || c->by_name == NULL
	    || mailaddr_domain_alabel(domain, a, sizeof(a)) != 0)
		return NULL;
	return config_lookup_bsearch(c->by_name, c->ndomains, a, 0);
}

/* config_match_domain - the block covering domain: its own, else the closest parent with subdomains */
const struct config_domain *
config_match_domain(const struct config *c, const char *domain)
{
	char a[MAILADDR_DOMAIN_MAX + 1];
	const struct config_domain *d;
	const char *s;

	if (domain == NULL || c->by_name == NULL
	    || mailaddr_domain_alabel(domain, a, sizeof(a)) != 0)
		return NULL;
	if ((d = config_lookup_bsearch(c->by_name, c->ndomains, a, 0)) != NULL)
		return d;
	/* most specific first: news.customer.example, then customer.example */
	for (s = strchr(a, '.'); s != NULL; s = strchr(s + 1, '.')) {
		d = config_lookup_bsearch(c->by_name, c->ndomains, s + 1, 0);
		if (d != NULL && d->subdomains)
			return d;
	}
	return NULL;
}

/* config_find_bounce_domain - the block whose bounce_domain is domain */
const struct config_domain *
config_find_bounce_domain(const struct config *c, const char *domain)
{
	char a[MAILADDR_DOMAIN_MAX + 1];

	if (domain == NULL || c->by_bounce == NULL
	    || mailaddr_domain_alabel(domain, a, sizeof(a)) != 0)
		return NULL;
	return config_lookup_bsearch(c->by_bounce, c->nbounce, a, 1);
}

void
config_pair_blocks(const struct config *a, const struct config *b,
    void (*fn)(const struct config_domain *da, const struct config_domain *db,
    void *arg), void *arg)
{
	size_t na = a != NULL && a->by_name != NULL ? a->ndomains : 0;
	size_t nb = b != NULL && b->by_name != NULL ? b->ndomains : 0;
	size_t i = 0, j = 0;
	int r;

	/* both sorted by config_cmp_name: lower-case names, strcmp order */
	while (i < na || j < nb) {
		if (i == na)
			r = 1;
		else if (j == nb)
			r = -1;
		else
			r = strcmp(a->by_name[i]->name, b->by_name[j]->name);
		if (r == 0)
			fn(a->by_name[i++], b->by_name[j++], arg);
		else if (r < 0)
			fn(a->by_name[i++], NULL, arg);
		else
			fn(NULL, b->by_name[j++], arg);
	}
}

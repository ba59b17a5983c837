/*
 * mode.c - the sign-or-verify decision.
 *
 * A message is signed when the client is trusted (SASL-authenticated, in
 * internal_hosts, or local: without a network address, as Sendmail's
 * `sendmail -bs` connects, while local_clients_internal = yes) and the
 * selecting domain (header From, or the envelope sender with sign_from =
 * envelope) has a domain block, or a parent domain's block with
 * subdomains = yes covers it (the most specific block wins; d= is the
 * block's domain). With platform_domain set, the platform
 * block signs every such message too, whether or not a block covers its
 * domain, unless the covering block (or, for domains without one, the
 * global default) says platform_signature = no. A header From that
 * is missing, repeated, or holds other than one address with a domain
 * blocks signing: signing such a message would vouch for an ambiguous
 * author.
 *
 * Tenants: a trusted client may sign only for the blocks that let it. A
 * SASL login is judged by the block's signers patterns alone (the login
 * names the tenant, wherever it connects from); an unauthenticated
 * internal client by the block's signer_networks (a local client as the
 * loopback address: admitted when they hold 127.0.0.1 or ::1). A client
 * that may not is not signed for the domain (the platform signature still
 * applies, unless the block opted out of it or is the platform's own
 * block), or refused with unauthorized_from = reject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mailaddr.h"
#include "policy/mode.h"
#include "base/xalloc.h"

/* mode_from_domain - the single From address's domain, or NULL with why */
static char *
mode_from_domain(const struct mode_input *in, const char **why)
{
	struct mailaddr_list l;
	char *d = NULL;
	int n;

	if (in->nfrom == 0) {
		*why = "no From header";
		return NULL;
	}
	if (in->nfrom > 1) {
		*why = "more than one From header";
		return NULL;
	}
	n = mailaddr_parse_list(in->from_value ? in->from_value : "", &l);
	if (n < 0)
		*why = "malformed From header";
	else if (n == 0)
		*why = "From header without an address";
	else if (n > 1)
		*why = "From header with several addresses";
	else if (l.v[0].domain == NULL || !mailaddr_domain_ok(l.v[0].domain,
	    strlen(l.v[0].domain), MAILADDR_DOMAIN_UTF8))
		*why = "From address without a valid domain";
	else
		d = xstrdup(l.v[0].domain);
	mailaddr_list_free(&l);
	return d;
}

/* mode_login_matches - one signers pattern (%d: the block's domain) against a login */
static int
mode_login_matches(const char *pat, const char *login, const char *domain)
{
	char want[512];
	const char *at;
	size_t n = 0, dl = strlen(domain);

	for (; *pat != '\0'; pat++) {
		if (pat[0] == '%' && pat[1] == 'd') {
			if (dl >= sizeof(want) - n)
				return 0;	/* cannot match a login we keep */
			memcpy(want + n, domain, dl);
			n += dl;
			pat++;
		} else if (n + 1 < sizeof(want)) {
			want[n++] = *pat;
		} else {
			return 0;
		}
	}
	want[n] = '\0';
	if (strcmp(want, "*") == 0)
		return 1;
	if (want[0] == '*' && want[1] == '@') {
		at = strrchr(login, '@');
		return at != NULL && at != login && strcasecmp(at + 1, want + 2) == 0;
	}
	return strcasecmp(want, login) == 0;
}

/* mode_may_sign - may this trusted client have mail signed for block d? */
static int
mode_may_sign(const struct config_domain *d, const struct mode_input *in,
    char *why, size_t len)
{
	size_t i;

	if (in->auth_authen != NULL && in->auth_authen[0] != '\0') {
		for (i = 0; i < d->signers.n; i++)
			if (mode_login_matches(d->signers.v[i], in->auth_authen,
			    d->name))
				return 1;
		(void)snprintf(why, len, "login %s is not among the signers of %s",
		    in->auth_authen, d->name);
		return 0;
	}
	if (d->signer_networks.n == 0 || (in->client_addr != NULL
	    && cidr_list_match_str(&d->signer_networks, in->client_addr)))
		return 1;
	if (in->local && (cidr_list_match_str(&d->signer_networks, "127.0.0.1")
	    || cidr_list_match_str(&d->signer_networks, "::1")))
		return 1;
	(void)snprintf(why, len, "client %s is not in the signer_networks of %s",
	    in->local ? "(local)" : in->client_addr ? in->client_addr
	    : "(unknown)", d->name);
	return 0;
}

/*
 * mode_platform - the platform block that signs too, or NULL: none set,
 * the selecting block is the platform's own, or the block (the global
 * default for domains without one) says platform_signature = no
 */
static const struct config_domain *
mode_platform(const struct config *c, const struct config_domain *block)
{
	int want = block != NULL ? block->platform_signature
	    : c->defaults.platform_signature;

	if (c->platform == NULL || c->platform == block || !want)
		return NULL;
	return c->platform;
}

/* mode_unblocked - no block covers the selecting domain: the platform alone, or not signed */
static void
mode_unblocked(const struct config *c, const char *what, const char *dom,
    const char *who, struct mode_result *out)
{
	out->platform = mode_platform(c, NULL);
	if (out->platform == NULL) {
		(void)snprintf(out->reason, sizeof(out->reason), "not signed: %s "
		    "domain %s has no domain block (%s client)", what,
		    dom ? dom : "(none)", who);
		return;
	}
	out->kind = MODE_SIGN;
	(void)snprintf(out->reason, sizeof(out->reason), "sign: %s client, %s "
	    "domain %s has no domain block: platform signature only (%s)", who,
	    what, dom ? dom : "(none)", out->platform->name);
}

/* mode_blocked - a block covers the selecting domain: may this client sign for it? */
static void
mode_blocked(const struct config *c, const struct config_domain *d,
    const struct mode_input *in, const char *who, struct mode_result *out)
{
	char why_not[200];

	out->platform = mode_platform(c, d);
	if (!mode_may_sign(d, in, why_not, sizeof(why_not))) {
		out->unauthorized = d;
		if (out->platform != NULL)
			out->kind = MODE_SIGN;
		(void)snprintf(out->reason, sizeof(out->reason), "not signed for %s: "
		    "%s%s", d->name, why_not, out->platform != NULL ?
		    "; platform signature only" : "");
		return;
	}
	out->kind = MODE_SIGN;
	out->domain = d;
	(void)snprintf(out->reason, sizeof(out->reason), "sign: %s client, domain "
	    "%s", who, d->name);
}

/* mode_decide - sign or verify */
void
mode_decide(const struct config *c, const struct mode_input *in,
    struct mode_result *out)
{
	const struct config_domain *d;
	const char *why = NULL, *who, *what = "From", *dom;
	char *envdom = NULL;

	memset(out, 0, sizeof(*out));
	out->kind = MODE_VERIFY;
	out->from_domain = mode_from_domain(in, &why);
	out->from_problem = out->from_domain == NULL ? why : NULL;
	if (in->auth_authen != NULL && in->auth_authen[0] != '\0') {
		who = "authenticated";
	} else if (in->client_addr != NULL
	    && cidr_list_match_str(&c->internal_hosts, in->client_addr)) {
		who = "internal";
	} else if (in->local && c->local_clients_internal) {
		who = "local";
	} else if (in->local) {
		(void)snprintf(out->reason, sizeof(out->reason), "verify: local "
		    "client (no network address), not authenticated, and "
		    "local_clients_internal = no");
		return;
	} else {
		(void)snprintf(out->reason, sizeof(out->reason), "verify: client %s is "
		    "neither authenticated nor in internal_hosts",
		    in->client_addr ? in->client_addr : "(unknown)");
		return;
	}
	out->trusted = 1;
	if (out->from_domain == NULL) {
		(void)snprintf(out->reason, sizeof(out->reason), "not signed: %s "
		    "(%s client)", why, who);
		return;
	}
	dom = out->from_domain;
	if (c->sign_from == CONFIG_SIGN_FROM_ENVELOPE) {
		envdom = mailaddr_envelope_domain(in->envelope_from ?
		    in->envelope_from : "");
		dom = envdom;
		what = "envelope sender";
	}
	if ((d = config_match_domain(c, dom)) == NULL)
		mode_unblocked(c, what, dom, who, out);
	else
		mode_blocked(c, d, in, who, out);
	free(envdom);
}

/* mode_trusted - authenticated, internal or (if so configured) local client */
int
mode_trusted(const struct config *c, const char *auth_authen,
    const char *client_addr, int local)
{
	if (auth_authen != NULL && auth_authen[0] != '\0')
		return 1;
	if (local)
		return c->local_clients_internal;
	return client_addr != NULL
	    && cidr_list_match_str(&c->internal_hosts, client_addr);
}

/* mode_result_free - release a result's fields */
void
mode_result_free(struct mode_result *r)
{
	free(r->from_domain);
	r->from_domain = NULL;
}

/*
 * mode.c - the sign-or-verify decision.
 *
 * A message is signed when the client is trusted (SASL-authenticated or in
 * internal_hosts) and the selecting domain (header From, or the envelope
 * sender with sign_from = envelope) has a domain block. A header From that
 * is missing, repeated, or holds other than one address with a domain
 * blocks signing: signing such a message would vouch for an ambiguous
 * author.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailaddr.h"
#include "mode.h"
#include "xalloc.h"

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
	else if (l.v[0].domain == NULL || !mailaddr_domain_valid(l.v[0].domain))
		*why = "From address without a valid domain";
	else
		d = xstrdup(l.v[0].domain);
	mailaddr_list_free(&l);
	return d;
}

/* mode_decide - sign or verify */
void
mode_decide(const struct config *c, const struct mode_input *in,
    struct mode_result *out)
{
	const char *why = NULL, *who;
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
	} else {
		snprintf(out->reason, sizeof(out->reason), "verify: client %s is "
		    "neither authenticated nor in internal_hosts",
		    in->client_addr ? in->client_addr : "(unknown)");
		return;
	}
	out->trusted = 1;
	if (out->from_domain == NULL) {
		snprintf(out->reason, sizeof(out->reason), "not signed: %s "
		    "(%s client)", why, who);
		return;
	}
	if (c->sign_from == CONFIG_SIGN_FROM_ENVELOPE) {
		envdom = mailaddr_envelope_domain(in->envelope_from ?
		    in->envelope_from : "");
		out->domain = config_find_domain(c, envdom);
		if (out->domain == NULL) {
			snprintf(out->reason, sizeof(out->reason), "not signed: "
			    "envelope sender domain %s has no domain block (%s "
			    "client)", envdom ? envdom : "(none)", who);
			free(envdom);
			return;
		}
		free(envdom);
	} else {
		out->domain = config_find_domain(c, out->from_domain);
		if (out->domain == NULL) {
			snprintf(out->reason, sizeof(out->reason), "not signed: From "
			    "domain %s has no domain block (%s client)",
			    out->from_domain, who);
			return;
		}
	}
	out->kind = MODE_SIGN;
	snprintf(out->reason, sizeof(out->reason), "sign: %s client, domain %s",
	    who, out->domain->name);
}

/* mode_trusted - authenticated or internal client */
int
mode_trusted(const struct config *c, const char *auth_authen,
    const char *client_addr)
{
	if (auth_authen != NULL && auth_authen[0] != '\0')
		return 1;
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

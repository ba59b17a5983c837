/*
 * dkim_verify.c - DKIM verification of inbound messages: the public API
 * (dkim_verify.h) over two engines, the builtin verifier (dkim_msg.c,
 * the default) and libopendkim (dkim_odkim.c), picked per snapshot.
 *
 * Owns the options with their defaults applied (shared, read-only, by
 * every message of the snapshot) and the engine's per-snapshot state.
 * The results helpers (names, freeing) are here too: they do not depend
 * on the engine.
 *
 * Threading: struct dkim_verify_lib is read-only after dkim_verify_lib_new;
 * a struct dkim_verify is used by one thread at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim_msg.h"
#include "auth/dkim_odkim.h"
#include "auth/dkim_verify.h"
#include "base/xalloc.h"

struct dkim_verify_lib {
	enum dkim_verify_engine engine;		/* which verifier */
	struct dkim_verify_options opt;		/* defaults applied */
	struct dkim_odkim_lib *odkim;		/* libopendkim's; owned, or NULL */
};

struct dkim_verify {
	struct dkim_msg *msg;		/* builtin engine's message; owned */
	struct dkim_odkim *odkim;	/* libopendkim's; owned */
};

/* dkim_verify_lib_new - a verifier for one snapshot */
struct dkim_verify_lib *
dkim_verify_lib_new(const struct dkim_verify_options *opt, char *err, size_t errlen)
{
	struct dkim_verify_lib *lib;

	if (opt == NULL || opt->dns == NULL) {
		(void)snprintf(err, errlen, "DKIM verifier: no resolver");
		return NULL;
	}
	if (opt->engine != DKIM_VERIFY_ENGINE_BUILTIN &&
	    opt->engine != DKIM_VERIFY_ENGINE_LIBOPENDKIM) {
		(void)snprintf(err, errlen, "DKIM verifier: unknown engine %d",
		    (int)opt->engine);
		return NULL;
	}
	lib = xcalloc(1, sizeof(*lib));
	lib->engine = opt->engine;
	lib->opt = *opt;
	lib->opt.dns_timeout_ms = opt->dns_timeout_ms > 0 ? opt->dns_timeout_ms : 0;
	lib->opt.dnssec = opt->dnssec != 0;
	lib->opt.max_signatures = opt->max_signatures > 0 ? opt->max_signatures
	    : DKIM_VERIFY_DEFAULT_MAX_SIGS;
	lib->opt.min_rsa_bits = opt->min_rsa_bits > 0 ? opt->min_rsa_bits
	    : DKIM_VERIFY_DEFAULT_RSA_BITS;
	lib->opt.time_budget_ms = opt->time_budget_ms == 0
	    ? DKIM_VERIFY_DEFAULT_BUDGET_MS : opt->time_budget_ms;
	if (lib->engine == DKIM_VERIFY_ENGINE_LIBOPENDKIM &&
	    (lib->odkim = dkim_odkim_lib_new(&lib->opt, err, errlen)) == NULL) {
		free(lib);
		return NULL;
	}
	return lib;
}

/* dkim_verify_lib_free - release a verifier */
void
dkim_verify_lib_free(struct dkim_verify_lib *lib)
{
	if (lib == NULL)
		return;
	dkim_odkim_lib_free(lib->odkim);
	free(lib);
}

/* dkim_verify_begin - start verifying one message */
struct dkim_verify *
dkim_verify_begin(struct dkim_verify_lib *lib, const char *qid)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));

	if (lib->odkim != NULL)
		v->odkim = dkim_odkim_begin(lib->odkim, qid);
	else
		v->msg = dkim_msg_begin(&lib->opt, qid);
	return v;
}

/* dkim_verify_header - one header field */
void
dkim_verify_header(struct dkim_verify *v, const char *name, const char *value)
{
	if (v->odkim != NULL)
		dkim_odkim_header(v->odkim, name, value);
	else
		dkim_msg_header(v->msg, name, value);
}

/* dkim_verify_eoh - end of the header */
void
dkim_verify_eoh(struct dkim_verify *v)
{
	if (v->odkim != NULL)
		dkim_odkim_eoh(v->odkim);
	else
		dkim_msg_eoh(v->msg);
}

/* dkim_verify_body - one body chunk */
void
dkim_verify_body(struct dkim_verify *v, const unsigned char *data, size_t len)
{
	if (v->odkim != NULL)
		dkim_odkim_body(v->odkim, data, len);
	else
		dkim_msg_body(v->msg, data, len);
}

/* dkim_verify_eom - finish: look up keys, verify, report */
int
dkim_verify_eom(struct dkim_verify *v, struct dkim_verify_results *out)
{
	if (v->odkim != NULL)
		return dkim_odkim_eom(v->odkim, out);
	return dkim_msg_eom(v->msg, out);
}

/* dkim_verify_free - end the message */
void
dkim_verify_free(struct dkim_verify *v)
{
	if (v == NULL)
		return;
	dkim_odkim_free(v->odkim);
	dkim_msg_free(v->msg);
	free(v);
}

/* dkim_verify_results_free - release results */
void
dkim_verify_results_free(struct dkim_verify_results *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; r->sig != NULL && i < r->n; i++)
		free(r->sig[i].b);
	free(r->sig);
	memset(r, 0, sizeof(*r));
}

/* dkim_verify_res_name - RFC 8601 result names */
const char *
dkim_verify_res_name(enum dkim_verify_res r)
{
	switch (r) {
	case DKIM_VERIFY_PASS:	return "pass";
	case DKIM_VERIFY_FAIL:	return "fail";
	case DKIM_VERIFY_NEUTRAL:	return "neutral";
	case DKIM_VERIFY_POLICY:	return "policy";
	case DKIM_VERIFY_TEMPERROR:	return "temperror";
	case DKIM_VERIFY_PERMERROR:	return "permerror";
	}
	return "permerror";
}

/* dkim_verify_dnssec_name - "unknown", "insecure", "secure" */
const char *
dkim_verify_dnssec_name(enum dkim_verify_dnssec d)
{
	switch (d) {
	case DKIM_VERIFY_DNSSEC_UNKNOWN:	return "unknown";
	case DKIM_VERIFY_DNSSEC_INSECURE:	return "insecure";
	case DKIM_VERIFY_DNSSEC_SECURE:	return "secure";
	}
	return "unknown";
}

/* dkim_verify_engine_name - "builtin", "libopendkim" */
const char *
dkim_verify_engine_name(enum dkim_verify_engine e)
{
	return e == DKIM_VERIFY_ENGINE_LIBOPENDKIM ? "libopendkim" : "builtin";
}

/*
 * history_inbound.c - the history record of one inbound message, built
 * from what inbound_finish left (SPF, the DKIM results, the DMARC outcome)
 * and the verdict applied. Pure: called on the message path, it only
 * copies strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/history_inbound.h"
#include "base/buf.h"
#include "base/mailaddr.h"
#include "auth/dkim_verify.h"
#include "auth/dmarc.h"
#include "auth/spf.h"

/* history_inbound_align - "r" or "s" */
static const char *
history_inbound_align(enum dmarc_align a)
{
	return a == DMARC_ALIGN_STRICT ? "s" : "r";
}

/* history_inbound_policy - a tag's policy name, "" when absent */
static const char *
history_inbound_policy(enum dmarc_policy p)
{
	return p == DMARC_POLICY_UNSET ? "" : dmarc_policy_name(p);
}

/* history_inbound_applied - what was done: reject, quarantine or none */
static const char *
history_inbound_applied(const struct verdict *v)
{
	if (v->action == VERDICT_REJECT)
		return "reject";
	if (v->quarantine != VERDICT_Q_NONE)
		return "quarantine";
	return "none";
}

/* history_inbound_reasons - the policy override reasons, space separated */
static void
history_inbound_reasons(const struct dmarc_outcome *o, const char *applied,
    struct buf *out)
{
	if (o->result != DMARC_RESULT_FAIL)
		return;
	if (o->sampled_out)
		buf_puts(out, "sampled_out ");
	if (o->testing)
		buf_puts(out, "other:t=y ");
	/* our dmarc_*_action enacted other than what the domain asked */
	if (strcmp(applied, dmarc_policy_name(o->disposition)) != 0)
		buf_puts(out, "local_policy ");
	if (out->len > 0)
		out->data[--out->len] = '\0';
}

/* history_inbound_policy_tags - the record found, as published */
static void
history_inbound_policy_tags(const struct dmarc_outcome *o,
    struct history_record *r)
{
	const struct dmarc_record *d = &o->record;
	static const char *const psd[] = { "u", "y", "n" };
	static const unsigned fo_bit[] = { DMARC_FO_0, DMARC_FO_1, DMARC_FO_D,
	    DMARC_FO_S };
	static const char *const fo_name[] = { "0", "1", "d", "s" };
	struct buf rua = BUF_INIT, fo = BUF_INIT;
	size_t i;

	history_record_set(&r->policy_domain, o->policy_domain);
	if (!o->have_record)
		return;
	history_record_set(&r->p, o->source == DMARC_SOURCE_RUA_FALLBACK
	    ? "none" : history_inbound_policy(d->p));
	history_record_set(&r->sp, history_inbound_policy(d->sp));
	history_record_set(&r->np, history_inbound_policy(d->np));
	history_record_set(&r->adkim, history_inbound_align(d->adkim));
	history_record_set(&r->aspf, history_inbound_align(d->aspf));
	r->pct = d->pct;
	r->testing = d->testing;
	history_record_set(&r->psd, (size_t)d->psd < 3 ? psd[d->psd] : "u");
	for (i = 0; i < 4; i++)
		if (d->fo & fo_bit[i])
			buf_printf(&fo, "%s%s", fo.len ? ":" : "", fo_name[i]);
	history_record_set(&r->fo, fo.len ? buf_cstr(&fo) : "0");
	buf_free(&fo);
	/* with the size limit as published (!NNk), which the report honours */
	for (i = 0; i < d->nrua; i++) {
		buf_printf(&rua, "%s%s", i ? " " : "", d->rua[i]);
		if (d->rua_limit[i] > 0)
			buf_printf(&rua, "!%llu", d->rua_limit[i]);
	}
	history_record_set(&r->rua, buf_cstr(&rua));
	buf_free(&rua);
}

/* history_inbound_record - the record of a message, or NULL when none is kept */
struct history_record *
history_inbound_record(const struct inbound *in, time_t now,
    const char *client_ip, const char *envfrom, const char *rcpt_domain,
    const struct verdict *v)
{
	struct history_record *r;
	struct buf reasons = BUF_INIT;
	const char *applied;
	char *dom;
	size_t i;

	/* a temporary failure comes back: it is recorded when it is decided */
	if (in == NULL || !in->dmarc_done || v->action == VERDICT_TEMPFAIL)
		return NULL;
	r = history_record_new();
	r->time = now;
	history_record_set(&r->source_ip, client_ip);
	dom = envfrom != NULL ? mailaddr_envelope_domain(envfrom) : NULL;
	history_record_set(&r->envelope_from, dom);
	free(dom);
	history_record_set(&r->envelope_to, rcpt_domain);
	history_record_set(&r->header_from, in->dmarc.from_domain);
	if (in->spf_done) {
		history_record_set(&r->spf_result,
		    spf_res_name(in->spf.mailfrom.res));
		history_record_set(&r->spf_domain, in->spf.mailfrom.domain);
		/* a null sender is checked as postmaster@HELO */
		history_record_set(&r->spf_scope, in->spf.envelope_from[0]
		    ? "mfrom" : "helo");
	} else {
		history_record_set(&r->spf_result, "none");
		history_record_set(&r->spf_scope, "mfrom");
	}
	r->spf_aligned = in->dmarc.spf_aligned;
	for (i = 0; i < in->dkimres.n; i++) {
		history_record_add_dkim(r, in->dkimres.sig[i].domain,
		    in->dkimres.sig[i].selector,
		    dkim_verify_res_name(in->dkimres.sig[i].res));
		if (i < in->dmarc.ndkim && in->dmarc.dkim_aligned != NULL
		    && in->dmarc.dkim_aligned[i])
			r->dkim_aligned = 1;
	}
	history_inbound_policy_tags(&in->dmarc, r);
	history_record_set(&r->result, dmarc_result_name(in->dmarc.result));
	applied = history_inbound_applied(v);
	history_record_set(&r->disposition, applied);
	history_inbound_reasons(&in->dmarc, applied, &reasons);
	history_record_set(&r->reasons, buf_cstr(&reasons));
	buf_free(&reasons);
	return r;
}

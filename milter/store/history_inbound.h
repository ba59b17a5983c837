/*
 * history_inbound.h - the DMARC history record of one inbound message,
 * built from the inbound state at its end (pure; the message path calls
 * it and hands the record to history_submit).
 */
#ifndef AUTHMILTER_HISTORY_INBOUND_H
#define AUTHMILTER_HISTORY_INBOUND_H

#include <time.h>

#include "store/history.h"
#include "policy/inbound.h"
#include "policy/verdict.h"

/*
 * history_inbound_record - the record of a message whose DMARC was
 * evaluated (in->dmarc_done), with the verdict v applied; NULL when none
 * is kept (not evaluated, or tempfailed: the MTA brings it back). client_ip,
 * envfrom (the MAIL FROM path) and rcpt_domain (the first recipient's
 * domain) may be NULL.
 */
struct history_record *history_inbound_record(const struct inbound *in,
    time_t now, const char *client_ip, const char *envfrom,
    const char *rcpt_domain, const struct verdict *v);

#endif

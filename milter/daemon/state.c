/*
 * state.c - connection and message state, with one cleanup path.
 *
 * The only shared data is the in-flight message counter (atomic), read by
 * the shutdown path to let messages finish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/state.h"
#include "base/xalloc.h"

static long state_in_flight;	/* atomic */

/* state_conn_new - new connection, pinning the current snapshot */
struct state_conn *
state_conn_new(void)
{
	struct state_conn *c = xcalloc(1, sizeof(*c));

	c->cfg = config_acquire();
	return c;
}

/* state_conn_free - free a connection */
void
state_conn_free(struct state_conn *c)
{
	if (c == NULL)
		return;
	state_msg_end(c);
	config_release(c->cfg);
	free(c->client_host);
	free(c->helo);
	free(c);
}

/* state_msg_new - start a message */
struct state_msg *
state_msg_new(struct state_conn *c)
{
	state_msg_end(c);
	/*
	 * Each message runs with the snapshot current when it starts, so a
	 * reload reaches long-lived MTA connections at their next message.
	 */
	config_release(c->cfg);
	c->cfg = config_acquire();
	c->msg = xcalloc(1, sizeof(*c->msg));
	(void)snprintf(c->msg->qid, sizeof(c->msg->qid), "NOQUEUE");
	(void)clock_gettime(CLOCK_MONOTONIC, &c->msg->t0);
	__atomic_add_fetch(&state_in_flight, 1, __ATOMIC_RELAXED);
	return c->msg;
}

/* state_msg_end - free the message in progress, if any */
void
state_msg_end(struct state_conn *c)
{
	struct state_msg *m = c->msg;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nhdrs; i++) {
		free((char *)m->hdrs[i].name);
		free((char *)m->hdrs[i].value);
	}
	free(m->hdrs);
	free(m->envfrom);
	free(m->envfrom_args);
	free(m->rcpt_domain);
	for (i = 0; i < m->nbounces; i++) {
		free(m->bounces[i].rcpt);
		free(m->bounces[i].original);
	}
	free(m->bounces);
	dsn_free(m->dsn);
	free(m->auth_authen);
	forgery_free(&m->forged);
	mode_result_free(&m->mode);
	outbound_free(m->out);
	inbound_free(m->in);
	free(m);
	c->msg = NULL;
	__atomic_sub_fetch(&state_in_flight, 1, __ATOMIC_RELAXED);
}

/* state_msg_add_header - keep a header */
int
state_msg_add_header(struct state_msg *m, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 4;

	if (strcasecmp(name, "From") == 0)
		m->nfrom++;
	if (m->hdr_overflow || n > STATE_MAX_HEADER_BYTES - m->hdrbytes) {
		m->hdr_overflow = 1;
		return -1;
	}
	if (m->nhdrs == m->hdrcap) {
		m->hdrcap = m->hdrcap ? m->hdrcap * 2 : 32;
		m->hdrs = xreallocarray(m->hdrs, m->hdrcap, sizeof(*m->hdrs));
	}
	m->hdrs[m->nhdrs].name = xstrdup(name);
	m->hdrs[m->nhdrs].value = xstrdup(value);
	m->nhdrs++;
	m->hdrbytes += n;
	return 0;
}

/* state_msg_add_bounce - remember a verified bounce recipient */
void
state_msg_add_bounce(struct state_msg *m, const char *rcpt,
    const char *original, time_t issued)
{
	m->bounces = xreallocarray(m->bounces, m->nbounces + 1,
	    sizeof(*m->bounces));
	m->bounces[m->nbounces].rcpt = xstrdup(rcpt);
	m->bounces[m->nbounces].original = xstrdup(original);
	m->bounces[m->nbounces].issued = issued;
	m->nbounces++;
}

/* state_msg_set_qid - record the queue id */
void
state_msg_set_qid(struct state_msg *m, const char *qid)
{
	size_t n;

	if (qid == NULL || *qid == '\0')
		return;
	n = strlen(qid);
	if (n >= sizeof(m->qid))
		n = sizeof(m->qid) - 1;
	memcpy(m->qid, qid, n);
	m->qid[n] = '\0';
}

/* state_messages_in_flight - messages not yet ended */
long
state_messages_in_flight(void)
{
	return __atomic_load_n(&state_in_flight, __ATOMIC_RELAXED);
}

/*
 * mta.c - macros, modifications and replies on an engine session.
 *
 * Threading: called only from the session's own thread (its callbacks).
 * Modifications are queued in the session's output and go to the MTA
 * with the end-of-message reply, in one write. A session that libmilter
 * serves (s->lm set) gets its macros and modifications through
 * lmengine.c instead; the checks and reply texts are the same.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/log.h"
#include "daemon/lmengine.h"
#include "daemon/mta.h"

/* mta_get_state - connection private data */
void *
mta_get_state(struct engine_session *s)
{
	return s->priv;
}

/* mta_set_state - set connection private data */
void
mta_set_state(struct engine_session *s, void *state)
{
	s->priv = state;
}

/* mta_name_eq - macro names equal, "i" matching "{i}" */
static int
mta_name_eq(const char *have, const char *want)
{
	size_t hl = strlen(have), wl = strlen(want);

	if (hl == wl && memcmp(have, want, hl) == 0)
		return 1;
	if (hl >= 2 && have[0] == '{' && have[hl - 1] == '}') {
		have++;
		hl -= 2;
	}
	if (wl >= 2 && want[0] == '{' && want[wl - 1] == '}') {
		want++;
		wl -= 2;
	}
	return hl == wl && memcmp(have, want, hl) == 0;
}

/* mta_macro - a macro value, NULL if unset; the latest stage wins */
const char *
mta_macro(struct engine_session *s, const char *name)
{
	static const int latest_first[] = { PROTO_M_EOM, PROTO_M_EOH,
	    PROTO_M_DATA, PROTO_M_ENVRCPT, PROTO_M_ENVFROM, PROTO_M_HELO,
	    PROTO_M_CONNECT };
	const char *p, *end, *val;
	size_t i;

	if (s->lm != NULL)
		return lmengine_macro(s, name);
	for (i = 0; i < sizeof(latest_first) / sizeof(latest_first[0]); i++) {
		const struct buf *b = &s->macros[latest_first[i]];

		if (b->len == 0)
			continue;
		p = b->data;
		end = b->data + b->len;
		/* pairs name\0value\0; engine.c checked the last byte is NUL */
		while (p < end) {
			val = p + strlen(p) + 1;
			if (val >= end)
				break;
			if (mta_name_eq(p, name))
				return val;
			p = val + strlen(val) + 1;
		}
	}
	return NULL;
}

/* mta_may - is a modification possible now? logs why not */
static int
mta_may(struct engine_session *s, const char *qid, unsigned long action,
    const char *what)
{
	if (!s->in_eom) {
		log_err(qid, "cannot %s outside end of message", what);
		return 0;
	}
	if ((s->actions & action) == 0) {
		log_err(qid, "cannot %s: the MTA did not allow it in the "
		    "negotiation", what);
		return 0;
	}
	return 1;
}

/* mta_granted - did the MTA grant action (PROTO_F_*) in the negotiation? */
int
mta_granted(struct engine_session *s, unsigned long action)
{
	return (s->actions & action) == action;
}

/* mta_put_str - append a string with its NUL */
static void
mta_put_str(struct buf *b, const char *str)
{
	buf_append(b, str, strlen(str) + 1);
}

/* mta_mod - queue one modification: cmd, optional index, strings; 0 or -1 */
static int
mta_mod(struct engine_session *s, const char *qid, int cmd, int with_idx,
    uint32_t idx, const char *a, const char *b)
{
	size_t len = 1 + (with_idx ? PROTO_WORD_SIZE : 0) + strlen(a) + 1
	    + (b != NULL ? strlen(b) + 1 : 0);
	uint32_t n = htonl((uint32_t)len);

	if (s->lm != NULL)
		return lmengine_modify(s, qid, cmd, (int)idx, a, b);
	buf_append(&s->out, &n, sizeof(n));
	buf_putc(&s->out, cmd);
	if (with_idx) {
		n = htonl(idx);
		buf_append(&s->out, &n, sizeof(n));
	}
	mta_put_str(&s->out, a);
	if (b != NULL)
		mta_put_str(&s->out, b);
	return 0;
}

/* mta_insert_header - insert a header */
int
mta_insert_header(struct engine_session *s, const char *qid, int idx,
    const char *name, const char *value)
{
	if (!mta_may(s, qid, PROTO_F_ADDHDRS, "insert a header") || idx < 0
	    || name[0] == '\0')
		return -1;
	return mta_mod(s, qid, PROTO_R_INSHEADER, 1, (uint32_t)idx, name, value);
}

/* mta_header_leading_space - PROTO_P_HDR_LEADSPC granted */
int
mta_header_leading_space(struct engine_session *s)
{
	return (s->proto & PROTO_P_HDR_LEADSPC) != 0;
}

/* mta_delete_header - delete one header */
int
mta_delete_header(struct engine_session *s, const char *qid, const char *name,
    int idx)
{
	if (!mta_may(s, qid, PROTO_F_CHGHDRS, "delete a header") || idx < 1)
		return -1;
	return mta_mod(s, qid, PROTO_R_CHGHEADER, 1, (uint32_t)idx, name, "");
}

/* mta_quarantine - quarantine the message */
int
mta_quarantine(struct engine_session *s, const char *qid, const char *reason)
{
	if (!mta_may(s, qid, PROTO_F_QUARANTINE, "quarantine the message"))
		return -1;
	return mta_mod(s, qid, PROTO_R_QUARANTINE, 0, 0,
	    reason[0] ? reason : "authmilter", NULL);
}

/* mta_change_from - replace the envelope sender */
int
mta_change_from(struct engine_session *s, const char *qid, const char *from,
    const char *args)
{
	if (!mta_may(s, qid, PROTO_F_CHGFROM, "change the envelope sender"))
		return -1;
	return mta_mod(s, qid, PROTO_R_CHGFROM, 0, 0, from,
	    args != NULL && args[0] != '\0' ? args : NULL);
}

/* mta_is_postfix - the MTA named itself Postfix (macro v, "Postfix 3.7.11") */
static int
mta_is_postfix(struct engine_session *s)
{
	const char *v = mta_macro(s, "v");

	return v != NULL && strncasecmp(v, "Postfix", 7) == 0;
}

/*
 * mta_sender_args - the MAIL FROM parameters the MTA takes back with a new
 * sender. The two MTAs differ: Postfix's CHGFROM drops RET and ENVID
 * unless they are given again, and takes no others (SIZE and BODY stay
 * with its queue file); Sendmail's replaces every parameter with those
 * given (RET and ENVID alone lose BODY=8BITMIME and leave an empty AUTH=
 * for the relay), and keeps them all when none is given. Any MTA that
 * does not name itself Postfix (Sendmail's v is its bare version) is
 * given none: at worst a DSN's RET and ENVID are lost, never the body
 * type.
 */
char *
mta_sender_args(struct engine_session *s, char *const *argv)
{
	struct buf args = BUF_INIT;
	char *kept;
	int i;

	if (argv == NULL || argv[0] == NULL || !mta_is_postfix(s))
		return NULL;
	for (i = 1; argv[i] != NULL; i++)
		if (strncasecmp(argv[i], "RET=", 4) == 0
		    || strncasecmp(argv[i], "ENVID=", 6) == 0)
			buf_printf(&args, "%s%s", args.len ? " " : "", argv[i]);
	kept = args.len > 0 ? buf_steal(&args) : NULL;
	buf_free(&args);
	return kept;
}

/* mta_add_rcpt - add an envelope recipient */
int
mta_add_rcpt(struct engine_session *s, const char *qid, const char *rcpt)
{
	if (!mta_may(s, qid, PROTO_F_ADDRCPT, "add a recipient"))
		return -1;
	return mta_mod(s, qid, PROTO_R_ADDRCPT, 0, 0, rcpt, NULL);
}

/* mta_del_rcpt - remove an envelope recipient */
int
mta_del_rcpt(struct engine_session *s, const char *qid, const char *rcpt)
{
	if (!mta_may(s, qid, PROTO_F_DELRCPT, "remove a recipient"))
		return -1;
	return mta_mod(s, qid, PROTO_R_DELRCPT, 0, 0, rcpt, NULL);
}

/* mta_reply_ok - a reply part: printable ASCII, no line breaks */
static int
mta_reply_ok(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return 0;
	return 1;
}

/* mta_set_reply - set an SMTP reply */
int
mta_set_reply(struct engine_session *s, const char *qid, const char *rcode,
    const char *xcode, const char *text)
{
	char msg[sizeof(s->reply)];
	size_t i, j, need;
	int n;

	if (strlen(rcode) != 3 || (rcode[0] != '4' && rcode[0] != '5')
	    || rcode[1] < '0' || rcode[1] > '9' || rcode[2] < '0' || rcode[2] > '9'
	    || (xcode != NULL && (xcode[0] != rcode[0] || xcode[1] != '.'
	    || !mta_reply_ok(xcode))) || (text != NULL && !mta_reply_ok(text))) {
		log_warn(qid, "could not set reply %s %s", rcode,
		    xcode ? xcode : "");
		return -1;
	}
	n = snprintf(msg, sizeof(msg), "%s%s%s", rcode, xcode ? " " : "",
	    xcode ? xcode : "");
	if (n < 0 || (size_t)n + 1 >= sizeof(msg)) {
		log_warn(qid, "could not set reply %s: enhanced code too long", rcode);
		return -1;
	}
	j = (size_t)n;
	if (text != NULL && text[0] != '\0')
		msg[j++] = ' ';
	/*
	 * '%' would be taken as a format by some MTAs: double it. A long text
	 * is cut between characters, never inside a "%%" pair.
	 */
	for (i = 0; text != NULL && text[i] != '\0'; i++) {
		need = text[i] == '%' ? 2 : 1;
		if (j + need >= sizeof(msg))
			break;
		if (text[i] == '%')
			msg[j++] = '%';
		msg[j++] = text[i];
	}
	msg[j] = '\0';
	memcpy(s->reply, msg, j + 1);
	return 0;
}

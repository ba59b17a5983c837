/*
 * control_cmd.c - authmilterctl's requests parsed and answers formatted:
 * the pure part of the control socket (control.c does the I/O).
 *
 * Reads a pinned snapshot and the keys' atomic states; writes only the
 * caller's buffers. Key selection is outbound_choose's, the block's
 * configuration config_dump_domain's: nothing here decides anew.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/keys.h"
#include "base/buf.h"
#include "base/log.h"
#include "daemon/control.h"
#include "policy/bouncecheck.h"
#include "policy/config.h"
#include "policy/outbound.h"

static const char *const control_cmd_names[] = {
	[CONTROL_STATUS] = "status", [CONTROL_KEYS] = "keys",
	[CONTROL_DOMAIN] = "domain", [CONTROL_RELOAD] = "reload",
	[CONTROL_CHECK] = "check", [CONTROL_HELP] = "help",
};

static const char *const control_phase_names[] = {
	[KEY_PHASE_UNSEEN] = "active", [KEY_PHASE_PENDING] = "pending",
	[KEY_PHASE_ACTIVE] = "active", [KEY_PHASE_EXPIRING] = "expiring",
	[KEY_PHASE_EXPIRED] = "expired",
};

/* control_split - the words of line into v (at most max); their number, or -1 with err */
static int
control_split(char *line, char **v, int max, char *err, size_t errlen)
{
	char *p = line;
	int n = 0;

	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return log_fail(err, errlen, "control character in the "
			    "request");
		else if ((unsigned char)*p == 0x7f)
			return log_fail(err, errlen, "control character in the "
			    "request");
	for (p = line; *p != '\0';) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (n == max)
			return log_fail(err, errlen, "too many words in the "
			    "request (at most %d)", max);
		v[n++] = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

/* control_state_named - the enum key_pub named s, or -1 */
static int
control_state_named(const char *s)
{
	int i;

	for (i = KEY_PUB_UNCHECKED; i <= KEY_PUB_UNKNOWN; i++)
		if (strcmp(s, keys_pub_name((enum key_pub)i)) == 0)
			return i;
	return -1;
}

/* control_set_domain - a domain argument into r; 0 or -1 with err */
static int
control_set_domain(struct control_req *r, const char *d, char *err,
    size_t errlen)
{
	if (strlen(d) >= sizeof(r->domain))
		return log_fail(err, errlen, "domain name too long");
	memcpy(r->domain, d, strlen(d) + 1);
	return 0;
}

/* control_parse_options - keys' and status' options from v[1] on; 0 or -1 with err */
static int
control_parse_options(struct control_req *r, char **v, int n, char *err,
    size_t errlen)
{
	int i;

	for (i = 1; i < n; i++) {
		if (strcmp(v[i], "--json") == 0)
			r->json = 1;
		else if (r->cmd == CONTROL_KEYS && (strcmp(v[i], "--state") == 0
		    || strcmp(v[i], "--domain") == 0)) {
			if (i + 1 == n)
				return log_fail(err, errlen, "%s needs a value",
				    v[i]);
			if (strcmp(v[i], "--domain") == 0) {
				if (control_set_domain(r, v[++i], err, errlen) != 0)
					return -1;
			} else if ((r->state = control_state_named(v[++i])) < 0)
				return log_fail(err, errlen, "unknown state \"%s\" "
				    "(unchecked, published, missing, truncated, "
				    "mismatched, revoked or unknown)", v[i]);
		} else
			return log_fail(err, errlen, "%s: unknown option \"%s\"",
			    control_cmd_names[r->cmd], v[i]);
	}
	return 0;
}

/* control_parse - a request line into r */
int
control_parse(const char *line, struct control_req *r, char *err,
    size_t errlen)
{
	char copy[CONTROL_MAX_REQUEST], *v[CONTROL_MAX_ARGS];
	size_t i;
	int n;

	memset(r, 0, sizeof(*r));
	r->state = -1;
	if (strlen(line) >= sizeof(copy))
		return log_fail(err, errlen, "request too long");
	memcpy(copy, line, strlen(line) + 1);
	if ((n = control_split(copy, v, CONTROL_MAX_ARGS, err, errlen)) < 0)
		return -1;
	if (n == 0)
		return log_fail(err, errlen, "empty request (try help)");
	for (i = 0; i < sizeof(control_cmd_names) / sizeof(*control_cmd_names); i++)
		if (strcmp(v[0], control_cmd_names[i]) == 0)
			break;
	if (i == sizeof(control_cmd_names) / sizeof(*control_cmd_names))
		return log_fail(err, errlen, "unknown command \"%.64s\" (try "
		    "help)", v[0]);
	r->cmd = (enum control_cmd)i;
	switch (r->cmd) {
	case CONTROL_STATUS:
	case CONTROL_KEYS:
		return control_parse_options(r, v, n, err, errlen);
	case CONTROL_DOMAIN:
	case CONTROL_CHECK:
		if (n != 2)
			return log_fail(err, errlen, "usage: %s DOMAIN", v[0]);
		return control_set_domain(r, v[1], err, errlen);
	default:
		if (n != 1)
			return log_fail(err, errlen, "usage: %s", v[0]);
		return 0;
	}
}

/* control_help - the commands */
void
control_help(struct buf *out)
{
	buf_puts(out,
	    "status [--json]       version, uptime, snapshot, in flight, reloads, history\n"
	    "keys [--state S] [--domain D] [--json]\n"
	    "                      every key, its DNS state and window\n"
	    "domain D              D's configuration, keys, and which sign now\n"
	    "reload                reload the configuration, print the outcome\n"
	    "check D               look D's key records up again now\n");
}

/* control_json_string - s as a JSON string */
void
control_json_string(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	buf_putc(out, '"');
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(out, "\\u%04x", *p);
		else
			buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

/* control_count_keys - c's keys by state into n[]; their total */
static size_t
control_count_keys(const struct config *c, size_t n[KEY_PUB_UNKNOWN + 1])
{
	size_t i, j, total = 0;
	enum key_pub p;

	for (i = 0; i <= KEY_PUB_UNKNOWN; i++)
		n[i] = 0;
	for (i = 0; i < c->ndomains; i++)
		for (j = 0; j < c->domains[i].nkeys; j++, total++)
			if ((unsigned)(p = keys_pub_get(&c->domains[i].keys[j]))
			    <= KEY_PUB_UNKNOWN)
				n[p]++;
	return total;
}

/* control_count_bounce - c's bounce domains by state into n[] */
static void
control_count_bounce(const struct config *c, size_t n[BOUNCE_NHEALTH])
{
	enum bounce_health h;
	size_t i;

	memset(n, 0, BOUNCE_NHEALTH * sizeof(n[0]));
	for (i = 0; i < c->nbounce; i++)
		if ((unsigned)(h = bouncecheck_get(c->by_bounce[i], NULL))
		    < BOUNCE_NHEALTH)
			n[h]++;
}

/* control_bounce_line - d's bounce domain and its state, one table line */
static void
control_bounce_line(const struct config_domain *d, struct buf *out)
{
	enum bounce_why why;
	enum bounce_health h = bouncecheck_get(d, &why);

	buf_printf(out, "%-30s %-30s %-10s %s\n", d->bounce_domain, d->name,
	    bouncecheck_health_name(h), why != BOUNCE_WHY_NONE
	    ? bouncecheck_why_name(why) : "-");
}

/* control_status_json - control_format_status as JSON */
static void
control_status_json(const struct control_status *st, const struct config *c,
    long long now, struct buf *out)
{
	size_t n[KEY_PUB_UNKNOWN + 1], bn[BOUNCE_NHEALTH], total, i;

	buf_puts(out, "{\"version\": ");
	control_json_string(out, st->version);
	buf_printf(out, ", \"pid\": %ld, \"uptime\": %lld", st->pid, st->uptime);
	if (c != NULL) {
		total = control_count_keys(c, n);
		buf_printf(out, ", \"generation\": %lu, \"snapshot_age\": %lld, "
		    "\"conf\": ", c->generation, now - c->installed);
		control_json_string(out, c->path);
		buf_printf(out, ", \"domains\": %zu, \"domains_failed\": %zu, "
		    "\"keys\": %zu, \"key_states\": {", c->ndomains, c->failed.n,
		    total);
		for (i = 0; i <= KEY_PUB_UNKNOWN; i++)
			buf_printf(out, "%s\"%s\": %zu", i ? ", " : "",
			    keys_pub_name((enum key_pub)i), n[i]);
		buf_putc(out, '}');
		control_count_bounce(c, bn);
		buf_printf(out, ", \"bounce_domains\": %zu, "
		    "\"bounce_domain_states\": {", c->nbounce);
		for (i = 0; i < BOUNCE_NHEALTH; i++)
			buf_printf(out, "%s\"%s\": %zu", i ? ", " : "",
			    bouncecheck_health_name((enum bounce_health)i), bn[i]);
		buf_putc(out, '}');
	}
	if (st->history)
		buf_printf(out, ", \"history\": {\"queued\": %llu, \"written\": "
		    "%llu, \"pending\": %llu, \"dropped_queue_full\": %llu, "
		    "\"dropped_store_unavailable\": %llu}", st->hist.queued,
		    st->hist.written, st->hist.pending, st->hist.dropped_full,
		    st->hist.dropped_store);
	else
		buf_puts(out, ", \"history\": null");
	buf_printf(out, ", \"messages_in_flight\": %ld, \"connections\": %ld, "
	    "\"reload_in_progress\": %s, \"reloads\": %lu, \"last_reload\": ",
	    st->messages, st->connections, st->reloading ? "true" : "false",
	    st->reloads);
	if (st->reloads == 0)
		buf_puts(out, "null");
	else {
		buf_printf(out, "{\"ok\": %s, \"age\": %lld, \"result\": ",
		    st->last_ok ? "true" : "false", st->last_age);
		control_json_string(out, st->last_result);
		buf_putc(out, '}');
	}
	buf_puts(out, "}\n");
}

/* control_format_status - the status answer */
void
control_format_status(const struct control_status *st,
    const struct config *c, long long now, int json, struct buf *out)
{
	size_t n[KEY_PUB_UNKNOWN + 1], bn[BOUNCE_NHEALTH], total, i, shown = 0;

	if (json) {
		control_status_json(st, c, now, out);
		return;
	}
	buf_printf(out, "version: %s\npid: %ld\nuptime: %lld s\n", st->version,
	    st->pid, st->uptime);
	if (c != NULL) {
		total = control_count_keys(c, n);
		buf_printf(out, "snapshot: generation %lu, %lld s old, from %s\n"
		    "domains: %zu loaded, %zu failed\nkeys: %zu", c->generation,
		    now - c->installed, c->path, c->ndomains, c->failed.n, total);
		for (i = 0; i <= KEY_PUB_UNKNOWN; i++)
			if (n[i] > 0)
				buf_printf(out, "%s%zu %s", shown++ ? ", " : " (",
				    n[i], keys_pub_name((enum key_pub)i));
		buf_puts(out, shown ? ")\n" : "\n");
		if (c->nbounce > 0) {
			control_count_bounce(c, bn);
			buf_printf(out, "bounce domains: %zu", c->nbounce);
			for (i = 0, shown = 0; i < BOUNCE_NHEALTH; i++)
				if (bn[i] > 0)
					buf_printf(out, "%s%zu %s", shown++ ? ", "
					    : " (", bn[i], bouncecheck_health_name(
					    (enum bounce_health)i));
			buf_puts(out, shown ? ")\n" : "\n");
		}
	}
	buf_printf(out, "in flight: %ld messages, %ld MTA connections\n"
	    "reload: %s\n", st->messages, st->connections, st->reloading
	    ? "in progress" : "idle");
	if (st->reloads == 0)
		buf_puts(out, "last reload: none since the start\n");
	else
		buf_printf(out, "last reload: %s, %lld s ago: %s\n", st->last_ok
		    ? "ok" : "failed", st->last_age, st->last_result);
	if (st->history)
		buf_printf(out, "history: %llu written, %llu waiting, dropped "
		    "%llu (queue full) and %llu (store unavailable)\n",
		    st->hist.written, st->hist.pending, st->hist.dropped_full,
		    st->hist.dropped_store);
	else
		buf_puts(out, "history: not kept\n");
}

/* control_time - a key time as the conf writes it (UTC); "" for none */
static void
control_time(time_t t, char *out, size_t len)
{
	struct tm tm;

	out[0] = '\0';
	if (t != 0 && (gmtime_r(&t, &tm) == NULL
	    || strftime(out, len, "%Y-%m-%dT%H:%MZ", &tm) == 0))
		(void)snprintf(out, len, "%lld", (long long)t);
}

/* control_load_name - "read", "pending" (key_load = background: not read yet) or "failed" */
static const char *
control_load_name(enum key_load l)
{
	return l == KEY_LOAD_PENDING ? "pending" : l == KEY_LOAD_FAILED
	    ? "failed" : "read";
}

/* control_key_json - one key as a JSON object */
static void
control_key_json(const struct config_domain *d, const struct key *k,
    const char *window, int signs, struct buf *out)
{
	enum key_load l = keys_load_get(k);	/* type and bits: once read */
	char t[64];

	buf_puts(out, "{\"domain\": ");
	control_json_string(out, d->name);
	buf_puts(out, ", \"selector\": ");
	control_json_string(out, k->selector);
	buf_printf(out, ", \"type\": \"%s\", \"bits\": %d, \"file\": \"%s\", "
	    "\"state\": \"%s\", \"window\": \"%s\", \"signs\": %s",
	    l == KEY_LOAD_DONE ? keys_type_name(k->type) : "?",
	    l == KEY_LOAD_DONE ? k->bits : 0, control_load_name(l),
	    keys_pub_name(keys_pub_get(k)), window, signs ? "true" : "false");
	control_time(k->not_before, t, sizeof(t));
	buf_puts(out, ", \"not_before\": ");
	if (t[0] != '\0')
		control_json_string(out, t);
	else
		buf_puts(out, "null");
	control_time(k->not_after, t, sizeof(t));
	buf_puts(out, ", \"not_after\": ");
	if (t[0] != '\0')
		control_json_string(out, t);
	else
		buf_puts(out, "null");
	buf_puts(out, ", \"path\": ");
	control_json_string(out, k->path != NULL ? k->path : "");
	buf_putc(out, '}');
}

/* control_key_text - one key as a line of the keys table */
static void
control_key_text(const struct config_domain *d, const struct key *k,
    const char *window, int signs, struct buf *out)
{
	enum key_load l = keys_load_get(k);	/* type and bits: once read */
	char nb[64], na[64];

	control_time(k->not_before, nb, sizeof(nb));
	control_time(k->not_after, na, sizeof(na));
	buf_printf(out, "%-30s %-16s %-7s %5d %-10s %-8s %s", d->name,
	    k->selector, l == KEY_LOAD_DONE ? keys_type_name(k->type) : "?",
	    l == KEY_LOAD_DONE ? k->bits : 0, keys_pub_name(keys_pub_get(k)),
	    window, signs ? "yes" : "no");
	if (l != KEY_LOAD_DONE)
		buf_printf(out, " file=%s", control_load_name(l));
	if (nb[0] != '\0')
		buf_printf(out, " not_before=%s", nb);
	if (na[0] != '\0')
		buf_printf(out, " not_after=%s", na);
	buf_putc(out, '\n');
}

/* control_domain_keys - d's keys (state filter: -1 any) as lines or JSON objects; how many */
static size_t
control_domain_keys(const struct config *c, const struct config_domain *d,
    int state, int json, size_t shown, time_t now, struct buf *out)
{
	const struct key *sel[2];
	const struct key *k;
	const char *window;
	char notes[8];
	size_t j, n = 0;
	int ph;

	notes[0] = '\0';
	outbound_choose(c, d, now, sel, notes, sizeof(notes));
	for (j = 0; j < d->nkeys; j++) {
		k = &d->keys[j];
		if (state >= 0 && (int)keys_pub_get(k) != state)
			continue;
		ph = (int)keys_phase(k, now, c->key_expiry_warning);
		window = control_phase_names[ph];
		if (json) {
			buf_puts(out, shown + n ? ",\n  " : "\n  ");
			control_key_json(d, k, window, k == sel[0] || k == sel[1],
			    out);
		} else
			control_key_text(d, k, window, k == sel[0] || k == sel[1],
			    out);
		n++;
	}
	return n;
}

/* control_format_keys - the keys answer */
int
control_format_keys(const struct config *c, const struct control_req *r,
    time_t now, struct buf *out, char *err, size_t errlen)
{
	const struct config_domain *d = NULL;
	size_t i, n = 0;

	if (r->domain[0] != '\0' && (d = config_find_domain(c, r->domain))
	    == NULL)
		return log_fail(err, errlen, "no domain block %s", r->domain);
	if (r->json)
		buf_putc(out, '[');
	else
		buf_printf(out, "%-30s %-16s %-7s %5s %-10s %-8s %s\n", "DOMAIN",
		    "SELECTOR", "TYPE", "BITS", "STATE", "WINDOW", "SIGNS");
	if (d != NULL)
		n = control_domain_keys(c, d, r->state, r->json, 0, now, out);
	for (i = 0; d == NULL && i < c->ndomains; i++)
		n += control_domain_keys(c, &c->domains[i], r->state, r->json, n,
		    now, out);
	if (r->json) {
		buf_puts(out, n ? "\n]\n" : "]\n");
		return 0;
	}
	/* the bounce domains' DNS states beside the keys' (not filtered by --state) */
	if (r->state >= 0 || (d != NULL ? d->bounce_domain == NULL
	    || d->bounce_domain[0] == '\0' : c->nbounce == 0))
		return 0;
	buf_printf(out, "\n%-30s %-30s %-10s %s\n", "BOUNCE DOMAIN", "DOMAIN",
	    "STATE", "WHY");
	if (d != NULL)
		control_bounce_line(d, out);
	for (i = 0; d == NULL && i < c->nbounce; i++)
		control_bounce_line(c->by_bounce[i], out);
	return 0;
}

/* control_why - one line on why key k (NULL: none) of type t signs or not */
static void
control_why(const struct config *c, const struct config_domain *d,
    enum key_type t, const struct key *k, struct buf *out)
{
	enum key_pub p;
	size_t j, any = 0;

	for (j = 0; j < d->nkeys; j++)
		any += d->keys[j].type == t;
	buf_printf(out, "  %-8s ", keys_type_name(t));
	if (k == NULL) {
		buf_puts(out, any == 0 ? "none: the block has no key of this type\n"
		    : "none: no key of this type may sign now (see below)\n");
		return;
	}
	p = keys_pub_get(k);
	buf_printf(out, "%s (record %s): ", k->selector, keys_pub_name(p));
	if (keys_pub_usable(p))
		buf_puts(out, "the first of its type, in preference order, in "
		    "its window with a usable record\n");
	else
		buf_printf(out, "no key of its type is published; "
		    "unpublished_keys = %s signs with %s\n",
		    c->unpublished_keys == CONFIG_UNPUBLISHED_SIGN ? "sign" : "skip",
		    keys_pub_bad(p) ? "a known bad one as the last resort"
		    : "the first whose record is missing");
}

/* control_format_domain - the domain answer */
int
control_format_domain(const struct config *c, const char *domain,
    time_t now, struct buf *out, char *err, size_t errlen)
{
	const struct config_domain *d = config_find_domain(c, domain);
	const struct key *sel[2];
	char notes[1024], *text = NULL;
	size_t len = 0;
	FILE *fp;

	if (d == NULL)
		return log_fail(err, errlen, "no domain block %s", domain);
	if ((fp = open_memstream(&text, &len)) == NULL)
		return log_fail(err, errlen, "cannot format: %m");
	fprintf(fp, "# %s, line %d\n", d->file != NULL ? d->file : c->path,
	    d->line);
	config_dump_domain(d, fp);
	if (fclose(fp) != 0 || text == NULL) {
		free(text);
		return log_fail(err, errlen, "cannot format: out of memory");
	}
	buf_append(out, text, len);
	free(text);
	buf_printf(out, "\nkeys:\n");
	(void)control_domain_keys(c, d, -1, 0, 0, now, out);
	notes[0] = '\0';
	outbound_choose(c, d, now, sel, notes, sizeof(notes));
	buf_puts(out, "\nsigns now:\n");
	control_why(c, d, KEY_RSA, sel[KEY_RSA], out);
	control_why(c, d, KEY_ED25519, sel[KEY_ED25519], out);
	if (notes[0] != '\0')
		buf_printf(out, "skipped: %s\n", notes);
	if (d->bounce_domain != NULL && d->bounce_domain[0] != '\0') {
		enum bounce_why why;
		enum bounce_health h = bouncecheck_get(d, &why);

		buf_printf(out, "bounce domain: %s: %s%s%s%s\n", d->bounce_domain,
		    bouncecheck_health_name(h), why != BOUNCE_WHY_NONE ? " ("
		    : "", why != BOUNCE_WHY_NONE ? bouncecheck_why_name(why) : "",
		    why != BOUNCE_WHY_NONE ? ")" : "");
		buf_printf(out, "  %s\n", h == BOUNCE_HEALTH_BROKEN ? "not "
		    "rewritten into: its mail keeps its own Return-Path"
		    : "Return-Paths rewritten into it");
	}
	if (c->platform != NULL && c->platform != d && d->platform_signature)
		buf_printf(out, "platform: the platform block %s signs this "
		    "domain's mail too (platform_signature = yes)\n",
		    c->platform->name);
	return 0;
}

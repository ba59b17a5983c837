/*
 * config_table.c - every authmilter.conf option, declared once, and the
 * option types: each one's C size and how its values are copied into a
 * domain block and freed (parsing is in config.c, formatting in
 * config_dump.c).
 *
 * To add an option: add a field to struct config (or struct config_domain
 * for options a domain block may override), add a row here, run
 * `make regen-docs` and commit the regenerated sample and man page
 * (`make check` fails until they match this table).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"
#include "policy/config.h"
#include "policy/config_table.h"
#include "base/xalloc.h"

static const char *const choices_log_dest[] = { "syslog", "stderr", NULL };
static const char *const choices_sign_from[] = { "header", "envelope", NULL };
static const char *const choices_on_error[] = { "accept", "tempfail", NULL };
static const char *const choices_unpublished[] = { "sign", "skip", NULL };
static const char *const choices_key_load[] = { "auto", "start", "background",
    NULL };
static const char *const choices_dmarc_mode[] = { "rfc9989", "rfc7489", NULL };
static const char *const choices_dmarc_action[] = { "reject", "quarantine", "none", NULL };
static const char *const choices_quarantine[] = { "header", "hold", "none", NULL };
static const char *const choices_spf_action[] = { "none", "reject", NULL };
static const char *const choices_spf_engine[] = { "builtin", "libspf2", NULL };
static const char *const choices_dkim_verifier[] = { "builtin", "libopendkim", NULL };
static const char *const choices_unauthorized[] = { "nosign", "reject", NULL };
static const char *const choices_key_symlinks[] = { "refuse", "allow", NULL };
static const char *const choices_milter_engine[] = { "builtin", "libmilter", NULL };

/* A row's storage: the offset and the size of its field. */
#define G(field)	offsetof(struct config, field), \
			sizeof(((struct config *)0)->field)
#define D(field)	offsetof(struct config_domain, field), \
			sizeof(((struct config_domain *)0)->field)
/* OPT_CANON's pair of adjacent ints (asserted below). */
#define D2(first, second)	offsetof(struct config_domain, first), \
			sizeof(((struct config_domain *)0)->first) \
			+ sizeof(((struct config_domain *)0)->second)

_Static_assert(offsetof(struct config_domain, bcanon)
    == offsetof(struct config_domain, hcanon) + sizeof(int),
    "OPT_CANON stores hcanon and bcanon side by side");

const struct opt_def config_options[] = {
	/* daemon */
	{ "socket", OPT_SOCKET, OPT_GLOBAL, G(socket),
	  "unix:/run/authmilter/authmilter.sock", 0, 0, NULL,
	  "where the milter listens: unix:PATH, inet:PORT@HOST or inet6:PORT@HOST (no @HOST: loopback only)" },
	{ "socket_mode", OPT_MODE, OPT_GLOBAL, G(socket_mode), "0660", 0, 0777, NULL,
	  "permissions of a unix socket; the MTA's user must be able to connect" },
	{ "pidfile", OPT_STRING, OPT_GLOBAL, G(pidfile),
	  "/run/authmilter/authmilter.pid", 0, 0, NULL,
	  "pid file written when running in the background (empty: none)" },
	{ "user", OPT_STRING, OPT_GLOBAL, G(user), "", 0, 0, NULL,
	  "user to run as once the keys are loaded (empty: keep the starting user)" },
	{ "control_socket", OPT_STRING, OPT_GLOBAL, G(control_socket), "auto",
	  0, 0, NULL,
	  "unix socket of authmilterctl(8), mode 0660, owned by user and its group (root and that group only): a path, auto (next to a unix milter socket: its name with .sock replaced by -control.sock; with an inet one /run/authmilter/authmilter-control.sock) or none; read at start only" },
	{ "milter_timeout", OPT_DURATION, OPT_GLOBAL, G(milter_timeout), "7210s",
	  1, 86400, NULL,
	  "how long an MTA connection may stay silent, as during a DATA upload" },
	{ "max_connections", OPT_INT, OPT_GLOBAL, G(max_connections), "1000",
	  1, 65536, NULL,
	  "MTA connections served at once; one more is closed at once, and the MTA applies its milter_default_action; an idle connection costs no thread (builtin engine): 10000 fit, with an open file limit of twice that and 64 more (authmilter(8), LIMITS)" },
	{ "milter_engine", OPT_ENUM, OPT_GLOBAL, G(milter_engine), "builtin", 0, 0,
	  choices_milter_engine,
	  "milter protocol engine: builtin (ours, the faster) or libmilter (Sendmail 8.17's); read at start only (a reload keeps the running engine and logs that a change takes a restart); with libmilter, milter_timeout is read at start only, libmilter checks the command order its own way and a connection reused after QUIT_NC has its messages tempfailed (authmilter(8), ENGINES)" },
	{ "log_destination", OPT_ENUM, OPT_GLOBAL, G(log_destination), "syslog",
	  0, 0, choices_log_dest,
	  "syslog or stderr (authmilter -f always logs to stderr)" },
	{ "log_level", OPT_LEVEL, OPT_GLOBAL, G(log_level), "info", 0, 0, NULL,
	  "lowest severity logged: err, warning, notice, info or debug" },
	{ "message_summary", OPT_BOOL, OPT_GLOBAL, G(message_summary), "no", 0, 0,
	  NULL, "log one notice a message, key=value: msg qid= mode= client= "
	  "auth= from= signed=d:s:alg,... (outbound); spf= spf_domain= "
	  "dkim=d:s:result,... dmarc= policy= (inbound); reason= for a "
	  "refusal before the end of the message (spf_fail at MAIL FROM, "
	  "bounce_refused at RCPT TO, header_overflow, forged_headers); "
	  "action= quarantine= ms=; with log_level = notice that is the one "
	  "line a message (and the refusals' own notices)" },
	{ "metrics_listen", OPT_LISTEN, OPT_GLOBAL, G(metrics_listen), "", 0, 0,
	  NULL, "Prometheus metrics over HTTP (GET /metrics) on ADDRESS:PORT or [IPv6]:PORT, numeric (empty: off); anyone who can connect reads them, so keep it on loopback or a management network; read at start only (a reload that changes it logs that it takes a restart; authmilter(8), METRICS)" },
	{ "syslog_facility", OPT_FACILITY, OPT_GLOBAL, G(syslog_facility), "mail",
	  0, 0, NULL, "syslog facility: mail, daemon, user or local0..local7" },

	/* policy */
	{ "authserv_id", OPT_DOMAIN, OPT_GLOBAL, G(authserv_id), "", 0, 0, NULL,
	  "authserv-id written into Authentication-Results (empty: this host's name)" },
	{ "internal_hosts", OPT_CIDRS, OPT_GLOBAL, G(internal_hosts),
	  "127.0.0.0/8, ::1", 0, 0, NULL,
	  "clients whose mail is signed without authenticating (networks)" },
	{ "local_clients_internal", OPT_BOOL, OPT_GLOBAL, G(local_clients_internal),
	  "yes", 0, 0, NULL,
	  "a client without a network address (milter family L or U: Sendmail's sendmail -bs, an SMTP server on a unix socket, a Postfix client whose address is unavailable to XCLIENT) counts as internal: its mail is signed; signer_networks admit it when they hold 127.0.0.1 or ::1 (no: it is verified as an outside client)" },
	{ "dns_servers", OPT_WORDS, OPT_GLOBAL, G(dns_servers), "", 0, 0, NULL,
	  "DNS servers to ask, host[@port], ... (empty: the system resolver)" },
	{ "sign_from", OPT_ENUM, OPT_GLOBAL, G(sign_from), "header", 0, 0,
	  choices_sign_from,
	  "which domain selects the signing block: the header From or the envelope sender" },
	{ "on_internal_error", OPT_ENUM, OPT_GLOBAL, G(on_internal_error), "accept",
	  0, 0, choices_on_error,
	  "what an internal error does to a message: accept it unsigned, or tempfail" },
	{ "allow_group_readable_keys", OPT_BOOL, OPT_GLOBAL,
	  G(allow_group_readable_keys), "no", 0, 0, NULL,
	  "accept private key files readable by their group (mode 0640)" },
	{ "key_symlinks", OPT_ENUM, OPT_GLOBAL, G(key_symlinks), "refuse", 0, 0,
	  choices_key_symlinks,
	  "a key or bounce_secret path that is a symbolic link (a mounted secrets volume): refuse, or allow; its target must still be owned by root, in directories only root can write" },
	{ "key_dir", OPT_STRING, OPT_GLOBAL, G(key_dir), "", 0, 0, NULL,
	  "directory of the keys a block names by selector alone: key = SELECTOR is the file KEY_DIR/DOMAIN/SELECTOR.pem (relative: to the main file's directory; empty: every key names its file)" },
	{ "platform_domain", OPT_DOMAIN, OPT_GLOBAL, G(platform_domain), "", 0, 0, NULL,
	  "domain block whose keys sign every outbound message (from trusted clients), whether or not its From domain has a block; mail of a domain with a block gets the author signature too" },
	{ "platform_spf_include", OPT_DOMAIN, OPT_GLOBAL, G(platform_spf_include), "", 0, 0, NULL,
	  "the name customers' SPF records include to authorise the platform (include:NAME), which authmilter-check looks for (empty: platform_domain)" },
	{ "unauthorized_from", OPT_ENUM, OPT_GLOBAL, G(unauthorized_from), "nosign", 0, 0,
	  choices_unauthorized, "mail from a trusted client that may not sign for its From domain (signers, signer_networks): nosign (the platform signature still applies) or reject (550 5.7.1)" },

	{ "unpublished_keys", OPT_ENUM, OPT_GLOBAL, G(unpublished_keys), "sign",
	  0, 0, choices_unpublished,
	  "when no key of a domain is published in DNS: sign with the first anyway, or skip" },
	{ "key_load", OPT_ENUM, OPT_GLOBAL, G(key_load), "auto", 0, 0,
	  choices_key_load,
	  "when the daemon reads its key files at start: start (all of them before it serves), background (it serves at once and reads them after, a message's own domain first, at once), or auto (background above 1000 keys); a reload reads new and changed keys before it is installed, either way" },

	/* DNS */
	{ "dns_timeout", OPT_DURATION, OPT_GLOBAL, G(dns_timeout), "5s", 1, 60, NULL,
	  "how long one DNS query may take" },
	{ "trust_anchor_file", OPT_STRING, OPT_GLOBAL, G(trust_anchor_file), "", 0, 0,
	  NULL, "DNSSEC trust anchor file (e.g. /usr/share/dns/root.key); empty: no validation" },
	{ "key_check", OPT_BOOL, OPT_GLOBAL, G(key_check), "yes", 0, 0, NULL,
	  "check in the background that each DKIM key's record is published (no: never look, for an operator who checks elsewhere; every key then counts as unchecked, which signs); the checks use a resolver of their own: with dns_servers set and no trust_anchor_file, a stub that sends the queries straight to those servers (see key_check_direct; an answer too big for UDP is asked again through libunbound), else libunbound; key_check_rate bounds their share of the CPU so that under load messages get it first" },
	{ "key_check_interval", OPT_DURATION, OPT_GLOBAL, G(key_check_interval), "1h",
	  0, 7 * 86400, NULL,
	  "how often each DKIM key record is checked again, the keys spread over the interval (0: only at start, and at reload for new, changed or unpublished keys)" },
	{ "key_check_concurrency", OPT_INT, OPT_GLOBAL, G(key_check_concurrency), "128",
	  1, 1024, NULL,
	  "key record lookups in flight at once (a full pass over 100,000 keys at start sends this many queries at a time to the resolver)" },
	{ "key_check_rate", OPT_INT, OPT_GLOBAL, G(key_check_rate), "2000",
	  0, 1000000, NULL,
	  "key record lookups started per second at most (0: no limit); a pass over 100,000 keys takes 50 s at 2,000, a share of the CPU bounded whatever the message load; a tenth of a second's worth is saved up, so that a reload's new keys or authmilterctl check go at once" },
	{ "key_check_direct", OPT_BOOL, OPT_GLOBAL, G(key_check_direct), "yes", 0, 0, NULL,
	  "with dns_servers set and no trust_anchor_file, the key checks send their queries straight to those servers (no: through libunbound, as the messages' lookups; it costs several times the CPU a lookup)" },
	{ "state_dir", OPT_STRING, OPT_GLOBAL, G(state_dir), "", 0, 0, NULL,
	  "directory, writable by user, where the key check keeps the last known key states (file keystates), so that a restart begins from them (e.g. /var/lib/authmilter; empty: none)" },
	{ "key_expiry_warning", OPT_DURATION, OPT_GLOBAL, G(key_expiry_warning), "14d",
	  0, 366L * 86400, NULL,
	  "warn (once, and again at each reload) this long before a key's not_after, at the key check or the first message to use the domain (0: no warning)" },

	/* inbound */
	{ "spf_time_budget", OPT_DURATION, OPT_GLOBAL, G(spf_time_budget), "20s", 1, 120,
	  NULL, "time for the SPF checks of one message (MAIL FROM and HELO together), then temperror; below the MTA's wait for the MAIL reply" },
	{ "spf_fail_action", OPT_ENUM, OPT_GLOBAL, G(spf_fail_action), "none", 0, 0,
	  choices_spf_action, "SPF fail at MAIL FROM: none (let DMARC decide) or reject" },
	{ "spf_engine", OPT_ENUM, OPT_GLOBAL, G(spf_engine), "builtin", 0, 0,
	  choices_spf_engine, "SPF evaluator: builtin (ours, RFC 7208 complete) or libspf2 (kept as the tests' reference)" },
	{ "received_spf_header", OPT_BOOL, OPT_GLOBAL, G(received_spf_header), "no", 0, 0,
	  NULL, "add a Received-SPF header (RFC 7208 9.1) to inbound mail" },
	{ "dkim_verifier", OPT_ENUM, OPT_GLOBAL, G(dkim_verifier), "builtin", 0, 0,
	  choices_dkim_verifier, "DKIM verifier: builtin (ours: the body hashed once for all signatures) or libopendkim (kept as the tests' reference)" },
	{ "dkim_max_signatures", OPT_INT, OPT_GLOBAL, G(dkim_max_signatures), "10", 1, 50,
	  NULL, "DKIM signatures verified per message" },
	{ "dmarc_mode", OPT_ENUM, OPT_GLOBAL, G(dmarc_mode), "rfc9989", 0, 0,
	  choices_dmarc_mode, "DMARC discovery: rfc9989 (DNS tree walk; pct= is gone: a pct=0 record is enforced in full, logged at notice) or rfc7489 (public suffix list, pct)" },
	{ "dmarc_reject_action", OPT_ENUM, OPT_GLOBAL, G(dmarc_reject_action), "reject",
	  0, 0, choices_dmarc_action,
	  "what a DMARC p=reject failure does: reject (550 5.7.1), quarantine, or none" },
	{ "dmarc_quarantine_action", OPT_ENUM, OPT_GLOBAL, G(dmarc_quarantine_action),
	  "header", 0, 0, choices_quarantine,
	  "what quarantine does: a header (X-Authmilter-Quarantine), hold (MTA quarantine), or none" },
	{ "reject_bad_from", OPT_BOOL, OPT_GLOBAL, G(reject_bad_from), "yes", 0, 0, NULL,
	  "reject inbound mail without exactly one From header holding one address" },
	{ "max_forged_headers", OPT_INT, OPT_GLOBAL, G(max_forged_headers), "10", 1, 1000,
	  NULL, "fields claiming to be ours (Authentication-Results with our authserv-id, X-Authmilter-* from outside) removed from a message; more: refused with 550 5.7.1" },
	{ "on_dns_error", OPT_ENUM, OPT_GLOBAL, G(on_dns_error), "tempfail", 0, 0,
	  choices_on_error, "DMARC undecided for DNS trouble (the _dmarc lookup, or an aligned SPF or DKIM check that did not finish): tempfail (451 4.7.5) or accept" },

	/* DMARC history and aggregate reports */
	{ "history", OPT_STRING, OPT_GLOBAL, G(history), "", 0, 0, NULL,
	  "where the DMARC history of inbound mail is kept, for aggregate reports (authmilter-report(1)): sqlite:PATH or an absolute PATH (SQLite, WAL mode), e.g. /var/lib/authmilter/history.db in a directory user can write; or a libpq URI, postgresql://user@host/db or postgresql:///db?host=/run/postgresql, one store for several MTAs (same schema and migrations); empty: none. Written off the message path; while the store is unavailable records wait in the queue, and those that do not fit are dropped, counted and logged (one line a minute at most); mail flows. Read at start only" },
	{ "history_queue", OPT_INT, OPT_GLOBAL, G(history_queue), "10000", 16,
	  1000000, NULL,
	  "history records waiting for the writer at most; more are dropped and counted" },
	{ "history_retention", OPT_DURATION, OPT_GLOBAL, G(history_retention), "31d",
	  86400, 3660L * 86400, NULL,
	  "how long authmilter-report prune keeps history" },
	{ "report_org_name", OPT_STRING, OPT_GLOBAL, G(report_org_name), "", 0, 0,
	  NULL, "org_name of the aggregate reports we send (empty: authserv_id, else this host's name)" },
	{ "report_contact", OPT_STRING, OPT_GLOBAL, G(report_contact), "", 0, 0,
	  NULL, "contact address written into the reports' metadata (empty: report_sender)" },
	{ "report_sender", OPT_STRING, OPT_GLOBAL, G(report_sender), "", 0, 0, NULL,
	  "From address of the report messages, e.g. dmarc-reports@example.net (authmilter-report send needs it)" },
	{ "report_interval", OPT_DURATION, OPT_GLOBAL, G(report_interval), "1d",
	  3600, 7L * 86400, NULL,
	  "the period one report covers; authmilter-report send without --begin reports the last whole period (UTC), the previous day by default" },
	{ "report_sendmail", OPT_STRING, OPT_GLOBAL, G(report_sendmail),
	  "/usr/sbin/sendmail -t -i", 0, 0, NULL,
	  "how authmilter-report sends a report: a command given the message on its standard input (words split at spaces; the recipients come from the To field), or smtp:HOST[:PORT] (port 25 by default, [IPV6]:PORT), an SMTP relay that takes our mail (no TLS, no AUTH)" },

	/* custom bounce domains */
	{ "bounce_secret", OPT_WORDS, OPT_GLOBAL, G(bounce_secret), "", 0, 0, NULL,
	  "secret files for bounce addresses (16+ random bytes, mode 0600): the first signs, all verify" },
	{ "bounce_max_age", OPT_DURATION, OPT_GLOBAL, G(bounce_max_age), "30d",
	  86400, 1000L * 86400, NULL,
	  "how long a rewritten Return-Path accepts bounces (stored-form mappings are pruned a day after)" },
	{ "bounce_store", OPT_BOOL, OPT_GLOBAL, G(bounce_store), "yes", 0, 0, NULL,
	  "an envelope sender too long for the stateless bounce address (a VERP sender) is kept in the history store under a random token and rewritten to a 30-octet signed address carrying the token (ab2=...), committed before the message is accepted; needs history (without it such senders keep their Return-Path, with a warning at load); the store unavailable at the time: the Return-Path is kept, logged and counted; read at start only" },
	{ "bounce_check", OPT_BOOL, OPT_GLOBAL, G(bounce_check), "yes", 0, 0, NULL,
	  "look each bounce_domain up in the background, every key_check_interval (spread over it, one domain at a time), with the daemon's resolver: its MX, or the target of its CNAME, must be one of bounce_mx_hosts, and its SPF must pass for each of bounce_check_ips (else include platform_spf_include); a bounce domain known broken is not rewritten into (the Return-Path is kept, counted) until a check finds it fixed; one not checked yet, or whose check got no DNS answer, keeps being rewritten into; states go to state_dir/bouncestates and are shown by authmilterctl and the metrics" },
	{ "bounce_mx_hosts", OPT_WORDS, OPT_GLOBAL, G(bounce_mx_hosts), "", 0, 0, NULL,
	  "the host names of the platform's MX for bounces (e.g. bounces-mx.platform.example): a bounce domain whose MX names none of them (or whose CNAME target is none of them and has no such MX) is broken; empty: the MX is not checked" },
	{ "bounce_check_ips", OPT_WORDS, OPT_GLOBAL, G(bounce_check_ips), "", 0, 0, NULL,
	  "the addresses outbound mail leaves from: a bounce domain whose SPF (RFC 7208, evaluated as for inbound mail) does not give pass for each of them is broken; empty: its record must include:platform_spf_include (when that is set), else SPF is not checked" },
	{ "bounce_store_timeout", OPT_DURATION, OPT_GLOBAL, G(bounce_store_timeout), "2s",
	  1, 30, NULL,
	  "how long writing or looking up one stored bounce address may take at most (a lock wait, a statement, a free store handle); over it the Return-Path is kept (rewrite) or the bounce tempfailed (451 4.3.0, at RCPT TO); a store that fails to open is not tried again for 5 s. PostgreSQL: give connect_timeout in the URI to bound a connection too" },
	{ "bounce_pass_local", OPT_WORDS, OPT_GLOBAL, G(bounce_pass_local),
	  "postmaster, abuse", 0, 0, NULL,
	  "local parts delivered as addressed in the bounce domains; every other address there but a genuine one is refused (550 5.1.1)" },

	/* signing: global defaults, overridable per domain */
	{ "canonicalization", OPT_CANON, OPT_GLOBAL | OPT_BLOCK, D2(hcanon, bcanon),
	  "relaxed/relaxed", 0, 0, NULL,
	  "header/body canonicalization: relaxed or simple, each" },
	{ "signed_headers", OPT_WORDS, OPT_GLOBAL | OPT_BLOCK, D(signed_headers),
	  "From, Sender, Reply-To, Subject, Date, Message-ID, To, Cc, "
	  "In-Reply-To, References, MIME-Version, Content-Type, "
	  "Content-Transfer-Encoding, List-Id, List-Unsubscribe, "
	  "List-Unsubscribe-Post", 0, 0, NULL,
	  "headers signed (every instance present)" },
	{ "oversign_headers", OPT_WORDS, OPT_GLOBAL | OPT_BLOCK, D(oversign_headers),
	  "From", 0, 0, NULL,
	  "headers listed once more than present, so none can be added after signing" },
	{ "signature_ttl", OPT_DURATION, OPT_GLOBAL | OPT_BLOCK, D(signature_ttl),
	  "0", 0, 366L * 86400, NULL,
	  "signature lifetime written as x= (0: no expiry)" },

	{ "signers", OPT_WORDS, OPT_GLOBAL | OPT_BLOCK, D(signers), "*", 0, 0, NULL,
	  "SASL logins whose mail is signed for the domain: *@%d (logins of the domain itself: the safe form for platforms), exact logins, *@other.example, or * (any login)" },
	{ "signer_networks", OPT_CIDRS, OPT_GLOBAL | OPT_BLOCK, D(signer_networks), "", 0, 0, NULL,
	  "unauthenticated internal clients whose mail is signed for the domain (empty: all of internal_hosts); a SASL login is judged by signers alone" },

	{ "subdomains", OPT_BOOL, OPT_GLOBAL | OPT_BLOCK, D(subdomains), "no", 0, 0, NULL,
	  "a block also signs mail from its subdomains (d= stays the block's domain, aligned under relaxed DMARC); a subdomain's own block, or a closer parent's, wins" },

	{ "platform_signature", OPT_BOOL, OPT_GLOBAL | OPT_BLOCK, D(platform_signature), "yes", 0, 0, NULL,
	  "with platform_domain set: the platform also signs this domain's mail (no: the author signature only); globally: the default for blocks and for From domains without one" },

	/* domain blocks only */
	{ "bounce_domain", OPT_DOMAIN, OPT_BLOCK, D(bounce_domain), NULL, 0, 0, NULL,
	  "custom bounce domain: signed mail gets its Return-Path rewritten into it" },
	{ "key", OPT_KEY, OPT_BLOCK, D(keys), NULL, 0, 0, NULL,
	  "SELECTOR [PATH] [not_before=DATE] [not_after=DATE]: a private key (PEM, mode 0600), in preference order; repeatable; without PATH the file is KEY_DIR/DOMAIN/SELECTOR.pem. DATE is UTC: 2026-12-01 (midnight) or 2026-12-01T08:30, seconds and a final Z optional (see KEYS AND DOMAINS)" },
};

const size_t config_noptions = sizeof(config_options) / sizeof(config_options[0]);

/* config_words_free - release a word list */
static void
config_words_free(struct config_words *w)
{
	size_t i;

	for (i = 0; !w->packed && i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
	w->packed = 0;
}

/* config_words_copy - deep copy, packed: the pointers, then the words, in one block */
static void
config_words_copy(struct config_words *dst, const struct config_words *src)
{
	size_t i, len, total = 0;
	char *at;

	dst->n = src->n;
	dst->packed = 1;
	dst->v = NULL;
	if (src->n == 0)
		return;
	for (i = 0; i < src->n; i++)
		total += strlen(src->v[i]) + 1;
	dst->v = xmalloc(src->n * sizeof(*dst->v) + total);
	at = (char *)(dst->v + src->n);
	for (i = 0; i < src->n; i++) {
		len = strlen(src->v[i]) + 1;
		memcpy(at, src->v[i], len);
		dst->v[i] = at;
		at += len;
	}
}

/* config_copy_scalar - a field without pointers: its bytes */
void
config_copy_scalar(void *dst, const void *src, size_t size)
{
	memcpy(dst, src, size);
}

/* config_copy_string - a string field: its own copy of the text */
void
config_copy_string(void *dst, const void *src, size_t size)
{
	const char *s = *(char *const *)src;

	(void)size;
	*(char **)dst = s != NULL ? xstrdup(s) : NULL;
}

/* config_copy_words - a word list: its own array and words */
void
config_copy_words(void *dst, const void *src, size_t size)
{
	(void)size;
	config_words_copy(dst, src);
}

/* config_copy_cidrs - a network list: its own array */
void
config_copy_cidrs(void *dst, const void *src, size_t size)
{
	const struct cidr_list *from = src;
	struct cidr_list *to = dst;

	(void)size;
	to->n = from->n;
	to->v = NULL;
	if (from->n > 0) {
		to->v = xreallocarray(NULL, from->n, sizeof(*from->v));
		memcpy(to->v, from->v, from->n * sizeof(*from->v));
	}
}

/* config_free_string - release a string field and empty it */
void
config_free_string(void *field)
{
	free(*(char **)field);
	*(char **)field = NULL;
}

/* config_free_words - release a word-list field and empty it */
void
config_free_words(void *field)
{
	config_words_free(field);
}

/* config_free_cidrs - release a network-list field and empty it */
void
config_free_cidrs(void *field)
{
	cidr_list_free(field);
}

/* The option types: how each is stored, parsed, copied, formatted, freed. */
const struct opt_type_desc config_types[] = {
	[OPT_STRING] = { "text", sizeof(char *), config_set_string,
	    config_copy_string, config_format_string, config_free_string },
	[OPT_DOMAIN] = { "domain name", sizeof(char *), config_set_domain,
	    config_copy_string, config_format_string, config_free_string },
	[OPT_INT] = { "number", sizeof(int), config_set_number,
	    config_copy_scalar, config_format_int, NULL },
	[OPT_BOOL] = { "yes or no", sizeof(int), config_set_bool,
	    config_copy_scalar, config_format_bool, NULL },
	[OPT_ENUM] = { "choice", sizeof(int), config_set_enum,
	    config_copy_scalar, config_format_enum, NULL },
	[OPT_WORDS] = { "list", sizeof(struct config_words), config_set_words,
	    config_copy_words, config_format_words, config_free_words },
	[OPT_CIDRS] = { "networks", sizeof(struct cidr_list), config_set_cidrs,
	    config_copy_cidrs, config_format_cidrs, config_free_cidrs },
	[OPT_CANON] = { "header/body", 2 * sizeof(int), config_set_canon,
	    config_copy_scalar, config_format_canon, NULL },
	[OPT_MODE] = { "octal mode", sizeof(int), config_set_number,
	    config_copy_scalar, config_format_mode, NULL },
	[OPT_DURATION] = { "duration", sizeof(long), config_set_duration,
	    config_copy_scalar, config_format_duration, NULL },
	[OPT_LEVEL] = { "log level", sizeof(int), config_set_level,
	    config_copy_scalar, config_format_level, NULL },
	[OPT_FACILITY] = { "facility", sizeof(int), config_set_facility,
	    config_copy_scalar, config_format_facility, NULL },
	/* keys: domain blocks only (never inherited), printed by
	 * config_dump_key and freed with their block by hand (with nkeys) */
	[OPT_KEY] = { "selector and path", sizeof(struct key *), config_set_key,
	    NULL, NULL, NULL },
	[OPT_SOCKET] = { "socket", sizeof(char *), config_set_socket,
	    config_copy_string, config_format_string, config_free_string },
	[OPT_LISTEN] = { "address:port", sizeof(char *), config_set_listen,
	    config_copy_string, config_format_string, config_free_string },
};

const size_t config_ntypes = sizeof(config_types) / sizeof(config_types[0]);

_Static_assert(sizeof(config_types) / sizeof(config_types[0]) == OPT_NTYPES,
    "one descriptor per option type");

/* The sample's domain block: the safe tenant settings first. */
const struct opt_example config_block_example[] = {
	{ "signers", "*@%d" },
	{ "signer_networks", "192.0.2.0/24" },
	{ "key", "s2026a /etc/authmilter/keys/example.com/s2026a.pem" },
	{ "bounce_domain", "bounces.example.com" },
	{ "canonicalization", "relaxed/relaxed" },
};

const size_t config_nblock_example = sizeof(config_block_example) /
    sizeof(config_block_example[0]);

_Static_assert(sizeof(config_options) / sizeof(config_options[0]) <= 128,
    "struct config_domain.set and the parser's line arrays hold 128 options");

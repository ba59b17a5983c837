/*
 * config_table.c - every authmilter.conf option, declared once.
 *
 * To add an option: add a field to struct config (or struct config_domain
 * for options a domain block may override), add a row here, run
 * `make regen-docs` and commit the regenerated sample and man page
 * (`make check` fails until they match this table).
 */
#include <stddef.h>

#include "config.h"
#include "config_table.h"

static const char *const choices_log_dest[] = { "syslog", "stderr", NULL };
static const char *const choices_sign_from[] = { "header", "envelope", NULL };
static const char *const choices_on_error[] = { "accept", "tempfail", NULL };
static const char *const choices_unpublished[] = { "sign", "skip", NULL };

#define G(field)	offsetof(struct config, field)
#define D(field)	offsetof(struct config_domain, field)

const struct opt_def config_options[] = {
	/* daemon */
	{ "socket", OPT_SOCKET, OPT_GLOBAL, G(socket),
	  "unix:/run/authmilter/authmilter.sock", 0, 0, NULL,
	  "where the milter listens: unix:PATH, inet:PORT@HOST or inet6:PORT@HOST" },
	{ "socket_mode", OPT_MODE, OPT_GLOBAL, G(socket_mode), "0660", 0, 0777, NULL,
	  "permissions of a unix socket; the MTA's user must be able to connect" },
	{ "pidfile", OPT_STRING, OPT_GLOBAL, G(pidfile),
	  "/run/authmilter/authmilter.pid", 0, 0, NULL,
	  "pid file written when running in the background (empty: none)" },
	{ "user", OPT_STRING, OPT_GLOBAL, G(user), "", 0, 0, NULL,
	  "user to run as once the keys are loaded (empty: keep the starting user)" },
	{ "milter_timeout", OPT_DURATION, OPT_GLOBAL, G(milter_timeout), "300s",
	  1, 86400, NULL,
	  "how long to wait for the MTA on an open connection" },
	{ "log_destination", OPT_ENUM, OPT_GLOBAL, G(log_destination), "syslog",
	  0, 0, choices_log_dest,
	  "syslog or stderr (authmilter -f always logs to stderr)" },
	{ "log_level", OPT_LEVEL, OPT_GLOBAL, G(log_level), "info", 0, 0, NULL,
	  "lowest severity logged: err, warning, notice, info or debug" },
	{ "syslog_facility", OPT_FACILITY, OPT_GLOBAL, G(syslog_facility), "mail",
	  0, 0, NULL, "syslog facility: mail, daemon, user or local0..local7" },

	/* policy */
	{ "authserv_id", OPT_DOMAIN, OPT_GLOBAL, G(authserv_id), "", 0, 0, NULL,
	  "authserv-id written into Authentication-Results (empty: this host's name)" },
	{ "internal_hosts", OPT_CIDRS, OPT_GLOBAL, G(internal_hosts),
	  "127.0.0.0/8, ::1", 0, 0, NULL,
	  "clients whose mail is signed without authenticating (networks)" },
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
	{ "platform_domain", OPT_DOMAIN, OPT_GLOBAL, G(platform_domain), "", 0, 0, NULL,
	  "domain block whose keys add a second, platform signature to all signed mail" },

	{ "unpublished_keys", OPT_ENUM, OPT_GLOBAL, G(unpublished_keys), "sign",
	  0, 0, choices_unpublished,
	  "when no key of a domain is published in DNS: sign with the first anyway, or skip" },

	/* signing: global defaults, overridable per domain */
	{ "canonicalization", OPT_CANON, OPT_GLOBAL | OPT_BLOCK, D(hcanon),
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

	/* domain blocks only */
	{ "key", OPT_KEY, OPT_BLOCK, D(keys), NULL, 0, 0, NULL,
	  "SELECTOR PATH [not_before=DATE] [not_after=DATE]: a private key (PEM, mode 0600), in preference order; repeatable" },
};

const size_t config_noptions = sizeof(config_options) / sizeof(config_options[0]);

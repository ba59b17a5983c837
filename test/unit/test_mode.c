/*
 * test_mode.c - the sign-or-verify decision, one table over conf x client
 * x SASL login x From (and MAIL FROM): sign or verify, trusted or not, the
 * block signed for or refused, the platform block signing too, the From
 * domain found, and the reason.
 * Each row runs as its own test, named by the row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/config.h"
#include "policy/mode.h"
#include "testutil.h"

static char *dir;

/* The snapshots the rows run under. */
enum mode_conf {
	CONF_PLAIN,		/* internal 10/8, ::1; example.com block */
	CONF_ENVELOPE,		/* the same with sign_from = envelope */
	CONF_DEFAULT,		/* defaults (internal 127/8, ::1); example.com */
	CONF_TENANTS,		/* three blocks with signers and signer_networks */
	CONF_SUBDOMAINS,	/* parents with subdomains = yes, children with blocks */
	CONF_PLATFORM,		/* platform_domain, a block opting out */
	CONF_PLATFORM_OFF,	/* platform_signature = no globally, a block opting in */
	CONF_IDN,		/* blocks written in A-labels and in U-labels */
	CONF_LOCAL,		/* blocks whose signer_networks do, or do not, hold loopback */
	CONF_LOCAL_OFF,		/* local_clients_internal = no */
	CONF_COUNT,
};

static const char *const conf_text[CONF_COUNT] = {
	[CONF_PLAIN] = "internal_hosts = 10.0.0.0/8, ::1\n"
	    "domain example.com {\nkey = s1 @DIR@/k.pem\n}\n",
	[CONF_ENVELOPE] = "internal_hosts = 10.0.0.0/8, ::1\nsign_from = envelope\n"
	    "domain example.com {\nkey = s1 @DIR@/k.pem\n}\n",
	[CONF_DEFAULT] = "domain example.com {\nkey = s1 @DIR@/k.pem\n}\n",
	[CONF_TENANTS] = "internal_hosts = 10.0.0.0/8\nsigners = *\n"
	    "domain customer-a.example {\nkey = s1 @DIR@/k.pem\nsigners = *@%d\n}\n"
	    "domain victim.example {\nkey = s1 @DIR@/k.pem\n"
	    "signers = *@%d, relay-1\nsigner_networks = 10.9.0.0/16\n}\n"
	    "domain open.example {\nkey = s1 @DIR@/k.pem\n}\n",
	[CONF_SUBDOMAINS] = "internal_hosts = 10.0.0.0/8\nsigners = *@%d\n"
	    "domain customer.example {\nkey = s1 @DIR@/k.pem\nsubdomains = yes\n}\n"
	    "domain news.customer.example {\nkey = s1 @DIR@/k.pem\n}\n"
	    "domain plain.example {\nkey = s1 @DIR@/k.pem\n}\n"
	    "domain deep.example {\nkey = s1 @DIR@/k.pem\nsubdomains = yes\n}\n"
	    "domain mid.deep.example {\nkey = s1 @DIR@/k.pem\n}\n",
	[CONF_PLATFORM] = "internal_hosts = 10.0.0.0/8\nsigners = *@%d\n"
	    "platform_domain = esp.example\n"
	    "domain esp.example {\nkey = s1 @DIR@/k.pem\n}\n"
	    "domain customer.example {\nkey = s1 @DIR@/k.pem\nsubdomains = yes\n}\n"
	    "domain private.example {\nkey = s1 @DIR@/k.pem\n"
	    "platform_signature = no\n}\n",
	[CONF_PLATFORM_OFF] = "internal_hosts = 10.0.0.0/8\n"
	    "platform_domain = esp.example\nplatform_signature = no\n"
	    "domain esp.example {\nkey = s1 @DIR@/k.pem\n}\n"
	    "domain optin.example {\nkey = s1 @DIR@/k.pem\n"
	    "platform_signature = yes\n}\n",
	[CONF_IDN] = "internal_hosts = 10.0.0.0/8\n"
	    "domain xn--r8jz45g.jp {\nkey = s1 @DIR@/k.pem\n}\n"
	    "domain B\xc3\xbc" "cher.example {\nkey = s1 @DIR@/k.pem\n"
	    "subdomains = yes\n}\n",
	[CONF_LOCAL] = "internal_hosts = 10.0.0.0/8\n"
	    "domain lo.example {\nkey = s1 @DIR@/k.pem\n"
	    "signer_networks = 127.0.0.0/8\n}\n"
	    "domain v6.example {\nkey = s1 @DIR@/k.pem\n"
	    "signer_networks = ::1/128\n}\n"
	    "domain net.example {\nkey = s1 @DIR@/k.pem\n"
	    "signer_networks = 10.9.0.0/16\n}\n"
	    "domain example.com {\nkey = s1 @DIR@/k.pem\n}\n",
	[CONF_LOCAL_OFF] = "local_clients_internal = no\n"
	    "domain example.com {\nkey = s1 @DIR@/k.pem\n}\n",
};
static struct config *cfgs[CONF_COUNT];

/* conf_expand - the conf text with each @DIR@ replaced by the key directory */
static int
conf_expand(const char *tmpl, char *out, size_t len)
{
	const char *at;
	size_t n = 0, dl = strlen(dir);

	while ((at = strstr(tmpl, "@DIR@")) != NULL) {
		if (n + (size_t)(at - tmpl) + dl >= len)
			return -1;
		memcpy(out + n, tmpl, (size_t)(at - tmpl));
		n += (size_t)(at - tmpl);
		memcpy(out + n, dir, dl);
		n += dl;
		tmpl = at + 5;
	}
	if (n + strlen(tmpl) >= len)
		return -1;
	memcpy(out + n, tmpl, strlen(tmpl) + 1);
	return 0;
}

/* setup - a key and the snapshots */
static int
setup(void **state)
{
	char key[512], text[4096], err[512];
	size_t i;

	(void)state;
	if ((dir = testutil_tmpdir()) == NULL)
		return -1;
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	if (testutil_write_key(key, "ED25519", 0, 0600) != 0)
		return -1;
	for (i = 0; i < CONF_COUNT; i++) {
		if (conf_expand(conf_text[i], text, sizeof(text)) != 0)
			return -1;
		cfgs[i] = config_load_string(text, "t.conf", err, sizeof(err));
		if (cfgs[i] == NULL) {
			print_error("conf %zu: %s\n", i, err);
			return -1;
		}
	}
	return 0;
}

/* teardown - free them */
static int
teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CONF_COUNT; i++)
		config_free(cfgs[i]);
	testutil_rmtree(dir);
	free(dir);
	return 0;
}

/* One message: conf x client x login x From (and MAIL FROM) -> decision. */
struct mode_case {
	const char *name;
	enum mode_conf conf;
	const char *auth;		/* SASL login; NULL: none */
	const char *addr;		/* client address; NULL: unknown; LOCAL:
					 * none, a local client (sendmail -bs) */
	size_t nfrom;			/* From fields */
	const char *from;		/* the From value when nfrom == 1 */
	const char *envfrom;		/* MAIL FROM */
	enum mode_kind kind;
	int trusted;			/* also what mode_trusted says */
	const char *signed_for;		/* block signed for; NULL: none */
	const char *refused;		/* block the client may not sign for */
	const char *from_domain;	/* NULL: none found (from_problem set) */
	const char *reason;		/* substring of the reason */
	const char *platform;		/* platform block signing too; NULL: none */
};

#define LOCAL "(local)"	/* the addr of a local client (no address) */
#define V MODE_VERIFY
#define S MODE_SIGN
#define EX "example.com"
#define CA "customer-a.example"
#define VI "victim.example"
#define CU "customer.example"
#define ESP "esp.example"
#define JP_U "\xe4\xbe\x8b\xe3\x81\x88.jp"	/* U-labels of xn--r8jz45g.jp */
#define BU_A "xn--bcher-kva.example"		/* A-labels of b\xc3\xbc" "cher.example */

static const struct mode_case cases[] = {
	/* who is trusted */
	{ "authenticated outside client signs", CONF_PLAIN, "alice", "192.0.2.7",
	  1, " Alice <alice@example.com>", "<x@y.net>", S, 1, EX, NULL, EX,
	  "sign: authenticated client, domain example.com", NULL },
	{ "internal client signs", CONF_PLAIN, NULL, "10.1.2.3", 1,
	  " a@Example.COM", "<>", S, 1, EX, NULL, EX,
	  "sign: internal client", NULL },
	{ "internal IPv6 signs", CONF_PLAIN, NULL, "::1", 1, " a@example.com",
	  "<>", S, 1, EX, NULL, EX, "internal", NULL },
	{ "IPv4-mapped internal signs", CONF_PLAIN, NULL, "::ffff:10.0.0.1", 1,
	  " a@example.com", "<>", S, 1, EX, NULL, EX, "internal", NULL },
	{ "outside client verifies", CONF_PLAIN, NULL, "192.0.2.7", 1,
	  " a@example.com", "<a@example.com>", V, 0, NULL, NULL, EX,
	  "verify: client 192.0.2.7 is neither authenticated nor in internal_hosts", NULL },
	{ "empty login is no login", CONF_PLAIN, "", "192.0.2.7", 1,
	  " a@example.com", "<>", V, 0, NULL, NULL, EX, "neither", NULL },
	{ "unknown client verifies", CONF_PLAIN, NULL, NULL, 1, " a@example.com",
	  "<>", V, 0, NULL, NULL, EX, "client (unknown)", NULL },
	/* local clients: no network address (sendmail -bs, a unix socket) */
	{ "local client signs", CONF_PLAIN, NULL, LOCAL, 1, " a@example.com",
	  "<a@example.com>", S, 1, EX, NULL, EX,
	  "sign: local client, domain example.com", NULL },
	{ "local client signs whatever internal_hosts says", CONF_LOCAL, NULL,
	  LOCAL, 1, " a@example.com", "<>", S, 1, EX, NULL, EX, "local", NULL },
	{ "local client verifies with local_clients_internal = no",
	  CONF_LOCAL_OFF, NULL, LOCAL, 1, " a@example.com", "<>", V, 0, NULL,
	  NULL, EX, "verify: local client (no network address), not "
	  "authenticated, and local_clients_internal = no", NULL },
	{ "authenticated local client signs with local_clients_internal = no",
	  CONF_LOCAL_OFF, "alice", LOCAL, 1, " a@example.com", "<>", S, 1, EX,
	  NULL, EX, "authenticated", NULL },
	{ "unknown client is not local", CONF_LOCAL, NULL, NULL, 1,
	  " a@example.com", "<>", V, 0, NULL, NULL, EX, "client (unknown)", NULL },
	{ "local client: signer_networks with 127/8 admit it", CONF_LOCAL, NULL,
	  LOCAL, 1, " a@lo.example", "<>", S, 1, "lo.example", NULL,
	  "lo.example", "sign: local client, domain lo.example", NULL },
	{ "local client: signer_networks with ::1 admit it", CONF_LOCAL, NULL,
	  LOCAL, 1, " a@v6.example", "<>", S, 1, "v6.example", NULL,
	  "v6.example", "local", NULL },
	{ "local client: signer_networks without loopback refuse it",
	  CONF_LOCAL, NULL, LOCAL, 1, " a@net.example", "<>", V, 1, NULL,
	  "net.example", "net.example",
	  "client (local) is not in the signer_networks of net.example", NULL },
	{ "outside client with a bad From still verifies", CONF_PLAIN, NULL,
	  "192.0.2.7", 0, NULL, "<>", V, 0, NULL, NULL, NULL, "neither", NULL },
	{ "default internal_hosts: loopback signs", CONF_DEFAULT, NULL,
	  "127.0.0.1", 1, " a@example.com", "<>", S, 1, EX, NULL, EX, "internal", NULL },
	{ "default internal_hosts: a private network is outside", CONF_DEFAULT,
	  NULL, "10.1.2.3", 1, " a@example.com", "<>", V, 0, NULL, NULL, EX,
	  "neither", NULL },
	/* which domain selects the block */
	{ "unconfigured From domain not signed", CONF_PLAIN, "alice", "192.0.2.7",
	  1, " a@other.example", "<>", V, 1, NULL, NULL, "other.example",
	  "From domain other.example has no domain block (authenticated client)", NULL },
	{ "subdomain is not the domain", CONF_PLAIN, "alice", "192.0.2.7", 1,
	  " a@sub.example.com", "<>", V, 1, NULL, NULL, "sub.example.com",
	  "no domain block", NULL },
	{ "envelope mode uses MAIL FROM", CONF_ENVELOPE, "alice", "192.0.2.7", 1,
	  " a@other.example", "<bounce@example.com>", S, 1, EX, NULL,
	  "other.example", "domain example.com", NULL },
	{ "envelope mode ignores a From block", CONF_ENVELOPE, "alice",
	  "192.0.2.7", 1, " a@example.com", "<b@other.example>", V, 1, NULL, NULL,
	  EX, "envelope sender domain other.example has no domain block", NULL },
	{ "envelope mode null sender not signed", CONF_ENVELOPE, "alice",
	  "192.0.2.7", 1, " a@example.com", "<>", V, 1, NULL, NULL, EX,
	  "envelope sender domain (none)", NULL },
	{ "envelope mode still needs one From", CONF_ENVELOPE, NULL, "10.1.2.3",
	  2, " a@example.com", "<bounce@example.com>", V, 1, NULL, NULL, NULL,
	  "more than one From header (internal client)", NULL },
	/* a From that names no single author blocks signing */
	{ "no From not signed", CONF_PLAIN, "alice", "192.0.2.7", 0, NULL, "<>",
	  V, 1, NULL, NULL, NULL, "not signed: no From header", NULL },
	{ "two From not signed", CONF_PLAIN, "alice", "192.0.2.7", 2,
	  " a@example.com", "<>", V, 1, NULL, NULL, NULL, "more than one From", NULL },
	{ "two addresses not signed", CONF_PLAIN, "alice", "192.0.2.7", 1,
	  " a@example.com, b@example.com", "<>", V, 1, NULL, NULL, NULL,
	  "several addresses", NULL },
	{ "group without address not signed", CONF_PLAIN, "alice", "192.0.2.7", 1,
	  " undisclosed-recipients:;", "<>", V, 1, NULL, NULL, NULL,
	  "From header without an address", NULL },
	{ "From without domain not signed", CONF_PLAIN, "alice", "192.0.2.7", 1,
	  " alice", "<>", V, 1, NULL, NULL, NULL, "without a valid domain", NULL },
	{ "malformed From not signed", CONF_PLAIN, "alice", "192.0.2.7", 1,
	  " \"unterminated <a@example.com>", "<>", V, 1, NULL, NULL, NULL,
	  "malformed", NULL },
	/* tenants: which trusted client may sign for which block */
	{ "login of the tenant's own domain", CONF_TENANTS,
	  "ceo@customer-a.example", "192.0.2.7", 1, " ceo@customer-a.example",
	  "<>", S, 1, CA, NULL, CA, "sign: authenticated", NULL },
	{ "login case does not matter", CONF_TENANTS, "CEO@Customer-A.Example",
	  "192.0.2.7", 1, " ceo@customer-a.example", "<>", S, 1, CA, NULL, CA,
	  "sign", NULL },
	{ "another tenant's login", CONF_TENANTS, "x@customer-a.example",
	  "192.0.2.7", 1, " ceo@victim.example", "<>", V, 1, NULL, VI, VI,
	  "login x@customer-a.example is not among the signers of victim.example", NULL },
	{ "a login at a subdomain is not the domain", CONF_TENANTS,
	  "x@sub.victim.example", "192.0.2.7", 1, " ceo@victim.example", "<>",
	  V, 1, NULL, VI, VI, "not among the signers", NULL },
	{ "a bare login matches no *@%d", CONF_TENANTS, "alice", "192.0.2.7", 1,
	  " a@customer-a.example", "<>", V, 1, NULL, CA, CA, "not among", NULL },
	{ "an exact login listed", CONF_TENANTS, "relay-1", "192.0.2.7", 1,
	  " a@victim.example", "<>", S, 1, VI, NULL, VI, "sign", NULL },
	{ "login from an allowed network still judged by login", CONF_TENANTS,
	  "x@customer-a.example", "10.9.0.1", 1, " a@victim.example", "<>",
	  V, 1, NULL, VI, VI, "not among", NULL },
	{ "internal client in the block's networks", CONF_TENANTS, NULL,
	  "10.9.0.1", 1, " a@victim.example", "<>", S, 1, VI, NULL, VI,
	  "internal", NULL },
	{ "internal client outside the block's networks", CONF_TENANTS, NULL,
	  "10.1.0.1", 1, " a@victim.example", "<>", V, 1, NULL, VI, VI,
	  "client 10.1.0.1 is not in the signer_networks of victim.example", NULL },
	{ "block without networks: all internal hosts", CONF_TENANTS, NULL,
	  "10.1.0.1", 1, " a@customer-a.example", "<>", S, 1, CA, NULL, CA,
	  "internal", NULL },
	{ "the global default applies to blocks that say nothing", CONF_TENANTS,
	  "any@else.example", "192.0.2.7", 1, " a@open.example", "<>", S, 1,
	  "open.example", NULL, "open.example", "sign", NULL },
	/* subdomains: the most specific block that covers the From domain */
	{ "subdomain signed by its parent's block", CONF_SUBDOMAINS,
	  NULL, "10.1.0.1", 1, " a@promo.customer.example", "<>", S, 1, CU,
	  NULL, "promo.customer.example", "sign: internal client, domain "
	  "customer.example", NULL },
	{ "deeper subdomain signed by the parent", CONF_SUBDOMAINS, NULL,
	  "10.1.0.1", 1, " a@x.y.Customer.Example", "<>", S, 1, CU, NULL,
	  "x.y.customer.example", "domain customer.example", NULL },
	{ "a subdomain's own block wins", CONF_SUBDOMAINS, NULL, "10.1.0.1", 1,
	  " a@news.customer.example", "<>", S, 1, "news.customer.example", NULL,
	  "news.customer.example", "domain news.customer.example", NULL },
	{ "the parent still signs itself", CONF_SUBDOMAINS, NULL, "10.1.0.1", 1,
	  " a@customer.example", "<>", S, 1, CU, NULL, CU, "domain customer.example", NULL },
	{ "without subdomains a parent covers no subdomain", CONF_SUBDOMAINS,
	  NULL, "10.1.0.1", 1, " a@sub.plain.example", "<>", V, 1, NULL, NULL,
	  "sub.plain.example", "From domain sub.plain.example has no domain block", NULL },
	{ "a block without subdomains does not hide its parent's", CONF_SUBDOMAINS,
	  NULL, "10.1.0.1", 1, " a@x.mid.deep.example", "<>", S, 1, "deep.example",
	  NULL, "x.mid.deep.example", "domain deep.example", NULL },
	{ "a name ending in the parent's is no subdomain", CONF_SUBDOMAINS, NULL,
	  "10.1.0.1", 1, " a@evilcustomer.example", "<>", V, 1, NULL, NULL,
	  "evilcustomer.example", "no domain block", NULL },
	{ "a subdomain's signers are the covering block's", CONF_SUBDOMAINS,
	  "bob@customer.example", "192.0.2.7", 1, " a@promo.customer.example",
	  "<>", S, 1, CU, NULL, "promo.customer.example", "sign: authenticated", NULL },
	{ "another tenant may not sign for a covered subdomain", CONF_SUBDOMAINS,
	  "eve@plain.example", "192.0.2.7", 1, " a@promo.customer.example", "<>",
	  V, 1, NULL, CU, "promo.customer.example",
	  "login eve@plain.example is not among the signers of customer.example", NULL },
	/* platform signature: every signed-mode message, unless opted out */
	{ "platform signs a From domain without a block", CONF_PLATFORM, NULL,
	  "10.1.0.1", 1, " a@nobody.example", "<>", S, 1, NULL, NULL,
	  "nobody.example", "sign: internal client, From domain nobody.example "
	  "has no domain block: platform signature only (esp.example)", ESP },
	{ "author and platform sign a domain with a block", CONF_PLATFORM, NULL,
	  "10.1.0.1", 1, " a@customer.example", "<>", S, 1, CU, NULL, CU,
	  "domain customer.example", ESP },
	{ "author and platform sign a covered subdomain", CONF_PLATFORM, NULL,
	  "10.1.0.1", 1, " a@news.customer.example", "<>", S, 1, CU, NULL,
	  "news.customer.example", "domain customer.example", ESP },
	{ "a block's opt-out leaves the author signature alone", CONF_PLATFORM,
	  NULL, "10.1.0.1", 1, " a@private.example", "<>", S, 1,
	  "private.example", NULL, "private.example", "domain private.example",
	  NULL },
	{ "the platform's own mail is signed once", CONF_PLATFORM, NULL,
	  "10.1.0.1", 1, " a@esp.example", "<>", S, 1, ESP, NULL, ESP,
	  "domain esp.example", NULL },
	{ "any login gets the platform signature on an unblocked domain",
	  CONF_PLATFORM, "bob@customer.example", "192.0.2.7", 1,
	  " a@nobody.example", "<>", S, 1, NULL, NULL, "nobody.example",
	  "platform signature only", ESP },
	{ "an unauthorized tenant gets the platform signature only", CONF_PLATFORM,
	  "eve@nobody.example", "192.0.2.7", 1, " a@customer.example", "<>", S, 1,
	  NULL, CU, CU, "not among the signers of customer.example; platform "
	  "signature only", ESP },
	{ "an unauthorized tenant of an opted-out block: no signature",
	  CONF_PLATFORM, "bob@customer.example", "192.0.2.7", 1,
	  " a@private.example", "<>", V, 1, NULL, "private.example",
	  "private.example", "not among the signers of private.example", NULL },
	{ "a tenant may not sign as the platform", CONF_PLATFORM,
	  "eve@customer.example", "192.0.2.7", 1, " a@esp.example", "<>", V, 1,
	  NULL, ESP, ESP, "not among the signers of esp.example", NULL },
	{ "an outside client gets no platform signature", CONF_PLATFORM, NULL,
	  "192.0.2.7", 1, " a@nobody.example", "<>", V, 0, NULL, NULL,
	  "nobody.example", "verify", NULL },
	{ "an ambiguous From gets no platform signature", CONF_PLATFORM, NULL,
	  "10.1.0.1", 2, " a@nobody.example", "<>", V, 1, NULL, NULL, NULL,
	  "more than one From header", NULL },
	{ "platform_signature = no globally: unblocked domain not signed",
	  CONF_PLATFORM_OFF, NULL, "10.1.0.1", 1, " a@nobody.example", "<>", V, 1,
	  NULL, NULL, "nobody.example", "From domain nobody.example has no domain "
	  "block", NULL },
	{ "platform_signature = no globally: a block opts in", CONF_PLATFORM_OFF,
	  NULL, "10.1.0.1", 1, " a@optin.example", "<>", S, 1, "optin.example",
	  NULL, "optin.example", "domain optin.example", ESP },
	/* internationalized domains: blocks and From compared in A-labels */
	{ "a U-label From finds the A-label block", CONF_IDN, NULL, "10.1.0.1", 1,
	  " a@" JP_U, "<>", S, 1, "xn--r8jz45g.jp", NULL, JP_U,
	  "domain xn--r8jz45g.jp", NULL },
	{ "an A-label From finds the same block", CONF_IDN, NULL, "10.1.0.1", 1,
	  " a@XN--R8JZ45G.jp", "<>", S, 1, "xn--r8jz45g.jp", NULL,
	  "xn--r8jz45g.jp", "domain xn--r8jz45g.jp", NULL },
	{ "a U-label block is loaded as its A-labels", CONF_IDN, NULL, "10.1.0.1",
	  1, " a@" BU_A, "<>", S, 1, BU_A, NULL, BU_A, "domain " BU_A, NULL },
	{ "a U-label From finds the U-label block", CONF_IDN, "u@x.example",
	  "192.0.2.7", 1, " a@b\xc3\xbc" "cher.example", "<>", S, 1, BU_A, NULL,
	  "b\xc3\xbc" "cher.example", "domain " BU_A, NULL },
	{ "a U-label subdomain is covered by its parent", CONF_IDN, NULL,
	  "10.1.0.1", 1, " a@News.B\xc3\xbc" "cher.example", "<>", S, 1, BU_A,
	  NULL, "news.b\xc3\xbc" "cher.example", "domain " BU_A, NULL },
	{ "another U-label domain has no block", CONF_IDN, NULL, "10.1.0.1", 1,
	  " a@b\xc3\xa4" "cher.example", "<>", V, 1, NULL, NULL,
	  "b\xc3\xa4" "cher.example", "has no domain block", NULL },
};

/* name_eq - a block's name is want (both absent counts as equal) */
static int
name_eq(const struct config_domain *d, const char *want)
{
	return d == NULL ? want == NULL
	    : want != NULL && strcmp(d->name, want) == 0;
}

/* mode_row_local - the row's client is local (no network address) */
static int
mode_row_local(const struct mode_case *c)
{
	return c->addr != NULL && strcmp(c->addr, LOCAL) == 0;
}

/* mode_row_addr - the row's client address, NULL for a local client */
static const char *
mode_row_addr(const struct mode_case *c)
{
	return mode_row_local(c) ? NULL : c->addr;
}

/* mode_row_ok - the decision is the row's, and mode_trusted agrees */
static int
mode_row_ok(const struct mode_case *c, const struct mode_result *r)
{
	const struct config *cfg = cfgs[c->conf];

	if (r->kind != c->kind || r->trusted != c->trusted
	    || mode_trusted(cfg, c->auth, mode_row_addr(c), mode_row_local(c))
	    != c->trusted)
		return 0;
	if (!name_eq(r->domain, c->signed_for)
	    || !name_eq(r->unauthorized, c->refused)
	    || !name_eq(r->platform, c->platform))
		return 0;
	if (c->from_domain == NULL ? r->from_domain != NULL
	    || r->from_problem == NULL
	    : r->from_domain == NULL || strcmp(r->from_domain, c->from_domain) != 0
	    || r->from_problem != NULL)
		return 0;
	return strstr(r->reason, c->reason) != NULL;
}

/* mode_row - one row, run as its own test (state: the row) */
static void
mode_row(void **state)
{
	const struct mode_case *c = *state;
	struct mode_input in;
	struct mode_result r;
	int ok;

	memset(&in, 0, sizeof(in));
	in.auth_authen = c->auth;
	in.client_addr = mode_row_addr(c);
	in.local = mode_row_local(c);
	in.nfrom = c->nfrom;
	in.from_value = c->from;
	in.envelope_from = c->envfrom;
	mode_decide(cfgs[c->conf], &in, &r);
	ok = mode_row_ok(c, &r);
	if (!ok)
		print_error("row \"%s\": kind %d trusted %d domain %s refused %s "
		    "platform %s from %s (%s) reason \"%s\"\n", c->name, r.kind,
		    r.trusted, r.domain ? r.domain->name : "-",
		    r.unauthorized ? r.unauthorized->name : "-",
		    r.platform ? r.platform->name : "-",
		    r.from_domain ? r.from_domain : "-",
		    r.from_problem ? r.from_problem : "-", r.reason);
	mode_result_free(&r);
	assert_true(ok);
}

int
main(void)
{
	enum { NCASES = sizeof(cases) / sizeof(cases[0]) };
	struct CMUnitTest tests[NCASES];
	size_t i;

	/* one test per row, named by the row */
	for (i = 0; i < NCASES; i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = cases[i].name;
		tests[i].test_func = mode_row;
		tests[i].initial_state = (void *)(uintptr_t)&cases[i];
	}
	return _cmocka_run_group_tests("mode", tests, NCASES, setup, teardown);
}

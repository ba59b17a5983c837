/*
 * test_config.c - the conf parser: good files, bad files with FILE:LINE
 * messages, defaults, inheritance, key checks, generated docs, and the
 * typed option table (row sizes, the type descriptors' deep copies).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "policy/config.h"
#include "policy/config_table.h"
#include "policy/keyload.h"
#include "auth/sign.h"
#include <syslog.h>
#include "testutil.h"

static char *dir;		/* temp dir with keys */
static char rsa_key[512];	/* mode 0600 RSA key */
static char ed_key[512];	/* mode 0600 Ed25519 key */
static char open_key[512];	/* mode 0644 RSA key */
static char group_key[512];	/* mode 0640 RSA key */

/* setup_keys - make the keys once */
static int
setup_keys(void **state)
{
	(void)state;
	dir = testutil_tmpdir();
	if (dir == NULL)
		return -1;
	snprintf(rsa_key, sizeof(rsa_key), "%s/rsa.pem", dir);
	snprintf(ed_key, sizeof(ed_key), "%s/ed.pem", dir);
	snprintf(open_key, sizeof(open_key), "%s/open.pem", dir);
	snprintf(group_key, sizeof(group_key), "%s/group.pem", dir);
	if (testutil_write_key(rsa_key, "RSA", 1024, 0600) != 0
	    || testutil_write_key(ed_key, "ED25519", 0, 0600) != 0
	    || testutil_write_key(open_key, "RSA", 1024, 0644) != 0
	    || testutil_write_key(group_key, "RSA", 1024, 0640) != 0)
		return -1;
	return 0;
}

/* teardown_keys - remove them */
static int
teardown_keys(void **state)
{
	(void)state;
	testutil_rmtree(dir);
	free(dir);
	return 0;
}

/* expand - replace @RSA@, @ED@, @OPEN@, @GROUP@ with key paths */
static char *
expand(const char *tmpl)
{
	static const struct { const char *tag; const char *val; } subs[] = {
		{ "@RSA@", rsa_key }, { "@ED@", ed_key }, { "@OPEN@", open_key },
		{ "@GROUP@", group_key },
	};
	size_t cap = strlen(tmpl) * 8 + 4096, used = 0;
	char *out = calloc(1, cap);
	const char *p = tmpl;
	size_t i;

	while (*p != '\0' && used + 1 < cap) {
		for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
			if (strncmp(p, subs[i].tag, strlen(subs[i].tag)) == 0)
				break;
		if (i < sizeof(subs) / sizeof(subs[0])) {
			used += (size_t)snprintf(out + used, cap - used, "%s",
			    subs[i].val);
			p += strlen(subs[i].tag);
		} else {
			out[used++] = *p++;
		}
	}
	return out;
}

/* load_from - config_load_from (text NULL: read name; src may be NULL); every error found into err, one a line */
static struct config *
load_from(const char *name, const char *text, const struct config_source *src,
    char *err, size_t errlen)
{
	struct config_problems probs = { NULL, 0, 0 };
	struct config *c;
	char first[1024];
	size_t i, used = 0;

	err[0] = '\0';
	c = config_load_from(name, text, src, 0, &probs, first, sizeof(first));
	for (i = 0; i < probs.n && used < errlen; i++)
		used += (size_t)snprintf(err + used, errlen - used, "%s\n",
		    probs.v[i].text);
	config_problems_free(&probs);
	return c;
}

/* load_text - parse text as the file name; err: every error found, one a line */
static struct config *
load_text(const char *text, const char *name, char *err, size_t errlen)
{
	return load_from(name, text, NULL, err, errlen);
}

/* load - parse a template as test.conf, return the snapshot (NULL: a fatal error) with every error in err */
static struct config *
load(const char *tmpl, char *err, size_t errlen)
{
	char *text = expand(tmpl);
	struct config *c = load_text(text, "test.conf", err, errlen);

	free(text);
	return c;
}

/* left_out - did c leave out a block named name? */
static int
left_out(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; c != NULL && i < c->failed.n; i++)
		if (strcmp(c->failed.v[i], name) == 0)
			return 1;
	return 0;
}

struct bad_case {
	const char *name;	/* what is wrong */
	const char *text;	/* conf text */
	const char *expect;	/* substring of the error, with file:line */
	const char *left_out;	/* NULL: the load fails (a global error); else
				 * the block left out while the load goes on */
};

static const struct bad_case bad_cases[] = {
	{ "unknown option", "socket = unix:/tmp/x\nbogus_option = 1\n",
	  "test.conf:2: unknown option \"bogus_option\"", NULL },
	{ "socket syntax", "socket = tcp:25\n", "test.conf:1: socket:", NULL },
	{ "inet port out of range", "socket = inet:70000@127.0.0.1\n",
	  "test.conf:1: socket:", NULL },
	{ "metrics_listen without a port", "metrics_listen = 127.0.0.1\n",
	  "test.conf:1: metrics_listen: \"127.0.0.1\" is not ADDRESS:PORT", NULL },
	{ "metrics_listen port out of range", "metrics_listen = 127.0.0.1:65536\n",
	  "test.conf:1: metrics_listen: \"127.0.0.1:65536\": the port is not a number", NULL },
	{ "metrics_listen host name", "metrics_listen = localhost:9100\n",
	  "test.conf:1: metrics_listen: \"localhost:9100\": \"localhost\" is not an IPv4", NULL },
	{ "metrics_listen IPv6 without brackets", "metrics_listen = ::1:9100\n",
	  "test.conf:1: metrics_listen: \"::1:9100\": \"::1\" is not an IPv4", NULL },
	{ "mode not octal", "socket_mode = 999\n", "test.conf:1: socket_mode:", NULL },
	{ "log level", "log_level = loud\n", "test.conf:1: log_level:", NULL },
	{ "bad network", "internal_hosts = 300.1.1.1\n",
	  "test.conf:1: internal_hosts: bad network address", NULL },
	{ "bad prefix", "internal_hosts = 10.0.0.0/33\n",
	  "test.conf:1: internal_hosts: bad prefix", NULL },
	{ "bool", "allow_group_readable_keys = maybe\n",
	  "test.conf:1: allow_group_readable_keys:", NULL },
	{ "enum", "on_internal_error = panic\n",
	  "test.conf:1: on_internal_error: \"panic\" is not one of accept, tempfail", NULL },
	{ "duration", "signature_ttl = 5x\n", "test.conf:1: signature_ttl:", NULL },
	{ "duration bound", "milter_timeout = 0\n", "test.conf:1: milter_timeout:", NULL },
	{ "canonicalization", "canonicalization = fancy/relaxed\n",
	  "test.conf:1: canonicalization:", NULL },
	{ "no equals", "socket unix:/x\n", "test.conf:1: expected \"name = value\"", NULL },
	{ "set twice", "log_level = info\n# c\nlog_level = debug\n",
	  "test.conf:3: option \"log_level\" set twice (first at line 1)", NULL },
	{ "block not closed", "domain example.com {\n  key = s1 @RSA@\n",
	  "test.conf:1: domain block example.com is not closed", "example.com" },
	{ "stray brace", "}\n", "test.conf:1: \"}\" without an open domain block", NULL },
	{ "nested block", "domain a.com {\ndomain b.com {\n",
	  "test.conf:2: domain blocks cannot nest", "a.com" },
	{ "bad domain", "domain a..com {\n}\n", "test.conf:1: \"a..com\" is not a domain name",
	  "a..com" },
	{ "bad domain's lines stay in its block", "domain a..com {\nsocket = unix:/x\n}\n",
	  "test.conf:2: option \"socket\" is not allowed inside a domain block", "a..com" },
	{ "two blocks", "domain a.com {\nkey = s1 @RSA@\n}\ndomain A.com {\n}\n",
	  "test.conf:4: domain a.com: second block (first at test.conf:1)", "a.com" },
	{ "block without key", "domain a.com {\n}\n", "test.conf:1: domain a.com has no key",
	  "a.com" },
	{ "key at top level", "key = s1 @RSA@\n",
	  "test.conf:1: option \"key\" belongs inside a domain block", NULL },
	{ "global option in block", "domain a.com {\nsocket = unix:/x\n}\n",
	  "test.conf:2: option \"socket\" is not allowed inside a domain block", "a.com" },
	{ "key without a file and no key_dir", "domain a.com {\nkey = s1\n}\n",
	  "test.conf:2: key s1: no file named, and key_dir is not set", "a.com" },
	{ "bad selector", "domain a.com {\nkey = s;1 @RSA@\n}\n",
	  "test.conf:2: key: bad selector", "a.com" },
	{ "selector twice", "domain a.com {\nkey = s1 @RSA@\nkey = s1 @ED@\n}\n",
	  "test.conf:3: key: selector \"s1\" listed twice", "a.com" },
	{ "world-readable key", "domain a.com {\n\nkey = s1 @OPEN@\n}\n",
	  "test.conf:3: key file", "a.com" },
	{ "group-readable key", "domain a.com {\nkey = s1 @GROUP@\n}\n",
	  "must not be readable by its group", "a.com" },
	{ "missing key", "domain a.com {\nkey = s1 /nonexistent/k.pem\n}\n",
	  "test.conf:2: cannot open key file /nonexistent/k.pem", "a.com" },
	{ "not a key", "domain a.com {\nkey = s1 /etc/hostname\n}\n",
	  "test.conf:2: ", "a.com" },
	{ "include inside a block", "domain a.com {\nkey = s1 @RSA@\n"
	  "include /nonexistent/*.conf\n}\n",
	  "test.conf:3: include is not allowed inside a domain block", "a.com" },
	{ "platform without block", "platform_domain = esp.example\n",
	  "test.conf: platform_domain esp.example has no domain block", NULL },
	{ "platform block left out", "platform_domain = esp.example\n"
	  "domain esp.example {\nkey = p1 @OPEN@\n}\n",
	  "test.conf: platform_domain esp.example: its domain block was left out", NULL },
	{ "unknown user", "user = no-such-user-authmilter\n",
	  "user \"no-such-user-authmilter\" does not exist", NULL },
	{ "control character", "log_level = info\001\n",
	  "test.conf:1: control character", NULL },
	{ "bad authserv_id", "authserv_id = a b\n", "test.conf:1: authserv_id:", NULL },
	{ "a global error among block errors is still fatal",
	  "domain a.com {\nkey = s1 @OPEN@\n}\nlog_level = loud\n",
	  "test.conf:4: log_level:", NULL },
	{ "one IDN in U-labels and A-labels",
	  "domain \xe4\xbe\x8b\xe3\x81\x88.jp {\nkey = s1 @RSA@\n}\n"
	  "domain xn--r8jz45g.jp {\nkey = s1 @RSA@\n}\n",
	  "test.conf:4: domain xn--r8jz45g.jp: second block (first at test.conf:1)",
	  "xn--r8jz45g.jp" },
	{ "not a valid IDN", "domain \xcc\x81" "abc.example {\nkey = s1 @RSA@\n}\n",
	  "test.conf:1: domain \xcc\x81" "abc.example is not a valid "
	  "internationalized domain name", "\xcc\x81" "abc.example" },
};

/* config_rejects_bad_files - each bad file: its error with file:line, and a failed load or the block left out */
static void
config_rejects_bad_files(void **state)
{
	const struct bad_case *bc;
	char err[4096];
	struct config *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		bc = &bad_cases[i];
		c = load(bc->text, err, sizeof(err));
		if (strstr(err, bc->expect) == NULL)
			fail_msg("case \"%s\": errors \"%s\", wanted \"%s\"",
			    bc->name, err, bc->expect);
		if (bc->left_out == NULL && c != NULL)
			fail_msg("case \"%s\": loaded, wanted a fatal error", bc->name);
		if (bc->left_out != NULL && (c == NULL || !left_out(c, bc->left_out)))
			fail_msg("case \"%s\": %s, wanted block %s left out",
			    bc->name, c ? "not left out" : "load failed", bc->left_out);
		config_free(c);
	}
}

/* config_empty_file_gives_defaults - the table's defaults apply */
static void
config_empty_file_gives_defaults(void **state)
{
	char err[1024];
	struct config *c = load("", err, sizeof(err));

	(void)state;
	assert_non_null(c);
	assert_string_equal(c->socket, "unix:/run/authmilter/authmilter.sock");
	assert_int_equal(c->socket_mode, 0660);
	assert_int_equal(c->defaults.hcanon, SIGN_CANON_RELAXED);
	assert_int_equal(c->defaults.bcanon, SIGN_CANON_RELAXED);
	assert_int_equal(c->internal_hosts.n, 2);
	assert_true(cidr_list_match_str(&c->internal_hosts, "127.0.0.5"));
	assert_true(cidr_list_match_str(&c->internal_hosts, "::1"));
	assert_false(cidr_list_match_str(&c->internal_hosts, "192.0.2.1"));
	assert_int_equal(c->defaults.oversign_headers.n, 1);
	assert_string_equal(c->defaults.oversign_headers.v[0], "From");
	assert_int_equal(c->defaults.signed_headers.n, 16);
	assert_string_equal(c->defaults.signed_headers.v[15], "List-Unsubscribe-Post");
	assert_int_equal(c->on_internal_error, CONFIG_ON_ERROR_ACCEPT);
	assert_true(c->authserv_id[0] != '\0');
	assert_int_equal(c->ndomains, 0);
	/* Postfix is silent towards the milter while a client uploads DATA
	 * (no reply asked at MAIL/RCPT, no DATA event): the default must
	 * outlast slow uploads, as libmilter's 7210 s does */
	assert_true(c->milter_timeout >= 7200);
	config_free(c);
}

/* config_good_file_with_blocks - options, comments, CRLF, inheritance, overrides */
static void
config_good_file_with_blocks(void **state)
{
	static const char text[] =
	    "# sample\r\n"
	    "socket          = inet:8891@127.0.0.1   # tcp\r\n"
	    "authserv_id     = MX.Example.NET\n"
	    "internal_hosts  = 10.0.0.0/8 192.0.2.0/24, 2001:db8::/32\n"
	    "dns_servers     =\n"
	    "signed_headers  = From, To, Subject\n"
	    "platform_domain = esp.example\n"
	    "on_internal_error = tempfail\n"
	    "metrics_listen = [::1]:9187\n"
	    "\n"
	    "domain Example.COM {\n"
	    "    key = s2026b @RSA@\n"
	    "    key = ed1 @ED@\n"
	    "    canonicalization = simple/simple\n"
	    "}\n"
	    "domain esp.example {\n"
	    "\tkey = p1 @RSA@\n"
	    "\tsigned_headers = From Date\n"
	    "\tsignature_ttl = 7d\n"
	    "}\n";
	const struct config_domain *d, *p;
	char err[1024];
	struct config *c = load(text, err, sizeof(err));

	(void)state;
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->socket, "inet:8891@127.0.0.1");
	assert_string_equal(c->metrics_listen, "[::1]:9187");
	assert_string_equal(c->authserv_id, "mx.example.net");
	assert_int_equal(c->internal_hosts.n, 3);
	assert_true(cidr_list_match_str(&c->internal_hosts, "2001:db8::25"));
	assert_false(cidr_list_match_str(&c->internal_hosts, "127.0.0.1"));
	assert_int_equal(c->dns_servers.n, 0);
	assert_int_equal(c->on_internal_error, CONFIG_ON_ERROR_TEMPFAIL);
	assert_int_equal(c->ndomains, 2);
	d = config_find_domain(c, "EXAMPLE.com");
	assert_non_null(d);
	assert_string_equal(d->name, "example.com");
	assert_int_equal(d->nkeys, 2);
	assert_string_equal(d->keys[0].selector, "s2026b");
	assert_int_equal(d->keys[0].type, KEY_RSA);
	assert_int_equal(d->keys[0].bits, 1024);
	assert_int_equal(d->keys[1].type, KEY_ED25519);
	assert_int_equal(d->hcanon, SIGN_CANON_SIMPLE);
	assert_int_equal(d->bcanon, SIGN_CANON_SIMPLE);
	assert_int_equal(d->signed_headers.n, 3);	/* inherited */
	assert_int_equal(d->signature_ttl, 0);
	p = config_find_domain(c, "esp.example");
	assert_ptr_equal(c->platform, p);
	assert_int_equal(p->signed_headers.n, 2);	/* overridden */
	assert_int_equal(p->signature_ttl, 7 * 86400);
	assert_int_equal(p->hcanon, SIGN_CANON_RELAXED);	/* inherited */
	assert_null(config_find_domain(c, "other.example"));
	config_free(c);
}

/* config_group_readable_key_allowed_when_configured - 0640 passes with the option */
static void
config_group_readable_key_allowed_when_configured(void **state)
{
	char err[1024];
	struct config *c = load("allow_group_readable_keys = yes\n"
	    "domain a.com {\nkey = s1 @GROUP@\n}\n", err, sizeof(err));

	(void)state;
	if (c == NULL)
		fail_msg("%s", err);
	config_free(c);
	/* but never world-readable */
	c = load("allow_group_readable_keys = yes\ndomain a.com {\n"
	    "key = s1 @OPEN@\n}\n", err, sizeof(err));
	assert_non_null(c);
	assert_true(left_out(c, "a.com"));
	assert_non_null(strstr(err, "readable by others"));
	config_free(c);
}

/* config_relative_key_path_is_relative_to_conf - "keys/x.pem" next to the file */
static void
config_relative_key_path_is_relative_to_conf(void **state)
{
	char conf[600], sub[600], key[700], err[1024], text[256];
	struct config *c;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/keys", dir);
	mkdir(sub, 0700);
	snprintf(key, sizeof(key), "%s/rel.pem", sub);
	assert_int_equal(testutil_write_key(key, "ED25519", 0, 0600), 0);
	snprintf(conf, sizeof(conf), "%s/rel.conf", dir);
	snprintf(text, sizeof(text), "domain rel.example {\n key = r1 keys/rel.pem\n}\n");
	assert_int_equal(testutil_write_file(conf, text), 0);
	c = config_load(conf, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->domains[0].keys[0].path, key);
	config_free(c);
}

/* config_missing_file_names_it - an unreadable conf is a clear error */
static void
config_missing_file_names_it(void **state)
{
	char err[1024];

	(void)state;
	assert_null(config_load("/nonexistent/authmilter.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/authmilter.conf: cannot open"));
}

/* config_snapshot_refcount - acquire pins, install swaps, last release frees */
static void
config_snapshot_refcount(void **state)
{
	char err[1024];
	struct config *a = load("log_level = debug\n", err, sizeof(err));
	struct config *b = load("log_level = err\n", err, sizeof(err));
	struct config *pinned;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	config_install(a);
	pinned = config_acquire();
	assert_ptr_equal(pinned, a);
	assert_int_equal(a->refs, 2);
	config_install(b);		/* a still pinned: not freed */
	assert_int_equal(pinned->refs, 1);
	assert_int_equal(pinned->log_level, LOG_DEBUG);
	config_release(pinned);		/* frees a (ASan would catch misuse) */
	pinned = config_acquire();
	assert_ptr_equal(pinned, b);
	config_release(pinned);
	config_install(NULL);
	assert_null(config_acquire());
}

/* many_domains - a snapshot of n domain blocks (keys not read) */
static struct config *
many_domains(int n)
{
	struct buf text = BUF_INIT;
	struct config *c;
	char err[1024];
	int i;

	for (i = 0; i < n; i++)
		buf_printf(&text, "domain d%05d.example {\nkey = s %s\n}\n", i,
		    rsa_key);
	c = config_load_from("many.conf", buf_cstr(&text), NULL,
	    CONFIG_SKIP_KEYS, NULL, err, sizeof(err));
	buf_free(&text);
	if (c == NULL)
		fail_msg("%s", err);
	return c;
}

/* reaped_by - wait up to 10 s for the reaper's count to reach n */
static unsigned long
reaped_by(unsigned long n)
{
	int i;

	for (i = 0; i < 1000 && config_reaped() < n; i++)
		usleep(10000);
	return config_reaped();
}

/*
 * config_big_snapshot_freed_off_the_releasing_thread - the last pin of a
 * snapshot of CONFIG_TRIM_DOMAINS blocks, dropped by a worker at a
 * message's start, hands it to the reaper thread; a small one, and any
 * after the stop, is freed where it is released (ASan: no leak, no use
 * after free either way)
 */
static void
config_big_snapshot_freed_off_the_releasing_thread(void **state)
{
	char err[1024];
	struct config *big, *pinned;
	unsigned long before;

	(void)state;
	big = many_domains(CONFIG_TRIM_DOMAINS);
	config_install(big);
	pinned = config_acquire();
	config_install(load("log_level = err\n", err, sizeof(err)));
	before = config_reaped();
	config_release(pinned);		/* the last pin */
	assert_int_equal(reaped_by(before + 1), before + 1);
	config_install(many_domains(CONFIG_TRIM_DOMAINS - 1));
	/* releases the 999-block one, freed here (the stop below, which
	 * joins the reaper, would show it counted if it had gone there) */
	config_install(many_domains(CONFIG_TRIM_DOMAINS));
	assert_int_equal(config_reaped(), before + 1);
	config_install(load("log_level = err\n", err, sizeof(err)));
	assert_int_equal(reaped_by(before + 2), before + 2);
	pinned = config_acquire();
	config_install(many_domains(CONFIG_TRIM_DOMAINS));
	config_install(NULL);		/* the stop: the reaper ends */
	config_release(pinned);		/* small: here */
	assert_int_equal(config_reaped(), before + 2);
	config_install(many_domains(CONFIG_TRIM_DOMAINS));
	config_install(NULL);		/* the big one freed here, at the stop */
	assert_int_equal(config_reaped(), before + 2);
	assert_null(config_acquire());
}

/* config_dump_shows_effective_values - authmilter -n output */
static void
config_dump_shows_effective_values(void **state)
{
	char err[1024], *out = NULL;
	size_t outlen = 0;
	struct config *c = load("domain example.com {\nkey = s1 @RSA@\n"
	    "canonicalization = relaxed/simple\n}\n", err, sizeof(err));
	FILE *fp = open_memstream(&out, &outlen);

	(void)state;
	assert_non_null(c);
	config_dump(c, fp);
	fclose(fp);
	assert_non_null(strstr(out, "socket                     = unix:/run/authmilter/authmilter.sock\n"));
	assert_non_null(strstr(out, "domain example.com {\n"));
	assert_non_null(strstr(out, "key = s1 "));
	assert_non_null(strstr(out, "# rsa, 1024 bits"));
	assert_non_null(strstr(out, "canonicalization       = relaxed/simple\n"));
	assert_non_null(strstr(out, "signed_headers         = From, Sender"));
	free(out);
	config_free(c);
}

/*
 * config_subdomain_lookup_among_many_blocks - with 20,000 blocks (every
 * other one with subdomains = yes) the block covering a subdomain is its
 * closest parent with subdomains, a subdomain's own block wins, and a
 * parent without subdomains covers nothing: 60,000 lookups, each a few
 * binary searches (a linear scan would take minutes under the sanitizers)
 */
static void
config_subdomain_lookup_among_many_blocks(void **state)
{
	enum { N = 20000 };
	struct buf text = BUF_INIT;
	const struct config_domain *d;
	struct config *c;
	char err[1024], name[96], want[64];
	int i;

	(void)state;
	for (i = 0; i < N; i++)
		buf_printf(&text, "domain c%05d.example {\nkey = s %s\n%s}\n", i,
		    rsa_key, i % 2 == 0 ? "subdomains = yes\n" : "");
	buf_printf(&text, "domain news.c00000.example {\nkey = s %s\n}\n",
	    rsa_key);
	c = config_load_from("many.conf", buf_cstr(&text), NULL, CONFIG_SKIP_KEYS,
	    NULL, err, sizeof(err));
	buf_free(&text);
	if (c == NULL)
		fail_msg("%s", err);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "a.b.C%05d.example", i);
		snprintf(want, sizeof(want), "c%05d.example", i);
		d = config_match_domain(c, name);
		if (i % 2 == 0)
			assert_true(d != NULL && strcmp(d->name, want) == 0);
		else
			assert_null(d);
		assert_null(config_find_domain(c, name));
		snprintf(name, sizeof(name), "x%s", want);	/* no label boundary */
		assert_null(config_match_domain(c, name));
	}
	assert_string_equal(config_match_domain(c, "news.c00000.example")->name,
	    "news.c00000.example");
	assert_string_equal(config_match_domain(c, "a.news.c00000.example")->name,
	    "c00000.example");
	assert_string_equal(config_match_domain(c, "c00001.example")->name,
	    "c00001.example");
	assert_null(config_match_domain(c, "example"));
	config_free(c);
}

/*
 * config_idn_names_are_loaded_as_a_labels - a block, bounce_domain and
 * platform_domain written in U-labels are kept in A-labels (the d= of
 * RFC 8616) and found from either form
 */
static void
config_idn_names_are_loaded_as_a_labels(void **state)
{
	char err[1024];
	struct config *c = load("bounce_secret = @RSA@\n"
	    "platform_domain = \xe4\xbe\x8b\xe3\x81\x88.JP\n"
	    "domain \xe4\xbe\x8b\xe3\x81\x88.jp {\nkey = s1 @RSA@\n"
	    "bounce_domain = bounce.\xe4\xbe\x8b\xe3\x81\x88.jp\n}\n",
	    err, sizeof(err));
	const struct config_domain *d;

	(void)state;
	if (c == NULL)
		fail_msg("%s", err);
	d = config_find_domain(c, "xn--r8jz45g.jp");
	assert_non_null(d);
	assert_string_equal(d->name, "xn--r8jz45g.jp");
	assert_string_equal(d->bounce_domain, "bounce.xn--r8jz45g.jp");
	assert_ptr_equal(c->platform, d);
	assert_ptr_equal(config_find_domain(c, "\xe4\xbe\x8b\xe3\x81\x88.jp"), d);
	assert_ptr_equal(config_match_domain(c, "\xe4\xbe\x8b\xe3\x81\x88.jp."), d);
	assert_ptr_equal(config_find_bounce_domain(c,
	    "Bounce.\xe4\xbe\x8b\xe3\x81\x88.jp"), d);
	assert_ptr_equal(config_find_bounce_domain(c, "bounce.XN--R8JZ45G.jp"), d);
	assert_null(config_find_domain(c, "\xe4\xbe\x8b.jp"));
	config_free(c);
}

/* config_lookup_among_many_domains - sorted lookups find every block, case-insensitively */
static void
config_lookup_among_many_domains(void **state)
{
	struct buf text = BUF_INIT;
	struct config *c;
	char err[1024], name[64];
	int i;

	(void)state;
	buf_printf(&text, "bounce_secret = %s\n", rsa_key);
	for (i = 499; i >= 0; i--)
		buf_printf(&text, "domain d%03d.example {\nkey = s %s\n"
		    "bounce_domain = b%03d.d%03d.example\n}\n", i, rsa_key, i, i);
	c = config_load_from("many.conf", buf_cstr(&text), NULL, CONFIG_SKIP_KEYS,
	    NULL, err, sizeof(err));
	buf_free(&text);
	if (c == NULL)
		fail_msg("%s", err);
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "D%03d.Example", i);
		assert_non_null(config_find_domain(c, name));
		snprintf(name, sizeof(name), "d%03d.example", i);
		assert_string_equal(config_find_domain(c, "D000.EXAMPLE")->name,
		    "d000.example");
		snprintf(name, sizeof(name), "b%03d.d%03d.example", i, i);
		assert_non_null(config_find_bounce_domain(c, name));
		snprintf(name, sizeof(name), "d%03d.example", i);
		assert_string_equal(config_find_bounce_domain(c,
		    config_find_domain(c, name)->bounce_domain)->name, name);
	}
	assert_null(config_find_domain(c, "d500.example"));
	assert_null(config_find_domain(c, "example"));
	assert_null(config_find_bounce_domain(c, "d001.example"));
	config_free(c);
}

/* config_bounce_domain_used_twice_is_an_error - one bounce domain, one block */
static void
config_bounce_domain_used_twice_is_an_error(void **state)
{
	char err[1024];
	struct config *c = load("bounce_secret = @RSA@\n"
	    "domain a.example {\nkey = s @RSA@\nbounce_domain = b.example\n}\n"
	    "domain c.example {\nkey = s @RSA@\nbounce_domain = B.example\n}\n",
	    err, sizeof(err));

	(void)state;
	assert_non_null(c);
	assert_non_null(strstr(err, "test.conf:6: bounce_domain b.example is used "
	    "by domains a.example and c.example"));
	assert_true(left_out(c, "c.example"));	/* the later block */
	assert_non_null(config_find_domain(c, "a.example"));
	config_free(c);
}


/* config_key_symlinks_decides_whether_a_linked_key_loads - refuse by default, allow on request */
static void
config_key_symlinks_decides_whether_a_linked_key_loads(void **state)
{
	static const struct {
		const char *opts;	/* global lines */
		const char *want;	/* substring of the error, NULL: loads */
	} cases[] = {
		{ "", "test.conf:2: key file " },	/* the block is left out */
		{ "key_symlinks = refuse\n", "is a symbolic link: name the file it "
		  "points to (or set key_symlinks = allow)" },
		{ "key_symlinks = allow\n", NULL },
		{ "key_symlinks = sometimes\n", "key_symlinks: \"sometimes\" is not "
		  "one of refuse, allow" },
	};
	char link[600], text[1400], err[1024];
	struct config *c;
	size_t i;

	(void)state;
	snprintf(link, sizeof(link), "%s/linked.pem", dir);
	unlink(link);
	assert_int_equal(symlink(rsa_key, link), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%sdomain a.com {\nkey = s1 %s\n}\n",
		    cases[i].opts, link);
		c = load_text(text, "test.conf", err, sizeof(err));
		if (cases[i].want == NULL && (c == NULL || c->ndomains != 1))
			fail_msg("case %zu: %s", i, err);
		if (cases[i].want != NULL && ((c != NULL && c->ndomains != 0)
		    || strstr(err, cases[i].want) == NULL))
			fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, err,
			    cases[i].want);
		config_free(c);
	}
	unlink(link);
}

/* config_max_connections_default_and_bounds - 1000 unless set, 1..65536 */
static void
config_max_connections_default_and_bounds(void **state)
{
	char err[1024];
	struct config *c = load("", err, sizeof(err));

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->max_connections, 1000);
	assert_int_equal(c->key_symlinks, CONFIG_KEY_SYMLINKS_REFUSE);
	config_free(c);
	c = load("max_connections = 5\n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->max_connections, 5);
	config_free(c);
	assert_null(load("max_connections = 0\n", err, sizeof(err)));
	assert_non_null(strstr(err, "test.conf:1: max_connections:"));
}

/* the C size each option type stores into, written out independently of config_types[] */
static const size_t type_sizes[OPT_NTYPES] = {
	[OPT_STRING] = sizeof(char *),
	[OPT_DOMAIN] = sizeof(char *),
	[OPT_INT] = sizeof(int),
	[OPT_BOOL] = sizeof(int),
	[OPT_ENUM] = sizeof(int),
	[OPT_WORDS] = sizeof(struct config_words),
	[OPT_CIDRS] = sizeof(struct cidr_list),
	[OPT_CANON] = 2 * sizeof(int),
	[OPT_MODE] = sizeof(int),
	[OPT_DURATION] = sizeof(long),
	[OPT_LEVEL] = sizeof(int),
	[OPT_FACILITY] = sizeof(int),
	[OPT_KEY] = sizeof(struct key *),
	[OPT_SOCKET] = sizeof(char *),
	[OPT_LISTEN] = sizeof(char *),
};

/* config_table_rows_match_their_types - every row's field has its type's C size and handlers */
static void
config_table_rows_match_their_types(void **state)
{
	const struct opt_def *o;
	size_t i;

	(void)state;
	assert_int_equal(config_ntypes, OPT_NTYPES);
	for (i = 0; i < OPT_NTYPES; i++) {
		if (config_types[i].size != type_sizes[i]
		    || config_types[i].set == NULL || config_types[i].name == NULL)
			fail_msg("type %zu: descriptor size %zu, expected %zu", i,
			    config_types[i].size, type_sizes[i]);
	}
	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if ((unsigned)o->type >= OPT_NTYPES || o->size != type_sizes[o->type])
			fail_msg("option %s: field of %zu bytes, its type stores %zu",
			    o->name, o->size, (unsigned)o->type < OPT_NTYPES ?
			    type_sizes[o->type] : 0);
		if ((o->scope & OPT_GLOBAL) && (o->scope & OPT_BLOCK)
		    && config_types[o->type].copy == NULL)
			fail_msg("option %s: inherited by blocks, its type has no copy",
			    o->name);
		if (o->type != OPT_KEY && config_types[o->type].format == NULL)
			fail_msg("option %s: printed by -n, its type has no format",
			    o->name);
	}
}

/* config_string_copy_is_deep - the string types' copy makes a new string (the whole pointer, not its first int) */
static void
config_string_copy_is_deep(void **state)
{
	static const enum opt_type types[] = { OPT_STRING, OPT_DOMAIN, OPT_SOCKET };
	const struct opt_type_desc *t;
	char *src, *dst;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		t = &config_types[types[i]];
		src = strdup("unix:/run/authmilter/authmilter.sock");
		dst = NULL;
		t->copy(&dst, &src, t->size);
		assert_non_null(dst);
		assert_ptr_not_equal(dst, src);
		assert_string_equal(dst, src);
		t->free(&src);			/* the copy must outlive the original */
		assert_null(src);
		assert_string_equal(dst, "unix:/run/authmilter/authmilter.sock");
		t->copy(&src, &dst, t->size);	/* and back */
		t->free(&dst);
		assert_string_equal(src, "unix:/run/authmilter/authmilter.sock");
		t->free(&src);
		t->copy(&dst, &src, t->size);	/* unset stays unset */
		assert_null(dst);
	}
}

/* assert_words_apart - b holds the words of a in its own array and strings */
static void
assert_words_apart(const struct config_words *a, const struct config_words *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	assert_ptr_not_equal(a->v, b->v);
	for (i = 0; i < a->n; i++) {
		assert_ptr_not_equal(a->v[i], b->v[i]);
		assert_string_equal(a->v[i], b->v[i]);
	}
}

/* config_lists_are_deep_copied_into_blocks - inherited lists are each block's own */
static void
config_lists_are_deep_copied_into_blocks(void **state)
{
	const struct config_domain *a, *b, *o;
	char err[1024];
	struct config *c = load("signers = *@%d, ops@esp.example\n"
	    "signer_networks = 192.0.2.0/24, 2001:db8::/32\n"
	    "domain a.example {\nkey = s @RSA@\n}\n"
	    "domain b.example {\nkey = s @RSA@\n}\n"
	    "domain o.example {\nkey = s @RSA@\nsigners = x@o.example\n"
	    "signer_networks = 198.51.100.0/24\n}\n", err, sizeof(err));

	(void)state;
	if (c == NULL)
		fail_msg("%s", err);
	a = config_find_domain(c, "a.example");
	b = config_find_domain(c, "b.example");
	o = config_find_domain(c, "o.example");
	assert_int_equal(a->signers.n, 2);
	assert_words_apart(&c->defaults.signers, &a->signers);
	assert_words_apart(&c->defaults.signers, &b->signers);
	assert_words_apart(&a->signers, &b->signers);
	assert_words_apart(&c->defaults.signed_headers, &a->signed_headers);
	assert_int_equal(a->signer_networks.n, 2);
	assert_int_equal(b->signer_networks.n, 2);
	assert_ptr_not_equal(a->signer_networks.v, c->defaults.signer_networks.v);
	assert_ptr_not_equal(a->signer_networks.v, b->signer_networks.v);
	assert_true(cidr_list_match_str(&a->signer_networks, "2001:db8::1"));
	assert_true(cidr_list_match_str(&b->signer_networks, "192.0.2.7"));
	assert_int_equal(o->signers.n, 1);		/* set in the block: not inherited */
	assert_string_equal(o->signers.v[0], "x@o.example");
	assert_false(cidr_list_match_str(&o->signer_networks, "192.0.2.7"));
	config_free(c);		/* each list freed once (ASan: no double free, no leak) */
}

/* reload_text - parse a template as a reload of prev would (src.prev = prev); errors in err */
static struct config *
reload_text(const char *tmpl, const struct config *prev, char *err,
    size_t errlen)
{
	struct config_source src = { .prev = prev };
	char *text = expand(tmpl);
	struct config *c = load_from("test.conf", text, &src, err, errlen);

	free(text);
	return c;
}

/* config_reload_keeps_running_block - a block that fails on reload keeps its running version; a new one is left out; the summary counts */
static void
config_reload_keeps_running_block(void **state)
{
	char err[4096];
	struct config *old = load("domain a.example {\nkey = s1 @RSA@\n}\n"
	    "domain b.example {\nkey = s1 @ED@\n}\n", err, sizeof(err));
	struct config *c, *start;
	const struct config_domain *a;
	struct buf line = BUF_INIT;

	(void)state;
	assert_non_null(old);
	keys_pub_set(&old->domains[0].keys[0], KEY_PUB_PUBLISHED);
	c = reload_text("domain a.example {\nkey = s1 @OPEN@\n}\n"
	    "domain b.example {\nkey = s1 @ED@\n}\n"
	    "domain c.example {\nkey = s1 @OPEN@\n}\n", old, err, sizeof(err));
	assert_non_null(c);
	assert_non_null(strstr(err, "open.pem"));
	assert_true(left_out(c, "a.example"));	/* it failed, */
	a = config_find_domain(c, "a.example");	/* and serves on as it was */
	assert_non_null(a);
	assert_ptr_not_equal(a, config_find_domain(old, "a.example"));
	assert_int_equal(a->nkeys, 1);
	assert_ptr_equal(a->keys[0].pkey, old->domains[0].keys[0].pkey);
	assert_string_equal(a->keys[0].path, rsa_key);
	assert_int_equal(keys_pub_get(&a->keys[0]), KEY_PUB_PUBLISHED);
	assert_null(config_find_domain(c, "c.example"));	/* new: left out */
	assert_int_equal(c->kept.n, 1);
	config_summary(c, &line);
	assert_string_equal(buf_cstr(&line), "2 domains loaded, 2 failed (1 kept "
	    "running); 2 keys (0 read, 1 reused): 1 unchecked, 1 published");
	buf_reset(&line);
	config_free(old);	/* the kept block owns its copy */
	assert_non_null(a->keys[0].pkey);
	config_free(c);
	start = load("domain a.example {\nkey = s1 @OPEN@\n}\n"
	    "domain b.example {\nkey = s1 @ED@\n}\n", err, sizeof(err));
	assert_non_null(start);	/* at start nothing runs: left out */
	assert_null(config_find_domain(start, "a.example"));
	config_summary(start, &line);
	assert_string_equal(buf_cstr(&line), "1 domains loaded, 1 failed; "
	    "1 keys (1 read, 0 reused): 1 unchecked");
	buf_free(&line);
	config_free(start);
}

/* config_reload_reuses_unchanged_keys - an unchanged file is shared, not read; a file several blocks name is read once; a changed one is read again */
static void
config_reload_reuses_unchanged_keys(void **state)
{
	char err[4096], path[4200];
	static const char tmpl[] = "domain a.example {\nkey = s1 @RSA@\n}\n"
	    "domain b.example {\nkey = s1 @RSA@\nkey = s2 @ED@\n}\n";
	struct config *old = load(tmpl, err, sizeof(err)), *c, *d;
	struct timespec ts[2];

	(void)state;
	assert_non_null(old);
	assert_int_equal(old->keys_read, 2);	/* rsa.pem once for two blocks */
	assert_int_equal(old->keys_reused, 1);
	assert_ptr_equal(old->domains[0].keys[0].pkey,
	    old->domains[1].keys[0].pkey);
	c = reload_text(tmpl, old, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->keys_read, 0);
	assert_int_equal(c->keys_reused, 3);
	assert_ptr_equal(c->domains[1].keys[1].pkey, old->domains[1].keys[1].pkey);
	/* ed.pem rewritten (its times change): read and parsed again */
	snprintf(path, sizeof(path), "%s", ed_key);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += 5;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	d = reload_text(tmpl, c, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(d->keys_read, 1);
	assert_int_equal(d->keys_reused, 2);
	assert_ptr_not_equal(d->domains[1].keys[1].pkey,
	    c->domains[1].keys[1].pkey);
	assert_ptr_equal(d->domains[0].keys[0].pkey, c->domains[0].keys[0].pkey);
	config_free(old);
	config_free(c);
	config_free(d);
}

/* config_garbage_file_stops_at_100_errors - a file of nonsense gives a bounded list */
static void
config_garbage_file_stops_at_100_errors(void **state)
{
	struct config_problems probs = { NULL, 0, 0 };
	struct buf text = BUF_INIT;
	struct config *c;
	char err[1024];
	int i;

	(void)state;
	for (i = 0; i < 5000; i++)
		buf_puts(&text, "nonsense\n");
	c = config_load_from("junk.conf", buf_cstr(&text), NULL,
	    CONFIG_SKIP_KEYS, &probs, err, sizeof(err));
	assert_null(c);
	assert_int_equal(probs.n, 101);
	assert_non_null(strstr(probs.v[100].text, "junk.conf:100: stopped after "
	    "100 errors: the rest of the file is not read"));
	config_problems_free(&probs);
	buf_free(&text);
}

/* A file a files_case writes before it loads. */
struct case_file {
	const char *path;	/* under the row's directory ("d/x.conf" makes d) */
	const char *text;	/* its text, @DIR@ and @RSA@ expanded; "KEY": a new RSA key */
	mode_t mode;		/* 0: 0644 (0600 for a key) */
};

/* A conf whose main file includes others or names keys through key_dir. */
struct files_case {
	const char *name;		/* the behaviour, as the test's name */
	struct case_file files[8];	/* written under a fresh directory @DIR@ */
	const char *conf;		/* the main file, loaded as @DIR@/main.conf */
	const char *want;		/* substring of the errors (NULL: none) */
	int fatal;			/* the load fails */
	const char *loaded;		/* the blocks kept, in file order, space-separated */
	const char *failed;		/* the blocks left out, space-separated */
	const char *key0;		/* path of the first block's first key (NULL: not checked) */
};

static const struct files_case files_cases[] = {
	/* made in neither sorted nor reverse order, five matches: a directory
	 * listing in sorted order by chance is one in 120 */
	{ "include_reads_matches_in_byte_order",
	  { { "3-mid.conf", "domain mid.example {\n key = s1 @RSA@\n}\n", 0 },
	    { "10-zeta.conf", "domain zeta.example {\n key = s1 @RSA@\n}\n", 0 },
	    { "20-alpha.conf", "# one customer\ndomain alpha.example {\n"
	      " key = s1 @RSA@\n}\ndomain beta.example {\n key = s1 @RSA@\n}\n", 0 },
	    { "05-five.conf", "domain five.example {\n key = s1 @RSA@\n}\n", 0 },
	    { "2-two.conf", "domain two.example {\n key = s1 @RSA@\n}\n", 0 },
	    { "notes.txt", "domain txt.example {\n key = s1 @RSA@\n}\n", 0 },
	    { ".hidden.conf", "domain hidden.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "log_level = info\ninclude @DIR@/*.conf\nauthserv_id = mx.example\n",
	  NULL, 0, "five.example zeta.example two.example alpha.example "
	  "beta.example mid.example", "", NULL },
	{ "include_relative_to_the_main_file",
	  { { "d/a.conf", "domain a.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include d/*.conf\n", NULL, 0, "a.example", "", NULL },
	{ "include_without_match_is_fine",
	  { { "d/readme", "not a conf\n", 0 } },
	  "include @DIR@/d/*.conf\n", NULL, 0, "", "", NULL },
	{ "include_of_a_missing_directory_is_fatal",
	  { { "a.conf", "domain a.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "\n\ninclude @DIR@/nope/*.conf\n",
	  "@DIR@/main.conf:3: include @DIR@/nope/*.conf: directory @DIR@/nope: ",
	  1, "", "", NULL },
	{ "include_of_a_missing_named_file_is_fatal",
	  { { "a.conf", "domain a.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/b.conf\n",
	  "@DIR@/main.conf:1: include @DIR@/b.conf: no such file", 1, "", "", NULL },
	{ "include_wildcards_in_the_file_name_only",
	  { { "d/a.conf", "domain a.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*/a.conf\n", "wildcards are allowed in the file name only",
	  1, "", "", NULL },
	{ "included_error_names_the_included_file_and_line",
	  { { "10-a.conf", "domain a.example {\n key = s1 @RSA@\n bogus = 1\n}\n", 0 },
	    { "20-b.conf", "domain b.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*.conf\n",
	  "@DIR@/10-a.conf:3: unknown option \"bogus\"", 0, "b.example",
	  "a.example", NULL },
	{ "included_file_holds_blocks_only",
	  { { "10-a.conf", "domain a.example {\n key = s1 @RSA@\n}\n"
	      "log_level = debug\ndomain c.example {\n key = s1 @RSA@\n}\n", 0 },
	    { "20-b.conf", "domain b.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*.conf\n",
	  "@DIR@/10-a.conf:4: option \"log_level\": an included file holds "
	  "domain blocks only", 0, "b.example", "a.example c.example", NULL },
	{ "included_file_cannot_include",
	  { { "10-a.conf", "include @DIR@/*.conf\ndomain a.example {\n"
	      " key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*.conf\n",
	  "@DIR@/10-a.conf:1: include: an included file cannot include others",
	  0, "", "a.example", NULL },
	{ "block_ends_in_its_file",
	  { { "10-a.conf", "domain a.example {\n key = s1 @RSA@\n", 0 },
	    { "20-b.conf", "domain b.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*.conf\n",
	  "@DIR@/10-a.conf:1: domain block a.example is not closed", 0,
	  "b.example", "a.example", NULL },
	{ "one_bad_key_among_good_domains",
	  { { "10-a.conf", "domain a.example {\n key = s1 @RSA@\n}\n", 0 },
	    { "20-b.conf", "domain b.example {\n key = s1 @OPEN@\n}\n", 0 },
	    { "30-c.conf", "domain c.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*.conf\n",
	  "@DIR@/20-b.conf:2: key file @OPEN@", 0, "a.example c.example",
	  "b.example", NULL },
	{ "second_block_in_another_file_names_the_first",
	  { { "10-a.conf", "domain a.example {\n key = s1 @RSA@\n}\n", 0 },
	    { "20-a.conf", "\ndomain A.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*.conf\n",
	  "@DIR@/20-a.conf:2: domain a.example: second block (first at "
	  "@DIR@/10-a.conf:1)", 0, "a.example", "a.example", NULL },
	{ "writable_included_file_is_refused",
	  { { "10-a.conf", "domain a.example {\n key = s1 @RSA@\n}\n", 0666 },
	    { "20-b.conf", "domain b.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*.conf\n",
	  "@DIR@/main.conf:1: included file @DIR@/10-a.conf: ", 0, "b.example",
	  "", NULL },
	{ "global_error_with_includes_is_fatal",
	  { { "10-a.conf", "domain a.example {\n key = s1 @RSA@\n}\n", 0 } },
	  "include @DIR@/*.conf\nbogus_global = 1\n",
	  "@DIR@/main.conf:2: unknown option \"bogus_global\"", 1, "", "", NULL },
	{ "key_dir_names_the_key_by_selector",
	  { { "keys/a.example/s1.pem", "KEY", 0 } },
	  "key_dir = @DIR@/keys\ndomain A.Example {\n key = s1\n}\n",
	  NULL, 0, "a.example", "", "@DIR@/keys/a.example/s1.pem" },
	{ "key_dir_relative_to_the_main_file_and_set_after_the_blocks",
	  { { "k/a.example/s1.pem", "KEY", 0 },
	    { "d/a.conf", "domain a.example {\n key = s1 not_after=2030-01-01\n"
	      " key = s0 @RSA@\n}\n", 0 } },
	  "include d/*.conf\nkey_dir = k\n",
	  NULL, 0, "a.example", "", "@DIR@/k/a.example/s1.pem" },
	{ "key_dir_missing_key_names_the_path",
	  { { "keys/a.example/s1.pem", "KEY", 0 },
	    { "d/b.conf", "domain b.example {\n\n key = s2\n}\n", 0 } },
	  "key_dir = @DIR@/keys\ninclude @DIR@/d/*.conf\n"
	  "domain a.example {\n key = s1\n}\n",
	  "@DIR@/d/b.conf:3: cannot open key file @DIR@/keys/b.example/s2.pem",
	  0, "a.example", "b.example", NULL },
};

/* expand_dir - @DIR@ to dir, then the key tags */
static char *
expand_dir(const char *tmpl, const char *dirname)
{
	struct buf b = BUF_INIT;
	const char *p;
	char *out;

	for (p = tmpl; *p != '\0'; p++) {
		if (strncmp(p, "@DIR@", 5) == 0) {
			buf_puts(&b, dirname);
			p += 4;
		} else
			buf_putc(&b, *p);
	}
	out = expand(buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* write_case_file - one file of a row, its directories made */
static void
write_case_file(const char *base, const struct case_file *f)
{
	char path[1024], *text, *slash;

	snprintf(path, sizeof(path), "%s/%s", base, f->path);
	for (slash = strchr(path + strlen(base) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	if (strcmp(f->text, "KEY") == 0) {
		assert_int_equal(testutil_write_key(path, "RSA", 1024,
		    f->mode ? f->mode : 0600), 0);
		return;
	}
	text = expand_dir(f->text, base);
	assert_int_equal(testutil_write_file(path, text), 0);
	assert_int_equal(chmod(path, f->mode ? f->mode : 0644), 0);
	free(text);
}

/* names_of - the block names of c (kept) or its failed list, space-separated */
static void
names_of(const struct config *c, int failed, struct buf *out)
{
	size_t i, n = failed ? c->failed.n : c->ndomains;

	for (i = 0; i < n; i++)
		buf_printf(out, "%s%s", i ? " " : "",
		    failed ? c->failed.v[i] : c->domains[i].name);
}

/* files_row - one files_cases row: write, load, compare */
static void
files_row(void **state)
{
	const struct files_case *fc = *state;
	char main_path[1024], err[8192], *base = testutil_tmpdir(), *conf, *want;
	struct buf names = BUF_INIT;
	struct config *c;
	size_t i;

	assert_non_null(base);
	for (i = 0; i < 8 && fc->files[i].path != NULL; i++)
		write_case_file(base, &fc->files[i]);
	snprintf(main_path, sizeof(main_path), "%s/main.conf", base);
	conf = expand_dir(fc->conf, base);
	want = fc->want ? expand_dir(fc->want, base) : NULL;
	c = load_text(conf, main_path, err, sizeof(err));
	if (want == NULL && err[0] != '\0')
		fail_msg("unexpected errors: %s", err);
	if (want != NULL && strstr(err, want) == NULL)
		fail_msg("errors \"%s\", wanted \"%s\"", err, want);
	if (fc->fatal != (c == NULL))
		fail_msg("load %s, wanted it to %s", c ? "succeeded" : "failed",
		    fc->fatal ? "fail" : "succeed");
	if (c != NULL) {
		names_of(c, 0, &names);
		assert_string_equal(buf_cstr(&names), fc->loaded);
		buf_reset(&names);
		names_of(c, 1, &names);
		assert_string_equal(buf_cstr(&names), fc->failed);
	}
	if (c != NULL && fc->key0 != NULL) {
		char *key0 = expand_dir(fc->key0, base);

		assert_true(c->ndomains > 0 && c->domains[0].nkeys > 0);
		assert_string_equal(c->domains[0].keys[0].path, key0);
		assert_non_null(c->domains[0].keys[0].pkey);
		free(key0);
	}
	buf_free(&names);
	config_free(c);
	free(conf);
	free(want);
	testutil_rmtree(base);
	free(base);
}

/* reload_file - load base/main.conf as a reload of prev would (prev NULL: a start) */
static struct config *
reload_file(const char *base, const struct config *prev, char *err,
    size_t errlen)
{
	struct config_source src = { .prev = prev };
	char path[1024];

	snprintf(path, sizeof(path), "%s/main.conf", base);
	return load_from(path, NULL, &src, err, errlen);
}

/* put - write text (@DIR@ expanded) to base/name, mode 0644 */
static void
put(const char *base, const char *name, const char *text)
{
	struct case_file f = { name, text, 0 };

	write_case_file(base, &f);
}

/* config_reload_reuses_unchanged_files - with the main file unchanged, an unchanged included file is not read: its blocks are copied (keys shared); a changed, new or erroneous file is read; a changed main file reads them all */
static void
config_reload_reuses_unchanged_files(void **state)
{
	char err[8192], *base = testutil_tmpdir();
	struct config *a, *b, *c2, *d, *e;
	struct buf line = BUF_INIT;
	const struct config_domain *x;
	struct timespec ts[2];
	char path[1100];

	(void)state;
	assert_non_null(base);
	put(base, "main.conf", "key_dir = @DIR@/keys\ninclude @DIR@/d/*.conf\n");
	put(base, "keys/a.example/s1.pem", "KEY");
	put(base, "keys/b.example/s1.pem", "KEY");
	put(base, "keys/c.example/s1.pem", "KEY");
	put(base, "d/a.conf", "domain a.example {\n key = s1\n signature_ttl = 5d\n}\n");
	put(base, "d/b.conf", "domain b.example {\n key = s1\n}\n");
	a = reload_file(base, NULL, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(a->files_read, 2);
	/* c.conf added: a.conf and b.conf are not read again */
	put(base, "d/c.conf", "domain c.example {\n key = s1\n}\n");
	b = reload_file(base, a, err, sizeof(err));
	assert_non_null(b);
	assert_string_equal(err, "");
	assert_int_equal(b->files_read, 1);
	assert_int_equal(b->files_reused, 2);
	assert_int_equal(b->ndomains, 3);
	x = config_find_domain(b, "a.example");
	assert_non_null(x);
	assert_int_equal(x->signature_ttl, 5 * 86400);	/* its options came along */
	assert_ptr_equal(x->keys[0].pkey, config_find_domain(a,
	    "a.example")->keys[0].pkey);
	config_summary(b, &line);
	assert_non_null(strstr(buf_cstr(&line), "3 keys (1 read, 2 reused)"));
	assert_non_null(strstr(buf_cstr(&line), "included files: 1 read, 2 unchanged"));
	buf_reset(&line);
	config_free(a);		/* b's copies own their memory */
	assert_string_equal(config_find_domain(b, "b.example")->file,
	    b->files.v[2]);
	/* b.conf rewritten with an error: read, and b.example keeps running */
	put(base, "d/b.conf", "domain b.example {\n key = s1\n bogus = 1\n}\n");
	snprintf(path, sizeof(path), "%s/d/b.conf", base);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += 7;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	c2 = reload_file(base, b, err, sizeof(err));
	assert_non_null(c2);
	assert_non_null(strstr(err, "bogus"));
	assert_int_equal(c2->files_read, 1);
	assert_int_equal(c2->files_reused, 2);
	assert_int_equal(c2->kept.n, 1);
	assert_non_null(config_find_domain(c2, "b.example"));
	/* unchanged since, but it had an error: read again (and reported) */
	d = reload_file(base, c2, err, sizeof(err));
	assert_non_null(d);
	assert_non_null(strstr(err, "bogus"));
	assert_int_equal(d->files_read, 1);
	assert_int_equal(d->files_reused, 2);
	/* the main file changed: every file is read */
	put(base, "main.conf", "key_dir = @DIR@/keys\ninclude @DIR@/d/*.conf\n"
	    "signature_ttl = 1d\n");
	e = reload_file(base, d, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(e->files_read, 3);
	assert_int_equal(e->files_reused, 0);
	assert_int_equal(e->keys_read, 0);	/* keys still shared */
	assert_int_equal(config_find_domain(e, "c.example")->signature_ttl, 86400);
	buf_free(&line);
	config_free(b);
	config_free(c2);
	config_free(d);
	config_free(e);
	testutil_rmtree(base);
	free(base);
}

/* config_many_keys_read_in_parallel - 300 key files (several reader threads): each parsed into its block, the one bad file reported against its block, in file order */
static void
config_many_keys_read_in_parallel(void **state)
{
	char err[8192], path[1100], *base = testutil_tmpdir();
	struct buf conf = BUF_INIT;
	struct config *c;
	const struct config_domain *d;
	int i;

	(void)state;
	assert_non_null(base);
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "%s/k%d.pem", base, i);
		assert_int_equal(testutil_write_key(path, "ED25519", 0,
		    i == 150 || i == 151 ? 0644 : 0600), 0);
		buf_printf(&conf, "domain d%d.example {\n key = s1 %s\n}\n", i,
		    path);
	}
	snprintf(path, sizeof(path), "%s/main.conf", base);
	c = load_text(buf_cstr(&conf), path, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->ndomains, 298);
	assert_int_equal(c->keys_read, 298);
	for (i = 0; i < 300; i += 37) {
		snprintf(path, sizeof(path), "d%d.example", i);
		d = config_find_domain(c, path);
		if (i == 150 || i == 151) {
			assert_null(d);
			continue;
		}
		assert_non_null(d);
		assert_non_null(d->keys[0].pkey);
		assert_int_equal(d->keys[0].type, KEY_ED25519);
	}
	/* two errors, in the order of the file */
	snprintf(path, sizeof(path), "k150.pem has mode 0644");
	assert_non_null(strstr(err, path));
	assert_true(strstr(err, path) < strstr(err, "k151.pem has mode 0644"));
	config_free(c);
	buf_free(&conf);
	testutil_rmtree(base);
	free(base);
}

static int keys_read_done;	/* keyload's done hook ran */

/* note_keys_read - keyload's done hook */
static void
note_keys_read(void *arg)
{
	(void)arg;
	__atomic_store_n(&keys_read_done, 1, __ATOMIC_RELEASE);
}

/* copy_file - write src's bytes to dst with mode 0600; 0 or -1 */
static int
copy_file(const char *src, const char *dst)
{
	char data[8192];
	size_t n;
	FILE *f;
	int rc = -1;

	if ((f = fopen(src, "r")) == NULL)
		return -1;
	n = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[n] = '\0';
	if (testutil_write_file(dst, data) == 0)
		rc = chmod(dst, 0600);
	return rc;
}

/*
 * config_copies_of_one_key_share_it - two files holding the same key
 * (a platform's key copied under two customers' directories) are both
 * read, and give one EVP_PKEY; a different key stays apart. Read before
 * serving, then after it (key_load = background: the keyload thread).
 */
static void
config_copies_of_one_key_share_it(void **state)
{
	char err[4096], path[1100], text[2048], *base = testutil_tmpdir();
	struct config_problems probs = { NULL, 0, 0 };
	const struct config_domain *a, *b, *e;
	struct config *c;
	int bg, waited;

	(void)state;
	assert_non_null(base);
	snprintf(path, sizeof(path), "%s/k1.pem", base);
	assert_int_equal(copy_file(rsa_key, path), 0);
	snprintf(path, sizeof(path), "%s/k2.pem", base);
	assert_int_equal(copy_file(rsa_key, path), 0);
	for (bg = 0; bg < 2; bg++) {
		snprintf(text, sizeof(text), "key_load = %s\n"
		    "domain a.example {\n key = s1 %s\n}\n"
		    "domain b.example {\n key = s1 %s/k1.pem\n}\n"
		    "domain c.example {\n key = s1 %s/k2.pem\n}\n"
		    "domain e.example {\n key = s1 %s\n}\n",
		    bg ? "background" : "start", rsa_key, base, base,
		    ed_key);
		snprintf(path, sizeof(path), "%s/main.conf", base);
		c = config_load_from(path, text, NULL, bg ? CONFIG_DEFER_KEYS : 0,
		    &probs, err, sizeof(err));
		if (c == NULL)
			fail_msg("%s", err);
		if (bg) {
			__atomic_store_n(&keys_read_done, 0, __ATOMIC_RELEASE);
			keyload_setup(NULL, NULL, note_keys_read, NULL);
			config_install(c);
			assert_int_equal(keyload_start(err, sizeof(err)), 0);
			keyload_wake();
			for (waited = 0; waited < 500 && !__atomic_load_n(
			    &keys_read_done, __ATOMIC_ACQUIRE); waited++)
				usleep(10000);
			keyload_stop();
			assert_true(keys_read_done);
			__atomic_store_n(&keys_read_done, 0, __ATOMIC_RELEASE);
		} else
			assert_int_equal(c->keys_read, 4);	/* a file each */
		a = config_find_domain(c, "a.example");
		b = config_find_domain(c, "b.example");
		e = config_find_domain(c, "e.example");
		assert_non_null(a->keys[0].pkey);
		assert_ptr_equal(a->keys[0].pkey, b->keys[0].pkey);
		assert_ptr_equal(a->keys[0].pkey,
		    config_find_domain(c, "c.example")->keys[0].pkey);
		assert_non_null(e->keys[0].pkey);
		assert_ptr_not_equal(a->keys[0].pkey, e->keys[0].pkey);
		if (bg)
			config_install(NULL);
		else
			config_free(c);
	}
	config_problems_free(&probs);
	testutil_rmtree(base);
	free(base);
}

/*
 * config_deferred_keys_read_after_the_start - key_load = background: the
 * start's load reads no key; a message's domain is read at once
 * (keyload_domain); a reload copies the keys not read yet as not read
 * (an unchanged included file) and shares the one read; the thread reads
 * the rest of the installed snapshot, a broken file failed, not fatal
 */
static void
config_deferred_keys_read_after_the_start(void **state)
{
	char err[4096], path[1100], text[2048], *base = testutil_tmpdir();
	struct config_source src = { 0 };
	struct config_problems probs = { NULL, 0, 0 };
	struct config *c, *c2;
	const struct config_domain *d[3];
	const struct config_domain *e;
	int i, waited;

	(void)state;
	assert_non_null(base);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/k%d.pem", base, i);
		assert_int_equal(testutil_write_key(path, "ED25519", 0,
		    i == 2 ? 0644 : 0600), 0);
		snprintf(path, sizeof(path), "%s/d%d.inc", base, i);
		snprintf(text, sizeof(text), "domain d%d.example {\n key = s1 "
		    "%s/k%d.pem\n}\n", i, base, i);
		assert_int_equal(testutil_write_file(path, text), 0);
	}
	snprintf(text, sizeof(text), "key_load = background\ninclude %s/*.inc\n",
	    base);
	snprintf(path, sizeof(path), "%s/main.conf", base);
	c = config_load_from(path, text, NULL, CONFIG_DEFER_KEYS, &probs, err,
	    sizeof(err));
	assert_non_null(c);
	assert_int_equal(probs.n, 0);	/* the bad mode is not seen yet */
	assert_int_equal(c->keys_read, 0);
	assert_int_equal(c->keys_pending, 3);
	assert_true(keyload_busy(c));
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "d%d.example", i);
		d[i] = config_find_domain(c, path);
		assert_non_null(d[i]);
		assert_int_equal(keys_load_get(&d[i]->keys[0]), KEY_LOAD_PENDING);
		assert_null(keys_select(d[i]->keys, d[i]->nkeys, KEY_ED25519,
		    time(NULL), 1, NULL, 0));
	}
	/* a message for d1: its key now, the others still pending */
	keyload_setup(NULL, NULL, note_keys_read, NULL);
	keyload_domain(c, d[1], NULL);
	assert_int_equal(keys_load_get(&d[1]->keys[0]), KEY_LOAD_DONE);
	assert_non_null(d[1]->keys[0].pkey);
	assert_non_null(keys_select(d[1]->keys, d[1]->nkeys, KEY_ED25519,
	    time(NULL), 1, NULL, 0));
	assert_int_equal(keys_load_get(&d[0]->keys[0]), KEY_LOAD_PENDING);

	/* a reload: nothing changed; d1's key shared, d0 and d2 still to read */
	src.prev = c;
	snprintf(path, sizeof(path), "%s/main.conf", base);
	keyload_lock();
	c2 = config_load_from(path, text, &src, 0, &probs, err, sizeof(err));
	keyload_unlock();
	assert_non_null(c2);
	assert_int_equal(c2->keys_read, 0);
	assert_int_equal(c2->keys_pending, 2);
	e = config_find_domain(c2, "d1.example");
	assert_non_null(e);
	assert_ptr_equal(e->keys[0].pkey, d[1]->keys[0].pkey);
	assert_int_equal(keys_load_get(&e->keys[0]), KEY_LOAD_DONE);

	/* installed: the thread reads the rest; the bad file fails alone */
	config_install(c2);
	config_free(c);
	assert_int_equal(keyload_start(err, sizeof(err)), 0);
	keyload_wake();
	for (waited = 0; waited < 500 && !__atomic_load_n(&keys_read_done,
	    __ATOMIC_ACQUIRE); waited++)
		usleep(10000);
	keyload_stop();
	assert_true(keys_read_done);
	assert_false(keyload_busy(c2));
	e = config_find_domain(c2, "d0.example");
	assert_int_equal(keys_load_get(&e->keys[0]), KEY_LOAD_DONE);
	assert_non_null(e->keys[0].pkey);
	assert_true(e->keys[0].has_ident);
	e = config_find_domain(c2, "d2.example");
	assert_int_equal(keys_load_get(&e->keys[0]), KEY_LOAD_FAILED);
	assert_null(keys_select(e->keys, e->nkeys, KEY_ED25519, time(NULL), 1,
	    NULL, 0));
	config_install(NULL);
	config_problems_free(&probs);
	testutil_rmtree(base);
	free(base);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(config_rejects_bad_files),
		cmocka_unit_test(config_empty_file_gives_defaults),
		cmocka_unit_test(config_good_file_with_blocks),
		cmocka_unit_test(config_group_readable_key_allowed_when_configured),
		cmocka_unit_test(config_relative_key_path_is_relative_to_conf),
		cmocka_unit_test(config_missing_file_names_it),
		cmocka_unit_test(config_snapshot_refcount),
		cmocka_unit_test(config_big_snapshot_freed_off_the_releasing_thread),
		cmocka_unit_test(config_dump_shows_effective_values),
		cmocka_unit_test(config_lookup_among_many_domains),
		cmocka_unit_test(config_subdomain_lookup_among_many_blocks),
		cmocka_unit_test(config_idn_names_are_loaded_as_a_labels),
		cmocka_unit_test(config_bounce_domain_used_twice_is_an_error),
		cmocka_unit_test(config_key_symlinks_decides_whether_a_linked_key_loads),
		cmocka_unit_test(config_max_connections_default_and_bounds),
		cmocka_unit_test(config_table_rows_match_their_types),
		cmocka_unit_test(config_string_copy_is_deep),
		cmocka_unit_test(config_lists_are_deep_copied_into_blocks),
		cmocka_unit_test(config_reload_keeps_running_block),
		cmocka_unit_test(config_reload_reuses_unchanged_keys),
		cmocka_unit_test(config_copies_of_one_key_share_it),
		cmocka_unit_test(config_reload_reuses_unchanged_files),
		cmocka_unit_test(config_many_keys_read_in_parallel),
		cmocka_unit_test(config_deferred_keys_read_after_the_start),
		cmocka_unit_test(config_garbage_file_stops_at_100_errors),
	};
	enum {
		NFIXED = sizeof(fixed) / sizeof(fixed[0]),
		NFILES = sizeof(files_cases) / sizeof(files_cases[0]),
	};
	struct CMUnitTest tests[NFIXED + NFILES];
	size_t i;

	memcpy(tests, fixed, sizeof(fixed));
	/* one test per files_cases row, named by the row */
	for (i = 0; i < NFILES; i++) {
		memset(&tests[NFIXED + i], 0, sizeof(tests[0]));
		tests[NFIXED + i].name = files_cases[i].name;
		tests[NFIXED + i].test_func = files_row;
		tests[NFIXED + i].initial_state = (void *)(uintptr_t)&files_cases[i];
	}
	return _cmocka_run_group_tests("config", tests, NFIXED + NFILES,
	    setup_keys, teardown_keys);
}

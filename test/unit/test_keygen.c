/*
 * test_keygen.c - authmilter-keygen: key sizes, DNS record text, files, CLI.
 *
 * The record is checked the way a verifier reads it: the zone line's
 * quoted strings are parsed back, joined, the p= value decoded with
 * OpenSSL and used to verify a signature made with the private key.
 * The CLI tests run the built binary ($top_builddir/milter/authmilter-keygen)
 * in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/buf.h"
#include "tools/keygen.h"
#include "auth/keys.h"

/* One generated key per row, made once by the group setup. */
struct test_key {
	const char *name;	/* row name for failure messages */
	enum key_type type;
	int bits;		/* requested RSA size; 256 for Ed25519 */
	EVP_PKEY *pkey;		/* filled by keys_setup */
};

static struct test_key test_keys[] = {
	{ "rsa1024", KEY_RSA, 1024, NULL },
	{ "rsa2048", KEY_RSA, 2048, NULL },
	{ "rsa3072", KEY_RSA, 3072, NULL },
	{ "rsa4096", KEY_RSA, 4096, NULL },
	{ "ed25519", KEY_ED25519, 256, NULL },
};

#define NKEYS	(sizeof(test_keys) / sizeof(test_keys[0]))

/* keys_setup - generate every row's key through keygen_generate */
static int
keys_setup(void **state)
{
	struct keygen_choice c;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < NKEYS; i++) {
		memset(&c, 0, sizeof(c));
		c.type = test_keys[i].type;
		c.bits = test_keys[i].bits;
		test_keys[i].pkey = keygen_generate(&c, err, sizeof(err));
		if (test_keys[i].pkey == NULL) {
			fprintf(stderr, "%s: %s\n", test_keys[i].name, err);
			return -1;
		}
	}
	return 0;
}

/* keys_teardown - free the generated keys */
static int
keys_teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NKEYS; i++)
		EVP_PKEY_free(test_keys[i].pkey);
	return 0;
}

/*
 * zone_parse - join the quoted strings between "(" and ")" of a zone line,
 * undoing \X and \DDD escapes; count them and note the longest (in octets).
 */
static int
zone_parse(const char *zone, struct buf *joined, size_t *nstr, size_t *longest)
{
	const char *p = strchr(zone, '(');
	size_t len;

	*nstr = *longest = 0;
	if (p == NULL)
		return -1;
	for (p++; *p != ')'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n')
			continue;
		if (*p++ != '"')
			return -1;
		for (len = 0; *p != '"'; len++) {
			if (*p == '\0')
				return -1;
			if (*p == '\\' && p[1] >= '0' && p[1] <= '9') {
				buf_putc(joined, (p[1] - '0') * 100 + (p[2] - '0') * 10
				    + (p[3] - '0'));
				p += 4;
			} else {
				if (*p == '\\')
					p++;
				buf_putc(joined, *p++);
			}
		}
		(*nstr)++;
		if (len > *longest)
			*longest = len;
	}
	return strcmp(p, ")\n") == 0 ? 0 : -1;
}

/* record_public_key - the public key named by a record's p= value */
static EVP_PKEY *
record_public_key(const char *value)
{
	const char *p = strstr(value, "; p=");
	unsigned char raw[1024];
	const unsigned char *q = raw;
	size_t b64len;
	int n;

	if (p == NULL)
		return NULL;
	p += 4;
	b64len = strlen(p);
	if (b64len == 0 || b64len % 4 != 0 || b64len / 4 * 3 > sizeof(raw))
		return NULL;
	n = EVP_DecodeBlock(raw, (const unsigned char *)p, (int)b64len);
	if (n < 0)
		return NULL;
	n -= (p[b64len - 1] == '=') + (p[b64len - 2] == '=');
	if (strstr(value, "k=ed25519;") != NULL)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw,
		    (size_t)n);
	return d2i_PUBKEY(NULL, &q, n);
}

/* record_of - the record value of a key, reassembled from its zone line */
static char *
record_of(EVP_PKEY *pkey, size_t maxstr, size_t *longest)
{
	struct buf zone = BUF_INIT, joined = BUF_INIT;
	char *value = keygen_record_value(pkey);
	size_t nstr;

	assert_non_null(value);
	keygen_zone_line("sel", "example.com", value, maxstr, &zone);
	assert_int_equal(zone_parse(buf_cstr(&zone), &joined, &nstr, longest), 0);
	assert_string_equal(buf_cstr(&joined), value);
	free(value);
	buf_free(&zone);
	return buf_steal(&joined);
}

/* zone_line_reassembles_to_key - strings join to the value; p= is the key */
static void
zone_line_reassembles_to_key(void **state)
{
	EVP_PKEY *pub;
	size_t i, longest;
	char *value;

	(void)state;
	for (i = 0; i < NKEYS; i++) {
		value = record_of(test_keys[i].pkey, 255, &longest);
		assert_true(longest <= 255);
		assert_true(longest > 0);
		assert_true(strncmp(value, test_keys[i].type == KEY_RSA
		    ? "v=DKIM1; k=rsa; p=" : "v=DKIM1; k=ed25519; p=", 18) == 0);
		pub = record_public_key(value);
		assert_non_null(pub);
		assert_int_equal(EVP_PKEY_eq(pub, test_keys[i].pkey), 1);
		EVP_PKEY_free(pub);
		free(value);
	}
}

/* sign_verify - sign msg with priv, verify with pub; EVP_DigestVerify result */
static int
sign_verify(EVP_PKEY *priv, EVP_PKEY *pub, const char *msg, const char *check)
{
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	const EVP_MD *md = EVP_PKEY_get_base_id(priv) == EVP_PKEY_ED25519
	    ? NULL : EVP_sha256();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, priv), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen,
	    (const unsigned char *)msg, strlen(msg)), 1);
	EVP_MD_CTX_free(ctx);
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub), 1);
	ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)check,
	    strlen(check));
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* record_verifies_signature - the record checks the private key's signatures */
static void
record_verifies_signature(void **state)
{
	static const char msg[] = "From: a@example.com\r\n\r\nhello\r\n";
	EVP_PKEY *pub;
	size_t i, longest;
	char *value;

	(void)state;
	for (i = 0; i < NKEYS; i++) {
		value = record_of(test_keys[i].pkey, 255, &longest);
		pub = record_public_key(value);
		assert_non_null(pub);
		assert_int_equal(sign_verify(test_keys[i].pkey, pub, msg, msg), 1);
		assert_int_not_equal(sign_verify(test_keys[i].pkey, pub, msg,
		    "From: b@example.com\r\n\r\nhello\r\n"), 1);
		EVP_PKEY_free(pub);
		free(value);
	}
}

/* record_length_matches_real_keys - keygen_choose's size table is true */
static void
record_length_matches_real_keys(void **state)
{
	size_t i;
	char *value;

	(void)state;
	for (i = 0; i < NKEYS; i++) {
		value = keygen_record_value(test_keys[i].pkey);
		assert_non_null(value);
		assert_int_equal(strlen(value), keygen_record_length(
		    test_keys[i].type, test_keys[i].bits));
		free(value);
	}
	assert_int_equal(keygen_record_length(KEY_RSA, 2048), 410);
	assert_int_equal(keygen_record_length(KEY_RSA, 1024), 234);
	assert_int_equal(keygen_record_length(KEY_RSA, 2000), 0);
}

/* zone_line_splits_at_limit - strings never exceed min(maxstr, 255) */
static void
zone_line_splits_at_limit(void **state)
{
	static const struct {
		size_t maxstr;		/* asked for */
		size_t limit;		/* longest string allowed */
	} rows[] = {
		{ 255, 255 }, { 0, 255 }, { 300, 255 }, { 200, 200 },
		{ 128, 128 }, { 64, 64 }, { 1, 1 },
	};
	EVP_PKEY *rsa4096 = test_keys[3].pkey;	/* longest record */
	size_t i, longest;
	char *value;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		value = record_of(rsa4096, rows[i].maxstr, &longest);
		assert_true(longest <= rows[i].limit);
		/* 754 octets: the limit is actually reached */
		assert_int_equal(longest, rows[i].limit);
		free(value);
	}
}

/* zone_line_layout - tags alone in the first string, p= chunks follow */
static void
zone_line_layout(void **state)
{
	static const char value[] = "v=DKIM1; k=rsa; p=ABCDEFGH";
	struct buf zone = BUF_INIT;

	(void)state;
	keygen_zone_line("s1", "mail.example.org", value, 4, &zone);
	assert_string_equal(buf_cstr(&zone),
	    "s1._domainkey.mail.example.org.\tIN\tTXT\t( \"v=DK\"\n"
	    "\t\"IM1;\"\n\t\" k=r\"\n\t\"sa; \"\n\t\"p=AB\"\n\t\"CDEF\"\n"
	    "\t\"GH\" )\n");
	buf_reset(&zone);
	keygen_zone_line("s1", "example.org", value, 255, &zone);
	assert_string_equal(buf_cstr(&zone),
	    "s1._domainkey.example.org.\tIN\tTXT\t( \"v=DKIM1; k=rsa; \"\n"
	    "\t\"p=ABCDEFGH\" )\n");
	buf_free(&zone);
}

/* zone_line_escapes_specials - quotes, backslashes, controls survive */
static void
zone_line_escapes_specials(void **state)
{
	static const char value[] = "a\"b\\c\001d; p=x";
	struct buf zone = BUF_INIT, joined = BUF_INIT;
	size_t nstr, longest;

	(void)state;
	keygen_zone_line("s", "example.com", value, 255, &zone);
	assert_non_null(strstr(buf_cstr(&zone), "\"a\\\"b\\\\c\\001d; \""));
	assert_int_equal(zone_parse(buf_cstr(&zone), &joined, &nstr, &longest), 0);
	assert_string_equal(buf_cstr(&joined), value);
	assert_int_equal(nstr, 2);
	buf_free(&zone);
	buf_free(&joined);
}

/* choose_follows_txt_max - the size picked for -t, -b and --txt-max */
static void
choose_follows_txt_max(void **state)
{
	static const struct {
		enum key_type type;
		int bits;		/* -b, 0 when not given */
		size_t txt_max;		/* --txt-max, 0 when not given */
		int rc;			/* keygen_choose result */
		int want_bits;
		int fell_back;
		const char *msg;	/* substring of the message, or NULL */
	} rows[] = {
		{ KEY_RSA, 0, 0, 0, 2048, 0, NULL },
		{ KEY_RSA, 0, 255, 0, 1024, 1,
		  "at most 255 octets; a 2048-bit record needs 410; "
		  "generated a 1024-bit key instead" },
		{ KEY_RSA, 0, 409, 0, 1024, 1, "at most 409 octets" },
		{ KEY_RSA, 0, 410, 0, 2048, 0, NULL },
		{ KEY_RSA, 0, 4096, 0, 2048, 0, NULL },
		{ KEY_RSA, 0, 233, -1, 0, 0, "even a 1024-bit RSA record needs 234" },
		{ KEY_RSA, 2048, 255, -1, 0, 0,
		  "a 2048-bit record needs 410; use -b 1024" },
		{ KEY_RSA, 4096, 255, -1, 0, 0, "a 4096-bit record needs 754" },
		{ KEY_RSA, 4096, 754, 0, 4096, 0, NULL },
		{ KEY_RSA, 3072, 0, 0, 3072, 0, NULL },
		{ KEY_RSA, 1024, 255, 0, 1024, 0, NULL },
		{ KEY_RSA, 1024, 233, -1, 0, 0, "1024-bit RSA record needs 234" },
		{ KEY_RSA, 2000, 0, -1, 0, 0, "-b 2000: RSA keys can have 1024, 2048" },
		{ KEY_RSA, 512, 0, -1, 0, 0, "-b 512" },
		{ KEY_RSA, 8192, 0, -1, 0, 0, "-b 8192" },
		{ KEY_RSA, 0, 127, -1, 0, 0, "--txt-max 127: must be between 128" },
		{ KEY_RSA, 0, 65536, -1, 0, 0, "--txt-max 65536" },
		{ KEY_ED25519, 0, 0, 0, 256, 0, NULL },
		{ KEY_ED25519, 0, 128, 0, 256, 0, NULL },
		{ KEY_ED25519, 2048, 0, -1, 0, 0, "-b applies to RSA keys only" },
	};
	struct keygen_choice c;
	char msg[512];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = keygen_choose(rows[i].type, rows[i].bits, rows[i].txt_max,
		    &c, msg, sizeof(msg));
		if (rc != rows[i].rc)
			fail_msg("row %zu: rc %d, msg \"%s\"", i, rc, msg);
		if (rows[i].msg != NULL && strstr(msg, rows[i].msg) == NULL)
			fail_msg("row %zu: \"%s\" lacks \"%s\"", i, msg, rows[i].msg);
		if (rows[i].msg == NULL)
			assert_string_equal(msg, "");
		if (rc != 0)
			continue;
		assert_int_equal(c.type, rows[i].type);
		assert_int_equal(c.bits, rows[i].want_bits);
		assert_int_equal(c.fell_back, rows[i].fell_back);
		assert_true(rows[i].txt_max == 0 || keygen_record_length(c.type,
		    c.bits) <= rows[i].txt_max);
	}
}

/* valid_name_accepts_only_ldh - names that may go into a zone file */
static void
valid_name_accepts_only_ldh(void **state)
{
	static char label63[64], label64[65], name253[254], name254[255];
	static const struct {
		const char *name;
		int ok;
	} rows[] = {
		{ "example.com", 1 }, { "sel-2024", 1 }, { "a", 1 }, { "2024", 1 },
		{ "s1.sub", 1 }, { "xn--bcher-kva.example", 1 }, { "A-B.c0m", 1 },
		{ label63, 1 }, { name253, 1 },
		{ "", 0 }, { "a b", 0 }, { "x;y", 0 }, { "-a", 0 }, { "a-", 0 },
		{ "a.-b", 0 }, { "a-.b", 0 }, { "..", 0 }, { ".", 0 }, { "a..b", 0 },
		{ ".a", 0 }, { "a.", 0 }, { "a_b", 0 }, { "a\"b", 0 }, { "a\nb", 0 },
		{ "a(b", 0 }, { "b\xc3\xbc" "cher", 0 }, { "a/b", 0 }, { "a\\b", 0 },
		{ label64, 0 }, { name254, 0 },
	};
	size_t i;

	(void)state;
	memset(label63, 'a', 63);
	memset(label64, 'b', 64);
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	memset(name253, 'c', 253);
	name253[63] = name253[127] = name253[191] = '.';
	memcpy(name254, name253, 253);
	name254[253] = 'd';
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (keygen_valid_name(rows[i].name) != rows[i].ok)
			fail_msg("row %zu \"%s\": expected %d", i, rows[i].name,
			    rows[i].ok);
	assert_int_equal(keygen_valid_name(NULL), 0);
}

/* check_names_names_the_culprit - selector, domain and record length */
static void
check_names_names_the_culprit(void **state)
{
	char err[512], domain[254];

	(void)state;
	assert_int_equal(keygen_check_names("sel", "example.com", err,
	    sizeof(err)), 0);
	assert_int_equal(keygen_check_names("x;y", "example.com", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid selector \"x;y\""));
	assert_int_equal(keygen_check_names("sel", "a b", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid domain \"a b\""));
	/* a valid 245-octet domain: 258 octets once "s._domainkey." is added */
	memset(domain, 'e', 245);
	domain[60] = domain[120] = domain[180] = domain[230] = '.';
	domain[245] = '\0';
	assert_int_equal(keygen_valid_name(domain), 1);
	assert_int_equal(keygen_check_names("s", domain, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at most 253"));
}

/* private_pem_is_pkcs8 - the PEM is "PRIVATE KEY" and reloads to the key */
static void
private_pem_is_pkcs8(void **state)
{
	EVP_PKEY *back;
	size_t i;
	char *pem;
	BIO *bio;

	(void)state;
	for (i = 0; i < NKEYS; i++) {
		pem = keygen_private_pem(test_keys[i].pkey);
		assert_non_null(pem);
		assert_true(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
		bio = BIO_new_mem_buf(pem, -1);
		back = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		assert_non_null(back);
		assert_int_equal(EVP_PKEY_eq(back, test_keys[i].pkey), 1);
		EVP_PKEY_free(back);
		BIO_free(bio);
		free(pem);
	}
}

/* rm_entry - nftw callback removing one entry */
static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* tmpdir_setup - a fresh temporary directory per test, as *state */
static int
tmpdir_setup(void **state)
{
	char *dir = strdup("/tmp/test_keygen.XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL)
		return -1;
	*state = dir;
	return 0;
}

/* tmpdir_teardown - remove the temporary directory and its contents */
static int
tmpdir_teardown(void **state)
{
	int rc = nftw(*state, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

	free(*state);
	return rc;
}

/* path_in - DIR/NAME into b */
static const char *
path_in(struct buf *b, const char *dir, const char *name)
{
	buf_reset(b);
	buf_printf(b, "%s/%s", dir, name);
	return buf_cstr(b);
}

/* file_text - a whole small file as a malloc'd string, or NULL */
static char *
file_text(const char *path)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	return buf_steal(&b);
}

/* save_writes_key_0600_and_record - both files, right modes and contents */
static void
save_writes_key_0600_and_record(void **state)
{
	const char *dir = *state;
	struct buf keypath = BUF_INIT, p = BUF_INIT;
	struct stat st;
	char err[512], *text;
	mode_t old = umask(0);

	/* under umask 0 a loose open() mode would show */
	assert_int_equal(keygen_save(dir, "s1", "KEY\n", "ZONE\n", &keypath, err,
	    sizeof(err)), 0);
	umask(old);
	assert_string_equal(buf_cstr(&keypath), path_in(&p, dir, "s1.pem"));
	assert_int_equal(lstat(buf_cstr(&keypath), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	text = file_text(buf_cstr(&keypath));
	assert_string_equal(text, "KEY\n");
	free(text);
	text = file_text(path_in(&p, dir, "s1.txt"));
	assert_string_equal(text, "ZONE\n");
	free(text);
	buf_free(&keypath);
	buf_free(&p);
}

/* save_never_overwrites - an existing key, record or symlink stops it */
static void
save_never_overwrites(void **state)
{
	const char *dir = *state;
	struct buf keypath = BUF_INIT, p = BUF_INIT, q = BUF_INIT;
	struct stat st;
	char err[512], *text;

	/* an existing key is left alone */
	assert_int_equal(keygen_save(dir, "s1", "OLD\n", "Z\n", &keypath, err,
	    sizeof(err)), 0);
	assert_int_equal(keygen_save(dir, "s1", "NEW\n", "Z\n", &keypath, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "s1.pem already exists"));
	text = file_text(path_in(&p, dir, "s1.pem"));
	assert_string_equal(text, "OLD\n");
	free(text);
	/* a dangling symlink in the key's place is not followed */
	assert_int_equal(symlink(path_in(&q, dir, "target"),
	    path_in(&p, dir, "s2.pem")), 0);
	assert_int_equal(keygen_save(dir, "s2", "K\n", "Z\n", &keypath, err,
	    sizeof(err)), -1);
	assert_int_equal(lstat(path_in(&p, dir, "target"), &st), -1);
	assert_int_equal(errno, ENOENT);
	/* an existing record: the key is not left behind either */
	assert_int_equal(mkdir(path_in(&p, dir, "s3.txt"), 0700), 0);
	assert_int_equal(keygen_save(dir, "s3", "K\n", "Z\n", &keypath, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "s3.txt already exists"));
	assert_int_equal(lstat(path_in(&p, dir, "s3.pem"), &st), -1);
	buf_free(&keypath);
	buf_free(&p);
	buf_free(&q);
}

/* resolve_dir_refuses_unusable - missing dirs, files, white space */
static void
resolve_dir_refuses_unusable(void **state)
{
	const char *dir = *state;
	struct buf abs = BUF_INIT, p = BUF_INIT;
	char err[512];
	int fd;

	assert_int_equal(keygen_resolve_dir(dir, &abs, err, sizeof(err)), 0);
	assert_true(buf_cstr(&abs)[0] == '/');
	assert_int_equal(keygen_resolve_dir(path_in(&p, dir, "none"), &abs, err,
	    sizeof(err)), -1);
	fd = open(path_in(&p, dir, "file"), O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(keygen_resolve_dir(buf_cstr(&p), &abs, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a directory"));
	assert_int_equal(mkdir(path_in(&p, dir, "a b"), 0700), 0);
	assert_int_equal(keygen_resolve_dir(buf_cstr(&p), &abs, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "white space"));
	buf_free(&abs);
	buf_free(&p);
}

/* cli_run - run authmilter-keygen with args in dir; exit status, output */
static int
cli_run(const char *dir, const char *const *args, char **out, char **errout)
{
	const char *top = getenv("top_builddir");
	struct buf prog = BUF_INIT, o = BUF_INIT, e = BUF_INIT;
	char *argv[16];
	size_t n = 0;
	pid_t pid;
	int status;

	buf_printf(&prog, "%s/milter/authmilter-keygen", top ? top : ".");
	argv[n++] = (char *)buf_cstr(&prog);
	argv[n++] = (char *)"-D";
	argv[n++] = (char *)dir;
	while (*args != NULL && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	path_in(&o, dir, "stdout");
	path_in(&e, dir, "stderr");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (freopen(buf_cstr(&o), "w", stdout) == NULL
		    || freopen(buf_cstr(&e), "w", stderr) == NULL)
			_exit(99);
		execv(argv[0], argv);
		_exit(98);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_true(WEXITSTATUS(status) < 98);
	*out = file_text(buf_cstr(&o));
	*errout = file_text(buf_cstr(&e));
	unlink(buf_cstr(&o));
	unlink(buf_cstr(&e));
	buf_free(&prog);
	buf_free(&o);
	buf_free(&e);
	return WEXITSTATUS(status);
}

/* cli_exit_status_and_messages - command lines and what they print */
static void
cli_exit_status_and_messages(void **state)
{
	static const struct {
		const char *args[10];	/* NULL-terminated */
		int status;
		const char *out;	/* substring of stdout, or NULL */
		const char *err;	/* substring of stderr, or NULL */
	} rows[] = {
		{ { "-d", "example.com", "-s", "e1", "-t", "ed25519" }, 0,
		  "e1._domainkey.example.com.\tIN\tTXT\t( \"v=DKIM1; k=ed25519; \"",
		  "Ed25519" },
		{ { "-d", "example.com", "-s", "r1", "-b", "1024" }, 0,
		  "\nv=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ", NULL },
		{ { "-d", "example.com", "-s", "r2", "--txt-max", "255" }, 0,
		  "one string of 234 octets", "at most 255 octets; a 2048-bit "
		  "record needs 410; generated a 1024-bit key instead" },
		{ { "-d", "example.com", "-s", "r3", "-b", "2048", "--txt-max",
		    "255" }, 1, NULL, "a 2048-bit record needs 410" },
		{ { "-d", "a b", "-s", "x" }, 1, NULL, "invalid domain \"a b\"" },
		{ { "-d", "example.com", "-s", "-a" }, 1, NULL, "invalid selector" },
		{ { "-d", "example.com", "-s", "x", "-b", "2000" }, 1, NULL,
		  "-b 2000" },
		{ { "-d", "example.com", "-s", "x", "-b", "lots" }, 2, NULL,
		  "-b: not a positive number" },
		{ { "-d", "example.com", "-s", "x", "-b", "0" }, 2, NULL,
		  "-b: not a positive number" },
		{ { "-d", "example.com", "-s", "x", "--txt-max", "0" }, 2, NULL,
		  "--txt-max: not a positive number" },
		{ { "-d", "example.com", "-s", "x", "--txt-max", "100" }, 1, NULL,
		  "--txt-max 100: must be between 128 and 65535" },
		{ { "-d", "example.com", "-s", "x", "-D", "/dev/null/dir" }, 1,
		  NULL, "key directory /dev/null: not a directory" },
		{ { "-d", "example.com", "-s", "x", "-t", "dsa" }, 2, NULL,
		  "expected rsa or ed25519" },
		{ { "-d", "example.com" }, 2, NULL, "-s SELECTOR" },
		{ { "-d", "example.com", "-s", "x", "-q" }, 2, NULL, "Try '" },
		{ { "-d", "example.com", "-s", "x", "extra" }, 2, NULL,
		  "unexpected argument" },
		{ { "-h" }, 0, "usage:", NULL },
		{ { "-d", "example.com", "-s", "j1", "-t", "ed25519", "--json" }, 0,
		  "{\"domain\":\"example.com\",\"selector\":\"j1\",\"type\":"
		  "\"ed25519\",\"bits\":256,", NULL },
		{ { "-d", "example.com", "--domains", "x", "-s", "x" }, 2, NULL,
		  "exclude each other" },
		{ { "-d", "example.com", "-s", "x", "--cname-target", "a..b" }, 1,
		  NULL, "--cname-target a..b" },
	};
	const char *dir = *state;
	char *out, *errout;
	size_t i;
	int st;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		st = cli_run(dir, rows[i].args, &out, &errout);
		if (st != rows[i].status)
			fail_msg("row %zu: exit %d, stderr \"%s\"", i, st, errout);
		if (rows[i].out != NULL && strstr(out, rows[i].out) == NULL)
			fail_msg("row %zu: stdout lacks \"%s\":\n%s", i, rows[i].out,
			    out);
		if (rows[i].err != NULL && strstr(errout, rows[i].err) == NULL)
			fail_msg("row %zu: stderr lacks \"%s\":\n%s", i, rows[i].err,
			    errout);
		if (st != 0)
			assert_string_equal(out, "");
		free(out);
		free(errout);
	}
}

/* cli_writes_key_once - key mode 0600, record file, conf line, no overwrite */
static void
cli_writes_key_once(void **state)
{
	static const char *const args[] = { "-d", "example.com", "-s", "sel", NULL };
	const char *dir = *state;
	struct buf p = BUF_INIT, conf = BUF_INIT, joined = BUF_INIT;
	char *out, *errout, *key, *zone, *real = realpath(dir, NULL);
	size_t nstr, longest;
	struct stat st;
	EVP_PKEY *priv, *pub;
	BIO *bio;

	assert_int_equal(cli_run(dir, args, &out, &errout), 0);
	assert_int_equal(lstat(path_in(&p, dir, "sel.pem"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	buf_printf(&conf, "\nkey = sel %s/sel.pem\n", real);
	assert_non_null(strstr(out, buf_cstr(&conf)));
	/* the .txt record holds the key in the .pem */
	zone = file_text(path_in(&p, dir, "sel.txt"));
	assert_non_null(zone);
	assert_non_null(strstr(out, zone));
	assert_int_equal(zone_parse(zone, &joined, &nstr, &longest), 0);
	assert_true(longest <= 255);
	assert_int_equal(nstr, 3);
	key = file_text(path_in(&p, dir, "sel.pem"));
	bio = BIO_new_mem_buf(key, -1);
	priv = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	pub = record_public_key(buf_cstr(&joined));
	assert_non_null(priv);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_get_bits(priv), 2048);
	assert_int_equal(EVP_PKEY_eq(priv, pub), 1);
	free(out);
	free(errout);
	/* a second run refuses and leaves the key as it was */
	assert_int_equal(cli_run(dir, args, &out, &errout), 1);
	assert_non_null(strstr(errout, "sel.pem already exists; refusing to "
	    "overwrite it"));
	free(zone);
	zone = file_text(path_in(&p, dir, "sel.pem"));
	assert_string_equal(zone, key);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	BIO_free(bio);
	free(key);
	free(zone);
	free(out);
	free(errout);
	free(real);
	buf_free(&p);
	buf_free(&conf);
	buf_free(&joined);
}

/* cname_target_and_line - SELECTOR.DOMAIN.ZONE, checked; the CNAME and TXT lines */
static void
cname_target_and_line(void **state)
{
	static const struct {
		const char *sel, *dom, *zone, *want;	/* want NULL: refused */
	} rows[] = {
		{ "s1", "customer.example", "dkim.platform.example",
		  "s1.customer.example.dkim.platform.example" },
		{ "s1", "customer.example", "dkim.platform.example.",
		  "s1.customer.example.dkim.platform.example" },
		{ "s1", "customer.example", "", NULL },
		{ "s1", "customer.example", "bad..zone", NULL },
		{ "s1", "customer.example", "under_score.example", NULL },
	};
	struct buf t = BUF_INIT, line = BUF_INIT, zone = BUF_INIT;
	char err[256], longzone[260];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		if (rows[i].want != NULL) {
			assert_int_equal(keygen_cname_target(rows[i].sel, rows[i].dom,
			    rows[i].zone, &t, err, sizeof(err)), 0);
			assert_string_equal(buf_cstr(&t), rows[i].want);
		} else {
			assert_int_equal(keygen_cname_target(rows[i].sel, rows[i].dom,
			    rows[i].zone, &t, err, sizeof(err)), -1);
			assert_non_null(strstr(err, "--cname-target"));
		}
	}
	/* a zone that makes the name longer than 253 octets */
	memset(longzone, 'a', sizeof(longzone));
	for (i = 63; i < 250; i += 64)
		longzone[i] = '.';
	longzone[250] = '\0';
	assert_int_equal(keygen_cname_target("s1", "customer.example", longzone,
	    &t, err, sizeof(err)), -1);
	assert_int_equal(keygen_cname_target("s1", "customer.example",
	    "dkim.platform.example", &t, err, sizeof(err)), 0);
	keygen_cname_line("s1", "customer.example", buf_cstr(&t), &line);
	assert_string_equal(buf_cstr(&line), "s1._domainkey.customer.example.\t"
	    "IN\tCNAME\ts1.customer.example.dkim.platform.example.\n");
	keygen_zone_record(buf_cstr(&t), "v=DKIM1; k=rsa; p=AB", 255, &zone);
	assert_string_equal(buf_cstr(&zone), "s1.customer.example.dkim.platform."
	    "example.\tIN\tTXT\t( \"v=DKIM1; k=rsa; \"\n\t\"p=AB\" )\n");
	buf_free(&t);
	buf_free(&line);
	buf_free(&zone);
}

/* make_dir_creates_0700 - missing parents made 0700, existing kept, a file refused */
static void
make_dir_creates_0700(void **state)
{
	const char *dir = *state;
	struct buf p = BUF_INIT, q = BUF_INIT;
	struct stat st;
	char err[256];
	int fd;

	assert_int_equal(chmod(dir, 0755), 0);
	path_in(&p, dir, "a/b/c");
	assert_int_equal(keygen_make_dir(buf_cstr(&p), err, sizeof(err)), 0);
	assert_int_equal(stat(buf_cstr(&p), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path_in(&q, dir, "a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);	/* existing: untouched */
	assert_int_equal(keygen_make_dir(buf_cstr(&p), err, sizeof(err)), 0);
	fd = open(path_in(&q, dir, "file"), O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	path_in(&q, dir, "file/sub");
	assert_int_equal(keygen_make_dir(buf_cstr(&q), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a directory"));
	assert_int_equal(keygen_make_dir("", err, sizeof(err)), -1);
	buf_free(&p);
	buf_free(&q);
}

/* cli_batch_json_cname - --domains with --json and --cname-target: key_dir layout, one document */
static void
cli_batch_json_cname(void **state)
{
	const char *dir = *state;
	struct buf list = BUF_INIT, p = BUF_INIT;
	const char *args[] = { "--domains", NULL, "-s", "s1", "-t", "ed25519",
	    "--json", "--cname-target", "dkim.platform.example", NULL };
	static const char head[] = "s1._domainkey.two.example.\tIN\tCNAME\t"
	    "s1.two.example.dkim.platform.example.\ns1.two.example.dkim."
	    "platform.example.\tIN\tTXT\t( \"v=DKIM1; k=ed25519; \"";
	char *out, *errout, *zone;
	struct stat st;
	FILE *fp;

	path_in(&list, dir, "list");
	fp = fopen(buf_cstr(&list), "w");
	assert_non_null(fp);
	fputs("one.example\n# a comment\n\nbad..name\ntwo.example  # two\n", fp);
	fclose(fp);
	args[1] = buf_cstr(&list);
	assert_int_equal(cli_run(dir, args, &out, &errout), 1);	/* bad..name */
	assert_non_null(strstr(errout, "bad..name: invalid domain"));
	assert_int_equal(stat(path_in(&p, dir, "one.example/s1.pem"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(path_in(&p, dir, "one.example"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path_in(&p, dir, "two.example/s1.pem"), &st), 0);
	assert_int_not_equal(stat(path_in(&p, dir, "bad..name"), &st), 0);
	assert_true(strncmp(out, "{\"keys\":[{\"domain\":\"one.example\"", 32) == 0);
	assert_non_null(strstr(out, "\"conf_line\":\"key = s1\""));
	assert_non_null(strstr(out, "\"cname\":{\"name\":\"s1._domainkey.one."
	    "example.\",\"target\":\"s1.one.example.dkim.platform.example.\""));
	assert_non_null(strstr(out, "\"errors\":[{\"domain\":\"bad..name\""));
	assert_non_null(strstr(out, "\"failed\":1}\n"));
	/* the .txt file: the CNAME for the customer, the TXT at the target */
	zone = file_text(path_in(&p, dir, "two.example/s1.txt"));
	assert_non_null(zone);
	assert_true(strncmp(zone, head, strlen(head)) == 0);
	free(zone);
	free(out);
	free(errout);
	buf_free(&list);
	buf_free(&p);
}

/* main - run the keygen tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zone_line_reassembles_to_key),
		cmocka_unit_test(record_verifies_signature),
		cmocka_unit_test(record_length_matches_real_keys),
		cmocka_unit_test(zone_line_splits_at_limit),
		cmocka_unit_test(private_pem_is_pkcs8),
		cmocka_unit_test(zone_line_layout),
		cmocka_unit_test(zone_line_escapes_specials),
		cmocka_unit_test(choose_follows_txt_max),
		cmocka_unit_test(valid_name_accepts_only_ldh),
		cmocka_unit_test(check_names_names_the_culprit),
		cmocka_unit_test_setup_teardown(save_writes_key_0600_and_record,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(save_never_overwrites,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(resolve_dir_refuses_unusable,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(cli_exit_status_and_messages,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(cli_writes_key_once,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(cname_target_and_line),
		cmocka_unit_test_setup_teardown(make_dir_creates_0700,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(cli_batch_json_cname,
		    tmpdir_setup, tmpdir_teardown),
	};

	/* keys_setup generates the test_keys every test may use */
	return cmocka_run_group_tests_name("keygen", tests, keys_setup,
	    keys_teardown);
}

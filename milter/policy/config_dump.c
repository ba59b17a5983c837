/*
 * config_dump.c - print a snapshot (authmilter -n), and the sample conf and
 * man page generated from the option table.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "policy/config.h"
#include "policy/config_table.h"
#include "base/log.h"
#include "auth/sign.h"

/* config_format_string - a string field ("" when unset) */
void
config_format_string(const struct opt_def *o, const void *field,
    struct buf *out)
{
	(void)o;
	buf_puts(out, *(char *const *)field ? *(char *const *)field : "");
}

/* config_format_int - a decimal number */
void
config_format_int(const struct opt_def *o, const void *field, struct buf *out)
{
	(void)o;
	buf_printf(out, "%d", *(const int *)field);
}

/* config_format_mode - octal permission bits */
void
config_format_mode(const struct opt_def *o, const void *field, struct buf *out)
{
	(void)o;
	buf_printf(out, "0%03o", (unsigned)*(const int *)field);
}

/* config_format_duration - seconds, with the s suffix */
void
config_format_duration(const struct opt_def *o, const void *field,
    struct buf *out)
{
	(void)o;
	buf_printf(out, "%lds", *(const long *)field);
}

/* config_format_bool - yes or no */
void
config_format_bool(const struct opt_def *o, const void *field, struct buf *out)
{
	(void)o;
	buf_puts(out, *(const int *)field ? "yes" : "no");
}

/* config_format_enum - the name of the stored choice */
void
config_format_enum(const struct opt_def *o, const void *field, struct buf *out)
{
	buf_puts(out, o->choices[*(const int *)field]);
}

/* config_format_words - "a, b, c" */
void
config_format_words(const struct opt_def *o, const void *field,
    struct buf *out)
{
	const struct config_words *w = field;
	size_t i;

	(void)o;
	for (i = 0; i < w->n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", w->v[i]);
}

/* config_format_cidrs - "127.0.0.0/8, ::1/128" */
void
config_format_cidrs(const struct opt_def *o, const void *field,
    struct buf *out)
{
	char tmp[1024];

	(void)o;
	cidr_list_format(field, tmp, sizeof(tmp));
	buf_puts(out, tmp);
}

/* config_format_canon - "header/body" */
void
config_format_canon(const struct opt_def *o, const void *field,
    struct buf *out)
{
	(void)o;
	buf_printf(out, "%s/%s", sign_canon_name(((const int *)field)[0]),
	    sign_canon_name(((const int *)field)[1]));
}

/* config_format_level - a syslog level name ("?" if unknown) */
void
config_format_level(const struct opt_def *o, const void *field,
    struct buf *out)
{
	const char *name = log_level_name(*(const int *)field);

	(void)o;
	buf_puts(out, name != NULL ? name : "?");
}

/* config_format_facility - a syslog facility name ("?" if unknown) */
void
config_format_facility(const struct opt_def *o, const void *field,
    struct buf *out)
{
	const char *name = log_facility_name(*(const int *)field);

	(void)o;
	buf_puts(out, name != NULL ? name : "?");
}

/* config_format - an option's value in conf syntax */
static void
config_format(const struct opt_def *o, const char *base, struct buf *out)
{
	if (config_types[o->type].format != NULL)
		config_types[o->type].format(o, base + o->offset, out);
}

/* config_dump_time - a key time as YYYY-MM-DDTHH:MMZ */
static void
config_dump_time(const char *name, time_t t, FILE *fp)
{
	struct tm tm;
	char text[32];

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		return;
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%MZ", &tm);
	fprintf(fp, " %s=%s", name, text);
}

/* config_dump_key - one key line with what is known about it */
static void
config_dump_key(const struct key *k, FILE *fp)
{
	fprintf(fp, "    key = %s %s", k->selector, k->path);
	config_dump_time("not_before", k->not_before, fp);
	config_dump_time("not_after", k->not_after, fp);
	fprintf(fp, "    # %s, %d bits, DNS record %s\n", keys_type_name(k->type),
	    k->bits, keys_pub_name(keys_pub_get(k)));
}

/* config_dump_domain - one block as config_dump prints it */
void
config_dump_domain(const struct config_domain *d, FILE *fp)
{
	const struct opt_def *o;
	struct buf v = BUF_INIT;
	size_t j;

	fprintf(fp, "domain %s {\n", d->name);
	for (j = 0; j < d->nkeys; j++)
		config_dump_key(&d->keys[j], fp);
	for (j = 0; j < config_noptions; j++) {
		o = &config_options[j];
		if (!(o->scope & OPT_BLOCK) || o->type == OPT_KEY)
			continue;
		buf_reset(&v);
		config_format(o, (const char *)d, &v);
		fprintf(fp, "    %-22s = %s%s\n", o->name, buf_cstr(&v),
		    CONFIG_SET_HAS(d->set, j) ? "" : "    # inherited");
	}
	fprintf(fp, "}\n");
	buf_free(&v);
}

/* config_dump - print the effective configuration */
void
config_dump(const struct config *c, FILE *fp)
{
	const struct opt_def *o;
	struct buf v = BUF_INIT;
	size_t i;

	fprintf(fp, "# effective configuration of %s\n", c->path);
	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if (!(o->scope & OPT_GLOBAL))
			continue;
		buf_reset(&v);
		config_format(o, (o->scope & OPT_BLOCK) ?
		    (const char *)&c->defaults : (const char *)c, &v);
		fprintf(fp, "%-26s = %s\n", o->name, buf_cstr(&v));
	}
	for (i = 0; i < c->ndomains; i++) {
		fputc('\n', fp);
		config_dump_domain(&c->domains[i], fp);
	}
	for (i = 0; i < c->failed.n; i++)
		fprintf(fp, "\n# domain %s: left out for errors\n", c->failed.v[i]);
	buf_free(&v);
}

/* config_summary - domains loaded and failed, keys by publication state */
void
config_summary(const struct config *c, struct buf *out)
{
	size_t count[KEY_PUB_UNKNOWN + 1] = { 0 }, i, j, nkeys = 0;
	enum key_pub st;

	for (i = 0; i < c->ndomains; i++)
		for (j = 0; j < c->domains[i].nkeys; j++, nkeys++) {
			st = keys_pub_get(&c->domains[i].keys[j]);
			if ((unsigned)st <= KEY_PUB_UNKNOWN)
				count[st]++;
		}
	buf_printf(out, "%zu domains loaded, %zu failed", c->ndomains,
	    c->failed.n);
	if (c->kept.n > 0)
		buf_printf(out, " (%zu kept running)", c->kept.n);
	buf_printf(out, "; %zu keys (%zu read, %zu reused", nkeys, c->keys_read,
	    c->keys_reused);
	if (c->keys_pending > 0)
		buf_printf(out, ", %zu to read in the background",
		    c->keys_pending);
	buf_printf(out, ")");
	for (i = 0, j = 0; i <= KEY_PUB_UNKNOWN; i++)
		if (count[i] > 0)
			buf_printf(out, "%s%zu %s", j++ ? ", " : ": ", count[i],
			    keys_pub_name((enum key_pub)i));
	if (c->files.n > 1)
		buf_printf(out, "; included files: %zu read, %zu unchanged",
		    c->files_read, c->files_reused);
}

/* config_changes_count - one name's blocks in the new and the old snapshot */
static void
config_changes_count(const struct config_domain *dn,
    const struct config_domain *dold, void *arg)
{
	size_t *n = arg;

	if (dold == NULL)
		n[0]++;
	else if (dn == NULL)
		n[1]++;
}

/* config_changes - blocks of c that old lacks (added), and of old that c lacks (removed) */
void
config_changes(const struct config *c, const struct config *old,
    size_t *added, size_t *removed)
{
	size_t n[2] = { 0, 0 };

	config_pair_blocks(c, old, config_changes_count, n);
	*added = n[0];
	*removed = n[1];
}

/* config_type_name - short description of a value syntax */
static const char *
config_type_name(const struct opt_def *o)
{
	return config_types[o->type].name;
}

/* config_where - where an option may appear */
static const char *
config_where(const struct opt_def *o)
{
	if ((o->scope & OPT_GLOBAL) && (o->scope & OPT_BLOCK))
		return "global default, overridable per domain";
	return (o->scope & OPT_BLOCK) ? "domain blocks only" : "global";
}

/* config_option_named - the table row of an option, or NULL */
static const struct opt_def *
config_option_named(const char *name)
{
	size_t i;

	for (i = 0; i < config_noptions; i++)
		if (strcmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

/* config_print_sample - annotated sample conf */
void
config_print_sample(FILE *fp)
{
	const struct opt_def *o;
	size_t i;

	fputs("# authmilter.conf - sample configuration (generated from the "
	    "option table;\n# see authmilter.conf(5)). Lines starting with "
	    "\"#name =\" show defaults.\n", fp);
	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		if (!(o->scope & OPT_GLOBAL))
			continue;
		fprintf(fp, "\n# %s\n# (%s; %s)\n#%s = %s\n", o->doc,
		    config_type_name(o), config_where(o), o->name,
		    o->def ? o->def : "");
	}
	fputs("\n# One block per signing domain. Keys are listed in preference "
	    "order;\n# create them with authmilter-keygen(1).\n"
	    "#domain example.com {\n", fp);
	for (i = 0; i < config_nblock_example; i++) {
		o = config_option_named(config_block_example[i].name);
		if (o != NULL && (o->scope & OPT_BLOCK))
			fprintf(fp, "#    # %s\n#    %s = %s\n", o->doc, o->name,
			    config_block_example[i].value);
	}
	fputs("#}\n", fp);
	fputs("\n# A platform with many customer domains keeps one file per "
	    "customer in\n# domains.d/ and the keys as key_dir/DOMAIN/SELECTOR.pem "
	    "(authmilter.conf(5),\n# ESP LAYOUT); each file holds domain blocks "
	    "only, such as\n#     domain customer.example {\n#         key = "
	    "s2026a\n#         signers = *@%d\n#     }\n"
	    "#include /etc/authmilter/domains.d/*.conf\n", fp);
}

/* config_man_escape - roff-safe text (backslashes and leading dots) */
static void
config_man_escape(FILE *fp, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", fp);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", fp);
		else if (*s == '-')
			fputs("\\-", fp);
		else
			fputc(*s, fp);
	}
}

/* The hand-written sections of authmilter.conf(5) after OPTIONS. */
static const char config_man_files[] =
    ".SH INCLUDED FILES\n"
    "A line \\fBinclude\\fR \\fIpattern\\fR at the top level of the main "
    "file reads the files the pattern matches, in byte order of their "
    "names, where the line stands. The pattern is a shell wildcard "
    "(\\fB*\\fR, \\fB?\\fR, \\fB[...]\\fR) in its last component only, "
    "relative to the main file's directory unless it starts with "
    "\\fB/\\fR; names starting with a dot are not matched. No match is "
    "not an error (a fresh install's empty directory), but a missing "
    "directory is, and so is a pattern without wildcards that names no "
    "file: both refuse the start.\n"
    ".PP\n"
    "An included file holds \\fBdomain\\fR blocks and comments only: a "
    "global option, a stray \\fB}\\fR or an \\fBinclude\\fR there is an "
    "error of that file (includes do not nest). A block ends in the file "
    "it starts in. Included files name key files, so like the main file "
    "they and every directory above them must be owned by root and "
    "writable by nobody else.\n"
    ".SH KEY FILES\n"
    "\\fBkey =\\fR \\fIselector path\\fR names the key file; a relative "
    "path is taken from the directory of the file the line is in. "
    "\\fBkey =\\fR \\fIselector\\fR alone names "
    "\\fIkey_dir\\fR\\fB/\\fR\\fIdomain\\fR\\fB/\\fR\\fIselector\\fR\\fB.pem\\fR, "
    "where \\fIdomain\\fR is the block's name in lower case and a relative "
    "\\fBkey_dir\\fR is taken from the main file's directory. Either way "
    "the file must have mode 0600 (0640 with allow_group_readable_keys) "
    "and lie in directories only root can change.\n"
    ".SH ESP LAYOUT\n"
    "A platform signing for many customer domains keeps one file per "
    "customer and one directory of keys per domain:\n"
    ".PP\n.nf\n"
    "/etc/authmilter/authmilter.conf          global options, the platform's block\n"
    "/etc/authmilter/domains.d/CUSTOMER.conf  that customer's domain blocks\n"
    "/etc/authmilter/keys/DOMAIN/SELECTOR.pem  its keys (authmilter\\-keygen \\-D)\n"
    ".fi\n"
    ".PP\n"
    "The main file ends with\n"
    ".PP\n.nf\n"
    "key_dir = /etc/authmilter/keys\n"
    "include /etc/authmilter/domains.d/*.conf\n"
    ".fi\n"
    ".PP\n"
    "and domains.d/customer.example.conf holds\n"
    ".PP\n.nf\n"
    "domain customer.example {\n"
    "    key = s2026a\n"
    "    signers = *@%d\n"
    "}\n"
    ".fi\n"
    ".PP\n"
    "To add a customer: make the key with \\fBauthmilter\\-keygen \\-d "
    "customer.example \\-s s2026a \\-D /etc/authmilter/keys/customer.example\\fR, "
    "publish its record, write the file under a name that does not match "
    "(a leading dot) and rename it into place, so that a reload never "
    "reads half a file, then reload (SIGHUP). A customer's broken file or "
    "key is that customer's problem: a new domain is left out, and a "
    "domain already signed keeps its running version (blocks, keys and "
    "their states) until its files are fixed; \\fBauthmilter \\-q\\fR "
    "names every error.\n"
    ".SH RELOAD\n"
    "SIGHUP reads the main file again, and every included file and key "
    "file that changed: a file is known by its device, inode, size and "
    "modification and change times (one stat each). When the main file's "
    "text is the same as the running configuration's, an included file "
    "whose identity is unchanged and which had no error is not read: its "
    "blocks are taken from the running configuration. A key file whose "
    "identity the running configuration holds is shared with it, as is a "
    "file several blocks name. Any change to the main file reads every "
    "included file again (keys are still shared). Keys keep "
    "their known DNS states; only new and changed keys are looked up at "
    "once. The resolver and its cache are kept unless dns_servers, "
    "dns_timeout, trust_anchor_file, authserv_id, max_connections, "
    "key_check_concurrency or an SPF, DKIM or DMARC "
    "engine option changed. The log's summary line says how many keys "
    "and included files were read and how many reused, and how many failed "
    "blocks serve on in their running version. An error in the global part of the main file "
    "refuses the whole reload: the running configuration stays.\n";
/* config_man_domains - the man page's section on domain blocks and key dates */
static void
config_man_domains(FILE *fp)
{
	fputs(".SH KEYS AND DOMAINS\n"
	    "A message from a trusted client is signed by the block of its From "
	    "domain (the envelope sender's with \\fBsign_from = envelope\\fR). "
	    "A domain without a block of its own is signed by the closest parent "
	    "block with \\fBsubdomains = yes\\fR: news.customer.example by "
	    "customer.example's keys, with d=customer.example (aligned under "
	    "relaxed DMARC). The most specific block wins.\n"
	    ".PP\nWith \\fBplatform_domain\\fR set, the platform's block signs "
	    "every such message too, whether or not its From domain has a block; "
	    "a block with \\fBplatform_signature = no\\fR opts its mail out "
	    "(the global value decides for domains without a block).\n"
	    ".PP\nDomain names may be written in U-labels (\\fBdomain "
	    "b\\[:u]cher.example\\fR): blocks, bounce domains and the "
	    "platform domain are kept in A-labels (xn--bcher-kva.example, the "
	    "d= of RFC 8616), and a From domain matches its block in either "
	    "form. Two blocks naming one domain in the two forms are an error.\n"
	    ".PP\nA \\fIDATE\\fR (a key's \\fBnot_before\\fR and "
	    "\\fBnot_after\\fR) is in UTC: \\fIYYYY\\fR-\\fIMM\\fR-\\fIDD\\fR "
	    "(midnight) or \\fIYYYY\\fR-\\fIMM\\fR-\\fIDD\\fRT\\fIhh\\fR:\\fImm\\fR, "
	    "optionally followed by :\\fIss\\fR and a final Z; no other zone "
	    "is accepted. Example: \\fBkey = s2027 /etc/authmilter/keys/"
	    "example.com/s2027.pem not_before=2027-01-01T00:00Z\\fR. A key "
	    "is used from not_before on and no longer from not_after on; the "
	    "log says when a scheduled key comes into use and when one expires, "
	    "and warns \\fBkey_expiry_warning\\fR ahead of a not_after.\n"
	    ".PP\nOf a domain's keys of one type, the first in its window whose "
	    "DNS record is published (or not yet known otherwise) signs. When none "
	    "is, \\fBunpublished_keys = sign\\fR signs with a key whose record "
	    "is missing before one whose record is known wrong (truncated, "
	    "mismatched, revoked); a known-wrong key is left out when the other "
	    "type (RSA, Ed25519) has a usable key. Record states are logged when "
	    "they change, not per message.\n", fp);
}

/* config_man_bounce - the man page's section on bounce addresses and their stored form */
static void
config_man_bounce(FILE *fp)
{
	fputs(".SH BOUNCE ADDRESSES\n"
	    "A signed message of a block with \\fBbounce_domain\\fR leaves "
	    "with its envelope sender rewritten into the bounce domain. The "
	    "stateless form (\\fBab1=\\fR...) carries the original sender, "
	    "signed with the first \\fBbounce_secret\\fR; it fits when the "
	    "escaped sender takes at most 48 octets. A longer sender (a VERP "
	    "address such as bounces+campaign-12345-rcpt=gmail.com@platform."
	    "example) gets the stored form: the original is kept in the "
	    "\\fBhistory\\fR store (table bounce_tokens, SQLite or PostgreSQL) "
	    "under 80 random bits, and the address is \\fBab2=\\fR followed by "
	    "the day, a MAC and the token, 30 octets in all. The row is "
	    "committed (SQLite synchronous = FULL) before the message is "
	    "accepted; rows are pruned a day after \\fBbounce_max_age\\fR.\n"
	    ".PP\nA bounce to either form is delivered to the original sender. "
	    "A stored-form address whose MAC does not verify, whose token is "
	    "unknown, or that is older than \\fBbounce_max_age\\fR is refused "
	    "at RCPT TO like a forged or expired stateless one (550 5.1.1, "
	    "reason bad-mac or expired); the lookup is by primary key and "
	    "bounded by \\fBbounce_store_timeout\\fR, and a store that fails "
	    "tempfails the bounce (451 4.3.0) so that it comes back.\n"
	    ".PP\nWithout \\fBhistory\\fR (or with \\fBbounce_store = no\\fR) "
	    "a sender too long for the stateless form keeps its Return-Path, "
	    "as does every such sender while the store fails or is slower than "
	    "\\fBbounce_store_timeout\\fR: mail is never held for it. Each "
	    "such message is logged at warning and counted "
	    "(authmilter_bounce_rewrites_skipped_total); a missing store is "
	    "also said once at every load. authmilter-bounce(1) \\fB-c\\fR "
	    "decodes both forms.\n"
	    ".PP\nWith \\fBbounce_check = yes\\fR (the default) each bounce "
	    "domain's DNS is checked in the background, like the keys' records: "
	    "at start, at a reload for new domains and those not known ok, and "
	    "every \\fBkey_check_interval\\fR, spread over it, one domain at a "
	    "time. It is \\fBok\\fR when its MX, or the target of its CNAME, "
	    "is one of \\fBbounce_mx_hosts\\fR, and its SPF gives pass for "
	    "each of \\fBbounce_check_ips\\fR (without them: its record "
	    "includes \\fBplatform_spf_include\\fR); \\fBbroken\\fR "
	    "otherwise (no-mx, mx-elsewhere, spf, spf-include). Mail of a "
	    "domain whose bounce domain is broken leaves with its own "
	    "Return-Path (counted as bounce_domain_broken); a bounce domain not "
	    "checked yet (\\fBunchecked\\fR), or whose first check got no DNS "
	    "answer (\\fBunknown\\fR), is rewritten into, and a later lookup "
	    "without an answer keeps the last verdict. Each change is logged "
	    "once (broken at warning). The states are shown by authmilterctl "
	    "keys, domain and status and by the metric "
	    "authmilter_bounce_domains, and saved to "
	    "\\fBstate_dir\\fR/bouncestates (lines BOUNCE-DOMAIN STATE WHY "
	    "EPOCH between a version line and an end line); after a restart "
	    "only ok is taken from the file: a domain broken before is "
	    "rewritten into until its first check, at once.\n", fp);
}

/* config_print_man - authmilter.conf(5) */
void
config_print_man(FILE *fp)
{
	const struct opt_def *o;
	size_t i;

	fputs(".\\\" generated from milter/config_table.c by `make regen-docs`; "
	    "do not edit\n"
	    ".TH AUTHMILTER.CONF 5 \"\" \"authmilter\" \"File Formats\"\n"
	    ".SH NAME\nauthmilter.conf \\- configuration of the authmilter "
	    "mail authentication milter\n"
	    ".SH SYNTAX\nOne option per line, written \\fIname\\fR = "
	    "\\fIvalue\\fR. A \\fB#\\fR at the start of a line or after a "
	    "blank starts a comment. Lists are separated by commas or blanks.\n"
	    "Signing domains are declared in blocks:\n.PP\n.nf\n"
	    "domain example.com {\n    key = s2026b /etc/authmilter/keys/"
	    "example.com/s2026b.pem\n    key = s2026a /etc/authmilter/keys/"
	    "example.com/s2026a.pem\n}\n.fi\n.PP\n"
	    "Every error names the file, the line and the reason. An error in "
	    "the global part of the main file refuses the start (or, on "
	    "reload, keeps the running configuration). An error inside a "
	    "domain block, or in a key file it names, leaves only that block "
	    "out, and an error at the top level of an included file the blocks "
	    "of that file; the rest loads, and every error is logged. Until a "
	    "reload can keep the running version of such a block, a reload "
	    "that would leave out a domain the running configuration signs for "
	    "is refused as a whole. \\fBauthmilter \\-n \\-c\\fR "
	    "\\fIfile\\fR lists every error and prints the effective "
	    "configuration, \\fBauthmilter \\-q\\fR lists the errors only; "
	    "both exit 1 if there is any.\n"
	    ".PP\nDurations take a suffix: s, m, h, d or w (seconds when none).\n"
	    ".SH OPTIONS\n", fp);
	for (i = 0; i < config_noptions; i++) {
		o = &config_options[i];
		fprintf(fp, ".TP\n.B %s\n", o->name);
		config_man_escape(fp, o->doc);
		fprintf(fp, ".\n.br\nType: %s", config_type_name(o));
		if (o->type == OPT_ENUM) {
			size_t j;

			fputs(" (", fp);
			for (j = 0; o->choices[j] != NULL; j++)
				fprintf(fp, "%s%s", j ? ", " : "", o->choices[j]);
			fputs(")", fp);
		}
		fprintf(fp, "; %s", config_where(o));
		if (o->def != NULL) {
			fputs("; default: ", fp);
			config_man_escape(fp, *o->def ? o->def : "(empty)");
		}
		if (o->type == OPT_DURATION || o->type == OPT_INT)
			fprintf(fp, "; range %ld..%ld", o->min, o->max);
		fputs(".\n", fp);
	}
	fputs(config_man_files, fp);
	config_man_domains(fp);
	config_man_bounce(fp);
	fputs(".SH FILES\n/etc/authmilter/authmilter.conf\n"
	    ".SH SEE ALSO\n.BR authmilter (8),\n.BR authmilter-keygen (1)\n", fp);
}

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

/* config_dump - print the effective configuration */
void
config_dump(const struct config *c, FILE *fp)
{
	const struct opt_def *o;
	const struct config_domain *d;
	struct buf v = BUF_INIT;
	size_t i, j;

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
		d = &c->domains[i];
		fprintf(fp, "\ndomain %s {\n", d->name);
		for (j = 0; j < d->nkeys; j++)
			config_dump_key(&d->keys[j], fp);
		for (j = 0; j < config_noptions; j++) {
			o = &config_options[j];
			if (!(o->scope & OPT_BLOCK) || o->type == OPT_KEY)
				continue;
			buf_reset(&v);
			config_format(o, (const char *)d, &v);
			fprintf(fp, "    %-22s = %s%s\n", o->name, buf_cstr(&v),
			    (d->set & (1ull << j)) ? "" : "    # inherited");
		}
		fprintf(fp, "}\n");
	}
	buf_free(&v);
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
	    "Every error names the file, the line and the reason, and "
	    "authmilter refuses to start (or, on reload, keeps the running "
	    "configuration). \\fBauthmilter \\-n \\-c\\fR \\fIfile\\fR checks a "
	    "file and prints the effective configuration.\n"
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
	fputs(".SH FILES\n/etc/authmilter/authmilter.conf\n"
	    ".SH SEE ALSO\n.BR authmilter (8),\n.BR authmilter-keygen (1)\n", fp);
}

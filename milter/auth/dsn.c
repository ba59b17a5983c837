/*
 * dsn.c - read a delivery status notification's recipients as its body
 * streams past (dsn.h).
 *
 * A line machine: the preamble up to the first boundary line, then for
 * each part its header fields (folded lines joined) up to a blank line,
 * then its body; in a message/delivery-status (or global) part the body
 * is itself blocks of fields separated by blank lines, the first about
 * the message, each next one about one recipient.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/dsn.h"
#include "base/xalloc.h"

enum dsn_where {
	DSN_PREAMBLE,		/* before the first boundary */
	DSN_PART_HEADER,	/* a part's header fields */
	DSN_PART_BODY,		/* a part's body */
	DSN_EPILOGUE,		/* after the closing boundary */
};

struct dsn_rcpt {
	char addr[256];		/* Final-Recipient (Original- if none), bare */
	char status[16];	/* Status: d.d.d */
	char action[16];	/* Action, lower case */
};

struct dsn {
	char boundary[72];	/* RFC 2046: at most 70 characters */
	enum dsn_where where;
	int in_status;		/* this part is the delivery-status one */
	char line[DSN_LINE_MAX + 1];
	size_t len;		/* bytes in line */
	char field[DSN_LINE_MAX + 1];	/* the field being unfolded */
	size_t flen;
	struct dsn_rcpt cur;	/* the block being read */
	int cur_used;		/* it has a field of a recipient */
	struct dsn_rcpt rcpt[DSN_MAX_RCPTS];
	size_t n;
	int delayed;		/* a recipient's Action was delayed */
};

/* dsn_param - the value of parameter name in a Content-Type value, into out; 0 or -1 */
static int
dsn_param(const char *v, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), i;
	const char *p = v;

	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (strncasecmp(p, name, nl) != 0 || p[nl] != '=')
			continue;
		p += nl + 1;
		i = 0;
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (i + 1 >= outlen)
					return -1;
				out[i++] = *p;
			}
		} else {
			for (; *p != '\0' && *p != ';' && !isspace((unsigned char)*p);
			    p++) {
				if (i + 1 >= outlen)
					return -1;
				out[i++] = *p;
			}
		}
		out[i] = '\0';
		return i > 0 ? 0 : -1;
	}
	return -1;
}

/* dsn_type_is - does a Content-Type value name type (case-insensitive, then ';' or the end)? */
static int
dsn_type_is(const char *v, const char *type)
{
	size_t tl = strlen(type);

	while (*v == ' ' || *v == '\t')
		v++;
	return strncasecmp(v, type, tl) == 0 && (v[tl] == '\0' || v[tl] == ';'
	    || isspace((unsigned char)v[tl]));
}

/* dsn_new - a reader, if the body is a report */
struct dsn *
dsn_new(const char *content_type)
{
	struct dsn *d;
	char b[sizeof(((struct dsn *)0)->boundary)];

	if (content_type == NULL || !dsn_type_is(content_type, "multipart/report")
	    || dsn_param(content_type, "boundary", b, sizeof(b)) != 0)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	memcpy(d->boundary, b, sizeof(b));
	return d;
}

/* dsn_copy_clean - value into out, only characters safe in a header parameter (others dropped), cut to fit */
static void
dsn_copy_clean(char *out, size_t outlen, const char *v, size_t vlen)
{
	size_t i, j = 0;
	unsigned char ch;

	for (i = 0; i < vlen && j + 1 < outlen; i++) {
		ch = (unsigned char)v[i];
		if (ch <= ' ' || ch >= 0x7f || strchr("<>;,\"\\()", ch) != NULL)
			continue;
		out[j++] = (char)ch;
	}
	out[j] = '\0';
}

/* dsn_block_end - a block of status fields ended: keep its recipient */
static void
dsn_block_end(struct dsn *d)
{
	if (d->cur_used && d->cur.addr[0] != '\0') {
		if (strcmp(d->cur.action, "delayed") == 0)
			d->delayed = 1;
		if (d->n < DSN_MAX_RCPTS)
			d->rcpt[d->n++] = d->cur;
	}
	memset(&d->cur, 0, sizeof(d->cur));
	d->cur_used = 0;
}

/* dsn_status_field - one unfolded field of the delivery-status part */
static void
dsn_status_field(struct dsn *d, const char *f)
{
	const char *colon = strchr(f, ':'), *v, *semi;
	size_t nl;

	if (colon == NULL)
		return;
	nl = (size_t)(colon - f);
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if ((nl == 15 && strncasecmp(f, "Final-Recipient", nl) == 0)
	    || (nl == 18 && strncasecmp(f, "Original-Recipient", nl) == 0)) {
		if (nl == 18 && d->cur.addr[0] != '\0')
			return;		/* Final- wins */
		semi = strchr(v, ';');	/* "rfc822; addr" */
		if (semi != NULL)
			v = semi + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		dsn_copy_clean(d->cur.addr, sizeof(d->cur.addr), v, strlen(v));
		d->cur_used = 1;
	} else if (nl == 6 && strncasecmp(f, "Action", nl) == 0) {
		dsn_copy_clean(d->cur.action, sizeof(d->cur.action), v, strlen(v));
		for (char *p = d->cur.action; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	} else if (nl == 6 && strncasecmp(f, "Status", nl) == 0) {
		size_t i = 0;

		/* d.d.d, digits and dots only; a comment after it dropped */
		while (i + 1 < sizeof(d->cur.status) && (isdigit((unsigned char)v[i])
		    || v[i] == '.')) {
			d->cur.status[i] = v[i];
			i++;
		}
		d->cur.status[i] = '\0';
	}
}

/* dsn_part_field - one unfolded header field of a part */
static void
dsn_part_field(struct dsn *d, const char *f)
{
	if (strncasecmp(f, "Content-Type:", 13) == 0
	    && (dsn_type_is(f + 13, "message/delivery-status")
	    || dsn_type_is(f + 13, "message/global-delivery-status")))
		d->in_status = 1;
}

/* dsn_field_flush - the field being unfolded is complete */
static void
dsn_field_flush(struct dsn *d)
{
	if (d->flen == 0)
		return;
	d->field[d->flen] = '\0';
	if (d->where == DSN_PART_HEADER)
		dsn_part_field(d, d->field);
	else if (d->where == DSN_PART_BODY && d->in_status)
		dsn_status_field(d, d->field);
	d->flen = 0;
}

/* dsn_field_line - a line of fields: a new field, or the fold of the last */
static void
dsn_field_line(struct dsn *d, const char *l, size_t len)
{
	size_t take;

	if (len > 0 && (l[0] == ' ' || l[0] == '\t')) {
		if (d->flen == 0)
			return;		/* a fold of nothing */
	} else
		dsn_field_flush(d);
	take = len < DSN_LINE_MAX - d->flen ? len : DSN_LINE_MAX - d->flen;
	memcpy(d->field + d->flen, l, take);
	d->flen += take;
}

/* dsn_boundary - is the line a boundary: 1 a part begins, 2 the last ended, 0 no */
static int
dsn_boundary(const struct dsn *d, const char *l, size_t len)
{
	size_t bl = strlen(d->boundary);

	if (len < bl + 2 || l[0] != '-' || l[1] != '-'
	    || memcmp(l + 2, d->boundary, bl) != 0)
		return 0;
	if (len >= bl + 4 && l[bl + 2] == '-' && l[bl + 3] == '-')
		return 2;
	return 1;
}

/* dsn_line - one line of the body (without its line end) */
static void
dsn_line(struct dsn *d, const char *l, size_t len)
{
	int b;

	if (d->where == DSN_EPILOGUE)
		return;
	if ((b = dsn_boundary(d, l, len)) != 0) {
		dsn_field_flush(d);
		if (d->in_status)
			dsn_block_end(d);
		d->in_status = 0;
		d->where = b == 2 ? DSN_EPILOGUE : DSN_PART_HEADER;
		return;
	}
	switch (d->where) {
	case DSN_PART_HEADER:
		if (len == 0) {
			dsn_field_flush(d);
			d->where = DSN_PART_BODY;
		} else
			dsn_field_line(d, l, len);
		break;
	case DSN_PART_BODY:
		if (!d->in_status)
			break;
		if (len == 0) {
			dsn_field_flush(d);
			dsn_block_end(d);
		} else
			dsn_field_line(d, l, len);
		break;
	default:
		break;
	}
}

/* dsn_feed - split into lines */
void
dsn_feed(struct dsn *d, const unsigned char *data, size_t len)
{
	size_t i, l;

	if (d == NULL)
		return;
	for (i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (d->len < DSN_LINE_MAX)
				d->line[d->len++] = (char)data[i];
			continue;
		}
		l = d->len;
		if (l > 0 && d->line[l - 1] == '\r')
			l--;
		d->line[l] = '\0';
		dsn_line(d, d->line, l);
		d->len = 0;
	}
}

/* dsn_format - the failed recipients as header parameters */
size_t
dsn_format(struct dsn *d, struct buf *out)
{
	size_t i, n = 0;

	if (d == NULL)
		return 0;
	if (d->len > 0) {		/* a last line without its end */
		d->line[d->len] = '\0';
		dsn_line(d, d->line, d->len);
		d->len = 0;
	}
	dsn_field_flush(d);
	if (d->in_status)
		dsn_block_end(d);
	d->in_status = 0;
	for (i = 0; i < d->n; i++) {
		if (strcmp(d->rcpt[i].action, "failed") != 0)
			continue;
		buf_printf(out, "%s<%s>", n++ ? "," : "; failed=", d->rcpt[i].addr);
	}
	if (n > 0) {
		buf_puts(out, "; status=");
		for (i = 0, n = 0; i < d->n; i++)
			if (strcmp(d->rcpt[i].action, "failed") == 0)
				buf_printf(out, "%s%s", n++ ? "," : "",
				    d->rcpt[i].status[0] ? d->rcpt[i].status : "-");
	} else if (d->delayed)
		buf_puts(out, "; dsn=delayed");
	return n;
}

/* dsn_free - release */
void
dsn_free(struct dsn *d)
{
	free(d);
}

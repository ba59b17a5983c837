/*
 * rua_unpack.c - the XML of a received aggregate report out of what
 * arrived: a mail message (MIME; the report attached, base64 or not
 * encoded, possibly inside nested multiparts), a gzip file, a zip file
 * (Google's), or the XML itself.
 *
 * The zip reader is our own, over zlib: a report's zip holds one .xml
 * file, stored or deflated, and that is all it needs to read; libzip or
 * minizip would be a new dependency for ~150 lines, and here every size is
 * checked against the buffer and the limit before it is used. It reads the
 * central directory (the local header's sizes are zero when the writer
 * streamed, bit 3), refuses encryption and zip64, and checks the CRC.
 *
 * Every decompression stops at the caller's limit (a bomb costs that
 * much); MIME nests at most RUA_MIME_DEPTH deep. Pure; see rua.h.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "store/rua.h"
#include "base/log.h"
#include "base/xalloc.h"

#define RUA_MIME_DEPTH	5		/* multiparts inside multiparts */
#define RUA_HEADER_MAX	998		/* bytes of a header field value we read */

/* A part of a MIME message (pointers into the message). */
struct rua_part {
	const unsigned char *body;	/* after the blank line (borrowed) */
	size_t body_len;
	char type[128];			/* Content-Type's type/subtype, lower case */
	char boundary[128];		/* its boundary parameter ("" none) */
	char name[256];			/* filename= or name= ("" none) */
	char encoding[32];		/* Content-Transfer-Encoding, lower case */
};

static int rua_unpack_depth(const unsigned char *data, size_t len,
    size_t max, int depth, struct buf *xml, char *err, size_t errlen);
static int rua_unpack_part(const struct rua_part *pt, size_t max, int depth,
    struct buf *xml, char *err, size_t errlen);

/* rua_inflate - inflate (windowbits: gzip 16+15, raw -15) into out, at most max; 0 or -1 */
static int
rua_inflate(const unsigned char *in, size_t len, int windowbits, size_t max,
    struct buf *out, char *err, size_t errlen)
{
	z_stream z;
	unsigned char chunk[65536];
	int zr = Z_OK, rc = -1;
	size_t n;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, windowbits) != Z_OK)
		return log_fail(err, errlen, "zlib: cannot start inflate");
	z.next_in = (unsigned char *)(uintptr_t)in;
	while (len > 0 || zr == Z_OK) {
		if (z.avail_in == 0 && len > 0) {
			z.avail_in = len > 0x40000000 ? 0x40000000 : (uInt)len;
			len -= z.avail_in;
		}
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			(void)log_fail(err, errlen, "%s: corrupt compressed data "
			    "(%s)", windowbits > 15 ? "gzip" : "zip",
			    z.msg != NULL ? z.msg : "inflate failed");
			goto done;
		}
		n = sizeof(chunk) - z.avail_out;
		if (out->len + n > max) {
			(void)log_fail(err, errlen, "decompressed report over the "
			    "limit of %zu bytes (a zip bomb?)", max);
			goto done;
		}
		buf_append(out, chunk, n);
		if (zr == Z_STREAM_END)
			break;
		if (n == 0 && z.avail_in == 0 && len == 0) {
			(void)log_fail(err, errlen, "%s: truncated compressed "
			    "data", windowbits > 15 ? "gzip" : "zip");
			goto done;
		}
	}
	rc = 0;
done:
	inflateEnd(&z);
	return rc;
}

/* rua_le16, rua_le32 - little-endian numbers of the zip format */
static unsigned
rua_le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static unsigned long
rua_le32(const unsigned char *p)
{
	return (unsigned long)rua_le16(p) | (unsigned long)rua_le16(p + 2) << 16;
}

/* rua_zip_entry - read the entry whose central header is at cd; 0 or -1 */
static int
rua_zip_entry(const unsigned char *z, size_t len, const unsigned char *cd,
    size_t max, struct buf *out, char *err, size_t errlen)
{
	unsigned flags = rua_le16(cd + 8), method = rua_le16(cd + 10);
	unsigned long crc = rua_le32(cd + 16), csize = rua_le32(cd + 20);
	unsigned long usize = rua_le32(cd + 24), off = rua_le32(cd + 42);
	const unsigned char *lh;
	size_t data;

	if (flags & 1)
		return log_fail(err, errlen, "zip: the report is encrypted");
	if (csize == 0xffffffffUL || usize == 0xffffffffUL
	    || off == 0xffffffffUL)
		return log_fail(err, errlen, "zip: zip64 is not supported");
	if (usize > max)
		return log_fail(err, errlen, "zip: the report says it unpacks to "
		    "%lu bytes, over the limit of %zu (a zip bomb?)", usize, max);
	if (off > len || len - off < 30 || rua_le32(z + off) != 0x04034b50UL)
		return log_fail(err, errlen, "zip: bad local header offset");
	lh = z + off;
	data = off + 30 + rua_le16(lh + 26) + rua_le16(lh + 28);
	if (data > len || len - data < csize)
		return log_fail(err, errlen, "zip: entry runs past the end");
	if (method == 0) {
		if (csize != usize)
			return log_fail(err, errlen, "zip: stored entry sizes "
			    "differ");
		buf_append(out, z + data, csize);
	} else if (method == 8) {
		if (rua_inflate(z + data, csize, -15, max, out, err, errlen) != 0)
			return -1;
	} else
		return log_fail(err, errlen, "zip: compression method %u is not "
		    "supported (stored and deflate are)", method);
	if (crc32(0L, (const Bytef *)(out->data != NULL ? out->data : ""),
	    (uInt)out->len) != crc || out->len != usize)
		return log_fail(err, errlen, "zip: CRC or size mismatch");
	return 0;
}

/* rua_unzip - the first .xml entry of a zip (or its only entry); 0 or -1 */
static int
rua_unzip(const unsigned char *z, size_t len, size_t max, struct buf *out,
    char *err, size_t errlen)
{
	const unsigned char *eocd = NULL, *cd, *only = NULL;
	unsigned long cdoff, cdsize;
	unsigned entries, i, nlen;
	size_t k, pos;

	if (len < 22)
		return log_fail(err, errlen, "zip: too short");
	/* the end record is in the last 22 + 65535 (its comment) bytes */
	for (k = len - 22 + 1; k-- > 0 && len - k <= 22 + 65535;)
		if (rua_le32(z + k) == 0x06054b50UL) {
			eocd = z + k;
			break;
		}
	if (eocd == NULL)
		return log_fail(err, errlen, "zip: no end of central directory");
	entries = rua_le16(eocd + 10);
	cdsize = rua_le32(eocd + 12);
	cdoff = rua_le32(eocd + 16);
	if (cdoff > len || cdsize > len - cdoff)
		return log_fail(err, errlen, "zip: bad central directory");
	for (i = 0, pos = cdoff; i < entries; i++) {
		if (pos > len || len - pos < 46 || rua_le32(z + pos)
		    != 0x02014b50UL)
			return log_fail(err, errlen, "zip: bad central directory "
			    "entry");
		cd = z + pos;
		nlen = rua_le16(cd + 28);
		if (len - pos - 46 < nlen)
			return log_fail(err, errlen, "zip: bad entry name");
		if (nlen >= 4 && strncasecmp((const char *)cd + 46 + nlen - 4,
		    ".xml", 4) == 0)
			return rua_zip_entry(z, len, cd, max, out, err, errlen);
		if (entries == 1)
			only = cd;
		pos += 46 + (size_t)nlen + rua_le16(cd + 30) + rua_le16(cd + 32);
	}
	if (only != NULL)
		return rua_zip_entry(z, len, only, max, out, err, errlen);
	return log_fail(err, errlen, "zip: no .xml file in it");
}

/* rua_b64val - the value of a base64 digit, or -1 */
static int
rua_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* rua_base64 - decode, skipping line breaks and other non-digits; stops at '=' */
static void
rua_base64(const unsigned char *in, size_t len, struct buf *out)
{
	unsigned long acc = 0;
	int bits = 0, v;
	size_t i;

	for (i = 0; i < len && in[i] != '='; i++) {
		if ((v = rua_b64val(in[i])) < 0)
			continue;
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (int)(acc >> bits & 0xff));
		}
	}
}

/* rua_line_end - the index after the line starting at i (its LF included) */
static size_t
rua_line_end(const unsigned char *s, size_t len, size_t i)
{
	const unsigned char *nl = memchr(s + i, '\n', len - i);

	return nl != NULL ? (size_t)(nl - s) + 1 : len;
}

/* rua_param - parameter name=value (quoted or not) of a header value, into out */
static void
rua_param(const char *v, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), k = 0;
	const char *s = v;

	out[0] = '\0';
	while ((s = strchr(s, ';')) != NULL) {
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, name, n) != 0 || s[n] != '=')
			continue;
		s += n + 1;
		if (*s == '"') {
			for (s++; *s != '\0' && *s != '"' && k + 1 < outlen; s++)
				out[k++] = *s;
		} else
			for (; *s != '\0' && *s != ';' && !isspace((unsigned
			    char)*s) && k + 1 < outlen; s++)
				out[k++] = *s;
		out[k] = '\0';
		return;
	}
}

/* rua_header_value - one (unfolded) header field's value into part */
static void
rua_header_value(struct rua_part *pt, const char *field)
{
	const char *v = strchr(field, ':') + 1;
	size_t k;

	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(field, "content-type:", 13) == 0) {
		for (k = 0; v[k] != '\0' && v[k] != ';' && !isspace((unsigned
		    char)v[k]) && k + 1 < sizeof(pt->type); k++)
			pt->type[k] = (char)tolower((unsigned char)v[k]);
		pt->type[k] = '\0';
		rua_param(v, "boundary", pt->boundary, sizeof(pt->boundary));
		if (pt->name[0] == '\0')
			rua_param(v, "name", pt->name, sizeof(pt->name));
	} else if (strncasecmp(field, "content-disposition:", 20) == 0)
		rua_param(v, "filename", pt->name, sizeof(pt->name));
	else if (strncasecmp(field, "content-transfer-encoding:", 26) == 0) {
		for (k = 0; v[k] != '\0' && !isspace((unsigned char)v[k])
		    && k + 1 < sizeof(pt->encoding); k++)
			pt->encoding[k] = (char)tolower((unsigned char)v[k]);
		pt->encoding[k] = '\0';
	}
}

/* rua_headers - read the header of a part; its body follows. 0, or -1 (no header) */
static int
rua_headers(const unsigned char *s, size_t len, struct rua_part *pt)
{
	struct buf field = BUF_INIT;
	size_t i = 0, e;
	int nfields = 0;

	memset(pt, 0, sizeof(*pt));
	(void)snprintf(pt->type, sizeof(pt->type), "text/plain");
	for (;;) {
		e = i < len ? rua_line_end(s, len, i) : len;
		/* a continuation line belongs to the field before */
		if (i < len && (s[i] == ' ' || s[i] == '\t') && field.len > 0) {
			if (field.len < RUA_HEADER_MAX)
				buf_append(&field, s + i, e - i);
			i = e;
			continue;
		}
		if (field.len > 0) {
			while (field.len > 0 && (field.data[field.len - 1] == '\n'
			    || field.data[field.len - 1] == '\r'))
				field.data[--field.len] = '\0';
			for (char *c = field.data; *c != '\0'; c++)
				if (*c == '\r' || *c == '\n')
					*c = ' ';
			if (strchr(field.data, ':') != NULL)
				rua_header_value(pt, field.data);
			buf_reset(&field);
			nfields++;
		}
		if (i >= len || s[i] == '\n' || (s[i] == '\r' && i + 1 < len
		    && s[i + 1] == '\n'))
			break;
		if (memchr(s + i, ':', e - i) == NULL) {
			buf_free(&field);
			return -1;	/* not a header line: not a message */
		}
		buf_append(&field, s + i, e - i > RUA_HEADER_MAX ? RUA_HEADER_MAX
		    : e - i);
		i = e;
	}
	buf_free(&field);
	if (i < len)
		i = rua_line_end(s, len, i);
	pt->body = s + (i < len ? i : len);
	pt->body_len = len - (i < len ? i : len);
	return nfields > 0 ? 0 : -1;
}

/* rua_is_report_part - does a leaf part look like the report? */
static int
rua_is_report_part(const struct rua_part *pt)
{
	static const char *const types[] = { "application/gzip",
	    "application/x-gzip", "application/zip", "application/x-zip",
	    "application/x-zip-compressed", "application/xml", "text/xml",
	    "application/octet-stream" };
	size_t i, n = strlen(pt->name);

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(pt->type, types[i]) == 0)
			return 1;
	return (n >= 4 && (strcasecmp(pt->name + n - 4, ".xml") == 0
	    || strcasecmp(pt->name + n - 4, ".zip") == 0))
	    || (n >= 3 && strcasecmp(pt->name + n - 3, ".gz") == 0);
}

/* rua_leaf - decode a leaf part and unpack what it holds */
static int
rua_leaf(const struct rua_part *pt, size_t max, int depth, struct buf *xml,
    char *err, size_t errlen)
{
	struct buf raw = BUF_INIT;
	int rc;

	if (strcmp(pt->encoding, "base64") == 0) {
		rua_base64(pt->body, pt->body_len, &raw);
		rc = rua_unpack_depth((const unsigned char *)(raw.data != NULL
		    ? raw.data : ""), raw.len, max, depth + 1, xml, err, errlen);
	} else if (strcmp(pt->encoding, "quoted-printable") == 0)
		rc = log_fail(err, errlen, "MIME: a quoted-printable report "
		    "is not supported");
	else
		rc = rua_unpack_depth(pt->body, pt->body_len, max, depth + 1, xml,
		    err, errlen);
	buf_free(&raw);
	return rc;
}

/* rua_delimiter - is line [i, e) a delimiter of boundary b? 0 no, 1 yes, 2 the closing one */
static int
rua_delimiter(const unsigned char *s, size_t i, size_t e, const char *b,
    size_t blen)
{
	int closing = 0;

	if (e - i < blen + 2 || s[i] != '-' || s[i + 1] != '-'
	    || memcmp(s + i + 2, b, blen) != 0)
		return 0;
	i += blen + 2;
	if (e - i >= 2 && s[i] == '-' && s[i + 1] == '-') {
		closing = 1;
		i += 2;
	}
	/* only blanks may follow: "--b" must not match "--bx" */
	for (; i < e; i++)
		if (!isspace(s[i]))
			return 0;
	return 1 + closing;
}

/* rua_try_part - the part [start, end): 0 the report, -1 its error in first (if none yet), -2 none */
static int
rua_try_part(const unsigned char *start, size_t len, size_t max, int depth,
    struct buf *xml, char *first, size_t firstlen)
{
	struct rua_part sub;
	char err[256] = "";
	int rc;

	if (rua_headers(start, len, &sub) != 0)
		return -2;
	buf_reset(xml);
	rc = rua_unpack_part(&sub, max, depth, xml, err, sizeof(err));
	/* the first report-like part's trouble is the one to tell */
	if (rc == -1 && first[0] == '\0')
		(void)snprintf(first, firstlen, "%s", err);
	return rc;
}

/* rua_multipart - try each part of a multipart body in turn; 0, -1, or -2 (no report in it) */
static int
rua_multipart(const struct rua_part *pt, size_t max, int depth,
    struct buf *xml, char *err, size_t errlen)
{
	const unsigned char *s = pt->body, *start = NULL;
	size_t len = pt->body_len, blen = strlen(pt->boundary), i = 0, e;
	char first[256] = "";
	int d = 0;

	if (blen == 0)
		return log_fail(err, errlen, "MIME: multipart without boundary");
	for (; i < len && d != 2; i = e) {
		e = rua_line_end(s, len, i);
		if ((d = rua_delimiter(s, i, e, pt->boundary, blen)) == 0)
			continue;
		/* (the line break before the delimiter stays in the part:
		 * harmless to base64 and XML) */
		if (start != NULL && rua_try_part(start, (size_t)(s + i - start),
		    max, depth, xml, first, sizeof(first)) == 0)
			return 0;
		start = s + e;
	}
	/* a message cut short: its last part has no closing delimiter */
	if (d != 2 && start != NULL && start < s + len && rua_try_part(start,
	    (size_t)(s + len - start), max, depth, xml, first,
	    sizeof(first)) == 0)
		return 0;
	if (first[0] != '\0')
		return log_fail(err, errlen, "%s", first);
	(void)log_fail(err, errlen, "MIME: no report attached (.xml, .xml.gz, "
	    ".zip)");
	return -2;
}

/*
 * rua_unpack_part - a part: a multipart's parts, the report, or nothing;
 * 0, -1 with err, or -2 (with err) when the part is no report at all
 */
static int
rua_unpack_part(const struct rua_part *pt, size_t max, int depth,
    struct buf *xml, char *err, size_t errlen)
{
	if (depth >= RUA_MIME_DEPTH)
		return log_fail(err, errlen, "MIME: nested more than %d deep",
		    RUA_MIME_DEPTH);
	if (strncmp(pt->type, "multipart/", 10) == 0)
		return rua_multipart(pt, max, depth + 1, xml, err, errlen);
	if (strcmp(pt->type, "message/rfc822") == 0)
		return rua_unpack_depth(pt->body, pt->body_len, max, depth + 1,
		    xml, err, errlen);
	if (!rua_is_report_part(pt)) {
		(void)log_fail(err, errlen, "MIME: no report attached (.xml, "
		    ".xml.gz, .zip)");
		return -2;
	}
	return rua_leaf(pt, max, depth, xml, err, errlen);
}

/* rua_unpack_depth - by the content's first bytes: gzip, zip, XML, else a message */
static int
rua_unpack_depth(const unsigned char *data, size_t len, size_t max, int depth,
    struct buf *xml, char *err, size_t errlen)
{
	struct rua_part pt;
	size_t i = 0;

	if (depth > RUA_MIME_DEPTH)
		return log_fail(err, errlen, "MIME: nested more than %d deep",
		    RUA_MIME_DEPTH);
	buf_reset(xml);
	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		return rua_inflate(data, len, 16 + 15, max, xml, err, errlen);
	if (len >= 4 && memcmp(data, "PK\3\4", 4) == 0)
		return rua_unzip(data, len, max, xml, err, errlen);
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;		/* a UTF-8 byte order mark */
	while (i < len && isspace(data[i]))
		i++;
	if (i < len && data[i] == '<') {
		if (len - i > max)
			return log_fail(err, errlen, "report of %zu bytes, over "
			    "the limit of %zu", len - i, max);
		/* without them: an XML declaration must come first */
		buf_append(xml, data + i, len - i);
		return 0;
	}
	if (rua_headers(data, len, &pt) != 0)
		return log_fail(err, errlen, "neither a report (XML, gzip, zip) "
		    "nor a mail message");
	return rua_unpack_part(&pt, max, depth, xml, err, errlen) == 0 ? 0 : -1;
}

/* rua_unpack - the XML of what was received */
int
rua_unpack(const unsigned char *data, size_t len, size_t max, struct buf *xml,
    char *err, size_t errlen)
{
	size_t i = 0;

	if (rua_unpack_depth(data, len, max ? max : RUA_MAX_DEFAULT, 0, xml, err,
	    errlen) != 0)
		return -1;
	/* a byte order mark or blank lines before an XML declaration, as
	 * some receivers write them, would make it ill-formed: drop them */
	if (xml->len >= 3 && memcmp(xml->data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < xml->len && isspace((unsigned char)xml->data[i]))
		i++;
	if (i > 0) {
		memmove(xml->data, xml->data + i, xml->len - i + 1);
		xml->len -= i;
	}
	return 0;
}

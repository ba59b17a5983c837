/*
 * test_rua.c - received aggregate reports unpacked and parsed (store/rua.c,
 * rua_unpack.c): the XML variants receivers send (namespaces, prefixes,
 * whitespace, a byte order mark, DMARCbis), what a report must give, the
 * wrappings (gzip, stored and deflated zip, MIME with base64, nested
 * multiparts) and the hostile cases (DOCTYPE, a zip claiming or hiding its
 * size, nesting, encodings we do not read), table-driven. The containers
 * are built here with zlib.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "base/buf.h"
#include "store/rua.h"

#define META "<report_metadata><org_name>rcv.example</org_name>" \
	"<report_id>id-1</report_id><date_range><begin>86400</begin>" \
	"<end>172799</end></date_range></report_metadata>"
#define POLICY "<policy_published><domain>c.example</domain><p>none</p>" \
	"</policy_published>"
#define ROW(ip, n) "<record><row><source_ip>" ip "</source_ip><count>" n \
	"</count><policy_evaluated><disposition>none</disposition>" \
	"<dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>" \
	"<identifiers><header_from>c.example</header_from></identifiers>" \
	"</record>"
#define REPORT "<feedback>" META POLICY ROW("192.0.2.1", "7") "</feedback>"

/* One XML case: the input, and the error expected ("" none) with what must be read. */
struct xml_case {
	const char *name;
	const char *xml;
	const char *err;		/* substring of the error; NULL: parses */
	const char *format;
	size_t nrows;
	unsigned long long count;	/* of the first row */
};

static const struct xml_case xml_cases[] = {
	{ "plain", REPORT, NULL, "rfc7489", 1, 7 },
	{ "default namespace (Microsoft)", "<feedback xmlns=\"http://dmarc."
	    "org/dmarc-xml/0.1\">" META POLICY ROW("192.0.2.1", "7")
	    "</feedback>", NULL, "rfc7489", 1, 7 },
	{ "prefixed namespace", "<d:feedback xmlns:d=\"urn:x\"><d:report_"
	    "metadata><d:org_name>o</d:org_name><d:report_id>i</d:report_id>"
	    "<d:date_range><d:begin>1</d:begin><d:end>2</d:end></d:date_range>"
	    "</d:report_metadata><d:policy_published><d:domain>c.example"
	    "</d:domain></d:policy_published></d:feedback>", NULL, "rfc7489",
	    0, 0 },
	{ "DMARCbis namespace", "<feedback xmlns=\"urn:ietf:params:xml:ns:"
	    "dmarc-2.0\">" META POLICY ROW("2001:db8::1", "3") "<extensions/>"
	    "</feedback>", NULL, "dmarcbis", 1, 3 },
	{ "byte order mark and whitespace", "\xef\xbb\xbf\n  <?xml version="
	    "\"1.0\"?>\n<feedback>" META POLICY ROW("\n 192.0.2.1 \n", " 7 ")
	    "</feedback>", NULL, "rfc7489", 1, 7 },
	{ "unknown elements skipped", "<feedback><x><record>" ROW("192.0.2.9",
	    "1") "</record></x>" META POLICY ROW("192.0.2.1", "7")
	    "</feedback>", NULL, "rfc7489", 1, 7 },
	{ "DOCTYPE refused", "<!DOCTYPE feedback [<!ENTITY a \"x\">]>"
	    REPORT, "DOCTYPE is not allowed", NULL, 0, 0 },
	{ "external entity refused", "<!DOCTYPE feedback SYSTEM "
	    "\"http://x.example/d.dtd\">" REPORT, "DOCTYPE is not allowed",
	    NULL, 0, 0 },
	{ "not a feedback", "<html></html>", "root element <html>", NULL, 0, 0 },
	{ "no report_id", "<feedback><report_metadata><org_name>o</org_name>"
	    "<date_range><begin>1</begin><end>2</end></date_range>"
	    "</report_metadata>" POLICY "</feedback>", "no report_id", NULL,
	    0, 0 },
	{ "no domain", "<feedback>" META "</feedback>",
	    "no policy_published/domain", NULL, 0, 0 },
	{ "bad address", "<feedback>" META POLICY ROW("192.0.2.300", "1")
	    "</feedback>", "is not an address", NULL, 0, 0 },
	{ "bad count", "<feedback>" META POLICY ROW("192.0.2.1", "-1")
	    "</feedback>", "count: -1 is not a number", NULL, 0, 0 },
	{ "bad time", "<feedback><report_metadata><org_name>o</org_name>"
	    "<report_id>i</report_id><date_range><begin>yesterday</begin>"
	    "</date_range></report_metadata></feedback>", "is not a time",
	    NULL, 0, 0 },
	{ "truncated", "<feedback><report_metadata>", "XML: line 1", NULL, 0,
	    0 },
};

/* xml_variants_parse_or_fail_clearly - each case's result */
static void
xml_variants_parse_or_fail_clearly(void **state)
{
	struct rua_report r;
	char err[512];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(xml_cases) / sizeof(xml_cases[0]); i++) {
		const struct xml_case *c = &xml_cases[i];

		err[0] = '\0';
		rc = rua_read((const unsigned char *)c->xml, strlen(c->xml), 0,
		    &r, err, sizeof(err));
		if (c->err == NULL) {
			if (rc != 0)
				fail_msg("%s: %s", c->name, err);
			assert_string_equal(r.format, c->format);
			assert_string_equal(r.domain, "c.example");
			assert_int_equal(r.nrows, c->nrows);
			if (c->nrows > 0)
				assert_int_equal(r.rows[0].count, c->count);
		} else if (rc == 0 || strstr(err, c->err) == NULL)
			fail_msg("%s: got %d \"%s\", wanted an error with \"%s\"",
			    c->name, rc, err, c->err);
		rua_report_free(&r);
	}
}

/* rows_and_auth_results_read - every field of a record */
static void
rows_and_auth_results_read(void **state)
{
	static const char xml[] = "<feedback>" META "<policy_published>"
	    "<domain>C.Example</domain><adkim>s</adkim><p>quarantine</p>"
	    "<pct>50</pct><np>reject</np><testing>y</testing>"
	    "</policy_published><record><row><source_ip>192.0.2.5</source_ip>"
	    "<count>12</count><policy_evaluated><disposition>quarantine"
	    "</disposition><dkim>fail</dkim><spf>pass</spf><reason><type>"
	    "forwarded</type></reason><reason><type>local_policy</type>"
	    "</reason></policy_evaluated></row><identifiers><envelope_to>"
	    "to.example</envelope_to><envelope_from>b.c.example"
	    "</envelope_from></identifiers><auth_results><dkim><domain>"
	    "x.example</domain><result>fail</result></dkim><spf><domain>"
	    "b.c.example</domain><scope>mfrom</scope><result>pass</result>"
	    "</spf></auth_results></record></feedback>";
	struct rua_report r;
	char err[256];

	(void)state;
	assert_int_equal(rua_parse(xml, sizeof(xml) - 1, &r, err, sizeof(err)),
	    0);
	assert_string_equal(r.org_name, "rcv.example");
	assert_int_equal(r.begin, 86400);
	assert_int_equal(r.end, 172799);
	assert_string_equal(r.domain, "c.example");
	assert_string_equal(r.adkim, "s");
	assert_string_equal(r.p, "quarantine");
	assert_string_equal(r.pct, "50");
	assert_string_equal(r.np, "reject");
	assert_string_equal(r.testing, "y");
	assert_string_equal(r.rows[0].disposition, "quarantine");
	assert_string_equal(r.rows[0].reasons, "forwarded local_policy");
	/* no header_from: the policy domain (Yahoo leaves it out) */
	assert_string_equal(r.rows[0].header_from, "c.example");
	assert_string_equal(r.rows[0].envelope_to, "to.example");
	assert_string_equal(r.rows[0].auth_dkim, "x.example - fail");
	assert_string_equal(r.rows[0].auth_spf, "b.c.example mfrom pass");
	rua_report_free(&r);
}

/* gz - s gzip-compressed into out */
static void
gz(const char *s, size_t len, struct buf *out)
{
	z_stream z;
	unsigned char chunk[4096];
	int rc;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)s;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		buf_append(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc == Z_OK);
	assert_int_equal(rc, Z_STREAM_END);
	deflateEnd(&z);
}

/* le - a little-endian number of n bytes */
static void
le(struct buf *b, unsigned long v, int n)
{
	while (n-- > 0) {
		buf_putc(b, (int)(v & 0xff));
		v >>= 8;
	}
}

/* zip_stored - a one-entry zip of s, stored; usize as its headers say */
static void
zip_stored(const char *name, const char *s, unsigned long usize,
    struct buf *z)
{
	unsigned long crc = crc32(0, (const Bytef *)s, (uInt)strlen(s));
	size_t n = strlen(name), cd;

	le(z, 0x04034b50UL, 4); le(z, 20, 2); le(z, 0, 2); le(z, 0, 2);
	le(z, 0, 4); le(z, crc, 4); le(z, strlen(s), 4); le(z, usize, 4);
	le(z, n, 2); le(z, 0, 2);
	buf_append(z, name, n);
	buf_puts(z, s);
	cd = z->len;
	le(z, 0x02014b50UL, 4); le(z, 20, 2); le(z, 20, 2); le(z, 0, 2);
	le(z, 0, 2); le(z, 0, 4); le(z, crc, 4); le(z, strlen(s), 4);
	le(z, usize, 4); le(z, n, 2); le(z, 0, 2); le(z, 0, 2); le(z, 0, 2);
	le(z, 0, 2); le(z, 0, 4); le(z, 0, 4);
	buf_append(z, name, n);
	le(z, 0x06054b50UL, 4); le(z, 0, 2); le(z, 0, 2); le(z, 1, 2);
	le(z, 1, 2); le(z, z->len - cd, 4); le(z, cd, 4); le(z, 0, 2);
}

/* b64 - base64 of data, lines of 76 */
static void
b64(const struct buf *in, struct buf *out)
{
	static const char d[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
	    "tuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)in->data;
	size_t i;
	unsigned long v;

	for (i = 0; i < in->len; i += 3) {
		v = (unsigned long)p[i] << 16 | (i + 1 < in->len
		    ? (unsigned long)p[i + 1] << 8 : 0) | (i + 2 < in->len
		    ? p[i + 2] : 0);
		buf_putc(out, d[v >> 18 & 63]);
		buf_putc(out, d[v >> 12 & 63]);
		buf_putc(out, i + 1 < in->len ? d[v >> 6 & 63] : '=');
		buf_putc(out, i + 2 < in->len ? d[v & 63] : '=');
		if (i % 57 == 54)
			buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");
}

/* read_ok - data unpacks and parses to the sample report */
static void
read_ok(const struct buf *data, const char *what)
{
	struct rua_report r;
	char err[256];

	if (rua_read((const unsigned char *)data->data, data->len, 0, &r, err,
	    sizeof(err)) != 0)
		fail_msg("%s: %s", what, err);
	assert_int_equal(r.nrows, 1);
	assert_int_equal(r.rows[0].count, 7);
	rua_report_free(&r);
}

/* read_fails - data is refused with an error holding want */
static void
read_fails(const struct buf *data, size_t max, const char *want)
{
	struct rua_report r;
	char err[256] = "";

	if (rua_read((const unsigned char *)data->data, data->len, max, &r, err,
	    sizeof(err)) == 0 || strstr(err, want) == NULL)
		fail_msg("wanted an error with \"%s\", got \"%s\"", want, err);
	rua_report_free(&r);
}

/* wrappings_unpacked - gzip, zip, MIME (base64, nested, message/rfc822) */
static void
wrappings_unpacked(void **state)
{
	struct buf g = BUF_INIT, z = BUF_INIT, m = BUF_INIT, e = BUF_INIT;

	(void)state;
	gz(REPORT, strlen(REPORT), &g);
	read_ok(&g, "gzip");
	zip_stored("r.xml", REPORT, strlen(REPORT), &z);
	read_ok(&z, "stored zip");
	b64(&g, &e);
	buf_printf(&m, "From: a@b.example\r\nSubject: Report Domain: "
	    "c.example\r\nContent-Type: multipart/mixed;\r\n\tboundary=\"o\"\r\n"
	    "\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
	    "--i\r\nContent-Type: text/plain\r\n\r\nhello\r\n--i--\r\n"
	    "--o\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment;\r\n filename=\"r.xml.gz\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s--o--\r\n", e.data);
	read_ok(&m, "MIME, nested, base64 gzip");
	/* cut short: no closing delimiter; and a longer boundary is not ours */
	buf_reset(&m);
	buf_printf(&m, "Subject: x\nContent-Type: multipart/mixed; boundary=b"
	    "\n\n--bx\nContent-Type: text/plain\n\n--b\nContent-Type: "
	    "application/gzip\nContent-Transfer-Encoding: base64\n\n%s", e.data);
	read_ok(&m, "MIME cut short");
	buf_reset(&e);
	buf_printf(&e, "From: x@y.example\nContent-Type: message/rfc822\n\n%s",
	    m.data);
	read_ok(&e, "a forwarded message");
	buf_reset(&m);
	buf_printf(&m, "Subject: x\nContent-Type: text/xml\n\n%s\n", REPORT);
	read_ok(&m, "a message whose body is the XML");
	buf_free(&g);
	buf_free(&z);
	buf_free(&m);
	buf_free(&e);
}

/* hostile_wrappings_refused - bombs, lies, nesting, encodings */
static void
hostile_wrappings_refused(void **state)
{
	struct buf big = BUF_INIT, g = BUF_INIT, z = BUF_INIT, m = BUF_INIT;
	size_t i;

	(void)state;
	buf_puts(&big, "<feedback>");
	for (i = 0; i < 200000; i++)
		buf_puts(&big, "          ");
	gz(big.data, big.len, &g);
	read_fails(&g, 100000, "over the limit of 100000 bytes");
	zip_stored("r.xml", big.data, big.len, &z);
	read_fails(&z, 100000, "says it unpacks to 2000010 bytes");
	buf_reset(&z);
	/* the headers lie: 1000 bytes; the copy stops there (stored: sizes differ) */
	zip_stored("r.xml", REPORT, 1000, &z);
	read_fails(&z, 0, "stored entry sizes differ");
	buf_reset(&z);
	zip_stored("r.xml", REPORT, strlen(REPORT), &z);
	z.data[z.len - 6] ^= 0x40;	/* the central directory's offset */
	read_fails(&z, 0, "zip: bad central directory");
	buf_reset(&z);
	zip_stored("r.xml", REPORT, strlen(REPORT), &z);
	z.data[30 + 5 + 20] ^= 1;	/* a byte of the report: the CRC */
	read_fails(&z, 0, "zip: CRC or size mismatch");
	buf_reset(&z);
	buf_puts(&z, "PK\3\4 nothing more, no end record, only this text");
	read_fails(&z, 0, "zip: no end of central directory");
	buf_puts(&m, "Subject: x\nContent-Type: text/plain\n\nhello\n");
	read_fails(&m, 0, "MIME: no report attached");
	buf_reset(&m);
	buf_puts(&m, "Subject: x\nContent-Type: application/gzip\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n=1F=8B\n");
	read_fails(&m, 0, "quoted-printable");
	buf_reset(&m);
	for (i = 0; i < 8; i++)
		buf_puts(&m, "Content-Type: message/rfc822\n\n");
	buf_puts(&m, REPORT);
	read_fails(&m, 0, "nested more than");
	buf_reset(&m);
	buf_puts(&m, "just text\n");
	read_fails(&m, 0, "neither a report");
	buf_reset(&m);
	read_fails(&m, 0, "neither a report");
	buf_free(&big);
	buf_free(&g);
	buf_free(&z);
	buf_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xml_variants_parse_or_fail_clearly),
		cmocka_unit_test(rows_and_auth_results_read),
		cmocka_unit_test(wrappings_unpacked),
		cmocka_unit_test(hostile_wrappings_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

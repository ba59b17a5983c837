/*
 * test_report.c - aggregate reports from a real SQLite history: records
 * grouped per policy domain (domains without rua left out) and per row
 * with counts; the XML's rows, reasons and policy; the gzip inflates back
 * to the XML (zlib); the MIME message's subject and file name; rua
 * destinations parsed (size limits) and which need authorisation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "store/history.h"
#include "store/report.h"
#include "testutil.h"

#define T0 1767225600	/* 2026-01-01 00:00:00 UTC */

/* rep_rec - a record of domain from ip with results */
static struct history_record *
rep_rec(time_t t, const char *domain, const char *ip, const char *disp,
    int dkim_ok, const char *reasons, const char *rua)
{
	struct history_record *r = history_record_new();

	r->time = t;
	history_record_set(&r->source_ip, ip);
	history_record_set(&r->envelope_from, domain);
	history_record_set(&r->envelope_to, "example.net");
	history_record_set(&r->header_from, domain);
	history_record_set(&r->spf_result, dkim_ok ? "pass" : "fail");
	history_record_set(&r->spf_domain, domain);
	history_record_set(&r->spf_scope, "mfrom");
	r->spf_aligned = dkim_ok;
	r->dkim_aligned = dkim_ok;
	if (dkim_ok)
		history_record_add_dkim(r, domain, "s1", "pass");
	history_record_set(&r->policy_domain, domain);
	history_record_set(&r->p, "reject");
	history_record_set(&r->adkim, "r");
	history_record_set(&r->aspf, "s");
	history_record_set(&r->fo, "1");
	history_record_set(&r->result, dkim_ok ? "pass" : "fail");
	history_record_set(&r->disposition, disp);
	history_record_set(&r->reasons, reasons);
	history_record_set(&r->rua, rua);
	return r;
}

/* rep_count - occurrences of needle in hay */
static int
rep_count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* report_groups_rows_and_writes_xml - a day's history as reports */
static void
report_groups_rows_and_writes_xml(void **state)
{
	struct history_record *r[7];
	struct report_meta m = { "Example Receiver", "dmarc@rcv.example",
	    "reports@rcv.example", "rcv.example", T0, T0 + 86400 };
	struct report_set set;
	struct history_store *s;
	struct buf xml = BUF_INIT, gz = BUF_INIT, mime = BUF_INIT;
	char path[600], err[256], *dir = testutil_tmpdir();
	unsigned char back[65536];
	uLongf backlen = sizeof(back);
	z_stream z;
	size_t i;

	(void)state;
	assert_non_null(dir);
	(void)snprintf(path, sizeof(path), "sqlite:%s/h.db", dir);
	s = history_store_open(path, err, sizeof(err));
	assert_non_null(s);
	r[0] = rep_rec(T0 + 1, "a.example", "192.0.2.1", "none", 1, "",
	    "mailto:d@a.example");
	r[1] = rep_rec(T0 + 2, "a.example", "192.0.2.1", "none", 1, "",
	    "mailto:d@a.example");
	r[2] = rep_rec(T0 + 3, "a.example", "192.0.2.1", "none", 1, "",
	    "mailto:d@a.example");
	r[3] = rep_rec(T0 + 4, "a.example", "192.0.2.9", "quarantine", 0,
	    "local_policy other:t=y", "mailto:d@a.example");
	r[4] = rep_rec(T0 + 5, "b.example", "2001:db8::5", "reject", 0, "",
	    "mailto:x@b.example!10240");
	r[5] = rep_rec(T0 + 6, "c.example", "192.0.2.7", "none", 1, "", "");
	/* an envelope domain that is not ASCII: the XML stays ASCII */
	history_record_set(&r[3]->envelope_from, "b\xc3\xbc" "cher.example");
	r[6] = rep_rec(T0 + 86400, "a.example", "192.0.2.1", "none", 1, "",
	    "mailto:d@a.example");
	assert_int_equal(history_store_insert(s, r, 7, err, sizeof(err)), 0);
	assert_int_equal(report_collect(s, T0, T0 + 86400, &set, err,
	    sizeof(err)), 0);
	/* c.example asked for no reports; the next day's record is out */
	assert_int_equal(set.n, 2);
	assert_string_equal(set.v[0].domain, "a.example");
	assert_int_equal(set.v[0].messages, 4);
	assert_int_equal(set.v[0].nrows, 2);
	assert_int_equal(set.v[0].rows[0].count, 3);
	assert_int_equal(set.v[0].rows[1].count, 1);
	assert_string_equal(set.v[1].domain, "b.example");
	report_xml(&set.v[0], &m, &xml);
	assert_non_null(strstr(buf_cstr(&xml), "<org_name>Example Receiver"
	    "</org_name>"));
	assert_non_null(strstr(buf_cstr(&xml), "<report_id>a.example."
	    "1767225600.1767312000@rcv.example</report_id>"));
	assert_non_null(strstr(buf_cstr(&xml), "<end>1767311999</end>"));
	assert_non_null(strstr(buf_cstr(&xml), "<p>reject</p>"));
	/* sp absent: p; aspf as published */
	assert_non_null(strstr(buf_cstr(&xml), "<sp>reject</sp>"));
	assert_non_null(strstr(buf_cstr(&xml), "<aspf>s</aspf>"));
	assert_non_null(strstr(buf_cstr(&xml), "<fo>1</fo>"));
	assert_non_null(strstr(buf_cstr(&xml), "<envelope_from>b??cher.example"
	    "</envelope_from>"));
	assert_int_equal(rep_count(buf_cstr(&xml), "<record>"), 2);
	assert_non_null(strstr(buf_cstr(&xml), "<count>3</count>"));
	assert_non_null(strstr(buf_cstr(&xml), "<type>local_policy</type>"));
	assert_non_null(strstr(buf_cstr(&xml), "<type>other</type>\n"
	    "          <comment>t=y</comment>"));
	assert_non_null(strstr(buf_cstr(&xml), "<selector>s1</selector>"));
	buf_reset(&xml);
	/* IPv6 in full: RFC 7489's schema takes no "::" */
	report_xml(&set.v[1], &m, &xml);
	assert_non_null(strstr(buf_cstr(&xml), "<source_ip>2001:db8:0:0:0:0:0:5"
	    "</source_ip>"));
	buf_reset(&xml);
	report_xml(&set.v[0], &m, &xml);
	/* gzip: inflates back to the same bytes */
	assert_int_equal(report_gzip(&xml, &gz, err, sizeof(err)), 0);
	assert_true(gz.len > 18 && (unsigned char)gz.data[0] == 0x1f
	    && (unsigned char)gz.data[1] == 0x8b);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)gz.data;
	z.avail_in = (uInt)gz.len;
	z.next_out = back;
	z.avail_out = sizeof(back);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	backlen = z.total_out;
	inflateEnd(&z);
	assert_int_equal(backlen, xml.len);
	assert_memory_equal(back, xml.data, xml.len);
	report_mime(&set.v[0], &m, "d@a.example", &gz, T0 + 90000, &mime);
	assert_non_null(strstr(buf_cstr(&mime), "Subject: Report Domain: "
	    "a.example Submitter: rcv.example Report-ID: <a.example."
	    "1767225600.1767312000@rcv.example>\r\n"));
	assert_non_null(strstr(buf_cstr(&mime), "filename=\"rcv.example!"
	    "a.example!1767225600!1767311999.xml.gz\""));
	assert_non_null(strstr(buf_cstr(&mime), "Content-Type: "
	    "application/gzip"));
	buf_free(&xml);
	buf_free(&gz);
	buf_free(&mime);
	report_set_free(&set);
	for (i = 0; i < 7; i++)
		history_record_free(r[i]);
	history_store_close(s);
	free(dir);
}

/* report_dest_parse_and_external - destinations and their authorisation need */
static void
report_dest_parse_and_external(void **state)
{
	struct report_dest d;

	(void)state;
	assert_int_equal(report_dest_parse("mailto:Agg@Reports.Example!10240",
	    &d), 0);
	assert_string_equal(d.address, "Agg@Reports.Example");
	assert_string_equal(d.domain, "reports.example");
	assert_true(d.limit == 10240);
	assert_true(report_dest_external(&d, "a.example"));
	assert_false(report_dest_external(&d, "reports.example"));
	assert_false(report_dest_external(&d, "sub.reports.example"));
	report_dest_free(&d);
	assert_int_equal(report_dest_parse("mailto:d@mail.a.example", &d), 0);
	assert_true(d.limit == 0);
	assert_false(report_dest_external(&d, "a.example"));
	report_dest_free(&d);
	assert_int_equal(report_dest_parse("https://r.example/x", &d), -1);
	assert_int_equal(report_dest_parse("mailto:nobody", &d), -1);
	assert_int_equal(report_dest_parse("mailto:@x.example", &d), -1);
	assert_int_equal(report_dest_parse("mailto:a b@x.example", &d), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(report_groups_rows_and_writes_xml),
		cmocka_unit_test(report_dest_parse_and_external),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

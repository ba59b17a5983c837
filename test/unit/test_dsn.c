/*
 * test_dsn.c - delivery status notifications read as a body streams past:
 * the failed recipients and their status, whatever the chunking; folded
 * and quoted fields; delay notices; what is not a report; hostile input
 * (characters that would break the header, overlong lines, too many
 * recipients) kept bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dsn.h"
#include "base/buf.h"

#define CT "multipart/report; report-type=delivery-status;\r\n boundary=\"b 1\""

static const char two_failed[] =
    "--b 1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Final-Recipient: rfc822; not@this.example\r\n"
    "Action: failed\r\n"
    "\r\n"
    "--b 1\r\n"
    "Content-Type:\r\n"
    "  message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.example\r\n"
    "\r\n"
    "Final-Recipient: rfc822;\r\n"
    "   alice@dest.example\r\n"
    "Action: Failed\r\n"
    "Status: 5.1.1 (no such user)\r\n"
    "\r\n"
    "Original-Recipient: rfc822; orig@dest.example\r\n"
    "Final-Recipient: RFC822; bob@dest.example\r\n"
    "Action: failed\r\n"
    "Status: 5.2.2\r\n"
    "\r\n"
    "Final-Recipient: rfc822; carol@dest.example\r\n"
    "Action: delivered\r\n"
    "Status: 2.0.0\r\n"
    "--b 1\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "Final-Recipient: rfc822; nor@this.example\r\n"
    "Action: failed\r\n"
    "--b 1--\r\n";

/* run - feed body in chunks of step bytes; the formatted words */
static char *
run(const char *ct, const char *body, size_t step)
{
	struct dsn *d = dsn_new(ct);
	struct buf out = BUF_INIT;
	size_t i, len = strlen(body), n;
	char *s;

	if (d == NULL)
		return NULL;
	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		dsn_feed(d, (const unsigned char *)body + i, n);
	}
	(void)dsn_format(d, &out);
	dsn_free(d);
	s = strdup(buf_cstr(&out));
	buf_free(&out);
	return s;
}

/* dsn_failed_recipients_in_any_chunking - the same words for every split */
static void
dsn_failed_recipients_in_any_chunking(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 7, 64, 100000 };
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		s = run(CT, two_failed, steps[i]);
		assert_non_null(s);
		assert_string_equal(s, "; failed=<alice@dest.example>,"
		    "<bob@dest.example>; status=5.1.1,5.2.2");
		free(s);
	}
}

/* dsn_delay_and_lf_only - a delay notice with LF line ends; Original- when no Final- */
static void
dsn_delay_and_lf_only(void **state)
{
	char *s;

	(void)state;
	s = run("Multipart/Report; boundary=xx; report-type=delivery-status",
	    "--xx\nContent-Type: message/delivery-status\n\n"
	    "Final-Recipient: rfc822; late@dest.example\nAction: delayed\n"
	    "Status: 4.4.7\n--xx--\n", 5);
	assert_string_equal(s, "; dsn=delayed");
	free(s);
	s = run("multipart/report; boundary=xx",
	    "--xx\nContent-Type: message/global-delivery-status\n\n"
	    "Original-Recipient: rfc822; only@dest.example\nAction: failed\n"
	    "Status: 5.0.0\n", 4);	/* no closing boundary, no last line end */
	assert_string_equal(s, "; failed=<only@dest.example>; status=5.0.0");
	free(s);
}

/* dsn_not_a_report - no reader, or no recipient */
static void
dsn_not_a_report(void **state)
{
	char *s;

	(void)state;
	assert_null(dsn_new(NULL));
	assert_null(dsn_new("text/plain"));
	assert_null(dsn_new("multipart/reportx; boundary=a"));
	assert_null(dsn_new("multipart/report; report-type=delivery-status"));
	assert_null(dsn_new("multipart/report; boundary=\"\""));
	/* a report without a status part: nothing */
	s = run("multipart/report; boundary=a", "--a\nContent-Type: text/plain\n\n"
	    "Final-Recipient: rfc822; x@y.example\nAction: failed\n--a--\n", 3);
	assert_string_equal(s, "");
	free(s);
	dsn_free(NULL);
}

/* dsn_hostile_input_stays_bounded - header-breaking characters dropped, long lines cut, eight recipients kept */
static void
dsn_hostile_input_stays_bounded(void **state)
{
	struct buf body = BUF_INIT;
	char *s;
	int i;

	(void)state;
	buf_puts(&body, "--a\nContent-Type: message/delivery-status\n\n");
	buf_puts(&body, "Final-Recipient: rfc822; <ev;il>,\"x\"@a.example\r\n"
	    "Action: failed\nStatus: 5.1.1; X-Evil: 1\n\n");
	buf_puts(&body, "Final-Recipient: rfc822; ");
	for (i = 0; i < 5000; i++)
		buf_putc(&body, 'a');
	buf_puts(&body, "@long.example\nAction: failed\nStatus: 5.9.9999999999999999999\n\n");
	for (i = 0; i < 20; i++)
		buf_printf(&body, "Final-Recipient: rfc822; r%d@x.example\n"
		    "Action: failed\nStatus: 5.1.1\n\n", i);
	buf_puts(&body, "--a--\n");
	s = run("multipart/report; boundary=a", buf_cstr(&body), 13);
	assert_non_null(s);
	assert_non_null(strstr(s, "; failed=<evilx@a.example>,<aaaa"));
	assert_null(strchr(strstr(s, "evil"), '"'));
	assert_null(strstr(s, "X-Evil"));
	assert_non_null(strstr(s, "r5@x.example"));	/* 2 + 6 = 8 kept */
	assert_null(strstr(s, "r6@x.example"));
	assert_true(strlen(s) < 8 * 300);
	free(s);
	buf_free(&body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dsn_failed_recipients_in_any_chunking),
		cmocka_unit_test(dsn_delay_and_lf_only),
		cmocka_unit_test(dsn_not_a_report),
		cmocka_unit_test(dsn_hostile_input_stays_bounded),
	};

	return cmocka_run_group_tests_name("dsn", tests, NULL, NULL);
}

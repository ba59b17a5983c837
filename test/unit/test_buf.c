/*
 * test_buf.c - the growable buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

/* buf_grows_and_stays_terminated - appends of every size */
static void
buf_grows_and_stays_terminated(void **state)
{
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	assert_string_equal(buf_cstr(&b), "");
	for (i = 0; i < 10000; i++)
		buf_putc(&b, 'a' + (int)(i % 26));
	assert_int_equal(b.len, 10000);
	assert_int_equal(b.data[10000], '\0');
	assert_int_equal(b.data[9999], 'a' + 9999 % 26);
	buf_reset(&b);
	assert_string_equal(buf_cstr(&b), "");
	buf_printf(&b, "%s=%d;", "x", 42);
	buf_puts(&b, "tail");
	assert_string_equal(buf_cstr(&b), "x=42;tail");
	buf_append(&b, "\0bin", 4);
	assert_int_equal(b.len, 13);
	buf_free(&b);
	assert_null(b.data);
}

/* buf_printf_long_output - formatted output longer than the first allocation */
static void
buf_printf_long_output(void **state)
{
	struct buf b = BUF_INIT;
	char big[5000];
	char *s;

	(void)state;
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "<%s>", big);
	assert_int_equal(b.len, sizeof(big) + 1);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[b.len - 1], '>');
	s = buf_steal(&b);
	assert_int_equal(strlen(s), sizeof(big) + 1);
	assert_int_equal(b.len, 0);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_grows_and_stays_terminated),
		cmocka_unit_test(buf_printf_long_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

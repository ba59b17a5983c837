/*
 * test_strmap.c - the loader's string hash table: put, get, duplicates,
 * growth, case folding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"

/* strmap_puts_and_gets - values come back; a second put keeps the first */
static void
strmap_puts_and_gets(void **state)
{
	struct strmap m;
	size_t *v;

	(void)state;
	strmap_init(&m, 4, 0);
	assert_null(strmap_get(&m, "a.example"));
	assert_null(strmap_put(&m, "a.example", 1));
	assert_null(strmap_put(&m, "b.example", 2));
	v = strmap_put(&m, "a.example", 3);
	assert_non_null(v);
	assert_int_equal(*v, 1);
	assert_int_equal(*strmap_get(&m, "b.example"), 2);
	assert_null(strmap_get(&m, "A.example"));	/* case counts */
	assert_null(strmap_get(&m, ""));
	assert_int_equal(m.n, 2);
	strmap_free(&m);
	assert_null(strmap_get(&m, "a.example"));	/* freed: empty */
}

/* strmap_grows - 100,000 keys from a small start, every one found */
static void
strmap_grows(void **state)
{
	enum { N = 100000 };
	char (*keys)[32] = calloc(N, sizeof(*keys));
	struct strmap m;
	size_t i, *v;

	(void)state;
	assert_non_null(keys);
	strmap_init(&m, 1, 0);
	for (i = 0; i < N; i++) {
		(void)snprintf(keys[i], sizeof(keys[i]), "d%zu.scale.test", i);
		assert_null(strmap_put(&m, keys[i], i));
	}
	assert_int_equal(m.n, N);
	assert_true(m.n * 2 <= m.mask + 1);
	for (i = 0; i < N; i++) {
		v = strmap_get(&m, keys[i]);
		assert_non_null(v);
		assert_int_equal(*v, i);
	}
	assert_null(strmap_get(&m, "d100000.scale.test"));
	strmap_free(&m);
	free(keys);
}

/* strmap_icase - with icase, ASCII case does not make a new key */
static void
strmap_icase(void **state)
{
	struct strmap m;
	size_t *v;

	(void)state;
	strmap_init(&m, 0, 1);
	assert_null(strmap_put(&m, "Bounce.Customer.Example", 7));
	v = strmap_put(&m, "bounce.customer.example", 8);
	assert_non_null(v);
	assert_int_equal(*v, 7);
	assert_int_equal(*strmap_get(&m, "BOUNCE.CUSTOMER.EXAMPLE"), 7);
	assert_null(strmap_get(&m, "bounce.customer.example."));
	strmap_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strmap_puts_and_gets),
		cmocka_unit_test(strmap_grows),
		cmocka_unit_test(strmap_icase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

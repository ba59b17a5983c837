/*
 * test_dnscache.c - answers kept in front of the resolver: hits, keys,
 * TTLs, what is never kept, the bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dnscache.h"
#include "base/xalloc.h"

/* answer - a result with one TXT record, text t */
static void
answer(struct dns_result *r, enum dns_status st, int ttl, const char *t)
{
	memset(r, 0, sizeof(*r));
	r->status = st;
	r->ttl = ttl;
	if (st == DNS_OK) {
		r->n = 1;
		r->data = xcalloc(1, sizeof(*r->data));
		r->len = xcalloc(1, sizeof(*r->len));
		r->len[0] = strlen(t);
		r->data[0] = xmalloc(r->len[0]);
		memcpy(r->data[0], t, r->len[0]);
		r->packet_len = 12;
		r->packet = xcalloc(1, 12);
	}
}

/* dnscache_hits_and_keys - a kept answer comes back as a copy, under any case and with a final dot */
static void
dnscache_hits_and_keys(void **state)
{
	struct dnscache *dc = dnscache_new(100);
	struct dns_result a, r;

	(void)state;
	answer(&a, DNS_OK, 300, "v=spf1 -all");
	dnscache_put(dc, "Example.COM", 16, &a, 1000);
	dns_result_free(&a);		/* the cache holds its own copy */
	assert_int_equal(dnscache_get(dc, "example.com.", 16, &r, 2000), 1);
	assert_int_equal(r.status, DNS_OK);
	assert_int_equal(r.n, 1);
	assert_memory_equal(r.data[0], "v=spf1 -all", 11);
	assert_int_equal(r.ttl, 299);	/* what is left of it */
	dns_result_free(&r);
	assert_int_equal(dnscache_get(dc, "example.com", 1, &r, 2000), 0);
	assert_int_equal(dnscache_get(dc, "www.example.com", 16, &r, 2000), 0);
	dnscache_free(dc);
}

/* dnscache_ttls - expired answers go; negative ones are kept; failures, TTL 0 never */
static void
dnscache_ttls(void **state)
{
	struct dnscache *dc = dnscache_new(100);
	struct dns_result a, r;

	(void)state;
	answer(&a, DNS_OK, 10, "x");
	dnscache_put(dc, "a.example", 16, &a, 0);
	dns_result_free(&a);
	assert_int_equal(dnscache_get(dc, "a.example", 16, &r, 9999), 1);
	dns_result_free(&r);
	assert_int_equal(dnscache_get(dc, "a.example", 16, &r, 10000), 0);
	assert_int_equal(dnscache_count(dc), 0);
	answer(&a, DNS_NXDOMAIN, 60, NULL);
	dnscache_put(dc, "b.example", 16, &a, 0);
	assert_int_equal(dnscache_get(dc, "b.example", 16, &r, 1), 1);
	assert_int_equal(r.status, DNS_NXDOMAIN);
	answer(&a, DNS_TEMPFAIL, 60, NULL);
	dnscache_put(dc, "c.example", 16, &a, 0);
	assert_int_equal(dnscache_get(dc, "c.example", 16, &r, 1), 0);
	answer(&a, DNS_OK, 0, "y");
	dnscache_put(dc, "d.example", 16, &a, 0);
	dns_result_free(&a);
	assert_int_equal(dnscache_get(dc, "d.example", 16, &r, 1), 0);
	answer(&a, DNS_OK, 86400 * 7, "z");	/* kept an hour at most */
	dnscache_put(dc, "e.example", 16, &a, 0);
	dns_result_free(&a);
	assert_int_equal(dnscache_get(dc, "e.example", 16, &r, 3600 * 1000), 0);
	dnscache_free(dc);
}

/* dnscache_bounded - never more than its bound, the oldest going first */
static void
dnscache_bounded(void **state)
{
	struct dnscache *dc = dnscache_new(64);
	struct dns_result a, r;
	char name[64];
	int i, kept = 0;

	(void)state;
	answer(&a, DNS_OK, 300, "k");
	for (i = 0; i < 5000; i++) {
		(void)snprintf(name, sizeof(name), "d%d.example", i);
		dnscache_put(dc, name, 16, &a, 0);
	}
	dns_result_free(&a);
	assert_true(dnscache_count(dc) <= 64 + 16);
	assert_true(dnscache_count(dc) >= 16);
	assert_int_equal(dnscache_get(dc, "d4999.example", 16, &r, 1), 1);
	dns_result_free(&r);
	for (i = 0; i < 100; i++) {
		(void)snprintf(name, sizeof(name), "d%d.example", i);
		if (dnscache_get(dc, name, 16, &r, 1)) {
			kept++;
			dns_result_free(&r);
		}
	}
	assert_int_equal(kept, 0);	/* the oldest went */
	dnscache_free(dc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dnscache_hits_and_keys),
		cmocka_unit_test(dnscache_ttls),
		cmocka_unit_test(dnscache_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

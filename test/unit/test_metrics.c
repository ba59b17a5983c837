/*
 * test_metrics.c - the counters (stats.c: shards summed, histogram
 * buckets) and their exposition (metrics.c: text format 0.0.4, # HELP and
 * # TYPE before each family, escaping, cumulative buckets).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/stats.h"
#include "daemon/metrics.h"

#define THREADS 8
#define ADDS 20000

/* adder - ADDS counts and observations from one thread */
static void *
adder(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ADDS; i++) {
		stats_inc(STATS_MESSAGES_ABORTED);
		stats_observe(STATS_H_EOM, 300);
	}
	return NULL;
}

/* stats_threads_sum_exactly - concurrent adds from more threads than one shard are all counted */
static void
stats_threads_sum_exactly(void **state)
{
	struct stats_snapshot before, after;
	pthread_t t[THREADS];
	int i;

	(void)state;
	stats_read(&before);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, NULL), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	stats_read(&after);
	assert_int_equal(after.slot[STATS_MESSAGES_ABORTED]
	    - before.slot[STATS_MESSAGES_ABORTED], THREADS * ADDS);
	/* 300 us: above the first bound (250), within the second (500) */
	assert_int_equal(after.hist[STATS_H_EOM][1] - before.hist[STATS_H_EOM][1],
	    THREADS * ADDS);
	assert_int_equal(after.hist[STATS_H_EOM][0], before.hist[STATS_H_EOM][0]);
	assert_int_equal(after.hist[STATS_H_EOM][STATS_NBOUNDS + 1]
	    - before.hist[STATS_H_EOM][STATS_NBOUNDS + 1], 300ull * THREADS * ADDS);
}

/* stats_bucket_bounds_are_inclusive - a value on a bound counts in its bucket; above all: +Inf */
static void
stats_bucket_bounds_are_inclusive(void **state)
{
	const uint64_t *b = stats_bounds(STATS_H_DNS);
	struct stats_snapshot before, after;
	size_t i;

	(void)state;
	for (i = 1; i < STATS_NBOUNDS; i++)
		assert_true(b[i] > b[i - 1]);
	stats_read(&before);
	stats_observe(STATS_H_DNS, b[3]);
	stats_observe(STATS_H_DNS, b[3] + 1);
	stats_observe(STATS_H_DNS, b[STATS_NBOUNDS - 1] + 1);
	stats_observe(STATS_H_DNS, 0);
	stats_read(&after);
	assert_int_equal(after.hist[STATS_H_DNS][3] - before.hist[STATS_H_DNS][3], 1);
	assert_int_equal(after.hist[STATS_H_DNS][4] - before.hist[STATS_H_DNS][4], 1);
	assert_int_equal(after.hist[STATS_H_DNS][STATS_NBOUNDS]
	    - before.hist[STATS_H_DNS][STATS_NBOUNDS], 1);
	assert_int_equal(after.hist[STATS_H_DNS][0] - before.hist[STATS_H_DNS][0], 1);
	/* out of range: ignored, nothing else moves */
	stats_add(STATS_NSLOTS, 1);
	stats_add((size_t)-1, 1);
	stats_read(&before);
	assert_memory_equal(before.slot, after.slot, sizeof(after.slot));
}

/* render - the exposition of s with fixed gauges */
static char *
render(const struct stats_snapshot *s, const char *version)
{
	struct metrics_gauges g;
	struct buf out = BUF_INIT;

	memset(&g, 0, sizeof(g));
	g.connections = 3;
	g.parked = 2;
	g.in_flight = 2;
	g.have_config = 1;
	g.domains = 4;
	g.keys[1] = 5;
	g.start.tv_sec = 1700000000;
	g.version = version;
	g.engine = "builtin";
	metrics_render(s, &g, &out);
	return buf_steal(&out);
}

/* has_line - text holds this whole line */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

/* metrics_every_sample_has_help_and_type - the line grammar, and each family announced once, before its samples */
static void
metrics_every_sample_has_help_and_type(void **state)
{
	struct stats_snapshot s;
	char *text, *save = NULL, *line, family[128], type[16] = "";
	regex_t sample, help, typel;
	regmatch_t m[3];
	size_t nsamples = 0, n;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.slot[STATS_MESSAGES + STATS_MODE_SIGN * STATS_NOUTCOMES
	    + STATS_OUTCOME_ACCEPT] = 5;
	s.slot[STATS_DNS_ERRORS + STATS_DNS_SERVFAIL] = 7;
	text = render(&s, "0.1.0");
	assert_int_equal(regcomp(&sample, "^(authmilter_[a-z_]+)"
	    "(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? [0-9]+(\\.[0-9]+)?$",
	    REG_EXTENDED), 0);
	assert_int_equal(regcomp(&help, "^# HELP (authmilter_[a-z_]+) [^ ].*$",
	    REG_EXTENDED), 0);
	assert_int_equal(regcomp(&typel, "^# TYPE (authmilter_[a-z_]+) "
	    "(counter|gauge|histogram)$", REG_EXTENDED), 0);
	family[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&help, line, 2, m, 0) == 0) {
			n = (size_t)(m[1].rm_eo - m[1].rm_so);
			assert_true(n < sizeof(family));
			memcpy(family, line + m[1].rm_so, n);
			family[n] = '\0';
			type[0] = '\0';
			continue;
		}
		if (regexec(&typel, line, 3, m, 0) == 0) {
			assert_int_equal((size_t)(m[1].rm_eo - m[1].rm_so),
			    strlen(family));
			assert_memory_equal(line + m[1].rm_so, family,
			    strlen(family));
			n = (size_t)(m[2].rm_eo - m[2].rm_so);
			memcpy(type, line + m[2].rm_so, n);
			type[n] = '\0';
			if (strcmp(type, "counter") == 0) {
				n = strlen(family);
				if (n < 6 || strcmp(family + n - 6, "_total") != 0)
					fail_msg("counter %s does not end in _total",
					    family);
			}
			continue;
		}
		if (regexec(&sample, line, 2, m, 0) != 0)
			fail_msg("not a sample line: \"%s\"", line);
		if (type[0] == '\0')
			fail_msg("sample before its # TYPE: \"%s\"", line);
		/* a sample names its family (histograms: plus a suffix) */
		if (strncmp(line, family, strlen(family)) != 0)
			fail_msg("\"%s\" under family %s", line, family);
		nsamples++;
	}
	assert_true(nsamples > 60);
	regfree(&sample);
	regfree(&help);
	regfree(&typel);
	free(text);
}

/* metrics_values_and_labels - a slot's value under its labels; the gauges */
static void
metrics_values_and_labels(void **state)
{
	struct stats_snapshot s;
	char *text;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.slot[STATS_MESSAGES + STATS_MODE_VERIFY * STATS_NOUTCOMES
	    + STATS_OUTCOME_QUARANTINE] = 5;
	s.slot[STATS_SIGNATURES + 1 * STATS_NKEY_STATES + 1] = 9;
	s.slot[STATS_DNS_ERRORS + STATS_DNS_TIMEOUT] = 7;
	s.slot[STATS_ACTIONS + STATS_ACTION_DMARC_REJECT] = 2;
	s.slot[STATS_DKIM_NONE] = 4;
	s.slot[STATS_RELOADS + 1] = 1;
	s.slot[STATS_GENERATION] = 3;
	s.slot[STATS_KEYCHECK + KEY_PUB_MISSING] = 6;
	text = render(&s, "0.1.0");
	assert_true(has_line(text, "authmilter_key_check_lookups_total"
	    "{result=\"missing\"} 6"));
	assert_true(has_line(text, "authmilter_key_check_lookups_total"
	    "{result=\"published\"} 0"));
	assert_true(has_line(text, "authmilter_messages_total{mode=\"verify\","
	    "outcome=\"quarantine\"} 5"));
	assert_true(has_line(text, "authmilter_messages_total{mode=\"sign\","
	    "outcome=\"accept\"} 0"));
	assert_true(has_line(text, "authmilter_signatures_total{algorithm="
	    "\"ed25519-sha256\",key_state=\"published\"} 9"));
	assert_true(has_line(text, "authmilter_dns_errors_total{kind=\"timeout\"} 7"));
	assert_true(has_line(text, "authmilter_policy_actions_total{action="
	    "\"reject\",reason=\"dmarc\"} 2"));
	assert_true(has_line(text, "authmilter_dkim_results_total{result=\"none\"} 4"));
	assert_true(has_line(text, "authmilter_reloads_total{result=\"failed\"} 1"));
	assert_true(has_line(text, "authmilter_config_generation 3"));
	assert_true(has_line(text, "authmilter_connections_open 3"));
	assert_true(has_line(text, "authmilter_connections_parked 2"));
	assert_true(has_line(text, "authmilter_messages_in_flight 2"));
	assert_true(has_line(text, "authmilter_domains 4"));
	assert_true(has_line(text, "authmilter_keys{state=\"published\"} 5"));
	assert_true(has_line(text, "authmilter_start_time_seconds 1700000000"));
	assert_true(has_line(text, "authmilter_build_info{version=\"0.1.0\","
	    "engine=\"builtin\"} 1"));
	assert_true(has_line(text, "# TYPE authmilter_messages_total counter"));
	free(text);
}

/* metrics_histogram_buckets_cumulative - each bucket counts all below it; +Inf is _count; _sum in seconds */
static void
metrics_histogram_buckets_cumulative(void **state)
{
	struct stats_snapshot s;
	char *text;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.hist[STATS_H_DNS][0] = 1;		/* <= 0.0005 */
	s.hist[STATS_H_DNS][2] = 2;		/* <= 0.0025 */
	s.hist[STATS_H_DNS][STATS_NBOUNDS] = 3;	/* beyond 5 s */
	s.hist[STATS_H_DNS][STATS_NBOUNDS + 1] = 1500000;	/* 1.5 s */
	text = render(&s, "0.1.0");
	assert_true(has_line(text, "# TYPE authmilter_dns_query_duration_seconds "
	    "histogram"));
	assert_true(has_line(text, "authmilter_dns_query_duration_seconds_bucket"
	    "{le=\"0.0005\"} 1"));
	assert_true(has_line(text, "authmilter_dns_query_duration_seconds_bucket"
	    "{le=\"0.001\"} 1"));
	assert_true(has_line(text, "authmilter_dns_query_duration_seconds_bucket"
	    "{le=\"0.0025\"} 3"));
	assert_true(has_line(text, "authmilter_dns_query_duration_seconds_bucket"
	    "{le=\"5\"} 3"));
	assert_true(has_line(text, "authmilter_dns_query_duration_seconds_bucket"
	    "{le=\"+Inf\"} 6"));
	assert_true(has_line(text, "authmilter_dns_query_duration_seconds_count 6"));
	assert_true(has_line(text, "authmilter_dns_query_duration_seconds_sum 1.5"));
	assert_true(has_line(text, "authmilter_reload_duration_seconds_bucket"
	    "{le=\"300\"} 0"));
	free(text);
}

struct escape_case {
	const char *in;
	const char *out;
};

/* metrics_label_values_escaped - \, " and newline escaped; the rest as is */
static void
metrics_label_values_escaped(void **state)
{
	static const struct escape_case cases[] = {
		{ "plain", "plain" },
		{ "a\"b", "a\\\"b" },
		{ "back\\slash", "back\\\\slash" },
		{ "two\nlines", "two\\nlines" },
		{ "", "" },
		{ "caf\xc3\xa9 {x=1}", "caf\xc3\xa9 {x=1}" },
	};
	struct stats_snapshot s;
	struct buf b = BUF_INIT;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		metrics_escape(cases[i].in, &b);
		assert_string_equal(buf_cstr(&b), cases[i].out);
	}
	buf_free(&b);
	memset(&s, 0, sizeof(s));
	text = render(&s, "1.0 \"beta\"\n");
	assert_true(has_line(text, "authmilter_build_info{version="
	    "\"1.0 \\\"beta\\\"\\n\",engine=\"builtin\"} 1"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stats_threads_sum_exactly),
		cmocka_unit_test(stats_bucket_bounds_are_inclusive),
		cmocka_unit_test(metrics_every_sample_has_help_and_type),
		cmocka_unit_test(metrics_values_and_labels),
		cmocka_unit_test(metrics_histogram_buckets_cumulative),
		cmocka_unit_test(metrics_label_values_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

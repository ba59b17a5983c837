/*
 * onboard_out.c - authmilter-check's onboarding verdicts as text lines or
 * JSON, and the counts over many domains (onboard.h). Pure: results in,
 * text appended to the caller's buf.
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "tools/onboard.h"

static const char *const onboard_out_tags[] = { "OK  ", "WARN", "FAIL" };

/* onboard_text - the verdict lines of one domain */
void
onboard_text(const struct onboard_result *r, int problems_only,
    struct buf *out)
{
	const struct onboard_item *it;
	size_t i;

	if (problems_only && r->worst == ONBOARD_OK)
		return;
	buf_printf(out, "== %s\n", r->target->domain);
	for (i = 0; i < r->n; i++) {
		it = &r->items[i];
		if (problems_only && it->level == ONBOARD_OK)
			continue;
		buf_printf(out, "%s %-40s %s\n", onboard_out_tags[it->level],
		    it->what, buf_cstr(&it->detail));
	}
	buf_printf(out, "%s %s\n", onboard_out_tags[r->worst], r->target->domain);
}

/* onboard_json_records - the item's record lines as a JSON array */
static void
onboard_json_records(const struct onboard_item *it, struct buf *out)
{
	const char *p = buf_cstr(&it->records), *nl;
	struct buf line = BUF_INIT;
	int first = 1;

	buf_putc(out, '[');
	for (; *p != '\0'; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		buf_reset(&line);
		buf_append(&line, p, (size_t)(nl - p));
		if (!first)
			buf_putc(out, ',');
		first = 0;
		json_string(out, buf_cstr(&line));
	}
	buf_putc(out, ']');
	buf_free(&line);
}

/* onboard_json - one domain as a JSON object */
void
onboard_json(const struct onboard_result *r, int problems_only,
    struct buf *out)
{
	const struct onboard_item *it;
	size_t i;
	int first = 1;

	buf_puts(out, "{\"domain\":");
	json_string(out, r->target->domain);
	buf_puts(out, ",\"bounce_domain\":");
	if (r->target->bounce != NULL)
		json_string(out, r->target->bounce);
	else
		buf_puts(out, "null");
	buf_printf(out, ",\"status\":\"%s\",\"queries\":%u,\"checks\":[",
	    onboard_level_name(r->worst), r->queries);
	for (i = 0; i < r->n; i++) {
		it = &r->items[i];
		if (problems_only && it->level == ONBOARD_OK)
			continue;
		buf_puts(out, first ? "" : ",");
		first = 0;
		buf_printf(out, "{\"check\":\"%s\",\"name\":",
		    onboard_kind_name(it->kind));
		json_string(out, it->what);
		buf_printf(out, ",\"status\":\"%s\",\"detail\":",
		    onboard_level_name(it->level));
		json_string(out, buf_cstr(&it->detail));
		buf_puts(out, ",\"records\":");
		onboard_json_records(it, out);
		buf_putc(out, '}');
	}
	buf_puts(out, "]}");
}

/* onboard_summary_add - count one domain's verdicts */
void
onboard_summary_add(struct onboard_summary *s, const struct onboard_result *r)
{
	size_t i;

	s->domains++;
	s->by_level[r->worst]++;
	s->queries += r->queries;
	for (i = 0; i < r->n; i++)
		s->kinds[r->items[i].kind][r->items[i].level]++;
}

/* onboard_summary_text - one line for the domains, one per check */
void
onboard_summary_text(const struct onboard_summary *s, struct buf *out)
{
	int k;

	buf_printf(out, "== summary: %zu domains: %zu OK, %zu WARN, %zu FAIL; "
	    "%lu DNS queries\n", s->domains, s->by_level[ONBOARD_OK],
	    s->by_level[ONBOARD_WARN], s->by_level[ONBOARD_FAIL], s->queries);
	for (k = 0; k < ONBOARD_NKINDS; k++)
		buf_printf(out, "summary %-14s OK %zu WARN %zu FAIL %zu\n",
		    onboard_kind_name(k), s->kinds[k][ONBOARD_OK],
		    s->kinds[k][ONBOARD_WARN], s->kinds[k][ONBOARD_FAIL]);
}

/* onboard_summary_json - the counts as a JSON object */
void
onboard_summary_json(const struct onboard_summary *s, struct buf *out)
{
	int k;

	buf_printf(out, "{\"domains\":%zu,\"OK\":%zu,\"WARN\":%zu,\"FAIL\":%zu,"
	    "\"queries\":%lu,\"checks\":{", s->domains, s->by_level[ONBOARD_OK],
	    s->by_level[ONBOARD_WARN], s->by_level[ONBOARD_FAIL], s->queries);
	for (k = 0; k < ONBOARD_NKINDS; k++)
		buf_printf(out, "%s\"%s\":{\"OK\":%zu,\"WARN\":%zu,\"FAIL\":%zu}",
		    k ? "," : "", onboard_kind_name(k), s->kinds[k][ONBOARD_OK],
		    s->kinds[k][ONBOARD_WARN], s->kinds[k][ONBOARD_FAIL]);
	buf_puts(out, "}}");
}

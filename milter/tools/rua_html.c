/*
 * rua_html.c - the summary of a domain's received aggregate reports as one
 * static HTML page (authmilter-report html): the verdict, the totals, the
 * messages per day as inline SVG bars (pass green, fail red) beside their
 * numbers, and the source table, unaligned sources first. Self-contained:
 * one inline style sheet, no script, no external asset, so it can be
 * mailed or served as it is. Everything from a report is escaped.
 */
#include <stdio.h>
#include <string.h>

#include "tools/rua_summary.h"

#define RUA_BAR_W	300		/* width of the longest day bar, px */

/* rua_html_esc - text escaped for HTML */
static void
rua_html_esc(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '&': buf_puts(out, "&amp;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		default:
			if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
				buf_putc(out, '?');
			else
				buf_putc(out, *s);
		}
}

/* rua_html_list - a "\n" list, escaped, joined by sep */
static void
rua_html_list(struct buf *out, const char *list, const char *sep)
{
	char one[2] = { '\0', '\0' };

	for (; list != NULL && *list != '\0'; list++) {
		one[0] = *list;
		if (*list == '\n')
			buf_puts(out, sep);
		else
			rua_html_esc(out, one);
	}
}

/* rua_html_head - doctype, title and the style sheet */
static void
rua_html_head(const struct rua_summary *s, struct buf *out)
{
	buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset="
	    "\"utf-8\">\n<title>DMARC aggregate reports: ");
	rua_html_esc(out, s->domain);
	buf_puts(out, "</title>\n<style>\n"
	    "body{font-family:sans-serif;margin:2em;color:#222;background:#fff}\n"
	    "table{border-collapse:collapse;margin:1em 0}\n"
	    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}\n"
	    "th{background:#eee}\ntd.l,th.l{text-align:left}\n"
	    ".safe{background:#dfd;border:2px solid #3a3;padding:.6em}\n"
	    ".unsafe{background:#fdd;border:2px solid #c33;padding:.6em}\n"
	    "tr.bad td{background:#fee}\n"
	    "</style></head><body>\n");
}

/* rua_html_days - the per-day table with its bars */
static void
rua_html_days(const struct rua_summary *s, struct buf *out)
{
	unsigned long long max = 1;
	char d[32];
	size_t i;

	for (i = 0; i < s->nday; i++)
		if (s->day[i].n > max)
			max = s->day[i].n;
	buf_puts(out, "<h2>Per day</h2>\n<table><tr><th class=\"l\">day</th>"
	    "<th>messages</th><th>DMARC pass</th><th>fail</th>"
	    "<th class=\"l\">pass / fail</th></tr>\n");
	for (i = 0; i < s->nday; i++) {
		const struct rua_day *y = &s->day[i];
		unsigned long long wp = y->pass * RUA_BAR_W / max;
		unsigned long long wf = (y->n - y->pass) * RUA_BAR_W / max;

		buf_printf(out, "<tr><td class=\"l\">%s</td><td>%llu</td>"
		    "<td>%llu</td><td>%llu</td><td class=\"l\"><svg width=\"%d\" "
		    "height=\"14\" role=\"img\" aria-label=\"%llu pass, %llu "
		    "fail\"><rect x=\"0\" y=\"1\" width=\"%llu\" height=\"12\" "
		    "fill=\"#3a3\"/><rect x=\"%llu\" y=\"1\" width=\"%llu\" "
		    "height=\"12\" fill=\"#c33\"/></svg></td></tr>\n",
		    rua_summary_date(y->day, d, sizeof(d)), y->n, y->pass,
		    y->n - y->pass, RUA_BAR_W, y->pass, y->n - y->pass, wp, wp,
		    wf);
	}
	buf_puts(out, "</table>\n");
}

/* rua_html_sources - the source table */
static void
rua_html_sources(const struct rua_summary *s, struct buf *out)
{
	size_t i;

	buf_puts(out, "<h2>Sources</h2>\n<table><tr><th class=\"l\">source"
	    "</th><th class=\"l\">name</th><th>messages</th><th>DMARC pass</th>"
	    "<th>DKIM aligned</th><th>SPF aligned</th><th class=\"l\">aligned"
	    "</th><th class=\"l\">reported by</th></tr>\n");
	for (i = 0; i < s->nsrc; i++) {
		const struct rua_source *src = &s->src[i];
		int bad = src->pass < src->n;

		buf_printf(out, "<tr%s><td class=\"l\">", bad ? " class=\"bad\""
		    : "");
		rua_html_esc(out, src->ip);
		buf_puts(out, "</td><td class=\"l\">");
		rua_html_esc(out, src->name);
		buf_printf(out, "</td><td>%llu</td><td>%.1f%%</td><td>%.1f%%</td>"
		    "<td>%.1f%%</td><td class=\"l\">%s</td><td class=\"l\">",
		    src->n, rua_pct(src->pass, src->n), rua_pct(src->dkim, src->n),
		    rua_pct(src->spf, src->n), bad ? "NO" : "yes");
		rua_html_list(out, src->reporters, ", ");
		buf_puts(out, "</td></tr>\n");
	}
	buf_puts(out, "</table>\n");
}

/* rua_html_verdict - the verdict escaped, each " -> " an arrow */
static void
rua_html_verdict(struct buf *out, const char *v)
{
	struct buf piece = BUF_INIT;
	const char *a;

	while ((a = strstr(v, " -> ")) != NULL) {
		buf_reset(&piece);
		buf_append(&piece, v, (size_t)(a - v));
		rua_html_esc(out, buf_cstr(&piece));
		buf_puts(out, " &rarr; ");
		v = a + 4;
	}
	rua_html_esc(out, v);
	buf_free(&piece);
}

/* rua_summary_html - the page */
void
rua_summary_html(const struct rua_summary *s, const struct rua_thresholds *t,
    struct buf *out)
{
	char d1[32], d2[32];

	rua_html_head(s, out);
	buf_puts(out, "<h1>DMARC aggregate reports for ");
	rua_html_esc(out, s->domain);
	buf_puts(out, "</h1>\n<p>");
	buf_printf(out, "%zu reports from ", s->reports);
	rua_html_list(out, s->reporters, ", ");
	if (s->reports)
		buf_printf(out, ", %s to %s", rua_summary_date(s->first, d1,
		    sizeof(d1)), rua_summary_date(s->last, d2, sizeof(d2)));
	buf_puts(out, ". Published policy: p=");
	rua_html_esc(out, s->p[0] ? s->p : "(none)");
	buf_puts(out, "</p>\n");
	buf_printf(out, "<p class=\"%s\"><b>Verdict:</b> ", s->safe ? "safe"
	    : "unsafe");
	rua_html_verdict(out, s->verdict);
	buf_printf(out, "<br><small>thresholds: %.1f%% passing DMARC, reports "
	    "over %ld days, %llu messages</small></p>\n", t->min_pass,
	    t->min_days, t->min_messages);
	buf_printf(out, "<table><tr><th class=\"l\">messages</th><th>DMARC pass"
	    "</th><th>DKIM aligned pass</th><th>SPF aligned pass</th>"
	    "<th>unaligned sources</th></tr>\n<tr><td class=\"l\">%llu</td>"
	    "<td>%llu (%.1f%%)</td><td>%llu (%.1f%%)</td><td>%llu (%.1f%%)</td>"
	    "<td>%zu (%llu messages, %.1f%%)</td></tr></table>\n", s->n, s->pass,
	    rua_pct(s->pass, s->n), s->dkim, rua_pct(s->dkim, s->n), s->spf,
	    rua_pct(s->spf, s->n), s->unaligned, s->unaligned_n,
	    rua_pct(s->unaligned_n, s->n));
	rua_html_days(s, out);
	rua_html_sources(s, out);
	buf_puts(out, "<p><small>Made by authmilter-report from the aggregate "
	    "reports (RFC 7489) in the history store.</small></p>\n"
	    "</body></html>\n");
}

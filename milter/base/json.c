/*
 * json.c - JSON strings for the tools' --json output (json.h).
 */
#include "base/buf.h"
#include "base/json.h"

/* json_string - s as a JSON string, quotes included */
void
json_string(struct buf *out, const char *s)
{
	const unsigned char *p;

	buf_putc(out, '"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else if (*p < 0x20 || *p >= 0x7f)
			/* bytes, not UTF-8: keep the document ASCII and valid */
			buf_printf(out, "\\u%04x", *p);
		else
			buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

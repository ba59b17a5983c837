/*
 * json.h - JSON text for the tools' --json output: strings escaped so
 * that any bytes (DNS text is hostile) give a valid, ASCII-only document.
 * Pure; appends to a caller's buf.
 */
#ifndef AUTHMILTER_JSON_H
#define AUTHMILTER_JSON_H

#include "base/buf.h"

/* json_string - s as a JSON string, quotes included, appended to out (bytes >= 0x7f as \u00XX) */
void json_string(struct buf *out, const char *s);

#endif

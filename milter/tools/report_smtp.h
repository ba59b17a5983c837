/*
 * report_smtp.h - authmilter-report's SMTP client (report_sendmail =
 * smtp:HOST[:PORT]): one message to one recipient through a relay.
 */
#ifndef AUTHMILTER_REPORT_SMTP_H
#define AUTHMILTER_REPORT_SMTP_H

#include <stddef.h>

#include "base/buf.h"

/*
 * report_smtp_send - send msg (CRLF or LF lines) from from to to through
 * relay (HOST, HOST:PORT, [IPV6]:PORT; port 25 by default), greeting it
 * as helo; 0, or -1 with err (the relay's reply when it refused)
 */
int report_smtp_send(const char *relay, const char *helo, const char *from,
    const char *to, const struct buf *msg, char *err, size_t errlen);

#endif

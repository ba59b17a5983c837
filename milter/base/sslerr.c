/*
 * sslerr.c - OpenSSL's error queue as text, drained (see sslerr.h).
 *
 * Threading: works on the calling thread's queue only.
 */
#include <stdio.h>
#include <openssl/err.h>

#include "base/sslerr.h"

/* sslerr_take - the newest queued error as text; the queue emptied */
const char *
sslerr_take(const char *dflt, char *buf, size_t buflen)
{
	unsigned long e = ERR_peek_last_error();

	if (buflen == 0)
		return buf;
	if (e != 0)
		ERR_error_string_n(e, buf, buflen);
	else
		(void)snprintf(buf, buflen, "%s", dflt != NULL ? dflt : "");
	ERR_clear_error();
	return buf;
}

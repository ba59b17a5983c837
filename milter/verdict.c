/*
 * verdict.c - the outcomes the daemon can give the MTA, chosen on purpose.
 */
#include "verdict.h"

/* verdict_internal_error - accept unsigned or tempfail, as configured */
struct verdict
verdict_internal_error(const struct config *c)
{
	struct verdict v = { VERDICT_ACCEPT, NULL, NULL, NULL };

	if (c != NULL && c->on_internal_error == CONFIG_ON_ERROR_TEMPFAIL) {
		v.action = VERDICT_TEMPFAIL;
		v.rcode = "451";
		v.xcode = "4.3.0";
		v.text = "authmilter: temporary internal error, try again later";
	}
	return v;
}

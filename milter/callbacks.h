/*
 * callbacks.h - the libmilter callback table.
 */
#ifndef AUTHMILTER_CALLBACKS_H
#define AUTHMILTER_CALLBACKS_H

#include <libmilter/mfapi.h>

/* callbacks_table - the smfiDesc to register */
struct smfiDesc *callbacks_table(void);

#endif

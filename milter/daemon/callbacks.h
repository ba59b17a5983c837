/*
 * callbacks.h - the filter's callback table for the engine.
 */
#ifndef AUTHMILTER_CALLBACKS_H
#define AUTHMILTER_CALLBACKS_H

#include "daemon/engine.h"

struct history;
/* callbacks_set_history - record inbound messages' DMARC history into h (NULL: stop); set before serving */
void callbacks_set_history(struct history *h);
struct bounce_map;
/* callbacks_set_bounce_map - keep and look up stored-form bounce addresses in map (NULL: none); set before serving */
void callbacks_set_bounce_map(const struct bounce_map *map);
/* callbacks_history - the writer set by callbacks_set_history (NULL: none) */
struct history *callbacks_history(void);
/* callbacks_table - what we ask of the MTA and the callbacks */
const struct engine_callbacks *callbacks_table(void);

#endif

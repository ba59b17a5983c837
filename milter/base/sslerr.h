/*
 * sslerr.h - OpenSSL's error queue as text for error messages.
 *
 * OpenSSL keeps one error queue per thread; an error left in it is
 * reported again by the next unrelated failure, so every caller that
 * reports a failed OpenSSL call takes the queue through here, which
 * drains it. No shared state.
 */
#ifndef AUTHMILTER_SSLERR_H
#define AUTHMILTER_SSLERR_H

#include <stddef.h>

/*
 * sslerr_take - the text of the calling thread's newest OpenSSL error (the
 * reason the failed call gave) into buf, or dflt when the queue is empty
 * ("" when dflt is NULL); the queue is empty afterwards. Returns buf.
 */
const char *sslerr_take(const char *dflt, char *buf, size_t buflen);

#endif

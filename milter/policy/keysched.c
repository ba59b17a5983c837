/*
 * keysched.c - the key checker's queues and its spread periodic pass.
 *
 * Pure: owned by one thread, no clock, no I/O.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "policy/keysched.h"

/* keysched_fifo_free - release a FIFO and empty it */
static void
keysched_fifo_free(struct keysched_fifo *f)
{
	free(f->item);
	free(f->due);
	memset(f, 0, sizeof(*f));
}

/* keysched_fifo_push - append key i due at due */
static void
keysched_fifo_push(struct keysched_fifo *f, size_t i, long long due)
{
	if (f->head > 0 && f->head == f->len)
		f->head = f->len = 0;	/* drained: start over */
	if (f->len == f->cap) {
		if (f->head > f->cap / 2) {
			/* more than half is spent: move the live part down */
			memmove(f->item, f->item + f->head, (f->len - f->head)
			    * sizeof(*f->item));
			memmove(f->due, f->due + f->head, (f->len - f->head)
			    * sizeof(*f->due));
			f->len -= f->head;
			f->head = 0;
		} else {
			f->cap = f->cap ? 2 * f->cap : 64;
			f->item = xreallocarray(f->item, f->cap, sizeof(*f->item));
			f->due = xreallocarray(f->due, f->cap, sizeof(*f->due));
		}
	}
	f->item[f->len] = i;
	f->due[f->len++] = due;
}

/* keysched_init - n keys, nothing queued */
void
keysched_init(struct keysched *s, size_t n, long long interval, long long now)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->interval = interval > 0 ? interval : 0;
	s->period_start = now + s->interval;
}

/* keysched_reset - new keys, same phase */
void
keysched_reset(struct keysched *s, size_t n, long long interval,
    long long now)
{
	long long elapsed;

	keysched_fifo_free(&s->urgent);
	keysched_fifo_free(&s->retry);
	if (interval <= 0 || s->interval == 0) {
		/* no pass running: a new one begins an interval from now */
		keysched_init(s, n, interval, now);
		return;
	}
	s->n = n;
	s->interval = interval;
	s->cursor = 0;
	if (now < s->period_start) {
		if (s->period_start > now + interval)
			s->period_start = now + interval;	/* it shrank */
		return;
	}
	elapsed = now - s->period_start;
	s->period_start += elapsed / interval * interval;
	elapsed %= interval;
	/* the keys before this point of the period are done for it */
	s->cursor = (size_t)(((unsigned long long)elapsed * n
	    + (unsigned long long)interval - 1) / (unsigned long long)interval);
	if (s->cursor > n)
		s->cursor = n;
}

/* keysched_free - release the queues */
void
keysched_free(struct keysched *s)
{
	keysched_fifo_free(&s->urgent);
	keysched_fifo_free(&s->retry);
}

/* keysched_urgent - key i due at once */
void
keysched_urgent(struct keysched *s, size_t i)
{
	keysched_fifo_push(&s->urgent, i, LLONG_MIN);
}

/* keysched_retry - key i due at due */
void
keysched_retry(struct keysched *s, size_t i, long long due)
{
	keysched_fifo_push(&s->retry, i, due);
}

/* keysched_urgent_left - keys in the urgent queue */
size_t
keysched_urgent_left(const struct keysched *s)
{
	return s->urgent.len - s->urgent.head;
}

/* keysched_due - the periodic due time of key i */
long long
keysched_due(const struct keysched *s, size_t i)
{
	return s->period_start + (long long)((unsigned long long)i
	    * (unsigned long long)s->interval / (s->n ? s->n : 1));
}

/* keysched_periodic_due - when the pass's next key is due; LLONG_MAX: never */
static long long
keysched_periodic_due(const struct keysched *s)
{
	if (s->interval == 0 || s->n == 0)
		return LLONG_MAX;
	return keysched_due(s, s->cursor);
}

/* keysched_next - take the next key due at now */
enum keysched_from
keysched_next(struct keysched *s, long long now, size_t *i)
{
	if (s->urgent.head < s->urgent.len) {
		*i = s->urgent.item[s->urgent.head++];
		return KEYSCHED_URGENT;
	}
	if (s->retry.head < s->retry.len && s->retry.due[s->retry.head] <= now) {
		*i = s->retry.item[s->retry.head++];
		return KEYSCHED_RETRY;
	}
	if (keysched_periodic_due(s) > now)
		return KEYSCHED_NONE;
	*i = s->cursor++;
	if (s->cursor >= s->n) {
		/* the next period; one fallen behind starts afresh, no catch-up burst */
		s->cursor = 0;
		s->period_start += s->interval;
		if (s->period_start < now)
			s->period_start = now;
	}
	return KEYSCHED_PERIODIC;
}

/* keysched_wake - when the next key comes due */
long long
keysched_wake(const struct keysched *s, long long now)
{
	long long at = keysched_periodic_due(s);

	if (s->urgent.head < s->urgent.len)
		return now;
	if (s->retry.head < s->retry.len && s->retry.due[s->retry.head] < at)
		at = s->retry.due[s->retry.head];
	return at;
}

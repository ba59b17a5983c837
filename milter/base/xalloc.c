/*
 * xalloc.c - allocation wrappers that abort on exhaustion.
 *
 * Thread-safe (they only call malloc and friends). The abort is reported
 * through log.c, so it reaches syslog when the daemon logs there (stderr
 * is /dev/null in the background).
 */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "base/log.h"
#include "base/xalloc.h"

/* xalloc_die - report exhaustion where the logs go, allocating nothing, and abort */
static void
xalloc_die(size_t size)
{
	log_err(NULL, "out of memory (%zu bytes): aborting", size);
	abort();
}

/* xmalloc - malloc or die */
void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		xalloc_die(size);
	return p;
}

/* xcalloc - calloc or die */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		xalloc_die(nmemb * size);
	return p;
}

/* xrealloc - realloc or die */
void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		xalloc_die(size);
	return p;
}

/* xreallocarray - realloc an array with an overflow check */
void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		xalloc_die(SIZE_MAX);
	return xrealloc(ptr, nmemb * size);
}

/* xstrdup - strdup or die */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* xstrndup - copy at most n bytes of s, NUL-terminated */
char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

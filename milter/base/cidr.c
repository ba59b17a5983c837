/*
 * cidr.c - parse and match IPv4/IPv6 network lists.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"
#include "base/xalloc.h"

/* cidr_mask - zero the host bits of addr */
static void
cidr_mask(unsigned char *addr, int len, int prefix)
{
	int i;

	for (i = 0; i < len; i++) {
		int bits = prefix - 8 * i;

		if (bits >= 8)
			continue;
		addr[i] &= bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
	}
}

/* cidr_parse_one - parse one "addr[/len]" */
static int
cidr_parse_one(const char *tok, struct cidr *c, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 8], *slash, *end;
	long prefix;
	int max;

	if ((size_t)snprintf(addr, sizeof(addr), "%s", tok) >= sizeof(addr)) {
		(void)snprintf(err, errlen, "bad network address \"%.60s\"", tok);
		return -1;
	}
	slash = strchr(addr, '/');
	if (slash != NULL)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		(void)snprintf(err, errlen, "bad network address \"%s\"", tok);
		return -1;
	}
	prefix = max;
	if (slash != NULL) {
		prefix = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || prefix < 0 || prefix > max) {
			(void)snprintf(err, errlen, "bad prefix length in \"%s\"", tok);
			return -1;
		}
	}
	c->prefix = (int)prefix;
	cidr_mask(c->addr, max / 8, c->prefix);
	return 0;
}

/* cidr_list_parse - parse a comma/space separated list */
int
cidr_list_parse(const char *text, struct cidr_list *out, char *err,
    size_t errlen)
{
	char *copy = xstrdup(text), *save = NULL, *tok;
	struct cidr c;

	out->v = NULL;
	out->n = 0;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (cidr_parse_one(tok, &c, err, errlen) != 0)
			goto fail;
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = c;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	cidr_list_free(out);
	return -1;
}

/* cidr_list_free - release a list */
void
cidr_list_free(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* cidr_match_raw - match an address given as family + bytes */
static int
cidr_match_raw(const struct cidr_list *l, int family, const unsigned char *a)
{
	unsigned char tmp[16];
	size_t i;
	int len = family == AF_INET ? 4 : 16;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].family != family)
			continue;
		memcpy(tmp, a, (size_t)len);
		cidr_mask(tmp, len, l->v[i].prefix);
		if (memcmp(tmp, l->v[i].addr, (size_t)len) == 0)
			return 1;
	}
	return 0;
}

/* cidr_list_match - match a socket address */
int
cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET)
		return cidr_match_raw(l, AF_INET, (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family != AF_INET6)
		return 0;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return cidr_match_raw(l, AF_INET, s6->sin6_addr.s6_addr + 12);
	return cidr_match_raw(l, AF_INET6, s6->sin6_addr.s6_addr);
}

/* cidr_list_match_str - match an address in text form */
int
cidr_list_match_str(const struct cidr_list *l, const char *addr)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, addr, a) == 1)
		return cidr_match_raw(l, AF_INET, a);
	if (inet_pton(AF_INET6, addr, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)(void *)a))
			return cidr_match_raw(l, AF_INET, a + 12);
		return cidr_match_raw(l, AF_INET6, a);
	}
	return 0;
}

/* cidr_list_format - text form of a list */
void
cidr_list_format(const struct cidr_list *l, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN];
	size_t i, used = 0;
	int n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < l->n; i++) {
		inet_ntop(l->v[i].family, l->v[i].addr, a, sizeof(a));
		n = snprintf(out + used, outlen - used, "%s%s/%d",
		    i ? ", " : "", a, l->v[i].prefix);
		if (n < 0 || (size_t)n >= outlen - used)
			return;		/* truncated: keep what fits */
		used += (size_t)n;
	}
}

/* cidr_parse_hostport - "ADDR:PORT" or "[ADDR6]:PORT", numeric, into ss */
int
cidr_parse_hostport(const char *text, struct sockaddr_storage *ss,
    socklen_t *sslen, char *err, size_t errlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char addr[INET6_ADDRSTRLEN + 1], *end;
	const char *colon, *start = text;
	size_t alen;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (*text == '[') {
		start = text + 1;
		colon = strstr(start, "]:");
		alen = colon != NULL ? (size_t)(colon - start) : 0;
		colon = colon != NULL ? colon + 1 : NULL;
	} else {
		colon = strrchr(text, ':');
		alen = colon != NULL ? (size_t)(colon - text) : 0;
	}
	if (colon == NULL || alen == 0 || alen >= sizeof(addr)) {
		(void)snprintf(err, errlen, "\"%.80s\" is not ADDRESS:PORT "
		    "(IPv4) or [ADDRESS]:PORT (IPv6)", text);
		return -1;
	}
	memcpy(addr, start, alen);
	addr[alen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port < 1
	    || port > 65535) {
		(void)snprintf(err, errlen, "\"%.80s\": the port is not a number "
		    "from 1 to 65535", text);
		return -1;
	}
	if (start == text && inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		*sslen = sizeof(*sin);
	} else if (start != text && inet_pton(AF_INET6, addr,
	    &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		*sslen = sizeof(*sin6);
	} else {
		(void)snprintf(err, errlen, "\"%.80s\": \"%s\" is not an IPv4 "
		    "address (an IPv6 one goes in brackets: [::1]:PORT)", text,
		    addr);
		return -1;
	}
	return 0;
}

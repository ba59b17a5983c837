/*
 * cidr.h - lists of IPv4/IPv6 networks and address matching.
 *
 * A list is built once (at configuration load) and read-only afterwards.
 */
#ifndef AUTHMILTER_CIDR_H
#define AUTHMILTER_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network address, host bits zero */
	int prefix;			/* prefix length */
};

struct cidr_list {
	struct cidr *v;			/* entries */
	size_t n;			/* number of entries */
};

/*
 * cidr_list_parse - parse "127.0.0.0/8, ::1, 192.0.2.1" (commas and/or
 * spaces). An empty string gives an empty list. Returns 0, or -1 with err.
 */
int cidr_list_parse(const char *text, struct cidr_list *out, char *err,
    size_t errlen);
/* cidr_list_free - release a list */
void cidr_list_free(struct cidr_list *l);
/* cidr_list_match - does the address (IPv4-mapped IPv6 counts as IPv4) match? */
int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);
/* cidr_list_match_str - same for an address in text form; 0 when unparsable */
int cidr_list_match_str(const struct cidr_list *l, const char *addr);
/*
 * cidr_parse_hostport - a listening address: "ADDR:PORT" (IPv4) or
 * "[ADDR]:PORT" (IPv6), numeric only, port 1-65535, into ss and its
 * length; 0, or -1 with err
 */
int cidr_parse_hostport(const char *text, struct sockaddr_storage *ss,
    socklen_t *sslen, char *err, size_t errlen);
/* cidr_list_format - "127.0.0.0/8, ::1/128" into out (for -n) */
void cidr_list_format(const struct cidr_list *l, char *out, size_t outlen);

#endif

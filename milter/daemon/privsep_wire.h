/*
 * privsep_wire.h - what the daemon's side (privsep.c) and the key
 * reader's (privsep_reader.c) share: the record size limit, the socket's
 * read and write loops, the reader's serving loop. The wire format is
 * described at the top of privsep.c.
 */
#ifndef AUTHMILTER_PRIVSEP_WIRE_H
#define AUTHMILTER_PRIVSEP_WIRE_H
#include <stddef.h>

#define PRIVSEP_MAX_RECORD (32u * 1024 * 1024)	/* one record's data, at most */

/* privsep_write_all - write everything or fail; 0 or -1 */
int privsep_write_all(int fd, const void *p, size_t n);
/* privsep_read_all - read exactly n bytes or fail; 0 or -1 */
int privsep_read_all(int fd, void *p, size_t n);
/* privsep_reader_serve - the reader's loop: answer requests on fd until it closes */
void privsep_reader_serve(int fd, const char *conf_path);
#endif

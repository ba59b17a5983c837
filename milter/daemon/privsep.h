/*
 * privsep.h - the privileged key reader.
 *
 * authmilter reads its private keys as root, then runs as an unprivileged
 * user; a reload (SIGHUP) must read keys again. Before dropping privileges
 * the daemon forks this small helper, which stays root, holds no network
 * socket and does one thing: on request it reads the configuration file
 * (whose path was fixed at start), the files its include lines match, and
 * the key files they name, and sends back the texts, the include lists,
 * the key files' identities and then the permission-checked bytes of those
 * the daemon does not already hold unchanged. The daemon then parses them itself. A compromised daemon can therefore obtain only
 * keys the configuration lists, never arbitrary files; and since the conf,
 * the keys and every directory above them must be owned by root and
 * writable by nobody else (secret_open_trusted), it cannot rewrite that list
 * or swap a listed file for another.
 */
#ifndef AUTHMILTER_PRIVSEP_H
#define AUTHMILTER_PRIVSEP_H

#include <stddef.h>

#include "policy/config.h"
#include "policy/keyload.h"

struct privsep;

#define PRIVSEP_READER_ARG "--key-reader"	/* argv[1] of the exec'ed reader */
#define PRIVSEP_READER_FD 3			/* its end of the socketpair */

/*
 * privsep_start - start the reader: fork, and exec this program again as
 * "authmilter --key-reader CONF" with the socket at fd 3 (a fresh image:
 * it shares no page with the daemon); call as root before threads start.
 * It is sent c's key files at once (the 'A' request): the only ones it
 * reads until its own parse of the conf, at the first reload.
 */
struct privsep *privsep_start(const char *conf_path, const struct config *c,
    char *err, size_t errlen);
/*
 * privsep_reader_main - main() of the exec'ed reader: serves requests
 * until the daemon closes its end, and meanwhile parses the conf on a
 * thread of low priority, so that the first reload reads only what
 * changed since
 */
int privsep_reader_main(const char *conf_path);
/*
 * privsep_load - build a new snapshot through the reader, reusing what prev
 * (the running snapshot, may be NULL) holds unchanged: the helper reads
 * only the key files whose identity changed. Every error appended to probs
 * (may be NULL); NULL with err as config_load_from
 */
struct config *privsep_load(struct privsep *ps, const struct config *prev,
    struct config_problems *probs, char *err, size_t errlen);
/*
 * privsep_conf_trusted - 0 if the conf file and the directories above it
 * are owned by root (or by us when not root) and writable by nobody else
 * (secret_open_trusted); -1 with err naming the file and the fix. The reader
 * checks before each read; main checks at start.
 */
int privsep_conf_trusted(const char *conf_path, char *err, size_t errlen);
/* privsep_stop - end the reader and free (NULL is fine) */
void privsep_stop(struct privsep *ps);
/*
 * privsep_fetch_keys - the key files paths[0..n) through the reader (a
 * keyload_fetch_fn; arg is the struct privsep): each answer, in order, to
 * got; 0, or -1 with err when the reader failed. Not while a reload talks
 * to it (keyload_lock).
 */
int privsep_fetch_keys(void *arg, const char *const *paths, size_t n,
    keyload_got_fn *got, void *garg, char *err, size_t errlen);

#endif

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

struct privsep;

/*
 * privsep_start - fork the reader; call as root before threads start.
 * loaded (may be NULL): the snapshot the daemon loaded from conf_path; the
 * reader's copy of it lets the first reload skip the unchanged files.
 */
struct privsep *privsep_start(const char *conf_path, struct config *loaded,
    char *err, size_t errlen);
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

#endif

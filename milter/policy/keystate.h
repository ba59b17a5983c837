/*
 * keystate.h - the key states file: the last known publication state of
 * each DKIM key, kept in state_dir/keystates so that a restart begins from
 * what was known instead of from "unchecked".
 *
 * The file is text, one key a line, between a version line and an end
 * line that counts the keys (a file cut short is told from a whole one):
 *
 *   authmilter-keystates 1
 *   DOMAIN SELECTOR FINGERPRINT STATE
 *   end COUNT
 *
 * FINGERPRINT is the first 16 bytes, in hex, of the SHA-256 of the key's
 * DER SubjectPublicKeyInfo: a state is restored only to the same key under
 * the same domain and selector. STATE is a definite state (published,
 * missing, truncated, mismatched, revoked). The file is written to a
 * temporary name, synced and renamed over the old one; a file that does not
 * parse is ignored as a whole.
 *
 * Threading: called by the key checker thread only (after the privilege
 * drop: the file belongs to the run-as user). Reads keys' atomic states;
 * keystate_load writes them.
 */
#ifndef AUTHMILTER_KEYSTATE_H
#define AUTHMILTER_KEYSTATE_H

#include <stddef.h>

#include "policy/config.h"
#include "auth/keys.h"

#define KEYSTATE_FILE "keystates"	/* the file's name in state_dir */
#define KEYSTATE_MAX_BYTES (256L * 1024 * 1024)	/* a larger file is not ours */

/* keystate_fingerprint - hex of the first 16 bytes of SHA-256(SPKI) into out[33]; 0 or -1 */
int keystate_fingerprint(const struct key *k, char out[33]);
/*
 * keystate_save - write the definite states of c's keys to dir/keystates
 * atomically; the number of keys written, or -1 with err (the old file
 * then stays as it was)
 */
long keystate_save(const struct config *c, const char *dir, char *err,
    size_t errlen);
/*
 * keystate_load - give each unchecked key of c the state dir/keystates
 * holds for the same domain, selector and public key; the number of keys
 * restored (0 when there is no file), or -1 with err when the file cannot
 * be read or does not parse (then nothing is restored)
 */
long keystate_load(struct config *c, const char *dir, char *err,
    size_t errlen);

#endif

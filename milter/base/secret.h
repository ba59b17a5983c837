/*
 * secret.h - the one reader of secret files (DKIM private keys, bounce
 * secrets) and the trusted-path opener it stands on.
 *
 * Used before privileges are dropped (the daemon, its privileged key
 * reader) and by the operator's tools. No shared state.
 */
#ifndef AUTHMILTER_SECRET_H
#define AUTHMILTER_SECRET_H

#include <stddef.h>
#include <sys/stat.h>

#include "base/buf.h"

/* flags of secret_read and secret_open_trusted */
#define SECRET_ALLOW_GROUP	0x1	/* the file may be group-readable (0640) */
#define SECRET_ALLOW_SYMLINK	0x2	/* the path may itself be a symbolic link */

/*
 * secret_cache_begin, secret_cache_end - around one load of many files
 * (calls nest; the outermost end forgets): the directories a walk trusts
 * are kept open meanwhile and later walks start from the deepest one
 * their path names. A directory changed during the load is seen by the
 * next load. The cache is the calling thread's own: a thread helping a
 * load begins and ends its own.
 */
void secret_cache_begin(void);
void secret_cache_end(void);
/*
 * secret_read - the bytes of the secret file path into out (NUL-terminated,
 * in one allocation; the caller cleanses it). The file is opened with
 * secret_open_trusted (flags: SECRET_ALLOW_SYMLINK) and refused when it is
 * not a regular file, when others may read it, or its group unless
 * SECRET_ALLOW_GROUP, and when it is larger than max bytes. what names the
 * file in every error ("key file", "bounce secret"), followed by its path.
 * Returns 0, or -1 with err set and out empty.
 */
int secret_read(const char *path, const char *what, size_t max, int flags,
    struct buf *out, char *err, size_t errlen);
/*
 * secret_open_trusted - open path read-only so that no user but root can
 * steer it (OpenSSH StrictModes-like): walked from "/" (a relative path
 * from the working directory) one directory descriptor at a time, every
 * directory passed, including those a symbolic link leads through, and the
 * file itself must be owned by root (or by us when we are not root) and
 * writable by nobody else; a root-owned sticky directory such as /tmp may
 * be writable by all. The file is opened with O_NOFOLLOW: it may itself be
 * a symbolic link only with SECRET_ALLOW_SYMLINK (its target is then walked
 * the same way). subject starts every error ("key file /k/a.pem"). Returns
 * the fd (its stat in *st), or -1 with err saying what to change.
 */
int secret_open_trusted(const char *path, int flags, const char *subject,
    struct stat *st, char *err, size_t errlen);
/*
 * secret_open_trusted_dir - the same walk for a directory, made (mode 0755,
 * owned by us) when missing and create is set; a symbolic link to a
 * directory is followed. Returns an O_PATH descriptor for the *at() calls,
 * or -1 with err set.
 */
int secret_open_trusted_dir(const char *path, int create, const char *subject,
    char *err, size_t errlen);

#endif

/*
 * testutil.h - helpers shared by the unit tests: temporary directories
 * and throwaway keys.
 */
#ifndef AUTHMILTER_TESTUTIL_H
#define AUTHMILTER_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

/* testutil_tmpdir - make a fresh temporary directory (path in a static buffer per call site) */
static inline char *
testutil_tmpdir(void)
{
	char tmpl[] = "/tmp/authmilter-unit-XXXXXX";
	char *d = mkdtemp(tmpl);

	return d ? strdup(d) : NULL;
}

/* testutil_write_key - write a new private key of type ("RSA"/"ED25519") with a mode */
static inline int
testutil_write_key(const char *path, const char *type, int bits, mode_t mode)
{
	EVP_PKEY *k;
	FILE *fp;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k == NULL)
		return -1;
	fp = fopen(path, "w");
	if (fp == NULL) {
		EVP_PKEY_free(k);
		return -1;
	}
	PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	EVP_PKEY_free(k);
	return chmod(path, mode);
}

/* testutil_write_file - write a text file */
static inline int
testutil_write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

/* testutil_rmtree - remove a test directory (flat) */
static inline void
testutil_rmtree(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		/* leftovers in /tmp are harmless */
	}
}

#endif

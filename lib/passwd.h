/* passwd: password hashes and SCRAM keys as the users file stores them.
 *
 * Hashes are crypt(3) strings made by libcrypt: yescrypt ($y$) by default,
 * SHA-512 ($6$) and bcrypt ($2b$) on request. Verification also accepts
 * the {SCHEME} prefixes Dovecot writes, so an imported passwd-file keeps
 * working: the crypt family, {PLAIN}/{CLEAR}, {SHA256}, {SSHA256} and
 * {SCRAM-SHA-256}. SCRAM needs keys derived from the password itself
 * (RFC 5802, RFC 7677), kept beside the hash as "iterations,salt,
 * StoredKey,ServerKey" with base64 fields, the form Dovecot uses. */
#ifndef PASSWD_H
#define PASSWD_H

#include <stddef.h>

#include "err.h"
#include "sha256.h"

#define PASSWD_MAX 511         /* longest password: libcrypt's limit, bytes */
#define PASSWD_HASH_MAX 512
#define SCRAM_SALT_LEN 16
#define SCRAM_ITERATIONS 4096  /* RFC 7677's minimum and Dovecot's default */
#define SCRAM_KEYS_MAX 256

/* Hash password with scheme "yescrypt", "sha512" or "bcrypt" (NULL means
 * yescrypt) into out. Returns 0, or -1 with e set: EX_USAGE for an unknown
 * scheme, EX_TEMPFAIL when no random salt can be had. */
int passwd_hash(const char *password, const char *scheme, char *out,
                size_t outsz, struct err *e);

/* Does stored allow no login at all: empty, or locked with '!' or '*' as
 * in shadow(5)? */
int passwd_locked(const char *stored);

/* Does password match stored? Returns 1 yes, 0 no (also for a locked or
 * empty hash), -1 with e set (EX_CONFIG) when stored uses a scheme this
 * build cannot check. Comparison is constant-time. */
int passwd_verify(const char *password, const char *stored, struct err *e);

/* The scheme of stored for display: "yescrypt", "sha512-crypt",
 * "{PLAIN}", "locked", ... Never reveals the hash. */
const char *passwd_scheme(const char *stored);

struct scram_keys {
	unsigned long iterations;
	unsigned char salt[64];
	size_t saltlen;
	unsigned char stored_key[SHA256_LEN];
	unsigned char server_key[SHA256_LEN];
};

/* Derive SCRAM-SHA-256 keys for password with a fresh random salt and
 * write them in users-file form into out. password must already be
 * prepared (saslprep.h). Returns 0, or -1 with e set. */
int scram_keys_make(const char *password, unsigned long iterations,
                    char *out, size_t outsz, struct err *e);

/* Derive the keys for password, salt and iterations into k. */
void scram_keys_derive(const char *password, const unsigned char *salt,
                       size_t saltlen, unsigned long iterations,
                       struct scram_keys *k);

/* Parse the users-file form into k. Returns 0, or -1 when malformed. */
int scram_keys_parse(const char *s, struct scram_keys *k);

/* Constant-time comparison of n bytes: 1 when equal. */
int passwd_memeq(const void *a, const void *b, size_t n);

#endif

/* sha256: SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and
 * PBKDF2-HMAC-SHA-256 (RFC 8018), the primitives of SCRAM-SHA-256 and of
 * Dovecot's {SHA256}/{SSHA256} schemes. Kept here rather than taken from
 * GnuTLS so that programs which authenticate but never start TLS do not
 * load and initialise it. */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t len;        /* bytes hashed so far */
	unsigned char buf[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final(struct sha256 *s, unsigned char out[SHA256_LEN]);
void sha256(const void *p, size_t n, unsigned char out[SHA256_LEN]);

struct hmac_sha256 {
	struct sha256 inner, outer;
};

void hmac_sha256_init(struct hmac_sha256 *h, const void *key, size_t keylen);
void hmac_sha256_update(struct hmac_sha256 *h, const void *p, size_t n);
void hmac_sha256_final(struct hmac_sha256 *h, unsigned char out[SHA256_LEN]);
void hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
                 unsigned char out[SHA256_LEN]);

/* PBKDF2 with HMAC-SHA-256, out of outlen bytes (SCRAM's Hi() for 32). */
void pbkdf2_sha256(const void *pass, size_t passlen, const void *salt,
                   size_t saltlen, unsigned long iterations,
                   unsigned char *out, size_t outlen);

#endif

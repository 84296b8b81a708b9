/* base64: the RFC 4648 alphabet with padding, as SASL (RFC 4422), SCRAM
 * and the users file use it. Decoding is strict: no whitespace, no stray
 * characters, correct padding, so one secret has exactly one spelling. */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

/* Bytes needed to encode n bytes, the terminating NUL included. */
#define BASE64_ENCODED_SIZE(n) (((n) + 2) / 3 * 4 + 1)

/* Encode n bytes of p into out (BASE64_ENCODED_SIZE(n) bytes) and
 * NUL-terminate it. Returns the length written, NUL excluded. */
size_t base64_encode(const void *p, size_t n, char *out);

/* Decode the n characters of s into out, which holds outsz bytes.
 * Returns the decoded length, or -1 when s is not canonical base64 or the
 * result does not fit. */
long base64_decode(const char *s, size_t n, unsigned char *out, size_t outsz);

#endif

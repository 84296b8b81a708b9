/* mutf7: IMAP's modified UTF-7 (RFC 3501 5.1.3), the encoding Maildir++
 * folder names use on disk so IMAP servers and mail-store agree. */
#ifndef MUTF7_H
#define MUTF7_H

#include <stddef.h>

/* Encode the UTF-8 string in (n bytes) into out (outsz bytes, NUL-terminated).
 * Returns the output length, or -1 if in is not valid UTF-8 (overlong forms,
 * surrogates and code points above U+10FFFF are invalid) or out is too small. */
int mutf7_encode(const char *in, size_t n, char *out, size_t outsz);

/* Decode the modified UTF-7 string in into UTF-8 in out (outsz bytes,
 * NUL-terminated). Only the canonical form is accepted, as RFC 3501
 * requires of names a server keeps: printable ASCII never encoded, no
 * empty or adjacent runs, zero padding bits, paired surrogates. Returns
 * the output length, or -1 for anything else or when out is too small. */
int mutf7_decode(const char *in, char *out, size_t outsz);

#endif

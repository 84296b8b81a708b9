/* addr: mail addresses as the users and aliases files hold them: dot-atom
 * local parts (UTF-8 allowed, as SMTPUTF8 permits), a domain name or an
 * address literal, compared without regard to ASCII case. Quoted local
 * parts are refused here: they cannot be written in a colon-separated file
 * without surprises, and no account needs one. */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>

#define ADDR_MAX 254      /* RFC 5321 path limit less the angle brackets */
#define ADDR_LOCAL_MAX 64

/* Is s a valid domain name (labels of letters, digits, hyphens and UTF-8,
 * each 1 to 63 bytes) or an address literal in brackets? */
int addr_domain_valid(const char *s);

/* Is s a valid local part (dot-atom of atext and UTF-8, up to 64 bytes)? */
int addr_local_valid(const char *s, size_t n);

/* Is s a valid "local@domain"? */
int addr_valid(const char *s);

/* Lower-case the ASCII letters of s in place and return s. */
char *addr_lower(char *s);

/* name, qualified with "@domain" when it has no '@' and domain is not
 * NULL or empty, into out (cut to fit). Returns 0, or -1 when cut. */
int addr_qualify(const char *name, const char *domain, char *out, size_t outsz);

/* The domain part of s (after the last '@'), or NULL when there is none. */
const char *addr_domain(const char *s);

#endif

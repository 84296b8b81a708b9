/* gal: the global address list drawn from the users file: searching it
 * the way people type names (any case, with or without accents) and
 * exporting it as vCard 4.0 (RFC 6350) or LDIF (RFC 2849) with
 * inetOrgPerson entries (RFC 2798) for an LDAP directory. Unicode tables
 * come from GLib, linked only by programs that use this module. */
#ifndef GAL_H
#define GAL_H

#include "io.h"
#include "users.h"

/* s case-folded with accents and other marks removed (NFKD, marks
 * dropped), in malloc'd memory; NULL when s is not UTF-8 or out of memory. */
char *gal_fold(const char *s);

/* Does u's name or one of its addresses contain folded (gal_fold)? */
int gal_match(const struct user *u, const char *folded);

/* Write u as one vCard, lines folded at 75 octets and ended by CRLF. */
void gal_vcard(struct io_out *o, const struct user *u);

/* Write u as one LDIF entry under base (a DN), followed by a blank line. */
void gal_ldif(struct io_out *o, const struct user *u, const char *base);

/* The default base DN for domain: "ou=people,dc=example,dc=org" into out.
 * Returns 0, or -1 when it does not fit. */
int gal_default_base(const char *domain, char *out, size_t outsz);

#endif

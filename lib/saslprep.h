/* saslprep: the SASLprep profile of stringprep (RFC 4013), which SCRAM
 * applies to passwords before deriving keys, so that a password typed as
 * composed or decomposed characters derives the same keys. Unicode tables
 * come from GLib, so only programs that derive keys (mail-user) link it. */
#ifndef SASLPREP_H
#define SASLPREP_H

#include <stddef.h>

#include "err.h"

/* Prepare s into out. Printable ASCII passes unchanged; other text has
 * non-ASCII spaces mapped to space, "mapped to nothing" characters removed
 * and is normalised to NFKC. Returns 0, or -1 with e set (EX_DATAERR) for
 * invalid UTF-8 or a character RFC 4013 prohibits (controls, private use,
 * non-characters, unassigned code points, ...), or when out is too small.
 * The bidirectional rule (RFC 3454 section 6) is not checked. */
int saslprep(const char *s, char *out, size_t outsz, struct err *e);

#endif

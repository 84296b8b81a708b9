/* imapfmt: IMAP data as the server writes it (RFC 9051 4): strings
 * quoted when they can be, literals otherwise; NIL for absent values;
 * sequence sets as clients write them ("1:3,7,9:*"). */
#ifndef IMAPFMT_H
#define IMAPFMT_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* s (n bytes) as a quoted string, or a literal {n} when it holds CR, LF,
 * NUL or 8-bit bytes, or is long. */
void imap_string(struct strbuf *b, const char *s, size_t n);

/* imap_string, or NIL when s is NULL. */
void imap_nstring(struct strbuf *b, const char *s);

/* A sequence set: ranges with "*" kept as IMAP_STAR until it is known. */
#define IMAP_STAR UINT32_MAX
#define IMAP_SET_MAX 4096   /* ranges in one set */

struct imap_range { uint32_t lo, hi; };

struct imap_set {
	struct imap_range *r;
	size_t n;
};

/* Parse s ("1:3,7,*"); numbers from 1. Returns 0, or -1 when s is not a
 * sequence set or has too many ranges. Free with imap_set_free. */
int imap_set_parse(const char *s, struct imap_set *set);

/* Is v in set, with "*" standing for star (the largest number in use;
 * 0 in an empty mailbox)? A range's ends may come in either order. */
int imap_set_contains(const struct imap_set *set, uint32_t v, uint32_t star);

void imap_set_free(struct imap_set *set);

/* Append the sorted numbers v[0..n) to b as a compact set ("1:3,7"). */
void imap_set_format(struct strbuf *b, const uint32_t *v, size_t n);

#endif

/* tokens: what a Bayesian spam filter learns from one message (mail-filter):
 * the words of its decoded text parts, words of chosen header fields
 * prefixed by the field's name ("subject:free"), and the hosts and
 * domains of the URLs it names ("url:example.com"). A set: each token
 * once, without counts, as bogofilter's and SpamBayes' defaults count a
 * token once per message.
 *
 * A word is a run of letters and digits with ' - . inside and $ leading
 * or inside ("don't", "e-mail", "3.5", "$100"), its case kept, of 3 to 40
 * octets; longer words and numbers of more than 6 digits are dropped.
 * At most TOKENS_MAX tokens per message: then the rest is ignored. */
#ifndef TOKENS_H
#define TOKENS_H

#include <stddef.h>

#include "err.h"

#define TOKENS_MAX 10000
#define TOKENS_WORD_MIN 3
#define TOKENS_WORD_MAX 40

struct tokens {
	char **slot;             /* open addressing; NULL is empty */
	size_t cap;              /* a power of two, or 0 */
	size_t n;
};
/* an empty set: struct tokens t = { 0 }; */

/* Add the tokens of message fd (seekable; read through mime). Returns 0,
 * or -1 with e set when it cannot be read. */
int tokens_from_message(struct tokens *t, int fd, struct err *e);

/* The same for a message already parsed (without MIME_HEADER_ONLY), so a
 * caller that also checks rules and attachments parses it once. */
struct mime_msg;
int tokens_from_mime(struct tokens *t, struct mime_msg *m, struct err *e);

/* Add the words of UTF-8 text utf8 (n octets; invalid octets separate
 * words), each as prefix then the word (prefix "" or NULL: none), and
 * the url: tokens of the URLs in it. Returns 1 when the set is full,
 * else 0. */
int tokens_add_text(struct tokens *t, const char *prefix, const char *utf8, size_t n);

/* Add one token as it is. Returns 1 when the set is full, else 0. */
int tokens_add(struct tokens *t, const char *tok, size_t n);

/* Is tok in the set? */
int tokens_has(const struct tokens *t, const char *tok);

/* Call fn for every token, in no order; a nonzero return stops and is
 * returned. */
int tokens_each(const struct tokens *t, int (*fn)(void *ctx, const char *tok), void *ctx);

void tokens_free(struct tokens *t);

#endif

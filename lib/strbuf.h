/* strbuf: a growable byte string with a ceiling, for replies built in
 * memory (IMAP ENVELOPE, BODYSTRUCTURE, FETCH lines). A failed
 * allocation or the ceiling sets failed and later additions are
 * ignored, so a builder checks once at the end. */
#ifndef STRBUF_H
#define STRBUF_H

#include <stddef.h>

struct strbuf {
	char *s;          /* NUL-terminated once anything was added */
	size_t len, cap;
	size_t max;       /* 0: the default ceiling, STRBUF_MAX */
	int failed;
};

#define STRBUF_MAX (64UL << 20)

void sb_add(struct strbuf *b, const void *p, size_t n);
void sb_adds(struct strbuf *b, const char *s);
void sb_addc(struct strbuf *b, char c);
void sb_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forget the contents, keep the memory. */
void sb_reset(struct strbuf *b);

/* Hand over the string (NULL when failed or empty) and reset b. */
char *sb_take(struct strbuf *b);

void sb_free(struct strbuf *b);

#endif

/* eicar: recognise the EICAR anti-virus test file without clamd, so a
 * site can check its virus handling end to end with no signatures.
 *
 * The EICAR definition: a file is the test file when it starts with the
 * 68-byte string, optionally followed by white space (space, tab, CR, LF,
 * Ctrl-Z) only, and is at most 128 bytes long. The caller feeds one
 * decoded MIME part (or a whole single-part body) at a time, in buffers
 * of any size. */
#ifndef EICAR_H
#define EICAR_H

#include <stddef.h>
#include <stdint.h>

#define EICAR_LEN 68
#define EICAR_MAX 128
#define EICAR_NAME "Eicar-Test-Signature"

struct eicar {
	uint64_t n;   /* bytes fed so far */
	int bad;      /* a byte ruled it out */
};

void eicar_init(struct eicar *s);
/* Add the next n bytes of the part. */
void eicar_feed(struct eicar *s, const void *buf, size_t n);
/* After the last byte: was the part the EICAR test file? 1 or 0. */
int eicar_found(const struct eicar *s);

/* The same for a part held whole in buf. Returns 1 or 0. */
int eicar_in(const void *buf, size_t n);

#endif

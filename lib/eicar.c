#include "config.h"

#include <string.h>

#include "eicar.h"

/* Kept in two halves so this object file is not itself flagged. */
static const char eicar_a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR";
static const char eicar_b[] = "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

void eicar_init(struct eicar *s)
{
	s->n = 0;
	s->bad = 0;
}

static int eicar_byte(uint64_t i)
{
	size_t la = sizeof eicar_a - 1;

	return i < la ? (unsigned char)eicar_a[i] : (unsigned char)eicar_b[i - la];
}

void eicar_feed(struct eicar *s, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < n && !s->bad; i++, s->n++) {
		unsigned char c = p[i];

		if (s->n >= EICAR_MAX)
			s->bad = 1;
		else if (s->n < EICAR_LEN)
			s->bad = c != eicar_byte(s->n);
		else
			s->bad = !(c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0x1a);
	}
}

int eicar_found(const struct eicar *s)
{
	return !s->bad && s->n >= EICAR_LEN && s->n <= EICAR_MAX;
}

int eicar_in(const void *buf, size_t n)
{
	struct eicar s;

	eicar_init(&s);
	eicar_feed(&s, buf, n);
	return eicar_found(&s);
}

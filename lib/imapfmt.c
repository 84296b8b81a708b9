#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapfmt.h"

#define QUOTED_MAX 1024   /* longer strings go as literals */

void imap_string(struct strbuf *b, const char *s, size_t n)
{
	int literal = n > QUOTED_MAX;

	for (size_t i = 0; i < n && !literal; i++) {
		unsigned char c = (unsigned char)s[i];

		literal = c == '\0' || c == '\r' || c == '\n' || c >= 0x80;
	}
	if (literal) {
		sb_addf(b, "{%zu}\r\n", n);
		sb_add(b, s, n);
		return;
	}
	sb_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			sb_addc(b, '\\');
		sb_addc(b, s[i]);
	}
	sb_addc(b, '"');
}

void imap_nstring(struct strbuf *b, const char *s)
{
	if (s == NULL)
		sb_adds(b, "NIL");
	else
		imap_string(b, s, strlen(s));
}

static int number(const char **p, uint32_t *v)
{
	unsigned long long x = 0;
	const char *s = *p;

	if (*s == '*') {
		*v = IMAP_STAR;
		*p = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		x = x * 10 + (unsigned)(*s++ - '0');
		if (x >= IMAP_STAR)
			return -1;
	}
	*v = (uint32_t)x;
	*p = s;
	return 0;
}

int imap_set_parse(const char *s, struct imap_set *set)
{
	size_t cap = 0;

	set->r = NULL;
	set->n = 0;
	for (;;) {
		struct imap_range r;

		if (number(&s, &r.lo) < 0)
			goto bad;
		r.hi = r.lo;
		if (*s == ':') {
			s++;
			if (number(&s, &r.hi) < 0)
				goto bad;
		}
		if (set->n == cap) {
			struct imap_range *p;

			if (cap == IMAP_SET_MAX)
				goto bad;
			cap = cap ? cap * 2 : 4;
			if (cap > IMAP_SET_MAX)
				cap = IMAP_SET_MAX;
			if ((p = realloc(set->r, cap * sizeof *p)) == NULL)
				goto bad;
			set->r = p;
		}
		set->r[set->n++] = r;
		if (*s == '\0')
			return 0;
		if (*s++ != ',')
			goto bad;
	}
bad:
	imap_set_free(set);
	return -1;
}

int imap_set_contains(const struct imap_set *set, uint32_t v, uint32_t star)
{
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->r[i].lo == IMAP_STAR ? star : set->r[i].lo;
		uint32_t hi = set->r[i].hi == IMAP_STAR ? star : set->r[i].hi;

		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return 1;
	}
	return 0;
}

void imap_set_free(struct imap_set *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

void imap_set_format(struct strbuf *b, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			sb_addc(b, ',');
		if (j > i)
			sb_addf(b, "%lu:%lu", (unsigned long)v[i], (unsigned long)v[j]);
		else
			sb_addf(b, "%lu", (unsigned long)v[i]);
		i = j + 1;
	}
}

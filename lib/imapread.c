#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imapread.h"
#include "io.h"

#define DISCARD_MAX (1024 * 1024)   /* a refused LITERAL+ we still read and drop */

static int set_why(struct imap_reader *r, const char *why)
{
	snprintf(r->why, sizeof r->why, "%s", why);
	return -1;
}

/* The next physical line of the command, after a literal. */
static int next_line(struct imap_reader *r)
{
	int bare_cr, nul;
	long len = net_getline(r->n, r->line, IMAP_LINE_MAX, &bare_cr, &nul);

	r->pos = 0;
	r->len = 0;
	if (len == -1) {
		r->gone = 1;
		return set_why(r, "connection closed");
	}
	if (len == -2)
		return set_why(r, "line too long");
	if (nul || bare_cr)
		return set_why(r, nul ? "NUL in the command" : "bare CR in the command");
	r->len = (size_t)len;
	r->total += (size_t)len + 2;
	if (r->total > IMAP_COMMAND_MAX)
		return set_why(r, "command too long");
	return 0;
}

int imap_begin(struct imap_reader *r, struct net *n)
{
	r->n = n;
	r->len = r->pos = r->total = 0;
	r->literal = 0;
	r->nonsync = r->gone = 0;
	r->textlen = 0;
	r->text[0] = r->why[0] = '\0';
	if (next_line(r) < 0)
		return r->gone ? -1 : -2;
	return 0;
}

static int atom_char(unsigned char c, int flags)
{
	if (c <= ' ' || c >= 0x7f)
		return 0;   /* CTL, SP, 8-bit: only in strings */
	switch (c) {
	case '(': case ')': case '{': case '"': case '\\':
		return 0;
	case '%': case '*':
		return (flags & IMAP_WILDCARDS) != 0;
	case ']':
		return (flags & IMAP_ASTRING) != 0;
	default:
		return 1;
	}
}

enum imap_tok imap_next(struct imap_reader *r, int flags)
{
	const char *p = r->line;
	size_t i = r->pos;

	r->textlen = 0;
	r->text[0] = '\0';
	while (i < r->len && p[i] == ' ')
		i++;
	r->pos = i;
	if (i == r->len)
		return IMAP_END;
	switch (p[i]) {
	case '(':
		r->pos++;
		return IMAP_LPAREN;
	case ')':
		r->pos++;
		return IMAP_RPAREN;
	case ']':
		if (!(flags & IMAP_ASTRING)) {
			r->pos++;
			return IMAP_RBRACKET;
		}
		break;
	case '"':
		/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; escapes for \ and " only */
		for (i++; i < r->len && p[i] != '"'; i++) {
			if (p[i] == '\\') {
				if (i + 1 >= r->len || (p[i + 1] != '\\' && p[i + 1] != '"')) {
					set_why(r, "bad escape in a quoted string");
					return IMAP_ERROR;
				}
				i++;
			}
			r->text[r->textlen++] = p[i];
		}
		if (i >= r->len) {
			set_why(r, "unterminated quoted string");
			return IMAP_ERROR;
		}
		r->text[r->textlen] = '\0';
		r->pos = i + 1;
		return IMAP_QUOTED;
	case '{': {
		/* literal = "{" number64 ["+"] "}" CRLF, the last thing on the line */
		uint64_t v = 0;
		size_t d = 0;

		for (i++; i < r->len && p[i] >= '0' && p[i] <= '9'; i++, d++) {
			if (v > (UINT64_MAX / 2 - 9) / 10) {
				set_why(r, "literal size out of range");
				return IMAP_ERROR;
			}
			v = v * 10 + (uint64_t)(p[i] - '0');
		}
		r->nonsync = i < r->len && p[i] == '+';
		if (r->nonsync)
			i++;
		if (d == 0 || i >= r->len || p[i] != '}' || i + 1 != r->len) {
			set_why(r, "malformed literal");
			return IMAP_ERROR;
		}
		r->literal = v;
		r->pos = r->len;
		return IMAP_LITERAL;
	}
	default:
		break;
	}
	/* an atom; a flag may start with a backslash */
	if (p[i] == '\\')
		r->text[r->textlen++] = p[i++];
	while (i < r->len && atom_char((unsigned char)p[i], flags))
		r->text[r->textlen++] = p[i++];
	r->text[r->textlen] = '\0';
	if (r->textlen == 0 || (r->textlen == 1 && r->text[0] == '\\')) {
		set_why(r, "unexpected character");
		return IMAP_ERROR;
	}
	r->pos = i;
	return IMAP_ATOM;
}

/* Read and drop n octets (a refused LITERAL+), then the rest of the
 * line. Returns 0, or -1 (r->gone) when that is not worth doing. */
static int discard(struct imap_reader *r, uint64_t n)
{
	char buf[4096];

	if (n > DISCARD_MAX) {
		r->gone = 1;
		return -1;
	}
	while (n > 0) {
		ssize_t k = net_read(r->n, buf, n < sizeof buf ? (size_t)n : sizeof buf);

		if (k <= 0) {
			r->gone = 1;
			return -1;
		}
		n -= (uint64_t)k;
	}
	return next_line(r) < 0 && r->gone ? -1 : 0;
}

/* Refuse the pending literal: say why, and keep the stream in step. */
static int refuse_literal(struct imap_reader *r, const char *why)
{
	char saved[sizeof r->why];

	snprintf(saved, sizeof saved, "%s", why);
	if (r->nonsync && discard(r, r->literal) < 0)
		r->gone = 1;
	set_why(r, saved);
	return -1;
}

static int go_ahead(struct imap_reader *r)
{
	if (r->nonsync)
		return 0;
	net_printf(r->n, "+ Ready for literal data\r\n");
	if (net_flush(r->n) < 0) {
		r->gone = 1;
		return set_why(r, "connection closed");
	}
	return 0;
}

int imap_literal_text(struct imap_reader *r, size_t max)
{
	uint64_t n = r->literal;
	size_t got = 0;

	if (n > max || n > IMAP_LINE_MAX || r->total + n > IMAP_COMMAND_MAX)
		return refuse_literal(r, "literal too large");
	if (go_ahead(r) < 0)
		return -1;
	while (got < n) {
		ssize_t k = net_read(r->n, r->text + got, (size_t)n - got);

		if (k <= 0) {
			r->gone = 1;
			return set_why(r, "connection closed");
		}
		got += (size_t)k;
	}
	r->text[got] = '\0';
	r->textlen = got;
	r->total += got;
	if (memchr(r->text, '\0', got) != NULL) {
		/* the data is read: the stream is in step */
		next_line(r);
		return set_why(r, "NUL in a literal");
	}
	if (next_line(r) < 0)
		return -1;
	return 0;
}

int imap_literal_stream(struct imap_reader *r, int fd, uint64_t max)
{
	uint64_t n = r->literal;
	char buf[16384];
	int failed = 0;

	if (n > max)
		return refuse_literal(r, "literal too large");
	if (go_ahead(r) < 0)
		return -1;
	while (n > 0) {
		ssize_t k = net_read(r->n, buf, n < sizeof buf ? (size_t)n : sizeof buf);

		if (k <= 0) {
			r->gone = 1;
			return set_why(r, "connection closed");
		}
		/* a write error still reads the rest, to stay in step */
		if (!failed && io_write_all(fd, buf, (size_t)k) < 0)
			failed = errno;
		n -= (uint64_t)k;
	}
	if (next_line(r) < 0)
		return -1;
	if (failed) {
		errno = failed;
		snprintf(r->why, sizeof r->why, "write: %s", strerror(failed));
		return -1;
	}
	return 0;
}

int imap_skip(struct imap_reader *r)
{
	for (;;) {
		switch (imap_next(r, IMAP_ASTRING | IMAP_WILDCARDS)) {
		case IMAP_END:
			return 0;
		case IMAP_LITERAL:
			/* a synchronising one never comes: we send no "+" */
			if (!r->nonsync)
				return 0;
			if (discard(r, r->literal) < 0)
				return -1;
			break;
		case IMAP_ERROR:
			/* what is left of this line goes with it */
			r->pos = r->len;
			return 0;
		default:
			break;
		}
	}
}

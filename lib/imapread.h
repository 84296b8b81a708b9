/* imapread: reading IMAP commands (RFC 9051 and 3501 grammar) from a
 * client one token at a time, for mail-imapd. A command is a line, or
 * several joined by literals: "{n}" (the server must send "+" first) or
 * "{n+}" (LITERAL+, RFC 7888: the client sends at once). The reader pulls
 * lines from a struct net, so the command code asks for what its grammar
 * expects next and decides about each literal before it is read: an
 * APPEND too large is refused before the "+", and a message is written to
 * a file, never kept in memory.
 *
 * Every part has a limit: a physical line (IMAP_LINE_MAX), all of a
 * command but streamed literals (IMAP_COMMAND_MAX), a literal read into
 * memory (the caller's max). A size like {4294967295} is checked before
 * anything is allocated. */
#ifndef IMAPREAD_H
#define IMAPREAD_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"

#define IMAP_LINE_MAX 8192
#define IMAP_COMMAND_MAX (256 * 1024)

enum imap_tok {
	IMAP_END,          /* the end of the command */
	IMAP_ATOM,         /* text is the atom (NIL, numbers, \Flags, sets...) */
	IMAP_QUOTED,       /* text is the decoded quoted string */
	IMAP_LITERAL,      /* a literal of r->literal octets is due: read it */
	IMAP_LPAREN,
	IMAP_RPAREN,
	IMAP_RBRACKET,     /* "]" (after "BODY[" and the like) */
	IMAP_ERROR         /* r->why says what; answer BAD */
};

/* What an atom may hold besides ATOM-CHAR, by the grammar in force. */
#define IMAP_ASTRING 1     /* "]" too (astring, RFC 9051 9) */
#define IMAP_WILDCARDS 2   /* "%" and "*" (list-mailbox, sequence sets) */

struct imap_reader {
	struct net *n;
	char line[IMAP_LINE_MAX + 2];
	size_t len, pos;           /* the current physical line, and where we are */
	size_t total;              /* octets of the command so far */
	uint64_t literal;          /* with IMAP_LITERAL: its size */
	int nonsync;               /* with IMAP_LITERAL: announced as {n+} */
	int gone;                  /* the client went away or timed out */
	char text[IMAP_LINE_MAX + 1];
	size_t textlen;
	char why[160];
};

/* Read the first line of the next command. Returns 0; -1 when the client
 * has gone (r->gone) ; -2 for a line too long (read to its end and
 * dropped: answer BAD with r->why). */
int imap_begin(struct imap_reader *r, struct net *n);

/* The next token, with flags (IMAP_ASTRING, IMAP_WILDCARDS) widening
 * what an atom may hold. Blanks between tokens are skipped. */
enum imap_tok imap_next(struct imap_reader *r, int flags);

/* With IMAP_LITERAL pending: read it into r->text (NUL-terminated) when it
 * is at most max octets (and IMAP_LINE_MAX), sending "+ ..." first for a
 * synchronising literal; then go on with the rest of the command. A
 * literal over max is refused: a synchronising one is never sent by the
 * client; a LITERAL+ one is read and dropped when small enough, else the
 * connection must end. Returns 0; -1 with r->why set (and r->gone when
 * the connection must end). */
int imap_literal_text(struct imap_reader *r, size_t max);

/* With IMAP_LITERAL pending: copy it to fd (APPEND), sending "+ ..."
 * first for a synchronising literal, when it is at most max octets.
 * Returns 0; -1 with r->why set (r->gone when the connection must end, or
 * when fd could not be written). */
int imap_literal_stream(struct imap_reader *r, int fd, uint64_t max);

/* Skip what is left of the command (after an error), literals included
 * when they are LITERAL+ and small; returns -1 when the connection must
 * end instead. */
int imap_skip(struct imap_reader *r);

#endif

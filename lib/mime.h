/* mime: the MIME structure of a stored message, for IMAP FETCH and
 * SEARCH (RFC 9051 7.5.2, RFC 3501 7.4.2, RFC 2045-2047); the one module
 * that talks to GMime.
 *
 * Messages are stored with LF line ends (mail-store), and IMAP counts in
 * CR LF: every size and offset this module gives for the client is in
 * CR LF terms ("wire" octets), and every piece of the file it points at
 * is sent with each LF turned into CR LF (mime_send_range does it).
 * A CR LF already in a file is left as it is and counted once.
 *
 * A message that is not valid MIME is still a message: what GMime cannot
 * make sense of is served as text/plain, never refused. */
#ifndef MIME_H
#define MIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"
#include "strbuf.h"

struct mime_msg;   /* a parsed message; opaque */

#define MIME_HEADER_ONLY 1   /* parse the top header alone (ENVELOPE, SEARCH
                                on header fields): fast on large messages;
                                the body is then one opaque part */

/* Parse the message in fd, which must be seekable; the module keeps its
 * own duplicate of fd, so the caller may close fd at once. Returns the
 * message, or NULL with e set (EX_TEMPFAIL) when it cannot be read. */
struct mime_msg *mime_open(int fd, int flags, struct err *e);
void mime_close(struct mime_msg *m);

/* The whole message's size in wire octets (RFC822.SIZE). */
uint64_t mime_size(struct mime_msg *m);

/* Append the ENVELOPE (RFC 9051 7.5.2) to b: "(" date subject from
 * sender reply-to to cc bcc in-reply-to message-id ")", values raw as in
 * the header (unfolded, encoded words left encoded), addresses split
 * into (name adl mailbox host) with groups as RFC 9051 describes. */
void mime_envelope(struct mime_msg *m, struct strbuf *b);

/* Append BODY (extended 0) or BODYSTRUCTURE (extended 1) to b: sizes in
 * wire octets, line counts of text and message/rfc822 parts, nested
 * message/rfc822 parts with their envelope and structure. */
void mime_bodystructure(struct mime_msg *m, int extended, struct strbuf *b);

/* A section of BODY[...] / BINARY[...] (RFC 9051 6.4.5). */
enum mime_what {
	MIME_ALL,                /* BODY[] or BODY[1.2]: the whole part */
	MIME_HEADER,             /* [HEADER], [1.HEADER] (part is message/rfc822) */
	MIME_HEADER_FIELDS,      /* [HEADER.FIELDS (A B)] */
	MIME_HEADER_FIELDS_NOT,  /* [HEADER.FIELDS.NOT (A B)] */
	MIME_TEXT,               /* [TEXT], [1.TEXT] */
	MIME_MIME                /* [1.MIME]: the part's own MIME header */
};

struct mime_section {
	const uint32_t *part;    /* part numbers, from 1; depth 0 = the message */
	size_t depth;
	enum mime_what what;
	const char *const *fields;   /* HEADER.FIELDS(.NOT) names */
	size_t nfields;
};

/* What a section is, ready to send: pieces of the file, sent through
 * mime_send_range, or text built in memory (already CR LF). */
struct mime_piece {
	int in_file;             /* 1: [off, off + len) of the file; 0: text */
	off_t off;
	uint64_t len;            /* raw octets in the file */
	char *text;              /* !in_file: malloc'd, text_len octets */
	size_t text_len;
	uint64_t wire;           /* the size as sent */
};

/* Find section s. A part that does not exist gives an empty piece
 * (RFC 3501 6.4.5: not an error). Returns 0, or -1 with e set
 * (EX_TEMPFAIL) when the file cannot be read. Free the piece's text. */
int mime_section(struct mime_msg *m, const struct mime_section *s,
                 struct mime_piece *p, struct err *e);

/* Send wire octets [from, from + count) of piece p (count past the end
 * is cut) through write(ctx, buf, n), which returns 0 or -1. A file
 * range is read in blocks, never whole. Returns 0, or -1 with e set. */
int mime_send(struct mime_msg *m, const struct mime_piece *p, uint64_t from,
              uint64_t count, int (*write)(void *ctx, const void *buf, size_t n),
              void *ctx, struct err *e);

/* BINARY[part] (RFC 3516): the part's content with its transfer encoding
 * undone, written to the temporary file *fd (the caller closes it) with
 * its size in *size. Returns 0; -2 when the encoding is unknown
 * (NO [UNKNOWN-CTE]); -1 with e set. A message or multipart part has no
 * binary form: -2 as well (so has depth 0). A part that does not exist
 * gives 0 and an empty file, as BODY[] gives an empty string. */
int mime_binary(struct mime_msg *m, const uint32_t *part, size_t depth, int *fd,
                uint64_t *size, struct err *e);

/* The same decoded octets streamed to sink(ctx, s, n) instead of a file,
 * in blocks; a nonzero return of sink stops the decoding (still 0).
 * Returns 0 (also for a part that does not exist: nothing is given), -2
 * when the part has no binary form, -1 with e set. */
int mime_decode(struct mime_msg *m, const uint32_t *part, size_t depth,
                int (*sink)(void *ctx, const char *s, size_t n), void *ctx, struct err *e);

/* SEARCH (RFC 9051 6.4.4): does header field name (any case) of the top
 * header, decoded (RFC 2047) to UTF-8, contain needle (UTF-8), compared
 * without regard to case? An empty needle matches every message that
 * has the field. name NULL: any field, as SEARCH TEXT needs. */
int mime_header_contains(struct mime_msg *m, const char *name, const char *needle);

/* The same question asked of a cached ENVELOPE (env, len octets, as
 * mime_envelope wrote it) for Subject, From, To, Cc or Bcc, without the
 * file (RFC 9051 6.4.4 defines these keys on the envelope). Returns 1 or
 * 0; -1 when the envelope cannot say (another field, the field missing
 * or unreadable): then ask mime_header_contains. */
int mime_envelope_contains(const char *env, size_t len, const char *name, const char *needle);

/* Does the decoded text of any text part (transfer encoding undone,
 * charset made UTF-8, HTML tags left in) contain needle, without regard
 * to case? Needs a message opened without MIME_HEADER_ONLY. */
int mime_body_contains(struct mime_msg *m, const char *needle);

/* The Date: field as a time, or -1 when it is missing or unreadable. The
 * offset east of UTC in minutes goes to *tz when tz is not NULL. */
time_t mime_date(struct mime_msg *m, int *tz);

/* Call fn(ctx, name, value) for each field of the top header in order:
 * value unfolded and RFC 2047-decoded to valid UTF-8. Reads at most the
 * bounded header that the SEARCH helpers read. A nonzero return of fn
 * stops the walk and is returned; -1 when the header cannot be read. */
int mime_each_header(struct mime_msg *m,
                     int (*fn)(void *ctx, const char *name, const char *value), void *ctx);

/* Stream the decoded text of every text/plain and text/html leaf part,
 * those inside message/rfc822 parts too, in document order: transfer
 * encoding undone, charset converted, invalid octets made valid UTF-8,
 * each piece ending on a character boundary. html is 1 for text/html.
 * After the last piece of each part fn is called once with n 0. A part
 * that cannot be decoded (unknown encoding) is skipped; past the part
 * limits nothing is given. A nonzero return of fn stops the walk (still
 * 0). Needs a message opened without MIME_HEADER_ONLY. Returns 0, or -1
 * with e set (EX_TEMPFAIL) when the file cannot be read. */
int mime_each_text(struct mime_msg *m,
                   int (*fn)(void *ctx, int html, const char *utf8, size_t n), void *ctx,
                   struct err *e);

/* Call fn for every leaf part, those inside message/rfc822 parts too,
 * in document order, with its part numbers as mime_section and
 * mime_binary take them (depth >= 1), its type and subtype as sent (any
 * case) and its file name: the Content-Disposition filename, else the
 * Content-Type name, as GMime decodes them (RFC 2231, RFC 2047), NULL
 * when there is none. A part past the scan's limits is one opaque leaf
 * (mime_binary gives it -2). A nonzero return of fn stops the walk and
 * is returned; 0 when every part was visited. */
int mime_each_part(struct mime_msg *m,
                   int (*fn)(void *ctx, const uint32_t *part, size_t depth, const char *type,
                             const char *subtype, const char *filename),
                   void *ctx);

#endif

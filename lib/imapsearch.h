/* imapsearch: the SEARCH command's keys (RFC 9051 6.4.4, RFC 3501
 * 6.4.4): parsed from the client's command into a tree, then tested
 * against each message. What the session knows of a message (flags,
 * size, dates, UID) is tested without the file; header and body keys
 * open it through the message's open callback, once, and only when the
 * cheaper keys of an AND have not already decided. */
#ifndef IMAPSEARCH_H
#define IMAPSEARCH_H

#include <stdint.h>
#include <time.h>

#include "err.h"
#include "imapread.h"
#include "mime.h"

/* System flags, as the session and the search share them. */
#define IMAP_F_SEEN     0x01
#define IMAP_F_ANSWERED 0x02
#define IMAP_F_FLAGGED  0x04
#define IMAP_F_DELETED  0x08
#define IMAP_F_DRAFT    0x10
#define IMAP_F_RECENT   0x20

struct search_key;   /* a parsed program; opaque */

struct search_msg {
	uint32_t seq, uid;
	unsigned flags;          /* IMAP_F_* */
	uint32_t keywords;       /* bit i: the folder's keyword i is set */
	uint64_t size;           /* RFC822.SIZE */
	time_t internal;         /* INTERNALDATE */
	/* its cached ENVELOPE, or NULL: SUBJECT, FROM, TO, CC and BCC are
	 * answered from it without the file */
	const char *envelope;
	size_t envelope_len;
	/* the parsed message (mime_open: with MIME_HEADER_ONLY when
	 * header_only), or NULL with e set when the file cannot be read; the
	 * search closes nothing: the callback's owner does */
	struct mime_msg *(*open)(void *ctx, int header_only, struct err *e);
	void *ctx;
};

struct search_ctx {
	uint32_t max_seq, max_uid;   /* what "*" stands for */
	/* the index of keyword name in the folder, or -1 (never matches) */
	int (*keyword)(void *ctx, const char *name);
	void *ctx;
	int tz;                      /* the server's offset east of UTC, minutes,
	                                for BEFORE/ON/SINCE dates */
};

/* Parse the search keys that follow "SEARCH [RETURN (...)]" from r, up to
 * the end of the command, with "CHARSET x" allowed first. Returns the
 * program; NULL with *why set for a syntax error (answer BAD), or with
 * *badcharset set for a charset other than UTF-8 and US-ASCII (answer
 * NO [BADCHARSET (UTF-8 US-ASCII)]). */
struct search_key *search_parse(struct imap_reader *r, const struct search_ctx *c,
                                const char **why, int *badcharset);

/* Does m match k? 1 yes, 0 no, -1 when its file could not be read
 * (e set: answer NO, or skip the message). */
int search_match(const struct search_key *k, const struct search_ctx *c,
                 const struct search_msg *m, struct err *e);

/* Does k need the message file (header or body keys)? */
int search_needs_file(const struct search_key *k);

void search_free(struct search_key *k);

#endif

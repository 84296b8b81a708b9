/* message: the one pass every delivered message goes through.
 *
 * Reads a message from a file descriptor and writes it in local form:
 * CRLF line ends become LF, a leading mbox "From " envelope line is dropped,
 * Return-Path: and Delivered-To: are prepended, the message's own
 * Return-Path: fields are removed (the envelope sender replaces them, as
 * RFC 5321 4.4 expects of final delivery), a missing final newline is added,
 * and for mbox output lines matching ^>*From  gain one '>' (mboxrd).
 * A Delivered-To: naming the recipient below a Received: field means the
 * message already reached this mailbox once and came back: a loop. Above
 * every Received: it is the caller's own trace of this hop, not a loop.
 * Memory use is constant whatever the message size. */
#ifndef MESSAGE_H
#define MESSAGE_H

#include <stdint.h>

#include "err.h"

struct msg_opts {
	const char *return_path;   /* envelope sender; "" is the null sender <>;
	                              NULL leaves the message's own Return-Path */
	const char *delivered_to;  /* recipient for Delivered-To:; NULL for none */
	int mboxrd;                /* quote >*From  lines */
};

struct msg_stats {
	uint64_t size;   /* bytes written (LF line ends) */
	uint64_t lines;  /* LF characters written: size + lines = CRLF size */
	int spam_flag;   /* the top header carries X-Spam-Flag: YES (mail-filter's
	                    verdict; mail-store files such a message in Junk) */
};

/* Copy in_fd to out_fd as described above.
 * Returns 0, or -1 with e set: EX_DATAERR for a mail loop (the copy stops
 * there), EX_TEMPFAIL for read and write errors and for empty input (no
 * mail is empty; in a shell pipeline "filter | mail-store" it is what a
 * filter that failed leaves, so it is tried again later). */
int message_copy(int in_fd, int out_fd, const struct msg_opts *o,
                 struct msg_stats *st, struct err *e);

#endif

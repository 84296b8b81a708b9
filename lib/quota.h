/* quota: Maildir++ quota, the maildirsize file shared with Courier, maildrop,
 * Dovecot and Exim. Line 1 holds the limits ("1000000S,500C"); each later
 * line adds "bytes count". The file is an estimate: it is rebuilt from the
 * ,S= sizes in file names when missing, over 5120 bytes, inconsistent, given
 * new limits, or older than 15 minutes when it says the box is full.
 * Every folder, Trash included, counts (as in Dovecot). */
#ifndef QUOTA_H
#define QUOTA_H

#include <stdint.h>

#include "err.h"

struct quota {
	uint64_t bytes;  /* 0 = no limit */
	uint64_t count;  /* 0 = no limit */
};

/* Parse "BYTES[,COUNT]" (BYTES may end in K, M, G or T, powers of 1024) or
 * the Maildir++ form "NS,NC". Returns 0, or -1 with e set (EX_USAGE). */
int quota_parse(const char *s, struct quota *q, struct err *e);

/* Would a message of size bytes fit under the quota of the Maildir at root?
 * limit is the caller's quota, or NULL to enforce the limits already written
 * in maildirsize (no file: no quota). Sets *over, and *active when a quota
 * applies (the caller then records the delivery with quota_add). Returns 0,
 * or -1 with e set when maildirsize cannot be read or rebuilt. */
int quota_check(const char *root, const struct quota *limit, uint64_t size,
                int *over, int *active, struct err *e);

/* Record a change of bytes and count in maildirsize with one append.
 * Returns 0, or -1 with e set. */
int quota_add(const char *root, int64_t bytes, int64_t count, struct err *e);

#endif

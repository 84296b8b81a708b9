/* mbox: delivery into mboxrd files, and the lock every mbox user takes.
 *
 * Locking follows Debian policy: fcntl first, then a dotlock FILE.lock made
 * NFS-safely (a unique file linked to the lock name, checked by its link
 * count). A dotlock older than 5 minutes is stale and removed. When the
 * directory is not writable (a /var/mail without setgid mail), the fcntl
 * lock alone is used. Appends are undone with ftruncate on any failure,
 * so an interrupted delivery never leaves half a message. */
#ifndef MBOX_H
#define MBOX_H

#include <limits.h>
#include <sys/types.h>

#include "err.h"
#include "message.h"

struct mbox_lock {
	int fd;                  /* the mbox, open O_RDWR|O_APPEND */
	int dotlocked;
	int created;             /* the file did not exist: fsync its directory */
	char dotlock[PATH_MAX];
};

/* Open (creating with mode 0600 if missing) and lock the mbox at path,
 * waiting up to timeout seconds. A symlink, a non-regular file or a file
 * with several hard links is refused (EX_NOPERM); a lock not obtained in
 * time is EX_TEMPFAIL. Returns 0, or -1 with e set. */
int mbox_lock(const char *path, int timeout, struct mbox_lock *lk, struct err *e);

/* Release the locks and close the file. */
void mbox_unlock(struct mbox_lock *lk);

struct mbox_delivery {
	const char *path;
	const char *sender;       /* for the "From " line; NULL or "" -> MAILER-DAEMON */
	const struct msg_opts *msg;
	int lock_timeout;         /* seconds */
	struct msg_stats stats;   /* out */
};

/* Append the message read from in_fd. A pipe is spooled to an unlinked
 * file in $TMPDIR first, so the lock is held only while copying from disk.
 * Returns 0 once the mbox is fsync'd, or -1 with e set and the mbox as it
 * was. */
int mbox_deliver(struct mbox_delivery *d, int in_fd, struct err *e);

#endif

/* maildrop: a mailbox as POP3 sees it (RFC 1939): numbered messages with
 * their sizes in CR LF octets and stable unique IDs, sent with CR LF line
 * ends and dot-stuffing, deleted only when the session ends well.
 *
 * A Maildir is listed from new/ and cur/; sizes come from the ",W=" of
 * the file names mail-store writes, so LIST and STAT read no file (a name
 * without one is read once to count). The UIDL is the base name, the same
 * in new/ and cur/. At the end, deleted files are unlinked and the rest of
 * new/ moves to cur/.
 *
 * An mboxrd file is read once under its lock to find the messages; at the
 * end it is rewritten under the lock into a new file renamed over it, with
 * what was delivered meanwhile kept (in a directory where no new file can
 * be made, /var/mail, it is compacted in place instead). The UIDL is a
 * hash of the message's "From " line and header, so it survives rewrites.
 *
 * One POP3 session per mailbox: a session holds an fcntl lock on a file
 * beside it (DIR/pop3.lock, MBOX.pop3.lock) until it ends; the lock dies
 * with the process. Where that file cannot be made (/var/mail again), an
 * mbox goes without, and the checks at the end stand guard. */
#ifndef MAILDROP_H
#define MAILDROP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "net.h"

#define DROP_UIDL_MAX 70

struct drop_msg {
	char *name;          /* Maildir: "new/NAME" or "cur/NAME"; mbox: NULL */
	uint64_t off;        /* mbox: where the "From " line starts */
	uint64_t start;      /* mbox: where the message starts */
	uint64_t len;        /* mbox: its length, the separating empty line excluded */
	uint64_t size;       /* octets as sent: CR LF, no dot-stuffing */
	char uidl[DROP_UIDL_MAX + 1];
	int deleted;
};

struct maildrop {
	int is_mbox;
	char path[PATH_MAX];
	int lock_fd;         /* the session lock */
	struct drop_msg *m;
	size_t n;
	uint64_t total;      /* sum of sizes */
	/* mbox */
	dev_t dev;
	ino_t ino;
	uint64_t scanned;    /* its length when read */
	int lock_timeout;
};

/* Open the mailbox at path (a Maildir when it ends in '/', else an mbox;
 * missing is empty) for a session and list it. Returns 0; or -1 with e
 * set: EX_TEMPFAIL with e->msg starting "in use" when another session
 * has it, EX_TEMPFAIL or EX_NOPERM when it cannot be read. */
int drop_open(struct maildrop *d, const char *path, int lock_timeout, struct err *e);

/* Send message i (from 0) to n, CR LF line ends, dot-stuffed, without the
 * final "."; all of it when lines < 0, else the header, the empty line
 * and the first lines lines of the body (TOP). The line first (the +OK)
 * goes out once the message has been opened. Returns 0; -1 with e set
 * and nothing sent when the message is gone (EX_NOINPUT) or cannot be
 * read; -1 with e set when reading or n failed half way. */
int drop_send(struct maildrop *d, size_t i, long lines, const char *first, struct net *n,
              struct err *e);

/* The UPDATE state: remove what is deleted, move new/ to cur/, or rewrite
 * the mbox. Returns 0, or -1 with e set; an mbox is then as it was, but
 * for a compaction in place cut short by an I/O error. */
int drop_update(struct maildrop *d, struct err *e);

/* End the session: release its lock, free d. */
void drop_close(struct maildrop *d);

#endif

/* uidlist: the IMAP UIDs of a Maildir folder, for mail-imapd. A
 * text file in the folder, "mail-uidlist", maps each message's base name
 * (its file name up to ':') to a UID:
 *
 *   mail-uidlist 1 UIDVALIDITY NEXTUID
 *   UID BASENAME
 *   ...
 *
 * UIDs are given in delivery order and never reused: NEXTUID only grows,
 * also when messages go. New messages are appended (a reader skips a last
 * line without its LF); a sync that finds messages gone rewrites the file
 * through a new one renamed over it. So readers need no lock; writers
 * take an fcntl lock on "mail-uidlist.lock". A folder whose list is lost
 * gets a new UIDVALIDITY, so clients drop what they cached; it is above
 * every one given before in that Maildir ("mail-uidvalidity" in its root
 * keeps the last), also for a folder deleted and made again. */
#ifndef UIDLIST_H
#define UIDLIST_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct uid_entry {
	uint32_t uid;
	char *name;            /* the base name */
	char *file;            /* after uidlist_sync: "new/NAME" or "cur/NAME:2,..."
	                          as found; NULL after uidlist_read */
};

struct uidlist {
	uint32_t validity, next;
	struct uid_entry *e;   /* by UID, ascending */
	size_t n, cap;
	int torn;              /* the file ends in a partial line (a crash) */
};

/* Read the list of the Maildir folder dir, without a lock. A missing or
 * unreadable-as-a-list file is an empty list with validity 0. Returns 0,
 * or -1 with e set (EX_TEMPFAIL) when it cannot be read. */
int uidlist_read(struct uidlist *l, const char *dir, struct err *e);

/* Bring the list of dir up to date with its new/ and cur/, under the
 * lock: UIDs for new messages (oldest first), entries of messages gone
 * dropped. l holds the result, each entry with the file it was found
 * as. Returns 0, or -1 with e set. */
int uidlist_sync(struct uidlist *l, const char *dir, struct err *e);

/* The UID of base name, or 0. */
uint32_t uidlist_find(const struct uidlist *l, const char *name);

void uidlist_free(struct uidlist *l);

#endif

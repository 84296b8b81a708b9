/* maildir: delivery into Maildir (cr.yp.to) and Maildir++ folders.
 *
 * A message is written to tmp/, fsync'd, linked into new/ under its final
 * name time.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<crlf-size>, and new/ is
 * fsync'd before success is reported. link() rather than rename() so an
 * existing file is never replaced; a failure leaves only tmp/ debris,
 * which later deliveries remove after 36 hours. */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "err.h"
#include "message.h"
#include "quota.h"

/* Map a folder name to its Maildir++ directory name: "Work/Reports" or
 * "Work.Reports" -> ".Work.Reports", non-ASCII in modified UTF-7, "INBOX"
 * (any case) or "" -> "" (the Maildir itself). Empty components ("..",
 * a leading or trailing separator), control characters and invalid UTF-8
 * are refused, so the result never leaves the Maildir.
 * Returns 0, or -1 with e set (EX_USAGE). */
int maildir_folder_dir(const char *folder, char *out, size_t outsz, struct err *e);

/* Create the Maildir at path (and missing parents) with mode 0700 unless it
 * exists; a Maildir++ folder (is_folder) also gets its maildirfolder file.
 * Returns 0, or -1 with e set. */
int maildir_make(const char *path, int is_folder, struct err *e);

/* A unique name for a new message: time.M<usec>P<pid>Q<n>.<host>, the
 * time being when (0: now) and host escaped as the Maildir spec asks
 * (NULL: gethostname). 160 bytes of host leave room within NAME_MAX for
 * the rest and ,S=<n>,W=<n>. Returns 0, or -1 with e set. */
int maildir_unique(char *name, size_t namesz, time_t when, const char *host, struct err *e);

struct maildir_delivery {
	const char *root;          /* the Maildir (INBOX) */
	const char *folder;        /* NULL or a folder name for maildir_folder_dir */
	const char *host;          /* host part of file names; NULL = gethostname */
	const struct msg_opts *msg;
	const struct quota *quota; /* NULL: enforce maildirsize as found */
	int over_quota_code;       /* exit code when over quota (EX_TEMPFAIL) */
	const char *info;          /* NULL: into new/; else into cur/ with ":" info
	                              ("2,S": IMAP APPEND with flags) */
	time_t when;               /* the time in the name (IMAP's INTERNALDATE);
	                              0: now */
	const char *junk;          /* a message with X-Spam-Flag: YES for INBOX
	                              goes to this folder; NULL or "": INBOX */
	int junked;                /* out: it did */
	char path[PATH_MAX];       /* out: the delivered file */
	struct msg_stats stats;    /* out */
};

/* Deliver the message read from in_fd. Returns 0 once the file is durable
 * in new/ (cur/ with info), or -1 with e set and nothing left visible. */
int maildir_deliver(struct maildir_delivery *d, int in_fd, struct err *e);

#endif

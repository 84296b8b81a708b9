/* users: the users file, one account per line (see mail-users(5)):
 *
 *   address:hash:mailbox:name:quota:extra
 *
 * address is the login and the delivery address; hash a crypt(3) string
 * or a Dovecot {SCHEME} hash; mailbox a Maildir (trailing '/') or mbox
 * path, relative to the mail root unless absolute; name the display name;
 * quota as mail-store --quota takes it; extra space-separated key=value
 * fields (disabled=yes, addresses=a@x,b@y, scram-sha-256=..., and x-*
 * fields of the admin's own). A backslash makes the next character plain,
 * so ':' and '\' (and ' ' in extra values) can be written as "\:", "\\"
 * and "\ ". Lines starting with '#' and blank lines are kept as they are.
 *
 * Lookups go through an index, "FILE.cdb", stamped with the file's device,
 * inode, size, mtime and ctime; an index that does not match (the file was
 * edited by hand) is ignored and the file scanned, so a lookup is never
 * wrong, only slower until "mail-user index" runs. Every edit made here rewrites the
 * file atomically under a lock and rebuilds the index. */
#ifndef USERS_H
#define USERS_H

#include <limits.h>
#include <stddef.h>

#include "err.h"

#define USERS_LINE_MAX 8192
#define USERS_MAIL_ROOT_DEFAULT "/var/vmail"
#define USERS_LOCK_TIMEOUT 30   /* seconds to wait for another editor */

struct user {
	char *address;     /* lower case */
	char *hash;        /* "" = no password: no login */
	char *mailbox;     /* as written; "" = the default under the mail root */
	char *name;        /* UTF-8, may be "" */
	char *quota;       /* "" = none */
	char *scram;       /* SCRAM-SHA-256 keys (passwd.h), NULL = none */
	char *addresses;   /* more delivery addresses, comma-separated, or NULL */
	char *extra;       /* the admin's x-* fields in file form, or NULL */
	int disabled;      /* no login; mail is still delivered */
	unsigned long lineno;
	char *store_;      /* the memory the fields live in */
};

/* Parse one line (n bytes, no newline) into u. Returns 1 for an account,
 * 0 for a comment or blank line, -1 with e set (EX_DATAERR, reason without
 * file or line) when malformed. */
int users_parse(const char *line, size_t n, struct user *u, struct err *e);

/* u as a line in file form, newline included, in malloc'd memory; NULL
 * when out of memory. */
char *users_format(const struct user *u);

/* Copy u into dst (its own storage) through the file form, so dst is
 * exactly what the file will hold. Returns 0, or -1 with e set: EX_DATAERR
 * when u cannot be written as a valid line (too long, bad name, ...). */
int user_copy(struct user *dst, const struct user *u, struct err *e);

void user_free(struct user *u);

/* Does u receive mail for address (its own or one of its addresses=)? */
int user_has_address(const struct user *u, const char *address);

/* Find the account for address (any case) in the users file at path.
 * Returns 1 with u filled, 0 when there is none, -1 with e set: EX_TEMPFAIL
 * when the file cannot be read, EX_CONFIG when the account's line is
 * malformed. *scanned (when not NULL) is set when no valid index served. */
int users_lookup(const char *path, const char *address, struct user *u,
                 int *scanned, struct err *e);

/* The mailbox path of u: its mailbox field made absolute under root, or
 * root/DOMAIN/LOCAL/Maildir/ when the field is empty. *maildir is set when
 * it is a Maildir (ends in '/'). Returns 0, or -1 with e set (EX_CONFIG)
 * for a path that would leave root or does not fit. */
int users_mailbox(const struct user *u, const char *root, char *out,
                  size_t outsz, int *maildir, struct err *e);

/* The whole file, for listing and editing. */
struct users_file {
	char path[PATH_MAX];
	int lockfd;          /* held while editing; -1 when read-only */
	char **line;         /* the lines as read, without newlines */
	struct user *user;   /* parsed; address NULL on comment and blank lines */
	size_t n, cap;
};

/* Read and check the whole file: every malformed line and duplicate
 * address is an error naming the line (EX_DATAERR), so nothing is dropped
 * by a rewrite. With edit set, lock the file first (a missing file is then
 * an empty one). Returns 0, or -1 with e set. */
int users_open(struct users_file *f, const char *path, int edit, struct err *e);

/* Index of the line of the account receiving address, or -1. */
long users_find(const struct users_file *f, const char *address);

/* Add u, or replace the account with the same address. Returns 0, or -1
 * with e set: EX_CANTCREAT when one of u's addresses belongs to another
 * account, EX_DATAERR when u cannot be written as a valid line. */
int users_put(struct users_file *f, const struct user *u, struct err *e);

/* Remove line i. */
void users_remove(struct users_file *f, size_t i);

/* Write the file and its index. Returns 0, or -1 with e set and the file
 * as it was. */
int users_commit(struct users_file *f, struct err *e);

/* Unlock and free. */
void users_close(struct users_file *f);

/* Give up root for mailbox (a server's session after a login): become
 * its owner (the directory of a Maildir, the file of an mbox, else the
 * nearest directory above it), or, when that is root's and the mailbox
 * is not there yet, delivery_user (root stays root when NULL, as a root
 * runner's deliveries make the mailbox). A mailbox that root owns is
 * read as root; a process not running as root stays as it is.
 * Returns 0, or -1 with e set (EX_NOPERM). */
int users_become(const char *mailbox, const char *delivery_user, struct err *e);

#endif

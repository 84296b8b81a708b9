/* imapbox: a user's Maildir++ tree as mail-imapd serves it. Folders are
 * the Maildir itself (INBOX) and its ".Name.Sub" directories, named in
 * IMAP with "." as the hierarchy delimiter; on disk non-ASCII names are
 * modified UTF-7, as mail-store writes them.
 *
 * An open folder is a list of messages by UID (lib/uidlist) with what
 * IMAP needs of each, all taken from its file name: flags from the
 * Maildir info (":2,DFRST" and keyword letters a-z, whose names are in
 * the folder's "mail-keywords"), the size from ",W=", the INTERNALDATE
 * from the time the name starts with. So opening a folder reads two
 * directories and one file and opens no message; opening one that has
 * not changed since its last full look maps the derived "mail-index"
 * and reads nothing else.
 *
 * The list held is the session's view: box_sync compares it with the
 * disk and says what changed (messages gone, new, flags changed) for the
 * session to report, and only then updates the view. */
#ifndef IMAPBOX_H
#define IMAPBOX_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"

#define BOX_NAME_MAX 1000       /* an IMAP mailbox name, UTF-8 octets */
#define BOX_KEYWORDS_MAX 26     /* letters a-z */
#define BOX_KEYWORD_LEN 100

/* A message of the view. This is also the record of mail-index, which
 * an open maps and uses as the view itself: fixed-size fields only. */
struct box_msg {
	uint32_t uid;
	uint32_t flags;      /* IMAP_F_* of lib/imapsearch.h */
	uint32_t keywords;   /* bit i: keyword i */
	uint32_t name_off;   /* the file's name in the index, when file is NULL */
	uint64_t size;       /* RFC822.SIZE; UINT64_MAX until known */
	int64_t internal;    /* INTERNALDATE; -1 until known */
	char *file;          /* relative to the folder: "cur/BASE:2,FLAGS", "new/BASE",
	                        malloc'd; NULL: the index's, at name_off */
	int32_t gone;        /* expunged on disk, not yet reported */
	uint32_t pad;
};

struct box {
	char root[PATH_MAX];     /* the user's Maildir */
	char dir[PATH_MAX];      /* this folder's */
	char name[BOX_NAME_MAX + 1];   /* IMAP name, UTF-8 */
	int readonly;            /* EXAMINE */
	uint32_t validity, uidnext;
	struct box_msg *m;       /* the session's view, by UID */
	size_t n;
	size_t first_unseen;     /* after box_open: the first message without
	                            \\Seen, from 1; 0 for none */
	size_t recent;           /* messages this session took from new/ */
	char *kw[BOX_KEYWORDS_MAX];
	size_t nkw;
	struct timespec stamp[3];   /* new/, cur/ and the keywords at the last sync */
	char *index;             /* the mail-index mapped at open (copy on write) */
	size_t index_len;
	const char *names;       /* its file names */
	size_t names_len;
	int m_mapped;            /* m is the index's records, not malloc'd */
	size_t nowned;           /* messages whose file is malloc'd */
	size_t ngone;            /* messages marked gone */
	int dirfd;               /* the folder, for openat; -1 when not open */
};

/* What box_sync found; the session reports it and calls
 * box_apply_expunges once it has reported the messages gone. */
struct box_changes {
	size_t *gone;            /* view indexes of messages gone, ascending */
	size_t ngone;
	size_t nnew;             /* messages appended to the view's end */
	size_t *flagged;         /* view indexes whose flags changed */
	size_t nflagged;
	int keywords;            /* the folder's keyword list grew */
	int invalid;             /* the UIDVALIDITY changed: the view is void */
};

/* Open folder name (UTF-8) of the Maildir root: read it as it is, take
 * new mail from new/ into cur/ (unless readonly; those messages are
 * \Recent for this session). Returns 0; -1 with e set: EX_NOINPUT when
 * there is no such folder, else EX_TEMPFAIL. */
int box_open(struct box *b, const char *root, const char *name, int readonly, struct err *e);
void box_close(struct box *b);

/* Look at the disk again. Cheap when nothing changed (three stats).
 * Fills c (free it with box_changes_free). Messages gone are only marked
 * gone in the view until box_apply_expunges. Returns 0, or -1. */
int box_sync(struct box *b, struct box_changes *c, struct err *e);

/* Take messages marked gone out of the view (after reporting EXPUNGE
 * for each). */
void box_apply_expunges(struct box *b);

void box_changes_free(struct box_changes *c);

/* Open message i's file for reading, following it when another session
 * renamed it. Returns the descriptor, or -1 with e set (EX_NOINPUT: the
 * message is gone). */
int box_msg_open(struct box *b, size_t i, struct err *e);

/* RFC822.SIZE and INTERNALDATE of message i, reading the file or its
 * stat when the name does not say. Return 0, or -1 with e set (gone). */
int box_size(struct box *b, size_t i, uint64_t *size, struct err *e);
int box_internal(struct box *b, size_t i, time_t *t, struct err *e);

/* Set message i's flags and keywords (renaming its file). Returns 0, 1
 * when the message has gone meanwhile, -1 with e set. */
int box_set_flags(struct box *b, size_t i, unsigned flags, uint32_t keywords, struct err *e);

/* The index of keyword name (any case), creating it when create and
 * there is room (it is added to the folder's mail-keywords). Returns the
 * index, or -1 (unknown, or no room: e says). */
int box_keyword(struct box *b, const char *name, int create, struct err *e);

/* Remove the files of messages i (n of them, view indexes). They stay
 * in the view, marked gone, until box_apply_expunges. Returns 0, or -1. */
int box_expunge(struct box *b, const size_t *i, size_t n, struct err *e);

/* Copy (or move) messages i of b into folder dest (UTF-8 name), keeping
 * flags and keywords (by name) and INTERNALDATE. uids[k] receives the
 * new UID of message i[k]; *validity the destination's UIDVALIDITY.
 * Moved messages are marked gone. Returns 0; -1 with e set (EX_NOINPUT:
 * no such folder). Nothing is copied in part: on failure the new files
 * are removed. */
int box_copy(struct box *b, const size_t *i, size_t n, const char *dest, int move,
             uint32_t *uids, uint32_t *validity, struct err *e);

/* APPEND: a message from in_fd (CR LF or LF) into folder name of root,
 * with flags, keywords (names, n of them) and its INTERNALDATE (0: now).
 * Returns 0 with its UID and the folder's UIDVALIDITY; -1 with e set
 * (EX_NOINPUT: no such folder; EX_CANTCREAT: over quota). */
int box_append(const char *root, const char *name, int in_fd, unsigned flags,
               const char *const *keywords, size_t nkw, time_t internal,
               uint32_t *uid, uint32_t *validity, struct err *e);

/* STATUS of a folder (not the selected one's view). */
struct box_status {
	uint32_t messages, recent, unseen, deleted, uidnext, validity;
	uint64_t size;
};
int box_status(const char *root, const char *name, struct box_status *st, struct err *e);

/* Folder management. Names are UTF-8; INBOX is the root itself. */
int box_create(const char *root, const char *name, struct err *e);
int box_delete(const char *root, const char *name, struct err *e);
int box_rename(const char *root, const char *from, const char *to, struct err *e);

/* The folders of root (UTF-8 names, INBOX first, the rest sorted);
 * free with box_list_free. */
int box_list(const char *root, char ***names, size_t *n, struct err *e);
void box_list_free(char **names, size_t n);

/* qsort order of names (char *): INBOX first, then a parent before its
 * children. */
int box_name_cmp(const void *a, const void *b);

/* The subscription list ("subscriptions" in the root, one name a line,
 * as Courier and Dovecot keep it). */
int box_subscriptions(const char *root, char ***names, size_t *n, struct err *e);
int box_subscribe(const char *root, const char *name, int on, struct err *e);

/* Special-use folders (RFC 6154): the attribute of name ("\\Sent") or
 * NULL; and making Drafts, Sent, Trash, Junk and Archive, subscribed,
 * where they are missing (first login). */
const char *box_special_use(const char *name);
int box_make_specials(const char *root, struct err *e);

#endif

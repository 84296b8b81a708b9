/* queue: the mail queue shared by mail-recv (which writes it) and
 * mail-send (which writes it for local injection and delivers from it).
 * The layout is documented in mail-queue(5):
 *
 *   QUEUE/tmp/ID     a message being written; debris after a crash
 *   QUEUE/msg/ID     a committed message: envelope lines, a blank line,
 *                    the message with LF line ends
 *   QUEUE/state/ID   what the runner did to each recipient (append-only);
 *                    its fcntl lock is the message's lock
 *   QUEUE/hold/ID    a message put on hold by the admin
 *   QUEUE/incoming/ID  a message dropped by a user who may not write tmp/
 *                    (mode 1777 like /tmp, files 0600); the runner, as
 *                    root, moves it into msg/
 *   QUEUE/trigger    a FIFO; a byte written to it wakes the runner
 *   QUEUE/mta-sts/DOMAIN  MTA-STS policies mail-send fetched (mtasts.c)
 *   QUEUE/tls-ticket.key  the TLS session-ticket key of mail-recv
 *
 * A message is committed by the rename of tmp/ID into msg/, then an
 * fsync of the file and one of msg/, both before the commit is reported,
 * so "queued" means durable. Renaming first lets a journaling file system
 * make both durable in one commit; the envelope's size line (the length
 * of the message part, written last) lets a runner tell a file cut short
 * by a crash before the fsyncs, which was never acknowledged, from a
 * complete one. */
#ifndef QUEUE_H
#define QUEUE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "io.h"

#define QUEUE_ID_MAX 64
#define QUEUE_DIR_DEFAULT LOCALSTATEDIR "/spool/mail-toolkit"

enum queue_where { QUEUE_MSG, QUEUE_INCOMING };

struct queue_msg {
	char dir[PATH_MAX];
	enum queue_where where;  /* tmp/ID -> msg/ID, or incoming/.ID -> incoming/ID */
	char id[QUEUE_ID_MAX];
	char tmp[PATH_MAX];
	int fd;
	struct io_out *out;
	uint64_t size;           /* message bytes written (envelope excluded) */
	uint64_t body_at;        /* where the message starts in the file */
	uint64_t size_at;        /* where the size line's digits are */
};

/* The envelope: what SMTP said about the message. */
struct queue_rcpt {
	const char *address;
	const char *notify;      /* DSN NOTIFY= value, or NULL */
	const char *orcpt;       /* DSN ORCPT= value (xtext as received), or NULL */
};

struct queue_env {
	const char *sender;      /* "" for the null sender */
	const char *body;        /* "7BIT", "8BITMIME", or NULL */
	int smtputf8;
	const char *ret;         /* DSN RET= ("FULL" or "HDRS"), or NULL */
	const char *envid;       /* DSN ENVID= (xtext), or NULL */
	const char *client;      /* who sent it, for logs and bounces, or NULL */
	const struct queue_rcpt *rcpt;
	size_t nrcpt;
};

/* Create the queue directories under dir when missing (dir itself 0711,
 * incoming/ 1777, the others 0700; the FIFO 0622). Returns 0, or -1 with
 * e set. */
int queue_init(const char *dir, struct err *e);

/* Start a message: a new file in tmp/ with its envelope written. Returns
 * 0, or -1 with e set (EX_TEMPFAIL, or EX_CANTCREAT when dir is no
 * queue). */
int queue_open(struct queue_msg *m, const char *dir, const struct queue_env *env,
               struct err *e);
/* The same, committed into incoming/ instead of msg/ when where says so. */
int queue_open_in(struct queue_msg *m, const char *dir, enum queue_where where,
                  const struct queue_env *env, struct err *e);

/* Append message bytes (LF line ends). Errors are kept for queue_commit. */
void queue_write(struct queue_msg *m, const void *p, size_t n);

/* Make the message durable and visible: flush, fsync, rename into msg/,
 * fsync msg/. Returns 0, or -1 with e set and the message removed. */
int queue_commit(struct queue_msg *m, struct err *e);

/* Write out what is buffered, so that m->tmp can be read from body_at on
 * (a message handed to a program instead of the queue). Returns 0, or -1
 * with e set. */
int queue_flush(struct queue_msg *m, struct err *e);

/* Drop a message that will not be committed. */
void queue_abort(struct queue_msg *m);

/* Wake a runner waiting on the trigger FIFO; nothing happens when none
 * waits. */
void queue_trigger(const char *dir);

/* A committed message read back. */
struct queue_file {
	char id[QUEUE_ID_MAX];
	int fd;                  /* the file, open for reading */
	char *text;              /* the envelope, split in place */
	struct queue_env env;    /* pointing into text */
	struct queue_rcpt *rcpt; /* env.rcpt */
	long long arrival;
	uint64_t size;           /* length of the message part */
	uint64_t body_at;        /* where it starts in the file */
	uid_t uid;               /* the file's owner */
};

/* Read the envelope of the message file at path, whose name is its ID.
 * Returns 0, or -1 with e set: EX_NOINPUT when it is gone, EX_DATAERR when
 * the envelope is malformed, EX_IOERR when the message part is not as long
 * as its size line says (a crash cut it short before the commit, which
 * was then never acknowledged), EX_TEMPFAIL when it cannot be read. */
int queue_load(struct queue_file *f, const char *path, struct err *e);
void queue_file_free(struct queue_file *f);

/* The IDs of the files in dir/sub ("msg" or "hold"), sorted, so oldest
 * first within a second. Returns the count, or -1 with e set. */
long queue_list(const char *dir, const char *sub, char ***ids, struct err *e);
void queue_list_free(char **ids, long n);

/* What the runner did with a recipient, or with one place an alias sent it
 * to (a target): the latest line of the state file for it. */
enum queue_status { QS_NONE, QS_DELIVERED, QS_DEFERRED, QS_FAILED };

struct queue_event {
	enum queue_status st;
	size_t rcpt;             /* index in the envelope, from 0 */
	char *target;            /* the address, account, |command or /file */
	long long at, next;      /* when; for QS_DEFERRED the next attempt */
	unsigned tries;          /* deferrals so far */
	char *text;              /* the reply or reason */
};

struct queue_state {
	int fd;                  /* state/ID, open for appending, locked */
	char path[PATH_MAX];
	struct queue_event *ev;  /* one per (rcpt, target), first seen first */
	size_t n, cap;
	size_t nrcpt;
	unsigned char *notified; /* per recipient: a DSN about it is queued */
	int warned;              /* a delay warning is queued */
	long long notice_next;   /* a DSN could not be queued: try again then */
	int error;               /* first errno of a failed append */
};

/* Lock the message id of queue dir: its state file, made when missing,
 * under a non-blocking fcntl lock held until queue_state_close. Returns
 * 1 when locked, 0 when another process holds it, -1 with e set. */
int queue_state_lock(struct queue_state *s, const char *dir, const char *id,
                     struct err *e);
/* Read the state file of a locked message with nrcpt recipients. Lines
 * that do not parse (the last one, cut by a crash) are skipped. Returns
 * 0, or -1 with e set. */
int queue_state_read(struct queue_state *s, size_t nrcpt, struct err *e);
/* The latest event of (rcpt, target), or NULL. */
const struct queue_event *queue_state_get(const struct queue_state *s, size_t rcpt,
                                          const char *target);
/* Append an event (st is not QS_NONE) and keep it as the latest. next is
 * the next attempt for QS_DEFERRED. Errors are kept for queue_state_sync. */
void queue_state_record(struct queue_state *s, enum queue_status st, size_t rcpt,
                        const char *target, long long next, const char *text);
/* Note that a DSN (queued as dsn_id) covers recipient rcpt, or with rcpt
 * (size_t)-1 that a delay warning was sent. */
void queue_state_notified(struct queue_state *s, size_t rcpt, const char *dsn_id);
/* Note that a DSN could not be queued (text says why), to be tried
 * again at next. */
void queue_state_notice_failed(struct queue_state *s, long long next, const char *text);
/* Make the appended lines durable. Returns 0, or -1 with e set. */
int queue_state_sync(struct queue_state *s, struct err *e);
/* Unlock and free; the file stays. */
void queue_state_close(struct queue_state *s);

/* Remove a finished message: msg/ID (or hold/ID), made durable, then its
 * state file, in that order so a crash never leaves a message without its
 * history. Returns 0, or -1 with e set. */
int queue_remove(const char *dir, const char *sub, const char *id, struct err *e);

#endif

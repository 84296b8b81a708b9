/* queue: the mail queue shared by mail-recv (which writes it) and
 * mail-send (which writes it for local injection and delivers from it).
 * The layout is documented in mail-queue(5):
 *
 *   QUEUE/tmp/ID     a message being written; debris after a crash
 *   QUEUE/msg/ID     a committed message: envelope lines, a blank line,
 *                    the message with LF line ends
 *   QUEUE/state/ID   what the runner did to each recipient (append-only)
 *   QUEUE/trigger    a FIFO; a byte written to it wakes the runner
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

#include "err.h"
#include "io.h"

#define QUEUE_ID_MAX 64

struct queue_msg {
	char dir[PATH_MAX];
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

/* Create the queue directories under dir when missing (mode 0700; the
 * FIFO 0600). Returns 0, or -1 with e set. */
int queue_init(const char *dir, struct err *e);

/* Start a message: a new file in tmp/ with its envelope written. Returns
 * 0, or -1 with e set (EX_TEMPFAIL, or EX_CANTCREAT when dir is no
 * queue). */
int queue_open(struct queue_msg *m, const char *dir, const struct queue_env *env,
               struct err *e);

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

#endif

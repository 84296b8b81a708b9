/* clamd: ask a running clamd(8) whether a message carries malware, with
 * the INSTREAM command over its Unix or TCP socket. clamd decodes MIME and
 * archives itself, so the whole message goes as it is, in chunks.
 *
 * Three outcomes, never confused: scanned (clean or infected), not
 * scannable because clamd's StreamMaxLength is smaller than the message
 * (CLAMD_TOOBIG: the caller chooses, but it is not "clean"), and clamd not
 * usable (down, slow, or saying something we do not understand). */
#ifndef CLAMD_H
#define CLAMD_H

#include "err.h"

#define CLAMD_TOOBIG (-2)

struct clamd_result {
	int infected;          /* 1: clamd reported a signature */
	char signature[256];   /* its name, printable ASCII only; "" if clean */
};

/* Scan the bytes of fd, read from its current offset to its end, with the
 * clamd at address: "/path/to/socket" (Unix), "host:port" or
 * "[v6addr]:port" (TCP). Every connect, write and read waits at most
 * timeout_ms for clamd; the last read waits for the scan itself, so allow
 * for clamd's time on a large archive. SIGPIPE is never raised.
 * Returns 0 with r filled in; CLAMD_TOOBIG when clamd refused the message
 * as over its StreamMaxLength (e: EX_DATAERR); -1 with e set otherwise:
 * EX_TEMPFAIL when clamd is unreachable, times out, reports an error or
 * answers outside the protocol, EX_USAGE for a malformed address, and
 * err_code_for_errno's code when fd cannot be read. */
int clamd_scan(const char *address, int fd, unsigned timeout_ms,
	struct clamd_result *r, struct err *e);

/* Is the clamd at address up? Sends PING and expects PONG within
 * timeout_ms for each step. Returns 0, or -1 with e set (EX_TEMPFAIL, or
 * EX_USAGE for a malformed address). */
int clamd_ping(const char *address, unsigned timeout_ms, struct err *e);

#endif

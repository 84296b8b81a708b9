/* err: how library code reports failure without printing or exiting.
 * A failing function fills a struct err with a sysexits(3) code that says
 * whether retrying can help, and a one-line reason; main() prints it. */
#ifndef ERR_H
#define ERR_H

#include <stddef.h>

struct err {
	int code;        /* EX_* from <sysexits.h>; 0 = no error */
	char msg[512];   /* one line, no trailing newline */
};

/* Set e to code and a formatted reason; always returns -1 so callers can
 * write `return err_set(e, ...)`. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As err_set, with ": strerror(errno)" appended (errno read on entry). */
int err_sys(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Put a formatted context before e's reason ("context: reason") and set
 * its code to code (0 keeps it). Returns -1. */
int err_prefix(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The sysexits code for a failed file operation: EX_CANTCREAT when the path
 * cannot exist (a component is missing or not a directory), EX_NOPERM for
 * a refused symbolic link, EX_TEMPFAIL for everything time or an admin can
 * fix (disk full, I/O error, permissions, a read-only remount). */
int err_code_for_errno(int errnum);

/* Copy at most n bytes of untrusted s into out (size outsz, NUL-terminated),
 * escaping control characters, backslash and non-ASCII bytes as \xHH so a
 * log line stays one line and readable. Returns out. */
char *err_escape(char *out, size_t outsz, const char *s, size_t n);

#endif

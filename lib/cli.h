/* cli: how every program's main() stops: one line "prog: reason" on
 * standard error, control characters escaped, and a sysexits(3) code.
 * For main() and the command code beside it only: library code returns
 * its errors (lib/err.h) and never exits. */
#ifndef CLI_H
#define CLI_H

/* The name the messages start with ("mail-store"); call first. */
void cli_init(const char *prog);

/* Print the formatted reason and exit with code. */
__attribute__((noreturn, format(printf, 2, 3)))
void cli_die(int code, const char *fmt, ...);

/* A usage error: the reason, a pointer to --help, exit 64 (EX_USAGE). */
__attribute__((noreturn)) void cli_usage(const char *msg);

/* The number s of a flag named what, from min to max, or a usage error. */
unsigned long cli_number(const char *s, unsigned long min, unsigned long max, const char *what);

#endif

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "conf.h"
#include "err.h"

static const char *prog = "mail";

void cli_init(const char *name)
{
	prog = name;
}

void cli_die(int code, const char *fmt, ...)
{
	char msg[600], safe[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", prog, err_escape(safe, sizeof safe, msg, strlen(msg)));
	exit(code);
}

void cli_usage(const char *msg)
{
	fprintf(stderr, "%s: %s (see %s --help)\n", prog, msg, prog);
	exit(EX_USAGE);
}

unsigned long cli_number(const char *s, unsigned long min, unsigned long max, const char *what)
{
	unsigned long n;

	if (conf_parse_uint(s, max, &n) < 0 || n < min) {
		char msg[128];

		snprintf(msg, sizeof msg, "%s takes a number from %lu to %lu", what, min, max);
		cli_usage(msg);
	}
	return n;
}

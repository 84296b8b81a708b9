#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "err.h"

static __attribute__((format(printf, 4, 0)))
void vset(struct err *e, int code, const char *suffix, const char *fmt, va_list ap)
{
	int n;

	e->code = code;
	n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	if (n < 0)
		n = 0;
	if (suffix != NULL && (size_t)n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", suffix);
	/* A truncated reason is still a reason: no error path for the error path. */
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, code, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int err_sys(struct err *e, int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vset(e, code, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

int err_prefix(struct err *e, int code, const char *fmt, ...)
{
	char old[sizeof e->msg];
	va_list ap;

	memcpy(old, e->msg, sizeof old);
	va_start(ap, fmt);
	vset(e, code ? code : e->code, old, fmt, ap);
	va_end(ap);
	return -1;
}

int err_code_for_errno(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		return EX_CANTCREAT;
	case ELOOP:
		return EX_NOPERM;
	default:
		/* ENOSPC, EDQUOT, EFBIG, EIO, ENOMEM, EMFILE...: try again later. */
		return EX_TEMPFAIL;
	}
}

char *err_escape(char *out, size_t outsz, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outsz == 0)
		return out;
	for (size_t i = 0; i < n && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= outsz)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* smtp: the pieces of RFC 5321 both the server (mail-recv) and the client
 * side share: paths in MAIL FROM and RCPT TO, ESMTP parameters, reply
 * codes. Parsing is strict: a path is exactly RFC 5321's Mailbox (with
 * RFC 6531's UTF-8 only when the client declared SMTPUTF8), a parameter
 * holds no control character, and nothing parsed here ever reaches a
 * shell. */
#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>

#define SMTP_PATH_MAX 256    /* RFC 5321 section 4.5.3.1.3, brackets included */
#define SMTP_PARAMS_MAX 16

struct smtp_param {
	char keyword[32];        /* upper-cased */
	char value[512];         /* "" when the parameter has no value */
	int has_value;
};

/* Parse "<path> [params]" at s (after "MAIL FROM:" or "RCPT TO:", blanks
 * allowed before '<' as many clients send them). Writes the mailbox,
 * without brackets, to addr (SMTP_PATH_MAX bytes; "" for the null path
 * <>, allowed only when null_ok), and sets *params to the text after the
 * path. utf8 allows UTF-8 in the mailbox (SMTPUTF8 declared). A source
 * route (@a,@b:) is accepted and dropped, as RFC 5321 requires. Returns 0,
 * or -1 with a reply-ready reason in why (static text). */
int smtp_parse_path(const char *s, int null_ok, int utf8, char *addr,
                    const char **params, const char **why);

/* Split the ESMTP parameters in s ("KEY=VALUE KEY2 ...") into p (at most
 * max). Returns the count, or -1 with why set: a malformed keyword, a
 * value with a control character, '=' or blank, too many parameters. */
int smtp_parse_params(const char *s, struct smtp_param *p, int max, const char **why);

/* xtext (RFC 3461) decoding of s into out (outsz bytes). Returns 0, or -1
 * when s is not valid xtext or does not fit. */
int smtp_xtext_decode(const char *s, char *out, size_t outsz);

#endif

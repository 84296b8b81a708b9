/* rules: scored regular-expression checks of a message's header and
 * text (issue 8), in a file format like SpamAssassin's but smaller. The
 * scores of the rules a message matches add to mail-filter's verdict.
 *
 * The file: one rule a line; blank lines and lines whose first non-blank
 * character is '#' are ignored ('#' elsewhere is part of the line).
 * Words are separated by spaces or tabs.
 *
 *   header NAME FIELD /REGEX/FLAGS SCORE
 *       matches each occurrence of header field FIELD (any case) in the
 *       message's top header, its value unfolded and RFC 2047-decoded to
 *       UTF-8.
 *   body NAME /REGEX/FLAGS SCORE
 *       matches the decoded text of every text/plain and text/html part
 *       (those inside attached messages too): transfer encoding undone,
 *       charset made UTF-8, HTML tags (from '<' to '>') removed,
 *       entities left as written.
 *   describe NAME text...
 *       optional; a description of rule NAME, which must come before it
 *       in the file; the text runs to the end of the line.
 *
 * NAME is 1 to RULES_NAME_MAX of A-Z, 0-9 and '_', unique in the file.
 * FIELD is a header field name (printable ASCII but ':', at most 76).
 * REGEX is a POSIX extended regular expression (regcomp(3) with
 * REG_EXTENDED) of at most RULES_REGEX_MAX octets, not empty; a '/'
 * inside it is written "\/", every other backslash is passed to regcomp
 * as written. FLAGS is empty or "i" (case-insensitive). SCORE is a
 * decimal number, which may be negative: [+-]digits[.digits], at most
 * 1000 either way.
 *
 * Regexes are applied one line at a time: a header value is one line; the
 * text of a part is split at LF (a CR before it dropped, a NUL read as a
 * space), so '^' and '$' anchor at line ends and a match never spans two
 * lines. A line longer than RULES_LINE_MAX octets is scanned in windows
 * of that size, each starting with the last RULES_OVERLAP octets of the
 * one before, so a match across a window cut is found when it is at most
 * that long. At most RULES_TEXT_MAX octets of text are scanned per
 * message; text past that is not looked at. Each rule counts at most once
 * per message, however often it matches.
 *
 * Limits of the file: at most RULES_MAX rules, lines of at most
 * RULES_LINE_MAX octets. */
#ifndef RULES_H
#define RULES_H

#include <stddef.h>

#include "err.h"

#define RULES_MAX 1000
#define RULES_LINE_MAX 4096
#define RULES_REGEX_MAX 1024
#define RULES_NAME_MAX 40
#define RULES_OVERLAP 256
#define RULES_TEXT_MAX (1024 * 1024)
#define RULES_SCORE_MAX 1000.0

struct rules;        /* loaded rules; opaque */
struct mime_msg;

/* Load the rules file at path into *r. Returns 0, or -1 with e set:
 * EX_CONFIG and "path:LINE: reason" for a bad line or a limit passed,
 * the code of file_read_all when the file cannot be read. */
int rules_load(struct rules **r, const char *path, struct err *e);

/* Check message m (opened without MIME_HEADER_ONLY when there are body
 * rules) against r: *score gets the sum of the scores of the rules that
 * matched, and hits (when hitssz > 0) their names in file order joined
 * by ',' like SpamAssassin's "tests=", cut before the first name that
 * would not fit in hitssz with its NUL (a name is never cut). Returns the
 * number of rules that matched, or -1 with e set (EX_TEMPFAIL) when the
 * message cannot be read. */
int rules_check(const struct rules *r, struct mime_msg *m, double *score,
                char *hits, size_t hitssz, struct err *e);

/* How many rules r holds. */
size_t rules_count(const struct rules *r);

/* The description of rule name, or NULL when it has none or there is no
 * such rule. */
const char *rules_describe(const struct rules *r, const char *name);

void rules_free(struct rules *r);

#endif

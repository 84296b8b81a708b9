/* lib/imapfmt.c: strings quoted or sent as literals, NIL, sequence sets
 * parsed (with "*", reversed ranges, the limits on numbers and ranges),
 * matched against a mailbox whose "*" is known, and written compactly. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapfmt.h"
#include "tap.h"

/* imap_string of n bytes, as a C string (literals keep their NULs out of
 * the comparison by the callers that need them) */
static struct strbuf fmt;

static const char *str(const char *s, size_t n)
{
	sb_reset(&fmt);
	imap_string(&fmt, s, n);
	return fmt.failed || fmt.s == NULL ? "(failed)" : fmt.s;
}

static const char *nstr(const char *s)
{
	sb_reset(&fmt);
	imap_nstring(&fmt, s);
	return fmt.failed || fmt.s == NULL ? "(failed)" : fmt.s;
}

static void test_strings(void)
{
	char big[2000], bytes[64];
	int n;

	is_str(str("hello", 5), "\"hello\"", "plain text is quoted");
	is_str(str("", 0), "\"\"", "the empty string is \"\"");
	is_str(str("a\"b", 3), "\"a\\\"b\"", "a quote is escaped");
	is_str(str("a\\b", 3), "\"a\\\\b\"", "a backslash is escaped");
	is_str(str("\\\"", 2), "\"\\\\\\\"\"", "backslash then quote: both escaped");
	is_str(str("a b\t(c){d}%*", 12), "\"a b\t(c){d}%*\"",
	       "spaces, tab, parentheses, braces and wildcards are fine quoted");
	is_str(str("NIL", 3), "\"NIL\"", "the word NIL is quoted, never an atom");
	is_str(str("a\rb", 3), "{3}\r\na\rb", "CR: a literal");
	is_str(str("a\nb", 3), "{3}\r\na\nb", "LF: a literal");
	is_str(str("line\r\n", 6), "{6}\r\nline\r\n", "CRLF: a literal");
	is_str(str("caf\xc3\xa9", 5), "{5}\r\ncaf\xc3\xa9", "UTF-8: a literal");
	is_str(str("\x80", 1), "{1}\r\n\x80", "0x80: a literal");
	is_str(str("\xff", 1), "{1}\r\n\xff", "0xff: a literal");
	is_str(str("\x7f", 1), "\"\x7f\"", "0x7f (DEL) is a 7-bit CHAR: quoted");
	is_str(str("\x01", 1), "\"\x01\"", "0x01 is a CHAR: quoted");

	/* NUL: a literal that holds all n bytes */
	sb_reset(&fmt);
	imap_string(&fmt, "a\0b", 3);
	ok(!fmt.failed && fmt.len == 8 && memcmp(fmt.s, "{3}\r\na\0b", 8) == 0,
	   "NUL: a literal with every byte, length 3");
	sb_reset(&fmt);
	imap_string(&fmt, "\"\0", 2);
	ok(!fmt.failed && fmt.len == 7 && memcmp(fmt.s, "{2}\r\n\"\0", 7) == 0,
	   "a literal is not escaped: the quote goes as it is");
	sb_reset(&fmt);
	imap_string(&fmt, "abc", 2);
	ok(fmt.len == 4 && memcmp(fmt.s, "\"ab\"", 4) == 0, "only n bytes are taken");

	/* the length limit: 1024 bytes quoted, 1025 a literal */
	memset(big, 'x', sizeof big);
	sb_reset(&fmt);
	imap_string(&fmt, big, 1024);
	ok(fmt.len == 1026 && fmt.s[0] == '"' && fmt.s[1025] == '"', "1024 bytes: quoted");
	sb_reset(&fmt);
	imap_string(&fmt, big, 1025);
	ok(fmt.len == 8 + 1025 && memcmp(fmt.s, "{1025}\r\n", 8) == 0 && fmt.s[8 + 1024] == 'x',
	   "1025 bytes: a literal {1025}");
	sb_reset(&fmt);
	imap_string(&fmt, big, sizeof big);
	ok(fmt.len == 8 + sizeof big && memcmp(fmt.s, "{2000}\r\n", 8) == 0,
	   "2000 bytes: a literal {2000}");
	/* 1024 quoted bytes that are all escaped grow to 2048 + 2: still quoted */
	memset(big, '"', 1024);
	sb_reset(&fmt);
	imap_string(&fmt, big, 1024);
	ok(fmt.len == 2050 && fmt.s[1] == '\\' && fmt.s[2] == '"', "1024 quotes: quoted, escaped");
	/* every byte from 1 to 127 but CR and LF goes quoted */
	n = 0;
	for (int c = 1; c < 128; c++) {
		char b = (char)c;

		sb_reset(&fmt);
		imap_string(&fmt, &b, 1);
		if ((fmt.s[0] == '"') != (c != '\r' && c != '\n'))
			n++;
	}
	ok(n == 0, "bytes 1..127 quoted, CR and LF literal (%d wrong)", n);
	for (int i = 0; i < 64; i++)
		bytes[i] = (char)(0x80 + i);
	sb_reset(&fmt);
	imap_string(&fmt, bytes, 64);
	ok(memcmp(fmt.s, "{64}\r\n", 6) == 0 && memcmp(fmt.s + 6, bytes, 64) == 0,
	   "8-bit bytes are sent unchanged in the literal");

	is_str(nstr(NULL), "NIL", "imap_nstring(NULL): NIL");
	is_str(nstr(""), "\"\"", "imap_nstring(\"\"): \"\", not NIL");
	is_str(nstr("x\"y"), "\"x\\\"y\"", "imap_nstring quotes like imap_string");
	is_str(nstr("a\r\nb"), "{4}\r\na\r\nb", "imap_nstring: a literal for CRLF");

	/* appending: the builder is not reset between calls */
	sb_reset(&fmt);
	imap_nstring(&fmt, "a");
	sb_addc(&fmt, ' ');
	imap_nstring(&fmt, NULL);
	sb_addc(&fmt, ' ');
	imap_string(&fmt, "\n", 1);
	ok(fmt.len == 14 && memcmp(fmt.s, "\"a\" NIL {1}\r\n\n", 14) == 0, "strings are appended");
}

/* the set as "lo:hi,..." (with * for IMAP_STAR) */
static const char *show(const struct imap_set *set)
{
	static char out[200];
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < set->n && o < sizeof out - 30; i++) {
		char lo[16], hi[16];

		snprintf(lo, sizeof lo, set->r[i].lo == IMAP_STAR ? "*" : "%lu", (unsigned long)set->r[i].lo);
		snprintf(hi, sizeof hi, set->r[i].hi == IMAP_STAR ? "*" : "%lu", (unsigned long)set->r[i].hi);
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%s:%s", i ? "," : "", lo, hi);
	}
	return out;
}

static const char *parsed(const char *s)
{
	struct imap_set set;
	static char out[200];

	if (imap_set_parse(s, &set) < 0)
		return "(invalid)";
	snprintf(out, sizeof out, "%s", show(&set));
	imap_set_free(&set);
	return out;
}

static void test_set_parse(void)
{
	static const char *const invalid[] = {
		"", "0", "0:3", "3:0", "1:", ":1", ":", "1,,2", ",1", "1,", "a", "1a", "1:a",
		" 1", "1 ", "1, 2", "01", "-1", "+1", "1:2:3", "**", "*1", "1*", "1.5",
		"4294967295", "4294967296", "1:4294967296", "1:4294967295", "99999999999999999999",
		"$", "1:*:2",
	};
	struct imap_set set;
	size_t o, cap = IMAP_SET_MAX * 12 + 20;
	char *many;

	is_str(parsed("1"), "1:1", "\"1\"");
	is_str(parsed("1:3"), "1:3", "\"1:3\"");
	is_str(parsed("3:1"), "3:1", "\"3:1\" is kept as written (reversed)");
	is_str(parsed("*"), "*:*", "\"*\"");
	is_str(parsed("1:*"), "1:*", "\"1:*\"");
	is_str(parsed("*:4"), "*:4", "\"*:4\"");
	is_str(parsed("1,3:5,7"), "1:1,3:5,7:7", "\"1,3:5,7\"");
	is_str(parsed("10"), "10:10", "a zero after the first digit");
	is_str(parsed("4294967294"), "4294967294:4294967294", "4294967294, the largest number");
	is_str(parsed("1:4294967294"), "1:4294967294", "... also at a range's end");
	is_str(parsed("5,5,5"), "5:5,5:5,5:5", "repeats are allowed");
	is_str(parsed("*,1:*,*:*"), "*:*,1:*,*:*", "stars anywhere");
	for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
		ok(strcmp(parsed(invalid[i]), "(invalid)") == 0, "invalid: \"%s\"", invalid[i]);
	/* a failed parse leaves an empty set that can be freed */
	set.r = (void *)&set;
	set.n = 7;
	ok(imap_set_parse("1,x", &set) == -1 && set.r == NULL && set.n == 0,
	   "a failed parse leaves the set empty");
	imap_set_free(&set);
	imap_set_free(&set);
	ok(set.r == NULL && set.n == 0, "imap_set_free twice is harmless");

	/* IMAP_SET_MAX ranges, and one more */
	if ((many = malloc(cap)) == NULL)
		abort();
	o = 0;
	for (unsigned i = 1; i <= IMAP_SET_MAX; i++)
		o += (size_t)snprintf(many + o, cap - o, "%s%u", i > 1 ? "," : "", 2 * i);
	ok(imap_set_parse(many, &set) == 0 && set.n == IMAP_SET_MAX &&
	   set.r[IMAP_SET_MAX - 1].lo == 2 * IMAP_SET_MAX, "%d ranges: accepted", IMAP_SET_MAX);
	ok(imap_set_contains(&set, 2 * IMAP_SET_MAX, 0) && !imap_set_contains(&set, 3, 0),
	   "... and all of them are searched");
	imap_set_free(&set);
	snprintf(many + o, cap - o, ",1");
	ok(imap_set_parse(many, &set) == -1 && set.r == NULL, "%d ranges: refused", IMAP_SET_MAX + 1);
	snprintf(many + o, cap - o, ",");
	ok(imap_set_parse(many, &set) == -1, "%d ranges and a trailing comma: refused", IMAP_SET_MAX);
	free(many);
}

static int contains(const char *s, uint32_t v, uint32_t star)
{
	struct imap_set set;
	int r;

	if (imap_set_parse(s, &set) < 0)
		return -1;
	r = imap_set_contains(&set, v, star);
	imap_set_free(&set);
	return r;
}

static void test_set_contains(void)
{
	ok(contains("1", 1, 10) == 1 && contains("1", 2, 10) == 0, "1: just 1");
	ok(contains("2:4", 1, 10) == 0 && contains("2:4", 2, 10) == 1 && contains("2:4", 3, 10) == 1 &&
	   contains("2:4", 4, 10) == 1 && contains("2:4", 5, 10) == 0, "2:4: 2, 3 and 4");
	ok(contains("4:2", 1, 10) == 0 && contains("4:2", 2, 10) == 1 && contains("4:2", 3, 10) == 1 &&
	   contains("4:2", 4, 10) == 1 && contains("4:2", 5, 10) == 0, "4:2 is 2:4");
	ok(contains("*", 10, 10) == 1 && contains("*", 9, 10) == 0, "*: the largest number");
	ok(contains("1:*", 1, 10) && contains("1:*", 10, 10) && !contains("1:*", 11, 10),
	   "1:*: up to star");
	/* RFC 9051 6.4.8: "*:4" with star 3 is "3:4", which holds 3 */
	ok(contains("*:4", 3, 3) && contains("*:4", 4, 3) && !contains("*:4", 2, 3),
	   "*:4 with star 3 holds 3 (and 4), not 2");
	ok(contains("5:*", 3, 3) && !contains("5:*", 2, 3), "5:* with star 3 is 3:5: holds 3");
	ok(contains("*:4", 4, 10) && contains("*:4", 10, 10) && !contains("*:4", 3, 10),
	   "*:4 with star 10 is 4:10");
	ok(contains("1,3:5,7", 1, 10) && !contains("1,3:5,7", 2, 10) && contains("1,3:5,7", 4, 10) &&
	   !contains("1,3:5,7", 6, 10) && contains("1,3:5,7", 7, 10) && !contains("1,3:5,7", 8, 10),
	   "1,3:5,7: 1, 3..5, 7");
	/* an empty mailbox: star is 0, and no number from 1 is in "*" */
	ok(contains("*", 1, 0) == 0 && contains("*", 0, 0) == 1, "empty mailbox: * is 0 alone");
	ok(contains("*:*", 1, 0) == 0, "empty mailbox: *:* holds no message");
	ok(contains("3:*", 3, 0) == 1 && contains("3:*", 4, 0) == 0,
	   "empty mailbox: 3:* is 0:3 (for UIDs: up to 3)");
	ok(contains("4294967294", 4294967294U, 0) == 1 &&
	   contains("1:4294967294", 4294967294U, 5) == 1 &&
	   contains("1:4294967294", IMAP_STAR, 5) == 0, "the largest number, and no further");
	ok(contains("4294967294:*", 7, 7) == 1 && contains("4294967294:*", 6, 7) == 0,
	   "4294967294:* with star 7 is 7:4294967294");
	ok(contains("1", 0, 0) == 0 && contains("1:3", 0, 10) == 0, "0 is in no set without *");
}

static const char *formatted(const uint32_t *v, size_t n)
{
	sb_reset(&fmt);
	imap_set_format(&fmt, v, n);
	return fmt.failed ? "(failed)" : fmt.s == NULL || fmt.len == 0 ? "" : fmt.s;
}

static void test_set_format(void)
{
	static const uint32_t one[] = { 7 }, run[] = { 1, 2, 3 }, mixed[] = { 1, 2, 3, 5, 7, 8, 10 },
		unsorted[] = { 5, 6, 7, 1, 2, 9 }, down[] = { 3, 2, 1 }, dup[] = { 4, 4, 5 },
		big[] = { 4294967293U, 4294967294U }, pairs[] = { 1, 3, 5 };
	struct imap_set set;

	is_str(formatted(one, 0), "", "no numbers: nothing");
	is_str(formatted(one, 1), "7", "one number");
	is_str(formatted(run, 3), "1:3", "a run: lo:hi");
	is_str(formatted(run, 2), "1:2", "a run of two: 1:2");
	is_str(formatted(pairs, 3), "1,3,5", "gaps everywhere: no ranges");
	is_str(formatted(mixed, 7), "1:3,5,7:8,10", "runs and single numbers");
	is_str(formatted(unsorted, 6), "5:7,1:2,9", "unsorted input keeps its order, runs joined");
	is_str(formatted(down, 3), "3,2,1", "descending numbers are not a run");
	is_str(formatted(dup, 3), "4,4:5", "a repeated number is written again");
	is_str(formatted(big, 2), "4294967293:4294967294", "the largest numbers");
	sb_reset(&fmt);
	sb_adds(&fmt, "[COPYUID 9 ");
	imap_set_format(&fmt, run, 3);
	is_str(fmt.s, "[COPYUID 9 1:3", "appended to what the buffer holds");

	/* what is formatted parses back to the same numbers */
	ok(imap_set_parse(formatted(mixed, 7), &set) == 0, "the output is a valid set");
	{
		int same = 1;

		for (uint32_t v = 0; v <= 12; v++) {
			int in = 0;

			for (size_t i = 0; i < 7; i++)
				in |= mixed[i] == v;
			same &= imap_set_contains(&set, v, 12) == in;
		}
		ok(same, "... holding exactly the numbers given");
	}
	imap_set_free(&set);
}

int main(void)
{
	test_strings();
	test_set_parse();
	test_set_contains();
	test_set_format();
	sb_free(&fmt);
	return done_testing();
}

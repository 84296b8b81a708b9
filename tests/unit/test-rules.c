/* lib/rules.c: the file format (good lines, every kind of bad line with
 * its line number, the limits), header rules on decoded fields, body
 * rules across block and window cuts and in encoded and HTML parts,
 * scores, counting once, and the hits list cut to fit. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "mime.h"
#include "rules.h"
#include "tap.h"

static char dir[] = "/tmp/test-rules.XXXXXX";
static char rpath[64];

static void put(const char *name, const char *data, size_t n, char *path, size_t pathsz)
{
	int fd;

	if (snprintf(path, pathsz, "%s/%s", dir, name) >= (int)pathsz ||
	    (fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    (n > 0 && write(fd, data, n) != (ssize_t)n) || close(fd) < 0)
		abort();
}

/* load rules text; the error in e */
static struct rules *load(const char *text, struct err *e)
{
	struct rules *r = NULL;

	put("rules", text, strlen(text), rpath, sizeof rpath);
	e->code = 0;
	e->msg[0] = '\0';
	if (rules_load(&r, rpath, e) < 0)
		return NULL;
	return r;
}

/* does loading text fail with EX_CONFIG and "rules:LINE: ...why..." */
static void bad(const char *text, unsigned line, const char *why, const char *label)
{
	struct err e;
	struct rules *r = load(text, &e);
	char want[128];

	snprintf(want, sizeof want, "%s:%u: ", rpath, line);
	ok(r == NULL && e.code == EX_CONFIG && strncmp(e.msg, want, strlen(want)) == 0 &&
	   strstr(e.msg, why) != NULL, "bad: %s", label) ||
		printf("#   got: %s\n", e.msg);
	rules_free(r);
}

/* check message msg (n octets) against r: the number of hits, -1 on error */
static int check_n(const struct rules *r, const char *msg, size_t n, double *score,
                   char *hits, size_t hitssz)
{
	char path[128];
	struct err e;
	struct mime_msg *m;
	int fd, got;

	put("msg", msg, n, path, sizeof path);
	if ((fd = open(path, O_RDONLY)) < 0)
		abort();
	m = mime_open(fd, 0, &e);
	close(fd);
	if (m == NULL)
		return -1;
	got = rules_check(r, m, score, hits, hitssz, &e);
	mime_close(m);
	unlink(path);
	return got;
}

static int check(const struct rules *r, const char *msg, double *score, char *hits, size_t hitssz)
{
	return check_n(r, msg, strlen(msg), score, hits, hitssz);
}

static void test_parse(void)
{
	struct err e;
	struct rules *r;
	char big[RULES_LINE_MAX + 64], *many;
	size_t off = 0;

	r = load("# a comment\n"
	         "\n"
	         "   # indented comment\n"
	         "header SUBJ_FREE Subject /free/i 1.5\n"
	         "header\tFROM_X  from\t/@x\\.example$/  -2.25\n"
	         "body URL_PATH /http:\\/\\/evil\\.example\\/x/ +3\n"
	         "describe URL_PATH A URL with a path  \n"
	         "body NEG_0 /hello/ -0.5\r\n"
	         "body ESC /a\\/b\\\\/ 0\n", &e);
	ok(r != NULL, "a good file loads") || printf("#   %s\n", e.msg);
	if (r == NULL)
		return;
	ok(rules_count(r) == 5, "five rules");
	is_str(rules_describe(r, "URL_PATH") ? rules_describe(r, "URL_PATH") : "(null)",
	       "A URL with a path  ", "describe text");
	ok(rules_describe(r, "SUBJ_FREE") == NULL && rules_describe(r, "NOPE") == NULL,
	   "no description: NULL");
	{
		double score;
		char hits[64];
		int n = check(r, "Subject: x\nFrom: b@x.example\n\nHELLO http://evil.example/x?a/b\\\n",
		              &score, hits, sizeof hits);

		ok(n == 3 && score == 0.75, "escaped slashes; no i flag: case kept (%d, %g)", n, score);
		is_str(hits, "FROM_X,URL_PATH,ESC", "hits of the first file");
	}
	rules_free(r);

	bad("header A Subject /x/ 1\nfoo B /x/ 1\n", 2, "unknown keyword", "unknown keyword");
	bad("\n\nheader a Subject /x/ 1\n", 3, "NAME", "lower-case name");
	bad("body ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJX /x/ 1\n", 1, "NAME", "name of 41");
	bad("body A /x/ 1\nbody A /y/ 2\n", 2, "twice", "duplicate name");
	bad("header A /x/ 1\n", 1, "FIELD", "header without a field");
	bad("header A Sub:ject /x/ 1\n", 1, "FIELD", "field with a colon");
	bad("body A x 1\n", 1, "missing /REGEX/", "no regex");
	bad("body A /x 1\n", 1, "not closed", "regex not closed");
	bad("body A // 1\n", 1, "empty regex", "empty regex");
	bad("body A /x/g 1\n", 1, "unknown regex flag", "unknown flag");
	bad("body A /(x/ 1\n", 1, "bad regex", "regcomp error");
	bad("body A /x/\n", 1, "missing SCORE", "no score");
	bad("body A /x/ 1.2.3\n", 1, "SCORE", "bad score");
	bad("body A /x/ 1e3\n", 1, "SCORE", "exponent score");
	bad("body A /x/ 1.\n", 1, "SCORE", "score ending in a point");
	bad("body A /x/ 1001\n", 1, "SCORE", "score over 1000");
	bad("body A /x/ 1 2\n", 1, "after SCORE", "text after the score");
	bad("describe A text\nbody A /x/ 1\n", 1, "not defined", "describe before its rule");
	bad("describe\n", 1, "describe needs", "describe without a name");

	/* limits: a line of 4097, a regex of 1025, 1001 rules */
	memcpy(big, "body A /x/ 1\ndescribe A ", 24);
	memset(big + 24, 'x', RULES_LINE_MAX - 11);
	memcpy(big + 13 + RULES_LINE_MAX, "\n", 2);
	r = load(big, &e);
	ok(r != NULL, "a line of 4096 loads") || printf("#   %s\n", e.msg);
	rules_free(r);
	memcpy(big + 13 + RULES_LINE_MAX, "x\n", 3);
	bad(big, 2, "longer than 4096", "a line of 4097");
	memcpy(big, "body A /", 8);
	memset(big + 8, 'x', RULES_REGEX_MAX);
	memcpy(big + 8 + RULES_REGEX_MAX, "/ 1\n", 5);
	r = load(big, &e);
	ok(r != NULL, "a regex of 1024 loads") || printf("#   %s\n", e.msg);
	rules_free(r);
	memcpy(big + 8 + RULES_REGEX_MAX, "x/ 1\n", 6);
	bad(big, 1, "longer than 1024", "a regex of 1025");
	many = malloc(40 * (RULES_MAX + 1) + 1);
	for (int i = 0; i < RULES_MAX + 1; i++)
		off += (size_t)sprintf(many + off, "body R%d /x%d/ 1\n", i, i);
	many[off - (sizeof "body R1000 /x1000/ 1\n" - 1)] = '\0';
	r = load(many, &e);
	ok(r != NULL && rules_count(r) == RULES_MAX, "1000 rules load") || printf("#   %s\n", e.msg);
	rules_free(r);
	many[off - (sizeof "body R1000 /x1000/ 1\n" - 1)] = 'b';
	bad(many, 1001, "more than 1000", "1001 rules");
	free(many);

	r = NULL;
	ok(rules_load(&r, "/nonexistent/rules", &e) < 0 && r == NULL && e.code != 0 &&
	   strstr(e.msg, "/nonexistent/rules") != NULL, "a missing file: %s", e.msg);
}

static void test_headers(void)
{
	struct err e;
	struct rules *r = load("header SUBJ_FREE subject /free money/i 2.5\n"
	                       "header RCVD_BAD RECEIVED /from evil\\.example/ 1\n"
	                       "header TO_ANY To /./ 0.25\n"
	                       "header FROM_OK From /@good\\.example>?$/ -3\n"
	                       "body NEVER /neverthere/ 100\n", &e);
	double score;
	char hits[256];
	int n;

	ok(r != NULL, "header rules load") || printf("#   %s\n", e.msg);
	if (r == NULL)
		return;
	n = check(r, "Received: from a.example\n"
	             "Received: from evil.example by b\n"
	             "From: Alice <a@good.example>\n"
	             "Subject: =?utf-8?q?Fr=C3=A9e_or_FREE_MONEY?=\n"
	             "\n"
	             "body\n", &score, hits, sizeof hits);
	ok(n == 3, "three header rules match (%d)", n);
	ok(score == 2.5 + 1 - 3, "score adds, negative too (%g)", score);
	is_str(hits, "SUBJ_FREE,RCVD_BAD,FROM_OK", "hits in file order");

	n = check(r, "Subject: nothing\nTo: x@y\nTo: z@w\nReceived: a\nReceived: b\n\nfree money\n",
	          &score, hits, sizeof hits);
	ok(n == 1 && score == 0.25, "two To: fields count once (%d, %g)", n, score);
	is_str(hits, "TO_ANY", "hits: one name");
	n = check(r, "Subject: =?iso-8859-1?b?ZnJlZSBtb25leQ==?=\n\nx\n", &score, hits, sizeof hits);
	ok(n == 1 && score == 2.5, "base64 encoded-word decoded (%d)", n);
	n = check(r, "Subject: =?utf-8?q?free?=\n =?utf-8?q?_money?=\n\nx\n", &score, hits, sizeof hits);
	ok(n == 1, "folded encoded words joined (%d)", n);
	n = check(r, "X-Subject: free money\n\nx\n", &score, hits, sizeof hits);
	ok(n == 0 && score == 0 && hits[0] == '\0', "another field does not match");
	rules_free(r);
}

static void test_bodies(void)
{
	struct err e;
	struct rules *r = load("body VIAGRA /viagra/i 2\n"
	                       "body LINE_START /^start here$/ 1\n"
	                       "body UNSUB /click to unsubscribe/ 0.5\n", &e);
	double score;
	char hits[256];
	int n;

	ok(r != NULL, "body rules load") || printf("#   %s\n", e.msg);
	if (r == NULL)
		return;
	n = check(r, "Subject: x\n\nbuy ViAgRa now\nviagra again\nstart here\r\nmore\n",
	          &score, hits, sizeof hits);
	ok(n == 2 && score == 3, "plain text, a rule counts once (%d, %g)", n, score);
	is_str(hits, "VIAGRA,LINE_START", "body hits");
	n = check(r, "Subject: x\n\nclick to\nunsubscribe\n", &score, hits, sizeof hits);
	ok(n == 0, "no match across lines");
	n = check(r, "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain\n"
	             "Content-Transfer-Encoding: base64\n\n"
	             "YnV5IHZpYWdyYSBub3cKc3RhcnQgaGVyZQo=\n", &score, hits, sizeof hits);
	ok(n == 2, "base64 part decoded (%d)", n);
	n = check(r, "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain\n"
	             "Content-Transfer-Encoding: quoted-printable\n\n"
	             "click to unsub=\nscribe\nvi=61gra\n", &score, hits, sizeof hits);
	ok(n == 2 && score == 2.5, "quoted-printable soft break joined (%d)", n);
	n = check(r, "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n"
	             "--b\nContent-Type: text/plain\n\nnothing\n"
	             "--b\nContent-Type: text/html\n\n<p>Vi<b>ag</b>ra</p>\n<p>start <i>here</i></p>\n"
	             "<a href=\"x\">click to\nunsubscribe</a>\n--b--\n", &score, hits, sizeof hits);
	ok(n == 2 && score == 3, "HTML tags removed, also across lines (%d)", n);
	n = check(r, "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
	             "--b\nContent-Type: application/octet-stream\n\nviagra\n"
	             "--b\nContent-Type: text/plain\n\nstart\n--b\nContent-Type: text/plain\n\nhere\n"
	             "--b--\n", &score, hits, sizeof hits);
	ok(n == 0, "attachments not read; parts do not join (%d)", n);
	rules_free(r);
}

/* a match straddling where blocks or windows may be cut */
static void test_cuts(void)
{
	struct err e;
	struct rules *r = load("body NEEDLE /needle in haystack/ 1\n", &e);
	static const size_t cuts[] = { 4096, 8192, 16384, 32768, 65536 };
	size_t hdr = sizeof "Subject: x\n\n" - 1, len = 300000, i;
	char *msg = malloc(len + 1);
	double score;
	int n, all = 1;

	ok(r != NULL, "needle rule loads");
	if (r == NULL || msg == NULL)
		abort();
	/* lines of 99 letters: no cut falls on a line end */
	for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
		memcpy(msg, "Subject: x\n\n", hdr);
		for (i = hdr; i < len; i++)
			msg[i] = (i - hdr) % 100 == 99 ? '\n' : 'a';
		memcpy(msg + hdr + cuts[k] - 7, "needle in haystack", 18);
		n = check_n(r, msg, len, &score, NULL, 0);
		if (n != 1) {
			printf("#   missed at %zu\n", cuts[k]);
			all = 0;
		}
	}
	ok(all, "a match across every likely block cut is found");

	/* one line of 300k: found across window cuts, not past 1 MB */
	for (i = hdr; i < len; i++)
		msg[i] = 'b';
	memcpy(msg + hdr + RULES_LINE_MAX - 9, "needle in haystack", 18);
	ok(check_n(r, msg, len, &score, NULL, 0) == 1, "across a window cut of a long line");
	memset(msg + hdr + RULES_LINE_MAX - 9, 'b', 18);
	memcpy(msg + len - 30, "needle in haystack", 18);
	ok(check_n(r, msg, len, &score, NULL, 0) == 1, "at the end of a long line");
	free(msg);

	len = RULES_TEXT_MAX + 20000;
	msg = malloc(len);
	memcpy(msg, "Subject: x\n\n", hdr);
	for (i = hdr; i < len; i++)
		msg[i] = (i - hdr) % 100 == 99 ? '\n' : 'c';
	memcpy(msg + len - 100, "needle in haystack", 18);
	ok(check_n(r, msg, len, &score, NULL, 0) == 0, "text past 1 MB is not scanned");
	memcpy(msg + RULES_TEXT_MAX - 1000, "needle in haystack", 18);
	ok(check_n(r, msg, len, &score, NULL, 0) == 1, "text before 1 MB is");
	free(msg);
	rules_free(r);
}

static void test_hits(void)
{
	struct err e;
	struct rules *r = load("body AAA /x/ 1\nbody BBBB /x/ 1\nbody CC /x/ 1\n", &e);
	double score;
	char hits[32];
	int n;

	if (r == NULL)
		abort();
	n = check(r, "Subject: s\n\nx\n", &score, hits, sizeof hits);
	ok(n == 3 && score == 3, "three hits");
	is_str(hits, "AAA,BBBB,CC", "all fit");
	n = check(r, "Subject: s\n\nx\n", &score, hits, 12);
	is_str(hits, "AAA,BBBB,CC", "exactly fits in 12");
	n = check(r, "Subject: s\n\nx\n", &score, hits, 11);
	ok(n == 3 && score == 3, "cut list: count and score whole");
	is_str(hits, "AAA,BBBB", "cut before the name that does not fit");
	n = check(r, "Subject: s\n\nx\n", &score, hits, 3);
	is_str(hits, "", "no room for the first name");
	n = check(r, "Subject: s\n\nx\n", &score, hits, 5);
	is_str(hits, "AAA", "room for one");
	n = check(r, "Subject: s\n\nx\n", &score, NULL, 0);
	ok(n == 3, "no hits buffer");
	rules_free(r);

	r = load("# nothing\n", &e);
	ok(r != NULL && rules_count(r) == 0, "an empty file loads");
	n = check(r, "Subject: s\n\nx\n", &score, hits, sizeof hits);
	ok(n == 0 && score == 0 && hits[0] == '\0', "no rules, no hits");
	rules_free(r);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	test_parse();
	test_headers();
	test_bodies();
	test_cuts();
	test_hits();
	unlink(rpath);
	rmdir(dir);
	return done_testing();
}

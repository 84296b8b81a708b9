/* lib/imapsearch.c: every search key, NOT/OR and parenthesised lists,
 * sequence and UID sets with "*", dates in the server's zone and in the
 * Date: field's own, astrings as atoms, quoted strings and both kinds of
 * literal, CHARSET, syntax errors and the limits; header and body keys
 * on real message files, with the file opened only when the cheap keys
 * leave the answer open. The client side is a socketpair. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imapsearch.h"
#include "strbuf.h"
#include "tap.h"

static int client, server;
static struct net n;
static struct imap_reader r;

/* The folder: six messages; the sixth has lost its file. */
#define NMSG 6

struct file {
	char path[256];
	struct mime_msg *mm;
	int header_only;     /* how mm was opened */
	int opens;           /* mime_open calls since the last reset */
	int last_header_only;
};

static struct file files[NMSG];
static struct search_msg msgs[NMSG];

static const char *keywords[] = { "$Forwarded", "work" };

static int keyword(void *ctx, const char *name)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (strcmp(name, keywords[i]) == 0)
			return (int)i;
	return -1;
}

static struct search_ctx sc = { NMSG, 60, keyword, NULL, 120 };

/* As the session would: the parse is cached, a header-only one given
 * up for a full one when a body key needs it. */
static struct mime_msg *open_msg(void *ctx, int header_only, struct err *e)
{
	struct file *f = ctx;
	int fd;

	if (f->mm != NULL && (header_only || !f->header_only))
		return f->mm;
	if (f->mm != NULL)
		mime_close(f->mm);
	f->mm = NULL;
	f->opens++;
	f->last_header_only = header_only;
	if ((fd = open(f->path, O_RDONLY)) < 0) {
		err_sys(e, 75, "open %s", f->path);
		return NULL;
	}
	f->mm = mime_open(fd, header_only ? MIME_HEADER_ONLY : 0, e);
	f->header_only = header_only;
	close(fd);
	return f->mm;
}

static void connect_pair(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	client = sv[0];
	server = sv[1];
	net_init(&n, server, server, 2000);
}

static void say(const char *s, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t k = write(client, s + off, len - off);

		if (k <= 0)
			abort();
		off += (size_t)k;
	}
}

/* What the server sent the client so far. */
static const char *heard(void)
{
	static char buf[512];
	ssize_t k;

	fcntl(client, F_SETFL, O_NONBLOCK);
	k = read(client, buf, sizeof buf - 1);
	buf[k > 0 ? k : 0] = '\0';
	fcntl(client, F_SETFL, 0);
	return buf;
}

/* Send "t SEARCH <keys>\r\n" and parse it. */
static struct search_key *parse(const char *keys, size_t len, const char **why, int *bad)
{
	struct search_key *k;

	say("t SEARCH ", 9);
	say(keys, len);
	say("\r\n", 2);
	if (imap_begin(&r, &n) < 0 || imap_next(&r, 0) != IMAP_ATOM ||
	    imap_next(&r, 0) != IMAP_ATOM) {
		*why = "BEGIN-FAILED";
		return NULL;
	}
	k = search_parse(&r, &sc, why, bad);
	if (k != NULL && imap_next(&r, 0) != IMAP_END) {
		search_free(k);
		*why = "NOT-AT-END";
		return NULL;
	}
	if (k == NULL && !r.gone)
		imap_skip(&r);
	return k;
}

/* The messages k matches ("1 3"), "E6" for one that could not be
 * read, "BAD: why" or "BADCHARSET". */
static const char *result(const struct search_key *k, const char *why, int bad)
{
	static char out[256];
	size_t o = 0;
	int i;

	out[0] = '\0';
	if (k == NULL) {
		if (bad)
			snprintf(out, sizeof out, "BADCHARSET");
		else
			snprintf(out, sizeof out, "BAD: %s", why != NULL ? why : "(no reason)");
		return out;
	}
	for (i = 0; i < NMSG; i++) {
		struct err e = { 0, "" };
		int v = search_match(k, &sc, &msgs[i], &e);

		if (v != 0 && o < sizeof out)
			o += (size_t)snprintf(out + o, sizeof out - o, "%s%s%d", o ? " " : "",
			                      v < 0 ? "E" : "", i + 1);
		if (v < 0 && e.code == 0)
			o += (size_t)snprintf(out + o, sizeof out - o, "(no error set)");
		if (files[i].mm != NULL)
			mime_close(files[i].mm);
		files[i].mm = NULL;
	}
	return out;
}

static const char *search_n(const char *keys, size_t len)
{
	const char *why = NULL;
	int bad = 0;
	struct search_key *k;
	const char *out;
	int i;

	for (i = 0; i < NMSG; i++)
		files[i].opens = 0;
	k = parse(keys, len, &why, &bad);
	out = result(k, why, bad);
	search_free(k);
	return out;
}

static const char *search(const char *keys)
{
	return search_n(keys, strlen(keys));
}

static void is_search(const char *keys, const char *want)
{
	char name[160];

	snprintf(name, sizeof name, "%.*s", (int)strcspn(keys, "\r\n"), keys);
	is_str(search(keys), want, "SEARCH %s -> %s", name, want);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static const char *texts[NMSG] = {
	"From: Alice Example <alice@example.org>\n"
	"To: bob@example.com\n"
	"Subject: Quarterly report\n"
	"Date: Sat, 1 Feb 2020 23:30:00 -0500\n"
	"Message-ID: <1@example.org>\n"
	"\n"
	"Numbers attached.\n",

	"From: Bob <bob@example.com>\n"
	"To: alice@example.org\n"
	"Cc: Carol <carol@example.net>\n"
	"Subject: Re: Quarterly\n"
	" report\n"
	"Date: Sun, 2 Feb 2020 01:00:00 +0300\n"
	"X-Empty:\n"
	"\n"
	"See you at lunch.\n",

	"From: dave@example.org\n"
	"To: bob@example.com\n"
	"Bcc: erin@example.org\n"
	"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Viele Gr=C3=BC=C3=9Fe aus Ber=\n"
	"lin\n",

	"From: frank@example.org\n"
	"To: bob@example.com\n"
	"Subject: files\n"
	"Date: Mon, 3 Feb 2020 09:00:00 +0000\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\n"
	"\n"
	"--b1\n"
	"Content-Type: text/plain\n"
	"\n"
	"the haystack has a needle\n"
	"--b1\n"
	"Content-Type: application/octet-stream\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"c2VjcmV0d29yZA==\n"
	"--b1--\n",

	"From: grace@example.org\n"
	"Subject: hello world\n"
	"Date: garbage\n"
	"\n"
	"nothing here\n",

	NULL
};

static void setup(char *dir)
{
	static const unsigned flags[NMSG] = {
		IMAP_F_SEEN,
		IMAP_F_ANSWERED | IMAP_F_SEEN,
		IMAP_F_FLAGGED | IMAP_F_RECENT,
		IMAP_F_DELETED | IMAP_F_DRAFT,
		IMAP_F_RECENT | IMAP_F_SEEN,
		0
	};
	static const uint32_t kws[NMSG] = { 1, 2, 3, 0, 0, 0 };
	/* INTERNALDATE, UTC; the server's zone is +0200 */
	static const time_t internal[NMSG] = {
		1580599800,    /* 2020-02-01 23:30: 2-Feb-2020 at +0200 */
		1580558400,    /* 2020-02-01 12:00: 1-Feb-2020 */
		1580688000,    /* 2020-02-03 00:00: 3-Feb-2020 */
		1577829540,    /* 2019-12-31 21:59: 31-Dec-2019 23:59 */
		1577829600,    /* 2019-12-31 22:00: 1-Jan-2020 00:00 */
		-315576000     /* 1960-01-01 12:00: before the epoch */
	};
	int i;

	for (i = 0; i < NMSG; i++) {
		if (snprintf(files[i].path, sizeof files[i].path, "%s/%d", dir, i + 1) >=
		    (int)sizeof files[i].path)
			abort();
		if (texts[i] != NULL)
			write_file(files[i].path, texts[i]);
		msgs[i].seq = (uint32_t)i + 1;
		msgs[i].uid = ((uint32_t)i + 1) * 10;
		msgs[i].flags = flags[i];
		msgs[i].keywords = kws[i];
		msgs[i].size = ((uint64_t)i + 1) * 100;
		msgs[i].internal = internal[i];
		msgs[i].open = open_msg;
		msgs[i].ctx = &files[i];
	}
}

static void test_flags(void)
{
	is_search("ALL", "1 2 3 4 5 6");
	is_search("ANSWERED", "2");
	is_search("UNANSWERED", "1 3 4 5 6");
	is_search("DELETED", "4");
	is_search("UNDELETED", "1 2 3 5 6");
	is_search("DRAFT", "4");
	is_search("UNDRAFT", "1 2 3 5 6");
	is_search("FLAGGED", "3");
	is_search("UNFLAGGED", "1 2 4 5 6");
	is_search("SEEN", "1 2 5");
	is_search("UNSEEN", "3 4 6");
	is_search("RECENT", "3 5");
	is_search("NEW", "3");
	is_search("OLD", "1 2 4 6");
	is_search("seen", "1 2 5");
	is_search("UnSeen", "3 4 6");
	is_search("KEYWORD $Forwarded", "1 3");
	is_search("KEYWORD work", "2 3");
	is_search("KEYWORD nosuch", "");
	is_search("UNKEYWORD nosuch", "1 2 3 4 5 6");
	is_search("UNKEYWORD work", "1 4 5 6");
	is_search("unkeyword $Forwarded", "2 4 5 6");
	is_search("LARGER 300", "4 5 6");
	is_search("SMALLER 300", "1 2");
	is_search("LARGER 0", "1 2 3 4 5 6");
	is_search("SMALLER 0", "");
	is_search("LARGER 18446744073709551615", "");
}

static void test_sets(void)
{
	is_search("2", "2");
	is_search("2,4:5", "2 4 5");
	is_search("*", "6");
	is_search("5:*", "5 6");
	is_search("*:4", "4 5 6");
	is_search("1:3 SEEN", "1 2");
	is_search("1:100", "1 2 3 4 5 6");
	is_search("UID 20", "2");
	is_search("UID 15:35", "2 3");
	is_search("UID *", "6");
	is_search("uid 55:*", "6");
	/* RFC 9051 6.4.8: n:* holds the last UID even when n is past it */
	is_search("UID 70:*", "6");
	is_search("UID 1:9", "");
	is_search("UID 10,30,50,70", "1 3 5");
	/* what "*" stands for is the session's: here, nothing in use */
	sc.max_seq = sc.max_uid = 0;
	is_search("UID *", "");
	is_search("UID 1:*", "");
	is_search("*", "");
	sc.max_seq = NMSG;
	sc.max_uid = 60;
}

static void test_dates(void)
{
	is_search("ON 2-Feb-2020", "1");
	is_search("ON 02-Feb-2020", "1");
	is_search("ON \"1-FEB-2020\"", "2");
	is_search("ON 3-feb-2020", "3");
	is_search("ON 31-Dec-2019", "4");
	is_search("ON 1-Jan-2020", "5");
	is_search("ON 1-Jan-1960", "6");
	is_search("BEFORE 1-Jan-2020", "4 6");
	is_search("BEFORE 2-Feb-2020", "2 4 5 6");
	is_search("SINCE 1-Feb-2020", "1 2 3");
	is_search("SINCE \"01-Jan-2020\"", "1 2 3 5");
	is_search("SINCE 29-Feb-2020", "");
	is_search("BEFORE 1-Jan-1900", "");
	/* the same instants in UTC */
	sc.tz = 0;
	is_search("ON 1-Jan-2020", "");
	is_search("ON 31-Dec-2019", "4 5");
	is_search("ON 1-Feb-2020", "1 2");
	sc.tz = -600;
	is_search("ON 1-Feb-2020", "1 2");
	is_search("ON 2-Feb-2020", "3");
	sc.tz = 120;
}

static void test_logic(void)
{
	is_search("NOT SEEN", "3 4 6");
	is_search("NOT NOT SEEN", "1 2 5");
	is_search("OR SEEN FLAGGED", "1 2 3 5");
	is_search("Or Deleted Answered", "2 4");
	is_search("OR (SEEN ANSWERED) DELETED", "2 4");
	is_search("NOT (SEEN ANSWERED)", "1 3 4 5 6");
	is_search("NOT OR SEEN DELETED", "3 6");
	is_search("OR OR 1 2 3", "1 2 3");
	is_search("OR 1 OR 2 OR 3 4", "1 2 3 4");
	is_search("SEEN UNANSWERED", "1 5");
	is_search("(SEEN) (UNANSWERED)", "1 5");
	is_search("((SEEN) ((UNANSWERED)))", "1 5");
	is_search("(OR SEEN RECENT NOT FLAGGED) LARGER 100", "2 5");
	is_search("NOT (OR 1 2)", "3 4 5 6");
	is_search("OR (1 SEEN) (6 UNSEEN)", "1 6");
	is_search("SEEN(UNANSWERED)", "1 5");
}

static void test_charset_literal(void)
{
	is_search("CHARSET UTF-8 SEEN", "1 2 5");
	is_search("charset us-ascii SEEN", "1 2 5");
	is_search("CHARSET \"Utf-8\" (SEEN)", "1 2 5");
	is_search("CHARSET {5+}\r\nUTF-8 SEEN", "1 2 5");
	is_search("CHARSET ISO-8859-1 SEEN", "BADCHARSET");
	is_search("CHARSET \"KOI8-R\" SEEN", "BADCHARSET");
	is_search("CHARSET UTF-8", "BAD: missing search key");
	is_search("CHARSET", "BAD: missing string argument");
	is_search("SEEN CHARSET UTF-8", "BAD: unknown search key");

	/* a synchronising literal gets its "+" first */
	heard();
	is_search("HEADER {7}\r\nSubject {0}\r\n SEEN", "1 2 5");
	ok(strncmp(heard(), "+ ", 2) == 0, "... a \"+\" for {7}");
	is_search("HEADER {7+}\r\nSubject {0+}\r\n SEEN", "1 2 5");
	ok(heard()[0] == '\0', "... and none for {7+}");
	/* a literal where none belongs: no "+", a LITERAL+ one dropped */
	is_search("KEYWORD {4+}\r\nwork SEEN", "BAD: bad keyword");
	is_search("ON {10+}\r\n1-Feb-2020", "BAD: bad date (d-Mon-yyyy)");
	is_search("{4+}\r\nSEEN", "BAD: unexpected token where a search key belongs");
	is_search("ON {10}", "BAD: bad date (d-Mon-yyyy)");
	ok(heard()[0] == '\0', "... no \"+\" for a synchronising one");
	is_search("SEEN", "1 2 5");
	is_search("SUBJECT {9000}", "BAD: literal too large");
	ok(heard()[0] == '\0', "... no \"+\" for a synchronising literal over 8192");
}

static void test_syntax(void)
{
	char big[64 * 1024];
	size_t o = 0;
	int i;

	is_search("", "BAD: missing search key");
	is_search("(SEEN", "BAD: missing )");
	is_search("((SEEN) DELETED", "BAD: missing )");
	is_search("SEEN)", "BAD: unbalanced )");
	is_search("()", "BAD: empty list");
	is_search("FOO", "BAD: unknown search key");
	is_search("NOT", "BAD: missing search key");
	is_search("OR SEEN", "BAD: missing search key");
	is_search("SUBJECT", "BAD: missing string argument");
	is_search("SUBJECT (x)", "BAD: missing string argument");
	is_search("HEADER Subject", "BAD: missing string argument");
	is_search("SUBJECT \"open", "BAD: unterminated quoted string");
	is_search("BEFORE 31-Foo-2020", "BAD: bad date (d-Mon-yyyy)");
	is_search("BEFORE 31-Feb-2020", "BAD: bad date (d-Mon-yyyy)");
	is_search("ON 29-Feb-2019", "BAD: bad date (d-Mon-yyyy)");
	is_search("ON 29-Feb-2000", "");
	is_search("ON 29-Feb-1900", "BAD: bad date (d-Mon-yyyy)");
	is_search("ON 0-Feb-2020", "BAD: bad date (d-Mon-yyyy)");
	is_search("ON 001-Feb-2020", "BAD: bad date (d-Mon-yyyy)");
	is_search("ON 1-Feb-20", "BAD: bad date (d-Mon-yyyy)");
	is_search("ON 1-Feb-20200", "BAD: bad date (d-Mon-yyyy)");
	is_search("ON 1 Feb 2020", "BAD: bad date (d-Mon-yyyy)");
	is_search("SINCE", "BAD: bad date (d-Mon-yyyy)");
	is_search("0", "BAD: bad sequence set");
	is_search("1:x", "BAD: bad sequence set");
	is_search("1,,2", "BAD: bad sequence set");
	is_search("4294967296", "BAD: bad sequence set");
	is_search("UID", "BAD: bad UID set");
	is_search("UID foo", "BAD: bad UID set");
	is_search("UID 0", "BAD: bad UID set");
	is_search("LARGER", "BAD: missing number");
	is_search("LARGER abc", "BAD: bad number");
	is_search("LARGER -1", "BAD: bad number");
	is_search("LARGER 18446744073709551616", "BAD: number out of range");
	is_search("KEYWORD", "BAD: bad keyword");
	is_search("KEYWORD \\Seen", "BAD: bad keyword");
	is_search("KEYWORD \"work\"", "BAD: bad keyword");
	is_search("\"SEEN\"", "BAD: unexpected token where a search key belongs");
	is_search("SEEN ]", "BAD: unexpected token where a search key belongs");

	/* nesting: a hostile command cannot run the stack out */
	for (i = 0; i < 100; i++)
		o += (size_t)snprintf(big + o, sizeof big - o, "NOT ");
	snprintf(big + o, sizeof big - o, "SEEN");
	is_str(search(big), "1 2 5", "100 NOTs: fine");
	o = 0;
	for (i = 0; i < 1000; i++)
		o += (size_t)snprintf(big + o, sizeof big - o, "NOT ");
	snprintf(big + o, sizeof big - o, "SEEN");
	is_str(search(big), "BAD: search keys nested too deep", "1000 NOTs: too deep");
	o = 0;
	for (i = 0; i < 1000; i++)
		big[o++] = '(';
	big[o++] = 'S';
	for (i = 0; i < 1000; i++)
		big[o++] = ')';
	big[o] = '\0';
	is_str(search(big), "BAD: search keys nested too deep", "1000 parentheses: too deep");
	/* a long OR chain, as clients build for a list of values */
	o = 0;
	for (i = 0; i < 199; i++)
		o += (size_t)snprintf(big + o, sizeof big - o, "OR ");
	for (i = 0; i < 200; i++)
		o += (size_t)snprintf(big + o, sizeof big - o, "%d ", i % 7 == 3 ? 3 : 100 + i);
	big[o - 1] = '\0';
	is_str(search(big), "3", "an OR chain of 200: fine");

	/* too many keys: lines joined by LITERAL+ */
	o = 0;
	for (i = 0; i < 10001; i++) {
		if (i % 2000 == 1999)
			o += (size_t)snprintf(big + o, sizeof big - o, "TO {1+}\r\nx ");
		else
			o += (size_t)snprintf(big + o, sizeof big - o, "ALL ");
	}
	big[o - 1] = '\0';
	is_str(search_n(big, o - 1), "BAD: too many search keys", "10001 keys: too many");
	o = 0;
	/* 9990 keys, 4 NOTs and the AND that holds them */
	for (i = 0; i < 9990; i++) {
		if (i % 2000 == 1999)
			o += (size_t)snprintf(big + o, sizeof big - o, "NOT TO {2+}\r\nzz ");
		else
			o += (size_t)snprintf(big + o, sizeof big - o, "ALL ");
	}
	big[o - 1] = '\0';
	is_str(search_n(big, o - 1), "1 2 3 4 5 E6", "9995 keys: fine");
}

/* Header and body keys, on the files. */
static void test_files(void)
{
	const char *why;
	struct search_key *k;
	int bad, i, opened;

	is_search("SUBJECT quarterly", "1 2 E6");
	is_search("SUBJECT \"re: QUARTERLY report\"", "2 E6");
	is_search("FROM alice", "1 E6");
	is_search("FROM \"alice example\"", "1 E6");
	is_search("TO alice", "2 E6");
	is_search("TO bob@example.com", "1 3 4 E6");
	is_search("CC carol", "2 E6");
	is_search("BCC erin", "3 E6");
	is_search("HEADER Message-ID <1@", "1 E6");
	is_search("HEADER x-empty \"\"", "2 E6");
	is_search("HEADER X-Nope \"\"", "E6");
	is_search("HEADER subject \"\"", "1 2 3 4 5 E6");
	is_search("NOT HEADER subject \"\"", "E6");
	is_search("CHARSET UTF-8 SUBJECT {7+}\r\ngr\xc3\xbc\xc3\x9f" "e", "3 E6");
	is_search("CHARSET UTF-8 SUBJECT \"gr\xc3\xbc\xc3\x9f" "e\"", "3 E6");
	is_search("BODY needle", "4 E6");
	is_search("BODY secretword", "E6");
	is_search("BODY \"aus berlin\"", "3 E6");
	is_search("BODY {7}\r\ngr\xc3\xbc\xc3\x9f" "e", "3 E6");
	is_search("BODY quarterly", "E6");
	is_search("TEXT quarterly", "1 2 E6");
	is_search("TEXT lunch", "2 E6");
	is_search("TEXT example.org", "1 2 3 4 5 E6");
	is_search("SENTON 1-Feb-2020", "1 E6");
	is_search("SENTON 2-Feb-2020", "2 E6");
	is_search("SENTBEFORE 2-Feb-2020", "1 E6");
	is_search("SENTSINCE 2-Feb-2020", "2 4 E6");
	is_search("SENTSINCE 1-Jan-1970", "1 2 4 E6");
	is_search("NOT SENTON 1-Feb-2020", "2 3 4 5 E6");

	/* the cheap keys first: the file only when they leave it open */
	is_search("SEEN SUBJECT quarterly", "1 2");
	ok(files[0].opens == 1 && files[1].opens == 1 && files[4].opens == 1 &&
	   files[2].opens == 0 && files[3].opens == 0 && files[5].opens == 0,
	   "... the unseen messages' files are not opened");
	ok(files[0].last_header_only && files[1].last_header_only,
	   "... and the others' header alone is read");
	is_search("SUBJECT quarterly SEEN", "1 2");
	ok(files[2].opens == 0 && files[5].opens == 0, "... whatever the order of the keys");
	is_search("OR SUBJECT files SEEN", "1 2 4 5 E6");
	ok(files[0].opens == 0 && files[1].opens == 0 && files[4].opens == 0 &&
	   files[3].opens == 1, "OR: the cheap side first");
	is_search("(BODY needle) (SUBJECT files) UNSEEN", "4 E6");
	ok(files[3].opens == 1 && !files[3].last_header_only && files[0].opens == 0,
	   "with a body key: the whole message, once");
	is_search("UNSEEN SENTON 3-Feb-2020 NOT (1:3 OR BODY x SEEN)", "4 E6");
	ok(files[3].opens == 1 && !files[3].last_header_only && files[0].opens == 0,
	   "a body key deep in the tree: the whole message");
	is_search("OR 1 TEXT nomatch", "1 E6");
	is_search("ALL SEEN 1:*", "1 2 5");
	for (opened = 0, i = 0; i < NMSG; i++)
		opened += files[i].opens;
	ok(opened == 0, "no header or body key: no file opened");

	/* search_needs_file */
	{
		static const struct { const char *keys; int needs; } nf[] = {
			{ "ALL", 0 }, { "SEEN 1:3 UID 5 LARGER 3 ON 1-Feb-2020", 0 },
			{ "SUBJECT x", 1 }, { "SENTON 1-Feb-2020", 1 }, { "NOT BODY x", 1 },
			{ "OR SEEN (TEXT x)", 1 }, { "HEADER a b", 1 },
		};
		size_t j;

		for (j = 0; j < sizeof nf / sizeof nf[0]; j++) {
			k = parse(nf[j].keys, strlen(nf[j].keys), &why, &bad);
			ok(k != NULL && search_needs_file(k) == nf[j].needs, "search_needs_file(%s) = %d",
			   nf[j].keys, nf[j].needs);
			search_free(k);
		}
	}
}

int main(void)
{
	char dir[] = "/tmp/test-imapsearch.XXXXXX";
	int i;

	if (mkdtemp(dir) == NULL)
		abort();
	setup(dir);
	connect_pair();
	test_flags();
	test_sets();
	test_dates();
	test_logic();
	test_charset_literal();
	test_syntax();
	test_files();
	for (i = 0; i < NMSG; i++)
		unlink(files[i].path);
	rmdir(dir);
	close(client);
	close(server);
	return done_testing();
}

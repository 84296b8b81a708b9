/* lib/imapread.c: IMAP command tokens (atoms, flags, quoted strings,
 * lists, brackets, wildcards), synchronising and LITERAL+ literals with
 * their limits, continuation lines, streaming to a file, and resync after
 * an error. The client side is a socketpair. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imapread.h"
#include "tap.h"

static int client, server;
static struct net n;
static struct imap_reader r;

static void connect_pair(void)
{
	int sv[2];

	if (client > 0) {
		close(client);
		close(server);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	client = sv[0];
	server = sv[1];
	net_init(&n, server, server, 2000);
}

static void say(const char *s)
{
	if (write(client, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
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

/* The tokens of the next command as text: A:atom Q:quoted ( ) ] L:n */
static const char *tokens(int flags)
{
	static char out[2048];
	size_t o = 0;
	enum imap_tok t;

	out[0] = '\0';
	if (imap_begin(&r, &n) < 0)
		return "BEGIN-FAILED";
	while ((t = imap_next(&r, flags)) != IMAP_END) {
		const char *add = "";
		char tmp[600];

		switch (t) {
		case IMAP_ATOM: snprintf(tmp, sizeof tmp, "A:%.500s ", r.text); add = tmp; break;
		case IMAP_QUOTED: snprintf(tmp, sizeof tmp, "Q:%.500s ", r.text); add = tmp; break;
		case IMAP_LPAREN: add = "( "; break;
		case IMAP_RPAREN: add = ") "; break;
		case IMAP_RBRACKET: add = "] "; break;
		case IMAP_LITERAL:
			if (imap_literal_text(&r, 100) < 0) {
				snprintf(tmp, sizeof tmp, "LITERAL-ERROR:%s", r.why);
				add = tmp;
				o += (size_t)snprintf(out + o, sizeof out - o, "%s", add);
				return out;
			}
			snprintf(tmp, sizeof tmp, "L:%.500s ", r.text);
			add = tmp;
			break;
		case IMAP_ERROR:
			snprintf(tmp, sizeof tmp, "ERROR:%s", r.why);
			o += (size_t)snprintf(out + o, sizeof out - o, "%s", tmp);
			return out;
		case IMAP_END:
			break;
		}
		o += (size_t)snprintf(out + o, sizeof out - o, "%s", add);
	}
	return out;
}

static void is_tokens(const char *in, int flags, const char *want)
{
	char name[200];
	const char *got;

	say(in);
	got = tokens(flags);
	snprintf(name, sizeof name, "%.*s", (int)strcspn(in, "\r\n"), in);
	ok(strcmp(got, want) == 0, "%s -> %s (got %s)", name, want, got);
}

int main(void)
{
	char big[IMAP_LINE_MAX + 100];

	connect_pair();
	is_tokens("a1 LOGIN alice secret\r\n", 0, "A:a1 A:LOGIN A:alice A:secret ");
	is_tokens("a2 SELECT \"In box\"\r\n", 0, "A:a2 A:SELECT Q:In box ");
	is_tokens("a3 LOGIN \"a\\\"b\\\\c\" x\r\n", 0, "A:a3 A:LOGIN Q:a\"b\\c A:x ");
	is_tokens("a4 STORE 1:3 +FLAGS (\\Seen \\Deleted)\r\n", 0,
	          "A:a4 A:STORE A:1:3 A:+FLAGS ( A:\\Seen A:\\Deleted ) ");
	is_tokens("a5 FETCH 1 BODY[HEADER.FIELDS (Subject)]<0.10>\r\n", 0,
	          "A:a5 A:FETCH A:1 A:BODY[HEADER.FIELDS ( A:Subject ) ] A:<0.10> ");
	is_tokens("a6 LIST \"\" %\r\n", IMAP_WILDCARDS, "A:a6 A:LIST Q: A:% ");
	is_tokens("a6 LIST \"\" %\r\n", 0, "A:a6 A:LIST Q: ERROR:unexpected character");
	is_tokens("a7 FETCH 1:* FLAGS\r\n", IMAP_WILDCARDS, "A:a7 A:FETCH A:1:* A:FLAGS ");
	is_tokens("a8 SELECT foo]bar\r\n", IMAP_ASTRING, "A:a8 A:SELECT A:foo]bar ");
	is_tokens("a9 X \"unterminated\r\n", 0, "A:a9 A:X ERROR:unterminated quoted string");
	is_tokens("a9 X \"bad\\escape\"\r\n", 0, "A:a9 A:X ERROR:bad escape in a quoted string");
	is_tokens("a9 X \xc3\xa9t\xc3\xa9\r\n", 0, "A:a9 A:X ERROR:unexpected character");
	is_tokens("a9 X \"\xc3\xa9t\xc3\xa9\"\r\n", 0, "A:a9 A:X Q:\xc3\xa9t\xc3\xa9 ");

	/* a synchronising literal: "+" first, then the data, then the line goes on */
	say("b1 LOGIN {5}\r\n");
	ok(imap_begin(&r, &n) == 0 && imap_next(&r, 0) == IMAP_ATOM && imap_next(&r, 0) == IMAP_ATOM &&
	   imap_next(&r, 0) == IMAP_LITERAL && r.literal == 5 && !r.nonsync,
	   "{5}: a literal of 5 is announced");
	say("alice {6+}\r\nsecret\r\n");
	ok(imap_literal_text(&r, 100) == 0 && strcmp(r.text, "alice") == 0, "... read as \"alice\"");
	ok(strncmp(heard(), "+ ", 2) == 0, "... after a \"+\" continuation");
	ok(imap_next(&r, 0) == IMAP_LITERAL && r.literal == 6 && r.nonsync, "{6+}: LITERAL+");
	ok(imap_literal_text(&r, 100) == 0 && strcmp(r.text, "secret") == 0 && heard()[0] == '\0',
	   "... read with no \"+\"");
	ok(imap_next(&r, 0) == IMAP_END, "... and the command ends");

	/* limits, before any data is sent or allocated */
	say("c1 APPEND INBOX {4294967295}\r\n");
	ok(imap_begin(&r, &n) == 0 && imap_next(&r, 0) == IMAP_ATOM && imap_next(&r, 0) == IMAP_ATOM &&
	   imap_next(&r, 0) == IMAP_ATOM && imap_next(&r, 0) == IMAP_LITERAL &&
	   r.literal == 4294967295ULL, "{4294967295}: announced");
	ok(imap_literal_stream(&r, -1, 25 << 20) < 0 && strcmp(r.why, "literal too large") == 0 &&
	   heard()[0] == '\0' && !r.gone, "... refused before the \"+\", nothing read");
	is_tokens("c2 NOOP\r\n", 0, "A:c2 A:NOOP ");
	is_tokens("c3 X {99999999999999999999999}\r\n", 0, "A:c3 A:X ERROR:literal size out of range");
	is_tokens("c4 X {12}x\r\n", 0, "A:c4 A:X ERROR:malformed literal");
	is_tokens("c5 LOGIN {200}\r\n", 0, "A:c5 A:LOGIN LITERAL-ERROR:literal too large");
	ok(heard()[0] == '\0', "... a synchronising literal over the limit: no \"+\"");
	/* a LITERAL+ over the limit is read and dropped: the stream stays in step */
	memset(big, 'x', 300);
	big[300] = '\0';
	say("c6 LOGIN {300+}\r\n");
	say(big);
	say(" more\r\nc7 NOOP\r\n");
	ok(strcmp(tokens(0), "A:c6 A:LOGIN LITERAL-ERROR:literal too large") == 0 && !r.gone,
	   "a LITERAL+ over the limit: refused, read and dropped");
	is_tokens("", 0, "A:c7 A:NOOP ");
	say("c8 X {5000000+}\r\n");
	ok(strcmp(tokens(0), "A:c8 A:X LITERAL-ERROR:literal too large") == 0 && r.gone,
	   "a huge LITERAL+: the connection must end");

	/* streaming to a file */
	connect_pair();
	{
		char path[] = "/tmp/test-imapread.XXXXXX", back[64];
		int fd = mkstemp(path);

		say("d1 APPEND INBOX {12}\r\n");
		ok(imap_begin(&r, &n) == 0 && imap_next(&r, 0) == IMAP_ATOM && imap_next(&r, 0) == IMAP_ATOM &&
		   imap_next(&r, 0) == IMAP_ATOM && imap_next(&r, 0) == IMAP_LITERAL, "APPEND {12}");
		say("hello\r\nbye\r\n\r\n");
		ok(imap_literal_stream(&r, fd, 1000) == 0 && imap_next(&r, 0) == IMAP_END,
		   "... streamed, and the command ends");
		ok(pread(fd, back, sizeof back, 0) == 12 && memcmp(back, "hello\r\nbye\r\n", 12) == 0,
		   "... the file holds the 12 octets");
		close(fd);
		unlink(path);
	}

	/* skipping the rest of a command after an error */
	say("e1 BAD \"oops (x\r\ne2 NOOP\r\n");
	ok(imap_begin(&r, &n) == 0 && imap_next(&r, 0) == IMAP_ATOM && imap_next(&r, 0) == IMAP_ATOM &&
	   imap_next(&r, 0) == IMAP_ERROR, "an error in the middle of a command");
	ok(imap_skip(&r) == 0, "... is skipped");
	is_tokens("", 0, "A:e2 A:NOOP ");
	say("f1 X {3+}\r\nabc tail (x\r\nf2 NOOP\r\n");
	ok(imap_begin(&r, &n) == 0 && imap_skip(&r) == 0, "skipping a command with a LITERAL+");
	is_tokens("", 0, "A:f2 A:NOOP ");

	/* a line over the limit */
	memset(big, 'a', sizeof big - 3);
	big[sizeof big - 3] = '\0';
	say(big);
	say("\r\n");
	ok(imap_begin(&r, &n) == -2 && strcmp(r.why, "line too long") == 0, "a line over 8192: -2");
	is_tokens("g1 NOOP\r\n", 0, "A:g1 A:NOOP ");
	say("h1 NO\rOP\r\n");
	ok(imap_begin(&r, &n) == -2, "a bare CR: refused");
	close(client);
	ok(imap_begin(&r, &n) == -1 && r.gone, "the client gone: -1");
	return done_testing();
}

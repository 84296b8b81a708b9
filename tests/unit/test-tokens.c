/* lib/tokens.c: the words, header tokens and URL tokens of messages,
 * HTML cut at every octet, and input that must stay bounded: the token
 * cap, long words, many header lines, deep nesting, binary junk. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"
#include "tokens.h"
#include "tap.h"

static char dir[] = "/tmp/test-tokens.XXXXXX";

static int msg_tokens(struct tokens *t, const char *msg, size_t n)
{
	char path[4200];
	struct err e;
	int fd, r;

	snprintf(path, sizeof path, "%s/msg", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    (n > 0 && write(fd, msg, n) != (ssize_t)n))
		abort();
	r = tokens_from_message(t, fd, &e);
	close(fd);
	unlink(path);
	return r;
}

static int msg_str(struct tokens *t, const char *msg)
{
	return msg_tokens(t, msg, strlen(msg));
}

/* every token of a space-separated list is in t */
static int has_all(const struct tokens *t, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int all = 1;

	for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		if (!tokens_has(t, w)) {
			printf("#   missing: '%s'\n", w);
			all = 0;
		}
	free(copy);
	return all;
}

static int has_none(const struct tokens *t, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int none = 1;

	for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		if (tokens_has(t, w)) {
			printf("#   present: '%s'\n", w);
			none = 0;
		}
	free(copy);
	return none;
}

static int text_set(struct tokens *t, const char *s)
{
	tokens_free(t);
	return tokens_add_text(t, NULL, s, strlen(s));
}

static void test_words(void)
{
	struct tokens t = { 0 };
	char w40[41], w41[42], buf[200];

	text_set(&t, "Don't miss this E-Mail: only $100, or 3.5 times MORE... a an the "
		 "1234567 123456 end. --dash-- x'y 'quoted' Grüße ΣΊΣΥΦΟΣ");
	ok(has_all(&t, "Don't miss this E-Mail only $100 3.5 times MORE the 123456 end dash "
		   "quoted Grüße ΣΊΣΥΦΟΣ"), "words: internal ' - . and $, case kept, Unicode");
	ok(has_none(&t, "a an 1234567 E-Mail: MORE... 'quoted' don't more"),
	   "words: short words, long numbers and edge punctuation are not tokens");
	memset(w40, 'a', 40);
	w40[40] = '\0';
	memset(w41, 'b', 41);
	w41[41] = '\0';
	snprintf(buf, sizeof buf, "%s %s ok", w40, w41);
	text_set(&t, buf);
	ok(tokens_has(&t, w40) && !tokens_has(&t, w41) && t.n == 1, "words: 40 octets kept, 41 skipped");
	text_set(&t, "spam spam SPAM Spam spam");
	ok(t.n == 3 && tokens_has(&t, "spam") && tokens_has(&t, "SPAM") && tokens_has(&t, "Spam"),
	   "dedupe: one token for each spelling");
	tokens_add_text(&t, "subject:", "spam", 4);
	ok(t.n == 4 && tokens_has(&t, "subject:spam"), "a prefix makes another token");
	text_set(&t, "bad\xff\xfeword ok\xc3");
	ok(has_all(&t, "bad word") && t.n == 2, "invalid UTF-8 separates words");
	text_set(&t, "see http://user@Mail.Example.COM/path?q=1 and www.shop.co.example, "
		 "https://10.0.0.1:8080/x or http://localhost/");
	ok(has_all(&t, "url:mail.example.com url:example.com url:www.shop.co.example url:co.example "
		   "url:10.0.0.1 url:localhost"), "URLs: host and last two labels");
	ok(has_none(&t, "url:user url:0.1 url:1"), "URLs: no user name, no domain of an address");
	tokens_free(&t);
	ok(t.n == 0 && !tokens_has(&t, "spam"), "tokens_free empties the set");
}

static void test_headers(void)
{
	struct tokens t = { 0 };

	ok(msg_str(&t, "Received: from mx.spam.example by us\n"
		       "Received: from hidden.example by mx.spam.example\n"
		       "Subject: =?utf-8?q?FREE_V=C3=ADagra?= now\n"
		       "From: \"Big Sale\" <sale@promo.example.com>\n"
		       "To: you@here.example\nCc: other@there.example\n"
		       "Reply-To: back@reply.example\nReturn-Path: <bounce@bounce.example>\n"
		       "Message-ID: <1234.unique.5678@msgid.example>\n"
		       "X-Mailer: SpamCannon 2.0\nUser-Agent: Mutt/1.5\n"
		       "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
		       "X-Other: ignored words\n\nbody text\n") == 0, "headers: a message");
	ok(has_all(&t, "received:from received:mx.spam.example subject:FREE subject:Víagra subject:now "
		   "from:Big from:Sale from:promo.example.com to:you to:here.example cc:other "
		   "cc:there.example reply-to:back reply-to:reply.example return-path:bounce "
		   "return-path:bounce.example message-id:msgid.example x-mailer:SpamCannon x-mailer:2.0 "
		   "user-agent:Mutt user-agent:1.5 body text"),
	   "headers: prefixed by the field name, encoded words decoded");
	ok(has_none(&t, "received:hidden.example message-id:1234.unique.5678 date:mon ignored "
		    "x-other:ignored free subject:=?utf-8?q?free_v=c3=adagra?="),
	   "headers: only the top Received, the domain of Message-ID, listed fields only");
	tokens_free(&t);
}

static void test_bodies(void)
{
	struct tokens t = { 0 };

	ok(msg_str(&t, "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		       "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
		       "YmFzZTY0IHdvcmRzIGhlcmUK\n"
		       "--b\nContent-Type: text/plain; charset=iso-8859-1\n"
		       "Content-Transfer-Encoding: quoted-printable\n\n"
		       "qu=E9bec caf=E9 soft=\nbreak\n"
		       "--b\nContent-Type: application/octet-stream\n\nattachment words\n"
		       "--b\nContent-Type: message/rfc822\n\nSubject: inner\n\nembedded text\n"
		       "--b--\n") == 0, "bodies: a message");
	ok(has_all(&t, "base64 words here québec café softbreak embedded text"),
	   "bodies: base64, quoted-printable, Latin-1, message/rfc822");
	ok(has_none(&t, "attachment subject:inner inner soft break"),
	   "bodies: not attachments, not the inner message's header");
	tokens_free(&t);

	ok(msg_tokens(&t, "", 0) == 0 && t.n == 0, "an empty message: no tokens");
	tokens_free(&t);
}

static const char html[] =
	"<html><head><style>p { color: red }</style><script>var hidden = 1;</script></head>"
	"<body><p>Cheap&nbsp;pills &amp; m&#101;ds &#x263a; &lt;now&gt; &bogus; AT&T</p>"
	"<a href=\"http://click.tracker.example/?u=1\">Click</a><img src='https://img.cdn.example/x.gif'>"
	"fr<b></b>ee bro<!-- comment -->ken<br>next <p don't>word www.plain.example a < b"
	"<div\ntitle=\"x > y\">after</div></body></html>";

static void test_html(void)
{
	struct tokens whole = { 0 }, t = { 0 };
	struct strbuf b = { 0 };
	size_t n = strlen(html);
	int same = 1;

	sb_adds(&b, "Content-Type: text/html; charset=utf-8\n\n");
	sb_adds(&b, html);
	ok(msg_str(&whole, b.s) == 0, "html: a message");
	ok(has_all(&whole, "Cheap pills meds now bogus url:click.tracker.example url:tracker.example "
		   "url:img.cdn.example url:cdn.example Click free broken next word url:www.plain.example "
		   "url:plain.example after"), "html: text, entities, URLs from attributes and text");
	ok(has_none(&whole, "html body href color red var hidden comment div title amp nbsp 101 "
		    "fr ee bro ken don't y\">after"),
	   "html: no tags, no script or style, inline tags and comments join words");
	/* the same HTML cut at every octet: mime reads a part in 64 KiB
	 * blocks from its body's start, so padding moves the cut */
	for (size_t cut = 0; cut <= n; cut++) {
		struct tokens u = { 0 };
		struct strbuf s = { 0 };

		sb_adds(&s, "Content-Type: text/html; charset=utf-8\n\n");
		for (size_t i = cut; i < 65536; i++)
			sb_addc(&s, ' ');
		sb_adds(&s, html);
		msg_str(&u, s.s);
		if (u.n != whole.n) {
			same = 0;
			printf("#   cut at %zu: %zu tokens, not %zu\n", cut, u.n, whole.n);
		}
		tokens_free(&u);
		sb_free(&s);
		if (!same)
			break;
	}
	ok(same, "html: the same tokens with the text cut at any octet");
	tokens_free(&whole);
	sb_free(&b);
	tokens_free(&t);
}

static void test_limits(void)
{
	struct tokens t = { 0 };
	struct strbuf b = { 0 };
	char junk[65536];
	int full, r;

	sb_adds(&b, "Subject: many\n\n");
	for (int i = 0; i < 20000; i++)
		sb_addf(&b, "w%05d ", i);
	r = msg_str(&t, b.s);
	ok(r == 0 && t.n == TOKENS_MAX, "limits: at most %d tokens (%zu)", TOKENS_MAX, t.n);
	full = tokens_add(&t, "another", 7);
	ok(full == 1 && !tokens_has(&t, "another"), "limits: a full set takes no more");
	tokens_free(&t);

	sb_reset(&b);
	for (int i = 0; i < 100000; i++)
		sb_addf(&b, "To: user%d@example.com\n", i);
	sb_adds(&b, "\nbody\n");
	ok(msg_str(&t, b.s) == 0 && t.n <= TOKENS_MAX && tokens_has(&t, "to:example.com"),
	   "limits: 100k header lines");
	tokens_free(&t);

	sb_reset(&b);
	for (int i = 0; i < 10000; i++)
		sb_addf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
	sb_adds(&b, "\ndeep text\n");
	r = msg_str(&t, b.s);
	ok(r == 0 && t.n <= TOKENS_MAX, "limits: 10,000 nested parts (%zu tokens)", t.n);
	tokens_free(&t);

	srand(8);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(rand() & 0xff);
	r = msg_tokens(&t, junk, sizeof junk);
	ok(r == 0 && t.n <= TOKENS_MAX, "binary junk: %zu tokens", t.n);
	tokens_free(&t);
	full = tokens_add_text(&t, "p:", junk, sizeof junk);
	ok(full == 0 && t.n <= TOKENS_MAX, "binary junk as text");
	tokens_free(&t);
	sb_free(&b);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	test_words();
	test_headers();
	test_bodies();
	test_html();
	test_limits();
	rmdir(dir);
	return done_testing();
}

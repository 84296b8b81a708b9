/* libFuzzer target for the IMAP session (lib/imapd.c) and all it drives:
 * the reader, the folders, the cache, SEARCH and FETCH over GMime. The
 * input is what a client sends, whole, on a socket; a thread feeds it and
 * drains the replies so the server never waits on its peer. The first
 * byte chooses a prefix so the fuzzer reaches the later states at once:
 * bit 0 logs in and selects INBOX, bit 1 also ENABLEs IMAP4rev2 first.
 * The account's Maildir holds a plain message, a multipart one with an
 * attachment, a forwarded message/rfc822 and an 8-bit one; it is made
 * afresh every 1000 runs so what APPEND, COPY and CREATE leave behind
 * stays bounded. Invariants: no crash, no leak, the greeting first and
 * whole lines out. Set FUZZ_IMAPD_LOG to see the server's replies and log
 * lines.
 * Build and run with scripts/fuzz. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imapd.h"
#include "net.h"

static char dir[] = "/tmp/fuzz-imapd.XXXXXX";
static char users[300], root[300];

static const char *const messages[][2] = {
	{ "cur/1700000001.M1P1Q1.fuzz:2,S",
	  "From: Alice <alice@example.org>\r\n"
	  "To: User <user@example.org>, bob@example.net\r\n"
	  "Cc: \"Carol, C.\" <carol@example.com>\r\n"
	  "Subject: plain\r\n"
	  "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	  "Message-ID: <1@example.org>\r\n"
	  "\r\n"
	  "Hello,\r\nthis is plain text.\r\n" },
	{ "cur/1700000002.M2P1Q1.fuzz:2,FS",
	  "From: Bob <bob@example.net>\r\n"
	  "To: user@example.org\r\n"
	  "Subject: =?UTF-8?Q?caf=C3=A9_and_a_file?=\r\n"
	  "Date: Tue, 2 Jan 2024 11:30:00 +0100\r\n"
	  "Message-ID: <2@example.net>\r\n"
	  "In-Reply-To: <1@example.org>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	  "\r\n"
	  "preamble\r\n"
	  "--outer\r\n"
	  "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
	  "\r\n"
	  "--inner\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n"
	  "\r\n"
	  "caf=C3=A9 =\r\nsoft break\r\n"
	  "--inner\r\n"
	  "Content-Type: text/html; charset=utf-8\r\n"
	  "\r\n"
	  "<p>caf\xc3\xa9</p>\r\n"
	  "--inner--\r\n"
	  "--outer\r\n"
	  "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	  "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "Content-Language: en\r\n"
	  "\r\n"
	  "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==\r\n"
	  "--outer--\r\n"
	  "epilogue\r\n" },
	{ "cur/1700000003.M3P1Q1.fuzz:2,",
	  "From: Carol <carol@example.com>\r\n"
	  "To: user@example.org\r\n"
	  "Subject: Fwd: plain\r\n"
	  "Date: Wed, 3 Jan 2024 09:00:00 -0500\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=b\r\n"
	  "\r\n"
	  "--b\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "See below.\r\n"
	  "--b\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "From: Alice <alice@example.org>\r\n"
	  "Subject: plain\r\n"
	  "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	  "Content-Type: multipart/mixed; boundary=c\r\n"
	  "\r\n"
	  "--c\r\n"
	  "\r\n"
	  "inner text\r\n"
	  "--c\r\n"
	  "Content-Type: image/png\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "\r\n"
	  "iVBORw0KGgo=\r\n"
	  "--c--\r\n"
	  "--b--\r\n" },
	{ "new/1700000004.M4P1Q1.fuzz",
	  "From: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.de>\r\n"
	  "To: undisclosed-recipients:;\r\n"
	  "Subject: 8-bit \xe4\xf6\xfc\r\n"
	  "Date: Thu, 4 Jan 2024 23:59:59 +1400\r\n"
	  "Content-Type: text/plain; charset=iso-8859-1\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n"
	  "\r\n"
	  "Gr\xfc\xdf" "e\n" "bare LF lines\n" },
};

static int rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* The mail root with the account's Maildir and its messages, afresh. */
static void populate(void)
{
	static const char *const dirs[] = { "", "/u", "/u/Maildir", "/u/Maildir/cur",
		"/u/Maildir/new", "/u/Maildir/tmp" };
	char path[700];

	if (nftw(root, rm, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		abort();
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(path, sizeof path, "%s%s", root, dirs[i]);
		if (mkdir(path, 0700) < 0)
			abort();
	}
	for (size_t i = 0; i < sizeof messages / sizeof *messages; i++) {
		FILE *f;

		snprintf(path, sizeof path, "%s/u/Maildir/%s", root, messages[i][0]);
		if ((f = fopen(path, "w")) == NULL || fputs(messages[i][1], f) < 0 || fclose(f) != 0)
			abort();
	}
}

static void setup(void)
{
	FILE *f;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(users, sizeof users, "%s/users", dir);
	snprintf(root, sizeof root, "%s/root", dir);
	/* {PLAIN}: a crypt(3) hash would cost milliseconds a login, and the
	 * hashes have fuzz-users */
	if ((f = fopen(users, "w")) == NULL)
		abort();
	fputs("user@example.org:{PLAIN}pass:u/Maildir/:User::\n"
	      "off@example.org:{PLAIN}pass:u/Maildir/:Off::disabled=yes\n", f);
	if (fclose(f) != 0)
		abort();
	populate();
	signal(SIGPIPE, SIG_IGN);
	/* the server logs a line or two a session to stderr; libFuzzer and
	 * the sanitizers report on their own copy of it, or on fd 2 */
	if (getenv("FUZZ_IMAPD_LOG") == NULL && (stderr = fopen("/dev/null", "w")) == NULL)
		abort();
}

/* The client: sends the input, then its end of the stream, and reads
 * every reply until the server closes. */
struct client {
	int fd;
	const uint8_t *in;
	size_t inlen, sent;
	size_t got;
	char first[16];    /* the reply's first bytes */
	char last[2];      /* and its last two */
	int echo;          /* copy the replies to stderr */
};

static void *client(void *arg)
{
	struct client *c = arg;
	char buf[65536];

	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN | (c->sent < c->inlen ? POLLOUT : 0) };
		ssize_t r;

		if (poll(&p, 1, 10000) <= 0)
			abort();   /* the server neither reads nor writes nor closes */
		if (p.revents & POLLOUT) {
			r = send(c->fd, c->in + c->sent, c->inlen - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r > 0)
				c->sent += (size_t)r;
			else if (r < 0 && errno != EAGAIN && errno != EINTR)
				c->sent = c->inlen;   /* the server is gone */
			if (c->sent == c->inlen)
				shutdown(c->fd, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break;
			if (r > 0 && c->echo && write(2, buf, (size_t)r) < 0)
				c->echo = 0;
			if (r > 0) {
				for (size_t i = 0; i < (size_t)r && c->got + i < sizeof c->first; i++)
					c->first[c->got + i] = buf[i];
				if (r >= 2)
					memcpy(c->last, buf + r - 2, 2);
				else {
					c->last[0] = c->last[1];
					c->last[1] = buf[0];
				}
				c->got += (size_t)r;
			}
		}
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char login[] = "a LOGIN user pass\r\n", rev2[] = "e ENABLE IMAP4rev2\r\n",
		select[] = "b SELECT INBOX\r\n";
	static unsigned runs;
	static struct net n;
	struct imapd_config c;
	struct client cl;
	pthread_t t;
	uint8_t *in;
	size_t len = 0;
	int sv[2];

	if (runs++ == 0)
		setup();
	else if (runs % 1000 == 0)
		populate();
	if (size == 0 || size > 65536)
		return 0;
	if ((in = malloc(size + 64)) == NULL)
		abort();
	if (data[0] & 1) {
		memcpy(in, login, sizeof login - 1);
		len = sizeof login - 1;
		if (data[0] & 2) {
			memcpy(in + len, rev2, sizeof rev2 - 1);
			len += sizeof rev2 - 1;
		}
		memcpy(in + len, select, sizeof select - 1);
		len += sizeof select - 1;
	}
	memcpy(in + len, data + 1, size - 1);
	len += size - 1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	memset(&cl, 0, sizeof cl);
	cl.fd = sv[0];
	cl.in = in;
	cl.inlen = len;
	cl.echo = getenv("FUZZ_IMAPD_LOG") != NULL;
	if (pthread_create(&t, NULL, client, &cl) != 0)
		abort();
	memset(&c, 0, sizeof c);
	c.users_file = users;
	c.realm = "example.org";
	c.mail_root = root;
	c.auth_delay_ms = 0;
	c.allow_plaintext = 1;
	c.timeout = 1;
	c.max_errors = 50;
	c.max_message = 1 << 20;
	c.remote_ip = "192.0.2.1";
	net_init(&n, sv[1], sv[1], 1000);
	imapd_run(&n, &c);
	close(sv[1]);
	pthread_join(t, NULL);
	close(sv[0]);
	free(in);
	if (cl.got < 16 || memcmp(cl.first, "* OK [CAPABILITY", 16) != 0)
		abort();   /* the greeting comes first, whatever the client sent */
	if (cl.last[0] != '\r' || cl.last[1] != '\n')
		abort();   /* the server ends on a whole line */
	return 0;
}

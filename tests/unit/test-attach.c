/* lib/attach.c and mime_each_part: the dangerous-attachment policy by
 * name, type and zip member, the EICAR test file in any decoded part,
 * and archives that must not hurt. Zips are built here, stored and
 * empty, byte by byte. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "attach.h"
#include "eicar.h"
#include "mime.h"
#include "tap.h"

static char dir[] = "/tmp/test-attach.XXXXXX";
static char eicar[EICAR_LEN + 1];

static struct mime_msg *open_str(const char *msg)
{
	char path[4200];
	struct err e;
	struct mime_msg *m;
	int fd;
	size_t n = strlen(msg);

	snprintf(path, sizeof path, "%s/msg", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    (n > 0 && write(fd, msg, n) != (ssize_t)n))
		abort();
	m = mime_open(fd, 0, &e);
	close(fd);
	unlink(path);
	if (m == NULL)
		abort();
	return m;
}

/* attach_check on msg: its result, why in why. */
static int check(const char *msg, char *why, size_t whysz)
{
	struct mime_msg *m = open_str(msg);
	struct err e = { 0, "" };
	int r = attach_check(m, why, whysz, &e);

	mime_close(m);
	return r;
}

static void put16(GByteArray *b, unsigned v)
{
	guint8 x[2] = { (guint8)v, (guint8)(v >> 8) };

	g_byte_array_append(b, x, 2);
}

static void put32(GByteArray *b, unsigned long v)
{
	put16(b, (unsigned)(v & 0xffff));
	put16(b, (unsigned)(v >> 16));
}

/* A stored zip of empty members named names[0..n). */
static GByteArray *zip(const char *const *names, size_t n)
{
	GByteArray *b = g_byte_array_new();
	unsigned long *loc = g_new(unsigned long, n), cd;

	for (size_t i = 0; i < n; i++) {
		loc[i] = b->len;
		put32(b, 0x04034b50);
		put16(b, 10), put16(b, 0), put16(b, 0), put16(b, 0), put16(b, 0);
		put32(b, 0), put32(b, 0), put32(b, 0);
		put16(b, (unsigned)strlen(names[i])), put16(b, 0);
		g_byte_array_append(b, (const guint8 *)names[i], (guint)strlen(names[i]));
	}
	cd = b->len;
	for (size_t i = 0; i < n; i++) {
		put32(b, 0x02014b50);
		put16(b, 20), put16(b, 10), put16(b, 0), put16(b, 0), put16(b, 0), put16(b, 0);
		put32(b, 0), put32(b, 0), put32(b, 0);
		put16(b, (unsigned)strlen(names[i])), put16(b, 0), put16(b, 0);
		put16(b, 0), put16(b, 0), put32(b, 0), put32(b, loc[i]);
		g_byte_array_append(b, (const guint8 *)names[i], (guint)strlen(names[i]));
	}
	put32(b, 0x06054b50);
	put16(b, 0), put16(b, 0), put16(b, (unsigned)n), put16(b, (unsigned)n);
	put32(b, b->len - 12 - cd), put32(b, cd), put16(b, 0);
	g_free(loc);
	return b;
}

/* A message with a text part and one base64 attachment. */
static char *with_attachment(const char *ctype, const char *disp, const void *data, size_t n)
{
	gchar *b64 = g_base64_encode(data, n);
	char *msg = g_strdup_printf(
		"From: a@example.org\nSubject: t\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n"
		"--b\nContent-Type: text/plain\n\nhello\n"
		"--b\nContent-Type: %s\n%s%sContent-Transfer-Encoding: base64\n\n%s\n--b--\n",
		ctype, disp != NULL ? disp : "", disp != NULL ? "\n" : "", b64);

	g_free(b64);
	return msg;
}

static void expect(const char *msg, int want, const char *why_want, const char *what)
{
	char why[256];
	int r = check(msg, why, sizeof why);

	ok(r == want, "%s: %d (want %d)", what, r, want);
	if (why_want != NULL)
		is_str(why, why_want, "%s: why", what);
}

static void test_names(void)
{
	char *m;

	expect("From: a@example.org\nSubject: hi\n\nplain text\n", 0, "", "clean plain message");
	m = with_attachment("application/pdf", "Content-Disposition: attachment; filename=\"report.pdf\"",
			    "%PDF-1.4\n", 9);
	expect(m, 0, "", "clean pdf attachment");
	g_free(m);
	m = with_attachment("application/octet-stream",
			    "Content-Disposition: attachment; filename=\"invoice.exe\"", "MZ", 2);
	expect(m, 1, "attachment invoice.exe: executable extension", ".exe attachment");
	g_free(m);
	m = with_attachment("application/octet-stream",
			    "Content-Disposition: attachment; filename=\"invoice.pdf.exe\"", "MZ", 2);
	expect(m, 1, "attachment invoice.pdf.exe: executable extension (double extension)",
	       "double extension");
	g_free(m);
	m = with_attachment("application/octet-stream",
			    "Content-Disposition: attachment; filename=\"SETUP.SCR\"", "MZ", 2);
	expect(m, 1, "attachment SETUP.SCR: executable extension", "uppercase extension");
	g_free(m);
	m = with_attachment("application/octet-stream",
			    "Content-Disposition: attachment; filename=\"run.bat. . \"", "x", 1);
	expect(m, 1, "attachment run.bat. . : executable extension", "trailing dots and spaces");
	g_free(m);
	m = with_attachment("application/octet-stream; name=\"x.js\"", NULL, "x", 1);
	expect(m, 1, "attachment x.js: executable extension", "Content-Type name only");
	g_free(m);
	m = with_attachment("application/octet-stream", "Content-Disposition: attachment; "
			    "filename*=utf-8''r%C3%A9sum%C3%A9.vbs", "x", 1);
	expect(m, 1, "attachment r??sum??.vbs: executable extension", "RFC 2231 name, shown ASCII");
	g_free(m);
	m = with_attachment("application/x-msdownload",
			    "Content-Disposition: attachment; filename=\"photo.jpg\"", "MZ", 2);
	expect(m, 1, "attachment photo.jpg: executable type application/x-msdownload",
	       "executable type, harmless name");
	g_free(m);
	m = with_attachment("Application/Java-Archive", NULL, "PK", 2);
	expect(m, 1, "part 2: executable type application/Java-Archive", "executable type, no name");
	g_free(m);
	m = with_attachment("application/octet-stream",
			    "Content-Disposition: attachment; filename=\"notes.exe.txt\"", "x", 1);
	expect(m, 0, "", ".exe not last");
	g_free(m);
}

static void test_zips(void)
{
	static const char *const bad[] = { "docs/", "docs/readme.txt", "docs/setup.scr" };
	static const char *const good[] = { "a.txt", "b/c.pdf", "inner.zip" };
	GByteArray *z;
	char *m, big[200];

	z = zip(bad, 3);
	m = with_attachment("application/octet-stream", "Content-Disposition: attachment; filename=\"a.zip\"",
			    z->data, z->len);
	expect(m, 1, "attachment a.zip contains setup.scr", "zip by name with a .scr member");
	g_free(m);
	m = with_attachment("application/zip", NULL, z->data, z->len);
	expect(m, 1, "attachment (unnamed) contains setup.scr", "zip by type, unnamed");
	g_free(m);
	/* truncated inside the end record, then inside the directory */
	m = with_attachment("application/zip; name=\"t.zip\"", NULL, z->data, z->len - 5);
	expect(m, 0, "", "truncated end record: passed");
	g_free(m);
	{
		GByteArray *c = g_byte_array_new();

		g_byte_array_append(c, z->data, z->len);
		c->data[c->len - 6] = 0xff;   /* directory offset far off */
		c->data[c->len - 10] = 0xff;  /* and its size bigger than the file */
		m = with_attachment("application/zip; name=\"o.zip\"", NULL, c->data, c->len);
		expect(m, 0, "", "offsets outside the file: passed");
		g_free(m);
		c->data[c->len - 10] = z->data[z->len - 10];
		c->data[c->len - 6] = z->data[z->len - 6];
		c->data[c->len - 12] = 0xfe;  /* 65,278 entries claimed */
		c->data[c->len - 11] = 0xff;
		m = with_attachment("application/zip; name=\"n.zip\"", NULL, c->data, c->len);
		expect(m, 1, "attachment n.zip contains setup.scr", "too many entries claimed: bounded");
		g_free(m);
		g_byte_array_free(c, TRUE);
	}
	g_byte_array_free(z, TRUE);
	z = zip(good, 3);
	m = with_attachment("application/zip", "Content-Disposition: attachment; filename=\"ok.zip\"",
			    z->data, z->len);
	expect(m, 0, "", "zip with .txt, .pdf and a nested zip (not opened)");
	g_free(m);
	g_byte_array_free(z, TRUE);
	memset(big, 'A', sizeof big);
	m = with_attachment("application/zip; name=\"junk.zip\"", NULL, big, sizeof big);
	expect(m, 0, "", "not a zip at all");
	g_free(m);
	m = with_attachment("application/zip; name=\"tiny.zip\"", NULL, "PK", 2);
	expect(m, 0, "", "a zip shorter than its end record");
	g_free(m);
}

static void test_eicar(void)
{
	char *m = with_attachment("application/octet-stream",
				  "Content-Disposition: attachment; filename=\"test.txt\"", eicar, EICAR_LEN);

	expect(m, 1, "EICAR test file in part 2", "EICAR in a base64 attachment");
	g_free(m);
	m = g_strdup_printf("From: a@example.org\nSubject: e\n\n%s\n", eicar);
	expect(m, 1, "EICAR test file in part 1", "EICAR as the plain body");
	g_free(m);
	m = g_strdup_printf("From: a@example.org\nSubject: e\n\nsee: %s\n", eicar);
	expect(m, 0, "", "EICAR string inside other text is not the test file");
	g_free(m);
	m = g_strdup_printf(
		"From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n"
		"--o\nContent-Type: text/plain\n\nouter\n"
		"--o\nContent-Type: message/rfc822\n\n"
		"From: b@example.org\nContent-Type: multipart/mixed; boundary=i\n\n"
		"--i\nContent-Type: text/plain\n\ninner\n"
		"--i\nContent-Type: text/plain; name=\"e.txt\"\nContent-Transfer-Encoding: quoted-printable\n\n"
		"%s\n--i--\n--o--\n", eicar);
	expect(m, 1, "EICAR test file in part 2.2", "EICAR in a part of a message/rfc822");
	g_free(m);
}

struct seen {
	GString *s;
	int stop_at;
	int n;
};

static int record(void *ctx, const uint32_t *part, size_t depth, const char *type,
                  const char *subtype, const char *filename)
{
	struct seen *w = ctx;

	for (size_t i = 0; i < depth; i++)
		g_string_append_printf(w->s, "%s%u", i ? "." : "", (unsigned)part[i]);
	g_string_append_printf(w->s, " %s/%s %s;", type, subtype, filename ? filename : "-");
	return ++w->n == w->stop_at;
}

static void test_each_part(void)
{
	struct seen w = { g_string_new(NULL), 0, 0 };
	struct mime_msg *m = open_str(
		"From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n"
		"--o\nContent-Type: text/plain\n\nouter\n"
		"--o\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=fw.eml\n\n"
		"From: b@example.org\nContent-Type: multipart/mixed; boundary=i\n\n"
		"--i\nContent-Type: text/plain\n\ninner\n"
		"--i\nContent-Type: application/octet-stream; name=\"=?utf-8?q?b=C3=A4d?=.exe\"\n\nx\n"
		"--i--\n"
		"--o\nContent-Type: message/rfc822\n\nSubject: single\n\nbody\n"
		"--o\nContent-Type: image/png\nContent-Disposition: inline; filename=\"p.png\"\n\nx\n"
		"--o--\n");
	int r = mime_each_part(m, record, &w);

	ok(r == 0, "each_part: returns 0");
	is_str(w.s->str, "1 text/plain -;2.1 text/plain -;2.2 application/octet-stream b\xc3\xa4" "d.exe;"
	       "3.1 text/plain -;4 image/png p.png;", "each_part: numbers, types, names");
	g_string_truncate(w.s, 0);
	w.n = 0;
	w.stop_at = 2;
	ok(mime_each_part(m, record, &w) == 1 && w.n == 2, "each_part: a nonzero return stops");
	mime_close(m);
	g_string_truncate(w.s, 0);
	w.n = 0;
	w.stop_at = 0;
	m = open_str("Subject: x\n\nbody\n");
	mime_each_part(m, record, &w);
	is_str(w.s->str, "1 text/plain -;", "each_part: a single-part message is part 1");
	mime_close(m);
	g_string_free(w.s, TRUE);
}

static void test_many_parts(void)
{
	GString *s = g_string_new("From: a@example.org\nMIME-Version: 1.0\n"
				  "Content-Type: multipart/mixed; boundary=b\n\n");
	char why[128];

	for (int i = 0; i < 12000; i++)
		g_string_append(s, "--b\nContent-Type: text/plain; name=\"a.txt\"\n\nx\n");
	g_string_append(s, "--b\nContent-Type: text/plain; name=\"late.exe\"\n\nx\n--b--\n");
	ok(check(s->str, why, sizeof why) == 0, "12,000 parts: the ones past the limit are one opaque part");
	g_string_free(s, TRUE);
	/* deep nesting */
	s = g_string_new("From: a@example.org\nMIME-Version: 1.0\n");
	for (int i = 0; i < 300; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=d%d\n\n--d%d\n", i, i);
	g_string_append(s, "Content-Type: text/plain\n\nx\n");
	ok(check(s->str, why, sizeof why) >= 0, "300 nested multiparts: no crash");
	g_string_free(s, TRUE);
	ok(check("From: a@example.org\nContent-Type: application/x-dosexec\n\nMZ\n", why, 8) == 1 &&
	   strlen(why) == 7, "why is cut to its size");
}

int main(void)
{
	static const char a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR";
	static const char b[] = "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

	snprintf(eicar, sizeof eicar, "%s%s", a, b);
	if (mkdtemp(dir) == NULL)
		abort();
	test_names();
	test_zips();
	test_eicar();
	test_each_part();
	test_many_parts();
	rmdir(dir);
	return done_testing();
}

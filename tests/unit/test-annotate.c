/* Unit tests for lib/annotate.c: fields added and taken out of the top
 * header block, everything else byte for byte. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "annotate.h"
#include "tap.h"

static const char *const owned[] = { "X-Spam-Flag", "X-Spam-Status", "X-Virus-Status" };

/* annotate in (n octets) through two temporary files; the result is
 * malloc'd, its length in *outn. */
static char *run(const char *in, size_t n, const char *add, size_t *outn)
{
	char a[] = "/tmp/test-annotate.XXXXXX", b[] = "/tmp/test-annotate.XXXXXX";
	int fa = mkstemp(a), fb = mkstemp(b);
	struct err e;
	char *out;
	off_t len;

	if (fa < 0 || fb < 0 || write(fa, in, n) != (ssize_t)n || lseek(fa, 0, SEEK_SET) < 0)
		abort();
	unlink(a);
	unlink(b);
	if (annotate_copy(fa, fb, owned, 3, add, &e) < 0) {
		printf("# annotate_copy: %s\n", e.msg);
		abort();
	}
	len = lseek(fb, 0, SEEK_END);
	out = malloc((size_t)len + 1);
	if (out == NULL || pread(fb, out, (size_t)len, 0) != len)
		abort();
	out[len] = '\0';
	*outn = (size_t)len;
	close(fa);
	close(fb);
	return out;
}

static void check(const char *in, const char *add, const char *want, const char *what)
{
	size_t n;
	char *got = run(in, strlen(in), add, &n);

	is_str(got, want, "%s", what);
	free(got);
}

int main(void)
{
	const char *add = "X-Spam-Status: No, score=0.10\nX-Spam-Score: 0.10\n";

	check("Subject: a\nFrom: b@c\n\nbody\n", add,
	      "Subject: a\nFrom: b@c\nX-Spam-Status: No, score=0.10\nX-Spam-Score: 0.10\n\nbody\n",
	      "fields added at the end of the header block");
	check("Subject: a\nX-Spam-Flag: YES\nx-spam-status: Yes,\n  forged=1\nFrom: b@c\n\nbody\n", add,
	      "Subject: a\nFrom: b@c\nX-Spam-Status: No, score=0.10\nX-Spam-Score: 0.10\n\nbody\n",
	      "a sender's copies of our fields go, folded lines and all, in any case");
	check("Subject: a\r\nX-Spam-Flag: YES\r\n\r\nbody\r\nX-Spam-Flag: YES\r\n", add,
	      "Subject: a\r\nX-Spam-Status: No, score=0.10\r\nX-Spam-Score: 0.10\r\n\r\nbody\r\nX-Spam-Flag: YES\r\n",
	      "CR LF in, CR LF for the added fields; the body's look-alike untouched");
	check("From alice@example.org Mon Jan  1 00:00:00 2024\nSubject: a\n\nx\n", "X-A: 1\n",
	      "From alice@example.org Mon Jan  1 00:00:00 2024\nSubject: a\nX-A: 1\n\nx\n",
	      "an mbox envelope line stays first");
	check("Subject: a\nFrom: b@c\n", "X-A: 1\n", "Subject: a\nFrom: b@c\nX-A: 1\n",
	      "a message that is all header: the fields at its end");
	check("", "X-A: 1\n", "X-A: 1\n", "an empty message gets the fields alone");
	check("Subject: a\n\nbody\n", NULL, "Subject: a\n\nbody\n", "nothing to add: a copy");
	check("Subject: a\nnot a field line\nSubject: b\n\nx\n", "X-A: 1\n",
	      "Subject: a\nX-A: 1\nnot a field line\nSubject: b\n\nx\n",
	      "a line that is no field ends the header block");
	check("Subject : obsolete\nX-Spam-Flag : YES\n\nx\n", "X-A: 1\n",
	      "Subject : obsolete\nX-A: 1\n\nx\n", "blanks before the colon (obsolete syntax)");
	check("Subject: no newline at the end", "X-A: 1\n", "X-A: 1\nSubject: no newline at the end",
	      "a last line without its LF is kept as it is");

	/* binary body and a header line over the limit: bounded, byte exact */
	{
		size_t big = ANNOTATE_LINE_MAX + 100, n, hl = strlen("X-Long: ");
		char *msg = malloc(big + 300), *got, *want;
		size_t m = 0;

		memcpy(msg, "X-Long: ", hl);
		memset(msg + hl, 'a', big);
		m = hl + big;
		memcpy(msg + m, "\n\nbody\0\377\n", 9);
		m += 9;
		got = run(msg, m, "X-A: 1\n", &n);
		want = malloc(m + 10);
		memcpy(want, "X-A: 1\n", 7);
		memcpy(want + 7, msg, m);
		ok(n == m + 7 && memcmp(got, want, n) == 0,
		   "a header line over %d octets ends the header; the rest byte for byte", ANNOTATE_LINE_MAX);
		free(got);
		free(want);
		free(msg);
	}
	return done_testing();
}

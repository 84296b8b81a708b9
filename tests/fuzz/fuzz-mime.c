/* libFuzzer target for lib/mime.c: any bytes as a stored message.
 * Invariants checked on every input:
 *  - ENVELOPE and BODYSTRUCTURE are built without failing;
 *  - BODY[] sends exactly mime_size() octets, with no bare LF;
 *  - every part that BODY[n] finds sends as many octets as it says, and
 *    a partial fetch of it is the same octets as a slice of the whole;
 *  - BINARY and the SEARCH helpers return without harm.
 * Build and run with scripts/fuzz. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

static char dir[] = "/tmp/fuzz-mime.XXXXXX";

static struct strbuf got;

static int collect(void *ctx, const void *buf, size_t n)
{
	(void)ctx;
	sb_add(&got, buf, n);
	return 0;
}

static void check_piece(struct mime_msg *m, const struct mime_section *s)
{
	struct mime_piece p;
	struct err e;
	char *whole;
	size_t n;

	if (mime_section(m, s, &p, &e) < 0)
		abort();
	sb_reset(&got);
	if (mime_send(m, &p, 0, UINT64_MAX, collect, NULL, &e) < 0 || got.failed || got.len != p.wire)
		abort();
	n = got.len;
	whole = malloc(n + 1);
	if (whole == NULL)
		abort();
	if (n > 0)
		memcpy(whole, got.s, n);
	sb_reset(&got);
	if (mime_send(m, &p, n / 3, n / 2 + 1, collect, NULL, &e) < 0)
		abort();
	if (got.len != (n == 0 ? 0 : n / 2 + 1 < n - n / 3 ? n / 2 + 1 : n - n / 3) ||
	    (got.len > 0 && memcmp(got.s, whole + n / 3, got.len) != 0))
		abort();
	sb_reset(&got);
	sb_add(&got, whole, n);   /* the caller looks at the whole */
	free(whole);
	free(p.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char path[4200];
	const char *fields[] = { "subject", "from" };
	uint32_t part[3];
	struct mime_section s = { part, 0, MIME_ALL, fields, 2 };
	struct strbuf b = { 0 };
	struct mime_msg *m;
	struct err e;
	uint64_t bsize;
	int fd, bfd;

	if (!ready) {
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof path, "%s/msg", dir);
		ready = 1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	m = mime_open(fd, size > 0 && data[0] == 'H' ? MIME_HEADER_ONLY : 0, &e);
	close(fd);
	if (m == NULL)
		abort();
	mime_envelope(m, &b);
	mime_bodystructure(m, 1, &b);
	mime_bodystructure(m, 0, &b);
	if (b.failed)
		abort();
	sb_free(&b);

	check_piece(m, &s);
	if (got.len != mime_size(m))
		abort();
	for (size_t i = 0; i < got.len; i++)
		if (got.s[i] == '\n' && (i == 0 || got.s[i - 1] != '\r'))
			abort();   /* a bare LF went out */
	for (int what = MIME_ALL; what <= MIME_MIME; what++) {
		s.what = (enum mime_what)what;
		s.depth = 0;
		check_piece(m, &s);
		for (uint32_t i = 1; i <= 3; i++) {
			part[0] = i;
			s.depth = 1;
			check_piece(m, &s);
			for (uint32_t j = 1; j <= 2; j++) {
				part[1] = j;
				s.depth = 2;
				check_piece(m, &s);
			}
		}
	}
	for (uint32_t i = 1; i <= 3; i++) {
		part[0] = i;
		if (mime_binary(m, part, 1, &bfd, &bsize, &e) == 0)
			close(bfd);
	}
	mime_header_contains(m, NULL, "x");
	mime_header_contains(m, "subject", "\xc3\xa9");
	mime_body_contains(m, "needle");
	mime_date(m, NULL);
	mime_close(m);
	return 0;
}

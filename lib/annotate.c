#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "annotate.h"
#include "io.h"

struct reader {
	int fd;
	char buf[IO_BUFSIZE];
	size_t pos, len;
	int eof, error;
};

/* The next line, LF included, at most max octets: its length in *n
 * (short of a LF when the line is longer, or at the end). Returns the
 * line, NULL at the end of the input or on a read error. */
static const char *next_line(struct reader *r, char *line, size_t max, size_t *n)
{
	*n = 0;
	while (*n < max) {
		if (r->pos == r->len) {
			ssize_t k;

			if (r->eof)
				break;
			if ((k = io_read(r->fd, r->buf, sizeof r->buf)) < 0) {
				r->error = errno;
				return NULL;
			}
			if (k == 0) {
				r->eof = 1;
				break;
			}
			r->pos = 0;
			r->len = (size_t)k;
		}
		line[(*n)++] = r->buf[r->pos++];
		if (line[*n - 1] == '\n')
			break;
	}
	return *n > 0 ? line : NULL;
}

/* Is the field on line (n octets) one of drop? The name is what stands
 * before the colon, blanks before the colon allowed (obsolete syntax). */
static int dropped(const char *line, size_t n, const char *const *drop, size_t ndrop)
{
	const char *colon = memchr(line, ':', n);
	size_t len;

	if (colon == NULL)
		return 0;
	len = (size_t)(colon - line);
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	for (size_t i = 0; i < ndrop; i++)
		if (strlen(drop[i]) == len && strncasecmp(line, drop[i], len) == 0)
			return 1;
	return 0;
}

/* Is line a header field: a name of printable characters, then a colon? */
static int is_field(const char *line, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == ':')
			return i > 0;
		if (c <= ' ' || c >= 127) {
			/* blanks between the name and the colon (obsolete syntax) */
			while (i < n && (line[i] == ' ' || line[i] == '\t'))
				i++;
			return i > 0 && i < n && line[i] == ':' && line[0] != ' ' && line[0] != '\t';
		}
	}
	return 0;
}

static void add_fields(struct io_out *o, const char *add, int crlf)
{
	for (const char *p = add; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

		io_out_write(o, p, n);
		io_out_write(o, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
		p += n + (nl != NULL);
	}
}

int annotate_copy(int in_fd, int out_fd, const char *const *drop, size_t ndrop,
                  const char *add, struct err *e)
{
	struct reader *r = calloc(1, sizeof *r);
	struct io_out *o = malloc(sizeof *o);
	char *line = malloc(ANNOTATE_LINE_MAX);
	int skipping = 0, crlf = 0, first = 1, rc = -1;
	const char *l;
	size_t n;

	if (r == NULL || o == NULL || line == NULL) {
		err_set(e, EX_TEMPFAIL, "out of memory");
		goto out;
	}
	r->fd = in_fd;
	io_out_init(o, out_fd);
	/* the header block, a line at a time */
	while ((l = next_line(r, line, ANNOTATE_LINE_MAX, &n)) != NULL) {
		int whole = l[n - 1] == '\n';

		if (first) {
			crlf = n >= 2 && l[n - 2] == '\r' && whole;
			first = 0;
			if (n >= 5 && memcmp(l, "From ", 5) == 0 && whole) {
				io_out_write(o, l, n);   /* an mbox envelope line */
				continue;
			}
		}
		if (whole && (l[0] == ' ' || l[0] == '\t')) {
			if (!skipping)
				io_out_write(o, l, n);   /* a folded line goes with its field */
			continue;
		}
		if (!whole || !is_field(l, n)) {
			/* the blank line, or a line that cannot be a field: the
			 * header ends, our fields go before it */
			add_fields(o, add, crlf);
			io_out_write(o, l, n);
			break;
		}
		skipping = dropped(l, n, drop, ndrop);
		if (!skipping)
			io_out_write(o, l, n);
	}
	if (r->error == 0 && l == NULL)
		add_fields(o, add, crlf);   /* a message that is all header */
	/* the body, as it is */
	if (r->pos < r->len)
		io_out_write(o, r->buf + r->pos, r->len - r->pos);
	while (r->error == 0 && !r->eof) {
		ssize_t k = io_read(in_fd, r->buf, sizeof r->buf);

		if (k < 0)
			r->error = errno;
		else if (k == 0)
			break;
		else
			io_out_write(o, r->buf, (size_t)k);
	}
	if (r->error != 0) {
		errno = r->error;
		err_sys(e, EX_IOERR, "unable to read the message");
		goto out;
	}
	if (io_out_flush(o) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to write the message");
		goto out;
	}
	rc = 0;
out:
	free(r);
	free(o);
	free(line);
	return rc;
}

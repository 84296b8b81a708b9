/* libFuzzer target for lib/imapread.c: any bytes as what a client sends.
 * Every command is read token by token, literals taken as text (with a
 * limit) or streamed to /dev/null, errors skipped, until the input is
 * used up. Invariants: no crash, tokens never longer than the line limit,
 * and the reader always ends (the client gone) instead of spinning.
 * Build and run with scripts/fuzz. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imapread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct imap_reader r;
	struct net n;
	int sv[2], devnull = open("/dev/null", O_WRONLY);
	unsigned rounds = 0;

	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	/* the whole input, then the end of the stream */
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	net_init(&n, sv[1], sv[1], 1000);
	while (rounds++ < 100000) {
		int rc = imap_begin(&r, &n), flags = 0;
		enum imap_tok t;

		if (rc == -1)
			break;
		if (rc == -2)
			continue;
		while ((t = imap_next(&r, flags)) != IMAP_END) {
			if (r.textlen > IMAP_LINE_MAX)
				abort();
			flags = (flags + 1) % 4;
			if (t == IMAP_LITERAL) {
				if ((r.literal & 1 ? imap_literal_stream(&r, devnull, 5000)
				                   : imap_literal_text(&r, 200)) < 0) {
					if (r.gone)
						goto out;
					imap_skip(&r);
					break;
				}
			} else if (t == IMAP_ERROR) {
				if (imap_skip(&r) < 0)
					goto out;
				break;
			}
		}
		if (r.gone)
			break;
	}
	if (rounds >= 100000)
		abort();   /* a reader that never ends */
out:
	close(sv[0]);
	close(sv[1]);
	close(devnull);
	return 0;
}

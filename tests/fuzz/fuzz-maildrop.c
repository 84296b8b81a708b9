/* libFuzzer target for the mbox reader of mail-pop3d: any bytes as an
 * mbox. Invariants checked on every input:
 *  - every message listed can be sent, and what is sent is exactly as
 *    long as LIST says once the dot-stuffing is taken out, with every
 *    line ended by CR LF;
 *  - UIDLs are unique and printable.
 * Build and run with scripts/fuzz. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildrop.h"
#include "net.h"

static char dir[] = "/tmp/fuzz-maildrop.XXXXXX";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static char mbox[4200], out[4200];
	struct maildrop d;
	struct err e;
	FILE *f;

	if (!ready) {
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(mbox, sizeof mbox, "%s/mbox", dir);
		snprintf(out, sizeof out, "%s/out", dir);
		ready = 1;
	}
	if ((f = fopen(mbox, "wb")) == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
	    fclose(f) != 0)
		abort();
	if (drop_open(&d, mbox, 1, &e) < 0)
		return 0;
	for (size_t i = 0; i < d.n; i++) {
		struct net n;
		int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
		char *buf;
		struct stat st;
		uint64_t dots = 0;

		if (fd < 0)
			abort();
		net_init(&n, fd, fd, 1000);
		if (drop_send(&d, i, -1, "+OK", &n, &e) < 0 || net_flush(&n) < 0)
			abort();
		if (fstat(fd, &st) < 0 || (buf = malloc((size_t)st.st_size + 1)) == NULL ||
		    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
			abort();
		/* after the "+OK" line */
		if (st.st_size < 5 || memcmp(buf, "+OK\r\n", 5) != 0)
			abort();
		memmove(buf, buf + 5, (size_t)st.st_size - 5);
		st.st_size -= 5;
		for (off_t k = 0; k < st.st_size; k++) {
			if ((k == 0 || buf[k - 1] == '\n') && buf[k] == '.')
				dots++;
			if (buf[k] == '\n' && (k == 0 || buf[k - 1] != '\r'))
				abort();   /* a bare LF went out */
		}
		if (st.st_size > 0 && buf[st.st_size - 1] != '\n')
			abort();   /* the last line is not ended */
		if ((uint64_t)st.st_size - dots != d.m[i].size)
			abort();   /* LIST would lie */
		for (size_t j = 0; j < i; j++)
			if (strcmp(d.m[j].uidl, d.m[i].uidl) == 0)
				abort();
		for (const char *p = d.m[i].uidl; *p; p++)
			if (*p <= ' ' || *p >= 127)
				abort();
		free(buf);
		close(fd);
	}
	drop_close(&d);
	return 0;
}

/* libFuzzer target for lib/message.c and maildir_folder_dir.
 * Invariants checked on every input:
 *  - the reported size and line count match the output;
 *  - a non-empty output ends in a newline;
 *  - with mboxrd quoting, no output line begins with "From " (an mbox
 *    reader would see a new message), and unquoting gives exactly the
 *    unquoted copy;
 *  - a folder name either is refused or maps to "" or ".X.Y" with no '/',
 *    no empty component and only printable ASCII.
 * Build and run with scripts/fuzz. */
#include "config.h"

#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "maildir.h"
#include "message.h"

static size_t copy(const uint8_t *data, size_t n, const struct msg_opts *o,
                   struct msg_stats *st, char **out, int *rc)
{
	int in = memfd_create("in", 0), fd = memfd_create("out", 0);
	struct err e;
	off_t len;

	if (in < 0 || fd < 0 || write(in, data, n) != (ssize_t)n)
		abort();
	lseek(in, 0, SEEK_SET);
	*rc = message_copy(in, fd, o, st, &e);
	len = lseek(fd, 0, SEEK_END);
	*out = malloc((size_t)len + 1);
	if (pread(fd, *out, (size_t)len, 0) != len)
		abort();
	close(in);
	close(fd);
	return (size_t)len;
}

static size_t unquote(char *s, size_t n)
{
	size_t o = 0;
	int bol = 1;

	for (size_t i = 0; i < n; i++) {
		if (bol && s[i] == '>') {
			size_t j = i;
			while (j < n && s[j] == '>')
				j++;
			if (n - j >= 5 && memcmp(s + j, "From ", 5) == 0)
				i++;   /* drop one '>' */
		}
		s[o++] = s[i];
		bol = s[i] == '\n';
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_opts plain = { NULL, NULL, 0 }, rd;
	struct msg_stats st1, st2;
	char *a, *b, folder[300];
	size_t na, nb, lines = 0;
	int rc1, rc2;
	struct err e;

	if (size > 0) {
		/* First byte picks the options, so all paths are reached. */
		if (data[0] & 1)
			plain.return_path = "s@example.org";
		if (data[0] & 2)
			plain.delivered_to = "r@example.net";
		data++;
		size--;
	}
	na = copy(data, size, &plain, &st1, &a, &rc1);
	rd = plain;
	rd.mboxrd = 1;
	nb = copy(data, size, &rd, &st2, &b, &rc2);
	if (rc1 != rc2)
		abort();
	if (rc1 == 0) {
		for (size_t i = 0; i < na; i++)
			lines += a[i] == '\n';
		if (st1.size != na || st1.lines != lines)
			abort();
		if (na > 0 && a[na - 1] != '\n')
			abort();
		if (st2.size != nb)
			abort();
		for (size_t i = 0; i < nb; i++)
			if ((i == 0 || b[i - 1] == '\n') && nb - i >= 5 && memcmp(b + i, "From ", 5) == 0)
				abort();
		if (unquote(b, nb) != na || memcmp(a, b, na) != 0)
			abort();
	}
	free(a);
	free(b);

	if (size < 200) {
		char name[201];
		memcpy(name, data, size);
		name[size] = '\0';
		if (maildir_folder_dir(name, folder, sizeof folder, &e) == 0 && folder[0] != '\0') {
			size_t n = strlen(folder);
			if (folder[0] != '.' || folder[n - 1] == '.' || strstr(folder, "..") || strchr(folder, '/'))
				abort();
			for (size_t i = 0; i < n; i++)
				if (folder[i] < 0x20 || folder[i] > 0x7e)
					abort();
		}
	}
	return 0;
}

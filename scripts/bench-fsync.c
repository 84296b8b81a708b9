/* bench-fsync: the disk's fsync limit for Maildir delivery.
 *
 * usage: bench-fsync DIR N SIZE
 *
 * Delivers N messages of SIZE bytes into the Maildir DIR (created if
 * missing) from ONE process, doing exactly the file-system work of a
 * durable Maildir delivery and nothing else:
 *   open tmp/NAME O_CREAT|O_EXCL, write SIZE bytes, fsync, close,
 *   link tmp/NAME to new/NAME,S=..,W=.., open new/, fsync it, close it, unlink tmp/NAME.
 * No process start-up, no parsing, no header rewriting: no delivery agent
 * that keeps the same durability promise can go faster on this disk.
 *
 * Prints one line on stdout:
 *   RATE deliveries/s (N x SIZE bytes in SECONDS s)
 * Exit 0 on success, 1 on any error, 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, const char *path)
{
	fprintf(stderr, "bench-fsync: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void too_long(const char *path)
{
	fprintf(stderr, "bench-fsync: path too long in %s\n", path);
	exit(2);
}

static unsigned long parse_count(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v == 0) {
		fprintf(stderr, "bench-fsync: %s must be a positive integer: %s\n", what, s);
		exit(2);
	}
	return v;
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		die("unable to create", path);
}

/* Write all of buf, as a delivery agent copying a message would. */
static void write_all(int fd, const char *buf, size_t n, const char *path)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("unable to write", path);
		}
		buf += w;
		n -= (size_t)w;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char sub[PATH_MAX], tmp[PATH_MAX], new[PATH_MAX], newdir[PATH_MAX], host[64];
	char name[NAME_MAX + 1];
	unsigned long n, size, lines = 0;
	double t0, secs;
	char *buf;
	struct timespec ts;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-fsync DIR N SIZE\n");
		return 2;
	}
	n = parse_count(argv[2], "N");
	size = parse_count(argv[3], "SIZE");

	make_dir(argv[1]);
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = { "tmp", "new", "cur" };
		if (snprintf(sub, sizeof sub, "%s/%s", argv[1], names[i]) >= (int)sizeof sub)
			too_long(argv[1]);
		make_dir(sub);
	}
	if (snprintf(newdir, sizeof newdir, "%s/new", argv[1]) >= (int)sizeof newdir)
		too_long(argv[1]);
	if (gethostname(host, sizeof host - 1) < 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';

	/* A message-like payload: printable text in 76-column lines, stored
	 * with LF endings as a delivery agent stores them (hence ,W=). */
	buf = malloc(size);
	if (buf == NULL) {
		fprintf(stderr, "bench-fsync: out of memory\n");
		return 1;
	}
	for (unsigned long i = 0; i < size; i++) {
		buf[i] = i % 77 == 76 ? '\n' : (char)('a' + i % 26);
		lines += buf[i] == '\n';
	}

	t0 = now();
	for (unsigned long q = 1; q <= n; q++) {
		int fd, dfd;

		clock_gettime(CLOCK_REALTIME, &ts);
		if (snprintf(name, sizeof name, "%lld.M%ldP%ldQ%lu.%s", (long long)ts.tv_sec,
		             ts.tv_nsec / 1000, (long)getpid(), q, host) >= (int)sizeof name ||
		    snprintf(tmp, sizeof tmp, "%s/tmp/%s", argv[1], name) >= (int)sizeof tmp ||
		    snprintf(new, sizeof new, "%s/%s,S=%lu,W=%lu", newdir, name, size,
		             size + lines) >= (int)sizeof new)
			too_long(argv[1]);

		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			die("unable to create", tmp);
		write_all(fd, buf, size, tmp);
		if (fsync(fd) < 0)
			die("unable to fsync", tmp);
		if (close(fd) < 0)
			die("unable to close", tmp);
		if (link(tmp, new) < 0)
			die("unable to link", new);
		dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			die("unable to open", newdir);
		if (fsync(dfd) < 0)
			die("unable to fsync", newdir);
		close(dfd);
		if (unlink(tmp) < 0)
			die("unable to unlink", tmp);
	}
	secs = now() - t0;

	printf("%.1f deliveries/s (%lu x %lu bytes in %.3f s)\n",
	       secs > 0 ? (double)n / secs : 0.0, n, size, secs);
	free(buf);
	return 0;
}

/* bench-pop3: time one POP3 session with a server run as a child, its
 * stdin and stdout the connection, as tcpserver would run it (no TCP, no
 * TLS). Pipes, not a socketpair: Dovecot's pop3 takes a socket on stdin
 * for inetd and then refuses to run without pop3-login.
 *
 * usage: bench-pop3 [-g] [-l USER:PASS] M LIST_OUT COMMAND [ARG...]
 *
 * Starts COMMAND with a pipe as its stdin and another as its stdout,
 * then plays a mail client that fetches, one command at a time, each reply
 * read in full (to the terminating "." of a multi-line reply) before the
 * next command is sent: the greeting (none with -g: Dovecot's pop3 run
 * pre-authenticated sends none), USER and PASS with -l, STAT, UIDL, RETR 1
 * to RETR M, QUIT; then it waits for the server to hang up and exit.
 *
 * Prints one line on stdout:
 *   TOTAL OPEN UIDL RETR QUIT STAT_COUNT STAT_OCTETS UIDL_LINES RETR_OCTETS
 * the times in seconds: TOTAL from the spawn to the server's exit; OPEN
 * from the spawn to the reply to STAT (start-up, greeting, login, reading
 * the mailbox); UIDL; RETR the M retrievals; QUIT from QUIT to the exit
 * (the server's update of the mailbox). RETR_OCTETS counts the
 * messages as RFC 1939 does: CR LF line ends, dot-stuffing undone.
 * Writes LIST_OUT after the clock has stopped, so hashing costs no
 * session time: one line per RETR, "I OCTETS FNV1A64" of the unstuffed
 * message.
 *
 * Exit 0 on success; 1 on any error (a -ERR, a short or late reply, a
 * server that exits non-zero), with the reason on stderr; 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS 60000   /* per read: a stuck server fails the bench */
#define BUF_SIZE 65536      /* also the longest line accepted */

extern char **environ;

static int rfd = -1, wfd = -1;   /* from and to the server */
static pid_t child = -1;
static char buf[BUF_SIZE];
static size_t rpos, rlen;
static char doing[32] = "the greeting";   /* for errors: the last command */
static char *store;         /* the retrieved messages, unstuffed */
static size_t store_len, store_cap;

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench-pop3: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (child > 0)
		kill(child, SIGKILL);
	exit(1);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void send_line(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int len;
	size_t off = 0;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof line - 2)
		die("command too long");
	snprintf(doing, sizeof doing, "%.*s", (int)strcspn(line, " "), line);
	memcpy(line + len, "\r\n", 2);
	len += 2;
	while (off < (size_t)len) {
		ssize_t w = write(wfd, line + off, (size_t)len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("cannot write to the server: %s", strerror(errno));
		off += (size_t)w;
	}
}

/* fill: more bytes into buf, waiting DEADLINE_MS at most; 0 at EOF. */
static size_t fill(void)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	ssize_t r;
	int rc;

	if (rpos > 0) {
		memmove(buf, buf + rpos, rlen - rpos);
		rlen -= rpos;
		rpos = 0;
	}
	if (rlen == sizeof buf)
		die("a line longer than %d bytes", BUF_SIZE);
	while ((rc = poll(&p, 1, DEADLINE_MS)) < 0 && errno == EINTR)
		;
	if (rc < 0)
		die("poll: %s", strerror(errno));
	if (rc == 0)
		die("%s: no reply for %d s", doing, DEADLINE_MS / 1000);
	while ((r = read(rfd, buf + rlen, sizeof buf - rlen)) < 0 && errno == EINTR)
		;
	if (r < 0)
		die("cannot read from the server: %s", strerror(errno));
	rlen += (size_t)r;
	return (size_t)r;
}

/* get_line: the next line, LF included, valid until the next call. */
static const char *get_line(size_t *len)
{
	char *lf;

	while ((lf = memchr(buf + rpos, '\n', rlen - rpos)) == NULL)
		if (fill() == 0)
			die("%s: the server hung up before the end of its reply", doing);
	*len = (size_t)(lf + 1 - (buf + rpos));
	rpos += *len;
	return lf + 1 - *len;
}

/* status: read a status line; it must be +OK. Returns what follows "+OK". */
static const char *status(const char *cmd)
{
	static char copy[1024];
	const char *l;
	size_t len;

	l = get_line(&len);
	while (len > 0 && (l[len - 1] == '\n' || l[len - 1] == '\r'))
		len--;
	if (len > sizeof copy - 1)
		len = sizeof copy - 1;
	memcpy(copy, l, len);
	copy[len] = '\0';
	if (strncmp(copy, "+OK", 3) != 0)
		die("%s: the server said: %s", cmd, copy);
	return copy + 3;
}

static void keep(const char *p, size_t len)
{
	if (store_len + len > store_cap) {
		size_t cap = store_cap ? store_cap : 1 << 20;

		while (cap < store_len + len)
			cap *= 2;
		if ((store = realloc(store, cap)) == NULL)
			die("out of memory");
		store_cap = cap;
	}
	memcpy(store + store_len, p, len);
	store_len += len;
}

/* multi: read a multi-line body to its ".". With save, keep it unstuffed
 * with CR LF line ends. Returns the number of lines. */
static size_t multi(int save)
{
	size_t lines = 0, len;
	const char *l;

	for (;;) {
		l = get_line(&len);
		if (len >= 2 && l[len - 2] == '\r') {
			if (len == 3 && l[0] == '.')
				return lines;
		} else if (len == 2 && l[0] == '.') {
			return lines;   /* a bare LF: not ours to judge here */
		}
		if (l[0] == '.') {
			l++;
			len--;
		}
		if (save) {
			if (len >= 2 && l[len - 2] == '\r') {
				keep(l, len);
			} else {
				keep(l, len - 1);
				keep("\r\n", 2);
			}
		}
		lines++;
	}
}

static uint64_t fnv1a(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int main(int argc, char **argv)
{
	const char *login = NULL, *pass = NULL, *out_path;
	int greeting = 1;
	char user[256], *end;
	unsigned long m, stat_n;
	unsigned long long stat_octets;
	size_t uidl_lines, *start_of;
	double t0, t_open, t_uidl, t_retr, t_end;
	posix_spawn_file_actions_t fa;
	int in[2], out_pipe[2], status_code, rc;
	FILE *out;

	if (argc > 1 && strcmp(argv[1], "-g") == 0) {
		greeting = 0;
		argv++;
		argc--;
	}
	if (argc > 2 && strcmp(argv[1], "-l") == 0) {
		login = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: bench-pop3 [-g] [-l USER:PASS] M LIST_OUT COMMAND [ARG...]\n");
		return 2;
	}
	if (login != NULL) {
		const char *colon = strchr(login, ':');

		if (colon == NULL || (size_t)(colon - login) >= sizeof user) {
			fprintf(stderr, "bench-pop3: -l takes USER:PASS\n");
			return 2;
		}
		memcpy(user, login, (size_t)(colon - login));
		user[colon - login] = '\0';
		pass = colon + 1;
	}
	errno = 0;
	m = strtoul(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || m == 0 || errno != 0) {
		fprintf(stderr, "bench-pop3: bad count %s\n", argv[1]);
		return 2;
	}
	out_path = argv[2];
	if ((start_of = calloc(m + 1, sizeof *start_of)) == NULL)
		die("out of memory");
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	wfd = in[1];
	rfd = out_pipe[0];

	/* The session: from the spawn to the server's exit. */
	t0 = now();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	rc = posix_spawnp(&child, argv[3], &fa, NULL, argv + 3, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		die("cannot run %s: %s", argv[3], strerror(rc));
	close(in[0]);
	close(out_pipe[1]);

	if (greeting)
		status("greeting");
	if (login != NULL) {
		send_line("USER %s", user);
		status("USER");
		send_line("PASS %s", pass);
		status("PASS");
	}
	send_line("STAT");
	if (sscanf(status("STAT"), " %lu %llu", &stat_n, &stat_octets) != 2)
		die("STAT: no count and size in the reply");
	if (stat_n < m)
		die("STAT: %lu messages, fewer than the %lu to retrieve", stat_n, m);
	t_open = now();
	send_line("UIDL");
	status("UIDL");
	uidl_lines = multi(0);
	t_uidl = now();

	for (unsigned long i = 1; i <= m; i++) {
		send_line("RETR %lu", i);
		status("RETR");
		start_of[i - 1] = store_len;
		multi(1);
	}
	start_of[m] = store_len;
	t_retr = now();

	send_line("QUIT");
	status("QUIT");
	if (rpos < rlen || fill() > 0)
		die("bytes after the reply to QUIT");
	while (waitpid(child, &status_code, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	t_end = now();
	child = -1;
	if (!WIFEXITED(status_code) || WEXITSTATUS(status_code) != 0)
		die("%s ended with status %d after QUIT", argv[3], status_code);

	/* The clock has stopped: what was received, for the comparison. */
	if ((out = fopen(out_path, "w")) == NULL)
		die("cannot create %s: %s", out_path, strerror(errno));
	for (unsigned long i = 0; i < m; i++)
		fprintf(out, "%lu %zu %016" PRIx64 "\n", i + 1, start_of[i + 1] - start_of[i],
		        fnv1a(store + start_of[i], start_of[i + 1] - start_of[i]));
	if (fflush(out) != 0 || ferror(out) || fclose(out) != 0)
		die("cannot write %s: %s", out_path, strerror(errno));

	printf("%.6f %.6f %.6f %.6f %.6f %lu %llu %zu %zu\n", t_end - t0, t_open - t0,
	       t_uidl - t_open, t_retr - t_uidl, t_end - t_retr, stat_n, stat_octets,
	       uidl_lines, store_len);
	return 0;
}

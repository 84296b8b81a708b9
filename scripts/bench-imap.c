/* bench-imap: time one IMAP session with a server run as a child, its
 * stdin and stdout the connection, as tcpserver would run it (no TCP, no
 * TLS). Pipes, not a socketpair, as bench-pop3 (Dovecot's imap takes a
 * socket on stdin for inetd and then wants imap-login).
 *
 * usage: bench-imap [-l USER:PASS] [-s WORD] [-o PREFIX] STEPS COMMAND [ARG...]
 *
 * Starts COMMAND with a pipe as its stdin and another as its stdout and
 * plays a mail client, one command at a time, each reply read in full
 * (literals too) before the next command is sent: the greeting ("* OK",
 * or "* PREAUTH" from Dovecot's imap run pre-authenticated), LOGIN with
 * -l, SELECT INBOX, then the STEPS, a comma-separated list of
 *   flags      UID FETCH 1:* (FLAGS)
 *   envelope   FETCH 1:* (ENVELOPE)
 *   search     UID SEARCH SUBJECT WORD (-s WORD)
 * and LOGOUT; then it waits for the server to hang up and exit.
 *
 * Prints one line on stdout of KEY=VALUE words, times in seconds:
 *   open     from the spawn to the tagged OK of SELECT (start-up,
 *            greeting, login, SELECT)
 *   login    from the spawn to the OK of LOGIN (to the greeting without -l)
 *   select   SELECT alone
 *   exists   the EXISTS of SELECT
 *   flags, envelope, search   each step's time, and flags_n, envelope_n
 *            (untagged FETCH replies), search_n (UIDs found)
 *   logout   from LOGOUT to the server's exit
 *   total    from the spawn to the server's exit
 *   maxrss   the server process's peak resident set, KiB (wait4)
 *   bytes    bytes received in the session
 * Writes after the clock has stopped, so no parsing costs session time:
 *   PREFIX.envelope  "SEQ ENVELOPE" a line, the envelope re-serialized in
 *                    one canonical form (every string quoted), so that a
 *                    literal and a quoted string of the same text compare
 *                    equal
 *   PREFIX.flags     "UID FLAGS" a line, the flags sorted, \Recent left out
 *   PREFIX.search    the UIDs found, one a line, sorted
 *
 * Exit 0 on success; 1 on any error (a NO or BAD, a short or late reply, a
 * server that exits non-zero), with the reason on stderr; 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS 300000  /* per read: a stuck server fails the bench */
#define READ_SIZE 262144

extern char **environ;

struct buf {
	char *p;
	size_t len, cap;
};

static int rfd = -1, wfd = -1;   /* from and to the server */
static pid_t child = -1;
static char *in;                 /* what was read and not yet used */
static size_t in_pos, in_len, in_cap;
static unsigned long long received;
static char doing[64] = "the greeting";
static unsigned tagno;

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench-imap: ", stderr);
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

static void put(struct buf *b, const char *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (cap < b->len + len)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			die("out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

/* fill: more bytes from the server, waiting DEADLINE_MS at most; 0 at EOF. */
static size_t fill(void)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	ssize_t r;
	int rc;

	if (in_pos > 0) {
		memmove(in, in + in_pos, in_len - in_pos);
		in_len -= in_pos;
		in_pos = 0;
	}
	if (in_cap - in_len < READ_SIZE) {
		in_cap = in_cap ? in_cap * 2 : 4 * READ_SIZE;
		if ((in = realloc(in, in_cap)) == NULL)
			die("out of memory");
	}
	while ((rc = poll(&p, 1, DEADLINE_MS)) < 0 && errno == EINTR)
		;
	if (rc < 0)
		die("poll: %s", strerror(errno));
	if (rc == 0)
		die("%s: no reply for %d s", doing, DEADLINE_MS / 1000);
	while ((r = read(rfd, in + in_len, in_cap - in_len)) < 0 && errno == EINTR)
		;
	if (r < 0)
		die("cannot read from the server: %s", strerror(errno));
	in_len += (size_t)r;
	received += (unsigned long long)r;
	return (size_t)r;
}

/* response: the next whole response, literals included, into r (emptied
 * first); no CR LF at its end. */
static void response(struct buf *r)
{
	r->len = 0;
	for (;;) {
		char *lf, *line, *brace, *q;
		size_t len;
		unsigned long long lit;

		while ((lf = memchr(in + in_pos, '\n', in_len - in_pos)) == NULL)
			if (fill() == 0)
				die("%s: the server hung up in the middle of its reply", doing);
		line = in + in_pos;
		len = (size_t)(lf - line);
		in_pos += len + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		put(r, line, len);
		/* a literal: {N} or {N+} at the end of the line */
		if (len < 3 || line[len - 1] != '}')
			return;
		for (brace = line + len - 2; brace > line && *brace != '{'; brace--)
			;
		if (*brace != '{')
			return;
		lit = strtoull(brace + 1, &q, 10);
		if (q == brace + 1 || (*q != '}' && !(*q == '+' && q[1] == '}')))
			return;
		put(r, "\r\n", 2);
		while (in_len - in_pos < lit)
			if (fill() == 0)
				die("%s: the server hung up in a literal", doing);
		put(r, in + in_pos, (size_t)lit);
		in_pos += (size_t)lit;
	}
}

static void send_cmd(char *tag, size_t tagsz, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int len;
	size_t off = 0;

	snprintf(tag, tagsz, "a%u", ++tagno);
	len = snprintf(line, sizeof line, "%s ", tag);
	va_start(ap, fmt);
	len += vsnprintf(line + len, sizeof line - (size_t)len - 2, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof line - 2)
		die("command too long");
	snprintf(doing, sizeof doing, "%.*s", (int)strcspn(line + strlen(tag) + 1, "\""),
	         line + strlen(tag) + 1);
	memcpy(line + len, "\r\n", 2);
	len += 2;
	while (off < (size_t)len) {
		ssize_t w = write(wfd, line + off, (size_t)len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("%s: cannot write to the server: %s", doing, strerror(errno));
		off += (size_t)w;
	}
}

static struct buf resp;

/* The counts of one command's untagged replies. */
struct got {
	unsigned long exists, fetches, found;
	int bye;
};

/* run: read the replies to the command tagged tag, to its tagged OK.
 * Untagged FETCH and SEARCH replies go to keep (when not NULL), each
 * followed by a LF. */
static void run(const char *tag, struct got *g, struct buf *keep)
{
	size_t tl = strlen(tag);

	memset(g, 0, sizeof *g);
	for (;;) {
		response(&resp);
		if (resp.len >= 2 && resp.p[0] == '*' && resp.p[1] == ' ') {
			const char *p = resp.p + 2, *end = resp.p + resp.len;
			char *q;
			unsigned long n = strtoul(p, &q, 10);

			if (q != p && *q == ' ') {
				if (end - q >= 7 && strncmp(q, " EXISTS", 7) == 0)
					g->exists = n;
				else if (end - q >= 7 && strncmp(q, " FETCH ", 7) == 0) {
					g->fetches++;
					if (keep != NULL) {
						put(keep, resp.p, resp.len);
						put(keep, "\n", 1);
					}
				}
			} else if (resp.len >= 8 && strncmp(p, "SEARCH", 6) == 0 &&
			           (resp.len == 8 || p[6] == ' ')) {
				for (const char *s = p + 6; s < end; s++)
					if (*s != ' ' && (s == p + 6 || s[-1] == ' '))
						g->found++;
				if (keep != NULL) {
					put(keep, resp.p, resp.len);
					put(keep, "\n", 1);
				}
			} else if (strncmp(p, "BYE", 3) == 0) {
				g->bye = 1;
			} else if (strncmp(p, "NO", 2) == 0 || strncmp(p, "BAD", 3) == 0) {
				fprintf(stderr, "bench-imap: %s: %.*s\n", doing,
				        (int)(resp.len > 300 ? 300 : resp.len), resp.p);
			}
			continue;
		}
		if (resp.len > tl && strncmp(resp.p, tag, tl) == 0 && resp.p[tl] == ' ') {
			if (strncmp(resp.p + tl + 1, "OK", 2) != 0)
				die("%s: the server said: %.*s", doing,
				    (int)(resp.len > 300 ? 300 : resp.len), resp.p);
			return;
		}
		die("%s: unexpected reply: %.*s", doing, (int)(resp.len > 300 ? 300 : resp.len), resp.p);
	}
}

/* ---- after the clock: the replies parsed, in a canonical form ---- */

static const char *pp, *pe;   /* the parser's place in a reply, and its end */

static void skip_sp(void)
{
	while (pp < pe && *pp == ' ')
		pp++;
}

static void out_string(struct buf *o, const char *s, size_t n)
{
	put(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '"': put(o, "\\\"", 2); break;
		case '\\': put(o, "\\\\", 2); break;
		case '\r': put(o, "\\r", 2); break;
		case '\n': put(o, "\\n", 2); break;
		default: put(o, s + i, 1);
		}
	}
	put(o, "\"", 1);
}

/* value: one value (list, string, literal or atom) at pp, appended to o in
 * canonical form (o may be NULL: skipped). 0, or -1 if malformed. */
static int value(struct buf *o)
{
	skip_sp();
	if (pp >= pe)
		return -1;
	if (*pp == '(') {
		int first = 1;

		pp++;
		if (o)
			put(o, "(", 1);
		for (;;) {
			skip_sp();
			if (pp >= pe)
				return -1;
			if (*pp == ')') {
				pp++;
				if (o)
					put(o, ")", 1);
				return 0;
			}
			if (!first && o)
				put(o, " ", 1);
			first = 0;
			if (value(o) < 0)
				return -1;
		}
	}
	if (*pp == '"') {
		struct buf s = { 0 };

		for (pp++; pp < pe && *pp != '"'; pp++) {
			if (*pp == '\\' && pp + 1 < pe)
				pp++;
			put(&s, pp, 1);
		}
		if (pp >= pe)
			return -1;
		pp++;
		if (o)
			out_string(o, s.p ? s.p : "", s.len);
		free(s.p);
		return 0;
	}
	if (*pp == '{' || (*pp == '~' && pp + 1 < pe && pp[1] == '{')) {
		char *q;
		unsigned long long n;

		pp += *pp == '~' ? 2 : 1;
		n = strtoull(pp, &q, 10);
		if (*q == '+')
			q++;
		if (q + 3 > pe || q[0] != '}' || q[1] != '\r' || q[2] != '\n' ||
		    (unsigned long long)(pe - (q + 3)) < n)
			return -1;
		if (o)
			out_string(o, q + 3, (size_t)n);
		pp = q + 3 + n;
		return 0;
	}
	{
		const char *a = pp;
		int depth = 0;

		while (pp < pe && (depth > 0 || (*pp != ' ' && *pp != '(' && *pp != ')'))) {
			if (*pp == '[')
				depth++;
			else if (*pp == ']' && depth > 0)
				depth--;
			pp++;
		}
		if (pp == a)
			return -1;
		if (o)
			put(o, a, (size_t)(pp - a));
		return 0;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fetch_item: for one "* N FETCH (...)" reply, the value of item name in
 * canonical form into o; for FLAGS, sorted and without \Recent. Also the
 * sequence number and the UID (0 if none). 0, or -1. */
static int fetch_item(const char *r, size_t len, const char *name, struct buf *o,
                      unsigned long *seq, unsigned long *uid)
{
	char *q;

	pp = r + 2;
	pe = r + len;
	*seq = strtoul(pp, &q, 10);
	*uid = 0;
	pp = q;
	if (pe - pp < 8 || strncmp(pp, " FETCH (", 8) != 0)
		return -1;
	pp += 8;
	o->len = 0;
	int found = 0;
	for (;;) {
		const char *a;
		size_t alen;

		skip_sp();
		if (pp >= pe)
			return -1;
		if (*pp == ')')
			return found ? 0 : -1;
		a = pp;
		if (value(NULL) < 0)
			return -1;
		alen = (size_t)(pp - a);
		if (alen == 3 && strncasecmp(a, "UID", 3) == 0) {
			skip_sp();
			*uid = strtoul(pp, &q, 10);
			pp = q;
			continue;
		}
		if (alen == strlen(name) && strncasecmp(a, name, alen) == 0) {
			if (strcmp(name, "FLAGS") == 0) {
				struct buf f = { 0 };
				char *v[64], *s;
				size_t n = 0;

				if (value(&f) < 0)
					return -1;
				put(&f, "", 1);
				/* "(\Seen \Flagged)": the words between the parentheses */
				s = f.p + 1;
				if (f.len >= 3)
					f.p[f.len - 2] = '\0';
				for (char *w = strtok(s, " "); w && n < 64; w = strtok(NULL, " "))
					if (strcasecmp(w, "\\Recent") != 0)
						v[n++] = w;
				qsort(v, n, sizeof *v, cmp_str);
				put(o, "(", 1);
				for (size_t i = 0; i < n; i++) {
					if (i)
						put(o, " ", 1);
					put(o, v[i], strlen(v[i]));
				}
				put(o, ")", 1);
				free(f.p);
			} else if (value(o) < 0) {
				return -1;
			}
			found = 1;
			continue;
		}
		if (value(NULL) < 0)
			return -1;
	}
}

static FILE *create(const char *prefix, const char *suffix)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s.%s", prefix, suffix);
	if ((f = fopen(path, "w")) == NULL)
		die("cannot create %s: %s", path, strerror(errno));
	return f;
}

static void close_out(FILE *f, const char *what)
{
	if (fflush(f) != 0 || ferror(f) || fclose(f) != 0)
		die("cannot write the %s list: %s", what, strerror(errno));
}

/* write_fetches: each kept FETCH reply's item as "KEY VALUE", KEY the
 * sequence number or (by_uid) the UID. */
static void write_fetches(const struct buf *kept, const char *item, int by_uid, FILE *f)
{
	struct buf o = { 0 };
	const char *p = kept->p, *end = kept->p + kept->len;

	while (p < end) {
		/* each reply ends with the LF put after it; literals hold CR LF
		 * pairs, never a bare LF that would end it early (the sizes
		 * would not add up: fetch_item fails) */
		const char *start = p, *lf;
		unsigned long seq, uid;

		for (;;) {
			lf = memchr(p, '\n', (size_t)(end - p));
			if (lf == NULL)
				die("a kept reply without its end");
			if (lf > start && lf[-1] == '\r') {
				p = lf + 1;   /* a line break inside a literal */
				continue;
			}
			break;
		}
		if (fetch_item(start, (size_t)(lf - start), item, &o, &seq, &uid) < 0)
			die("cannot parse a FETCH reply: %.*s", (int)(lf - start > 300 ? 300 : lf - start),
			    start);
		fprintf(f, "%lu %.*s\n", by_uid ? uid : seq, (int)o.len, o.p ? o.p : "");
		p = lf + 1;
	}
	free(o.p);
}

static int cmp_ul(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

static void write_search(const struct buf *kept, FILE *f)
{
	unsigned long *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = kept->p, *end = kept->p + kept->len;

	while (p < end) {
		char *q;
		unsigned long u;

		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		u = strtoul(p, &q, 10);
		p = q;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((v = realloc(v, cap * sizeof *v)) == NULL)
				die("out of memory");
		}
		v[n++] = u;
	}
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_ul);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%lu\n", v[i]);
	free(v);
}

int main(int argc, char **argv)
{
	const char *login = NULL, *word = NULL, *prefix = NULL, *steps;
	char user[256], tag[16];
	const char *pass = NULL;
	double t0, t_login, t_open, t_sel, t, t_lo, t_end;
	double d_flags = -1, d_env = -1, d_search = -1;
	unsigned long exists, n_flags = 0, n_env = 0, n_search = 0;
	struct buf k_flags = { 0 }, k_env = { 0 }, k_search = { 0 };
	posix_spawn_file_actions_t fa;
	int to[2], from[2], status_code, rc, opt;
	struct rusage ru;
	struct got g;

	while ((opt = getopt(argc, argv, "+l:s:o:")) != -1) {
		switch (opt) {
		case 'l': login = optarg; break;
		case 's': word = optarg; break;
		case 'o': prefix = optarg; break;
		default: goto usage;
		}
	}
	if (argc - optind < 2) {
usage:
		fprintf(stderr, "usage: bench-imap [-l USER:PASS] [-s WORD] [-o PREFIX] STEPS COMMAND [ARG...]\n");
		return 2;
	}
	steps = argv[optind];
	argv += optind + 1;
	if (login != NULL) {
		const char *colon = strchr(login, ':');

		if (colon == NULL || (size_t)(colon - login) >= sizeof user) {
			fprintf(stderr, "bench-imap: -l takes USER:PASS\n");
			return 2;
		}
		memcpy(user, login, (size_t)(colon - login));
		user[colon - login] = '\0';
		pass = colon + 1;
	}
	{
		char copy[256], *s;

		snprintf(copy, sizeof copy, "%s", steps);
		for (s = strtok(copy, ","); s; s = strtok(NULL, ","))
			if (strcmp(s, "flags") != 0 && strcmp(s, "envelope") != 0 &&
			    strcmp(s, "search") != 0 && strcmp(s, "none") != 0) {
				fprintf(stderr, "bench-imap: unknown step %s\n", s);
				return 2;
			}
		if (strstr(steps, "search") != NULL && word == NULL) {
			fprintf(stderr, "bench-imap: the search step needs -s WORD\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	wfd = to[1];
	rfd = from[0];
	/* Bigger pipes: 64 KiB is the default; the server blocks less. */
	fcntl(from[0], F_SETPIPE_SZ, 1 << 20);

	/* The session: from the spawn to the server's exit. */
	t0 = now();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from[1], 1);
	rc = posix_spawnp(&child, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		die("cannot run %s: %s", argv[0], strerror(rc));
	close(to[0]);
	close(from[1]);

	response(&resp);
	if (resp.len < 4 || (strncmp(resp.p, "* OK", 4) != 0 && strncmp(resp.p, "* PREAUTH", 9) != 0))
		die("the greeting: %.*s", (int)(resp.len > 300 ? 300 : resp.len), resp.p);
	if (login != NULL) {
		send_cmd(tag, sizeof tag, "LOGIN \"%s\" \"%s\"", user, pass);
		run(tag, &g, NULL);
	}
	t_login = now();
	send_cmd(tag, sizeof tag, "SELECT INBOX");
	run(tag, &g, NULL);
	t_open = now();
	exists = g.exists;
	t_sel = t_open - t_login;

	{
		char copy[256], *s;

		snprintf(copy, sizeof copy, "%s", steps);
		for (s = strtok(copy, ","); s; s = strtok(NULL, ",")) {
			t = now();
			if (strcmp(s, "flags") == 0) {
				send_cmd(tag, sizeof tag, "UID FETCH 1:* (FLAGS)");
				run(tag, &g, prefix ? &k_flags : NULL);
				d_flags = now() - t;
				n_flags = g.fetches;
			} else if (strcmp(s, "envelope") == 0) {
				send_cmd(tag, sizeof tag, "FETCH 1:* (ENVELOPE)");
				run(tag, &g, prefix ? &k_env : NULL);
				d_env = now() - t;
				n_env = g.fetches;
			} else if (strcmp(s, "search") == 0) {
				send_cmd(tag, sizeof tag, "UID SEARCH SUBJECT \"%s\"", word);
				run(tag, &g, prefix ? &k_search : NULL);
				d_search = now() - t;
				n_search = g.found;
			}
		}
	}

	t_lo = now();
	send_cmd(tag, sizeof tag, "LOGOUT");
	run(tag, &g, NULL);
	if (!g.bye)
		die("LOGOUT: no BYE");
	while (in_pos < in_len || fill() > 0) {
		if (in_pos < in_len)
			die("bytes after the reply to LOGOUT");
	}
	while (wait4(child, &status_code, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	t_end = now();
	child = -1;
	if (!WIFEXITED(status_code) || WEXITSTATUS(status_code) != 0)
		die("%s ended with status %d after LOGOUT", argv[0], status_code);

	/* The clock has stopped: what was received, for the comparisons. */
	if (prefix != NULL) {
		FILE *f;

		if (d_flags >= 0) {
			f = create(prefix, "flags");
			write_fetches(&k_flags, "FLAGS", 1, f);
			close_out(f, "flags");
		}
		if (d_env >= 0) {
			f = create(prefix, "envelope");
			write_fetches(&k_env, "ENVELOPE", 0, f);
			close_out(f, "envelope");
		}
		if (d_search >= 0) {
			f = create(prefix, "search");
			write_search(&k_search, f);
			close_out(f, "search");
		}
	}

	printf("open=%.6f login=%.6f select=%.6f exists=%lu", t_open - t0, t_login - t0, t_sel, exists);
	if (d_flags >= 0)
		printf(" flags=%.6f flags_n=%lu", d_flags, n_flags);
	if (d_env >= 0)
		printf(" envelope=%.6f envelope_n=%lu", d_env, n_env);
	if (d_search >= 0)
		printf(" search=%.6f search_n=%lu", d_search, n_search);
	printf(" logout=%.6f total=%.6f maxrss=%ld bytes=%llu\n", t_end - t_lo, t_end - t0,
	       ru.ru_maxrss, received);
	return 0;
}

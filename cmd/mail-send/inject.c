/* inject.c: the sendmail command line. A message on stdin is queued with
 * the header fields a local program may leave out (From:, Date:,
 * Message-ID:) added, Bcc: removed, and exit 0 only after the queue
 * commit is durable. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "send.h"
#include "smtp.h"

#define LINE_MAX_INJECT 65536           /* longest input line kept whole */
#define HEADER_MAX (1UL << 20)          /* the header block */
#define RCPT_MAX 10000
#define DEFAULT_MAX_SIZE (25UL << 20)

struct rcpts {
	char **v;
	size_t n;
};

static void add_rcpt(struct rcpts *r, struct send_config *c, const char *a, size_t len)
{
	char addr[SMTP_PATH_MAX + 1], full[SMTP_PATH_MAX + 1];

	while (len > 0 && (*a == ' ' || *a == '\t')) {
		a++;
		len--;
	}
	while (len > 0 && (a[len - 1] == ' ' || a[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	if (len >= sizeof addr)
		cli_die(EX_DATAERR, "recipient address too long");
	memcpy(addr, a, len);
	addr[len] = '\0';
	if (addr_qualify(addr, c->domain, full, sizeof full) < 0 || !addr_valid(full))
		cli_die(EX_DATAERR, "bad recipient address: %s", addr);
	for (size_t i = 0; i < r->n; i++)
		if (strcasecmp(r->v[i], full) == 0)
			return;   /* one copy each, as sendmail sends it */
	if (r->n == RCPT_MAX)
		cli_die(EX_DATAERR, "more than %d recipients", RCPT_MAX);
	if ((r->v = realloc(r->v, (r->n + 1) * sizeof *r->v)) == NULL ||
	    (r->v[r->n] = strdup(full)) == NULL)
		cli_die(EX_OSERR, "out of memory");
	r->n++;
}

/* The addresses of an RFC 5322 address list (To:, Cc:, Bcc: values):
 * "Name <a@b>", bare "a@b", quoted names and comments, and groups
 * "name: a@b, c@d;". */
static void add_address_list(struct rcpts *r, struct send_config *c, const char *v)
{
	const char *start = v, *angle = NULL;
	int quote = 0, depth = 0;

	for (const char *p = v;; p++) {
		if (*p == '\0' || (!quote && depth == 0 && (*p == ',' || *p == ';'))) {
			if (angle != NULL) {
				const char *close = strchr(angle, '>');

				if (close != NULL && close < p)
					add_rcpt(r, c, angle + 1, (size_t)(close - angle - 1));
			} else {
				/* a bare address, comments taken out */
				char buf[SMTP_PATH_MAX + 1];
				size_t n = 0;
				int d = 0, q = 0;

				for (const char *s = start; s < p && n < sizeof buf - 1; s++) {
					if (!q && *s == '(')
						d++;
					else if (!q && *s == ')' && d > 0)
						d--;
					else if (d == 0) {
						if (*s == '"')
							q = !q;
						buf[n++] = *s;
					}
				}
				add_rcpt(r, c, buf, n);
			}
			if (*p == '\0')
				break;
			start = p + 1;
			angle = NULL;
			continue;
		}
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"' && depth == 0)
			quote = !quote;
		else if (!quote && *p == '(')
			depth++;
		else if (!quote && *p == ')' && depth > 0)
			depth--;
		else if (!quote && depth == 0 && *p == '<')
			angle = p;
		else if (!quote && depth == 0 && *p == ':' && angle == NULL)
			start = p + 1;   /* a group's name */
	}
}

/* One line of stdin, without its line end (CR LF or LF), into *buf.
 * Returns its length, or -1 at end of input. A line longer than the
 * buffer comes in pieces, *eol set only on the last. */
static long read_line(char *buf, size_t size, int *eol)
{
	size_t n = 0;
	int ch;

	*eol = 0;
	while ((ch = getchar()) != EOF) {
		if (ch == '\n') {
			*eol = 1;
			if (n > 0 && buf[n - 1] == '\r')
				n--;
			break;
		}
		buf[n++] = (char)ch;
		if (n == size - 1)
			break;
	}
	if (ch == EOF && n == 0 && !*eol) {
		if (ferror(stdin))
			cli_die(EX_IOERR, "read standard input: %s", strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	return (long)n;
}

static int is_field(const char *line, size_t n)
{
	size_t i = 0;

	while (i < n && line[i] > ' ' && line[i] < 127 && line[i] != ':')
		i++;
	return i > 0 && i < n && line[i] == ':';
}

static int field_is(const char *h, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* Has the header block (fields separated by '\0'-less LF lines) a field
 * called name? */
static const char *find_field(char **f, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (field_is(f[i], name))
			return f[i];
	return NULL;
}

static void rfc5322_date(char *out, size_t outsz, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, outsz, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

int inject_main(struct send_config *c, int argc, char **argv)
{
	const char *sender = NULL, *fullname = NULL, *notify = NULL, *ret = NULL,
	           *envid = NULL, *body = NULL;
	char sender_buf[SMTP_PATH_MAX + 1], login[256], line[LINE_MAX_INJECT];
	int extract = 0, dot_ends = 1, opt, eol, pickup = 0;
	unsigned long max_size;
	struct rcpts r = { 0 };
	char **fields = NULL;
	size_t nfields = 0, hbytes = 0;
	struct queue_rcpt *qr;
	struct queue_env env = { 0 };
	struct queue_msg m;
	struct err e;
	long n;
	uint64_t size = 0;

	opterr = 0;
	while ((opt = getopt(argc, argv, "+f:r:F:tiN:R:B:V:o:b:q::vhC:L:X:GU")) != -1) {
		switch (opt) {
		case 'f': case 'r': sender = optarg; break;
		case 'F': fullname = optarg; break;
		case 't': extract = 1; break;
		case 'i': dot_ends = 0; break;
		case 'N': notify = optarg; break;
		case 'R': ret = optarg; break;
		case 'B': body = optarg; break;
		case 'V': envid = optarg; break;
		case 'v': c->verbose = 1; break;
		case 'o':
			/* -oi as -i; -oem, -odb, -oQ... are sendmail tuning */
			if (strcmp(optarg, "i") == 0)
				dot_ends = 0;
			break;
		case 'b':
			if (strcmp(optarg, "m") == 0)
				break;
			if (strcmp(optarg, "p") == 0)
				return runner_list(c);
			cli_die(EX_USAGE, "-b%s is not supported (only -bm and -bp)", optarg);
		case 'q':
			if (optarg != NULL)
				cli_die(EX_USAGE, "-q%s: use mail-send --daemon for a resident runner", optarg);
			return runner_run(c, 0);
		case 'h': usage(); return 0;
		case 'C': case 'L': case 'X': case 'G': case 'U':
			break;   /* sendmail's config, syslog label, log file, ...: not ours */
		default:
			cli_die(EX_USAGE, "unknown option -%c (see mail-send --help)", optopt);
		}
	}
	if (conf_get_uint(&c->conf, CONF_MAX_MESSAGE_SIZE, DEFAULT_MAX_SIZE, 1UL << 40,
	                  &max_size, &e) < 0)
		cli_die(e.code, "%s", e.msg);

	/* the envelope sender */
	{
		struct passwd *pw = getpwuid(getuid());

		snprintf(login, sizeof login, "%s", pw ? pw->pw_name : "nobody");
	}
	if (sender == NULL) {
		snprintf(sender_buf, sizeof sender_buf, "%s@%s", login, c->domain);
	} else if (strcmp(sender, "") == 0 || strcmp(sender, "<>") == 0) {
		sender_buf[0] = '\0';
	} else {
		char bare[SMTP_PATH_MAX + 1];
		size_t len = strlen(sender);

		if (sender[0] == '<' && len > 1 && sender[len - 1] == '>') {
			sender++;
			len -= 2;
		}
		if (len >= sizeof bare)
			cli_die(EX_DATAERR, "sender address too long");
		memcpy(bare, sender, len);
		bare[len] = '\0';
		if (addr_qualify(bare, c->domain, sender_buf, sizeof sender_buf) < 0 ||
		    !addr_valid(sender_buf))
			cli_die(EX_DATAERR, "bad sender address: %s", bare);
	}
	if (notify != NULL) {
		static char up[64];
		char words[64];
		size_t i;
		int good = strlen(notify) < sizeof up;

		for (i = 0; i < sizeof up - 1 && notify[i]; i++)
			up[i] = (char)(notify[i] >= 'a' && notify[i] <= 'z' ? notify[i] - 32 : notify[i]);
		up[i] = '\0';
		/* NEVER alone, or SUCCESS, FAILURE and DELAY (RFC 3461, 4.1) */
		snprintf(words, sizeof words, "%s", up);
		for (char *w = strtok(words, ","); w != NULL && good; w = strtok(NULL, ","))
			good = strcmp(w, "SUCCESS") == 0 || strcmp(w, "FAILURE") == 0 ||
			       strcmp(w, "DELAY") == 0 || (strcmp(w, "NEVER") == 0 && strcmp(up, "NEVER") == 0);
		if (!good || up[0] == '\0' || up[0] == ',' || up[strlen(up) - 1] == ',' || strstr(up, ",,"))
			cli_die(EX_USAGE, "-N takes never, or success, failure and delay separated by commas");
		notify = up;
	}
	if (ret != NULL) {
		if (strcasecmp(ret, "full") == 0)
			ret = "FULL";
		else if (strcasecmp(ret, "hdrs") == 0)
			ret = "HDRS";
		else
			cli_die(EX_USAGE, "-R takes full or hdrs");
	}
	if (body != NULL) {
		if (strcasecmp(body, "8bitmime") == 0)
			body = "8BITMIME";
		else if (strcasecmp(body, "7bit") == 0)
			body = "7BIT";
		else
			cli_die(EX_USAGE, "-B takes 7bit or 8bitmime");
	}
	if (envid != NULL && (strlen(envid) > 100 || strspn(envid, "!\"#$%&'()*,-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != strlen(envid)))
		cli_die(EX_USAGE, "-V takes up to 100 printable characters, no '+' or '='");
	for (int i = optind; i < argc; i++)
		add_address_list(&r, c, argv[i]);

	/* the header block, unfolded lines kept as they are */
	for (;;) {
		n = read_line(line, sizeof line, &eol);
		if (n < 0 || n == 0 || (dot_ends && n == 1 && line[0] == '.'))
			break;
		if ((line[0] == ' ' || line[0] == '\t') && nfields > 0) {
			size_t old = strlen(fields[nfields - 1]);

			fields[nfields - 1] = realloc(fields[nfields - 1], old + (size_t)n + 2);
			if (fields[nfields - 1] == NULL)
				cli_die(EX_OSERR, "out of memory");
			fields[nfields - 1][old] = '\n';
			memcpy(fields[nfields - 1] + old + 1, line, (size_t)n + 1);
		} else if (is_field(line, (size_t)n)) {
			if ((fields = realloc(fields, (nfields + 1) * sizeof *fields)) == NULL ||
			    (fields[nfields] = strdup(line)) == NULL)
				cli_die(EX_OSERR, "out of memory");
			nfields++;
		} else {
			break;   /* no header: the message starts with its body */
		}
		if (!eol)
			cli_die(EX_DATAERR, "header line longer than %d bytes", LINE_MAX_INJECT - 2);
		hbytes += (size_t)n + 1;
		if (hbytes > HEADER_MAX)
			cli_die(EX_DATAERR, "header longer than %lu bytes", HEADER_MAX);
	}
	if (extract)
		for (size_t i = 0; i < nfields; i++)
			if (field_is(fields[i], "To") || field_is(fields[i], "Cc") ||
			    field_is(fields[i], "Bcc"))
				add_address_list(&r, c, strchr(fields[i], ':') + 1);
	if (r.n == 0)
		cli_die(EX_USAGE, extract ? "no recipients in the command line, To:, Cc: or Bcc:"
		                      : "no recipients (give addresses, or -t)");

	qr = calloc(r.n, sizeof *qr);
	if (qr == NULL)
		cli_die(EX_OSERR, "out of memory");
	for (size_t i = 0; i < r.n; i++) {
		qr[i].address = r.v[i];
		qr[i].notify = notify;
	}
	env.sender = sender_buf;
	env.ret = ret;
	env.envid = envid;
	env.rcpt = qr;
	env.nrcpt = r.n;
	env.body = body;
	if (queue_init(c->queue_dir, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	{
		/* a user who may not write tmp/ drops the message into incoming/,
		 * where the runner picks it up and vouches for the user ID */
		char tmpdir[4200];

		snprintf(tmpdir, sizeof tmpdir, "%s/tmp", c->queue_dir);
		if (access(tmpdir, W_OK) < 0 && errno == EACCES)
			pickup = 1;
	}
	if (queue_open_in(&m, c->queue_dir, pickup ? QUEUE_INCOMING : QUEUE_MSG, &env, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	{
		char date[64], buf[1024];
		time_t now = time(NULL);
		int k;

		rfc5322_date(date, sizeof date, now);
		if (!pickup) {
			k = snprintf(buf, sizeof buf, "Received: by %s (mail-toolkit, from userid %lu)\n"
			             "\tid %s; %s\n", c->hostname, (unsigned long)getuid(), m.id, date);
			queue_write(&m, buf, (size_t)k);
		}
		for (size_t i = 0; i < nfields; i++) {
			if (field_is(fields[i], "Bcc"))
				continue;
			queue_write(&m, fields[i], strlen(fields[i]));
			queue_write(&m, "\n", 1);
		}
		if (find_field(fields, nfields, "From") == NULL) {
			/* the envelope sender, as Postfix's cleanup does */
			char from[SMTP_PATH_MAX + 32];

			if (sender_buf[0] != '\0')
				snprintf(from, sizeof from, "%s", sender_buf);
			else
				snprintf(from, sizeof from, "MAILER-DAEMON@%s", c->hostname);
			if (fullname != NULL && fullname[0] != '\0' &&
			    strpbrk(fullname, "\r\n") == NULL) {
				/* a quoted-string: only \ and " need escaping */
				queue_write(&m, "From: \"", 7);
				for (const char *p = fullname; *p; p++) {
					if (*p == '"' || *p == '\\')
						queue_write(&m, "\\", 1);
					queue_write(&m, p, 1);
				}
				k = snprintf(buf, sizeof buf, "\" <%s>\n", from);
			} else {
				k = snprintf(buf, sizeof buf, "From: %s\n", from);
			}
			queue_write(&m, buf, (size_t)k);
		}
		if (find_field(fields, nfields, "Date") == NULL) {
			k = snprintf(buf, sizeof buf, "Date: %s\n", date);
			queue_write(&m, buf, (size_t)k);
		}
		if (find_field(fields, nfields, "Message-ID") == NULL) {
			k = snprintf(buf, sizeof buf, "Message-ID: <%s@%s>\n", m.id, c->hostname);
			queue_write(&m, buf, (size_t)k);
		}
		queue_write(&m, "\n", 1);
	}
	/* the body: the line that ended the header, when it was not the
	 * empty line, then the rest */
	size = 0;
	if (n > 0 && !(dot_ends && n == 1 && line[0] == '.')) {
		queue_write(&m, line, (size_t)n);
		if (eol)
			queue_write(&m, "\n", 1);
		size += (uint64_t)n + 1;
	}
	if (!(n == 1 && dot_ends && line[0] == '.') && n >= 0) {
		int at_start = eol;

		while ((n = read_line(line, sizeof line, &eol)) >= 0) {
			if (dot_ends && at_start && n == 1 && line[0] == '.' && eol)
				break;
			queue_write(&m, line, (size_t)n);
			if (eol)
				queue_write(&m, "\n", 1);
			at_start = eol;
			size += (uint64_t)n + 1;
			if (size + hbytes > max_size) {
				queue_abort(&m);
				cli_die(EX_DATAERR, "message larger than %lu bytes (max_message_size)", max_size);
			}
		}
	}
	if (queue_commit(&m, &e) < 0)
		cli_die(e.code, "%s", e.msg);
	queue_trigger(c->queue_dir);
	if (c->verbose)
		fprintf(stderr, "mail-send: queued as %s\n", m.id);
	for (size_t i = 0; i < nfields; i++)
		free(fields[i]);
	free(fields);
	for (size_t i = 0; i < r.n; i++)
		free(r.v[i]);
	free(r.v);
	free(qr);
	return 0;
}

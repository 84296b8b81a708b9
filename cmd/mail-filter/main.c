/* mail-filter: spam and malware verdicts for one message (filter mode),
 * for many (--check), and the training of the spam classifier.
 *
 * Design: the message is parsed once (lib/mime) and every check reads
 * that parse: the tokens for the Bayesian classifier (lib/tokens,
 * lib/tokendb, lib/bayes), the rules (lib/rules), the built-in malware
 * policy (lib/attach); clamd and the DNS blocklists (lib/clamd,
 * lib/dnsbl) get the file and the client's address. lib/annotate writes
 * the verdicts into the header. Nothing here changes the body: a message
 * comes out as it went in, plus our fields, or not at all (exit code).
 *
 * Training remembers each message it learnt from, under a key made of a
 * byte that no token holds ("\1") and the SHA-256 of the message (the
 * record's counts say as what it was learnt), so training a folder again
 * learns only what is new, and a message trained as the other class is
 * moved (sa-learn's "seen" database does the same). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "annotate.h"
#include "attach.h"
#include "bayes.h"
#include "clamd.h"
#include "cli.h"
#include "conf.h"
#include "dnsbl.h"
#include "err.h"
#include "file.h"
#include "io.h"
#include "mime.h"
#include "rules.h"
#include "sha256.h"
#include "tokendb.h"
#include "tokens.h"

#define FROM_LINE_MAX 4096      /* an mbox From_ line longer than this is text */
#define BATCH 1000              /* messages per training commit */
#define SCRATCH_MEM_MAX (16 << 20)   /* mbox files whose members are split in memory */
#define CLAMD_TIMEOUT_MS 30000  /* each clamd step; the scan itself included */
#define TESTS_MAX 900           /* octets of tests= in X-Spam-Status */
#define POINTS_SCALE (log(99.0) / 5.0)   /* 5 points take 0.5 to 0.99 */

static const char usage_text[] =
"usage: mail-filter [OPTIONS] < MESSAGE > ANNOTATED\n"
"       mail-filter --check [OPTIONS] [FILE|DIR...]\n"
"       mail-filter --train spam|ham [OPTIONS] [FILE|DIR...]\n"
"       mail-filter --untrain spam|ham [OPTIONS] [FILE|DIR...]\n"
"Add spam and virus verdicts to a message's header; classify; train.\n"
"  --check              print one verdict line per message, write no message\n"
"  --train CLASS        learn the messages as spam or ham (stdin when no path)\n"
"  --untrain CLASS      forget what was learnt from them as CLASS\n"
"  -d, --database PATH  token database (default spam_database, else\n"
"                       ~/.mail-filter.lmdb)\n"
"  --rules FILE         scored header/body rules (default filter_rules)\n"
"  --clamd ADDR         clamd's socket, /path or host:port (default clamd_socket;\n"
"                       none: the built-in checks only)\n"
"  --virus-optional     clamd unusable: pass the message as Unscanned (else exit 75)\n"
"  --reject-virus       malware found: exit 65 with the finding, write nothing\n"
"  --dnsbl LIST         DNS blocklists, zone[=points],... (default dnsbl)\n"
"  --ip ADDR            the client address for them (default $TCPREMOTEIP, else\n"
"                       the top Received: field mail-recv wrote)\n"
"  --dns-server IP[:PORT]  the name server to ask (default dns_server, else\n"
"                       the first of /etc/resolv.conf)\n"
"  --spam-cutoff X      score from which mail is spam (default 0.99)\n"
"  --ham-cutoff X       score up to which mail is ham (default 0.45)\n"
"  --config FILE        configuration (default $MAIL_CONF, " SYSCONFDIR "/mail.conf)\n"
"  -v, --verbose        a line per message (training: a summary) on stderr\n"
"  -h, --help           show this help;  -V, --version  show the version\n"
"A FILE is a message or an mbox; a DIR is a Maildir or a directory of messages.\n"
"Environment: TCPREMOTEIP, HOME, MAIL_CONF, TMPDIR.\n";

/* The fields this program owns: removed from incoming mail, then added. */
static const char *const owned[] = { "X-Spam-Score", "X-Spam-Status", "X-Spam-Flag",
	"X-Virus-Status" };

enum mode { FILTER, CHECK, TRAIN, UNTRAIN };

struct filter {
	enum mode mode;
	int spam;                 /* TRAIN/UNTRAIN: the class */
	int verbose;
	struct bayes_params bp;
	const char *db_path;
	struct tokendb *db;
	struct rules *rules;
	struct dnsbl_list zones;
	struct dnsbl_server dns;  /* set when there are zones */
	const char *ip;           /* --ip or $TCPREMOTEIP; NULL: from Received: */
	const char *clamd;
	int virus_optional, reject_virus;
	int scratch;              /* the mbox members' file, made once; -1: none yet */
	int scratch_mem;          /* the same in memory, for small inputs; -1: none yet */
	/* training counts */
	unsigned long learnt, known, batch;
};

struct verdict {
	double bayes, points, score;
	const char *status;       /* Yes, No, Unsure */
	char tests[TESTS_MAX + 1];
	char virus[300];          /* the X-Virus-Status value */
	int infected;
};

/* ---- small helpers ---- */

static void die_err(const struct err *e)
{
	cli_die(e->code ? e->code : EX_SOFTWARE, "%s", e->msg);
}

/* A decimal in [0, 1] from a flag or mail.conf. */
static double cutoff(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		cli_die(EX_CONFIG, "%s must be a number from 0 to 1, not '%s'", what, s);
	return v;
}

/* A path with a leading "~/" made $HOME's. */
static const char *home_path(const char *p)
{
	static char buf[4096];
	const char *home = getenv("HOME");

	if (strncmp(p, "~/", 2) != 0)
		return p;
	if (home == NULL || home[0] != '/')
		cli_die(EX_CONFIG, "%s: HOME is not set", p);
	if (snprintf(buf, sizeof buf, "%s/%s", home, p + 2) >= (int)sizeof buf)
		cli_die(EX_CONFIG, "%s: path too long", p);
	return buf;
}

static int rewind_fd(int fd, struct err *e)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return err_sys(e, EX_TEMPFAIL, "lseek");
	return 0;
}

/* ---- reading messages: plain files, mbox members, Maildirs ---- */

/* Called for each message: fd positioned at 0 (seekable), name to print. */
typedef int message_fn(struct filter *f, int fd, const char *name, struct err *e);

/* Split the mbox (or single message with a From_ line) read from in into
 * messages: each member goes to the scratch file without its From_ line,
 * ">From " unquoted one level (mboxrd) and the blank line that ends it
 * in the mbox dropped. A file that does not start with "From " is one
 * message as it is. */
struct splitter {
	int in, out;
	char buf[65536];          /* read from in */
	size_t len, pos;
	int eof;
	char obuf[65536];         /* to be written to out */
	size_t olen;
};

static int out_flush(struct splitter *s, struct err *e)
{
	if (s->olen > 0 && io_write_all(s->out, s->obuf, s->olen) < 0)
		return err_sys(e, EX_TEMPFAIL, "write");
	s->olen = 0;
	return 0;
}

static int out_put(struct splitter *s, const char *p, size_t n, struct err *e)
{
	if (n > sizeof s->obuf - s->olen && out_flush(s, e) < 0)
		return -1;
	if (n > sizeof s->obuf)
		return io_write_all(s->out, p, n) < 0 ? err_sys(e, EX_TEMPFAIL, "write") : 0;
	memcpy(s->obuf + s->olen, p, n);
	s->olen += n;
	return 0;
}

/* The next line into p and n: 1, or 0 at the end, -1 on a read error.
 * A line longer than the buffer comes in pieces, all but the last
 * without a LF. */
static int next_piece(struct splitter *s, const char **p, size_t *n, struct err *e)
{
	char *nl;
	ssize_t k;

	if (s->pos > 0 && (s->len - s->pos < 4096 || s->pos == s->len)) {
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->len -= s->pos;
		s->pos = 0;
	}
	while (!s->eof && (nl = memchr(s->buf + s->pos, '\n', s->len - s->pos)) == NULL &&
	       s->len < sizeof s->buf) {
		if ((k = io_read(s->in, s->buf + s->len, sizeof s->buf - s->len)) < 0)
			return err_sys(e, EX_IOERR, "read");
		if (k == 0)
			s->eof = 1;
		s->len += (size_t)k;
	}
	if (s->pos == s->len)
		return 0;
	nl = memchr(s->buf + s->pos, '\n', s->len - s->pos);
	*p = s->buf + s->pos;
	*n = nl != NULL ? (size_t)(nl - *p) + 1 : s->len - s->pos;
	s->pos += *n;
	return 1;
}

static int is_from_line(const char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

/* Unquote ">+From " by one '>' (mboxrd). */
static void unquote(const char **p, size_t *n)
{
	size_t k = 0;

	while (k < *n && (*p)[k] == '>')
		k++;
	if (k > 0 && *n - k >= 5 && memcmp(*p + k, "From ", 5) == 0) {
		(*p)++;
		(*n)--;
	}
}

/* Hand the member in s->out (len octets, last two octets in tail) to fn. */
static int emit(struct filter *f, struct splitter *s, off_t len, const char tail[2],
                const char *name, unsigned long k, int more, message_fn *fn, struct err *e)
{
	char label[4200];

	if (out_flush(s, e) < 0)
		return -1;
	/* the mbox's separator line is not the message's */
	if (len >= 2 && tail[0] == '\n' && tail[1] == '\n')
		len--;
	if (ftruncate(s->out, len) < 0 || rewind_fd(s->out, e) < 0)
		return err_sys(e, EX_TEMPFAIL, "ftruncate");
	if (k == 1 && !more)
		snprintf(label, sizeof label, "%s", name);
	else
		snprintf(label, sizeof label, "%s:%lu", name, k);
	return fn(f, s->out, label, e);
}

/* The input that is not an mbox, from its first octet, into s->out. */
static int copy_rest(struct splitter *s, struct err *e)
{
	ssize_t k;

	if (io_write_all(s->out, s->buf, s->len) < 0)
		return err_sys(e, EX_TEMPFAIL, "write");
	while ((k = io_read(s->in, s->buf, sizeof s->buf)) > 0)
		if (io_write_all(s->out, s->buf, (size_t)k) < 0)
			return err_sys(e, EX_TEMPFAIL, "write");
	if (k < 0)
		return err_sys(e, EX_IOERR, "read");
	return rewind_fd(s->out, e);
}

static int each_member(struct filter *f, int in, const char *name, message_fn *fn,
                       struct err *e)
{
	struct splitter *s = malloc(sizeof *s);
	struct stat st;
	const char *p;
	size_t n;
	off_t len = 0;
	char tail[2] = { 0, 0 };
	unsigned long k = 0;
	int r, bol = 1, rc = -1;

	if (s == NULL)
		return err_set(e, EX_TEMPFAIL, "out of memory");
	s->in = in;
	s->len = s->pos = s->olen = 0;
	s->eof = 0;
	/* a member of a small file in memory (truncating a file on disk
	 * costs more than reading the message), others on disk */
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= SCRATCH_MEM_MAX &&
	    (f->scratch_mem >= 0 || (f->scratch_mem = memfd_create("mail-filter", MFD_CLOEXEC)) >= 0))
		s->out = f->scratch_mem;
	else if (f->scratch >= 0 || (f->scratch = file_scratch(NULL, e)) >= 0)
		s->out = f->scratch;
	else
		goto done;
	if (ftruncate(s->out, 0) < 0 || rewind_fd(s->out, e) < 0) {
		err_sys(e, EX_TEMPFAIL, "ftruncate");
		goto done;
	}
	while ((r = next_piece(s, &p, &n, e)) > 0) {
		int line_start = bol;

		bol = p[n - 1] == '\n';
		/* a From_ line after an empty line starts a message (quoted or
		 * not, "From " in a body rarely follows one) */
		if (line_start && is_from_line(p, n) && n <= FROM_LINE_MAX &&
		    (k == 0 || len == 0 || (tail[0] == '\n' && tail[1] == '\n'))) {
			if (k > 0 && emit(f, s, len, tail, name, k, 1, fn, e) < 0)
				goto done;
			if (k > 0 && (ftruncate(s->out, 0) < 0 || rewind_fd(s->out, e) < 0)) {
				err_sys(e, EX_TEMPFAIL, "ftruncate");
				goto done;
			}
			k++;
			len = 0;
			tail[0] = tail[1] = 0;
			if (!bol) {   /* a From_ line too long for one piece: skip the rest */
				while ((r = next_piece(s, &p, &n, e)) > 0 && p[n - 1] != '\n')
					;
				if (r < 0)
					goto done;
				bol = 1;
			}
			continue;
		}
		if (k == 0) {
			/* no From_ line first: the file is one message, read where
			 * it is, or copied whole when it is a pipe */
			if (lseek(in, 0, SEEK_SET) == 0) {
				free(s);
				return fn(f, in, name, e);
			}
			rc = copy_rest(s, e) < 0 ? -1 : fn(f, s->out, name, e);
			goto done;
		}
		if (line_start)
			unquote(&p, &n);
		if (out_put(s, p, n, e) < 0)
			goto done;
		if (n >= 2) {
			tail[0] = p[n - 2];
			tail[1] = p[n - 1];
		} else {
			tail[0] = tail[1];
			tail[1] = p[0];
		}
		len += (off_t)n;
	}
	if (r < 0)
		goto done;
	if (k == 0) {   /* empty input: one empty message */
		rc = fn(f, s->out, name, e);
		goto done;
	}
	rc = emit(f, s, len, tail, name, k, 0, fn, e);
done:
	free(s);
	return rc;
}

/* A file or "-" (stdin, copied to a scratch file when not seekable). */
static int each_in_file(struct filter *f, const char *path, message_fn *fn, struct err *e)
{
	int fd, rc;

	if (strcmp(path, "-") == 0)
		return each_member(f, 0, "-", fn, e);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_sys(e, errno == ENOENT ? EX_NOINPUT : EX_IOERR, "%s", path);
	rc = each_member(f, fd, path, fn, e);
	close(fd);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, not starting with '.', in name order. */
static int each_in_dir(struct filter *f, const char *dir, message_fn *fn, struct err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[4200];
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL)
		return err_sys(e, EX_IOERR, "%s", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **p = realloc(names, (cap = cap ? cap * 2 : 256) * sizeof *p);

			if (p == NULL) {
				rc = err_set(e, EX_TEMPFAIL, "out of memory");
				break;
			}
			names = p;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = err_set(e, EX_TEMPFAIL, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	/* an empty directory has no array at all: qsort must not see NULL */
	if (rc == 0 && n > 1)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct stat st;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			rc = each_in_file(f, path, fn, e);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* A path: a Maildir (new/ and cur/), a directory of messages, a file. */
static int each_message(struct filter *f, const char *path, message_fn *fn, struct err *e)
{
	struct stat st;
	char sub[4200];
	int maildir = 0;

	if (strcmp(path, "-") == 0)
		return each_in_file(f, path, fn, e);
	if (stat(path, &st) < 0)
		return err_sys(e, errno == ENOENT ? EX_NOINPUT : EX_IOERR, "%s", path);
	if (!S_ISDIR(st.st_mode))
		return each_in_file(f, path, fn, e);
	for (int i = 0; i < 2; i++) {
		snprintf(sub, sizeof sub, "%s/%s", path, i ? "cur" : "new");
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			maildir = 1;
			if (each_in_dir(f, sub, fn, e) < 0)
				return -1;
		}
	}
	return maildir ? 0 : each_in_dir(f, path, fn, e);
}

/* ---- the checks ---- */

struct token_list {
	char **v;
	size_t n;
};

static int collect(void *ctx, const char *tok)
{
	struct token_list *l = ctx;

	l->v[l->n++] = (char *)tok;
	return 0;
}

/* The tokens of message m as an array (pointing into t). */
static int token_list(struct tokens *t, struct mime_msg *m, struct token_list *l,
                      size_t extra, struct err *e)
{
	if (tokens_from_mime(t, m, e) < 0)
		return -1;
	l->n = 0;
	if ((l->v = malloc((t->n + extra + 1) * sizeof *l->v)) == NULL)
		return err_set(e, EX_TEMPFAIL, "out of memory");
	tokens_each(t, collect, l);
	return 0;
}

/* The client address in the top Received: field, when mail-recv wrote it. */
static int top_received(void *ctx, const char *name, const char *value)
{
	char *ip = ctx;

	if (strcasecmp(name, "Received") != 0)
		return 0;
	if (dnsbl_received_ip(value, strlen(value), ip, 64) < 0)
		ip[0] = '\0';
	return 1;
}

/* The blocklists' points and tests (appended to v's) for the client of
 * message m. */
static void blocklists(struct filter *f, struct mime_msg *m, struct verdict *v)
{
	struct dnsbl_result res[DNSBL_MAX_ZONES];
	char found[64] = "", esc[100];
	const char *ip = f->ip;
	size_t used = strlen(v->tests);
	struct err e;
	int r;

	if (ip == NULL) {
		static const char *const received[] = { "Received", NULL };

		mime_each_header_of(m, received, top_received, found);
		ip = found[0] ? found : NULL;
	}
	if (ip == NULL)
		return;
	if ((r = dnsbl_lookup(&f->zones, ip, &f->dns, DNSBL_DEFAULT_TIMEOUT_MS, res, &e)) != 0) {
		if (r < 0 && f->verbose)   /* advice: the message passes */
			fprintf(stderr, "mail-filter: dnsbl ip=%s error=%s\n",
			        err_escape(esc, sizeof esc, ip, strlen(ip)), e.msg);
		return;
	}
	v->points += dnsbl_points(&f->zones, res);
	for (size_t i = 0; i < f->zones.n; i++) {
		const char *zone = f->zones.zone[i].name;

		if (res[i].status == DNSBL_FAILED && f->verbose)
			fprintf(stderr, "mail-filter: dnsbl zone=%s error=%s\n", zone, res[i].reason);
		if (res[i].status != DNSBL_LISTED || used + strlen(zone) + 8 > sizeof v->tests)
			continue;
		used += (size_t)snprintf(v->tests + used, sizeof v->tests - used, "%sDNSBL:%s",
		                         used ? "," : "", zone);
	}
}

/* Rules and DNSBL points into v. */
static int score_points(struct filter *f, struct mime_msg *m, struct verdict *v, struct err *e)
{
	if (f->rules != NULL &&
	    rules_check(f->rules, m, &v->points, v->tests, sizeof v->tests, e) < 0)
		return -1;
	if (f->zones.n > 0)
		blocklists(f, m, v);
	return 0;
}

/* Malware: the built-in checks, then clamd when configured. Returns 0,
 * or -1 with e set (clamd unusable and not optional, I/O). */
static int virus_check(struct filter *f, struct mime_msg *m, int fd, struct verdict *v,
                       struct err *e)
{
	char why[256];
	struct clamd_result cr;
	int r;

	if ((r = attach_check(m, why, sizeof why, e)) < 0)
		return -1;
	if (r == 1) {
		v->infected = 1;
		snprintf(v->virus, sizeof v->virus, "Infected (%s)", why);
	} else {
		snprintf(v->virus, sizeof v->virus, "Clean");
	}
	if (f->clamd == NULL)
		return 0;
	if (rewind_fd(fd, e) < 0)
		return -1;
	r = clamd_scan(f->clamd, fd, CLAMD_TIMEOUT_MS, &cr, e);
	if (r == 0 && cr.infected) {
		v->infected = 1;
		snprintf(v->virus, sizeof v->virus, "Infected (%s)", cr.signature);
	} else if (r == CLAMD_TOOBIG && !v->infected) {
		snprintf(v->virus, sizeof v->virus, "Unscanned (larger than clamd's StreamMaxLength)");
	} else if (r == -1) {
		if (!f->virus_optional)
			return err_prefix(e, EX_TEMPFAIL, "clamd %s", f->clamd);
		if (!v->infected)
			snprintf(v->virus, sizeof v->virus, "Unscanned (clamd unavailable)");
		if (f->verbose)
			fprintf(stderr, "mail-filter: clamd unavailable: %s\n", e->msg);
	}
	return 0;
}

/* Every verdict on the message in fd. */
static int judge(struct filter *f, int fd, struct verdict *v, struct err *e)
{
	struct tokens t = { 0 };
	struct token_list l = { NULL, 0 };
	struct token_counts *c = NULL, totals;
	struct mime_msg *m;
	int rc = -1;

	memset(v, 0, sizeof *v);
	if ((m = mime_open(fd, 0, e)) == NULL)
		return -1;
	if (token_list(&t, m, &l, 0, e) < 0)
		goto done;
	if ((c = calloc(l.n + 1, sizeof *c)) == NULL) {
		err_set(e, EX_TEMPFAIL, "out of memory");
		goto done;
	}
	if (tokendb_lookup(f->db, l.v, l.n, c, &totals, e) < 0)
		goto done;
	v->bayes = bayes_score(&f->bp, c, l.n, totals, NULL);
	if (score_points(f, m, v, e) < 0)
		goto done;
	v->score = v->bayes;
	if (v->points != 0.0) {
		/* the points move the log-odds; clamp so 0 and 1 stay finite */
		double p = fmin(fmax(v->bayes, 1e-15), 1 - 1e-15);

		v->score = 1.0 / (1.0 + exp(-(log(p / (1 - p)) + v->points * POINTS_SCALE)));
	}
	v->status = bayes_verdict(&f->bp, v->score);
	rc = virus_check(f, m, fd, v, e);
done:
	mime_close(m);
	free(c);
	free(l.v);
	tokens_free(&t);
	return rc;
}

/* The X-Spam-Status value (without the field name). */
static void status_value(const struct filter *f, const struct verdict *v, char *out, size_t n)
{
	int k = snprintf(out, n, "%s, score=%.6f", v->status, v->score);

	if (f->rules != NULL || f->zones.n > 0)
		k += snprintf(out + k, n - (size_t)k, " bayes=%.6f points=%.1f", v->bayes, v->points);
	if (v->tests[0])
		snprintf(out + k, n - (size_t)k, "%stests=%s", k + 6 + strlen(v->tests) > 62 ?
		         "\n\t" : " ", v->tests);
}

/* ---- the modes ---- */

/* A folded X-Spam-Status value made one line: "\n\t" becomes " ". */
static void unfold(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++)
		if (*r == '\n' && r[1] == '\t')
			*w++ = ' ', r++;
		else
			*w++ = *r;
	*w = '\0';
}

static void log_verdict(const char *name, const struct verdict *v, const char *status)
{
	char esc[200];

	fprintf(stderr, "mail-filter: message=%s spam=%s virus=%s\n",
	        err_escape(esc, sizeof esc, name, strlen(name)), status, v->virus);
}

static int check_one(struct filter *f, int fd, const char *name, struct err *e)
{
	struct verdict v;
	char status[TESTS_MAX + 200];

	if (judge(f, fd, &v, e) < 0)
		return err_prefix(e, 0, "%s", name);
	status_value(f, &v, status, sizeof status);
	unfold(status);
	printf("%s: %s%s%s\n", name, status, v.infected ? " virus=" : "",
	       v.infected ? v.virus : "");
	if (f->verbose)
		log_verdict(name, &v, status);
	return 0;
}

static int filter_one(struct filter *f, int fd, const char *from_line, struct err *e)
{
	struct verdict v;
	char status[TESTS_MAX + 200], add[TESTS_MAX + 800];
	int k;

	if (judge(f, fd, &v, e) < 0)
		return -1;
	if (v.infected && f->reject_virus)
		cli_die(EX_DATAERR, "malware found: %.*s", (int)strlen(v.virus) - 11,
		        v.virus + strlen("Infected ("));
	status_value(f, &v, status, sizeof status);
	k = snprintf(add, sizeof add, "X-Spam-Score: %.6f\nX-Spam-Status: %s\n%sX-Virus-Status: %s\n",
	             v.score, status, strcmp(v.status, "Yes") == 0 ? "X-Spam-Flag: YES\n" : "",
	             v.virus);
	if (k < 0 || k >= (int)sizeof add)
		return err_set(e, EX_SOFTWARE, "header fields too long");
	if (rewind_fd(fd, e) < 0)
		return -1;
	if (from_line != NULL && io_write_all(1, from_line, strlen(from_line)) < 0)
		return err_sys(e, EX_TEMPFAIL, "write");
	if (annotate_copy(fd, 1, owned, sizeof owned / sizeof *owned, add, e) < 0)
		return -1;
	if (f->verbose) {
		unfold(status);
		log_verdict("-", &v, status);
	}
	return 0;
}

/* stdin into a scratch file; a leading mbox From_ line is kept apart so
 * the message parses and the line goes out first again. */
static int read_stdin(char *from_line, size_t n, struct err *e)
{
	char buf[65536];
	ssize_t k;
	size_t have = 0;
	int fd = file_scratch(NULL, e), first = 1;

	if (fd < 0)
		return -1;
	from_line[0] = '\0';
	while ((k = io_read(0, buf + have, sizeof buf - have)) > 0 || (k == 0 && have > 0)) {
		size_t len = have + (size_t)k, skip = 0;

		have = 0;
		if (first) {
			char *nl = memchr(buf, '\n', len);

			if (k > 0 && nl == NULL && len < 5 + FROM_LINE_MAX && len < sizeof buf) {
				have = len;   /* the first line is not whole yet */
				continue;
			}
			first = 0;
			if (nl != NULL && is_from_line(buf, len) && (size_t)(nl - buf) + 1 < n) {
				skip = (size_t)(nl - buf) + 1;
				memcpy(from_line, buf, skip);
				from_line[skip] = '\0';
			}
		}
		if (io_write_all(fd, buf + skip, len - skip) < 0) {
			close(fd);
			return err_sys(e, EX_TEMPFAIL, "write");
		}
		if (k == 0)
			break;
	}
	if (k < 0) {
		close(fd);
		return err_sys(e, EX_IOERR, "read");
	}
	return fd;
}

/* The message's identity: SHA-256 of its octets, as a key of the database. */
static int message_key(int fd, char key[2 + 2 * SHA256_LEN], struct err *e)
{
	struct sha256 s;
	unsigned char buf[65536], h[SHA256_LEN];
	ssize_t k;

	if (rewind_fd(fd, e) < 0)
		return -1;
	sha256_init(&s);
	while ((k = io_read(fd, buf, sizeof buf)) > 0)
		sha256_update(&s, buf, (size_t)k);
	if (k < 0)
		return err_sys(e, EX_IOERR, "read");
	sha256_final(&s, h);
	key[0] = '\1';
	for (size_t i = 0; i < SHA256_LEN; i++)
		snprintf(key + 1 + 2 * i, 3, "%02x", h[i]);
	return rewind_fd(fd, e);
}

static int train_one(struct filter *f, int fd, const char *name, struct err *e)
{
	struct tokens t = { 0 };
	struct token_list l = { NULL, 0 };
	struct token_counts seen, totals;
	struct mime_msg *m = NULL;
	char key[2 + 2 * SHA256_LEN], *keyp = key;
	int rc = -1, spam = f->spam;

	if (message_key(fd, key, e) < 0)
		return err_prefix(e, 0, "%s", name);
	if (tokendb_lookup(f->db, &keyp, 1, &seen, &totals, e) < 0)
		return -1;
	if (f->mode == TRAIN ? (spam ? seen.spam : seen.ham) > 0 :
	                       (spam ? seen.spam : seen.ham) == 0) {
		f->known++;
		return 0;
	}
	if ((m = mime_open(fd, 0, e)) == NULL || token_list(&t, m, &l, 1, e) < 0)
		goto done;
	l.v[l.n++] = key;   /* the message's record moves with its tokens */
	if (f->mode == TRAIN && (spam ? seen.ham : seen.spam) > 0 &&
	    tokendb_train(f->db, l.v, l.n, !spam, -1, e) < 0)
		goto done;
	if (tokendb_train(f->db, l.v, l.n, spam, f->mode == TRAIN ? 1 : -1, e) < 0)
		goto done;
	f->learnt++;
	if (++f->batch == BATCH) {
		f->batch = 0;
		if (tokendb_commit(f->db, e) < 0 || tokendb_begin(f->db, e) < 0)
			goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		err_prefix(e, 0, "%s", name);
	if (m != NULL)
		mime_close(m);
	free(l.v);
	tokens_free(&t);
	return rc;
}

/* ---- configuration ---- */

static void configure(struct filter *f, const struct conf *c, const char *const opt[])
{
	struct err e = { 0, "" };
	const char *v;
	int b;

	bayes_defaults(&f->bp);
	if ((v = opt[0] ? opt[0] : conf_get(c, CONF_SPAM_DATABASE, NULL)) != NULL)
		f->db_path = home_path(v);
	else
		f->db_path = home_path("~/.mail-filter.lmdb");
	f->db_path = strdup(f->db_path);
	if ((v = opt[1] ? opt[1] : conf_get(c, CONF_FILTER_RULES, NULL)) != NULL && v[0] &&
	    rules_load(&f->rules, home_path(v), &e) < 0)
		die_err(&e);
	if ((v = opt[2] ? opt[2] : conf_get(c, CONF_DNSBL, NULL)) != NULL && v[0]) {
		if (dnsbl_parse(v, &f->zones, &e) < 0 ||
		    dnsbl_server(opt[4] ? opt[4] : conf_get(c, CONF_DNS_SERVER, NULL), &f->dns, &e) < 0)
			die_err(&e);
	}
	f->ip = opt[3] ? opt[3] : getenv("TCPREMOTEIP");
	if (f->ip != NULL && f->ip[0] == '\0')
		f->ip = NULL;
	f->clamd = opt[5] ? opt[5] : conf_get(c, CONF_CLAMD_SOCKET, NULL);
	if (f->clamd != NULL && f->clamd[0] == '\0')
		f->clamd = NULL;
	if ((v = opt[6] ? opt[6] : conf_get(c, CONF_SPAM_CUTOFF, NULL)) != NULL)
		f->bp.spam_cutoff = cutoff(v, "spam_cutoff");
	if ((v = opt[7] ? opt[7] : conf_get(c, CONF_HAM_CUTOFF, NULL)) != NULL)
		f->bp.ham_cutoff = cutoff(v, "ham_cutoff");
	if (f->bp.ham_cutoff > f->bp.spam_cutoff)
		cli_die(EX_CONFIG, "ham_cutoff %g is above spam_cutoff %g", f->bp.ham_cutoff,
		        f->bp.spam_cutoff);
	if (!f->virus_optional) {
		if (conf_get_bool(c, CONF_VIRUS_OPTIONAL, 0, &b, &e) < 0)
			die_err(&e);
		f->virus_optional = b;
	}
	if (!f->reject_virus) {
		if (conf_get_bool(c, CONF_REJECT_VIRUS, 0, &b, &e) < 0)
			die_err(&e);
		f->reject_virus = b;
	}
}

static int parse_class(const char *s)
{
	if (strcmp(s, "spam") == 0)
		return 1;
	if (strcmp(s, "ham") == 0)
		return 0;
	cli_usage("the class is spam or ham");
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_TRAIN, OPT_UNTRAIN, OPT_RULES, OPT_DNSBL, OPT_IP,
	       OPT_DNS_SERVER, OPT_CLAMD, OPT_VIRUS_OPTIONAL, OPT_REJECT_VIRUS, OPT_SPAM_CUTOFF,
	       OPT_HAM_CUTOFF, OPT_CONFIG };
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "train", required_argument, NULL, OPT_TRAIN },
		{ "untrain", required_argument, NULL, OPT_UNTRAIN },
		{ "database", required_argument, NULL, 'd' },
		{ "rules", required_argument, NULL, OPT_RULES },
		{ "dnsbl", required_argument, NULL, OPT_DNSBL },
		{ "ip", required_argument, NULL, OPT_IP },
		{ "dns-server", required_argument, NULL, OPT_DNS_SERVER },
		{ "clamd", required_argument, NULL, OPT_CLAMD },
		{ "virus-optional", no_argument, NULL, OPT_VIRUS_OPTIONAL },
		{ "reject-virus", no_argument, NULL, OPT_REJECT_VIRUS },
		{ "spam-cutoff", required_argument, NULL, OPT_SPAM_CUTOFF },
		{ "ham-cutoff", required_argument, NULL, OPT_HAM_CUTOFF },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct filter f;
	struct conf c;
	struct err e = { 0, "" };
	const char *opt[8] = { NULL }, *config = NULL;
	int ch, modes = 0;

	cli_init("mail-filter");
	signal(SIGPIPE, SIG_IGN);
	memset(&f, 0, sizeof f);
	f.mode = FILTER;
	f.scratch = f.scratch_mem = -1;
	opterr = 0;   /* one line of our own on stderr, not getopt's */
	while ((ch = getopt_long(argc, argv, "d:vhV", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_CHECK: f.mode = CHECK; modes++; break;
		case OPT_TRAIN: f.mode = TRAIN; f.spam = parse_class(optarg); modes++; break;
		case OPT_UNTRAIN: f.mode = UNTRAIN; f.spam = parse_class(optarg); modes++; break;
		case 'd': opt[0] = optarg; break;
		case OPT_RULES: opt[1] = optarg; break;
		case OPT_DNSBL: opt[2] = optarg; break;
		case OPT_IP: opt[3] = optarg; break;
		case OPT_DNS_SERVER: opt[4] = optarg; break;
		case OPT_CLAMD: opt[5] = optarg; break;
		case OPT_VIRUS_OPTIONAL: f.virus_optional = 1; break;
		case OPT_REJECT_VIRUS: f.reject_virus = 1; break;
		case OPT_SPAM_CUTOFF: opt[6] = optarg; break;
		case OPT_HAM_CUTOFF: opt[7] = optarg; break;
		case OPT_CONFIG: config = optarg; break;
		case 'v': f.verbose = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': puts("mail-filter (" PACKAGE_NAME ") " PACKAGE_VERSION); return 0;
		default: cli_usage("unknown option or missing argument");
		}
	}
	if (modes > 1)
		cli_usage("--check, --train and --untrain exclude each other");
	if (f.mode == FILTER && optind < argc)
		cli_usage("the message is read from standard input; paths need --check or --train");
	if (conf_load(&c, config, &e) < 0)
		die_err(&e);
	configure(&f, &c, opt);
	if (tokendb_open(&f.db, f.db_path, f.mode == TRAIN || f.mode == UNTRAIN, &e) < 0)
		cli_die(e.code, "%s: %s", f.db_path, e.msg);

	if (f.mode == FILTER) {
		char from_line[FROM_LINE_MAX + 2];
		int fd = read_stdin(from_line, sizeof from_line, &e);

		if (fd < 0 || filter_one(&f, fd, from_line[0] ? from_line : NULL, &e) < 0)
			die_err(&e);
		close(fd);
	} else if (f.mode == CHECK) {
		for (int i = optind; i < argc || i == optind; i++) {
			if (each_message(&f, i < argc ? argv[i] : "-", check_one, &e) < 0)
				die_err(&e);
			if (i >= argc)
				break;
		}
		if (fflush(stdout) != 0 || ferror(stdout))
			cli_die(EX_IOERR, "standard output: %s", strerror(errno));
	} else {
		if (tokendb_begin(f.db, &e) < 0)
			die_err(&e);
		for (int i = optind; i < argc || i == optind; i++) {
			if (each_message(&f, i < argc ? argv[i] : "-", train_one, &e) < 0)
				die_err(&e);   /* the open batch is not committed */
			if (i >= argc)
				break;
		}
		if (tokendb_commit(f.db, &e) < 0)
			die_err(&e);
		if (f.verbose)
			fprintf(stderr, "mail-filter: %s %lu messages as %s, %lu unchanged\n",
			        f.mode == TRAIN ? "learnt" : "forgot", f.learnt, f.spam ? "spam" : "ham",
			        f.known);
	}
	tokendb_close(f.db);
	rules_free(f.rules);
	free((char *)f.db_path);
	if (f.scratch >= 0)
		close(f.scratch);
	if (f.scratch_mem >= 0)
		close(f.scratch_mem);
	conf_free(&c);   /* f's settings point into it */
	return 0;
}

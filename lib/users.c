#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cdb.h"
#include "file.h"
#include "io.h"
#include "passwd.h"
#include "quota.h"
#include "users.h"

#define NFIELDS 6
#define STAMP_LEN 56   /* dev, ino, size, mtime and ctime (seconds, nanoseconds) */

/* ---- one line ---- */

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 :
		        (*p & 0xF8) == 0xF0 ? 3 : -1;

		if (n < 0 || (n == 1 && *p < 0xC2) || (n == 3 && *p > 0xF4))
			return 0;
		for (p++; n > 0; n--, p++)
			if ((*p & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

/* Cut s at the first unescaped sep (or at NUL); return what follows the
 * separator, or NULL when there was none. Escapes stay in place. */
static char *cut(char *s, char sep)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == sep) {
			*s = '\0';
			return s + 1;
		}
	}
	return NULL;
}

/* Remove backslash escapes in place. Returns -1 on a trailing backslash. */
static int unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '\\') {
			if (*++s == '\0')
				return -1;
		}
		*w++ = *s;
	}
	*w = '\0';
	return 0;
}

static int mailbox_valid(const char *m)
{
	const char *p = m;

	if (m[0] == '\0' || m[0] == '/')
		return 1;
	for (;;) {   /* relative: no ".." component may climb out of the root */
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		if (slash == NULL)
			return 1;
		p = slash + 1;
	}
}

static int addresses_valid(const char *list)
{
	char buf[USERS_LINE_MAX], *p = buf, *next;

	if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf || list[0] == '\0')
		return 0;
	for (; p != NULL; p = next) {
		next = cut(p, ',');
		if (!addr_valid(p))
			return 0;
	}
	return 1;
}

static int parse_extra(char *s, struct user *u, char *xbuf, struct err *e)
{
	char *next, *eq;
	size_t xlen = 0;

	for (; s != NULL; s = next) {
		next = cut(s, ' ');
		if (*s == '\0')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL)
			return err_set(e, EX_DATAERR, "extra field without '=': %.40s", s);
		*eq++ = '\0';
		if (strncmp(s, "x-", 2) == 0) {
			/* kept in file form so a rewrite changes nothing */
			int k = snprintf(xbuf + xlen, strlen(s) + strlen(eq) + 3, "%s%s=%s",
			                 xlen ? " " : "", s, eq);

			xlen += (size_t)k;
			continue;
		}
		if (unescape(eq) < 0)
			return err_set(e, EX_DATAERR, "trailing backslash");
		if (strcmp(s, "disabled") == 0) {
			if (strcmp(eq, "yes") != 0 && strcmp(eq, "no") != 0)
				return err_set(e, EX_DATAERR, "disabled= takes yes or no");
			u->disabled = strcmp(eq, "yes") == 0;
		} else if (strcmp(s, "scram-sha-256") == 0) {
			struct scram_keys k;

			if (scram_keys_parse(eq, &k) < 0)
				return err_set(e, EX_DATAERR, "malformed scram-sha-256= keys");
			u->scram = eq;
		} else if (strcmp(s, "addresses") == 0) {
			if (!addresses_valid(eq))
				return err_set(e, EX_DATAERR, "addresses= holds an invalid address");
			u->addresses = addr_lower(eq);
		} else {
			return err_set(e, EX_DATAERR, "unknown extra field %.32s "
			               "(fields of your own start with x-)", s);
		}
	}
	u->extra = xlen ? xbuf : NULL;
	return 0;
}

int users_parse(const char *line, size_t n, struct user *u, struct err *e)
{
	char *f[NFIELDS], *next;
	size_t i, nf;
	struct quota q;

	memset(u, 0, sizeof *u);
	for (i = 0; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == n || line[i] == '#')
		return 0;
	if (n > USERS_LINE_MAX)
		return err_set(e, EX_DATAERR, "line longer than %d bytes", USERS_LINE_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return err_set(e, EX_DATAERR, "control character in line");
	/* Room for the line and, after it, the x- fields copied in file form. */
	u->store_ = malloc(2 * n + 2);
	if (u->store_ == NULL)
		return err_sys(e, EX_TEMPFAIL, "users file");
	memcpy(u->store_, line, n);
	u->store_[n] = '\0';
	next = u->store_;
	for (nf = 0; next != NULL; nf++) {
		if (nf == NFIELDS) {
			user_free(u);
			return err_set(e, EX_DATAERR, "more than %d fields", NFIELDS);
		}
		f[nf] = next;
		next = cut(next, ':');
	}
	for (i = nf; i < NFIELDS; i++)
		f[i] = u->store_ + n;   /* the empty string */
	for (i = 0; i < 5; i++)
		if (unescape(f[i]) < 0) {
			user_free(u);
			return err_set(e, EX_DATAERR, "trailing backslash");
		}
	u->address = addr_lower(f[0]);
	u->hash = f[1];
	u->mailbox = f[2];
	u->name = f[3];
	u->quota = f[4];
	if (!addr_valid(u->address))
		err_set(e, EX_DATAERR, "invalid address %.100s", u->address);
	else if (nf < 2)
		err_set(e, EX_DATAERR, "no password field after the address");
	else if (!mailbox_valid(u->mailbox))
		err_set(e, EX_DATAERR, "mailbox path with a .. component");
	else if (!utf8_valid(u->name))
		err_set(e, EX_DATAERR, "name is not valid UTF-8");
	else if (u->quota[0] != '\0' && quota_parse(u->quota, &q, e) < 0)
		e->code = EX_DATAERR;
	else if (parse_extra(f[5], u, u->store_ + n + 1, e) == 0)
		return 1;
	user_free(u);
	return -1;
}

static void put(char **w, const char *s)
{
	size_t n = strlen(s);

	memcpy(*w, s, n);
	*w += n;
}

static void put_escaped(char **w, const char *s, int space_too)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == ':' || (space_too && *s == ' '))
			*(*w)++ = '\\';
		*(*w)++ = *s;
	}
}

char *users_format(const struct user *u)
{
	size_t n = 2 * (strlen(u->address) + strlen(u->hash) + strlen(u->mailbox) +
	                strlen(u->name) + strlen(u->quota)) + 64;
	char *out, *w, *last;

	if (u->scram)
		n += 2 * strlen(u->scram) + 16;
	if (u->addresses)
		n += 2 * strlen(u->addresses) + 16;
	if (u->extra)
		n += strlen(u->extra) + 2;
	out = w = malloc(n);
	if (out == NULL)
		return NULL;
	if (u->address[0] == '#')
		*w++ = '\\';   /* else the line would read as a comment */
	put_escaped(&w, u->address, 0);
	*w++ = ':';
	put_escaped(&w, u->hash, 0);
	*w++ = ':';
	put_escaped(&w, u->mailbox, 0);
	last = w;
	*w++ = ':';
	put_escaped(&w, u->name, 0);
	if (u->name[0])
		last = w;
	*w++ = ':';
	put_escaped(&w, u->quota, 0);
	if (u->quota[0])
		last = w;
	*w++ = ':';
	if (u->disabled) {
		put(&w, "disabled=yes ");
	}
	if (u->addresses) {
		put(&w, "addresses=");
		put_escaped(&w, u->addresses, 1);
		*w++ = ' ';
	}
	if (u->scram) {
		put(&w, "scram-sha-256=");
		put_escaped(&w, u->scram, 1);
		*w++ = ' ';
	}
	if (u->extra) {
		put(&w, u->extra);
		put(&w, " ");
	}
	if (w[-1] == ' ')
		last = w - 1;   /* the extra field ends before its last blank */
	w = last;
	*w++ = '\n';
	*w = '\0';
	return out;
}

int user_copy(struct user *dst, const struct user *u, struct err *e)
{
	char *line = users_format(u);
	int rc;

	if (line == NULL)
		return err_sys(e, EX_TEMPFAIL, "users file");
	rc = users_parse(line, strlen(line) - 1, dst, e);
	explicit_bzero(line, strlen(line));
	free(line);
	if (rc == 0)   /* only a comment can parse as no account */
		return err_set(e, EX_DATAERR, "not an account line");
	if (rc < 0)
		return -1;
	dst->lineno = u->lineno;
	return 0;
}

void user_free(struct user *u)
{
	if (u->store_ != NULL)
		explicit_bzero(u->store_, strlen(u->store_));
	free(u->store_);
	memset(u, 0, sizeof *u);
}

int user_has_address(const struct user *u, const char *address)
{
	const char *p = u->addresses;
	size_t n = strlen(address);

	if (strcasecmp(u->address, address) == 0)
		return 1;
	while (p != NULL) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && strncasecmp(p, address, n) == 0)
			return 1;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

int users_mailbox(const struct user *u, const char *root, char *out,
                  size_t outsz, int *maildir, struct err *e)
{
	const char *domain = addr_domain(u->address);
	int n;

	if (u->mailbox[0] == '/')
		n = snprintf(out, outsz, "%s", u->mailbox);
	else if (u->mailbox[0] != '\0')
		n = snprintf(out, outsz, "%s/%s", root, u->mailbox);
	else if (strchr(u->address, '/') != NULL || domain == NULL || domain[0] == '[')
		return err_set(e, EX_CONFIG, "%.100s needs a mailbox field: its address "
		               "cannot name a directory", u->address);
	else
		n = snprintf(out, outsz, "%s/%s/%.*s/Maildir/", root, domain,
		             (int)(domain - 1 - u->address), u->address);
	if (n < 0 || (size_t)n >= outsz)
		return err_set(e, EX_CONFIG, "mailbox path too long for %.100s", u->address);
	if (root[0] != '/' && out[0] != '/')
		return err_set(e, EX_CONFIG, "mail root %.100s is not an absolute path", root);
	*maildir = out[strlen(out) - 1] == '/';
	return 0;
}

/* ---- the index ---- */

static void index_path(char *out, size_t outsz, const char *path)
{
	snprintf(out, outsz, "%s.cdb", path);
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void make_stamp(unsigned char *p, const struct stat *st)
{
	put64(p, (uint64_t)st->st_dev);
	put64(p + 8, (uint64_t)st->st_ino);
	put64(p + 16, (uint64_t)st->st_size);
	put64(p + 24, (uint64_t)st->st_mtim.tv_sec);
	put64(p + 32, (uint64_t)st->st_mtim.tv_nsec);
	put64(p + 40, (uint64_t)st->st_ctim.tv_sec);
	put64(p + 48, (uint64_t)st->st_ctim.tv_nsec);
}

/* Read the line starting at off from fd into buf. Returns its length, or
 * -1 when it cannot be read or is longer than the limit. */
static long read_line_at(int fd, off_t off, char *buf, size_t bufsz)
{
	ssize_t r;
	char *nl;

	do
		r = pread(fd, buf, bufsz - 1, off);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	nl = memchr(buf, '\n', (size_t)r);
	if (nl == NULL)
		return -1;
	*nl = '\0';
	return nl - buf;
}

/* Look address up through the index. Returns 1 found, 0 absent, 2 when
 * the index cannot serve (missing, stale, damaged), -1 on error. */
static int lookup_index(int fd, const struct stat *st, const char *path,
                        const char *key, struct user *u, struct err *e)
{
	char ipath[PATH_MAX + 8], line[USERS_LINE_MAX + 2];
	unsigned char stamp[STAMP_LEN], want[STAMP_LEN], val[16];
	struct err ignore;
	long r, len;
	int ifd, rc = 2;

	index_path(ipath, sizeof ipath, path);
	ifd = open(ipath, O_RDONLY | O_CLOEXEC);
	if (ifd < 0)
		return 2;
	make_stamp(want, st);
	if (cdb_find(ifd, "", 0, stamp, sizeof stamp, &ignore) != STAMP_LEN ||
	    memcmp(stamp, want, STAMP_LEN) != 0)
		goto out;
	r = cdb_find(ifd, key, strlen(key), val, sizeof val, &ignore);
	if (r == -2) {
		rc = 0;
		goto out;
	}
	if (r != (long)sizeof val)
		goto out;
	len = read_line_at(fd, (off_t)get64(val), line, sizeof line);
	if (len < 0)
		goto out;
	r = users_parse(line, (size_t)len, u, e);
	if (r < 0) {
		err_prefix(e, EX_CONFIG, "%s:%lu", path, (unsigned long)get64(val + 8));
		rc = -1;
	} else if (r == 1 && user_has_address(u, key)) {
		u->lineno = (unsigned long)get64(val + 8);
		rc = 1;
	} else if (r == 1) {
		user_free(u);
	}
out:
	explicit_bzero(line, sizeof line);
	close(ifd);
	return rc;
}

/* Does the line (any case) start with "key:"? 2 when it does, 1 when it
 * holds an addresses= field that may name key, 0 when it cannot be key's.
 * A cheap filter before parsing. */
static int may_match(const char *line, size_t n, const char *key, size_t klen)
{
	if (n > 0 && line[0] == '\\') {   /* an escaped leading '#' */
		line++;
		n--;
	}
	if (n > klen && line[klen] == ':' && strncasecmp(line, key, klen) == 0)
		return 2;
	return memmem(line, n, "addresses=", 10) != NULL;
}

static int lookup_scan(int fd, const char *path, const char *key, struct user *u,
                       struct err *e)
{
	char *buf = malloc(IO_BUFSIZE + USERS_LINE_MAX);
	size_t len = 0, klen = strlen(key);
	unsigned long lineno = 0;
	int rc = 0, skipping = 0, m;
	ssize_t r;

	if (buf == NULL)
		return err_sys(e, EX_TEMPFAIL, "read %s", path);
	for (;;) {
		char *p = buf, *nl;

		r = io_read(fd, buf + len, IO_BUFSIZE + USERS_LINE_MAX - len);
		if (r < 0) {
			rc = err_sys(e, EX_TEMPFAIL, "read %s", path);
			break;
		}
		len += (size_t)r;
		while ((nl = memchr(p, '\n', len - (size_t)(p - buf))) != NULL ||
		       (r == 0 && p < buf + len)) {
			size_t n = nl ? (size_t)(nl - p) : len - (size_t)(p - buf);

			if (!skipping)
				lineno++;
			if (!skipping && (m = may_match(p, n, key, klen)) != 0) {
				int k = users_parse(p, n, u, e);

				/* Only the account's own line, malformed, is an error:
				 * a broken line of another account is not ours. */
				if (k < 0 && m == 2) {
					err_prefix(e, EX_CONFIG, "%s:%lu", path, lineno);
					rc = -1;
					goto out;
				}
				if (k == 1 && user_has_address(u, key)) {
					u->lineno = lineno;
					rc = 1;
					goto out;
				}
				user_free(u);
			}
			skipping = 0;
			p += n + (nl != NULL);
		}
		if (r == 0)
			break;
		len -= (size_t)(p - buf);
		memmove(buf, p, len);
		if (len > USERS_LINE_MAX) {   /* an overlong line: not ours */
			if (!skipping)
				lineno++;
			skipping = 1;
			len = 0;
		}
	}
out:
	explicit_bzero(buf, IO_BUFSIZE + USERS_LINE_MAX);
	free(buf);
	return rc;
}

int users_lookup(const char *path, const char *address, struct user *u,
                 int *scanned, struct err *e)
{
	char key[ADDR_MAX + 1];
	struct stat st;
	int fd, rc;

	memset(u, 0, sizeof *u);
	if (scanned)
		*scanned = 0;
	if (snprintf(key, sizeof key, "%s", address) >= (int)sizeof key)
		return 0;   /* longer than any address the file can hold */
	addr_lower(key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, EX_TEMPFAIL, "open %s", path);
	if (fstat(fd, &st) < 0) {
		rc = err_sys(e, EX_TEMPFAIL, "stat %s", path);
	} else {
		rc = lookup_index(fd, &st, path, key, u, e);
		if (rc == 2) {
			if (scanned)
				*scanned = 1;
			rc = lookup_scan(fd, path, key, u, e);
		}
	}
	close(fd);
	return rc;
}

/* ---- the whole file ---- */

struct key {
	const char *addr;
	size_t len;
	size_t line;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->addr, y->addr, n);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Every address of every account, each once: primary then addresses=. */
static struct key *collect_keys(const struct users_file *f, size_t *nkeys)
{
	struct key *k = NULL;
	size_t n = 0, cap = 0, i;

	for (i = 0; i < f->n; i++) {
		const struct user *u = &f->user[i];
		const char *p = u->address;
		int first = 1;

		while (p != NULL) {
			const char *comma = first ? NULL : strchr(p, ',');
			size_t len = first ? strlen(p) : comma ? (size_t)(comma - p) : strlen(p);

			if (n == cap) {
				struct key *nk = realloc(k, (cap = cap ? 2 * cap : 256) * sizeof *k);

				if (nk == NULL) {
					free(k);
					return NULL;
				}
				k = nk;
			}
			k[n].addr = p;
			k[n].len = len;
			k[n].line = i;
			n++;
			p = first ? u->addresses : comma ? comma + 1 : NULL;
			first = 0;
		}
	}
	*nkeys = n;
	return k != NULL ? k : malloc(1);
}

static int check_duplicates(const struct users_file *f, struct err *e)
{
	size_t n, i;
	struct key *k = collect_keys(f, &n);

	if (k == NULL)
		return err_sys(e, EX_TEMPFAIL, "users file");
	qsort(k, n, sizeof *k, key_cmp);
	for (i = 1; i < n; i++)
		if (key_cmp(&k[i - 1], &k[i]) == 0) {
			size_t a = k[i - 1].line < k[i].line ? k[i - 1].line : k[i].line;
			size_t b = k[i - 1].line < k[i].line ? k[i].line : k[i - 1].line;

			err_set(e, EX_DATAERR, "%s:%lu: %.*s is already used on line %lu", f->path,
			        f->user[b].lineno, (int)k[i].len, k[i].addr, f->user[a].lineno);
			free(k);
			return -1;
		}
	free(k);
	return 0;
}

static int grow(struct users_file *f)
{
	size_t cap;
	char **nl;
	struct user *nu;

	if (f->n < f->cap)
		return 0;
	cap = f->cap ? 2 * f->cap : 64;
	nl = realloc(f->line, cap * sizeof *nl);
	if (nl == NULL)
		return -1;
	f->line = nl;
	nu = realloc(f->user, cap * sizeof *nu);
	if (nu == NULL)
		return -1;
	f->user = nu;
	f->cap = cap;
	return 0;
}

int users_open(struct users_file *f, const char *path, int edit, struct err *e)
{
	char *data, *p, *end, *nl;
	size_t len;

	memset(f, 0, sizeof *f);
	f->lockfd = -1;
	if (snprintf(f->path, sizeof f->path, "%s", path) >= (int)sizeof f->path)
		return err_set(e, EX_USAGE, "users file path too long");
	if (edit && (f->lockfd = file_lock(path, USERS_LOCK_TIMEOUT, e)) < 0)
		return -1;
	if (file_read_all(path, (size_t)1 << 30, &data, &len, 1, e) < 0)
		goto fail;
	for (p = data, end = data + len; p < end; p = nl + 1) {
		size_t n;
		int rc;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;   /* a last line without newline */
		n = (size_t)(nl - p);
		if (grow(f) < 0 || (f->line[f->n] = strndup(p, n)) == NULL) {
			err_sys(e, EX_TEMPFAIL, "read %s", path);
			goto fail_data;
		}
		rc = users_parse(p, n, &f->user[f->n], e);
		if (rc < 0) {
			free(f->line[f->n]);
			err_prefix(e, 0, "%s:%lu", path, (unsigned long)f->n + 1);
			goto fail_data;
		}
		f->user[f->n].lineno = f->n + 1;
		f->n++;
	}
	if (data != NULL)
		explicit_bzero(data, len);
	free(data);
	if (check_duplicates(f, e) < 0)
		goto fail;
	return 0;
fail_data:
	explicit_bzero(data, len);
	free(data);
fail:
	users_close(f);
	return -1;
}

long users_find(const struct users_file *f, const char *address)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->user[i].address != NULL && user_has_address(&f->user[i], address))
			return (long)i;
	return -1;
}

int users_put(struct users_file *f, const struct user *u, struct err *e)
{
	long self = users_find(f, u->address), other;
	const char *p = u->addresses;
	struct user copy;
	char *line;

	if (self >= 0 && strcmp(f->user[self].address, u->address) != 0)
		return err_set(e, EX_DATAERR, "%s is an address of %s", u->address,
		               f->user[self].address);
	while (p != NULL) {
		char a[ADDR_MAX + 1];
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		snprintf(a, sizeof a, "%.*s", (int)len, p);
		other = users_find(f, a);
		if (other >= 0 && other != self)
			return err_set(e, EX_CANTCREAT, "%s already belongs to %s", a,
			               f->user[other].address);
		if (strcasecmp(a, u->address) == 0)
			return err_set(e, EX_DATAERR, "%s is the account's own address", a);
		for (const char *q = comma ? comma + 1 : NULL; q != NULL;) {
			const char *c2 = strchr(q, ',');
			size_t l2 = c2 ? (size_t)(c2 - q) : strlen(q);

			if (l2 == len && strncasecmp(q, p, len) == 0)
				return err_set(e, EX_DATAERR, "%s is given twice", a);
			q = c2 ? c2 + 1 : NULL;
		}
		p = comma ? comma + 1 : NULL;
	}
	if (user_copy(&copy, u, e) < 0)
		return -1;
	line = users_format(u);
	if (line == NULL) {
		user_free(&copy);
		return err_sys(e, EX_TEMPFAIL, "users file");
	}
	line[strlen(line) - 1] = '\0';
	if (self < 0) {
		if (grow(f) < 0) {
			free(line);
			user_free(&copy);
			return err_sys(e, EX_TEMPFAIL, "users file");
		}
		self = (long)f->n++;
		copy.lineno = (unsigned long)self + 1;
	} else {
		copy.lineno = f->user[self].lineno;
		free(f->line[self]);
		user_free(&f->user[self]);
	}
	f->line[self] = line;
	f->user[self] = copy;
	return 0;
}

void users_remove(struct users_file *f, size_t i)
{
	free(f->line[i]);
	user_free(&f->user[i]);
	memmove(f->line + i, f->line + i + 1, (f->n - i - 1) * sizeof *f->line);
	memmove(f->user + i, f->user + i + 1, (f->n - i - 1) * sizeof *f->user);
	f->n--;
}

static int write_index(const struct users_file *f, const uint64_t *offset,
                       const struct stat *st, struct err *e)
{
	char ipath[PATH_MAX + 8], tmp[PATH_MAX + 32];
	unsigned char stamp[STAMP_LEN], val[16];
	struct cdb_make m;
	struct key *k;
	size_t nkeys, i;
	int fd;

	index_path(ipath, sizeof ipath, f->path);
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", ipath, (long)getpid()) >= (int)sizeof tmp)
		return err_set(e, EX_USAGE, "users file path too long");
	k = collect_keys(f, &nkeys);
	if (k == NULL)
		return err_sys(e, EX_TEMPFAIL, "index");
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(k);
		return err_sys(e, EX_TEMPFAIL, "create %s", tmp);
	}
	if (cdb_make_start(&m, fd, e) < 0)
		goto fail;
	make_stamp(stamp, st);
	cdb_make_add(&m, "", 0, stamp, sizeof stamp);
	for (i = 0; i < nkeys; i++) {
		put64(val, offset[k[i].line]);
		put64(val + 8, k[i].line + 1);   /* the line number as written */
		cdb_make_add(&m, k[i].addr, k[i].len, val, sizeof val);
	}
	if (cdb_make_finish(&m) < 0)
		goto fail;
	if ((fchown(fd, st->st_uid, st->st_gid) < 0 && errno != EPERM) ||
	    fchmod(fd, st->st_mode & 0666) < 0 || fsync(fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "write %s", tmp);
		goto fail;
	}
	/* File times come from a clock that ticks every few milliseconds (or
	 * every second on file systems without nanoseconds): an edit in the
	 * tick that stamped the file would keep the stamp. Publish the index
	 * only once that tick is over, so any later edit shows; but never wait
	 * more than 2 s for a clock that is behind the file's (NFS skew). */
	for (int waited = 0; waited < 2000; waited++) {
		struct timespec now, nap = {0, 1000000};

		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (now.tv_sec > st->st_ctim.tv_sec ||
		    (now.tv_sec == st->st_ctim.tv_sec && st->st_ctim.tv_nsec != 0 &&
		     now.tv_nsec > st->st_ctim.tv_nsec))
			break;
		nanosleep(&nap, NULL);
	}
	if (close(fd) < 0 || rename(tmp, ipath) < 0) {
		fd = -1;
		err_sys(e, EX_TEMPFAIL, "write %s", ipath);
		goto fail;
	}
	free(k);
	return file_fsync_parent(ipath, e);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(k);
	return -1;
}

int users_commit(struct users_file *f, struct err *e)
{
	size_t len = 0, i, at = 0;
	uint64_t *offset;
	struct stat st;
	char *data;
	int rc;

	for (i = 0; i < f->n; i++)
		len += strlen(f->line[i]) + 1;
	data = malloc(len + 1);
	offset = malloc((f->n + 1) * sizeof *offset);
	if (data == NULL || offset == NULL) {
		free(data);
		free(offset);
		return err_sys(e, EX_TEMPFAIL, "users file");
	}
	for (i = 0; i < f->n; i++) {
		size_t n = strlen(f->line[i]);

		offset[i] = at;
		memcpy(data + at, f->line[i], n);
		at += n;
		data[at++] = '\n';
	}
	rc = file_replace(f->path, data, len, 0600, &st, e);
	if (rc == 0)
		rc = write_index(f, offset, &st, e);
	explicit_bzero(data, len);
	free(data);
	free(offset);
	return rc;
}

void users_close(struct users_file *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		explicit_bzero(f->line[i], strlen(f->line[i]));
		free(f->line[i]);
		user_free(&f->user[i]);
	}
	free(f->line);
	free(f->user);
	if (f->lockfd >= 0)
		close(f->lockfd);
	memset(f, 0, sizeof *f);
	f->lockfd = -1;
}

int users_become(const char *mailbox, const char *delivery_user, struct err *e)
{
	char path[PATH_MAX];
	struct stat st;
	uid_t uid;
	gid_t gid;
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	snprintf(path, sizeof path, "%s", mailbox);
	while (stat(path, &st) < 0) {
		char *slash = strrchr(path, '/');

		if (slash == NULL || slash == path)
			return err_set(e, EX_NOPERM, "no owner to run as for %s", mailbox);
		*slash = '\0';
	}
	uid = st.st_uid;
	gid = st.st_gid;
	if (uid == 0 && strcmp(path, mailbox) == 0)
		return 0;   /* root's own mailbox */
	if (uid == 0) {
		/* nothing of the mailbox yet, under root's directories: the
		 * user deliveries make it as, delivery_user, else root as a
		 * root runner does (a session as anyone else could not make it) */
		if (delivery_user == NULL)
			return 0;
		if ((pw = getpwnam(delivery_user)) == NULL || pw->pw_uid == 0)
			return err_set(e, EX_NOPERM, "no user %s to run as for %s", delivery_user, mailbox);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	pw = getpwuid(uid);
	if ((pw != NULL ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) < 0 ||
	    setgid(gid) < 0 || setuid(uid) < 0)
		return err_sys(e, EX_NOPERM, "cannot become uid %lu", (unsigned long)uid);
	return 0;
}

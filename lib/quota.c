#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "io.h"
#include "quota.h"

#define MAILDIRSIZE_MAX 5120        /* the Maildir++ rebuild threshold */
#define MAILDIRSIZE_STALE (15 * 60) /* seconds */

static int parse_u64(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*v = n;
	*pp = p;
	return 0;
}

/* Parse the Maildir++ definition "NS,NC" (either part optional). */
static int parse_definition(const char *s, struct quota *q)
{
	const char *p = s;

	q->bytes = q->count = 0;
	while (*p != '\0') {
		uint64_t v;
		if (parse_u64(&p, &v) < 0)
			return -1;
		if (*p == 'S')
			q->bytes = v;
		else if (*p == 'C')
			q->count = v;
		else
			return -1;
		p++;
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return -1;
	}
	return 0;
}

int quota_parse(const char *s, struct quota *q, struct err *e)
{
	static const char units[] = "KMGT";   /* powers of 1024 */
	const char *p = s, *u;
	uint64_t mult = 1;

	if (strchr(s, 'S') != NULL || strchr(s, 'C') != NULL) {
		if (parse_definition(s, q) < 0)
			return err_set(e, EX_USAGE, "bad quota: %s", s);
		return 0;
	}
	q->count = 0;
	if (parse_u64(&p, &q->bytes) < 0)
		return err_set(e, EX_USAGE, "bad quota: %s", s);
	if (*p != '\0' && (u = strchr(units, toupper((unsigned char)*p))) != NULL) {
		mult <<= 10 * (u - units + 1);
		p++;
	}
	if (q->bytes > UINT64_MAX / mult)
		return err_set(e, EX_USAGE, "bad quota: %s", s);
	q->bytes *= mult;
	if (*p == ',') {
		p++;
		if (parse_u64(&p, &q->count) < 0)
			return err_set(e, EX_USAGE, "bad quota: %s", s);
	}
	if (*p != '\0')
		return err_set(e, EX_USAGE, "bad quota: %s", s);
	return 0;
}

/* Sum the messages of one cur/ or new/ directory; a missing one is empty. */
static int scan_dir(const char *dir, uint64_t *bytes, uint64_t *count, struct err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return err_sys(e, EX_TEMPFAIL, "unable to read %s", dir);
	}
	while ((de = readdir(d)) != NULL) {
		const char *s;
		uint64_t size;

		if (de->d_name[0] == '.')
			continue;
		s = strstr(de->d_name, ",S=");
		if (s != NULL) {
			s += 3;
			if (parse_u64(&s, &size) < 0)
				s = NULL;
		}
		if (s == NULL) {
			struct stat st;
			/* A message may vanish while we look: it no longer counts. */
			if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
				continue;
			size = (uint64_t)st.st_size;
		}
		*bytes += size;
		(*count)++;
	}
	closedir(d);
	return 0;
}

static int scan_folder(const char *folder, uint64_t *bytes, uint64_t *count, struct err *e)
{
	char dir[PATH_MAX];

	if (file_join(dir, sizeof dir, folder, "cur", e) < 0 ||
	    scan_dir(dir, bytes, count, e) < 0 ||
	    file_join(dir, sizeof dir, folder, "new", e) < 0 ||
	    scan_dir(dir, bytes, count, e) < 0)
		return -1;
	return 0;
}

/* Rebuild maildirsize from the file names and write it atomically. */
static int rebuild(const char *root, const struct quota *q, uint64_t *bytes,
                   uint64_t *count, struct err *e)
{
	char path[PATH_MAX], tmp[PATH_MAX], name[64], line[128];
	DIR *d;
	struct dirent *de;
	int fd, n;

	*bytes = *count = 0;
	if (scan_folder(root, bytes, count, e) < 0)
		return -1;
	d = opendir(root);
	if (d == NULL)
		return err_sys(e, EX_TEMPFAIL, "unable to read %s", root);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (file_join(path, sizeof path, root, de->d_name, e) < 0 ||
		    scan_folder(path, bytes, count, e) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);

	/* Only the limits that exist, as maildirmake writes them. */
	if (q->bytes != 0 && q->count != 0)
		n = snprintf(line, sizeof line, "%" PRIu64 "S,%" PRIu64 "C\n", q->bytes, q->count);
	else if (q->bytes != 0)
		n = snprintf(line, sizeof line, "%" PRIu64 "S\n", q->bytes);
	else
		n = snprintf(line, sizeof line, "%" PRIu64 "C\n", q->count);
	if (n > 0 && (size_t)n < sizeof line)
		n += snprintf(line + n, sizeof line - (size_t)n, "%" PRIu64 " %" PRIu64 "\n",
		              *bytes, *count);
	if (n < 0 || (size_t)n >= sizeof line)
		return err_set(e, EX_SOFTWARE, "maildirsize line too long");
	snprintf(name, sizeof name, "tmp/%lld.%ld.maildirsize", (long long)time(NULL), (long)getpid());
	if (file_join(tmp, sizeof tmp, root, name, e) < 0 ||
	    file_join(path, sizeof path, root, "maildirsize", e) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_sys(e, err_code_for_errno(errno), "unable to create %s", tmp);
	if (io_write_all(fd, line, (size_t)n) < 0 || fsync(fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to install %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Read maildirsize. Returns 1 when usable (limits and sums filled in), 0 when
 * it must be rebuilt or is absent (*exists tells), -1 on a read error. */
static int read_maildirsize(const char *path, struct quota *def, int64_t *bytes,
                            int64_t *count, time_t *mtime, int *exists, struct err *e)
{
	char buf[MAILDIRSIZE_MAX + 1];
	struct stat st;
	ssize_t n;
	char *line, *next;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*exists = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(e, err_code_for_errno(errno), "unable to open %s", path);
	}
	*exists = 1;
	if (fstat(fd, &st) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to stat %s", path);
		close(fd);
		return -1;
	}
	*mtime = st.st_mtime;
	n = io_read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0)
		return err_sys(e, EX_TEMPFAIL, "unable to read %s", path);
	buf[n] = '\0';
	line = buf;
	next = strchr(line, '\n');
	if (next == NULL)
		return 0;
	*next++ = '\0';
	if (parse_definition(line, def) < 0)
		return 0;
	if (n > MAILDIRSIZE_MAX)
		return 0;   /* too long: the limits are known, the sums are rebuilt */
	*bytes = *count = 0;
	for (line = next; *line != '\0'; line = next) {
		long long b, c;
		char *end;

		next = strchr(line, '\n');
		if (next == NULL)
			return 0;   /* a partial last line: a writer died mid-append */
		*next++ = '\0';
		errno = 0;
		b = strtoll(line, &end, 10);
		if (end == line || *end != ' ' || errno != 0)
			return 0;
		line = end + 1;
		c = strtoll(line, &end, 10);
		if (end == line || (*end != '\0' && *end != ' ') || errno != 0)
			return 0;
		*bytes += b;
		*count += c;
	}
	return *bytes >= 0 && *count >= 0;
}

int quota_check(const char *root, const struct quota *limit, uint64_t size,
                int *over, int *active, struct err *e)
{
	char path[PATH_MAX];
	struct quota def = { 0, 0 }, q;
	int64_t b = 0, c = 0;
	uint64_t ub, uc;
	time_t mtime = 0;
	int exists, ok;

	*over = *active = 0;
	if (file_join(path, sizeof path, root, "maildirsize", e) < 0)
		return -1;
	ok = read_maildirsize(path, &def, &b, &c, &mtime, &exists, e);
	if (ok < 0)
		return -1;
	if (limit != NULL)
		q = *limit;
	else if (exists)
		q = def;
	else
		return 0;
	if (q.bytes == 0 && q.count == 0)
		return 0;
	*active = 1;
	if (ok && (q.bytes != def.bytes || q.count != def.count))
		ok = 0;
	ub = (uint64_t)b;
	uc = (uint64_t)c;
	for (int pass = 0; ; pass++) {
		if (!ok) {
			if (rebuild(root, &q, &ub, &uc, e) < 0)
				return -1;
			mtime = time(NULL);
		}
		*over = (q.bytes != 0 && (ub > q.bytes || size > q.bytes - ub)) ||
		        (q.count != 0 && uc >= q.count);
		/* An estimate that says "full" is checked against the disk first. */
		if (!*over || pass > 0 || time(NULL) - mtime < MAILDIRSIZE_STALE)
			return 0;
		if (!ok)
			return 0;
		ok = 0;
	}
}

int quota_add(const char *root, int64_t bytes, int64_t count, struct err *e)
{
	char path[PATH_MAX], line[64];
	int fd, n;

	if (file_join(path, sizeof path, root, "maildirsize", e) < 0)
		return -1;
	n = snprintf(line, sizeof line, "%" PRId64 " %" PRId64 "\n", bytes, count);
	if (n < 0 || (size_t)n >= sizeof line)
		return err_set(e, EX_SOFTWARE, "maildirsize line too long");
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;   /* rebuilt at the next check */
		return err_sys(e, err_code_for_errno(errno), "unable to open %s", path);
	}
	/* One write of a short line to an O_APPEND file: concurrent deliveries
	 * never interleave inside a line. */
	if (io_write_all(fd, line, (size_t)n) < 0) {
		err_sys(e, EX_TEMPFAIL, "unable to update %s", path);
		close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return err_sys(e, EX_TEMPFAIL, "unable to update %s", path);
	return 0;
}

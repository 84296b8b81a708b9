#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "io.h"
#include "uidlist.h"

#define LIST_MAX (256UL << 20)

void uidlist_free(struct uidlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].name);
		free(l->e[i].file);
	}
	free(l->e);
	memset(l, 0, sizeof *l);
}

/* Add an entry whose name (malloc'd) the list takes. */
static int add_taken(struct uidlist *l, uint32_t uid, char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct uid_entry *p = realloc(l->e, cap * sizeof *p);

		if (p == NULL)
			return -1;
		l->e = p;
		l->cap = cap;
	}
	l->e[l->n].name = name;
	l->e[l->n].file = NULL;
	l->e[l->n++].uid = uid;
	return 0;
}

static int add(struct uidlist *l, uint32_t uid, const char *name, size_t len)
{
	char *copy = strndup(name, len);

	if (copy == NULL || add_taken(l, uid, copy) < 0) {
		free(copy);
		return -1;
	}
	return 0;
}

/* Parse the file's text into l; a list that does not parse is lost
 * (validity 0), never half believed. */
static int parse(struct uidlist *l, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *nl;
	unsigned long long v, nx;
	int used;

	l->validity = 0;
	l->next = 1;
	nl = memchr(p, '\n', len);
	if (nl == NULL || sscanf(p, "mail-uidlist 1 %llu %llu%n", &v, &nx, &used) != 2 ||
	    p + used != nl || v == 0 || v > UINT32_MAX || nx == 0 || nx > UINT32_MAX)
		return 0;
	for (p = nl + 1; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
		char *sp;
		unsigned long long uid = strtoull(p, &sp, 10);
		uint32_t last = l->n ? l->e[l->n - 1].uid : 0;

		if (sp == p || *sp != ' ' || uid <= last || uid > UINT32_MAX || sp + 1 >= nl ||
		    memchr(sp + 1, ' ', (size_t)(nl - sp - 1)) != NULL) {
			uidlist_free(l);   /* broken: lost */
			l->next = 1;
			return 0;
		}
		if (add(l, (uint32_t)uid, sp + 1, (size_t)(nl - sp - 1)) < 0)
			return -1;
	}
	/* a last line without its LF is an append in progress: not yet */
	l->torn = p < end;
	l->validity = (uint32_t)v;
	l->next = (uint32_t)nx;
	if (l->n > 0 && l->e[l->n - 1].uid >= l->next)
		l->next = l->e[l->n - 1].uid + 1;
	return 0;
}

int uidlist_read(struct uidlist *l, const char *dir, struct err *e)
{
	char path[4200], *data = NULL;
	size_t len = 0;
	int rc;

	memset(l, 0, sizeof *l);
	l->next = 1;
	snprintf(path, sizeof path, "%s/mail-uidlist", dir);
	if (file_read_all(path, LIST_MAX, &data, &len, 1, e) < 0)
		return -1;
	if (data == NULL)
		return 0;
	rc = parse(l, data, len);
	free(data);
	if (rc < 0)
		return err_sys(e, EX_TEMPFAIL, "%s", path);
	return 0;
}

uint32_t uidlist_find(const struct uidlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return l->e[i].uid;
	return 0;
}

/* ---- sync ---- */

struct seen {
	char *name;            /* base name */
	char *file;            /* "new/NAME" or "cur/NAME:2,FLAGS" */
	unsigned long long sec;
	unsigned long usec;
	int listed;
};

/* A hash index of the names seen: 100,000 messages are matched against
 * the list in one pass, not by sorting names. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static long *index_seen(const struct seen *v, size_t n, size_t *mask)
{
	size_t size = 16;
	long *slot;

	while (size < 2 * n)
		size *= 2;
	if ((slot = malloc(size * sizeof *slot)) == NULL)
		return NULL;
	memset(slot, 0xff, size * sizeof *slot);   /* -1: empty */
	*mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		size_t h = (size_t)name_hash(v[i].name) & *mask;

		while (slot[h] >= 0)
			h = (h + 1) & *mask;
		slot[h] = (long)i;
	}
	return slot;
}

static struct seen *find_seen(struct seen *v, const long *slot, size_t mask, const char *name)
{
	size_t h = (size_t)name_hash(name) & mask;

	for (; slot[h] >= 0; h = (h + 1) & mask)
		if (strcmp(v[slot[h]].name, name) == 0)
			return &v[slot[h]];
	return NULL;
}

/* Oldest first, as lib/maildrop numbers them. */
static int cmp_time(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;

	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The base names in new/ and cur/. */
static long scan(const char *dir, struct seen **out, struct err *e)
{
	static const char *const subs[] = { "new", "cur" };
	struct seen *v = NULL;
	size_t n = 0, cap = 0;

	for (int s = 0; s < 2; s++) {
		char path[4200];
		struct dirent *de;
		DIR *dp;

		snprintf(path, sizeof path, "%s/%s", dir, subs[s]);
		if ((dp = opendir(path)) == NULL) {
			if (errno == ENOENT)
				continue;
			free(v);
			return err_sys(e, EX_TEMPFAIL, "open %s", path);
		}
		while ((de = readdir(dp)) != NULL) {
			char *end;

			if (de->d_name[0] == '.')
				continue;
			if (n == cap) {
				struct seen *p;

				cap = cap ? cap * 2 : 256;
				if ((p = realloc(v, cap * sizeof *p)) == NULL)
					goto oom;
				v = p;
			}
			v[n].name = strndup(de->d_name, strcspn(de->d_name, ":"));
			size_t dlen = strlen(de->d_name);

			v[n].file = malloc(dlen + 5);
			if (v[n].name == NULL || v[n].file == NULL) {
				free(v[n].name);
				free(v[n].file);
				goto oom;
			}
			memcpy(v[n].file, subs[s], 3);
			v[n].file[3] = '/';
			memcpy(v[n].file + 4, de->d_name, dlen + 1);
			v[n].sec = strtoull(v[n].name, &end, 10);
			v[n].usec = end[0] == '.' && end[1] == 'M' ? strtoul(end + 2, NULL, 10) : 0;
			v[n].listed = 0;
			n++;
			continue;
oom:
			closedir(dp);
			while (n > 0) {
				n--;
				free(v[n].name);
				free(v[n].file);
			}
			free(v);
			return err_sys(e, EX_TEMPFAIL, "list %s", path);
		}
		closedir(dp);
	}
	*out = v;
	return (long)n;
}

/* Lines "UID NAME" of entries from on: 100,000 of them at a folder's
 * first look, so no printf. */
static void write_entries(struct io_out *o, const struct uidlist *l, size_t from)
{
	for (size_t i = from; i < l->n; i++) {
		char num[16];
		size_t k = sizeof num;
		uint32_t v = l->e[i].uid;

		num[--k] = ' ';
		do {
			num[--k] = (char)('0' + v % 10);
			v /= 10;
		} while (v > 0);
		io_out_write(o, num + k, sizeof num - k);
		io_out_write(o, l->e[i].name, strlen(l->e[i].name));
		io_out_write(o, "\n", 1);
	}
}

static int write_all_list(const struct uidlist *l, const char *dir, struct err *e)
{
	char tmp[4200], path[4200];
	struct io_out *o = malloc(sizeof *o);
	char line[64];
	int fd;

	snprintf(path, sizeof path, "%s/mail-uidlist", dir);
	snprintf(tmp, sizeof tmp, "%s/mail-uidlist.%ld", dir, (long)getpid());
	if (o == NULL)
		return err_sys(e, EX_TEMPFAIL, "%s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(o);
		return err_sys(e, err_code_for_errno(errno), "create %s", tmp);
	}
	io_out_init(o, fd);
	snprintf(line, sizeof line, "mail-uidlist 1 %u %u\n", l->validity, l->next);
	io_out_write(o, line, strlen(line));
	write_entries(o, l, 0);
	if (io_out_flush(o) < 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		err_sys(e, EX_TEMPFAIL, "write %s", path);
		unlink(tmp);
		free(o);
		return -1;
	}
	free(o);
	return file_fsync_dir(dir, e);
}

static int append_list(const struct uidlist *l, size_t from, const char *dir, struct err *e)
{
	char path[4200];
	struct io_out *o = malloc(sizeof *o);
	int fd;

	snprintf(path, sizeof path, "%s/mail-uidlist", dir);
	if (o == NULL)
		return err_sys(e, EX_TEMPFAIL, "%s", path);
	fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		free(o);
		return err_sys(e, EX_TEMPFAIL, "open %s", path);
	}
	io_out_init(o, fd);
	write_entries(o, l, from);
	if (io_out_flush(o) < 0 || fsync(fd) < 0) {
		close(fd);
		free(o);
		return err_sys(e, EX_TEMPFAIL, "append %s", path);
	}
	close(fd);
	free(o);
	return 0;
}

/* A UIDVALIDITY above every one the Maildir handed out before (RFC 9051
 * 2.3.1.1), also for a folder deleted and made again within a second:
 * the last one is kept in "mail-uidvalidity" in the Maildir's root (the
 * folder itself, or the parent of a Maildir++ ".Folder"). */
static uint32_t new_validity(const char *dir)
{
	char root[4200], path[4300], buf[32];
	const char *slash = strrchr(dir, '/');
	uint32_t v = (uint32_t)time(NULL);
	unsigned long last;
	struct err e;
	ssize_t r;
	int lock, fd;

	if (slash != NULL && slash[1] == '.' && slash > dir)
		snprintf(root, sizeof root, "%.*s", (int)(slash - dir), dir);
	else
		snprintf(root, sizeof root, "%s", dir);
	if (snprintf(path, sizeof path, "%s/mail-uidvalidity", root) >= (int)sizeof path ||
	    (lock = file_lock(path, 30, &e)) < 0)
		return v;   /* the clock alone, as before there was a file */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		r = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[r > 0 ? r : 0] = '\0';
		last = strtoul(buf, NULL, 10);
		if (last >= v && last < UINT32_MAX)
			v = (uint32_t)last + 1;
	}
	snprintf(buf, sizeof buf, "%lu\n", (unsigned long)v);
	(void)file_replace(path, buf, strlen(buf), 0600, NULL, &e);
	close(lock);
	return v;
}

int uidlist_sync(struct uidlist *l, const char *dir, struct err *e)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char lockpath[4200];
	struct seen *seen = NULL;
	long ns = 0;
	int lockfd, rewrite = 0, rc = -1;
	size_t kept = 0, before, fresh = 0, mask = 0;
	long *slot = NULL;

	snprintf(lockpath, sizeof lockpath, "%s/mail-uidlist.lock", dir);
	lockfd = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lockfd < 0)
		return err_sys(e, err_code_for_errno(errno), "open %s", lockpath);
	while (fcntl(lockfd, F_SETLKW, &fl) < 0)
		if (errno != EINTR) {
			close(lockfd);
			return err_sys(e, EX_TEMPFAIL, "lock %s", lockpath);
		}
	if (uidlist_read(l, dir, e) < 0 || (ns = scan(dir, &seen, e)) < 0)
		goto out;
	if (l->validity == 0) {
		/* new, or lost: a new UIDVALIDITY, so nothing cached is trusted */
		uidlist_free(l);
		l->validity = new_validity(dir);
		l->next = 1;
		rewrite = 1;
	}
	/* entries whose message is gone are dropped */
	if (l->n > 0 && (slot = index_seen(seen, (size_t)ns, &mask)) == NULL) {
		err_sys(e, EX_TEMPFAIL, "%s", dir);
		goto out;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct seen *hit = find_seen(seen, slot, mask, l->e[i].name);

		if (hit != NULL && !hit->listed) {
			hit->listed = 1;
			free(l->e[i].file);
			l->e[i].file = hit->file;
			hit->file = NULL;
			l->e[kept++] = l->e[i];
		} else {
			free(l->e[i].name);
			free(l->e[i].file);
			rewrite = 1;
		}
	}
	l->n = kept;
	before = l->n;
	if (l->torn)
		rewrite = 1;   /* appending after a torn line would join them */
	/* new messages get UIDs, oldest first; the rest of seen is done with */
	for (long i = 0; i < ns; i++)
		if (!seen[i].listed)
			seen[fresh++] = seen[i];
		else {
			free(seen[i].name);
			free(seen[i].file);
		}
	ns = (long)fresh;
	if (ns > 1)
		qsort(seen, (size_t)ns, sizeof *seen, cmp_time);
	for (long i = 0; i < ns; i++) {
		if (l->next == UINT32_MAX) {
			err_set(e, EX_TEMPFAIL, "%s: out of UIDs", dir);
			goto out;
		}
		if (add_taken(l, l->next++, seen[i].name) < 0) {
			err_sys(e, EX_TEMPFAIL, "%s", dir);
			goto out;
		}
		seen[i].name = NULL;
		l->e[l->n - 1].file = seen[i].file;
		seen[i].file = NULL;
	}
	if (rewrite)
		rc = write_all_list(l, dir, e);
	else if (l->n > before)
		rc = append_list(l, before, dir, e);
	else
		rc = 0;
out:
	for (long i = 0; seen != NULL && i < ns; i++) {
		free(seen[i].name);
		free(seen[i].file);
	}
	free(slot);
	free(seen);
	close(lockfd);
	return rc;
}

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "file.h"
#include "io.h"
#include "maildrop.h"
#include "mbox.h"
#include "sha256.h"

#define CHUNK 65536

/* ---- sending: CR LF, dot-stuffing, mboxrd unquoting, TOP ---- */

/* Send bytes [off, off + len) of fd as POP3 message text to n, or with n
 * NULL count the octets that would be sent (dot-stuffing excluded, as
 * LIST counts them) into *count. unquote: take one '>' off ">From "
 * lines (mboxrd). lines: for TOP, the body lines to send, or -1. */
static int send_range(int fd, uint64_t off, uint64_t len, int unquote, long lines,
                      struct net *n, uint64_t *count, struct err *e)
{
	char *buf = malloc(CHUNK);
	uint64_t pos = off, end = off + len, total = 0;
	size_t at = 0, have = 0;   /* unsent bytes are buf[at, have) */
	long body_lines = 0;
	int at_start = 1, in_body = 0;

	if (buf == NULL)
		return err_sys(e, EX_TEMPFAIL, "read");
	for (;;) {
		char *nl = memchr(buf + at, '\n', have - at);
		size_t linelen, k;
		const char *p;

		if (nl == NULL && pos < end && (at > 0 || have < CHUNK)) {
			/* the rest of this line is still to be read */
			size_t want;
			ssize_t r;

			memmove(buf, buf + at, have - at);
			have -= at;
			at = 0;
			want = CHUNK - have;
			if (want > end - pos)
				want = (size_t)(end - pos);
			r = pread(fd, buf + have, want, (off_t)pos);
			if (r <= 0) {
				free(buf);
				if (r == 0)
					return err_set(e, EX_TEMPFAIL, "message shorter than listed");
				return err_sys(e, EX_TEMPFAIL, "read");
			}
			have += (size_t)r;
			pos += (uint64_t)r;
			continue;
		}
		if (at == have)
			break;
		linelen = nl ? (size_t)(nl - (buf + at)) : have - at;
		p = buf + at;
		if (nl == NULL && linelen > 1 && p[linelen - 1] == '\r' && pos < end)
			linelen--;   /* a CR at the edge may be the CR of a CR LF */
		k = linelen;
		if (nl != NULL && k > 0 && p[k - 1] == '\r')
			k--;
		if (at_start) {
			if (in_body && lines >= 0 && body_lines >= lines)
				break;
			if (unquote && k > 0 && p[0] == '>') {
				size_t q = 1;

				while (q < k && p[q] == '>')
					q++;
				if (k - q >= 5 && memcmp(p + q, "From ", 5) == 0) {
					p++;
					k--;
				}
			}
			if (n != NULL && k > 0 && p[0] == '.')
				net_write(n, ".", 1);
		}
		if (n != NULL)
			net_write(n, p, k);
		total += k;
		if (nl != NULL) {
			if (n != NULL)
				net_write(n, "\r\n", 2);
			total += 2;
			if (in_body)
				body_lines++;
			else if (at_start && k == 0)
				in_body = 1;   /* the empty line after the header */
			at_start = 1;
			linelen++;
		} else {
			at_start = 0;   /* a line longer than the buffer: its next piece */
		}
		at += linelen;
		if (n != NULL && n->error) {
			free(buf);
			return err_set(e, EX_TEMPFAIL, "write: %s", strerror(n->error));
		}
	}
	if (!at_start) {
		/* a last line without its LF is ended, as POP3 needs */
		if (n != NULL)
			net_write(n, "\r\n", 2);
		total += 2;
	}
	free(buf);
	if (count != NULL)
		*count = total;
	return 0;
}

/* ---- listing ---- */

static int add_msg(struct maildrop *d, size_t *cap)
{
	if (d->n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct drop_msg *m = realloc(d->m, c * sizeof *m);

		if (m == NULL)
			return -1;
		d->m = m;
		*cap = c;
	}
	memset(&d->m[d->n], 0, sizeof d->m[d->n]);
	return 0;
}

/* A UIDL from a Maildir base name: itself when it is a valid UIDL (1 to
 * 70 characters from 0x21 to 0x7E), else a hash of it. */
static void name_uidl(const char *base, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len && base[i] > ' ' && base[i] < 127; i++)
		;
	if (len > 0 && len <= DROP_UIDL_MAX && i == len) {
		memcpy(out, base, len);
		out[len] = '\0';
		return;
	}
	{
		unsigned char h[SHA256_LEN];

		sha256(base, len, h);
		for (i = 0; i < 20; i++)
			snprintf(out + 2 * i, 3, "%02x", h[i]);
	}
}

static const char *base_of(const struct drop_msg *m)
{
	return m->name + 4;   /* after "new/" or "cur/" */
}

/* The delivery time in a Maildir name: "SECONDS.M<usec>..." (mail-store,
 * Dovecot; the microseconds are not zero-padded, so names do not sort as
 * text), "SECONDS.anything" from others. */
static void name_time(const char *name, unsigned long long *sec, unsigned long *usec)
{
	char *end;

	*sec = strtoull(name, &end, 10);
	*usec = 0;
	if (end[0] == '.' && end[1] == 'M' && end[2] >= '0' && end[2] <= '9')
		*usec = strtoul(end + 2, NULL, 10);
}

/* Oldest first: by delivery time, then by name. */
static int cmp_msg(const void *a, const void *b)
{
	unsigned long long sa, sb;
	unsigned long ua, ub;

	name_time(base_of(a), &sa, &ua);
	name_time(base_of(b), &sb, &ub);
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (ua != ub)
		return ua < ub ? -1 : 1;
	return strcmp(base_of(a), base_of(b));
}

static int scan_maildir(struct maildrop *d, struct err *e)
{
	static const char *const subs[] = { "new", "cur" };
	size_t cap = 0;

	for (int s = 0; s < 2; s++) {
		char dir[PATH_MAX + 8];
		struct dirent *de;
		DIR *dp;

		snprintf(dir, sizeof dir, "%s/%s", d->path, subs[s]);
		if ((dp = opendir(dir)) == NULL) {
			if (errno == ENOENT)
				continue;
			return err_sys(e, err_code_for_errno(errno), "open %s", dir);
		}
		while ((de = readdir(dp)) != NULL) {
			const char *name = de->d_name, *w;
			size_t baselen = strcspn(name, ":");
			struct drop_msg *m;

			if (name[0] == '.')
				continue;
			if (add_msg(d, &cap) < 0 ||
			    (d->m[d->n].name = malloc(strlen(name) + 5)) == NULL) {
				closedir(dp);
				return err_sys(e, EX_TEMPFAIL, "list %s", dir);
			}
			m = &d->m[d->n++];
			snprintf(m->name, strlen(name) + 5, "%s/%s", subs[s], name);
			name_uidl(name, baselen, m->uidl);
			/* ",W=" in the base name: the size in CR LF octets */
			w = strstr(name, ",W=");
			if (w != NULL && w < name + baselen && w[3] >= '0' && w[3] <= '9') {
				m->size = strtoull(w + 3, NULL, 10);
			} else {
				/* another deliverer's file: read it once to count */
				char path[PATH_MAX * 2];
				struct stat st;
				int fd;

				snprintf(path, sizeof path, "%s/%s", d->path, m->name);
				fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
				if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
				    send_range(fd, 0, (uint64_t)st.st_size, 0, -1, NULL, &m->size, e) < 0) {
					/* gone or unreadable: not listed */
					if (fd >= 0)
						close(fd);
					free(m->name);
					d->n--;
					continue;
				}
				close(fd);
			}
		}
		closedir(dp);
	}
	if (d->n > 1)
		qsort(d->m, d->n, sizeof *d->m, cmp_msg);
	return 0;
}

/* The mbox's messages: each "From " line at the start of a line begins
 * one; the empty line before the next one separates them. */
static int scan_mbox(struct maildrop *d, int fd, struct err *e)
{
	char *buf = malloc(CHUNK + 8);
	uint64_t pos = 0, size = d->scanned;
	size_t cap = 0;
	int at_start = 1;

	if (buf == NULL)
		return err_sys(e, EX_TEMPFAIL, "read %s", d->path);
	while (pos < size) {
		ssize_t r = pread(fd, buf, size - pos < CHUNK ? (size_t)(size - pos) : CHUNK, (off_t)pos);

		if (r <= 0) {
			free(buf);
			return err_sys(e, EX_TEMPFAIL, "read %s", d->path);
		}
		for (ssize_t i = 0; i < r; i++) {
			if (at_start && buf[i] == 'F') {
				/* "From " may straddle the chunk: read it where it is */
				char five[5];

				if (pread(fd, five, 5, (off_t)(pos + (uint64_t)i)) == 5 &&
				    memcmp(five, "From ", 5) == 0) {
					if (add_msg(d, &cap) < 0) {
						free(buf);
						return err_sys(e, EX_TEMPFAIL, "read %s", d->path);
					}
					d->m[d->n++].off = pos + (uint64_t)i;
				}
			}
			at_start = buf[i] == '\n';
		}
		pos += (uint64_t)r;
	}
	free(buf);
	for (size_t k = 0; k < d->n; k++) {
		struct drop_msg *m = &d->m[k];
		uint64_t end = k + 1 < d->n ? d->m[k + 1].off : size;
		char c[2], *hdr;
		struct sha256 h;
		unsigned char dig[SHA256_LEN];
		uint64_t p;

		/* the message starts after its "From " line */
		{
			char line[1024];
			ssize_t r = pread(fd, line, end - m->off < sizeof line ? (size_t)(end - m->off)
			                                                       : sizeof line, (off_t)m->off);
			char *lf = r > 0 ? memchr(line, '\n', (size_t)r) : NULL;

			for (p = m->off + (r > 0 ? (uint64_t)r : 0); lf == NULL && p < end; p++)
				if (pread(fd, c, 1, (off_t)p) != 1 || c[0] == '\n')
					break;   /* a "From " line over 1 KB: rare, slow */
			m->start = lf != NULL ? m->off + (uint64_t)(lf - line) + 1 : p < end ? p + 1 : end;
		}
		m->len = end - m->start;
		/* the empty line before the next "From " is the separator */
		if (m->len >= 2 && pread(fd, c, 2, (off_t)(end - 2)) == 2 && c[0] == '\n' &&
		    c[1] == '\n')
			m->len--;
		if (send_range(fd, m->start, m->len, 1, -1, NULL, &m->size, e) < 0)
			return -1;
		/* the UIDL: the "From " line and the header, hashed */
		sha256_init(&h);
		hdr = malloc(CHUNK);
		if (hdr == NULL)
			return err_sys(e, EX_TEMPFAIL, "read %s", d->path);
		{
			uint64_t take = m->start + m->len - m->off;
			ssize_t r = pread(fd, hdr, take < CHUNK ? (size_t)take : CHUNK, (off_t)m->off);
			char *blank = r > 0 ? memmem(hdr, (size_t)r, "\n\n", 2) : NULL;

			if (r > 0)
				sha256_update(&h, hdr, blank ? (size_t)(blank - hdr) : (size_t)r);
		}
		free(hdr);
		sha256_final(&h, dig);
		for (int i = 0; i < 16; i++)
			snprintf(m->uidl + 2 * i, 3, "%02x", dig[i]);
		/* the same message twice: the later ones get a suffix */
		for (size_t j = 0, dup = 0; j < k; j++)
			if (strncmp(d->m[j].uidl, m->uidl, 32) == 0)
				snprintf(m->uidl + 32, sizeof m->uidl - 32, "-%zu", ++dup);
	}
	return 0;
}

static int session_lock(struct maildrop *d, const char *lockpath, struct err *e)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	d->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (d->lock_fd < 0) {
		if (errno == ENOENT)
			return 0;   /* no mailbox directory yet: nothing to guard */
		if (d->is_mbox && (errno == EACCES || errno == EROFS))
			return 0;   /* /var/mail: the mbox's own checks at QUIT guard it */
		return err_sys(e, err_code_for_errno(errno), "open %s", lockpath);
	}
	if (fcntl(d->lock_fd, F_SETLK, &fl) < 0) {
		int busy = errno == EAGAIN || errno == EACCES;

		close(d->lock_fd);
		d->lock_fd = -1;
		if (busy)
			return err_set(e, EX_TEMPFAIL, "in use: another session has this mailbox");
		return err_sys(e, EX_TEMPFAIL, "lock %s", lockpath);
	}
	return 0;
}

int drop_open(struct maildrop *d, const char *path, int lock_timeout, struct err *e)
{
	char lockpath[PATH_MAX + 16];
	size_t len = strlen(path);

	memset(d, 0, sizeof *d);
	d->lock_fd = -1;
	d->lock_timeout = lock_timeout;
	if (len == 0 || len >= sizeof d->path)
		return err_set(e, EX_CONFIG, "bad mailbox path");
	d->is_mbox = path[len - 1] != '/';
	memcpy(d->path, path, len + 1);
	while (len > 1 && d->path[len - 1] == '/')
		d->path[--len] = '\0';
	snprintf(lockpath, sizeof lockpath, d->is_mbox ? "%s.pop3.lock" : "%s/pop3.lock", d->path);
	if (session_lock(d, lockpath, e) < 0)
		return -1;
	if (!d->is_mbox) {
		if (scan_maildir(d, e) < 0)
			goto fail;
	} else {
		struct mbox_lock lk;
		struct stat st;

		if (stat(d->path, &st) < 0 && errno == ENOENT)
			return 0;   /* no mbox: no mail */
		if (mbox_lock(d->path, lock_timeout, &lk, e) < 0)
			goto fail;
		if (fstat(lk.fd, &st) < 0) {
			mbox_unlock(&lk);
			err_sys(e, EX_TEMPFAIL, "stat %s", d->path);
			goto fail;
		}
		d->dev = st.st_dev;
		d->ino = st.st_ino;
		d->scanned = (uint64_t)st.st_size;
		if (scan_mbox(d, lk.fd, e) < 0) {
			mbox_unlock(&lk);
			goto fail;
		}
		mbox_unlock(&lk);
	}
	for (size_t i = 0; i < d->n; i++)
		d->total += d->m[i].size;
	return 0;
fail:
	drop_close(d);
	return -1;
}

/* The path of Maildir message i: where it was listed, or in cur/ with
 * flags when another program (IMAP) has moved it there from new/ since. */
static void locate(const struct maildrop *d, size_t i, char *path, size_t pathsz)
{
	const char *name = d->m[i].name;
	struct dirent *de;
	DIR *dp;

	snprintf(path, pathsz, "%s/%s", d->path, name);
	if (strncmp(name, "new/", 4) != 0 || access(path, F_OK) == 0 || errno != ENOENT)
		return;
	snprintf(path, pathsz, "%s/cur", d->path);
	if ((dp = opendir(path)) != NULL) {
		size_t blen = strlen(name + 4);

		while ((de = readdir(dp)) != NULL)
			if (strncmp(de->d_name, name + 4, blen) == 0 && de->d_name[blen] == ':') {
				snprintf(path, pathsz, "%s/cur/%s", d->path, de->d_name);
				closedir(dp);
				return;
			}
		closedir(dp);
	}
	snprintf(path, pathsz, "%s/%s", d->path, name);   /* gone: the open fails */
}

int drop_send(struct maildrop *d, size_t i, long lines, const char *first, struct net *n,
              struct err *e)
{
	char path[PATH_MAX * 2];
	struct stat st;
	int fd, rc;

	if (i >= d->n)
		return err_set(e, EX_USAGE, "no such message");
	if (d->is_mbox) {
		fd = open(d->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_ino != d->ino || st.st_dev != d->dev) {
			if (fd >= 0)
				close(fd);
			return err_set(e, EX_NOINPUT, "%s was replaced by another program", d->path);
		}
		net_printf(n, "%s\r\n", first);
		rc = send_range(fd, d->m[i].start, d->m[i].len, 1, lines, n, NULL, e);
	} else {
		locate(d, i, path, sizeof path);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (fd >= 0)
				close(fd);
			return err_set(e, EX_NOINPUT, "message %zu is gone", i + 1);
		}
		net_printf(n, "%s\r\n", first);
		rc = send_range(fd, 0, (uint64_t)st.st_size, 0, lines, n, NULL, e);
	}
	close(fd);
	return rc;
}

/* ---- UPDATE ---- */

static int update_maildir(struct maildrop *d, struct err *e)
{
	int changed_new = 0, changed_cur = 0;
	char path[PATH_MAX * 2 + 8], to[PATH_MAX * 2 + 8];

	for (size_t i = 0; i < d->n; i++) {
		struct drop_msg *m = &d->m[i];
		int in_new = strncmp(m->name, "new/", 4) == 0;

		snprintf(path, sizeof path, "%s/%s", d->path, m->name);
		if (m->deleted) {
			locate(d, i, path, sizeof path);
			if (unlink(path) < 0 && errno != ENOENT)
				return err_sys(e, EX_TEMPFAIL, "remove %s", path);
			changed_new = changed_cur = 1;
		} else if (in_new) {
			/* seen by a client now: new/ to cur/, no flags */
			snprintf(to, sizeof to, "%s/cur/%s%s", d->path, m->name + 4,
			         strchr(m->name, ':') ? "" : ":2,");
			if (rename(path, to) < 0 && errno != ENOENT)
				return err_sys(e, EX_TEMPFAIL, "move %s", path);
			changed_new = changed_cur = 1;
		}
	}
	snprintf(path, sizeof path, "%s/new", d->path);
	if (changed_new && file_fsync_dir(path, e) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/cur", d->path);
	if (changed_cur && file_fsync_dir(path, e) < 0)
		return -1;
	return 0;
}

static int copy_range(int from, uint64_t off, uint64_t len, int to)
{
	char buf[CHUNK];

	while (len > 0) {
		ssize_t r = pread(from, buf, len < sizeof buf ? (size_t)len : sizeof buf, (off_t)off);

		if (r <= 0 || io_write_all(to, buf, (size_t)r) < 0)
			return -1;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

/* Rewrite the locked mbox without its deleted messages within the file
 * itself: each kept part moves down over the gap, then the file is cut.
 * Only for a directory where no new file can be made: a crash half way
 * can leave a message twice (never none), as a temporary file cannot. */
static int compact_in_place(struct maildrop *d, struct mbox_lock *lk, uint64_t size,
                            struct err *e)
{
	char buf[CHUNK];
	uint64_t to = 0;

	/* mbox_lock opened it for appending, where pwrite(2) ignores offsets */
	if (fcntl(lk->fd, F_SETFL, 0) < 0)
		return err_sys(e, EX_TEMPFAIL, "rewrite %s", d->path);
	for (size_t i = 0; i <= d->n; i++) {
		/* the part from message i to the next (the tail after the last) */
		uint64_t from = i < d->n ? d->m[i].off : d->scanned;
		uint64_t end = i + 1 < d->n ? d->m[i + 1].off : i < d->n ? d->scanned : size;

		if (i == 0 && d->n > 0)
			to = d->m[0].off;
		if (i < d->n && d->m[i].deleted)
			continue;
		while (from < end) {
			ssize_t r = pread(lk->fd, buf, end - from < sizeof buf ? (size_t)(end - from)
			                                                      : sizeof buf, (off_t)from);

			if (r <= 0 || pwrite(lk->fd, buf, (size_t)r, (off_t)to) != r)
				return err_sys(e, EX_TEMPFAIL, "rewrite %s", d->path);
			from += (uint64_t)r;
			to += (uint64_t)r;
		}
	}
	if (ftruncate(lk->fd, (off_t)to) < 0 || fsync(lk->fd) < 0)
		return err_sys(e, EX_TEMPFAIL, "rewrite %s", d->path);
	return 0;
}

static int update_mbox(struct maildrop *d, struct err *e)
{
	struct mbox_lock lk;
	struct stat st;
	char tmp[PATH_MAX + 32];
	int any = 0, fd = -1, made = 0;

	for (size_t i = 0; i < d->n; i++)
		any |= d->m[i].deleted;
	if (!any)
		return 0;
	if (mbox_lock(d->path, d->lock_timeout, &lk, e) < 0)
		return -1;
	if (fstat(lk.fd, &st) < 0 || st.st_ino != d->ino || st.st_dev != d->dev ||
	    (uint64_t)st.st_size < d->scanned) {
		err_set(e, EX_TEMPFAIL, "%s was changed by another program", d->path);
		goto fail;
	}
	/* each message still where it was listed */
	for (size_t i = 0; i < d->n; i++) {
		char five[5];

		if (pread(lk.fd, five, 5, (off_t)d->m[i].off) != 5 || memcmp(five, "From ", 5) != 0) {
			err_set(e, EX_TEMPFAIL, "%s was changed by another program", d->path);
			goto fail;
		}
	}
	snprintf(tmp, sizeof tmp, "%s.pop3.%ld", d->path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EACCES || errno == EROFS)) {
		/* a directory we may not write (/var/mail): compact in place */
		if (compact_in_place(d, &lk, (uint64_t)st.st_size, e) < 0)
			goto fail;
		mbox_unlock(&lk);
		return 0;
	}
	if (fd < 0) {
		err_sys(e, err_code_for_errno(errno), "create %s", tmp);
		goto fail;
	}
	made = 1;
	/* what comes before the first "From " line is no message: kept */
	if (copy_range(lk.fd, 0, d->n > 0 ? d->m[0].off : 0, fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "write %s", tmp);
		goto fail;
	}
	for (size_t i = 0; i < d->n; i++) {
		uint64_t end = i + 1 < d->n ? d->m[i + 1].off : d->scanned;

		if (!d->m[i].deleted && copy_range(lk.fd, d->m[i].off, end - d->m[i].off, fd) < 0) {
			err_sys(e, EX_TEMPFAIL, "write %s", tmp);
			goto fail;
		}
	}
	/* what was delivered during the session stays */
	if (copy_range(lk.fd, d->scanned, (uint64_t)st.st_size - d->scanned, fd) < 0) {
		err_sys(e, EX_TEMPFAIL, "write %s", tmp);
		goto fail;
	}
	(void)!fchown(fd, st.st_uid, st.st_gid);
	if (fchmod(fd, st.st_mode & 07777) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		err_sys(e, EX_TEMPFAIL, "write %s", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, d->path) < 0) {
		err_sys(e, EX_TEMPFAIL, "rename %s", tmp);
		goto fail;
	}
	made = 0;
	if (file_fsync_parent(d->path, e) < 0) {
		mbox_unlock(&lk);
		return -1;
	}
	mbox_unlock(&lk);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	mbox_unlock(&lk);
	return -1;
}

int drop_update(struct maildrop *d, struct err *e)
{
	return d->is_mbox ? update_mbox(d, e) : update_maildir(d, e);
}

void drop_close(struct maildrop *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->m[i].name);
	free(d->m);
	d->m = NULL;
	d->n = 0;
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = -1;
}
